/* conv_wino.c: 3x3, stride-1 convolutions by Winograd's minimal filtering F(m x m, 3x3) (Lavin
 * and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016), m = 2 or 4: each m x m
 * block of outputs of a channel comes from an A x A block of inputs (A = m + 2) with A^2
 * multiplications per input channel instead of 9 m^2, so the products of the convolution drop
 * 2.25-fold (F(2x2): 16 for 4 outputs) or 4-fold (F(4x4): 36 for 16). The forward (inference
 * and training forward) of ResNet's and VGG's 3x3 convs on planes of 8x8 and more, and the
 * data gradient of such a conv (the same convolution over dy with the kernel flipped and its
 * channel axes swapped).
 *
 * With output tile (ty, tx) covering outputs (m ty + a, m tx + b), a, b < m, and d its A x A
 * input block (rows m ty - PH + i, columns m tx - PW + j, zero outside the image), g a 3x3
 * kernel of output channel k and input channel c:
 *     U = G g G^T (A x A, per (k, c): the weights, transformed once per pack or call, in double)
 *     V = B^T d B (A x A, per (tile, c): the input transform)
 *     M[xi] = sum over c of U[xi] V[xi], for each of the A^2 positions xi: A^2 matrix products
 *             (tiles x IC) x (IC x OC)
 *     Y = A^T M A (m x m: the output transform), then bias, folded batchnorm and activation
 * with the matrices B^T, G and A^T below (BT2 ... AT4). F(2x2)'s transforms only add and
 * subtract (G halves); F(4x4)'s multiply by up to 8 and G by 1/6, 1/12 and 1/24, so its sums
 * round further from the direct convolution's: measured 0.5-2e-6 relative to a float64
 * reference on the tests' models (F(2x2) and PyTorch's direct conv 0.1-1e-6), well inside the
 * parity tests' 1e-4; a relu right after such a conv can flip an output within that distance
 * of zero (tests/models/conv_wino.cnn says how its models avoid it). cnnc --no-winograd keeps
 * every conv direct; CNNC_WINO_M=2 or 4 in the compiler's environment forces the tile (tests).
 *
 * Work is cut into jobs of WR consecutive rows of tiles (global tile rows: image-major, so a
 * job of a small plane may span images) and the jobs into SLOTS contiguous ranges, one thread
 * each with its own V and M buffers; every output has one writer and its sums run in a fixed
 * order, so the result does not depend on the number of threads. A job:
 *   1. transforms its tiles of every input channel into V [A^2][IC][TBP] (tiles contiguous;
 *      TBP: the job's tiles rounded up, see below);
 *   2. for each position xi, per block of WP output channels (the register tile's channels):
 *      M[xi] [OC][TBP] = U[xi] (block) x V[xi], register tiles of WNV vectors of tiles x WP
 *      channels (2 x 16 tiles x 12 channels, 24 accumulators, with AVX-512; 2 x 8 x 6 with
 *      AVX2), the whole reduction over IC in registers: per input channel, WNV vector loads of
 *      V and WP broadcasts of U; V[xi] stays in L1 or L2 across the blocks, U is read once;
 *   3. the output transform of every channel, through the epilogue, into the output planes.
 * The vectors run over tiles, so both transforms read and write rows of tiles: a tile row's
 * input rows go through B^T into A zero-padded rows of columns, then B over the columns. The
 * loops over a row of tiles run to TXV (TX rounded up to 8 or 16: whole vectors, which made
 * the transforms 10-30% of a conv instead of 30-50%); the input transform's extra tiles land
 * on the next row's tiles, which that row then writes, or past the job's last (TBP leaves room);
 * the output transform's (F(4x4) only: with F(2x2) the guarded stores measured slower) write
 * nothing. The register tiles compute whole vectors of tiles: the lanes past the job's tiles
 * read whatever V holds there and their sums are never read (a lane's sum involves only that
 * lane), so that tail is not zeroed. WR is chosen so that V and M stay within 512 KiB each and few
 * tiles are wasted (the rounding, the jobs' balance over two threads, U read once a job); the
 * planes of V and M are one cache line longer than IC x TBP, as a multiple of 4 KiB put all
 * A^2 planes' rows in the same L1 sets. Without vector types, plain loops compute the same
 * products.
 *
 * Layouts, all in the planned scratch:
 *   wu   [A^2][NKB][IC][WP or the last block's width]   U, packed once by NAME_pack for inference
 *   V    [SLOTS][A^2][IC x TBP + 16]
 *   M    [SLOTS][A^2][OC x TBP + 16] */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../ops.h"

int64_t conv_wino_scratch(const Graph *g, const Op *op);
bool conv_wino_emit_forward(Emit *e, const Op *op);
int64_t conv_wino_dx_scratch(const Graph *g, const Attrs *a, Shape in, Shape out);
bool conv_wino_emit_dx(Emit *e, const Op *fwd);

/* SLOTS_MAX: the most buffers; V_BYTES: the most bytes of a job's V and of its M (V_FEW with
 * at most FEW_TILES tiles in the compiled batch);
 * MIN_PLANE, MIN_TILES: the smallest output plane taken, the fewest tiles (see wino_takes). */
enum { SLOTS_MAX = 8, V_BYTES = 1 << 19, V_FEW = 1 << 21, FEW_TILES = 128, MIN_PLANE = 64, MIN_TILES = 48 };

typedef struct {
    int n, ic, ih, iw, oc, oh, ow, ph, pw;
    int m, al;    /* outputs per tile side (2 or 4); inputs per tile side (m + 2) */
    int ty, tx;   /* tile rows and columns of an image */
    int txv;      /* tx rounded up to 8 or 16: the transforms' loops over a row of tiles */
    int un;       /* the input columns a tile row reads from the image */
    int wr;       /* tile rows per job */
    int tbp;      /* a job's tiles, rounded up to 16 */
    int slots;
    int64_t vp, mp;  /* floats from one position's plane of V (of M) to the next */
    int64_t u_floats, v_floats, m_floats, total;
} WinoGeo;

static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

/* The transforms' matrices (Lavin and Gray), F(2x2, 3x3) and F(4x4, 3x3), row-major, at most
 * 6 columns: B^T (al x al), G (al x 3), A^T (m x al). */
static const double BT2[4][6] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const double G2[4][6] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double AT2[2][6] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
static const double BT4[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                 {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
static const double G4[6][6] = {{1.0 / 4, 0, 0},
                                {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                {0, 0, 1}};
static const double AT4[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

/* The C expression sum_k coef[k] * term(k), k < n, the zero coefficients left out (a product
 * with 0 is not folded by the compiler: NaN and infinities), 1 and -1 as additions; term(k) is
 * fmt with k substituted (printf with one int, e.g. "a%d"), cast (NULL: none) written before
 * each other coefficient, e.g. "(double)". */
static const char *wino_lin(const double *coef, int n, const char *fmt, bool dbl) {
    char buf[512];
    size_t at = 0;
    buf[0] = 0;
    for (int k = 0; k < n; k++) {
        double v = coef[k];
        if (v == 0)
            continue;
        char term[64];
        snprintf(term, sizeof term, fmt, k);
        const char *sign = v < 0 ? (at ? " - " : "-") : (at ? " + " : "");
        double mag = v < 0 ? -v : v;
        if (mag == 1)
            at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s", sign, term);
        else if (dbl)
            at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%.17g * %s", sign, mag, term);
        else
            at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s * %s", sign, emit_float(mag), term);
    }
    return arena_printf("%s", at ? buf : "0");
}

/* Which convs: 3x3, stride 1, undilated, ungrouped, channels enough for the vectors, planes
 * of MIN_PLANE outputs or more (8x8), and MIN_TILES 2x2 tiles or more in the compiled batch's
 * images (14x14 at batch 1, 8x8 from batch 3). Below that a tile's products of transformed
 * weights (16 / 9 or 36 / 9 of the weights through memory at each call) serve too few tiles.
 * Measured per op in the whole network (Zen 5, ms a call, direct -> Winograd): ResNet-18 at
 * batch 1, its 14x14 convs of 256 channels (49 tiles) 1.15 -> 0.92-0.96 on one thread, 0.62 ->
 * 0.46-0.47 on two (the first version of this kernel, before the transforms ran over whole
 * vectors, was no faster there); its 56x56 convs of 64 channels 1.22 -> 0.72-0.80 and 0.73 ->
 * 0.41-0.47; VGG-16-BN (CIFAR) at batch 32, one thread, its 8x8 convs of 256 channels 10.2 ->
 * 8.7; 4x4 planes (4 tiles an image) not tried. */
static bool wino_takes(const Graph *g, int n, int ic, int oc, int oh, int ow, int kh, int kw) {
    long long tiles = (long long)((oh + 1) / 2) * ((ow + 1) / 2); /* 2x2 tiles of an image */
    if (g->no_winograd || kh != 3 || kw != 3 || ic < 16 || oc < 16 || (long long)oh * ow < MIN_PLANE ||
        n * tiles < MIN_TILES)
        return false;
    /* few tiles (batch 1): not when the tiles reach far past the plane (odd sizes): AlexNet's
     * 13x13 convs at batch 1 (7x7 tiles cover 14x14) ran slower than conv_blk.c in the whole
     * network (0.95 -> 1.0-1.1 ms, 1.35 -> 1.37, 1.67 -> 1.95-2.1 on one thread) */
    return n * tiles > FEW_TILES || (long long)oh * ow * 10 >= 9 * 4 * tiles;
}

/* The tile: F(4x4, 3x3) (36 products for 16 outputs: 4 times fewer multiply-adds than the
 * direct conv, against 2.25 times with F(2x2, 3x3)) where it measured faster: 128 channels
 * and more each way (the products outweigh the transforms, which are larger per tile) on rows
 * of 7 tiles or more (few columns computed past the row). Two 3x3 convs alone, one thread,
 * Zen 5, ms a call at batch 1 and 8 (direct, F(2x2), F(4x4)): 128 channels at 28x28 2.44, 1.39,
 * 1.17 and 19.5, 12.9, 11.6; 64 at 56x56 2.66, 1.46, 1.54 and 23.1, 13.4, 18.9; 256 at 14x14
 * (batch 8) 17.2, 13.0, 14.1. */
static int wino_tile(int ic, int oc, int ow) {
    const char *force = getenv("CNNC_WINO_M");
    if (force)
        return atoi(force) == 4 ? 4 : 2;
    return ic >= 128 && oc >= 128 && (ow + 3) / 4 >= 7 ? 4 : 2;
}

static void wino_geo(WinoGeo *q, Shape in, int oc, int oh, int ow, int ph, int pw) {
    q->n = in.d[0], q->ic = in.d[1], q->ih = in.d[2], q->iw = in.d[3];
    q->oc = oc, q->oh = oh, q->ow = ow, q->ph = ph, q->pw = pw;
    q->m = wino_tile(q->ic, oc, ow);
    q->al = q->m + 2;
    int np = q->al * q->al;
    q->ty = (oh + q->m - 1) / q->m, q->tx = (ow + q->m - 1) / q->m;
    q->txv = q->tx <= 8 ? 8 : (q->tx + 15) / 16 * 16;
    q->un = q->m * q->tx + 2 - pw < q->iw ? q->m * q->tx + 2 - pw : q->iw;
    int rows = q->n * q->ty; /* the compiled batch's tile rows */
    /* Few tiles in the compiled batch (batch 1): a job reads all of U from memory, so fewer,
     * larger jobs: V and M up to V_FEW bytes (AlexNet's 13x13 convs of 384 channels at batch 1
     * made 4 jobs of 2 tile rows within V_BYTES: 4 passes over 6.3 MB of U). */
    long long vmax = (long long)q->n * q->ty * q->tx <= FEW_TILES ? V_FEW : V_BYTES;
    /* WR: V and M within vmax; then the fewest tiles computed on one thread plus on two (the
     * rounding to 16 and the jobs' balance), plus 32 tiles a job (it reads all of U: 16 tiles'
     * worth on each count), 8 when U stays in L2 (512 KiB or less: ResNet-18's 56x56 convs of
     * 64 channels at batch 1, 28 tile rows, went from 7 jobs of 4 rows, 4 of them on one of two
     * threads, to 14 of 2: 0.43-0.55 -> 0.35-0.46 ms a conv on two threads, 0.67-0.74 ->
     * 0.70-0.74 on one; the whole forward 10.7-11.2 -> 10.4-10.9 ms on two, 16.1 on one either
     * way; simplecnn at batch 64, one thread, 3.23-3.35 -> 2.83-2.89 ms a call), ties to the
     * larger WR */
    const long long ujob = (long long)np * q->ic * q->oc * 4 > (512 << 10) ? 32 : 8;
    long long best = -1;
    q->wr = 1;
    for (int r = 1; r <= rows; r++) {
        long long tbp = round16((int64_t)(r - 1) * q->tx + q->txv);
        if (r > 1 && (long long)np * (q->ic > q->oc ? q->ic : q->oc) * tbp * 4 > vmax)
            break;
        long long jobs = (rows + r - 1) / r;
        long long cost = jobs * tbp + (jobs + 1) / 2 * 2 * tbp + ujob * jobs;
        if (best < 0 || cost <= best)
            best = cost, q->wr = r;
    }
    q->tbp = (int)round16((int64_t)(q->wr - 1) * q->tx + q->txv);
    int jobs = (rows + q->wr - 1) / q->wr;
    q->slots = jobs < SLOTS_MAX ? jobs : SLOTS_MAX;
    q->u_floats = round16((int64_t)np * q->ic * q->oc);
    /* planes of V and M one cache line longer than their channels' tiles: at a multiple of 4 KiB
     * (128 channels x 32 tiles) the 36 planes' rows fell in the same L1 sets (F(4x4, 3x3) at
     * 28x28: 2.4 ms a conv against 1.5 with F(2x2, 3x3)) */
    q->vp = (int64_t)q->ic * q->tbp + 16, q->mp = (int64_t)q->oc * q->tbp + 16;
    q->v_floats = (int64_t)np * q->vp;
    q->m_floats = (int64_t)np * q->mp;
    q->total = q->u_floats + q->slots * (q->v_floats + q->m_floats);
}

static bool wino_fwd_geo(const Graph *g, const Op *op, WinoGeo *q) {
    const Attrs *a = &op->a;
    if (op->kind != OP_CONV || op->pro_conv >= 0 || op->pro_norm >= 0 || op->epi_pool >= 0)
        return false;
    if (a->sh != 1 || a->sw != 1 || a->dh != 1 || a->dw != 1 || a->groups != 1 || a->ph > 2 || a->pw > 2)
        return false;
    Shape in = g->values[op->in[0]].shape, out = g->values[op->out].shape;
    if (!wino_takes(g, in.d[0], in.d[1], out.d[1], out.d[2], out.d[3], a->kh, a->kw))
        return false;
    wino_geo(q, in, out.d[1], out.d[2], out.d[3], a->ph, a->pw);
    return true;
}

/* dx of a stride-1 conv: dy (n, OC, OH, OW) to dx (IC, IH, IW), padded by 2 - PH. */
static bool wino_dx_geo(const Graph *g, const Attrs *a, Shape in, Shape out, WinoGeo *q) {
    if (a->sh != 1 || a->sw != 1 || a->dh != 1 || a->dw != 1 || a->groups != 1 || a->ph > 2 || a->ph_end > 2 ||
        a->pw > 2 || a->pw_end > 2)
        return false;
    if (!wino_takes(g, out.d[0], out.d[1], in.d[1], in.d[2], in.d[3], a->kh, a->kw))
        return false;
    wino_geo(q, out, in.d[1], in.d[2], in.d[3], 2 - a->ph, 2 - a->pw);
    return true;
}

int64_t conv_wino_scratch(const Graph *g, const Op *op) {
    WinoGeo q;
    return wino_fwd_geo(g, op, &q) ? q.total : -1;
}

int64_t conv_wino_dx_scratch(const Graph *g, const Attrs *a, Shape in, Shape out) {
    WinoGeo q;
    return wino_dx_geo(g, a, in, out, &q) ? q.total : -1;
}

/* A loop of register tiles: PS channels (PS: a C constant) x NVS vectors of VL tiles, tiles
 * t0 from lo (NULL: where t0 is) while a whole tile fits below tbv, into M. Uses vx, ux (the block's U of this xi),
 * mx. */
static void wino_emit_tile(Cbuf *c, const char *ps, const char *nvs, const char *lo) {
    cb_line(c, "{");
    cb_line(c, "enum { PS = %s, NVS = %s };", ps, nvs);
    if (lo)
        cb_line(c, "for (t0 = %s; t0 + NVS * VL <= tbv; t0 += NVS * VL) {", lo);
    else
        cb_line(c, "for (; t0 + NVS * VL <= tbv; t0 += NVS * VL) {");
    cb_line(c, "wino_v acc[PS][NVS];");
    cb_line(c, "for (int p = 0; p < PS; p++)");
    cb_line(c, "    for (int v = 0; v < NVS; v++)");
    cb_line(c, "        acc[p][v] = (wino_v){0};");
    cb_line(c, "const float *vc = vx + t0, *uc = ux;");
    cb_line(c, "for (int cc = 0; cc < WIC; cc++, vc += WTBP, uc += PS) {");
    cb_line(c, "wino_v xv[NVS];");
    cb_line(c, "for (int v = 0; v < NVS; v++)");
    cb_line(c, "    memcpy(&xv[v], vc + v * VL, sizeof xv[v]);");
    cb_line(c, "for (int p = 0; p < PS; p++) {");
    cb_line(c, "const float s = uc[p];");
    cb_line(c, "for (int v = 0; v < NVS; v++)");
    cb_line(c, "    acc[p][v] += s * xv[v];");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "for (int p = 0; p < PS; p++)");
    cb_line(c, "    for (int v = 0; v < NVS; v++)");
    cb_line(c, "        memcpy(mx + (ptrdiff_t)p * WTBP + t0 + v * VL, &acc[p][v], sizeof acc[p][v]);");
    cb_line(c, "}");
    cb_line(c, "}");
}

/* The products of one block of PS channels (a C constant) at position xi. */
static void wino_emit_products(Cbuf *c, const char *ps) {
    cb_line(c, "const float *const ux = wu + (ptrdiff_t)xi * WIC * WOC + (ptrdiff_t)kb * WP * WIC;");
    cb_line(c, "float *const mx = mb + (ptrdiff_t)xi * WMP + (ptrdiff_t)kb * WP * WTBP;");
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "int t0;");
    wino_emit_tile(c, ps, "WNV", "0");
    cb_line(c, "if (WNV > 1)");
    wino_emit_tile(c, ps, "1", NULL);
    cb_line(c, "#else");
    cb_line(c, "for (int p = 0; p < %s; p++)", ps);
    cb_line(c, "    for (int t = 0; t < tb; t++) {");
    cb_line(c, "        float s = 0.0f;");
    cb_line(c, "        for (int cc = 0; cc < WIC; cc++)");
    cb_line(c, "            s += ux[cc * %s + p] * vx[(ptrdiff_t)cc * WTBP + t];", ps);
    cb_line(c, "        mx[(ptrdiff_t)p * WTBP + t] = s;");
    cb_line(c, "    }");
    cb_line(c, "#endif");
}

/* The kernel: src (NCHW), the weight of kernel output channel o, input channel cc, tap k
 * (row-major 3x3) as the C expression wexpr (of o, cc, k), into dst (NCHW); op (forward only)
 * supplies the bias and the epilogue. */
static void wino_emit(Emit *e, const WinoGeo *q, const char *src, const char *wexpr, const char *dst, const Op *op) {
    Cbuf *c = e->c;
    const int m = q->m, al = q->al;
    const double(*bt)[6] = m == 4 ? BT4 : BT2;
    const double(*gm)[6] = m == 4 ? G4 : G2;
    const double(*at)[6] = m == 4 ? AT4 : AT2;
    cb_line(c, "{ /* Winograd F(%dx%d, 3x3): %d products of transformed tiles and weights (conv_wino.c) */", m, m, al * al);
    cb_line(c, "enum { WIC = %d, WIH = %d, WIW = %d, WOC = %d, WOH = %d, WOW = %d, WPH = %d, WPW = %d };", q->ic, q->ih,
            q->iw, q->oc, q->oh, q->ow, q->ph, q->pw);
    cb_line(c, "enum { WT = %d, WA = %d, WNP = WA * WA }; /* outputs and inputs of a tile side, its products */", m, al);
    cb_line(c, "enum { WTY = %d, WTX = %d, WTXV = %d, WR = %d, WTBP = %d, WSLOTS = %d, WXP = WT * WTXV + 2, WUN = %d };",
            q->ty, q->tx, q->txv, q->wr, q->tbp, q->slots, q->un);
    cb_line(c, "/* tiles of an image: rows, columns; tile rows a job, its tiles rounded up; a tile row's input columns (padded), those from the image */");
    cb_line(c, "enum { WVP = %lld, WMP = %lld, WVF = WNP * WVP, WMF = WNP * WMP }; /* a position's plane of V, of M; a slot's V, M */",
            (long long)q->vp, (long long)q->mp);
    cb_line(c, "#if CNN_VECTORS && defined(__AVX512F__)");
    cb_line(c, "enum { VL = 16, WNV = 2, WP = 12 }; /* 2 vectors of tiles x 12 channels: 24 accumulators */");
    cb_line(c, "#elif CNN_VECTORS && defined(__AVX__)");
    cb_line(c, "enum { VL = 8, WNV = 2, WP = 6 };");
    cb_line(c, "#else");
    cb_line(c, "enum { VL = 8, WNV = 1, WP = 4 };");
    cb_line(c, "#endif");
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "typedef float wino_v __attribute__((vector_size(VL * 4)));");
    cb_line(c, "#endif");
    cb_line(c, "enum { WNKB = (WOC + WP - 1) / WP, WPT = WOC %% WP }; /* blocks of channels; the last one's, if partial */");
    /* U = G g G^T, in double: packed once by NAME_pack for inference, else at each call */
    emit_pack_begin(e, "wu", "scratch", q->u_floats);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int oc2 = 0; oc2 < WOC * WIC; oc2++) { /* U = G g G^T of output channel o, input channel cc */");
    cb_line(c, "const int o = oc2 / WIC, cc = oc2 %% WIC;");
    cb_line(c, "double g[9], t[WA][3];");
    cb_line(c, "for (int k = 0; k < 9; k++)");
    cb_line(c, "    g[k] = %s;", wexpr);
    cb_line(c, "for (int j = 0; j < 3; j++) { /* G g: the kernel's columns */");
    for (int i = 0; i < al; i++) {
        const char *ex = wino_lin(gm[i], 3, "g[3 * %d + j]", true);
        cb_line(c, "t[%d][j] = %s;", i, ex);
    }
    cb_line(c, "}");
    cb_line(c, "const int kb = o / WP, p = o %% WP, pw = WOC - kb * WP < WP ? WOC - kb * WP : WP;");
    cb_line(c, "float *const uo = wu + (ptrdiff_t)kb * WP * WIC + (ptrdiff_t)cc * pw + p;");
    cb_line(c, "for (int i = 0; i < WA; i++) { /* (G g) G^T */");
    for (int j = 0; j < al; j++)
        cb_line(c, "uo[(ptrdiff_t)(i * WA + %d) * WIC * WOC] = (float)(%s);", j, wino_lin(gm[j], 3, "t[i][%d]", true));
    cb_line(c, "}");
    cb_line(c, "}");
    emit_pack_end(e);
    cb_line(c, "const int rows = n * WTY, jobs = (rows + WR - 1) / WR;");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int slot = 0; slot < WSLOTS; slot++) {");
    cb_line(c, "float *const vb = scratch + %lld + (ptrdiff_t)slot * (WVF + WMF), *const mb = vb + WVF;", (long long)q->u_floats);
    cb_line(c, "float zr[WXP], e[WA][WXP]; /* a row of zeros; a tile row's inputs by B^T */");
    cb_line(c, "for (int u = 0; u < WXP; u++) {");
    cb_line(c, "zr[u] = 0.0f;");
    cb_line(c, "for (int i = 0; i < WA; i++)");
    cb_line(c, "    e[i][u] = 0.0f;");
    cb_line(c, "}");
    cb_line(c, "const int job_end = (int)((long long)jobs * (slot + 1) / WSLOTS);");
    cb_line(c, "for (int job = (int)((long long)jobs * slot / WSLOTS); job < job_end; job++) {");
    cb_line(c, "const int gr0 = job * WR, nr = rows - gr0 < WR ? rows - gr0 : WR, tb = nr * WTX;");
    cb_line(c, "const int tbv = (tb + VL - 1) / VL * VL; /* the tiles the register tiles compute */");
    cb_line(c, "(void)tbv;");
    /* 1. the input transform */
    cb_line(c, "for (int cc = 0; cc < WIC; cc++) {");
    cb_line(c, "for (int r = 0; r < nr; r++) {");
    cb_line(c, "const int gr = gr0 + r, img = gr / WTY, ty = gr %% WTY;");
    cb_line(c, "const float *xr[WA]; /* the tile row's input rows, or zeros */");
    cb_line(c, "for (int i = 0; i < WA; i++) {");
    cb_line(c, "const int iy = WT * ty - WPH + i;");
    cb_line(c, "xr[i] = iy >= 0 && iy < WIH ? %s + (((ptrdiff_t)img * WIC + cc) * WIH + iy) * WIW : zr;", src);
    cb_line(c, "}");
    emit_simd(c, q->un);
    cb_line(c, "for (int u = 0; u < WUN; u++) { /* B^T d: the rows (the padding columns of e stay zero) */");
    for (int i = 0; i < al; i++)
        cb_line(c, "const float a%d = xr[%d][u];", i, i);
    for (int i = 0; i < al; i++)
        cb_line(c, "e[%d][WPW + u] = %s;", i, wino_lin(bt[i], al, "a%d", false));
    cb_line(c, "}");
    cb_line(c, "float *const vt = vb + (ptrdiff_t)cc * WTBP + r * WTX;");
    cb_line(c, "for (int i = 0; i < WA; i++) {");
    cb_line(c, "const float *const er = e[i];");
    cb_line(c, "float *const v0 = vt + (ptrdiff_t)(i * WA) * WVP;");
    cb_line(c, "CNN_SIMD(%d)", q->txv < 16 ? q->txv : 16);
    cb_line(c, "for (int tx = 0; tx < WTXV; tx++) { /* (B^T d) B: the columns (past WTX: into the next row's tiles, written after, or the tail) */");
    for (int j = 0; j < al; j++)
        cb_line(c, "v0[(ptrdiff_t)%d * WVP + tx] = %s;", j, wino_lin(bt[j], al, "er[WT * tx + %d]", false));
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    /* 2. the products */
    cb_line(c, "for (int xi = 0; xi < WNP; xi++) { /* the products: V[xi] (in L1) by the blocks of U[xi] in turn */");
    cb_line(c, "const float *const vx = vb + (ptrdiff_t)xi * WVP;");
    cb_line(c, "for (int kb = 0; kb < WNKB; kb++) {");
    cb_line(c, "if (kb < WOC / WP) {");
    wino_emit_products(c, "WP");
    cb_line(c, "} else {");
    wino_emit_products(c, "(WPT ? WPT : 1)");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    /* 3. the output transform */
    const char *val = op && op->a.bias ? " + b[oc]" : "";
    const char *epi = op && emit_has_epilogue(op) ? emit_epilogue(e, op, "v", "oc") : "v";
    cb_line(c, "for (int oc = 0; oc < WOC; oc++) { /* the output transform */");
    cb_line(c, "for (int r = 0; r < nr; r++) {");
    cb_line(c, "const int gr = gr0 + r, img = gr / WTY, ty = gr %% WTY, ra = WOH - WT * ty; /* the tile's rows in the plane */");
    cb_line(c, "const float *const m0 = mb + (ptrdiff_t)oc * WTBP + r * WTX;");
    cb_line(c, "float *const y0 = %s + (((ptrdiff_t)img * WOC + oc) * WOH + WT * ty) * WOW;", dst);
    cb_line(c, "float yt[WT][WT * WTXV]; /* the tile row's outputs, whole vectors of tiles (the extra ones dropped) */");
    cb_line(c, "CNN_SIMD(%d)", q->txv < 16 ? q->txv : 16);
    cb_line(c, "for (int tx = 0; tx < WTXV; tx++) {");
    for (int xi = 0; xi < al * al; xi++) /* written out: a loop of 36 inside stopped clang's vectorizing at -O2 */
        cb_line(c, "const float m%d_%d = m0[(ptrdiff_t)%d * WMP + tx];", xi / al, xi % al, xi);
    for (int a = 0; a < m; a++) /* A^T M: row a, column j */
        for (int j = 0; j < al; j++)
            cb_line(c, "const float s%d%d = %s;", a, j, wino_lin(at[a], al, arena_printf("m%%d_%d", j), false));
    for (int a = 0; a < m; a++) /* (A^T M) A */
        for (int b = 0; b < m; b++) {
            cb_line(c, "{");
            cb_line(c, "const float v = %s%s;", wino_lin(at[b], al, arena_printf("s%d%%d", a), false), val);
            cb_line(c, "yt[%d][WT * tx + %d] = %s;", a, b, epi);
            cb_line(c, "}");
        }
    cb_line(c, "}");
    cb_line(c, "for (int a = 0; a < WT && a < ra; a++) /* the rows in the plane */");
    cb_line(c, "    memcpy(y0 + (ptrdiff_t)a * WOW, yt[a], sizeof(float) * WOW);");
    cb_line(c, "}"); /* r */
    cb_line(c, "}"); /* oc */
    cb_line(c, "}"); /* job */
    cb_line(c, "}"); /* slot */
    cb_line(c, "}");
}

bool conv_wino_emit_forward(Emit *e, const Op *op) {
    WinoGeo q;
    if (!wino_fwd_geo(e->g, op, &q))
        return false;
    emit_epilogue_setup(e, op, op->a.out);
    wino_emit(e, &q, "x", "w[((ptrdiff_t)o * WIC + cc) * 9 + k]", "y", op);
    return true;
}

bool conv_wino_emit_dx(Emit *e, const Op *fwd) {
    WinoGeo q;
    Shape in = emit_in_shape(e, fwd, 0), out = emit_out_shape(e, fwd);
    if (!wino_dx_geo(e->g, &fwd->a, in, out, &q))
        return false;
    /* the kernel's output channel o is the forward's input channel; its input channel cc the
     * forward's output channel; the taps reversed */
    wino_emit(e, &q, "dy", "w[((ptrdiff_t)cc * WOC + o) * 9 + 8 - k]", "dx", NULL);
    return true;
}
