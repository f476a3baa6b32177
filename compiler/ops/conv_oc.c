/* conv_oc.c: the forward (inference and training forward) kernel for stride-1 convolutions
 * whose output rows are short (14, 8, 7, 4 columns: the later stages of small CNNs and of
 * CIFAR ResNets), where conv.c's kernels, with their vectors along an output row, leave most
 * lanes idle; and, in its row form (conv_oc_row_geo), for the stems of image networks. Here
 * the vector lanes run over OUTPUT CHANNELS and the register tile is P output pixels x OCB
 * channels (12 pixels x two 16-float vectors with AVX-512, 6 x two 8-float vectors with AVX2,
 * 3 x two with SSE): per (input channel, kernel tap), the block's weight
 * vectors are loaded and each of the P input floats is
 * broadcast into NV fused multiply-adds, so the whole reduction over IC x KH x KW stays in
 * registers. conv.c asks here first (conv_oc_emit_forward, conv_oc_scratch) and keeps its own
 * kernels when the layer does not qualify.
 *
 * The pixels of an image are flattened with pitch OW: output pixel (oh, ow) is flat position
 * q = oh * OW + ow. So that every tap reads its P inputs as P consecutive floats (no gather,
 * no per-row tail, no wasted positions), the input is first copied into KW column-shifted,
 * zero-padded planes of pitch OW per channel: xs[i][ic][kw][h][ow] = xpad[i][ic][h][ow + kw * DW]
 * (xpad: the input padded, and normalized when a normalize is fused); tap (kh, kw) of pixel q
 * then reads xs[i][ic][kw][q + kh * DH * OW], and a tile may span rows. The last tile of a
 * range overlaps the one before it, so as to end exactly at the range's last pixel (same
 * results), and no read leaves the plane.
 *
 * Layouts, all in the planned scratch (NCHW stays the layout at the op's edges):
 *   xs   [n][IC][KW][HP][OW]      the shifted copies of the padded input
 *   wpk  [NOCB][IC][KH][KW][OCB]  the weights repacked once per call, OCB = 16 output channels
 *                                 per block (32 with AVX-512), zero past OC
 *   buf  [SLOTS][RQ][OCB]         per slot, the conv outputs of one job, pixel-major
 * A job is (image, block of OCB channels, chunk of rows); the jobs are cut into SLOTS
 * contiguous ranges, each run by one thread in order with its own buf, so any thread count is
 * safe and the result does not depend on it. After its tiles, a job writes its chunk out in
 * NCHW through the fused epilogue (bias, folded batchnorm, activation) and the fused pooling,
 * if any. At small batches the rows are cut into chunks (whole pooling-window rows) so that
 * both threads have work. Without vector types, plain loops fill buf the same way. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../ops.h"

int64_t conv_oc_scratch(const Graph *g, const Op *op);
bool conv_oc_emit_forward(Emit *e, const Op *op);
bool conv_small_takes_forward(const Graph *g, const Op *op, const Attrs *a, Shape in, Shape out); /* conv_small.c */

/* OCB: output channels per block (two vectors of 8; with AVX-512 OCB_512, two vectors of 16,
 * emitted under #if: a tile of 12 pixels x 32 channels, 24 accumulators, two weight vectors
 * and 12 broadcasts per tap against one vector and 12 broadcasts for 16 channels: simplecnn's
 * 32 -> 64 at 14x14 alone, batch 64, 1 thread on a Zen 5, 123-129 -> 145-147 GFLOP/s); the
 * scratch is sized for the larger block. P_MAX: the largest pixel tile; SLOTS_MAX: the most
 * row buffers. */
enum { OCB = 16, OCB_512 = 32, P_MAX = 12, SLOTS_MAX = 64 };

typedef struct {
    int hp;          /* rows of the padded input (the flat form) */
    int chunks;      /* row chunks per image (the flat form) */
    int rows;        /* output rows per chunk (the last may have fewer), a multiple of PKH (the flat form) */
    int rq;          /* flat positions of the longest chunk */
    int slots;
    int64_t wp_at, buf_at, total;
    bool by_row;     /* the row form (below): tiles along one output row, any stride */
    int wpad;        /* its padded input's columns */
} OcGeo;

static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

/* Whether op's blocks take OCB_512 channels with AVX-512: reductions of 64 and more (shorter
 * ones are bound by the write-out, which the wider block slows: simplecnn's 1 -> 32 at 28x28)
 * and output channels in whole blocks of 32 (LeNet-5's 16 would fill half of one). */
static bool oc_wide_block(const Graph *g, const Op *op) {
    int oc = g->values[op->out].shape.d[1];
    return (long long)g->values[op->in[0]].shape.d[1] * op->a.kh * op->a.kw >= 64 && oc % OCB_512 == 0;
}

/* The block size the scratch is sized for: the larger of the targets' */
static int oc_block_max(const Graph *g, const Op *op) { return oc_wide_block(g, op) ? OCB_512 : OCB; }

/* The row form, for the stems of image networks (ResNet's and GoogLeNet's 3 -> 64 7x7 of
 * stride 2 at 224, AlexNet's 11x11 of stride 4): few input channels, long output rows, any
 * stride. The tiles run along one output row (P consecutive output columns), so a tap's P
 * inputs are P floats SW apart in the padded input, each broadcast (no shifted copies, no
 * im2col); the last tile of a row overlaps the one before it. Layouts in the scratch:
 *   ring [SLOTS][IC][RING][WP]    per slot, the input rows its jobs read, padded (and
 *                                 normalized when a normalize is fused): RING = (KH - 1) * DH + 1
 *                                 rows, padded input row hp in ring row hp % RING
 *   wpk  [NOCB][IC][KH][KW][OCB]  as above
 *   buf  [SLOTS][OW][OCB]         per slot, one output row of one block, pixel-major
 * A job is one output row of one image: the rows it reads that its ring does not hold yet are
 * filled (a slot's jobs are consecutive rows, so with stride SH only SH new rows per job: the
 * others were read by the row before), then every block of channels in turn (the block's
 * weights and the ring stay in L1), each block's row written out through the fused epilogue
 * right after its tiles. The tile takes 10 to 14 pixels with AVX-512, as few computed past the
 * row's end as may be. conv.c's product path (im2col, then a product with 16 channels in the
 * lanes) ran ResNet-18's stem at about 40% of peak, a third of its time in the scalar im2col;
 * this form at about 50% (batch 8, training, one thread on a Zen 5), 85% since the transposing
 * write-out, the tile of 14 and the ring (bench/README.md). */
static int oc_ring(const Attrs *a) { return (a->kh - 1) * a->dh + 1; }

static bool conv_oc_row_geo(const Graph *g, const Op *op, OcGeo *q) {
    const Attrs *a = &op->a;
    Shape in = g->values[op->in[0]].shape, out = g->values[op->out].shape;
    int ic = in.d[1], oc = out.d[1], ow = out.d[3];
    long long ick = (long long)ic * a->kh * a->kw;
    if (a->groups != 1 || op->epi_pool >= 0 || ic > 4 || oc < 16 || ow < 16 || ick < 27 || ick > 512)
        return false;
    if (a->sh == 1 && a->sw == 1 && ow <= 32)   /* the flat form's */
        return false;
    q->by_row = true;   /* hp, chunks and rows: the flat form's only */
    q->wpad = in.d[3] + a->pw + a->pw_end;
    q->rq = ow;
    int64_t rows = (int64_t)in.d[0] * out.d[2];
    q->slots = rows < SLOTS_MAX ? (int)rows : SLOTS_MAX;
    q->wp_at = round16((int64_t)q->slots * ic * oc_ring(a) * q->wpad);
    int ob = oc_block_max(g, op);
    q->buf_at = q->wp_at + round16((int64_t)(oc + ob - 1) / ob * ob * ick);
    q->total = q->buf_at + (int64_t)q->slots * q->rq * ob;
    return true;
}

/* Whether the kernel takes op, and its geometry. */
static bool conv_oc_geo(const Graph *g, const Op *op, OcGeo *q) {
    const Attrs *a = &op->a;
    if (op->kind != OP_CONV || op->pro_conv >= 0)
        return false;
    q->by_row = false;
    q->wpad = 0;
    if (conv_oc_row_geo(g, op, q))
        return true;
    Shape in = g->values[op->in[0]].shape, out = g->values[op->out].shape;
    int ic = in.d[1], oc = out.d[1], oh = out.d[2], ow = out.d[3];
    if (a->sh != 1 || a->sw != 1 || a->groups != 1)
        return false;
    /* Where it measured faster than conv.c's kernels (simplecnn's 32 -> 64 at 14x14, LeNet's
     * 6 -> 16 at 10x10, most 1x1 convs of MobileNet-v2 and GoogLeNet at 14x14, and stems with
     * a reduction of 10 to 32, up to 32 columns): short rows,
     * enough output channels to fill the lanes, enough reduction per output to pay for the
     * write-out, but a block's weights (IC * KH * KW * 16 floats) within 32 KiB so that they
     * stay in L1 across the tiles (ResNet's 3x3 convs of 128 to 512 channels ran slower), and
     * for long reductions 48 output channels at least (GoogLeNet's 480 -> 16, 24, 32 ran
     * slower). A reduction of 9 or less (simplecnn's 1 -> 32 3x3 at 28x28) is left to
     * conv_small.c when it takes the layer, whose lanes run along the plane: there the
     * write-out of this tile dominated (simplecnn's training forward at batch 64: 1.30 ms, 13%
     * of peak, against 0.17 to 0.31 ms); with a pooling fused (simplecnn's inference)
     * conv_small.c does not take it, and conv.c's kernel ran slower than this one (batch 64:
     * 10,100 against 12,050 img/s). */
    long long ick = (long long)ic * a->kh * a->kw;
    if (ow > 32 || (ow > 16 && ick > 32) || oc < 16 || ick < 9 || ick > 512 || (ick > 256 && oc < 48))
        return false;
    if (ick == 9 && conv_small_takes_forward(g, op, a, in, out))
        return false;
    if (a->kh * a->kw == 1 && (ick < 64 || oc < 64))   /* MobileNet-v3's 1x1 convs ran slower */
        return false;
    q->hp = in.d[2] + a->ph + a->ph_end;
    int pkh = op->epi_pool >= 0 ? g->ops[op->epi_pool].a.kh : 1;
    int units = op->epi_pool >= 0 ? oh / pkh : oh;   /* rows are chunked in whole window rows */
    int nocb = (oc + OCB - 1) / OCB;
    int used = units * pkh;   /* the output rows computed (a pooling drops the rest) */
    if (used * ow < 64)   /* 7x7 and 4x4 planes ran slower (MobileNet-v2, ResNet) */
        return false;
    /* Calls with few images (n * NOCB < 4, decided at run time) cut the rows into chunks so
     * that both threads have work: as many as make 4 jobs of one image, each holding a tile. */
    int chunks = nocb >= 4 ? 1 : units >= 4 / nocb ? 4 / nocb : units;
    for (; chunks > 1; chunks--) {
        int rows = (units + chunks - 1) / chunks * pkh;
        int last = used - (chunks - 1) * rows;
        if (last > 0 && last * ow >= P_MAX)
            break;
    }
    q->chunks = chunks;
    q->rows = (units + chunks - 1) / chunks * pkh;
    q->rq = used * ow;   /* the longest chunk: all rows, when one image is one job */
    int64_t alljobs = (int64_t)in.d[0] * nocb;
    if (alljobs < (int64_t)nocb * chunks)
        alljobs = (int64_t)nocb * chunks;
    q->slots = alljobs < SLOTS_MAX ? (int)alljobs : SLOTS_MAX;
    q->wp_at = round16((int64_t)in.d[0] * ic * a->kw * q->hp * ow);
    int ob = oc_block_max(g, op);
    q->buf_at = q->wp_at + round16((int64_t)(oc + ob - 1) / ob * ob * ic * a->kh * a->kw);
    q->total = q->buf_at + (int64_t)q->slots * q->rq * ob;
    return true;
}

/* Floats of scratch for op, or -1 when the kernel does not take it. */
int64_t conv_oc_scratch(const Graph *g, const Op *op) {
    OcGeo q;
    return conv_oc_geo(g, op, &q) ? q.total : -1;
}

void conv_emit_norm_tables(Cbuf *c, const Graph *g, const Op *op); /* conv.c */

/* The weights repacked into wpk [NOCB][IC][KH][KW][OCB], once by NAME_pack for inference
 * (emit_pack_begin), else at every call. */
static void oc_emit_pack(Emit *e, const OcGeo *q) {
    Cbuf *c = e->c;
    emit_pack_begin(e, "wpk", arena_printf("scratch + %lld", (long long)q->wp_at), q->buf_at - q->wp_at);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int bk = 0; bk < NOCB * IC; bk++) { /* wpk[cb][ic][kh][kw][OCB] */");
    cb_line(c, "const int cb = bk / IC, ic = bk %% IC;");
    cb_line(c, "for (int k = 0; k < KH * KW; k++)");
    cb_line(c, "    for (int j = 0; j < OCB; j++) {");
    cb_line(c, "        const int oc = cb * OCB + j;");
    cb_line(c, "        wpk[(((ptrdiff_t)cb * IC + ic) * KH * KW + k) * OCB + j] = oc < OC ? w[((ptrdiff_t)oc * IC + ic) * KH * KW + k] : 0.0f;");
    cb_line(c, "    }");
    cb_line(c, "}");
    emit_pack_end(e);
}

/* The write-out of output rows [r0, r1) of image i, block cb, from buf (flat position qa
 * first: the rows' positions are contiguous in buf and in each output plane) through the bias
 * and the epilogue to the block's NCHW planes (emit_planes_out). */
static const EmitPlanes oc_planes = {"buf", "OCB", "yb", "OH * OW", "0", "len", "ocn", "cb * OCB", "OC"};

static void oc_emit_store(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    cb_line(c, "const int ocn = OC - cb * OCB < OCB ? OC - cb * OCB : OCB;");
    cb_line(c, "float *const yb = y + ((ptrdiff_t)i * OC + cb * OCB) * OH * OW + qa;");
    cb_line(c, "const int len = (r1 - r0) * OW; /* the rows' positions from qa */");
    emit_planes_out(e, op, &oc_planes);
}

/* The register tile's target enums: VL floats per vector, NV = OCB / VL vectors, P pixels. */
static void oc_emit_tile_enums(Cbuf *c, int p512) {
    cb_line(c, "/* the block's channels in NV vectors of VL floats; P pixels per register tile */");
    cb_line(c, "#if defined(__AVX512F__)");
    cb_line(c, "enum { VL = 16, P = %d };", p512);
    cb_line(c, "#elif defined(__AVX__)");
    cb_line(c, "enum { VL = 8, P = 6 };");
    cb_line(c, "#else");
    cb_line(c, "enum { VL = 8, P = 3 };");
    cb_line(c, "#endif");
    cb_line(c, "typedef float oc_v __attribute__((vector_size(VL * 4)));");
    cb_line(c, "enum { NV = OCB / VL };");
}

/* One register tile (inside the loop over a block's tiles): P pixels x OCB channels summed
 * over every input channel and tap, pixel p's input at tap (ic, kh, kw) being `s` (a C
 * expression of p) from the row pointer `xr`, the sums stored to buf at pixel position `at`. */
static void oc_emit_tile(Cbuf *c, const char *xr, const char *s, const char *at) {
    cb_line(c, "oc_v acc[P][NV];");
    cb_line(c, "for (int p = 0; p < P; p++)");
    cb_line(c, "    for (int v = 0; v < NV; v++)");
    cb_line(c, "        acc[p][v] = (oc_v){0};");
    cb_line(c, "const float *wq = wb;");
    cb_line(c, "for (int ic = 0; ic < IC; ic++)");
    cb_line(c, "for (int kh = 0; kh < KH; kh++)");
    cb_line(c, "for (int kw = 0; kw < KW; kw++, wq += OCB) {");
    cb_line(c, "const float *xr = %s;", xr);
    cb_line(c, "oc_v wv[NV];");
    cb_line(c, "for (int v = 0; v < NV; v++)");
    cb_line(c, "    memcpy(&wv[v], wq + v * VL, sizeof wv[v]);");
    cb_line(c, "for (int p = 0; p < P; p++) {");
    cb_line(c, "const float s = %s;", s);
    cb_line(c, "for (int v = 0; v < NV; v++)");
    cb_line(c, "    acc[p][v] += s * wv[v];");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "for (int p = 0; p < P; p++)");
    cb_line(c, "    for (int v = 0; v < NV; v++)");
    cb_line(c, "        memcpy(buf + (ptrdiff_t)(%s) * OCB + v * VL, &acc[p][v], sizeof acc[p][v]);", at);
}

/* The row form's body (see conv_oc_row_geo), after the weights' packing. */
static void oc_emit_rows(Emit *e, const Op *op, const OcGeo *q) {
    Cbuf *c = e->c;
    const char *xv = "xi[(ptrdiff_t)hi * IW + wi]";
    if (op->pro_norm >= 0) { /* the fused normalize: (x - mean) / std on the way in */
        conv_emit_norm_tables(c, e->g, op);
        xv = "(xi[(ptrdiff_t)hi * IW + wi] - mean[ic]) / std[ic]";
    }
    cb_line(c, "float *const bufs = scratch + %lld;", (long long)q->buf_at);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int slot = 0; slot < SLOTS; slot++) {");
    cb_line(c, "float *const buf = bufs + (ptrdiff_t)slot * OW * OCB;");
    cb_line(c, "float *const xg = scratch + (ptrdiff_t)slot * IC * RING * WP; /* the ring of input rows */");
    cb_line(c, "long long held[RING]; /* the padded input row (image * HPAD + row) each ring row holds; -1: none */");
    cb_line(c, "for (int t = 0; t < RING; t++)");
    cb_line(c, "    held[t] = -1;");
    cb_line(c, "const long long jobs = (long long)n * OH;");
    cb_line(c, "const int job_end = (int)(jobs * (slot + 1) / SLOTS);");
    cb_line(c, "for (int job = (int)(jobs * slot / SLOTS); job < job_end; job++) { /* output row oh of image i */");
    cb_line(c, "const int i = job / OH, oh = job %% OH, r0 = oh, r1 = oh + 1, qa = oh * OW;");
    cb_line(c, "int ring[KH]; /* kernel row kh reads ring row ring[kh]: padded input row oh * SH + kh * DH */");
    cb_line(c, "for (int kh = 0; kh < KH; kh++) {");
    cb_line(c, "const int hp = oh * SH + kh * DH, t = hp %% RING, hi = hp - PH;");
    cb_line(c, "ring[kh] = t;");
    cb_line(c, "if (held[t] == (long long)i * HPAD + hp)");
    cb_line(c, "    continue;");
    cb_line(c, "held[t] = (long long)i * HPAD + hp;");
    cb_line(c, "for (int ic = 0; ic < IC; ic++) {");
    cb_line(c, "const float *const xi = x + ((ptrdiff_t)i * IC + ic) * IH * IW;");
    cb_line(c, "float *const xr = xg + ((ptrdiff_t)ic * RING + t) * WP;");
    cb_line(c, "if (hi < 0 || hi >= IH) {");
    cb_line(c, "for (int col = 0; col < WP; col++)");
    cb_line(c, "    xr[col] = 0.0f;");
    cb_line(c, "continue;");
    cb_line(c, "}");
    cb_line(c, "for (int col = 0; col < PW; col++)");
    cb_line(c, "    xr[col] = 0.0f;");
    emit_simd(c, e->g->values[op->in[0]].shape.d[3]);
    cb_line(c, "for (int wi = 0; wi < IW; wi++)");
    cb_line(c, "    xr[PW + wi] = %s;", xv);
    cb_line(c, "for (int col = PW + IW; col < WP; col++)");
    cb_line(c, "    xr[col] = 0.0f;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "for (int cb = 0; cb < NOCB; cb++) {");
    cb_line(c, "const float *const wb = wpk + (ptrdiff_t)cb * KK * OCB;");
    cb_line(c, "#if CNN_VECTORS");
    /* With AVX-512, the tile's pixels from 10 to 14 (14 x 2 accumulators, two weight vectors
     * and a broadcast fill the 32 registers): the fewest computed past the row (ResNet's 112
     * columns: 8 tiles of 14, not 10 of 12 with the last overlapping by 8; 4% of its stem) */
    int p512 = 12, ow = e->g->values[op->out].shape.d[3];
    for (int p = 14; p >= 10; p--)
        if ((ow + p - 1) / p * p < (ow + p512 - 1) / p512 * p512)
            p512 = p;
    oc_emit_tile_enums(c, p512);
    cb_line(c, "for (int c0 = 0; c0 < OW; c0 += P) {");
    cb_line(c, "const int cs = c0 + P <= OW ? c0 : OW - P; /* the last tile overlaps */");
    oc_emit_tile(c, "xg + ((ptrdiff_t)ic * RING + ring[kh]) * WP + cs * SW + kw * DW", "xr[p * SW]", "cs + p");
    cb_line(c, "}");
    cb_line(c, "#else");
    cb_line(c, "for (int col = 0; col < OW; col++) {");
    cb_line(c, "float *bq = buf + (ptrdiff_t)col * OCB;");
    cb_line(c, "for (int j = 0; j < OCB; j++)");
    cb_line(c, "    bq[j] = 0.0f;");
    cb_line(c, "const float *wq = wb;");
    cb_line(c, "for (int ic = 0; ic < IC; ic++)");
    cb_line(c, "for (int kh = 0; kh < KH; kh++)");
    cb_line(c, "for (int kw = 0; kw < KW; kw++, wq += OCB) {");
    cb_line(c, "const float s = xg[((ptrdiff_t)ic * RING + ring[kh]) * WP + col * SW + kw * DW];");
    cb_line(c, "for (int j = 0; j < OCB; j++)");
    cb_line(c, "    bq[j] += s * wq[j];");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#endif");
    oc_emit_store(e, op);
    cb_line(c, "}"); /* cb */
    cb_line(c, "}"); /* job */
    cb_line(c, "}"); /* slot */
}

bool conv_oc_emit_forward(Emit *e, const Op *op) {
    OcGeo q;
    if (!conv_oc_geo(e->g, op, &q))
        return false;
    const Attrs *a = &op->a;
    Shape in = emit_in_shape(e, op, 0), out = emit_out_shape(e, op);
    const Op *pool = op->epi_pool >= 0 ? &e->g->ops[op->epi_pool] : NULL;
    Cbuf *c = e->c;
    emit_image_dims(c, "I", in);
    emit_image_dims(c, "O", out);
    cb_line(c, "/* output channels in the vector lanes, pixels flattened with pitch OW (conv_oc.c) */");
    cb_line(c, "enum { KH = %d, KW = %d, DH = %d, DW = %d, PH = %d, PW = %d, KK = IC * KH * KW };", a->kh, a->kw,
            a->dh, a->dw, a->ph, a->pw);
    if (q.by_row) {
        cb_line(c, "enum { SH = %d, SW = %d, WP = %d }; /* tiles along one output row, any stride */", a->sh, a->sw,
                q.wpad);
        cb_line(c, "enum { RING = %d, HPAD = %d }; /* input rows kept per slot (a job's rows), rows padded */",
                oc_ring(a), in.d[2] + a->ph + a->ph_end);
        cb_line(c, "enum { SLOTS = %d }; /* row buffers */", q.slots);
    } else {
        cb_line(c, "enum { HP = %d }; /* rows of the padded input */", q.hp);
        cb_line(c, "enum { CHUNKS = %d, CROWS = %d, RQ = %d, SLOTS = %d }; /* row chunks per image at small n, their rows */",
                q.chunks, q.rows, q.rq, q.slots);
    }
    if (oc_wide_block(e->g, op)) {
        cb_line(c, "#if defined(__AVX512F__)");
        cb_line(c, "enum { OCB = %d }; /* output channels per block */", OCB_512);
        cb_line(c, "#else");
        cb_line(c, "enum { OCB = %d };", OCB);
        cb_line(c, "#endif");
    } else {
        cb_line(c, "enum { OCB = %d }; /* output channels per block */", OCB);
    }
    cb_line(c, "enum { NOCB = (OC + OCB - 1) / OCB };");
    oc_emit_pack(e, &q);
    emit_epilogue_setup(e, op, a->out);
    if (q.by_row) {
        oc_emit_rows(e, op, &q);
        return true;
    }
    /* the shifted copies: xs[i][ic][kw][h][ow] = xpad[i][ic][h][ow + kw * DW] */
    const char *xv = "x[((ptrdiff_t)ic * IH + hi) * IW + wi]";
    if (op->pro_norm >= 0) { /* the fused normalize: (x - mean) / std on the way in */
        conv_emit_norm_tables(c, e->g, op);
        xv = "(x[((ptrdiff_t)ic * IH + hi) * IW + wi] - mean[ic % IC]) / std[ic % IC]";
    }
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int ic = 0; ic < n * IC; ic++)");
    cb_line(c, "for (int kw = 0; kw < KW; kw++) {");
    cb_line(c, "float *xs = scratch + ((ptrdiff_t)ic * KW + kw) * HP * OW;");
    /* zeros, then the columns inside the input (a loop with no test, vectorized: the test per
     * element ran scalar in the OpenMP region, 6% of simplecnn's inference at batch 64) */
    cb_line(c, "const int c0 = PW - kw * DW > 0 ? PW - kw * DW : 0;");
    cb_line(c, "const int c1 = IW + PW - kw * DW < OW ? IW + PW - kw * DW : OW;");
    cb_line(c, "for (int h = 0; h < HP; h++) {");
    cb_line(c, "const int hi = h - PH;");
    cb_line(c, "float *const xr = xs + h * OW;");
    cb_line(c, "if (hi < 0 || hi >= IH || c1 <= c0) {");
    cb_line(c, "for (int col = 0; col < OW; col++)");
    cb_line(c, "    xr[col] = 0.0f;");
    cb_line(c, "continue;");
    cb_line(c, "}");
    cb_line(c, "for (int col = 0; col < c0; col++)");
    cb_line(c, "    xr[col] = 0.0f;");
    emit_simd(c, e->g->values[op->out].shape.d[3]);
    cb_line(c, "for (int col = c0; col < c1; col++) {");
    cb_line(c, "const int wi = col + kw * DW - PW;");
    cb_line(c, "xr[col] = %s;", xv);
    cb_line(c, "}");
    cb_line(c, "for (int col = c1; col < OW; col++)");
    cb_line(c, "    xr[col] = 0.0f;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "float *const bufs = scratch + %lld;", (long long)q.buf_at);
    if (pool)
        cb_line(c, "enum { PKH = %d, PKW = %d, PH_OUT = OH / PKH, PW_OUT = OW / PKW }; /* the fused %s */", pool->a.kh,
                pool->a.kw, op_name(pool->kind));
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int slot = 0; slot < SLOTS; slot++) {");
    cb_line(c, "float *const buf = bufs + (ptrdiff_t)slot * RQ * OCB;");
    cb_line(c, "const int chunks = n * NOCB < 4 ? CHUNKS : 1, crows = chunks > 1 ? CROWS : %s;", pool ? "PH_OUT * PKH" : "OH");
    cb_line(c, "const long long jobs = (long long)n * NOCB * chunks;");
    cb_line(c, "const int job_end = (int)(jobs * (slot + 1) / SLOTS);");
    cb_line(c, "for (int job = (int)(jobs * slot / SLOTS); job < job_end; job++) {");
    cb_line(c, "const int ch = job %% chunks, cb = job / chunks %% NOCB, i = job / chunks / NOCB;");
    cb_line(c, "const int r0 = ch * crows, r1 = r0 + crows < %s ? r0 + crows : %s;", pool ? "PH_OUT * PKH" : "OH",
            pool ? "PH_OUT * PKH" : "OH");
    cb_line(c, "const int qa = r0 * OW, qb = r1 * OW; /* the chunk's flat positions */");
    cb_line(c, "const float *const xg = scratch + (ptrdiff_t)i * IC * KW * HP * OW;");
    cb_line(c, "const float *const wb = wpk + (ptrdiff_t)cb * KK * OCB;");
    cb_line(c, "#if CNN_VECTORS");
    oc_emit_tile_enums(c, 12);
    cb_line(c, "for (int q0 = qa; q0 < qb; q0 += P) {");
    cb_line(c, "const int qs = q0 + P <= qb ? q0 : qb - P; /* the last tile overlaps, within the chunk */");
    oc_emit_tile(c, "xg + ((ptrdiff_t)(ic * KW + kw) * HP + kh * DH) * OW + qs", "xr[p]", "qs - qa + p");
    cb_line(c, "}");
    cb_line(c, "#else");
    cb_line(c, "for (int qq = qa; qq < qb; qq++) {");
    cb_line(c, "float *bq = buf + (ptrdiff_t)(qq - qa) * OCB;");
    cb_line(c, "for (int j = 0; j < OCB; j++)");
    cb_line(c, "    bq[j] = 0.0f;");
    cb_line(c, "const float *wq = wb;");
    cb_line(c, "for (int ic = 0; ic < IC; ic++)");
    cb_line(c, "for (int kh = 0; kh < KH; kh++)");
    cb_line(c, "for (int kw = 0; kw < KW; kw++, wq += OCB) {");
    cb_line(c, "const float s = xg[((ptrdiff_t)(ic * KW + kw) * HP + kh * DH) * OW + qq];");
    cb_line(c, "for (int j = 0; j < OCB; j++)");
    cb_line(c, "    bq[j] += s * wq[j];");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#endif");
    /* The write-out, pixel by pixel: the block's 16 channels (contiguous in buf) through the
     * bias, the epilogue and the pooling in a loop over the lanes that compilers vectorize,
     * then stored to their 16 planes. The channels past OC of the last block read the
     * parameters of channel OC - 1 and are not stored. */
    const char *epi = emit_has_epilogue(op) ? emit_epilogue(e, op, "v", "oc") : "v";
    bool max = pool && pool->kind == OP_MAXPOOL;
    if (!pool) {
        oc_emit_store(e, op);
    } else {
        cb_line(c, "const int ocn = OC - cb * OCB < OCB ? OC - cb * OCB : OCB;");
        cb_line(c, "float *const yb = y + ((ptrdiff_t)i * OC + cb * OCB) * PH_OUT * PW_OUT;");
        if (op->keeps >= 0) /* training: the pooling's input too, in full (backward ops read it) */
            cb_line(c, "float *const ykb = yk + ((ptrdiff_t)i * OC + cb * OCB) * OH * OW;");
        cb_line(c, "for (int pr = r0 / PKH; pr < r1 / PKH; pr++)");
        cb_line(c, "for (int pc = 0; pc < PW_OUT; pc++) {");
        cb_line(c, "float m[OCB];");
        cb_line(c, "for (int j = 0; j < OCB; j++)");
        cb_line(c, "    m[j] = %s;", max ? "-INFINITY" : "0.0f");
        cb_line(c, "for (int r = pr * PKH; r < pr * PKH + PKH; r++)");
        cb_line(c, "for (int col = pc * PKW; col < pc * PKW + PKW; col++) {");
        cb_line(c, "const float *bq = buf + (ptrdiff_t)(r * OW + col - qa) * OCB;");
        if (op->keeps >= 0)
            cb_line(c, "float tk[OCB];");
        emit_lanes_head(c, op, &oc_planes);
        cb_line(c, "const float t = %s;", epi);
        if (op->keeps >= 0)
            cb_line(c, "tk[j] = t;");
        if (max)
            cb_line(c, "m[j] = t > m[j] || isnan(t) ? t : m[j];");
        else
            cb_line(c, "m[j] += t;");
        cb_line(c, "}");
        if (op->keeps >= 0) {
            cb_line(c, "for (int j = 0; j < ocn; j++)");
            cb_line(c, "    ykb[(ptrdiff_t)j * OH * OW + r * OW + col] = tk[j];");
        }
        cb_line(c, "}");
        cb_line(c, "for (int j = 0; j < ocn; j++)");
        cb_line(c, "    yb[(ptrdiff_t)j * PH_OUT * PW_OUT + pr * PW_OUT + pc] = %s;", max ? "m[j]" : "m[j] / (float)(PKH * PKW)");
        cb_line(c, "}");
    }
    cb_line(c, "}"); /* job */
    cb_line(c, "}"); /* slot */
    return true;
}
