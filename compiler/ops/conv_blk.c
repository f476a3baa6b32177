/* conv_blk.c: the forward and the data gradient (dx) of stride-1 convolutions (dilated or not)
 * with many channels and short rows (ResNet's 3x3 convs of 64 to 512 channels at
 * 32x32 down to 4x4), where the whole reduction of conv_oc.c's register tile (IC x KH x KW
 * taps) walks through more weights than the L1 cache holds; also the forward and the data
 * gradient of such convs with stride 2 (ResNet's stage entries), and the data gradient of
 * strides up to 4.
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
 * memory (at 32x32 the one copy of all images took a sixth of the time). When the call's
 * images make one chunk (a batch of one), every slot would copy the same images: then one
 * copy is made by all threads before the jobs and shared by the slots (resnet18_cifar at
 * batch 1, one thread: its 64-channel convs 0.60 -> 0.54 ms, the 64 -> 128 stride-2 conv
 * 0.47 -> 0.31, the 128-channel convs 0.64 -> 0.53).
 *
 * Weights beyond 1 MiB (256 and 512 channels: 2.4 and 9.4 MB a conv) are no longer in L2 at
 * the next call and, at batch 1, every block of them serves one image's few tiles: the
 * hardware prefetcher does not run far enough ahead. The first loop of the first tiles of a
 * block (of its first image) then prefetches the same channel's weights in the next block
 * (the next job's first block after the last; a prefetch past the end faults nowhere).
 * resnet18_cifar at batch 1, one thread: its 512-channel 4x4 convs 1.3 -> 0.9-1.0 ms, the
 * 256 -> 512 stride-2 conv 0.72 -> 0.55, the 256-channel 8x8 convs 0.64 -> 0.59 (two blocks
 * ahead, or also three ahead into L2, measured no better).
 *
 * Skipping the zero padding (AVX-512). A tap (kh, kw) of an output pixel near the border reads
 * the zero padding: at 4x4 with padding 1 only 100 of a 3x3 conv's 144 taps a plane read input
 * (69%), at 8x8 84%, at 16x16 92%, at 32x32 96%. The tiles are then chosen so that which taps
 * read input is known to the generator (blk_tiling): a tile is TR whole rows (TR * OW <= 12)
 * or TC columns of one row (OW a multiple of TC), and whether tap (kh, kw) reads input for
 * tile pixel (r, c) depends only on the tile's row group and column piece. The tiles are
 * grouped into runs of row groups and of column pieces whose taps read the same pixels; each
 * run pair is one block of code, a loop over its tiles in which the generator writes out
 * every tap that reads input for some pixel of the tile with exactly those pixels' multiply-
 * adds (a constant mask per tap, the other pixels' and the taps reading only padding left out).
 * Leaving out a product with zero changes no sum, so the result is the same as with every
 * tap. The cost model (blk_tile's, the taps left out, 0.5% a block of code for the build
 * time) picks the tiles, and may merge the row groups or the column pieces into one block
 * (their taps united); when no such tiling beats P flattened pixels over every tap (large
 * planes: 64 channels at 32x32, whose 4% were not worth 9 blocks of code), or the choice
 * would take the generator long (positions x taps beyond 2^18, kernels beyond 16), the kernel
 * keeps those. Inside a tile the taps are looped over the block's input channels, one loop per
 * kernel row for tiles of several rows, one loop for all taps for tiles of one row: the taps
 * of a loop read distinct floats (a tap's broadcast shared with another tap, as with one loop
 * for all taps of a multi-row tile, made clang keep all broadcasts in registers and spill
 * them: slower than no skipping), and the loops are not unrolled by clang (a third of the
 * build time, no speed). ResNet's 4x4 planes take 3-row tiles (12 + 4 pixels), its 8x8 and
 * 16x16 planes 8-column tiles. With AVX2, SSE and the scalar loops every tap is computed over
 * the same tiles (the positions past the plane no longer computed).
 *
 * Measured (forward, one thread, batch 32, clang -O3 -march=native, the 2-core AVX-512 Xeon
 * whose peak.c peak is 176 GFLOP/s, loaded by other jobs; nominal GFLOP/s, 2 * N * C * C * 9
 * * H * W, padding taps counted as PyTorch's figures count them; a two-conv model per layer,
 * `PROGRAM bench --csv --threads 1 --repeat 10`, 3 interleaved runs): 64 ch at 32x32 128-131
 * GFLOP/s (no skipping), 128 at 16x16 143-150 (135-139 with every tap), 256 at 8x8 160-169
 * (143-148), 512 at 4x4 169-172 (143-144); oneDNN's direct conv (PyTorch, mkldnn tensors,
 * one thread) 127, 168, 184 and 172; conv.c's kernel 68 to 90. The data gradient of the same
 * layers runs at about the same speed (the same kernel). ResNet-18 (CIFAR) inference at batch
 * 32 on one thread: 281 -> 260 ms a call (medians of 4 interleaved runs of 30 calls).
 *
 * Strided convs (forward only) copy the input once per TAP instead, KH x KW planes of the
 * output's size, xs[i][ic][kh * KW + kw][oh][ow] = xpad[i][ic][oh * SH + kh][ow * SW + kw]
 * (2.25 times the input at stride 2 for 3x3), and tap (kh, kw) reads its plane at q: the same
 * tiles. Measured: 64 -> 128 ch from 32x32 82 GFLOP/s, 128 -> 256 from 16x16 111, 256 -> 512
 * from 8x8 113; conv.c's product path 45, 72, 58.
 * With AVX-512 a strided forward reads its input IN PLACE instead (BlkGeo.direct, when its
 * tiles cost at most a tenth more than the copies' by blk_tiles_cost): the tiles are TR rows x
 * TC columns of the output (blk_tiling_direct; OW a multiple of TC), pixel (r, c)'s tap (kh, kw)
 * at x[(oh + r) * SH + kh - PH][(ow + c) * SW + kw - PW], a constant offset from the tile's
 * first pixel that the generator writes out; every tap that would read outside the image is
 * left out as above (the same sums: only products with the padding's zeros go), so no zeroed
 * copy is needed. The taps of one loop over the input channels read distinct floats (at stride
 * 2 kernel column kw of pixel c is column kw + 2 of pixel c - 1: one loop for a kernel row made
 * clang keep the shared broadcasts and spill accumulators). The copies remain for AVX2, SSE and
 * the scalar loops (the same scratch is planned either way). ResNet-18 at batch 8, one thread
 * (bench/op_time.py, 3-4 alternations, 2026-12-03): layer2's 64 -> 128 from 56x56 (3 x 4
 * tiles) 5.24-5.54 -> 4.48-4.98 ms, layer3's 128 -> 256 (5 x 2) 5.00-5.39 -> 4.27-4.87,
 * layer4's 256 -> 512 from 14x14 (1 x 7) 4.73-5.80 -> 4.43-5.78 (the same within the noise: its
 * copies were small).
 *
 * Positions past the image's last pixel up to a multiple of P (RQ) are computed and dropped
 * (the skipping tiles leave them out); their reads stay within the scratch (a zeroed tail
 * follows the copies).
 *
 * The data gradient of such a conv is the same kernel over dy padded by KH - 1 - PH, with the
 * kernel flipped and its channel axes swapped (taken at packing time): conv_blk_emit_dx.
 *
 * The data gradient of a strided conv (stride S) is cut into S x S phases (see blk_s_geo):
 * the dx elements (S a + rh, S b + rw) of phase (rh, rw) receive only the taps congruent to
 * it, a stride-1 correlation of dy with a sub-kernel (3x3 at stride 2: 1x1, 1x2, 2x1 and 2x2
 * taps), i.e. the same tiles over A x B positions. The phases share one set of column-shifted
 * copies of dy (padded for the phase that needs most), each reading it from its own row and
 * plane; each job (chunk of images, block of dx channels) runs every phase into its buffer
 * ([phase][NI][RQ][OCB]), then writes its dx planes row by row, each element once (zero where
 * no tap reaches dy). Measured (one thread, batch 32, the 2-core AVX-512 machine loaded by
 * other jobs, % of peak.c's peak in bench/profile.sh --train resnet18_cifar): the data
 * gradients of 64 -> 128 (32x32 -> 16x16), 128 -> 256 and 256 -> 512 at 23-31%, 27-34% and
 * 32-42% by conv.c's general path, 72-81%, 67-78% and 62-71% by phases (the stride-1 data
 * gradients of the same stages: 78-98% in the same runs).
 * With AVX-512 the phases read dy IN PLACE as the strided forward reads its input (q->direct,
 * decided for all phases at once in blk_s_geo2: every phase's blk_tiling_direct tiles within a
 * tenth of its tiles over the copies): tile pixel (r, c)'s tap (kh, kw) at dy row a + r + kh +
 * r0 - PHT and column b + c + kw + s0 - PWL, the taps past dy's edges left out, so no copies.
 * The copies of dy (twice its size at 3x3: two column shifts) had been 15% of ResNet-18's
 * layer2 pair (bench/op_time.py samples) and, with the buffer of four phases, outgrew L2: in
 * the training step (batch 8, one thread, bench/profile.sh --train resnet18 8 1 60, 2026-12-04)
 * the layer2 / 3 / 4 pairs went from 64 / 78 / 74% of peak to 78 / 83 / 79%; alone with their
 * operands from memory (op_time.py --flush 64, two alternations) layer2's 6.3-6.8 -> 5.8-6.6
 * ms, layer3's 5.8-6.3 -> 5.4-5.7.
 *
 * Layouts, all in the planned scratch:
 *   xs   [n][IC][KW][HP][OW] + tail   the shifted copies (per slot: [SLOTS][NI][IC]...)
 *   wpk  [NOCB][IC][KH][KW][OCB]       the weights repacked at each call, zero past OC
 *   buf  [SLOTS][NI][RQ][OCB]          per slot, the partial sums of one job
 * Strided dx: xs [n][OC][NPL][HP][BMAX] (one copy for all phases), wpk one block per phase
 * ([phase][NOCB][OC][TH][TW][OCB]), buf [SLOTS][phase][NI][RQ][OCB]; a paired 1x1 shortcut's
 * weights after them (wpk2 [NOCB][IC2][OCB]; conv_blk_emit_dx_pair at the end of this file).
 * Without vector types, plain loops fill buf the same way.
 *
 * Dilation (stride 1, forward and dx): the copy of kernel column kw is shifted by kw * DW, and
 * tap (kh, kw) reads it from row kh * DH; the tiles skip the taps that read padding as above
 * (dilated convs read much of it on small planes). A DeepLab-like context module (3x3 convs of
 * 128 channels, dilation 2 and 4, on 24x24; bench/README.md, 2026-12-03): those convs had run
 * through conv.c's kernel at 55-61% of peak, now 100-106%; its training step at batch 32 on one
 * thread 423 -> 322 ms (270 with conv_bwd.c's weight gradient dilated too; PyTorch 310).
 *
 * Groups (BGR > 1): the input copies hold every channel, and the kernel computes each group's
 * output channels from its own input channels: a block of OCB output channels lies in one group
 * (the group's output channels a multiple of OCB), the packed weights are the group's
 * [NOCB][BIC][K][OCB] with BIC its input channels (PyTorch's [OC][IC / G][KH][KW] read as is),
 * and a job's tiles read the copies from channel cb * OCB / OCG * BIC on; the data gradient the
 * same with the dx channels of a group a multiple of OCB. A VGG-11-like net with groups of 2 and
 * 4 on 3x40x40 (bench/README.md, 2026-12-03): its grouped 3x3 convs had run through conv.c's
 * general kernel at 21-43% of peak, now 93-100%; batch 8 on one thread 18.2 -> 8.0 ms a call;
 * the training step at batch 16 58.7 -> 51.8 ms (with conv_bwd.c's weight gradient by group
 * as well, 45.3).
 *
 * Tried and left out: the shortcut's FORWARD paired the same way (training; its jobs after the
 * strided conv's over the copies of the tap that reads its pixels, so that the input is read
 * once). ResNet-18's layer2 at batch 8, one thread (bench/op_time.py, the two convs alone
 * against the pair): 6.8-7.0 against 6.7-6.8 ms with the input from memory, 6.5-6.6 against
 * 6.7-7.1 ms with it in cache, as in the step. The write-out through buf (the lanes hold output
 * channels) costs a 1x1 conv as much as a 3x3 one, for a ninth of the products; conv_1x1.c's
 * tile stores its rows of pixels straight from its registers.
 * Also tried and left out (bench/README.md, 2026-12-03 04:19 UTC): a strided forward's copies
 * made per job a block of input channels at a time, in L2 (a job every output-channel block of
 * a chunk of images, their sums in the slot's buffer), instead of one copy of a group that goes
 * to memory and is read back once per output-channel block: layer2 and layer3 at batch 8 the
 * same within noise (the tiles bound them); and the copies' row tails in overlapping vectors
 * (conv_1x1.c's even-pixel copy): layer4's rows of 7 slower. */
#include <stdbool.h>
#include <stdio.h>

#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../ops.h"

int64_t conv_blk_scratch(const Graph *g, const Op *op);
bool conv_blk_emit_forward(Emit *e, const Op *op, bool wide);
int64_t conv_blk_wide_scratch(const Graph *g, const Op *op);
int64_t conv_blk_dx_scratch(const Attrs *a, Shape in, Shape out);
bool conv_blk_emit_dx(Emit *e, const Op *fwd);
int64_t conv_blk_dx_pair_scratch(const Graph *g, const Op *body, const Op *sc);
bool conv_blk_emit_dx_pair(Emit *e, const Op *body, const Op *sc, bool head_is_sc);

/* OCB: output channels per block; P_MAX: the largest pixel tile; SLOTS_MAX: the most buffers;
 * W_BYTES: a block of weights; BUF_FLOATS: one slot's buffer (at least one image); LOCAL_BYTES:
 * the most weights, and copies of one slot's images, for the copies per slot. */
enum { OCB = 32, P_MAX = 12, SLOTS_MAX = 8, W_BYTES = 12288, BUF_FLOATS = 65536, LOCAL_BYTES = 1 << 20 };
/* NARROW_MAX, WIDE_MAX: the widest rows taken (see blk_takes_upto) */
enum { NARROW_MAX = 32, WIDE_MAX = 64 };

/* One phase of a strided conv's data gradient (see blk_s_geo). */
typedef struct {
    int kh, kw;     /* the sub-kernel */
    int kh0, kw0;   /* the forward's kernel row and column of its first tap, before reversal */
    int oh, ow;     /* the phase's dx rows and columns */
    int r0, s0;     /* where its taps start in the shared copies: row and plane */
    int orh, orw;   /* its first dx row and column */
    int p, rq, icb; /* its tile, positions computed (OH * the copies' pitch, up to a multiple of P), input channels per block */
    int tr, tc;     /* its tiles skipping the padding: TR whole rows or TC columns of a row (tr 0: P flattened pixels) */
    bool mr, mc;    /* their rows, columns merged (BlkTiles) */
    int64_t wp_at;  /* its packed weights, from wpk */
} BlkPhase;

enum { PHASES_MAX = 16 };

typedef struct {
    int ic, oc, ih, iw, oh, ow, kh, kw, ph, pw, sh, sw; /* of the convolution computed (ic: of one group) */
    int dh, dw;       /* dilation (stride 1 only: the copies per kernel column shift by KW * DW, tap (kh, kw)
                         reads row kh * DH of its copy) */
    int grp;          /* groups: the input has ic * grp channels, the output channels oc / grp per group (a
                         multiple of OCB: a block of output channels lies in one group) */
    int ic2, icb2;    /* a paired dx (conv_blk_emit_dx_pair): the shortcut's dy channels, which phase 0
                         also reduces over (read in place), ICB2 at a time; else 0 */
    int64_t wp2_at;   /* the shortcut's packed weights, from wpk */
    int n, hp, p, rq, icb, ni, slots;
    int tr, tc;       /* the tiles skipping the padding (see blk_tiling), tr 0: P flattened pixels, every tap */
    bool mr, mc;      /* their rows, columns merged (BlkTiles) */
    bool tap;         /* strided: one copy per tap (KH x KW planes of OH x OW), else per kernel column */
    bool direct;      /* strided forward: with AVX-512 the tiles read the input in place, no copies (see blk_tiling_direct) */
    int npl, pln;     /* copies per input channel, floats of one */
    int gi;           /* images per group: the one copy holds a group */
    bool local;       /* each slot copies its chunk's images itself (else one copy of all first) */
    bool fetch;       /* the weights beyond L2: the tiles prefetch the next block's (see blk_chunks) */
    int nph;          /* phases (a strided conv's dx), else 0 */
    BlkPhase f[PHASES_MAX];
    int osh, osw, dsh, dsw; /* the phases' strides (rows, columns), dst's rows and columns */
    int64_t xs_area;  /* floats of one slot's copies (local), of all the copies (else) */
    int64_t wp_at, buf_at, total;
} BlkGeo;

static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

/* the tile for qn positions: the fewest cycles, ceil(Q / P) tiles of P * 2 FMAs and about 2
 * cycles of loads and loop per tap; on a tie, the fewer positions wasted */
static int blk_tile(int qn) {
    int best = 1;
    long long cost = -1;
    for (int p = 1; p <= P_MAX; p++) {
        long long t = (qn + p - 1) / p, c = t * (2 * p + 2);
        if (cost < 0 || c < cost || (c == cost && t * p <= (long long)(qn + best - 1) / best * best))
            cost = c, best = p;
    }
    return best;
}

/* The tiles that skip the taps reading zero padding (AVX-512): a tile is TR whole rows of the
 * pitch W (TR * W <= P_MAX) or TC columns of one row (W a multiple of TC), so that whether tap
 * (kh, kw) reads the input at tile pixel (r, c) depends on the tile's row group g and column
 * piece j only, known to the generator: row g * TR + r and kernel row kh reach an input row,
 * column j * TC + c and kernel column kw an input column, and the pixel is an output (rows past
 * HV and columns past WV are computed and dropped). r0, s0: a phase's row and plane in the
 * shared copies (0, 0 else). */
typedef struct {
    const BlkGeo *q;
    int r0, s0, hv, wv, w, kh, kw, tr, tc;
    bool mr, mc; /* every row group (column piece) takes the taps of all: one block of code for them */
    unsigned mrow[16], mcol[16]; /* with mr (mc): the rows (columns) of each kernel row (column) */
    const char *xsrc; /* q->direct: the input (C name) the tiles read in place */
} BlkTiles;

static int blk_groups(const BlkTiles *t) { return (t->hv + t->tr - 1) / t->tr; }

static unsigned blk_rowbits(const BlkTiles *t, int g, int kh) {
    const BlkGeo *q = t->q;
    unsigned m = 0;
    if (t->mr)
        return t->mrow[kh];
    for (int r = 0; r < t->tr; r++) {
        int oh = g * t->tr + r, hi = q->tap ? oh * q->sh + kh - q->ph : oh + kh * q->dh + t->r0 - q->ph;
        if (oh < t->hv && hi >= 0 && hi < q->ih)
            m |= 1u << r;
    }
    return m;
}

static unsigned blk_colbits(const BlkTiles *t, int j, int kw) {
    const BlkGeo *q = t->q;
    unsigned m = 0;
    if (t->mc)
        return t->mcol[kw];
    for (int cc = 0; cc < t->tc; cc++) {
        int ow = j * t->tc + cc, wi = q->tap ? ow * q->sw + kw - q->pw : ow + kw * q->dw + t->s0 - q->pw;
        if (ow < t->wv && wi >= 0 && wi < q->iw)
            m |= 1u << cc;
    }
    return m;
}

/* the pixels of tile (g, j) that tap (kh, kw) reads input for: bit r * TC + c */
static unsigned blk_mask(const BlkTiles *t, int g, int j, int kh, int kw) {
    unsigned rm = blk_rowbits(t, g, kh), cm = blk_colbits(t, j, kw), m = 0;
    for (int r = 0; r < t->tr; r++)
        if (rm >> r & 1u)
            m |= cm << (r * t->tc);
    return m;
}

static int blk_bits(unsigned m) {
    int n = 0;
    for (; m; m &= m - 1)
        n++;
    return n;
}

/* the end of the run of row groups from g (or of column pieces from j: col) whose taps read
 * the same pixels */
static int blk_run_end(const BlkTiles *t, int at, bool col) {
    int end = col ? t->w / t->tc : blk_groups(t), e = at + 1;
    if (col ? t->mc : t->mr)
        return end;
    for (; e < end; e++) {
        bool same = true;
        for (int k = 0; k < (col ? t->kw : t->kh) && same; k++)
            same = col ? blk_colbits(t, e, k) == blk_colbits(t, at, k) : blk_rowbits(t, e, k) == blk_rowbits(t, at, k);
        if (!same)
            break;
    }
    return e;
}

/* t->mrow and t->mcol for t's tiles: the union over the row groups and column pieces */
static void blk_unite(BlkTiles *t) {
    bool mr = t->mr, mc = t->mc;
    t->mr = t->mc = false;
    for (int k = 0; k < t->kh; k++) {
        t->mrow[k] = 0;
        for (int g = 0; g < blk_groups(t); g++)
            t->mrow[k] |= blk_rowbits(t, g, k);
    }
    for (int k = 0; k < t->kw; k++) {
        t->mcol[k] = 0;
        for (int j = 0; j < t->w / t->tc; j++)
            t->mcol[k] |= blk_colbits(t, j, k);
    }
    t->mr = mr, t->mc = mc;
}

enum { BLOCKS_MAX = 16 }; /* the most blocks of code (runs of row groups x runs of column pieces) */

/* the cost of tiles (tr, tc) as blk_tile counts it, taps reading only padding left out, plus
 * 0.5% a block of code (the build time: a small saving is not worth a block); -1 beyond
 * BLOCKS_MAX blocks */
static long long blk_tiles_cost(BlkTiles *t) {
    int runs_g = 0, runs_j = 0;
    for (int g = 0; g < blk_groups(t); g = blk_run_end(t, g, false))
        runs_g++;
    for (int j = 0; j < t->w / t->tc; j = blk_run_end(t, j, true))
        runs_j++;
    if (runs_g * runs_j > BLOCKS_MAX)
        return -1;
    long long cost = 0;
    for (int g = 0; g < blk_groups(t); g++)
        for (int j = 0; j < t->w / t->tc; j++)
            for (int kh = 0; kh < t->kh; kh++)
                for (int kw = 0; kw < t->kw; kw++) {
                    unsigned m = blk_mask(t, g, j, kh, kw);
                    if (m)
                        cost += 2 + 2 * blk_bits(m);
                }
    return cost * (200 + runs_g * runs_j) / 200;
}

/* Chooses the tiles of an HV x WV output of pitch W (taps kh x kw): skipping tiles (t->tr > 0)
 * when they cost less than blk_tile's P flattened pixels over every tap; sets *p and *rq and
 * answers the cost. */
static long long blk_tiling(BlkTiles *t, int *p, int *rq) {
    int taps = t->kh * t->kw, q = t->hv * t->w;
    *p = blk_tile(q);
    *rq = (q + *p - 1) / *p * *p;
    long long best = (long long)(*rq / *p) * (2 * *p + 2) * taps * 201 / 200;
    BlkTiles b = *t;
    b.tr = 0;
    /* (each candidate costs the generator positions x taps steps) */
    if (t->kh <= 16 && t->kw <= 16 && (long long)q * taps <= 1 << 18)
        for (int tr = 1; tr <= P_MAX; tr++)
            for (int tc = 1; tc <= t->w && tr * tc <= P_MAX; tc++)
                for (int mg = 0; mg < 4; mg++) {
                    if (t->w % tc || (tr > 1 && tc != t->w))
                        continue;
                    t->tr = tr, t->tc = tc, t->mr = mg & 1, t->mc = mg >> 1;
                    blk_unite(t);
                    long long cost = blk_tiles_cost(t);
                    if (cost >= 0 && cost < best)
                        best = cost, b = *t;
                }
    *t = b;
    if (t->tr) {
        *p = t->tr * t->tc;
        *rq = blk_groups(t) * t->tr * t->w;
    }
    return best;
}

/* The tiles of a strided forward that reads its input in place (AVX-512; BlkGeo.direct): TR
 * rows x TC columns (W a multiple of TC, any TR), pixel (r, c) of the tile at input row
 * (oh + r) * SH + kh - PH and column (ow + c) * SW + kw - PW, so that no copy is needed; every
 * tap that would read outside the image is left out (no merged rows or columns: there is no
 * padding to read). False when no tiling stays within BLOCKS_MAX blocks of code or the choice
 * would take the generator long; else *p, *rq as blk_tiling sets them. */
static bool blk_tiling_direct(BlkTiles *t, int *p, int *rq) {
    if (t->kh > 16 || t->kw > 16 || (long long)t->hv * t->w * t->kh * t->kw > 1 << 18)
        return false;
    long long best = -1;
    BlkTiles b = *t;
    for (int tr = 1; tr <= P_MAX; tr++)
        for (int tc = 1; tc <= t->w && tr * tc <= P_MAX; tc++) {
            if (t->w % tc)
                continue;
            t->tr = tr, t->tc = tc, t->mr = t->mc = false;
            long long cost = blk_tiles_cost(t);
            if (cost >= 0 && (best < 0 || cost < best))
                best = cost, b = *t;
        }
    if (best < 0)
        return false;
    *t = b;
    *p = t->tr * t->tc;
    *rq = blk_groups(t) * t->tr * t->w;
    return true;
}

/* Whether reading the input in place pays: t's blk_tiling_direct tiles (*p, *rq as it sets
 * them; t left as it leaves it) cost at most a tenth more than copy_cost, blk_tiling's cost of
 * the tiles over the copies (which the copy adds to). */
static bool blk_direct_pays(BlkTiles *t, long long copy_cost, int *p, int *rq) {
    return blk_tiling_direct(t, p, rq) && blk_tiles_cost(t) * 10 <= copy_cost * 11;
}

/* input channels per block of weights (blocks of even size) */
static int blk_icb(int ic, int taps) {
    int icb = W_BYTES / (taps * OCB * 4);
    icb = icb < 1 ? 1 : icb > ic ? ic : icb;
    return (ic + (ic + icb - 1) / icb - 1) / ((ic + icb - 1) / icb);
}

/* The chunks, groups and slots, once q's copies (npl, pln), rq, n, ic and oc are known; wbytes:
 * the weights' bytes; cap: the most images a group's copy may hold (unless local). */
static void blk_chunks(BlkGeo *q, int64_t wbytes, int64_t cap) {
    q->ni = BUF_FLOATS / (q->rq * OCB);
    /* Big planes with few channels (weights within L2) copy per slot: one chunk's copies stay
     * in L2 across the blocks of output channels, instead of a round trip through memory.
     * Else one copy takes the images in groups of GI (a multiple of NI, groups of even size),
     * so that it needs no more floats than the padded copy of conv.c's kernel (cap images). */
    int64_t per_img = (int64_t)q->ic * q->grp * q->npl * q->pln;
    q->local = wbytes <= LOCAL_BYTES && per_img * 4 <= LOCAL_BYTES;
    q->fetch = wbytes > LOCAL_BYTES;
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
    int nocb = (q->oc + OCB - 1) / OCB;
    int64_t jobs = (int64_t)(q->gi + q->ni - 1) / q->ni * nocb;
    q->slots = jobs < SLOTS_MAX ? (int)jobs : SLOTS_MAX;
    q->xs_area = round16((int64_t)(q->local ? q->ni : q->gi) * per_img + P_MAX);
    q->wp_at = q->xs_area * (q->local ? q->slots : 1);
}

/* The geometry of the convolution of input in (n, ic, ih, iw) to output (oc, oh, ow) with a
 * kh x kw kernel padded by ph, pw (top, left; the bottom and right follow from the shapes). */
static void blk_geo(BlkGeo *q, Shape in, int grp, int oc, int oh, int ow, int kh, int kw, int ph, int pw, int sh, int sw,
                    int dh, int dw) {
    q->n = in.d[0], q->ic = in.d[1] / grp, q->grp = grp, q->ih = in.d[2], q->iw = in.d[3];
    q->oc = oc, q->oh = oh, q->ow = ow, q->kh = kh, q->kw = kw, q->ph = ph, q->pw = pw, q->sh = sh, q->sw = sw;
    q->dh = dh, q->dw = dw;
    q->ic2 = q->icb2 = 0, q->wp2_at = 0;
    q->nph = 0, q->osh = q->osw = 1, q->dsh = oh, q->dsw = ow;
    q->hp = (oh - 1) * sh + (kh - 1) * dh + 1; /* the padded input rows the taps reach */
    q->tap = sh != 1 || sw != 1;
    q->npl = q->tap ? kh * kw : kw;
    q->pln = q->tap ? oh * ow : q->hp * ow;
    BlkTiles t = {q, 0, 0, oh, ow, ow, kh, kw, 0, 0, false, false, {0}, {0}, NULL};
    long long copy_cost = blk_tiling(&t, &q->p, &q->rq);
    q->direct = false;
    if (q->tap && ow <= NARROW_MAX) {
        BlkTiles d = t;
        int dp, drq;
        if (blk_direct_pays(&d, copy_cost, &dp, &drq))
            t = d, q->p = dp, q->rq = drq, q->direct = true;
    }
    q->tr = t.tr, q->tc = t.tc, q->mr = t.mr, q->mc = t.mc;
    q->icb = blk_icb(q->ic, kh * kw);
    int64_t per_img = (int64_t)q->ic * grp * q->npl * q->pln;
    blk_chunks(q, (int64_t)q->ic * oc * kh * kw * 4, (int64_t)q->n * q->ic * grp * q->hp * ((ow - 1) * sw + kw) / per_img);
    int nocb = (oc + OCB - 1) / OCB;
    q->buf_at = q->wp_at + round16((int64_t)nocb * OCB * q->ic * kh * kw);
    q->total = q->buf_at + (int64_t)q->slots * q->ni * q->rq * OCB;
}

/* Where the kernel measured faster than conv.c's: KH x KW of 3x3 and more, rows of at most
 * 32 columns (WIDE_MAX: see conv_blk_wide_scratch), and channels enough for the lanes and the
 * blocking (conv_oc.c keeps the convs whose reduction fits L1, asked first). */
static bool blk_takes_upto(int ic, int oc, int ow, int kh, int kw, int wmax) {
    return kh * kw >= 9 && ow <= wmax && ic >= 32 && oc >= 32 && (long long)ic * kh * kw > 256;
}

static bool blk_takes(int ic, int oc, int ow, int kh, int kw) { return blk_takes_upto(ic, oc, ow, kh, kw, NARROW_MAX); }

static bool blk_fwd_geo_upto(const Graph *g, const Op *op, BlkGeo *q, int wmax) {
    const Attrs *a = &op->a;
    if (op->kind != OP_CONV || op->pro_conv >= 0 || op->pro_norm >= 0 || op->epi_pool >= 0)
        return false;
    if (a->sh > 2 || a->sw > 2 || ((a->dh != 1 || a->dw != 1) && (a->sh != 1 || a->sw != 1)))
        return false; /* dilated: stride 1 only */
    Shape in = g->values[op->in[0]].shape, out = g->values[op->out].shape;
    int gr = a->groups, icg = in.d[1] / gr, ocg = out.d[1] / gr;
    if ((gr > 1 && ocg % OCB) || !blk_takes_upto(icg, ocg, out.d[3], a->kh, a->kw, wmax))
        return false;
    blk_geo(q, in, gr, out.d[1], out.d[2], out.d[3], a->kh, a->kw, a->ph, a->pw, a->sh, a->sw, a->dh, a->dw);
    return true;
}

static bool blk_fwd_geo(const Graph *g, const Op *op, BlkGeo *q) { return blk_fwd_geo_upto(g, op, q, NARROW_MAX); }

/* The forwards of rows of 33 to 64 columns (ResNet's and VGG's 56-column stage at 224x224):
 * conv.c's kernel with AVX-512 (where conv_blk.c was first measured and kept to 32 columns),
 * this file's without (on a Zen 3 with AVX2, resnet18 at batch 8 on 1 thread took 390-440 ms
 * a call this way against 455-645 through conv.c's kernel). conv.c emits both under
 * #if defined(__AVX512F__); this kernel's scratch, or -1 when the op is not one of them. */
static bool blk_wide_geo(const Graph *g, const Op *op, BlkGeo *q) {
    return g->values[op->out].shape.d[3] > NARROW_MAX && blk_fwd_geo_upto(g, op, q, WIDE_MAX);
}

int64_t conv_blk_wide_scratch(const Graph *g, const Op *op) {
    BlkGeo q;
    return blk_wide_geo(g, op, &q) ? q.total : -1;
}

/* dx of a stride-1 conv: dy (n, OC, OH, OW) to dx (IC, IH, IW), padded by (KH - 1) * DH - PH
 * (a dilated conv's with the same dilation). */
static bool blk_dx_geo(const Attrs *a, Shape in, Shape out, BlkGeo *q) {
    int eh = (a->kh - 1) * a->dh, ew = (a->kw - 1) * a->dw; /* the kernel's reach */
    if (a->sh != 1 || a->sw != 1 || a->ph > eh || a->ph_end > eh || a->pw > ew || a->pw_end > ew)
        return false;
    int gr = a->groups;
    if ((gr > 1 && in.d[1] / gr % OCB) || !blk_takes(out.d[1] / gr, in.d[1] / gr, in.d[3], a->kh, a->kw))
        return false;
    blk_geo(q, out, gr, in.d[1], in.d[2], in.d[3], a->kh, a->kw, eh - a->ph, ew - a->pw, 1, 1, a->dh, a->dw);
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
        a->ph > a->kh - 1 || a->pw > a->kw - 1) /* (undilated) */
        return false;
    int gr = a->groups;
    return (gr == 1 || in.d[1] / gr % OCB == 0) &&
           blk_takes(out.d[1] / gr, in.d[1] / gr, (in.d[3] + a->sw - 1) / a->sw, a->kh, a->kw);
}

static bool blk_s_geo2(const Attrs *a, Shape in, Shape out, int ic2, BlkGeo *q) {
    if (!blk_s_takes(a, in, out))
        return false;
    int ih = in.d[2], iw = in.d[3], nph = 0, pht = 0, pwl = 0, amax = 0, bmax = 0;
    int php[PHASES_MAX], pwp[PHASES_MAX]; /* each phase's padding of dy: top, left */
    for (int rh = 0; rh < a->sh && rh < ih; rh++)
        for (int rw = 0; rw < a->sw && rw < iw; rw++) {
            BlkPhase *f = &q->f[nph];
            f->kh0 = (rh + a->ph) % a->sh, f->kw0 = (rw + a->pw) % a->sw;
            f->kh = (a->kh - f->kh0 + a->sh - 1) / a->sh, f->kw = (a->kw - f->kw0 + a->sw - 1) / a->sw;
            php[nph] = f->kh - 1 - (rh + a->ph - f->kh0) / a->sh;
            pwp[nph] = f->kw - 1 - (rw + a->pw - f->kw0) / a->sw;
            f->oh = (ih - rh + a->sh - 1) / a->sh, f->ow = (iw - rw + a->sw - 1) / a->sw;
            f->orh = rh, f->orw = rw;
            pht = nph == 0 || php[nph] > pht ? php[nph] : pht;
            pwl = nph == 0 || pwp[nph] > pwl ? pwp[nph] : pwl;
            amax = f->oh > amax ? f->oh : amax;
            bmax = f->ow > bmax ? f->ow : bmax;
            nph++;
        }
    /* the shared copies: dy padded by PHT rows on top and PWL columns on the left, NPL column
     * shifts of HP rows of BMAX columns, enough for every phase's taps */
    q->n = out.d[0], q->ic = out.d[1] / a->groups, q->grp = a->groups, q->ih = out.d[2], q->iw = out.d[3];
    q->dh = q->dw = 1;
    q->ic2 = ic2, q->icb2 = ic2 ? blk_icb(ic2, 1) : 0, q->wp2_at = 0;
    q->oc = in.d[1], q->oh = amax, q->ow = bmax, q->kh = a->kh, q->kw = a->kw, q->ph = pht, q->pw = pwl, q->sh = q->sw = 1;
    q->nph = nph, q->osh = a->sh, q->osw = a->sw, q->dsh = ih, q->dsw = iw;
    q->tap = false;
    q->hp = q->npl = q->rq = 0;
    /* With AVX-512 the phases read dy IN PLACE (q->direct) when that pays for every phase (as
     * for a strided forward): no copies then, only the taps reaching dy computed. */
    BlkTiles dt[PHASES_MAX];
    int dp[PHASES_MAX], drq[PHASES_MAX];
    q->direct = bmax <= NARROW_MAX;
    for (int k = 0; k < nph; k++) {
        BlkPhase *f = &q->f[k];
        f->r0 = pht - php[k], f->s0 = pwl - pwp[k];
        q->hp = f->oh + f->kh - 1 + f->r0 > q->hp ? f->oh + f->kh - 1 + f->r0 : q->hp;
        q->npl = f->s0 + f->kw > q->npl ? f->s0 + f->kw : q->npl;
        BlkTiles t = {q, f->r0, f->s0, f->oh, f->ow, bmax, f->kh, f->kw, 0, 0, false, false, {0}, {0}, NULL};
        long long copy_cost = blk_tiling(&t, &f->p, &f->rq);
        f->tr = t.tr, f->tc = t.tc, f->mr = t.mr, f->mc = t.mc;
        f->icb = blk_icb(q->ic, f->kh * f->kw);
        dt[k] = t;
        q->direct = q->direct && blk_direct_pays(&dt[k], copy_cost, &dp[k], &drq[k]);
    }
    for (int k = 0; k < nph; k++) {
        BlkPhase *f = &q->f[k];
        if (q->direct)
            f->p = dp[k], f->rq = drq[k], f->tr = dt[k].tr, f->tc = dt[k].tc, f->mr = dt[k].mr, f->mc = dt[k].mc;
        q->rq = f->rq > q->rq ? f->rq : q->rq;
    }
    q->pln = q->hp * bmax;
    q->p = q->f[0].p, q->icb = q->f[0].icb, q->tr = q->tc = 0, q->mr = q->mc = false;
    int64_t per_img = (int64_t)q->ic * q->grp * q->npl * q->pln;
    int rqm = q->rq;
    q->rq = rqm * nph; /* a job's buffer holds every phase: [phase][NI][RQM][OCB] */
    blk_chunks(q, ((int64_t)q->ic * a->kh * a->kw + ic2) * q->oc * 4,
               (int64_t)q->n * q->ic * q->grp * (q->ih + a->kh) * (q->iw + a->kw) * 2 / per_img);
    q->rq = rqm;
    int nocb = (q->oc + OCB - 1) / OCB;
    int64_t at = q->wp_at;
    for (int k = 0; k < nph; k++) {
        q->f[k].wp_at = at - q->wp_at;
        at += round16((int64_t)nocb * OCB * q->ic * q->f[k].kh * q->f[k].kw);
    }
    q->wp2_at = at - q->wp_at; /* the paired shortcut's weights: [NOCB][IC2][OCB] */
    at += round16((int64_t)nocb * OCB * ic2);
    q->buf_at = at;
    q->total = q->buf_at + (int64_t)q->slots * nph * q->ni * q->rq * OCB;
    return true;
}

static bool blk_s_geo(const Attrs *a, Shape in, Shape out, BlkGeo *q) { return blk_s_geo2(a, in, out, 0, q); }

int64_t conv_blk_scratch(const Graph *g, const Op *op) {
    BlkGeo q;
    return blk_fwd_geo(g, op, &q) ? q.total : -1;
}

int64_t conv_blk_dx_scratch(const Attrs *a, Shape in, Shape out) {
    BlkGeo q;
    return blk_dx_geo(a, in, out, &q) || blk_s_geo(a, in, out, &q) ? q.total : -1;
}

/* The body of a loop over planes pl (image and channel) of src: the KW shifted, zero-padded
 * copies of plane pl at dst + pl * KW * HP * OW, then the zero tail after nimg images. */
static void blk_emit_copy(Cbuf *c, const BlkGeo *q, const char *src, const char *dst, const char *pl, const char *nimg) {
    if (q->tap) {
        cb_line(c, "for (int k = 0; k < BKK; k++) { /* xs[i][ic][k][oh][ow] = xpad[i][ic][oh * SH + kh][ow * SW + kw] */");
        cb_line(c, "const int kh = k / BKW, kw = k %% BKW;");
        cb_line(c, "float *xs = %s + ((ptrdiff_t)%s * BNPL + k) * BPLN;", dst, pl);
        cb_line(c, "const float *xc = %s + (ptrdiff_t)%s * BIH * BIW;", src, pl);
        /* the columns whose input is inside the image, ow in [c0, c1): zeros around a strided
         * copy with no test per element (the test per element made the copies a quarter of
         * ResNet-18's layer2 stride-2 conv at batch 8). At stride 2 across, the copy takes the
         * even lanes of two vectors (CNN_SHUFFLE) while both lie in the row: clang left the
         * strided loop scalar, a load and a store per float (layer2's copies, 3.6 M floats a
         * call at batch 8, took about a sixth of its forward). */
        cb_line(c, "const int c0 = kw < BPW ? (BPW - kw + BSW - 1) / BSW : 0, e = BIW - 1 + BPW - kw;");
        cb_line(c, "const int c1 = e < 0 ? 0 : e / BSW + 1 < BOW ? e / BSW + 1 : BOW;");
        cb_line(c, "for (int oh = 0; oh < BOH; oh++) {");
        cb_line(c, "const int hi = oh * BSH + kh - BPH;");
        cb_line(c, "float *const xr = xs + oh * BOW;");
        cb_line(c, "if (hi < 0 || hi >= BIH || c1 <= c0) {");
        cb_line(c, "for (int ow = 0; ow < BOW; ow++)");
        cb_line(c, "    xr[ow] = 0.0f;");
        cb_line(c, "continue;");
        cb_line(c, "}");
        cb_line(c, "for (int ow = 0; ow < c0; ow++)");
        cb_line(c, "    xr[ow] = 0.0f;");
        cb_line(c, "int ow = c0;");
        if (q->sw == 2 && q->ow >= 8) { /* rows of at least one vector of AVX2 */
            cb_line(c, "#if CNN_SHUFFLE");
            cb_line(c, "for (const float *const sr = xc + (ptrdiff_t)hi * BIW + kw - BPW; /* xr[ow] = sr[2 ow] */");
            cb_line(c, "     2 * (ow + CNN_VW) + kw - BPW <= BIW && ow + CNN_VW <= c1; ow += CNN_VW) {");
            cb_line(c, "cnn_vec lo, hi2;");
            cb_line(c, "memcpy(&lo, sr + 2 * ow, sizeof lo);");
            cb_line(c, "memcpy(&hi2, sr + 2 * ow + CNN_VW, sizeof hi2);");
            emit_even_lanes(c, "ev", "lo", "hi2", false);
            cb_line(c, "memcpy(xr + ow, &ev, sizeof ev);");
            cb_line(c, "}");
            cb_line(c, "#endif");
        }
        cb_line(c, "for (; ow < c1; ow++)");
        cb_line(c, "    xr[ow] = xc[hi * BIW + ow * BSW + kw - BPW];");
        cb_line(c, "for (; ow < BOW; ow++)");
        cb_line(c, "    xr[ow] = 0.0f;");
        cb_line(c, "}");
        cb_line(c, "}");
    } else {
        cb_line(c, "for (int kw = 0; kw < BNPL; kw++) { /* xs[i][ic][kw][h][ow] = xpad[i][ic][h][ow + kw * BDW] */");
        cb_line(c, "float *xs = %s + ((ptrdiff_t)%s * BNPL + kw) * BPLN;", dst, pl);
        cb_line(c, "const float *xc = %s + (ptrdiff_t)%s * BIH * BIW;", src, pl);
        cb_line(c, "const int c0 = BPW - kw * BDW > 0 ? BPW - kw * BDW : 0, c1 = BIW + BPW - kw * BDW < BOW ? BIW + BPW - kw * BDW : BOW;");
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
        if (q->nph) { /* short rows: a loop the compiler vectorizes, cheaper than a call to memcpy */
            cb_line(c, "for (int col = c0; col < c1; col++)");
            cb_line(c, "    xr[col] = xc[hi * BIW + col + kw * BDW - BPW];");
        } else {
            cb_line(c, "if (c1 > c0)");
            cb_line(c, "    memcpy(xr + c0, xc + hi * BIW + c0 + kw * BDW - BPW, sizeof(float) * (size_t)(c1 - c0));");
        }
        cb_line(c, "for (int col = c1 > c0 ? c1 : c0; col < BOW; col++)");
        cb_line(c, "    xr[col] = 0.0f;");
        cb_line(c, "}");
        cb_line(c, "}");
    }
    cb_line(c, "for (int t = 0; t < %d; t++) /* the tail the last tiles read into */", P_MAX);
    cb_line(c, "    %s[(ptrdiff_t)%s * BICT * BNPL * BPLN + t] = 0.0f;", dst, nimg);
}

/* the first input channel of job block cb's group, from the image's first (C text, "" or ending in "+ ") */
static const char *blk_group_first(const BlkGeo *q) { return q->grp > 1 ? "cb * BOCB / BOCG * BIC + " : ""; }

/* BlkGeo.direct: where tile pixel p's tap (kh, kw) reads, from the tile's first pixel's tap
 * (PH, PW) */
static int blk_direct_at(const BlkTiles *t, int p, int kh, int kw) {
    const BlkGeo *q = t->q;
    return ((p / t->tc) * q->sh + kh * q->dh + t->r0 - q->ph) * q->iw + (p % t->tc) * q->sw + kw * q->dw + t->s0 - q->pw;
}

/* whether taps (kh, kw) and (kh2, kw2) of tile (g, j) read a float in common */
static bool blk_direct_clash(const BlkTiles *t, int g, int j, int kh, int kw, int kh2, int kw2) {
    unsigned m = blk_mask(t, g, j, kh, kw), m2 = blk_mask(t, g, j, kh2, kw2);
    for (int p = 0; p < t->tr * t->tc; p++)
        for (int p2 = 0; p2 < t->tr * t->tc; p2++)
            if ((m >> p & 1u) && (m2 >> p2 & 1u) && blk_direct_at(t, p, kh, kw) == blk_direct_at(t, p2, kh2, kw2))
                return true;
    return false;
}

/* The AVX-512 tiles of t (t->tr > 0): per run of row groups and run of column pieces, a loop
 * over its tiles whose taps the generator unrolls, each with the constant mask of the pixels it
 * reads input for (none: the tap is left out), so that the multiply-adds of the pixels reading
 * zero padding are skipped (adding them changed nothing: the sums are the same). Opens an
 * #if that the caller's #else (the P flattened pixels, other targets) closes. */
static void blk_emit_skipping(Cbuf *c, const BlkGeo *q, const BlkTiles *t) {
    cb_line(c, "#if defined(__AVX512F__) /* tiles of %d row(s) x %d column(s): the taps reading only zero padding skipped */",
            t->tr, t->tc);
    cb_line(c, "typedef float blk_v __attribute__((vector_size(64)));");
    cb_line(c, "#if defined(__clang__) /* the loops over input channels not unrolled: a third of the build time, no speed */");
    cb_line(c, "#define BLK_ONCE _Pragma(\"clang loop unroll(disable)\")");
    cb_line(c, "#else");
    cb_line(c, "#define BLK_ONCE");
    cb_line(c, "#endif");
    cb_line(c, "#define BLK_TAP(k, off, px) { /* tap k at offset off, px: its pixels */ \\");
    cb_line(c, "    const float *const xr = xi + (off); \\");
    cb_line(c, "    blk_v w0, w1; \\");
    cb_line(c, "    memcpy(&w0, wq + (k) * BOCB, sizeof w0); \\");
    cb_line(c, "    memcpy(&w1, wq + (k) * BOCB + 16, sizeof w1); \\");
    cb_line(c, "    px \\");
    cb_line(c, "}");
    cb_line(c, "#define BLK_PX(p) acc[p][0] += xr[p] * w0; acc[p][1] += xr[p] * w1; /* pixel p */");
    if (q->direct) { /* the input read in place: pixel p of tap k at xi[xo + o], o constant (its row and column) */
        cb_line(c, "#define BLK_TAPD(k, px) { /* tap k, px: its pixels */ \\");
        cb_line(c, "    blk_v w0, w1; \\");
        cb_line(c, "    memcpy(&w0, wq + (k) * BOCB, sizeof w0); \\");
        cb_line(c, "    memcpy(&w1, wq + (k) * BOCB + 16, sizeof w1); \\");
        cb_line(c, "    px \\");
        cb_line(c, "}");
        cb_line(c, "#define BLK_PXD(p, o) acc[p][0] += xi[xo + (o)] * w0; acc[p][1] += xi[xo + (o)] * w1; /* pixel p at o */");
        cb_line(c, "(void)xg;");
        cb_line(c, "const float *const xd = %s + ((ptrdiff_t)(g0 + i0 + ii) * BICT + %sic0) * BIH * BIW; /* the block's first channel */",
                t->xsrc, blk_group_first(q));
    }
    /* where the tile's pixel p lies in buf, from q0: p itself when the tile is whole rows */
    const char *pq = q->direct && t->tr > 1 && t->tc != t->w ? arena_printf("(p / %d * BOW + p %% %d)", t->tc, t->tc) : "p";
    int ng = blk_groups(t), nj = t->w / t->tc;
    for (int g0 = 0; g0 < ng;) {
        int g1 = blk_run_end(t, g0, false);
        for (int j0 = 0; j0 < nj;) {
            int j1 = blk_run_end(t, j0, true);
            { /* a tile no tap reads input for still writes its zeros (dx elements no tap of dy reaches) */
                cb_line(c, "for (int g = %d; g < %d; g++) /* rows %d to %d */", g0, g1, g0 * t->tr, g1 * t->tr - 1);
                cb_line(c, "for (int j = %d; j < %d; j++) { /* columns %d to %d */", j0, j1, j0 * t->tc, j1 * t->tc - 1);
                cb_line(c, "const int q0 = g * %d + j * %d;", t->tr * t->w, t->tc);
                cb_line(c, "float *const bq = bi + (ptrdiff_t)q0 * BOCB;");
                cb_line(c, "blk_v acc[BP][2];");
                cb_line(c, "for (int p = 0; p < BP; p++)");
                cb_line(c, "    for (int v = 0; v < 2; v++)");
                cb_line(c, "        if (ic0 == 0)");
                cb_line(c, "            acc[p][v] = (blk_v){0};");
                cb_line(c, "        else");
                cb_line(c, "            memcpy(&acc[p][v], bq + %s * BOCB + v * 16, sizeof acc[p][v]);", pq);
                bool reads = false; /* the tile's first input float, if any tap reads input */
                for (int kh = 0; kh < t->kh; kh++)
                    for (int kw = 0; kw < t->kw; kw++)
                        reads = reads || blk_mask(t, g0, j0, kh, kw);
                if (reads && q->direct)
                    cb_line(c, "const ptrdiff_t xo = (ptrdiff_t)g * %d + j * %d; /* the tile's first pixel's tap (PH, PW) */",
                            t->tr * q->sh * q->iw, t->tc * q->sw);
                else if (reads)
                    cb_line(c, "const float *const xq = xg + q0;");
                /* One loop over the input channels for taps that read distinct floats (no
                 * broadcast shared between taps, which the compiler would keep in registers and
                 * spill): the taps of a kernel row (distinct copies), all taps with tiles of one
                 * row (distinct rows). */
                int kstep = t->tr == 1 ? t->kh : 1;
                /* The loop of each tap: with copies, by kernel rows (kstep at a time); reading the
                 * input in place, where taps of a kernel row share floats too (stride 2: column kw
                 * of pixel c is column kw + 2 of pixel c - 1), each tap goes to the first loop none
                 * of whose taps reads a float it reads (3 loops for a 3x3 kernel at stride 2). */
                enum { TAPS_MAX = 16 * 16 };
                int lp[TAPS_MAX], nlp = 0;
                for (int kh = 0; kh < t->kh; kh++)
                    for (int kw = 0; kw < t->kw; kw++) {
                        int k = kh * t->kw + kw;
                        lp[k] = -1;
                        if (!blk_mask(t, g0, j0, kh, kw))
                            continue;
                        if (!q->direct) {
                            lp[k] = kh / kstep;
                            nlp = lp[k] + 1;
                            continue;
                        }
                        for (int l = 0; l <= nlp && lp[k] < 0; l++) {
                            bool clash = false;
                            for (int k2 = 0; k2 < k && !clash; k2++)
                                if (lp[k2] == l)
                                    clash = blk_direct_clash(t, g0, j0, k2 / t->kw, k2 % t->kw, kh, kw);
                            if (!clash)
                                lp[k] = l;
                        }
                        nlp = lp[k] + 1 > nlp ? lp[k] + 1 : nlp;
                    }
                bool fetch = q->fetch && g0 == 0 && j0 == 0; /* the next block's weights, in the first loop of the first tiles */
                for (int l = 0; l < nlp; l++) {
                    bool any = false;
                    for (int k = 0; k < t->kh * t->kw; k++)
                        any = any || lp[k] == l;
                    if (!any)
                        continue;
                    if (q->direct)
                        cb_line(c, "BLK_ONCE for (int ic = 0; ic < icn; ic++) { /* taps reading distinct floats */");
                    else
                        cb_line(c, "BLK_ONCE for (int ic = 0; ic < icn; ic++) { /* kernel rows %d to %d */", l * kstep,
                                l * kstep + kstep - 1);
                    if (q->direct)
                        cb_line(c, "const float *const wq = wb + (ptrdiff_t)ic * BKK * BOCB, *const xi = xd + (ptrdiff_t)ic * BIH * BIW;");
                    else
                        cb_line(c, "const float *const wq = wb + (ptrdiff_t)ic * BKK * BOCB, *const xi = xq + (ptrdiff_t)ic * BNPL * BPLN;");
                    if (fetch) {
                        cb_line(c, "if (ii == 0) /* the same channel's weights in the next block (the next job's first block after the last) */");
                        cb_line(c, "    for (int f = 0; f < BKK * BOCB; f += 16)");
                        cb_line(c, "        __builtin_prefetch(wq + BICB * BKK * BOCB + f, 0, 3);");
                        fetch = false;
                    }
                    for (int kh = 0; kh < t->kh; kh++)
                    for (int kw = 0; kw < t->kw; kw++) {
                        if (lp[kh * t->kw + kw] != l)
                            continue;
                        unsigned m = blk_mask(t, g0, j0, kh, kw);
                        long long off = q->tap ? (long long)(kh * t->kw + kw) * q->pln
                                               : (long long)(kw + t->s0) * q->pln + (long long)(kh * q->dh + t->r0) * q->ow;
                        char px[32 * P_MAX] = "";
                        for (int p = 0, at = 0; p < t->tr * t->tc; p++)
                            if (m >> p & 1u && q->direct)
                                at += snprintf(px + at, sizeof px - (size_t)at, " BLK_PXD(%d, %d)", p, blk_direct_at(t, p, kh, kw));
                            else if (m >> p & 1u)
                                at += snprintf(px + at, sizeof px - (size_t)at, " BLK_PX(%d)", p);
                        if (q->direct)
                            cb_line(c, "BLK_TAPD(%d,%s)", kh * t->kw + kw, px);
                        else
                            cb_line(c, "BLK_TAP(%d, %lld,%s)", kh * t->kw + kw, off, px);
                    }
                    cb_line(c, "}");
                }
                cb_line(c, "for (int p = 0; p < BP; p++)");
                cb_line(c, "    for (int v = 0; v < 2; v++)");
                cb_line(c, "        memcpy(bq + %s * BOCB + v * 16, &acc[p][v], sizeof acc[p][v]);", pq);
                cb_line(c, "}");
            }
            j0 = j1;
        }
        g0 = g1;
    }
    cb_line(c, "#undef BLK_TAP");
    cb_line(c, "#undef BLK_PX");
    if (q->direct) {
        cb_line(c, "#undef BLK_TAPD");
        cb_line(c, "#undef BLK_PXD");
    }
    cb_line(c, "#undef BLK_ONCE");
    cb_line(c, "#else");
}

/* What a job's reduction reads: rd, the offset of tap (kh, kw) of channel ic from xg (its block's
 * first channel of its image); nc, ncb: the channels and the channels a block (C names); acc: a
 * tensor read in place (a paired shortcut's dy), whose sums add to what buf holds and whose tiles
 * read no position past BQ (else the first block starts the sums at zero, and the copies' tails
 * allow the positions up to BRQ). */
typedef struct {
    const char *rd, *xg, *nc, *ncb;
    bool acc;
    int pf;       /* > 0: each channel's reads prefetched pf floats ahead */
} BlkSrc;

/* One loop of register tiles of blk_emit_blocks: NG groups of the block's channels in turn, PS
 * positions from q0 = lo to hi at a time; NV vectors of VL channels each (blk_v, VL declared by
 * the caller). */
static void blk_emit_ptile(Cbuf *c, const BlkGeo *q, const BlkSrc *sr, const char *ps, const char *ng, const char *lo,
                           const char *hi) {
    const char *rd = sr->rd;
    cb_line(c, "{");
    cb_line(c, "enum { PS = %s, NG = %s, NV = BOCB / VL / NG };", ps, ng);
    cb_line(c, "for (int q0 = %s; q0 < %s; q0 += PS)", lo, hi);
    cb_line(c, "for (int g = 0; g < NG; g++) { /* the groups of a tile's positions in turn: its inputs stay in L1 */");
    cb_line(c, "float *const bq = bi + (ptrdiff_t)q0 * BOCB + g * NV * VL;");
    cb_line(c, "blk_v acc[PS][NV];");
    if (!sr->acc) {
        cb_line(c, "if (ic0 == 0) {");
        cb_line(c, "for (int p = 0; p < PS; p++)");
        cb_line(c, "    for (int v = 0; v < NV; v++)");
        cb_line(c, "        acc[p][v] = (blk_v){0};");
        cb_line(c, "} else {");
    }
    cb_line(c, "for (int p = 0; p < PS; p++)");
    cb_line(c, "    for (int v = 0; v < NV; v++)");
    cb_line(c, "        memcpy(&acc[p][v], bq + p * BOCB + v * VL, sizeof acc[p][v]);");
    if (!sr->acc)
        cb_line(c, "}");
    cb_line(c, "const float *wq = wb + g * NV * VL;");
    cb_line(c, "for (int ic = 0; ic < icn; ic++)");
    cb_line(c, "for (int kh = 0; kh < BKH; kh++)");
    cb_line(c, "for (int kw = 0; kw < BKW; kw++, wq += BOCB) {");
    if (q->fetch) {
        cb_line(c, "if (q0 == %s && g == 0 && ii == 0) /* the tap's weights in the next block */", lo);
        cb_line(c, "    for (int f = 0; f < BOCB; f += 16)");
        cb_line(c, "        __builtin_prefetch(wq + %s * BKK * BOCB + f, 0, 3);", sr->ncb);
    }
    cb_line(c, "const float *xr = xg + %s + q0;", rd);
    if (sr->pf)
        cb_line(c, "__builtin_prefetch(xr + %d, 0, 3); /* the channel's line a few tiles on */", sr->pf);
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
    cb_line(c, "}");
}

/* The reduction of one job over the input channels, block by block, into buf: weights from
 * wbase (packed [cb][ic][k][BOCB]), tap (kh, kw) read at row kh + r0 of plane kw + s0 of the
 * copies (the taps of a phase in the shared copies; 0, 0 otherwise). Uses BKH, BKW, BKK, BP,
 * BRQ and BICB. src2, when given, says what it reads instead (a paired shortcut's dy in place:
 * then P flattened positions, none past BQ, added to buf). */
static void blk_emit_blocks(Cbuf *c, const BlkGeo *q, const BlkTiles *t, const char *wbase, const char *bibase, int r0, int s0,
                            const BlkSrc *src2) {
    BlkSrc own = {r0 || s0 ? arena_printf("(ptrdiff_t)(ic * BNPL + kw + %d) * BPLN + (kh + %d) * BOW", s0, r0)
                           : "(ptrdiff_t)(ic * BNPL + (BTAP ? kh * BKW + kw : kw)) * BPLN + (BTAP ? 0 : kh * BDH * BOW)",
                  arena_printf("%s + ((ptrdiff_t)(%s) * BICT + %sic0) * BNPL * BPLN", q->local ? "xsl" : "xsb",
                               q->local ? "ii" : "i0 + ii", blk_group_first(q)),
                  "BIC", "BICB", false, 0};
    const BlkSrc *sr = src2 ? src2 : &own;
    const char *rd = sr->rd;
    cb_line(c, "for (int ic0 = 0; ic0 < %s; ic0 += %s) {", sr->nc, sr->ncb);
    cb_line(c, "const int icn = %s - ic0 < %s ? %s - ic0 : %s;", sr->nc, sr->ncb, sr->nc, sr->ncb);
    cb_line(c, "const float *const wb = %s + ((ptrdiff_t)cb * %s + ic0) * BKK * BOCB;", wbase, sr->nc);
    cb_line(c, "for (int ii = 0; ii < ni; ii++) {");
    cb_line(c, "const float *const xg = %s;", sr->xg);
    cb_line(c, "float *const bi = %s;", bibase);
    cb_line(c, "#if CNN_VECTORS");
    if (t->tr)
        blk_emit_skipping(c, q, t);
    cb_line(c, "#if defined(__AVX512F__)");
    cb_line(c, "enum { VL = 16, PSM = BP, NGM = 1 };");
    cb_line(c, "#elif defined(__AVX__) /* 4 positions x 2 vectors of 8 channels (half the block): 8 accumulators */");
    cb_line(c, "enum { VL = 8, PSM = 4, NGM = BOCB / 16 };");
    cb_line(c, "#else");
    cb_line(c, "enum { VL = 8, PSM = 1, NGM = 1 };");
    cb_line(c, "#endif");
    cb_line(c, "typedef float blk_v __attribute__((vector_size(VL * 4)));");
    if (sr->acc) { /* read in place: no position past BQ */
        cb_line(c, "enum { QM = BQ / PSM * PSM }; /* the last positions one at a time */");
    } else {
        cb_line(c, "/* the positions past BQ up to BRQ are not needed: rounded up to PSM when BRQ allows, else");
        cb_line(c, " * the last ones one at a time */");
        cb_line(c, "enum { QM = (BQ + PSM - 1) / PSM * PSM <= BRQ ? (BQ + PSM - 1) / PSM * PSM : BQ / PSM * PSM };");
    }
    blk_emit_ptile(c, q, sr, "PSM", "NGM", "0", "QM");
    cb_line(c, "if ((int)QM < (int)BQ)");
    blk_emit_ptile(c, q, sr, "1", "1", "QM", "BQ");
    if (t->tr)
        cb_line(c, "#endif");
    cb_line(c, "#else");
    cb_line(c, "for (int qq = 0; qq < BQ; qq++) {");
    cb_line(c, "float *bq = bi + (ptrdiff_t)qq * BOCB;");
    if (!sr->acc) {
        cb_line(c, "if (ic0 == 0)");
        cb_line(c, "    for (int j = 0; j < BOCB; j++)");
        cb_line(c, "        bq[j] = 0.0f;");
    }
    cb_line(c, "const float *wq = wb;");
    cb_line(c, "for (int ic = 0; ic < icn; ic++)");
    cb_line(c, "for (int kh = 0; kh < BKH; kh++)");
    cb_line(c, "for (int kw = 0; kw < BKW; kw++, wq += BOCB) {");
    cb_line(c, "const float s = xg[%s + qq];", rd);
    cb_line(c, "for (int j = 0; j < BOCB; j++)");
    cb_line(c, "    bq[j] += s * wq[j];");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#endif");
    cb_line(c, "}"); /* image */
    cb_line(c, "}"); /* block of input channels */
}

/* The write-out of a job: its BQ positions of each channel of the block through the bias and
 * the epilogue (op: forward only) to the channel's plane (emit_planes_out), 64 positions (8 KiB
 * of buf, in L1) at a time. */
static void blk_emit_out(Emit *e, const char *dst, const Op *op) {
    Cbuf *c = e->c;
    cb_line(c, "const int ocn = BOC - cb * BOCB < BOCB ? BOC - cb * BOCB : BOCB;");
    cb_line(c, "for (int ii = 0; ii < ni; ii++) {");
    cb_line(c, "float *const bi = buf + (ptrdiff_t)ii * BRQ * BOCB;");
    cb_line(c, "float *const yb = %s + ((ptrdiff_t)(g0 + i0 + ii) * BOC + cb * BOCB) * BQ;", dst);
    cb_line(c, "for (int qa = 0; qa < BQ; qa += 64) { /* 64 positions of buf (8 KiB) at a time, in L1 */");
    cb_line(c, "const int qb = BQ - qa < 64 ? BQ : qa + 64;");
    emit_planes_out(e, op, &(EmitPlanes){"bi", "BOCB", "yb", "BQ", "qa", "qb", "ocn", "cb * BOCB", "BOC"});
    cb_line(c, "}");
    cb_line(c, "}");
}

/* The write-out of a job's phases (all in buf): dx row by row, element (h, w) from phase
 * (h mod OSH, w mod OSW) at position (h / OSH, w / OSW) (the strides of rows and columns may
 * differ), a few rows of every phase (at most 64 positions, 8 KiB) at a time. Every element
 * of the job's planes is written once. */
static void blk_emit_out_phases(Cbuf *c, const BlkGeo *q, const char *dst) {
    int nrw = q->dsw < q->osw ? q->dsw : q->osw; /* phases per row of phases */
    int ra = 64 / (q->nph * q->ow);
    ra = ra < 1 ? 1 : ra;
    cb_line(c, "enum { DSH = %d, DSW = %d, DOSH = %d, DOSW = %d, DNRW = %d, DRA = %d }; /* dx rows, columns, strides, phases a row, phase rows at a time */",
            q->dsh, q->dsw, q->osh, q->osw, nrw, ra);
    cb_line(c, "const int ocn = BOC - cb * BOCB < BOCB ? BOC - cb * BOCB : BOCB;");
    cb_line(c, "for (int ii = 0; ii < ni; ii++)");
    cb_line(c, "for (int a0 = 0; a0 * DOSH < DSH; a0 += DRA) {");
    cb_line(c, "const int h1 = (a0 + DRA) * DOSH < DSH ? (a0 + DRA) * DOSH : DSH;");
    cb_line(c, "for (int j = 0; j < ocn; j++) {");
    cb_line(c, "float *const yc = %s + ((ptrdiff_t)(g0 + i0 + ii) * BOC + cb * BOCB + j) * DSH * DSW;", dst);
    cb_line(c, "for (int h = a0 * DOSH; h < h1; h++) {");
    cb_line(c, "const float *const br = buf + (((ptrdiff_t)(h %% DOSH) * DNRW * BNI + ii) * BRQM + (ptrdiff_t)(h / DOSH) * BOW) * BOCB + j;");
    if (q->dsw % q->osw == 0) { /* every phase of the row has BOW columns */
        cb_line(c, "for (int pc = 0; pc < BOW; pc++) /* the phases' column pc */");
        cb_line(c, "    for (int pr = 0; pr < DOSW; pr++)");
        cb_line(c, "        yc[h * DSW + pc * DOSW + pr] = br[((ptrdiff_t)pr * BNI * BRQM + pc) * BOCB];");
    } else {
        cb_line(c, "for (int col = 0; col < DSW; col++)");
        cb_line(c, "    yc[h * DSW + col] = br[((ptrdiff_t)(col %% DOSW) * BNI * BRQM + col / DOSW) * BOCB];");
    }
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
}

/* The kernel: src (the input, NCHW), the weight of kernel output channel o, input channel c,
 * tap k as the C expression wexpr (of o, c, k), into dst (NCHW); op (forward only) supplies
 * the bias and the epilogue. With phases (q->nph), wexprs[f] gives phase f's weights (of its
 * sub-kernel's tap k) and each job runs every phase over its one copy. */
/* the stride-1 data gradient's weight (blk_emit packs it in vectors when it is this string) */
static const char *const blk_dx_w = "w[((ptrdiff_t)cc * BOC + o) * BKK + BKK - 1 - k]";

static void blk_emit(Emit *e, const BlkGeo *q, const char *src, const char *const *wexprs, const char *dst, const Op *op,
                     const char *src2, const char *w2expr) {
    Cbuf *c = e->c;
    cb_line(c, "{ /* output channels in the lanes, blocked over input channels (conv_blk.c) */");
    if (!q->nph) {
        cb_line(c, "enum { BIC = %d, BIH = %d, BIW = %d, BOC = %d, BOH = %d, BOW = %d, BKH = %d, BKW = %d, BPH = %d, BPW = %d };",
                q->ic, q->ih, q->iw, q->oc, q->oh, q->ow, q->kh, q->kw, q->ph, q->pw);

        cb_line(c, "enum { BHP = %d, BQ = BOH * BOW, BP = %d, BRQ = %d, BICB = %d, BNI = %d, BSLOTS = %d };", q->hp, q->p,
                q->rq, q->icb, q->ni, q->slots);
        cb_line(c, "enum { BOCB = %d, BNOCB = (BOC + BOCB - 1) / BOCB, BKK = BKH * BKW };", OCB);
        cb_line(c, "enum { BSH = %d, BSW = %d, BTAP = %d, BNPL = %d, BPLN = %d }; /* copies per channel (per tap if BTAP), their floats */",
                q->sh, q->sw, q->tap, q->npl, q->pln);
    } else {
        /* the phases' kernels declare BKH, BKW, BKK, BQ, BP, BRQ and BICB in their own blocks */
        cb_line(c, "enum { BIC = %d, BIH = %d, BIW = %d, BOC = %d, BOW = %d, BPH = %d, BPW = %d };", q->ic, q->ih, q->iw,
                q->oc, q->ow, q->ph, q->pw);
        cb_line(c, "enum { BHP = %d, BNI = %d, BSLOTS = %d, BRQM = %d, BNPH = %d };", q->hp, q->ni, q->slots, q->rq, q->nph);
        cb_line(c, "enum { BOCB = %d, BNOCB = (BOC + BOCB - 1) / BOCB };", OCB);
        cb_line(c, "enum { BTAP = 0, BNPL = %d, BPLN = %d }; /* column shifts of dy per channel (all phases), their floats */",
                q->npl, q->pln);
        if (q->ic2)
            cb_line(c, "enum { BIC2 = %d, BICB2 = %d }; /* the paired shortcut's dy channels (phase 0 reads them in place), a block */",
                    q->ic2, q->icb2);
    }
    cb_line(c, "enum { BDH = %d, BDW = %d }; /* dilation */", q->dh, q->dw);
    if (q->grp > 1)
        cb_line(c, "enum { BGR = %d, BICT = BIC * BGR, BOCG = BOC / BGR }; /* groups: BIC input channels each of BICT, BOCG outputs */",
                q->grp);
    else
        cb_line(c, "enum { BICT = BIC }; /* the input's channels */");
    cb_line(c, "enum { BXS = %lld, BGI = %d }; /* floats of a slot's copies (or of a group's), images per group */",
            (long long)q->xs_area, q->gi);
    cb_line(c, "float *const xsb = scratch, *const bufs = scratch + %lld;", (long long)q->buf_at);
    /* the weights: packed once by NAME_pack for inference (emit_pack_begin), else at each call */
    emit_pack_begin(e, "wpk", arena_printf("scratch + %lld", (long long)q->wp_at), q->buf_at - q->wp_at);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int bk = 0; bk < BNOCB * BIC; bk++) { /* wpk[cb][ic][k][BOCB] (of each phase) */");
    cb_line(c, "const int cb = bk / BIC, cc = bk %% BIC;");
    if (wexprs[0] == blk_dx_w) {
        /* The stride-1 data gradient's weights: the BOCB x BKK floats of (cc, cb) are one run
         * (w[cc][o][tap]); with vector shuffles, CNN_VW rows of it at a time are loaded into
         * zeroed vectors, transposed in registers (emit_transpose) and stored as the BKK rows
         * of lanes, taps reversed. Read a float at a time (the loop below), the repack of
         * ResNet-18's layer4 512 x 512 x 3 x 3 weights had taken 17% of its stride-1 data
         * gradient in the training step (batch 8, one thread; bench/README.md, 2026-12-04). */
        cb_line(c, "#if CNN_SHUFFLE");
        cb_line(c, "if (BKK <= CNN_VW && (cb + 1) * BOCB <= BOC) {");
        cb_line(c, "for (int j0 = 0; j0 < BOCB; j0 += CNN_VW) {");
        cb_line(c, "const float *const src = w + ((ptrdiff_t)cc * BOC + cb * BOCB + j0) * BKK;");
        cb_line(c, "cnn_vec m[CNN_VW];");
        cb_line(c, "for (int p = 0; p < CNN_VW; p++) {");
        cb_line(c, "    m[p] = (cnn_vec){0};");
        cb_line(c, "    memcpy(&m[p], src + (ptrdiff_t)p * BKK, sizeof(float) * (BKK <= CNN_VW ? BKK : CNN_VW));");
        cb_line(c, "}");
        emit_transpose(c, "m", "cnn_vec");
        cb_line(c, "for (int k = 0; k < BKK && k < CNN_VW; k++)");
        cb_line(c, "    memcpy(wpk + (((ptrdiff_t)cb * BIC + cc) * BKK + BKK - 1 - k) * BOCB + j0, &m[k], sizeof m[k]);");
        cb_line(c, "}");
        cb_line(c, "continue;");
        cb_line(c, "}");
        cb_line(c, "#endif");
    }
    for (int k = 0; k < (q->nph ? q->nph : 1); k++) { /* the phases read the same weights, in L1 */
        const BlkPhase *f = q->nph ? &q->f[k] : NULL;
        if (f) {
            cb_line(c, "{ /* phase (%d, %d)'s weights: its %dx%d taps */", f->orh, f->orw, f->kh, f->kw);
            cb_line(c, "enum { BKH = %d, BKW = %d, BKK = BKH * BKW };", f->kh, f->kw);
        }
        if (op) { /* the forward: lane by lane, each lane a gather of one tap BIC * BKK floats apart */
            cb_line(c, "for (int k = 0; k < BKK; k++)");
            cb_line(c, "    for (int j = 0; j < BOCB; j++) {");
        } else {
            /* The data gradient's weights: the BOCB x BKK floats of (cc, cb) lie in one run (the
             * forward's output channel cc, its input channels o); read in order, each lane's
             * taps stored BOCB floats apart, in scalar code: clang otherwise vectorizes the lanes
             * into gathers of BKK-float stride, 30% slower (the 512 x 512 x 3 x 3 weights in a
             * harness, one thread: 1.3-1.7 -> 1.0-1.1 ms; gcc's code the same either way; in
             * ResNet-18's step layer4's three repacks took 1.6% of the time). The forward's
             * order above measured the same both ways. */
            cb_line(c, "#if defined(__clang__)");
            cb_line(c, "#pragma clang loop vectorize(disable)");
            cb_line(c, "#endif");
            cb_line(c, "for (int j = 0; j < BOCB; j++) /* lane j: output channel o, its taps in order */");
            cb_line(c, "    for (int k = 0; k < BKK; k++) {");
        }
        cb_line(c, "        const int o = cb * BOCB + j;");
        if (f)
            cb_line(c, "        wpk[%lld + (((ptrdiff_t)cb * BIC + cc) * BKK + k) * BOCB + j] = o < BOC ? %s : 0.0f;",
                    (long long)f->wp_at, wexprs[k]);
        else
            cb_line(c, "        wpk[(((ptrdiff_t)cb * BIC + cc) * BKK + k) * BOCB + j] = o < BOC ? %s : 0.0f;", wexprs[0]);
        cb_line(c, "    }");
        if (f)
            cb_line(c, "}");
    }
    cb_line(c, "}");
    if (q->ic2) {
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int bk = 0; bk < BNOCB * BIC2; bk++) { /* the shortcut's, wpk2[cb][ic][BOCB] */");
        cb_line(c, "const int cb = bk / BIC2, cc = bk %% BIC2;");
        cb_line(c, "for (int j = 0; j < BOCB; j++) {");
        cb_line(c, "    const int o = cb * BOCB + j;");
        cb_line(c, "    wpk[%lld + ((ptrdiff_t)cb * BIC2 + cc) * BOCB + j] = o < BOC ? %s : 0.0f;", (long long)q->wp2_at, w2expr);
        cb_line(c, "}");
        cb_line(c, "}");
    }
    emit_pack_end(e);
    cb_line(c, "for (int g0 = 0; g0 < n; g0 += BGI) {");
    cb_line(c, "const int gn = n - g0 < BGI ? n - g0 : BGI; /* the group's images */");
    if (q->direct)
        cb_line(c, "#if !(CNN_VECTORS && defined(__AVX512F__)) /* the copies (with AVX-512 vectors the tiles read the input in place) */");
    if (!q->local) {
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int pl = 0; pl < gn * BICT; pl++)");
        blk_emit_copy(c, q, arena_printf("%s + (ptrdiff_t)g0 * BICT * BIH * BIW", src), "xsb", "pl", "gn");
    }
    if (q->direct)
        cb_line(c, "#endif");
    if (q->local) {
        cb_line(c, "const int cni = BNI; /* images per chunk */");
    } else {
        /* On several threads, a group that makes fewer chunks than threads runs in one chunk
         * per thread at least: the copy loop above shares the group out by image as the slots
         * share out the jobs, so each thread's jobs then read the copies it made; in one chunk
         * every thread reads every copy, which the next group's copy then takes back from the
         * other core's cache. At most two images per thread: chunks of one image (a chunk of 2
         * and one of 1 would leave a thread idle). On 2 threads, ResNet-18 at batch 8 (groups
         * of 2 to 4 images, one chunk each): its 3x3 convs 5-20% faster, the model 89.7-90.5
         * -> 84.4-85.2 ms a call; resnet18_cifar at batch 32 (its 8x8 stage in groups of 11,
         * one chunk): 97.5 -> 95.8 ms (medians of 5); VGG-16-BN (CIFAR) the same within 1%.
         * Chunks of one image in every group instead: VGG 3-8% slower (a chunk's weights are
         * reused over its images). */
        cb_line(c, "const int cnt = cnn_threads ? CNN_THREADS() : 1;");
        cb_line(c, "const int cni = cnt > 1 && gn <= 2 * cnt ? 1 : cnt > 1 && (gn + BNI - 1) / BNI < cnt ? (gn + cnt - 1) / cnt : BNI; /* images per chunk */");
    }
    cb_line(c, "const int nch = (gn + cni - 1) / cni, jobs = nch * BNOCB;");
    if (q->local) { /* one chunk (a batch of one): every slot would copy the same images */
        cb_line(c, "const int one = nch == 1 && BSLOTS > 1; /* then one copy, shared by the slots and made by all threads */");
        if (q->direct)
            cb_line(c, "#if !(CNN_VECTORS && defined(__AVX512F__)) /* the copies (with AVX-512 vectors the tiles read the input in place) */");
        cb_line(c, "if (one) {");
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int pl = 0; pl < gn * BICT; pl++)");
        blk_emit_copy(c, q, arena_printf("%s + (ptrdiff_t)g0 * BICT * BIH * BIW", src), "xsb", "pl", "gn");
        cb_line(c, "}");
        if (q->direct)
            cb_line(c, "#endif");
    }
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int slot = 0; slot < BSLOTS; slot++) {");
    cb_line(c, "float *const buf = bufs + (ptrdiff_t)slot * BNI * %s * BOCB;", q->nph ? "BNPH * BRQM" : "BRQ");
    cb_line(c, "const int job_end = (int)((long long)jobs * (slot + 1) / BSLOTS);");
    cb_line(c, "int copied = -1; /* the first image of the chunk in the slot's copies */");
    cb_line(c, "(void)copied;");
    cb_line(c, "for (int job = (int)((long long)jobs * slot / BSLOTS); job < job_end; job++) {");
    cb_line(c, "const int cb = job %% BNOCB, i0 = job / BNOCB * cni, ni = gn - i0 < cni ? gn - i0 : cni;");
    if (q->local) {
        cb_line(c, "float *const xsl = xsb + (one ? 0 : (ptrdiff_t)slot * BXS);");
        if (q->direct)
            cb_line(c, "#if !(CNN_VECTORS && defined(__AVX512F__))");
        cb_line(c, "if (!one && i0 != copied) { /* a new chunk: its copies */");
        cb_line(c, "copied = i0;");
        cb_line(c, "for (int pl = 0; pl < ni * BICT; pl++)");
        blk_emit_copy(c, q, arena_printf("%s + (ptrdiff_t)(g0 + i0) * BICT * BIH * BIW", src), "xsl", "pl", "ni");
        cb_line(c, "}");
        if (q->direct)
            cb_line(c, "#endif");
    }
    if (!q->nph) {
        BlkTiles t = {q, 0, 0, q->oh, q->ow, q->ow, q->kh, q->kw, q->tr, q->tc, q->mr, q->mc, {0}, {0}, src};
        if (t.tr)
            blk_unite(&t);
        blk_emit_blocks(c, q, &t, "wpk", "buf + (ptrdiff_t)ii * BRQ * BOCB", 0, 0, NULL);
        blk_emit_out(e, dst, op);
    }
    for (int k = 0; k < q->nph; k++) {
        const BlkPhase *f = &q->f[k];
        cb_line(c, "{ /* phase (%d, %d): dx rows %d + %d a, columns %d + %d b, from its %dx%d taps */", f->orh, f->orw, f->orh,
                q->osh, f->orw, q->osw, f->kh, f->kw);
        cb_line(c, "enum { BKH = %d, BKW = %d, BKK = BKH * BKW, BQ = %d * BOW, BP = %d, BRQ = %d, BICB = %d };", f->kh, f->kw,
                f->oh, f->p, f->rq, f->icb);
        BlkTiles t = {q, f->r0, f->s0, f->oh, f->ow, q->ow, f->kh, f->kw, f->tr, f->tc, f->mr, f->mc, {0}, {0}, src};
        if (t.tr)
            blk_unite(&t);
        blk_emit_blocks(c, q, &t, arena_printf("wpk + %lld", (long long)f->wp_at),
                        arena_printf("buf + ((ptrdiff_t)%d * BNI + ii) * BRQM * BOCB", k), f->r0, f->s0, NULL);
        if (k == 0 && q->ic2) { /* the paired shortcut's dx: its dy read in place, added to the phase's sums */
            cb_line(c, "/* and the shortcut's dx at these pixels: its dy (a, b) x its weights, added to the sums */");
            BlkTiles t2 = {q, 0, 0, f->oh, f->ow, q->ow, 1, 1, 0, 0, false, false, {0}, {0}, NULL};
            /* each channel's line prefetched two tiles ahead: layer2's pair 5.70-5.90 against 5.96-6.05 ms
             * with its inputs from memory (bench/op_time.py --flush 32), the same in cache */
            BlkSrc s2 = {"(ptrdiff_t)ic * BQ", arena_printf("%s + ((ptrdiff_t)(g0 + i0 + ii) * BIC2 + ic0) * BQ", src2), "BIC2",
                         "BICB2", true, 32};
            blk_emit_blocks(c, q, &t2, arena_printf("wpk + %lld", (long long)q->wp2_at),
                            arena_printf("buf + ((ptrdiff_t)%d * BNI + ii) * BRQM * BOCB", k), 0, 0, &s2);
        }
        cb_line(c, "}");
    }
    if (q->nph)
        blk_emit_out_phases(c, q, dst);
    cb_line(c, "}"); /* job */
    cb_line(c, "}"); /* slot */
    cb_line(c, "}"); /* group */
    cb_line(c, "}");
}

/* The forward of the ops blk_fwd_geo takes, or with wide of those blk_wide_geo takes. */
/* Narrow groups widened by conv.c (conv_widen; a->narrow the layer's groups, a->groups the
 * wide ones): the weight from the forward's input channel icf to its output channel ocf (C
 * expressions) is the layer's w[ocf][icf % ICGN][tap] where both lie in one narrow group, zero
 * elsewhere (the block-diagonal wide weights, made as they are packed). */
static const char *blk_narrow_w(const Attrs *a, int ic, int oc, const char *icf, const char *ocf, const char *pre, const char *post) {
    int icgn = ic / a->narrow, ocgn = oc / a->narrow;
    return arena_printf("((%s) / %d == (%s) / %d ? w[%s((ptrdiff_t)(%s) * %d + (%s) %% %d)%s] : 0.0f)", icf, icgn, ocf, ocgn, pre, ocf,
                        icgn, icf, icgn, post);
}

bool conv_blk_emit_forward(Emit *e, const Op *op, bool wide) {
    BlkGeo q;
    if (!(wide ? blk_wide_geo(e->g, op, &q) : blk_fwd_geo(e->g, op, &q)))
        return false;
    emit_epilogue_setup(e, op, op->a.out);
    const char *wexpr = "w[((ptrdiff_t)o * BIC + cc) * BKK + k]";
    if (op->a.narrow) { /* the kernel's o: the output channel; cc: the input channel in its wide group */
        const Attrs *a = &op->a;
        Shape in = emit_in_shape(e, op, 0), out = emit_out_shape(e, op);
        wexpr = blk_narrow_w(a, in.d[1], out.d[1], arena_printf("o / %d * %d + cc", out.d[1] / a->groups, in.d[1] / a->groups), "o",
                             "", " * BKK + k");
    }
    blk_emit(e, &q, "x", &wexpr, "y", op, NULL, NULL);
    return true;
}

/* A strided conv's data gradient: phase f's tap k = (t, u) of its sub-kernel is the forward's
 * (kh0 + S * (TH - 1 - t), kw0 + S * (TW - 1 - u)), of the weight named w. */
static void blk_phase_wexprs(const Attrs *a, const BlkGeo *q, const char *w, const char **wexprs) {
    for (int k = 0; k < q->nph; k++)
        if (a->narrow) /* (conv_blk_emit_dx's ocf) */
            wexprs[k] = blk_narrow_w(a, q->oc, q->ic * q->grp, "o", arena_printf("o / %d * %d + cc", q->oc / q->grp, q->ic), "(",
                                     arena_printf(" * %d + %d + %d * (BKH - 1 - k / BKW)) * %d + %d + %d * (BKW - 1 - k %% BKW)", a->kh,
                                                  q->f[k].kh0, a->sh, a->kw, q->f[k].kw0, a->sw));
        else
            wexprs[k] = arena_printf("%s[((%s) * %d + %d + %d * (BKH - 1 - k / BKW)) * %d + %d + %d * (BKW - 1 - k %% BKW)]",
                                 w, q->grp > 1 ? "((ptrdiff_t)(o / BOCG) * BIC + cc) * BOCG + o % BOCG" : "(ptrdiff_t)cc * BOC + o",
                                 a->kh, q->f[k].kh0, a->sh, a->kw, q->f[k].kw0, a->sw);
}

bool conv_blk_emit_dx(Emit *e, const Op *fwd) {
    BlkGeo q;
    const Attrs *a = &fwd->a;
    Shape in = emit_in_shape(e, fwd, 0), out = emit_out_shape(e, fwd);
    if (blk_dx_geo(a, in, out, &q)) {
        /* the kernel's output channel o is the forward's input channel; its input channel cc the
         * forward's output channel; the taps reversed */
        const char *wexpr = q.grp > 1 ? "w[(((ptrdiff_t)(o / BOCG) * BIC + cc) * BOCG + o % BOCG) * BKK + BKK - 1 - k]" : blk_dx_w;
        if (a->narrow) /* o: the forward's input channel; its output channel ocf, cc in o's wide group */
            wexpr = blk_narrow_w(a, in.d[1], out.d[1], "o", arena_printf("o / %d * %d + cc", in.d[1] / a->groups, out.d[1] / a->groups),
                                 "", " * BKK + BKK - 1 - k");
        blk_emit(e, &q, "dy", &wexpr, "dx", NULL, NULL, NULL);
        return true;
    }
    if (!blk_s_geo(a, in, out, &q))
        return false;
    const char *wexprs[PHASES_MAX];
    blk_phase_wexprs(a, &q, "w", wexprs);
    blk_emit(e, &q, "dy", wexprs, "dx", NULL, NULL, NULL);
    return true;
}

/* A paired data gradient (OpInfo.dx_pair, Op.bwd_pair): body, a strided conv whose dx this
 * file computes by phases, and sc, a 1x1 conv of the same stride, unpadded, reading the same
 * input with an output of the same size (ResNet's stage entry: the 3x3 stride-2 conv, pad 1,
 * and the 1x1 stride-2 shortcut). sc's dx reaches exactly the pixels (S a, S b) of phase
 * (0, 0), from dy_sc at (a, b); when that phase is one tap reading dy at (a, b) too (a padding
 * below the stride), the shortcut's dx is that phase's reduction extended by sc's output
 * channels: after its own blocks, the phase's job runs the same tiles over dy_sc read in place
 * (its planes have the phase's pitch; no tile reads past a plane's last position) with the
 * shortcut's weights packed beside the phases' (wpk2 [cb][BIC2][BOCB]), adding to the sums in
 * buf. The sum of the two gradients is then written once, as the phases write dx: no pass of
 * the shortcut's own over dx and no add. (A first version copied dy_sc into the shared copies
 * as further channels: the copies outgrew L2 at ResNet-18's layer2, whose dx then took 8.0 ms
 * a step at batch 8 against 6.4 for the two apart.) */
static bool blk_pair_geo(const Graph *g, const Op *body, const Op *sc, BlkGeo *q) {
    const Attrs *a = &body->a, *s = &sc->a;
    if (body->kind != OP_CONV || sc->kind != OP_CONV || body->nin != 1 || sc->nin != 1 || body->in[0] != sc->in[0])
        return false;
    if (s->kh != 1 || s->kw != 1 || s->ph || s->pw || s->ph_end || s->pw_end || s->dh != 1 || s->dw != 1 ||
        a->groups != 1 || s->groups != 1 || s->sh != a->sh || s->sw != a->sw)
        return false;
    Shape in = g->values[body->in[0]].shape, out = g->values[body->out].shape, so = g->values[sc->out].shape;
    if (so.rank != 4 || out.rank != 4 || so.d[2] != out.d[2] || so.d[3] != out.d[3])
        return false;
    if (!blk_s_geo2(a, in, out, so.d[1], q))
        return false;
    const BlkPhase *f = &q->f[0]; /* phase (0, 0): one tap, reading dy at its own (a, b) */
    return f->orh == 0 && f->orw == 0 && f->kh == 1 && f->kw == 1 && a->ph < a->sh && a->pw < a->sw &&
           f->oh == so.d[2] && f->ow == so.d[3] && q->ow == f->ow;
}

int64_t conv_blk_dx_pair_scratch(const Graph *g, const Op *body, const Op *sc) {
    BlkGeo q;
    return blk_pair_geo(g, body, sc, &q) ? q.total : -1;
}

/* The pair's dx into dx; the head's own weight and dy are w and dy, the other's w2 and dy2
 * (head_is_sc: the head is the shortcut's backward). */
bool conv_blk_emit_dx_pair(Emit *e, const Op *body, const Op *sc, bool head_is_sc) {
    BlkGeo q;
    if (!blk_pair_geo(e->g, body, sc, &q))
        return false;
    const Attrs *a = &body->a;
    const char *wb = head_is_sc ? "w2" : "w", *ws = head_is_sc ? "w" : "w2";
    const char *wexprs[PHASES_MAX];
    blk_phase_wexprs(a, &q, wb, wexprs);
    /* the shortcut's weight [BIC2][BOC]: its output channel cc, lane o */
    const char *w2expr = arena_printf("%s[(ptrdiff_t)cc * BOC + o]", ws);
    blk_emit(e, &q, head_is_sc ? "dy2" : "dy", wexprs, "dx", NULL, head_is_sc ? "dy" : "dy2", w2expr);
    return true;
}
