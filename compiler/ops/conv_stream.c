/* conv_stream.c: two convs in one loop nest at batch-1 inference, so that the tensor between
 * them is never whole. The head (the second conv, Q) computes its output one job at a time: one
 * output row, or one row of windows of its fused pooling. A job reads R consecutive rows of
 * its input X (R = (PKH - 1) * SH + (KH - 1) * DH + 1, with PKH the pooling's window height,
 * 1 without one), so X lives in a window of R rows per channel, with Q's zero padding around it
 * (rows above and below X are zero rows of the window). From one job to the next the window
 * moves down by PKH * SH rows: the rows it keeps are copied up, and each new row of X is made
 * by the producer (the first conv, P, with its fused normalize, activation and pooling), which
 * computes one row of X from a strip of the rows of its own input that the row needs, padded
 * with zeros in the strip: P's padding is handled there, never in a padded copy of its input.
 * Each row of X is made exactly once.
 *
 * Scratch (planned workspace; no stack arrays): the window [C][R][W + Q's padding], then P's
 * strip [IC][RP][IW + P's padding] with P's row buffer (its pooling's window rows), Q's row
 * buffer sharing their place. For LeNet-5: 504 + 192 + 336 floats instead of X's 1,176 and the
 * padded input's 1,024. The jobs run in order on one thread (batch 1: the image is small).
 *
 * The row kernel is the direct convolution of conv.c's column path: a tile of OB output
 * channels x one vector of output columns accumulates every (input channel, kernel row,
 * kernel column) in registers; the last vector of a row overlaps the one before, and the
 * columns of rows narrower than a vector take the scalar loop. */
#include <string.h>

#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../ops.h"

bool conv_stream_from(const Graph *g, const Op *q, const Op *p);
int64_t conv_stream_scratch(const Graph *g, const Op *q);
void conv_stream_emit(Emit *e, const Op *q);
void conv_emit_xv(Cbuf *c, bool scalar, int sw, const char *vtype, const char *width);

enum { STREAM_OB = 8 };

typedef struct {
    Shape pin, pout, x, qout, y; /* P's input and conv output, X, Q's conv output, Q's result */
    int pkh_p, pkh_q;            /* pooling window heights (1: no pooling) */
    int rows, wp;                /* the window: rows per channel, pitch */
    int prows, pwp;              /* P's strip: rows per channel, pitch */
    int qrows;                   /* Q's jobs */
    int64_t win, strip, rb;      /* floats: window, strip plus P's row buffer, row buffers */
} StreamGeo;

static int64_t r16(int64_t n) { return (n + 15) / 16 * 16; }
static int ob_of(int oc) { return oc < STREAM_OB ? oc : STREAM_OB; }
static int pool_kh(const Graph *g, const Op *op) { return op->epi_pool >= 0 ? g->ops[op->epi_pool].a.kh : 1; }

static StreamGeo stream_geo(const Graph *g, const Op *q) {
    const Op *p = &g->ops[q->pro_conv];
    StreamGeo s;
    s.pin = g->values[p->in[0]].shape, s.pout = g->values[p->out].shape, s.x = g->values[p->writes].shape;
    s.qout = g->values[q->out].shape, s.y = g->values[q->writes].shape;
    s.pkh_p = pool_kh(g, p), s.pkh_q = pool_kh(g, q);
    const Attrs *a = &q->a, *b = &p->a;
    s.rows = (s.pkh_q - 1) * a->sh + (a->kh - 1) * a->dh + 1;
    s.wp = s.x.d[3] + a->pw + a->pw_end;
    s.prows = (s.pkh_p - 1) * b->sh + (b->kh - 1) * b->dh + 1;
    s.pwp = s.pin.d[3] + b->pw + b->pw_end;
    s.qrows = s.y.d[2];
    s.win = r16((int64_t)s.x.d[1] * s.rows * s.wp);
    int64_t rbp = p->epi_pool >= 0 ? (int64_t)ob_of(s.pout.d[1]) * s.pkh_p * s.pout.d[3] : 0;
    int64_t rbq = q->epi_pool >= 0 ? (int64_t)ob_of(s.qout.d[1]) * s.pkh_q * s.qout.d[3] : 0;
    s.strip = r16((int64_t)s.pin.d[1] * s.prows * s.pwp) + rbp;
    s.rb = rbq > rbp ? rbq : rbp;
    return s;
}

/* Whether q can read p's output rows as p makes them: both plain convs (one group, p with no
 * folded batchnorm, whose names q's own would hide), small enough for int indices, and together
 * less work per image than the generated code starts threads for (emit_c.c: 2^20), since the
 * streamed pair runs on one thread: a big pair keeps its threaded kernels. */
enum { STREAM_WORK = 1 << 20 };

bool conv_stream_from(const Graph *g, const Op *q, const Op *p) {
    if (op_info(p->kind)->flops(g, p) + op_info(q->kind)->flops(g, q) >= STREAM_WORK)
        return false;
    if (p->kind != OP_CONV || q->kind != OP_CONV || p->a.groups != 1 || q->a.groups != 1 || p->epi_bn >= 0 ||
        q->pro_norm >= 0 || p->pro_conv >= 0 || g->values[p->writes].shape.rank != 4)
        return false;
    const Shape *v[3] = {&g->values[p->in[0]].shape, &g->values[p->out].shape, &g->values[q->out].shape};
    for (int k = 0; k < 3; k++)
        if (shape_numel(*v[k]) > (1 << 26))
            return false;
    return (int64_t)p->a.out * p->a.kh * p->a.kw * g->values[p->in[0]].shape.d[1] < (1 << 26) &&
           (int64_t)q->a.out * q->a.kh * q->a.kw * g->values[p->writes].shape.d[1] < (1 << 26);
}

int64_t conv_stream_scratch(const Graph *g, const Op *q) {
    StreamGeo s = stream_geo(g, q);
    return s.win + (s.strip > s.rb ? s.strip : s.rb);
}

/* One register tile of nb output channels x `width` columns at ow0 (vtype: a vector type, or
 * float for one column). */
static void stream_tile(Cbuf *c, const Attrs *a, int nb, const char *vtype, const char *width, const char *wn,
                        const char *bn, bool once) {
    bool scalar = !strcmp(vtype, "float");
    if (once) {
        cb_line(c, "if (ow0 < OW && OW >= %s) {", width);
        cb_line(c, "ow0 = OW - %s;", width);
    } else {
        cb_line(c, "for (; ow0 + %s <= OW; ow0 += %s) {", width, width);
    }
    cb_line(c, "%s acc[%d];", vtype, nb);
    cb_line(c, "for (int t = 0; t < %d; t++)", nb);
    cb_line(c, "    acc[t] = %s%s;", a->bias ? arena_printf("%s[oc0 + t]", bn) : "0.0f",
            scalar ? "" : arena_printf(" + (%s){0}", vtype));
    cb_line(c, "for (int ic = 0; ic < ICG; ic++)");
    cb_line(c, "for (int kh = 0; kh < KH; kh++)");
    cb_line(c, "for (int kw = 0; kw < KW; kw++) {");
    cb_line(c, "const float *xr = xg + (ic * HP + kh * DH) * WP + ow0 * SW + kw * DW;");
    cb_line(c, "const float *wk = %s + ((oc0 * ICG + ic) * KH + kh) * KW + kw;", wn);
    conv_emit_xv(c, scalar, a->sw, vtype, width);
    cb_line(c, "for (int t = 0; t < %d; t++)", nb);
    cb_line(c, "    acc[t] += wk[t * ICG * KH * KW] * xv;");
    cb_line(c, "}");
    cb_line(c, "for (int t = 0; t < %d; t++)", nb);
    if (scalar)
        cb_line(c, "    yo[t * YS + ow0] = acc[t];");
    else
        cb_line(c, "    memcpy(yo + t * YS + ow0, &acc[t], sizeof acc[t]);");
    if (once)
        cb_line(c, "ow0 = OW;");
    cb_line(c, "}");
}

/* One job of conv op (conv input in, conv output out): its PKH output rows from the strip
 * src (HP rows per channel, pitch WP; row 0 is the first input row the job reads), every
 * output channel, through the fused epilogue and pooling, into dst (channel stride dcs). */
static void stream_emit_rows(Emit *e, const Op *op, Shape in, Shape out, int pkh, const char *src, int hp, int wp,
                             const char *dst, long long dcs, const char *wn, const char *bn, const char *rb) {
    Cbuf *c = e->c;
    const Attrs *a = &op->a;
    const Op *pool = op->epi_pool >= 0 ? &e->g->ops[op->epi_pool] : NULL;
    int ob = ob_of(a->out), ob_last = a->out % ob ? a->out % ob : ob;
    cb_line(c, "{ /* %%%d = conv: one job */", op->out);
    cb_line(c, "enum { ICG = %d, OC = %d, OW = %d, KH = %d, KW = %d, SH = %d, SW = %d, DH = %d, DW = %d };", in.d[1], a->out,
            out.d[3], a->kh, a->kw, a->sh, a->sw, a->dh, a->dw);
    cb_line(c, "enum { HP = %d, WP = %d, OB = %d, BLOCKS = (OC + OB - 1) / OB, PKH = %d, YS = %lld };", hp, wp, ob, pkh,
            pool ? (long long)pkh * out.d[3] : dcs);
    cb_line(c, "for (int blk = 0; blk < BLOCKS; blk++) {");
    cb_line(c, "const int oc0 = blk * OB;");
    cb_line(c, "for (int q = 0; q < PKH; q++) {");
    cb_line(c, "float *yo = %s;", pool ? arena_printf("%s + q * OW", rb) : arena_printf("%s + oc0 * YS", dst));
    cb_line(c, "const float *xg = %s + q * SH * WP;", src);
    cb_line(c, "int ow0 = 0;");
    for (int bi = 0; bi < (ob_last != ob ? 2 : 1); bi++) {
        int nb = bi == 0 ? ob : ob_last;
        if (ob_last != ob)
            cb_line(c, bi == 0 ? "if (blk < BLOCKS - 1) {" : "} else {");
        cb_line(c, "#if CNN_VECTORS");
        stream_tile(c, a, nb, "cnn_vec", "CNN_VW", wn, bn, false);
        stream_tile(c, a, nb, "cnn_vec", "CNN_VW", wn, bn, true);
        stream_tile(c, a, nb, "cnn_half", "CNN_VW / 2", wn, bn, false);
        stream_tile(c, a, nb, "cnn_half", "CNN_VW / 2", wn, bn, true);
        cb_line(c, "#endif");
        stream_tile(c, a, nb, "float", "1", wn, bn, false);
    }
    if (ob_last != ob)
        cb_line(c, "}");
    if (emit_has_epilogue(op)) {
        cb_line(c, "const int nb = blk < BLOCKS - 1 ? OB : OC - (BLOCKS - 1) * OB;");
        cb_line(c, "for (int t = 0; t < nb; t++)");
        cb_line(c, "    for (int j = 0; j < OW; j++) {");
        cb_line(c, "        const float v = yo[t * YS + j];");
        cb_line(c, "        yo[t * YS + j] = %s;", emit_epilogue(e, op, "v", "oc0 + t"));
        cb_line(c, "    }");
    }
    cb_line(c, "}");
    if (pool) {
        cb_line(c, "const int nbp = blk < BLOCKS - 1 ? OB : OC - (BLOCKS - 1) * OB;");
        cb_line(c, "for (int t = 0; t < nbp; t++)");
        cb_line(c, "for (int pc = 0; pc < %d; pc++) {", out.d[3] / pool->a.kw);
        if (pool->kind == OP_MAXPOOL) {
            cb_line(c, "float m = -INFINITY;");
            cb_line(c, "for (int q = 0; q < PKH; q++)");
            cb_line(c, "    for (int k = 0; k < %d; k++) {", pool->a.kw);
            cb_line(c, "        const float v = %s[t * YS + q * OW + pc * %d + k];", rb, pool->a.kw);
            cb_line(c, "        if (v > m || isnan(v))");
            cb_line(c, "            m = v;");
            cb_line(c, "    }");
        } else {
            cb_line(c, "float s = 0.0f;");
            cb_line(c, "for (int q = 0; q < PKH; q++)");
            cb_line(c, "    for (int k = 0; k < %d; k++)", pool->a.kw);
            cb_line(c, "        s += %s[t * YS + q * OW + pc * %d + k];", rb, pool->a.kw);
            cb_line(c, "const float m = s / (float)(PKH * %d);", pool->a.kw);
        }
        cb_line(c, "%s[(oc0 + t) * %lld + pc] = m;", dst, dcs);
        cb_line(c, "}");
    }
    cb_line(c, "}");
    cb_line(c, "}");
}

void conv_stream_emit(Emit *e, const Op *q) {
    Cbuf *c = e->c;
    const Graph *g = e->g;
    const Op *p = &g->ops[q->pro_conv];
    StreamGeo s = stream_geo(g, q);
    const Attrs *a = &q->a, *b = &p->a;
    emit_epilogue_setup(e, q, a->out);
    cb_line(c, "{ /* %%%d is never whole: this conv reads it through a window of %d rows while conv %%%d makes its rows (conv_stream.c) */",
            p->writes, s.rows, p->out);
    cb_line(c, "enum { SC = %d, SH_X = %d, SW_X = %d, SR = %d, SWP = %d, SSTEP = %d, SPAD = %d, SPW = %d, SJOBS = %d };",
            s.x.d[1], s.x.d[2], s.x.d[3], s.rows, s.wp, s.pkh_q * a->sh, a->ph, a->pw, s.qrows);
    cb_line(c, "enum { PIC = %d, PIH = %d, PIW = %d, PSR = %d, PSWP = %d, PSTEP = %d, PPH = %d, PPW = %d };", s.pin.d[1],
            s.pin.d[2], s.pin.d[3], s.prows, s.pwp, s.pkh_p * b->sh, b->ph, b->pw);
    cb_line(c, "float *win = scratch, *strip = scratch + %lld;", (long long)s.win);
    if (p->epi_pool >= 0)
        cb_line(c, "float *rb = scratch + %lld; /* the pooling's rows of conv %%%d */", 
                (long long)(s.win + r16((int64_t)s.pin.d[1] * s.prows * s.pwp)), p->out);
    if (q->epi_pool >= 0)
        cb_line(c, "float *rbq = scratch + %lld; /* the pooling's rows of this conv, where the strip was */", (long long)s.win);
    if (p->pro_norm >= 0) { /* P's fused normalize: (x - mean) / std on the way into the strip */
        const Attrs *na = &g->ops[p->pro_norm].a;
        const char *m = "", *d = "";
        for (int k = 0; k < na->nmean; k++) {
            m = arena_printf("%s%s%s", m, k ? ", " : "", emit_float(na->mean[k]));
            d = arena_printf("%s%s%s", d, k ? ", " : "", emit_float(na->std[k]));
        }
        cb_line(c, "static const float nmean[PIC] = {%s}, nstd[PIC] = {%s};", m, d);
    }
    cb_line(c, "for (int si = 0; si < n; si++) {");
    cb_line(c, "const float *xi = x + si * PIC * PIH * PIW;");
    cb_line(c, "float *yi = y + si * %d;", s.y.d[1] * s.y.d[2] * s.y.d[3]);
    cb_line(c, "for (int z = 0; z < SC * SR * SWP; z++)");
    cb_line(c, "    win[z] = 0.0f; /* the padding columns stay zero */");
    cb_line(c, "int prev = 0, have = 0; /* the window held the rows from prev */");
    cb_line(c, "for (int sr = 0; sr < SJOBS; sr++) {");
    cb_line(c, "const int base = sr * SSTEP - SPAD; /* the window's first row */");
    cb_line(c, "for (int wj = 0; wj < SR; wj++) {");
    cb_line(c, "const int h = base + wj;");
    cb_line(c, "float *wr = win + wj * SWP + SPW;");
    cb_line(c, "if (h < 0 || h >= SH_X) {");
    cb_line(c, "for (int ch = 0; ch < SC; ch++)");
    cb_line(c, "    for (int z = 0; z < SW_X; z++)");
    cb_line(c, "        wr[ch * SR * SWP + z] = 0.0f;");
    cb_line(c, "} else if (have && h < prev + SR) { /* kept: row h - prev moves up to wj */");
    cb_line(c, "for (int ch = 0; ch < SC; ch++)");
    cb_line(c, "    memcpy(wr + ch * SR * SWP, win + (ch * SR + h - prev) * SWP + SPW, sizeof(float) * SW_X);");
    cb_line(c, "} else { /* new: conv %%%d makes row h, from a zero-padded strip of its input */", p->out);
    cb_line(c, "const int h0 = h * PSTEP - PPH;");
    cb_line(c, "for (int ic = 0; ic < PIC; ic++)");
    cb_line(c, "    for (int r = 0; r < PSR; r++)");
    cb_line(c, "        for (int col = 0; col < PSWP; col++) {");
    cb_line(c, "            const int ih = h0 + r, iw = col - PPW;");
    cb_line(c, "            strip[(ic * PSR + r) * PSWP + col] = ih >= 0 && ih < PIH && iw >= 0 && iw < PIW ? %s : 0.0f;",
            p->pro_norm >= 0 ? "(xi[(ic * PIH + ih) * PIW + iw] - nmean[ic]) / nstd[ic]" : "xi[(ic * PIH + ih) * PIW + iw]");
    cb_line(c, "        }");
    stream_emit_rows(e, p, s.pin, s.pout, s.pkh_p, "strip", s.prows, s.pwp, "wr", (long long)s.rows * s.wp, "w0", "b0", "rb");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "prev = base, have = 1;");
    stream_emit_rows(e, q, s.x, s.qout, s.pkh_q, "win", s.rows, s.wp, arena_printf("(yi + sr * %d)", s.y.d[3]),
                     (long long)s.y.d[2] * s.y.d[3], "w", "b", "rbq");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
}
