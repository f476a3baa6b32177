/* conv_blk.c: the forward and the data gradient (dx) of stride-1, undilated, ungrouped
 * convolutions with many channels and short rows (ResNet's 3x3 convs of 64 to 512 channels at
 * 32x32 down to 4x4), where the whole reduction of conv_oc.c's register tile (IC x KH x KW
 * taps) walks through more weights than the L1 cache holds; also the forward of such convs
 * with stride 2 (ResNet's stage entries).
 *
 * Like conv_oc.c, the vector lanes run over OUTPUT CHANNELS (blocks of OCB = 32, two vectors
 * of 16 with AVX-512) and the pixels of an image are flattened with pitch OW: the input is
 * first copied into KW column-shifted, zero-padded planes per channel,
 *     xs[i][ic][kw][h][ow] = xpad[i][ic][h][ow + kw],
 * so that tap (kh, kw) of the P consecutive output pixels q .. q + P - 1 reads P consecutive
 * floats xs[i][ic][kw][q + kh * OW ...]. The register tile is P pixels x OCB channels
 * (P <= 12 chosen per layer so that few positions are wasted: P * 2 accumulators with
 * AVX-512), fed per tap by two weight vectors and P broadcasts.
 *
 * The difference is the blocking: the reduction is cut into blocks of ICB input channels whose
 * weights (ICB x KH x KW x OCB floats, at most 12 KiB, which left room in L1 for the input
 * rows the tiles read: 24 KiB ran slower at 8x8) stay in L1 while every tile of a chunk of NI
 * images passes over them; the tiles' partial sums go to a buffer between blocks
 * (pixel-major, [NI][RQ][OCB], 256 KiB at most, in L2). A job is (chunk of NI images, block
 * of OCB output channels), chunk-major; the jobs are cut into SLOTS contiguous ranges run in
 * order by one thread each with its own buffer (so with a large batch the threads split the
 * images, with a small one the channel blocks), and every output has one writer whose sums
 * run in a fixed order: the result does not depend on the number of threads. After the last
 * block, a job writes its chunk out in NCHW through the bias and the fused epilogue, 64
 * positions at a time.
 *
 * The shifted copies are made either once for all images before the jobs, or, when the
 * weights and one image's copies are within 1 MiB (big planes with few channels: ResNet's
 * 64 channels at 32x32 and 128 at 16x16), by each slot for its current chunk, so that they
 * stay in L2 across the chunk's blocks of output channels instead of a round trip through
 * memory (at 32x32 the one copy of all images took a sixth of the time).
 *
 * Measured (forward, one thread, batch 32, clang -O3 -march=native, the 2-core AVX-512 Xeon
 * whose peak.c peak is 176 GFLOP/s, loaded by other jobs): 64 ch at 32x32 132 GFLOP/s,
 * 128 at 16x16 138, 256 at 8x8 140, 512 at 4x4 133; conv.c's kernel 68 to 90. The data
 * gradient of the same layers runs at the same speed (the same kernel).
 *
 * Strided convs (forward only) copy the input once per TAP instead, KH x KW planes of the
 * output's size, xs[i][ic][kh * KW + kw][oh][ow] = xpad[i][ic][oh * SH + kh][ow * SW + kw]
 * (2.25 times the input at stride 2 for 3x3), and tap (kh, kw) reads its plane at q: the same
 * tiles. Measured: 64 -> 128 ch from 32x32 82 GFLOP/s, 128 -> 256 from 16x16 111, 256 -> 512
 * from 8x8 113; conv.c's product path 45, 72, 58.
 *
 * Positions past the image's last pixel up to a multiple of P (RQ) are computed and dropped;
 * their reads stay within the scratch (a zeroed tail follows the copies).
 *
 * The data gradient of such a conv is the same kernel over dy padded by KH - 1 - PH, with the
 * kernel flipped and its channel axes swapped (taken at packing time): conv_blk_emit_dx.
 *
 * Layouts, all in the planned scratch:
 *   xs   [n][IC][KW][HP][OW] + tail   the shifted copies (per slot: [SLOTS][NI][IC]...)
 *   wpk  [NOCB][IC][KH][KW][OCB]       the weights repacked at each call, zero past OC
 *   buf  [SLOTS][NI][RQ][OCB]          per slot, the partial sums of one job
 * Without vector types, plain loops fill buf the same way. */
#include <stdbool.h>

#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../ops.h"

int64_t conv_blk_scratch(const Graph *g, const Op *op);
bool conv_blk_emit_forward(Emit *e, const Op *op);
int64_t conv_blk_dx_scratch(const Attrs *a, Shape in, Shape out);
bool conv_blk_emit_dx(Emit *e, const Op *fwd);

/* OCB: output channels per block; P_MAX: the largest pixel tile; SLOTS_MAX: the most buffers;
 * W_BYTES: a block of weights; BUF_FLOATS: one slot's buffer (at least one image); LOCAL_BYTES:
 * the most weights, and copies of one slot's images, for the copies per slot. */
enum { OCB = 32, P_MAX = 12, SLOTS_MAX = 8, W_BYTES = 12288, BUF_FLOATS = 65536, LOCAL_BYTES = 1 << 20 };

typedef struct {
    int ic, oc, ih, iw, oh, ow, kh, kw, ph, pw, sh, sw; /* of the convolution computed */
    int n, hp, p, rq, icb, ni, slots;
    bool tap;         /* strided: one copy per tap (KH x KW planes of OH x OW), else per kernel column */
    int npl, pln;     /* copies per input channel, floats of one */
    int gi;           /* images per group: the one copy holds a group */
    bool local;       /* each slot copies its chunk's images itself (else one copy of all first) */
    int os, orh, orw; /* output pixel (oh, ow) goes to dst's (oh * OS + ORH, ow * OS + ORW): a phase */
    int dsh, dsw;     /* rows and columns of dst's planes (OH, OW unless a phase) */
    int64_t xs_area;  /* floats of one slot's copies (local), of all the copies (else) */
    int64_t wp_at, buf_at, total;
} BlkGeo;

static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

/* The geometry of the convolution of input in (n, ic, ih, iw) to output (oc, oh, ow) with a
 * kh x kw kernel padded by ph, pw (top, left; the bottom and right follow from the shapes). */
static void blk_geo(BlkGeo *q, Shape in, int oc, int oh, int ow, int kh, int kw, int ph, int pw, int sh, int sw) {
    q->n = in.d[0], q->ic = in.d[1], q->ih = in.d[2], q->iw = in.d[3];
    q->oc = oc, q->oh = oh, q->ow = ow, q->kh = kh, q->kw = kw, q->ph = ph, q->pw = pw, q->sh = sh, q->sw = sw;
    q->os = 1, q->orh = q->orw = 0, q->dsh = oh, q->dsw = ow;
    q->hp = (oh - 1) * sh + kh; /* the padded input rows the taps reach */
    q->tap = sh != 1 || sw != 1;
    q->npl = q->tap ? kh * kw : kw;
    q->pln = q->tap ? oh * ow : q->hp * ow;
    int qn = oh * ow;
    /* the tile: the fewest cycles, ceil(Q / P) tiles of P * 2 FMAs and about 2 cycles of loads
     * and loop per tap; on a tie, the fewer positions wasted */
    int best = 1;
    long long cost = -1;
    for (int p = 1; p <= P_MAX; p++) {
        long long t = (qn + p - 1) / p, c = t * (2 * p + 2);
        if (cost < 0 || c < cost || (c == cost && t * p <= (long long)(qn + best - 1) / best * best))
            cost = c, best = p;
    }
    q->p = best;
    q->rq = (qn + best - 1) / best * best;
    q->icb = W_BYTES / (kh * kw * OCB * 4);
    q->icb = q->icb < 1 ? 1 : q->icb > q->ic ? q->ic : q->icb;
    q->icb = (q->ic + (q->ic + q->icb - 1) / q->icb - 1) / ((q->ic + q->icb - 1) / q->icb); /* blocks of even size */
    q->ni = BUF_FLOATS / (q->rq * OCB);
    /* Big planes with few channels (weights within L2) copy per slot: one chunk's copies stay
     * in L2 across the blocks of output channels, instead of a round trip through memory.
     * Else one copy takes the images in groups of GI (a multiple of NI, groups of even size),
     * so that it needs no more floats than the padded copy of conv.c's kernel (cap images). */
    int64_t per_img = (int64_t)q->ic * q->npl * q->pln;
    int64_t cap = (int64_t)q->n * q->ic * q->hp * ((ow - 1) * sw + kw) / per_img;
    q->local = (int64_t)q->ic * oc * kh * kw * 4 <= LOCAL_BYTES && per_img * 4 <= LOCAL_BYTES;
    if (q->local && q->ni > LOCAL_BYTES / (per_img * 4))
        q->ni = (int)(LOCAL_BYTES / (per_img * 4));
    if (!q->local && q->ni > cap)
        q->ni = (int)cap;
    q->ni = q->ni < 1 ? 1 : q->ni > q->n ? q->n : q->ni;
    q->ni = (q->n + (q->n + q->ni - 1) / q->ni - 1) / ((q->n + q->ni - 1) / q->ni); /* chunks of even size */
    q->gi = q->n;
    if (!q->local) {
        int gi = cap / q->ni * q->ni < q->ni ? q->ni : cap > q->n ? q->n : (int)(cap / q->ni * q->ni);
        int groups = (q->n + gi - 1) / gi;
        gi = (q->n + groups - 1) / groups;
        q->gi = (gi + q->ni - 1) / q->ni * q->ni;
    }
    int nocb = (oc + OCB - 1) / OCB;
    int64_t jobs = (int64_t)(q->gi + q->ni - 1) / q->ni * nocb;
    q->slots = jobs < SLOTS_MAX ? (int)jobs : SLOTS_MAX;
    q->xs_area = round16((int64_t)(q->local ? q->ni : q->gi) * per_img + P_MAX);
    q->wp_at = q->xs_area * (q->local ? q->slots : 1);
    q->buf_at = q->wp_at + round16((int64_t)nocb * OCB * q->ic * kh * kw);
    q->total = q->buf_at + (int64_t)q->slots * q->ni * q->rq * OCB;
}

/* Where the kernel measured faster than conv.c's: KH x KW of 3x3 and more, rows of at most
 * 32 columns, and channels enough for the lanes and the blocking (conv_oc.c keeps the convs
 * whose reduction fits L1, asked first). */
static bool blk_takes(int ic, int oc, int ow, int kh, int kw) {
    return kh * kw >= 9 && ow <= 32 && ic >= 32 && oc >= 32 && (long long)ic * kh * kw > 256;
}

static bool blk_fwd_geo(const Graph *g, const Op *op, BlkGeo *q) {
    const Attrs *a = &op->a;
    if (op->kind != OP_CONV || op->pro_conv >= 0 || op->pro_norm >= 0 || op->epi_pool >= 0)
        return false;
    if (a->sh > 2 || a->sw > 2 || a->dh != 1 || a->dw != 1 || a->groups != 1)
        return false;
    Shape in = g->values[op->in[0]].shape, out = g->values[op->out].shape;
    if (!blk_takes(in.d[1], out.d[1], out.d[3], a->kh, a->kw))
        return false;
    blk_geo(q, in, out.d[1], out.d[2], out.d[3], a->kh, a->kw, a->ph, a->pw, a->sh, a->sw);
    return true;
}

/* dx of a stride-1 conv: dy (n, OC, OH, OW) to dx (IC, IH, IW), padded by KH - 1 - PH. */
static bool blk_dx_geo(const Attrs *a, Shape in, Shape out, BlkGeo *q) {
    if (a->sh != 1 || a->sw != 1 || a->dh != 1 || a->dw != 1 || a->groups != 1 || a->ph > a->kh - 1 ||
        a->ph_end > a->kh - 1 || a->pw > a->kw - 1 || a->pw_end > a->kw - 1)
        return false;
    if (!blk_takes(out.d[1], in.d[1], in.d[3], a->kh, a->kw))
        return false;
    blk_geo(q, out, in.d[1], in.d[2], in.d[3], a->kh, a->kw, a->kh - 1 - a->ph, a->kw - 1 - a->pw, 1, 1);
    return true;
}

/* dx of a strided conv (stride S <= kernel, both axes) by phases: the dx rows ih = S * a + rh
 * (rh < S) receive only the kernel rows kh = kh0 + S * t congruent to rh + PH (kh0 = (rh + PH)
 * mod S, t < TH = ceil((KH - kh0) / S)), from dy row oh = (ih + PH - kh) / S = a + CH - t
 * (CH = (rh + PH - kh0) / S); likewise the columns. So phase (rh, rw) is a stride-1
 * correlation of dy, padded by TH - 1 - CH (negative: rows cut), with the TH x TW sub-kernel
 * (t reversed), into the A x B dx elements (a, b) of that phase, A = ceil((IH - rh) / S):
 * every dx element is in exactly one phase and gets every tap that reaches it (zero where
 * none of dy does). A phase without elements (images narrower than S) is skipped. */
static bool blk_s_takes(const Attrs *a, Shape in, Shape out) {
    if (a->sh < 2 || a->sw < 2 || a->sh > a->kh || a->sw > a->kw || a->sh > 4 || a->sw > 4 || a->dh != 1 || a->dw != 1 ||
        a->groups != 1 || a->ph > a->kh - 1 || a->pw > a->kw - 1)
        return false;
    return blk_takes(out.d[1], in.d[1], (in.d[3] + a->sw - 1) / a->sw, a->kh, a->kw);
}

static bool blk_phase_geo(const Attrs *a, Shape in, Shape out, int rh, int rw, BlkGeo *q, int *kh0, int *kw0) {
    int ih = in.d[2], iw = in.d[3];
    if (rh >= ih || rw >= iw)
        return false;
    *kh0 = (rh + a->ph) % a->sh, *kw0 = (rw + a->pw) % a->sw;
    int th = (a->kh - *kh0 + a->sh - 1) / a->sh, tw = (a->kw - *kw0 + a->sw - 1) / a->sw;
    int ch = (rh + a->ph - *kh0) / a->sh, cw = (rw + a->pw - *kw0) / a->sw;
    blk_geo(q, out, in.d[1], (ih - rh + a->sh - 1) / a->sh, (iw - rw + a->sw - 1) / a->sw, th, tw, th - 1 - ch, tw - 1 - cw,
            1, 1);
    q->os = a->sh, q->orh = rh, q->orw = rw, q->dsh = ih, q->dsw = iw;
    return true;
}

int64_t conv_blk_scratch(const Graph *g, const Op *op) {
    BlkGeo q;
    return blk_fwd_geo(g, op, &q) ? q.total : -1;
}

int64_t conv_blk_dx_scratch(const Attrs *a, Shape in, Shape out) {
    BlkGeo q;
    if (blk_dx_geo(a, in, out, &q))
        return q.total;
    if (!blk_s_takes(a, in, out))
        return -1;
    int64_t most = 0; /* the phases run one after the other in the same scratch */
    int kh0, kw0;
    for (int rh = 0; rh < a->sh; rh++)
        for (int rw = 0; rw < a->sw; rw++)
            if (blk_phase_geo(a, in, out, rh, rw, &q, &kh0, &kw0) && q.total > most)
                most = q.total;
    return most;
}

/* The body of a loop over planes pl (image and channel) of src: the KW shifted, zero-padded
 * copies of plane pl at dst + pl * KW * HP * OW, then the zero tail after nimg images. */
static void blk_emit_copy(Cbuf *c, const BlkGeo *q, const char *src, const char *dst, const char *pl, const char *nimg) {
    if (q->tap) {
        cb_line(c, "for (int k = 0; k < BKK; k++) { /* xs[i][ic][k][oh][ow] = xpad[i][ic][oh * SH + kh][ow * SW + kw] */");
        cb_line(c, "const int kh = k / BKW, kw = k %% BKW;");
        cb_line(c, "float *xs = %s + ((ptrdiff_t)%s * BNPL + k) * BPLN;", dst, pl);
        cb_line(c, "const float *xc = %s + (ptrdiff_t)%s * BIH * BIW;", src, pl);
        cb_line(c, "for (int oh = 0; oh < BOH; oh++) {");
        cb_line(c, "const int hi = oh * BSH + kh - BPH;");
        cb_line(c, "for (int ow = 0; ow < BOW; ow++) {");
        cb_line(c, "const int wi = ow * BSW + kw - BPW;");
        cb_line(c, "xs[oh * BOW + ow] = hi >= 0 && hi < BIH && wi >= 0 && wi < BIW ? xc[hi * BIW + wi] : 0.0f;");
        cb_line(c, "}");
        cb_line(c, "}");
        cb_line(c, "}");
    } else {
        cb_line(c, "for (int kw = 0; kw < BKW; kw++) { /* xs[i][ic][kw][h][ow] = xpad[i][ic][h][ow + kw] */");
        cb_line(c, "float *xs = %s + ((ptrdiff_t)%s * BNPL + kw) * BPLN;", dst, pl);
        cb_line(c, "const float *xc = %s + (ptrdiff_t)%s * BIH * BIW;", src, pl);
        cb_line(c, "const int c0 = BPW - kw > 0 ? BPW - kw : 0, c1 = BIW + BPW - kw < BOW ? BIW + BPW - kw : BOW;");
        cb_line(c, "for (int h = 0; h < BHP; h++) {");
        cb_line(c, "const int hi = h - BPH;");
        cb_line(c, "float *const xr = xs + h * BOW;");
        cb_line(c, "if (hi < 0 || hi >= BIH) {");
        cb_line(c, "for (int col = 0; col < BOW; col++)");
        cb_line(c, "    xr[col] = 0.0f;");
        cb_line(c, "continue;");
        cb_line(c, "}");
        cb_line(c, "for (int col = 0; col < c0; col++) /* the columns in the input, between zeros */");
        cb_line(c, "    xr[col] = 0.0f;");
        cb_line(c, "if (c1 > c0)");
        cb_line(c, "    memcpy(xr + c0, xc + hi * BIW + c0 + kw - BPW, sizeof(float) * (size_t)(c1 - c0));");
        cb_line(c, "for (int col = c1 > c0 ? c1 : c0; col < BOW; col++)");
        cb_line(c, "    xr[col] = 0.0f;");
        cb_line(c, "}");
        cb_line(c, "}");
    }
    cb_line(c, "for (int t = 0; t < %d; t++) /* the tail the last tiles read into */", P_MAX);
    cb_line(c, "    %s[(ptrdiff_t)%s * BIC * BNPL * BPLN + t] = 0.0f;", dst, nimg);
}

/* The kernel: src (the input, NCHW), the weight of kernel output channel o, input channel c,
 * tap k as the C expression wexpr (of o, c, k), into dst (NCHW); op (forward only) supplies
 * the bias and the epilogue. */
static void blk_emit(Emit *e, const BlkGeo *q, const char *src, const char *wexpr, const char *dst, const Op *op) {
    Cbuf *c = e->c;
    cb_line(c, "{ /* output channels in the lanes, blocked over input channels (conv_blk.c) */");
    cb_line(c, "enum { BIC = %d, BIH = %d, BIW = %d, BOC = %d, BOH = %d, BOW = %d, BKH = %d, BKW = %d, BPH = %d, BPW = %d };",
            q->ic, q->ih, q->iw, q->oc, q->oh, q->ow, q->kh, q->kw, q->ph, q->pw);
    cb_line(c, "enum { BHP = %d, BQ = BOH * BOW, BP = %d, BRQ = %d, BICB = %d, BNI = %d, BSLOTS = %d };", q->hp, q->p, q->rq,
            q->icb, q->ni, q->slots);
    cb_line(c, "enum { BOCB = %d, BNOCB = (BOC + BOCB - 1) / BOCB, BKK = BKH * BKW };", OCB);
    cb_line(c, "enum { BSH = %d, BSW = %d, BTAP = %d, BNPL = %d, BPLN = %d }; /* copies per channel (per tap if BTAP), their floats */",
            q->sh, q->sw, q->tap, q->npl, q->pln);
    cb_line(c, "enum { BXS = %lld, BGI = %d }; /* floats of a slot's copies (or of a group's), images per group */",
            (long long)q->xs_area, q->gi);
    cb_line(c, "float *const xsb = scratch, *const wpk = scratch + %lld, *const bufs = scratch + %lld;", (long long)q->wp_at,
            (long long)q->buf_at);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int bk = 0; bk < BNOCB * BIC; bk++) { /* wpk[cb][ic][k][BOCB] */");
    cb_line(c, "const int cb = bk / BIC, cc = bk %% BIC;");
    cb_line(c, "for (int k = 0; k < BKK; k++)");
    cb_line(c, "    for (int j = 0; j < BOCB; j++) {");
    cb_line(c, "        const int o = cb * BOCB + j;");
    cb_line(c, "        wpk[(((ptrdiff_t)cb * BIC + cc) * BKK + k) * BOCB + j] = o < BOC ? %s : 0.0f;", wexpr);
    cb_line(c, "    }");
    cb_line(c, "}");
    cb_line(c, "for (int g0 = 0; g0 < n; g0 += BGI) {");
    cb_line(c, "const int gn = n - g0 < BGI ? n - g0 : BGI; /* the group's images */");
    if (!q->local) {
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int pl = 0; pl < gn * BIC; pl++)");
        blk_emit_copy(c, q, arena_printf("%s + (ptrdiff_t)g0 * BIC * BIH * BIW", src), "xsb", "pl", "gn");
    }
    cb_line(c, "const int nch = (gn + BNI - 1) / BNI, jobs = nch * BNOCB;");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int slot = 0; slot < BSLOTS; slot++) {");
    cb_line(c, "float *const buf = bufs + (ptrdiff_t)slot * BNI * BRQ * BOCB;");
    cb_line(c, "const int job_end = (int)((long long)jobs * (slot + 1) / BSLOTS);");
    cb_line(c, "int copied = -1; /* the first image of the chunk in the slot's copies */");
    cb_line(c, "(void)copied;");
    cb_line(c, "for (int job = (int)((long long)jobs * slot / BSLOTS); job < job_end; job++) {");
    cb_line(c, "const int cb = job %% BNOCB, i0 = job / BNOCB * BNI, ni = gn - i0 < BNI ? gn - i0 : BNI;");
    if (q->local) {
        cb_line(c, "float *const xsl = xsb + (ptrdiff_t)slot * BXS;");
        cb_line(c, "if (i0 != copied) { /* a new chunk: its copies */");
        cb_line(c, "copied = i0;");
        cb_line(c, "for (int pl = 0; pl < ni * BIC; pl++)");
        blk_emit_copy(c, q, arena_printf("%s + (ptrdiff_t)(g0 + i0) * BIC * BIH * BIW", src), "xsl", "pl", "ni");
        cb_line(c, "}");
    }
    cb_line(c, "for (int ic0 = 0; ic0 < BIC; ic0 += BICB) {");
    cb_line(c, "const int icn = BIC - ic0 < BICB ? BIC - ic0 : BICB;");
    cb_line(c, "const float *const wb = wpk + ((ptrdiff_t)cb * BIC + ic0) * BKK * BOCB;");
    cb_line(c, "for (int ii = 0; ii < ni; ii++) {");
    cb_line(c, "const float *const xg = %s + ((ptrdiff_t)(%s) * BIC + ic0) * BNPL * BPLN;", q->local ? "xsl" : "xsb",
            q->local ? "ii" : "i0 + ii");
    cb_line(c, "float *const bi = buf + (ptrdiff_t)ii * BRQ * BOCB;");
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "#if defined(__AVX512F__)");
    cb_line(c, "enum { VL = 16, PS = BP };");
    cb_line(c, "#elif defined(__AVX__)");
    cb_line(c, "enum { VL = 8, PS = BP %% 2 ? 1 : 2 };");
    cb_line(c, "#else");
    cb_line(c, "enum { VL = 8, PS = 1 };");
    cb_line(c, "#endif");
    cb_line(c, "typedef float blk_v __attribute__((vector_size(VL * 4)));");
    cb_line(c, "enum { NV = BOCB / VL };");
    cb_line(c, "for (int q0 = 0; q0 < BRQ; q0 += PS) {");
    cb_line(c, "float *const bq = bi + (ptrdiff_t)q0 * BOCB;");
    cb_line(c, "blk_v acc[PS][NV];");
    cb_line(c, "if (ic0 == 0) {");
    cb_line(c, "for (int p = 0; p < PS; p++)");
    cb_line(c, "    for (int v = 0; v < NV; v++)");
    cb_line(c, "        acc[p][v] = (blk_v){0};");
    cb_line(c, "} else {");
    cb_line(c, "for (int p = 0; p < PS; p++)");
    cb_line(c, "    for (int v = 0; v < NV; v++)");
    cb_line(c, "        memcpy(&acc[p][v], bq + p * BOCB + v * VL, sizeof acc[p][v]);");
    cb_line(c, "}");
    cb_line(c, "const float *wq = wb;");
    cb_line(c, "for (int ic = 0; ic < icn; ic++)");
    cb_line(c, "for (int kh = 0; kh < BKH; kh++)");
    cb_line(c, "for (int kw = 0; kw < BKW; kw++, wq += BOCB) {");
    cb_line(c, "const float *xr = xg + (ptrdiff_t)(ic * BNPL + (BTAP ? kh * BKW + kw : kw)) * BPLN + (BTAP ? 0 : kh * BOW) + q0;");
    cb_line(c, "blk_v wv[NV];");
    cb_line(c, "for (int v = 0; v < NV; v++)");
    cb_line(c, "    memcpy(&wv[v], wq + v * VL, sizeof wv[v]);");
    cb_line(c, "for (int p = 0; p < PS; p++) {");
    cb_line(c, "const float s = xr[p];");
    cb_line(c, "for (int v = 0; v < NV; v++)");
    cb_line(c, "    acc[p][v] += s * wv[v];");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "for (int p = 0; p < PS; p++)");
    cb_line(c, "    for (int v = 0; v < NV; v++)");
    cb_line(c, "        memcpy(bq + p * BOCB + v * VL, &acc[p][v], sizeof acc[p][v]);");
    cb_line(c, "}");
    cb_line(c, "#else");
    cb_line(c, "for (int qq = 0; qq < BRQ; qq++) {");
    cb_line(c, "float *bq = bi + (ptrdiff_t)qq * BOCB;");
    cb_line(c, "if (ic0 == 0)");
    cb_line(c, "    for (int j = 0; j < BOCB; j++)");
    cb_line(c, "        bq[j] = 0.0f;");
    cb_line(c, "const float *wq = wb;");
    cb_line(c, "for (int ic = 0; ic < icn; ic++)");
    cb_line(c, "for (int kh = 0; kh < BKH; kh++)");
    cb_line(c, "for (int kw = 0; kw < BKW; kw++, wq += BOCB) {");
    cb_line(c, "const float s = xg[(ptrdiff_t)(ic * BNPL + (BTAP ? kh * BKW + kw : kw)) * BPLN + (BTAP ? 0 : kh * BOW) + qq];");
    cb_line(c, "for (int j = 0; j < BOCB; j++)");
    cb_line(c, "    bq[j] += s * wq[j];");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#endif");
    cb_line(c, "}"); /* image */
    cb_line(c, "}"); /* block of input channels */
    /* The write-out: per channel of the block, its Q positions (strided in buf) through the
     * bias and the epilogue to its plane. */
    const char *val = op && op->a.bias ? "bi[(ptrdiff_t)qq * BOCB + j] + b[oc]" : "bi[(ptrdiff_t)qq * BOCB + j]";
    const char *epi = op && emit_has_epilogue(op) ? emit_epilogue(e, op, "v", "oc") : "v";
    cb_line(c, "const int ocn = BOC - cb * BOCB < BOCB ? BOC - cb * BOCB : BOCB;");
    cb_line(c, "for (int ii = 0; ii < ni; ii++) {");
    cb_line(c, "const float *const bi = buf + (ptrdiff_t)ii * BRQ * BOCB;");
    cb_line(c, "for (int qa = 0; qa < BQ; qa += 64) { /* 64 positions of buf (8 KiB) at a time, in L1 */");
    cb_line(c, "const int qb = BQ - qa < 64 ? BQ : qa + 64;");
    cb_line(c, "for (int j = 0; j < ocn; j++) {");
    cb_line(c, "const int oc = cb * BOCB + j;");
    cb_line(c, "(void)oc;");
    if (q->os == 1) {
        cb_line(c, "float *const yc = %s + ((ptrdiff_t)(g0 + i0 + ii) * BOC + oc) * BQ;", dst);
        cb_line(c, "for (int qq = qa; qq < qb; qq++) {");
        cb_line(c, "const float v = %s;", val);
        cb_line(c, "yc[qq] = %s;", epi);
        cb_line(c, "}");
    } else { /* a phase: every OS-th element of rows and columns from (ORH, ORW) */
        cb_line(c, "float *const yc = %s + ((ptrdiff_t)(g0 + i0 + ii) * BOC + oc) * %d * %d + %d * %d + %d;", dst, q->dsh,
                q->dsw, q->orh, q->dsw, q->orw);
        cb_line(c, "for (int qq = qa; qq < qb; qq++) {");
        cb_line(c, "const float v = %s;", val);
        cb_line(c, "yc[(ptrdiff_t)(qq / BOW) * %d + qq %% BOW * %d] = %s;", q->os * q->dsw, q->os, epi);
        cb_line(c, "}");
    }
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}"); /* job */
    cb_line(c, "}"); /* slot */
    cb_line(c, "}"); /* group */
    cb_line(c, "}");
}

bool conv_blk_emit_forward(Emit *e, const Op *op) {
    BlkGeo q;
    if (!blk_fwd_geo(e->g, op, &q))
        return false;
    emit_epilogue_setup(e, op, op->a.out);
    blk_emit(e, &q, "x", "w[((ptrdiff_t)o * BIC + cc) * BKK + k]", "y", op);
    return true;
}

bool conv_blk_emit_dx(Emit *e, const Op *fwd) {
    BlkGeo q;
    const Attrs *a = &fwd->a;
    Shape in = emit_in_shape(e, fwd, 0), out = emit_out_shape(e, fwd);
    if (blk_dx_geo(a, in, out, &q)) {
        /* the kernel's output channel o is the forward's input channel; its input channel cc the
         * forward's output channel; the taps reversed */
        blk_emit(e, &q, "dy", "w[((ptrdiff_t)cc * BOC + o) * BKK + BKK - 1 - k]", "dx", NULL);
        return true;
    }
    if (!blk_s_takes(a, in, out))
        return false;
    /* strided: one kernel per phase (see blk_s_takes), its tap k = (t', u') being the forward's
     * (kh0 + S * (TH - 1 - t'), kw0 + S * (TW - 1 - u')) */
    int kh0, kw0;
    for (int rh = 0; rh < a->sh; rh++)
        for (int rw = 0; rw < a->sw; rw++) {
            if (!blk_phase_geo(a, in, out, rh, rw, &q, &kh0, &kw0))
                continue;
            cb_line(e->c, "/* dx phase (%d, %d): rows %d + %d a, columns %d + %d b */", rh, rw, rh, a->sh, rw, a->sw);
            blk_emit(e, &q, "dy",
                     arena_printf("w[(((ptrdiff_t)cc * BOC + o) * %d + %d + %d * (BKH - 1 - k / BKW)) * %d + %d + %d * (BKW - 1 - k %% BKW)]",
                                  a->kh, kh0, a->sh, a->kw, kw0, a->sw),
                     "dx", NULL);
        }
    return true;
}
