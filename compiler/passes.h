/* passes.h: the passes over the graph, run in a straight line by main.c (its pass table names
 * them for --dump-after). Each takes the graph and returns false after reporting an error in
 * the input; each file says what it requires, provides and invalidates. */
#ifndef CNNC_PASSES_H
#define CNNC_PASSES_H
#include "ir.h"

bool pass_shape(Graph *g);
bool pass_autodiff(Graph *g);
bool pass_fuse(Graph *g);

#endif
