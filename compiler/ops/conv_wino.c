/* conv_wino.c: 3x3, stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin
 * and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): each 2x2 block of
 * outputs of a channel comes from a 4x4 block of inputs with 16 multiplications per input
 * channel instead of 36, so the products of the convolution drop 2.25-fold. The forward
 * (inference and training forward) of ResNet's and VGG's 3x3 convs on planes of 12x12 and
 * more, and the data gradient of such a conv (the same convolution over dy with the kernel
 * flipped and its channel axes swapped).
 *
 * With output tile (ty, tx) covering outputs (2 ty + a, 2 tx + b), a, b < 2, and d its 4x4
 * input block (rows 2 ty - PH + i, columns 2 tx - PW + j, zero outside the image), g a 3x3
 * kernel of output channel k and input channel c:
 *     U = G g G^T (4x4, per (k, c): the weights, transformed once per pack or call)
 *     V = B^T d B (4x4, per (tile, c): the input transform)
 *     M[xi] = sum over c of U[xi] V[xi], for each of the 16 positions xi: 16 matrix products
 *             (tiles x IC) x (IC x OC)
 *     Y = A^T M A (2x2: the output transform), then bias, folded batchnorm and activation
 * with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; 1/2 1/2 1/2;
 * 1/2 -1/2 1/2; 0 0 1], A^T = [1 1 1 0; 0 1 -1 -1]. The transforms only add and subtract
 * (G halves), so the sums differ from the direct convolution's by a few roundings: within
 * 1e-6 relative on ResNet's layers, well inside the parity tests' 1e-4.
 *
 * Work is cut into jobs of WR consecutive rows of tiles (global tile rows: image-major, so a
 * job of a small plane may span images) and the jobs into SLOTS contiguous ranges, one thread
 * each with its own V and M buffers; every output has one writer and its sums run in a fixed
 * order, so the result does not depend on the number of threads. A job:
 *   1. transforms its tiles of every input channel into V [16][IC][TBP] (tiles contiguous;
 *      TBP: the job's WR * TX tiles rounded up to 16, the tail zeroed);
 *   2. per block of WP output channels (the register tile's channels): the 16 products
 *      M[xi] [WP][TBP] = U[xi] (block) x V[xi], register tiles of WNV vectors of tiles x WP
 *      channels (2 x 16 tiles x 12 channels, 24 accumulators, with AVX-512; 2 x 8 x 6 with
 *      AVX2), the whole reduction over IC in registers: per input channel, WNV vector loads of
 *      V and WP broadcasts of U;
 *   3. the output transform of those channels, through the epilogue, into the output planes.
 * WR is chosen so that V stays within about half a MiB (in L2 while its 16 products read it)
 * and few tiles are wasted by the rounding. The vectors run over tiles, so both transforms
 * read and write rows of tiles (a tile row's inputs are first copied into four zero-padded
 * rows). Without vector types, plain loops compute the same products.
 *
 * Layouts, all in the planned scratch:
 *   wu   [16][NKB][IC][WP or the last block's width]   U, packed once by NAME_pack for inference
 *   V    [SLOTS][16][IC][TBP]
 *   M    [SLOTS][16][WP_MAX][TBP] */
#include <stdbool.h>

#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../ops.h"

int64_t conv_wino_scratch(const Graph *g, const Op *op);
bool conv_wino_emit_forward(Emit *e, const Op *op);
int64_t conv_wino_dx_scratch(const Graph *g, const Attrs *a, Shape in, Shape out);
bool conv_wino_emit_dx(Emit *e, const Op *fwd);

/* SLOTS_MAX: the most buffers; V_BYTES: the most bytes of a job's V and of its M;
 * MIN_PLANE: the smallest output plane taken. */
enum { SLOTS_MAX = 8, V_BYTES = 1 << 19, MIN_PLANE = 144 };

typedef struct {
    int n, ic, ih, iw, oc, oh, ow, ph, pw;
    int ty, tx;   /* tile rows and columns of an image */
    int un;       /* the input columns a tile row reads from the image */
    int wr;       /* tile rows per job */
    int tbp;      /* a job's tiles, rounded up to 16 */
    int slots;
    int64_t u_floats, v_floats, m_floats, total;
} WinoGeo;

static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

/* Which convs: 3x3, stride 1, undilated, ungrouped, channels enough for the vectors, planes
 * of MIN_PLANE outputs or more (at 8x8 and below a tile's 16 products of the weights outweigh
 * its 36 saved: at batch 1, 16 / 9 of the weights through memory for few tiles). */
static bool wino_takes(const Graph *g, int ic, int oc, int oh, int ow, int kh, int kw) {
    return !g->no_winograd && kh == 3 && kw == 3 && ic >= 16 && oc >= 16 && (long long)oh * ow >= MIN_PLANE;
}

static void wino_geo(WinoGeo *q, Shape in, int oc, int oh, int ow, int ph, int pw) {
    q->n = in.d[0], q->ic = in.d[1], q->ih = in.d[2], q->iw = in.d[3];
    q->oc = oc, q->oh = oh, q->ow = ow, q->ph = ph, q->pw = pw;
    q->ty = (oh + 1) / 2, q->tx = (ow + 1) / 2;
    q->un = 2 * q->tx + 2 - pw < q->iw ? 2 * q->tx + 2 - pw : q->iw;
    int rows = q->n * q->ty; /* the compiled batch's tile rows */
    /* WR: V within V_BYTES; then the fewest tiles computed on one thread plus on two (the
     * rounding to 16 and the jobs' balance), ties to the larger WR (fewer passes over U) */
    long long best = -1;
    q->wr = 1;
    for (int r = 1; r <= rows; r++) {
        long long tbp = round16((int64_t)r * q->tx);
        if (r > 1 && 16LL * (q->ic > q->oc ? q->ic : q->oc) * tbp * 4 > V_BYTES)
            break;
        long long jobs = (rows + r - 1) / r;
        long long cost = jobs * tbp + (jobs + 1) / 2 * 2 * tbp;
        if (best < 0 || cost <= best)
            best = cost, q->wr = r;
    }
    q->tbp = (int)round16((int64_t)q->wr * q->tx);
    int jobs = (rows + q->wr - 1) / q->wr;
    q->slots = jobs < SLOTS_MAX ? jobs : SLOTS_MAX;
    q->u_floats = round16(16LL * q->ic * q->oc);
    q->v_floats = 16LL * q->ic * q->tbp;
    q->m_floats = 16LL * q->oc * q->tbp;
    q->total = q->u_floats + q->slots * (q->v_floats + q->m_floats);
}

static bool wino_fwd_geo(const Graph *g, const Op *op, WinoGeo *q) {
    const Attrs *a = &op->a;
    if (op->kind != OP_CONV || op->pro_conv >= 0 || op->pro_norm >= 0 || op->epi_pool >= 0)
        return false;
    if (a->sh != 1 || a->sw != 1 || a->dh != 1 || a->dw != 1 || a->groups != 1 || a->ph > 2 || a->pw > 2)
        return false;
    Shape in = g->values[op->in[0]].shape, out = g->values[op->out].shape;
    if (!wino_takes(g, in.d[1], out.d[1], out.d[2], out.d[3], a->kh, a->kw))
        return false;
    wino_geo(q, in, out.d[1], out.d[2], out.d[3], a->ph, a->pw);
    return true;
}

/* dx of a stride-1 conv: dy (n, OC, OH, OW) to dx (IC, IH, IW), padded by 2 - PH. */
static bool wino_dx_geo(const Graph *g, const Attrs *a, Shape in, Shape out, WinoGeo *q) {
    if (a->sh != 1 || a->sw != 1 || a->dh != 1 || a->dw != 1 || a->groups != 1 || a->ph > 2 || a->ph_end > 2 ||
        a->pw > 2 || a->pw_end > 2)
        return false;
    if (!wino_takes(g, out.d[1], in.d[1], in.d[2], in.d[3], a->kh, a->kw))
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
    cb_line(c, "float *const mx = mb + ((ptrdiff_t)xi * WOC + kb * WP) * WTBP;");
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
    cb_line(c, "{ /* Winograd F(2x2, 3x3): 16 products of transformed tiles and weights (conv_wino.c) */");
    cb_line(c, "enum { WIC = %d, WIH = %d, WIW = %d, WOC = %d, WOH = %d, WOW = %d, WPH = %d, WPW = %d };", q->ic, q->ih,
            q->iw, q->oc, q->oh, q->ow, q->ph, q->pw);
    cb_line(c, "enum { WTY = %d, WTX = %d, WR = %d, WTBP = %d, WSLOTS = %d, WXP = 2 * WTX + 2, WUN = %d };",
            q->ty, q->tx, q->wr, q->tbp, q->slots, q->un);
    cb_line(c, "/* tiles of an image: rows, columns; tile rows a job, its tiles rounded up; a tile row's input columns (padded), those from the image */");
    cb_line(c, "enum { WV = %lld, WM = %lld }; /* floats of a slot's V and M */", (long long)q->v_floats,
            (long long)q->m_floats);
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
    /* U: packed once by NAME_pack for inference, else at each call */
    emit_pack_begin(e, "wu", "scratch", q->u_floats);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int oc2 = 0; oc2 < WOC * WIC; oc2++) { /* U = G g G^T of output channel o, input channel cc */");
    cb_line(c, "const int o = oc2 / WIC, cc = oc2 %% WIC;");
    cb_line(c, "float gk[9], t[4][3];");
    cb_line(c, "for (int k = 0; k < 9; k++)");
    cb_line(c, "    gk[k] = %s;", wexpr);
    cb_line(c, "for (int j = 0; j < 3; j++) {");
    cb_line(c, "t[0][j] = gk[j];");
    cb_line(c, "t[1][j] = 0.5f * (gk[j] + gk[3 + j] + gk[6 + j]);");
    cb_line(c, "t[2][j] = 0.5f * (gk[j] - gk[3 + j] + gk[6 + j]);");
    cb_line(c, "t[3][j] = gk[6 + j];");
    cb_line(c, "}");
    cb_line(c, "const int kb = o / WP, p = o %% WP, pw = WOC - kb * WP < WP ? WOC - kb * WP : WP;");
    cb_line(c, "float *const uo = wu + (ptrdiff_t)kb * WP * WIC + (ptrdiff_t)cc * pw + p;");
    cb_line(c, "for (int i = 0; i < 4; i++) {");
    cb_line(c, "const float u[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]), 0.5f * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};");
    cb_line(c, "for (int j = 0; j < 4; j++)");
    cb_line(c, "    uo[(ptrdiff_t)(i * 4 + j) * WIC * WOC] = u[j];");
    cb_line(c, "}");
    cb_line(c, "}");
    emit_pack_end(e);
    cb_line(c, "const int rows = n * WTY, jobs = (rows + WR - 1) / WR;");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int slot = 0; slot < WSLOTS; slot++) {");
    cb_line(c, "float *const vb = scratch + %lld + (ptrdiff_t)slot * (WV + WM), *const mb = vb + WV;", (long long)q->u_floats);
    cb_line(c, "float zr[WXP], e[4][WXP]; /* a row of zeros; a tile row's inputs by B^T */");
    cb_line(c, "for (int u = 0; u < WXP; u++)");
    cb_line(c, "    zr[u] = e[0][u] = e[1][u] = e[2][u] = e[3][u] = 0.0f;");
    cb_line(c, "const int job_end = (int)((long long)jobs * (slot + 1) / WSLOTS);");
    cb_line(c, "for (int job = (int)((long long)jobs * slot / WSLOTS); job < job_end; job++) {");
    cb_line(c, "const int gr0 = job * WR, nr = rows - gr0 < WR ? rows - gr0 : WR, tb = nr * WTX;");
    cb_line(c, "const int tbv = (tb + VL - 1) / VL * VL; /* the tiles the register tiles compute */");
    cb_line(c, "(void)tbv;");
    /* 1. the input transform */
    cb_line(c, "for (int cc = 0; cc < WIC; cc++) {");
    cb_line(c, "for (int r = 0; r < nr; r++) {");
    cb_line(c, "const int gr = gr0 + r, img = gr / WTY, ty = gr %% WTY;");
    cb_line(c, "const float *xr[4]; /* the tile row's input rows, or zeros */");
    cb_line(c, "for (int i = 0; i < 4; i++) {");
    cb_line(c, "const int iy = 2 * ty - WPH + i;");
    cb_line(c, "xr[i] = iy >= 0 && iy < WIH ? %s + (((ptrdiff_t)img * WIC + cc) * WIH + iy) * WIW : zr;", src);
    cb_line(c, "}");
    emit_simd(c, q->un);
    cb_line(c, "for (int u = 0; u < WUN; u++) { /* B^T d: the rows (the padding columns of e stay zero) */");
    cb_line(c, "const float a0 = xr[0][u], a1 = xr[1][u], a2 = xr[2][u], a3 = xr[3][u];");
    cb_line(c, "e[0][WPW + u] = a0 - a2;");
    cb_line(c, "e[1][WPW + u] = a1 + a2;");
    cb_line(c, "e[2][WPW + u] = a2 - a1;");
    cb_line(c, "e[3][WPW + u] = a1 - a3;");
    cb_line(c, "}");
    cb_line(c, "float *const vt = vb + (ptrdiff_t)cc * WTBP + r * WTX;");
    cb_line(c, "for (int i = 0; i < 4; i++) {");
    cb_line(c, "const float *const er = e[i];");
    cb_line(c, "float *const v0 = vt + (ptrdiff_t)(i * 4) * WIC * WTBP;");
    emit_simd(c, q->tx);
    cb_line(c, "for (int tx = 0; tx < WTX; tx++) { /* (B^T d) B: the columns */");
    cb_line(c, "v0[tx] = er[2 * tx] - er[2 * tx + 2];");
    cb_line(c, "v0[(ptrdiff_t)WIC * WTBP + tx] = er[2 * tx + 1] + er[2 * tx + 2];");
    cb_line(c, "v0[(ptrdiff_t)2 * WIC * WTBP + tx] = er[2 * tx + 2] - er[2 * tx + 1];");
    cb_line(c, "v0[(ptrdiff_t)3 * WIC * WTBP + tx] = er[2 * tx + 1] - er[2 * tx + 3];");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "for (int xi = 0; xi < 16; xi++) /* the tiles past the job's: zero */");
    cb_line(c, "    for (int t = tb; t < WTBP; t++)");
    cb_line(c, "        vb[((ptrdiff_t)xi * WIC + cc) * WTBP + t] = 0.0f;");
    cb_line(c, "}");
    /* 2. and 3., per block of channels */
    cb_line(c, "for (int xi = 0; xi < 16; xi++) { /* the products: V[xi] (in L1) by the blocks of U[xi] in turn */");
    cb_line(c, "const float *const vx = vb + (ptrdiff_t)xi * WIC * WTBP;");
    cb_line(c, "for (int kb = 0; kb < WNKB; kb++) {");
    cb_line(c, "if (kb < WOC / WP) {");
    wino_emit_products(c, "WP");
    cb_line(c, "} else {");
    wino_emit_products(c, "(WPT ? WPT : 1)");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    /* the output transform */
    const char *val = op && op->a.bias ? " + b[oc]" : "";
    const char *epi0 = op && emit_has_epilogue(op) ? emit_epilogue(e, op, "v0", "oc") : "v0";
    const char *epi1 = op && emit_has_epilogue(op) ? emit_epilogue(e, op, "v1", "oc") : "v1";
    cb_line(c, "for (int oc = 0; oc < WOC; oc++) { /* the output transform */");
    cb_line(c, "for (int r = 0; r < nr; r++) {");
    cb_line(c, "const int gr = gr0 + r, img = gr / WTY, ty = gr %% WTY, two = 2 * ty + 1 < WOH;");
    cb_line(c, "const float *const m0 = mb + (ptrdiff_t)oc * WTBP + r * WTX;");
    cb_line(c, "float *const y0 = %s + (((ptrdiff_t)img * WOC + oc) * WOH + 2 * ty) * WOW;", dst);
    emit_simd(c, q->tx);
    cb_line(c, "for (int tx = 0; tx < WTX; tx++) {");
    cb_line(c, "float m[16];");
    cb_line(c, "for (int xi = 0; xi < 16; xi++)");
    cb_line(c, "    m[xi] = m0[(ptrdiff_t)xi * WOC * WTBP + tx];");
    cb_line(c, "const float s00 = m[0] + m[4] + m[8], s01 = m[1] + m[5] + m[9], s02 = m[2] + m[6] + m[10], s03 = m[3] + m[7] + m[11];");
    cb_line(c, "const float s10 = m[4] - m[8] - m[12], s11 = m[5] - m[9] - m[13], s12 = m[6] - m[10] - m[14], s13 = m[7] - m[11] - m[15];");
    cb_line(c, "{ /* (A^T M) A: output row 2 ty */");
    cb_line(c, "const float v0 = s00 + s01 + s02%s, v1 = s01 - s02 - s03%s;", val, val);
    cb_line(c, "y0[2 * tx] = %s;", epi0);
    if (q->ow % 2)
        cb_line(c, "if (2 * tx + 1 < WOW)");
    cb_line(c, "y0[2 * tx + 1] = %s;", epi1);
    cb_line(c, "}");
    cb_line(c, "if (two) { /* row 2 ty + 1 */");
    cb_line(c, "const float v0 = s10 + s11 + s12%s, v1 = s11 - s12 - s13%s;", val, val);
    cb_line(c, "y0[WOW + 2 * tx] = %s;", epi0);
    if (q->ow % 2)
        cb_line(c, "if (2 * tx + 1 < WOW)");
    cb_line(c, "y0[WOW + 2 * tx + 1] = %s;", epi1);
    cb_line(c, "}");
    cb_line(c, "}");
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
