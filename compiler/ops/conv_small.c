/* conv_small.c: kernels for convolutions with few channels (LeNet's 1->6 and 6->16, the stems
 * of small CNNs), where the general kernels of conv.c leave most vector lanes idle. conv.c
 * asks here first (conv_small_emit_dw) and falls back to its own code when the layer does not
 * qualify.
 *
 * Weight gradient, dw[oc][ic][kh][kw] = sum over images and output pixels of
 * dy[i][oc][oh][ow] * x[i][ic][oh + kh - PH][ow + kw - PW] (stride 1, no dilation, one group).
 * The vector lanes run along the output pixels of a whole plane, flattened with the padded
 * input's row pitch IWP: with xp the zero-padded input plane ([IHP][IWP], row pitch IWP) and
 * dyp the output gradient laid out with the same pitch (zero in the columns ow >= OW and past
 * the last row), every tap is one dot product of dyp with xp shifted by kh * IWP + kw:
 *     dw[oc][ic][kh][kw] = sum_q dyp[oc][q] * xp[q + kh * IWP + kw],
 * contiguous loads, no gather, no per-row tails. A register tile holds OCB output channels x
 * KW taps of one kernel row (one dy vector per channel and one x vector per tap are loaded for
 * OCB * KW fused multiply-adds); the tile's partial sums stay vectors, added across images,
 * and are summed across lanes once per (input channel, block of output channels).
 * Threads take blocks of output channels, so every dw entry has one writer and one summation
 * order: the result does not depend on the thread count. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../ops.h"

bool conv_small_emit_dw(Emit *e, const Op *fwd);
int64_t conv_small_dw_scratch(const Attrs *a, Shape in, Shape out);

/* LANES: the widest vector (AVX-512); TILE_FLOATS: the padded planes of one block of output
 * channels at most (24 KB; each block's are in the op's scratch). ACC_VECTORS: the
 * accumulators of a register tile, in cnn_vec: 12 leave room for the loads in 16 registers
 * (AVX2, SSE: cnn_vec is one register), 24 in the 32 of AVX-512 (ACC_VECTORS_512: the weight
 * gradient's tile with AVX-512 is chosen by the generated code's #if). */
enum { LANES = 16, TILE_FLOATS = 6144, ACC_VECTORS = 12, ACC_VECTORS_512 = 24 };

/* The weight gradient's geometry: the padded input plane (pitch IWP, XPL floats), the output
 * gradient at the same pitch (L floats per channel), OCB output channels per block. */
typedef struct SmallDw {
    int iwp, len, xpl, ocb;
    int ocb512;        /* OCB with AVX-512 (32 vector registers) */
    int64_t scratch;   /* floats: each of the OC / OCB blocks has its xp and dyp planes */
} SmallDw;

static bool small_dw_geo(const Attrs *a, Shape in, Shape out, SmallDw *d) {
    int ic = in.d[1], oc = out.d[1], oh = out.d[2], ow = out.d[3];
    if (a->sh != 1 || a->sw != 1 || a->dh != 1 || a->dw != 1 || a->groups != 1 || a->kw > 8 || a->kh > 8 ||
        (long long)ic * oc > 2048)
        return false;
    int iwp = in.d[3] + a->pw + a->pw_end, ihp = in.d[2] + a->ph + a->ph_end;
    int len = (oh * iwp + LANES - 1) / LANES * LANES;
    int xpl = len + (a->kh - 1) * iwp + a->kw - 1;
    if (xpl < ihp * iwp)
        xpl = ihp * iwp;
    xpl = (xpl + LANES - 1) / LANES * LANES;
    /* OCB: the largest divisor of OC with at most ACC_VECTORS accumulators (OCB * KW) whose
     * block's planes fit TILE_FLOATS, and two blocks at least when OC allows (two threads).
     * (The tile of AVX-512 once took the most accumulators whatever the planes, and a plane of
     * 28 x 30 with 8 channels did not fit: simplecnn's 1->32 conv fell back to conv.c's
     * products, 12% of peak.) */
    int ocb = 0, ocb512 = 0;
    for (int k = 1; k <= oc && k <= 8; k++)
        if (oc % k == 0 && (oc / k >= 2 || oc == 1) &&
            xpl + (long long)k * len + (long long)a->kh * k * a->kw * LANES <= TILE_FLOATS) {
            if (k * a->kw <= ACC_VECTORS)
                ocb = k;
            if (k * a->kw <= ACC_VECTORS_512)
                ocb512 = k;
        }
    if (!ocb || ow < 1)
        return false;
    /* the scratch for the smaller block (more blocks: one padded input plane each) */
    *d = (SmallDw){.iwp = iwp, .len = len, .xpl = xpl, .ocb = ocb, .ocb512 = ocb512,
                   .scratch = (int64_t)(oc / ocb) * (xpl + (int64_t)ocb * len)};
    return true;
}

/* The weight gradient's accumulators of one input channel: acc[KH][OCB][KW] (vectors of
 * partial sums), zeroed. */
static void small_emit_dw_acc(Cbuf *c) {
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "cnn_vec acc[KH][OCB][KW];");
    cb_line(c, "#else");
    cb_line(c, "float acc[KH][OCB][KW];");
    cb_line(c, "#endif");
    cb_line(c, "memset(acc, 0, sizeof acc);");
}

/* The weight gradient's register tile of OCB channels x KW taps over positions [qa, qb) (C
 * expressions) of kernel row kh, into acc[kh]: dyrow the address of channel o's dy at q, xtap
 * that of tap kw's input at q (both C expressions of o, kw and q). */
static void small_emit_dw_tile(Cbuf *c, const char *qa, const char *qb, const char *dyrow, const char *xtap) {
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "cnn_vec t[OCB][KW];");
    cb_line(c, "memcpy(t, acc[kh], sizeof t);");
    cb_line(c, "for (int q = %s; q < %s; q += CNN_VW) {", qa, qb);
    cb_line(c, "cnn_vec yv[OCB];");
    cb_line(c, "for (int o = 0; o < OCB; o++)");
    cb_line(c, "    memcpy(&yv[o], %s, sizeof yv[o]);", dyrow);
    cb_line(c, "for (int kw = 0; kw < KW; kw++) {");
    cb_line(c, "cnn_vec xv;");
    cb_line(c, "memcpy(&xv, %s, sizeof xv);", xtap);
    cb_line(c, "for (int o = 0; o < OCB; o++)");
    cb_line(c, "    t[o][kw] += yv[o] * xv;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "memcpy(acc[kh], t, sizeof t);");
    cb_line(c, "#else");
    cb_line(c, "for (int q = %s; q < %s; q++)", qa, qb);
    cb_line(c, "    for (int kw = 0; kw < KW; kw++)");
    cb_line(c, "        for (int o = 0; o < OCB; o++)");
    cb_line(c, "            acc[kh][o][kw] += *(%s) * *(%s);", dyrow, xtap);
    cb_line(c, "#endif");
}

/* acc[KH][OCB][KW] summed across its lanes into dw (channels oc0 + o, input channel ic);
 * ragged: the last block may reach past OC (those channels are not written). */
static void small_emit_dw_sums(Cbuf *c, const char *comment, bool ragged) {
    cb_line(c, "for (int kh = 0; kh < KH; kh++)%s%s%s", comment ? " /* " : "", comment ? comment : "", comment ? " */" : "");
    cb_line(c, "    for (int o = 0; o < OCB%s; o++)", ragged ? " && oc0 + o < OC" : "");
    cb_line(c, "        for (int kw = 0; kw < KW; kw++) {");
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "            float s = 0.0f;");
    cb_line(c, "            for (int j = 0; j < CNN_VW; j++)");
    cb_line(c, "                s += acc[kh][o][kw][j];");
    cb_line(c, "#else");
    cb_line(c, "            const float s = acc[kh][o][kw];");
    cb_line(c, "#endif");
    cb_line(c, "            dw[(((ptrdiff_t)(oc0 + o) * IC + ic) * KH + kh) * KW + kw] += s;");
    cb_line(c, "        }");
}

/* The weight gradient of a strided conv with few input channels (the 7x7 stride-2 stems of
 * ResNet and GoogLeNet, the 3x3 stride-2 stems of MobileNet and EfficientNet), by the same
 * flattening on the input's S x S phases: with xpad the zero-padded input and the phase
 * planes P[a][b][r][c] = xpad[S r + a][S c + b] (row pitch WPH, at least OW + (KW - 1) / S),
 * output pixel (oh, ow) at q = oh * WPH + ow and dy laid out at that pitch (zero in the
 * columns ow >= OW),
 *     dw[oc][ic][kh][kw] = sum_q dyq[oc][q] * P[kh % S][kw % S][q + (kh / S) * WPH + kw / S],
 * contiguous loads again. The phases of every image are built once (one parallel loop) into
 * the scratch; a job is a block of OCB output channels over every image and input channel,
 * its dy rows copied to the pitch per image, the positions taken in chunks of QC (the chunk's
 * dy and phase rows stay in L1 while the KH kernel rows pass over them). When the output rows
 * are whole vectors (OW a multiple of 16: ResNet's and MobileNet's 112 columns), WPH is rounded
 * up to a multiple of 16 and the loop runs row by row, position (oh, ow) reading dy in place at
 * oh * OW + ow and the phases at oh * WPH + ow: no copy of dy (the copy, a read of all of dy from
 * memory, had been 12% of ResNet-18's stem weight gradient; batch 8, one thread, 20 calls,
 * median, alternated 3 times: 13.70-13.92 -> 11.62-11.66 ms), no junk columns, chunks of
 * QC / OW rows; the ragged block's channels past OC read the last channel again (their sums are
 * not written). At stride 2 a phase row is copied in vectors of the even lanes of two; the
 * columns the last whole pair would overrun the input row for are one more vector ending at
 * the row's last pixel, overlapping the one before, its second half read a float earlier
 * (emit_even_lanes with hi_early; they had been copied a float at a time: 16 of the 112 columns of half
 * of ResNet-18's stem rows, 8% of its weight gradient's samples in the training step; alone,
 * batch 8, one thread, 30 calls, median, alternated 3 times: 12.43-13.06 -> 12.18-12.66 ms,
 * the same sums). Each image's sums
 * (vectors of lanes) are summed across the lanes and added to dw in image order. The im2col product of
 * conv.c that took these convs ran at 42% of peak on ResNet-18's stem (bench/profile.sh
 * --train resnet18 8 1). */
typedef struct SmallDwS {
    int s, wph, len, xpl, ocb, ocb512;
    bool direct; /* dy read in place, row by row (OW a multiple of LANES) */
    int qr;      /* direct: output rows per chunk */
    int64_t scratch;
} SmallDwS;

enum { DWS_QC = 1024, DWS_MAX_IC = 4, DWS_MAX_FLOATS = 1 << 26 };

static bool small_dws_geo(const Attrs *a, Shape in, Shape out, SmallDwS *d) {
    int n = in.d[0], ic = in.d[1], oc = out.d[1], oh = out.d[2], ow = out.d[3], s = a->sh;
    if (s < 2 || s > 4 || a->sw != s || a->dh != 1 || a->dw != 1 || a->groups != 1 || a->kh > 8 || a->kw > 8 ||
        ic > DWS_MAX_IC || ow < LANES || oc < 2)
        return false;
    int iwp = in.d[3] + a->pw + a->pw_end;
    int wph = (iwp + s - 1) / s;
    if (wph < ow + (a->kw - 1) / s)
        wph = ow + (a->kw - 1) / s;
    /* direct: rows of whole vectors; the phase rows' pitch then a multiple of LANES too, so that
     * every row starts aligned (the shuffles' offsets stay constants of the kernel row) */
    bool direct = ow % LANES == 0;
    if (direct)
        wph = (wph + LANES - 1) / LANES * LANES;
    int len = (oh * wph + LANES - 1) / LANES * LANES;
    int xpl = len + (a->kh - 1) / s * wph + (a->kw - 1) / s;
    if (xpl < (oh + (a->kh - 1) / s) * wph)
        xpl = (oh + (a->kh - 1) / s) * wph;
    xpl = (xpl + LANES - 1) / LANES * LANES;
    /* OCB: the most output channels (at most 8, two blocks at least: two threads) with at most
     * ACC_VECTORS accumulators (OCB * KW), ACC_VECTORS_512 with AVX-512, the last block
     * ragged when OCB does not divide OC, as long as its channels past OC (a dy of zeros:
     * wasted work) are an eighth of OC at most. Each tap's input vector feeds OCB fused
     * multiply-adds and each dy vector KW: ResNet-18's stem (64 channels, 7 taps a row) took 2
     * channels a block as the largest divisor, and its tile, 9 loads (7 unaligned) for 14 FMAs,
     * ran at 62% of peak; 3 (22 blocks, the last of 1 channel): 21 FMAs for 10 loads, 16.2-16.8
     * -> 13.5-14.4 ms at batch 8 on one thread of a Zen 5. */
    int ocb = 0, ocb512 = 0;
    for (int k = 1; k <= 8; k++) {
        int nob = (oc + k - 1) / k;
        if (nob < 2 || (long long)(nob * k - oc) * 8 > oc)
            continue;
        if (k * a->kw <= ACC_VECTORS)
            ocb = k;
        if (k * a->kw <= ACC_VECTORS_512)
            ocb512 = k;
    }
    if (!ocb) /* ocb512 >= ocb */
        return false;
    /* dy's rows: whole blocks of either target's, ragged or not */
    int64_t rows = (int64_t)(oc + ocb - 1) / ocb * ocb, rows512 = (int64_t)(oc + ocb512 - 1) / ocb512 * ocb512;
    /* direct: no dy rows, 2 vectors past the planes for the aligned loads' reach */
    int64_t scratch = (int64_t)n * ic * s * s * xpl + (direct ? 2 * LANES : (rows > rows512 ? rows : rows512) * len);
    if (scratch > DWS_MAX_FLOATS)
        return false;
    *d = (SmallDwS){.s = s, .wph = wph, .len = len, .xpl = xpl, .ocb = ocb, .ocb512 = ocb512, .direct = direct,
                    .qr = DWS_QC / ow > 1 ? DWS_QC / ow : 1, .scratch = scratch};
    return true;
}

/* The kernel rows of small_emit_dws's tile with aligned loads (AVX-512, gcc 12+ and clang:
 * with AVX2 the shuffles across 8-float vectors take several instructions each). Tap kw of
 * kernel row kh reads phase (kh % S, kw % S) at q + (kh / S) * WPH + kw / S: with WPH not a
 * multiple of the vector, 5 of the stem's 7 taps a row are loads across two cache lines. Here
 * each step loads the few aligned vectors of each phase its taps cover, and cuts each tap's
 * vector out of two neighbours by a shuffle whose offset, a constant of the kernel row, the
 * generator knows: the kernel rows are written out one by one. The taps' products and their
 * order are those of small_emit_dw_tile, so the sums are the same to the bit. The aligned
 * vectors reach up to a vector past the last float a tap reads: the phase planes are followed
 * by the next plane or by dy's rows, in the scratch. Measured on ResNet-18's (and GoogLeNet's)
 * stem at batch 8, one thread, the op alone in a harness (Zen 5): gcc 30-31 -> 17-18 ms, clang
 * 15.2-15.4 -> 14.6-15.7 (clang's code for the unaligned loads was good already; sliding a
 * window of the vectors along q instead of loading them again measured 2-4% slower with
 * clang, whose register moves for the window spilled); MobileNet-v2's 3x3 stem unchanged. */
static void small_emit_dws_rows(Cbuf *c, const Attrs *a, const SmallDwS *d) {
    const int s = d->s, vw = 16;
    for (int kh = 0; kh < a->kh; kh++) {
        const int base = kh / s * d->wph, lo = base / vw * vw;
        cb_line(c, "{ /* kernel row %d: phase row %d, from float %d (aligned from %d) */", kh, kh % s, base, lo);
        int nw[8] = {0}; /* aligned vectors per phase */
        for (int pb = 0; pb < s && pb < a->kw; pb++) {
            const int last = base + (a->kw - 1 - pb) / s - lo; /* the phase's last tap, from lo */
            nw[pb] = last / vw + (last % vw ? 2 : 1);
            cb_line(c, "const float *const xp%d = xi + (ptrdiff_t)%d * XPL + %d;", pb, kh % s * s + pb, lo);
        }
        cb_line(c, "cnn_vec t[OCB][KW];");
        cb_line(c, "memcpy(t, acc[%d], sizeof t);", kh);
        if (d->direct) {
            cb_line(c, "for (int oh = r0; oh < r1; oh++)");
            cb_line(c, "for (int u = 0; u < OW; u += %d) {", vw);
            cb_line(c, "const int q = oh * WPH + u;");
            cb_line(c, "cnn_vec yv[OCB];");
            cb_line(c, "for (int o = 0; o < OCB; o++)");
            cb_line(c, "    memcpy(&yv[o], yo[o] + oh * OW + u, sizeof yv[o]);");
        } else {
            cb_line(c, "for (int q = q0; q < q1; q += %d) {", vw);
            cb_line(c, "cnn_vec yv[OCB];");
            cb_line(c, "for (int o = 0; o < OCB; o++)");
            cb_line(c, "    memcpy(&yv[o], dyb + (ptrdiff_t)o * L + q, sizeof yv[o]);");
        }
        for (int pb = 0; pb < s && pb < a->kw; pb++)
            for (int k = 0; k < nw[pb]; k++)
                cb_line(c, "cnn_vec w%d_%d; memcpy(&w%d_%d, xp%d + q + %d, sizeof w%d_%d);", pb, k, pb, k, pb, k * vw, pb, k);
        for (int kw = 0; kw < a->kw; kw++) {
            const int pb = kw % s, off = base + kw / s - lo, k = off / vw, m = off % vw;
            if (m == 0) {
                cb_line(c, "{ const cnn_vec xv = w%d_%d;", pb, k);
            } else {
                char idx[256] = "";
                for (int l = 0; l < vw; l++) {
                    size_t n = strlen(idx);
                    snprintf(idx + n, sizeof idx - n, ", %d", m + l);
                }
                cb_line(c, "{ const cnn_vec xv = __builtin_shufflevector(w%d_%d, w%d_%d%s);", pb, k, pb, k + 1, idx);
            }
            cb_line(c, "  for (int o = 0; o < OCB; o++) t[o][%d] += yv[o] * xv; }", kw);
        }
        cb_line(c, "}");
        cb_line(c, "memcpy(acc[%d], t, sizeof t);", kh);
        cb_line(c, "}");
    }
}

static void small_emit_dws(Cbuf *c, const Attrs *a, const SmallDwS *d) {
    cb_line(c, "{ /* dw: the input's S x S phases, lanes along the flattened output plane, OCB channels x KW taps per tile (conv_small.c) */");
    cb_line(c, "#if defined(__AVX512F__)");
    cb_line(c, "enum { OCB = %d };", d->ocb512);
    cb_line(c, "#else");
    cb_line(c, "enum { OCB = %d };", d->ocb);
    cb_line(c, "#endif");
    cb_line(c, "enum { S = %d, WPH = %d, L = %d, XPL = %d, NOB = (OC + OCB - 1) / OCB, QC = %d }; /* the last block may be ragged */", d->s, d->wph, d->len, d->xpl, DWS_QC);
    cb_line(c, "float *const xph = scratch; /* [n][IC][S][S][XPL]: P[pa][pb][r][c] = xpad[S r + pa][S c + pb] */");
    if (d->direct)
        cb_line(c, "enum { QR = %d }; /* output rows per chunk */", d->qr);
    else
        cb_line(c, "float *const dyq = scratch + (ptrdiff_t)n * IC * S * S * XPL; /* [NOB * OCB][L]: dy at pitch WPH, zero past OC */");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int pl = 0; pl < n * IC * S * S; pl++) {");
    cb_line(c, "const int pb = pl %% S, pa = pl / S %% S, ic = pl / (S * S) %% IC, i = pl / (S * S * IC); /* phase row, column */");
    cb_line(c, "const float *const xc = x + ((ptrdiff_t)i * IC + ic) * IH * IW;");
    cb_line(c, "float *const pp = xph + (ptrdiff_t)pl * XPL;");
    cb_line(c, "for (int r = 0; r * WPH < XPL; r++) {");
    cb_line(c, "const int ih = S * r + pa - PH, cn = XPL - r * WPH < WPH ? XPL - r * WPH : WPH;");
    cb_line(c, "float *const pr = pp + (ptrdiff_t)r * WPH;");
    if (d->s == 2) {
        /* stride 2: the columns whose pixel lies in the row, [clo, chi), in vectors of the even
         * lanes of two (each reading one float past its last pixel: up to the row's end only),
         * zero around them (one scalar read per float with its bounds test had been a tenth of
         * the stem's dw: ResNet-18's 7x7 stride-2 stem at batch 8, one thread, its dw alone
         * called 30 times, median, alternated 3 times: 16.6-17.2 -> 15.8-15.9 ms) */
        cb_line(c, "const int inr = ih >= 0 && ih < IH;");
        cb_line(c, "int clo = inr ? (PW - pb + 1) / 2 : cn, chi = inr && IW - 1 - pb + PW >= 0 ? (IW - 1 - pb + PW) / 2 + 1 : clo;");
        cb_line(c, "if (clo > cn)");
        cb_line(c, "    clo = cn;");
        cb_line(c, "if (chi > cn)");
        cb_line(c, "    chi = cn;");
        cb_line(c, "if (chi < clo)");
        cb_line(c, "    chi = clo;");
        cb_line(c, "for (int col = 0; col < clo; col++)");
        cb_line(c, "    pr[col] = 0.0f;");
        cb_line(c, "const float *const xr = xc + (inr ? (ptrdiff_t)ih * IW : 0); /* pr[col] = xr[2 col + pb - PW] */");
        cb_line(c, "int col = clo;");
        cb_line(c, "#if CNN_SHUFFLE");
        cb_line(c, "for (; 2 * (col + CNN_VW) + pb - PW <= IW && col + CNN_VW <= chi; col += CNN_VW) {");
        cb_line(c, "cnn_vec lo, hi;");
        cb_line(c, "memcpy(&lo, xr + 2 * col + pb - PW, sizeof lo);");
        cb_line(c, "memcpy(&hi, xr + 2 * col + pb - PW + CNN_VW, sizeof hi);");
        emit_even_lanes(c, "ev", "lo", "hi", false);
        cb_line(c, "memcpy(pr + col, &ev, sizeof ev);");
        cb_line(c, "}");
        /* The columns left (the vectors above stop where the odd lane past their last pixel
         * would lie beyond the row: 16 of the stem's 112 in half the rows) as one vector ending
         * at chi, over columns already written, its second half read from one float earlier so
         * that it ends at the last pixel (they had been copied a float at a time: 8% of
         * ResNet-18's stem weight gradient in the training step, bench/README.md 2026-12-04) */
        cb_line(c, "if (col < chi && chi - clo >= CNN_VW) {");
        cb_line(c, "const int cl = chi - CNN_VW;");
        cb_line(c, "cnn_vec lo, hi;");
        cb_line(c, "memcpy(&lo, xr + 2 * cl + pb - PW, sizeof lo);");
        cb_line(c, "memcpy(&hi, xr + 2 * cl + pb - PW + CNN_VW - 1, sizeof hi);");
        emit_even_lanes(c, "ev", "lo", "hi", true);
        cb_line(c, "memcpy(pr + cl, &ev, sizeof ev);");
        cb_line(c, "col = chi;");
        cb_line(c, "}");
        cb_line(c, "#endif");
        cb_line(c, "for (; col < chi; col++)");
        cb_line(c, "    pr[col] = xr[2 * col + pb - PW];");
        cb_line(c, "for (; col < cn; col++)");
        cb_line(c, "    pr[col] = 0.0f;");
    } else {
        cb_line(c, "for (int col = 0; col < cn; col++) {");
        cb_line(c, "const int iw = S * col + pb - PW;");
        cb_line(c, "pr[col] = ih >= 0 && ih < IH && iw >= 0 && iw < IW ? xc[(ptrdiff_t)ih * IW + iw] : 0.0f;");
        cb_line(c, "}");
    }
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int ob = 0; ob < NOB; ob++) {");
    cb_line(c, "const int oc0 = ob * OCB;");
    if (d->direct) {
        cb_line(c, "for (int i = 0; i < n; i++) {");
        cb_line(c, "const float *yo[OCB]; /* dy's planes, read in place; past OC the last channel again (its sums not written) */");
        cb_line(c, "for (int o = 0; o < OCB; o++)");
        cb_line(c, "    yo[o] = dy + ((ptrdiff_t)i * OC + (oc0 + o < OC ? oc0 + o : OC - 1)) * OH * OW;");
    } else {
        cb_line(c, "float *const dyb = dyq + (ptrdiff_t)oc0 * L; /* this block's rows */");
        cb_line(c, "memset(dyb, 0, sizeof(float) * OCB * L); /* past OW, past the plane and past OC: zero for every image */");
        cb_line(c, "for (int i = 0; i < n; i++) {");
        cb_line(c, "for (int o = 0; o < OCB && oc0 + o < OC; o++) { /* dy at pitch WPH */");
        cb_line(c, "const float *const yo = dy + ((ptrdiff_t)i * OC + oc0 + o) * OH * OW;");
        cb_line(c, "for (int r = 0; r < OH; r++)");
        cb_line(c, "    memcpy(dyb + (ptrdiff_t)o * L + r * WPH, yo + r * OW, sizeof(float) * OW);");
        cb_line(c, "}");
    }
    cb_line(c, "for (int ic = 0; ic < IC; ic++) {");
    cb_line(c, "const float *const xi = xph + ((ptrdiff_t)i * IC + ic) * S * S * XPL;");
    small_emit_dw_acc(c);
    if (d->direct) {
        cb_line(c, "for (int r0 = 0; r0 < OH; r0 += QR) {");
        cb_line(c, "const int r1 = r0 + QR < OH ? r0 + QR : OH;");
    } else {
        cb_line(c, "for (int q0 = 0; q0 < L; q0 += QC) {");
        cb_line(c, "const int q1 = q0 + QC < L ? q0 + QC : L;");
    }
    cb_line(c, "#if CNN_SHUFFLE && CNN_VW == 16");
    small_emit_dws_rows(c, a, d);
    cb_line(c, "#else");
    cb_line(c, "for (int kh = 0; kh < KH; kh++) {");
    cb_line(c, "const float *const xr = xi + (ptrdiff_t)(kh %% S) * S * XPL + (kh / S) * WPH; /* phase row kh %% S, shifted */");
    const char *xtap = "xr + (ptrdiff_t)(kw % S) * XPL + kw / S + q";
    if (d->direct) {
        cb_line(c, "for (int oh = r0; oh < r1; oh++) {");
        small_emit_dw_tile(c, "oh * WPH", "oh * WPH + OW", "yo[o] + (q + oh * (OW - WPH))", xtap);
        cb_line(c, "}");
    } else {
        small_emit_dw_tile(c, "q0", "q1", "dyb + (ptrdiff_t)o * L + q", xtap);
    }
    cb_line(c, "}");
    cb_line(c, "#endif");
    cb_line(c, "}");
    small_emit_dw_sums(c, "this image's sums, added in image order", true);
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
}

/* Floats of scratch conv_small_emit_dw needs for the layer, or -1 when it does not take it. */
int64_t conv_small_dw_scratch(const Attrs *a, Shape in, Shape out) {
    SmallDw d;
    SmallDwS ds;
    return small_dw_geo(a, in, out, &d) ? d.scratch : small_dws_geo(a, in, out, &ds) ? ds.scratch : -1;
}

bool conv_small_emit_dw(Emit *e, const Op *fwd) {
    Shape in = emit_in_shape(e, fwd, 0), out = emit_out_shape(e, fwd);
    SmallDw d;
    SmallDwS ds;
    if (!small_dw_geo(&fwd->a, in, out, &d)) {
        if (!small_dws_geo(&fwd->a, in, out, &ds))
            return false;
        small_emit_dws(e->c, &fwd->a, &ds);
        return true;
    }
    int iwp = d.iwp, len = d.len, xpl = d.xpl, ocb = d.ocb;
    Cbuf *c = e->c;
    cb_line(c, "{ /* dw: lanes along the flattened output plane, OCB channels x KW taps per tile (conv_small.c) */");
    cb_line(c, "#if defined(__AVX512F__)");
    cb_line(c, "enum { OCB = %d };", d.ocb512);
    cb_line(c, "#else");
    cb_line(c, "enum { OCB = %d };", ocb);
    cb_line(c, "#endif");
    cb_line(c, "enum { IWP = %d, L = %d, XPL = %d, NOB = OC / OCB };", iwp, len, xpl);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int ob = 0; ob < NOB; ob++) {");
    cb_line(c, "const int oc0 = ob * OCB;");
    cb_line(c, "float *const xp = scratch + (ptrdiff_t)ob * (XPL + OCB * L); /* this block's planes */");
    cb_line(c, "float (*const dyp)[L] = (float (*)[L])(xp + XPL);");
    cb_line(c, "memset(xp, 0, sizeof(float) * (XPL + OCB * L)); /* the padding stays zero: only the interior is written below */");
    cb_line(c, "for (int ic = 0; ic < IC; ic++) {");
    small_emit_dw_acc(c);
    cb_line(c, "for (int i = 0; i < n; i++) {");
    cb_line(c, "const float *xi = x + ((ptrdiff_t)i * IC + ic) * IH * IW;");
    cb_line(c, "for (int r = 0; r < IH; r++) /* rows by memcpy: in the OpenMP region a loop of them runs scalar */");
    cb_line(c, "    memcpy(xp + (r + PH) * IWP + PW, xi + r * IW, sizeof(float) * IW);");
    cb_line(c, "for (int o = 0; o < OCB; o++) {");
    cb_line(c, "const float *yo = dy + ((ptrdiff_t)i * OC + oc0 + o) * OH * OW;");
    cb_line(c, "for (int r = 0; r < OH; r++)");
    cb_line(c, "    memcpy(&dyp[o][r * IWP], yo + r * OW, sizeof(float) * OW);");
    cb_line(c, "}");
    cb_line(c, "for (int kh = 0; kh < KH; kh++) {");
    cb_line(c, "const float *xk = xp + kh * IWP;");
    small_emit_dw_tile(c, "0", "L", "&dyp[o][q]", "xk + q + kw");
    cb_line(c, "}");
    cb_line(c, "}");
    small_emit_dw_sums(c, NULL, false);
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    return true;
}

/* Forward (and the data gradient, which conv.c computes as a forward convolution of dy): the
 * same flattening. The padded input plane (conv.c's copy, or x itself when the layer does not
 * pad) has pitch WP; output pixel (oh, ow) is flat position q = oh * WP + ow, and tap (kh, kw)
 * reads xp[q + kh * WP + kw], so one contiguous vector load serves every output channel. The
 * positions with ow >= OW are computed and dropped. A job is one image, a block of OBS output
 * channels and a run of QB vectors along q: OBS x QB accumulators, each input vector feeding
 * OBS fused multiply-adds with broadcast weights. The last vector of a plane overlaps the ones
 * before it in the same job so as to end exactly at its last pixel (recomputing a few with the
 * same result), and no load reads past the plane. The fused epilogue (activation, batchnorm)
 * is applied to the job's whole vectors (a loop of constant length, which vectorizes, even on
 * the positions then dropped), and the results go out row segment by row segment.
 * In training, a pooling whose windows tile the plane may close the conv when its input is
 * kept (op->keeps: the backward of the activation or of a max pool reads it): then a job is
 * one row of windows (PKH output rows, flat positions [r0 * WP, (r0 + PKH - 1) * WP + OW)),
 * its outputs go to the kept tensor yk, and the job pools them into y right after, from L1
 * (LeNet-5's first conv and 2x2 average pool, instead of a pooling op reading 1.2 MB back at
 * batch 64). */
bool conv_small_emit_forward(Emit *e, const Op *op, const Attrs *a, Shape in, Shape out, const char *src);
bool conv_small_takes_forward(const Graph *g, const Op *op, const Attrs *a, Shape in, Shape out);

/* Whether conv_small_emit_forward takes the layer (conv_oc.c leaves it the reductions of 9
 * taps or fewer that it takes). */
bool conv_small_takes_forward(const Graph *g, const Op *op, const Attrs *a, Shape in, Shape out) {
    int ic = in.d[1], oc = out.d[1], oh = out.d[2], ow = out.d[3];
    bool pads = a->ph || a->pw || a->ph_end || a->pw_end;
    if (a->sh != 1 || a->sw != 1 || a->dh != 1 || a->dw != 1 || a->groups != 1 || (op->epi_pool >= 0 && op->keeps < 0) ||
        (op->pro_norm >= 0 && !pads) || oc > 32 || (long long)ic * a->kh * a->kw > 1024 || ow > 32)
        return false;
    int wp = in.d[3] + a->pw + a->pw_end;
    /* a job's positions: the plane's, or a row of pooling windows' */
    int rows = op->epi_pool >= 0 ? g->ops[op->epi_pool].a.kh : oh;
    return (rows - 1) * wp + ow >= LANES; /* fewer than one vector: conv.c's kernel */
}

bool conv_small_emit_forward(Emit *e, const Op *op, const Attrs *a, Shape in, Shape out, const char *src) {
    if (!conv_small_takes_forward(e->g, op, a, in, out))
        return false;
    int oc = out.d[1], ow = out.d[3];
    int wp = in.d[3] + a->pw + a->pw_end;
    int qn = (out.d[2] - 1) * wp + ow;
    int obs = 1;
    for (int d = 1; d <= oc && d <= 6; d++)
        if (oc % d == 0)
            obs = d;
    int qb = ACC_VECTORS / obs > 4 ? 4 : ACC_VECTORS / obs;
    Cbuf *c = e->c;
    const char *epi = emit_has_epilogue(op) ? emit_epilogue(e, op, "v", "oc0 + o") : "v";
    const Op *pool = op->epi_pool >= 0 ? &e->g->ops[op->epi_pool] : NULL;
    cb_line(c, "{ /* lanes along the flattened output plane of pitch WP (conv_small.c) */");
    cb_line(c, "enum { QN = %d, OBS = %d, NOB = OC / OBS, QB = %d }; /* flat positions, channels per job, vectors per job */",
            qn, obs, qb);
    if (pool) {
        cb_line(c, "enum { PKH = %d, PKW = %d, PH_OUT = OH / PKH, PW_OUT = OW / PKW }; /* the fused %s */", pool->a.kh,
                pool->a.kw, op_name(pool->kind));
        cb_line(c, "enum { QT = PH_OUT }; /* a job: one row of windows, PKH output rows */");
    } else {
        cb_line(c, "#if CNN_VECTORS");
        cb_line(c, "/* QT runs of QB vectors; the last run also takes the rest of the plane (at least one vector) */");
        cb_line(c, "enum { QT = QN / (QB * CNN_VW) > 0 ? QN / (QB * CNN_VW) : 1 };");
        cb_line(c, "#else");
        cb_line(c, "enum { QT = 1 };");
        cb_line(c, "#endif");
    }
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < n * NOB * QT; job++) {");
    cb_line(c, "const int qt = job %% QT, ob = job / QT %% NOB, i = job / QT / NOB, oc0 = ob * OBS;");
    cb_line(c, "const float *xg = %s + (ptrdiff_t)i * IC * HP * WP;", src);
    cb_line(c, "float *yg = %s + ((ptrdiff_t)i * OC + oc0) * OH * OW;", pool ? "yk" : "y");
    if (pool)
        cb_line(c, "const int qa = qt * PKH * WP, qz = (qt * PKH + PKH - 1) * WP + OW; /* the job's positions */");
    else
        cb_line(c, "const int qa = 0, qz = QN; /* the plane's positions (the vector jobs take a run of them) */");
    cb_line(c, "(void)qa, (void)qz;");
    cb_line(c, "#if CNN_VECTORS");
    if (pool) {
        cb_line(c, "int q0 = qa;");
        cb_line(c, "const int qe = qz;");
    } else {
        cb_line(c, "int q0 = qt * QB * CNN_VW;");
        cb_line(c, "const int qe = qt == QT - 1 ? QN : q0 + QB * CNN_VW;");
    }
    for (int pass = 0; pass < 2; pass++) {
        int nv = pass == 0 ? qb : 1;
        if (pass == 0 && pool) { /* a row of windows: runs of QB vectors, the last overlapping (within the job) */
            cb_line(c, "for (; q0 < qe && qe - qa >= %d * CNN_VW; q0 += %d * CNN_VW) {", nv, nv);
            cb_line(c, "const int qs = q0 + %d * CNN_VW <= qe ? q0 : qe - %d * CNN_VW;", nv, nv);
        } else if (pass == 0) {
            cb_line(c, "for (; q0 + %d * CNN_VW <= qe; q0 += %d * CNN_VW) {", nv, nv);
            cb_line(c, "const int qs = q0;");
        } else {
            cb_line(c, "for (; q0 < qe; q0 += CNN_VW) {");
            cb_line(c, "const int qs = q0 + CNN_VW <= qe ? q0 : qe - CNN_VW; /* the last overlaps, within the job */");
        }
        cb_line(c, "cnn_vec acc[OBS][%d];", nv);
        cb_line(c, "for (int o = 0; o < OBS; o++)");
        cb_line(c, "    for (int u = 0; u < %d; u++)", nv);
        cb_line(c, "        acc[o][u] = %s + (cnn_vec){0};", a->bias ? "b[oc0 + o]" : "0.0f");
        cb_line(c, "for (int ic = 0; ic < IC; ic++)");
        cb_line(c, "for (int kh = 0; kh < KH; kh++)");
        cb_line(c, "for (int kw = 0; kw < KW; kw++) {");
        cb_line(c, "const float *xr = xg + ((ptrdiff_t)ic * HP + kh) * WP + kw + qs;");
        cb_line(c, "const float *wk = w + ((ptrdiff_t)oc0 * IC + ic) * KH * KW + kh * KW + kw;");
        cb_line(c, "cnn_vec xv[%d];", nv);
        cb_line(c, "memcpy(xv, xr, sizeof xv);");
        cb_line(c, "for (int o = 0; o < OBS; o++) {");
        cb_line(c, "const float wv = wk[(ptrdiff_t)o * IC * KH * KW];");
        cb_line(c, "for (int u = 0; u < %d; u++)", nv);
        cb_line(c, "    acc[o][u] += wv * xv[u];");
        cb_line(c, "}");
        cb_line(c, "}");
        cb_line(c, "/* out, row segment by row segment (the columns ow >= OW dropped) */");
        cb_line(c, "float t[OBS][%d * CNN_VW];", nv);
        cb_line(c, "memcpy(t, acc, sizeof t);");
        if (strcmp(epi, "v") != 0) { /* the epilogue on whole vectors: a loop of constant length vectorizes */
            cb_line(c, "for (int o = 0; o < OBS; o++)");
            cb_line(c, "    for (int k = 0; k < %d * CNN_VW; k++) {", nv);
            cb_line(c, "        const float v = t[o][k];");
            cb_line(c, "        t[o][k] = %s;", epi);
            cb_line(c, "    }");
        }
        cb_line(c, "for (int q = qs; q < qs + %d * CNN_VW;) {", nv);
        cb_line(c, "const int r = q / WP, col = q %% WP;");
        cb_line(c, "const int len = WP - col < qs + %d * CNN_VW - q ? WP - col : qs + %d * CNN_VW - q;", nv, nv);
        cb_line(c, "const int cols = col >= OW ? 0 : col + len <= OW ? len : OW - col;");
        cb_line(c, "for (int o = 0; o < OBS; o++) {");
        cb_line(c, "const float *tr = t[o] + (q - qs);");
        cb_line(c, "float *yr = yg + (ptrdiff_t)o * OH * OW + r * OW + col;");
        cb_line(c, "for (int k = 0; k < cols; k++)");
        cb_line(c, "    yr[k] = tr[k];");
        cb_line(c, "}");
        cb_line(c, "q += len;");
        cb_line(c, "}");
        cb_line(c, "}");
    }
    cb_line(c, "#else");
    cb_line(c, "for (int q = qa; q < qz; q++) {");
    cb_line(c, "const int r = q / WP, col = q %% WP;");
    cb_line(c, "if (col >= OW)");
    cb_line(c, "    continue;");
    cb_line(c, "for (int o = 0; o < OBS; o++) {");
    cb_line(c, "float v = %s;", a->bias ? "b[oc0 + o]" : "0.0f");
    cb_line(c, "for (int ic = 0; ic < IC; ic++)");
    cb_line(c, "    for (int kh = 0; kh < KH; kh++)");
    cb_line(c, "        for (int kw = 0; kw < KW; kw++)");
    cb_line(c, "            v += w[(((ptrdiff_t)(oc0 + o) * IC + ic) * KH + kh) * KW + kw] * xg[((ptrdiff_t)ic * HP + kh) * WP + kw + q];");
    cb_line(c, "yg[(ptrdiff_t)o * OH * OW + r * OW + col] = %s;", epi);
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#endif");
    if (pool) { /* the job's row of windows, from the rows it just stored */
        bool max = pool->kind == OP_MAXPOOL;
        cb_line(c, "float *const pg = y + (((ptrdiff_t)i * OC + oc0) * PH_OUT + qt) * PW_OUT;");
        cb_line(c, "for (int o = 0; o < OBS; o++) {");
        cb_line(c, "const float *const yo = yg + (ptrdiff_t)o * OH * OW;");
        emit_simd(c, ow / pool->a.kw);
        cb_line(c, "for (int pc = 0; pc < PW_OUT; pc++) {");
        cb_line(c, "const int h0 = qt * PKH, h1 = h0 + PKH, w0 = pc * PKW, w1 = w0 + PKW;");
        emit_window_reduce_in(c, max, false, "yo", "OW");
        cb_line(c, "pg[(ptrdiff_t)o * PH_OUT * PW_OUT + pc] = %s;", max ? "m" : "s / (float)(PKH * PKW)");
        cb_line(c, "}");
        cb_line(c, "}");
    }
    cb_line(c, "}");
    cb_line(c, "}");
    return true;
}
