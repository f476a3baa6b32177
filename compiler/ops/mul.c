/* mul.c: the element-wise product of two branches (`mul { branch ... branch ... }`), for
 * squeeze-excitation. The shapes are equal, or one input is [C, 1, 1] and is broadcast over
 * the other's H and W. elaborate.c checks the branch shapes itself, to word the message after
 * the construct. No parameters. */
#include "../cbuf.h"
#include "../emit_c.h"
#include "../arena.h"
#include "../emit_torch.h"
#include "../ops.h"

static const ArgSpec no_args[] = {ARG_END};

static bool mul_set_attrs(Graph *g, Op *op, const Val *v) { return true; }
static void mul_print_attrs(const Op *op, char *buf, size_t size) {}

static bool is_bcast(Shape s) { return s.rank == 4 && s.d[2] == 1 && s.d[3] == 1; }

/* Which input is broadcast: -1 when the shapes are equal. */
static int bcast_input(Shape a, Shape b) {
    if (shape_eq(a, b))
        return -1;
    return is_bcast(b) ? 1 : 0;
}

static bool mul_infer(Graph *g, Op *op) {
    if (op->nin != 2)
        return false;
    Shape a = *in_shape(g, op, 0), b = *in_shape(g, op, 1);
    if (shape_eq(a, b)) {
        *out_shape(g, op) = a;
        return true;
    }
    if (a.rank != 4 || b.rank != 4 || a.d[0] != b.d[0] || a.d[1] != b.d[1] || !(is_bcast(a) || is_bcast(b)))
        return false;
    *out_shape(g, op) = is_bcast(b) ? a : b;
    return true;
}

static double mul_flops(const Graph *g, const Op *op) { return same_shape_flops(g, op, 1); }

static void mul_emit_forward(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    Shape a = emit_in_shape(e, op, 0), b = emit_in_shape(e, op, 1), s = emit_out_shape(e, op);
    int sm = bcast_input(a, b);
    if (sm < 0) {
        cb_line(c, "const size_t total = (size_t)n * %lld;", (long long)(shape_numel(s) / s.d[0]));
        cb_line(c, "for (size_t k = 0; k < total; k++)");
        cb_line(c, "    y[k] = x0[k] * x1[k];");
        return;
    }
    cb_line(c, "enum { C = %d, HW = %d };", s.d[1], s.d[2] * s.d[3]);
    cb_line(c, "for (size_t ic = 0; ic < (size_t)n * C; ic++) {");
    cb_line(c, "const float v = x%d[ic];", sm);
    cb_line(c, "for (size_t p = 0; p < HW; p++)");
    cb_line(c, "    y[ic * HW + p] = x%d[ic * HW + p] * v;", 1 - sm);
    cb_line(c, "}");
}

/* d/dx_k (x0 * x1) = dy * x_other; the broadcast input's gradient sums over H and W. */
static void mul_emit_backward(Emit *e, const Op *bwd, const Op *fwd) {
    Cbuf *c = e->c;
    Shape a = emit_in_shape(e, fwd, 0), b = emit_in_shape(e, fwd, 1), s = emit_out_shape(e, fwd);
    int sm = bcast_input(a, b), k = bwd->wrt, o = 1 - k;
    if (sm < 0) {
        cb_line(c, "const size_t total = (size_t)n * %lld;", (long long)(shape_numel(s) / s.d[0]));
        cb_line(c, "for (size_t k = 0; k < total; k++)");
        cb_line(c, "    dx[k] = dy[k] * x%d[k];", o);
        return;
    }
    cb_line(c, "enum { C = %d, HW = %d };", s.d[1], s.d[2] * s.d[3]);
    cb_line(c, "for (size_t ic = 0; ic < (size_t)n * C; ic++) {");
    if (k == sm) {
        cb_line(c, "float acc = 0.0f;");
        cb_line(c, "for (size_t p = 0; p < HW; p++)");
        cb_line(c, "    acc += dy[ic * HW + p] * x%d[ic * HW + p];", o);
        cb_line(c, "dx[ic] = acc;");
    } else {
        cb_line(c, "const float v = x%d[ic];", o);
        cb_line(c, "for (size_t p = 0; p < HW; p++)");
        cb_line(c, "    dx[ic * HW + p] = dy[ic * HW + p] * v;");
    }
    cb_line(c, "}");
}

static const char *mul_torch(TorchCtx *t, const Op *op) {
    return arena_printf("%s * %s", torch_in(t, op, 0), torch_in(t, op, 1));
}

const OpInfo OP_MUL_info = {
    .name = "mul", .args = no_args, .set_attrs = mul_set_attrs, .infer = mul_infer,
    .flops = mul_flops, .print_attrs = mul_print_attrs,
    .emit_forward = mul_emit_forward, .emit_backward = mul_emit_backward, .bwd_needs = BWD_X,
    .torch_call = mul_torch,
};
