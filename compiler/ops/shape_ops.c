/* shape_ops.c: ops that only move or combine tensors: input, flatten, softmax (over
 * channels/features, dim 1), add (n inputs of one shape) and concat (along channels; flat
 * tensors along features). No parameters. elaborate.c checks the shapes of add and concat
 * branches itself, to word the message after the construct (residual, add, concat). */
#include "../cbuf.h"
#include "../emit_c.h"
#include "../arena.h"
#include "../emit_torch.h"
#include "../ops.h"

static const ArgSpec no_args[] = {ARG_END};

static bool plain_set_attrs(Graph *g, Op *op, const Val *v) { return true; }
static void no_attrs(const Op *op, char *buf, size_t size) {}
static double no_flops(const Graph *g, const Op *op) { return 0; }

static bool input_infer(Graph *g, Op *op) { return true; }

static bool flatten_infer(Graph *g, Op *op) {
    Shape in = *in_shape(g, op, 0);
    long long f = 1;
    for (int i = 1; i < in.rank; i++)
        f *= in.d[i];
    *out_shape(g, op) = shape2(in.d[0], (int)f);
    return true;
}

static bool softmax_infer(Graph *g, Op *op) {
    *out_shape(g, op) = *in_shape(g, op, 0);
    return true;
}

static double softmax_flops(const Graph *g, const Op *op) { return same_shape_flops(g, op, 4); }

static bool add_infer(Graph *g, Op *op) {
    for (int i = 1; i < op->nin; i++)
        if (!shape_eq(*in_shape(g, op, i), *in_shape(g, op, 0)))
            return false;
    *out_shape(g, op) = *in_shape(g, op, 0);
    return true;
}

static double add_flops(const Graph *g, const Op *op) { return same_shape_flops(g, op, op->nin - 1); }

static bool concat_infer(Graph *g, Op *op) {
    Shape s = *in_shape(g, op, 0);
    for (int i = 1; i < op->nin; i++) {
        Shape t = *in_shape(g, op, i);
        if (t.rank != s.rank || (s.rank == 4 && (t.d[2] != s.d[2] || t.d[3] != s.d[3])))
            return false;
        s.d[1] += t.d[1];
    }
    *out_shape(g, op) = s;
    return true;
}

static size_t per_image(const Emit *e, const Op *op) {
    Shape s = emit_out_shape(e, op);
    return (size_t)(shape_numel(s) / s.d[0]);
}

static void input_emit_forward(Emit *e, const Op *op) {}

static void flatten_emit_forward(Emit *e, const Op *op) {
    cb_line(e->c, "memcpy(y, x, sizeof(float) * (size_t)n * %zu);", per_image(e, op));
}

/* Softmax over dim 1 (channels or features), max-subtracted as PyTorch does. */
static void softmax_emit_forward(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    Shape s = emit_in_shape(e, op, 0);
    cb_line(c, "enum { C = %d, HW = %d };", s.d[1], s.rank == 4 ? s.d[2] * s.d[3] : 1);
    cb_line(c, "for (int ip = 0; ip < n * HW; ip++) {");
    cb_line(c, "const float *xi = x + (ptrdiff_t)(ip / HW) * C * HW + ip %% HW;");
    cb_line(c, "float *yo = y + (ptrdiff_t)(ip / HW) * C * HW + ip %% HW;");
    cb_line(c, "float m = -INFINITY, s = 0.0f;");
    cb_line(c, "for (int ch = 0; ch < C; ch++)");
    cb_line(c, "    m = xi[ch * HW] > m ? xi[ch * HW] : m;");
    cb_line(c, "for (int ch = 0; ch < C; ch++)");
    cb_line(c, "    s += yo[ch * HW] = expf(xi[ch * HW] - m);");
    cb_line(c, "for (int ch = 0; ch < C; ch++)");
    cb_line(c, "    yo[ch * HW] /= s;");
    cb_line(c, "}");
}

static void add_emit_forward(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    const char *sum = "x0[k]";
    for (int i = 1; i < op->nin; i++)
        sum = arena_printf("%s + x%d[k]", sum, i);
    /* on the threads (elementwise: the same floats); on one thread, resnet18_cifar's residual
     * adds and their gradients' sums took 32 ms of its training step at batch 64, as long on 2 */
    if (op->evens_out >= 0) { /* also y's even pixels to ye (pass_fuse.c): a plane at a time, each even row's from L1 */
        Shape s = emit_out_shape(e, op), es = e->g->values[op->evens_out].shape;
        cb_line(c, "enum { C = %d, H = %d, W = %d, EH = %d, EW = %d };", s.d[1], s.d[2], s.d[3], es.d[2], es.d[3]);
        if (emit_has_epilogue(op))
            emit_epilogue_setup(e, op, s.d[1]);
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int pl = 0; pl < n * C; pl++) {");
        cb_line(c, "const size_t o = (size_t)pl * H * W;");
        cb_line(c, "float *const ep = ye + (size_t)pl * EH * EW;");
        cb_line(c, "for (int h = 0; h < H; h++) {");
        cb_line(c, "const size_t r = o + (size_t)h * W;");
        cb_line(c, "for (int wc = 0; wc < W; wc++) {");
        cb_line(c, "const size_t k = r + (size_t)wc;");
        cb_line(c, "const float v = %s;", sum);
        cb_line(c, "y[k] = %s;", emit_has_epilogue(op) ? emit_epilogue(e, op, "v", "pl % C") : "v");
        cb_line(c, "}");
        cb_line(c, "if (h %% 2 == 0)");
        cb_line(c, "    for (int ew = 0; ew < EW; ew++)");
        cb_line(c, "        ep[(h / 2) * EW + ew] = y[r + 2 * (size_t)ew];");
        cb_line(c, "}");
        cb_line(c, "}");
        return;
    }
    cb_line(c, "const size_t total = (size_t)n * %zu;", per_image(e, op));
    if (!emit_has_epilogue(op)) {
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (size_t k = 0; k < total; k++)");
        cb_line(c, "    y[k] = %s;", sum);
        return;
    }
    Shape s = emit_out_shape(e, op); /* a fused batchnorm needs each element's channel */
    cb_line(c, "enum { C = %d, HW = %d };", s.d[1], s.rank == 4 ? s.d[2] * s.d[3] : 1);
    emit_epilogue_setup(e, op, s.d[1]);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (size_t k = 0; k < total; k++) {");
    cb_line(c, "const float v = %s;", sum);
    cb_line(c, "y[k] = %s;", emit_epilogue(e, op, "v", "k / HW % C"));
    cb_line(c, "}");
}

/* Per image, each input's channels are copied after the previous input's. */
static void concat_emit_forward(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    size_t out = per_image(e, op), at = 0;
    cb_line(c, "for (int i = 0; i < n; i++) {");
    for (int k = 0; k < op->nin; k++) {
        Shape s = emit_in_shape(e, op, k);
        size_t size = (size_t)(shape_numel(s) / s.d[0]);
        cb_line(c, "memcpy(y + (ptrdiff_t)i * %zu + %zu, x%d + (ptrdiff_t)i * %zu, sizeof(float) * %zu);", out, at, k, size, size);
        at += size;
    }
    cb_line(c, "}");
}

/* flatten: the gradient has the input's shape and the same bytes. */
static void flatten_emit_backward(Emit *e, const Op *bwd, const Op *fwd) {
    cb_line(e->c, "memcpy(dx, dy, sizeof(float) * (size_t)n * %zu);", per_image(e, fwd));
}

/* concat: input wrt's gradient is its slice of each image's dy. */
static void concat_emit_backward(Emit *e, const Op *bwd, const Op *fwd) {
    size_t out = per_image(e, fwd), at = 0;
    for (int k = 0; k < bwd->wrt; k++) {
        Shape s = emit_in_shape(e, fwd, k);
        at += (size_t)(shape_numel(s) / s.d[0]);
    }
    Shape s = emit_in_shape(e, fwd, bwd->wrt);
    size_t size = (size_t)(shape_numel(s) / s.d[0]);
    cb_line(e->c, "for (int i = 0; i < n; i++)");
    cb_line(e->c, "    memcpy(dx + (ptrdiff_t)i * %zu, dy + (ptrdiff_t)i * %zu + %zu, sizeof(float) * %zu);", size, out, at, size);
}

/* The PyTorch twins. */
static const char *input_torch(TorchCtx *t, const Op *op) { return "x"; }
static const char *flatten_torch(TorchCtx *t, const Op *op) { return arena_printf("torch.flatten(%s, 1)", torch_in(t, op, 0)); }
static const char *softmax_torch(TorchCtx *t, const Op *op) { return arena_printf("F.softmax(%s, dim=1)", torch_in(t, op, 0)); }
static const char *add_torch(TorchCtx *t, const Op *op) {
    const char *s = torch_in(t, op, 0);
    for (int i = 1; i < op->nin; i++)
        s = arena_printf("%s + %s", s, torch_in(t, op, i));
    return s;
}
static const char *concat_torch(TorchCtx *t, const Op *op) {
    const char *s = arena_printf("torch.cat([%s", torch_in(t, op, 0));
    for (int i = 1; i < op->nin; i++)
        s = arena_printf("%s, %s", s, torch_in(t, op, i));
    return arena_printf("%s], 1)", s);
}

const OpInfo OP_INPUT_info = {
    .name = "input", .args = no_args, .set_attrs = plain_set_attrs, .infer = input_infer,
    .flops = no_flops, .print_attrs = no_attrs,
    .emit_forward = input_emit_forward, .torch_call = input_torch,
};
const OpInfo OP_FLATTEN_info = {
    .name = "flatten", .is_layer = true, .args = no_args, .set_attrs = plain_set_attrs,
    .infer = flatten_infer, .flops = no_flops, .print_attrs = no_attrs,
    .emit_forward = flatten_emit_forward, .emit_backward = flatten_emit_backward, .torch_call = flatten_torch,
};
const OpInfo OP_SOFTMAX_info = {
    .name = "softmax", .is_layer = true, .args = no_args, .set_attrs = plain_set_attrs,
    .infer = softmax_infer, .flops = softmax_flops, .print_attrs = no_attrs,
    .emit_forward = softmax_emit_forward, .torch_call = softmax_torch,
};
const OpInfo OP_ADD_info = {
    .name = "add", .args = no_args, .set_attrs = plain_set_attrs, .infer = add_infer,
    .flops = add_flops, .print_attrs = no_attrs,
    .emit_forward = add_emit_forward, .inplace = true, .epilogue = true, .writes_evens = true,
    .torch_call = add_torch,
};
const OpInfo OP_CONCAT_info = {
    .name = "concat", .args = no_args, .set_attrs = plain_set_attrs, .infer = concat_infer,
    .flops = no_flops, .print_attrs = no_attrs,
    .emit_forward = concat_emit_forward, .emit_backward = concat_emit_backward, .bwd_needs = 0,
    .torch_call = concat_torch,
};
