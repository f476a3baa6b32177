/* pass_fuse.c: operator fusion (-O1 and above). Requires: a verified graph, with the training
 * step appended if there is one. Provides: heads that do the work of their neighbours in one
 * loop nest, so that the intermediate tensors are never written to memory:
 *   - a batchnorm at inference folded into the conv, linear or add before it (applied as a
 *     per-channel scale and shift where the head stores its output);
 *   - an activation (relu, leaky_relu, elu, tanh, sigmoid, identity) applied in the same store,
 *     after the head (conv, linear, add, batchnorm) or after the folded batchnorm, in inference
 *     and in training (the activation's backward reads the activation's output, which the head
 *     writes; a batchnorm's backward reads the batchnorm's input, which stays in memory);
 *   - a normalize folded into the following conv's padded copy of its input;
 *   - at inference, a max or average pooling whose windows tile the image (kernel = stride, no
 *     padding, floor mode) folded into the conv before it: the conv computes the rows of one
 *     window row into a small buffer and stores only the pooled values.
 * A neighbour is absorbed only when its input has no other reader, forward or backward, so
 * every tensor that a backward op reads stays in memory. Absorbed ops stay in the IR, marked
 * (fused_into), so the printed IR shows what each fused op replaced; they emit no code.
 * Invalidates: the plan (values that are no longer written get no buffer). */
#include "arena.h"
#include "ops.h"
#include "passes.h"

static bool is_activation(OpKind k) {
    return k == OP_RELU || k == OP_TANH || k == OP_SIGMOID || k == OP_LEAKY_RELU || k == OP_ELU || k == OP_IDENTITY;
}

void pass_fuse(Graph *g) {
    int *readers = arena_alloc(sizeof(int) * (size_t)(g->nvalues + 1));
    int *reader = arena_alloc(sizeof(int) * (size_t)(g->nvalues + 1));
    for (int i = 0; i < g->nops; i++)
        for (int k = 0; k < g->ops[i].nin; k++) {
            readers[g->ops[i].in[k]]++;
            reader[g->ops[i].in[k]] = i;
        }
    readers[g->output]++; /* the caller reads the model's output */
    int nfwd = g->training ? g->nforward : g->nops;
    for (int i = 1; i < nfwd; i++) {
        Op *op = &g->ops[i];
        const OpInfo *info = op_info(op->kind);
        if (op->fused_into >= 0)
            continue;
        if (info->prologue && op->pro_norm < 0) {
            int x = op->in[0], p = g->values[x].producer;
            bool pads = op->a.ph || op->a.pw || op->a.ph_end || op->a.pw_end;
            if (pads && g->ops[p].kind == OP_NORMALIZE && readers[x] == 1 && g->ops[p].fused_into < 0) {
                op->pro_norm = p;
                g->ops[p].fused_into = i;
                op->in[0] = g->ops[p].in[0];
            }
        }
        if (!info->epilogue)
            continue;
        int v = op->out;
        if (!g->training && op->kind != OP_BATCHNORM && readers[v] == 1 && reader[v] < nfwd &&
            g->ops[reader[v]].kind == OP_BATCHNORM) {
            op->epi_bn = reader[v];
            g->ops[reader[v]].fused_into = i;
            v = g->ops[reader[v]].out;
        }
        if (readers[v] == 1 && reader[v] < nfwd && is_activation(g->ops[reader[v]].kind)) {
            op->epi_act = reader[v];
            g->ops[reader[v]].fused_into = i;
            v = g->ops[reader[v]].out;
        }
        if (op->kind == OP_CONV && !g->training && readers[v] == 1 && reader[v] < nfwd) {
            Op *pool = &g->ops[reader[v]];
            Shape o = g->values[op->out].shape;
            const Attrs *pa = &pool->a;
            bool tiles = (pool->kind == OP_MAXPOOL || pool->kind == OP_AVGPOOL) && pa->kh == pa->sh && pa->kw == pa->sw &&
                         !pa->ph && !pa->pw && !pa->ceil_mode;
            /* the column kernel only (8 or more columns), with a window row of at most 64 KiB */
            if (tiles && o.d[3] >= 8 && (int64_t)8 * pa->kh * o.d[3] <= 16384) {
                op->epi_pool = reader[v];
                pool->fused_into = i;
                v = pool->out;
            }
        }
        op->writes = v;
    }
}
