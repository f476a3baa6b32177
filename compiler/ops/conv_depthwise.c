/* conv_depthwise.c: kernels for depthwise convolutions (groups = input channels, each input
 * channel feeding M = out / groups output channels: M is the channel multiplier), the 3x3 and
 * 5x5 layers of MobileNet and EfficientNet, where conv.c's kernels spend their vector lanes on
 * a reduction over one input channel. conv.c asks here first and falls back to its own code
 * when the layer does not qualify (dw_qualifies).
 *
 * Layout. The zero-padded input plane of one channel ([HP][WP]) is split into SH x SW phase
 * planes of [HQ][WQ] (HQ = ceil(HP / SH), WQ = ceil(WP / SW)):
 *     xq[rph][cph][R][J] = xpad[R * SH + rph][J * SW + cph].
 * Tap (kh, kw) of output (oh, ow) reads xpad[oh * SH + kh * DH][ow * SW + kw * DW], which is
 * phase plane ((kh * DH) % SH, (kw * DW) % SW) at [oh + kh * DH / SH][ow + kw * DW / SW]. So
 * with the output plane flattened at the phase planes' pitch, q = oh * WQ + ow, every tap is
 * one contiguous run: y[q] += w[kh][kw] * plane[tap offset + q], for any stride and dilation.
 * Positions with ow >= OW are computed and dropped; the vector lanes run along q, across rows,
 * so that 7x7 planes fill vectors as well as 112x112 ones do. The runs are rounded up to QV, a
 * multiple of 16 floats, and the planes carry 16 floats of zeros after them, so no load needs
 * a tail.
 * Forward: per (image, channel): the phase planes (scratch), then per output channel of the
 * channel a block of QB vectors of q at a time, accumulating every tap in registers; the
 * result goes to a flat row buffer and from there, row by row, through the fused epilogue
 * (batchnorm, activation) into y.
 * Backward: per input channel (one writer for its dx plane and its M output channels' dw and
 * db; images in order, so the sums do not depend on the thread count): dy of each output
 * channel at pitch WQ (zero in the dropped columns and past the plane), then
 *     dx phase planes [tap offset + q] += w[kh][kw] * dyq[q]   (contiguous, per tap)
 *     dw[kh][kw] += sum_q dyq[q] * xq[tap offset + q]          (one vector sum per tap)
 * and dx is read back from its phase planes. */
#include <stdbool.h>
#include <stdio.h>

#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../ops.h"

/* DW_MAX_ACC: the weight gradient keeps one vector accumulator per tap and output channel of
 * an input channel (M * KH * KW of them, 8 KiB of stack at 16 floats a vector). */
enum { DW_SLACK = 16, DW_QB = 4, DW_MAX_ACC = 128, DW_SLOTS = 8 };

typedef struct {
    int m, hq, wq, qn, qv;
    long long plane; /* floats of one channel's phase planes, slack included */
} DwGeo;

static long long round16ll(long long v) { return (v + 15) / 16 * 16; }

static DwGeo dw_geo(const Attrs *a, Shape in, Shape out) {
    DwGeo q;
    int hp = in.d[2] + a->ph + a->ph_end, wp = in.d[3] + a->pw + a->pw_end;
    q.m = out.d[1] / in.d[1];
    q.hq = (hp + a->sh - 1) / a->sh;
    q.wq = (wp + a->sw - 1) / a->sw;
    q.qn = (out.d[2] - 1) * q.wq + out.d[3];
    q.qv = (int)round16ll(q.qn);
    q.plane = round16ll((long long)a->sh * a->sw * q.hq * q.wq + DW_SLACK);
    return q;
}

/* A depthwise conv (one input channel per group) small enough for the flat buffers. */
static bool dw_qualifies(const Attrs *a, Shape in, Shape out) {
    if (in.rank != 4 || a->groups < 2 || a->groups != in.d[1] || out.d[1] % in.d[1] ||
        (long long)out.d[1] / in.d[1] * a->kh * a->kw > DW_MAX_ACC)
        return false;
    DwGeo q = dw_geo(a, in, out);
    return q.plane + q.qv < (1LL << 26) && (long long)in.d[1] * (2 * q.plane + q.qv) < (1LL << 31);
}

/* conv.c's hooks: the scratch floats when the kernels here take the layer, else -1. */
int64_t conv_dw_scratch(const Graph *g, const Op *op);
int64_t conv_dw_bwd_scratch(const Graph *g, const Op *bwd, const Op *fwd);
bool conv_dw_emit_forward(Emit *e, const Op *op);
bool conv_dw_emit_backward(Emit *e, const Op *bwd, const Op *fwd);

static bool dw_forward_takes(const Op *op, const Attrs *a, Shape in, Shape out) {
    return op->pro_norm < 0 && op->epi_pool < 0 && op->pro_conv < 0 && dw_qualifies(a, in, out);
}

int64_t conv_dw_scratch(const Graph *g, const Op *op) {
    Shape in = g->values[op->in[0]].shape, out = g->values[op->out].shape;
    if (!dw_forward_takes(op, &op->a, in, out))
        return -1;
    DwGeo q = dw_geo(&op->a, in, out);
    return (int64_t)DW_SLOTS * (q.plane + q.qv);
}

int64_t conv_dw_bwd_scratch(const Graph *g, const Op *bwd, const Op *fwd) {
    (void)bwd;
    Shape in = g->values[fwd->in[0]].shape, out = g->values[fwd->out].shape;
    if (!dw_qualifies(&fwd->a, in, out))
        return -1;
    DwGeo q = dw_geo(&fwd->a, in, out);
    return (int64_t)in.d[1] * (2 * q.plane + q.qv);
}

/* The constants of both kernels, and the vector type dwv of DWV floats (1 without vectors). */
static void dw_emit_setup(Cbuf *c, const Attrs *a, Shape in, Shape out, DwGeo q) {
    cb_line(c, "enum { DW_C = %d, DW_M = %d, DW_IH = %d, DW_IW = %d, DW_OH = %d, DW_OW = %d };", in.d[1], q.m, in.d[2],
            in.d[3], out.d[2], out.d[3]);
    cb_line(c, "enum { DW_KH = %d, DW_KW = %d, DW_SH = %d, DW_SW = %d, DW_DH = %d, DW_DW = %d, DW_PH = %d, DW_PW = %d };",
            a->kh, a->kw, a->sh, a->sw, a->dh, a->dw, a->ph, a->pw);
    cb_line(c, "enum { DW_HQ = %d, DW_WQ = %d, DW_QN = %d, DW_QV = %d, DW_PLANE = %lld }; /* see conv_depthwise.c */",
            q.hq, q.wq, q.qn, q.qv, q.plane);
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "typedef cnn_vec dwv;");
    cb_line(c, "enum { DWV = CNN_VW };");
    cb_line(c, "#else");
    cb_line(c, "typedef float dwv;");
    cb_line(c, "enum { DWV = 1 };");
    cb_line(c, "#endif");
    /* the offset of tap t = kh * KW + kw in the phase planes */
    cb_line(c, "static const int dw_off[DW_KH * DW_KW] = {");
    for (int kh = 0; kh < a->kh; kh++) {
        char line[1024];
        size_t len = 0;
        line[0] = 0;
        for (int kw = 0; kw < a->kw; kw++) {
            int r = kh * a->dh, s = kw * a->dw;
            long long off = ((long long)(r % a->sh) * a->sw + s % a->sw) * q.hq * q.wq + (long long)(r / a->sh) * q.wq +
                            s / a->sw;
            len += (size_t)snprintf(line + len, sizeof line - len, "%lld, ", off);
            if (len >= sizeof line - 32) {
                cb_line(c, "    %s", line);
                len = 0;
                line[0] = 0;
            }
        }
        if (len)
            cb_line(c, "    %s", line);
    }
    cb_line(c, "};");
}

/* Fills the phase planes xq (DW_PLANE floats) from the [IH][IW] plane xc: per phase row, the
 * columns that read the plane (j0 to j1, from the row's column j * SW + off) between zeros, with
 * no test per element; at stride 2 across, in vectors of the even lanes of two (CNN_SHUFFLE) while
 * both lie in the row. The fill had tested every element (and clang left it scalar): at 224x224
 * MobileNetV2's 96-channel stride-2 depthwise conv took 10.6% of the network's time at batch 8 on
 * one thread, 90% of it in the fill. */
static void dw_emit_fill(Cbuf *c, const Attrs *a, const char *xq, const char *xc) {
    cb_line(c, "for (int ph = 0; ph < DW_SH * DW_SW; ph++) {");
    cb_line(c, "const int off = ph %% DW_SW - DW_PW; /* phase column j reads the row's column j * DW_SW + off */");
    cb_line(c, "const int j0 = off < 0 ? (DW_SW - 1 - off) / DW_SW : 0, e = DW_IW - 1 - off;");
    cb_line(c, "const int j1 = e < 0 ? j0 : e / DW_SW + 1 < j0 ? j0 : e / DW_SW + 1 > DW_WQ ? DW_WQ : e / DW_SW + 1;");
    cb_line(c, "for (int rr = 0; rr < DW_HQ; rr++) {");
    cb_line(c, "float *const dst = %s + (size_t)((ph * DW_HQ + rr) * DW_WQ);", xq);
    cb_line(c, "const int h = rr * DW_SH + ph / DW_SW - DW_PH;");
    cb_line(c, "if (h < 0 || h >= DW_IH) {");
    cb_line(c, "for (int j = 0; j < DW_WQ; j++)");
    cb_line(c, "    dst[j] = 0.0f;");
    cb_line(c, "continue;");
    cb_line(c, "}");
    cb_line(c, "const float *const row = %s + (size_t)h * DW_IW;", xc);
    cb_line(c, "for (int j = 0; j < j0; j++)");
    cb_line(c, "    dst[j] = 0.0f;");
    cb_line(c, "int j = j0;");
    if (a->sw == 2) {
        cb_line(c, "#if CNN_SHUFFLE");
        cb_line(c, "for (; j + CNN_VW <= j1 && 2 * (j + CNN_VW) + off <= DW_IW; j += CNN_VW) { /* dst[j] = row[2 j + off] */");
        cb_line(c, "cnn_vec lo, hi;");
        cb_line(c, "memcpy(&lo, row + 2 * j + off, sizeof lo);");
        cb_line(c, "memcpy(&hi, row + 2 * j + off + CNN_VW, sizeof hi);");
        emit_even_lanes(c, "ev", "lo", "hi", false);
        cb_line(c, "memcpy(dst + j, &ev, sizeof ev);");
        cb_line(c, "}");
        cb_line(c, "#endif");
    }
    cb_line(c, "for (; j < j1; j++)");
    cb_line(c, "    dst[j] = row[j * DW_SW + off];");
    cb_line(c, "for (; j < DW_WQ; j++)");
    cb_line(c, "    dst[j] = 0.0f;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "for (int j = DW_SH * DW_SW * DW_HQ * DW_WQ; j < DW_PLANE; j++)");
    cb_line(c, "    %s[j] = 0.0f;", xq);
}

bool conv_dw_emit_forward(Emit *e, const Op *op) {
    const Attrs *a = &op->a;
    Shape in = emit_in_shape(e, op, 0), out = emit_out_shape(e, op);
    if (!dw_forward_takes(op, a, in, out))
        return false;
    DwGeo q = dw_geo(a, in, out);
    Cbuf *c = e->c;
    cb_line(c, "/* profile: forward %.0f */", 2.0 * out.d[1] * out.d[2] * out.d[3] * a->kh * a->kw);
    cb_line(c, "{ /* depthwise: lanes along the flattened output plane (conv_depthwise.c) */");
    dw_emit_setup(c, a, in, out, q);
    emit_epilogue_setup(e, op, a->out);
    cb_line(c, "enum { DW_QB = %d }; /* vectors per register block */", DW_QB);
    /* The jobs (image, channel) in DW_SLOTS contiguous ranges, each range's planes in one buffer
     * that stays in L1 or L2. (A buffer per job had walked the scratch through memory, a plane
     * of cold lines per job: MobileNetV2 (224) at batch 8 on one thread 69.1-69.4 -> 66.7-66.9
     * ms a call, batch 1 9.8 -> 9.3.) */
    cb_line(c, "enum { DW_SLOTS = %d }; /* ranges of jobs, each with its own planes */", DW_SLOTS);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int slot = 0; slot < DW_SLOTS; slot++) {");
    cb_line(c, "float *const xq = scratch + (size_t)slot * (DW_PLANE + DW_QV), *const yq = xq + DW_PLANE;");
    cb_line(c, "const int job_end = (int)((long long)n * DW_C * (slot + 1) / DW_SLOTS);");
    cb_line(c, "for (int job = (int)((long long)n * DW_C * slot / DW_SLOTS); job < job_end; job++) {");
    cb_line(c, "const int ch = job %% DW_C, i = job / DW_C;");
    cb_line(c, "const float *xc = x + (size_t)job * DW_IH * DW_IW;");
    dw_emit_fill(c, a, "xq", "xc");
    cb_line(c, "for (int mm = 0; mm < DW_M; mm++) {");
    cb_line(c, "const int oc = ch * DW_M + mm;");
    cb_line(c, "const float *wk = w + (size_t)oc * DW_KH * DW_KW;");
    cb_line(c, "const float b0 = %s;", a->bias ? "b[oc]" : "0.0f");
    cb_line(c, "int q0 = 0;");
    cb_line(c, "for (; q0 + DW_QB * DWV <= DW_QV; q0 += DW_QB * DWV) {");
    cb_line(c, "dwv acc[DW_QB];");
    cb_line(c, "for (int u = 0; u < DW_QB; u++)");
    cb_line(c, "    acc[u] = b0 + (dwv){0};");
    cb_line(c, "for (int t = 0; t < DW_KH * DW_KW; t++) {");
    cb_line(c, "const float *src = xq + dw_off[t] + q0;");
    cb_line(c, "const float wt = wk[t];");
    cb_line(c, "for (int u = 0; u < DW_QB; u++) {");
    cb_line(c, "dwv v;");
    cb_line(c, "memcpy(&v, src + u * DWV, sizeof v);");
    cb_line(c, "acc[u] += wt * v;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "memcpy(yq + q0, acc, sizeof acc);");
    cb_line(c, "}");
    cb_line(c, "for (; q0 < DW_QV; q0 += DWV) {");
    cb_line(c, "dwv acc = b0 + (dwv){0};");
    cb_line(c, "for (int t = 0; t < DW_KH * DW_KW; t++) {");
    cb_line(c, "dwv v;");
    cb_line(c, "memcpy(&v, xq + dw_off[t] + q0, sizeof v);");
    cb_line(c, "acc += wk[t] * v;");
    cb_line(c, "}");
    cb_line(c, "memcpy(yq + q0, &acc, sizeof acc);");
    cb_line(c, "}");
    cb_line(c, "float *yo = y + ((size_t)i * DW_C * DW_M + (size_t)oc) * DW_OH * DW_OW;");
    /* The epilogue over the whole flat plane (the dropped columns too) in one loop the compiler
     * vectorizes, then each row copied out: applied row by row over OW columns (14 and 7 in
     * MobileNetV2) the loop had stayed mostly scalar, a tenth of the network's time. */
    if (emit_has_epilogue(op)) {
        /* the channel's batchnorm parameters in locals: they lie in the scratch, as yq does, and
         * read in the loop they kept it scalar, a branch per comparison (three quarters of a 7x7
         * depthwise conv's time) */
        emit_epilogue_hoist(e, op, "oc");
        cb_line(c, "for (int q = 0; q < DW_QV; q++) {");
        cb_line(c, "const float v = yq[q];");
        cb_line(c, "yq[q] = %s;", emit_epilogue_hoisted(e, op, "v"));
        cb_line(c, "}");
    }
    cb_line(c, "for (int oh = 0; oh < DW_OH; oh++)");
    cb_line(c, "    memcpy(yo + oh * DW_OW, yq + oh * DW_WQ, sizeof(float) * DW_OW);");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    return true;
}

bool conv_dw_emit_backward(Emit *e, const Op *bwd, const Op *fwd) {
    const Attrs *a = &fwd->a;
    Shape in = emit_in_shape(e, fwd, 0), out = emit_out_shape(e, fwd);
    if (!dw_qualifies(a, in, out))
        return false;
    bool want_dx = bwd->out >= 0, want_dw = bwd->wrt == 0;
    DwGeo q = dw_geo(a, in, out);
    Cbuf *c = e->c;
    const char *parts = want_dx && want_dw ? "dx, dw" : want_dx ? "dx" : "dw";
    cb_line(c, "/* profile: %s %.0f */", want_dx ? "dx" : "dw", 2.0 * out.d[1] * out.d[2] * out.d[3] * a->kh * a->kw);
    cb_line(c, "{ /* depthwise %s: per input channel, lanes along the flattened plane (conv_depthwise.c) */", parts);
    dw_emit_setup(c, a, in, out, q);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int ch = 0; ch < DW_C; ch++) {");
    cb_line(c, "float *xq = scratch + (size_t)ch * (2 * DW_PLANE + DW_QV), *dxq = xq + DW_PLANE, *dyq = dxq + DW_PLANE;");
    if (want_dw) {
        cb_line(c, "dwv acc[DW_M][DW_KH * DW_KW];");
        if (a->bias)
            cb_line(c, "float dbs[DW_M];");
        cb_line(c, "for (int mm = 0; mm < DW_M; mm++) {");
        if (a->bias)
            cb_line(c, "dbs[mm] = 0.0f;");
        cb_line(c, "for (int t = 0; t < DW_KH * DW_KW; t++)");
        cb_line(c, "    acc[mm][t] = (dwv){0};");
        cb_line(c, "}");
    }
    cb_line(c, "for (int j = DW_QN; j < DW_QV; j++)");
    cb_line(c, "    dyq[j] = 0.0f;");
    cb_line(c, "for (int i = 0; i < n; i++) {");
    if (want_dw)
        dw_emit_fill(c, a, "xq", "(x + ((size_t)i * DW_C + (size_t)ch) * DW_IH * DW_IW)");
    if (want_dx) {
        cb_line(c, "for (int j = 0; j < DW_PLANE; j++)");
        cb_line(c, "    dxq[j] = 0.0f;");
    }
    cb_line(c, "for (int mm = 0; mm < DW_M; mm++) {");
    cb_line(c, "const int oc = ch * DW_M + mm;");
    cb_line(c, "const float *dyc = dy + ((size_t)i * DW_C * DW_M + (size_t)oc) * DW_OH * DW_OW;");
    cb_line(c, "for (int oh = 0; oh < DW_OH; oh++) { /* dy at pitch DW_WQ, zero in the dropped columns */");
    cb_line(c, "memcpy(dyq + oh * DW_WQ, dyc + oh * DW_OW, sizeof(float) * DW_OW);");
    cb_line(c, "if (oh + 1 < DW_OH)");
    cb_line(c, "    for (int j = DW_OW; j < DW_WQ; j++)");
    cb_line(c, "        dyq[oh * DW_WQ + j] = 0.0f;");
    cb_line(c, "}");
    if (want_dw && a->bias) {
        cb_line(c, "float s = 0.0f;");
        cb_line(c, "for (int j = 0; j < DW_OH * DW_OW; j++)");
        cb_line(c, "    s += dyc[j];");
        cb_line(c, "dbs[mm] += s;");
    }
    cb_line(c, "for (int t = 0; t < DW_KH * DW_KW; t++) {");
    if (want_dx) {
        cb_line(c, "float *dst = dxq + dw_off[t];");
        cb_line(c, "const float wt = w[(size_t)oc * DW_KH * DW_KW + (size_t)t];");
    }
    if (want_dw) {
        cb_line(c, "const float *src = xq + dw_off[t];");
        cb_line(c, "dwv sum = acc[mm][t];");
    }
    cb_line(c, "for (int q0 = 0; q0 < DW_QV; q0 += DWV) {");
    cb_line(c, "dwv g;");
    cb_line(c, "memcpy(&g, dyq + q0, sizeof g);");
    if (want_dx) {
        cb_line(c, "dwv d;");
        cb_line(c, "memcpy(&d, dst + q0, sizeof d);");
        cb_line(c, "d += wt * g;");
        cb_line(c, "memcpy(dst + q0, &d, sizeof d);");
    }
    if (want_dw) {
        cb_line(c, "dwv v;");
        cb_line(c, "memcpy(&v, src + q0, sizeof v);");
        cb_line(c, "sum += g * v;");
    }
    cb_line(c, "}");
    if (want_dw)
        cb_line(c, "acc[mm][t] = sum;");
    cb_line(c, "}");
    cb_line(c, "}");
    if (want_dx) {
        /* dx read back from its phase planes row by row: at stride 1 across a copy, at stride 2
         * the two phase rows' vectors interleaved (CNN_SHUFFLE), else element by element */
        cb_line(c, "float *dxc = dx + ((size_t)i * DW_C + (size_t)ch) * DW_IH * DW_IW;");
        cb_line(c, "for (int h = 0; h < DW_IH; h++) {");
        cb_line(c, "const int r = h + DW_PH;");
        cb_line(c, "float *const dr = dxc + (size_t)h * DW_IW;");
        if (a->sw == 1) {
            cb_line(c, "memcpy(dr, dxq + ((ptrdiff_t)(r %% DW_SH) * DW_HQ + r / DW_SH) * DW_WQ + DW_PW, sizeof(float) * DW_IW);");
        } else {
            cb_line(c, "int col = 0;");
            if (a->sw == 2) {
                cb_line(c, "#if CNN_SHUFFLE");
                cb_line(c, "const float *const p0 = dxq + ((ptrdiff_t)(r %% DW_SH) * DW_SW * DW_HQ + r / DW_SH) * DW_WQ; /* even s = col + DW_PW */");
                cb_line(c, "const float *const p1 = p0 + (size_t)DW_HQ * DW_WQ; /* odd s */");
                cb_line(c, "for (; (col + DW_PW) %% 2 && col < DW_IW; col++)");
                cb_line(c, "    dr[col] = p1[(col + DW_PW) / 2];");
                cb_line(c, "for (; col + 2 * CNN_VW <= DW_IW; col += 2 * CNN_VW) { /* s = col + DW_PW even */");
                cb_line(c, "cnn_vec ev, od;");
                cb_line(c, "memcpy(&ev, p0 + (col + DW_PW) / 2, sizeof ev);");
                cb_line(c, "memcpy(&od, p1 + (col + DW_PW) / 2, sizeof od);");
                cb_line(c, "#if CNN_VW == 16");
                cb_line(c, "const cnn_vec lo = __builtin_shufflevector(ev, od, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);");
                cb_line(c, "const cnn_vec hi = __builtin_shufflevector(ev, od, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);");
                cb_line(c, "#else");
                cb_line(c, "const cnn_vec lo = __builtin_shufflevector(ev, od, 0, 8, 1, 9, 2, 10, 3, 11);");
                cb_line(c, "const cnn_vec hi = __builtin_shufflevector(ev, od, 4, 12, 5, 13, 6, 14, 7, 15);");
                cb_line(c, "#endif");
                cb_line(c, "memcpy(dr + col, &lo, sizeof lo);");
                cb_line(c, "memcpy(dr + col + CNN_VW, &hi, sizeof hi);");
                cb_line(c, "}");
                cb_line(c, "#endif");
            }
            cb_line(c, "for (; col < DW_IW; col++) {");
            cb_line(c, "const int s = col + DW_PW;");
            cb_line(c, "dr[col] = dxq[(((r %% DW_SH) * DW_SW + s %% DW_SW) * DW_HQ + r / DW_SH) * DW_WQ + s / DW_SW];");
            cb_line(c, "}");
        }
        cb_line(c, "}");
    }
    cb_line(c, "}");
    if (want_dw) {
        cb_line(c, "for (int mm = 0; mm < DW_M; mm++) {");
        cb_line(c, "for (int t = 0; t < DW_KH * DW_KW; t++) {");
        cb_line(c, "float lanes[DWV];");
        cb_line(c, "memcpy(lanes, &acc[mm][t], sizeof lanes);");
        cb_line(c, "float s = 0.0f;");
        cb_line(c, "for (int l = 0; l < DWV; l++)");
        cb_line(c, "    s += lanes[l];");
        cb_line(c, "dw[(size_t)(ch * DW_M + mm) * DW_KH * DW_KW + (size_t)t] += s;");
        cb_line(c, "}");
        if (a->bias)
            cb_line(c, "db[ch * DW_M + mm] += dbs[mm];");
        cb_line(c, "}");
    }
    cb_line(c, "}");
    cb_line(c, "}");
    return true;
}
