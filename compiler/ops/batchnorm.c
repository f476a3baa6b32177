/* batchnorm.c: batch normalization over channels (images) or features (flat tensors),
 * torch.nn.BatchNorm2d / BatchNorm1d semantics. Attributes: eps, momentum.
 * Parameters: weight [C], bias [C] (trained), running_mean [C], running_var [C] (buffers). */
#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../emit_torch.h"
#include "../ops.h"

static const ArgSpec batchnorm_args[] = {ARG_NUM("eps", "1e-5", RANGE(1e-30, 1)), ARG_NUM("momentum", "0.1", RANGE(0, 1)),
                                         ARG_END};

static bool batchnorm_set_attrs(Graph *g, Op *op, const Val *v) {
    op->a.eps = val_num(&v[0]);
    op->a.momentum = val_num(&v[1]);
    return true;
}

static bool batchnorm_infer(Graph *g, Op *op) {
    *out_shape(g, op) = *in_shape(g, op, 0);
    return true;
}

static void batchnorm_add_params(Graph *g, int id) {
    Op *op = &g->ops[id];
    Shape c = {1, {in_shape(g, op, 0)->d[1]}};
    ir_add_param(g, id, PARAM_WEIGHT, arena_printf("%s.weight", op->pname), c, true);
    ir_add_param(g, id, PARAM_BIAS, arena_printf("%s.bias", op->pname), c, true);
    ir_add_param(g, id, PARAM_RUNNING_MEAN, arena_printf("%s.running_mean", op->pname), c, false);
    ir_add_param(g, id, PARAM_RUNNING_VAR, arena_printf("%s.running_var", op->pname), c, false);
}

static double batchnorm_flops(const Graph *g, const Op *op) { return same_shape_flops(g, op, 2); }

static void batchnorm_print_attrs(const Op *op, char *buf, size_t size) {
    if (op->a.eps != 1e-5)
        attr_append(buf, size, "eps=%g", op->a.eps);
    if (op->a.momentum != 0.1)
        attr_append(buf, size, "momentum=%g", op->a.momentum);
}

/* A max pool fused after the batchnorm (op->epi_pool, training graphs, pass_fuse.c): its
 * windows tile the image (kernel = stride, no padding, floor mode) and hold at most 16
 * elements. Declares the sizes of the plane (IH, IW), of the pooled plane (OH, OW) and of the
 * window (KH, KW). */
static const Op *bn_pool(const Emit *e, const Op *op, Shape in) {
    const Op *pool = &e->g->ops[op->epi_pool];
    Shape out = emit_out_shape(e, pool);
    cb_line(e->c, "enum { IH = %d, IW = %d, OH = %d, OW = %d, KH = %d, KW = %d };", in.d[2], in.d[3], out.d[2], out.d[3],
            pool->a.kh, pool->a.kw);
    return pool;
}

/* The scan of one pooling window of v_j = act(x_j * scale + shift), the window's elements x_j
 * at xr[(j / KW) * IW + KW * ow + j % KW]: as pool.c's tiled max pool, m is the first maximum
 * in row-major order, a NaN replacing it (the last NaN wins, as in PyTorch), and t_j says
 * that element j replaced the running maximum (the one chosen is the last j with t_j; j = 0
 * when none did). */
static void bn_pool_scan(const Emit *e, const Op *op, const Op *pool) {
    Cbuf *c = e->c;
    int k = pool->a.kh * pool->a.kw;
    for (int j = 0; j < k; j++)
        cb_line(c, "const float v%d = %s;", j,
                emit_epilogue(e, op, arena_printf("(xr[%d * IW + KW * ow + %d] * scale + shift)", j / pool->a.kw, j % pool->a.kw), "ch"));
    cb_line(c, "float m = v0;");
    for (int j = 1; j < k; j++) {
        cb_line(c, "const int t%d = v%d > m || isnan(v%d);", j, j, j);
        cb_line(c, "m = t%d ? v%d : m;", j, j);
    }
}

/* Stores the pooled values of the plane xi (scale and shift in scope) to the pooled plane yo. */
static void bn_pool_store(const Emit *e, const Op *op, const Op *pool) {
    Cbuf *c = e->c;
    cb_line(c, "for (int oh = 0; oh < OH; oh++) {");
    cb_line(c, "const float *xr = xi + oh * KH * IW;");
    emit_simd(c, emit_out_shape(e, pool).d[3]);
    cb_line(c, "for (int ow = 0; ow < OW; ow++) {");
    bn_pool_scan(e, op, pool);
    cb_line(c, "yo[oh * OW + ow] = m;");
    cb_line(c, "}");
    cb_line(c, "}");
}

/* Inference: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias, per channel;
 * with a max pool fused after it (a training graph's inference code), the pooled values. */
static void batchnorm_emit_forward(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    Shape s = emit_in_shape(e, op, 0);
    cb_line(c, "enum { C = %d, HW = %d };", s.d[1], s.rank == 4 ? s.d[2] * s.d[3] : 1);
    const Op *pool = op->epi_pool >= 0 ? bn_pool(e, op, s) : NULL;
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int ic = 0; ic < n * C; ic++) {");
    cb_line(c, "const int ch = ic %% C;");
    cb_line(c, "const float scale = w[ch] / sqrtf(var[ch] + %s);", emit_float(op->a.eps));
    cb_line(c, "const float shift = b[ch] - mean[ch] * scale;");
    cb_line(c, "const float *xi = x + (ptrdiff_t)ic * HW;");
    if (pool) {
        cb_line(c, "float *yo = y + (ptrdiff_t)ic * OH * OW;");
        bn_pool_store(e, op, pool);
    } else {
        cb_line(c, "float *yo = y + (ptrdiff_t)ic * HW;");
        cb_line(c, "for (int p = 0; p < HW; p++)");
        cb_line(c, "    yo[p] = %s;", emit_epilogue(e, op, "(xi[p] * scale + shift)", "ch"));
    }
    cb_line(c, "}");
}

/* Lanes of the per-plane partial sums: independent float accumulators that the C compiler
 * keeps in vector registers (a plane of H*W values is summed in LANES columns, then the
 * columns are added), instead of one serial chain of double additions per element. */
enum { LANES = 16 };

/* Emits, for the plane xi (and gi) of HW values, the float sums named names[k] of the terms
 * terms[k] (expressions of the index q), in one pass over the plane, in LANES partial sums.
 * With vector types the partial sums are vectors and vterms[k] the same terms of the vectors
 * xq (and gq, when grad) loaded at q: the same additions in the same order (lane j sums the
 * elements q = j mod LANES), which the C compiler did not vectorize from the scalar loop
 * inside the OpenMP region (simplecnn's batchnorm backward at 28x28: 4.5 cycles an element). */
static void plane_sums(Cbuf *c, int k, const char *const *names, const char *const *terms, const char *const *vterms,
                       bool grad) {
    cb_line(c, "#if CNN_VECTORS");
    for (int j = 0; j < k; j++)
        cb_line(c, "cnn_vec %s_v[%d / CNN_VW];", names[j], LANES);
    cb_line(c, "for (int u = 0; u < %d / CNN_VW; u++)", LANES);
    cb_line(c, "    %s_v[u] = (cnn_vec){0}%s", names[0], k == 1 ? ";" : ",");
    for (int j = 1; j < k; j++)
        cb_line(c, "    %s_v[u] = (cnn_vec){0}%s", names[j], j == k - 1 ? ";" : ",");
    cb_line(c, "for (int p = 0; p + %d <= HW; p += %d)", LANES, LANES);
    cb_line(c, "for (int u = 0; u < %d / CNN_VW; u++) {", LANES);
    cb_line(c, "cnn_vec xq;");
    cb_line(c, "memcpy(&xq, xi + p + u * CNN_VW, sizeof xq);");
    if (grad) {
        cb_line(c, "cnn_vec gq;");
        cb_line(c, "memcpy(&gq, gi + p + u * CNN_VW, sizeof gq);");
    }
    for (int j = 0; j < k; j++)
        cb_line(c, "%s_v[u] += %s;", names[j], vterms[j]);
    cb_line(c, "}");
    for (int j = 0; j < k; j++) {
        cb_line(c, "float %s_l[%d];", names[j], LANES);
        cb_line(c, "memcpy(%s_l, %s_v, sizeof %s_l);", names[j], names[j], names[j]);
    }
    cb_line(c, "#else");
    for (int j = 0; j < k; j++)
        cb_line(c, "float %s_l[%d] = {0.0f};", names[j], LANES);
    cb_line(c, "for (int p = 0; p + %d <= HW; p += %d) {", LANES, LANES);
    cb_line(c, "for (int j = 0; j < %d; j++) {", LANES);
    cb_line(c, "const int q = p + j;");
    for (int j = 0; j < k; j++)
        cb_line(c, "%s_l[j] += %s;", names[j], terms[j]);
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#endif");
    for (int j = 0; j < k; j++)
        cb_line(c, "float %s = 0.0f;", names[j]);
    cb_line(c, "for (int j = 0; j < %d; j++) {", LANES);
    for (int j = 0; j < k; j++)
        cb_line(c, "%s += %s_l[j];", names[j], names[j]);
    cb_line(c, "}");
    cb_line(c, "for (int q = HW / %d * %d; q < HW; q++) {", LANES, LANES);
    for (int j = 0; j < k; j++)
        cb_line(c, "%s += %s;", names[j], terms[j]);
    cb_line(c, "}");
}

/* Data-parallel training (CNN_MPI, synchronized batchnorm as torch.nn.SyncBatchNorm): the
 * batch is split over ranks, so the per-channel sums and the image count are summed over them
 * first (cnn_mpi_sum), then mu comes from the global sum and the squared deviations from it
 * are summed the same way: every rank normalizes with the statistics of the whole batch.
 * Emits those sums and opens the per-channel loop with mu (the mean) and sq (the sum of
 * squared deviations) over count = N*H*W values of all ranks. */
static void batch_stats_mpi(Cbuf *c) {
    cb_line(c, "double *const bn_sum = (double *)(void *)scratch, *const bn_sq = bn_sum + C + 1; /* in the scratch */");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int ch = 0; ch < C; ch++) {");
    cb_line(c, "double sum = 0.0;");
    cb_line(c, "for (int i = 0; i < n; i++) {");
    cb_line(c, "const float *xi = x + ((ptrdiff_t)i * C + ch) * HW;");
    cb_line(c, "for (int p = 0; p < HW; p++)");
    cb_line(c, "    sum += xi[p];");
    cb_line(c, "}");
    cb_line(c, "bn_sum[ch] = sum;");
    cb_line(c, "}");
    cb_line(c, "bn_sum[C] = (double)n;");
    cb_line(c, "cnn_mpi_sum(bn_sum, C + 1);");
    cb_line(c, "const double count = bn_sum[C] * HW;");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int ch = 0; ch < C; ch++) {");
    cb_line(c, "const double mu = bn_sum[ch] / count;");
    cb_line(c, "double sq = 0.0;");
    cb_line(c, "for (int i = 0; i < n; i++) {");
    cb_line(c, "const float *xi = x + ((ptrdiff_t)i * C + ch) * HW;");
    cb_line(c, "for (int p = 0; p < HW; p++)");
    cb_line(c, "    sq += (xi[p] - mu) * (xi[p] - mu);");
    cb_line(c, "}");
    cb_line(c, "bn_sq[ch] = sq;");
    cb_line(c, "}");
    cb_line(c, "cnn_mpi_sum(bn_sq, C);");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int ch = 0; ch < C; ch++) {");
    cb_line(c, "const double mu = bn_sum[ch] / count, sq = bn_sq[ch];");
}

/* One process: opens the per-channel loop (in parallel over channels) and computes mu and sq
 * over the count = N*H*W values of channel ch in one streaming pass: each (image, channel)
 * plane is summed twice while it sits in the L1 cache, for its sum s and the squared
 * deviations m2 from its own float mean m, in LANES float partial sums; the planes are
 * combined in double (sum of x^2 over a plane = m2 + m * (2 s - HW m)), so that sq never
 * subtracts two large float sums. The backward (backward = true) sums in the same second
 * pass dy (sd) and dy * (x - m) (sdx), and combines them into sdy and sdxm = the sum of
 * dy * (x - mu). */
static void batch_stats_local(Cbuf *c, bool backward) {
    static const char *const s_name[] = {"s"}, *const s_term[] = {"xi[q]"}, *const s_vterm[] = {"xq"};
    static const char *const m_name[] = {"m2", "sd", "sdx"};
    static const char *const m_term[] = {"(xi[q] - m) * (xi[q] - m)", "gi[q]", "gi[q] * (xi[q] - m)"};
    static const char *const m_vterm[] = {"(xq - m) * (xq - m)", "gq", "gq * (xq - m)"};
    cb_line(c, "const double count = (double)n * HW;");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int ch = 0; ch < C; ch++) {");
    cb_line(c, "double sum = 0.0, sum2 = 0.0;");
    if (backward)
        cb_line(c, "double sdy = 0.0, sdxp = 0.0, smd = 0.0;");
    cb_line(c, "for (int i = 0; i < n; i++) {");
    cb_line(c, "const float *xi = x + ((ptrdiff_t)i * C + ch) * HW;");
    if (backward)
        cb_line(c, "const float *gi = dy + ((ptrdiff_t)i * C + ch) * HW;");
    plane_sums(c, 1, s_name, s_term, s_vterm, false);
    cb_line(c, "const float m = s * (1.0f / HW);");
    plane_sums(c, backward ? 3 : 1, m_name, m_term, m_vterm, backward);
    cb_line(c, "sum += (double)s;");
    cb_line(c, "sum2 += (double)m2 + (double)m * (2.0 * (double)s - (double)HW * (double)m);");
    if (backward) {
        cb_line(c, "sdy += (double)sd;");
        cb_line(c, "sdxp += (double)sdx;");
        cb_line(c, "smd += (double)m * (double)sd;");
    }
    cb_line(c, "}");
    cb_line(c, "const double mu = sum / count;");
    cb_line(c, "const double sq = sum2 - sum * mu > 0.0 ? sum2 - sum * mu : 0.0;");
    if (backward)
        cb_line(c, "const double sdxm = sdxp + smd - mu * sdy;");
}

/* The training scale and shift of channel ch from mu and sq (the forward's, and the same
 * expressions in a backward that recomputes the forward's output: the same floats). */
static void bn_train_scale(Cbuf *c, const Op *op) {
    cb_line(c, "const double biased = sq / count;");
    cb_line(c, "const float scale = (float)(w[ch] / sqrt(biased + %s));", emit_float(op->a.eps));
    cb_line(c, "const float shift = (float)(b[ch] - mu * scale);");
}

/* Training: each channel is normalized with the statistics of this batch, over N*H*W
 * values (the biased variance, as PyTorch normalizes), accumulated in double. With
 * o->update_stats the running statistics move as torch.nn.BatchNorm does:
 * r = (1 - momentum) * r + momentum * s, where the variance s is the unbiased one. With a
 * max pool fused after it (op->epi_pool), each plane's windows are scanned as they are
 * normalized and only the pooled values are stored. */
static void batchnorm_emit_forward_train(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    Shape s = emit_in_shape(e, op, 0);
    cb_line(c, "enum { C = %d, HW = %d };", s.d[1], s.rank == 4 ? s.d[2] * s.d[3] : 1);
    const Op *pool = op->epi_pool >= 0 ? bn_pool(e, op, s) : NULL;
    cb_line(c, "#ifdef CNN_MPI");
    batch_stats_mpi(c);
    cb_line(c, "#else");
    batch_stats_local(c, false);
    cb_line(c, "#endif");
    bn_train_scale(c, op);
    cb_line(c, "for (int i = 0; i < n; i++) {");
    cb_line(c, "const float *xi = x + ((ptrdiff_t)i * C + ch) * HW;");
    if (pool) {
        cb_line(c, "float *yo = y + ((ptrdiff_t)i * C + ch) * OH * OW;");
        bn_pool_store(e, op, pool);
    } else {
        cb_line(c, "float *yo = y + ((ptrdiff_t)i * C + ch) * HW;");
        emit_simd(c, s.rank == 4 ? s.d[2] * s.d[3] : 1);
        cb_line(c, "for (int p = 0; p < HW; p++)");
        cb_line(c, "    yo[p] = %s;", emit_epilogue(e, op, "(xi[p] * scale + shift)", "ch"));
    }
    cb_line(c, "}");
    cb_line(c, "if (o->update_stats) {");
    cb_line(c, "const double unbiased = count > 1.0 ? sq / (count - 1.0) : biased;");
    cb_line(c, "mean[ch] = (float)((1.0 - %s) * mean[ch] + %s * mu);", emit_float(op->a.momentum),
            emit_float(op->a.momentum));
    cb_line(c, "var[ch] = (float)((1.0 - %s) * var[ch] + %s * unbiased);", emit_float(op->a.momentum),
            emit_float(op->a.momentum));
    cb_line(c, "}");
    cb_line(c, "}");
}

/* The end of a channel's backward, once its sums sdy and sdyx (and mu, invstd) are known: dw and
 * db take this rank's sums (the gradients are summed over ranks later); dx needs the sums over
 * the whole batch: with CNN_MPI, the channel loop closes, the sums are added over the ranks and
 * a second channel loop starts. Then dx = gk * g - gmean - gslope * (x - mu), g being the output
 * gradient dy, or (in_place) the gradient the fused backward already wrote to dx. Closes the
 * channel loop. */
static void bn_backward_tail(Cbuf *c, const Op *fwd, bool dw, bool db, bool dx, bool in_place, int hw) {
    if (dw)
        cb_line(c, "dw[ch] += (float)sdyx;");
    if (db)
        cb_line(c, "db[ch] += (float)sdy;");
    if (dx) {
        cb_line(c, "#ifdef CNN_MPI");
        cb_line(c, "bn_d[ch] = sdy;");
        cb_line(c, "bn_d[C + ch] = sdyx;");
        cb_line(c, "}");
        cb_line(c, "cnn_mpi_sum(bn_d, 2 * C);");
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int ch = 0; ch < C; ch++) {");
        cb_line(c, "const double mu = bn_sum[ch] / count, invstd = 1.0 / sqrt(bn_sq[ch] / count + %s);",
                emit_float(fwd->a.eps));
        cb_line(c, "const double sdy = bn_d[ch], sdyx = bn_d[C + ch];");
        cb_line(c, "#endif");
        cb_line(c, "const double k = w[ch] * invstd / count;");
        cb_line(c, "const float gk = (float)(w[ch] * invstd), gmean = (float)(k * sdy);");
        cb_line(c, "const float gslope = (float)(k * invstd * sdyx), muf = (float)mu;");
        cb_line(c, "for (int i = 0; i < n; i++) {");
        if (in_place)
            cb_line(c, "const float *xi = x + ((ptrdiff_t)i * C + ch) * HW;");
        else
            cb_line(c, "const float *xi = x + ((ptrdiff_t)i * C + ch) * HW, *gi = dy + ((ptrdiff_t)i * C + ch) * HW;");
        cb_line(c, "float *go = dx + ((ptrdiff_t)i * C + ch) * HW;");
        emit_simd(c, hw);
        cb_line(c, "for (int p = 0; p < HW; p++)");
        cb_line(c, "    go[p] = gk * %s - gmean - gslope * (xi[p] - muf);", in_place ? "go[p]" : "gi[p]");
        cb_line(c, "}");
    }
    cb_line(c, "}");
}

/* Backward, from the saved input (the batch statistics are recomputed rather than stored):
 * with xhat = (x - mu) * invstd over the M = N*H*W values of a channel,
 *   dx = w * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat)),
 *   dw += sum(dy * xhat), db += sum(dy).
 * One process: the statistics and both sums in one pass (batch_stats_local), then dx in
 * float as gk * dy - gmean - gslope * (x - mu). */
/* The backward with the max pool after it (and the activation between) fused in
 * (bwd->bwd_pool, pass_fuse.c), from the saved input x and the pool's output gradient dy.
 * Per channel: the batch statistics as the forward computed them (the same code), the same
 * scale and shift; then per plane, window by window, act(x * scale + shift) and the window's
 * maximum as the forward's scan picked it; the chosen element gets the activation's gradient
 * there (from the maximum and dy), the others 0 (as pool.c's tiled backward): that is the
 * batchnorm's output gradient, written to dx; it and its products with x - m (m the plane's
 * float mean) are summed while the plane is in the cache, with the same partial sums in the
 * same order as the unfused backward (batch_stats_local), so that the sums, and dx, are the
 * unfused code's to the bit; once the channel's sums are complete, dx is rewritten in place as
 * gk * dx - gmean - gslope * (x - mu). The plane of x is read three or four times from the
 * caches, instead of the activation's output, its gradient and the batchnorm's input each
 * being read from memory by three ops. */
static void batchnorm_emit_backward_pooled(Emit *e, const Op *bwd, const Op *fwd, bool dw, bool db) {
    static const char *const s_name[] = {"s"}, *const s_term[] = {"xi[q]"}, *const s_vterm[] = {"xq"};
    static const char *const names[] = {"sd", "sdx"};
    static const char *const terms[] = {"gi[q]", "gi[q] * (xi[q] - m)"};
    static const char *const vterms[] = {"gq", "gq * (xq - m)"};
    Cbuf *c = e->c;
    const Graph *g = e->g;
    Shape s = emit_in_shape(e, fwd, 0);
    cb_line(c, "enum { C = %d, HW = %d };", s.d[1], s.d[2] * s.d[3]);
    const Op *pool = bn_pool(e, fwd, s);
    const Op *pb = &g->ops[bwd->bwd_pool];
    const int k = pool->a.kh * pool->a.kw;
    cb_line(c, "#ifdef CNN_MPI");
    cb_line(c, "double *const bn_d = (double *)(void *)scratch + 2 * C + 1; /* after bn_sum and bn_sq */");
    batch_stats_mpi(c);
    cb_line(c, "#else");
    batch_stats_local(c, false);
    cb_line(c, "#endif");
    bn_train_scale(c, fwd);
    cb_line(c, "const double invstd = 1.0 / sqrt(sq / count + %s);", emit_float(fwd->a.eps));
    cb_line(c, "double sdy = 0.0, sdxp = 0.0, smd = 0.0;");
    cb_line(c, "for (int i = 0; i < n; i++) {");
    cb_line(c, "const float *xi = x + ((ptrdiff_t)i * C + ch) * HW;");
    cb_line(c, "const float *dyo = dy + ((ptrdiff_t)i * C + ch) * OH * OW;");
    cb_line(c, "float *gi = dx + ((ptrdiff_t)i * C + ch) * HW;");
    cb_line(c, "for (int oh = 0; oh < OH; oh++) {");
    cb_line(c, "const float *xr = xi + oh * KH * IW;");
    cb_line(c, "float *dr = gi + oh * KH * IW;");
    emit_simd(c, emit_out_shape(e, pool).d[3]);
    cb_line(c, "for (int ow = 0; ow < OW; ow++) {");
    bn_pool_scan(e, fwd, pool);
    if (pb->bwd_act > 0) {
        const Op *act = &g->ops[g->ops[pb->bwd_act].fwd];
        cb_line(c, "const float gm = %s; /* the activation's gradient */", op_info(act->kind)->act_dy(act, "m", "dyo[oh * OW + ow]"));
    } else {
        cb_line(c, "const float gm = dyo[oh * OW + ow];");
    }
    cb_line(c, "int later = 0;");
    for (int j = k - 1; j >= 1; j--) {
        cb_line(c, "dr[%d * IW + KW * ow + %d] = t%d && !later ? gm : 0.0f;", j / pool->a.kw, j % pool->a.kw, j);
        cb_line(c, "later |= t%d;", j);
    }
    cb_line(c, "dr[KW * ow] = later ? 0.0f : gm;");
    cb_line(c, "}");
    if (s.d[3] > emit_out_shape(e, pool).d[3] * pool->a.kw) {
        cb_line(c, "for (int h = 0; h < KH; h++)");
        cb_line(c, "    for (int col = OW * KW; col < IW; col++)");
        cb_line(c, "        dr[h * IW + col] = 0.0f;");
    }
    cb_line(c, "}");
    if (s.d[2] > emit_out_shape(e, pool).d[2] * pool->a.kh) {
        cb_line(c, "for (int p = OH * KH * IW; p < HW; p++)");
        cb_line(c, "    gi[p] = 0.0f;");
    }
    cb_line(c, "{");
    plane_sums(c, 1, s_name, s_term, s_vterm, false);
    cb_line(c, "const float m = s * (1.0f / HW);");
    plane_sums(c, 2, names, terms, vterms, true);
    cb_line(c, "sdy += (double)sd;");
    cb_line(c, "sdxp += (double)sdx;");
    cb_line(c, "smd += (double)m * (double)sd;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "const double sdxm = sdxp + smd - mu * sdy;");
    cb_line(c, "const double sdyx = sdxm * invstd;");
    bn_backward_tail(c, fwd, dw, db, true, true, s.d[2] * s.d[3]);
}

static void batchnorm_emit_backward(Emit *e, const Op *bwd, const Op *fwd) {
    Cbuf *c = e->c;
    Shape s = emit_in_shape(e, fwd, 0);
    const Graph *g = e->g;
    bool dw = fwd->param[PARAM_WEIGHT] >= 0 && g->params[fwd->param[PARAM_WEIGHT]].trained;
    bool db = fwd->param[PARAM_BIAS] >= 0 && g->params[fwd->param[PARAM_BIAS]].trained;
    if (bwd->bwd_pool > 0) {
        batchnorm_emit_backward_pooled(e, bwd, fwd, dw, db);
        return;
    }
    cb_line(c, "enum { C = %d, HW = %d };", s.d[1], s.rank == 4 ? s.d[2] * s.d[3] : 1);
    cb_line(c, "#ifdef CNN_MPI");
    if (bwd->out >= 0) /* after bn_sum and bn_sq in the scratch */
        cb_line(c, "double *const bn_d = (double *)(void *)scratch + 2 * C + 1;");
    batch_stats_mpi(c);
    cb_line(c, "const double invstd = 1.0 / sqrt(sq / count + %s);", emit_float(fwd->a.eps));
    cb_line(c, "double sdy = 0.0, sdyx = 0.0;");
    cb_line(c, "for (int i = 0; i < n; i++) {");
    cb_line(c, "const float *xi = x + ((ptrdiff_t)i * C + ch) * HW, *gi = dy + ((ptrdiff_t)i * C + ch) * HW;");
    cb_line(c, "for (int p = 0; p < HW; p++) {");
    cb_line(c, "sdy += gi[p];");
    cb_line(c, "sdyx += gi[p] * ((xi[p] - mu) * invstd);");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "#else");
    batch_stats_local(c, true);
    cb_line(c, "const double invstd = 1.0 / sqrt(sq / count + %s);", emit_float(fwd->a.eps));
    cb_line(c, "const double sdyx = sdxm * invstd;");
    cb_line(c, "#endif");
    bn_backward_tail(c, fwd, dw, db, bwd->out >= 0, false, s.rank == 4 ? s.d[2] * s.d[3] : 1);
}

/* The PyTorch twin: BatchNorm1d on features, BatchNorm2d on images. */
static const char *batchnorm_torch_module(const TorchCtx *t, const Op *op) {
    Shape in = torch_in_shape(t, op, 0);
    return arena_printf("nn.BatchNorm%dd(%d, eps=%s, momentum=%s)", in.rank == 4 ? 2 : 1, in.d[1], torch_float(op->a.eps),
                        torch_float(op->a.momentum));
}
static const char *batchnorm_torch(TorchCtx *t, const Op *op) {
    return arena_printf("%s(%s)", torch_module_ref(op), torch_in(t, op, 0));
}

/* The data-parallel (CNN_MPI) code's per-channel sums, in doubles, live in the op's scratch
 * rather than on the stack: bn_sum (C + 1) and bn_sq (C) in the forward, and bn_d (2C) after
 * them in the backward. Training graphs only; the plan keeps scratch 16-float aligned, so the
 * doubles are aligned. (A build without CNN_MPI leaves this scratch unused.) */
static int64_t batchnorm_channels(const Graph *g, const Op *op) {
    return g->values[op->in[0]].shape.d[1];
}
static int64_t batchnorm_scratch(const Graph *g, const Op *op) {
    return g->training ? 2 * (2 * batchnorm_channels(g, op) + 1) : 0;
}
static int64_t batchnorm_bwd_scratch(const Graph *g, const Op *bwd, const Op *fwd) {
    return 2 * (4 * batchnorm_channels(g, fwd) + 1);
}

const OpInfo OP_BATCHNORM_info = {
    .name = "batchnorm", .is_layer = true, .args = batchnorm_args, .set_attrs = batchnorm_set_attrs,
    .infer = batchnorm_infer, .add_params = batchnorm_add_params, .flops = batchnorm_flops,
    .print_attrs = batchnorm_print_attrs, .param_kind = "bn",
    .emit_forward = batchnorm_emit_forward, .emit_forward_train = batchnorm_emit_forward_train,
    .emit_backward = batchnorm_emit_backward, .bwd_needs = BWD_X,
    .scratch = batchnorm_scratch, .bwd_scratch = batchnorm_bwd_scratch,
    .epilogue = true, /* an activation after it, in inference and training */
    .fold_norm = true, /* into a conv, linear or add before it, at inference */
    .param_init = {"ones", "zeros", "zeros", "ones"}, /* as nn.BatchNorm2d */
    .torch_module = batchnorm_torch_module, .torch_call = batchnorm_torch,
};
