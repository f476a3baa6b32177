/* lrn.c: local response normalization across channels, torch.nn.LocalResponseNorm:
 * y_c = x_c / (k + alpha / size * sum_{c' = c - size/2}^{c + (size-1)/2} x_{c'}^2) ^ beta,
 * channels outside [0, C) contribute zero. Attributes: size, alpha, beta, k. */
#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../emit_torch.h"
#include "../ops.h"

static const ArgSpec lrn_args[] = {
    ARG_INT("size", "5", 1, 1 << 20), ARG_NUM("alpha", "1e-4", RANGE_ANY), ARG_NUM("beta", "0.75", RANGE_ANY),
    ARG_NUM("k", "2.0", RANGE_ANY), ARG_END,
};

static bool lrn_set_attrs(Graph *g, Op *op, const Val *v) {
    Attrs *a = &op->a;
    a->size = val_int(&v[0]);
    a->alpha = val_num(&v[1]);
    a->beta = val_num(&v[2]);
    a->k = val_num(&v[3]);
    return true;
}

static bool lrn_infer(Graph *g, Op *op) {
    if (!need_image(g, op))
        return false;
    *out_shape(g, op) = *in_shape(g, op, 0);
    return true;
}

static double lrn_flops(const Graph *g, const Op *op) { return same_shape_flops(g, op, 2.0 * op->a.size + 4); }

static void lrn_print_attrs(const Op *op, char *buf, size_t size) {
    attr_append(buf, size, "size=%d alpha=%g beta=%g k=%g", op->a.size, op->a.alpha, op->a.beta, op->a.k);
}

/* y_c = x_c / (k + alpha / size * sum of x^2 over channels c - size/2 .. c + (size-1)/2) ^ beta. */
static void lrn_emit_forward(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    const Attrs *a = &op->a;
    Shape s = emit_in_shape(e, op, 0);
    cb_line(c, "enum { C = %d, HW = %d, SIZE = %d };", s.d[1], s.d[2] * s.d[3], a->size);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int ic = 0; ic < n * C; ic++) {");
    cb_line(c, "const int i = ic / C, ch = ic %% C;");
    cb_line(c, "const int c0 = ch - SIZE / 2 < 0 ? 0 : ch - SIZE / 2;");
    cb_line(c, "const int c1 = ch + (SIZE - 1) / 2 >= C ? C - 1 : ch + (SIZE - 1) / 2;");
    cb_line(c, "const float *xi = x + (ptrdiff_t)i * C * HW;");
    cb_line(c, "for (int p = 0; p < HW; p++) {");
    cb_line(c, "float s = 0.0f;");
    cb_line(c, "for (int cc = c0; cc <= c1; cc++)");
    cb_line(c, "    s += xi[cc * HW + p] * xi[cc * HW + p];");
    cb_line(c, "y[(ptrdiff_t)ic * HW + p] = xi[ch * HW + p] / powf(%s + %s * s / SIZE, %s);", emit_float(a->k),
            emit_float(a->alpha), emit_float(a->beta));
    cb_line(c, "}");
    cb_line(c, "}");
}

/* With D_c = k + alpha / size * S_c (S_c the windowed sum of squares above),
 * y_c = x_c D_c^-beta, and channel j lying in the window of channels c = j - (size-1)/2 ..
 * j + size/2 (the window reversed):
 *   dx_j = dy_j D_j^-beta - 2 alpha beta / size * x_j * sum over those c of dy_c x_c D_c^(-beta-1).
 * In parallel over (image, block of PB pixels): a first pass over the channels writes the
 * first term into dx and keeps t_c = dy_c x_c D_c^(-beta-1) for the block on the stack; a
 * second subtracts the windowed sums of t. Inner loops run along contiguous pixels. */
static void lrn_emit_backward(Emit *e, const Op *bwd, const Op *fwd) {
    Cbuf *c = e->c;
    const Attrs *a = &fwd->a;
    Shape s = emit_in_shape(e, fwd, 0);
    int ch = s.d[1], hw = s.d[2] * s.d[3];
    int pb = 8192 / ch < 8 ? 8 : 8192 / ch; /* t holds at most 8192 floats unless C > 1024 */
    if (pb > hw)
        pb = hw;
    cb_line(c, "enum { C = %d, HW = %d, SIZE = %d, PB = %d, NB = (HW + PB - 1) / PB };", ch, hw, a->size, pb);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int ib = 0; ib < n * NB; ib++) {");
    cb_line(c, "const int i = ib / NB, p0 = ib %% NB * PB, np = HW - p0 < PB ? HW - p0 : PB;");
    cb_line(c, "const float *xi = x + (ptrdiff_t)i * C * HW + p0, *dyi = dy + (ptrdiff_t)i * C * HW + p0;");
    cb_line(c, "float *dxi = dx + (ptrdiff_t)i * C * HW + p0;");
    cb_line(c, "float t[C][PB];");
    cb_line(c, "for (int ch = 0; ch < C; ch++) {");
    cb_line(c, "const int c0 = ch - SIZE / 2 < 0 ? 0 : ch - SIZE / 2;");
    cb_line(c, "const int c1 = ch + (SIZE - 1) / 2 >= C ? C - 1 : ch + (SIZE - 1) / 2;");
    cb_line(c, "float s[PB] = {0};");
    cb_line(c, "for (int cc = c0; cc <= c1; cc++)");
    cb_line(c, "    for (int q = 0; q < np; q++)");
    cb_line(c, "        s[q] += xi[cc * HW + q] * xi[cc * HW + q];");
    cb_line(c, "for (int q = 0; q < np; q++) {");
    cb_line(c, "const float d = %s + %s * s[q] / SIZE, r = powf(d, %s);", emit_float(a->k), emit_float(a->alpha),
            emit_float(-a->beta));
    cb_line(c, "dxi[ch * HW + q] = dyi[ch * HW + q] * r;");
    cb_line(c, "t[ch][q] = dyi[ch * HW + q] * xi[ch * HW + q] * r / d;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "for (int ch = 0; ch < C; ch++) {");
    cb_line(c, "const int c0 = ch - (SIZE - 1) / 2 < 0 ? 0 : ch - (SIZE - 1) / 2;");
    cb_line(c, "const int c1 = ch + SIZE / 2 >= C ? C - 1 : ch + SIZE / 2;");
    cb_line(c, "float s[PB] = {0};");
    cb_line(c, "for (int cc = c0; cc <= c1; cc++)");
    cb_line(c, "    for (int q = 0; q < np; q++)");
    cb_line(c, "        s[q] += t[cc][q];");
    cb_line(c, "for (int q = 0; q < np; q++)");
    cb_line(c, "    dxi[ch * HW + q] -= %s * xi[ch * HW + q] * s[q];", emit_float(2.0 * a->alpha * a->beta / a->size));
    cb_line(c, "}");
    cb_line(c, "}");
}

/* The PyTorch twin. */
static const char *lrn_torch(TorchCtx *t, const Op *op) {
    const Attrs *a = &op->a;
    return arena_printf("F.local_response_norm(%s, %d, alpha=%s, beta=%s, k=%s)", torch_in(t, op, 0), a->size,
                        torch_float(a->alpha), torch_float(a->beta), torch_float(a->k));
}

const OpInfo OP_LRN_info = {
    .name = "lrn", .is_layer = true, .args = lrn_args, .set_attrs = lrn_set_attrs,
    .infer = lrn_infer, .flops = lrn_flops, .print_attrs = lrn_print_attrs,
    .emit_forward = lrn_emit_forward, .emit_backward = lrn_emit_backward, .bwd_needs = BWD_X,
    .torch_call = lrn_torch,
};
