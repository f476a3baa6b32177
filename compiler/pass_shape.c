/* pass_shape.c: re-derives every op's output shape from its inputs with the op's own rule
 * and checks it against the graph. Requires: a graph from elaborate. Provides: the guarantee
 * that shapes are consistent (elaboration already ran each rule once, to answer `in.c`).
 * Invalidates nothing. A mismatch is a compiler bug, reported as an internal error. */
#include <stdio.h>

#include "ops.h"
#include "passes.h"

bool pass_shape(Graph *g) {
    for (int i = 0; i < g->nops; i++) {
        Op *op = &g->ops[i];
        if (op->kind == OP_INPUT || op->out < 0)
            continue;
        Shape before = g->values[op->out].shape;
        if (!op_info(op->kind)->infer(g, op) || !shape_eq(before, g->values[op->out].shape)) {
            fprintf(stderr, "cnnc: internal error: shape of %%%d (%s) changed from %s to %s on re-inference\n",
                    op->out, op_name(op->kind), shape_str(before, false), shape_str(g->values[op->out].shape, false));
            return false;
        }
    }
    return ir_verify(g);
}
