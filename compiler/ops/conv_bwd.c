/* conv_bwd.c: the weight gradient of stride-1, undilated, ungrouped convolutions of 2 or more
 * input channels and kernels of 4 taps or more (LeNet's 6->16 5x5, simplecnn's 32->64 3x3,
 * ResNet's 3x3 convs from 64 channels at 32x32 to 512 at 4x4, and with 16k input channels,
 * strided ones: ResNet's stride-2 3x3 convs), and the data gradient of those with few channels
 * trained in batches (the images in the lanes) or whose kernel is large next to the image
 * (below), asked by conv.c before its other kernels
 * (conv_bwd_emit_dw, conv_bwd_emit_dx: false when the layer does not qualify, and the scratch
 * functions say so with -1).
 *
 *   dw[oc][ic][kh][kw] = sum over images i and output pixels (oh, ow) of
 *                        dy[i][oc][oh][ow] * x[i][ic][oh + kh - PH][ow + kw - PW]
 *
 * Two kernels (and a third with the images in the lanes for few channels, dwb_* below), both
 * in chunks of NI images whose input is packed once per chunk (one parallel
 * loop), then jobs that each own a tile of dw entries (one writer per entry per chunk, chunks
 * in order: the result does not depend on the number of threads, which split a chunk's jobs).
 * Vectors are CNN_VW floats: 16 with AVX-512 (tiles within 32 registers), 8 elsewhere (16
 * registers); plain loops without GNU vectors.
 *
 * Input channels a multiple of 16 (dwc_*, taken first, any stride): the chunk's input is copied
 * channels-last and zero-padded, xp[i][r][c][ic], so that a tap's input at an output pixel is a
 * contiguous vector of CNN_VW input channels. A tile (block of CNN_VW input channels, block of
 * OCB output channels, block of R kernel rows) holds OCB x (R * KW) accumulators whose lanes
 * are dw entries: per output pixel, R * KW vector loads and OCB broadcast dy values feed
 * OCB * R * KW fused multiply-adds (with AVX-512 and a 3x3 kernel: 8 x 3 = 24), and the tile is
 * added into dw once per chunk. A job runs the tiles of 16 output channels (OBG of them) in
 * turn over each output row, so that the packed input row stays in L1 between them. No sums
 * of lanes, no partial sums: 80-90% of peak for every ResNet stage when measured alone on an
 * AVX-512 machine (71% for the 64-channel stage with AVX2). A job skips the output rows whose
 * input rows under its R kernel rows are all zero padding (at 4x4 with a 3x3 kernel, pad 1: 2
 * of 12 row-taps; resnet18_cifar's 512-channel dw at batch 32, one thread, in the step: 55.8
 * -> 49.9 ms).
 *
 * Otherwise, planes of pitch OW (dw_*): every plane is laid out flat with the output's row
 * pitch OW, so that no lane is spent on padding columns: dyp[i][oc][q] is dy's plane itself
 * (q = oh * OW + ow, zero from OH * OW up to L, a multiple of 16), and the input is copied
 * once per kernel column kw, shifted: xs[i][ic][kw][r * OW + ow] = the zero-padded input at
 * row r, column ow + kw. Then every tap is a dot product of contiguous vectors:
 *     dw[oc][ic][kh][kw] = sum over i, q of dyp[i][oc][q] * xs[i][ic][kw][q + kh * OW].
 * A job (input channel, block of OCB output channels, block of R kernel rows) holds OCB x
 * (R * KW) vector accumulators over the chunk: per vector step, OCB dy loads and R * KW x
 * loads feed OCB * R * KW fused multiply-adds. The lanes reach dw one of two ways:
 *   - few weights (16 x OC x IC x KH x KW floats within PDW_FLOATS): the tile is added into
 *     vector partial sums in the scratch (CNN_VW lanes per dw entry) once per chunk, and the
 *     lanes are summed into dw at the end; chunks sized so that a job's planes stay in L1;
 *   - many weights: each job sums its tile's lanes (in a fixed order) into dw once per chunk,
 *     and a chunk holds at least HSUM_FLOATS positions so that the sums cost a few % of the
 *     multiply-adds; planes under 256 positions are left to conv.c.
 * The scratch holds one chunk's packed input (and dy planes, partial sums). Measured on a
 * 2-core AVX-512 Xeon, 1 thread, the op alone (best of 20, loaded machine), GFLOP/s against a
 * peak of 176: simplecnn's 32->64 at 14x14, batch 64: 74 (this file's planes with 8-float
 * vectors) -> 155; ResNet at batch 32, 64->64 at 32x32: 37 (conv.c) -> 146; 128 at 16x16:
 * 52 -> 144; 256 at 8x8: 70 -> 150; 512 at 4x4: 59 -> 137. */
#include <stdbool.h>

#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../ops.h"

int64_t conv_bwd_dw_scratch(const Attrs *a, Shape in, Shape out);
bool conv_bwd_emit_dw(Emit *e, const Op *fwd);
int64_t conv_bwd_dwc_scratch(const Attrs *a, Shape in, Shape out);
bool conv_bwd_emit_dwc(Emit *e, const Op *fwd);

/* DW_LANES: the widest vector (16 floats, AVX-512) that L and XS are rounded to; the 8-float
 * vectors of other targets divide it. L1_BYTES: the share of the L1 data cache one chunk's
 * block of output channels and input planes may fill. PDW_FLOATS: the most partial sums kept
 * in the scratch; beyond, the lanes are summed per chunk over at least HSUM_FLOATS positions.
 * LANES and MAX_NI: the data gradient's geometry unit (8 floats; its runs take 16 with AVX-512) and chunks. */
enum { DW_LANES = 16, L1_BYTES = 24576, PDW_FLOATS = 1 << 19, HSUM_FLOATS = 2048, DW_MAX_NI = 64, LANES = 8, MAX_NI = 16 };

typedef struct {
    int ihp, l, xs, ni; /* padded input rows, dy plane, one shifted input copy, images per chunk */
    bool hsum; /* the lanes summed into dw per chunk and job (else partial sums in the scratch) */
    int ocb[3], r[3]; /* the tile with AVX-512 (32 registers of 16), AVX (16 of 8), else (16 halves) */
} DwGeo;

/* The tile for an accumulator budget: OCB a divisor of OC (at most 16), R a divisor of KH,
 * OCB * R * KW accumulators within budget and the vectors loaded per step beside them within
 * room (the OCB dy vectors and one x vector, or with tap_loads the R * KW input vectors and one
 * broadcast: the channels-in-lanes kernel below); the largest FMAs-per-load ratio, then the
 * most accumulators. */
static void dw_tile(int oc, int kh, int kw, int budget, int room, bool tap_loads, int *ocb_out, int *r_out) {
    int best_o = 1, best_r = 1;
    double best = -1;
    for (int o = 1; o <= oc && o <= 16; o++) {
        if (oc % o)
            continue;
        for (int r = 1; r <= kh; r++) {
            int t = r * kw, acc = o * t;
            if (kh % r || acc > budget || acc + (tap_loads ? t : o) + 1 > room)
                continue;
            double ratio = (double)acc / (o + t) + acc * 1e-4;
            if (ratio > best)
                best = ratio, best_o = o, best_r = r;
        }
    }
    *ocb_out = best_o, *r_out = best_r;
}

/* Keeps the loop that follows rolled on targets without AVX-512 (16 vector registers), whose
 * tiles fill the registers: unrolled, clang spilled them; why: a comment, or NULL. */
static void emit_rolled_without_avx512(Cbuf *c, const char *why) {
    if (why)
        cb_line(c, "#if !defined(__AVX512F__) /* %s */", why);
    else
        cb_line(c, "#if !defined(__AVX512F__)");
    cb_line(c, "#pragma GCC unroll 1");
    cb_line(c, "#endif");
}

/* The tile dw_tile chose for each target (AVX-512, AVX, else), as the generated C's OCB and R. */
static void emit_tile_enums(Cbuf *c, const int ocb[3], const int r[3]) {
    cb_line(c, "#if defined(__AVX512F__)");
    cb_line(c, "enum { OCB = %d, R = %d };", ocb[0], r[0]);
    cb_line(c, "#elif defined(__AVX__)");
    cb_line(c, "enum { OCB = %d, R = %d };", ocb[1], r[1]);
    cb_line(c, "#else");
    cb_line(c, "enum { OCB = %d, R = %d };", ocb[2], r[2]);
    cb_line(c, "#endif");
}

static bool dw_geo(const Attrs *a, Shape in, Shape out, DwGeo *q) {
    int ic = in.d[1], oc = out.d[1], oh = out.d[2], ow = out.d[3];
    /* where measured faster: stride-1 convs of two or more input channels (one input channel:
     * conv_small.c's), kernels of 4 taps and more, from LeNet's 6->16 to ResNet's 512->512 */
    if (a->sh != 1 || a->sw != 1 || a->dh != 1 || a->dw != 1 || a->groups != 1 || a->kw > 8 || a->kh > 8 ||
        a->kh * a->kw < 4 || ow < 1 || ic < 2)
        return false;
    q->ihp = in.d[2] + a->ph + a->ph_end;
    if ((long long)q->ihp * ow * a->kw > 16384)
        return false;
    q->l = (oh * ow + DW_LANES - 1) / DW_LANES * DW_LANES;
    int xs = q->l + (a->kh - 1) * ow;
    if (xs < q->ihp * ow)
        xs = q->ihp * ow;
    q->xs = (xs + DW_LANES - 1) / DW_LANES * DW_LANES;
    dw_tile(oc, a->kh, a->kw, 24, 31, false, &q->ocb[0], &q->r[0]);
    dw_tile(oc, a->kh, a->kw, 12, 15, false, &q->ocb[1], &q->r[1]);
    dw_tile(oc, a->kh, a->kw, 6, 7, false, &q->ocb[2], &q->r[2]);
    if (q->ocb[0] * q->r[0] * a->kw < 4) /* too small a tile to pay */
        return false;
    int ocb = q->ocb[0];
    q->hsum = (long long)16 * oc * ic * a->kh * a->kw > PDW_FLOATS;
    if (q->hsum ? oh * ow < 256 : oh * ow < 64) /* smaller planes: the other kernels (measured faster) */
        return false;
    q->ni = L1_BYTES / (4 * (ocb * q->l + a->kw * q->xs));
    if (q->hsum && q->ni * q->l < HSUM_FLOATS) /* enough vector steps to pay the lane sums */
        q->ni = (HSUM_FLOATS + q->l - 1) / q->l;
    q->ni = q->ni < 1 ? 1 : q->ni > DW_MAX_NI ? DW_MAX_NI : q->ni;
    if (q->ni > in.d[0])
        q->ni = in.d[0];
    return true;
}

/* The weight gradient with the input channels in the lanes (see the top of the file): taken
 * before the planes of pitch OW whenever the input channels are a multiple of 16, where it was
 * measured faster on every shape tried (simplecnn's 32->64, ResNet's 64 to 512 channels, its
 * stride-2 3x3 convs too: the output pixel (oh, ow) reads the packed input at (oh * SH + kh,
 * ow * SW + kw)). Grouped convs when each group's input channels are a multiple of 16: a job's
 * block of input channels lies in group gq and runs over that group's OCG output channels (the
 * packed input holds every channel); a VGG-like net's grouped 3x3 convs 40-67% -> 72-95% of
 * peak (conv.c's general path before; bench/README.md, 2026-12-03). Dilated convs: tap (kh, kw)
 * reads the packed input at (oh * SH + kh * DH, ow * SW + kw * DW); a DeepLab-like module's
 * dilated 3x3 convs 55% -> 91-95%. */
/* XP_FLOATS: a chunk's packed input, 1 MB; twice that when dw has more than DWC_BIG floats
 * (2 MB): each chunk's jobs add their tiles into dw, whose entries then miss the caches, so
 * fewer chunks pay (ResNet-18 at batch 8, one thread, a conv's dw alone called 20-40 times,
 * median, alternated 3 times: layer4's 512 -> 512 at 7x7, 6 -> 8 images a chunk, 12.5-13.9
 * -> 11.2-12.7 ms; its 256 -> 512 stride 2, 4 -> 8, 7.5-7.8 -> 7.2-7.4; layer3's 256 -> 256
 * at 14x14, 4 -> 8, 11.2-12.5 -> 10.9-11.0; smaller dw no gain: layer3's 128 -> 256 stride 2
 * (295K floats) 6.5-7.1 either way, layer1's 64 -> 64 at 56x56 10.8-11.1 -> 11.1-11.3;
 * ResNet-18's whole step at batch 8, one thread, alternated 6 times: 511-530 -> 501-516 ms;
 * resnet18_cifar's at batch 64, 3 times: no difference, 1166-1208 against 1169-1177 ms).
 * DWC_PASS: pixels per tile pass. */
enum { XP_FLOATS = 262144, DWC_BIG = 1 << 19, DWC_PASS = 32 };

typedef struct {
    int ihp, iwp, ni;
    int ocb[3], r[3]; /* the tile with AVX-512 (32 registers), AVX (16), else (16 halves) */
} DwcGeo;

static bool dwc_geo(const Attrs *a, Shape in, Shape out, DwcGeo *q) {
    int ic = in.d[1], oc = out.d[1], icg = ic / a->groups, ocg = oc / a->groups;
    /* where measured faster than conv.c's and the kernel above: input channels a multiple of 16
     * (of each group: a job's block of input channels lies in one group, whose output channels
     * it runs over) */
    if (a->kw > 8 || a->kh > 8 || a->kh * a->kw < 4 || icg % 16 || icg < 16 ||
        ocg < 16) /* any stride and dilation: ResNet's stride-2 3x3 convs (its 1x1 ones were slower than conv.c's) */
        return false;
    q->ihp = in.d[2] + a->ph + a->ph_end;
    q->iwp = in.d[3] + a->pw + a->pw_end;
    long long image = (long long)q->ihp * q->iwp * ic;
    if (image > (a->narrow ? 4 : 1) * XP_FLOATS) /* (widened narrow groups: the other kernels are far slower) */
        return false;
    long long xpf = (long long)oc * ic * a->kh * a->kw > DWC_BIG ? 2LL * XP_FLOATS : XP_FLOATS;
    q->ni = image > xpf ? 1 : (int)(xpf / image);
    if (q->ni > in.d[0])
        q->ni = in.d[0];
    dw_tile(ocg, a->kh, a->kw, 24, 32, true, &q->ocb[0], &q->r[0]);
    dw_tile(ocg, a->kh, a->kw, 12, 16, true, &q->ocb[1], &q->r[1]);
    dw_tile(ocg, a->kh, a->kw, 6, 8, true, &q->ocb[2], &q->r[2]);
    return true;
}

static bool dwc_emit(Emit *e, const Op *fwd) {
    const Attrs *a = &fwd->a;
    Shape in = emit_in_shape(e, fwd, 0), out = emit_out_shape(e, fwd);
    DwcGeo q;
    if (!dwc_geo(a, in, out, &q))
        return false;
    Cbuf *c = e->c;
    cb_line(c, "{ /* dw: input channels in the lanes, over a channels-last padded copy of the input (conv_bwd.c) */");
    cb_line(c, "enum { IHP = %d, IWP = %d, NI = %d };", q.ihp, q.iwp, q.ni);
    /* Narrow groups widened (conv.c: conv_widen; Attrs.narrow the layer's groups): the wide
     * groups' block-diagonal weights, the layer's ICGN -> OCGN channels a group; a job whose
     * lanes' narrow groups none of its output channels are in is skipped, and of the others
     * only the sums of a lane and an output channel of the same narrow group are stored, at
     * their place in the layer's dw [OC][ICGN][KH][KW]. */
    bool nar = a->narrow > 0;
    if (nar)
        cb_line(c, "enum { ICGN = %d, OCGN = %d }; /* the layer's narrow groups */", in.d[1] / a->narrow, out.d[1] / a->narrow);
    cb_line(c, "#if CNN_VECTORS");
    emit_tile_enums(c, q.ocb, q.r);
    cb_line(c, "enum { NOB = OCG / OCB, NTB = KH / R, NCB = IC / CNN_VW }; /* output blocks of a group */");
    cb_line(c, "#endif");
    cb_line(c, "float *xp = scratch; /* [NI][IHP][IWP][IC] */");
    cb_line(c, "for (int i0 = 0; i0 < n; i0 += NI) {");
    cb_line(c, "const int ni = n - i0 < NI ? n - i0 : NI;");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < ni * IHP; job++) { /* pack a row: channels last, zero-padded */");
    cb_line(c, "const int i = job / IHP, h = job %% IHP - PH; /* image, input row */");
    cb_line(c, "float *row = xp + (ptrdiff_t)job * IWP * IC;");
    cb_line(c, "if (h < 0 || h >= IH) {");
    cb_line(c, "memset(row, 0, sizeof(float) * IWP * IC);");
    cb_line(c, "continue;");
    cb_line(c, "}");
    cb_line(c, "memset(row, 0, sizeof(float) * PW * IC);");
    cb_line(c, "memset(row + (ptrdiff_t)(PW + IW) * IC, 0, sizeof(float) * (IWP - PW - IW) * IC);");
    /* With vector shuffles: blocks of CNN_VW channels x CNN_VW pixels of the row transposed in
     * registers (emit_transpose; the last block of the row overlapping the one before), each
     * pixel's CNN_VW channels stored as one vector. Read a float at a time (channel by channel
     * along the row, below), the packing had taken 13% of resnet18_cifar's 64-channel weight
     * gradient at batch 64 on one thread and 20% on two. Channel by channel, not pixel by
     * pixel: a pixel's channels lie a plane apart (one page each, 4 KB at 32x32), and read
     * pixel by pixel they missed the TLB at every element (9 cycles an element, 12% of that
     * weight gradient); the row's strided stores stay in L1. */
    cb_line(c, "const float *xs = x + ((ptrdiff_t)(i0 + i) * IC * IH + h) * IW;");
    cb_line(c, "#if CNN_SHUFFLE");
    cb_line(c, "if (IW >= CNN_VW) {");
    cb_line(c, "for (int c0 = 0; c0 < IC; c0 += CNN_VW)");
    cb_line(c, "for (int w0 = 0; w0 < IW; w0 += CNN_VW) {");
    cb_line(c, "const int ws = w0 + CNN_VW <= IW ? w0 : IW - CNN_VW; /* the last block overlaps */");
    emit_transposed_block(c, "xs + (ptrdiff_t)(c0 + p) * IH * IW + ws", "row + (ptrdiff_t)(ws + j + PW) * IC + c0", NULL);
    cb_line(c, "}");
    cb_line(c, "} else {");
    /* Rows narrower than a vector (ResNet's 14 and 7 columns with AVX-512): each channel's row
     * loaded whole into a zeroed vector, the block transposed, the row's IW pixels stored (read
     * a float at a time, the packing had taken 9% of ResNet-18's strided layer4 weight gradient
     * at batch 8, one thread). */
    cb_line(c, "enum { NW = IW < CNN_VW ? IW : CNN_VW };");
    cb_line(c, "for (int c0 = 0; c0 < IC; c0 += CNN_VW) {");
    cb_line(c, "cnn_vec m[CNN_VW];");
    cb_line(c, "for (int p = 0; p < CNN_VW; p++) {");
    cb_line(c, "    m[p] = (cnn_vec){0};");
    cb_line(c, "    memcpy(&m[p], xs + (ptrdiff_t)(c0 + p) * IH * IW, sizeof(float) * NW);");
    cb_line(c, "}");
    emit_transpose(c, "m", "cnn_vec");
    cb_line(c, "for (int j = 0; j < NW; j++)");
    cb_line(c, "    memcpy(row + (ptrdiff_t)(j + PW) * IC + c0, &m[j], sizeof m[j]);");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#else");
    cb_line(c, "for (int ic = 0; ic < IC; ic++)");
    cb_line(c, "    for (int wc = 0; wc < IW; wc++)");
    cb_line(c, "        row[(ptrdiff_t)(wc + PW) * IC + ic] = xs[(ptrdiff_t)ic * IH * IW + wc];");
    cb_line(c, "#endif");
    cb_line(c, "}");
    /* A job: a block of CNN_VW input channels, R kernel rows and OBG blocks of OCB output
     * channels (16 output channels in all where they divide). By groups of RG output rows,
     * each of its OBG tiles is loaded from the job's accumulators, run along the rows and
     * stored back, so that the rows of packed input stay in L1 for the OBG tiles (one tile per
     * job read them from L2: 42-48% of peak for resnet18_cifar's 64-channel weight gradient
     * alone on an AVX2 machine, 71% this way, with the row-wise pack above); RG rows make
     * DWC_PASS pixels at least per pass, so that short rows (ResNet's 7 and 14 columns) do not
     * spend a tile's loads and stores on a few pixels; a plane of at most 2 * DWC_PASS pixels in
     * one pass (ResNet-18's 7x7 outputs had run passes of 5 and 2 rows: layer4's strided 3x3
     * weight gradient, batch 8, one thread, 40 calls, median, alternated 4 times: 6.38-6.66 ->
     * 5.75-6.27 ms; its stride-1 3x3's 10.23-10.37 against 10.12-10.40). The sums run in the
     * same order as row by row (per tile: image, row, column): the same results. */
    int rg = (DWC_PASS + out.d[3] - 1) / out.d[3];
    if (rg > out.d[2] || out.d[2] * out.d[3] <= 2 * DWC_PASS)
        rg = out.d[2];
    int obg[3];
    for (int k = 0; k < 3; k++) {
        int nob = out.d[1] / a->groups / q.ocb[k];
        obg[k] = 1;
        for (int g = 1; g <= nob && g * q.ocb[k] <= 16; g++)
            if (nob % g == 0)
                obg[k] = g;
    }
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "#if defined(__AVX512F__)");
    cb_line(c, "enum { OBG = %d }; /* tiles of OCB output channels per job */", obg[0]);
    cb_line(c, "#elif defined(__AVX__)");
    cb_line(c, "enum { OBG = %d };", obg[1]);
    cb_line(c, "#else");
    cb_line(c, "enum { OBG = %d };", obg[2]);
    cb_line(c, "#endif");
    /* Whole kernels per job (every kernel row block, one after the other, over the same rows
     * of packed input) when the kernel has at most 16 taps and the jobs stay 8 at least: the
     * job's sums of an output channel are then the 16 input channels' KH x KW blocks, 16 runs of
     * contiguous floats of dw, written after a transpose in registers (a float at a time, with
     * the kernel rows in separate jobs, dw's adds had been 7% of ResNet-18's strided layer4
     * weight gradient at batch 8, one thread). That op alone, 30 calls, median, alternated 3
     * times: 6.37-6.61 ms, 6.08-6.29 with the narrow rows' packing above, 5.54-5.62 with whole
     * kernels; layer4's and layer3's stride-1 3x3 10.3 -> 9.5 and 10.1 -> 9.3 ms; layer1's and
     * layer2's (more columns a row, fewer channels) within the noise. */
    bool whole = a->kh * a->kw <= 16 && q.r[0] < a->kh &&
                 (long long)(in.d[1] / 16) * (out.d[1] / a->groups / q.ocb[0] / obg[0]) >= 8;
    cb_line(c, "enum { TBJ = %s }; /* kernel row blocks per job */", whole ? "NTB" : "1");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < NCB * (NOB / OBG) * (NTB / TBJ); job++) {");
    cb_line(c, "const int tj = job %% (NTB / TBJ), og = job / (NTB / TBJ) %% (NOB / OBG), cb = job / (NTB / TBJ) / (NOB / OBG);");
    cb_line(c, "const int c0 = cb * CNN_VW, gq = c0 / ICG; /* gq: the channels' group */");
    if (nar) {
        cb_line(c, "const int oa = gq * OCG + og * OBG * OCB; /* the job's first output channel */");
        cb_line(c, "if ((c0 + CNN_VW - 1) / ICGN < oa / OCGN || c0 / ICGN > (oa + OBG * OCB - 1) / OCGN)");
        cb_line(c, "    continue; /* no output channel of the lanes' narrow groups */");
    }
    cb_line(c, "cnn_vec accw[TBJ][OBG][OCB][R * KW];");
    cb_line(c, "for (int tt = 0; tt < TBJ; tt++) {");
    cb_line(c, "const int kh0 = (tj * TBJ + tt) * R;");
    cb_line(c, "cnn_vec (*const accs)[OCB][R * KW] = accw[tt];");
    cb_line(c, "for (int g = 0; g < OBG; g++)");
    cb_line(c, "    for (int o = 0; o < OCB; o++)");
    cb_line(c, "        for (int t = 0; t < R * KW; t++)");
    cb_line(c, "            accs[g][o][t] = (cnn_vec){0};");
    cb_line(c, "/* the output rows whose input rows under kernel rows kh0 .. kh0 + R - 1 are not all padding */");
    cb_line(c, "const int top = PH - (kh0 + R - 1) * DH, bottom = IH - 1 + PH - kh0 * DH;");
    cb_line(c, "const int oh0 = top > 0 ? (top + SH - 1) / SH : 0;");
    cb_line(c, "const int oh1 = bottom < 0 ? 0 : bottom / SH + 1 < OH ? bottom / SH + 1 : OH;");
    cb_line(c, "enum { RG = %d }; /* output rows per pass of a tile (%d pixels at least between its load and store) */", rg,
            DWC_PASS);
    cb_line(c, "for (int i = 0; i < ni; i++)");
    cb_line(c, "for (int ohb = oh0; ohb < oh1; ohb += RG) {");
    cb_line(c, "const int ohe = ohb + RG < oh1 ? ohb + RG : oh1;");
    cb_line(c, "for (int g = 0; g < OBG; g++) {");
    cb_line(c, "const int oc0 = gq * OCG + (og * OBG + g) * OCB;");
    cb_line(c, "cnn_vec acc[OCB][R * KW];");
    cb_line(c, "memcpy(acc, accs[g], sizeof acc);");
    cb_line(c, "for (int oh = ohb; oh < ohe; oh++) {");
    cb_line(c, "const float *xr = xp + (((ptrdiff_t)i * IHP + oh * SH + kh0 * DH) * IWP) * IC + c0;");
    cb_line(c, "const float *dr = dy + ((ptrdiff_t)(i0 + i) * OC + oc0) * OH * OW + oh * OW;");
    emit_rolled_without_avx512(c, "16 vector registers: the tile fills them, and unrolled it spills");
    cb_line(c, "for (int ow = 0; ow < OW; ow++) {");
    cb_line(c, "const float *xq = xr + (ptrdiff_t)ow * SW * IC;");
    cb_line(c, "cnn_vec xv[R * KW];");
    cb_line(c, "for (int t = 0; t < R * KW; t++)");
    cb_line(c, "    memcpy(&xv[t], xq + ((ptrdiff_t)(t / KW) * DH * IWP + t %% KW * DW) * IC, sizeof xv[t]);");
    cb_line(c, "for (int o = 0; o < OCB; o++) {");
    cb_line(c, "const float d = dr[(ptrdiff_t)o * OH * OW + ow];");
    cb_line(c, "for (int t = 0; t < R * KW; t++)");
    cb_line(c, "    acc[o][t] += d * xv[t];");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "memcpy(accs[g], acc, sizeof acc);");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    if (whole) {
        cb_line(c, "#if CNN_SHUFFLE && CNN_VW == 16");
        cb_line(c, "for (int g = 0; g < OBG; g++) {");
        cb_line(c, "const int oc0 = gq * OCG + (og * OBG + g) * OCB;");
        cb_line(c, "for (int o = 0; o < OCB; o++) { /* lanes: input channels; vectors: taps -> the reverse */");
        cb_line(c, "cnn_vec m[CNN_VW];");
        cb_line(c, "for (int t = 0; t < CNN_VW; t++)");
        cb_line(c, "    m[t] = (cnn_vec){0};");
        cb_line(c, "for (int tt = 0; tt < TBJ; tt++)");
        cb_line(c, "    for (int t = 0; t < R * KW; t++)");
        cb_line(c, "        m[tt * R * KW + t] = accw[tt][g][o][t];");
        emit_transpose(c, "m", "cnn_vec");
        cb_line(c, "for (int j = 0; j < CNN_VW; j++) {");
        if (nar) {
            cb_line(c, "if ((c0 + j) / ICGN != (oc0 + o) / OCGN)");
            cb_line(c, "    continue;");
            cb_line(c, "float *const d = dw + ((ptrdiff_t)(oc0 + o) * ICGN + (c0 + j) %% ICGN) * KH * KW;");
        } else {
            cb_line(c, "float *const d = dw + ((ptrdiff_t)(oc0 + o) * ICG + c0 - gq * ICG + j) * KH * KW;");
        }
        cb_line(c, "cnn_vec v = (cnn_vec){0};");
        cb_line(c, "memcpy(&v, d, sizeof(float) * KH * KW);");
        cb_line(c, "v += m[j];");
        cb_line(c, "memcpy(d, &v, sizeof(float) * KH * KW);");
        cb_line(c, "}");
        cb_line(c, "}");
        cb_line(c, "}");
        cb_line(c, "#else");
    }
    cb_line(c, "for (int tt = 0; tt < TBJ; tt++) {");
    cb_line(c, "const int kb = (tj * TBJ + tt) * R; /* the block's first kernel row */");
    cb_line(c, "for (int g = 0; g < OBG; g++) {");
    cb_line(c, "const int oc0 = gq * OCG + (og * OBG + g) * OCB;");
    cb_line(c, "float res[OCB][R * KW][CNN_VW];");
    cb_line(c, "memcpy(res, accw[tt][g], sizeof res);");
    cb_line(c, "for (int o = 0; o < OCB; o++)");
    cb_line(c, "    for (int t = 0; t < R * KW; t++)");
    cb_line(c, "        for (int j = 0; j < CNN_VW; j++)");
    if (nar) {
        cb_line(c, "            if ((c0 + j) / ICGN == (oc0 + o) / OCGN)");
        cb_line(c, "                dw[(((ptrdiff_t)(oc0 + o) * ICGN + (c0 + j) %% ICGN) * KH + kb) * KW + t] += res[o][t][j];");
    } else {
        cb_line(c, "            dw[(((ptrdiff_t)(oc0 + o) * ICG + c0 - gq * ICG + j) * KH + kb) * KW + t] += res[o][t][j];");
    }
    cb_line(c, "}");
    cb_line(c, "}");
    if (whole)
        cb_line(c, "#endif");
    cb_line(c, "}");
    cb_line(c, "#else");
    cb_line(c, "PARALLEL_FOR");
    if (nar) { /* the layer's own groups */
        cb_line(c, "for (int job = 0; job < OC * ICGN; job++) {");
        cb_line(c, "const int oc = job / ICGN, icl = job %% ICGN, ic = oc / OCGN * ICGN + icl;");
    } else {
        cb_line(c, "for (int job = 0; job < OC * ICG; job++) {");
        cb_line(c, "const int oc = job / ICG, icl = job %% ICG, ic = oc / OCG * ICG + icl;");
    }
    cb_line(c, "for (int k = 0; k < KH * KW; k++) {");
    cb_line(c, "float s = 0.0f;");
    cb_line(c, "for (int i = 0; i < ni; i++)");
    cb_line(c, "    for (int p = 0; p < OH * OW; p++)");
    cb_line(c, "        s += dy[((ptrdiff_t)(i0 + i) * OC + oc) * OH * OW + p] *");
    cb_line(c, "             xp[(((ptrdiff_t)i * IHP + p / OW * SH + k / KW * DH) * IWP + p %% OW * SW + k %% KW * DW) * IC + ic];");
    cb_line(c, nar ? "dw[((ptrdiff_t)oc * ICGN + icl) * KH * KW + k] += s;" : "dw[((ptrdiff_t)oc * ICG + icl) * KH * KW + k] += s;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#endif");
    cb_line(c, "}");
    cb_line(c, "}");
    return true;
}

/* The weight gradient with the images in the vector lanes (dwb_*), for the layers whose data
 * gradient takes the images in the lanes too (few channels, rows of 32 or fewer, 16+ images per
 * call: LeNet-5's 1->6 at 28x28 pad 2 and 6->16 at 14x14): per chunk of CNN_VW images, the
 * input is copied zero-padded and dy as is, each element a vector of the chunk's images,
 * xt[ic][r][c][l] and yt[oc][oh][ow][l] (images past n zero). A job (input channel, block of OCB
 * output channels, block of R kernel rows) holds OCB x (R * KW) accumulators over the output
 * pixels: per pixel, OCB dy loads and R * KW input loads, all aligned, feed OCB * R * KW fused
 * multiply-adds, and no lane is spent on padding (the planes of pitch OW above round LeNet's
 * 100 positions to 112, conv_small.c's 28 columns to 32, with unaligned input loads). The tile
 * is added into vector partial sums (one writer per entry, chunks in order) and the lanes
 * summed into dw at the end. */
typedef struct {
    int ihp, iwp;
    int ocb[3], r[3];
} DwbGeo;

/* The scratch floats: a chunk's input and dy with 16 lanes (the widest vectors) and the lanes'
 * partial sums of dw. */
static int64_t dwb_scratch(const Attrs *a, Shape in, Shape out, const DwbGeo *q) {
    return 16 * ((int64_t)in.d[1] * q->ihp * q->iwp + (int64_t)out.d[1] * out.d[2] * out.d[3] +
                 (int64_t)out.d[1] * in.d[1] * a->kh * a->kw);
}

static bool dwb_geo(const Attrs *a, Shape in, Shape out, DwbGeo *q) {
    int ic = in.d[1], oc = out.d[1];
    if (a->sh != 1 || a->sw != 1 || a->dh != 1 || a->dw != 1 || a->groups != 1 || in.d[0] < 16 || ic < 2 || ic > 16 ||
        ic % 16 == 0 || oc > 64 || a->kh < 3 || a->kw < 3 || a->kh > 8 || a->kw > 8 || in.d[3] > 32)
        return false;
    q->ihp = in.d[2] + a->ph + a->ph_end;
    q->iwp = in.d[3] + a->pw + a->pw_end;
    dw_tile(oc, a->kh, a->kw, 24, 31, false, &q->ocb[0], &q->r[0]);
    dw_tile(oc, a->kh, a->kw, 12, 15, false, &q->ocb[1], &q->r[1]);
    dw_tile(oc, a->kh, a->kw, 6, 7, false, &q->ocb[2], &q->r[2]);
    return dwb_scratch(a, in, out, q) <= (1 << 20);
}

static bool dwb_emit(Emit *e, const Op *fwd) {
    const Attrs *a = &fwd->a;
    Shape in = emit_in_shape(e, fwd, 0), out = emit_out_shape(e, fwd);
    DwbGeo q;
    if (!dwb_geo(a, in, out, &q))
        return false;
    Cbuf *c = e->c;
    cb_line(c, "{ /* dw: the images in the vector lanes, OCB channels x R * KW taps per tile (conv_bwd.c) */");
    cb_line(c, "#if CNN_VECTORS");
    emit_tile_enums(c, q.ocb, q.r);
    cb_line(c, "enum { VL = CNN_VW, IHP = %d, IWP = %d, NOB = OC / OCB, NTB = KH / R };", q.ihp, q.iwp);
    cb_line(c, "float *const xt = scratch; /* [IC][IHP][IWP][VL] */");
    cb_line(c, "float *const yt = xt + (ptrdiff_t)IC * IHP * IWP * VL; /* [OC][OH][OW][VL] */");
    cb_line(c, "float *const pdw = yt + (ptrdiff_t)OC * OH * OW * VL; /* [OC][IC][KH][KW][VL]: the lanes' partial sums */");
    cb_line(c, "memset(xt, 0, sizeof(float) * IC * IHP * IWP * VL); /* the padding stays zero */");
    cb_line(c, "memset(pdw, 0, sizeof(float) * OC * IC * KH * KW * VL);");
    cb_line(c, "for (int i0 = 0; i0 < n; i0 += VL) {");
    cb_line(c, "const int ni = n - i0 < VL ? n - i0 : VL;");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int r = 0; r < IC * IH + OC * OH; r++) { /* a row of x or dy, each image into its lane */");
    cb_line(c, "float *t;");
    cb_line(c, "const float *src;");
    cb_line(c, "int cols, pitch;");
    cb_line(c, "if (r < IC * IH) {");
    cb_line(c, "t = xt + (((ptrdiff_t)(r / IH) * IHP + r %% IH + PH) * IWP + PW) * VL;");
    cb_line(c, "src = x + r * IW, cols = IW, pitch = IC * IH * IW;");
    cb_line(c, "} else {");
    cb_line(c, "t = yt + (ptrdiff_t)(r - IC * IH) * OW * VL;");
    cb_line(c, "src = dy + (r - IC * IH) * OW, cols = OW, pitch = OC * OH * OW;");
    cb_line(c, "}");
    cb_line(c, "const float *const s = src + (ptrdiff_t)i0 * pitch;");
    cb_line(c, "if (ni == VL) /* a full chunk: one column of the chunk's images per vector (a gather) */");
    cb_line(c, "    for (int col = 0; col < cols; col++)");
    cb_line(c, "        for (int l = 0; l < VL; l++)");
    cb_line(c, "            t[col * VL + l] = s[(ptrdiff_t)l * pitch + col];");
    cb_line(c, "else");
    cb_line(c, "    for (int col = 0; col < cols; col++)");
    cb_line(c, "        for (int l = 0; l < VL; l++)");
    cb_line(c, "            t[col * VL + l] = l < ni ? s[(ptrdiff_t)l * pitch + col] : 0.0f;");
    cb_line(c, "}");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < IC * NOB * NTB; job++) {");
    cb_line(c, "const int tb = job %% NTB, ob = job / NTB %% NOB, ic = job / NTB / NOB;");
    cb_line(c, "const int oc0 = ob * OCB, kh0 = tb * R;");
    cb_line(c, "cnn_vec acc[OCB][R * KW];");
    cb_line(c, "for (int o = 0; o < OCB; o++)");
    cb_line(c, "    for (int t = 0; t < R * KW; t++)");
    cb_line(c, "        acc[o][t] = (cnn_vec){0};");
    cb_line(c, "for (int oh = 0; oh < OH; oh++) {");
    cb_line(c, "const float *const xr = xt + ((ptrdiff_t)ic * IHP + oh + kh0) * IWP * VL;");
    cb_line(c, "const float *const yr = yt + ((ptrdiff_t)oc0 * OH + oh) * OW * VL;");
    /* Kept rolled without AVX-512: unrolled, clang kept the columns of x that neighbouring ow
     * share in registers beside the tile, and LeNet-5's 2 x 5 tile spilled 92 times per 200
     * multiply-adds (none rolled). */
    emit_rolled_without_avx512(c, NULL);
    cb_line(c, "for (int ow = 0; ow < OW; ow++) {");
    cb_line(c, "cnn_vec yv[OCB];");
    cb_line(c, "for (int o = 0; o < OCB; o++)");
    cb_line(c, "    memcpy(&yv[o], yr + ((ptrdiff_t)o * OH * OW + ow) * VL, sizeof yv[o]);");
    cb_line(c, "for (int t = 0; t < R * KW; t++) {");
    cb_line(c, "cnn_vec xv;");
    cb_line(c, "memcpy(&xv, xr + ((ptrdiff_t)(t / KW) * IWP + ow + t %% KW) * VL, sizeof xv);");
    cb_line(c, "for (int o = 0; o < OCB; o++)");
    cb_line(c, "    acc[o][t] += yv[o] * xv;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "for (int o = 0; o < OCB; o++)");
    cb_line(c, "    for (int t = 0; t < R * KW; t++) {");
    cb_line(c, "        float *pp = pdw + ((((ptrdiff_t)(oc0 + o) * IC + ic) * KH + kh0) * KW + t) * VL;");
    cb_line(c, "        cnn_vec v;");
    cb_line(c, "        memcpy(&v, pp, sizeof v);");
    cb_line(c, "        v += acc[o][t];");
    cb_line(c, "        memcpy(pp, &v, sizeof v);");
    cb_line(c, "    }");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int k = 0; k < OC * IC * KH * KW; k++) { /* the lanes, summed once */");
    cb_line(c, "float s = 0.0f;");
    cb_line(c, "for (int j = 0; j < VL; j++)");
    cb_line(c, "    s += pdw[(ptrdiff_t)k * VL + j];");
    cb_line(c, "dw[k] += s;");
    cb_line(c, "}");
    cb_line(c, "#else");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < OC * IC; job++) {");
    cb_line(c, "const int oc = job / IC, ic = job %% IC;");
    cb_line(c, "for (int k = 0; k < KH * KW; k++) {");
    cb_line(c, "const int kh = k / KW, kw = k %% KW;");
    cb_line(c, "float s = 0.0f;");
    cb_line(c, "for (int i = 0; i < n; i++)");
    cb_line(c, "    for (int oh = 0; oh < OH; oh++) {");
    cb_line(c, "        const int ih = oh + kh - PH;");
    cb_line(c, "        if (ih < 0 || ih >= IH)");
    cb_line(c, "            continue;");
    cb_line(c, "        for (int ow = 0; ow < OW; ow++) {");
    cb_line(c, "            const int iw = ow + kw - PW;");
    cb_line(c, "            if (iw >= 0 && iw < IW)");
    cb_line(c, "                s += dy[(((ptrdiff_t)i * OC + oc) * OH + oh) * OW + ow] * x[(((ptrdiff_t)i * IC + ic) * IH + ih) * IW + iw];");
    cb_line(c, "        }");
    cb_line(c, "    }");
    cb_line(c, "dw[((ptrdiff_t)oc * IC + ic) * KH * KW + k] += s;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#endif");
    cb_line(c, "}");
    return true;
}

/* The channels-in-lanes kernel alone (conv.c's widened narrow groups): its scratch or -1, its code. */
int64_t conv_bwd_dwc_scratch(const Attrs *a, Shape in, Shape out) {
    DwcGeo qc;
    return dwc_geo(a, in, out, &qc) ? (int64_t)qc.ni * qc.ihp * qc.iwp * in.d[1] : -1;
}

bool conv_bwd_emit_dwc(Emit *e, const Op *fwd) { return dwc_emit(e, fwd); }

/* Floats of scratch the kernel needs, or -1 when the layer does not qualify. */
int64_t conv_bwd_dw_scratch(const Attrs *a, Shape in, Shape out) {
    DwGeo q;
    DwbGeo qb;
    int64_t dwc = conv_bwd_dwc_scratch(a, in, out);
    if (dwc >= 0)
        return dwc;
    if (dwb_geo(a, in, out, &qb))
        return dwb_scratch(a, in, out, &qb);
    if (!dw_geo(a, in, out, &q))
        return -1;
    return (int64_t)q.ni * ((int64_t)in.d[1] * a->kw * q.xs + (int64_t)out.d[1] * q.l) +
           (q.hsum ? 0 : (int64_t)16 * out.d[1] * in.d[1] * a->kh * a->kw);
}

/* Emits the copy of plane src (srows x scols) into dst (rows x dcols, then zeros up to
 * total floats), shifted: dst[r][j] = src[r - roff][j + shift], zero outside src. The shift is
 * a constant, so every row is a copy of a constant length that compilers inline. */
static void emit_shifted_copy(Cbuf *c, const char *dst, const char *src, const char *rows, const char *roff,
                              const char *srows, int scols, int dcols, int shift, const char *total) {
    int lo = shift < 0 ? -shift : 0, hi = scols - shift < dcols ? scols - shift : dcols;
    cb_line(c, "{ /* shifted by %d */", shift);
    cb_line(c, "float *d = %s;", dst);
    cb_line(c, "for (int r = 0; r < %s; r++) {", rows);
    cb_line(c, "float *row = d + r * %d;", dcols);
    cb_line(c, "const int h = r - %s;", roff);
    if (hi > lo) {
        cb_line(c, "if (h < 0 || h >= %s) {", srows);
        cb_line(c, "for (int j = 0; j < %d; j++)", dcols);
        cb_line(c, "    row[j] = 0.0f;");
        cb_line(c, "continue;");
        cb_line(c, "}");
        if (lo > 0) {
            cb_line(c, "for (int j = 0; j < %d; j++)", lo);
            cb_line(c, "    row[j] = 0.0f;");
        }
        cb_line(c, "memcpy(row + %d, %s + h * %d + %d, sizeof(float) * %d);", lo, src, scols, lo + shift, hi - lo);
        if (hi < dcols) {
            cb_line(c, "for (int j = %d; j < %d; j++)", hi, dcols);
            cb_line(c, "    row[j] = 0.0f;");
        }
    } else {
        cb_line(c, "(void)h;");
        cb_line(c, "for (int j = 0; j < %d; j++)", dcols);
        cb_line(c, "    row[j] = 0.0f;");
    }
    cb_line(c, "}");
    cb_line(c, "for (int k = %s * %d; k < %s; k++)", rows, dcols, total);
    cb_line(c, "    d[k] = 0.0f;");
    cb_line(c, "}");
}

static void dw_emit_tile(Cbuf *c, bool hsum) {
    cb_line(c, "const int tb = job %% NTB, ob = job / NTB %% NOB, ic = job / NTB / NOB;");
    cb_line(c, "const int oc0 = ob * OCB, kh0 = tb * R;");
    cb_line(c, "cnn_vec acc[OCB][R * KW];");
    cb_line(c, "for (int o = 0; o < OCB; o++)");
    cb_line(c, "    for (int t = 0; t < R * KW; t++)");
    cb_line(c, "        acc[o][t] = (cnn_vec){0};");
    cb_line(c, "for (int i = 0; i < ni; i++) {");
    cb_line(c, "const float *xq = xpk + ((ptrdiff_t)i * IC + ic) * KW * XS + kh0 * OW;");
    cb_line(c, "const float *dq = dyk + ((ptrdiff_t)i * OC + oc0) * L;");
    cb_line(c, "for (int q = 0; q < L; q += CNN_VW) {");
    cb_line(c, "cnn_vec yv[OCB];");
    cb_line(c, "for (int o = 0; o < OCB; o++)");
    cb_line(c, "    memcpy(&yv[o], dq + (ptrdiff_t)o * L + q, sizeof yv[o]);");
    cb_line(c, "for (int t = 0; t < R * KW; t++) {");
    cb_line(c, "cnn_vec xv;");
    cb_line(c, "memcpy(&xv, xq + (ptrdiff_t)(t %% KW) * XS + t / KW * OW + q, sizeof xv);");
    cb_line(c, "for (int o = 0; o < OCB; o++)");
    cb_line(c, "    acc[o][t] += yv[o] * xv;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    if (hsum) {
        cb_line(c, "float res[OCB][R * KW][CNN_VW];");
        cb_line(c, "memcpy(res, acc, sizeof res);");
    }
    cb_line(c, "for (int o = 0; o < OCB; o++)");
    cb_line(c, "    for (int t = 0; t < R * KW; t++) {");
    if (hsum) { /* the lanes, summed in a fixed order */
        cb_line(c, "        float s = 0.0f;");
        cb_line(c, "        for (int j = 0; j < CNN_VW; j++)");
        cb_line(c, "            s += res[o][t][j];");
        cb_line(c, "        dw[(((ptrdiff_t)(oc0 + o) * IC + ic) * KH + kh0) * KW + t] += s;");
    } else {
        cb_line(c, "        float *pp = pdw + ((((ptrdiff_t)(oc0 + o) * IC + ic) * KH + kh0) * KW + t) * CNN_VW;");
        cb_line(c, "        cnn_vec v;");
        cb_line(c, "        memcpy(&v, pp, sizeof v);");
        cb_line(c, "        v += acc[o][t];");
        cb_line(c, "        memcpy(pp, &v, sizeof v);");
    }
    cb_line(c, "    }");
}

bool conv_bwd_emit_dw(Emit *e, const Op *fwd) {
    const Attrs *a = &fwd->a;
    Shape in = emit_in_shape(e, fwd, 0), out = emit_out_shape(e, fwd);
    DwGeo q;
    if (dwc_emit(e, fwd) || dwb_emit(e, fwd))
        return true;
    if (!dw_geo(a, in, out, &q))
        return false;
    Cbuf *c = e->c;
    cb_line(c, "{ /* dw: chunks of NI images, planes of pitch OW, OCB channels x R * KW taps per tile (conv_bwd.c) */");
    cb_line(c, "enum { IHP = %d, L = %d, XS = %d, NI = %d };", q.ihp, q.l, q.xs, q.ni);
    emit_tile_enums(c, q.ocb, q.r);
    cb_line(c, "enum { NOB = OC / OCB, NTB = KH / R };");
    cb_line(c, "float *xpk = scratch, *dyk = scratch + (ptrdiff_t)NI * IC * KW * XS;");
    if (!q.hsum) {
        cb_line(c, "#if CNN_VECTORS");
        cb_line(c, "float *pdw = dyk + (ptrdiff_t)NI * OC * L; /* [OC][IC][KH][KW][CNN_VW]: the lanes' partial sums */");
        cb_line(c, "memset(pdw, 0, sizeof(float) * CNN_VW * OC * IC * KH * KW);");
        cb_line(c, "#endif");
    }
    cb_line(c, "for (int i0 = 0; i0 < n; i0 += NI) {");
    cb_line(c, "const int ni = n - i0 < NI ? n - i0 : NI;");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < ni * (IC + OC); job++) { /* pack the chunk's planes */");
    cb_line(c, "const int i = job / (IC + OC), ch = job %% (IC + OC);");
    cb_line(c, "if (ch < IC) {");
    cb_line(c, "const float *xi = x + ((ptrdiff_t)(i0 + i) * IC + ch) * IH * IW;");
    for (int kw = 0; kw < a->kw; kw++) /* xs[kw][r][ow]: the padded input at (r, ow + kw) */
        emit_shifted_copy(c, arena_printf("xpk + (((ptrdiff_t)i * IC + ch) * KW + %d) * XS", kw), "xi", "IHP", "PH", "IH", in.d[3],
                          out.d[3], kw - a->pw, "XS");
    cb_line(c, "} else {");
    cb_line(c, "float *dp = dyk + ((ptrdiff_t)i * OC + ch - IC) * L;");
    cb_line(c, "const float *yi = dy + ((ptrdiff_t)(i0 + i) * OC + ch - IC) * OH * OW;");
    cb_line(c, "memcpy(dp, yi, sizeof(float) * OH * OW);");
    cb_line(c, "for (int k = OH * OW; k < L; k++)");
    cb_line(c, "    dp[k] = 0.0f;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < IC * NOB * NTB; job++) {");
    dw_emit_tile(c, q.hsum);
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
    if (!q.hsum) {
        cb_line(c, "#if CNN_VECTORS");
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int k = 0; k < OC * IC * KH * KW; k++) { /* the lanes, summed once */");
        cb_line(c, "float s = 0.0f;");
        cb_line(c, "for (int j = 0; j < CNN_VW; j++)");
        cb_line(c, "    s += pdw[(ptrdiff_t)k * CNN_VW + j];");
        cb_line(c, "dw[k] += s;");
        cb_line(c, "}");
        cb_line(c, "#endif");
    }
    cb_line(c, "}");
    return true;
}

/* The data gradient, for the same class of convolutions when their kernel is large next to
 * the image (LeNet's 6->16 5x5 at 14x14), where the forward kernel over dy padded by
 * kernel - 1 would spend most of its work on the padding:
 *     dx[ic][h][w] = sum over oc, kh, kw of w[oc][ic][kh][kw] * dy[oc][h + PH - kh][w + PW - kw].
 * The lanes run along dx's plane flattened with its own pitch IW (p = h * IW + w: no lane is
 * wasted on columns), and dy is copied once per kernel column, shifted and padded with rows of
 * zeros: ds[oc][kw][r * IW + w] = dy[oc][r - TP][w + PW - kw] (zero outside dy), TP = KH - 1 -
 * PH, so that the tap (kh, kw) reads ds[oc][kw][p + (KH - 1 - kh) * IW], contiguous. A job is
 * one image, a block of ICB input channels and a run of PB vectors (16 floats with AVX-512, 8
 * otherwise): ICB x PB accumulators,
 * each vector of ds feeding ICB fused multiply-adds with broadcast weights, over the kernel
 * rows that reach dy from the run's rows (the others read only zeros and are skipped). Chunks
 * of NI images as for dw; every dx element has one writer. */
int64_t conv_bwd_dx_scratch(const Attrs *a, Shape in, Shape out);
bool conv_bwd_emit_dx(Emit *e, const Op *fwd);

typedef struct {
    int p, ds, ni, nv;
    int nv16;          /* with AVX-512 the runs are of 16-float vectors: NV16 of them cover the plane */
    int icb[3], pb[3]; /* the tile with AVX-512, AVX, else */
} DxGeo;

static void dx_tile(int ic, int nv, int budget, int room, int *icb_out, int *pb_out) {
    int best_c = 1, best_p = 1;
    double best = -1;
    for (int c = 1; c <= ic && c <= 16; c++) {
        if (ic % c)
            continue;
        for (int pb = 1; pb <= 4 && pb <= nv; pb++) {
            int acc = c * pb;
            if (acc > budget || acc + pb + 1 > room) /* acc, the PB dy vectors, one weight */
                continue;
            int runs = (nv + pb - 1) / pb;
            double score = (double)acc / (c + pb) * nv / (runs * pb) + acc * 1e-4;
            if (score > best)
                best = score, best_c = c, best_p = pb;
        }
    }
    *icb_out = best_c, *pb_out = best_p;
}

static bool dx_geo(const Attrs *a, Shape in, Shape out, DxGeo *q) {
    int ic = in.d[1], oc = out.d[1], ih = in.d[2], iw = in.d[3];
    if (a->sh != 1 || a->sw != 1 || a->dh != 1 || a->dw != 1 || a->groups != 1 || a->ph > a->kh - 1 ||
        a->pw > a->kw - 1 || a->ph_end > a->kh - 1 || a->pw_end > a->kw - 1 || (long long)ic * oc > 2048 ||
        (long long)ih * iw > 4096)
        return false;
    /* where measured faster: kernels of 5 and more over images of at most 16 columns, whose
     * padded dy is mostly zeros */
    if (a->kh < 5 || a->kw < 5 || iw > 16)
        return false;
    q->nv = (ih * iw + LANES - 1) / LANES;
    q->nv16 = (ih * iw + 15) / 16;
    q->p = q->nv * LANES;
    dx_tile(ic, q->nv16, 24, 31, &q->icb[0], &q->pb[0]);
    dx_tile(ic, q->nv, 12, 15, &q->icb[1], &q->pb[1]);
    dx_tile(ic, q->nv, 6, 7, &q->icb[2], &q->pb[2]);
    int runs = (q->nv16 + q->pb[0] - 1) / q->pb[0] * q->pb[0] * 2; /* the 8-float vectors the runs cover, whichever tile */
    for (int k = 1; k < 3; k++)
        if ((q->nv + q->pb[k] - 1) / q->pb[k] * q->pb[k] > runs)
            runs = (q->nv + q->pb[k] - 1) / q->pb[k] * q->pb[k];
    int reach = runs * LANES + (a->kh - 1) * iw; /* what the runs read */
    int rows = (ih + a->kh - 1) * iw;
    q->ds = ((reach > rows ? reach : rows) + LANES - 1) / LANES * LANES;
    int64_t per_image = (int64_t)oc * a->kw * q->ds;
    q->ni = (int)(262144 / per_image); /* a chunk's copies within 1 MB */
    q->ni = q->ni < 1 ? 1 : q->ni > MAX_NI ? MAX_NI : q->ni;
    if (q->ni > in.d[0])
        q->ni = in.d[0];
    return true;
}

/* The data gradient with the IMAGES in the vector lanes, for small convolutions trained in
 * batches (LeNet-5's 6->16 5x5 at 14x14, in slices of 32 images), taken before the kernel
 * below: there the lanes run along dx's plane and a tap near the plane's edges reads the zeros
 * of dy's padding (half the multiply-adds of LeNet's conv2), whereas here a row of dx only
 * visits the kernel rows that reach dy, and no lane is idle whatever the plane's size. For VL
 * images at a time (16 with AVX-512, else 8), dy is transposed once into dyt[oc][oh][c][VL],
 * its columns padded with zeros on both sides (c = ow + KW - 1); a job (block of ICB input
 * channels, dx row ih, PX consecutive columns) holds PX x ICB accumulators whose lanes are
 * images: per kernel tap, PX vector loads and ICB broadcast weights feed PX * ICB fused
 * multiply-adds; the tile is written to dx transposed back, every element once. Each block of
 * PX columns is emitted apart with only the (column, tap) pairs that reach dy (emit_dxb_jobs):
 * LeNet-5's conv2 at batch 64, one thread, in the step (loaded 2-core AVX-512 machine): 0.40 ->
 * 0.25 ms. Without GNU vectors, plain loops over the taps that reach dy. */
typedef struct {
    int wp;                 /* dyt's padded columns */
    int icb[3], px[3];      /* the tile with AVX-512, AVX, else */
    int iw, ow, kw, pw;     /* the layer's columns, kernel columns and left padding */
} DxbGeo;

static void dxb_tile(int ic, int budget, int room, int *icb_out, int *px_out) {
    int best_c = 1, best_p = 1;
    double best = -1;
    for (int c = 1; c <= ic; c++) {
        if (ic % c)
            continue;
        for (int p = 1; p <= 8; p++) {
            int acc = c * p;
            if (acc > budget || acc + c + 1 > room) /* acc, the broadcast weights, one dy vector */
                continue;
            double score = (double)acc / (c + p) + acc * 1e-3;
            if (score > best)
                best = score, best_c = c, best_p = p;
        }
    }
    *icb_out = best_c, *px_out = best_p;
}

static bool dxb_geo(const Attrs *a, Shape in, Shape out, DxbGeo *q) {
    int ic = in.d[1], oc = out.d[1], iw = in.d[3];
    if (a->sh != 1 || a->sw != 1 || a->dh != 1 || a->dw != 1 || a->groups != 1 || a->ph > a->kh - 1 ||
        a->pw > a->kw - 1 || a->ph_end > a->kh - 1 || a->pw_end > a->kw - 1)
        return false;
    /* small channel counts and planes, trained at 16 images or more per call */
    if (in.d[0] < 16 || ic > 16 || oc > 64 || a->kh < 3 || a->kw < 3 || iw > 32)
        return false;
    dxb_tile(ic, 21, 31, &q->icb[0], &q->px[0]);
    /* AVX2: 9 accumulators, not 12: the taps of a block share dy's columns, which clang keeps in
     * registers too (PX + KW - 1 of them), so LeNet-5's 2 x 6 tile spilled 34 times per 54
     * multiply-adds; its 3 x 3 does not. LeNet-5's conv2 dx in the training step at batch 64,
     * one thread, Zen 3: 19.1-19.4% -> 13.6-16.2% of the samples (bench/profile.sh --train). */
    dxb_tile(ic, 9, 15, &q->icb[1], &q->px[1]);
    dxb_tile(ic, 4, 7, &q->icb[2], &q->px[2]);
    int px = q->px[0] > q->px[1] ? q->px[0] : q->px[1];
    px = px > q->px[2] ? px : q->px[2];
    q->wp = iw + px + a->kw - 1 + a->pw; /* the columns a tile reads, past the plane too */
    q->iw = iw, q->ow = out.d[3], q->kw = a->kw, q->pw = a->pw;
    return (long long)oc * out.d[2] * q->wp * 16 <= (1 << 20);
}

/* The jobs of the images-in-lanes data gradient for one target's tile (ICB, PX), column blocks
 * unrolled: a dx column iw0 + u meets dy's column iw0 + u + PW - kw only when that column is
 * inside dy (0 .. OW - 1), so each block of PX columns (the last one maybe narrower) is emitted
 * with the (u, kw) taps that reach dy and no others, every index a constant: no multiply-add on
 * dy's zero padding columns (LeNet-5's conv2: 14 dx columns x 5 taps, of which 10 x 5 reach dy;
 * with 16 columns computed 80 taps per row before, 50 now). Blocks x taps beyond DXB_UNROLL:
 * the loop over every tap (emit_dxb_loop). */
enum { DXB_UNROLL = 64 };

static void emit_dxb_rows(Cbuf *c) {
    cb_line(c, "/* the kernel rows that reach dy from row ih */");
    cb_line(c, "const int kh_lo = ih + PH - OH + 1 > 0 ? ih + PH - OH + 1 : 0, kh_hi = ih + PH < KH - 1 ? ih + PH : KH - 1;");
}

static void emit_dxb_loop(Cbuf *c) {
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < NIB * IH * NXB; job++) {");
    cb_line(c, "const int xb = job %% NXB, ih = job / NXB %% IH, ic0 = job / NXB / IH * ICB, iw0 = xb * PX;");
    emit_dxb_rows(c);
    cb_line(c, "cnn_vec acc[PX][ICB];");
    cb_line(c, "for (int u = 0; u < PX; u++)");
    cb_line(c, "    for (int t = 0; t < ICB; t++)");
    cb_line(c, "        acc[u][t] = (cnn_vec){0};");
    cb_line(c, "for (int oc = 0; oc < OC; oc++)");
    cb_line(c, "for (int kh = kh_lo; kh <= kh_hi; kh++) {");
    cb_line(c, "const float *const row = dyt + ((ptrdiff_t)oc * OH + ih + PH - kh) * WP * VL;");
    cb_line(c, "const float *const wk = w + (((ptrdiff_t)oc * IC + ic0) * KH + kh) * KW;");
    cb_line(c, "for (int kw = 0; kw < KW; kw++) {");
    cb_line(c, "float wv[ICB];");
    cb_line(c, "for (int t = 0; t < ICB; t++)");
    cb_line(c, "    wv[t] = wk[(ptrdiff_t)t * KH * KW + kw];");
    cb_line(c, "for (int u = 0; u < PX; u++) { /* dx column iw0 + u, tap kw: dy column iw0 + u + PW - kw */");
    cb_line(c, "cnn_vec dv;");
    cb_line(c, "memcpy(&dv, row + (ptrdiff_t)(iw0 + u + PW - kw + KW - 1) * VL, sizeof dv);");
    cb_line(c, "for (int t = 0; t < ICB; t++)");
    cb_line(c, "    acc[u][t] += wv[t] * dv;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "float res[PX][ICB][VL];");
    cb_line(c, "memcpy(res, acc, sizeof res);");
    cb_line(c, "for (int u = 0; u < PX && iw0 + u < IW; u++)");
    cb_line(c, "    for (int t = 0; t < ICB; t++)");
    cb_line(c, "        for (int l = 0; l < ni; l++)");
    cb_line(c, "            dx[(((ptrdiff_t)(i0 + l) * IC + ic0 + t) * IH + ih) * IW + iw0 + u] = res[u][t][l];");
    cb_line(c, "}");
}

/* Whether target k's tile takes the unrolled column blocks (which read only dy's columns, never
 * the padding columns around them). */
static bool dxb_unrolled(const DxbGeo *q, int k) { return (q->iw + q->px[k] - 1) / q->px[k] * q->kw <= DXB_UNROLL; }

static void emit_dxb_jobs(Cbuf *c, const DxbGeo *q, int k) {
    int px = q->px[k], nxb = (q->iw + px - 1) / px;
    if (!dxb_unrolled(q, k)) {
        emit_dxb_loop(c);
        return;
    }
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < NIB * IH * NXB; job++) {");
    cb_line(c, "const int xb = job %% NXB, ih = job / NXB %% IH, ic0 = job / NXB / IH * ICB;");
    emit_dxb_rows(c);
    cb_line(c, "cnn_vec acc[PX][ICB];");
    cb_line(c, "for (int u = 0; u < PX; u++)");
    cb_line(c, "    for (int t = 0; t < ICB; t++)");
    cb_line(c, "        acc[u][t] = (cnn_vec){0};");
    cb_line(c, "switch (xb) { /* per block of columns, the taps that reach dy */");
    for (int xb = 0; xb < nxb; xb++) {
        int iw0 = xb * px;
        cb_line(c, "case %d:", xb);
        cb_line(c, "for (int oc = 0; oc < OC; oc++)");
        cb_line(c, "for (int kh = kh_lo; kh <= kh_hi; kh++) {");
        cb_line(c, "const float *const row = dyt + ((ptrdiff_t)oc * OH + ih + PH - kh) * WP * VL;");
        cb_line(c, "const float *const wk = w + (((ptrdiff_t)oc * IC + ic0) * KH + kh) * KW;");
        for (int kw = 0; kw < q->kw; kw++) {
            int lo = kw - q->pw - iw0, hi = q->ow + kw - q->pw - iw0;
            if (lo < 0)
                lo = 0;
            if (hi > px)
                hi = px;
            if (hi > q->iw - iw0)
                hi = q->iw - iw0;
            if (lo >= hi)
                continue;
            cb_line(c, "{ /* tap kw = %d: columns %d .. %d of the block */", kw, lo, hi - 1);
            cb_line(c, "float wv[ICB];");
            cb_line(c, "for (int t = 0; t < ICB; t++)");
            cb_line(c, "    wv[t] = wk[(ptrdiff_t)t * KH * KW + %d];", kw);
            for (int u = lo; u < hi; u++) {
                cb_line(c, "{ cnn_vec dv;");
                cb_line(c, "memcpy(&dv, row + %d * VL, sizeof dv);", iw0 + u + q->pw - kw + q->kw - 1);
                cb_line(c, "for (int t = 0; t < ICB; t++)");
                cb_line(c, "    acc[%d][t] += wv[t] * dv; }", u);
            }
            cb_line(c, "}");
        }
        cb_line(c, "}");
        cb_line(c, "break;");
    }
    cb_line(c, "default:");
    cb_line(c, "break;");
    cb_line(c, "}");
    cb_line(c, "const int iw0 = xb * PX;");
    cb_line(c, "float res[PX][ICB][VL];");
    cb_line(c, "memcpy(res, acc, sizeof res);");
    cb_line(c, "for (int u = 0; u < PX && iw0 + u < IW; u++)");
    cb_line(c, "    for (int t = 0; t < ICB; t++)");
    cb_line(c, "        for (int l = 0; l < ni; l++)");
    cb_line(c, "            dx[(((ptrdiff_t)(i0 + l) * IC + ic0 + t) * IH + ih) * IW + iw0 + u] = res[u][t][l];");
    cb_line(c, "}");
}

static void emit_dxb(Emit *e, const DxbGeo *q) {
    Cbuf *c = e->c;
    cb_line(c, "{ /* dx: the images in the vector lanes, dy transposed VL images at a time (conv_bwd.c) */");
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "#if defined(__AVX512F__)");
    cb_line(c, "enum { ICB = %d, PX = %d, ZERO = %d };", q->icb[0], q->px[0], dxb_unrolled(q, 0) ? 0 : 1);
    cb_line(c, "#elif defined(__AVX__)");
    cb_line(c, "enum { ICB = %d, PX = %d, ZERO = %d };", q->icb[1], q->px[1], dxb_unrolled(q, 1) ? 0 : 1);
    cb_line(c, "#else");
    cb_line(c, "enum { ICB = %d, PX = %d, ZERO = %d };", q->icb[2], q->px[2], dxb_unrolled(q, 2) ? 0 : 1);
    cb_line(c, "#endif");
    cb_line(c, "enum { VL = CNN_VW, WP = %d, NXB = (IW + PX - 1) / PX, NIB = IC / ICB };", q->wp);
    cb_line(c, "float *const dyt = scratch; /* [OC][OH][WP][VL]: column c holds dy's column c - (KW - 1) */");
    cb_line(c, "if (ZERO) /* the loop over every tap reads the padding columns, which stay zero */");
    cb_line(c, "    for (int z = 0; z < OC * OH * WP * VL; z++)");
    cb_line(c, "        dyt[z] = 0.0f;");
    cb_line(c, "for (int i0 = 0; i0 < n; i0 += VL) {");
    cb_line(c, "const int ni = n - i0 < VL ? n - i0 : VL;");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int r = 0; r < OC * OH; r++) { /* dy's row (oc, oh) of each image into the lanes */");
    cb_line(c, "float *const t = dyt + ((ptrdiff_t)r * WP + KW - 1) * VL;");
    cb_line(c, "for (int l = 0; l < VL; l++) {");
    cb_line(c, "const float *const s = dy + ((ptrdiff_t)(i0 + l) * OC * OH + r) * OW;");
    cb_line(c, "for (int col = 0; col < OW; col++)");
    cb_line(c, "    t[col * VL + l] = l < ni ? s[col] : 0.0f;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#if defined(__AVX512F__)");
    emit_dxb_jobs(c, q, 0);
    cb_line(c, "#elif defined(__AVX__)");
    emit_dxb_jobs(c, q, 1);
    cb_line(c, "#else");
    emit_dxb_jobs(c, q, 2);
    cb_line(c, "#endif");
    cb_line(c, "}");
    cb_line(c, "#else");
    cb_line(c, "(void)scratch;");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < n * IC; job++) {");
    cb_line(c, "const int ic = job %% IC, i = job / IC;");
    cb_line(c, "for (int ih = 0; ih < IH; ih++)");
    cb_line(c, "for (int iw = 0; iw < IW; iw++) {");
    cb_line(c, "float s = 0.0f;");
    cb_line(c, "for (int oc = 0; oc < OC; oc++)");
    cb_line(c, "for (int kh = 0; kh < KH; kh++)");
    cb_line(c, "for (int kw = 0; kw < KW; kw++) {");
    cb_line(c, "const int oh = ih + PH - kh, ow = iw + PW - kw;");
    cb_line(c, "if (oh >= 0 && oh < OH && ow >= 0 && ow < OW)");
    cb_line(c, "    s += w[(((ptrdiff_t)oc * IC + ic) * KH + kh) * KW + kw] * dy[(((ptrdiff_t)i * OC + oc) * OH + oh) * OW + ow];");
    cb_line(c, "}");
    cb_line(c, "dx[(((ptrdiff_t)i * IC + ic) * IH + ih) * IW + iw] = s;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#endif");
    cb_line(c, "}");
}

int64_t conv_bwd_dx_scratch(const Attrs *a, Shape in, Shape out) {
    DxbGeo qb;
    if (dxb_geo(a, in, out, &qb))
        return (int64_t)out.d[1] * out.d[2] * qb.wp * 16;
    DxGeo q;
    if (!dx_geo(a, in, out, &q))
        return -1;
    return (int64_t)q.ni * out.d[1] * a->kw * q.ds;
}

bool conv_bwd_emit_dx(Emit *e, const Op *fwd) {
    const Attrs *a = &fwd->a;
    Shape in = emit_in_shape(e, fwd, 0), out = emit_out_shape(e, fwd);
    DxbGeo qb;
    if (dxb_geo(a, in, out, &qb)) {
        emit_dxb(e, &qb);
        return true;
    }
    DxGeo q;
    if (!dx_geo(a, in, out, &q))
        return false;
    Cbuf *c = e->c;
    cb_line(c, "{ /* dx: lanes along dx's plane of pitch IW, dy copied once per kernel column (conv_bwd.c) */");
    cb_line(c, "enum { TP = KH - 1 - PH, DR = IH + KH - 1, DS = %d, NI = %d };", q.ds, q.ni);
    cb_line(c, "#if defined(__AVX512F__)");
    cb_line(c, "enum { ICB = %d, PB = %d, VL = 16, NV = %d }; /* NV vectors of VL floats cover the plane */", q.icb[0],
            q.pb[0], q.nv16);
    cb_line(c, "#elif defined(__AVX__)");
    cb_line(c, "enum { ICB = %d, PB = %d, VL = 8, NV = %d };", q.icb[1], q.pb[1], q.nv);
    cb_line(c, "#else");
    cb_line(c, "enum { ICB = %d, PB = %d, VL = 8, NV = %d };", q.icb[2], q.pb[2], q.nv);
    cb_line(c, "#endif");
    cb_line(c, "enum { NIB = IC / ICB, NPB = (NV + PB - 1) / PB };");
    cb_line(c, "float *dsk = scratch; /* [NI][OC][KW][DS] */");
    cb_line(c, "for (int i0 = 0; i0 < n; i0 += NI) {");
    cb_line(c, "const int ni = n - i0 < NI ? n - i0 : NI;");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < ni * OC; job++) { /* ds[i][oc][kw][r][w] = dy[i][oc][r - TP][w + PW - kw] */");
    cb_line(c, "const int oc = job %% OC, i = job / OC;");
    cb_line(c, "const float *yi = dy + ((ptrdiff_t)(i0 + i) * OC + oc) * OH * OW;");
    for (int kw = 0; kw < a->kw; kw++)
        emit_shifted_copy(c, arena_printf("dsk + ((ptrdiff_t)job * KW + %d) * DS", kw), "yi", "DR", "TP", "OH", out.d[3], in.d[3],
                          a->pw - kw, "DS");
    cb_line(c, "}");
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "typedef float cnn_vdx __attribute__((vector_size(VL * 4)));");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < ni * NPB * NIB; job++) {");
    cb_line(c, "const int ib = job %% NIB, pb = job / NIB %% NPB, i = job / NIB / NPB;");
    cb_line(c, "const int ic0 = ib * ICB, p0 = pb * PB * VL;");
    cb_line(c, "/* the kernel rows that reach dy from rows h_lo..h_hi of the run */");
    cb_line(c, "const int h_lo = p0 / IW, h_hi = (p0 + PB * VL - 1) / IW < IH - 1 ? (p0 + PB * VL - 1) / IW : IH - 1;");
    cb_line(c, "const int kh_lo = h_lo + PH - OH + 1 > 0 ? h_lo + PH - OH + 1 : 0, kh_hi = h_hi + PH < KH - 1 ? h_hi + PH : KH - 1;");
    cb_line(c, "cnn_vdx acc[ICB][PB];");
    cb_line(c, "for (int t = 0; t < ICB; t++)");
    cb_line(c, "    for (int u = 0; u < PB; u++)");
    cb_line(c, "        acc[t][u] = (cnn_vdx){0};");
    cb_line(c, "for (int oc = 0; oc < OC; oc++)");
    cb_line(c, "for (int kh = kh_lo; kh <= kh_hi; kh++)");
    cb_line(c, "for (int kw = 0; kw < KW; kw++) {");
    cb_line(c, "const float *dq = dsk + (((ptrdiff_t)i * OC + oc) * KW + kw) * DS + (KH - 1 - kh) * IW + p0;");
    cb_line(c, "const float *wk = w + (((ptrdiff_t)oc * IC + ic0) * KH + kh) * KW + kw;");
    cb_line(c, "cnn_vdx dv[PB];");
    cb_line(c, "memcpy(dv, dq, sizeof dv);");
    cb_line(c, "for (int t = 0; t < ICB; t++) {");
    cb_line(c, "const float wv = wk[(ptrdiff_t)t * KH * KW];");
    cb_line(c, "for (int u = 0; u < PB; u++)");
    cb_line(c, "    acc[t][u] += wv * dv[u];");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "float res[ICB][PB * VL];");
    cb_line(c, "memcpy(res, acc, sizeof res);");
    cb_line(c, "const int np = IH * IW - p0 < PB * VL ? IH * IW - p0 : PB * VL; /* the run's lanes inside the plane */");
    cb_line(c, "for (int t = 0; t < ICB; t++)");
    cb_line(c, "    memcpy(dx + ((ptrdiff_t)(i0 + i) * IC + ic0 + t) * IH * IW + p0, res[t], sizeof(float) * (size_t)np);");
    cb_line(c, "}");
    cb_line(c, "#else");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < ni * IC; job++) {");
    cb_line(c, "const int ic = job %% IC, i = job / IC;");
    cb_line(c, "for (int p = 0; p < IH * IW; p++) {");
    cb_line(c, "float s = 0.0f;");
    cb_line(c, "for (int oc = 0; oc < OC; oc++)");
    cb_line(c, "    for (int kh = 0; kh < KH; kh++)");
    cb_line(c, "        for (int kw = 0; kw < KW; kw++)");
    cb_line(c, "            s += w[(((ptrdiff_t)oc * IC + ic) * KH + kh) * KW + kw] * dsk[(((ptrdiff_t)i * OC + oc) * KW + kw) * DS + (KH - 1 - kh) * IW + p];");
    cb_line(c, "dx[((ptrdiff_t)(i0 + i) * IC + ic) * IH * IW + p] = s;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#endif");
    cb_line(c, "}");
    cb_line(c, "}");
    return true;
}
