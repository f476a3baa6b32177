/* conv.c: 2-D convolution, torch.nn.Conv2d semantics.
 * Attributes: out, kh kw (kernel), sh sw (stride), ph pw / ph_end pw_end (padding before and
 * after; they differ only for pad = same with an even effective kernel, where PyTorch puts the
 * extra row and column at the bottom and right), dh dw (dilation), groups, bias.
 * Parameters: weight [out, C/groups, kh, kw], bias [out]. */
#include <string.h>

#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../emit_torch.h"
#include "../ops.h"

/* conv_small.c: kernels for few channels; false when the layer does not qualify */
bool conv_small_emit_dw(Emit *e, const Op *fwd);
bool conv_small_emit_forward(Emit *e, const Op *op, const Attrs *a, Shape in, Shape out, const char *src);

static const ArgSpec conv_args[] = {
    {"out", NULL}, {"kernel", NULL}, {"stride", "1"}, {"pad", "0"},
    {"dilation", "1"}, {"groups", "1"}, {"bias", "true"}, {NULL, NULL},
};
enum { A_OUT, A_KERNEL, A_STRIDE, A_PAD, A_DILATION, A_GROUPS, A_BIAS };

static bool conv_set_attrs(Graph *g, Op *op, const Val *v) {
    Attrs *a = &op->a;
    bool ok = arg_int(op, &v[A_OUT], "out", 1, 1 << 24, &a->out);
    ok &= arg_pair(op, &v[A_KERNEL], "kernel", 1, &a->kh, &a->kw);
    a->sh = a->sw = a->dh = a->dw = a->groups = 1;
    a->bias = true;
    if (v[A_STRIDE].kind != V_NONE)
        ok &= arg_pair(op, &v[A_STRIDE], "stride", 1, &a->sh, &a->sw);
    if (v[A_DILATION].kind != V_NONE)
        ok &= arg_pair(op, &v[A_DILATION], "dilation", 1, &a->dh, &a->dw);
    if (v[A_GROUPS].kind != V_NONE)
        ok &= arg_int(op, &v[A_GROUPS], "groups", 1, 1 << 24, &a->groups);
    if (v[A_BIAS].kind != V_NONE)
        ok &= arg_bool(op, &v[A_BIAS], "bias", &a->bias);
    const Val *pad = &v[A_PAD];
    if (pad->kind == V_WORD) {
        if (strcmp(pad->word, "same") != 0) {
            diag_error(pad->span, "conv: argument 'pad' takes an integer, a list [h, w] or `same`, got '%s'", pad->word);
            return false;
        }
        if (ok && (a->sh != 1 || a->sw != 1)) {
            diag_error(pad->span, "conv: pad = same needs stride 1, got stride %s", pair_str(a->sh, a->sw));
            return false;
        }
        int th = a->dh * (a->kh - 1), tw = a->dw * (a->kw - 1);
        a->ph = th / 2, a->ph_end = th - th / 2;
        a->pw = tw / 2, a->pw_end = tw - tw / 2;
    } else if (pad->kind != V_NONE) {
        ok &= arg_pair(op, pad, "pad", 0, &a->ph, &a->pw);
        a->ph_end = a->ph, a->pw_end = a->pw;
    }
    return ok;
}

static bool conv_infer(Graph *g, Op *op) {
    if (!need_image(g, op))
        return false;
    Shape in = *in_shape(g, op, 0);
    Attrs *a = &op->a;
    int c = in.d[1];
    if (c % a->groups || a->out % a->groups) {
        diag_error(op->span, "conv: groups = %d must divide both the input channels (%d) and out (%d)", a->groups, c,
                   a->out);
        return false;
    }
    long long eh = (long long)a->dh * (a->kh - 1) + 1, ew = (long long)a->dw * (a->kw - 1) + 1;
    long long hp = (long long)in.d[2] + a->ph + a->ph_end, wp = (long long)in.d[3] + a->pw + a->pw_end;
    if (eh > hp || ew > wp) {
        diag_error(op->span, "conv: kernel %s%s does not fit the input %s padded by %s",
                   pair_str(a->kh, a->kw), a->dh > 1 || a->dw > 1 ? arena_printf(" (dilation %s)", pair_str(a->dh, a->dw)) : "",
                   shape_str(in, true), pair_str(a->ph, a->pw));
        return false;
    }
    *out_shape(g, op) = shape4(in.d[0], a->out, (int)((hp - eh) / a->sh + 1), (int)((wp - ew) / a->sw + 1));
    return true;
}

static void conv_add_params(Graph *g, int id) {
    Op *op = &g->ops[id];
    int c = in_shape(g, op, 0)->d[1];
    ir_add_param(g, id, PARAM_WEIGHT, arena_printf("%s.weight", op->pname),
                 (Shape){4, {op->a.out, c / op->a.groups, op->a.kh, op->a.kw}}, true);
    if (op->a.bias)
        ir_add_param(g, id, PARAM_BIAS, arena_printf("%s.bias", op->pname), (Shape){1, {op->a.out}}, true);
}

static double conv_flops(const Graph *g, const Op *op) {
    Shape o = g->values[op->out].shape, in = g->values[op->in[0]].shape;
    double macs = (double)o.d[1] * o.d[2] * o.d[3] * (in.d[1] / op->a.groups) * op->a.kh * op->a.kw;
    return 2 * macs + (op->a.bias ? (double)o.d[1] * o.d[2] * o.d[3] : 0);
}

static void conv_print_attrs(const Op *op, char *buf, size_t size) {
    const Attrs *a = &op->a;
    attr_append(buf, size, "out=%d kernel=%s", a->out, pair_str(a->kh, a->kw));
    if (a->sh != 1 || a->sw != 1)
        attr_append(buf, size, "stride=%s", pair_str(a->sh, a->sw));
    if (a->ph != a->ph_end || a->pw != a->pw_end)
        attr_append(buf, size, "pad=[%d, %d, %d, %d]", a->ph, a->pw, a->ph_end, a->pw_end);
    else if (a->ph || a->pw)
        attr_append(buf, size, "pad=%s", pair_str(a->ph, a->pw));
    if (a->dh != 1 || a->dw != 1)
        attr_append(buf, size, "dilation=%s", pair_str(a->dh, a->dw));
    if (a->groups != 1)
        attr_append(buf, size, "groups=%d", a->groups);
    if (!a->bias)
        attr_append(buf, size, "bias=false");
}

/* Register-blocked direct convolution. The input is first copied into a zero-padded
 * scratch copy when the layer pads, so the inner loops never test bounds. Then for each image,
 * block of up to OB output channels and output row, a tile of OB channels x one vector of
 * columns is accumulated in registers over every (input channel, kernel row, kernel column):
 * one input vector feeds OB fused multiply-adds. Vectors are the compiler's vector types
 * (cnn_vec, see the file's prologue) where available; the columns left over, and compilers
 * without vector types, take the scalar loop. */
enum { CONV_OB = 8 };

static bool conv_pads(const Attrs *a) { return a->ph || a->pw || a->ph_end || a->pw_end; }

/* Narrow outputs (fewer columns than half a vector) vectorize over output channels instead,
 * reading the weights transposed to [group][ic][kh][kw][oc] in scratch. */
enum { CONV_NARROW = 8 };
static bool conv_narrow(Shape out) { return out.d[3] < CONV_NARROW; }

static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

/* Floats of the kernel's scratch for input in, output out: the padded input copy (when it
 * pads), then, for narrow outputs, the transposed weights. */
static int64_t conv_kernel_scratch(const Attrs *a, Shape in, Shape out, int64_t *wt_at) {
    int64_t pad = conv_pads(a) ? round16((int64_t)in.d[0] * in.d[1] * (in.d[2] + a->ph + a->ph_end) *
                                         (in.d[3] + a->pw + a->pw_end))
                               : 0;
    *wt_at = pad;
    return conv_narrow(out) ? pad + (int64_t)a->out * (in.d[1] / a->groups) * a->kh * a->kw : pad;
}

static int64_t conv_scratch(const Graph *g, const Op *op) {
    int64_t at;
    return conv_kernel_scratch(&op->a, g->values[op->in[0]].shape, g->values[op->out].shape, &at);
}

/* once: a last tile that ends at the row's end and overlaps the one before, recomputing a
 * few columns with the same result, so that no column is left to the scalar loop. */
static void conv_tile(Cbuf *c, const Attrs *a, int nb, const char *vtype, const char *width, bool once) {
    bool scalar = !strcmp(vtype, "float");
    if (once) {
        cb_line(c, "if (ow0 < OW && OW >= %s) {", width);
        cb_line(c, "ow0 = OW - %s;", width);
    } else {
        cb_line(c, "for (; ow0 + %s <= OW; ow0 += %s) {", width, width);
    }
    cb_line(c, "%s acc[%d];", vtype, nb);
    for (int t = 0; t < nb; t++)
        cb_line(c, "acc[%d] = %s%s;", t, a->bias ? arena_printf("b[oc0 + %d]", t) : "0.0f", scalar ? "" : arena_printf(" + (%s){0}", vtype));
    cb_line(c, "for (int ic = 0; ic < ICG; ic++)");
    cb_line(c, "for (int kh = 0; kh < KH; kh++)");
    cb_line(c, "for (int kw = 0; kw < KW; kw++) {");
    cb_line(c, "const float *xr = xg + ((size_t)ic * HP + kh * DH) * WP + ow0 * SW + kw * DW;");
    cb_line(c, "const float *wk = w + ((size_t)oc0 * ICG + ic) * KH * KW + kh * KW + kw;");
    if (scalar) {
        cb_line(c, "const float xv = xr[0];");
    } else if (a->sw == 1) {
        cb_line(c, "%s xv;", vtype);
        cb_line(c, "memcpy(&xv, xr, sizeof xv);");
    } else {
        cb_line(c, "float gather[%s];", width);
        cb_line(c, "for (int j = 0; j < %s; j++)", width);
        cb_line(c, "    gather[j] = xr[j * SW];");
        cb_line(c, "%s xv;", vtype);
        cb_line(c, "memcpy(&xv, gather, sizeof xv);");
    }
    for (int t = 0; t < nb; t++)
        cb_line(c, "acc[%d] += wk[%d * ICG * KH * KW] * xv;", t, t);
    cb_line(c, "}");
    for (int t = 0; t < nb; t++) {
        if (scalar)
            cb_line(c, "yo[%d * YS + ow0] = acc[%d];", t, t);
        else
            cb_line(c, "memcpy(yo + %d * YS + ow0, &acc[%d], sizeof acc[%d]);", t, t, t);
    }
    if (once)
        cb_line(c, "ow0 = OW;");
    cb_line(c, "}");
}

/* The narrow path: one output pixel at a time, a vector of output channels per accumulator. */
static void conv_emit_narrow(Emit *e, const Op *op, const Attrs *a, const char *src, const char *scr, int64_t wt_at) {
    Cbuf *c = e->c;
    cb_line(c, "float *wt = %s + %lld; /* weights as [g][ic][kh][kw][oc] */", scr, (long long)wt_at);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int oc = 0; oc < OC; oc++)");
    cb_line(c, "    for (int k = 0; k < ICG * KH * KW; k++)");
    cb_line(c, "        wt[((size_t)(oc / OCG) * ICG * KH * KW + k) * OCG + oc %% OCG] = w[(size_t)oc * ICG * KH * KW + k];");
    cb_line(c, "/* PX output pixels at a time share every weight vector loaded */");
    cb_line(c, "enum { PX = 4, NPIX = OH * OW, PBLOCKS = (NPIX + PX - 1) / PX };");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < n * G * PBLOCKS; job++) {");
    cb_line(c, "const int pb = job %% PBLOCKS, g = job / PBLOCKS %% G, i = job / PBLOCKS / G;");
    cb_line(c, "const int p0 = pb * PX, np = NPIX - p0 < PX ? NPIX - p0 : PX;");
    cb_line(c, "const float *xq[PX];");
    cb_line(c, "float *yq[PX];");
    cb_line(c, "for (int q = 0; q < PX; q++) { /* a block's missing pixels repeat its first; never stored */");
    cb_line(c, "const int p = p0 + (q < np ? q : 0), oh = p / OW, ow = p %% OW;");
    cb_line(c, "xq[q] = %s + ((size_t)i * IC + (size_t)g * ICG) * HP * WP + (size_t)oh * SH * WP + (size_t)ow * SW;", src);
    cb_line(c, "yq[q] = y + ((size_t)i * OC + (size_t)g * OCG) * OH * OW + p;");
    cb_line(c, "}");
    cb_line(c, "const float *wg = wt + (size_t)g * ICG * KH * KW * OCG;");
    cb_line(c, "int oc0 = 0;");
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "for (; oc0 + 4 * CNN_VW <= OCG; oc0 += 4 * CNN_VW) {");
    cb_line(c, "cnn_vec acc[PX][4];");
    cb_line(c, "for (int t = 0; t < 4; t++) {");
    cb_line(c, "cnn_vec init = (cnn_vec){0};");
    if (a->bias)
        cb_line(c, "memcpy(&init, b + (size_t)g * OCG + oc0 + t * CNN_VW, sizeof init);");
    cb_line(c, "for (int q = 0; q < PX; q++)");
    cb_line(c, "    acc[q][t] = init;");
    cb_line(c, "}");
    cb_line(c, "for (int ic = 0; ic < ICG; ic++)");
    cb_line(c, "for (int kh = 0; kh < KH; kh++)");
    cb_line(c, "for (int kw = 0; kw < KW; kw++) {");
    cb_line(c, "const size_t xo = ((size_t)ic * HP + kh * DH) * WP + kw * DW;");
    cb_line(c, "const float *wr = wg + (((size_t)ic * KH + kh) * KW + kw) * OCG + oc0;");
    cb_line(c, "cnn_vec wv[4];");
    cb_line(c, "memcpy(wv, wr, sizeof wv);");
    cb_line(c, "for (int q = 0; q < PX; q++) {");
    cb_line(c, "const float xv = xq[q][xo];");
    cb_line(c, "for (int t = 0; t < 4; t++)");
    cb_line(c, "    acc[q][t] += xv * wv[t];");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "for (int q = 0; q < np; q++)");
    cb_line(c, "    for (int t = 0; t < 4; t++)");
    cb_line(c, "        for (int j = 0; j < CNN_VW; j++)");
    cb_line(c, "            yq[q][(size_t)(oc0 + t * CNN_VW + j) * OH * OW] = acc[q][t][j];");
    cb_line(c, "}");
    cb_line(c, "#endif");
    cb_line(c, "for (; oc0 < OCG; oc0++)");
    cb_line(c, "for (int q = 0; q < np; q++) {");
    cb_line(c, "float acc = %s;", a->bias ? "b[(size_t)g * OCG + oc0]" : "0.0f");
    cb_line(c, "for (int ic = 0; ic < ICG; ic++)");
    cb_line(c, "    for (int kh = 0; kh < KH; kh++)");
    cb_line(c, "        for (int kw = 0; kw < KW; kw++)");
    cb_line(c, "            acc += xq[q][((size_t)ic * HP + kh * DH) * WP + kw * DW] * wg[(((size_t)ic * KH + kh) * KW + kw) * OCG + oc0];");
    cb_line(c, "yq[q][(size_t)oc0 * OH * OW] = acc;");
    cb_line(c, "}");
    if (emit_has_epilogue(op)) {
        cb_line(c, "for (int q = 0; q < np; q++)");
        cb_line(c, "for (int oc = 0; oc < OCG; oc++) {");
        cb_line(c, "const float v = yq[q][(size_t)oc * OH * OW];");
        cb_line(c, "yq[q][(size_t)oc * OH * OW] = %s;", emit_epilogue(e, op, "v", "g * OCG + oc"));
        cb_line(c, "}");
    }
    cb_line(c, "}");
}

/* The forward kernel for attributes a from input x (shape in) to y (shape out), with weights
 * w and bias b; scr names the scratch space (conv_kernel_scratch floats). op supplies the
 * fused prologue and epilogue, if any. */
static void conv_emit_kernel(Emit *e, const Op *op, const Attrs *a, Shape in, Shape out, const char *scr) {
    Cbuf *c = e->c;
    int ocg = a->out / a->groups;
    int ob = ocg < CONV_OB ? ocg : CONV_OB, ob_last = ocg % ob ? ocg % ob : ob;
    emit_image_dims(c, "I", in);
    emit_image_dims(c, "O", out);
    cb_line(c, "enum { KH = %d, KW = %d, SH = %d, SW = %d, DH = %d, DW = %d, G = %d, ICG = IC / G, OCG = OC / G };", a->kh,
            a->kw, a->sh, a->sw, a->dh, a->dw, a->groups);
    cb_line(c, "enum { HP = %d, WP = %d }; /* the padded input */", in.d[2] + a->ph + a->ph_end, in.d[3] + a->pw + a->pw_end);
    cb_line(c, "enum { OB = %d, BLOCKS = (OCG + OB - 1) / OB }; /* output channels per tile */", ob);
    emit_epilogue_setup(e, op, a->out);
    const char *src = "x";
    if (conv_pads(a)) {
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int ic = 0; ic < n * IC; ic++) {");
        cb_line(c, "float *pad = %s + (size_t)ic * HP * WP;", scr);
        cb_line(c, "for (int p = 0; p < HP * WP; p++)");
        cb_line(c, "    pad[p] = 0.0f;");
        if (op->pro_norm >= 0) { /* the fused normalize: (x - mean) / std on the way in */
            const Attrs *na = &e->g->ops[op->pro_norm].a;
            const char *m = "", *d = "";
            for (int k = 0; k < na->nmean; k++) {
                m = arena_printf("%s%s%s", m, k ? ", " : "", emit_float(na->mean[k]));
                d = arena_printf("%s%s%s", d, k ? ", " : "", emit_float(na->std[k]));
            }
            cb_line(c, "static const float mean[IC] = {%s}, std[IC] = {%s};", m, d);
            cb_line(c, "for (int h = 0; h < IH; h++)");
            cb_line(c, "    for (int col = 0; col < IW; col++)");
            cb_line(c, "        pad[(h + %d) * WP + col + %d] = (x[((size_t)ic * IH + h) * IW + col] - mean[ic %% IC]) / std[ic %% IC];",
                    a->ph, a->pw);
        } else {
            cb_line(c, "for (int h = 0; h < IH; h++)");
            cb_line(c, "    for (int col = 0; col < IW; col++)");
            cb_line(c, "        pad[(h + %d) * WP + col + %d] = x[((size_t)ic * IH + h) * IW + col];", a->ph, a->pw);
        }
        cb_line(c, "}");
        src = scr;
    }
    if (conv_small_emit_forward(e, op, a, in, out, src))
        return;
    if (conv_narrow(out)) {
        int64_t wt_at;
        conv_kernel_scratch(a, in, out, &wt_at);
        conv_emit_narrow(e, op, a, src, scr, wt_at);
        return;
    }
    const Op *pool = op->epi_pool >= 0 ? &e->g->ops[op->epi_pool] : NULL;
    if (pool)
        cb_line(c, "enum { PKH = %d, PKW = %d, PH_OUT = OH / PKH, PW_OUT = OW / PKW }; /* the fused %s */", pool->a.kh,
                pool->a.kw, op_name(pool->kind));
    cb_line(c, "PARALLEL_FOR");
    if (!pool) {
        cb_line(c, "for (int job = 0; job < n * G * BLOCKS * OH; job++) {");
        cb_line(c, "const int oh = job %% OH, blk = job / OH %% BLOCKS, g = job / OH / BLOCKS %% G, i = job / OH / BLOCKS / G;");
        cb_line(c, "const size_t YS = (size_t)OH * OW; /* from one output channel to the next */");
        cb_line(c, "const int oc0 = g * OCG + blk * OB;");
        cb_line(c, "float *yo = y + ((size_t)i * OC + oc0) * OH * OW + (size_t)oh * OW;");
    } else { /* the fused pooling: the conv rows of one window row go to a buffer, then pooled */
        cb_line(c, "for (int job = 0; job < n * G * BLOCKS * PH_OUT; job++) {");
        cb_line(c, "const int r = job %% PH_OUT, blk = job / PH_OUT %% BLOCKS, g = job / PH_OUT / BLOCKS %% G, i = job / PH_OUT / BLOCKS / G;");
        cb_line(c, "const size_t YS = (size_t)PKH * OW;");
        cb_line(c, "const int oc0 = g * OCG + blk * OB;");
        cb_line(c, "float rows[OB * PKH * OW];");
        cb_line(c, "for (int q = 0; q < PKH; q++) {");
        cb_line(c, "const int oh = r * PKH + q;");
        cb_line(c, "float *yo = rows + (size_t)q * OW;");
    }
    cb_line(c, "const float *xg = %s + ((size_t)i * IC + (size_t)g * ICG) * HP * WP + (size_t)oh * SH * WP;", src);
    cb_line(c, "int ow0 = 0;");
    for (int bi = 0; bi < (ob_last != ob ? 2 : 1); bi++) {
        int nb = bi == 0 ? ob : ob_last;
        if (ob_last != ob)
            cb_line(c, bi == 0 ? "if (blk < BLOCKS - 1) {" : "} else {");
        cb_line(c, "#if CNN_VECTORS");
        conv_tile(c, a, nb, "cnn_vec2", "2 * CNN_VW", false);
        conv_tile(c, a, nb, "cnn_vec2", "2 * CNN_VW", true);
        conv_tile(c, a, nb, "cnn_vec", "CNN_VW", false);
        conv_tile(c, a, nb, "cnn_vec", "CNN_VW", true);
        conv_tile(c, a, nb, "cnn_half", "CNN_VW / 2", false);
        conv_tile(c, a, nb, "cnn_half", "CNN_VW / 2", true);
        cb_line(c, "#endif");
        conv_tile(c, a, nb, "float", "1", false);
    }
    if (ob_last != ob)
        cb_line(c, "}");
    if (emit_has_epilogue(op)) { /* the fused batchnorm and activation, on the row still in cache */
        cb_line(c, "const int nb = blk < BLOCKS - 1 ? OB : OCG - (BLOCKS - 1) * OB;");
        cb_line(c, "for (int t = 0; t < nb; t++)");
        cb_line(c, "    for (int j = 0; j < OW; j++) {");
        cb_line(c, "        const float v = yo[(size_t)t * YS + j];");
        cb_line(c, "        yo[(size_t)t * YS + j] = %s;", emit_epilogue(e, op, "v", "oc0 + t"));
        cb_line(c, "    }");
    }
    if (pool) {
        cb_line(c, "}");
        cb_line(c, "const int nbp = blk < BLOCKS - 1 ? OB : OCG - (BLOCKS - 1) * OB;");
        cb_line(c, "for (int t = 0; t < nbp; t++)");
        cb_line(c, "for (int pc = 0; pc < PW_OUT; pc++) {");
        if (pool->kind == OP_MAXPOOL) {
            cb_line(c, "float m = -INFINITY;");
            cb_line(c, "for (int q = 0; q < PKH; q++)");
            cb_line(c, "    for (int k = 0; k < PKW; k++) {");
            cb_line(c, "        const float v = rows[(size_t)t * YS + (size_t)q * OW + pc * PKW + k];");
            cb_line(c, "        if (v > m || isnan(v))");
            cb_line(c, "            m = v;");
            cb_line(c, "    }");
        } else {
            cb_line(c, "float s = 0.0f;");
            cb_line(c, "for (int q = 0; q < PKH; q++)");
            cb_line(c, "    for (int k = 0; k < PKW; k++)");
            cb_line(c, "        s += rows[(size_t)t * YS + (size_t)q * OW + pc * PKW + k];");
            cb_line(c, "const float m = s / (float)(PKH * PKW);");
        }
        cb_line(c, "y[(((size_t)i * OC + oc0 + t) * PH_OUT + r) * PW_OUT + pc] = m;");
        cb_line(c, "}");
    }
    cb_line(c, "}");
}

static void conv_emit_forward(Emit *e, const Op *op) {
    conv_emit_kernel(e, op, &op->a, emit_in_shape(e, op, 0), emit_out_shape(e, op), "scratch");
}

/* The gradients, each in its own parallel loop over memory no other iteration writes.
 * dx (when wanted): per (image, input channel), the dx plane is zeroed and every output
 * channel of the group scatters dy * w over the input positions its taps reached, with the
 * forward's valid ranges; the inner loop runs along an output row.
 * db (added into): per output channel, one partial sum per output column.
 * dw (added into): see below; the items never share a weight, so nothing is reduced across
 * threads and the result does not depend on the thread count. */
/* The input gradient of a stride-1, undilated, ungrouped conv is itself a convolution: dy,
 * padded by kernel - 1 - padding, with the kernel flipped and its channel axes swapped. So
 * the forward kernel computes it. dx_attrs describes that convolution. */
static bool conv_dx_by_kernel(const Attrs *a, Attrs *d) {
    if (a->sh != 1 || a->sw != 1 || a->dh != 1 || a->dw != 1 || a->groups != 1 || a->ph > a->kh - 1 ||
        a->ph_end > a->kh - 1 || a->pw > a->kw - 1 || a->pw_end > a->kw - 1)
        return false;
    *d = (Attrs){.kh = a->kh, .kw = a->kw, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 1,
                 .ph = a->kh - 1 - a->ph, .ph_end = a->kh - 1 - a->ph_end,
                 .pw = a->kw - 1 - a->pw, .pw_end = a->kw - 1 - a->pw_end};
    return true;
}

static int64_t conv_bwd_scratch(const Graph *g, const Op *bwd, const Op *fwd) {
    Attrs d;
    if (bwd->out < 0 || !conv_dx_by_kernel(&fwd->a, &d))
        return 0;
    Shape in = g->values[fwd->in[0]].shape, out = g->values[fwd->out].shape, at;
    d.out = in.d[1];
    int64_t wt_at;
    (void)at;
    return round16((int64_t)out.d[1] * in.d[1] * d.kh * d.kw) + conv_kernel_scratch(&d, out, in, &wt_at);
}

static void conv_emit_backward(Emit *e, const Op *bwd, const Op *fwd) {
    Cbuf *c = e->c;
    const Attrs *a = &fwd->a;
    emit_image_dims(c, "I", emit_in_shape(e, fwd, 0));
    emit_image_dims(c, "O", emit_out_shape(e, fwd));
    cb_line(c, "enum { KH = %d, KW = %d, SH = %d, SW = %d, PH = %d, PW = %d, DH = %d, DW = %d, G = %d };", a->kh, a->kw,
            a->sh, a->sw, a->ph, a->pw, a->dh, a->dw, a->groups);
    cb_line(c, "enum { ICG = IC / G, OCG = OC / G };");
    Attrs d;
    if (bwd->out >= 0 && conv_dx_by_kernel(a, &d)) {
        Shape in = emit_in_shape(e, fwd, 0), out = emit_out_shape(e, fwd);
        d.out = in.d[1];
        int64_t wf = round16((int64_t)out.d[1] * in.d[1] * d.kh * d.kw);
        Op plain = {.fused_into = -1, .epi_bn = -1, .epi_act = -1, .pro_norm = -1, .epi_pool = -1};
        cb_line(c, "{ /* dx: the forward kernel over dy, with the kernel flipped and its channels swapped */");
        cb_line(c, "float *wf = scratch;");
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int icc = 0; icc < IC; icc++)");
        cb_line(c, "    for (int oc = 0; oc < OC; oc++)");
        cb_line(c, "        for (int k = 0; k < KH * KW; k++)");
        cb_line(c, "            wf[((size_t)icc * OC + oc) * KH * KW + k] = w[((size_t)oc * IC + icc) * KH * KW + KH * KW - 1 - k];");
        cb_line(c, "{");
        cb_line(c, "const float *x = dy, *w = wf;");
        cb_line(c, "float *y = dx;");
        conv_emit_kernel(e, &plain, &d, out, in, arena_printf("(scratch + %lld)", (long long)wf));
        cb_line(c, "}");
        cb_line(c, "}");
    } else if (bwd->out >= 0) {
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int ii = 0; ii < n * IC; ii++) {");
        cb_line(c, "const int i = ii / IC, ic = ii %% IC, g = ic / ICG, icl = ic %% ICG;");
        cb_line(c, "float *restrict dxi = dx + (size_t)ii * IH * IW;");
        cb_line(c, "for (int p = 0; p < IH * IW; p++)");
        cb_line(c, "    dxi[p] = 0.0f;");
        cb_line(c, "for (int oc = g * OCG; oc < (g + 1) * OCG; oc++) {");
        cb_line(c, "const float *dyo = dy + ((size_t)i * OC + oc) * OH * OW;");
        cb_line(c, "const float *wk = w + ((size_t)oc * ICG + icl) * KH * KW;");
        cb_line(c, "for (int kh = 0; kh < KH; kh++) {");
        cb_line(c, "const int oh0 = kh * DH >= PH ? 0 : (PH - kh * DH + SH - 1) / SH;");
        cb_line(c, "const int ohe = IH - 1 + PH - kh * DH;");
        cb_line(c, "const int oh1 = ohe < 0 ? 0 : (ohe / SH + 1 < OH ? ohe / SH + 1 : OH);");
        cb_line(c, "for (int kw = 0; kw < KW; kw++) {");
        cb_line(c, "const int ow0 = kw * DW >= PW ? 0 : (PW - kw * DW + SW - 1) / SW;");
        cb_line(c, "const int owe = IW - 1 + PW - kw * DW;");
        cb_line(c, "const int ow1 = owe < 0 ? 0 : (owe / SW + 1 < OW ? owe / SW + 1 : OW);");
        cb_line(c, "const float wv = wk[kh * KW + kw];");
        cb_line(c, "for (int oh = oh0; oh < oh1; oh++) {");
        cb_line(c, "float *xr = dxi + (oh * SH - PH + kh * DH) * IW + kw * DW - PW;");
        cb_line(c, "const float *yr = dyo + oh * OW;");
        cb_line(c, "for (int ow = ow0; ow < ow1; ow++)");
        cb_line(c, "    xr[ow * SW] += wv * yr[ow];");
        cb_line(c, "}");
        cb_line(c, "}");
        cb_line(c, "}");
        cb_line(c, "}");
        cb_line(c, "}");
    }
    if (bwd->wrt != 0)
        return;
    if (a->bias) {
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int oc = 0; oc < OC; oc++) {");
        cb_line(c, "float lane[OW] = {0};");
        cb_line(c, "for (int i = 0; i < n; i++)");
        cb_line(c, "    for (int oh = 0; oh < OH; oh++)");
        cb_line(c, "        for (int ow = 0; ow < OW; ow++)");
        cb_line(c, "            lane[ow] += dy[(((size_t)i * OC + oc) * OH + oh) * OW + ow];");
        cb_line(c, "float s = 0.0f;");
        cb_line(c, "for (int ow = 0; ow < OW; ow++)");
        cb_line(c, "    s += lane[ow];");
        cb_line(c, "db[oc] += s;");
        cb_line(c, "}");
    }
    if (conv_small_emit_dw(e, fwd))
        return;
    /* dw: the work is split into (input channel, block of OCB output channels of its group)
     * items, each the only writer of its dw entries; blocks of 4 channels at least, so that
     * the gathering below is shared by several dot products.
     * For each image and block of RB output rows, the input values under every tap are gathered
     * once into col (zero where the tap reads padding), then every output channel of the item
     * takes its dot products with them. With KH * KW >= 4 taps, col is [position][tap] and the
     * sums run across the taps (a vector of KH * KW accumulators per output channel, one
     * broadcast dy value per position); with fewer, col is [tap][position] and each dot
     * product keeps 16 partial sums along the positions. Both forms vectorize under clang and
     * gcc without reassociating additions. */
    Shape o = emit_out_shape(e, fwd);
    int ic = emit_in_shape(e, fwd, 0).d[1], ocg = a->out / a->groups, k = a->kh * a->kw;
    bool by_tap = k >= 4;
    int nob = (ocg + 7) / 8; /* more blocks for more threads, each of 4 channels at least */
    while (ic * nob < 8 && (ocg + nob) / (nob + 1) >= 4)
        nob++;
    int ocb = (ocg + nob - 1) / nob;
    int rb = 4096 / (k * o.d[3]);
    rb = rb < 1 ? 1 : rb > o.d[2] ? o.d[2] : rb;
    const char *at = by_tap ? "col[r * OW + ow][k]" : "col[k][r * OW + ow]";
    cb_line(c, "enum { K = KH * KW, RB = %d, OCB = %d, NOB = (OCG + OCB - 1) / OCB };", rb, ocb);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int item = 0; item < IC * NOB; item++) {");
    cb_line(c, "const int ic = item / NOB, g = ic / ICG, oc0 = g * OCG + item %% NOB * OCB;");
    cb_line(c, "const int ocn = (g + 1) * OCG - oc0 < OCB ? (g + 1) * OCG - oc0 : OCB;");
    cb_line(c, by_tap ? "float acc[OCB][K], col[RB * OW][K];" : "float acc[OCB][K][16], col[K][RB * OW];");
    cb_line(c, "memset(acc, 0, sizeof acc);");
    cb_line(c, "for (int i = 0; i < n; i++) {");
    cb_line(c, "const float *xi = x + ((size_t)i * IC + ic) * IH * IW;");
    cb_line(c, "for (int r0 = 0; r0 < OH; r0 += RB) {");
    cb_line(c, "const int rn = OH - r0 < RB ? OH - r0 : RB, len = rn * OW;");
    cb_line(c, "for (int kh = 0; kh < KH; kh++)");
    cb_line(c, "for (int kw = 0; kw < KW; kw++) {");
    cb_line(c, "const int k = kh * KW + kw;");
    cb_line(c, "const int ow0 = kw * DW >= PW ? 0 : (PW - kw * DW + SW - 1) / SW;");
    cb_line(c, "const int owe = IW - 1 + PW - kw * DW;");
    cb_line(c, "const int ow1 = owe < 0 ? 0 : (owe / SW + 1 < OW ? owe / SW + 1 : OW);");
    cb_line(c, "for (int r = 0; r < rn; r++) {");
    cb_line(c, "const int h = (r0 + r) * SH - PH + kh * DH;");
    cb_line(c, "const float *xr = xi + h * IW + kw * DW - PW;");
    cb_line(c, "const int in = h >= 0 && h < IH;");
    cb_line(c, "for (int ow = 0; ow < OW; ow++)");
    cb_line(c, "    %s = in && ow >= ow0 && ow < ow1 ? xr[ow * SW] : 0.0f;", at);
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "for (int oi = 0; oi < ocn; oi++) {");
    cb_line(c, "const float *yr = dy + (((size_t)i * OC + oc0 + oi) * OH + r0) * OW;");
    if (by_tap) {
        cb_line(c, "float *as = acc[oi];");
        cb_line(c, "for (int p = 0; p < len; p++) {");
        cb_line(c, "const float yv = yr[p];");
        cb_line(c, "for (int k = 0; k < K; k++)");
        cb_line(c, "    as[k] += yv * col[p][k];");
        cb_line(c, "}");
    } else {
        cb_line(c, "for (int k = 0; k < K; k++) {");
        cb_line(c, "const float *cr = col[k];");
        cb_line(c, "float *part = acc[oi][k];");
        cb_line(c, "int p = 0;");
        cb_line(c, "for (; p + 16 <= len; p += 16)");
        cb_line(c, "    for (int j = 0; j < 16; j++)");
        cb_line(c, "        part[j] += yr[p + j] * cr[p + j];");
        cb_line(c, "for (int j = 0; p + j < len; j++)");
        cb_line(c, "    part[j] += yr[p + j] * cr[p + j];");
        cb_line(c, "}");
    }
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "for (int oi = 0; oi < ocn; oi++)");
    cb_line(c, "    for (int k = 0; k < K; k++) {");
    if (by_tap)
        cb_line(c, "        const float s = acc[oi][k];");
    else {
        cb_line(c, "        float s = 0.0f;");
        cb_line(c, "        for (int j = 0; j < 16; j++)");
        cb_line(c, "            s += acc[oi][k][j];");
    }
    cb_line(c, "        dw[((size_t)(oc0 + oi) * ICG + ic %% ICG) * K + k] += s;");
    cb_line(c, "    }");
    cb_line(c, "}");
}

/* Fusion: a tiling pooling closes the conv through the column kernel only (8 or more
 * columns), with a window row of at most 64 KiB. */
static bool conv_close_pool(const Graph *g, const Op *op, const Op *pool) {
    Shape o = g->values[op->out].shape;
    return o.d[3] >= 8 && (int64_t)8 * pool->a.kh * o.d[3] <= 16384;
}

/* The PyTorch twin; uneven padding (pad = same) is an explicit F.pad. */
static bool conv_pads_evenly(const Attrs *a) { return a->ph == a->ph_end && a->pw == a->pw_end; }
static const char *conv_torch_module(const TorchCtx *t, const Op *op) {
    const Attrs *a = &op->a;
    const char *s = arena_printf("nn.Conv2d(%d, %d, %s", torch_in_shape(t, op, 0).d[1], a->out, torch_pair(a->kh, a->kw));
    if (a->sh != 1 || a->sw != 1)
        s = arena_printf("%s, stride=%s", s, torch_pair(a->sh, a->sw));
    if (conv_pads_evenly(a) && (a->ph || a->pw))
        s = arena_printf("%s, padding=%s", s, torch_pair(a->ph, a->pw));
    if (a->dh != 1 || a->dw != 1)
        s = arena_printf("%s, dilation=%s", s, torch_pair(a->dh, a->dw));
    if (a->groups != 1)
        s = arena_printf("%s, groups=%d", s, a->groups);
    if (!a->bias)
        s = arena_printf("%s, bias=False", s);
    return arena_printf("%s)", s);
}
static const char *conv_torch(TorchCtx *t, const Op *op) {
    const Attrs *a = &op->a;
    if (!conv_pads_evenly(a))
        return arena_printf("%s(F.pad(%s, (%d, %d, %d, %d)))", torch_module_ref(op), torch_in(t, op, 0), a->pw, a->pw_end,
                            a->ph, a->ph_end);
    return arena_printf("%s(%s)", torch_module_ref(op), torch_in(t, op, 0));
}

const OpInfo OP_CONV_info = {
    .name = "conv", .is_layer = true, .args = conv_args, .set_attrs = conv_set_attrs,
    .infer = conv_infer, .add_params = conv_add_params, .flops = conv_flops,
    .print_attrs = conv_print_attrs, .param_kind = "conv",
    .emit_forward = conv_emit_forward, .scratch = conv_scratch, .emit_backward = conv_emit_backward, .bwd_needs = BWD_X, .bwd_scratch = conv_bwd_scratch,
    .epilogue = true, .prologue = true, .close_pool = conv_close_pool,
    .torch_module = conv_torch_module, .torch_call = conv_torch,
};
