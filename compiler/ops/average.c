/* average.c: the element-wise mean of 2 or more branches of one shape (`average { branch ...
 * branch ... }`), for one-file ensembles: y = (x0 + x1 + ... + x(n-1)) / n, and each input's
 * gradient is dy / n. elaborate.c checks the branch shapes itself, to word the message after
 * the construct. No parameters. */
#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../emit_torch.h"
#include "../ops.h"

static const ArgSpec no_args[] = {ARG_END};

static bool average_set_attrs(Graph *g, Op *op, const Val *v) { return true; }
static void average_print_attrs(const Op *op, char *buf, size_t size) {}

static bool average_infer(Graph *g, Op *op) {
    if (op->nin < 2)
        return false;
    for (int i = 1; i < op->nin; i++)
        if (!shape_eq(*in_shape(g, op, i), *in_shape(g, op, 0)))
            return false;
    *out_shape(g, op) = *in_shape(g, op, 0);
    return true;
}

/* n - 1 additions and one division per element. */
static double average_flops(const Graph *g, const Op *op) { return same_shape_flops(g, op, op->nin); }

static long long per_image(const Emit *e, const Op *op) {
    Shape s = emit_out_shape(e, op);
    return shape_numel(s) / s.d[0];
}

static void average_emit_forward(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    const char *sum = "x0[k]";
    for (int i = 1; i < op->nin; i++)
        sum = arena_printf("%s + x%d[k]", sum, i);
    cb_line(c, "const size_t total = (size_t)n * %lld;", per_image(e, op));
    cb_line(c, "for (size_t k = 0; k < total; k++)");
    cb_line(c, "    y[k] = (%s) / %s;", sum, emit_float((double)op->nin));
}

/* d/dx_k of the mean = dy / n, for every input k. */
static void average_emit_backward(Emit *e, const Op *bwd, const Op *fwd) {
    Cbuf *c = e->c;
    cb_line(c, "const size_t total = (size_t)n * %lld;", per_image(e, fwd));
    cb_line(c, "for (size_t k = 0; k < total; k++)");
    cb_line(c, "    dx[k] = dy[k] / %s;", emit_float((double)fwd->nin));
}

static const char *average_torch(TorchCtx *t, const Op *op) {
    const char *s = torch_in(t, op, 0);
    for (int i = 1; i < op->nin; i++)
        s = arena_printf("%s + %s", s, torch_in(t, op, i));
    return arena_printf("(%s) / %d", s, op->nin);
}

const OpInfo OP_AVERAGE_info = {
    .name = "average", .args = no_args, .set_attrs = average_set_attrs, .infer = average_infer,
    .flops = average_flops, .print_attrs = average_print_attrs,
    .emit_forward = average_emit_forward, .emit_backward = average_emit_backward, .bwd_needs = 0,
    .inplace = true, .torch_call = average_torch,
};
