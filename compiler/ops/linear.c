/* linear.c: fully connected layer, torch.nn.Linear semantics: y = x W^T + b.
 * Attributes: out, bias. Parameters: weight [out, in], bias [out]. */
#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../emit_torch.h"
#include "../ops.h"

static const ArgSpec linear_args[] = {ARG_INT("out", NULL, 1, 1 << 24), ARG_BOOL("bias", "true"), ARG_INIT("init"),
                                      ARG_END};

static bool linear_set_attrs(Graph *g, Op *op, const Val *v) {
    op->a.out = val_int(&v[0]);
    op->a.bias = val_bool(&v[1]);
    op->a.init = op_init_text(&v[2]);
    return true;
}

static bool linear_infer(Graph *g, Op *op) {
    Shape in = *in_shape(g, op, 0);
    if (in.rank != 2) {
        diag_error(op->span, "linear needs a flat tensor, got the image tensor %s; add `flatten` before it",
                   shape_str(in, true));
        return false;
    }
    *out_shape(g, op) = shape2(in.d[0], op->a.out);
    return true;
}

static void linear_add_params(Graph *g, int id) {
    Op *op = &g->ops[id];
    ir_add_param(g, id, PARAM_WEIGHT, arena_printf("%s.weight", op->pname),
                 (Shape){2, {op->a.out, in_shape(g, op, 0)->d[1]}}, true);
    if (op->a.bias)
        ir_add_param(g, id, PARAM_BIAS, arena_printf("%s.bias", op->pname), (Shape){1, {op->a.out}}, true);
}

static double linear_flops(const Graph *g, const Op *op) {
    double in = g->values[op->in[0]].shape.d[1];
    return 2 * in * op->a.out + (op->a.bias ? op->a.out : 0);
}

static void linear_print_attrs(const Op *op, char *buf, size_t size) {
    attr_append(buf, size, "out=%d", op->a.out);
    if (!op->a.bias)
        attr_append(buf, size, "bias=false");
    if (op->a.init)
        attr_append(buf, size, "init=%s", op->a.init);
}

/* Register-blocked kernels with constant trip counts. Vectors (cnn_vec) run along the
 * input features k, where x, W, dx and dW are all contiguous; a register tile holds TI x TO
 * (forward), TI x KV (dx) or TO x KV (dW) vector accumulators, so that every vector loaded
 * feeds several fused multiply-adds. The features left over after the last whole vector, and
 * compilers without vector types, take scalar loops. Every output element has one writer and
 * one summation order, whatever the thread count. */
enum { LIN_TI = 4, LIN_TO = 3, LIN_KV = 3, LIN_TO1 = 8 };
#define LIN_TI_STR "4" /* LIN_TI, spelled for the generated C */

/* The store of one forward output: sum (a C expression) for output o0 + u of image row, through
 * the bias and the fused epilogue. */
static void lin_emit_store(Emit *e, const Op *op, const char *sum, const char *row) {
    Cbuf *c = e->c;
    cb_line(c, "        const int oc = o0 + u;");
    cb_line(c, "        const float v = %s%s;", op->a.bias ? "b[oc] + " : "", sum);
    cb_line(c, "        y[(ptrdiff_t)(%s) * OF + oc] = %s;", row, emit_epilogue(e, op, "v", "oc"));
}

/* One forward tile loop: jobs of ti images x to outputs over the images from first (a C
 * expression) on, in blocks of ti (njobs_img blocks, a C expression); the outputs past the end
 * of a ragged last block repeat the block's first and are not stored, and so do the images
 * (which a caller only has in the ti = 1 loop, where there are none). */
static void linear_emit_tiles(Emit *e, const Op *op, int ti, int to, const char *first, const char *blocks) {
    Cbuf *c = e->c;
    cb_line(c, "{");
    cb_line(c, "enum { TI = %d, TO = %d, OB = (OF + TO - 1) / TO };", ti, to);
    cb_line(c, "const int IB = %s, I0 = %s;", blocks, first);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < IB * OB; job++) {");
    cb_line(c, "const int i0 = I0 + job / OB * TI, o0 = job %% OB * TO;");
    cb_line(c, "const float *xr[TI], *wr[TO];");
    cb_line(c, "for (int t = 0; t < TI; t++)");
    cb_line(c, "    xr[t] = x + (ptrdiff_t)(i0 + t < n ? i0 + t : i0) * IF;");
    cb_line(c, "for (int u = 0; u < TO; u++)");
    cb_line(c, "    wr[u] = w + (ptrdiff_t)(o0 + u < OF ? o0 + u : o0) * IF;");
    cb_line(c, "float s[TI][TO];");
    cb_line(c, "int k = 0;");
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "cnn_vec acc[TI][TO];");
    cb_line(c, "for (int t = 0; t < TI; t++)");
    cb_line(c, "    for (int u = 0; u < TO; u++)");
    cb_line(c, "        acc[t][u] = (cnn_vec){0};");
    cb_line(c, "for (; k + CNN_VW <= IF; k += CNN_VW) {");
    cb_line(c, "cnn_vec xv[TI], wv[TO];");
    cb_line(c, "for (int t = 0; t < TI; t++)");
    cb_line(c, "    memcpy(&xv[t], xr[t] + k, sizeof xv[t]);");
    cb_line(c, "for (int u = 0; u < TO; u++)");
    cb_line(c, "    memcpy(&wv[u], wr[u] + k, sizeof wv[u]);");
    cb_line(c, "for (int t = 0; t < TI; t++)");
    cb_line(c, "    for (int u = 0; u < TO; u++)");
    cb_line(c, "        acc[t][u] += xv[t] * wv[u];");
    cb_line(c, "}");
    cb_line(c, "for (int t = 0; t < TI; t++)");
    cb_line(c, "    for (int u = 0; u < TO; u++) {");
    cb_line(c, "        float v = 0.0f;");
    cb_line(c, "        for (int j = 0; j < CNN_VW; j++)");
    cb_line(c, "            v += acc[t][u][j];");
    cb_line(c, "        s[t][u] = v;");
    cb_line(c, "    }");
    cb_line(c, "#else");
    cb_line(c, "for (int t = 0; t < TI; t++)");
    cb_line(c, "    for (int u = 0; u < TO; u++)");
    cb_line(c, "        s[t][u] = 0.0f;");
    cb_line(c, "#endif");
    cb_line(c, "for (; k < IF; k++)");
    cb_line(c, "    for (int t = 0; t < TI; t++)");
    cb_line(c, "        for (int u = 0; u < TO; u++)");
    cb_line(c, "            s[t][u] += xr[t][k] * wr[u][k];");
    cb_line(c, "for (int t = 0; t < TI && i0 + t < n; t++)");
    cb_line(c, "    for (int u = 0; u < TO && o0 + u < OF; u++) {");
    lin_emit_store(e, op, "s[t][u]", "i0 + t");
    cb_line(c, "    }");
    cb_line(c, "}");
    cb_line(c, "}");
}

/* Batches of 32 images and more (16 without AVX-512) take a second kernel with the IMAGES in
 * the vector lanes: x is first transposed into blocks of IBW = 2 vectors of images,
 * xt[block][k][j] = x[block * IBW + j][k] (zero past n), then a job (block of images, TOB
 * outputs) holds TOB x 2 vector accumulators over the whole reduction: per feature k, 2 vector
 * loads and TOB broadcast weights feed 2 TOB fused multiply-adds (TOB = 12 with AVX-512's 32
 * registers, 6 else), and no lanes are summed at the end. The tiles above (vectors along k)
 * load a vector of x and of W for every 1.7 multiply-adds, from L2 once the rows outgrow L1:
 * simplecnn's 3136 -> 128 at batch 64, one thread, alone: 0.87 ms (59 GFLOP/s) there, 0.43 ms
 * (120 GFLOP/s) here, transposition included. Taken for 64 features and 16 outputs at least
 * (a classifier of 10 classes stays with the tiles); the scratch holds the transposed blocks. */
enum { LIN_IBW_MAX = 32, LIN_MIN_BATCH = 32, LIN_MIN_IF = 64, LIN_MIN_OF = 16 };

static bool lin_lanes_takes(const Graph *g, const Op *op) {
    Shape in = g->values[op->in[0]].shape;
    return in.d[0] >= LIN_MIN_BATCH && in.d[1] >= LIN_MIN_IF && op->a.out >= LIN_MIN_OF;
}

static int64_t linear_scratch(const Graph *g, const Op *op) {
    if (!lin_lanes_takes(g, op))
        return 0;
    Shape in = g->values[op->in[0]].shape;
    return (int64_t)(in.d[0] + LIN_IBW_MAX - 1) / LIN_IBW_MAX * LIN_IBW_MAX * in.d[1];
}

static void linear_emit_lanes(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    cb_line(c, "#if CNN_VECTORS");
    cb_line(c, "if (n >= 2 * CNN_VW) { /* the images in the lanes */");
    cb_line(c, "#if defined(__AVX512F__)");
    cb_line(c, "enum { TOB = 12 };");
    cb_line(c, "#else");
    cb_line(c, "enum { TOB = 6 };");
    cb_line(c, "#endif");
    cb_line(c, "enum { IBW = 2 * CNN_VW, OBK = (OF + TOB - 1) / TOB, KC = 64 };");
    cb_line(c, "const int nb = (n + IBW - 1) / IBW;");
    cb_line(c, "float *const xt = scratch; /* [nb][IF][IBW] */");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < nb * ((IF + KC - 1) / KC); job++) { /* transpose KC features of a block */");
    cb_line(c, "const int bb = job / ((IF + KC - 1) / KC), k0 = job %% ((IF + KC - 1) / KC) * KC;");
    cb_line(c, "const int k1 = IF - k0 < KC ? IF : k0 + KC;");
    cb_line(c, "float *const xb = xt + (ptrdiff_t)bb * IF * IBW;");
    cb_line(c, "for (int j = 0; j < IBW; j++) {");
    cb_line(c, "const int i = bb * IBW + j;");
    cb_line(c, "if (i < n)");
    cb_line(c, "    for (int k = k0; k < k1; k++)");
    cb_line(c, "        xb[(ptrdiff_t)k * IBW + j] = x[(ptrdiff_t)i * IF + k];");
    cb_line(c, "else");
    cb_line(c, "    for (int k = k0; k < k1; k++)");
    cb_line(c, "        xb[(ptrdiff_t)k * IBW + j] = 0.0f;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int job = 0; job < nb * OBK; job++) {");
    cb_line(c, "const int bb = job / OBK, o0 = job %% OBK * TOB;");
    cb_line(c, "const float *wr[TOB];");
    cb_line(c, "for (int u = 0; u < TOB; u++) /* rows past OF repeat the block's first, not stored */");
    cb_line(c, "    wr[u] = w + (ptrdiff_t)(o0 + u < OF ? o0 + u : o0) * IF;");
    cb_line(c, "const float *const xb = xt + (ptrdiff_t)bb * IF * IBW;");
    cb_line(c, "cnn_vec acc[TOB][2];");
    cb_line(c, "for (int u = 0; u < TOB; u++)");
    cb_line(c, "    acc[u][0] = acc[u][1] = (cnn_vec){0};");
    cb_line(c, "for (int k = 0; k < IF; k++) {");
    cb_line(c, "cnn_vec xv[2];");
    cb_line(c, "memcpy(xv, xb + (ptrdiff_t)k * IBW, sizeof xv);");
    cb_line(c, "for (int u = 0; u < TOB; u++) {");
    cb_line(c, "const float wv = wr[u][k];");
    cb_line(c, "acc[u][0] += wv * xv[0];");
    cb_line(c, "acc[u][1] += wv * xv[1];");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "float r[TOB][IBW];");
    cb_line(c, "memcpy(r, acc, sizeof r);");
    cb_line(c, "for (int u = 0; u < TOB && o0 + u < OF; u++)");
    cb_line(c, "    for (int j = 0; j < IBW && bb * IBW + j < n; j++) {");
    lin_emit_store(e, op, "r[u][j]", "bb * IBW + j");
    cb_line(c, "    }");
    cb_line(c, "}");
    cb_line(c, "return;");
    cb_line(c, "}");
    cb_line(c, "#endif");
}

/* y[i][o] = b[o] + sum_k x[i][k] w[o][k]: the whole blocks of LIN_TI images in jobs of
 * LIN_TI images x LIN_TO outputs, then the images left over (all of them at batch 1) one at a
 * time in jobs of LIN_TO1 outputs, so that no image is computed twice. */
static void linear_emit_forward(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    cb_line(c, "enum { IF = %d, OF = %d };", emit_in_shape(e, op, 0).d[1], op->a.out);
    emit_epilogue_setup(e, op, op->a.out);
    if (lin_lanes_takes(e->g, op))
        linear_emit_lanes(e, op);
    linear_emit_tiles(e, op, LIN_TI, LIN_TO, "0", "n / TI");
    cb_line(c, "if (n %% %d)", LIN_TI);
    linear_emit_tiles(e, op, 1, LIN_TO1, "n / " LIN_TI_STR " * " LIN_TI_STR, "n % " LIN_TI_STR);
}

/* The k loop of a backward tile: R rows (images or outputs) of accumulators, each a sum over m
 * < mcount of coef(r, m) * src(m)[k]; LIN_KV vectors of k at a time, then one, then scalars.
 * vstore and sstore write one accumulator (%1$s: it, %2$s: its offset from k). */
static void lin_k_loop(Cbuf *c, const char *mcount, const char *src_row, const char *coef, const char *vstore,
                       const char *sstore) {
    for (int pass = 0; pass < 3; pass++) {
        if (pass == 0) {
            cb_line(c, "#if CNN_VECTORS");
            cb_line(c, "for (; k + LIN_KV * CNN_VW <= IF; k += LIN_KV * CNN_VW) {");
        } else if (pass == 1) {
            cb_line(c, "for (; k + CNN_VW <= IF; k += CNN_VW) {");
        } else {
            cb_line(c, "#endif");
            cb_line(c, "for (; k < IF; k++) {");
        }
        if (pass < 2) {
            int nv = pass == 0 ? LIN_KV : 1;
            cb_line(c, "cnn_vec acc[RB][%d];", nv);
            cb_line(c, "for (int r = 0; r < RB; r++)");
            cb_line(c, "    for (int v = 0; v < %d; v++)", nv);
            cb_line(c, "        acc[r][v] = (cnn_vec){0};");
            cb_line(c, "for (int m = 0; m < %s; m++) {", mcount);
            cb_line(c, "cnn_vec sv[%d];", nv);
            cb_line(c, "memcpy(sv, %s + k, sizeof sv);", src_row);
            cb_line(c, "for (int r = 0; r < RB; r++) {");
            cb_line(c, "const float g = %s;", coef);
            cb_line(c, "for (int v = 0; v < %d; v++)", nv);
            cb_line(c, "    acc[r][v] += g * sv[v];");
            cb_line(c, "}");
            cb_line(c, "}");
            cb_line(c, "for (int r = 0; r < R; r++)");
            cb_line(c, "    for (int v = 0; v < %d; v++) {", nv);
            cb_line(c, "        %s;", arena_printf(vstore, "acc[r][v]", "CNN_VW * v"));
            cb_line(c, "    }");
        } else {
            cb_line(c, "float acc[RB];");
            cb_line(c, "for (int r = 0; r < RB; r++)");
            cb_line(c, "    acc[r] = 0.0f;");
            cb_line(c, "for (int m = 0; m < %s; m++) {", mcount);
            cb_line(c, "const float sv = %s[k];", src_row);
            cb_line(c, "for (int r = 0; r < RB; r++) {");
            cb_line(c, "const float g = %s;", coef);
            cb_line(c, "acc[r] += g * sv;");
            cb_line(c, "}");
            cb_line(c, "}");
            cb_line(c, "for (int r = 0; r < R; r++) {");
            cb_line(c, "    %s;", arena_printf(sstore, "acc[r]", "0"));
            cb_line(c, "}");
        }
        cb_line(c, "}");
    }
}

/* dx[i][k] = sum_o dy[i][o] w[o][k] (jobs of TI images); dW[o][k] += sum_i dy[i][o] x[i][k]
 * (jobs of TO outputs, each the only writer of its rows); db[o] += sum_i dy[i][o]. Rows past
 * the end of a ragged last block repeat the block's first and are not stored. */
static void linear_emit_backward(Emit *e, const Op *bwd, const Op *fwd) {
    Cbuf *c = e->c;
    cb_line(c, "enum { IF = %d, OF = %d, LIN_KV = %d };", emit_in_shape(e, fwd, 0).d[1], fwd->a.out, LIN_KV);
    if (bwd->out >= 0) {
        cb_line(c, "/* dx */ {");
        cb_line(c, "enum { RB = %d };", LIN_TI);
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int ib = 0; ib < (n + RB - 1) / RB; ib++) {");
        cb_line(c, "const int i0 = ib * RB, R = n - i0 < RB ? n - i0 : RB;");
        cb_line(c, "const float *dyr[RB];");
        cb_line(c, "for (int r = 0; r < RB; r++)");
        cb_line(c, "    dyr[r] = dy + (ptrdiff_t)(i0 + r < n ? i0 + r : i0) * OF;");
        cb_line(c, "int k = 0;");
        lin_k_loop(c, "OF", "(w + (ptrdiff_t)m * IF)", "dyr[r][m]",
                   "memcpy(dx + (ptrdiff_t)(i0 + r) * IF + k + %2$s, &%1$s, sizeof %1$s)",
                   "dx[(ptrdiff_t)(i0 + r) * IF + k] = %1$s");
        cb_line(c, "}");
        cb_line(c, "}");
    }
    if (bwd->wrt == 0) {
        cb_line(c, "/* dW, db */ {");
        cb_line(c, "enum { RB = %d };", LIN_TO);
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int ob = 0; ob < (OF + RB - 1) / RB; ob++) {");
        cb_line(c, "const int o0 = ob * RB, R = OF - o0 < RB ? OF - o0 : RB;");
        cb_line(c, "int oi[RB];");
        cb_line(c, "for (int r = 0; r < RB; r++)");
        cb_line(c, "    oi[r] = o0 + r < OF ? o0 + r : o0;");
        cb_line(c, "int k = 0;");
        lin_k_loop(c, "n", "(x + (ptrdiff_t)m * IF)", "dy[(ptrdiff_t)m * OF + oi[r]]",
                   "float *d = dw + (ptrdiff_t)(o0 + r) * IF + k + %2$s; cnn_vec t; memcpy(&t, d, sizeof t); t += %1$s; "
                   "memcpy(d, &t, sizeof t)",
                   "dw[(ptrdiff_t)(o0 + r) * IF + k] += %1$s");
        if (fwd->a.bias) {
            cb_line(c, "for (int r = 0; r < R; r++) {");
            cb_line(c, "float gb = 0.0f;");
            cb_line(c, "for (int i = 0; i < n; i++)");
            cb_line(c, "    gb += dy[(ptrdiff_t)i * OF + o0 + r];");
            cb_line(c, "db[o0 + r] += gb;");
            cb_line(c, "}");
        }
        cb_line(c, "}");
        cb_line(c, "}");
    }
}

/* The PyTorch twin. */
static const char *linear_torch_module(const TorchCtx *t, const Op *op) {
    return arena_printf("nn.Linear(%d, %d%s)", torch_in_shape(t, op, 0).d[1], op->a.out, op->a.bias ? "" : ", bias=False");
}
static const char *linear_torch(TorchCtx *t, const Op *op) {
    return arena_printf("%s(%s)", torch_module_ref(op), torch_in(t, op, 0));
}

const OpInfo OP_LINEAR_info = {
    .name = "linear", .is_layer = true, .args = linear_args, .set_attrs = linear_set_attrs,
    .infer = linear_infer, .add_params = linear_add_params, .flops = linear_flops,
    .print_attrs = linear_print_attrs, .param_kind = "linear",
    .emit_forward = linear_emit_forward, .emit_backward = linear_emit_backward, .bwd_needs = BWD_X,
    .epilogue = true, .scratch = linear_scratch,
    .torch_module = linear_torch_module, .torch_call = linear_torch,
};
