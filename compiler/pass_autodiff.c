/* pass_autodiff.c: appends the training step to a forward graph.
 * Requires: a verified forward graph (elaborate, pass_shape). Provides: g->training, the loss
 * op (the model's logits in, a scalar out) and, walking the forward ops in reverse, one
 * OP_BACKWARD per (op, input that needs a gradient) or per op with trained parameters. A
 * backward op reads the forward tensors its op's bwd_needs names and the gradient of the
 * op's output; it writes the gradient of one input and adds into parameter gradients. Where a
 * value feeds several ops (a residual's input), the contributions are summed by ordinary add
 * ops. The final softmax of a model that ends in one is not part of training (docs/language.md, Layers):
 * the loss reads the logits before it. Invalidates: nothing earlier; ops are only appended. */
#include "arena.h"
#include "diag.h"
#include "ops.h"
#include "passes.h"

/* A value needs a gradient when some trained parameter lies upstream of it. */
static bool *needs_grad(const Graph *g) {
    bool *need = arena_alloc(sizeof(bool) * (size_t)g->nvalues);
    for (int i = 0; i < g->nforward; i++) {
        const Op *op = &g->ops[i];
        bool n = false;
        for (int k = 0; k < op->nin; k++)
            n |= need[op->in[k]];
        for (int r = 0; r < 4; r++)
            n |= op->param[r] >= 0 && g->params[op->param[r]].trained;
        need[op->out] = n;
    }
    return need;
}

static void contribute(Graph *g, int *grad, int v, int dv, Span span) {
    if (grad[v] < 0) {
        grad[v] = dv;
        return;
    }
    int in[2] = {grad[v], dv};
    int id = ir_add_op(g, OP_ADD, in, 2, g->values[v].shape, span);
    g->ops[id].where = "";
    grad[v] = g->ops[id].out;
}

bool pass_autodiff(Graph *g) {
    g->nforward = g->nops;
    g->training = true;
    bool *need = needs_grad(g);
    int logits = g->output;
    if (g->ends_in_softmax) {
        const Op *last = &g->ops[g->values[g->output].producer];
        logits = last->in[0];
        diag_remark(last->span, "training drops the final softmax and computes the loss on the logits before it");
    }
    int *grad = arena_alloc(sizeof(int) * (size_t)(g->nvalues + 1));
    for (int v = 0; v < g->nvalues; v++)
        grad[v] = -1;

    int loss_op = ir_add_op(g, OP_LOSS, &logits, 1, (Shape){0, {0}}, g->ops[g->values[logits].producer].span);
    g->loss = g->ops[loss_op].out;
    int lin[2] = {logits, g->loss};
    int dlogits = ir_add_op(g, OP_BACKWARD, lin, 2, g->values[logits].shape, g->ops[loss_op].span);
    g->ops[dlogits].fwd = loss_op;
    g->ops[dlogits].wrt = 0;
    grad[logits] = g->ops[dlogits].out;

    for (int i = g->nforward - 1; i > 0; i--) {
        const Op *f = &g->ops[i];
        int dy = grad[f->out];
        if (dy < 0)
            continue;
        if (f->kind == OP_ADD) { /* the gradient of a sum flows unchanged to every input */
            for (int k = 0; k < f->nin; k++)
                if (need[f->in[k]])
                    contribute(g, grad, f->in[k], dy, f->span);
            continue;
        }
        bool has_trained = false;
        for (int r = 0; r < 4; r++)
            has_trained |= f->param[r] >= 0 && g->params[f->param[r]].trained;
        const OpInfo *info = op_info(f->kind);
        for (int k = 0; k < f->nin; k++) {
            bool want_dx = need[f->in[k]];
            if (!want_dx && !(k == 0 && has_trained))
                continue;
            int *in = arena_alloc(sizeof(int) * (size_t)(f->nin + 2)), nin = 0; /* x..., y, dy */
            if (info->bwd_needs & BWD_X)
                for (int j = 0; j < f->nin; j++)
                    in[nin++] = f->in[j];
            if (info->bwd_needs & BWD_Y)
                in[nin++] = f->out;
            in[nin++] = dy;
            Shape s = want_dx ? g->values[f->in[k]].shape : (Shape){-1, {0}};
            int b = ir_add_op(g, OP_BACKWARD, in, nin, s, f->span);
            f = &g->ops[i]; /* ir_add_op may move the op array */
            g->ops[b].fwd = i;
            g->ops[b].wrt = k;
            g->ops[b].where = f->where;
            if (want_dx)
                contribute(g, grad, f->in[k], g->ops[b].out, f->span);
        }
    }
    return true;
}
