/* ir_print.h: the IR as stable text (docs/ir.md describes it), and the checkpoint tensor list. */
#ifndef CNNC_IR_PRINT_H
#define CNNC_IR_PRINT_H
#include <stdio.h>

#include "ir.h"

void ir_print(const Graph *g, FILE *f);
void ir_print_params(const Graph *g, FILE *f);   /* "NAME [d0, d1, ...]" per line */
double ir_op_flops(const Graph *g, int op);       /* forward FLOPs of one op for one image */
double ir_total_flops(const Graph *g);
const char *fmt_count(double n);                  /* 61706 -> "61,706" */

#endif
