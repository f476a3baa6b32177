/* conv_bwd.c: the weight gradient of stride-1, undilated, ungrouped convolutions with small to
 * medium channel counts (simplecnn's 32->64 3x3 at 14x14, LeNet's 6->16 5x5), asked by conv.c
 * before its other dw kernels.
 *
 *   dw[oc][ic][kh][kw] = sum over images i and output pixels (oh, ow) of
 *                        dy[i][oc][oh][ow] * x[i][ic][oh + kh - PH][ow + kw - PW]
 *
 * Every plane is laid out flat with the output's row pitch OW, so that no lane is spent on
 * padding columns: dyp[i][oc][q] is dy's plane itself (q = oh * OW + ow, zero from OH * OW up to
 * L), and the input is copied once per kernel column kw, shifted: xs[i][ic][kw][r * OW + ow] =
 * the zero-padded input at row r, column ow + kw. Then every tap is a dot product of contiguous
 * vectors, with no gather and no tail:
 *     dw[oc][ic][kh][kw] = sum over i, q of dyp[i][oc][q] * xs[i][ic][kw][q + kh * OW].
 * The images are taken in chunks of NI, so that a chunk's packed planes stay in the L2 cache
 * and one block of output channels of it in L1. For each chunk, the planes are packed once
 * (one parallel loop), then the jobs (input channel, block of OCB output channels, block of
 * R kernel rows) each hold a tile of OCB x (R * KW) vector accumulators over the chunk's
 * images and positions: per vector step, OCB dy loads and R * KW x loads feed OCB * R * KW
 * fused multiply-adds, on vectors of 8 floats (one ymm register, what compilers use also on
 * AVX-512 machines that prefer 256-bit vectors, with 32 of them). The tile is added into
 * vector partial sums (8 lanes per dw entry, in the scratch) once per chunk, and the lanes are
 * summed into dw at the end. Every partial sum has one writer per chunk and the chunks run in
 * order, so the result does not depend on the number of threads. The scratch holds one
 * chunk's planes and the partial sums. */
#include <stdbool.h>

#include "../cbuf.h"
#include "../emit_c.h"
#include "../ops.h"

int64_t conv_bwd_dw_scratch(const Attrs *a, Shape in, Shape out);
bool conv_bwd_emit_dw(Emit *e, const Op *fwd);

/* LANES: the vector width L and XS are rounded to. L1_BYTES: the share of the L1 data cache
 * one chunk's block of output channels may fill. */
enum { LANES = 8, L1_BYTES = 24576, MAX_NI = 16 };

typedef struct {
    int ihp, l, xs, ni; /* padded input rows, dy plane, one shifted input copy, images per chunk */
    int ocb[3], r[3]; /* the tile with AVX-512 (32 vector registers), AVX (16), else (16 halves) */
} DwGeo;

/* The tile for an accumulator budget: OCB a divisor of OC (at most 16), R a divisor of KH,
 * OCB * R * KW accumulators within budget and the loaded vectors beside them within room;
 * the largest FMAs-per-load ratio, then the most accumulators. */
static void dw_tile(int oc, int kh, int kw, int budget, int room, int *ocb_out, int *r_out) {
    int best_o = 1, best_r = 1;
    double best = -1;
    for (int o = 1; o <= oc && o <= 16; o++) {
        if (oc % o)
            continue;
        for (int r = 1; r <= kh; r++) {
            int t = r * kw, acc = o * t;
            if (kh % r || acc > budget || acc + o + 1 > room) /* acc, the OCB dy vectors, one x vector */
                continue;
            double ratio = (double)acc / (o + t) + acc * 1e-4;
            if (ratio > best)
                best = ratio, best_o = o, best_r = r;
        }
    }
    *ocb_out = best_o, *r_out = best_r;
}

static bool dw_geo(const Attrs *a, Shape in, Shape out, DwGeo *q) {
    int ic = in.d[1], oc = out.d[1], oh = out.d[2], ow = out.d[3];
    if (a->sh != 1 || a->sw != 1 || a->dh != 1 || a->dw != 1 || a->groups != 1 || a->kw > 12 || a->kh > 12 ||
        (long long)ic * oc > 8192 || ow < 1 || ic < 2) /* one input channel: conv_small.c's dw measured faster */
        return false;
    q->ihp = in.d[2] + a->ph + a->ph_end;
    if ((long long)q->ihp * ow * a->kw > 16384)
        return false;
    q->l = (oh * ow + LANES - 1) / LANES * LANES;
    if (q->l < 8 * LANES) /* small planes: the other kernels */
        return false;
    int xs = q->l + (a->kh - 1) * ow;
    if (xs < q->ihp * ow)
        xs = q->ihp * ow;
    q->xs = (xs + LANES - 1) / LANES * LANES;
    if (a->kw > 8 && oc == 1)
        return false;
    dw_tile(oc, a->kh, a->kw, 24, 31, &q->ocb[0], &q->r[0]);
    dw_tile(oc, a->kh, a->kw, 12, 15, &q->ocb[1], &q->r[1]);
    dw_tile(oc, a->kh, a->kw, 6, 7, &q->ocb[2], &q->r[2]);
    if (q->ocb[0] * q->r[0] * a->kw < 4) /* too small a tile to pay */
        return false;
    int ocb = q->ocb[0];
    q->ni = L1_BYTES / (4 * (ocb * q->l + a->kw * q->xs));
    q->ni = q->ni < 1 ? 1 : q->ni > MAX_NI ? MAX_NI : q->ni;
    if (q->ni > in.d[0])
        q->ni = in.d[0];
    return true;
}

/* Floats of scratch the kernel needs, or -1 when the layer does not qualify. */
int64_t conv_bwd_dw_scratch(const Attrs *a, Shape in, Shape out) {
    DwGeo q;
    if (!dw_geo(a, in, out, &q))
        return -1;
    return (int64_t)q.ni * ((int64_t)in.d[1] * a->kw * q.xs + (int64_t)out.d[1] * q.l) +
           (int64_t)8 * out.d[1] * in.d[1] * a->kh * a->kw;
}

static void dw_emit_tile(Cbuf *c) {
    cb_line(c, "const int tb = job %% NTB, ob = job / NTB %% NOB, ic = job / NTB / NOB;");
    cb_line(c, "const int oc0 = ob * OCB, kh0 = tb * R;");
    cb_line(c, "cnn_v8 acc[OCB][R * KW];");
    cb_line(c, "for (int o = 0; o < OCB; o++)");
    cb_line(c, "    for (int t = 0; t < R * KW; t++)");
    cb_line(c, "        acc[o][t] = (cnn_v8){0};");
    cb_line(c, "for (int i = 0; i < ni; i++) {");
    cb_line(c, "const float *xq = xpk + ((ptrdiff_t)i * IC + ic) * KW * XS + kh0 * OW;");
    cb_line(c, "const float *dq = dyk + ((ptrdiff_t)i * OC + oc0) * L;");
    cb_line(c, "for (int q = 0; q < L; q += 8) {");
    cb_line(c, "cnn_v8 yv[OCB];");
    cb_line(c, "for (int o = 0; o < OCB; o++)");
    cb_line(c, "    memcpy(&yv[o], dq + (ptrdiff_t)o * L + q, sizeof yv[o]);");
    cb_line(c, "for (int t = 0; t < R * KW; t++) {");
    cb_line(c, "cnn_v8 xv;");
    cb_line(c, "memcpy(&xv, xq + (ptrdiff_t)(t %% KW) * XS + t / KW * OW + q, sizeof xv);");
    cb_line(c, "for (int o = 0; o < OCB; o++)");
    cb_line(c, "    acc[o][t] += yv[o] * xv;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "for (int o = 0; o < OCB; o++)");
    cb_line(c, "    for (int t = 0; t < R * KW; t++) {");
    cb_line(c, "        float *pp = pdw + ((((ptrdiff_t)(oc0 + o) * IC + ic) * KH + kh0) * KW + t) * 8;");
    cb_line(c, "        cnn_v8 v;");
    cb_line(c, "        memcpy(&v, pp, sizeof v);");
    cb_line(c, "        v += acc[o][t];");
    cb_line(c, "        memcpy(pp, &v, sizeof v);");
    cb_line(c, "    }");
}

bool conv_bwd_emit_dw(Emit *e, const Op *fwd) {
    const Attrs *a = &fwd->a;
    Shape in = emit_in_shape(e, fwd, 0), out = emit_out_shape(e, fwd);
    DwGeo q;
    if (!dw_geo(a, in, out, &q))
        return false;
    Cbuf *c = e->c;
    cb_line(c, "{ /* dw: chunks of NI images, planes of pitch OW, OCB channels x R * KW taps per tile (conv_bwd.c) */");
    cb_line(c, "enum { IHP = %d, L = %d, XS = %d, NI = %d };", q.ihp, q.l, q.xs, q.ni);
    cb_line(c, "#if defined(__AVX512F__)");
    cb_line(c, "enum { OCB = %d, R = %d };", q.ocb[0], q.r[0]);
    cb_line(c, "#elif defined(__AVX__)");
    cb_line(c, "enum { OCB = %d, R = %d };", q.ocb[1], q.r[1]);
    cb_line(c, "#else");
    cb_line(c, "enum { OCB = %d, R = %d };", q.ocb[2], q.r[2]);
    cb_line(c, "#endif");
    cb_line(c, "enum { NOB = OC / OCB, NTB = KH / R };");
    cb_line(c, "float *xpk = scratch, *dyk = scratch + (ptrdiff_t)NI * IC * KW * XS;");
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "float *pdw = dyk + (ptrdiff_t)NI * OC * L; /* [OC][IC][KH][KW][8]: the lanes' partial sums */");
    cb_line(c, "memset(pdw, 0, sizeof(float) * 8 * OC * IC * KH * KW);");
    cb_line(c, "#endif");
    cb_line(c, "for (int i0 = 0; i0 < n; i0 += NI) {");
    cb_line(c, "const int ni = n - i0 < NI ? n - i0 : NI;");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < ni * (IC + OC); job++) { /* pack the chunk's planes */");
    cb_line(c, "const int i = job / (IC + OC), ch = job %% (IC + OC);");
    cb_line(c, "if (ch < IC) {");
    cb_line(c, "const float *xi = x + ((ptrdiff_t)(i0 + i) * IC + ch) * IH * IW;");
    cb_line(c, "for (int kw = 0; kw < KW; kw++) { /* xs[kw][r][ow]: the padded input at (r, ow + kw) */");
    cb_line(c, "float *xp = xpk + (((ptrdiff_t)i * IC + ch) * KW + kw) * XS;");
    cb_line(c, "const int lo = PW - kw > 0 ? PW - kw : 0, hi = IW + PW - kw < OW ? IW + PW - kw : OW; /* the columns inside */");
    cb_line(c, "for (int r = 0; r < IHP; r++) {");
    cb_line(c, "float *row = xp + r * OW;");
    cb_line(c, "const int h = r - PH;");
    cb_line(c, "if (h < 0 || h >= IH) {");
    cb_line(c, "memset(row, 0, sizeof(float) * OW);");
    cb_line(c, "continue;");
    cb_line(c, "}");
    cb_line(c, "for (int ow = 0; ow < lo; ow++)");
    cb_line(c, "    row[ow] = 0.0f;");
    cb_line(c, "memcpy(row + lo, xi + h * IW + lo + kw - PW, sizeof(float) * (size_t)(hi - lo));");
    cb_line(c, "for (int ow = hi; ow < OW; ow++)");
    cb_line(c, "    row[ow] = 0.0f;");
    cb_line(c, "}");
    cb_line(c, "for (int k = IHP * OW; k < XS; k++)");
    cb_line(c, "    xp[k] = 0.0f;");
    cb_line(c, "}");
    cb_line(c, "} else {");
    cb_line(c, "float *dp = dyk + ((ptrdiff_t)i * OC + ch - IC) * L;");
    cb_line(c, "const float *yi = dy + ((ptrdiff_t)(i0 + i) * OC + ch - IC) * OH * OW;");
    cb_line(c, "memcpy(dp, yi, sizeof(float) * OH * OW);");
    cb_line(c, "for (int k = OH * OW; k < L; k++)");
    cb_line(c, "    dp[k] = 0.0f;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "typedef float cnn_v8 __attribute__((vector_size(32))); /* 8 floats: one ymm register, also with AVX-512 */");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < IC * NOB * NTB; job++) {");
    dw_emit_tile(c);
    cb_line(c, "}");
    cb_line(c, "#else");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < OC * IC; job++) {");
    cb_line(c, "const int oc = job / IC, ic = job %% IC;");
    cb_line(c, "for (int k = 0; k < KH * KW; k++) {");
    cb_line(c, "float s = 0.0f;");
    cb_line(c, "for (int i = 0; i < ni; i++) {");
    cb_line(c, "const float *xq = xpk + (((ptrdiff_t)i * IC + ic) * KW + k %% KW) * XS + k / KW * OW;");
    cb_line(c, "const float *dq = dyk + ((ptrdiff_t)i * OC + oc) * L;");
    cb_line(c, "for (int q = 0; q < L; q++)");
    cb_line(c, "    s += dq[q] * xq[q];");
    cb_line(c, "}");
    cb_line(c, "dw[((ptrdiff_t)oc * IC + ic) * KH * KW + k] += s;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#endif");
    cb_line(c, "}");
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int k = 0; k < OC * IC * KH * KW; k++) { /* the lanes, summed once */");
    cb_line(c, "float s = 0.0f;");
    cb_line(c, "for (int j = 0; j < 8; j++)");
    cb_line(c, "    s += pdw[(ptrdiff_t)k * 8 + j];");
    cb_line(c, "dw[k] += s;");
    cb_line(c, "}");
    cb_line(c, "#endif");
    cb_line(c, "}");
    return true;
}
