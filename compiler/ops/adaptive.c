/* adaptive.c: adaptive average pooling (torch.nn.AdaptiveAvgPool2d) and the global poolings.
 * Output cell i of o covers input rows floor(i*H/o) .. ceil((i+1)*H/o) - 1.
 * Attributes: oh, ow (1 and 1 for the global ones). No parameters. */
#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../emit_torch.h"
#include "../ops.h"

static const ArgSpec adaptive_args[] = {ARG_INT("h", NULL, 1, 1 << 24), ARG_INT("w", "h", 1, 1 << 24), ARG_END};
static const ArgSpec no_args[] = {ARG_END};

static bool adaptive_set_attrs(Graph *g, Op *op, const Val *v) {
    op->a.oh = val_int(&v[0]);
    op->a.ow = v[1].kind != V_NONE ? val_int(&v[1]) : op->a.oh; /* w = h */
    return true;
}

static bool global_set_attrs(Graph *g, Op *op, const Val *v) {
    op->a.oh = op->a.ow = 1;
    return true;
}

static bool adaptive_infer(Graph *g, Op *op) {
    if (!need_image(g, op))
        return false;
    Shape in = *in_shape(g, op, 0);
    *out_shape(g, op) = shape4(in.d[0], in.d[1], op->a.oh, op->a.ow);
    return true;
}

static double adaptive_flops(const Graph *g, const Op *op) {
    Shape in = g->values[op->in[0]].shape;
    return (double)in.d[1] * in.d[2] * in.d[3];
}

static void adaptive_print_attrs(const Op *op, char *buf, size_t size) {
    if (op->kind == OP_ADAPTIVE_AVGPOOL)
        attr_append(buf, size, "size=%s", pair_str(op->a.oh, op->a.ow));
}

/* Each output cell averages (or, for global_maxpool, takes the max of) its window. */
static void adaptive_emit_forward(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    emit_image_dims(c, "I", emit_in_shape(e, op, 0));
    emit_image_dims(c, "O", emit_out_shape(e, op));
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int ic = 0; ic < n * IC; ic++) {");
    cb_line(c, "const float *xi = x + (ptrdiff_t)ic * IH * IW;");
    cb_line(c, "float *yo = y + (ptrdiff_t)ic * OH * OW;");
    cb_line(c, "for (int oh = 0; oh < OH; oh++) {");
    cb_line(c, "const int h0 = oh * IH / OH, h1 = ((oh + 1) * IH + OH - 1) / OH;");
    cb_line(c, "for (int ow = 0; ow < OW; ow++) {");
    cb_line(c, "const int w0 = ow * IW / OW, w1 = ((ow + 1) * IW + OW - 1) / OW;");
    emit_window_reduce(c, op->kind == OP_GLOBAL_MAXPOOL, false);
    if (op->kind == OP_GLOBAL_MAXPOOL) {
        cb_line(c, "yo[oh * OW + ow] = m;");
    } else {
        cb_line(c, "yo[oh * OW + ow] = s / (float)((h1 - h0) * (w1 - w0));");
    }
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
}

/* Per (image, channel) plane, in parallel: the dx plane is zeroed, then each output cell
 * spreads dy / (its window's size) over its window (windows overlap when the sizes do not
 * divide), or, for global_maxpool, gives dy to the element the forward's scan picked: the
 * first maximum in row-major order, a NaN replacing it, as adaptive_max_pool2d does. */
static void adaptive_emit_backward(Emit *e, const Op *bwd, const Op *fwd) {
    Cbuf *c = e->c;
    emit_image_dims(c, "I", emit_in_shape(e, fwd, 0));
    emit_image_dims(c, "O", emit_out_shape(e, fwd));
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int ic = 0; ic < n * IC; ic++) {");
    if (fwd->kind == OP_GLOBAL_MAXPOOL)
        cb_line(c, "const float *xi = x + (ptrdiff_t)ic * IH * IW;");
    cb_line(c, "const float *dyo = dy + (ptrdiff_t)ic * OH * OW;");
    cb_line(c, "float *dxi = dx + (ptrdiff_t)ic * IH * IW;");
    cb_line(c, "for (int p = 0; p < IH * IW; p++)");
    cb_line(c, "    dxi[p] = 0.0f;");
    cb_line(c, "for (int oh = 0; oh < OH; oh++) {");
    cb_line(c, "const int h0 = oh * IH / OH, h1 = ((oh + 1) * IH + OH - 1) / OH;");
    cb_line(c, "for (int ow = 0; ow < OW; ow++) {");
    cb_line(c, "const int w0 = ow * IW / OW, w1 = ((ow + 1) * IW + OW - 1) / OW;");
    if (fwd->kind == OP_GLOBAL_MAXPOOL) {
        emit_window_reduce(c, true, true);
        cb_line(c, "dxi[at] += dyo[oh * OW + ow];");
    } else {
        cb_line(c, "const float gv = dyo[oh * OW + ow] / (float)((h1 - h0) * (w1 - w0));");
        cb_line(c, "for (int h = h0; h < h1; h++)");
        cb_line(c, "    for (int w = w0; w < w1; w++)");
        cb_line(c, "        dxi[h * IW + w] += gv;");
    }
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
}

/* The PyTorch twin. */
static const char *adaptive_torch(TorchCtx *t, const Op *op) {
    return arena_printf("F.adaptive_avg_pool2d(%s, (%d, %d))", torch_in(t, op, 0), op->a.oh, op->a.ow);
}
static const char *global_avg_torch(TorchCtx *t, const Op *op) {
    return arena_printf("F.adaptive_avg_pool2d(%s, 1)", torch_in(t, op, 0));
}
static const char *global_max_torch(TorchCtx *t, const Op *op) {
    return arena_printf("F.adaptive_max_pool2d(%s, 1)", torch_in(t, op, 0));
}

const OpInfo OP_ADAPTIVE_AVGPOOL_info = {
    .name = "adaptive_avgpool", .is_layer = true, .args = adaptive_args, .set_attrs = adaptive_set_attrs,
    .infer = adaptive_infer, .flops = adaptive_flops, .print_attrs = adaptive_print_attrs,
    .emit_forward = adaptive_emit_forward, .emit_backward = adaptive_emit_backward, .bwd_needs = 0,
    .torch_call = adaptive_torch,
};
const OpInfo OP_GLOBAL_AVGPOOL_info = {
    .name = "global_avgpool", .is_layer = true, .args = no_args, .set_attrs = global_set_attrs,
    .infer = adaptive_infer, .flops = adaptive_flops, .print_attrs = adaptive_print_attrs,
    .emit_forward = adaptive_emit_forward, .emit_backward = adaptive_emit_backward, .bwd_needs = 0,
    .torch_call = global_avg_torch,
};
const OpInfo OP_GLOBAL_MAXPOOL_info = {
    .name = "global_maxpool", .is_layer = true, .args = no_args, .set_attrs = global_set_attrs,
    .infer = adaptive_infer, .flops = adaptive_flops, .print_attrs = adaptive_print_attrs,
    .emit_forward = adaptive_emit_forward, .emit_backward = adaptive_emit_backward, .bwd_needs = BWD_X,
    .torch_call = global_max_torch,
};
