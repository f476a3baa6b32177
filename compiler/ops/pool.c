/* pool.c: max and average pooling, torch.nn.MaxPool2d / AvgPool2d semantics, ceil mode
 * included. Attributes: kh kw, sh sw (default: the kernel), ph pw (= ph_end pw_end),
 * ceil_mode, count_include_pad (avgpool). No parameters.
 * Output size (PyTorch's pooling_output_shape): o = floor((H + 2p - k + (ceil ? s - 1 : 0)) / s) + 1,
 * and in ceil mode the last window must start inside the input or its left padding:
 * if (o - 1) * s >= H + p then o -= 1. */
#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../emit_torch.h"
#include "../ops.h"

static const ArgSpec maxpool_args[] = {
    ARG_PAIR("kernel", NULL, 1), ARG_PAIR("stride", "kernel", 1), ARG_PAIR("pad", "0", 0), ARG_BOOL("ceil", "false"),
    ARG_END,
};
static const ArgSpec avgpool_args[] = {
    ARG_PAIR("kernel", NULL, 1), ARG_PAIR("stride", "kernel", 1), ARG_PAIR("pad", "0", 0), ARG_BOOL("ceil", "false"),
    ARG_BOOL("count_include_pad", "true"), ARG_END,
};

static bool pool_set_attrs(Graph *g, Op *op, const Val *v) {
    Attrs *a = &op->a;
    bool ok = true;
    val_pair(&v[0], &a->kh, &a->kw);
    a->sh = a->kh, a->sw = a->kw; /* stride = kernel */
    if (v[1].kind != V_NONE)
        val_pair(&v[1], &a->sh, &a->sw);
    val_pair(&v[2], &a->ph, &a->pw);
    a->ceil_mode = val_bool(&v[3]);
    a->count_include_pad = op->kind != OP_AVGPOOL || val_bool(&v[4]);
    if (ok && (a->ph > a->kh / 2 || a->pw > a->kw / 2)) {
        diag_error(v[2].span, "%s: pad %s must be at most half the kernel %s", op_name(op->kind),
                   pair_str(a->ph, a->pw), pair_str(a->kh, a->kw));
        return false;
    }
    a->ph_end = a->ph, a->pw_end = a->pw;
    return ok;
}

static int pool_out(int size, int k, int s, int p, bool ceil_mode) {
    long long o = ((long long)size + 2 * p - k + (ceil_mode ? s - 1 : 0)) / s + 1;
    if ((long long)size + 2 * p - k < 0)
        return 0;
    if (ceil_mode && (o - 1) * s >= (long long)size + p)
        o--;
    return (int)o;
}

static bool pool_infer(Graph *g, Op *op) {
    if (!need_image(g, op))
        return false;
    Shape in = *in_shape(g, op, 0);
    Attrs *a = &op->a;
    int oh = pool_out(in.d[2], a->kh, a->sh, a->ph, a->ceil_mode);
    int ow = pool_out(in.d[3], a->kw, a->sw, a->pw, a->ceil_mode);
    if (oh < 1 || ow < 1) {
        diag_error(op->span, "%s: kernel %s does not fit the input %s padded by %s", op_name(op->kind),
                   pair_str(a->kh, a->kw), shape_str(in, true), pair_str(a->ph, a->pw));
        return false;
    }
    *out_shape(g, op) = shape4(in.d[0], in.d[1], oh, ow);
    return true;
}

static double pool_flops(const Graph *g, const Op *op) {
    return same_shape_flops(g, op, (double)op->a.kh * op->a.kw);
}

static void pool_print_attrs(const Op *op, char *buf, size_t size) {
    const Attrs *a = &op->a;
    attr_append(buf, size, "kernel=%s", pair_str(a->kh, a->kw));
    if (a->sh != a->kh || a->sw != a->kw)
        attr_append(buf, size, "stride=%s", pair_str(a->sh, a->sw));
    if (a->ph || a->pw)
        attr_append(buf, size, "pad=%s", pair_str(a->ph, a->pw));
    if (a->ceil_mode)
        attr_append(buf, size, "ceil=true");
    if (op->kind == OP_AVGPOOL && !a->count_include_pad)
        attr_append(buf, size, "count_include_pad=false");
}

/* Fusion: windows that tile the image, so that a conv before it can store pooled values. */
static bool pool_tiles(const Op *pool) {
    const Attrs *a = &pool->a;
    return a->kh == a->sh && a->kw == a->sw && !a->ph && !a->pw && !a->ceil_mode;
}

/* Max pooling whose windows tile the image (no padding, stride = kernel, floor mode) and hold
 * at most TILE_MAX elements: every window lies inside the image, so there is no clipping, and
 * the scan of a window is unrolled into selects, which lets the C compiler vectorize along a
 * row of windows. The scan is the general path's (emit_window_reduce): the first maximum in
 * row-major order, a NaN replacing it (the last NaN wins, as in PyTorch); t_k says that
 * element k replaced the running maximum, and the one chosen is the last k with t_k (k = 0
 * when none did). Forward (bwd NULL): y = that maximum. Backward: each window's dx is written
 * whole, dy at the chosen element and 0 elsewhere (windows do not overlap, so nothing adds up
 * and dx needs no zeroing pass first); rows and columns past the last window get 0. With the
 * backward of the activation before the pool fused in (bwd->bwd_act, pass_fuse.c), the chosen
 * element gets the activation's gradient at the maximum, its output there (a relu: dy where the
 * maximum is > 0, a NaN is not); the other elements get 0, as the activation's gradient of 0. */
enum { TILE_MAX = 16 };

/* The gradient of the activation fused into a pooling's backward (bwd->bwd_act, pass_fuse.c),
 * from its output y and its output's gradient g (C expressions). */
static const char *bwd_act_dy(const Emit *e, const Op *bwd, const char *y, const char *g) {
    const Op *act = &e->g->ops[e->g->ops[bwd->bwd_act].fwd];
    return op_info(act->kind)->act_dy(act, y, g);
}

static bool maxpool_tiled(const Op *pool) {
    return pool->kind == OP_MAXPOOL && pool_tiles(pool) && pool->a.kh * pool->a.kw <= TILE_MAX;
}

/* Average pooling whose windows tile the image, at most TILE_MAX elements a window: the
 * window's sum is unrolled in the general path's order (row-major, from 0), divided by the
 * window's size (no padding, no clipping: count_include_pad does not matter), so the results
 * are the general path's to the bit. Backward: each element of a window gets dy / size (with
 * the fused activation's gradient at that element: bwd->bwd_act, from its output, the pool's
 * input x), rows and columns past the last window 0. LeNet-5's two 2x2 pools ran the clipped
 * scan for every window, forward and backward (with tanh's gradient), 10% of its training
 * step. */
static bool avgpool_tiled(const Op *pool) {
    return pool->kind == OP_AVGPOOL && pool_tiles(pool) && pool->a.kh * pool->a.kw <= TILE_MAX;
}

/* One window of a tiled average pool, inside pool_emit_tiled's loops: forward, its sum in
 * row-major order and the division; backward, dy / size to each element (times the fused
 * activation's gradient there). */
static void avgpool_window(Emit *e, const Op *fwd, const Op *bwd) {
    Cbuf *c = e->c;
    const Attrs *a = &fwd->a;
    const int k = a->kh * a->kw;
    if (bwd) {
        cb_line(c, "const float gv = dyo[oh * OW + ow] / (float)%d;", k);
        for (int j = 0; j < k; j++) {
            const char *at = arena_printf("%d * IW + KW * ow + %d", j / a->kw, j % a->kw);
            if (bwd->bwd_act > 0)
                cb_line(c, "dr[%s] = %s;", at, bwd_act_dy(e, bwd, arena_printf("xr[%s]", at), "gv"));
            else
                cb_line(c, "dr[%s] = gv;", at);
        }
    } else {
        cb_line(c, "float s = 0.0f;");
        for (int j = 0; j < k; j++)
            cb_line(c, "s += xr[%d * IW + KW * ow + %d];", j / a->kw, j % a->kw);
        cb_line(c, "yo[oh * OW + ow] = s / (float)%d;", k);
    }
}

/* One window of a tiled max pool: its maximum m in the general path's order (NaN propagates);
 * backward, the first element that holds it gets dy (times the fused activation's gradient at
 * m), the others 0. */
static void maxpool_window(Emit *e, const Op *fwd, const Op *bwd) {
    Cbuf *c = e->c;
    const Attrs *a = &fwd->a;
    const int k = a->kh * a->kw;
    for (int j = 0; j < k; j++)
        cb_line(c, "const float v%d = xr[%d * IW + KW * ow + %d];", j, j / a->kw, j % a->kw);
    cb_line(c, "float m = v0;");
    for (int j = 1; j < k; j++) {
        cb_line(c, "const int t%d = v%d > m || isnan(v%d);", j, j, j);
        if (!bwd || j < k - 1 || bwd->bwd_act > 0)
            cb_line(c, "m = t%d ? v%d : m;", j, j);
    }
    if (bwd) {
        if (bwd->bwd_act > 0)
            cb_line(c, "const float g = %s; /* the fused activation's gradient */", bwd_act_dy(e, bwd, "m", "dyo[oh * OW + ow]"));
        else
            cb_line(c, "const float g = dyo[oh * OW + ow];");
        cb_line(c, "int later = 0;");
        for (int j = k - 1; j >= 1; j--) {
            cb_line(c, "dr[%d * IW + KW * ow + %d] = t%d && !later ? g : 0.0f;", j / a->kw, j % a->kw, j);
            cb_line(c, "later |= t%d;", j);
        }
        cb_line(c, "dr[KW * ow] = later ? 0.0f : g;");
    } else {
        cb_line(c, "yo[oh * OW + ow] = m;");
    }
}

/* A pooling whose windows tile the image (maxpool_tiled, avgpool_tiled), forward (bwd NULL)
 * or backward: planes on the threads, rows of windows, vectors along a row of windows (scalar
 * without); the backward zeroes dx's columns and rows past the last window. */
static void pool_emit_tiled(Emit *e, const Op *fwd, const Op *bwd) {
    Cbuf *c = e->c;
    const Attrs *a = &fwd->a;
    const bool max = fwd->kind == OP_MAXPOOL, reads_x = max || !bwd || bwd->bwd_act > 0;
    Shape in = emit_in_shape(e, fwd, 0), out = emit_out_shape(e, fwd);
    emit_image_dims(c, "I", in);
    emit_image_dims(c, "O", out);
    cb_line(c, "enum { KH = %d, KW = %d };", a->kh, a->kw);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int ic = 0; ic < n * IC; ic++) {");
    if (reads_x)
        cb_line(c, "const float *xi = x + (ptrdiff_t)ic * IH * IW;");
    if (bwd) {
        cb_line(c, "const float *dyo = dy + (ptrdiff_t)ic * OH * OW;");
        cb_line(c, "float *dxi = dx + (ptrdiff_t)ic * IH * IW;");
    } else {
        cb_line(c, "float *yo = y + (ptrdiff_t)ic * OH * OW;");
    }
    cb_line(c, "for (int oh = 0; oh < OH; oh++) {");
    if (reads_x)
        cb_line(c, "const float *xr = xi + oh * KH * IW;");
    if (bwd)
        cb_line(c, "float *dr = dxi + oh * KH * IW;");
    emit_simd(c, out.d[3]);
    cb_line(c, "for (int ow = 0; ow < OW; ow++) {");
    if (max)
        maxpool_window(e, fwd, bwd);
    else
        avgpool_window(e, fwd, bwd);
    cb_line(c, "}");
    if (bwd && in.d[3] > out.d[3] * a->kw) {
        cb_line(c, "for (int h = 0; h < KH; h++)");
        cb_line(c, "    for (int col = OW * KW; col < IW; col++)");
        cb_line(c, "        dr[h * IW + col] = 0.0f;");
    }
    cb_line(c, "}");
    if (bwd && in.d[2] > out.d[2] * a->kh) {
        cb_line(c, "for (int q = OH * KH * IW; q < IH * IW; q++)");
        cb_line(c, "    dxi[q] = 0.0f; /* the rows past the last window */");
    }
    cb_line(c, "}");
}

/* One output at a time over its window clipped to the image. Max: NaN propagates as in
 * PyTorch. Average: the divisor counts padding (count_include_pad) but never the part of a
 * ceil-mode window that hangs past the padding, exactly as torch.nn.AvgPool2d. */
static void pool_emit_window(Emit *e, const Op *op, const char *ow0, const char *ow1) {
    Cbuf *c = e->c;
    const Attrs *a = &op->a;
    cb_line(c, "for (int ow = %s; ow < %s; ow++) {", ow0, ow1);
    cb_line(c, "int h0 = oh * SH - PH, w0 = ow * SW - PW;");
    cb_line(c, "int h1 = h0 + KH < IH + PH ? h0 + KH : IH + PH, w1 = w0 + KW < IW + PW ? w0 + KW : IW + PW;");
    if (op->kind == OP_AVGPOOL && a->count_include_pad)
        cb_line(c, "const int padded = (h1 - h0) * (w1 - w0);");
    cb_line(c, "if (h0 < 0) h0 = 0;");
    cb_line(c, "if (w0 < 0) w0 = 0;");
    cb_line(c, "if (h1 > IH) h1 = IH;");
    cb_line(c, "if (w1 > IW) w1 = IW;");
    emit_window_reduce(c, op->kind == OP_MAXPOOL, false);
    if (op->kind == OP_MAXPOOL) {
        cb_line(c, "yo[oh * OW + ow] = m;");
    } else {
        cb_line(c, "const int count = %s;", a->count_include_pad ? "padded" : "(h1 - h0) * (w1 - w0)");
        cb_line(c, "yo[oh * OW + ow] = count > 0 ? s / (float)count : 0.0f;");
    }
    cb_line(c, "}");
}

/* One output at a time over its window clipped to the image. Max: NaN propagates as in
 * PyTorch. Average: the divisor counts padding (count_include_pad) but never the part of a
 * ceil-mode window that hangs past the padding, exactly as torch.nn.AvgPool2d.
 * A max pool of at most TILE_MAX elements a window takes the windows that lie inside the image
 * (rows and columns: OWL <= ow < OWR) in a loop of constant trip count with the scan unrolled
 * into selects (the same first maximum, the same NaN rule), vectorized along the row (CNN_SIMD);
 * the windows at the edges keep the clipped scan. ResNet's 3x3 stride-2 pool at 112x112 ran
 * the clipped scan for every window, 5% of resnet18's inference. */
static void pool_emit_forward(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    const Attrs *a = &op->a;
    if (maxpool_tiled(op) || avgpool_tiled(op)) {
        pool_emit_tiled(e, op, NULL);
        return;
    }
    Shape in = emit_in_shape(e, op, 0), out = emit_out_shape(e, op);
    emit_image_dims(c, "I", in);
    emit_image_dims(c, "O", out);
    cb_line(c, "enum { KH = %d, KW = %d, SH = %d, SW = %d, PH = %d, PW = %d };", a->kh, a->kw, a->sh, a->sw, a->ph, a->pw);
    /* the windows inside the image: columns owl <= ow < owr */
    int owl = (a->pw + a->sw - 1) / a->sw;
    int owr = in.d[3] + a->pw - a->kw < 0 ? 0 : (in.d[3] + a->pw - a->kw) / a->sw + 1;
    owr = owr > out.d[3] ? out.d[3] : owr;
    bool fast = op->kind == OP_MAXPOOL && a->kh * a->kw <= TILE_MAX && owr > owl;
    if (fast)
        cb_line(c, "enum { OWL = %d, OWR = %d }; /* the windows inside the image's columns */", owl, owr);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int ic = 0; ic < n * IC; ic++) {");
    cb_line(c, "const float *xi = x + (ptrdiff_t)ic * IH * IW;");
    cb_line(c, "float *yo = y + (ptrdiff_t)ic * OH * OW;");
    cb_line(c, "for (int oh = 0; oh < OH; oh++) {");
    if (fast) {
        cb_line(c, "if (oh * SH - PH >= 0 && oh * SH - PH + KH <= IH) {");
        pool_emit_window(e, op, "0", "OWL");
        cb_line(c, "const float *xr = xi + (oh * SH - PH) * IW;");
        emit_simd(c, owr - owl);
        cb_line(c, "for (int ow = OWL; ow < OWR; ow++) {");
        cb_line(c, "float m = xr[ow * SW - PW];");
        for (int j = 1; j < a->kh * a->kw; j++) {
            cb_line(c, "const float v%d = xr[%d * IW + ow * SW - PW + %d];", j, j / a->kw, j % a->kw);
            cb_line(c, "m = v%d > m || isnan(v%d) ? v%d : m;", j, j, j);
        }
        cb_line(c, "yo[oh * OW + ow] = m;");
        cb_line(c, "}");
        pool_emit_window(e, op, "OWR", "OW");
        cb_line(c, "continue;");
        cb_line(c, "}");
    }
    pool_emit_window(e, op, "0", "OW");
    cb_line(c, "}");
    cb_line(c, "}");
}

/* The backward of a max pool whose windows overlap or are clipped (ResNet's 3x3 of stride 2,
 * pad 1), inside pool_emit_backward's plane loop after dx's zeroing: per row of windows, the
 * columns whose windows lie inside the image in width (ow in [OWA, OWB)) scan their windows
 * together, one tap at a time along the row (h, then kw: each window's own row-major order),
 * into per-column running maxima and positions, in selects that compilers vectorize along the
 * row; the other columns scan as the general path does. Then dy goes to each window's chosen
 * element in column order (windows that share an element add up in the general path's order).
 * The same first maximum, and NaN rule, as emit_window_reduce. The general path's scan, a
 * branch per element on random data, ran ResNet-18's stem pool backward at about 60 cycles a
 * window (4.7% of its training step at batch 8). False (nothing emitted) when no column is
 * inside. */
static bool maxpool_rows(Emit *e, const Op *fwd, const Op *bwd) {
    Cbuf *c = e->c;
    const Attrs *a = &fwd->a;
    Shape in = emit_in_shape(e, fwd, 0), out = emit_out_shape(e, fwd);
    int iw = in.d[3], ow = out.d[3];
    int owa = (a->pw + a->sw - 1) / a->sw, owb = iw + a->pw - a->kw < 0 ? 0 : (iw + a->pw - a->kw) / a->sw + 1;
    if (owb > ow)
        owb = ow;
    if (owb - owa < 4)
        return false;
    cb_line(c, "enum { OWA = %d, OWB = %d }; /* the columns whose windows lie inside in width */", owa, owb);
    cb_line(c, "for (int oh = 0; oh < OH; oh++) {");
    cb_line(c, "int h0 = oh * SH - PH, h1 = h0 + KH < IH + PH ? h0 + KH : IH + PH;");
    cb_line(c, "if (h0 < 0) h0 = 0;");
    cb_line(c, "if (h1 > IH) h1 = IH;");
    cb_line(c, "float mr[OW];");
    cb_line(c, "int ats[OW];");
    cb_line(c, "for (int ow = OWA; ow < OWB; ow++) {");
    cb_line(c, "mr[ow] = -INFINITY;");
    cb_line(c, "ats[ow] = h0 * IW + ow * SW - PW;");
    cb_line(c, "}");
    cb_line(c, "for (int h = h0; h < h1; h++)");
    cb_line(c, "for (int kw = 0; kw < KW; kw++) {");
    cb_line(c, "const float *const xr = xi + h * IW + kw - PW;");
    emit_simd(c, owb - owa);
    cb_line(c, "for (int ow = OWA; ow < OWB; ow++) {");
    cb_line(c, "const float v = xr[ow * SW];");
    cb_line(c, "const int t = v > mr[ow] || isnan(v);");
    cb_line(c, "mr[ow] = t ? v : mr[ow];");
    cb_line(c, "ats[ow] = t ? h * IW + ow * SW + kw - PW : ats[ow];");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "for (int ow = 0; ow < OW; ow++) {");
    cb_line(c, "if (ow < OWA || ow >= OWB) { /* a window clipped in width: the general scan */");
    cb_line(c, "int w0 = ow * SW - PW, w1 = w0 + KW < IW + PW ? w0 + KW : IW + PW;");
    cb_line(c, "if (w0 < 0) w0 = 0;");
    cb_line(c, "if (w1 > IW) w1 = IW;");
    emit_window_reduce(c, true, true);
    cb_line(c, "ats[ow] = at;");
    cb_line(c, "}");
    if (bwd->bwd_act > 0)
        cb_line(c, "dxi[ats[ow]] += %s; /* the fused activation's gradient */",
                bwd_act_dy(e, bwd, "xi[ats[ow]]", "dyo[oh * OW + ow]"));
    else
        cb_line(c, "dxi[ats[ow]] += dyo[oh * OW + ow];");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    return true;
}

static void pool_emit_backward(Emit *e, const Op *bwd, const Op *fwd) {
    Cbuf *c = e->c;
    const Attrs *a = &fwd->a;
    if (maxpool_tiled(fwd) || avgpool_tiled(fwd)) {
        pool_emit_tiled(e, fwd, bwd);
        return;
    }
    emit_image_dims(c, "I", emit_in_shape(e, fwd, 0));
    emit_image_dims(c, "O", emit_out_shape(e, fwd));
    cb_line(c, "enum { KH = %d, KW = %d, SH = %d, SW = %d, PH = %d, PW = %d };", a->kh, a->kw, a->sh, a->sw, a->ph, a->pw);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int ic = 0; ic < n * IC; ic++) {");
    if (fwd->kind == OP_MAXPOOL || bwd->bwd_act > 0)
        cb_line(c, "const float *xi = x + (ptrdiff_t)ic * IH * IW;");
    cb_line(c, "const float *dyo = dy + (ptrdiff_t)ic * OH * OW;");
    cb_line(c, "float *dxi = dx + (ptrdiff_t)ic * IH * IW;");
    cb_line(c, "for (int p = 0; p < IH * IW; p++)");
    cb_line(c, "    dxi[p] = 0.0f;");
    if (fwd->kind == OP_MAXPOOL && maxpool_rows(e, fwd, bwd))
        return;
    cb_line(c, "for (int oh = 0; oh < OH; oh++) {");
    cb_line(c, "for (int ow = 0; ow < OW; ow++) {");
    cb_line(c, "int h0 = oh * SH - PH, w0 = ow * SW - PW;");
    cb_line(c, "int h1 = h0 + KH < IH + PH ? h0 + KH : IH + PH, w1 = w0 + KW < IW + PW ? w0 + KW : IW + PW;");
    if (fwd->kind == OP_AVGPOOL && a->count_include_pad)
        cb_line(c, "const int padded = (h1 - h0) * (w1 - w0);");
    cb_line(c, "if (h0 < 0) h0 = 0;");
    cb_line(c, "if (w0 < 0) w0 = 0;");
    cb_line(c, "if (h1 > IH) h1 = IH;");
    cb_line(c, "if (w1 > IW) w1 = IW;");
    if (fwd->kind == OP_MAXPOOL) {
        emit_window_reduce(c, true, true);
        if (bwd->bwd_act > 0)
            cb_line(c, "dxi[at] += %s; /* the fused activation's gradient */", bwd_act_dy(e, bwd, "xi[at]", "dyo[oh * OW + ow]"));
        else
            cb_line(c, "dxi[at] += dyo[oh * OW + ow];");
    } else {
        cb_line(c, "const int count = %s;", a->count_include_pad ? "padded" : "(h1 - h0) * (w1 - w0)");
        cb_line(c, "const float gv = count > 0 ? dyo[oh * OW + ow] / (float)count : 0.0f;");
        cb_line(c, "for (int h = h0; h < h1; h++)");
        cb_line(c, "    for (int w = w0; w < w1; w++)");
        if (bwd->bwd_act > 0) /* the activation's gradient is linear in dy: per window as on the sum */
            cb_line(c, "        dxi[h * IW + w] += %s;", bwd_act_dy(e, bwd, "xi[h * IW + w]", "gv"));
        else
            cb_line(c, "        dxi[h * IW + w] += gv;");
    }
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
}


/* The PyTorch twin. */
static const char *maxpool_torch(TorchCtx *t, const Op *op) {
    const Attrs *a = &op->a;
    return arena_printf("F.max_pool2d(%s, %s, stride=%s, padding=%s, ceil_mode=%s)", torch_in(t, op, 0),
                        torch_pair(a->kh, a->kw), torch_pair(a->sh, a->sw), torch_pair(a->ph, a->pw),
                        torch_bool(a->ceil_mode));
}
static const char *avgpool_torch(TorchCtx *t, const Op *op) {
    const Attrs *a = &op->a;
    return arena_printf("F.avg_pool2d(%s, %s, stride=%s, padding=%s, ceil_mode=%s, count_include_pad=%s)",
                        torch_in(t, op, 0), torch_pair(a->kh, a->kw), torch_pair(a->sh, a->sw), torch_pair(a->ph, a->pw),
                        torch_bool(a->ceil_mode), torch_bool(a->count_include_pad));
}

const OpInfo OP_MAXPOOL_info = {
    .name = "maxpool", .is_layer = true, .args = maxpool_args, .set_attrs = pool_set_attrs,
    .infer = pool_infer, .flops = pool_flops, .print_attrs = pool_print_attrs,
    .emit_forward = pool_emit_forward, .emit_backward = pool_emit_backward, .bwd_needs = BWD_X,
    .pool_tiles = pool_tiles, .torch_call = maxpool_torch,
};
const OpInfo OP_AVGPOOL_info = {
    .name = "avgpool", .is_layer = true, .args = avgpool_args, .set_attrs = pool_set_attrs,
    .infer = pool_infer, .flops = pool_flops, .print_attrs = pool_print_attrs,
    .emit_forward = pool_emit_forward, .emit_backward = pool_emit_backward, .bwd_needs = 0,
    .pool_tiles = pool_tiles, .torch_call = avgpool_torch,
};
