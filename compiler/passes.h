/* passes.h: the passes, called in a straight line by main.c. Each file says what it requires,
 * provides and invalidates. */
#ifndef CNNC_PASSES_H
#define CNNC_PASSES_H
#include "ir.h"

bool pass_shape(Graph *g);
void pass_autodiff(Graph *g);
void pass_fuse(Graph *g);

#endif
