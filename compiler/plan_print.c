/* plan_print.c: `cnnc --emit=plan`: where every buffer of the workspace lives. One row per
 * buffer (values, then per-op scratch), then a summary whose last three lines are exactly
 *   arena BYTES       the workspace this plan needs
 *   naive BYTES       every buffer its own memory
 *   peak-live BYTES   the most bytes live at one step: no placement can do better
 * Parameters (and, for training, gradients and optimizer state) sit in their own blocks,
 * reported above the summary. */
#include <stdio.h>

#include "ir_print.h"
#include "ops.h"
#include "plan.h"

static const char *buffer_name(const Graph *g, const Plan *p, int b, int *op) {
    if (b < g->nvalues) {
        *op = g->values[b].producer;
        return NULL;
    }
    for (int i = 0; i < g->nops; i++) {
        if (p->scratch_of[i] == b) {
            *op = i;
            return "scratch";
        }
        if (p->grad_scratch_of[i] == b) {
            *op = i;
            return "grads";
        }
    }
    return "?";
}

static const char *op_label(const Graph *g, int i) {
    const Op *op = &g->ops[i];
    if (op->kind == OP_BACKWARD)
        return g->ops[op->fwd].pname ? g->ops[op->fwd].pname : op_name(g->ops[op->fwd].kind);
    return op->pname ? op->pname : op_name(op->kind);
}

void plan_print(const Graph *g, const Plan *p, FILE *f) {
    fprintf(f, "# memory plan of %s%s: batch %d, %d ops, %d buffers, placement: %s\n", g->name,
            g->training ? " (training step)" : "", g->batch, g->nops, p->nbuffers - 1, p->heuristic);
    fprintf(f, "%-10s %-28s %14s %14s %6s %6s\n", "buffer", "made by", "bytes", "offset", "first", "last");
    for (int b = 0; b < p->nbuffers; b++) {
        if (b == g->input)
            continue;
        int op = -1;
        if (p->value_floats[b] == 0)
            continue; /* not written: fused away */
        const char *kind = buffer_name(g, p, b, &op);
        char name[32];
        snprintf(name, sizeof name, kind ? kind : "%%%d", b);
        char maker[64];
        snprintf(maker, sizeof maker, "%s%s", op >= 0 ? (g->ops[op].kind == OP_BACKWARD ? "backward of " : "") : "",
                 op >= 0 ? op_label(g, op) : "?");
        if (op >= 0 && g->ops[op].kind != OP_BACKWARD && g->ops[op].pname == NULL)
            snprintf(maker, sizeof maker, "%s", op_name(g->ops[op].kind));
        if (op >= 0 && g->ops[op].evens_out == b) /* the even pixels the add writes too */
            snprintf(maker, sizeof maker, "%s (even pixels)", op_name(g->ops[op].kind));
        fprintf(f, "%-10s %-28s %14lld %14lld %6d %6d\n", name, maker, (long long)p->value_floats[b] * 4,
                (long long)p->value_offset[b] * 4, p->first[b], p->last[b]);
    }
    fprintf(f, "# parameters %lld bytes in their own block", (long long)p->param_floats * 4);
    if (g->training) {
        int64_t transient = 0, largest = 0;
        for (int i = 0; i < g->nops; i++)
            if (p->grad_scratch_of[i] >= 0) {
                transient += p->value_floats[p->grad_scratch_of[i]];
                if (p->value_floats[p->grad_scratch_of[i]] > largest)
                    largest = p->value_floats[p->grad_scratch_of[i]];
            }
        fprintf(f, "; optimizer state %lld bytes\n", (long long)p->param_floats * 8);
        fprintf(f, "# gradients: train_step keeps a block of %lld bytes; train_step_update updates each parameter\n"
                   "#   right after its gradient, which lives in the arena for one step (largest %lld bytes, %lld in all):\n"
                   "#   it needs no gradient block, saving %lld bytes\n",
                (long long)p->grad_block_floats * 4, (long long)largest * 4, (long long)transient * 4,
                (long long)p->grad_block_floats * 4);
    } else {
        fprintf(f, "\n");
    }
    if (g->slices > 1)
        fprintf(f, "# batch slices: a call of up to %d images runs as %d slices of up to %d images, each in its own\n"
                   "#   arena (this plan)%s: the workspace is %lld bytes\n",
                g->batch_all, g->slices, g->batch, g->training ? " with its own gradient block" : "",
                (long long)plan_work_floats(g, p) * 4);
    fprintf(f, "# arena / peak-live = %.3f, naive / arena = %.2f\n",
            p->peak_floats ? (double)p->arena_floats / (double)p->peak_floats : 1.0,
            p->arena_floats ? (double)p->naive_floats / (double)p->arena_floats : 1.0);
    fprintf(f, "arena %lld\n", (long long)p->arena_floats * 4);
    fprintf(f, "naive %lld\n", (long long)p->naive_floats * 4);
    fprintf(f, "peak-live %lld\n", (long long)p->peak_floats * 4);
    fprintf(f, "workspace %lld\n", (long long)plan_work_floats(g, p) * 4);
}
