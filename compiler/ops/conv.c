/* conv.c: 2-D convolution, torch.nn.Conv2d semantics.
 * Attributes: out, kh kw (kernel), sh sw (stride), ph pw / ph_end pw_end (padding before and
 * after; they differ only for pad = same with an even effective kernel, where PyTorch puts the
 * extra row and column at the bottom and right), dh dw (dilation), groups, bias.
 * Parameters: weight [out, C/groups, kh, kw], bias [out]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../emit_torch.h"
#include "../ops.h"

/* The fused normalize's per-channel tables, `mean[IC]` and `std[IC]` (static const), for the
 * kernels that apply (x - mean) / std on the way in; also used by conv_oc.c. */
void conv_emit_norm_tables(Cbuf *c, const Graph *g, const Op *op);
void conv_emit_norm_tables(Cbuf *c, const Graph *g, const Op *op) {
    const Attrs *na = &g->ops[op->pro_norm].a;
    const char *m = "", *d = "";
    for (int k = 0; k < na->nmean; k++) {
        m = arena_printf("%s%s%s", m, k ? ", " : "", emit_float(na->mean[k]));
        d = arena_printf("%s%s%s", d, k ? ", " : "", emit_float(na->std[k]));
    }
    cb_line(c, "static const float mean[IC] = {%s}, std[IC] = {%s};", m, d);
}

/* conv_small.c: kernels for few channels; false when the layer does not qualify */
bool conv_small_emit_dw(Emit *e, const Op *fwd);
int64_t conv_small_dw_scratch(const Attrs *a, Shape in, Shape out); /* -1: not taken */
bool conv_small_emit_forward(Emit *e, const Op *op, const Attrs *a, Shape in, Shape out, const char *src);
bool conv_small_takes_forward(const Graph *g, const Op *op, const Attrs *a, Shape in, Shape out);
/* conv_bwd.c: the weight gradient of stride-1 convs with few to medium channels; -1 / false
 * when the layer does not qualify */
int64_t conv_bwd_dw_scratch(const Attrs *a, Shape in, Shape out);
bool conv_bwd_emit_dw(Emit *e, const Op *fwd);
int64_t conv_bwd_dwc_scratch(const Attrs *a, Shape in, Shape out); /* its channels-in-lanes kernel alone (narrow groups widened) */
bool conv_bwd_emit_dwc(Emit *e, const Op *fwd);
int64_t conv_bwd_dx_scratch(const Attrs *a, Shape in, Shape out);
bool conv_bwd_emit_dx(Emit *e, const Op *fwd);
/* conv_depthwise.c: kernels for groups = input channels; false (-1) when the layer does not qualify */
int64_t conv_dw_scratch(const Graph *g, const Op *op);
int64_t conv_dw_bwd_scratch(const Graph *g, const Op *bwd, const Op *fwd);
bool conv_dw_emit_forward(Emit *e, const Op *op);
bool conv_dw_emit_backward(Emit *e, const Op *bwd, const Op *fwd);
/* conv_stream.c: a conv that reads another conv's output rows as they are made */
bool conv_stream_from(const Graph *g, const Op *q, const Op *p);
int64_t conv_stream_scratch(const Graph *g, const Op *q);
void conv_stream_emit(Emit *e, const Op *q);
/* conv_oc.c: output channels in the lanes for short rows; -1 / false when the layer does not qualify */
int64_t conv_oc_scratch(const Graph *g, const Op *op);
bool conv_oc_emit_forward(Emit *e, const Op *op);
/* conv_blk.c: output channels in the lanes, blocked over input channels, for many channels;
 * forward and dx; -1 / false when the layer does not qualify */
int64_t conv_blk_scratch(const Graph *g, const Op *op);
bool conv_blk_emit_forward(Emit *e, const Op *op, bool wide);
int64_t conv_blk_wide_scratch(const Graph *g, const Op *op);
int64_t conv_blk_dx_scratch(const Attrs *a, Shape in, Shape out);
int64_t conv_blk_dx_pair_scratch(const Graph *g, const Op *body, const Op *sc);
bool conv_blk_emit_dx_pair(Emit *e, const Op *body, const Op *sc, bool head_is_sc);
bool conv_blk_emit_dx(Emit *e, const Op *fwd);
/* conv_1x1.c: 1x1 convs as register-blocked products (forward, dx, dw), asked first */
int64_t conv_wino_scratch(const Graph *g, const Op *op);
bool conv_wino_emit_forward(Emit *e, const Op *op);
int64_t conv_wino_dx_scratch(const Graph *g, const Attrs *a, Shape in, Shape out);
bool conv_wino_emit_dx(Emit *e, const Op *fwd);

int64_t conv_1x1_scratch(const Graph *g, const Op *op);
bool conv_1x1_emit_forward(Emit *e, const Op *op);
int64_t conv_1x1_dx_scratch(const Attrs *a, Shape in, Shape out);
bool conv_1x1_emit_dx(Emit *e, const Op *fwd, bool acc);
int64_t conv_1x1_dw_scratch(const Attrs *a, Shape in, Shape out);
bool conv_1x1_emit_dw(Emit *e, const Op *fwd);

/* The scratch of the weight-gradient kernel that takes the layer: conv_1x1.c's, else
 * conv_bwd.c's, else conv_small.c's (the order conv_emit_dw_kernel asks them in); -1: none. */
static int64_t conv_dw_kernel_scratch(const Attrs *a, Shape in, Shape out) {
    int64_t s = conv_1x1_dw_scratch(a, in, out);
    if (s < 0)
        s = conv_bwd_dw_scratch(a, in, out);
    if (s < 0)
        s = conv_small_dw_scratch(a, in, out);
    return s;
}

/* The input vector xv of the direct kernels (conv.c, conv_stream.c): xr[0] alone when scalar,
 * a vector load at stride 1, else a gather of every SW-th float. */
void conv_emit_xv(Cbuf *c, bool scalar, int sw, const char *vtype, const char *width) {
    if (scalar) {
        cb_line(c, "const float xv = xr[0];");
    } else if (sw == 1) {
        cb_line(c, "%s xv;", vtype);
        cb_line(c, "memcpy(&xv, xr, sizeof xv);");
    } else {
        cb_line(c, "float gather[%s];", width);
        cb_line(c, "for (int j = 0; j < %s; j++)", width);
        cb_line(c, "    gather[j] = xr[j * SW];");
        cb_line(c, "%s xv;", vtype);
        cb_line(c, "memcpy(&xv, gather, sizeof xv);");
    }
}

static const ArgSpec conv_args[] = {
    ARG_INT("out", NULL, 1, 1 << 24), ARG_PAIR("kernel", NULL, 1), ARG_PAIR("stride", "1", 1),
    {"pad", "0", AK_PAIR, RANGE(0, 1 << 30), "same", 0}, ARG_PAIR("dilation", "1", 1),
    ARG_INT("groups", "1", 1, 1 << 24), ARG_BOOL("bias", "true"), ARG_INIT("init"), ARG_END,
};
enum { A_OUT, A_KERNEL, A_STRIDE, A_PAD, A_DILATION, A_GROUPS, A_BIAS, A_INIT };

static bool conv_set_attrs(Graph *g, Op *op, const Val *v) {
    Attrs *a = &op->a;
    bool ok = true;
    a->out = val_int(&v[A_OUT]);
    val_pair(&v[A_KERNEL], &a->kh, &a->kw);
    val_pair(&v[A_STRIDE], &a->sh, &a->sw);
    val_pair(&v[A_DILATION], &a->dh, &a->dw);
    a->groups = val_int(&v[A_GROUPS]);
    a->bias = val_bool(&v[A_BIAS]);
    a->init = op_init_text(&v[A_INIT]);
    const Val *pad = &v[A_PAD];
    if (pad->kind == V_WORD) { /* same */
        if (a->sh != 1 || a->sw != 1) {
            diag_error(pad->span, "conv: pad = same needs stride 1, got stride %s", pair_str(a->sh, a->sw));
            return false;
        }
        int th = a->dh * (a->kh - 1), tw = a->dw * (a->kw - 1);
        a->ph = th / 2, a->ph_end = th - th / 2;
        a->pw = tw / 2, a->pw_end = tw - tw / 2;
    } else {
        val_pair(pad, &a->ph, &a->pw);
        a->ph_end = a->ph, a->pw_end = a->pw;
    }
    return ok;
}

static bool conv_infer(Graph *g, Op *op) {
    if (!need_image(g, op))
        return false;
    Shape in = *in_shape(g, op, 0);
    Attrs *a = &op->a;
    int c = in.d[1];
    if (c % a->groups || a->out % a->groups) {
        diag_error(op->span, "conv: groups = %d must divide both the input channels (%d) and out (%d)", a->groups, c,
                   a->out);
        return false;
    }
    long long eh = (long long)a->dh * (a->kh - 1) + 1, ew = (long long)a->dw * (a->kw - 1) + 1;
    long long hp = (long long)in.d[2] + a->ph + a->ph_end, wp = (long long)in.d[3] + a->pw + a->pw_end;
    if (eh > hp || ew > wp) {
        diag_error(op->span, "conv: kernel %s%s does not fit the input %s padded by %s",
                   pair_str(a->kh, a->kw), a->dh > 1 || a->dw > 1 ? arena_printf(" (dilation %s)", pair_str(a->dh, a->dw)) : "",
                   shape_str(in, true), pair_str(a->ph, a->pw));
        return false;
    }
    *out_shape(g, op) = shape4(in.d[0], a->out, (int)((hp - eh) / a->sh + 1), (int)((wp - ew) / a->sw + 1));
    return true;
}

static void conv_add_params(Graph *g, int id) {
    Op *op = &g->ops[id];
    int c = in_shape(g, op, 0)->d[1];
    ir_add_param(g, id, PARAM_WEIGHT, arena_printf("%s.weight", op->pname),
                 (Shape){4, {op->a.out, c / op->a.groups, op->a.kh, op->a.kw}}, true);
    if (op->a.bias)
        ir_add_param(g, id, PARAM_BIAS, arena_printf("%s.bias", op->pname), (Shape){1, {op->a.out}}, true);
}

/* The conv's input: a streamed conv reads the rows of its producer's output (pro_conv), and
 * its in[0] is the producer's input. */
static Shape conv_in(const Graph *g, const Op *op) {
    return g->values[op->pro_conv >= 0 ? g->ops[op->pro_conv].writes : op->in[0]].shape;
}

/* The multiply-adds of one image of conv op, 2 FLOPs each (also a part's figure for the profile). */
static double conv_part_flops(const Graph *g, const Op *op) {
    Shape o = g->values[op->out].shape, in = conv_in(g, op);
    return 2.0 * o.d[1] * o.d[2] * o.d[3] * (in.d[1] / op->a.groups) * op->a.kh * op->a.kw;
}

static double conv_flops(const Graph *g, const Op *op) {
    Shape o = g->values[op->out].shape;
    return conv_part_flops(g, op) + (op->a.bias ? (double)o.d[1] * o.d[2] * o.d[3] : 0);
}

static void conv_print_attrs(const Op *op, char *buf, size_t size) {
    const Attrs *a = &op->a;
    attr_append(buf, size, "out=%d kernel=%s", a->out, pair_str(a->kh, a->kw));
    if (a->sh != 1 || a->sw != 1)
        attr_append(buf, size, "stride=%s", pair_str(a->sh, a->sw));
    if (a->ph != a->ph_end || a->pw != a->pw_end)
        attr_append(buf, size, "pad=[%d, %d, %d, %d]", a->ph, a->pw, a->ph_end, a->pw_end);
    else if (a->ph || a->pw)
        attr_append(buf, size, "pad=%s", pair_str(a->ph, a->pw));
    if (a->dh != 1 || a->dw != 1)
        attr_append(buf, size, "dilation=%s", pair_str(a->dh, a->dw));
    if (a->groups != 1)
        attr_append(buf, size, "groups=%d", a->groups);
    if (!a->bias)
        attr_append(buf, size, "bias=false");
    if (a->init)
        attr_append(buf, size, "init=%s", a->init);
}

/* Register-blocked direct convolution. The input is first copied into a zero-padded
 * scratch copy when the layer pads, so the inner loops never test bounds. Then for each image,
 * block of up to OB output channels and output row, a tile of OB channels x one vector of
 * columns is accumulated in registers over every (input channel, kernel row, kernel column):
 * one input vector feeds OB fused multiply-adds. Vectors are the compiler's vector types
 * (cnn_vec, see the file's prologue) where available; the columns left over, and compilers
 * without vector types, take the scalar loop. */
enum { CONV_OB = 8 };

static bool conv_pads(const Attrs *a) { return a->ph || a->pw || a->ph_end || a->pw_end; }

static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

/* The weight gradient, and the data gradient of the convs the forward kernel cannot take, are
 * matrix products over "positions" (image, output row, output column), done in pieces of PL
 * positions so that their buffers stay a few MB whatever the batch and image size:
 *   dyp [OC + MR][PL]        dy of the piece, one row per output channel (rows past OC zero)
 *   col [G][PL][ICKP]        dx's columns, or [G][ICKP / 16][PL][16]: the piece's input under
 *                            every tap (im2col) in blocks of 16 taps
 *   wp  [G][ICKP / 16][OCG][16]  the weights in blocks of 16 taps, zero past ICK (data gradient)
 * (ICK = ICG * KH * KW, padded to ICKP, a multiple of 16.) For each piece:
 *   dx:  col = dyp^T wp per group (tiles of MR positions x two vectors of taps, the reduction
 *        over the group's output channels in registers), then col is added into dx (col2im);
 *   dw:  col = im2col(x); dw += dyp col per group (tiles of MR output channels x two vectors of
 *        taps, the reduction over the piece's positions in registers).
 * Every dw, db and dx element has one writer per piece and pieces run in order, so the result
 * does not depend on the number of threads. Without vector types, plain loops do the same. */
enum { CONV_MR = 12, CONV_COLS = 16, CONV_COL_CAP = 1 << 20 };

typedef struct {
    int ick, ickp, pl;
    int64_t col_at, wp_at, total;
} ConvGeo;

static int64_t round_to(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

static ConvGeo conv_bwd_geo(const Attrs *a, Shape in, Shape out, bool dx_gemm);
static ConvGeo conv_geo(const Attrs *a, Shape in, Shape out) { return conv_bwd_geo(a, in, out, false); }

/* The pieces of the products for input in, output out; the backward's buffers (dx_gemm: with
 * wp) start at 0: dyp, then col_at, wp_at; total floats. */
static ConvGeo conv_bwd_geo(const Attrs *a, Shape in, Shape out, bool dx_gemm) {
    ConvGeo q;
    q.ick = in.d[1] / a->groups * a->kh * a->kw;
    q.ickp = (int)round_to(q.ick, CONV_COLS);
    int64_t nq = (int64_t)in.d[0] * out.d[2] * out.d[3], pl = CONV_COL_CAP / ((int64_t)a->groups * q.ickp);
    pl = pl < 4 * CONV_MR ? 4 * CONV_MR : pl;
    pl = round_to(pl < nq ? pl : nq, CONV_MR);
    q.pl = (int)pl;
    q.col_at = round16((int64_t)(a->out + CONV_MR) * pl);
    q.wp_at = q.col_at + round16((int64_t)a->groups * pl * q.ickp);
    q.total = q.wp_at + (dx_gemm ? round16((int64_t)a->out * q.ickp) : 0);
    return q;
}

/* One register tile of MR x 16 floats: with AVX-512, acc[MR] vectors of 16 floats (zmm
 * registers: one multiply-add per row and tap); else acc[MR][2] vectors of 8 (what clang and
 * gcc keep in ymm registers). Then the reduction loop `loop`, where each step loads the 16
 * floats at vexpr and broadcasts MR scalars at bexpr (with t); then res[MR][16] holds the tile
 * as floats, so that acc is only ever indexed by constants and stays in registers. Each lane
 * adds the same products in the same order either way: the results are the same, bit for bit.
 * conv_emit_tile_form writes one form: nv vectors of 16 / nv floats a row (nv = 1: acc[t]
 * and v; nv = 2: acc[t][0], acc[t][1] and v0, v1). */
static void conv_emit_tile_form(Cbuf *c, int nv, const char *loop, const char *vexpr, const char *bexpr) {
    const int width = 16 / nv;
    const char *vt = arena_printf("conv_v%d", width);
    const char *acc[2], *v[2], *vs = "", *zero = "";
    for (int i = 0; i < nv; i++) {
        acc[i] = nv == 1 ? "acc[t]" : arena_printf("acc[t][%d]", i);
        v[i] = nv == 1 ? "v" : arena_printf("v%d", i);
        vs = arena_printf("%s%s%s", vs, i ? ", " : "", v[i]);
        zero = arena_printf("%s%s = ", zero, acc[i]);
    }
    cb_line(c, "typedef float %s __attribute__((vector_size(%d)));", vt, width * 4);
    cb_line(c, "%s acc[MR]%s;", vt, nv == 1 ? "" : arena_printf("[%d]", nv));
    cb_line(c, "for (int t = 0; t < MR; t++)");
    cb_line(c, "    %s(%s){0};", zero, vt);
    cb_line(c, "%s {", loop);
    cb_line(c, "%s %s;", vt, vs);
    for (int i = 0; i < nv; i++)
        cb_line(c, "memcpy(&%s, %s%s, sizeof %s);", v[i], vexpr, i ? arena_printf(" + %d", i * width) : "", v[i]);
    cb_line(c, "for (int t = 0; t < MR; t++) {");
    cb_line(c, "const float s = %s;", bexpr);
    for (int i = 0; i < nv; i++)
        cb_line(c, "%s += s * %s;", acc[i], v[i]);
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "float res[MR][16];");
    cb_line(c, nv == 1 ? "for (int t = 0; t < MR; t++)" : "for (int t = 0; t < MR; t++) {");
    for (int i = 0; i < nv; i++)
        cb_line(c, "%smemcpy(res[t]%s, &%s, sizeof %s);", nv == 1 ? "    " : "", i ? arena_printf(" + %d", i * width) : "",
                acc[i], acc[i]);
    if (nv > 1)
        cb_line(c, "}");
}

static void conv_emit_tile(Cbuf *c, const char *loop, const char *vexpr, const char *bexpr) {
    cb_line(c, "#if defined(__AVX512F__)");
    conv_emit_tile_form(c, 1, loop, vexpr, bexpr);
    cb_line(c, "#else");
    conv_emit_tile_form(c, 2, loop, vexpr, bexpr);
    cb_line(c, "#endif");
}

/* The forward by product: narrow outputs (fewer than 8 columns: a row fills no vector) and
 * strided convs (whose input columns a vector would gather) are computed as
 * y[oc][p] = sum over k of wt[k][oc] col[p][k] per group, in pieces of PL positions: im2col
 * (normalizing on the way in when a normalize is fused), then tiles of MR positions x 16 output
 * channels with the reduction over ICK taps in registers, stored with the fused epilogue.
 * wt [G][OCGP / 16][ICK][16] holds the weights transposed in blocks of 16 output channels
 * (zero past OCG), each block contiguous (all of them stay in cache); the jobs run every block
 * of a tile of positions in turn, so that the tile's columns stay in L1. */
static bool conv_by_product(const Attrs *a, Shape out, bool pooled) {
    return !pooled && (out.d[3] < 8 || a->sh != 1 || a->sw != 1);
}

static int64_t conv_product_wt_at(const Attrs *a, Shape in, Shape out) {
    ConvGeo q = conv_geo(a, in, out);
    return round16((int64_t)a->groups * q.pl * q.ickp);
}

/* Floats of the kernel's scratch for input in, output out: for the product path, col and
 * wt; else the padded input copy (when it pads). */
static int64_t conv_kernel_scratch(const Attrs *a, Shape in, Shape out, bool pooled) {
    if (conv_by_product(a, out, pooled)) {
        int ocg = a->out / a->groups;
        return conv_product_wt_at(a, in, out) + (int64_t)a->groups * conv_geo(a, in, out).ick * ((ocg + 15) / 16 * 16);
    }
    return conv_pads(a) ? round16((int64_t)in.d[0] * in.d[1] * (in.d[2] + a->ph + a->ph_end) * (in.d[3] + a->pw + a->pw_end))
                        : 0;
}

/* The fused pooling's row buffers: CONV_SLOTS of them, each OB * PKH * OW floats, after the
 * kernel's scratch (at conv_rows_at). The jobs are cut into CONV_SLOTS contiguous ranges, each
 * run in order by one thread with its own buffer, so any thread count is safe. */
enum { CONV_SLOTS = 64 };

static int64_t conv_rows_at(const Attrs *a, Shape in, Shape out) { return round16(conv_kernel_scratch(a, in, out, true)); }

static int64_t conv_rows_floats(const Graph *g, const Op *op) {
    const Attrs *a = &op->a;
    int ocg = a->out / a->groups, ob = ocg < CONV_OB ? ocg : CONV_OB;
    return (int64_t)CONV_SLOTS * ob * g->ops[op->epi_pool].a.kh * g->values[op->out].shape.d[3];
}

/* Narrow groups, widened. A grouped conv whose groups are too narrow for conv_blk.c's blocks
 * of 32 output channels (ResNeXt's 32 groups of 4 to 16 channels) is the same conv with F times
 * fewer, F times wider groups whose weights are block-diagonal: wide group g' holds the layer's
 * groups g' F .. g' F + F - 1, and its weight from input channel ic to output channel oc is the
 * layer's where both lie in the same narrow group, zero elsewhere. conv_blk.c's forward and
 * data gradient take such a copy of the op (Attrs.narrow: the layer's groups), reading the
 * layer's weights through an expression that is zero off the diagonal blocks as they pack them;
 * conv_bwd.c's channels-in-lanes weight gradient stores only the diagonal blocks. The products
 * grow F times; without this the layer ran through the column (im2col) path, whose data and
 * weight gradients reached 2.5-8% of peak on ResNeXt-like groups of 4 and 8 channels (the
 * forward 6-34%: conv.c's kernel, kept at stride 1 for F > 2, where it measured faster).
 * F: the smallest power of two up to 8 that makes both of a wide group's channel counts
 * multiples of 32 and divides the groups; 1 when the layer is taken as it is or F would be
 * larger. */
static int conv_widen(const Attrs *a, Shape in, Shape out) {
    int gr = a->groups, icg = in.d[1] / gr, ocg = out.d[1] / gr;
    if (gr < 2 || icg < 2 || (icg % 32 == 0 && ocg % 32 == 0))
        return 1;
    for (int f = 2; f <= 8; f *= 2)
        if (gr % f == 0 && icg * f % 32 == 0 && ocg * f % 32 == 0)
            return f;
    return 1;
}

static Op conv_wide_op(const Op *op, int f) {
    Op w = *op;
    w.a.narrow = op->a.groups;
    w.a.groups = op->a.groups / f;
    return w;
}

/* The forward widened (conv_widen) when conv_blk.c takes the wide op and at stride 1 F is at
 * most 2: a wide copy of op in *w. */
static bool conv_widen_forward(const Graph *g, const Op *op, Op *w) {
    Shape in = g->values[op->in[0]].shape, out = g->values[op->out].shape;
    int f = conv_widen(&op->a, in, out);
    if (f == 1 || (op->a.sh == 1 && op->a.sw == 1 && f > 2))
        return false;
    *w = conv_wide_op(op, f);
    return conv_blk_scratch(g, w) >= 0;
}

static int64_t conv_scratch(const Graph *g, const Op *op) {
    if (op->pro_conv >= 0)
        return conv_stream_scratch(g, op);
    int64_t dws = conv_dw_scratch(g, op);
    if (dws >= 0)
        return dws;
    Op wop;
    if (conv_widen_forward(g, op, &wop))
        return conv_blk_scratch(g, &wop);
    int64_t ocs = conv_1x1_scratch(g, op);
    if (ocs < 0)
        ocs = conv_wino_scratch(g, op);
    if (ocs < 0)
        ocs = conv_oc_scratch(g, op);
    if (ocs >= 0)
        return ocs;
    int64_t bls = conv_blk_scratch(g, op);
    if (bls >= 0)
        return bls;
    Shape in = g->values[op->in[0]].shape, out = g->values[op->out].shape;
    if (op->epi_pool >= 0 && !conv_by_product(&op->a, out, true))
        return conv_rows_at(&op->a, in, out) + conv_rows_floats(g, op);
    int64_t ks = conv_kernel_scratch(&op->a, in, out, op->epi_pool >= 0);
    int64_t wide = conv_blk_wide_scratch(g, op); /* conv_blk.c's kernel too, for the targets without AVX-512 */
    return wide > ks ? wide : ks;
}

/* im2col of the piece [q0, q0 + len) into col[g][p][icl * K + k] from src (enums of the
 * conv in scope), zero where a tap reads padding and in the padding columns; rows from len up
 * to a multiple of 12 are zeroed too. norm: (x - mean[ic]) * inv_std[ic] on the way in (a
 * multiplication by the reciprocal, not 147 divisions a position: within a rounding of the
 * separate normalize op's (x - mean) / std). */
static void conv_emit_im2col(Cbuf *c, const Attrs *a, const char *src, bool norm, bool blocked) {
    /* blocked: col[g][k / 16][p][k %% 16] instead, each block of 16 taps contiguous */
    const char *at = blocked ? "col[(((ptrdiff_t)g * (ICKP / 16) + (k) / 16) * PL + p) * 16 + (k) % 16]"
                             : "col[((ptrdiff_t)g * PL + p) * ICKP + (k)]";
    cb_line(c, "#define CONV_COL(k) %s", at);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int p = 0; p < (len + 11) / 12 * 12; p++) {");
    cb_line(c, "if (p >= len) {");
    cb_line(c, "for (int g = 0; g < G; g++)");
    cb_line(c, "    for (int k = 0; k < ICKP; k++)");
    cb_line(c, "        CONV_COL(k) = 0.0f;");
    cb_line(c, "continue;");
    cb_line(c, "}");
    cb_line(c, "const long long q = q0 + p, i = q / OHW;");
    cb_line(c, "const int r = (int)(q - i * OHW), oh = r / OW, ow = r %% OW;");
    cb_line(c, "for (int g = 0; g < G; g++) {");
    cb_line(c, "for (int icl = 0; icl < ICG; icl++) {");
    cb_line(c, "const int ic = g * ICG + icl;");
    cb_line(c, "const float *xc = %s + ((ptrdiff_t)i * IC + ic) * IH * IW;", src);
    cb_line(c, "for (int kh = 0; kh < KH; kh++) {");
    cb_line(c, "const int h = oh * SH - %d + kh * DH;", a->ph);
    cb_line(c, "for (int kw = 0; kw < KW; kw++) {");
    cb_line(c, "const int wc = ow * SW - %d + kw * DW;", a->pw);
    cb_line(c, "CONV_COL(icl * K + kh * KW + kw) = h >= 0 && h < IH && wc >= 0 && wc < IW ? %s : 0.0f;",
            norm ? "(xc[h * IW + wc] - mean[ic]) * inv_std[ic]" : "xc[h * IW + wc]");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "for (int k = ICK; k < ICKP; k++)");
    cb_line(c, "    CONV_COL(k) = 0.0f;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#undef CONV_COL");
}

/* The product's register tile: 12 x 16 with AVX-512 (32 vector registers), else 6 x 16. */
static void conv_emit_tile_size(Cbuf *c) {
    cb_line(c, "#if defined(__AVX512F__)");
    cb_line(c, "enum { MR = 12 };");
    cb_line(c, "#else");
    cb_line(c, "enum { MR = 6 };");
    cb_line(c, "#endif");
}

static void conv_emit_product(Emit *e, const Op *op, const Attrs *a, Shape in, Shape out, const char *scr) {
    Cbuf *c = e->c;
    ConvGeo q = conv_geo(a, in, out);
    cb_line(c, "{ /* the forward by product (see conv.c) */");
    cb_line(c, "enum { K = KH * KW, ICK = %d, ICKP = %d, PL = %d, OHW = OH * OW, OCGP = (OCG + 15) / 16 * 16, NOB = OCGP / 16 };",
            q.ick, q.ickp, q.pl);
    cb_line(c, "float *col = %s, *wt = %s + %lld;", scr, scr, (long long)conv_product_wt_at(a, in, out));
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int gb = 0; gb < G * NOB; gb++) {");
    cb_line(c, "const int g = gb / NOB, ob = gb %% NOB;");
    cb_line(c, "float *wb = wt + (ptrdiff_t)gb * ICK * 16;");
    cb_line(c, "for (int k = 0; k < ICK; k++)");
    cb_line(c, "    for (int j = 0; j < 16; j++)");
    cb_line(c, "        wb[k * 16 + j] = ob * 16 + j < OCG ? w[((ptrdiff_t)g * OCG + ob * 16 + j) * ICK + k] : 0.0f;");
    cb_line(c, "}");
    if (op->pro_norm >= 0) { /* the fused normalize: (x - mean) * (1 / std) on the way in */
        const Attrs *na = &e->g->ops[op->pro_norm].a;
        const char *m = "", *r = "";
        for (int k = 0; k < na->nmean; k++) {
            m = arena_printf("%s%s%s", m, k ? ", " : "", emit_float(na->mean[k]));
            r = arena_printf("%s%s%s", r, k ? ", " : "", emit_float(1.0f / na->std[k]));
        }
        cb_line(c, "static const float mean[IC] = {%s}, inv_std[IC] = {%s};", m, r);
    }
    cb_line(c, "const long long NQ = (long long)n * OHW;");
    cb_line(c, "for (long long q0 = 0; q0 < NQ; q0 += PL) {");
    cb_line(c, "const int len = NQ - q0 < PL ? (int)(NQ - q0) : PL;");
    conv_emit_im2col(c, a, "x", op->pro_norm >= 0, false);
    cb_line(c, "#if CNN_VECTORS");
    conv_emit_tile_size(c);
    cb_line(c, "const int npb = (len + MR - 1) / MR;");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < G * npb * NOB; job++) {");
    /* the blocks of output channels innermost: a tile's rows of col (MR x ICKP floats) stay
     * in L1 for all of them, and col (up to 4 MB) is read once, not once per block */
    cb_line(c, "const int ob = job %% NOB, pb = job / NOB %% npb, g = job / NOB / npb;");
    cb_line(c, "const float *wq = wt + ((ptrdiff_t)g * NOB + ob) * ICK * 16;");
    cb_line(c, "const float *cq = col + ((ptrdiff_t)g * PL + pb * MR) * ICKP;");
    conv_emit_tile(c, "for (int k = 0; k < ICK; k++)", "wq + (ptrdiff_t)k * 16", "cq[(ptrdiff_t)t * ICKP + k]");
    /* stored a channel at a time: the tile's positions (mostly consecutive in a plane) */
    cb_line(c, "const int ocn = OCG - ob * 16 < 16 ? OCG - ob * 16 : 16, tn = len - pb * MR < MR ? len - pb * MR : MR;");
    cb_line(c, "ptrdiff_t yat[MR];");
    cb_line(c, "for (int t = 0; t < tn; t++) {");
    cb_line(c, "const long long qq = q0 + pb * MR + t, i = qq / OHW;");
    cb_line(c, "yat[t] = (ptrdiff_t)i * OC * OHW + (ptrdiff_t)(qq - i * OHW);");
    cb_line(c, "}");
    cb_line(c, "for (int j = 0; j < ocn; j++) {");
    cb_line(c, "const int oc = g * OCG + ob * 16 + j;");
    cb_line(c, "for (int t = 0; t < tn; t++) {");
    cb_line(c, "const float v = res[t][j]%s;", a->bias ? " + b[oc]" : "");
    cb_line(c, "y[yat[t] + (ptrdiff_t)oc * OHW] = %s;", emit_has_epilogue(op) ? emit_epilogue(e, op, "v", "oc") : "v");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#else");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int p = 0; p < len; p++) {");
    cb_line(c, "const long long qq = q0 + p, i = qq / OHW;");
    cb_line(c, "float *yq = y + (ptrdiff_t)i * OC * OHW + (ptrdiff_t)(qq - i * OHW);");
    cb_line(c, "for (int oc = 0; oc < OC; oc++) {");
    cb_line(c, "const int g = oc / OCG;");
    cb_line(c, "const float *cq = col + ((ptrdiff_t)g * PL + p) * ICKP;");
    cb_line(c, "const float *wq = wt + ((ptrdiff_t)g * NOB + oc %% OCG / 16) * ICK * 16 + oc %% OCG %% 16;");
    cb_line(c, "float v = %s;", a->bias ? "b[oc]" : "0.0f");
    cb_line(c, "for (int k = 0; k < ICK; k++)");
    cb_line(c, "    v += cq[k] * wq[(ptrdiff_t)k * 16];");
    cb_line(c, "yq[(ptrdiff_t)oc * OHW] = %s;", emit_has_epilogue(op) ? emit_epilogue(e, op, "v", "oc") : "v");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#endif");
    cb_line(c, "}");
    cb_line(c, "}");
}

/* once: a last tile that ends at the row's end and overlaps the one before, recomputing a
 * few columns with the same result, so that no column is left to the scalar loop. */
static void conv_tile(Cbuf *c, const Attrs *a, int nb, const char *vtype, const char *width, bool once) {
    bool scalar = !strcmp(vtype, "float");
    if (once) {
        cb_line(c, "if (ow0 < OW && OW >= %s) {", width);
        cb_line(c, "ow0 = OW - %s;", width);
    } else {
        cb_line(c, "for (; ow0 + %s <= OW; ow0 += %s) {", width, width);
    }
    cb_line(c, "%s acc[%d];", vtype, nb);
    for (int t = 0; t < nb; t++)
        cb_line(c, "acc[%d] = %s%s;", t, a->bias ? arena_printf("b[oc0 + %d]", t) : "0.0f", scalar ? "" : arena_printf(" + (%s){0}", vtype));
    cb_line(c, "for (int ic = 0; ic < ICG; ic++)");
    cb_line(c, "for (int kh = 0; kh < KH; kh++)");
    cb_line(c, "for (int kw = 0; kw < KW; kw++) {");
    cb_line(c, "const float *xr = xg + ((ptrdiff_t)ic * HP + kh * DH) * WP + ow0 * SW + kw * DW;");
    cb_line(c, "const float *wk = w + ((ptrdiff_t)oc0 * ICG + ic) * KH * KW + kh * KW + kw;");
    conv_emit_xv(c, scalar, a->sw, vtype, width);
    for (int t = 0; t < nb; t++)
        cb_line(c, "acc[%d] += wk[%d * ICG * KH * KW] * xv;", t, t);
    cb_line(c, "}");
    for (int t = 0; t < nb; t++) {
        if (scalar)
            cb_line(c, "yo[%d * YS + ow0] = acc[%d];", t, t);
        else
            cb_line(c, "memcpy(yo + %d * YS + ow0, &acc[%d], sizeof acc[%d]);", t, t, t);
    }
    if (once)
        cb_line(c, "ow0 = OW;");
    cb_line(c, "}");
}

/* The forward kernel for attributes a from input x (shape in) to y (shape out), with weights
 * w and bias b; scr names the scratch space (conv_kernel_scratch floats). op supplies the
 * fused prologue and epilogue, if any. */
static void conv_emit_kernel(Emit *e, const Op *op, const Attrs *a, Shape in, Shape out, const char *scr) {
    Cbuf *c = e->c;
    int ocg = a->out / a->groups;
    int ob = ocg < CONV_OB ? ocg : CONV_OB, ob_last = ocg % ob ? ocg % ob : ob;
    emit_image_dims(c, "I", in);
    emit_image_dims(c, "O", out);
    cb_line(c, "enum { KH = %d, KW = %d, SH = %d, SW = %d, DH = %d, DW = %d, G = %d, ICG = IC / G, OCG = OC / G };", a->kh,
            a->kw, a->sh, a->sw, a->dh, a->dw, a->groups);
    cb_line(c, "enum { HP = %d, WP = %d }; /* the padded input */", in.d[2] + a->ph + a->ph_end, in.d[3] + a->pw + a->pw_end);
    cb_line(c, "enum { OB = %d, BLOCKS = (OCG + OB - 1) / OB }; /* output channels per tile */", ob);
    emit_epilogue_setup(e, op, a->out);
    if (conv_by_product(a, out, op->epi_pool >= 0)) {
        conv_emit_product(e, op, a, in, out, scr);
        return;
    }
    const char *src = "x";
    if (conv_pads(a)) {
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int ic = 0; ic < n * IC; ic++) {");
        cb_line(c, "float *pad = %s + (ptrdiff_t)ic * HP * WP;", scr);
        cb_line(c, "for (int p = 0; p < HP * WP; p++)");
        cb_line(c, "    pad[p] = 0.0f;");
        if (op->pro_norm >= 0) { /* the fused normalize: (x - mean) / std on the way in */
            const Attrs *na = &e->g->ops[op->pro_norm].a;
            const char *m = "", *d = "";
            for (int k = 0; k < na->nmean; k++) {
                m = arena_printf("%s%s%s", m, k ? ", " : "", emit_float(na->mean[k]));
                d = arena_printf("%s%s%s", d, k ? ", " : "", emit_float(na->std[k]));
            }
            cb_line(c, "static const float mean[IC] = {%s}, std[IC] = {%s};", m, d);
            cb_line(c, "for (int h = 0; h < IH; h++) {");
            emit_simd(c, in.d[3]); /* in the OpenMP region the row loop runs scalar without */
            cb_line(c, "for (int col = 0; col < IW; col++)");
            cb_line(c, "    pad[(h + %d) * WP + col + %d] = (x[((ptrdiff_t)ic * IH + h) * IW + col] - mean[ic %% IC]) / std[ic %% IC];",
                    a->ph, a->pw);
            cb_line(c, "}");
        } else {
            cb_line(c, "for (int h = 0; h < IH; h++) /* rows by memcpy: in the OpenMP region a loop of them runs scalar */");
            cb_line(c, "    memcpy(pad + (h + %d) * WP + %d, x + ((ptrdiff_t)ic * IH + h) * IW, sizeof(float) * IW);", a->ph, a->pw);
        }
        cb_line(c, "}");
        src = scr;
    }
    if (conv_small_emit_forward(e, op, a, in, out, src))
        return;
    const Op *pool = op->epi_pool >= 0 ? &e->g->ops[op->epi_pool] : NULL;
    if (pool)
        cb_line(c, "enum { PKH = %d, PKW = %d, PH_OUT = OH / PKH, PW_OUT = OW / PKW }; /* the fused %s */", pool->a.kh,
                pool->a.kw, op_name(pool->kind));
    if (pool)
        cb_line(c, "enum { SLOTS = %d }; /* row buffers in the scratch: each slot's jobs run in order on one thread */", CONV_SLOTS);
    cb_line(c, "PARALLEL_FOR");
    if (!pool) {
        cb_line(c, "for (int job = 0; job < n * G * BLOCKS * OH; job++) {");
        cb_line(c, "const int oh = job %% OH, blk = job / OH %% BLOCKS, g = job / OH / BLOCKS %% G, i = job / OH / BLOCKS / G;");
        cb_line(c, "const ptrdiff_t YS = (ptrdiff_t)OH * OW; /* from one output channel to the next */");
        cb_line(c, "const int oc0 = g * OCG + blk * OB;");
        cb_line(c, "float *yo = y + ((ptrdiff_t)i * OC + oc0) * OH * OW + (ptrdiff_t)oh * OW;");
    } else { /* the fused pooling: the conv rows of one window row go to a buffer, then pooled */
        cb_line(c, "for (int slot = 0; slot < SLOTS; slot++) {");
        cb_line(c, "float *const rows = %s + %lld + (ptrdiff_t)slot * OB * PKH * OW;", scr, (long long)conv_rows_at(a, in, out));
        cb_line(c, "const int job_end = (int)((long long)n * G * BLOCKS * PH_OUT * (slot + 1) / SLOTS);");
        cb_line(c, "for (int job = (int)((long long)n * G * BLOCKS * PH_OUT * slot / SLOTS); job < job_end; job++) {");
        cb_line(c, "const int r = job %% PH_OUT, blk = job / PH_OUT %% BLOCKS, g = job / PH_OUT / BLOCKS %% G, i = job / PH_OUT / BLOCKS / G;");
        cb_line(c, "const ptrdiff_t YS = (ptrdiff_t)PKH * OW;");
        cb_line(c, "const int oc0 = g * OCG + blk * OB;");
        cb_line(c, "for (int q = 0; q < PKH; q++) {");
        cb_line(c, "const int oh = r * PKH + q;");
        cb_line(c, "float *yo = rows + (ptrdiff_t)q * OW;");
    }
    cb_line(c, "const float *xg = %s + ((ptrdiff_t)i * IC + (ptrdiff_t)g * ICG) * HP * WP + (ptrdiff_t)oh * SH * WP;", src);
    cb_line(c, "int ow0 = 0;");
    for (int bi = 0; bi < (ob_last != ob ? 2 : 1); bi++) {
        int nb = bi == 0 ? ob : ob_last;
        if (ob_last != ob)
            cb_line(c, bi == 0 ? "if (blk < BLOCKS - 1) {" : "} else {");
        cb_line(c, "#if CNN_VECTORS");
        conv_tile(c, a, nb, "cnn_vec2", "2 * CNN_VW", false);
        conv_tile(c, a, nb, "cnn_vec2", "2 * CNN_VW", true);
        conv_tile(c, a, nb, "cnn_vec", "CNN_VW", false);
        conv_tile(c, a, nb, "cnn_vec", "CNN_VW", true);
        conv_tile(c, a, nb, "cnn_half", "CNN_VW / 2", false);
        conv_tile(c, a, nb, "cnn_half", "CNN_VW / 2", true);
        cb_line(c, "#endif");
        conv_tile(c, a, nb, "float", "1", false);
    }
    if (ob_last != ob)
        cb_line(c, "}");
    if (emit_has_epilogue(op) && !pool) { /* the fused batchnorm and activation, on the row still in cache */
        cb_line(c, "const int nb = blk < BLOCKS - 1 ? OB : OCG - (BLOCKS - 1) * OB;");
        cb_line(c, "for (int t = 0; t < nb; t++)");
        cb_line(c, "    for (int j = 0; j < OW; j++) {");
        cb_line(c, "        const float v = yo[(ptrdiff_t)t * YS + j];");
        cb_line(c, "        yo[(ptrdiff_t)t * YS + j] = %s;", emit_epilogue(e, op, "v", "oc0 + t"));
        cb_line(c, "    }");
    }
    if (pool) {
        cb_line(c, "}");
        cb_line(c, "const int nbp = blk < BLOCKS - 1 ? OB : OCG - (BLOCKS - 1) * OB;");
        if (emit_has_epilogue(op)) { /* on a channel's PKH rows at once: PKH * OW floats in a row, fewer loop tails */
            cb_line(c, "for (int t = 0; t < nbp; t++)");
            cb_line(c, "    for (int j = 0; j < PKH * OW; j++) {");
            cb_line(c, "        const float v = rows[(ptrdiff_t)t * YS + j];");
            cb_line(c, "        rows[(ptrdiff_t)t * YS + j] = %s;", emit_epilogue(e, op, "v", "oc0 + t"));
            cb_line(c, "    }");
        }
        cb_line(c, "for (int t = 0; t < nbp; t++)");
        cb_line(c, "for (int pc = 0; pc < PW_OUT; pc++) {");
        if (pool->kind == OP_MAXPOOL) {
            cb_line(c, "float m = -INFINITY;");
            cb_line(c, "for (int q = 0; q < PKH; q++)");
            cb_line(c, "    for (int k = 0; k < PKW; k++) {");
            cb_line(c, "        const float v = rows[(ptrdiff_t)t * YS + (ptrdiff_t)q * OW + pc * PKW + k];");
            cb_line(c, "        if (v > m || isnan(v))");
            cb_line(c, "            m = v;");
            cb_line(c, "    }");
        } else {
            cb_line(c, "float s = 0.0f;");
            cb_line(c, "for (int q = 0; q < PKH; q++)");
            cb_line(c, "    for (int k = 0; k < PKW; k++)");
            cb_line(c, "        s += rows[(ptrdiff_t)t * YS + (ptrdiff_t)q * OW + pc * PKW + k];");
            cb_line(c, "const float m = s / (float)(PKH * PKW);");
        }
        cb_line(c, "y[(((ptrdiff_t)i * OC + oc0 + t) * PH_OUT + r) * PW_OUT + pc] = m;");
        cb_line(c, "}");
        cb_line(c, "}"); /* the slot */
    }
    cb_line(c, "}");
}

/* Marks the lines that follow, up to the next mark, as one part of the op for
 * bench/profile.sh, with the part's FLOPs per image. */
static void conv_profile_mark(Cbuf *c, const char *part, const Graph *g, const Op *fwd) {
    cb_line(c, "/* profile: %s %.0f */", part, conv_part_flops(g, fwd));
}

static void conv_emit_forward(Emit *e, const Op *op) {
    if (conv_dw_emit_forward(e, op))
        return;
    conv_profile_mark(e->c, "forward", e->g, op);
    if (op->pro_conv >= 0) {
        conv_stream_emit(e, op);
        return;
    }
    Op wop;
    if (conv_widen_forward(e->g, op, &wop) && conv_blk_emit_forward(e, &wop, false))
        return;
    if (conv_1x1_emit_forward(e, op) || conv_wino_emit_forward(e, op) || conv_oc_emit_forward(e, op) ||
        conv_blk_emit_forward(e, op, false))
        return;
    bool wide = conv_blk_wide_scratch(e->g, op) >= 0;
    if (wide) {
        cb_line(e->c, "#if defined(__AVX512F__) /* rows of 33 to 64 columns: this kernel with AVX-512, else conv_blk.c's */");
        if (e->packable) { /* conv_blk.c's branch packs the weights; this one has nothing to pack */
            cb_line(e->c, "(void)pk;");
            cb_line(e->c, "if (pack_now)");
            cb_line(e->c, "    return;");
        }
    }
    conv_emit_kernel(e, op, &op->a, emit_in_shape(e, op, 0), emit_out_shape(e, op), "scratch");
    if (wide) {
        cb_line(e->c, "#else");
        conv_blk_emit_forward(e, op, true);
        cb_line(e->c, "#endif");
    }
}

/* The gradients, each in its own parallel loop over memory no other iteration writes.
 * dx (when wanted): per (image, input channel), the dx plane is zeroed and every output
 * channel of the group scatters dy * w over the input positions its taps reached, with the
 * forward's valid ranges; the inner loop runs along an output row.
 * db (added into): per output channel, one partial sum per output column.
 * dw (added into): see below; the items never share a weight, so nothing is reduced across
 * threads and the result does not depend on the thread count. */
/* The input gradient of a stride-1, undilated, ungrouped conv is itself a convolution: dy,
 * padded by kernel - 1 - padding, with the kernel flipped and its channel axes swapped. So
 * the forward kernel computes it. dx_attrs describes that convolution. */
static bool conv_dx_by_kernel(const Attrs *a, Attrs *d) {
    if (a->sh != 1 || a->sw != 1 || a->dh != 1 || a->dw != 1 || a->groups != 1 || a->ph > a->kh - 1 ||
        a->ph_end > a->kh - 1 || a->pw > a->kw - 1 || a->pw_end > a->kw - 1)
        return false;
    *d = (Attrs){.kh = a->kh, .kw = a->kw, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 1,
                 .ph = a->kh - 1 - a->ph, .ph_end = a->kh - 1 - a->ph_end,
                 .pw = a->kw - 1 - a->pw, .pw_end = a->kw - 1 - a->pw_end};
    return true;
}

/* The two convs of a paired data gradient (Op.bwd_pair), either of them a: the shortcut sc is
 * the 1x1 one (conv_blk.c's phases take kernels of 3x3 and more only), the body the other. */
static void conv_pair_roles(const Op *a, const Op *b, const Op **body, const Op **sc) {
    bool a_is_sc = a->a.kh * a->a.kw == 1;
    *body = a_is_sc ? b : a;
    *sc = a_is_sc ? a : b;
}

/* OpInfo.dx_pair: conv_blk.c computes a strided conv's dx by phases with a 1x1 shortcut's of the
 * same stride (either may be fwd), when conv_emit_backward would take conv_blk.c for the strided
 * conv's dx alone (neither conv_wino.c nor conv_bwd.c ahead of it takes it). */
static bool conv_dx_pair(const Graph *g, const Op *fwd, const Op *other) {
    const Op *body, *sc;
    conv_pair_roles(fwd, other, &body, &sc);
    Shape in = g->values[body->in[0]].shape, out = g->values[body->out].shape;
    return body->pro_conv < 0 && sc->pro_conv < 0 && conv_blk_dx_pair_scratch(g, body, sc) >= 0 &&
           conv_wino_dx_scratch(g, &body->a, in, out) < 0 && conv_bwd_dx_scratch(&body->a, in, out) < 0 &&
           conv_1x1_dx_scratch(&body->a, in, out) < 0;
}

/* The gradients a backward op computes: dx (writes -1: a paired head computes it; a paired op
 * computes it with the other conv's) and dw. */
static bool conv_wants_dx(const Op *bwd) { return bwd->out >= 0 && bwd->writes >= 0 && bwd->bwd_pair <= 0; }
static bool conv_wants_dw(const Op *bwd) { return bwd->wrt == 0; }

/* The gradients widened (conv_widen): when conv_blk.c takes the wide op's data gradient (if
 * wanted) and conv_bwd.c's channels-in-lanes kernel its weight gradient (if wanted); a wide copy
 * of fwd in *w. */
static bool conv_widen_backward(const Graph *g, const Op *bwd, const Op *fwd, Op *w) {
    Shape in = g->values[fwd->in[0]].shape, out = g->values[fwd->out].shape;
    int f = conv_widen(&fwd->a, in, out);
    bool want_dx = conv_wants_dx(bwd), want_dw = conv_wants_dw(bwd);
    if (f == 1 || fwd->pro_conv >= 0 || bwd->bwd_pair > 0 || bwd->bwd_acc > 0 || (!want_dx && !want_dw))
        return false;
    *w = conv_wide_op(fwd, f);
    return (!want_dx || conv_blk_dx_scratch(&w->a, in, out) >= 0) && (!want_dw || conv_bwd_dwc_scratch(&w->a, in, out) >= 0);
}

static int64_t conv_bwd_scratch(const Graph *g, const Op *bwd, const Op *fwd) {
    int64_t dws = conv_dw_bwd_scratch(g, bwd, fwd);
    if (dws >= 0)
        return dws;
    Op wide;
    if (conv_widen_backward(g, bwd, fwd, &wide)) {
        Shape in = g->values[fwd->in[0]].shape, out = g->values[fwd->out].shape;
        int64_t dx = conv_wants_dx(bwd) ? conv_blk_dx_scratch(&wide.a, in, out) : 0;
        int64_t dw = conv_wants_dw(bwd) ? conv_bwd_dwc_scratch(&wide.a, in, out) : 0;
        return dx > dw ? dx : dw;
    }
    Shape in = g->values[fwd->in[0]].shape, out = g->values[fwd->out].shape;
    Attrs d;
    bool want_dx = conv_wants_dx(bwd);
    int64_t need = want_dx ? conv_1x1_dx_scratch(&fwd->a, in, out) : -1; /* conv_1x1.c's dx */
    bool dx1 = need >= 0;
    bool by_kernel = want_dx && !dx1 && (conv_dx_by_kernel(&fwd->a, &d) || conv_blk_dx_scratch(&fwd->a, in, out) >= 0); /* conv_blk.c: strided too */
    need = need < 0 ? 0 : need;
    if (bwd->bwd_pair > 0) {
        const Op *body, *sc;
        conv_pair_roles(fwd, &g->ops[g->ops[bwd->bwd_pair].fwd], &body, &sc);
        need = conv_blk_dx_pair_scratch(g, body, sc);
    }
    if (by_kernel) {
        d.out = in.d[1];
        need = conv_wino_dx_scratch(g, &fwd->a, in, out); /* conv_wino.c's dx, conv_bwd.c's, conv_blk.c's, else the forward kernel's */
        if (need < 0)
            need = conv_bwd_dx_scratch(&fwd->a, in, out);
        if (need < 0)
            need = conv_blk_dx_scratch(&fwd->a, in, out);
        if (need < 0)
            need = round16((int64_t)out.d[1] * in.d[1] * d.kh * d.kw) + conv_kernel_scratch(&d, out, in, false);
    }
    int64_t dwk = conv_wants_dw(bwd) ? conv_dw_kernel_scratch(&fwd->a, in, out) : -1;
    need = dwk > need ? dwk : need;
    int64_t geo = (conv_wants_dw(bwd) && dwk < 0) || (want_dx && !by_kernel && !dx1)
                      ? conv_bwd_geo(&fwd->a, in, out, want_dx && !by_kernel && !dx1).total
                      : 0;
    return need > geo ? need : geo;
}

static bool conv_ident_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
}

/* text with the identifiers x, w, y and every enum constant it declares renamed NAME_f: the
 * forward kernel nested in the data gradient then shadows none of the enclosing names
 * (generated code is -Wshadow clean). Only whole identifiers change. */
static const char *conv_rename_inner(const char *text) {
    const char *names[64] = {"x", "w", "y"};
    int nn = 3;
    for (const char *p = strstr(text, "enum {"); p; p = strstr(p, "enum {")) {
        p += 6;
        const char *end = strchr(p, '}');
        while (p && p < end && nn < 64) { /* "A = ..., B = ..." : the names before each '=' */
            while (*p == ' ')
                p++;
            const char *q = p;
            while (conv_ident_char(*q))
                q++;
            if (q > p)
                names[nn++] = arena_printf("%.*s", (int)(q - p), p);
            p = strchr(q, ',');
            if (p && p < end)
                p++;
        }
        p = end;
    }
    Cbuf out = {0};
    for (const char *p = text; *p;) {
        const char *q = p;
        bool ident = conv_ident_char(*p);
        while (*q && conv_ident_char(*q) == ident)
            q++;
        bool hit = false;
        for (int k = 0; ident && k < nn && !hit; k++)
            hit = strlen(names[k]) == (size_t)(q - p) && !strncmp(names[k], p, (size_t)(q - p));
        cb_raw(&out, "%.*s%s", (int)(q - p), p, hit ? "_f" : "");
        p = q;
    }
    const char *r = arena_strdup(out.data ? out.data : "");
    cb_free(&out);
    return r;
}

/* db += the sums of dy over images and pixels, after a weight-gradient kernel */
static void conv_emit_db(Cbuf *c) {
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int oc = 0; oc < OC; oc++) {");
    cb_line(c, "float part[16] = {0};");
    cb_line(c, "for (int i = 0; i < n; i++) {");
    cb_line(c, "const float *d = dy + ((ptrdiff_t)i * OC + oc) * OH * OW;");
    cb_line(c, "int p = 0;");
    cb_line(c, "for (; p + 16 <= OH * OW; p += 16)");
    cb_line(c, "    for (int j = 0; j < 16; j++)");
    cb_line(c, "        part[j] += d[p + j];");
    cb_line(c, "for (int j = 0; p + j < OH * OW; j++)");
    cb_line(c, "    part[j] += d[p + j];");
    cb_line(c, "}");
    cb_line(c, "float s = 0.0f;");
    cb_line(c, "for (int j = 0; j < 16; j++)");
    cb_line(c, "    s += part[j];");
    cb_line(c, "db[oc] += s;");
    cb_line(c, "}");
}

/* The weight gradient (and db) by conv_1x1.c's, conv_bwd.c's or conv_small.c's kernel, after
 * its profile mark; false (nothing but the mark emitted) when none takes the layer. */
static bool conv_emit_dw_kernel(Emit *e, const Op *fwd) {
    Cbuf *c = e->c;
    const Attrs *a = &fwd->a;
    conv_profile_mark(c, "dw", e->g, fwd);
    if (!(conv_1x1_emit_dw(e, fwd) || conv_bwd_emit_dw(e, fwd) || conv_small_emit_dw(e, fwd)))
        return false;
    if (a->bias)
        conv_emit_db(c);
    return true;
}

/* dx by the forward kernel: the stride-1 case. */
static void conv_emit_dx_by_kernel(Emit *e, const Op *fwd, Attrs d) {
    Cbuf *c = e->c;
    Shape in = emit_in_shape(e, fwd, 0), out = emit_out_shape(e, fwd);
    d.out = in.d[1];
    int64_t wf = round16((int64_t)out.d[1] * in.d[1] * d.kh * d.kw);
    Op plain = {.fused_into = -1, .epi_bn = -1, .epi_act = -1, .pro_norm = -1, .epi_pool = -1, .pro_conv = -1, .keeps = -1, .evens_out = -1, .evens_in = -1};
    cb_line(c, "{ /* dx: the forward kernel over dy, with the kernel flipped and its channels swapped */");
    cb_line(c, "float *wf = scratch;");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int icc = 0; icc < IC; icc++)");
    cb_line(c, "    for (int oc = 0; oc < OC; oc++)");
    cb_line(c, "        for (int k = 0; k < KH * KW; k++)");
    cb_line(c, "            wf[((ptrdiff_t)icc * OC + oc) * KH * KW + k] = w[((ptrdiff_t)oc * IC + icc) * KH * KW + KH * KW - 1 - k];");
    cb_line(c, "{");
    Cbuf inner = {0};
    inner.indent = c->indent;
    e->c = &inner;
    cb_line(&inner, "const float *x = dy, *w = wf;");
    cb_line(&inner, "float *y = dx;");
    conv_emit_kernel(e, &plain, &d, out, in, arena_printf("(scratch + %lld)", (long long)wf));
    e->c = c;
    cb_raw(c, "%s", conv_rename_inner(inner.data));
    cb_free(&inner);
    cb_line(c, "}");
    cb_line(c, "}");
}

/* OpInfo.dx_adds: conv_1x1.c's dx write-out can add into a gradient in dx's buffer. */
static bool conv_dx_adds(const Graph *g, const Op *fwd) {
    return conv_1x1_dx_scratch(&fwd->a, g->values[fwd->in[0]].shape, g->values[fwd->out].shape) >= 0;
}

/* OpInfo.reads_evens: a 1x1 stride-2 conv whose forward (and in training weight gradient)
 * conv_1x1.c computes can read its input's even pixels side by side (op->evens_in). */
static bool conv_reads_evens(const Graph *g, const Op *op) {
    const Attrs *a = &op->a;
    if (a->kh != 1 || a->kw != 1 || a->sh != 2 || a->sw != 2 || conv_1x1_scratch(g, op) < 0) /* unpadded: OH = (IH + 1) / 2 */
        return false;
    return !g->training || conv_1x1_dw_scratch(a, g->values[op->in[0]].shape, g->values[op->out].shape) >= 0;
}

/* The enums of a backward op's kernels: the sizes, the conv's attributes a (G its groups). */
static void conv_emit_bwd_enums(Cbuf *c, const Attrs *a, Shape in, Shape out) {
    emit_image_dims(c, "I", in);
    emit_image_dims(c, "O", out);
    cb_line(c, "enum { KH = %d, KW = %d, SH = %d, SW = %d, PH = %d, PW = %d, DH = %d, DW = %d, G = %d };", a->kh, a->kw,
            a->sh, a->sw, a->ph, a->pw, a->dh, a->dw, a->groups);
    cb_line(c, "enum { ICG = IC / G, OCG = OC / G };");
}

/* The gradients of a widened conv (conv_widen_backward): the wide op's enums (G its groups),
 * conv_blk.c's data gradient, conv_bwd.c's weight gradient; the profile's FLOPs the layer's. */
static bool conv_emit_backward_wide(Emit *e, const Op *bwd, const Op *fwd) {
    Op wide;
    if (!conv_widen_backward(e->g, bwd, fwd, &wide))
        return false;
    Cbuf *c = e->c;
    const Attrs *a = &wide.a;
    Shape in = emit_in_shape(e, fwd, 0), out = emit_out_shape(e, fwd);
    cb_line(c, "/* the layer's %d groups of %d -> %d channels as %d of %d -> %d, block-diagonal (conv.c: conv_widen) */", a->narrow,
            in.d[1] / a->narrow, out.d[1] / a->narrow, a->groups, in.d[1] / a->groups, out.d[1] / a->groups);
    conv_emit_bwd_enums(c, a, in, out);
    if (conv_wants_dx(bwd)) {
        conv_profile_mark(c, "dx", e->g, fwd);
        if (!conv_blk_emit_dx(e, &wide)) {
            fprintf(stderr, "cnnc: internal error: op %%%d widens its groups but conv_blk.c does not take its dx\n", bwd->out);
            exit(3);
        }
    }
    if (conv_wants_dw(bwd)) {
        conv_profile_mark(c, "dw", e->g, fwd);
        if (!conv_bwd_emit_dwc(e, &wide)) {
            fprintf(stderr, "cnnc: internal error: op %%%d widens its groups but conv_bwd.c does not take its dw\n", bwd->out);
            exit(3);
        }
        if (a->bias)
            conv_emit_db(c);
    }
    return true;
}

static void conv_emit_backward(Emit *e, const Op *bwd, const Op *fwd) {
    if (conv_dw_emit_backward(e, bwd, fwd) || conv_emit_backward_wide(e, bwd, fwd))
        return;
    Cbuf *c = e->c;
    const Attrs *a = &fwd->a;
    Shape in = emit_in_shape(e, fwd, 0), out = emit_out_shape(e, fwd);
    conv_emit_bwd_enums(c, a, in, out);
    Attrs d;
    bool pair = bwd->bwd_pair > 0; /* this op computes the paired conv's dx with its own */
    bool want_dx = conv_wants_dx(bwd), dx1 = want_dx && conv_1x1_dx_scratch(a, in, out) >= 0;
    bool by_kernel = want_dx && !dx1 && (conv_dx_by_kernel(a, &d) || conv_blk_dx_scratch(a, in, out) >= 0);
    bool dx_gemm = want_dx && !by_kernel && !dx1, want_dw = conv_wants_dw(bwd);
    if (bwd->bwd_acc > 0 && !dx1) { /* conv_dx_adds said conv_1x1.c takes this dx */
        fprintf(stderr, "cnnc: internal error: op %%%d adds its dx into a gradient but conv_1x1.c does not take it\n", bwd->out);
        exit(3);
    }
    /* A paired op runs its weight gradient first, while dy (just written by the batchnorm's
     * backward) is in cache (ResNet-18's layer2 shortcut at batch 8 in the step: see bench/README.md) */
    if (pair && want_dw && conv_dw_kernel_scratch(a, in, out) >= 0)
        want_dw = !conv_emit_dw_kernel(e, fwd);
    if (pair) {
        const Op *body, *sc;
        conv_pair_roles(fwd, &e->g->ops[e->g->ops[bwd->bwd_pair].fwd], &body, &sc);
        cb_line(c, "/* dx: this conv's and %s's (%s) together, the add of the two fused in */", body == fwd ? sc->pname : body->pname,
                body == fwd ? "its shortcut" : "its block's strided conv");
        cb_line(c, "/* profile: dx_pair %.0f */", conv_part_flops(e->g, body) + conv_part_flops(e->g, sc));
        if (!conv_blk_emit_dx_pair(e, body, sc, sc == fwd)) {
            fprintf(stderr, "cnnc: internal error: op %%%d pairs its dx but conv_blk.c does not take the pair\n", bwd->out);
            exit(3);
        }
    }
    if (dx1) {
        conv_profile_mark(c, "dx", e->g, fwd);
        conv_1x1_emit_dx(e, fwd, bwd->bwd_acc > 0);
    }
    if (by_kernel) {
        conv_profile_mark(c, "dx", e->g, fwd);
        if (!conv_wino_emit_dx(e, fwd) && !conv_bwd_emit_dx(e, fwd) && !conv_blk_emit_dx(e, fwd))
            conv_emit_dx_by_kernel(e, fwd, d);
    }
    if (want_dw)
        want_dw = !conv_emit_dw_kernel(e, fwd);
    if (!dx_gemm && !want_dw)
        return;
    ConvGeo q = conv_bwd_geo(a, in, out, dx_gemm);
    cb_line(c, "{ /* %s by pieces of PL positions (see conv.c) */", dx_gemm && want_dw ? "dx, dw" : dx_gemm ? "dx" : "dw");
    cb_line(c, "enum { K = KH * KW, ICK = %d, ICKP = %d, PL = %d, OHW = OH * OW };", q.ick, q.ickp, q.pl);
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "#if defined(__AVX512F__) /* 32 vector registers: a tile of 12 x 16, else 6 x 16 */");
    cb_line(c, "enum { MR = 12, NKB = ICKP / 16 };");
    cb_line(c, "#else");
    cb_line(c, "enum { MR = 6, NKB = ICKP / 16 };");
    cb_line(c, "#endif");
    cb_line(c, "#endif");
    cb_line(c, "float *dyp = scratch, *col = scratch + %lld;", (long long)q.col_at);
    if (dx_gemm) {
        cb_line(c, "float *wp = scratch + %lld;", (long long)q.wp_at);
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int oc = 0; oc < OC; oc++) { /* wp[g][k / 16][oc of g][k %% 16] */");
        cb_line(c, "const int g = oc / OCG, ocl = oc %% OCG;");
        cb_line(c, "for (int k = 0; k < ICKP; k++)");
        cb_line(c, "    wp[(((ptrdiff_t)g * (ICKP / 16) + k / 16) * OCG + ocl) * 16 + k %% 16] = k < ICK ? w[(ptrdiff_t)oc * ICK + k] : 0.0f;");
        cb_line(c, "}");
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int p = 0; p < n * IC; p++)");
        cb_line(c, "    memset(dx + (ptrdiff_t)p * IH * IW, 0, sizeof(float) * IH * IW);");
    }
    cb_line(c, "const long long NQ = (long long)n * OHW;");
    cb_line(c, "/* profile: dy 0 */");
    cb_line(c, "for (long long q0 = 0; q0 < NQ; q0 += PL) {");
    cb_line(c, "const int len = NQ - q0 < PL ? (int)(NQ - q0) : PL;");
    /* dy of the piece, and db */
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int oc = 0; oc < OC + %d; oc++) {", CONV_MR);
    cb_line(c, "float *dr = dyp + (ptrdiff_t)oc * PL;");
    cb_line(c, "int p = 0;");
    cb_line(c, "if (oc < OC)");
    cb_line(c, "for (long long q = q0; p < len;) {");
    cb_line(c, "const long long i = q / OHW;");
    cb_line(c, "const int r = (int)(q - i * OHW), m = OHW - r < len - p ? OHW - r : len - p;");
    cb_line(c, "memcpy(dr + p, dy + ((ptrdiff_t)i * OC + oc) * OHW + r, sizeof(float) * (size_t)m);");
    cb_line(c, "p += m, q += m;");
    cb_line(c, "}");
    cb_line(c, "for (; p < PL; p++)");
    cb_line(c, "    dr[p] = 0.0f;");
    if (want_dw && a->bias) {
        cb_line(c, "if (oc < OC) {");
        cb_line(c, "float part[16] = {0};");
        cb_line(c, "for (p = 0; p + 16 <= len; p += 16)");
        cb_line(c, "    for (int j = 0; j < 16; j++)");
        cb_line(c, "        part[j] += dr[p + j];");
        cb_line(c, "for (int j = 0; p + j < len; j++)");
        cb_line(c, "    part[j] += dr[p + j];");
        cb_line(c, "float s = 0.0f;");
        cb_line(c, "for (int j = 0; j < 16; j++)");
        cb_line(c, "    s += part[j];");
        cb_line(c, "db[oc] += s;");
        cb_line(c, "}");
    }
    cb_line(c, "}");
    if (dx_gemm) {
        conv_profile_mark(c, "dx", e->g, fwd);
        cb_line(c, "/* dx's columns: col[g][p][k] = sum over the group's oc of dyp[oc][p] wp[oc][k] */");
        cb_line(c, "#if CNN_VECTORS");
        cb_line(c, "const int npb = (len + MR - 1) / MR;");
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int job = 0; job < G * npb * NKB; job++) {");
        cb_line(c, "const int pb = job %% npb, kb = job / npb %% NKB, g = job / npb / NKB;");
        cb_line(c, "const float *wq = wp + ((ptrdiff_t)g * NKB + kb) * OCG * 16;");
        cb_line(c, "const float *dq = dyp + (ptrdiff_t)g * OCG * PL + pb * MR;");
        conv_emit_tile(c, "for (int oc = 0; oc < OCG; oc++)", "wq + (ptrdiff_t)oc * 16", "dq[(ptrdiff_t)oc * PL + t]");
        cb_line(c, "float *cq = col + ((ptrdiff_t)g * PL + pb * MR) * ICKP + kb * 16;");
        cb_line(c, "for (int t = 0; t < MR; t++)");
        cb_line(c, "    memcpy(cq + (ptrdiff_t)t * ICKP, res[t], sizeof res[t]);");
        cb_line(c, "}");
        cb_line(c, "#else");
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int p = 0; p < len; p++)");
        cb_line(c, "for (int g = 0; g < G; g++)");
        cb_line(c, "for (int k = 0; k < ICK; k++) {");
        cb_line(c, "float s = 0.0f;");
        cb_line(c, "for (int oc = g * OCG; oc < (g + 1) * OCG; oc++)");
        cb_line(c, "    s += dyp[(ptrdiff_t)oc * PL + p] * wp[(((ptrdiff_t)g * (ICKP / 16) + k / 16) * OCG + oc %% OCG) * 16 + k %% 16];");
        cb_line(c, "col[((ptrdiff_t)g * PL + p) * ICKP + k] = s;");
        cb_line(c, "}");
        cb_line(c, "#endif");
        cb_line(c, "/* col2im: each (image, input channel) plane of the piece has one writer */");
        cb_line(c, "const long long i0 = q0 / OHW, ni = (q0 + len - 1) / OHW - i0 + 1;");
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int job = 0; job < (int)(ni * IC); job++) {");
        cb_line(c, "const long long i = i0 + job / IC;");
        cb_line(c, "const int ic = job %% IC, g = ic / ICG, icl = ic %% ICG;");
        cb_line(c, "float *dxc = dx + ((ptrdiff_t)i * IC + ic) * IH * IW;");
        cb_line(c, "const long long qa = i * OHW > q0 ? i * OHW : q0, qb = (i + 1) * OHW < q0 + len ? (i + 1) * OHW : q0 + len;");
        cb_line(c, "for (long long q = qa; q < qb; q++) {");
        cb_line(c, "const int r = (int)(q - i * OHW), oh = r / OW, ow = r %% OW;");
        cb_line(c, "const float *cq = col + ((ptrdiff_t)g * PL + (ptrdiff_t)(q - q0)) * ICKP + icl * K;");
        cb_line(c, "for (int kh = 0; kh < KH; kh++) {");
        cb_line(c, "const int h = oh * SH - PH + kh * DH;");
        cb_line(c, "if (h < 0 || h >= IH)");
        cb_line(c, "    continue;");
        cb_line(c, "for (int kw = 0; kw < KW; kw++) {");
        cb_line(c, "const int wc = ow * SW - PW + kw * DW;");
        cb_line(c, "if (wc >= 0 && wc < IW)");
        cb_line(c, "    dxc[h * IW + wc] += cq[kh * KW + kw];");
        cb_line(c, "}");
        cb_line(c, "}");
        cb_line(c, "}");
        cb_line(c, "}");
    }
    if (want_dw) {
        conv_profile_mark(c, "dw", e->g, fwd);
        conv_emit_im2col(c, a, "x", false, true);
        cb_line(c, "/* dw[oc][k] += sum over the piece's positions of dyp[oc][p] col[g][p][k] */");
        cb_line(c, "#if CNN_VECTORS");
        cb_line(c, "enum { NOB = (OCG + MR - 1) / MR };");
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int job = 0; job < G * NKB * NOB; job++) {");
        cb_line(c, "const int ob = job %% NOB, kb = job / NOB %% NKB, g = job / NOB / NKB;");
        cb_line(c, "const float *cq = col + ((ptrdiff_t)g * NKB + kb) * PL * 16;");
        cb_line(c, "const float *dq = dyp + ((ptrdiff_t)g * OCG + ob * MR) * PL;");
        conv_emit_tile(c, "for (int p = 0; p < len; p++)", "cq + (ptrdiff_t)p * 16", "dq[(ptrdiff_t)t * PL + p]");
        cb_line(c, "const int ocn = OCG - ob * MR < MR ? OCG - ob * MR : MR;");
        cb_line(c, "const int kn = ICK - kb * 16 < 16 ? ICK - kb * 16 : 16;");
        cb_line(c, "for (int t = 0; t < ocn; t++) {");
        cb_line(c, "float *dr = dw + ((ptrdiff_t)g * OCG + ob * MR + t) * ICK + kb * 16;");
        cb_line(c, "for (int j = 0; j < kn; j++)");
        cb_line(c, "    dr[j] += res[t][j];");
        cb_line(c, "}");
        cb_line(c, "}");
        cb_line(c, "#else");
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int oc = 0; oc < OC; oc++)");
        cb_line(c, "for (int k = 0; k < ICK; k++) {");
        cb_line(c, "const float *cq = col + ((ptrdiff_t)(oc / OCG) * (ICKP / 16) + k / 16) * PL * 16 + k %% 16;");
        cb_line(c, "float s = 0.0f;");
        cb_line(c, "for (int p = 0; p < len; p++)");
        cb_line(c, "    s += dyp[(ptrdiff_t)oc * PL + p] * cq[(ptrdiff_t)p * 16];");
        cb_line(c, "dw[(ptrdiff_t)oc * ICK + k] += s;");
        cb_line(c, "}");
        cb_line(c, "#endif");
    }
    cb_line(c, "}");
    cb_line(c, "}");
}

/* Fusion: a tiling pooling closes the conv through the column kernel only (8 or more
 * columns), with a window row of at most 64 KiB. In training the conv also stores the
 * pooling's input in full (op->keeps, when a backward op reads it), which conv_oc.c's and
 * conv_small.c's kernels do, and the windows must cover it (the activation's backward reads
 * all of it). conv_small.c takes the op only when it keeps that input (pass_fuse sets keeps
 * after this answer): otherwise the column kernel, which stores the pooled values only. */
static bool conv_column_pool(Shape o, const Op *pool) {
    return o.d[3] >= 8 && (int64_t)8 * pool->a.kh * o.d[3] <= 16384;
}
/* A conv that conv_wino.c takes unpooled is not closed by the pooling, nor one that conv_blk.c
 * takes unless conv_oc.c takes it pooled: they do not pool, and the pooled kernels ran slower
 * than either plus the separate pool op. VGG-16-BN for CIFAR at batch 32, one thread: its 8x8
 * 256-channel conv closed by a max pool in conv.c's column kernel 27.8 ms a call at 87 GFLOP/s,
 * the model 113.6 -> 85.9 ms; simplecnn's 32 -> 64 conv by Winograd rather than conv_oc.c's
 * pooled tiles: the model at batch 64 17.7 -> 20.0K img/s on one thread, 35.9 -> 44.5K on two,
 * at batch 1 0.066 -> 0.060 ms. */
static bool conv_close_pool(const Graph *g, const Op *op, const Op *pool) {
    Shape o = g->values[op->out].shape;
    Op t = *op, u = *op;
    t.epi_pool = (int)(pool - g->ops);
    u.epi_pool = -1;
    if (conv_wino_scratch(g, &u) >= 0)
        return false;
    bool oc = (!g->training || (o.d[2] % pool->a.kh == 0 && o.d[3] % pool->a.kw == 0)) && conv_oc_scratch(g, &t) >= 0;
    if (oc)
        return true;
    if (conv_blk_scratch(g, &u) >= 0)
        return false;
    if (g->training) {
        if (o.d[2] % pool->a.kh || o.d[3] % pool->a.kw)
            return false;
        t.keeps = op->out; /* as if kept; if not, the column kernel */
        return conv_small_takes_forward(g, &t, &t.a, g->values[op->in[0]].shape, o) && conv_column_pool(o, pool);
    }
    return conv_column_pool(o, pool);
}

/* The PyTorch twin; uneven padding (pad = same) is an explicit F.pad. */
static bool conv_pads_evenly(const Attrs *a) { return a->ph == a->ph_end && a->pw == a->pw_end; }
static const char *conv_torch_module(const TorchCtx *t, const Op *op) {
    const Attrs *a = &op->a;
    const char *s = arena_printf("nn.Conv2d(%d, %d, %s", torch_in_shape(t, op, 0).d[1], a->out, torch_pair(a->kh, a->kw));
    if (a->sh != 1 || a->sw != 1)
        s = arena_printf("%s, stride=%s", s, torch_pair(a->sh, a->sw));
    if (conv_pads_evenly(a) && (a->ph || a->pw))
        s = arena_printf("%s, padding=%s", s, torch_pair(a->ph, a->pw));
    if (a->dh != 1 || a->dw != 1)
        s = arena_printf("%s, dilation=%s", s, torch_pair(a->dh, a->dw));
    if (a->groups != 1)
        s = arena_printf("%s, groups=%d", s, a->groups);
    if (!a->bias)
        s = arena_printf("%s, bias=False", s);
    return arena_printf("%s)", s);
}
static const char *conv_torch(TorchCtx *t, const Op *op) {
    const Attrs *a = &op->a;
    if (!conv_pads_evenly(a))
        return arena_printf("%s(F.pad(%s, (%d, %d, %d, %d)))", torch_module_ref(op), torch_in(t, op, 0), a->pw, a->pw_end,
                            a->ph, a->ph_end);
    return arena_printf("%s(%s)", torch_module_ref(op), torch_in(t, op, 0));
}

const OpInfo OP_CONV_info = {
    .name = "conv", .is_layer = true, .args = conv_args, .set_attrs = conv_set_attrs,
    .infer = conv_infer, .add_params = conv_add_params, .flops = conv_flops,
    .print_attrs = conv_print_attrs, .param_kind = "conv",
    .emit_forward = conv_emit_forward, .scratch = conv_scratch, .emit_backward = conv_emit_backward, .bwd_needs = BWD_X, .bwd_scratch = conv_bwd_scratch,
    .epilogue = true, .prologue = true, .close_pool = conv_close_pool, .stream_from = conv_stream_from, .dx_adds = conv_dx_adds, .dx_pair = conv_dx_pair,
    .reads_evens = conv_reads_evens,
    .torch_module = conv_torch_module, .torch_call = conv_torch,
};
