/* conv_1x1.c: 1x1 convolutions (one group, no padding, any stride: ResNet's shortcut and
 * bottleneck convs, MobileNet's pointwise convs) as register-blocked matrix products, for the
 * forward (with the fused bias, batchnorm and activation), the data gradient (dx) and the
 * weight gradient (dw). conv.c asks here first (conv_1x1_emit_forward, _dx, _dw; the scratch
 * functions answer -1 for the layers this file does not take).
 *
 * The columns of every product are the output pixels of all the images, flattened: column
 * j = i * Q + q (image i, output pixel q = oh * OW + ow, Q = OH * OW). Column j reads the input
 * at xo(j) + ic * IH * IW, xo(j) = i * IC * IH * IW + oh * SH * IW + ow * SW (the strided
 * pixels), and the output at yo(j) + oc * Q, yo(j) = i * OC * Q + q. So
 *   forward  Y[oc][j]  = sum over ic of W[oc][ic] X[ic][j]
 *   dx       DX[ic][j] = sum over oc of W[oc][ic] DY[oc][j]  (the other input pixels of a
 *                        strided conv are zeroed: each dx element is written once)
 *   dw       DW[oc][ic] += sum over j of DY[oc][j] X[ic][j]
 * are one product C[m][nn] (+)= sum over k of A[m][k] B[k][nn] each, computed by one register
 * tile: MR = 6 rows of C x one panel of 64 columns, as 6 x 4 vectors of 16 floats with
 * AVX-512 (24 accumulators, 4 loads and a broadcast: 29 of the 32 registers), 6 x 2 vectors
 * of 8 with AVX (14 of 16, the panel in 4 passes), 6 x 1 otherwise (a last row block of
 * M % 6 rows runs a tile of those rows: 128 channels are 21 blocks and 2 rows, whose tile of
 * 6 had spent 3% of the products on nothing; the 64 -> 128 shortcut's forward at batch 8,
 * one thread, in cache, 5 alternations: 0.623-0.633 -> 0.613-0.629 ms); per step k, the panel row's
 * vectors and MR broadcast floats of A feed MR x NR fused multiply-adds. The operands are
 * packed so that both reads are contiguous:
 *   A  ap[MB][K][MR]   MR rows of A side by side (zero past M): dx's weights (W transposed,
 *                      packed at each call) and the forward's W when NAME_pack packed it
 *                      (inference); without packed weights (training, NAME_forward) the
 *                      forward's tile broadcasts from MR rows of W where they lie (past M the
 *                      last row again; A's element (t, k) at ar[t][k * uas], uas 1 or MR), as
 *                      dw's from dy. W had been packed at each call: 14% of ResNet-18's layer4
 *                      shortcut forward in the training step (2026-12-03, bench/op_time.py,
 *                      batch 8, one thread, 3 alternations: a 256 -> 512 conv at 7x7
 *                      0.590-0.627 -> 0.577-0.598 ms, 128 -> 256 at 14x14 0.523-0.551 ->
 *                      0.516-0.544; read in place at inference too, ResNet-50 at batch 1 had
 *                      taken 6% longer, MobileNetV2 3%: packed there); for dw dy itself, not packed: the tile
 *                      broadcasts from MR rows of dy (one image's consecutive pixels: the
 *                      chunk's columns in one segment per image; past M the last row again,
 *                      whose sums are not used). dy had been packed transposed, ap[K][LDA]:
 *                      the 64 -> 128 stride-2 shortcut's dw at batch 8, one thread, alone
 *                      300 times, median, alternated 3 times: 1.12-1.17 -> 0.84-0.89 ms
 *   B  bp[NP][K][64]   panels of 64 columns (zero past the last column): the strided input
 *                      gathered (forward), dy (dx), or for dw the input transposed, one
 *                      panel per 64 input channels. A panel of 64 consecutive pixels of one
 *                      image (dy; the input at stride 1) is not packed: the tile reads it
 *                      where it lies, at the channel planes' pitch (ldb), 64 rows of 256
 *                      bytes that stay in L1 as well (ResNet-18's 64 -> 128 stride-2
 *                      shortcut, batch 8, one thread, dx alone called 300 times, median,
 *                      alternated 3 times: 1.11-1.15 -> 0.95-1.02 ms; its dy packing had
 *                      been a quarter of the dx)
 * Forward and dx: a job is (group of NP consecutive panels, NP <= 8 so that the group holds at
 * most SP_FLOATS, fewer when that leaves fewer than 8 groups to threads; range of row blocks); the jobs are cut into SLOTS contiguous ranges run in
 * order by one thread each, with their own B panels (packed when the job's group changes:
 * each channel plane is read in runs of up to NP * 64 pixels) and C buffer cb[MB * MR][64];
 * per panel, each row block's tile runs the whole reduction (all K rows of B) in its
 * registers, and the job writes the panel's rows out through cb, the bias and the epilogue.
 * (The reduction had run in blocks of 64 rows of B, 16 KiB that stayed in L1 while every row
 * block passed over them, the partial sums going out to cb and back between blocks; in one
 * block B streams from L2 in order, and each tile reads its 6 rows of A whole, in order, which
 * the prefetchers follow: forwards at batch 8, one thread, inputs and weights flushed from the
 * caches before each call, 30-200 calls, median, alternated twice with the blocks of 64:
 * ResNet-18's 256 -> 512 shortcut 0.76-0.77 -> 0.68-0.71 ms, ResNet-50's 512 -> 2048 at 7x7
 * 5.14-5.30 -> 4.66-4.87, 2048 -> 512 5.06-5.54 -> 4.64-4.96, its 1024 -> 256 at 14x14 (panels
 * read in place) 4.63-4.68 -> 4.46-4.51; dx of ResNet-50's 1024 -> 2048 shortcut 12.0-13.8 ->
 * 11.2-11.7 ms; none slower.) A whole panel whose 64 columns are
 * consecutive in the destination (one image's pixels at stride 1 across; no fused epilogue)
 * is stored there by the tile itself, bias added (or added into it, for a dx with
 * a fused add), skipping cb and the write-out: ResNet-18's 64 -> 128 stride-2 shortcut at
 * batch 8, one thread, its forward alone called 300 times (median, alternated 3 times with
 * the code before): 1.02-1.05 -> 0.79-0.84 ms (the write-out's stores to 128 channel planes
 * in one burst after the tiles had stalled; now each tile's lines go out while the next
 * computes).
 * At small batches (fewer than 8 groups of panels) the row blocks are split between jobs, so
 * that both threads have work (when the call runs on more than one thread: each part packs
 * the group again; on one thread the groups keep NP panels, and A is read once per group).
 * dw: the columns are taken in chunks of CK; per chunk one parallel loop packs the input (B)
 * (its jobs: a group of 64 channels by a strip of KS columns; cut into SLOTS ranges, each
 * with its own strip buffer), and one runs the jobs (64 input channels, MR output channels),
 * each adding its tile into a sum buffer it alone writes; the buffer is
 * added into dw once at the end. Every C
 * element has one writer whose sums run in a fixed order: the result does not depend on the
 * number of threads. Without vector types, plain loops do the same products.
 * A last panel of at most one vector's columns (ResNet-18's 256 -> 512 shortcut at batch 8:
 * 392 columns, 6 panels and 8 columns) runs a tile of one vector across instead of four.
 *
 * Stride 2 across (ResNet's shortcuts): the packing reads each row's even pixels as vectors of
 * CNN_VW taken from two (a shuffle of the even lanes; rows shorter than a vector in half
 * vectors; the last vector overlapping the one before, and a pixel whose pair of floats would
 * end past the row packed alone); dx's write-out interleaves its vectors with zeros and also
 * zeroes the rows below that no output reads, so that each dx element is written once and
 * there is no separate pass over dx (on output rows shorter than 8 pixels the pass and scalar
 * stores stay: measured faster). dw packs the input (and had packed dy) in strips of KS columns: each
 * channel's pixels copied run by run (the same even-pixel vectors) to a strip buffer, which is
 * then transposed to the packed layout in blocks of CNN_VW x CNN_VW in registers
 * (emit_transpose) instead of a read per float across 64 channel planes (the input) or MR
 * planes (dy): ResNet-18's shortcut 64 -> 128 from 56x56, batch 8, one thread, in a model of
 * the three shortcuts (bench/profile.sh --train, alternated with the code before): dw 1.15
 * -> 1.02-1.05 ms, and with the rest of this paragraph dw 1.4-1.6 -> 1.0-1.1 ms and dx 1.2-1.8
 * -> 1.0-1.5 ms (noisy minutes; the forward unchanged at 0.9-1.1 ms). The packings prefetch
 * the same run PF channels on (more lines in flight than the hardware prefetcher keeps across
 * many planes: dw 1.25 -> 1.00-1.06 ms there; without it the forward took 0.90 -> 1.08 ms);
 * prefetching the next group's panels during a group's tiles measured no gain on top of it
 * and was left out; so did (2026-12-03, the 64 -> 128 shortcut's forward at batch 8, one
 * thread, bench/op_time.py alternated with the code before) prefetching the next group's
 * input rows a share per tile (0.59-0.60 -> 0.63-0.64 ms with the input in cache, its 258 KB
 * a group passing through L1 past the tile's panel; 0.80-0.82 -> 0.80-0.85 from memory) and
 * prefetching the next row block's output lines for writing (unchanged either way).
 *
 * The even pixels (Op.evens_in, pass_fuse.c): a stride-2 conv whose input an add writes reads
 * that input's pixels at even rows and columns, which the add wrote side by side, as the input
 * of a stride-1 conv (c1_input): its panels are read in place, nothing gathered, in the forward
 * and in dw; dx keeps the conv's own geometry (it writes the full input's gradient). ResNet-18's
 * training step at batch 8, one thread (bench/profile.sh --train resnet18 8 1 60): the three
 * shortcuts' forward 62 / 67 / 65% -> 82 / 72 / 68% of peak, their dw 57 / 61 / 70% -> 68 / 70 /
 * 65%; the add that writes the copy 0.50 -> 0.62 ms. A 64 -> 128 conv alone, batch 8
 * (bench/op_time.py): at stride 2 from 56x56 0.58-0.60 ms (0.82-0.84 with the input from
 * memory) against 0.49-0.50 (0.55-0.57) at stride 1 from 28x28.
 *
 * dx adding into another gradient (Op.bwd_acc: the add of a residual block's two input
 * gradients fused in, pass_fuse.c): dx's buffer already holds the body's gradient; the
 * write-out adds the product at its own pixels (in whole vectors, then one half vector, then
 * pixel by pixel: no vector overlaps the one before, which would add twice) and leaves the
 * pixels between and below alone (no zeroing); it prefetches the lines it adds into PF channels ahead (they are read
 * now, and a load that misses, every few lines across the channel planes, stalls where a
 * store did not). ResNet-18 at batch 8, one thread (bench/profile.sh --train resnet18 8 1
 * 30, the shortcuts run first): the three shortcuts' dx 1.09 / 0.84 / 0.79 ms -> 0.95 / 0.85 /
 * 0.71 (1.40 / 1.04 / 0.88 without the prefetch), and the add it replaces (0.54, 0.27 and
 * 0.13 ms) gone.
 *
 * Measured (bench/profile.sh --train on a model of a batchnorm and one such conv, 1 thread,
 * ms per step of conv.c's kernels (conv_oc.c's forward where noted) -> this file's, forward /
 * dx / dw, on the 2-core AVX-512 machine loaded by other jobs): ResNet's 64 -> 128 stride 2
 * from 32x32, batch 32: 2.87 -> 1.67, 4.14 -> 2.00, 2.02 -> 1.58; 128 -> 256 from 16x16:
 * 1.72 -> 1.05, 2.36 -> 1.05, 1.72 -> 1.05 (73% of peak); 256 -> 512 from 8x8: 1.63 -> 1.08,
 * 1.63 -> 1.08, 2.06 -> 0.97; at batch 8, 128 -> 512 at 28x28: 11.2 -> 7.7, 18.7 -> 6.7,
 * 11.7 -> 6.4; 1024 -> 256 at 14x14: 20.9 -> 6.7, 14.7 -> 7.7, 15.6 -> 6.6; 256 -> 1024 at
 * 14x14 (conv_oc.c's forward): 9.3 -> 6.9, 19.9 -> 6.3, 12.7 -> 6.8; 1024 -> 2048 stride 2
 * from 14x14: 21.5 -> 14.3, 31.8 -> 16.2, 28.9 -> 12.1. At stride 1 a reduction of 64 ran
 * slower then (64 -> 256 at 56x56 forward 6.9 -> 12.4, 256 -> 64 dx 7.5 -> 11.8: conv.c's
 * direct kernel does well on wide rows), hence a limit of 128 there; since the tile stores
 * and reads in place, the forward and dx take reductions from 16 (c1_takes: that dx 5.1 ->
 * 4.0 ms, the inverted-residual nets' inference 1.2-1.6 times faster). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../ops.h"

int64_t conv_1x1_scratch(const Graph *g, const Op *op);
bool conv_1x1_emit_forward(Emit *e, const Op *op);
int64_t conv_1x1_dx_scratch(const Attrs *a, Shape in, Shape out);
bool conv_1x1_emit_dx(Emit *e, const Op *fwd, bool acc);
int64_t conv_1x1_dw_scratch(const Attrs *a, Shape in, Shape out);
bool conv_1x1_emit_dw(Emit *e, const Op *fwd);

/* MR: rows of the tile; NW: columns of a panel; SLOTS: buffers of
 * the forward and dx jobs; DW_CHUNK: sets dw's chunk of columns (as many floats as its
 * packed B and a packed dy would take: dy is no longer packed, the chunk was kept);
 * SP_FLOATS, NP_MAX: the floats of a slot's packed panels and their most (a job packs up to
 * NP_MAX panels at once, so that it reads each channel plane of the input in long runs). */
enum { MR = 6, NW = 64, SLOTS = 8, DW_CHUNK = 1 << 18, RED_MIN = 16, SP_FLOATS = 1 << 16, NP_MAX = 8, KS = 64, PF = 4 };

static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

/* Whether the layer is a 1x1 conv this file takes: one group, no padding, channels enough
 * for the tile; red: the product's reduction (forward: IC, dx: OC, dw: 0). The forward and
 * the dx take every reduction of RED_MIN and more, at any stride. (They had needed 128 at
 * stride 1 and 64 strided, from measurements before the tile stored whole panels from its
 * registers and read unstrided panels in place.) Measured 2026-12-03 against conv.c's kernels
 * (ms, one thread): forwards at batch 8 a call, MobileNetV2 at 224 112 -> 80, at 64x64 16.3 ->
 * 10.3, EfficientNet-B0 138 -> 117-123, MobileNetV3-small 19.7 -> 16.3, ResNet-50 and
 * GoogLeNet unchanged (328-335, 118-121); on two threads MobileNetV2 61.5 -> 46.5 at batch 8
 * and 9.4 -> 7.0 at batch 1; bench/op_time.py alone, 3 alternations: ResNet-50's 256 -> 64 dx
 * at 56x56, batch 8, 5.12-5.26 -> 4.01-4.03, a 96 -> 24 dx at 56x56 0.64-0.66 -> 0.58-0.59,
 * 144 -> 24 the same; a 16 -> 32 stride-2 shortcut at 32x32, batch 64, forward 0.37-0.41 ->
 * 0.18, its whole backward 0.74-1.10 -> 0.46-0.68. The weight gradient wants 32 input
 * channels at least (a panel of 64 lanes at least half full): a 40 -> 40 1x1 conv at 33x33,
 * batch 32, one thread, had run through conv_small.c's kernel at 5.6-5.7 ms, 1.2 here with 24
 * of the 64 lanes idle (bench/README.md, 2026-12-04; it had needed 64). */
static bool c1_takes(const Attrs *a, Shape in, Shape out, int red) {
    if (a->kh != 1 || a->kw != 1 || a->groups != 1 || a->ph || a->pw || a->ph_end || a->pw_end)
        return false;
    int ic = in.d[1], oc = out.d[1];
    if (ic < 16 || oc < 16)
        return false;
    return red == 0 ? ic >= 32 : red >= RED_MIN;
}

/* Floats of the forward's or dx's scratch: the packed A (M rows, K deep), then per slot a B
 * panel and a C buffer. */
static int c1_np(int k) {
    int np = SP_FLOATS / (k * NW);
    return np < 1 ? 1 : np > NP_MAX ? NP_MAX : np;
}

static int64_t c1_mm_scratch(int m, int k, bool pack_a) {
    int mb = (m + MR - 1) / MR;
    return (pack_a ? round16((int64_t)mb * k * MR) : 0) + SLOTS * (round16((int64_t)c1_np(k) * k * NW) + round16((int64_t)mb * MR * NW));
}

/* dw's chunk of columns: A (OC rows) and B (IC rounded to panels) within DW_CHUNK floats. */
static int c1_dw_chunk(int ic, int oc) {
    int npb = (ic + NW - 1) / NW, mb = (oc + MR - 1) / MR;
    int ck = DW_CHUNK / (npb * NW + (int)round16((int64_t)mb * MR));
    return ck < 16 ? 16 : ck / 16 * 16;
}

static int64_t c1_dw_floats(int ic, int oc) {
    int npb = (ic + NW - 1) / NW, mb = (oc + MR - 1) / MR, ck = c1_dw_chunk(ic, oc);
    return round16((int64_t)npb * ck * NW) + round16((int64_t)mb * MR * npb * NW) +
           (int64_t)SLOTS * NW * KS;
}

int64_t conv_1x1_scratch(const Graph *g, const Op *op) {
    if (op->kind != OP_CONV || op->pro_conv >= 0 || op->pro_norm >= 0 || op->epi_pool >= 0)
        return -1;
    Shape in = g->values[op->in[0]].shape, out = g->values[op->out].shape;
    return c1_takes(&op->a, in, out, in.d[1]) ? c1_mm_scratch(out.d[1], in.d[1], false) : -1;
}

int64_t conv_1x1_dx_scratch(const Attrs *a, Shape in, Shape out) {
    return c1_takes(a, in, out, out.d[1]) ? c1_mm_scratch(in.d[1], out.d[1], true) : -1;
}

int64_t conv_1x1_dw_scratch(const Attrs *a, Shape in, Shape out) {
    return c1_takes(a, in, out, 0) ? c1_dw_floats(in.d[1], out.d[1]) : -1;
}

/* The enums every kernel uses: the conv's sizes and strides. */
static void c1_emit_dims(Cbuf *c, const Attrs *a, Shape in, Shape out) {
    cb_line(c, "enum { UIC = %d, UIH = %d, UIW = %d, UOC = %d, UOH = %d, UOW = %d, USH = %d, USW = %d };", in.d[1], in.d[2],
            in.d[3], out.d[1], out.d[2], out.d[3], a->sh, a->sw);
    cb_line(c, "enum { UQ = UOH * UOW, UIHW = UIH * UIW, UMR = %d, UNW = %d, UPF = %d };", MR, NW, PF);
}

/* The runs of panel pan (columns pan * UNW + j for j < ucols): run r holds columns
 * ruj[r] .. ruj[r] + rul[r] - 1 of the panel, consecutive pixels of one image and (when
 * strided) of one output row, which the product writes from ruo[r] on (off: the offset
 * expression of a run's first pixel, C1_XOFF or C1_YOFF). */
#define C1_XOFF "im * UIC * UIHW + (long long)oh * USH * UIW + (long long)ow * USW"
#define C1_YOFF "im * UOC * UQ + qq"

/* The order of the product's columns. Plain: image by image, each image's pixels in order, so
 * that a panel of 64 columns whose image ends inside it holds pixels of two images. Split (when
 * an image has 64 pixels or more and not a whole number of panels: ResNet-18's 196 = 3 x 64 + 4
 * at 14x14): first, image by image, the pixels of each image's whole panels (UF of them), then
 * the rest of every image (UR pixels each) side by side. Every panel of the first part lies in
 * one image: its B read in place and its rows stored by the tile itself; only the last few
 * panels go through the packing and the write-out, instead of every panel an image ends in
 * (8 of 25 for that layer at batch 8). ResNet-18's training step at batch 8, one thread,
 * layer3's 128 -> 256 shortcut forward timed within the step against the plain order
 * (alternate steps, medians of 21 calls each, 4 runs): 0.87-0.91 of its time. */
static bool c1_split(int q) { return q > NW && q % NW != 0; }

/* The C lines that declare im and qq (and col) of column colexpr in that order. */
static void c1_emit_col(Cbuf *c, bool split, const char *colexpr) {
    if (!split) {
        cb_line(c, "const long long col = %s, im = col / UQ;", colexpr);
        cb_line(c, "const int qq = (int)(col - im * UQ);");
        return;
    }
    cb_line(c, "const long long col = %s, im = col < ndir ? col / (UF * UNW) : (col - ndir) / UR;", colexpr);
    cb_line(c, "const int qq = (int)(col < ndir ? col - im * (UF * UNW) : UF * UNW + (col - ndir - im * UR));");
}

/* The C condition that the 64 columns from column col (an expression, a panel's first) are
 * pixels of one image: a panel B's tile reads in place (and the packing skips). */
static const char *c1_in_one_image(bool split, const char *col) {
    return split ? arena_printf("(%s) < ndir", col) : arena_printf("(%s) %% UQ + UNW <= UQ", col);
}

/* How many pixels from column j on (image im, output pixel qq, row oh, column ow) are
 * consecutive in memory on the side whose run offsets are off: every pixel to the image's end
 * where that side is the output's geometry (C1_YOFF: a plane holds the image's output pixels
 * in order) or the conv is not strided, else the pixels to the output row's end (the
 * run stops at its panel's end in any case: in the split order a panel of whole panels ends
 * where its image's part does). */
static const char *c1_left(const char *off) {
    return strcmp(off, C1_YOFF) == 0 ? "UQ - qq" : "USH == 1 && USW == 1 ? UQ - qq : UOW - ow";
}

static void c1_emit_runs(Cbuf *c, bool split, const char *off, bool gaps, bool below) {
    cb_line(c, "long long ruo[UNW];");
    cb_line(c, "ruo[0] = 0; /* (every panel has a run; gcc -O2 cannot tell) */");
    cb_line(c, "int ruj[UNW], rul[UNW], nrun = 0;");
    if (gaps) {
        cb_line(c, "int rus[UNW]; /* the run's floats of its input row */");
        cb_line(c, "(void)rul; /* the write-out takes rus */");
    }
    if (below)
        cb_line(c, "int rur[UNW]; /* the run's rows below that no output reads */");
    cb_line(c, "const int ucols = ncol - (long long)pan * UNW < UNW ? (int)(ncol - (long long)pan * UNW) : UNW;");
    cb_line(c, "for (int j = 0; j < ucols;) {");
    c1_emit_col(c, split, "(long long)pan * UNW + j");
    cb_line(c, "const int oh = qq / UOW, ow = qq %% UOW;");
    cb_line(c, "(void)oh, (void)ow; /* in C1_XOFF and the strided runs only */");
    cb_line(c, "const int left = %s; /* consecutive pixels from here (within the panel: its image's) */", c1_left(off));
    cb_line(c, "const int len = left < ucols - j ? left : ucols - j;");
    cb_line(c, "ruo[nrun] = %s;", off);
    if (gaps)
        cb_line(c, "rus[nrun] = USW * len < UIW - USW * ow ? USW * len : UIW - USW * ow;");
    if (below)
        cb_line(c, "rur[nrun] = (oh + 1) * USH < UIH ? USH - 1 : UIH - oh * USH - 1;");
    cb_line(c, "ruj[nrun] = j, rul[nrun] = len, nrun++;");
    cb_line(c, "j += len;");
    cb_line(c, "}");
}

/* The tile: rows t < UMR of C at cq (row pitch ldc, 64 columns) += sum over k < kcount of
 * aq[k * UMR + t] * bq[k * UNW + j]; zeroed first when `first` (a C expression) holds, or
 * always when first is NULL (the whole sum in one tile: C is not read).
 * direct (or NULL): a C expression under which the tile stores its rows in the destination
 * itself (row mm = mb * UMR + t < UM at ud + mm * dpl, 64 consecutive floats: through val, a
 * vector expression of v and mm, and added into what is there when acc) instead of in cq. */
static void c1_emit_tile_to(Cbuf *c, int mrem, const char *ldc, const char *first, bool narrow, const char *aat,
                            const char *kcount, const char *ldb, const char *direct, const char *dpl, const char *val, bool acc);

/* The vector tile's loop over the panel's vectors, for UTR rows (an enum of the block around
 * it: UMR, or the rows of a last, partial row block). */
static void c1_emit_tile_vec(Cbuf *c, const char *ldc, const char *first, bool narrow, const char *aat, const char *kcount,
                             const char *ldb, const char *direct, const char *dpl, const char *val, bool acc) {
    cb_line(c, "for (int s0 = 0; s0 < %s; s0 += UNR * CNN_VW) {", narrow ? "CNN_VW" : "UNW");
    cb_line(c, "cnn_vec acc[UTR][UNR];");
    cb_line(c, "for (int t = 0; t < UTR; t++)");
    if (first) {
        cb_line(c, "    for (int v = 0; v < UNR; v++) {");
        cb_line(c, "        if (%s)", first);
        cb_line(c, "            acc[t][v] = (cnn_vec){0};");
        cb_line(c, "        else");
        cb_line(c, "            memcpy(&acc[t][v], cq + (ptrdiff_t)t * %s + s0 + v * CNN_VW, sizeof acc[t][v]);", ldc);
        cb_line(c, "    }");
    } else {
        cb_line(c, "    for (int v = 0; v < UNR; v++)");
        cb_line(c, "        acc[t][v] = (cnn_vec){0};");
    }
    cb_line(c, "for (int k = 0; k < %s; k++) {", kcount);
    cb_line(c, "cnn_vec bv[UNR];");
    cb_line(c, "for (int v = 0; v < UNR; v++)");
    cb_line(c, "    memcpy(&bv[v], bq + (ptrdiff_t)k * %s + s0 + v * CNN_VW, sizeof bv[v]);", ldb);
    cb_line(c, "for (int t = 0; t < UTR; t++) {");
    cb_line(c, "const float s = %s;", aat);
    cb_line(c, "for (int v = 0; v < UNR; v++)");
    cb_line(c, "    acc[t][v] += s * bv[v];");
    cb_line(c, "}");
    cb_line(c, "}");
    if (direct) {
        cb_line(c, "if (%s) {", direct);
        cb_line(c, "for (int t = 0; t < UTR; t++) {");
        cb_line(c, "const int mm = mb * UMR + t;");
        cb_line(c, "if (mm < UM)");
        cb_line(c, "    for (int v = 0; v < UNR; v++) {");
        cb_line(c, "        float *const dv = ud + (ptrdiff_t)mm * %s + s0 + v * CNN_VW;", dpl);
        cb_line(c, "        cnn_vec o = %s;", val);
        if (acc) {
            cb_line(c, "        cnn_vec d;");
            cb_line(c, "        memcpy(&d, dv, sizeof d);");
            cb_line(c, "        o += d;");
        }
        cb_line(c, "        memcpy(dv, &o, sizeof o);");
        cb_line(c, "    }");
        cb_line(c, "}");
        cb_line(c, "} else");
    }
    cb_line(c, "for (int t = 0; t < UTR; t++)");
    cb_line(c, "    for (int v = 0; v < UNR; v++)");
    cb_line(c, "        memcpy(cq + (ptrdiff_t)t * %s + s0 + v * CNN_VW, &acc[t][v], sizeof acc[t][v]);", ldc);
    cb_line(c, "}");
}

/* aat: A's element of row t and step k (packed: aq[k * UMR + t]); kcount: the steps; ldb: the
 * row pitch of B at bq (UNW when packed). mrem: M % MR, the rows of the last row block (mb ==
 * UMB - 1) when not 0: that block runs a tile of those rows alone (128 output channels are 21
 * blocks of 6 and one of 2, whose tile of 6 rows spent 3% of the products on rows past M). */
static void c1_emit_tile_to(Cbuf *c, int mrem, const char *ldc, const char *first, bool narrow, const char *aat,
                            const char *kcount, const char *ldb, const char *direct, const char *dpl, const char *val, bool acc) {
    if (narrow) { /* inside #if CNN_VECTORS */
        cb_line(c, "enum { UNR = 1 };");
    } else {
        cb_line(c, "#if CNN_VECTORS");
        cb_line(c, "#if defined(__AVX512F__)");
        cb_line(c, "enum { UNR = 4 };");
        cb_line(c, "#elif defined(__AVX__)");
        cb_line(c, "enum { UNR = 2 };");
        cb_line(c, "#else");
        cb_line(c, "enum { UNR = 1 };");
        cb_line(c, "#endif");
    }
    if (mrem > 0) {
        cb_line(c, "if (mb == UMB - 1) { /* the last row block: its %d rows alone */", mrem);
        cb_line(c, "enum { UTR = %d };", mrem);
        c1_emit_tile_vec(c, ldc, first, narrow, aat, kcount, ldb, direct, dpl, val, acc);
        cb_line(c, "} else {");
    } else {
        cb_line(c, "{");
    }
    cb_line(c, "enum { UTR = UMR };");
    c1_emit_tile_vec(c, ldc, first, narrow, aat, kcount, ldb, direct, dpl, val, acc);
    cb_line(c, "}");
    if (narrow)
        return;
    cb_line(c, "#else");
    cb_line(c, "for (int t = 0; t < UMR; t++)");
    cb_line(c, "for (int j = 0; j < UNW; j++) {");
    if (first)
        cb_line(c, "float s = %s ? 0.0f : cq[(ptrdiff_t)t * %s + j];", first, ldc);
    else
        cb_line(c, "float s = 0.0f;");
    cb_line(c, "for (int k = 0; k < %s; k++)", kcount);
    cb_line(c, "    s += %s * bq[(ptrdiff_t)k * %s + j];", aat, ldb);
    cb_line(c, "cq[(ptrdiff_t)t * %s + j] = s;", ldc);
    cb_line(c, "}");
    cb_line(c, "#endif");
}

/* The lanes of __builtin_shufflevector(a, b, ...) for vectors of vw floats: the even lanes of
 * a then of b (a strided row's pixels), or a's lanes interleaved with b's first (lo) or last
 * (hi) half (a row of dx with the gaps of a stride 2 between its pixels). */
static void c1_lanes(char *buf, size_t size, int vw, int kind) {
    buf[0] = 0;
    for (int l = 0; l < vw; l++) {
        size_t n = strlen(buf);
        int idx = kind == 0 ? 2 * l : l % 2 ? vw + l / 2 + (kind == 2 ? vw / 2 : 0) : l / 2 + (kind == 2 ? vw / 2 : 0);
        snprintf(buf + n, size - n, ", %d", idx);
    }
}

/* The even pixels of a row (sr, stride 2) to br: len pixels, of which the first vl have
 * both floats of their pair in the row (the last pixel's pair may end past it), in vectors of
 * CNN_VW floats (the last overlapping the one before) or half that for shorter rows. */
static void c1_emit_even_copy(Cbuf *c) {
    char l16[160], l8[160], l4[160];
    c1_lanes(l16, sizeof l16, 16, 0);
    c1_lanes(l8, sizeof l8, 8, 0);
    c1_lanes(l4, sizeof l4, 4, 0);
    cb_line(c, "int jj = 0;");
    cb_line(c, "#if CNN_SHUFFLE");
    for (int half = 0; half < 2; half++) {
        const char *ty = half ? "cnn_half" : "cnn_vec", *w = half ? "CNN_VW / 2" : "CNN_VW";
        cb_line(c, half ? "} else if (vl >= CNN_VW / 2) { /* half vectors */" : "if (vl >= CNN_VW) {");
        cb_line(c, "for (int s = 0;; s += %s) {", w);
        cb_line(c, "if (s + %s > vl)", w);
        cb_line(c, "    s = vl - %s;", w);
        cb_line(c, "%s lo, hi;", ty);
        cb_line(c, "memcpy(&lo, sr + 2 * s, sizeof lo);");
        cb_line(c, "memcpy(&hi, sr + 2 * s + %s, sizeof hi);", w);
        cb_line(c, "#if CNN_VW == 16");
        cb_line(c, "const %s ev = __builtin_shufflevector(lo, hi%s);", ty, half ? l8 : l16);
        cb_line(c, "#else");
        cb_line(c, "const %s ev = __builtin_shufflevector(lo, hi%s);", ty, half ? l4 : l8);
        cb_line(c, "#endif");
        cb_line(c, "memcpy(br + s, &ev, sizeof ev);");
        cb_line(c, "if (s + %s >= vl)", w);
        cb_line(c, "    break;");
        cb_line(c, "}");
        cb_line(c, "jj = vl;");
    }
    /* rows of 4 to 7 pixels with 16-float vectors (ResNet-18's 256 -> 512 shortcut: 7), in
     * vectors of 4 (the last overlapping the one before) */
    cb_line(c, "} else if (CNN_VW == 16 && vl >= 4) { /* quarter vectors */");
    cb_line(c, "typedef float cnn_q4 __attribute__((vector_size(16)));");
    cb_line(c, "for (int s = 0;; s += 4) {");
    cb_line(c, "if (s + 4 > vl)");
    cb_line(c, "    s = vl - 4;");
    cb_line(c, "cnn_q4 lo, hi;");
    cb_line(c, "memcpy(&lo, sr + 2 * s, sizeof lo);");
    cb_line(c, "memcpy(&hi, sr + 2 * s + 4, sizeof hi);");
    cb_line(c, "const cnn_q4 ev = __builtin_shufflevector(lo, hi, 0, 2, 4, 6);");
    cb_line(c, "memcpy(br + s, &ev, sizeof ev);");
    cb_line(c, "if (s + 4 >= vl)");
    cb_line(c, "    break;");
    cb_line(c, "}");
    cb_line(c, "jj = vl;");
    cb_line(c, "}");
    cb_line(c, "#endif");
    cb_line(c, "for (; jj < len; jj++)");
    cb_line(c, "    br[jj] = sr[2 * jj];");
}

/* A packed to dst: dst[mb][k][t] = A[mb * UMR + t][k] (aexpr, of mm and kk), zero past M. */
static void c1_emit_pack_a(Cbuf *c, const char *dst, const char *aexpr) {
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int mb = 0; mb < UMB; mb++) /* %s[mb][k][t] = A[mb * UMR + t][k] */", dst);
    cb_line(c, "    for (int kk = 0; kk < UK; kk++)");
    cb_line(c, "        for (int t = 0; t < UMR; t++) {");
    cb_line(c, "            const int mm = mb * UMR + t;");
    cb_line(c, "            %s[((ptrdiff_t)mb * UK + kk) * UMR + t] = mm < UM ? %s : 0.0f;", dst, aexpr);
    cb_line(c, "        }");
}

/* The forward or dx product: M rows (the output's channels), K deep; aexpr: A[m][k] (of m, k),
 * src / dst the arrays read and written; boff / doff: the offset expressions of a run's first
 * pixel there (C1_XOFF, C1_YOFF), bst / dst_st: the pixel strides; bpl / dpl: their channel planes' floats.
 * op: the forward (bias, epilogue), else NULL. acc (dx): the write-out adds into dst (a
 * gradient already there, Op.bwd_acc) and leaves the pixels between and below its own as they
 * are. */
static void c1_emit_mm(Emit *e, int m, int k, int q, const char *aexpr, const char *src, const char *boff, const char *bst,
                       const char *bpl, const char *dst, const char *doff, const char *dst_st, const char *dpl, const Op *op,
                       bool even, bool gaps, bool acc) {
    Cbuf *c = e->c;
    cb_line(c, "enum { UM = %d, UK = %d, UMB = (UM + UMR - 1) / UMR };", m, k);
    /* dx's A (W transposed) is packed at each call; the forward's (W) is packed by NAME_pack
     * (inference) or else read in place, row by row */
    const bool pack_a = op == NULL;
    int64_t a_floats = round16((int64_t)((m + MR - 1) / MR) * k * MR);
    cb_line(c, "float *const uslots = scratch + %lld;", pack_a ? (long long)a_floats : 0LL);
    int np = c1_np(k);
    cb_line(c, "enum { UNP = %d, UBS = %lld, USS = %lld }; /* panels per group, a slot's B panels, the slot's floats */", np,
            (long long)round16((int64_t)np * k * NW),
            (long long)(round16((int64_t)np * k * NW) + round16((int64_t)((m + MR - 1) / MR) * MR * NW)));
    if (pack_a) {
        emit_pack_begin(e, "uap", "scratch", a_floats);
        c1_emit_pack_a(c, "uap", aexpr);
        emit_pack_end(e);
    } else if (e->packable) { /* packed by NAME_pack: read as packed; without: W's rows in place */
        e->pack_floats = a_floats;
        cb_line(c, "const float *const uap = pk; /* %lld floats: W packed by NAME_pack, else NULL */", (long long)a_floats);
        cb_line(c, "if (pack_now) {");
        cb_line(c, "float *const upk = pk;");
        c1_emit_pack_a(c, "upk", aexpr);
        cb_line(c, "return;");
        cb_line(c, "}");
    } else {
        cb_line(c, "const float *const uap = NULL; /* W's rows read in place */");
    }
    /* B read in place: a panel of 64 consecutive pixels of one image (at stride 1, or dy) is
     * read by the tile where it lies, at the channel planes' pitch, not packed first */
    const bool inplace = !even && (strcmp(boff, C1_YOFF) == 0 || strcmp(boff, C1_XOFF) == 0);
    if (inplace)
        cb_line(c, "enum { UBIN = %s }; /* B's panels within one image read in place */",
                strcmp(boff, C1_YOFF) == 0 ? "1" : "USH == 1 && USW == 1");
    cb_line(c, "const long long ncol = (long long)n * UQ;");
    const bool split = c1_split(q);
    if (split) {
        cb_line(c, "enum { UF = UQ / UNW, UR = UQ - UF * UNW }; /* an image's whole panels, its pixels past them */");
        cb_line(c, "const long long ndir = (long long)n * UF * UNW; /* the columns of whole panels (c1_split) */");
    }
    cb_line(c, "const int npan = (int)((ncol + UNW - 1) / UNW);");
    cb_line(c, "const int uth = cnn_threads && CNN_THREADS() > 1; /* the call runs on several threads */");
    cb_line(c, "const int gp = !uth || npan >= 8 * UNP ? UNP : npan / 8 > 1 ? npan / 8 : 1; /* panels per group: 8 groups if threaded */");
    cb_line(c, "const int nsp = (npan + gp - 1) / gp;");
    cb_line(c, "const int ms = !uth || nsp >= 8 || nsp < 1 ? 1 : (8 + nsp - 1) / nsp < UMB ? (8 + nsp - 1) / nsp : UMB; /* row ranges per group (to share few groups between threads) */");
    cb_line(c, "const int jobs = nsp * ms;");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int slot = 0; slot < SLOTS_U; slot++) {");
    cb_line(c, "float *const ubp = uslots + (ptrdiff_t)slot * USS, *const ucb = ubp + UBS;");
    cb_line(c, "int packed = -1; /* the group of panels in ubp */");
    cb_line(c, "const int job_end = (int)((long long)jobs * (slot + 1) / SLOTS_U);");
    cb_line(c, "for (int job = (int)((long long)jobs * slot / SLOTS_U); job < job_end; job++) {");
    cb_line(c, "const int sp = job / ms, part = job %% ms;");
    cb_line(c, "const int mb0 = (int)((long long)UMB * part / ms), mb1 = (int)((long long)UMB * (part + 1) / ms);");
    cb_line(c, "const long long c0 = (long long)sp * gp * UNW;");
    cb_line(c, "const int scols = ncol - c0 < gp * UNW ? (int)(ncol - c0) : gp * UNW, nsub = (scols + UNW - 1) / UNW;");
    cb_line(c, "if (sp != packed) { /* ubp[sub][k][j] = B[k][column sub * UNW + j of the group], zero past the last column */");
    cb_line(c, "packed = sp;");
    cb_line(c, "for (int j = 0; j < scols;) { /* runs of consecutive pixels within a panel, each through every channel */");
    if (inplace) {
        cb_line(c, "if (UBIN && j %% UNW == 0 && %s) { /* read in place by the tile */", c1_in_one_image(split, "c0 + j"));
        cb_line(c, "j += UNW;");
        cb_line(c, "continue;");
        cb_line(c, "}");
    }
    c1_emit_col(c, split, "c0 + j");
    cb_line(c, "const int oh = qq / UOW, ow = qq %% UOW;");
    cb_line(c, "(void)oh, (void)ow; /* in C1_XOFF and the strided runs only */");
    cb_line(c, "const int left = %s, to_end = UNW - j %% UNW;", c1_left(boff));
    cb_line(c, "const int len0 = left < scols - j ? left : scols - j, len = len0 < to_end ? len0 : to_end;");
    cb_line(c, "const float *const sr0 = %s + (%s);", src, boff);
    cb_line(c, "float *const br0 = ubp + (ptrdiff_t)(j / UNW) * UK * UNW + j %% UNW;");
    if (even)
        cb_line(c, "const int vl = 2 * (ow + len) <= UIW ? len : len - 1; /* pixels whose pair of floats lies in the row */");
    cb_line(c, "for (int kk = 0; kk < UK; kk++) {");
    cb_line(c, "const float *const sr = sr0 + (ptrdiff_t)kk * %s;", bpl);
    cb_line(c, "float *const br = br0 + (ptrdiff_t)kk * UNW;");
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "if (kk + UPF < UK) /* the run UPF channels on: more lines in flight than the hardware prefetcher keeps */");
    cb_line(c, "    for (int f = 0; f < len * %s; f += 16)", bst);
    cb_line(c, "        __builtin_prefetch(sr + UPF * %s + f);", bpl);
    cb_line(c, "#endif");
    if (even) {
        c1_emit_even_copy(c);
    } else {
        cb_line(c, "for (int jj = 0; jj < len; jj++)");
        cb_line(c, "    br[jj] = sr[(ptrdiff_t)jj * %s];", bst);
    }
    cb_line(c, "}");
    cb_line(c, "j += len;");
    cb_line(c, "}");
    cb_line(c, "for (int kk = 0; kk < UK; kk++)");
    cb_line(c, "    for (int j = scols; j < nsub * UNW; j++)");
    cb_line(c, "        ubp[((ptrdiff_t)(j / UNW) * UK + kk) * UNW + j %% UNW] = 0.0f;");
    cb_line(c, "}");
    cb_line(c, "for (int sub = 0; sub < nsub; sub++) {");
    cb_line(c, "const int pan = sp * gp + sub;");
    c1_emit_runs(c, split, doff, gaps, gaps && !acc); /* added into dx: the rows below keep the other gradient */
    /* A whole panel that is one run of consecutive floats in the destination (the columns
     * within one image; always so at stride 1, where a run is the rest of the image): the
     * tile's last reduction block stores it there from the registers, without cb and the
     * write-out pass (whose stores to 128+ channel planes came in one burst after the tiles
     * and stalled; now each tile's 24 lines go out while the next computes). With vectors
     * only, without a fused epilogue (scalar expressions: the write-out applies them). Each
     * vector within one run stored so, the rest through cb, measured slower on panels across
     * images (ResNet-18's 256 -> 512 shortcut, 49 pixels an image, forward alone: 0.71-0.78 ->
     * 2.4x with a branch per vector on the registers, which spilled the accumulators; 0.78-0.80
     * ms with those vectors copied from cb after the tile): whole panels only. */
    const bool direct = !gaps && strcmp(dst_st, "1") == 0 && !(op && emit_has_epilogue(op));
    if (direct) {
        cb_line(c, "#if CNN_VECTORS");
        cb_line(c, "const int udirect = nrun == 1 && ucols == UNW; /* the tile stores to the destination */");
        cb_line(c, "float *const ud = %s + ruo[0];", dst);
        cb_line(c, "#else");
        cb_line(c, "const int udirect = 0;");
        cb_line(c, "#endif");
    }
    if (inplace) {
        cb_line(c, "const float *ubin = NULL; /* the panel's first pixel in the source, when read in place */");
        cb_line(c, "{");
        c1_emit_col(c, split, "(long long)pan * UNW");
        cb_line(c, "const int oh = qq / UOW, ow = qq %% UOW;");
        cb_line(c, "(void)oh, (void)ow; /* in C1_XOFF only */");
        cb_line(c, "if (UBIN && %s)", c1_in_one_image(split, "col"));
        cb_line(c, "    ubin = %s + (%s);", src, boff);
        cb_line(c, "}");
        cb_line(c, "const ptrdiff_t ldb = ubin ? %s : UNW;", bpl);
    }
    /* each tile runs the whole reduction (all UK rows of B): see the file's comment */
    if (inplace)
        cb_line(c, "const float *const bq = ubin ? ubin : ubp + (ptrdiff_t)sub * UK * UNW;");
    else
        cb_line(c, "const float *const bq = ubp + (ptrdiff_t)sub * UK * UNW;");
    cb_line(c, "for (int mb = mb0; mb < mb1; mb++) {");
    if (pack_a) {
        cb_line(c, "const float *const aq = uap + (ptrdiff_t)mb * UK * UMR;");
    } else { /* A's element (t, k) at ar[t][k * uas]: packed, or w's rows (past UM the last one again: those sums are not used) */
        cb_line(c, "const float *ar[UMR];");
        cb_line(c, "const ptrdiff_t uas = uap ? UMR : 1;");
        cb_line(c, "for (int t = 0; t < UMR; t++)");
        cb_line(c, "    ar[t] = uap ? uap + (ptrdiff_t)mb * UK * UMR + t : w + (ptrdiff_t)(mb * UMR + t < UM ? mb * UMR + t : UM - 1) * UK;");
    }
    const char *aat = pack_a ? "aq[k * UMR + t]" : "ar[t][k * uas]";
    cb_line(c, "float *const cq = ucb + (ptrdiff_t)mb * UMR * UNW;");
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "if (ucols <= CNN_VW) { /* a last panel of one vector's columns or fewer: the tile of those alone */");
    c1_emit_tile_to(c, m % MR, "UNW", NULL, true, aat, "UK", "UNW", NULL, NULL, NULL, false);
    cb_line(c, "} else");
    cb_line(c, "#endif");
    cb_line(c, "{");
    c1_emit_tile_to(c, m % MR, "UNW", NULL, false, aat, "UK", inplace ? "ldb" : "UNW", direct ? "udirect" : NULL, dpl,
                    op && op->a.bias ? "acc[t][v] + b[mm]" : "acc[t][v]", acc);
    cb_line(c, "}");
    cb_line(c, "}");
    /* the write-out through the bias and the epilogue (after all the row blocks: each row
     * block's rows written out once done measured slower, 0.93 -> 1.03 ms for the 64 -> 128
     * shortcut's dx) */
    const char *val = op && op->a.bias ? "cr[j] + b[mm]" : "cr[j]";
    const char *epi = op && emit_has_epilogue(op) ? emit_epilogue_hoisted(e, op, "v") : "v";
    if (direct)
        cb_line(c, "if (!udirect)");
    cb_line(c, "for (int mm = mb0 * UMR; mm < mb1 * UMR && mm < UM; mm++) {");
    cb_line(c, "float *const dm = %s + (ptrdiff_t)mm * %s;", dst, dpl);
    if (op) /* the channel's batchnorm parameters in locals (they lie in the scratch: read per element) */
        emit_epilogue_hoist(e, op, "mm");
    if (acc) { /* the lines it adds into, UPF channels on: read, not only written (the same for
                * the forward's stores measured no gain) */
        cb_line(c, "#if CNN_VECTORS");
        cb_line(c, "if (mm + UPF < mb1 * UMR && mm + UPF < UM)");
        cb_line(c, "    for (int r = 0; r < nrun; r++)");
        cb_line(c, "        for (int f = 0; f < %s; f += 16)", gaps ? "rus[r]" : arena_printf("rul[r] * %s", dst_st));
        cb_line(c, "            __builtin_prefetch(dm + UPF * %s + ruo[r] + f, 1);", dpl);
        cb_line(c, "#endif");
    }
    cb_line(c, "for (int r = 0; r < nrun; r++) {");
    cb_line(c, "float *const dr = dm + ruo[r];");
    cb_line(c, "const float *const cr = ucb + (ptrdiff_t)mm * UNW + ruj[r];");
    if (gaps) {
        /* stride 2 across: the run's row of dx with zeros between its pixels, in vectors of
         * pixels interleaved with zeros (whole pairs: vn of them); then the rows below it that
         * no output reads, zero */
        char lo16[160], hi16[160], lo8[160], hi8[160], lo4[80], hi4[80];
        c1_lanes(lo16, sizeof lo16, 16, 1);
        c1_lanes(hi16, sizeof hi16, 16, 2);
        c1_lanes(lo8, sizeof lo8, 8, 1);
        c1_lanes(hi8, sizeof hi8, 8, 2);
        c1_lanes(lo4, sizeof lo4, 4, 1);
        c1_lanes(hi4, sizeof hi4, 4, 2);
        cb_line(c, "const int ns = rus[r], vn = ns / 2%s;", acc ? "" : ", nb = rur[r]");
        cb_line(c, "int j = 0;");
        cb_line(c, "#if CNN_SHUFFLE");
        /* with acc: whole vectors, then a half vector, then pixel by pixel: no vector overlaps
         * the one before (a load of lines just stored in part stalls: an overlapping last
         * vector with its first lanes masked to zero measured slower than this) */
        if (acc)
            cb_line(c, "{");
        for (int half = 0; half < 2; half++) {
            const char *ty = half ? "cnn_half" : "cnn_vec", *w = half ? "CNN_VW / 2" : "CNN_VW";
            const char *lo_a = half ? lo8 : lo16, *hi_a = half ? hi8 : hi16, *lo_b = half ? lo4 : lo8, *hi_b = half ? hi4 : hi8;
            if (acc) {
                cb_line(c, "for (; j + %s <= vn; j += %s) {", w, w);
            } else {
                cb_line(c, half ? "} else if (vn >= CNN_VW / 2) { /* half vectors */" : "if (vn >= CNN_VW) {");
                cb_line(c, "for (int s = 0;; s += %s) {", w);
                cb_line(c, "if (s + %s > vn)", w);
                cb_line(c, "    s = vn - %s;", w);
            }
            const char *at = acc ? "j" : "s";
            cb_line(c, "%s v;", ty);
            cb_line(c, "memcpy(&v, cr + %s, sizeof v);", at);
            cb_line(c, "const %s z = {0};", ty);
            cb_line(c, "#if CNN_VW == 16");
            cb_line(c, "const %s lo = __builtin_shufflevector(v, z%s), hi = __builtin_shufflevector(v, z%s);", ty, lo_a, hi_a);
            cb_line(c, "#else");
            cb_line(c, "const %s lo = __builtin_shufflevector(v, z%s), hi = __builtin_shufflevector(v, z%s);", ty, lo_b, hi_b);
            cb_line(c, "#endif");
            if (acc) {
                cb_line(c, "%s dlo, dhi;", ty);
                cb_line(c, "memcpy(&dlo, dr + 2 * j, sizeof dlo);");
                cb_line(c, "memcpy(&dhi, dr + 2 * j + %s, sizeof dhi);", w);
                cb_line(c, "dlo += lo, dhi += hi;");
                cb_line(c, "memcpy(dr + 2 * j, &dlo, sizeof dlo);");
                cb_line(c, "memcpy(dr + 2 * j + %s, &dhi, sizeof dhi);", w);
                cb_line(c, "}");
                continue;
            }
            cb_line(c, "memcpy(dr + 2 * s, &lo, sizeof lo);");
            cb_line(c, "memcpy(dr + 2 * s + %s, &hi, sizeof hi);", w);
            cb_line(c, "for (int h = 1; h <= nb; h++) {");
            cb_line(c, "memcpy(dr + (ptrdiff_t)h * UIW + 2 * s, &z, sizeof z);");
            cb_line(c, "memcpy(dr + (ptrdiff_t)h * UIW + 2 * s + %s, &z, sizeof z);", w);
            cb_line(c, "}");
            cb_line(c, "if (s + %s >= vn)", w);
            cb_line(c, "    break;");
            cb_line(c, "}");
            cb_line(c, "j = vn;");
        }
        cb_line(c, "}");
        cb_line(c, "#endif");
        if (acc) {
            cb_line(c, "for (; 2 * j < ns; j++) /* the rest (and every pixel without vectors) */");
            cb_line(c, "    dr[2 * j] += cr[j];");
        } else {
            cb_line(c, "for (; 2 * j < ns; j++) { /* the rest (and every pixel without vectors) */");
            cb_line(c, "const int two = 2 * j + 1 < ns; /* the gap after the pixel lies in the row */");
            cb_line(c, "dr[2 * j] = cr[j];");
            cb_line(c, "if (two)");
            cb_line(c, "    dr[2 * j + 1] = 0.0f;");
            cb_line(c, "for (int h = 1; h <= nb; h++) {");
            cb_line(c, "dr[(ptrdiff_t)h * UIW + 2 * j] = 0.0f;");
            cb_line(c, "if (two)");
            cb_line(c, "    dr[(ptrdiff_t)h * UIW + 2 * j + 1] = 0.0f;");
            cb_line(c, "}");
            cb_line(c, "}");
        }
    } else {
        cb_line(c, "for (int j = 0; j < rul[r]; j++) {");
        cb_line(c, "const float v = %s;", val);
        cb_line(c, "dr[(ptrdiff_t)j * %s] %s= %s;", dst_st, acc ? "+" : "", epi);
        cb_line(c, "}");
    }
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}"); /* panel */
    cb_line(c, "}"); /* job */
    cb_line(c, "}"); /* slot */
}

/* The input the forward and dw read: the conv's own, or (op->evens_in, pass_fuse.c) its even
 * pixels side by side, which the add before wrote: then a stride-1 conv's, read in place. */
static Attrs c1_input(const Emit *e, const Op *op, Shape *in) {
    Attrs a = op->a;
    *in = emit_in_shape(e, op, 0);
    if (op->evens_in >= 0) {
        *in = e->g->values[op->evens_in].shape;
        a.sh = a.sw = 1;
    }
    return a;
}

bool conv_1x1_emit_forward(Emit *e, const Op *op) {
    if (conv_1x1_scratch(e->g, op) < 0)
        return false;
    Shape in, out = emit_out_shape(e, op);
    const Attrs a = c1_input(e, op, &in);
    Cbuf *c = e->c;
    emit_epilogue_setup(e, op, op->a.out);
    cb_line(c, "{ /* a 1x1 conv as a product of the weights and the (strided) input pixels (conv_1x1.c) */");
    c1_emit_dims(c, &a, in, out);
    cb_line(c, "enum { SLOTS_U = %d };", SLOTS);
    c1_emit_mm(e, out.d[1], in.d[1], out.d[2] * out.d[3], "w[(ptrdiff_t)mm * UIC + kk]", "x", C1_XOFF, "USW", "UIHW", "y", C1_YOFF, "1", "UQ", op,
               a.sw == 2, false, false);
    cb_line(c, "}");
    return true;
}

bool conv_1x1_emit_dx(Emit *e, const Op *fwd, bool acc) {
    Shape in = emit_in_shape(e, fwd, 0), out = emit_out_shape(e, fwd);
    if (conv_1x1_dx_scratch(&fwd->a, in, out) < 0)
        return false;
    Cbuf *c = e->c;
    cb_line(c, "{ /* dx of a 1x1 conv: the transposed weights times dy, at the strided pixels (conv_1x1.c)%s */",
            acc ? ", added into the other gradient in dx (a fused add)" : "");
    c1_emit_dims(c, &fwd->a, in, out);
    cb_line(c, "enum { SLOTS_U = %d };", SLOTS);
    /* the write-out zeroes the pixels between and below its own (in vectors: rows of 8 pixels
     * and more; on shorter rows a pass over dx and scalar stores measured faster) */
    bool gaps = fwd->a.sw == 2 && out.d[3] >= 8;
    if (!gaps && !acc && (fwd->a.sh != 1 || fwd->a.sw != 1)) {
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int pl = 0; pl < n * UIC; pl++) { /* the pixels no output reads: zero */");
        cb_line(c, "float *const dp = dx + (ptrdiff_t)pl * UIHW;");
        cb_line(c, "for (int h = 0; h < UIH; h++)");
        cb_line(c, "    for (int wc = 0; wc < UIW; wc++)");
        cb_line(c, "        if (h %% USH || wc %% USW || h / USH >= UOH || wc / USW >= UOW)");
        cb_line(c, "            dp[h * UIW + wc] = 0.0f;");
        cb_line(c, "}");
    }
    c1_emit_mm(e, in.d[1], out.d[1], out.d[2] * out.d[3], "w[(ptrdiff_t)kk * UIC + mm]", "dy", C1_YOFF, "1", "UQ", "dx", C1_XOFF, fwd->a.sw == 1 ? "1" : "USW", "UIHW", NULL,
               false, gaps, acc);
    cb_line(c, "}");
    return true;
}

/* One job of dw's packing: strip st (columns c0 + st * UKS on, ku of them) of the channel
 * group g (UNW channels) of the input (B: ubp[g][k][UNW]). Each channel's pixels of the strip are copied run by run (runs
 * of pixels consecutive in the source: to the image's end in dy, one output row in a strided
 * input; the even-pixel vectors at stride 2 across) to ut[j][u], channels past the tensor's
 * zero, then ut is transposed to the destination in blocks of CNN_VW x CNN_VW in registers. */
static void c1_emit_dw_strip(Cbuf *c, bool even) {
    cb_line(c, "float *const dst = ubp + (ptrdiff_t)g * UCK * UNW;");
    cb_line(c, "const int ch0 = g * UNW;");
    cb_line(c, "long long ruo[UKS];");
    cb_line(c, "int ruj[UKS], rul[UKS], nrun = 0;");
    if (even)
        cb_line(c, "int ruv[UKS];");
    cb_line(c, "for (int j = 0; j < ku;) {");
    cb_line(c, "const int oh = qq / UOW, ow = qq %% UOW;");
    cb_line(c, "(void)oh, (void)ow; /* in C1_XOFF and the strided runs only */");
    cb_line(c, "const int left = %s, len = left < ku - j ? left : ku - j;", c1_left(C1_XOFF));
    cb_line(c, "ruo[nrun] = %s;", C1_XOFF);
    if (even)
        cb_line(c, "ruv[nrun] = 2 * (ow + len) <= UIW ? len : len - 1; /* pixels whose pair of floats lies in the row */");
    cb_line(c, "ruj[nrun] = j, rul[nrun] = len, nrun++;");
    cb_line(c, "j += len, qq += len;");
    cb_line(c, "if (qq == UQ)");
    cb_line(c, "    qq = 0, im++;");
    cb_line(c, "}");
    cb_line(c, "for (int jc = 0; jc < UNW; jc++) {");
    cb_line(c, "float *const tr = ut + (ptrdiff_t)jc * UKS;");
    cb_line(c, "if (ch0 + jc < UIC)");
    cb_line(c, "for (int r = 0; r < nrun; r++) {");
    cb_line(c, "const float *const sr = x + ruo[r] + (ptrdiff_t)(ch0 + jc) * UIHW;");
    cb_line(c, "float *const br = tr + ruj[r];");
    cb_line(c, "const int len = rul[r];");
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "if (ch0 + jc + UPF < UIC) /* the run UPF channels on (as in the forward's packing) */");
    cb_line(c, "    for (int f = 0; f < len * USW; f += 16)");
    cb_line(c, "        __builtin_prefetch(sr + UPF * UIHW + f);");
    cb_line(c, "#endif");
    if (even) {
        cb_line(c, "const int vl = ruv[r];");
        c1_emit_even_copy(c);
    } else {
        cb_line(c, "for (int jj = 0; jj < len; jj++)");
        cb_line(c, "    br[jj] = sr[(ptrdiff_t)jj * USW];");
    }
    cb_line(c, "}");
    cb_line(c, "for (int u = ch0 + jc < UIC ? ku : 0; u < UKS; u++)");
    cb_line(c, "    tr[u] = 0.0f;");
    cb_line(c, "}");
    cb_line(c, "#if CNN_SHUFFLE");
    cb_line(c, "for (int u0 = 0; u0 < ku; u0 += CNN_VW)");
    cb_line(c, "for (int jb = 0; jb < UNW; jb += CNN_VW)");
    emit_transposed_block(c, "ut + (ptrdiff_t)(jb + p) * UKS + u0", "dst + (ptrdiff_t)(k0 + u0 + j) * UNW + jb", NULL);
    cb_line(c, "#else");
    cb_line(c, "for (int u = 0; u < ku; u++)");
    cb_line(c, "    for (int jc = 0; jc < UNW; jc++)");
    cb_line(c, "        dst[(ptrdiff_t)(k0 + u) * UNW + jc] = ut[(ptrdiff_t)jc * UKS + u];");
    cb_line(c, "#endif");
}

bool conv_1x1_emit_dw(Emit *e, const Op *fwd) {
    Shape in, out = emit_out_shape(e, fwd);
    const Attrs a = c1_input(e, fwd, &in);
    if (conv_1x1_dw_scratch(&a, in, out) < 0)
        return false;
    Cbuf *c = e->c;
    int ic = in.d[1], oc = out.d[1], ck = c1_dw_chunk(ic, oc);
    int npb = (ic + NW - 1) / NW, mb = (oc + MR - 1) / MR;
    cb_line(c, "{ /* dw of a 1x1 conv: dy times the transposed (strided) input, by chunks of columns (conv_1x1.c) */");
    c1_emit_dims(c, &a, in, out);
    cb_line(c, "enum { UCK = %d, UNPB = %d, UMB = %d, ULD = UNPB * UNW };", ck, npb, mb);
    cb_line(c, "enum { UKS = %d, SLOTS_U = %d }; /* the columns of a strip of the packing's transpositions; its buffers */", KS, SLOTS);
    int64_t at_sum = round16((int64_t)npb * ck * NW);
    cb_line(c, "float *const ubp = scratch, *const usum = scratch + %lld, *const utr = scratch + %lld;", (long long)at_sum,
            (long long)(at_sum + round16((int64_t)mb * MR * npb * NW)));
    cb_line(c, "const long long ncol = (long long)n * UQ;");
    cb_line(c, "for (long long c0 = 0; c0 < ncol; c0 += UCK) {");
    cb_line(c, "const int kn = ncol - c0 < UCK ? (int)(ncol - c0) : UCK, nst = (kn + UKS - 1) / UKS;");
    cb_line(c, "const int jobs = UNPB * nst;");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int slot = 0; slot < SLOTS_U; slot++) { /* ubp[pb][k][j] = x[pb * UNW + j][c0 + k] */");
    cb_line(c, "float *const ut = utr + (ptrdiff_t)slot * UNW * UKS;");
    cb_line(c, "const int job_end = (int)((long long)jobs * (slot + 1) / SLOTS_U);");
    cb_line(c, "for (int job = (int)((long long)jobs * slot / SLOTS_U); job < job_end; job++) {");
    cb_line(c, "const int g = job / nst, k0 = job %% nst * UKS, ku = kn - k0 < UKS ? kn - k0 : UKS;");
    cb_line(c, "long long im = (c0 + k0) / UQ;");
    cb_line(c, "int qq = (int)(c0 + k0 - im * UQ);");
    c1_emit_dw_strip(c, a.sw == 2);
    cb_line(c, "}");
    cb_line(c, "}");
    /* A, dy's rows of the block's output channels, is read in place: MR rows of consecutive
     * pixels of one image, one segment of the chunk per image it spans */
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < UNPB * UMB; job++) { /* usum[mb * UMR + t][pb * UNW + j] */");
    cb_line(c, "const int pb = job / UMB, mb = job %% UMB;");
    cb_line(c, "float *const cq = usum + (ptrdiff_t)mb * UMR * ULD + pb * UNW;");
    cb_line(c, "for (int ka = 0; ka < kn;) { /* the chunk's columns of one image */");
    cb_line(c, "const long long im = (c0 + ka) / UQ;");
    cb_line(c, "const int qq = (int)(c0 + ka - im * UQ), kseg = UQ - qq < kn - ka ? UQ - qq : kn - ka;");
    cb_line(c, "const float *ar[UMR]; /* dy's rows (past UOC the last one again: those sums are not used) */");
    cb_line(c, "for (int t = 0; t < UMR; t++)");
    cb_line(c, "    ar[t] = dy + (im * UOC + (mb * UMR + t < UOC ? mb * UMR + t : UOC - 1)) * UQ + qq;");
    cb_line(c, "const float *const bq = ubp + ((ptrdiff_t)pb * UCK + ka) * UNW;");
    c1_emit_tile_to(c, oc % MR, "ULD", "c0 == 0 && ka == 0", false, "ar[t][k]", "kseg", "UNW", NULL, NULL, NULL, false);
    cb_line(c, "ka += kseg;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "if (ncol > 0) {");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int oc = 0; oc < UOC; oc++)");
    cb_line(c, "    for (int ic = 0; ic < UIC; ic++)");
    cb_line(c, "        dw[(ptrdiff_t)oc * UIC + ic] += usum[(ptrdiff_t)oc * ULD + ic];");
    cb_line(c, "}");
    cb_line(c, "}");
    return true;
}
