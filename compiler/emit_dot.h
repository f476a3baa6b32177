/* emit_dot.h: pictures of what the compiler built. `--emit=dot`: the graph in Graphviz's
 * language; `--emit=plan --svg FILE`: the memory plan as an SVG picture. */
#ifndef CNNC_EMIT_DOT_H
#define CNNC_EMIT_DOT_H
#include <stdio.h>

#include "ir.h"
#include "plan.h"

/* One node per op, labelled with its name, attributes and output shape (without the batch);
 * the ops fused into one head are a cluster; an add's inputs are drawn as residual edges
 * (bold, blue, labelled "+"), a concat's as numbered edges (green); backward ops of a training
 * graph are grey. */
void emit_dot(const Graph *g, FILE *f);

/* The plan as SVG: steps (ops) across, arena offset down, one rectangle per buffer spanning its
 * live range, the step where the most bytes are live marked. */
void plan_svg(const Graph *g, const Plan *p, FILE *f);

#endif
