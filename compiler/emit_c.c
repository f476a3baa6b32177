/* emit_c.c: writes the generated C. One function per op (named after the op and its
 * parameters, with a comment citing the .cnn line and shapes), one entry point that calls them
 * in schedule order with the plan's offsets, and a header that documents the API.
 * The generated code includes only standard headers, allocates nothing and keeps no mutable
 * globals: all state is in the caller's parameter block and workspace. */
#include "emit_c.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "ir_print.h"
#include "ops.h"
#include "stack_bound.h"
#include "train_config.h"

void emit_epilogue_setup(const Emit *e, const Op *op, int channels) {
    if (op->epi_bn < 0)
        return;
    Cbuf *c = e->c;
    int64_t at = op_bn_scratch_at(e->g, op), cr = (channels + 15) / 16 * 16;
    /* the fused batchnorm as y * scale + shift; in the op's scratch, not on the stack */
    cb_line(c, "float *const bn_scale = scratch + %lld, *const bn_shift = scratch + %lld;", (long long)at, (long long)(at + cr));
    cb_line(c, "for (int ch = 0; ch < %d; ch++) {", channels);
    cb_line(c, "bn_scale[ch] = bnw[ch] / sqrtf(bnv[ch] + %s);", emit_float(e->g->ops[op->epi_bn].a.eps));
    cb_line(c, "bn_shift[ch] = bnb[ch] - bnm[ch] * bn_scale[ch];");
    cb_line(c, "}");
}

const char *emit_epilogue_with(const Emit *e, const Op *op, const char *v, const char *scale, const char *shift) {
    const char *x = v;
    if (op->epi_bn >= 0)
        x = arena_printf("(%s * %s + %s)", x, scale, shift);
    if (op->epi_act >= 0)
        x = op_info(e->g->ops[op->epi_act].kind)->act_expr(&e->g->ops[op->epi_act], x);
    return x;
}

const char *emit_epilogue(const Emit *e, const Op *op, const char *v, const char *ch) {
    return emit_epilogue_with(e, op, v, arena_printf("bn_scale[%s]", ch), arena_printf("bn_shift[%s]", ch));
}

bool emit_has_epilogue(const Op *op) { return op->epi_bn >= 0 || op->epi_act >= 0; }

void emit_epilogue_hoist(const Emit *e, const Op *op, const char *ch) {
    if (op->epi_bn >= 0)
        cb_line(e->c, "const float bn_s = bn_scale[%s], bn_t = bn_shift[%s]; /* channel %s's, in registers */", ch, ch, ch);
}

const char *emit_epilogue_hoisted(const Emit *e, const Op *op, const char *v) {
    return emit_epilogue_with(e, op, v, "bn_s", "bn_t");
}

void emit_pack_begin(Emit *e, const char *var, const char *scratch_expr, int64_t floats) {
    if (!e->packable) {
        cb_line(e->c, "float *const %s = %s;", var, scratch_expr);
        cb_line(e->c, "{");
        return;
    }
    e->pack_floats = floats;
    cb_line(e->c, "float *const %s = pk ? pk : %s; /* %lld floats: packed by NAME_pack, else here */", var,
            scratch_expr, (long long)floats);
    cb_line(e->c, "if (!pk || pack_now) {");
}

void emit_pack_end(Emit *e) {
    cb_line(e->c, "}");
    if (e->packable) {
        cb_line(e->c, "if (pack_now)");
        cb_line(e->c, "    return;");
    }
}

/* NAME_PACK_FLOATS of the source emit_source wrote last, for its header. */
static int64_t last_pack_floats;

/* The window's rows and columns are hv and wv (names free in the caller's function). */
static void window_reduce(Cbuf *c, bool max, bool argmax, const char *src, const char *pitch, const char *hv,
                          const char *wv) {
    if (max) {
        cb_line(c, "float m = -INFINITY;");
        if (argmax)
            cb_line(c, "int at = h0 * %s + w0;", pitch);
        cb_line(c, "for (int %s = h0; %s < h1; %s++)", hv, hv, hv);
        cb_line(c, "    for (int %s = w0; %s < w1; %s++) {", wv, wv, wv);
        cb_line(c, "        const float v = %s[%s * %s + %s];", src, hv, pitch, wv);
        if (argmax) {
            cb_line(c, "        if (v > m || isnan(v)) {");
            cb_line(c, "            m = v;");
            cb_line(c, "            at = %s * %s + %s;", hv, pitch, wv);
            cb_line(c, "        }");
        } else {
            cb_line(c, "        if (v > m || isnan(v))");
            cb_line(c, "            m = v;");
        }
        cb_line(c, "    }");
    } else {
        cb_line(c, "float s = 0.0f;");
        cb_line(c, "for (int %s = h0; %s < h1; %s++)", hv, hv, hv);
        cb_line(c, "    for (int %s = w0; %s < w1; %s++)", wv, wv, wv);
        cb_line(c, "        s += %s[%s * %s + %s];", src, hv, pitch, wv);
    }
}

void emit_window_reduce(Cbuf *c, bool max, bool argmax) { window_reduce(c, max, argmax, "xi", "IW", "h", "w"); }

void emit_window_reduce_in(Cbuf *c, bool max, bool argmax, const char *src, const char *pitch) {
    window_reduce(c, max, argmax, src, pitch, "wr", "wc");
}

Shape emit_in_shape(const Emit *e, const Op *op, int i) { return e->g->values[op->in[i]].shape; }
Shape emit_out_shape(const Emit *e, const Op *op) { return e->g->values[op->out].shape; }

/* Measured on simplecnn's max pools, backward, batch 64, one thread (their loops run in an
 * OpenMP region): 14 windows a row 2.27 ms without the vectors, 1.19 with 8 lanes, 0.86 with 4;
 * 7 windows 0.93 ms without, 1.06 with 2 lanes, 0.86 with 4. */
void emit_simd(Cbuf *c, int n) {
    int vl = n >= 4 ? 4 : n >= 2 ? 2 : 1;
    for (int k = 16; k >= 4; k /= 2)
        if (k <= n && (n % k) * 4 <= n) {
            vl = k;
            break;
        }
    if (vl > 1)
        cb_line(c, "CNN_SIMD(%d)", vl);
}

void emit_transpose(Cbuf *c, const char *m, const char *type) {
    for (int vl = 16; vl >= 8; vl /= 2) {
        cb_line(c, vl == 16 ? "#if defined(__AVX512F__)" : "#else");
        for (int h = vl / 2; h >= 1; h /= 2) {
            char lo[160] = "", hi[160] = "";
            for (int l = 0; l < vl; l++) {
                size_t nl = strlen(lo), nh = strlen(hi);
                snprintf(lo + nl, sizeof lo - nl, ", %d", l & h ? vl + l - h : l);
                snprintf(hi + nh, sizeof hi - nh, ", %d", l & h ? vl + l : l + h);
            }
            cb_line(c, "for (int r = 0; r < %d; r += %d)", vl, 2 * h);
            cb_line(c, "for (int s = r; s < r + %d; s++) {", h);
            cb_line(c, "const %s lo = %s[s], hi = %s[s + %d];", type, m, m, h);
            cb_line(c, "%s[s] = __builtin_shufflevector(lo, hi%s);", m, lo);
            cb_line(c, "%s[s + %d] = __builtin_shufflevector(lo, hi%s);", m, h, hi);
            cb_line(c, "}");
        }
    }
    cb_line(c, "#endif");
}

void emit_transposed_block(Cbuf *c, const char *src, const char *dst, const char *cond) {
    cb_line(c, "{");
    cb_line(c, "cnn_vec m[CNN_VW];");
    cb_line(c, "for (int p = 0; p < CNN_VW; p++)");
    cb_line(c, "    memcpy(&m[p], %s, sizeof m[p]);", src);
    emit_transpose(c, "m", "cnn_vec");
    cb_line(c, "for (int j = 0; j < CNN_VW%s%s; j++)", cond ? " && " : "", cond ? cond : "");
    cb_line(c, "    memcpy(%s, &m[j], sizeof m[j]);", dst);
    cb_line(c, "}");
}

void emit_even_lanes(Cbuf *c, const char *dst, const char *lo, const char *hi, bool hi_early) {
    for (int vw = 16; vw >= 8; vw /= 2) {
        char idx[160] = "";
        for (int k = 0, at = 0; k < vw; k++) /* lo's even lanes, then hi's even (odd when read a float early) */
            at += snprintf(idx + at, sizeof idx - (size_t)at, ", %d", k < vw / 2 ? 2 * k : 2 * k + (hi_early ? 1 : 0));
        cb_line(c, vw == 16 ? "#if CNN_VW == 16" : "#else");
        cb_line(c, "const cnn_vec %s = __builtin_shufflevector(%s, %s%s);", dst, lo, hi, idx);
    }
    cb_line(c, "#endif");
}

void emit_lanes_head(Cbuf *c, const Op *op, const EmitPlanes *w) {
    cb_line(c, "for (int j = 0; j < %s; j++) {", w->pitch);
    cb_line(c, "const int oc = %s + j < %s ? %s + j : %s - 1; /* for the bias and the epilogue */", w->ch0, w->nc, w->ch0, w->nc);
    cb_line(c, "(void)oc;");
    cb_line(c, "const float v = %s;", op->a.bias ? "bq[j] + b[oc]" : "bq[j]");
}

void emit_planes_out(Emit *e, const Op *op, const EmitPlanes *w) {
    Cbuf *c = e->c;
    if (op && (op->a.bias || emit_has_epilogue(op))) {
        cb_line(c, "for (int qq = %s; qq < %s; qq++) {", w->lo, w->hi);
        cb_line(c, "float *const bq = %s + (ptrdiff_t)qq * %s;", w->buf, w->pitch);
        emit_lanes_head(c, op, w);
        cb_line(c, "bq[j] = %s;", emit_has_epilogue(op) ? emit_epilogue(e, op, "v", "oc") : "v");
        cb_line(c, "}");
        cb_line(c, "}");
    }
    cb_line(c, "int stored = %s; /* positions written by the vector path */", w->lo);
    cb_line(c, "#if CNN_SHUFFLE");
    cb_line(c, "if (%s >= CNN_VW) {", w->hi);
    cb_line(c, "for (int q0 = %s; q0 < %s; q0 += CNN_VW) {", w->lo, w->hi);
    cb_line(c, "const int qs = q0 + CNN_VW <= %s ? q0 : %s - CNN_VW; /* the last block overlaps */", w->hi, w->hi);
    cb_line(c, "for (int jb = 0; jb < %s; jb += CNN_VW)", w->nch);
    emit_transposed_block(c, arena_printf("%s + (ptrdiff_t)(qs + p) * %s + jb", w->buf, w->pitch),
                          arena_printf("%s + (ptrdiff_t)(jb + j) * %s + qs", w->dst, w->plane), arena_printf("jb + j < %s", w->nch));
    cb_line(c, "}");
    cb_line(c, "stored = %s;", w->hi);
    cb_line(c, "}");
    cb_line(c, "#endif");
    cb_line(c, "for (int j = 0; j < %s; j++)", w->nch);
    cb_line(c, "    for (int qq = stored; qq < %s; qq++)", w->hi);
    cb_line(c, "        %s[(ptrdiff_t)j * %s + qq] = %s[(ptrdiff_t)qq * %s + j];", w->dst, w->plane, w->buf, w->pitch);
}

const char *emit_float(double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.9g", (double)(float)v);
    if (!strpbrk(buf, ".eninf"))
        strcat(buf, ".0");
    return arena_printf("%sf", buf);
}

void emit_image_dims(Cbuf *c, const char *prefix, Shape s) {
    if (s.rank == 4)
        cb_line(c, "enum { %sC = %d, %sH = %d, %sW = %d };", prefix, s.d[1], prefix, s.d[2], prefix, s.d[3]);
    else
        cb_line(c, "enum { %sF = %d };", prefix, s.d[1]);
}

static const char *upper(const char *s) {
    char *u = arena_strdup(s);
    for (char *p = u; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return u;
}

static const char *basename_of(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* "op3_conv0", "op4_relu", "op9_stage1_basic0_conv0" */
static const char *op_fn(const Graph *g, int i) {
    const Op *op = &g->ops[i];
    char *s = arena_printf("op%d_%s", op->out, op->pname ? op->pname : op_name(op->kind));
    for (char *p = s; *p; p++)
        if (*p == '.')
            *p = '_';
    return s;
}

static const char *const role_names[4] = {"w", "b", "mean", "var"};

/* How a fresh model fills a tensor: its op's param_init for the role, else PyTorch's default
 * for a layer's weight and bias and the running statistics' zeros and ones. */
static const char *tensor_init(const ParamT *p, const Graph *g) {
    static const char *const fallback[4] = {"weight", "bias", "zeros", "ones"};
    const char *init = op_info(g->ops[p->op].kind)->param_init[p->role];
    init = init ? init : fallback[p->role];
    const char *own = g->ops[p->op].a.init; /* the layer's own init: "weight:SPEC" */
    if (own && (!strcmp(init, "weight") || !strcmp(init, "bias")))
        return arena_printf("%s:%s", init, own);
    return init;
}

static void fans(const ParamT *p, const Graph *g, int *fan_in, int *fan_out) {
    const ParamT *w = &g->params[g->ops[p->op].param[PARAM_WEIGHT]];
    int rf = w->shape.rank == 4 ? w->shape.d[2] * w->shape.d[3] : 1;
    *fan_in = w->shape.rank >= 2 ? w->shape.d[1] * rf : 1;
    *fan_out = w->shape.d[0] * rf;
}

/* The training types, shared by every generated model and the runtime: the text of
 * runtime/cnn_train_types.h from its guard on, made a string at build time. */
static const char train_types[] =
#include "train_types.inc"
    ;

/* "layer1.basic0.conv0.weight" -> "LAYER1_BASIC0_CONV0_WEIGHT" */
static const char *c_ident_upper(const char *s) {
    char *u = arena_strdup(s);
    for (char *p = u; *p; p++)
        *p = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
    return u;
}

/* CRC-32 (reflected, polynomial 0xEDB88320, as zlib's crc32) of every tensor's floats as
 * little-endian bytes, in tensor order; the generated NAME_params_crc32 computes the same. */
static unsigned long weights_crc32(const Graph *g, const Plan *plan, const float *w) {
    uint32_t crc = 0xFFFFFFFFu;
    for (int t = 0; t < g->nparams; t++)
        for (int64_t i = 0; i < g->params[t].numel; i++) {
            uint32_t bits;
            memcpy(&bits, &w[plan->param_offset[t] + i], 4);
            for (int b = 0; b < 4; b++) {
                crc ^= (bits >> (8 * b)) & 0xFFu;
                for (int k = 0; k < 8; k++)
                    crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
            }
        }
    return (unsigned long)(crc ^ 0xFFFFFFFFu);
}

static void emit_header(Cbuf *c, const Graph *g, const Plan *plan, const EmitOptions *o, long long stack_bytes) {
    const char *N = g->name, *U = upper(g->name);
    Shape in = g->values[g->input].shape, out = g->values[g->output].shape;
    cb_line(c, "/* %s.h: generated by cnnc from %s. Do not edit; regenerate instead.", N, basename_of(o->source));
    cb_line(c, " *");
    cb_line(c, " * Model %s: input %s, output %s%s, at most %d images per call.", N, shape_str(in, true),
            shape_str(out, true), g->ends_in_softmax ? " (probabilities)" : " (logits)", g->batch_all);
    cb_line(c, " * %s trained parameters, %s forward FLOPs per image.", fmt_count((double)ir_param_count(g, true)),
            fmt_count(ir_total_flops(g)));
    cb_line(c, " *");
    cb_line(c, " * Memory: the caller provides two blocks of floats and nothing is allocated here:");
    cb_line(c, " *   params: %s_PARAM_FLOATS floats, every tensor of %s_tensors at its offset, in", U, N);
    cb_line(c, " *           PyTorch's layout ([out, in/groups, kh, kw] for conv, [out, in] for linear);");
    cb_line(c, " *   work:   %s_WORK_FLOATS floats of scratch, reused by every call.", U);
    cb_line(c, " * Two threads may run the model at once with two work blocks (params may be shared).");
    cb_line(c, " *");
    cb_line(c, " * Use:");
    cb_line(c, " *   static float params[%s_PARAM_FLOATS], work[%s_WORK_FLOATS];", U, U);
    cb_line(c, " *   ... fill params (each tensor at %s_tensors[i].offset) ...", N);
    cb_line(c, " *   float out[%s_OUT_SIZE];", U);
    cb_line(c, " *   %s_forward(params, work, image, out, 1);", N);
    cb_line(c, " */");
    cb_line(c, "#ifndef %s_H", U);
    cb_line(c, "#define %s_H", U);
    cb_line(c, "#include <stddef.h>");
    cb_blank(c);
    cb_line(c, "#ifdef __cplusplus");
    cb_raw(c, "extern \"C\" {\n"); /* raw: the declarations stay at column 0 */
    cb_line(c, "#endif");
    cb_blank(c);
    cb_line(c, "#define %s_BATCH %d        /* the most images one call takes */", U, g->batch_all);
    if (in.rank == 4) {
        cb_line(c, "#define %s_IN_C %d", U, in.d[1]);
        cb_line(c, "#define %s_IN_H %d", U, in.d[2]);
        cb_line(c, "#define %s_IN_W %d", U, in.d[3]);
    }
    cb_line(c, "#define %s_IN_SIZE %lld     /* floats per input image (C*H*W, NCHW) */", U,
            (long long)(shape_numel(in) / g->batch));
    cb_line(c, "#define %s_OUT_SIZE %lld    /* floats per output row */", U, (long long)(shape_numel(out) / g->batch));
    cb_line(c, "#define %s_PARAM_FLOATS %lld", U, (long long)plan->param_floats);
    if (g->slices > 1)
        cb_line(c, "/* work: %d slices of up to %d images, each with its own %lld floats%s; a call splits\n"
                   " * its n images into slices run on threads of their own. */",
                g->slices, g->batch, (long long)plan->arena_floats, g->training ? " and a gradient block" : "");
    cb_line(c, "#define %s_WORK_FLOATS %lld", U, (long long)plan_work_floats(g, plan));
    cb_line(c, "#define %s_PACK_FLOATS %lld /* the weights %s_pack packs (0: none to pack) */", U,
            (long long)last_pack_floats, N);
    cb_line(c, "#define %s_PARAM_BYTES (%s_PARAM_FLOATS * 4)", U, U);
    cb_line(c, "#define %s_WORK_BYTES (%s_WORK_FLOATS * 4)", U, U);
    cb_line(c, "#define %s_NUM_TENSORS %d", U, g->nparams);
    cb_line(c, "#define %s_STACK_BYTES %lld /* the most stack any function here uses, callees included */", U,
            stack_bytes);
    if (o->weights)
        cb_line(c, "#define %s_EMBEDDED_WEIGHTS 1", U);
    if (g->nparams) {
        cb_blank(c);
        cb_line(c, "/* Each tensor's place in the parameter block: its first float and its size in floats. */");
        for (int i = 0; i < g->nparams; i++) {
            const char *t = c_ident_upper(g->params[i].name);
            cb_line(c, "#define %s_OFFSET_%s %lld", U, t, (long long)plan->param_offset[i]);
            cb_line(c, "#define %s_NUMEL_%s %lld", U, t, (long long)g->params[i].numel);
        }
    }
    cb_blank(c);
    cb_line(c, "/* One checkpoint tensor: its name (as in PyTorch's state_dict), where it starts in the");
    cb_line(c, " * parameter block, its size and shape; trained is 0 for batchnorm running statistics.");
    cb_line(c, " * init says how a fresh model fills it: \"weight\" or \"bias\" (PyTorch's default uniform");
    cb_line(c, " * bounds from fan_in), \"ones\" or \"zeros\"; \"weight:SPEC\" and \"bias:SPEC\" for a layer with its");
    cb_line(c, " * own init (SPEC as the program's --init takes it). */");
    cb_line(c, "typedef struct %s_tensor {", N);
    cb_line(c, "const char *name;");
    cb_line(c, "size_t offset, numel;");
    cb_line(c, "int rank, shape[4];");
    cb_line(c, "int trained;");
    cb_line(c, "const char *init;");
    cb_line(c, "int fan_in, fan_out;");
    cb_line(c, "} %s_tensor;", N);
    if (g->nparams)
        cb_line(c, "extern const %s_tensor %s_tensors[%s_NUM_TENSORS];", N, N, U);
    else
        cb_line(c, "extern const %s_tensor %s_tensors[1]; /* no tensors: one empty entry, as C has no empty arrays */", N, N);
    cb_blank(c);
    cb_line(c, "/* Runs the model on n images (1 <= n <= %s_BATCH): input holds n * %s_IN_SIZE floats,", U, U);
    cb_line(c, " * output receives n * %s_OUT_SIZE. Returns 0, or -1 (doing nothing) when n is out of range. */", U);
    cb_line(c, "int %s_forward(const float *params, float *work, const float *input, float *output, int n);", N);
    cb_line(c, "/* Some kernels repack their weights into a layout of their own at every call (at batch 1 that");
    cb_line(c, " * can be a fifth of the time). %s_pack does it once into packs (%s_PACK_FLOATS floats,", N, U);
    cb_line(c, " * work as for a forward call); %s_forward_packed then runs as %s_forward with those packs.", N, N);
    cb_line(c, " * (which only reads packs). Call %s_pack again whenever params change. Returns 0. */", N);
    cb_line(c, "int %s_pack(const float *params, float *work, float *packs);", N);
    cb_line(c, "int %s_forward_packed(const float *params, float *packs, float *work, const float *input, float *output,", N);
    cb_line(c, "                   int n);");
    if (g->training) {
        cb_blank(c);
        cb_raw(c, "%s", train_types);
        cb_blank(c);
        cb_line(c, "#define %s_STATE_FLOATS (2 * %s_PARAM_FLOATS) /* optimizer state (moments) */", U, U);
        cb_blank(c);
        cb_line(c, "/* One training step on n images with labels in [0, %s_OUT_SIZE): forward in training", U);
        cb_line(c, " * mode (batchnorm uses batch statistics; dropout is active when o->dropout), the mean loss,");
        cb_line(c, " * then the backward pass, which ADDS each parameter's gradient into grads (laid out as");
        cb_line(c, " * params; zero it before the first step of an accumulation). Returns the loss, or NaN when");
        cb_line(c, " * n is out of range.%s */", g->ends_in_softmax ? " The model's final softmax is not applied: the loss reads the logits." : "");
        cb_line(c, "float %s_train_step(float *params, float *grads, float *work, const float *input, const int *labels,", N);
        cb_line(c, "                    int n, const cnn_step_opts *o);");
        cb_line(c, "/* Applies one optimizer step to every trained tensor that is not frozen; state holds");
        cb_line(c, " * %s_STATE_FLOATS floats, zero before the first step. */", U);
        cb_line(c, "void %s_update(float *params, const float *grads, float *state, const cnn_optim *o);", N);
        cb_line(c, "/* One training step and one optimizer step together, each parameter updated as soon as its");
        cb_line(c, " * gradient is complete, so no gradient block is needed (the gradients live briefly in the");
        cb_line(c, " * workspace). The same result as %s_train_step on zeroed gradients, then %s_update;", N, N);
        cb_line(c, " * for steps without gradient accumulation or clipping by the global norm. */");
        cb_line(c, "float %s_train_step_update(float *params, float *state, float *work, const float *input,", N);
        cb_line(c, "                           const int *labels, int n, const cnn_step_opts *o, const cnn_optim *opt);");
    }
    cb_blank(c);
    cb_line(c, "/* CRC-32 (the one of zlib, PNG and Ethernet) of the weights in params: every tensor of");
    cb_line(c, " * %s_tensors in order, each float as its 4 IEEE-754 bytes in little-endian order, the", N);
    cb_line(c, " * padding between tensors left out (so the value does not depend on the layout). */");
    cb_line(c, "unsigned long %s_params_crc32(const float *params);", N);
    cb_line(c, "/* Returns 0 when the weights in params have the CRC-32 crc, else -1: a corrupted block, or");
    cb_line(c, " * other weights. %s_check_params(%s_weights, %s_WEIGHTS_CRC32) checks the compiled-in", N, N, U);
    cb_line(c, " * weights (generated with --embed-weights). */");
    cb_line(c, "int %s_check_params(const float *params, unsigned long crc);", N);
    if (o->weights) {
        cb_blank(c);
        cb_line(c, "/* The weights this file was generated with, laid out as params above, and their CRC-32. */");
        cb_line(c, "extern const float %s_weights[%s_PARAM_FLOATS];", N, U);
        cb_line(c, "#define %s_WEIGHTS_CRC32 0x%08lxUL", U, weights_crc32(g, plan, o->weights));
    }
    cb_blank(c);
    cb_line(c, "#ifdef __cplusplus");
    cb_raw(c, "}\n");
    cb_line(c, "#endif");
    cb_line(c, "#endif");
}

/* The name of buffer b of the plan at the call sites: V12 for value %12 of the IR, S5 for the
 * scratch of op 5, G5 for the parameter gradients backward op 5 keeps in the workspace. */
static const char *buffer_name(const Graph *g, const Plan *plan, int b) {
    if (b < g->nvalues)
        return arena_printf("V%d", b);
    for (int i = 0; i < g->nops; i++) {
        if (plan->scratch_of[i] == b)
            return arena_printf("S%d", i);
        if (plan->grad_scratch_of[i] == b)
            return arena_printf("G%d", i);
    }
    return arena_printf("B%d", b);
}

static const char *value_ptr(const Graph *g, const Plan *plan, int v) {
    if (v == g->input)
        return "input";
    return arena_printf("work + %s", buffer_name(g, plan, v));
}

/* Where parameter tensor pi starts in the parameter block: the header's NAME_OFFSET_TENSOR. */
static const char *param_name(const Graph *g, int pi) {
    return arena_printf("%s_OFFSET_%s", upper(g->name), c_ident_upper(g->params[pi].name));
}

/* Whether word occurs in text as a whole C identifier. */
static bool word_in(const char *text, const char *word) {
    size_t n = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        bool left = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        bool right = !(isalnum((unsigned char)p[n]) || p[n] == '_');
        if (left && right)
            return true;
    }
    return false;
}

/* Where NAME_train_step_update keeps parameter pi's gradient: in gradient buffer gb, at the
 * plan's grad_at. */
static const char *grad_slot(const Graph *g, const Plan *plan, int gb, int pi) {
    if (gb < 0 || plan->grad_at[pi] < 0)
        return "work"; /* no training step update for it: not called */
    if (plan->grad_at[pi] == 0)
        return arena_printf("work + %s", buffer_name(g, plan, gb));
    return arena_printf("work + %s + %lld", buffer_name(g, plan, gb), (long long)plan->grad_at[pi]);
}

/* One argument of an op function: its declaration and what the caller passes. */
typedef struct FnArg {
    const char *decl, *name, *call;
    const char *call_tte; /* the argument in NAME_train_step_update, when it differs */
} FnArg;

typedef enum { FN_INFER, FN_TRAIN, FN_BACKWARD } FnKind;

static const char *fn_name(const Graph *g, int i, FnKind kind) {
    const Op *op = &g->ops[i];
    if (op_is_backward(op)) {
        const Op *f = &g->ops[op->fwd];
        const char *base = f->pname ? f->pname : op_name(f->kind);
        char *s = arena_printf("op%d_%s_backward", op->out >= 0 ? op->out : i + 100000, base);
        if (op->out < 0)
            s = arena_printf("op_%s_param_grads", base);
        for (char *p = s; *p; p++)
            if (*p == '.')
                *p = '_';
        return s;
    }
    const char *s = op_fn(g, i);
    return kind == FN_TRAIN ? arena_printf("%s_train", s) : s;
}

/* The work (FLOPs plus elements, op_thread_work) below which an op runs on one thread; on one
 * image in a small graph (one_image_work), CNN_THREAD_WORK_ONE: there the op can only split
 * the image's rows or channel blocks, in short parallel loops (its input copies, its weight
 * packing, then the tiles), each a fork and a join, and a second thread that the system has
 * parked or moved costs more than such an op saves (simplecnn's 32->64 conv, 7.2M per image,
 * took its batch-1 forward from 0.12 to 0.29-0.40 ms on 2 threads; docs/hacking.md, "Threads"). */
enum { CNN_THREAD_WORK = 1 << 20, CNN_THREAD_WORK_ONE = 1 << 24 };
/* The work of one element read or written, in FLOPs: what the memory-bound ops (pooling,
 * batchnorm, activations and their gradients) take per element against a conv's FLOP (LeNet's
 * average pool: 0.05 ms for 64 images of 10,585 FLOPs plus elements, a conv about ten times
 * as many FLOPs in that time). */
enum { CNN_ELEMENT_WORK = 8 };

static double per_image_elements(Shape s) {
    if (s.rank < 1)
        return 1;
    return (double)shape_numel(s) / (s.d[0] > 0 ? s.d[0] : 1);
}

static bool train_variant(const Op *op) { return op_info(op->kind)->emit_forward_train != NULL; }

/* One op function: where it comes from, its text, and how the entry points call it. */
typedef struct Fn {
    int op;
    const char *name;         /* the function called (the first of identical ones) */
    const char *head;         /* its comment */
    const char *decl, *body;  /* "const float *restrict x, ..." and the body */
    const char *call, *call_tte;
    const char *call_base;    /* call without the packs' two arguments (pack_floats > 0) */
    int64_t pack_floats;      /* its packed weights (emit_pack_begin), or 0 */
    int same_as;              /* index of an earlier Fn with the same decl and body, or -1 */
    const char *label;        /* "%12 (line 30)" or "gradient of %12 (line 30)" */
    const char *users;        /* the other ops it serves, for the comment: "%7 (line 12), ..." */
} Fn;

enum { MAX_FN_ARGS = 32 };

/* Threads pay when the call's work is large against a fork and join (a few microseconds,
 * tens when a thread must be woken): the work per image of op (a forward op or a backward
 * one) is its FLOPs (twice the forward's for a gradient: data and weights) plus the elements
 * it reads and writes, CNN_ELEMENT_WORK each, and the FLOPs of the activation a pooling's
 * backward does too. */
static long long op_thread_work(const Graph *g, const Op *op) {
    const Op *f = op_is_backward(op) ? &g->ops[op->fwd] : op;
    const OpInfo *oi = op_info(f->kind);
    double work = oi->flops ? oi->flops(g, f) : 0;
    if (op_is_backward(op))
        work *= 2;
    for (int k = 0; k < f->nin; k++)
        work += CNN_ELEMENT_WORK * per_image_elements(g->values[f->in[k]].shape);
    if (f->out >= 0)
        work += CNN_ELEMENT_WORK * per_image_elements(g->values[f->out].shape);
    if (op->bwd_act > 0) {
        const Op *act = &g->ops[g->ops[op->bwd_act].fwd];
        work += op_info(act->kind)->flops ? 2 * op_info(act->kind)->flops(g, act) : 0;
    }
    return work > 1e15 ? (long long)1e15 : (long long)work + 1;
}

/* The work per image from which an op splits a call of one image over threads: where some op
 * of the graph does CNN_THREAD_WORK_ONE or more (it runs threaded, so the threads are awake
 * and the tensors around it are spread over their caches), CNN_THREAD_WORK, as for larger
 * calls; in the smaller graphs CNN_THREAD_WORK_ONE. (ResNet-18 at batch 1 on 2 threads: its
 * max pool, adds, 1x1 shortcuts and classifier on one thread took longer than on 1 thread in
 * all, reading what the threaded convs left in the other core's cache: 12.7 -> 12.3 ms with
 * them threaded; docs/hacking.md, "Threads".) */
static long long one_image_work(const Graph *g) {
    for (int i = 0; i < g->nops; i++)
        if (g->ops[i].fused_into < 0 && op_thread_work(g, &g->ops[i]) >= CNN_THREAD_WORK_ONE)
            return CNN_THREAD_WORK;
    return CNN_THREAD_WORK_ONE;
}

/* Builds the function for op i (kind says which variant). The signature follows from the op,
 * its fused neighbours and the plan alone: the tensors it reads and writes, its parameters,
 * its scratch, n, and for the loss and the training variants the labels and step options.
 * Not every variant of an op reads every argument; the body starts by marking them used. */
static Fn build_fn(const Graph *g, const Plan *plan, int i, FnKind kind, const char *src) {
    const Op *op = &g->ops[i];
    const Op *f = op_is_backward(op) ? &g->ops[op->fwd] : op;
    const OpInfo *finfo = op_info(f->kind);
    FnArg args[MAX_FN_ARGS];
    int na = 0;
    bool inplace = false;
#define ARG(d, nm, c)                                                                                              \
    do {                                                                                                           \
        if (na == MAX_FN_ARGS) {                                                                                   \
            fprintf(stderr, "cnnc: internal error: op %d needs more than %d function arguments\n", i, MAX_FN_ARGS); \
            exit(3);                                                                                               \
        }                                                                                                          \
        args[na++] = (FnArg){(d), (nm), (c), NULL};                                                                \
    } while (0)
    if (op_is_backward(op)) {
        int k = 0;
        if (finfo->bwd_needs & BWD_X)
            for (int j = 0; j < f->nin; j++, k++) {
                const char *nm = f->nin == 1 ? "x" : arena_printf("x%d", j);
                int xv = j == 0 && f->evens_in >= 0 ? f->evens_in : op->in[k]; /* the weight gradient reads the even pixels */
                ARG(arena_printf("const float *%s", nm), nm, value_ptr(g, plan, xv));
            }
        if (finfo->bwd_needs & BWD_Y) {
            ARG("const float *y", "y", value_ptr(g, plan, op->in[k]));
            k++;
        }
        if (op->bwd_act > 0 && !(finfo->bwd_needs & BWD_X)) { /* a fused activation's output, the op's input */
            ARG("const float *x", "x", value_ptr(g, plan, op->in[k]));
            k++;
        }
        ARG("const float *dy", "dy", value_ptr(g, plan, op->in[k]));
        if (op->bwd_pair > 0) /* the paired conv's dy, and its weight below */
            ARG("const float *dy2", "dy2", value_ptr(g, plan, ir_pair_dy(g, op)));
        if (op->out >= 0 && op->writes >= 0) { /* writes -1: the paired head computes this dx */
            ARG("float *dx", "dx", value_ptr(g, plan, op->writes));
            for (int j = 0; j < op->nin; j++)
                inplace |= plan->value_offset[op->in[j]] == plan->value_offset[op->writes];
        }
    } else {
        for (int k = 0; k < op->nin; k++) {
            const char *nm = op->nin == 1 ? "x" : arena_printf("x%d", k);
            int xv = k == 0 && op->evens_in >= 0 ? op->evens_in : op->in[k]; /* a 1x1 stride-2 conv: the even pixels */
            ARG(arena_printf("const float *%s", nm), nm, value_ptr(g, plan, xv));
            inplace |= plan->value_offset[xv] == plan->value_offset[op->writes];
        }
        ARG("float *y", "y", value_ptr(g, plan, op->writes));
        if (op->keeps >= 0) /* the pooling's input, stored in full beside the pooled y */
            ARG("float *yk", "yk", value_ptr(g, plan, op->keeps));
        if (op->evens_out >= 0) /* y's pixels at even rows and columns, side by side */
            ARG("float *ye", "ye", value_ptr(g, plan, op->evens_out));
    }
    for (int r = 0; r < 4; r++)
        if (f->param[r] >= 0) {
            bool writable = kind == FN_TRAIN && r >= PARAM_RUNNING_MEAN;
            ARG(arena_printf("%sfloat *%s", writable ? "" : "const ", role_names[r]), role_names[r],
                arena_printf("params + %s", param_name(g, f->param[r])));
        }
    if (op->bwd_pair > 0)
        ARG("const float *w2", "w2", arena_printf("params + %s", param_name(g, g->ops[g->ops[op->bwd_pair].fwd].param[PARAM_WEIGHT])));
    if (op->pro_conv >= 0) /* the streamed producer's weight and bias (conv_stream.c) */
        for (int r = 0; r < 2; r++)
            if (g->ops[op->pro_conv].param[r] >= 0)
                ARG(arena_printf("const float *%s0", role_names[r]), arena_printf("%s0", role_names[r]),
                    arena_printf("params + %s", param_name(g, g->ops[op->pro_conv].param[r])));
    if (op->epi_bn >= 0) {
        static const char *const bn_names[4] = {"bnw", "bnb", "bnm", "bnv"};
        for (int r = 0; r < 4; r++)
            ARG(arena_printf("const float *%s", bn_names[r]), bn_names[r],
                arena_printf("params + %s", param_name(g, g->ops[op->epi_bn].param[r])));
    }
    if (op_is_backward(op)) {
        int gb = plan->grad_scratch_of[i];
        for (int r = 0; r < 2; r++)
            if (f->param[r] >= 0 && g->params[f->param[r]].trained) {
                const char *nm = r == 0 ? "dw" : "db";
                ARG(arena_printf("float *%s", nm), nm, arena_printf("grads + %s", param_name(g, f->param[r])));
                args[na - 1].call_tte = grad_slot(g, plan, gb, f->param[r]);
            }
    }
    if (plan->scratch_of[i] >= 0)
        ARG("float *scratch", "scratch", arena_printf("work + %s", buffer_name(g, plan, plan->scratch_of[i])));
    ARG("int n", "n", "n");
    int loss_op = g->loss >= 0 ? g->values[g->loss].producer : -1;
    bool is_loss = f == &g->ops[loss_op > 0 ? loss_op : 0] && loss_op > 0;
    if (is_loss)
        ARG("const int *labels", "labels", "labels");
    if (is_loss || kind == FN_TRAIN || (op_is_backward(op) && finfo->emit_forward_train))
        ARG("const cnn_step_opts *o", "o", "o");
#undef ARG
    Cbuf body = {0};
    body.indent = 1;
    Emit e = {&body, g, plan, kind == FN_INFER && !op_is_backward(op), 0};
    if (op_is_backward(op))
        finfo->emit_backward(&e, op, f);
    else if (kind == FN_TRAIN)
        finfo->emit_forward_train(&e, op);
    else
        finfo->emit_forward(&e, op);
    cb_raw(&body, "%s", "");
    const char *text = body.data ? body.data : "";
    if (word_in(text, "PARALLEL_FOR") && word_in(text, "n")) {
        long long per_image = op_thread_work(g, op);
        Cbuf pre = {0};
        pre.indent = 1;
        cb_line(&pre, "const int cnn_threads = (long long)n * %lldLL >= %lldLL && (n > 1 || %d); /* work per image: %lld */",
                per_image, (long long)CNN_THREAD_WORK, per_image >= one_image_work(g), per_image);
        cb_line(&pre, "(void)cnn_threads;");
        cb_raw(&pre, "%s", text);
        cb_free(&body);
        body = pre;
        text = body.data;
    } else if (word_in(text, "PARALLEL_FOR")) { /* no n: one thread (a local name: no shadowing) */
        Cbuf pre = {0};
        pre.indent = 1;
        cb_line(&pre, "enum { cnn_threads = 1 };");
        cb_raw(&pre, "%s", text);
        cb_free(&body);
        body = pre;
        text = body.data;
    }

    char attrs[512] = "";
    finfo->print_attrs(f, attrs, sizeof attrs);
    const char *shapes = "";
    for (int k = 0; k < f->nin; k++)
        shapes = arena_printf("%s%s%s", shapes, k ? ", " : "", shape_str(g->values[f->in[k]].shape, true));
    const char *what = op_is_backward(op) ? arena_printf("gradient of %%%d = %s", f->out, op_name(f->kind))
                                          : arena_printf("%%%d = %s", op->out, op_name(op->kind));
    Cbuf head = {0};
    cb_line(&head, "/* %s%s%s: %s -> %s   (%s:%d)%s%s%s */", what, *attrs ? " " : "", attrs, shapes,
            f->out >= 0 ? shape_str(g->values[f->out].shape, true) : "[]", src, f->span.line, f->pname ? " " : "",
            f->pname ? f->pname : "", kind == FN_TRAIN ? ", training mode" : "");
    const char *fused = "";
    if (op->pro_conv >= 0)
        fused = arena_printf("conv %%%d streamed before", g->ops[op->pro_conv].out);
    if (op->pro_norm >= 0)
        fused = arena_printf("%s%snormalize %%%d before", fused, *fused ? ", " : "", g->ops[op->pro_norm].out);
    const int after[3] = {op->epi_bn, op->epi_act, op->epi_pool};
    for (int k = 0; k < 3; k++)
        if (after[k] >= 0)
            fused = arena_printf("%s%s%s %%%d", fused, *fused ? ", " : "", op_name(g->ops[after[k]].kind), g->ops[after[k]].out);
    if (*fused)
        cb_line(&head, "/*   fused: %s */", fused);
    const char *call_base = NULL;
    if (e.pack_floats > 0) { /* the packs (NULL: repack here) and whether to pack and return */
        if (na + 2 > MAX_FN_ARGS) {
            fprintf(stderr, "cnnc: internal error: op %d needs more than %d function arguments\n", i, MAX_FN_ARGS);
            exit(3);
        }
        args[na++] = (FnArg){"float *pk", "pk", "NULL", NULL};
        args[na++] = (FnArg){"int pack_now", "pack_now", "0", NULL};
    }
    const char *decl = "", *call = "", *call2 = "", *casts = "";
    for (int k = 0; k < na; k++) {
        if (e.pack_floats > 0 && k == na - 2)
            call_base = call;
        bool ptr = strchr(args[k].decl, '*') != NULL && strcmp(args[k].name, "o") && strcmp(args[k].name, "labels");
        const char *d = args[k].decl;
        if (ptr && !inplace) { /* "const float *x" -> "const float *restrict x" */
            const char *star = strchr(d, '*');
            d = arena_printf("%.*s*restrict %s", (int)(star - d), d, star + 1);
        }
        decl = arena_printf("%s%s%s", decl, *decl ? ", " : "", d);
        call = arena_printf("%s%s%s", call, *call ? ", " : "", args[k].call);
        call2 = arena_printf("%s%s%s", call2, *call2 ? ", " : "", args[k].call_tte ? args[k].call_tte : args[k].call);
        if (strcmp(args[k].name, "y") && strcmp(args[k].name, "dx"))
            casts = arena_printf("%s%s(void)%s", casts, *casts ? ", " : "", args[k].name);
    }
    Fn fn = {.op = i, .name = fn_name(g, i, kind), .head = arena_strdup(head.data), .decl = decl, .same_as = -1,
             .users = ""};
    fn.label = arena_printf("%s%%%d%s (line %d)", op_is_backward(op) ? "gradient of " : "", f->out,
                            kind == FN_TRAIN ? " training" : "", f->span.line);
    fn.body = arena_printf("    %s;\n%s", casts, body.data ? body.data : "");
    fn.call = call;
    fn.call_tte = call2;
    fn.call_base = call_base;
    fn.pack_floats = e.pack_floats;
    cb_free(&body);
    cb_free(&head);
    return fn;
}

/* Functions with the same signature and body are emitted once: the later ones call the first. */
typedef struct FnTable {
    Fn *fns;
    int n, cap;
    int *slot; /* open addressing over hash(decl, body): index into fns, or -1 */
    int nslot;
} FnTable;

static unsigned long long text_hash(const char *a, const char *b) {
    unsigned long long h = 1469598103934665603ULL;
    for (const char *p = a; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ '|') * 1099511628211ULL;
    for (const char *p = b; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

/* Adds fn and returns its index; fn.same_as is set when an identical function came first. */
static int fn_add(FnTable *t, Fn fn) {
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        Fn *fns = arena_alloc(sizeof(Fn) * (size_t)cap);
        if (t->n)
            memcpy(fns, t->fns, sizeof(Fn) * (size_t)t->n);
        t->fns = fns, t->cap = cap;
        t->nslot = 4 * cap;
        t->slot = arena_alloc(sizeof(int) * (size_t)t->nslot);
        for (int s = 0; s < t->nslot; s++)
            t->slot[s] = -1;
        for (int k = 0; k < t->n; k++)
            if (t->fns[k].same_as < 0) {
                unsigned long long h = text_hash(t->fns[k].decl, t->fns[k].body);
                int s = (int)(h % (unsigned long long)t->nslot);
                while (t->slot[s] >= 0)
                    s = (s + 1) % t->nslot;
                t->slot[s] = k;
            }
    }
    unsigned long long h = text_hash(fn.decl, fn.body);
    int s = (int)(h % (unsigned long long)t->nslot);
    for (; t->slot[s] >= 0; s = (s + 1) % t->nslot) {
        Fn *o = &t->fns[t->slot[s]];
        if (!strcmp(o->decl, fn.decl) && !strcmp(o->body, fn.body)) {
            fn.same_as = t->slot[s];
            fn.name = o->name;
            o->users = arena_printf("%s%s%s", o->users, *o->users ? ", " : "", fn.label);
            break;
        }
    }
    if (fn.same_as < 0)
        t->slot[s] = t->n;
    t->fns[t->n] = fn;
    return t->n++;
}

/* Prints fn (unless it repeats an earlier one), with the other ops it serves in its comment. */
static void fn_print(Cbuf *out, const Fn *fn, const char *linkage) {
    if (fn->same_as >= 0)
        return;
    cb_raw(out, "%s", fn->head);
    if (*fn->users) {
        /* a few users per line */
        const char *line = "/*   also for ";
        int count = 0;
        for (const char *p = fn->users; *p;) {
            const char *end = strstr(p, "), ");
            size_t len = end ? (size_t)(end - p) + 1 : strlen(p);
            line = arena_printf("%s%s%.*s", line, count ? ", " : "", (int)len, p);
            p += len + (end ? 2 : 0);
            if (++count == 4 && *p) {
                cb_line(out, "%s, */", line);
                line = "/*            ";
                count = 0;
            }
        }
        cb_line(out, "%s */", line);
    }
    cb_line(out, "%s%svoid %s(%s) {", linkage, *linkage ? " " : "", fn->name, *fn->decl ? fn->decl : "void");
    cb_raw(out, "%s", fn->body);
    cb_line(out, "}");
    cb_blank(out);
}

/* The body of an entry point (NAME_forward, NAME_train_step, ...), written one unit at a time:
 * a unit is a statement or a few that belong together (a call and its parameters' updates).
 * With many ops, one function of thousands of calls makes the C compiler's code generation
 * grow faster than linearly (register allocation over the whole function): a body of more
 * than CHUNK_MIN units is cut into static functions of CHUNK units each, which the entry point
 * calls in order (docs/language.md, Limits). Smaller bodies are written as they are. */
enum { CHUNK_MIN = 192, CHUNK = 96 };

typedef struct FnBody {
    Cbuf text;      /* the units, at the indent of a function body */
    size_t *start;  /* where each unit starts in text */
    int n, cap;
} FnBody;

static void body_init(FnBody *b) {
    memset(b, 0, sizeof *b);
    b->text.indent = 1;
}

/* Starts a unit: the lines written to b->text until the next body_unit belong to it. */
static Cbuf *body_unit(FnBody *b) {
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        size_t *grown = arena_alloc(sizeof(size_t) * (size_t)b->cap);
        if (b->n)
            memcpy(grown, b->start, sizeof(size_t) * (size_t)b->n);
        b->start = grown;
    }
    b->start[b->n++] = b->text.len;
    return &b->text;
}

/* With more than CHUNK_MIN units, writes the chunk functions NAME_chunkK(decl) to c (before
 * the entry point that calls them) and replaces the body by their calls. names: the
 * parameters of decl, comma-separated, cast to void in each chunk (not every chunk uses all
 * of them). ret: the units may `return 0;` from the entry point (the taps): a chunk then
 * returns int, 1 when it ran to its end, and the call returns 0 from the entry point when it
 * did not. */
static void body_chunk(Cbuf *c, FnBody *b, const char *name, const char *decl, const char *names, bool ret) {
    /* CNNC_CHUNK=K (a test hook, docs/testing.md): chunks of K units from K + 1 units on, so
     * that the parity tests can run small models through chunked entry points. */
    int chunk_min = CHUNK_MIN, chunk = CHUNK;
    const char *env = getenv("CNNC_CHUNK");
    if (env && atoi(env) > 0)
        chunk_min = chunk = atoi(env);
    if (b->n <= chunk_min)
        return;
    FnBody calls;
    body_init(&calls);
    int nchunks = (b->n + chunk - 1) / chunk;
    cb_line(c, "/* %s in %d parts of at most %d calls: one function of %d would take the C compiler", name,
            nchunks, chunk, b->n);
    cb_line(c, " * much longer to compile. */");
    for (int k = 0; k < nchunks; k++) {
        int first = k * chunk, last = first + chunk < b->n ? first + chunk : b->n;
        size_t from = b->start[first], to = last < b->n ? b->start[last] : b->text.len;
        cb_line(c, "static CNN_NOINLINE %s %s_chunk%d(%s) {", ret ? "int" : "void", name, k + 1, decl);
        char *copy = arena_strdup(names);
        for (char *tok = strtok(copy, ", "); tok; tok = strtok(NULL, ", "))
            cb_line(c, "(void)%s;", tok);
        cb_raw(c, "%.*s", (int)(to - from), b->text.data + from);
        if (ret)
            cb_line(c, "return 1;");
        cb_line(c, "}");
        cb_blank(c);
        Cbuf *u = body_unit(&calls);
        if (ret) {
            cb_line(u, "if (!%s_chunk%d(%s))", name, k + 1, names);
            cb_line(u, "    return 0;");
        } else {
            cb_line(u, "%s_chunk%d(%s);", name, k + 1, names);
        }
    }
    cb_free(&b->text);
    *b = calls;
}

/* Appends the body to c (at the function's indent) and frees it. */
static void body_print(Cbuf *c, FnBody *b) {
    if (b->text.data)
        cb_raw(c, "%s", b->text.data);
    cb_free(&b->text);
}

/* With batch slices (g->slices > 1, pass_plan.c), each entry point's body runs one slice: it
 * is emitted as static NAME_KIND_slice, checked against the slice's batch, and the public
 * NAME_KIND (emit_slice_entries) splits the call. */
static const char *entry(const Graph *g, const char *ret, const char *kind) {
    return g->slices > 1 ? arena_printf("static %s %s_%s_slice", ret, g->name, kind)
                         : arena_printf("%s %s_%s", ret, g->name, kind);
}

static const char *batch_limit(const Graph *g) {
    return g->slices > 1 ? "SLICE_BATCH" : arena_printf("%s_BATCH", upper(g->name));
}

/* The public entry points of a sliced graph. n images make ns = ceil(n / SLICE_BATCH) slices
 * of n * s / ns .. n * (s + 1) / ns: a function of n alone, so results do not depend on the
 * thread count. Slices run in one parallel region, slice s in work + s * SLICE_WORK. Training:
 * slice s > 0 adds its gradients into its own zeroed block (after the arenas), summed into
 * grads in slice order once all are done; slice 0 adds into grads directly. The loss is a
 * mean over the batch (cross-entropy's weighted by class_weight), so a slice's gradient scale
 * is its share of the batch's denominator and the loss the slices' weighted sum; correct
 * counts go to per-slice counters. */
static void emit_bias_corrections(Cbuf *c, const char *o);

static void emit_slice_entries(Cbuf *c, const Graph *g, const Plan *plan, bool taps) {
    const char *N = g->name, *U = upper(g->name);
    cb_blank(c);
    cb_line(c, "/* ---------------- batch slices ---------------- */");
    if (taps) {
        cb_blank(c);
        cb_line(c, "int %s_forward_tap(const float *params, float *work, const float *input, float *dst, int n, int tap) {", N);
        cb_line(c, "if (n < 1 || n > %s_BATCH || tap < 0 || tap >= %s_ntaps)", U, N);
        cb_line(c, "    return -1;");
        cb_line(c, "const int ns = (n + SLICE_BATCH - 1) / SLICE_BATCH;");
        cb_line(c, "const ptrdiff_t per = (ptrdiff_t)%s_tap_shape[tap][0] * %s_tap_shape[tap][1] * %s_tap_shape[tap][2];", N, N, N);
        cb_line(c, "for (int s = 0; s < ns; s++) {");
        cb_line(c, "const int i0 = SLICE_FIRST(s);");
        cb_line(c, "if (%s_forward_tap_slice(params, work, input + (ptrdiff_t)i0 * %s_IN_SIZE, dst + i0 * per,", N, U);
        cb_line(c, "                         SLICE_FIRST(s + 1) - i0, tap))");
        cb_line(c, "    return -1;");
        cb_line(c, "}");
        cb_line(c, "return 0;");
        cb_line(c, "}");
    }
    if (!g->training)
        return;
    /* The trained tensors in pieces of at most PIECE floats: the summing of the slices'
     * gradients (and, in NAME_train_step_update, the optimizer step) is split over the threads
     * by piece, in the same parallel region as the slices. */
    enum { PIECE = 4096 };
    long long gblock = (long long)plan_grad_block(plan), npieces = 0;
    int ntrained = 0;
    cb_blank(c);
    cb_line(c, "/* The trained tensors: first float, floats, index in the tensor table, first piece of %d. */", PIECE);
    cb_line(c, "static const struct { long long at, count; int tensor, piece; } trained_tensors[] = {");
    for (int i = 0; i < g->nparams; i++) {
        if (!g->params[i].trained)
            continue;
        cb_line(c, "{%lld, %lld, %d, %lld},", (long long)plan->param_offset[i], (long long)g->params[i].numel, i, npieces);
        npieces += (g->params[i].numel + PIECE - 1) / PIECE;
        ntrained++;
    }
    cb_line(c, "};");
    cb_line(c, "enum { TRAINED = %d, PIECES = %lld, PIECE = %d };", ntrained, npieces, PIECE);
    cb_line(c, "#ifdef _OPENMP");
    cb_line(c, "#define SLICE_REGION _Pragma(\"omp parallel\")");
    cb_line(c, "#define SLICE_SHARE _Pragma(\"omp for schedule(static)\")");
    cb_line(c, "#else");
    cb_line(c, "#define SLICE_REGION");
    cb_line(c, "#define SLICE_SHARE");
    cb_line(c, "#endif");
    cb_blank(c);
    cb_line(c, "/* n images in ns > 1 slices: slice 0 adds its gradients into target (zeroed first when opt");
    cb_line(c, " * is given), slice s > 0 into block s - 1; then target += the blocks, piece by piece, and");
    cb_line(c, " * with opt the optimizer step of each piece. One parallel region. Returns the mean loss. */");
    cb_line(c, "static float %s_slices(float *params, float *target, float *state, float *work, const float *input,", N);
    cb_line(c, "                   const int *labels, int n, int ns, const cnn_step_opts *o, const cnn_optim *opt, float bc1,");
    cb_line(c, "                   float bc2) {");
    cb_line(c, "float *blocks = work + SLICES * SLICE_WORK;");
    cb_line(c, "double den[SLICES], total = 0.0; /* the loss's denominator: images, or their class weights */");
    cb_line(c, "float loss[SLICES];");
    cb_line(c, "int hits[SLICES];");
    cb_line(c, "for (int s = 0; s < ns; s++) {");
    cb_line(c, "den[s] = 0.0;");
    cb_line(c, "for (int i = SLICE_FIRST(s); i < SLICE_FIRST(s + 1); i++)");
    cb_line(c, "    den[s] += o->loss == 1 || !o->class_weight ? 1.0 : o->class_weight[labels[i]];");
    cb_line(c, "total += den[s];");
    cb_line(c, "}");
    cb_line(c, "float *m = state, *v = state ? state + %s_PARAM_FLOATS : NULL;", U);
    cb_line(c, "SLICE_REGION");
    cb_line(c, "{");
    cb_line(c, "SLICE_SHARE");
    cb_line(c, "for (int s = 0; s < ns; s++) {");
    cb_line(c, "const int i0 = SLICE_FIRST(s);");
    cb_line(c, "cnn_step_opts so = *o;");
    cb_line(c, "so.grad_scale = total > 0.0 ? (float)(o->grad_scale * den[s] / total) : 0.0f;");
    cb_line(c, "hits[s] = 0;");
    cb_line(c, "so.correct = o->correct ? &hits[s] : NULL;");
    cb_line(c, "float *g = s ? blocks + (ptrdiff_t)(s - 1) * %lldLL : target;", gblock);
    cb_line(c, "if (s || opt)");
    cb_line(c, "    memset(g, 0, sizeof(float) * %s_PARAM_FLOATS);", U);
    cb_line(c, "loss[s] = %s_train_step_slice(params, g, work + s * SLICE_WORK, input + (ptrdiff_t)i0 * %s_IN_SIZE,", N, U);
    cb_line(c, "                        labels + i0, SLICE_FIRST(s + 1) - i0, &so);");
    cb_line(c, "}");
    cb_line(c, "SLICE_SHARE");
    cb_line(c, "for (int p = 0; p < PIECES; p++) {");
    cb_line(c, "int t = 0;");
    cb_line(c, "while (t + 1 < TRAINED && trained_tensors[t + 1].piece <= p)");
    cb_line(c, "    t++;");
    cb_line(c, "const long long first = trained_tensors[t].at + (long long)(p - trained_tensors[t].piece) * PIECE;");
    cb_line(c, "const long long end = trained_tensors[t].at + trained_tensors[t].count;");
    cb_line(c, "const long long last = first + PIECE < end ? first + PIECE : end;");
    cb_line(c, "for (int s = 1; s < ns; s++) { /* slice by slice: the inner loop runs over the vectors */");
    cb_line(c, "const float *b = blocks + (ptrdiff_t)(s - 1) * %lldLL;", gblock);
    cb_line(c, "for (long long k = first; k < last; k++)");
    cb_line(c, "    target[k] += b[k];");
    cb_line(c, "}");
    cb_line(c, "if (opt && state && (!opt->frozen || !opt->frozen[trained_tensors[t].tensor]))");
    cb_line(c, "    update_tensor(params + first, target + first, m + first, v + first, (size_t)(last - first), opt, bc1, bc2);");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "double mean = 0.0;");
    cb_line(c, "for (int s = 0; s < ns; s++) {");
    cb_line(c, "mean += total > 0.0 ? loss[s] * (den[s] / total) : 0.0;");
    cb_line(c, "if (o->correct)");
    cb_line(c, "    *o->correct += hits[s];");
    cb_line(c, "}");
    cb_line(c, "return (float)mean;");
    cb_line(c, "}");
    cb_blank(c);
    cb_line(c, "float %s_train_step(float *params, float *grads, float *work, const float *input, const int *labels,", N);
    cb_line(c, "                    int n, const cnn_step_opts *o) {");
    cb_line(c, "if (n < 1 || n > %s_BATCH)", U);
    cb_line(c, "    return NAN;");
    cb_line(c, "const int ns = (n + SLICE_BATCH - 1) / SLICE_BATCH;");
    cb_line(c, "if (ns == 1)");
    cb_line(c, "    return %s_train_step_slice(params, grads, work, input, labels, n, o);", N);
    cb_line(c, "return %s_slices(params, grads, NULL, work, input, labels, n, ns, o, NULL, 1.0f, 1.0f);", N);
    cb_line(c, "}");
    cb_blank(c);
    cb_line(c, "float %s_train_step_update(float *params, float *state, float *work, const float *input,", N);
    cb_line(c, "                           const int *labels, int n, const cnn_step_opts *o, const cnn_optim *opt) {");
    cb_line(c, "if (n < 1 || n > %s_BATCH)", U);
    cb_line(c, "    return NAN;");
    cb_line(c, "const int ns = (n + SLICE_BATCH - 1) / SLICE_BATCH;");
    cb_line(c, "if (ns == 1)");
    cb_line(c, "    return %s_train_step_update_slice(params, state, work, input, labels, n, o, opt);", N);
    emit_bias_corrections(c, "opt");
    cb_line(c, "/* the gradients in the last block, summed and applied piece by piece */");
    cb_line(c, "return %s_slices(params, work + SLICES * SLICE_WORK + (SLICES - 1) * %lldLL, state, work, input, labels, n, ns, o,", N, gblock);
    cb_line(c, "                 opt, bc1, bc2);");
    cb_line(c, "}");
}

/* The training step: forward in training mode, the loss, then the backward ops in order.
 * Only the ops a training step needs are called: the model's final softmax is not. */
static void emit_train_step(Cbuf *c, const Graph *g, const Plan *plan, const char **calls) {
    const char *N = g->name;
    int softmax = g->ends_in_softmax ? g->values[g->output].producer : -1;
    FnBody b;
    body_init(&b);
    for (int i = 1; i < g->nops; i++)
        if (i != softmax && calls[i])
            cb_line(body_unit(&b), "%s", calls[i]);
    body_chunk(c, &b, arena_printf("%s_train_step", N),
               "float *params, float *grads, float *work, const float *input, const int *labels, int n, "
               "const cnn_step_opts *o",
               "params, grads, work, input, labels, n, o", false);
    cb_line(c, "%s(float *params, float *grads, float *work, const float *input, const int *labels,",
            entry(g, "float", "train_step"));
    cb_line(c, "                    int n, const cnn_step_opts *o) {");
    cb_line(c, "if (n < 1 || n > %s)", batch_limit(g));
    cb_line(c, "    return NAN;");
    body_print(c, &b);
    cb_line(c, "return work[%s];", buffer_name(g, plan, g->loss));
    cb_line(c, "}");
    cb_blank(c);
}

/* Adam's bias corrections of step o->step, bc1 and bc2, computed once per step: the one copy
 * that both NAME_update and NAME_train_step_update use (with update_tensor below, the only
 * optimizer math in the generated code). */
static void emit_bias_corrections(Cbuf *c, const char *o) {
    cb_line(c, "const float bc1 = 1.0f - powf(%s->beta1, (float)%s->step), bc2 = 1.0f - powf(%s->beta2, (float)%s->step);", o,
            o, o, o);
}

/* The optimizer step over every trained tensor, exactly as torch.optim computes it. */
static void emit_update(Cbuf *c, const Graph *g, const Plan *plan) {
    const char *N = g->name, *U = upper(g->name);
    cb_line(c, "/* One optimizer step on count floats: p (parameters), g (gradients), m and v (state). */");
    cb_line(c, "static CNN_NOINLINE void update_span(float *restrict p, const float *restrict g, float *restrict m,");
    cb_line(c, "                                     float *restrict v, size_t count, const cnn_optim *o, float bc1, float bc2) {");
    cb_line(c, "const float lr = o->lr, wd = o->weight_decay, mu = o->momentum;");
    cb_line(c, "const float b1 = o->beta1, b2 = o->beta2, eps = o->eps;");
    cb_line(c, "switch (o->kind) {");
    cb_line(c, "case CNN_SGD: /* torch.optim.SGD, dampening 0 */");
    cb_line(c, "for (size_t k = 0; k < count; k++) {");
    cb_line(c, "float d = g[k] + wd * p[k];");
    cb_line(c, "if (mu != 0.0f) {");
    cb_line(c, "m[k] = o->step == 1 ? d : mu * m[k] + d;");
    cb_line(c, "d = o->nesterov ? d + mu * m[k] : m[k];");
    cb_line(c, "}");
    cb_line(c, "p[k] -= lr * d;");
    cb_line(c, "}");
    cb_line(c, "break;");
    cb_line(c, "case CNN_ADAM:  /* torch.optim.Adam: weight decay added to the gradient */");
    cb_line(c, "case CNN_ADAMW: /* torch.optim.AdamW: decoupled weight decay */");
    cb_line(c, "for (size_t k = 0; k < count; k++) {");
    cb_line(c, "float d = g[k];");
    cb_line(c, "if (o->kind == CNN_ADAMW)");
    cb_line(c, "    p[k] *= 1.0f - lr * wd;");
    cb_line(c, "else");
    cb_line(c, "    d += wd * p[k];");
    cb_line(c, "m[k] = b1 * m[k] + (1.0f - b1) * d;");
    cb_line(c, "v[k] = b2 * v[k] + (1.0f - b2) * d * d;");
    cb_line(c, "p[k] -= lr / bc1 * m[k] / (sqrtf(v[k]) / sqrtf(bc2) + eps);");
    cb_line(c, "}");
    cb_line(c, "break;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_blank(c);
    /* Elementwise: pieces on the threads give the same floats as one loop. The step of every
     * tensor, serial between the backward's ops, took 8 ms of resnet18_cifar's training step
     * (11M parameters) on one thread (docs/hacking.md, "Threads"). Each piece is a call of
     * update_span, whose restrict pointers keep its loop vectorized (in the parallel loop's
     * body they would not be). */
    cb_line(c, "/* The step of a tensor: update_span over pieces of UPDATE_PIECE floats, on the threads when big. */");
    cb_line(c, "static CNN_NOINLINE void update_tensor(float *p, const float *g, float *m, float *v, size_t count,");
    cb_line(c, "                                       const cnn_optim *o, float bc1, float bc2) {");
    cb_line(c, "const int cnn_threads = count * %d >= %lldu; /* the floats read and written */", 5 * CNN_ELEMENT_WORK,
            (long long)CNN_THREAD_WORK);
    cb_line(c, "(void)cnn_threads;");
    cb_line(c, "enum { UPDATE_PIECE = 4096 };");
    cb_line(c, "const long long pieces = (long long)((count + UPDATE_PIECE - 1) / UPDATE_PIECE);");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (long long pc = 0; pc < pieces; pc++) {");
    cb_line(c, "const size_t k0 = (size_t)pc * UPDATE_PIECE;");
    cb_line(c, "update_span(p + k0, g + k0, m + k0, v + k0, count - k0 < UPDATE_PIECE ? count - k0 : UPDATE_PIECE, o, bc1, bc2);");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_blank(c);
    cb_line(c, "/* count floats of a gradient buffer zeroed, in pieces on the threads when big. */");
    cb_line(c, "static CNN_NOINLINE CNN_MAYBE_UNUSED void zero_floats(float *p, size_t count) {");
    cb_line(c, "const int cnn_threads = count * %d >= %lldu;", CNN_ELEMENT_WORK, (long long)CNN_THREAD_WORK);
    cb_line(c, "(void)cnn_threads;");
    cb_line(c, "enum { ZERO_PIECE = 16384 };");
    cb_line(c, "const long long pieces = (long long)((count + ZERO_PIECE - 1) / ZERO_PIECE);");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (long long pc = 0; pc < pieces; pc++) {");
    cb_line(c, "const size_t k0 = (size_t)pc * ZERO_PIECE;");
    cb_line(c, "memset(p + k0, 0, sizeof(float) * (count - k0 < ZERO_PIECE ? count - k0 : ZERO_PIECE));");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_blank(c);
    FnBody b;
    body_init(&b);
    for (int i = 0; i < g->nparams; i++) {
        const ParamT *p = &g->params[i];
        if (!p->trained)
            continue;
        long long off = (long long)plan->param_offset[i];
        Cbuf *u = body_unit(&b);
        cb_line(u, "if (!o->frozen || !o->frozen[%d]) /* %s */", i, p->name);
        cb_line(u, "    update_tensor(params + %lld, grads + %lld, m + %lld, v + %lld, %lld, o, bc1, bc2);", off, off, off,
                off, (long long)p->numel);
    }
    body_chunk(c, &b, arena_printf("%s_update", N),
               "float *params, const float *grads, float *m, float *v, const cnn_optim *o, float bc1, float bc2",
               "params, grads, m, v, o, bc1, bc2", false);
    cb_line(c, "void %s_update(float *params, const float *grads, float *state, const cnn_optim *o) {", N);
    cb_line(c, "float *m = state, *v = state + %s_PARAM_FLOATS;", U);
    emit_bias_corrections(c, "o");
    body_print(c, &b);
    cb_line(c, "}");
}

/* The training step with each parameter updated as soon as its gradient is complete (the
 * Tiny Training Engine's reordering): the gradients live in transient arena buffers instead
 * of a gradient block the size of the parameters. Valid without gradient accumulation and
 * without clipping by the global norm, which both need every gradient first. */
static void emit_train_step_update(Cbuf *c, const Graph *g, const Plan *plan, const char **calls,
                                   const char **calls_tte) {
    const char *N = g->name, *U = upper(g->name);
    int softmax = g->ends_in_softmax ? g->values[g->output].producer : -1;
    FnBody b;
    body_init(&b);
    for (int i = 1; i < g->nops; i++) {
        if (i == softmax || !calls[i])
            continue;
        int gb = plan->grad_scratch_of[i];
        Cbuf *u = body_unit(&b);
        if (gb < 0) {
            cb_line(u, "%s", calls[i]);
            continue;
        }
        cb_line(u, "zero_floats(work + %s, %lld);", buffer_name(g, plan, gb), (long long)plan->value_floats[gb]);
        cb_line(u, "%s", calls_tte[i]);
        const Op *f = &g->ops[g->ops[i].fwd];
        for (int r = 0; r < 2; r++) {
            int pi = f->param[r];
            if (pi < 0 || !g->params[pi].trained)
                continue;
            long long off = (long long)plan->param_offset[pi];
            cb_line(u, "if (!opt->frozen || !opt->frozen[%d])", pi);
            cb_line(u, "    update_tensor(params + %lld, %s, m + %lld, v + %lld, %lld, opt, bc1, bc2);", off,
                    grad_slot(g, plan, gb, pi), off, off, (long long)g->params[pi].numel);
        }
    }
    body_chunk(c, &b, arena_printf("%s_train_step_update", N),
               "float *params, float *m, float *v, float *work, const float *input, const int *labels, int n, "
               "const cnn_step_opts *o, const cnn_optim *opt, float bc1, float bc2",
               "params, m, v, work, input, labels, n, o, opt, bc1, bc2", false);
    cb_line(c, "%s(float *params, float *state, float *work, const float *input,", entry(g, "float", "train_step_update"));
    cb_line(c, "                           const int *labels, int n, const cnn_step_opts *o, const cnn_optim *opt) {");
    cb_line(c, "if (n < 1 || n > %s)", batch_limit(g));
    cb_line(c, "    return NAN;");
    cb_line(c, "float *m = state, *v = state + %s_PARAM_FLOATS;", U);
    emit_bias_corrections(c, "opt");
    body_print(c, &b);
    cb_line(c, "return work[%s];", buffer_name(g, plan, g->loss));
    cb_line(c, "}");
}

/* Names for the places the entry points pass: V<id> for the values of the IR, S<op> and G<op>
 * for scratch and gradient buffers (offsets into work); parameter tensors go by the header's
 * NAME_OFFSET_TENSOR (offsets into params and grads). */
static void emit_buffer_names(Cbuf *c, const Graph *g, const Plan *plan) {
    cb_line(c, "/* Where each buffer of the memory plan starts in work, in floats (V12: value %%12 of the IR,");
    cb_line(c, " * S5 / G5: the scratch / the parameter gradients of step 5). */");
    for (int b = 0; b < plan->nbuffers; b++) {
        if (b == g->input || (plan->value_floats[b] == 0 && plan->alias_of[b] < 0))
            continue;
        const char *note = "";
        if (plan->alias_of[b] >= 0)
            note = arena_printf(" /* in place of %s */", buffer_name(g, plan, plan->alias_of[b]));
        cb_line(c, "#define %s %lld%s", buffer_name(g, plan, b), (long long)plan->value_offset[b], note);
    }
    cb_blank(c);
}

/* Whether some op's code calls cnn_erf (defined only then, so other files stay as they were). */
static bool uses_erf(const Graph *g) {
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        const OpInfo *info = op_info(op->kind);
        if (info->act_expr && strstr(info->act_expr(op, "v"), "cnn_erf"))
            return true;
        if (op_is_backward(op) && op_code_info(g, op)->act_expr &&
            strstr(op_code_info(g, op)->act_expr(&g->ops[op->fwd], "v"), "cnn_erf"))
            return true;
    }
    return false;
}

/* For `PROGRAM visualize` (runtime/cmd_visualize.c): every [C, H, W] value the inference
 * forward pass writes, named after the op that writes it (its parameter prefix, else
 * KIND#ID), with the ops fused into it ("conv0 + bn0 + relu"), and NAME_forward_tap, which runs
 * the forward pass up to that op and copies the value out before anything overwrites it. */
static int emit_taps(Cbuf *c, const Graph *g, const Plan *plan, const char **calls, int nfwd) {
    const char *N = g->name, *U = upper(g->name);
    int *taps = arena_alloc(sizeof(int) * (size_t)(nfwd + 1)), ntaps = 0;
    for (int i = 1; i < nfwd; i++)
        if (calls[i] && g->ops[i].fused_into < 0 && g->ops[i].writes >= 0 &&
            g->values[g->ops[i].writes].shape.rank == 4)
            taps[ntaps++] = i;
    cb_blank(c);
    cb_line(c, "/* visualize: the [C, H, W] values of the forward pass, by the op that writes them. */");
    cb_line(c, "const int %s_ntaps = %d;", N, ntaps);
    const char *names = "", *whats = "", *shapes = "";
    for (int t = 0; t < ntaps; t++) {
        const Op *op = &g->ops[taps[t]];
        const char *name = op->pname ? op->pname : arena_printf("%s#%d", op_info(op->kind)->name, taps[t]);
        const char *what = name;
        for (int j = 1; j < nfwd; j++)
            if (g->ops[j].fused_into == taps[t])
                what = arena_printf("%s + %s", what, g->ops[j].pname ? g->ops[j].pname : op_info(g->ops[j].kind)->name);
        Shape s = g->values[op->writes].shape;
        names = arena_printf("%s\"%s\", ", names, name);
        whats = arena_printf("%s\"%s\", ", whats, what);
        shapes = arena_printf("%s{%d, %d, %d}, ", shapes, s.d[1], s.d[2], s.d[3]);
    }
    if (!ntaps) {
        names = whats = "\"\"";
        shapes = "{0, 0, 0}";
    }
    cb_line(c, "const char *const %s_tap_name[] = {%s};", N, names);
    cb_line(c, "const char *const %s_tap_what[] = {%s};", N, whats);
    cb_line(c, "const int %s_tap_shape[][3] = {%s};", N, shapes);
    if (!ntaps) {
        cb_line(c, "int %s_forward_tap(const float *params, float *work, const float *input, float *dst, int n, int tap) {", N);
        cb_line(c, "if (n < 1 || n > %s_BATCH || tap < 0 || tap >= %d)", U, ntaps);
        cb_line(c, "    return -1;");
        cb_line(c, "(void)params;");
        cb_line(c, "(void)work;");
        cb_line(c, "(void)input;");
        cb_line(c, "(void)dst;");
        cb_line(c, "return -1;");
        cb_line(c, "}");
        return 0;
    }
    FnBody b;
    body_init(&b);
    for (int i = 1, t = 0; i < nfwd && t < ntaps; i++) {
        if (!calls[i])
            continue;
        Cbuf *u = body_unit(&b);
        cb_line(u, "%s", calls[i]);
        if (i == taps[t]) {
            Shape s = g->values[g->ops[i].writes].shape;
            cb_line(u, "if (tap == %d) {", t);
            cb_line(u, "memcpy(dst, %s, sizeof(float) * (size_t)n * %lld);", value_ptr(g, plan, g->ops[i].writes),
                    (long long)(shape_numel(s) / s.d[0]));
            cb_line(u, "return 0;");
            cb_line(u, "}");
            t++;
        }
    }
    body_chunk(c, &b, arena_printf("%s_forward_tap", N),
               "const float *params, float *work, const float *input, float *dst, int n, int tap",
               "params, work, input, dst, n, tap", true);
    cb_line(c, "%s(const float *params, float *work, const float *input, float *dst, int n, int tap) {",
            entry(g, "int", "forward_tap"));
    cb_line(c, "if (n < 1 || n > %s || tap < 0 || tap >= %d)", batch_limit(g), ntaps);
    cb_line(c, "    return -1;");
    if (!g->nparams)
        cb_line(c, "(void)params;");
    body_print(c, &b);
    cb_line(c, "return -1;");
    cb_line(c, "}");
    return ntaps;
}

/* About this much function text (bytes) per part: a few seconds of the C compiler at -O3. */
enum { PART_TEXT = 150000 };

/* Distinct op functions in one generated file (docs/language.md, Limits): the C compiler
 * spends about 0.1 to 0.2 s of CPU on each at -O3, and identical layers share one, so this
 * bounds a program's build to about a minute on 2 cores whatever the number of ops
 * (GoogLeNet's training code needs 302). */
enum { MAX_OP_FNS = 320 };


/* With max_parts > 0 (a training graph of a standalone program), the training op functions go
 * to parts[0..K-1] instead, K <= max_parts chosen by their amount of text, so that the C
 * compiler can work on them in parallel; returns K (0 without a split). */
static int emit_source(Cbuf *c, const Graph *g, const Plan *plan, const EmitOptions *o, const char *h_name,
                       Cbuf *parts, int max_parts) {
    const char *N = g->name, *U = upper(g->name), *src = basename_of(o->source);
    cb_line(c, "/* %s.c: generated by cnnc from %s. Do not edit; regenerate instead.", N, src);
    cb_line(c, " * The API is documented in %s. Every loop bound, stride and offset below is a constant", h_name);
    cb_line(c, " * except n, the number of images in the call. Memory plan: %s of workspace (%s if every",
            fmt_count((double)plan->arena_floats * 4), fmt_count((double)plan->naive_floats * 4));
    cb_line(c, " * tensor had its own), placed %s. */", plan->heuristic);
    cb_line(c, "#include <math.h>");
    cb_line(c, "#include <string.h>");
    cb_blank(c);
    cb_line(c, "#include \"%s\"", h_name);
    cb_blank(c);
    if (g->training) {
        cb_line(c, "/* Data-parallel training (cnnc --mpi compiles with -DCNN_MPI): each rank trains on a slice");
        cb_line(c, " * of the batch starting at image cnn_mpi_first, and batchnorm sums its statistics over the");
        cb_line(c, " * ranks with cnn_mpi_sum (n doubles, summed in place), as torch.nn.SyncBatchNorm. */");
        cb_line(c, "#ifdef CNN_MPI");
        cb_line(c, "extern int cnn_mpi_first;");
        cb_line(c, "void cnn_mpi_sum(double *v, int n);");
        cb_line(c, "#define CNN_FIRST_IMAGE ((unsigned long long)cnn_mpi_first)");
        cb_line(c, "#else");
        cb_line(c, "#define CNN_FIRST_IMAGE 0ull");
        cb_line(c, "#endif");
        cb_blank(c);
    }
    cb_line(c, "/* Vector types of gcc and clang for register tiles: 16 floats with AVX-512, else 8 (which");
    cb_line(c, " * any target supports, split into narrower registers if need be). Other compilers take");
    cb_line(c, " * the scalar loops. */");
    cb_line(c, "#if defined(__GNUC__)");
    cb_line(c, "#define CNN_VECTORS 1");
    cb_line(c, "#if defined(__AVX512F__)");
    cb_line(c, "#define CNN_VW 16");
    cb_line(c, "#else");
    cb_line(c, "#define CNN_VW 8");
    cb_line(c, "#endif");
    cb_line(c, "typedef float cnn_vec __attribute__((vector_size(CNN_VW * 4)));");
    cb_line(c, "typedef float cnn_vec2 __attribute__((vector_size(CNN_VW * 8))); /* two registers */");
    cb_line(c, "typedef float cnn_half __attribute__((vector_size(CNN_VW * 2)));");
    cb_line(c, "#if defined(__clang__) || __GNUC__ >= 12");
    cb_line(c, "#define CNN_SHUFFLE 1 /* __builtin_shufflevector: lanes of two vectors picked by constants */");
    cb_line(c, "#else");
    cb_line(c, "#define CNN_SHUFFLE 0");
    cb_line(c, "#endif");
    cb_line(c, "#else");
    cb_line(c, "#define CNN_VECTORS 0");
    cb_line(c, "#define CNN_SHUFFLE 0");
    cb_line(c, "#endif");
    cb_blank(c);
    cb_line(c, "/* e^x for activations, written so that loops over it vectorize (libm's expf and tanhf are");
    cb_line(c, " * scalar calls): e^x = 2^n e^r with n = round(x / ln 2), |r| <= ln(2) / 2, e^r by its Taylor");
    cb_line(c, " * polynomial to degree 7 (relative error below 1e-7 before rounding). Defined for every");
    cb_line(c, " * float: x is clamped to [-87, 88] (infinities included), and a NaN, which fails both");
    cb_line(c, " * comparisons, is computed as -87 and returned as itself (no NaN reaches the int cast). */");
    cb_line(c, "#if defined(__GNUC__)");
    cb_line(c, "#define CNN_MAYBE_UNUSED __attribute__((unused))");
    cb_line(c, "#else");
    cb_line(c, "#define CNN_MAYBE_UNUSED");
    cb_line(c, "#endif");
    /* Build speed (docs/language.md, Limits): an op function stays a call. Inlined into the
     * step functions, hundreds of them made one function whose code generation grows faster
     * than linearly (a 200-layer training program: 11 s of compiler time against 2 s). */
    cb_line(c, "/* Op functions stay calls (noinline): inlined, they would make the step functions so large");
    cb_line(c, " * that the C compiler's time grows faster than the number of ops.");
    cb_line(c, " * With AVX-512, clang keeps 64-byte vectors in pairs of 256-bit registers on the CPUs it");
    cb_line(c, " * tunes for 256-bit vectors (most of them) unless a function asks for 512-bit ones. */");
    cb_line(c, "#if defined(__clang__) && defined(__AVX512F__)");
    cb_line(c, "#define CNN_NOINLINE __attribute__((noinline, min_vector_width(512)))");
    cb_line(c, "#elif defined(__GNUC__)");
    cb_line(c, "#define CNN_NOINLINE __attribute__((noinline))");
    cb_line(c, "#else");
    cb_line(c, "#define CNN_NOINLINE");
    cb_line(c, "#endif");
    cb_line(c, "static inline CNN_MAYBE_UNUSED float cnn_exp(float x) {");
    cb_line(c, "const float xc = x > -87.0f ? (x < 88.0f ? x : 88.0f) : -87.0f;");
    cb_line(c, "const float n = floorf(xc * 1.44269504f + 0.5f);");
    cb_line(c, "const float r = (xc - n * 0.693145752f) - n * 1.42860677e-6f; /* ln 2 in two parts */");
    cb_line(c, "const float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 +");
    cb_line(c, "                r * (1.0f / 720 + r * (1.0f / 5040)))))));");
    cb_line(c, "const int bits = ((int)n + 127) * (1 << 23);");
    cb_line(c, "float scale;");
    cb_line(c, "memcpy(&scale, &bits, sizeof scale);");
    cb_line(c, "return x == x ? p * scale : x;");
    cb_line(c, "}");
    cb_line(c, "static inline CNN_MAYBE_UNUSED float cnn_tanh(float x) { return 1.0f - 2.0f / (cnn_exp(2.0f * x) + 1.0f); }");
    if (uses_erf(g)) {
        cb_line(c, "/* erf(x) for gelu, vectorizable: Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7. */");
        cb_line(c, "static inline CNN_MAYBE_UNUSED float cnn_erf(float x) {");
        cb_line(c, "const float a = fabsf(x), t = 1.0f / (1.0f + 0.3275911f * a);");
        cb_line(c, "const float p = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f +");
        cb_line(c, "                t * 1.061405429f))));");
        cb_line(c, "const float r = 1.0f - p * cnn_exp(-a * a);");
        cb_line(c, "return x < 0.0f ? -r : r;");
        cb_line(c, "}");
    }
    cb_blank(c);
    cb_line(c, "/* Loops over independent images or channels run on several threads with -fopenmp, when");
    cb_line(c, " * the op has work enough to pay for waking them: each op function sets cnn_threads from");
    cb_line(c, " * its estimated work (FLOPs and elements) for the call's n. */");
    cb_line(c, "#ifdef _OPENMP");
    cb_line(c, "#define PARALLEL_FOR _Pragma(\"omp parallel for if(cnn_threads)\")");
    cb_line(c, "#else");
    cb_line(c, "#define PARALLEL_FOR");
    cb_line(c, "#endif");
    cb_line(c, "/* CNN_THREADS(): the threads such a loop runs on when it splits (1 without OpenMP). */");
    cb_line(c, "#ifdef _OPENMP");
    cb_line(c, "int omp_get_max_threads(void);");
    cb_line(c, "#define CNN_THREADS() omp_get_max_threads()");
    cb_line(c, "#else");
    cb_line(c, "#define CNN_THREADS() 1");
    cb_line(c, "#endif");
    cb_line(c, "/* In the function OpenMP outlines for a parallel loop, the op's pointers are no longer");
    cb_line(c, " * restrict, and the compiler does not vectorize a short inner loop that it would have to");
    cb_line(c, " * guard with overlap checks: CNN_SIMD(VL) before such a loop says that its iterations are");
    cb_line(c, " * independent (vectors of VL lanes). */");
    cb_line(c, "#ifdef _OPENMP");
    cb_line(c, "#define CNN_PRAGMA(x) _Pragma(#x)");
    cb_line(c, "#define CNN_SIMD(vl) CNN_PRAGMA(omp simd simdlen(vl))");
    cb_line(c, "#else");
    cb_line(c, "#define CNN_SIMD(vl)");
    cb_line(c, "#endif");
    cb_blank(c);
    size_t shared_end = c->len; /* the parts repeat what comes before (no definition with linkage) */
    if (g->nparams)
        cb_line(c, "const %s_tensor %s_tensors[%s_NUM_TENSORS] = {", N, N, U);
    else
        cb_line(c, "const %s_tensor %s_tensors[1] = {{0, 0, 0, 0, {0, 0, 0, 0}, 0, 0, 0, 0}", N, N);
    for (int i = 0; i < g->nparams; i++) {
        const ParamT *p = &g->params[i];
        int fi, fo;
        fans(p, g, &fi, &fo);
        cb_line(c, "{\"%s\", %lld, %lld, %d, {%d, %d, %d, %d}, %d, \"%s\", %d, %d},", p->name,
                (long long)plan->param_offset[i], (long long)p->numel, p->shape.rank, p->shape.d[0],
                p->shape.rank > 1 ? p->shape.d[1] : 0, p->shape.rank > 2 ? p->shape.d[2] : 0,
                p->shape.rank > 3 ? p->shape.d[3] : 0, p->trained, tensor_init(p, g), fi, fo);
    }
    cb_line(c, "};");
    cb_blank(c);
    cb_line(c, "unsigned long %s_params_crc32(const float *params) {", N);
    cb_line(c, "const unsigned int probe = 1;");
    cb_line(c, "const int little = *(const unsigned char *)&probe == 1;");
    cb_line(c, "unsigned long crc = 0xFFFFFFFFUL;");
    cb_line(c, "int t;");
    cb_line(c, "for (t = 0; t < %s_NUM_TENSORS; t++) {", U);
    cb_line(c, "const float *p = params + %s_tensors[t].offset;", N);
    cb_line(c, "size_t i;");
    cb_line(c, "for (i = 0; i < %s_tensors[t].numel; i++) {", N);
    cb_line(c, "unsigned char bytes[4];");
    cb_line(c, "int b;");
    cb_line(c, "memcpy(bytes, p + i, 4);");
    cb_line(c, "for (b = 0; b < 4; b++) {");
    cb_line(c, "int k;");
    cb_line(c, "crc ^= bytes[little ? b : 3 - b];");
    cb_line(c, "for (k = 0; k < 8; k++)");
    cb_line(c, "    crc = (crc >> 1) ^ (0xEDB88320UL & (0UL - (crc & 1UL)));");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "return (crc ^ 0xFFFFFFFFUL) & 0xFFFFFFFFUL;");
    cb_line(c, "}");
    cb_blank(c);
    cb_line(c, "int %s_check_params(const float *params, unsigned long crc) {", N);
    cb_line(c, "return %s_params_crc32(params) == (crc & 0xFFFFFFFFUL) ? 0 : -1;", N);
    cb_line(c, "}");
    cb_blank(c);
    int nfwd = g->training ? g->nforward : g->nops;
    const char **calls = arena_alloc(sizeof(char *) * (size_t)(g->nops + 1));
    const char **calls_tte = arena_alloc(sizeof(char *) * (size_t)(g->nops + 1));
    int *fn_of = arena_alloc(sizeof(int) * (size_t)(g->nops + 1));     /* training functions */
    int *infer_of = arena_alloc(sizeof(int) * (size_t)(g->nops + 1));  /* inference functions */
    FnTable fns = {0};
    for (int i = 1; i < g->nops; i++) {
        infer_of[i] = fn_of[i] = -1;
        if (i < nfwd && g->ops[i].fused_into < 0)
            infer_of[i] = fn_add(&fns, build_fn(g, plan, i, FN_INFER, src));
    }
    for (int i = 1; i < g->nops && g->training; i++) {
        const Op *op = &g->ops[i];
        if (op->fused_into >= 0 || (i < nfwd && !train_variant(op)))
            continue; /* the inference function serves training too */
        fn_of[i] = fn_add(&fns, build_fn(g, plan, i, i < nfwd ? FN_TRAIN : op_is_backward(op) ? FN_BACKWARD : FN_INFER, src));
    }
    int distinct = 0;
    for (int k = 0; k < fns.n; k++)
        distinct += fns.fns[k].same_as < 0;
    if (distinct > MAX_OP_FNS) {
        fprintf(stderr,
                "cnnc: error: %s: the %s code needs %d distinct op functions (layers of different shapes), more "
                "than the limit of %d: the C compiler would take minutes on them (docs/language.md, Limits)\n",
                o->source ? o->source : N, g->training ? "training" : "inference", distinct, MAX_OP_FNS);
        return -1;
    }
    size_t names_start = c->len;
    emit_buffer_names(c, g, plan);
    /* A standalone program's files (max_parts > 0) put the op functions in parts: always for
     * the training graph, and for the inference graph once its functions make more than one
     * part's text; this file keeps the entry points. */
    size_t fn_text = 0;
    for (int k = 0; k < fns.n; k++)
        if (fns.fns[k].same_as < 0)
            fn_text += strlen(fns.fns[k].body);
    int nparts = 0;
    if (max_parts > 0) {
        nparts = (g->training ? 1 : 0) + (int)(fn_text / PART_TEXT);
        if (nparts > max_parts)
            nparts = max_parts;
    }
    for (int k = 0; k < nparts; k++) {
        cb_raw(&parts[k], "%.*s", (int)shared_end, c->data);
        cb_line(&parts[k], "/* Part %d of %d of the op functions of %s.c, compiled on their own. */", k + 1, nparts, N);
        cb_raw(&parts[k], "%.*s", (int)(c->len - names_start), c->data + names_start);
    }
    /* Split: each function goes to the part with the least text so far, under an external
     * name NAME_opI_...; this file declares it before its first call. It keeps CNN_NOINLINE's
     * attributes: without min_vector_width(512), clang splits the kernels' 16-float vectors in
     * two (the programs' training steps ran 25-40% slower than the same C in one file). */
    if (nparts) {
        size_t *part_len = arena_alloc(sizeof(size_t) * (size_t)nparts);
        for (int k = 0; k < fns.n; k++) {
            Fn *fn = &fns.fns[k];
            if (fn->same_as >= 0)
                continue;
            fn->name = arena_printf("%s_%s", N, fn->name);
            int p = 0;
            for (int j = 1; j < nparts; j++)
                if (part_len[j] < part_len[p])
                    p = j;
            part_len[p] += strlen(fn->body);
            fn_print(&parts[p], fn, "CNN_NOINLINE"); /* its min_vector_width too (512-bit vectors) */
        }
        for (int k = 0; k < fns.n; k++)
            if (fns.fns[k].same_as >= 0)
                fns.fns[k].name = fns.fns[fns.fns[k].same_as].name;
    }
    /* The packed weights: each op whose function packs them gets its place in the packs. */
    const char **calls_fwd = arena_alloc(sizeof(char *) * (size_t)(g->nops + 1)); /* in NAME_forward_run */
    const char **calls_pack = arena_alloc(sizeof(char *) * (size_t)(g->nops + 1)); /* in NAME_pack */
    int64_t pack_total = 0;
    for (int i = 1; i < nfwd; i++)
        if (infer_of[i] >= 0) {
            const Fn *fn = &fns.fns[infer_of[i]];
            if (!nparts)
                fn_print(c, fn, "static CNN_NOINLINE");
            else if (fn->same_as < 0)
                cb_line(c, "void %s(%s);", fn->name, *fn->decl ? fn->decl : "void");
            calls[i] = calls_tte[i] = calls_fwd[i] = arena_printf("%s(%s);", fn->name, fn->call);
            calls_pack[i] = NULL;
            if (fn->pack_floats > 0) {
                calls_fwd[i] = arena_printf("%s(%s, packs ? packs + %lld : NULL, 0);", fn->name, fn->call_base,
                                            (long long)pack_total);
                calls_pack[i] = arena_printf("%s(%s, packs + %lld, 1);", fn->name, fn->call_base, (long long)pack_total);
                pack_total += (fn->pack_floats + 15) / 16 * 16;
            }
        }
    last_pack_floats = pack_total;
    if (nparts)
        cb_blank(c);
    FnBody fb;
    body_init(&fb);
    for (int i = 1; i < nfwd; i++)
        if (calls[i])
            cb_line(body_unit(&fb), "%s", calls_fwd[i]);
    body_chunk(c, &fb, arena_printf("%s_forward", N),
               "const float *params, float *packs, float *work, const float *input, int n",
               "params, packs, work, input, n", false);
    if (g->slices > 1) {
        cb_line(c, "/* Batch slices: a call of n images runs as at most SLICES slices of at most SLICE_BATCH");
        cb_line(c, " * images, each in its own SLICE_WORK floats of work (the plan is one slice's). */");
        cb_line(c, "enum { SLICES = %d, SLICE_BATCH = %d };", g->slices, g->batch);
        cb_line(c, "#define SLICE_WORK %lldLL", (long long)((plan->arena_floats + 15) / 16 * 16));
        cb_blank(c);
    }
    cb_line(c, "/* The forward pass, with the weights packed by %s_pack (packs) or repacked in each call", N);
    cb_line(c, " * (packs NULL). */");
    cb_line(c, "static int %s_forward_run(const float *params, float *packs, float *work, const float *input,", N);
    cb_line(c, "                       float *output, int n) {");
    cb_line(c, "if (n < 1 || n > %s)", batch_limit(g));
    cb_line(c, "    return -1;");
    cb_line(c, "(void)packs;");
    if (!g->nparams)
        cb_line(c, "(void)params; /* the model has no parameters */");
    body_print(c, &fb);
    cb_line(c, "memcpy(output, %s, sizeof(float) * (size_t)n * %s_OUT_SIZE);", value_ptr(g, plan, g->output), U);
    cb_line(c, "return 0;");
    cb_line(c, "}");
    cb_blank(c);
    const char *run = arena_printf("%s_forward_run", N);
    if (g->slices > 1) {
        run = arena_printf("%s_forward_slices", N);
        cb_line(c, "/* n images in slices run at once, each in its own arena (batch slices). */");
        cb_line(c, "#ifdef _OPENMP");
        cb_line(c, "#define SLICE_FOR _Pragma(\"omp parallel for schedule(static)\")");
        cb_line(c, "#else");
        cb_line(c, "#define SLICE_FOR");
        cb_line(c, "#endif");
        cb_line(c, "#define SLICE_FIRST(s) (int)((long long)n * (s) / ns)");
        cb_line(c, "static int %s(const float *params, float *packs, float *work, const float *input, float *output,", run);
        cb_line(c, "              int n) {");
        cb_line(c, "if (n < 1 || n > %s_BATCH)", U);
        cb_line(c, "    return -1;");
        cb_line(c, "const int ns = (n + SLICE_BATCH - 1) / SLICE_BATCH;");
        cb_line(c, "if (ns == 1) /* no parallel region: the ops' own threads, if they pay (batch 1) */");
        cb_line(c, "    return %s_forward_run(params, packs, work, input, output, n);", N);
        cb_line(c, "SLICE_FOR");
        cb_line(c, "for (int s = 0; s < ns; s++) {");
        cb_line(c, "const int i0 = SLICE_FIRST(s);");
        cb_line(c, "(void)%s_forward_run(params, packs, work + s * SLICE_WORK, input + (ptrdiff_t)i0 * %s_IN_SIZE,", N, U);
        cb_line(c, "                      output + (ptrdiff_t)i0 * %s_OUT_SIZE, SLICE_FIRST(s + 1) - i0);", U);
        cb_line(c, "}");
        cb_line(c, "return 0;");
        cb_line(c, "}");
        cb_blank(c);
    }
    cb_line(c, "int %s_forward(const float *params, float *work, const float *input, float *output, int n) {", N);
    cb_line(c, "return %s(params, NULL, work, input, output, n);", run);
    cb_line(c, "}");
    cb_blank(c);
    cb_line(c, "int %s_pack(const float *params, float *work, float *packs) {", N);
    cb_line(c, "const float *const input = work; /* not read: each call below packs its weights and returns */");
    cb_line(c, "const int n = 1;");
    cb_line(c, "(void)params, (void)input, (void)n, (void)packs;");
    for (int i = 1; i < nfwd; i++)
        if (calls_pack[i])
            cb_line(c, "%s", calls_pack[i]);
    cb_line(c, "return 0;");
    cb_line(c, "}");
    cb_blank(c);
    cb_line(c, "int %s_forward_packed(const float *params, float *packs, float *work, const float *input, float *output,", N);
    cb_line(c, "                   int n) {");
    cb_line(c, "return %s(params, packs, work, input, output, n);", run);
    cb_line(c, "}");
    int ntaps = o->taps ? emit_taps(c, g, plan, calls, nfwd) : 0;
    if (g->training) {
        cb_blank(c);
        cb_line(c, "/* ---------------- training ---------------- */");
        cb_blank(c);
        for (int i = 1; i < g->nops && nparts; i++) {
            const Fn *fn = fn_of[i] >= 0 ? &fns.fns[fn_of[i]] : NULL;
            if (fn && fn->same_as < 0)
                cb_line(c, "void %s(%s);", fn->name, *fn->decl ? fn->decl : "void");
        }
        if (nparts)
            cb_blank(c);
        for (int i = 1; i < g->nops; i++) {
            if (fn_of[i] < 0)
                continue;
            const Fn *fn = &fns.fns[fn_of[i]];
            if (!nparts)
                fn_print(c, fn, "static CNN_NOINLINE");
            calls[i] = arena_printf("%s(%s);", fn->name, fn->call);
            calls_tte[i] = arena_printf("%s(%s);", fn->name, fn->call_tte);
        }
        emit_train_step(c, g, plan, calls);
        emit_update(c, g, plan);
        emit_train_step_update(c, g, plan, calls, calls_tte);
    }
    if (g->slices > 1)
        emit_slice_entries(c, g, plan, ntaps > 0);
    if (o->weights) {
        cb_blank(c);
        cb_line(c, "const float %s_weights[%s_PARAM_FLOATS] = {", N, U);
        for (int64_t i = 0; i < plan->param_floats; i += 8) {
            const char *row = "";
            for (int64_t k = i; k < i + 8 && k < plan->param_floats; k++)
                row = arena_printf("%s%s,", *row ? arena_printf("%s ", row) : "", emit_float(o->weights[k]));
            cb_line(c, "%s", row);
        }
        cb_line(c, "};");
    }
    return nparts;
}

/* The glue of a standalone program: inference from g (fully fused), training from gt (the
 * training graph, whose symbols carry gt->name), or no training when gt is NULL. */
static void emit_main(Cbuf *c, const Graph *g, const Graph *gt, const EmitOptions *o, const char *h_name,
                      const char *ht_name) {
    const char *N = g->name, *U = upper(g->name);
    const char *T = gt ? gt->name : NULL, *TU = gt ? upper(gt->name) : NULL;
    Shape in = g->values[g->input].shape;
    cb_line(c, "/* %s_main.c: generated by cnnc; hands model %s to the runtime's command line. */", N, N);
    cb_line(c, "#include \"cnnrt.h\"");
    cb_line(c, "#include \"cnntrain.h\"");
    cb_line(c, "#ifdef _OPENMP");
    cb_line(c, "#include <omp.h>");
    cb_line(c, "static void set_threads(int n) { omp_set_num_threads(n); }");
    cb_line(c, "static int max_threads(void) { return omp_get_max_threads(); }");
    cb_line(c, "#endif");
    cb_line(c, "#include \"%s\"", h_name);
    if (gt)
        cb_line(c, "#include \"%s\"", ht_name);
    cb_blank(c);
    cb_line(c, "/* visualize: defined in %s.c (not part of the embeddable API). */", N);
    cb_line(c, "extern const int %s_ntaps;", N);
    cb_line(c, "extern const char *const %s_tap_name[], *const %s_tap_what[];", N, N);
    cb_line(c, "extern const int %s_tap_shape[][3];", N);
    cb_line(c, "int %s_forward_tap(const float *params, float *work, const float *input, float *dst, int n, int tap);", N);
    cb_blank(c);
    const TrainConfig *t = g->train;
    cb_line(c, "/* The train section of %s. */", basename_of(o->source));
    if (t->loss.weight.n) {
        const char *w = "";
        for (int i = 0; i < t->loss.weight.n; i++)
            w = arena_printf("%s%s%s", w, i ? ", " : "", emit_float(t->loss.weight.items[i]));
        cb_line(c, "static const float class_weight[] = {%s};", w);
    }
    if (t->schedule.milestones.n) {
        const char *m = "";
        for (int i = 0; i < t->schedule.milestones.n; i++)
            m = arena_printf("%s%s%d", m, i ? ", " : "", t->schedule.milestones.items[i]);
        cb_line(c, "static const int milestones[] = {%s};", m);
    }
    if (t->naugment) {
        cb_line(c, "static const CnnAugment augment[] = {");
        for (int i = 0; i < t->naugment; i++) {
            const TrainAugment *a = &t->augment[i];
            bool sc = a->scale.n == 2, ra = a->ratio.n == 2, af = a->kind == AUG_AFFINE;
            cb_line(c, "{%d, %d, %s, %s, %s, .size = %d, .brightness = %s, .contrast = %s, .saturation = %s, .hue = %s,",
                    (int)a->kind, a->pad, emit_float(a->p), emit_float(a->degrees),
                    emit_float(af ? a->translate : a->fraction), a->size,
                    emit_float(a->brightness), emit_float(a->contrast), emit_float(a->saturation), emit_float(a->hue));
            cb_line(c, " .scale = {%s, %s}, .ratio = {%s, %s}, .shear = %s}, /* %s */",
                    emit_float(sc ? a->scale.items[0] : af ? 1.0 : 0.08), emit_float(sc ? a->scale.items[1] : 1.0), emit_float(ra ? a->ratio.items[0] : 3.0 / 4.0),
                    emit_float(ra ? a->ratio.items[1] : 4.0 / 3.0), emit_float(a->shear), train_augment_name(a->kind));
        }
        cb_line(c, "};");
    }
    if (t->nfreeze) {
        const char *f = "";
        for (int i = 0; i < t->nfreeze; i++)
            f = arena_printf("%s%s\"%s\"", f, i ? ", " : "", t->freeze[i].prefix);
        cb_line(c, "static const char *const freeze[] = {%s};", f);
    }
    if (t->nlr_for) {
        const char *p = "", *v = "";
        for (int i = 0; i < t->nlr_for; i++) {
            p = arena_printf("%s%s\"%s\"", p, i ? ", " : "", t->lr_for[i].prefix);
            v = arena_printf("%s%s%.17g", v, i ? ", " : "", t->lr_for[i].lr);
        }
        cb_line(c, "static const char *const lr_for_prefix[] = {%s};", p);
        cb_line(c, "static const double lr_for_value[] = {%s};", v);
    }
    cb_line(c, "static const CnnTrainDefaults defaults = {");
    cb_line(c, ".epochs = %d, .batch = %d, .seed = %lld, .accumulate = %d, .clip_grad_norm = %s,", t->epochs,
            t->batch, t->seed, t->accumulate, emit_float(t->clip_grad_norm));
    cb_line(c, ".loss = %d, .label_smoothing = %s, .focal_gamma = %s, .focal_alpha = %s,", (int)t->loss.kind,
            emit_float(t->loss.label_smoothing), emit_float(t->loss.gamma), emit_float(t->loss.alpha));
    if (t->loss.weight.n)
        cb_line(c, ".nclass_weight = %d, .class_weight = class_weight,", t->loss.weight.n);
    const TrainOptimizer *op = &t->optimizer;
    cb_line(c, ".optimizer = %d, .lr = %s, .momentum = %s, .weight_decay = %s,", (int)op->kind, emit_float(op->lr),
            emit_float(op->momentum), emit_float(op->weight_decay));
    cb_line(c, ".beta1 = %s, .beta2 = %s, .eps = %s, .nesterov = %d,", emit_float(op->beta1), emit_float(op->beta2),
            emit_float(op->eps), op->nesterov);
    const TrainSchedule *sc = &t->schedule;
    cb_line(c, ".schedule = %d, .step_every = %d, .gamma = %s, .min_lr = %s, .max_lr = %s, .factor = %s, .patience = %d,",
            (int)sc->kind, sc->every, emit_float(sc->gamma), emit_float(sc->min_lr), emit_float(sc->max_lr),
            emit_float(sc->factor), sc->patience);
    if (sc->milestones.n)
        cb_line(c, ".nmilestones = %d, .milestones = milestones,", sc->milestones.n);
    if (sc->kind == SCHED_PLATEAU && sc->mode)
        cb_line(c, ".plateau_max = 1,");
    if (t->warmup)
        cb_line(c, ".warmup = %d, .warmup_factor = %s,", t->warmup, emit_float(t->warmup_factor));
    if (sc->kind == SCHED_COSINE && sc->t_max)
        cb_line(c, ".t_max = %d,", sc->t_max);
    if (sc->kind == SCHED_ONECYCLE)
        cb_line(c, ".pct_start = %s, .cycle_momentum = %d,", emit_float(sc->pct_start), sc->cycle_momentum);
    if (t->naugment)
        cb_line(c, ".naugment = %d, .augment = augment,", t->naugment);
    cb_line(c, ".early_stop = %d, .early_patience = %d, .early_min_delta = %s,", t->early_stop.on, t->early_stop.patience,
            emit_float(t->early_stop.min_delta));
    if (t->nfreeze)
        cb_line(c, ".nfreeze = %d, .freeze = freeze,", t->nfreeze);
    cb_line(c, ".init = %d,", (int)t->init);
    if (t->init_args.has_args) {
        const TrainInitArgs *ia = &t->init_args;
        cb_line(c, ".init_has_args = 1, .init_fan_out = %d, .init_nonlinearity = %d,", ia->mode, ia->nonlinearity);
        cb_line(c, ".init_a = %.17g, .init_b = %.17g, .init_mean = %.17g, .init_std = %.17g, .init_val = %.17g, "
                   ".init_gain = %.17g,", ia->a, ia->b, ia->mean, ia->std, ia->val, ia->gain);
    }
    if (t->nlr_for)
        cb_line(c, ".nlr_for = %d, .lr_for_prefix = lr_for_prefix, .lr_for_value = lr_for_value,", t->nlr_for);
    cb_line(c, "};");
    cb_blank(c);
    cb_line(c, "int main(int argc, char **argv) {");
    cb_line(c, "static CnnTensorInfo tensors[%s_NUM_TENSORS + 1];", U);
    cb_line(c, "for (int i = 0; i < %s_NUM_TENSORS; i++) {", U);
    cb_line(c, "const %s_tensor *t = &%s_tensors[i];", N, N);
    cb_line(c, "tensors[i] = (CnnTensorInfo){t->name, t->offset, t->numel, t->rank, {t->shape[0], t->shape[1], "
               "t->shape[2], t->shape[3]}, t->trained, t->init, t->fan_in, t->fan_out};");
    cb_line(c, "}");
    cb_line(c, "CnnModel m = {");
    cb_line(c, ".name = \"%s\",", N);
    cb_line(c, ".source = \"%s\",", basename_of(o->source));
    cb_line(c, ".batch = %s_BATCH,", U);
    cb_line(c, ".in_rank = %d,", in.rank - 1);
    cb_line(c, ".in_shape = {%d, %d, %d},", in.d[1], in.rank == 4 ? in.d[2] : 1, in.rank == 4 ? in.d[3] : 1);
    cb_line(c, ".in_size = %s_IN_SIZE,", U);
    cb_line(c, ".out_size = %s_OUT_SIZE,", U);
    cb_line(c, ".outputs_probabilities = %d,", g->ends_in_softmax);
    cb_line(c, ".param_floats = %s_PARAM_FLOATS,", U);
    if (gt)
        cb_line(c, ".work_floats = %s_WORK_FLOATS > %s_WORK_FLOATS ? %s_WORK_FLOATS : %s_WORK_FLOATS,", U, TU, U, TU);
    else
        cb_line(c, ".work_floats = %s_WORK_FLOATS,", U);
    cb_line(c, ".ntensors = %s_NUM_TENSORS,", U);
    cb_line(c, ".tensors = tensors,");
    cb_line(c, ".trained_params = %lld,", (long long)ir_param_count(g, true));
    cb_line(c, ".flops = %.0f,", ir_total_flops(g));
    cb_line(c, ".forward = %s_forward,", N);
    cb_line(c, ".pack_floats = %s_PACK_FLOATS,", U);
    cb_line(c, ".pack = %s_pack,", N);
    cb_line(c, ".forward_packed = %s_forward_packed,", N);
    cb_line(c, ".ntaps = %s_ntaps,", N);
    cb_line(c, ".tap_name = %s_tap_name,", N);
    cb_line(c, ".tap_what = %s_tap_what,", N);
    cb_line(c, ".tap_shape = %s_tap_shape,", N);
    cb_line(c, ".forward_tap = %s_forward_tap,", N);
    if (gt) {
        cb_line(c, ".state_floats = %s_STATE_FLOATS,", TU);
        cb_line(c, ".train_step = %s_train_step,", T);
        cb_line(c, ".update = %s_update,", T);
        cb_line(c, ".train_step_update = %s_train_step_update,", T);
    }
    cb_line(c, ".defaults = &defaults,");
    cb_line(c, "#ifdef _OPENMP");
    cb_line(c, ".set_threads = set_threads,");
    cb_line(c, ".max_threads = max_threads,");
    cb_line(c, "#endif");
    cb_line(c, "};");
    cb_line(c, "return cnnrt_main(&m, argc, argv);");
    cb_line(c, "}");
}

static bool write_atomic(const Cbuf *c, const char *path) {
    char *tmp = arena_printf("%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "cnnc: error: cannot write '%s'\n", path);
        return false;
    }
    bool ok = cb_write(c, f) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        fprintf(stderr, "cnnc: error: cannot write '%s'\n", path);
        return false;
    }
    return true;
}

bool emit_c_files(const Graph *g, const Plan *plan, const EmitOptions *o, const char *c_path, const char *h_path) {
    Cbuf h = {0}, c = {0};
    if (emit_source(&c, g, plan, o, basename_of(h_path), NULL, 0) < 0) {
        cb_free(&h);
        cb_free(&c);
        return false;
    }
    emit_header(&h, g, plan, o, stack_bound(c.data ? c.data : ""));
    bool ok = write_atomic(&h, h_path) && write_atomic(&c, c_path);
    if (!ok) {
        remove(h_path);
        remove(c_path);
    }
    cb_free(&h);
    cb_free(&c);
    return ok;
}

/* NAME.c and NAME.h, and with max_parts > 0 the parts NAME_partK.c (K = 1, 2, ...); *nparts
 * says how many were written. */
static bool emit_c_files_split(const Graph *g, const Plan *plan, const EmitOptions *o, const char *dir,
                               int max_parts, int *nparts) {
    const char *c_path = arena_printf("%s/%s.c", dir, g->name), *h_path = arena_printf("%s/%s.h", dir, g->name);
    Cbuf h = {0}, c = {0};
    Cbuf *parts = arena_alloc(sizeof(Cbuf) * (size_t)(max_parts > 0 ? max_parts : 1));
    *nparts = emit_source(&c, g, plan, o, basename_of(h_path), parts, max_parts);
    const char *all = c.data ? c.data : ""; /* the stack bound looks at every function */
    for (int k = 0; k < *nparts; k++)
        all = arena_printf("%s%s", all, parts[k].data ? parts[k].data : "");
    emit_header(&h, g, plan, o, stack_bound(all));
    bool ok = *nparts >= 0 && write_atomic(&h, h_path) && write_atomic(&c, c_path);
    if (*nparts < 0)
        *nparts = 0;
    for (int k = 0; k < *nparts; k++) {
        if (ok)
            ok = write_atomic(&parts[k], arena_printf("%s/%s_part%d.c", dir, g->name, k + 1));
        cb_free(&parts[k]);
    }
    if (!ok) {
        remove(h_path);
        remove(c_path);
        for (int k = 0; k < *nparts; k++)
            remove(arena_printf("%s/%s_part%d.c", dir, g->name, k + 1));
    }
    cb_free(&h);
    cb_free(&c);
    return ok;
}

bool emit_program_files(const Graph *gi, const Plan *pi, const Graph *gt, const Plan *pt, const EmitOptions *o,
                        const char *dir, int max_parts, int *nparts, int *nparts_infer) {
    const char *h1 = arena_printf("%s/%s.h", dir, gi->name);
    const char *h2 = gt ? arena_printf("%s/%s.h", dir, gt->name) : NULL;
    const char *mp = arena_printf("%s/%s_main.c", dir, gi->name);
    EmitOptions oi = *o;
    oi.taps = true;
    *nparts = *nparts_infer = 0;
    bool ok = emit_c_files_split(gi, pi, &oi, dir, max_parts, nparts_infer) &&
              (!gt || emit_c_files_split(gt, pt, o, dir, max_parts, nparts));
    if (ok) {
        Cbuf m = {0};
        emit_main(&m, gi, gt, o, basename_of(h1), gt ? basename_of(h2) : NULL);
        ok = write_atomic(&m, mp);
        cb_free(&m);
    }
    return ok;
}
