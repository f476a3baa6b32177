/* test_elaborate.c: from `.cnn` text to the flat graph. Each test writes a small program to a
 * temporary directory, loads and elaborates it at batch 2, and checks output shapes, attributes,
 * parameter names, shapes and counts against values worked out by hand from PyTorch's
 * formulas (in the comments), or checks the exact first line of the error report.
 *
 * Formulas used below (torch.nn):
 *   conv:  H' = floor((H + pt + pb - d*(k-1) - 1) / s) + 1
 *   pools: o = floor((H + 2p - k + (ceil ? s-1 : 0)) / s) + 1; in ceil mode, if the last window
 *          would start in the bottom padding ((o-1)*s >= H + p), o -= 1.
 *   pad = same (stride 1): total = d*(k-1); before = total/2, after = total - before. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "ast.h"
#include "diag.h"
#include "elaborate.h"
#include "ir.h"
#include "passes.h"
#include "plan.h"
#include "train_config.h"

/* ---- running the front end on a text ---- */

static char tmpdir[64];
static int nfiles;
static const char *last_path;   /* the path of the file the last run wrote */
static const char *last_output; /* everything diag printed during the last run */

static int suite_init(void) {
    strcpy(tmpdir, "/tmp/cnnc-elab-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : 1;
}

static int suite_clean(void) { return rmdir(tmpdir) ? 1 : 0; }

/* Loads and elaborates text with opts; the diagnostics land in last_output. */
static Graph *run_opts(const char *text, const ElabOptions *opts) {
    char *path = arena_printf("%s/t%d.cnn", tmpdir, nfiles++);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    char *buf = NULL;
    size_t len = 0;
    FILE *cap = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cap);
    diag_reset();
    diag_stream = cap;
    Program *p = load_program(path);
    Graph *g = p ? elaborate(p, opts) : NULL;
    diag_flush();
    diag_stream = NULL;
    fclose(cap);
    last_output = arena_strdup(buf ? buf : "");
    free(buf);
    unlink(path);
    last_path = path;
    return g;
}

static const ElabOptions batch2 = {.batch = 2};

/* A program that must elaborate without a message. */
static Graph *ok_opts(const char *text, const ElabOptions *opts) {
    Graph *g = run_opts(text, opts);
    if (!g || *last_output)
        fprintf(stderr, "\nunexpected failure for:\n%s--- output:\n%s---\n", text, last_output);
    CU_ASSERT_PTR_NOT_NULL(g);
    CU_ASSERT_STRING_EQUAL(last_output, "");
    return g;
}

static Graph *ok(const char *text) { return ok_opts(text, &batch2); }

/* The first line of the last output. */
static const char *first_line(void) {
    const char *nl = strchr(last_output, '\n');
    return arena_strndup(last_output, nl ? (size_t)(nl - last_output) : strlen(last_output));
}

/* A program that must fail; want is its first error line after "PATH:" (the position and the
 * message), or, when want starts with "cnnc:", the whole line. */
static void expect_error_opts(const char *text, const ElabOptions *opts, const char *want) {
    Graph *g = run_opts(text, opts);
    CU_ASSERT_PTR_NULL(g);
    const char *full = strncmp(want, "cnnc:", 5) == 0 ? want : arena_printf("%s:%s", last_path, want);
    const char *got = first_line();
    if (strcmp(got, full) != 0)
        fprintf(stderr, "\n--- got:\n%s\n--- want:\n%s\n--- full output:\n%s---\n", got, full, last_output);
    CU_ASSERT_STRING_EQUAL(got, full);
}

static void expect_error(const char *text, const char *want) { expect_error_opts(text, &batch2, want); }

/* ---- looking into the graph ---- */

/* The k-th op (0-based) of a kind, or NULL. */
static const Op *nth_op(const Graph *g, OpKind kind, int k) {
    for (int i = 0; g && i < g->nops; i++)
        if (g->ops[i].kind == kind && k-- == 0)
            return &g->ops[i];
    return NULL;
}

static int count_ops(const Graph *g, OpKind kind) {
    int n = 0;
    for (int i = 0; g && i < g->nops; i++)
        n += g->ops[i].kind == kind;
    return n;
}

/* The output shape of the k-th op of a kind, batch included: "[2, 6, 28, 28]", or "none". */
static const char *out_of(const Graph *g, OpKind kind, int k) {
    const Op *op = nth_op(g, kind, k);
    return op ? shape_str(g->values[op->out].shape, false) : "none";
}

static const char *model_out(const Graph *g) { return g ? shape_str(g->values[g->output].shape, false) : "none"; }

static const ParamT *find_param(const Graph *g, const char *name) {
    for (int i = 0; g && i < g->nparams; i++)
        if (!strcmp(g->params[i].name, name))
            return &g->params[i];
    return NULL;
}

/* The shape of a parameter tensor ("[6, 3, 5, 5]"), or "absent". */
static const char *pshape(const Graph *g, const char *name) {
    const ParamT *p = find_param(g, name);
    return p ? shape_str(p->shape, false) : "absent";
}

/* Every parameter name in order, joined with spaces. */
static const char *param_names(const Graph *g) {
    const char *s = "";
    for (int i = 0; g && i < g->nparams; i++)
        s = arena_printf("%s%s%s", s, i ? " " : "", g->params[i].name);
    return s;
}

#define EXPECT_STR(got, want)                                                                   \
    do {                                                                                        \
        const char *got_ = (got), *want_ = (want);                                              \
        if (strcmp(got_, want_) != 0)                                                           \
            fprintf(stderr, "\n%s:%d: got '%s', want '%s'\n", __FILE__, __LINE__, got_, want_); \
        CU_ASSERT_STRING_EQUAL(got_, want_);                                                    \
    } while (0)

/* ================= layer shapes ================= */

/* LeNet's first conv: 32 - 5 + 1 = 28; weight [6, 3, 5, 5], bias [6]. */
static void test_conv_basic(void) {
    Graph *g = ok("model m {\n    input [3, 32, 32]\n    conv(6, 5)\n}\n");
    CU_ASSERT_EQUAL_FATAL(g != NULL, 1);
    CU_ASSERT_EQUAL(g->batch, 2);
    EXPECT_STR(model_out(g), "[2, 6, 28, 28]");
    EXPECT_STR(pshape(g, "conv0.weight"), "[6, 3, 5, 5]");
    EXPECT_STR(pshape(g, "conv0.bias"), "[6]");
    EXPECT_STR(shape_str(g->values[g->input].shape, false), "[2, 3, 32, 32]");
    CU_ASSERT_EQUAL(g->classes, 28);
}

/* stride 2, pad 1, k 3 on 32: (32 + 2 - 3) / 2 + 1 = 15 + 1 = 16.
 * dilation 2, k 3 on 16: effective kernel 5: (16 - 5) / 1 + 1 = 12.
 * stride 2, pad 2, dilation 2, k 3 on 12: (12 + 4 - 5) / 2 + 1 = 5 + 1 = 6.
 * stride 3, k 2 on 6 (rows left over): (6 - 2) / 3 + 1 = 1 + 1 = 2. */
static void test_conv_stride_pad_dilation(void) {
    Graph *g = ok("model m {\n    input [3, 32, 32]\n"
                  "    conv(8, 3, stride = 2, pad = 1)\n"
                  "    conv(8, 3, dilation = 2)\n"
                  "    conv(4, 3, stride = 2, pad = 2, dilation = 2)\n"
                  "    conv(4, 2, stride = 3)\n}\n");
    EXPECT_STR(out_of(g, OP_CONV, 0), "[2, 8, 16, 16]");
    EXPECT_STR(out_of(g, OP_CONV, 1), "[2, 8, 12, 12]");
    EXPECT_STR(out_of(g, OP_CONV, 2), "[2, 4, 6, 6]");
    EXPECT_STR(out_of(g, OP_CONV, 3), "[2, 4, 2, 2]");
    const Op *c = nth_op(g, OP_CONV, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT(c->a.sh == 2 && c->a.sw == 2 && c->a.ph == 2 && c->a.pw == 2 && c->a.ph_end == 2 &&
              c->a.pw_end == 2 && c->a.dh == 2 && c->a.dw == 2 && c->a.kh == 3 && c->a.kw == 3);
    EXPECT_STR(pshape(g, "conv1.weight"), "[8, 8, 3, 3]");
    EXPECT_STR(pshape(g, "conv3.weight"), "[4, 4, 2, 2]");
}

/* kernel [3, 5], stride [1, 2], pad [1, 0] on 20 x 30:
 *   H: (20 + 2 - 3) / 1 + 1 = 20;  W: (30 - 5) / 2 + 1 = 12 + 1 = 13.
 * kernel [3, 3], dilation [2, 1] on 20 x 13: H: (20 - 5) + 1 = 16; W: (13 - 3) + 1 = 11. */
static void test_conv_list_arguments(void) {
    Graph *g = ok("model m {\n    input [3, 20, 30]\n"
                  "    conv(5, [3, 5], stride = [1, 2], pad = [1, 0])\n"
                  "    conv(2, [3, 3], dilation = [2, 1])\n}\n");
    EXPECT_STR(out_of(g, OP_CONV, 0), "[2, 5, 20, 13]");
    EXPECT_STR(out_of(g, OP_CONV, 1), "[2, 2, 16, 11]");
    EXPECT_STR(pshape(g, "conv0.weight"), "[5, 3, 3, 5]");
    const Op *c = nth_op(g, OP_CONV, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT(c->a.kh == 3 && c->a.kw == 5 && c->a.sh == 1 && c->a.sw == 2);
    CU_ASSERT(c->a.ph == 1 && c->a.pw == 0 && c->a.ph_end == 1 && c->a.pw_end == 0);
}

/* pad = same, odd kernels: k 3: total 2 -> 1 / 1; k 5 dilation 2: total 8 -> 4 / 4. */
static void test_conv_pad_same_odd(void) {
    Graph *g = ok("model m {\n    input [3, 15, 16]\n"
                  "    conv(4, 3, pad = same)\n"
                  "    conv(4, 5, pad = same, dilation = 2)\n}\n");
    EXPECT_STR(out_of(g, OP_CONV, 0), "[2, 4, 15, 16]");
    EXPECT_STR(out_of(g, OP_CONV, 1), "[2, 4, 15, 16]");
    const Op *a = nth_op(g, OP_CONV, 0), *b = nth_op(g, OP_CONV, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT(a->a.ph == 1 && a->a.ph_end == 1 && a->a.pw == 1 && a->a.pw_end == 1);
    CU_ASSERT(b->a.ph == 4 && b->a.ph_end == 4 && b->a.pw == 4 && b->a.pw_end == 4);
}

/* pad = same, even kernels: PyTorch pads total/2 before and the rest after.
 * k 4: total 3 -> before 1, after 2. k [2, 4]: H total 1 -> 0 / 1, W total 3 -> 1 / 2.
 * k 2 dilation 3: total 3 -> 1 / 2. Output size stays 15 x 16 in every case. */
static void test_conv_pad_same_even(void) {
    Graph *g = ok("model m {\n    input [3, 15, 16]\n"
                  "    conv(4, 4, pad = same)\n"
                  "    conv(4, [2, 4], pad = same)\n"
                  "    conv(4, 2, pad = same, dilation = 3)\n}\n");
    for (int k = 0; k < 3; k++)
        EXPECT_STR(out_of(g, OP_CONV, k), "[2, 4, 15, 16]");
    const Op *a = nth_op(g, OP_CONV, 0), *b = nth_op(g, OP_CONV, 1), *c = nth_op(g, OP_CONV, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT(a->a.ph == 1 && a->a.ph_end == 2 && a->a.pw == 1 && a->a.pw_end == 2);
    CU_ASSERT(b->a.ph == 0 && b->a.ph_end == 1 && b->a.pw == 1 && b->a.pw_end == 2);
    CU_ASSERT(c->a.ph == 1 && c->a.ph_end == 2 && c->a.pw == 1 && c->a.pw_end == 2);
    EXPECT_STR(pshape(g, "conv1.weight"), "[4, 4, 2, 4]");
}

/* groups 4 on 8 channels: weight [16, 8/4, 3, 3]; depthwise (groups = C = 16): [16, 1, 3, 3],
 * 10 - 3 + 1 = 8; bias = false leaves no bias tensor. */
static void test_conv_groups_depthwise(void) {
    Graph *g = ok("model m {\n    input [8, 10, 10]\n"
                  "    conv(16, 3, groups = 4, pad = 1)\n"
                  "    conv(16, 3, groups = 16, bias = false)\n"
                  "    conv(32, 1, groups = in.c)\n}\n");
    EXPECT_STR(out_of(g, OP_CONV, 0), "[2, 16, 10, 10]");
    EXPECT_STR(out_of(g, OP_CONV, 1), "[2, 16, 8, 8]");
    EXPECT_STR(out_of(g, OP_CONV, 2), "[2, 32, 8, 8]");
    EXPECT_STR(pshape(g, "conv0.weight"), "[16, 2, 3, 3]");
    EXPECT_STR(pshape(g, "conv1.weight"), "[16, 1, 3, 3]");
    EXPECT_STR(pshape(g, "conv1.bias"), "absent");
    EXPECT_STR(pshape(g, "conv2.weight"), "[32, 1, 1, 1]");
    /* 16*2*9 + 16 + 16*9 + 32 + 32 = 288 + 16 + 144 + 64 = 512 */
    CU_ASSERT_EQUAL(ir_param_count(g, true), 512);
    const Op *c = nth_op(g, OP_CONV, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->a.groups, 16);
    CU_ASSERT_FALSE(c->a.bias);
}

/* linear(5) on [12]: weight [5, 12], bias [5]; bias = false: weight only. */
static void test_linear(void) {
    Graph *g = ok("model m {\n    input [12]\n    linear(5)\n    linear(3, bias = false)\n}\n");
    EXPECT_STR(out_of(g, OP_LINEAR, 0), "[2, 5]");
    EXPECT_STR(model_out(g), "[2, 3]");
    EXPECT_STR(pshape(g, "linear0.weight"), "[5, 12]");
    EXPECT_STR(pshape(g, "linear0.bias"), "[5]");
    EXPECT_STR(pshape(g, "linear1.weight"), "[3, 5]");
    EXPECT_STR(pshape(g, "linear1.bias"), "absent");
    CU_ASSERT_EQUAL(g ? g->classes : 0, 3);
    CU_ASSERT_EQUAL(ir_param_count(g, true), 5 * 12 + 5 + 3 * 5);
}

/* maxpool(2) on 7 x 9: floor((7-2)/2)+1 = 3, floor((9-2)/2)+1 = 4 (the last row/column dropped).
 * maxpool(3, stride 1, pad 1) keeps 3 x 4. maxpool([2, 3], stride [1, 2]) on 3 x 4:
 * H (3-2)/1+1 = 2, W (4-3)/2+1 = 1. */
static void test_maxpool_floor(void) {
    Graph *g = ok("model m {\n    input [2, 7, 9]\n"
                  "    maxpool(2)\n    maxpool(3, stride = 1, pad = 1)\n"
                  "    maxpool([2, 3], stride = [1, 2])\n}\n");
    EXPECT_STR(out_of(g, OP_MAXPOOL, 0), "[2, 2, 3, 4]");
    EXPECT_STR(out_of(g, OP_MAXPOOL, 1), "[2, 2, 3, 4]");
    EXPECT_STR(out_of(g, OP_MAXPOOL, 2), "[2, 2, 2, 1]");
    const Op *p = nth_op(g, OP_MAXPOOL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(p->a.kh == 2 && p->a.sh == 2 && p->a.sw == 2 && !p->a.ceil_mode); /* stride = kernel */
    p = nth_op(g, OP_MAXPOOL, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(p->a.ph == 1 && p->a.ph_end == 1 && p->a.pw == 1 && p->a.pw_end == 1);
    CU_ASSERT_EQUAL(g ? g->nparams : -1, 0);
}

/* GoogLeNet's pools: k 3, s 2, ceil on 112: floor((112-3+1)/2)+1 = 56 (floor mode: 55);
 * (56-1)*2 = 110 < 112: kept. On 6 (k 3, s 2, pad 1): ceil floor((6+2-3+1)/2)+1 = 4,
 * 3*2 = 6 < 7 kept (floor mode: floor(5/2)+1 = 3). */
static void test_maxpool_ceil(void) {
    Graph *g = ok("model m {\n    input [1, 112, 6]\n"
                  "    maxpool(3, stride = 2, ceil = true)\n}\n");
    /* W: 6: ceil floor((6-3+1)/2)+1 = 3; 2*2 = 4 < 6 kept. */
    EXPECT_STR(model_out(g), "[2, 1, 56, 3]");
    g = ok("model m {\n    input [1, 112, 6]\n    maxpool(3, stride = 2)\n}\n");
    EXPECT_STR(model_out(g), "[2, 1, 55, 2]");
    g = ok("model m {\n    input [1, 6, 6]\n    maxpool(3, stride = 2, pad = 1, ceil = true)\n}\n");
    EXPECT_STR(model_out(g), "[2, 1, 4, 4]");
    const Op *p = nth_op(g, OP_MAXPOOL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(p->a.ceil_mode);
    g = ok("model m {\n    input [1, 6, 6]\n    maxpool(3, stride = 2, pad = 1)\n}\n");
    EXPECT_STR(model_out(g), "[2, 1, 3, 3]");
}

/* The ceil-mode window that would start in the padding is dropped:
 * H 5, k 2, s 2, p 1: floor((5+2-2+1)/2)+1 = 4, but (4-1)*2 = 6 >= 5+1 -> 3.
 * W 7: floor((7+2-2+1)/2)+1 = 5, (5-1)*2 = 8 >= 7+1 -> 4.
 * H 5, k 3, s 3, p 1: floor((5+2-3+2)/3)+1 = 3, (3-1)*3 = 6 >= 6 -> 2. */
static void test_pool_ceil_drops_window_in_padding(void) {
    Graph *g = ok("model m {\n    input [3, 5, 7]\n    maxpool(2, stride = 2, pad = 1, ceil = true)\n}\n");
    EXPECT_STR(model_out(g), "[2, 3, 3, 4]");
    g = ok("model m {\n    input [3, 5, 7]\n    avgpool(2, stride = 2, pad = 1, ceil = true)\n}\n");
    EXPECT_STR(model_out(g), "[2, 3, 3, 4]");
    /* W 7, k 3, s 3, p 1: floor((7+2-3+2)/3)+1 = 3, 2*3 = 6 < 8 kept. */
    g = ok("model m {\n    input [3, 5, 7]\n    avgpool(3, stride = 3, pad = 1, ceil = true)\n}\n");
    EXPECT_STR(model_out(g), "[2, 3, 2, 3]");
}

/* avgpool: stride defaults to the kernel; count_include_pad defaults to true.
 * avgpool([2, 3]) on 8 x 9: 4 x 3. avgpool(3, stride 2, pad 1) on 4 x 3: H (4+2-3)/2+1 = 2,
 * W (3+2-3)/2+1 = 2. */
static void test_avgpool_attributes(void) {
    Graph *g = ok("model m {\n    input [4, 8, 9]\n"
                  "    avgpool([2, 3])\n"
                  "    avgpool(3, stride = 2, pad = 1, count_include_pad = false)\n}\n");
    EXPECT_STR(out_of(g, OP_AVGPOOL, 0), "[2, 4, 4, 3]");
    EXPECT_STR(out_of(g, OP_AVGPOOL, 1), "[2, 4, 2, 2]");
    const Op *a = nth_op(g, OP_AVGPOOL, 0), *b = nth_op(g, OP_AVGPOOL, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT(a->a.kh == 2 && a->a.kw == 3 && a->a.sh == 2 && a->a.sw == 3 && a->a.count_include_pad);
    CU_ASSERT(!b->a.count_include_pad && b->a.ph == 1 && b->a.pw == 1 && !b->a.ceil_mode);
}

/* adaptive_avgpool gives exactly (h, w), whether or not they divide the input (7 x 5 -> 3 x 2),
 * w defaults to h, and PyTorch also allows an output larger than the input (7 x 5 -> 9 x 9). */
static void test_adaptive_avgpool(void) {
    Graph *g = ok("model m {\n    input [4, 7, 5]\n"
                  "    concat {\n"
                  "        branch { adaptive_avgpool(3, 2); flatten }\n"
                  "        branch { adaptive_avgpool(3); flatten }\n"
                  "        branch { adaptive_avgpool(9); flatten }\n"
                  "    }\n}\n");
    EXPECT_STR(out_of(g, OP_ADAPTIVE_AVGPOOL, 0), "[2, 4, 3, 2]");
    EXPECT_STR(out_of(g, OP_ADAPTIVE_AVGPOOL, 1), "[2, 4, 3, 3]");
    EXPECT_STR(out_of(g, OP_ADAPTIVE_AVGPOOL, 2), "[2, 4, 9, 9]");
    /* flat concat: 24 + 36 + 324 = 384 */
    EXPECT_STR(model_out(g), "[2, 384]");
    const Op *a = nth_op(g, OP_ADAPTIVE_AVGPOOL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT(a->a.oh == 3 && a->a.ow == 2);
}

static void test_global_pools(void) {
    Graph *g = ok("model m {\n    input [5, 7, 3]\n"
                  "    add {\n        branch { global_avgpool }\n        branch { global_maxpool }\n    }\n"
                  "    flatten\n}\n");
    EXPECT_STR(out_of(g, OP_GLOBAL_AVGPOOL, 0), "[2, 5, 1, 1]");
    EXPECT_STR(out_of(g, OP_GLOBAL_MAXPOOL, 0), "[2, 5, 1, 1]");
    EXPECT_STR(out_of(g, OP_ADD, 0), "[2, 5, 1, 1]");
    EXPECT_STR(model_out(g), "[2, 5]");
}

/* BatchNorm2d on 6 channels and BatchNorm1d on 6*4*4 = 96 features: weight, bias (trained),
 * running_mean, running_var (not trained). */
static void test_batchnorm_image_and_flat(void) {
    Graph *g = ok("model m {\n    input [6, 4, 4]\n    batchnorm\n    flatten\n"
                  "    batchnorm(eps = 1e-3, momentum = 0.2)\n}\n");
    EXPECT_STR(out_of(g, OP_BATCHNORM, 0), "[2, 6, 4, 4]");
    EXPECT_STR(out_of(g, OP_BATCHNORM, 1), "[2, 96]");
    EXPECT_STR(param_names(g), "bn0.weight bn0.bias bn0.running_mean bn0.running_var "
                               "bn1.weight bn1.bias bn1.running_mean bn1.running_var");
    EXPECT_STR(pshape(g, "bn0.running_var"), "[6]");
    EXPECT_STR(pshape(g, "bn1.weight"), "[96]");
    const ParamT *w = find_param(g, "bn0.weight"), *rm = find_param(g, "bn0.running_mean"),
                 *rv = find_param(g, "bn1.running_var");
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rm);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rv);
    CU_ASSERT(w->trained && !rm->trained && !rv->trained);
    CU_ASSERT_EQUAL(rm->role, PARAM_RUNNING_MEAN);
    CU_ASSERT_EQUAL(rv->role, PARAM_RUNNING_VAR);
    CU_ASSERT_EQUAL(ir_param_count(g, true), 2 * 6 + 2 * 96);
    CU_ASSERT_EQUAL(ir_param_count(g, false), 4 * 6 + 4 * 96);
    const Op *b = nth_op(g, OP_BATCHNORM, 0), *b1 = nth_op(g, OP_BATCHNORM, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b1);
    CU_ASSERT_DOUBLE_EQUAL(b->a.eps, 1e-5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(b->a.momentum, 0.1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(b1->a.eps, 1e-3, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(b1->a.momentum, 0.2, 1e-12);
}

/* flatten: [3, 4, 5] -> [60]; a second flatten leaves a flat tensor unchanged. */
static void test_flatten(void) {
    Graph *g = ok("model m {\n    input [3, 4, 5]\n    flatten\n    flatten\n}\n");
    EXPECT_STR(out_of(g, OP_FLATTEN, 0), "[2, 60]");
    EXPECT_STR(model_out(g), "[2, 60]");
    CU_ASSERT_EQUAL(g ? g->classes : 0, 60);
}

/* lrn: defaults size 5, alpha 1e-4, beta 0.75, k 2 (AlexNet uses k = 2); shape unchanged. */
static void test_lrn(void) {
    Graph *g = ok("model m {\n    input [7, 3, 3]\n    lrn\n    lrn(size = 3, alpha = 0.001, beta = 0.5, k = 1)\n}\n");
    EXPECT_STR(out_of(g, OP_LRN, 0), "[2, 7, 3, 3]");
    EXPECT_STR(out_of(g, OP_LRN, 1), "[2, 7, 3, 3]");
    const Op *a = nth_op(g, OP_LRN, 0), *b = nth_op(g, OP_LRN, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(a->a.size, 5);
    CU_ASSERT_DOUBLE_EQUAL(a->a.alpha, 1e-4, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(a->a.beta, 0.75, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(a->a.k, 2.0, 1e-15);
    CU_ASSERT_EQUAL(b->a.size, 3);
    CU_ASSERT_DOUBLE_EQUAL(b->a.alpha, 0.001, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(b->a.beta, 0.5, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(b->a.k, 1.0, 1e-15);
    CU_ASSERT_EQUAL(g ? g->nparams : -1, 0);
}

/* normalize: a list of C means, one std for every channel; not trained, no parameters. */
static void test_normalize(void) {
    Graph *g = ok("model m {\n    input [3, 2, 2]\n"
                  "    normalize(mean = [0.485, 0.456, 0.406], std = 0.5)\n"
                  "    normalize(0, [1, 2, 4])\n}\n");
    EXPECT_STR(model_out(g), "[2, 3, 2, 2]");
    const Op *a = nth_op(g, OP_NORMALIZE, 0), *b = nth_op(g, OP_NORMALIZE, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(a->a.nmean, 3);
    CU_ASSERT_DOUBLE_EQUAL(a->a.mean[0], 0.485, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(a->a.mean[1], 0.456, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(a->a.mean[2], 0.406, 1e-12);
    for (int c = 0; c < 3; c++)
        CU_ASSERT_DOUBLE_EQUAL(a->a.std[c], 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(b->a.mean[2], 0.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(b->a.std[0], 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(b->a.std[1], 2.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(b->a.std[2], 4.0, 1e-12);
    CU_ASSERT_EQUAL(g ? g->nparams : -1, 0);
}

static void test_normalize_wrong_count(void) {
    /* "    normalize(mean = [": the list starts at column 22; the zero std item at column 35. */
    expect_error("model m {\n    input [3, 2, 2]\n    normalize(mean = [0.1, 0.2], std = 1)\n}\n",
                 "3:22: error: normalize: 'mean' has 2 values, the input [3, 2, 2] has 3 channels");
    expect_error("model m {\n    input [3, 2, 2]\n    normalize(mean = 0, std = [1, 0, 1])\n}\n",
                 "3:35: error: normalize: 'std' must not be zero");
}

/* dropout: p defaults to 0.5; identity-shaped. */
static void test_dropout(void) {
    Graph *g = ok("model m {\n    input [10]\n    dropout\n    dropout(0.2)\n    dropout(p = 0)\n}\n");
    EXPECT_STR(model_out(g), "[2, 10]");
    CU_ASSERT_EQUAL(count_ops(g, OP_DROPOUT), 3);
    const Op *a = nth_op(g, OP_DROPOUT, 0), *b = nth_op(g, OP_DROPOUT, 1), *c = nth_op(g, OP_DROPOUT, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_DOUBLE_EQUAL(a->a.p, 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(b->a.p, 0.2, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(c->a.p, 0.0, 1e-12);
    expect_error("model m {\n    input [10]\n    dropout(1)\n}\n",
                 "3:13: error: dropout: argument 'p' must be below 1 (p = 1 drops everything), got 1");
}

/* Every activation keeps the shape; leaky_relu's slope defaults to 0.01, elu's alpha to 1. */
static void test_activations(void) {
    Graph *g = ok("model m {\n    input [2, 3, 3]\n"
                  "    relu; tanh; sigmoid; identity\n"
                  "    leaky_relu; leaky_relu(0.2); elu; elu(alpha = 0.5)\n}\n");
    static const OpKind kinds[] = {OP_RELU, OP_TANH, OP_SIGMOID, OP_IDENTITY, OP_LEAKY_RELU, OP_ELU};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        EXPECT_STR(out_of(g, kinds[i], 0), "[2, 2, 3, 3]");
    CU_ASSERT_EQUAL(count_ops(g, OP_LEAKY_RELU), 2);
    CU_ASSERT_EQUAL(count_ops(g, OP_ELU), 2);
    const Op *l0 = nth_op(g, OP_LEAKY_RELU, 0), *l1 = nth_op(g, OP_LEAKY_RELU, 1);
    const Op *e0 = nth_op(g, OP_ELU, 0), *e1 = nth_op(g, OP_ELU, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e1);
    CU_ASSERT_DOUBLE_EQUAL(l0->a.slope, 0.01, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(l1->a.slope, 0.2, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(e0->a.alpha, 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(e1->a.alpha, 0.5, 1e-12);
    /* input + 8 activations, in the order written */
    CU_ASSERT_EQUAL(g ? g->nops : 0, 9);
    if (g && g->nops == 9) {
        static const OpKind order[] = {OP_INPUT, OP_RELU, OP_TANH, OP_SIGMOID, OP_IDENTITY,
                                       OP_LEAKY_RELU, OP_LEAKY_RELU, OP_ELU, OP_ELU};
        for (int i = 0; i < 9; i++)
            CU_ASSERT_EQUAL(g->ops[i].kind, order[i]);
    }
}

/* softmax as the last statement: the graph says so; classes is the feature count. */
static void test_softmax_last(void) {
    Graph *g = ok("model m {\n    input [8]\n    linear(4)\n    softmax\n}\n");
    EXPECT_STR(model_out(g), "[2, 4]");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT(g->ends_in_softmax);
    CU_ASSERT_EQUAL(g->classes, 4);
    CU_ASSERT_EQUAL(g->ops[g->values[g->output].producer].kind, OP_SOFTMAX);
    g = ok("model m {\n    input [8]\n    linear(4)\n}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_FALSE(g->ends_in_softmax);
    /* The last statement of a block that is the model's last statement is last too. */
    g = ok("block head(n) { linear(n); softmax }\nmodel m {\n    input [8]\n    head(3)\n}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT(g->ends_in_softmax);
}

/* ================= composition ================= */

/* residual, add and concat: concat sums channels (4 + 2 + 3 = 9); add keeps the shape. */
static void test_residual_add_concat_shapes(void) {
    Graph *g = ok("model m {\n    input [3, 8, 8]\n"
                  "    concat {\n"
                  "        branch { conv(4, 3, pad = 1) }\n"
                  "        branch { conv(2, 1) }\n"
                  "        branch { }\n"
                  "    }\n"
                  "    residual { conv(9, 3, pad = 1); relu }\n"
                  "    residual { conv(5, 1) } shortcut { conv(5, 1, stride = 1) }\n"
                  "    add {\n        branch { maxpool(2) }\n        branch { avgpool(2) }\n    }\n}\n");
    EXPECT_STR(out_of(g, OP_CONCAT, 0), "[2, 9, 8, 8]");
    EXPECT_STR(out_of(g, OP_ADD, 0), "[2, 9, 8, 8]");
    EXPECT_STR(out_of(g, OP_ADD, 1), "[2, 5, 8, 8]");
    EXPECT_STR(model_out(g), "[2, 5, 4, 4]");
    CU_ASSERT_EQUAL(count_ops(g, OP_ADD), 3);
    /* The 3-channel identity branch reaches the concat directly. */
    EXPECT_STR(pshape(g, "conv2.weight"), "[9, 9, 3, 3]");
    EXPECT_STR(pshape(g, "conv4.weight"), "[5, 9, 1, 1]");
}

/* ================= parameter names (docs/language.md, Naming) ================= */

/* Per-kind numbering in textual order within the model. */
static void test_names_per_kind(void) {
    Graph *g = ok("model m {\n    input [1, 8, 8]\n"
                  "    conv(2, 3); batchnorm; relu\n"
                  "    conv(4, 3, bias = false); batchnorm\n"
                  "    flatten; linear(10); linear(3)\n}\n");
    EXPECT_STR(param_names(g), "conv0.weight conv0.bias bn0.weight bn0.bias bn0.running_mean bn0.running_var "
                               "conv1.weight bn1.weight bn1.bias bn1.running_mean bn1.running_var "
                               "linear0.weight linear0.bias linear1.weight linear1.bias");
    /* 8 - 2 - 2 = 4: 4 * 4 * 4 = 64 features */
    EXPECT_STR(pshape(g, "linear0.weight"), "[10, 64]");
    EXPECT_STR(pshape(g, "conv1.weight"), "[4, 2, 3, 3]");
    const Op *c = nth_op(g, OP_CONV, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    EXPECT_STR(c->pname, "conv1");
    CU_ASSERT(c->param[PARAM_WEIGHT] >= 0 && c->param[PARAM_BIAS] < 0);
}

/* Block instances numbered per block name: basic0, basic1, and other0 independently; the
 * numbering inside each instance starts again at conv0. */
static void test_names_block_instances(void) {
    Graph *g = ok("block basic(c) { conv(c, 1); batchnorm }\n"
                  "block other { conv(2, 1) }\n"
                  "model m {\n    input [3, 4, 4]\n"
                  "    basic(4); other; basic(5); conv(1, 1)\n}\n");
    EXPECT_STR(param_names(g), "basic0.conv0.weight basic0.conv0.bias basic0.bn0.weight basic0.bn0.bias "
                               "basic0.bn0.running_mean basic0.bn0.running_var "
                               "other0.conv0.weight other0.conv0.bias "
                               "basic1.conv0.weight basic1.conv0.bias basic1.bn0.weight basic1.bn0.bias "
                               "basic1.bn0.running_mean basic1.bn0.running_var "
                               "conv0.weight conv0.bias");
    EXPECT_STR(pshape(g, "basic1.conv0.weight"), "[5, 2, 1, 1]");
    const Op *c = nth_op(g, OP_CONV, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    EXPECT_STR(c->pname, "basic1.conv0");
}

/* Nested blocks join with dots; a label replaces the block's generated name and takes no
 * number, so the next unlabelled stage is stage1. */
static void test_names_nested_blocks(void) {
    Graph *g = ok("block basic(c) { conv(c, 3, pad = 1, bias = false); batchnorm; relu }\n"
                  "block stage(c, n) { repeat n { basic(c) } }\n"
                  "model m {\n    input [3, 8, 8]\n"
                  "    stage(4, 2)\n    big: stage(8, 1)\n    stage(2, 1)\n}\n");
    EXPECT_STR(param_names(g), "stage0.basic0.conv0.weight stage0.basic0.bn0.weight stage0.basic0.bn0.bias "
                               "stage0.basic0.bn0.running_mean stage0.basic0.bn0.running_var "
                               "stage0.basic1.conv0.weight stage0.basic1.bn0.weight stage0.basic1.bn0.bias "
                               "stage0.basic1.bn0.running_mean stage0.basic1.bn0.running_var "
                               "big.basic0.conv0.weight big.basic0.bn0.weight big.basic0.bn0.bias "
                               "big.basic0.bn0.running_mean big.basic0.bn0.running_var "
                               "stage1.basic0.conv0.weight stage1.basic0.bn0.weight stage1.basic0.bn0.bias "
                               "stage1.basic0.bn0.running_mean stage1.basic0.bn0.running_var");
    EXPECT_STR(pshape(g, "stage0.basic1.conv0.weight"), "[4, 4, 3, 3]");
    EXPECT_STR(pshape(g, "big.basic0.conv0.weight"), "[8, 4, 3, 3]");
    EXPECT_STR(pshape(g, "stage1.basic0.conv0.weight"), "[2, 8, 3, 3]");
    EXPECT_STR(pshape(g, "stage1.basic0.bn0.running_var"), "[2]");
    const Op *c = nth_op(g, OP_CONV, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    EXPECT_STR(c->pname, "stage1.basic0.conv0");
    CU_ASSERT_EQUAL(strncmp(c->where, "stage1.basic0", 13), 0); /* ir_print drops a trailing dot */
}

/* A label equal to a name generated later in the same body is an error, reported (spec section
 * 9: every error names file:line:col) at the statement that would get the name. */
static void test_names_label_collides_with_generated(void) {
    expect_error("model m {\n    input [4]\n    linear1: linear(3)\n    linear(3)\n    linear(3)\n}\n",
                 "5:5: error: the name 'linear1' is already used in this model");
}

/* The shortcut's layers are numbered after the body's (textual order). */
static void test_names_shortcut_after_body(void) {
    Graph *g = ok("block basic(channels, stride = 1) {\n"
                  "    residual {\n"
                  "        conv(channels, 3, stride = stride, pad = 1, bias = false); batchnorm; relu\n"
                  "        conv(channels, 3, pad = 1, bias = false); batchnorm\n"
                  "    } shortcut {\n"
                  "        if stride != 1 or in.c != channels {\n"
                  "            conv(channels, 1, stride = stride, bias = false); batchnorm\n"
                  "        }\n"
                  "    }\n"
                  "    relu\n"
                  "}\n"
                  "model m {\n    input [4, 8, 8]\n    basic(4)\n    basic(8, stride = 2)\n}\n");
    EXPECT_STR(model_out(g), "[2, 8, 4, 4]");
    /* basic0: identity shortcut: conv0, conv1 only. */
    CU_ASSERT_PTR_NOT_NULL(find_param(g, "basic0.conv1.weight"));
    CU_ASSERT_PTR_NULL(find_param(g, "basic0.conv2.weight"));
    /* basic1: body conv0 (3x3 stride 2), conv1 (3x3), shortcut conv2 (1x1 stride 2). */
    EXPECT_STR(pshape(g, "basic1.conv0.weight"), "[8, 4, 3, 3]");
    EXPECT_STR(pshape(g, "basic1.conv1.weight"), "[8, 8, 3, 3]");
    EXPECT_STR(pshape(g, "basic1.conv2.weight"), "[8, 4, 1, 1]");
    EXPECT_STR(pshape(g, "basic1.bn2.running_mean"), "[8]");
    CU_ASSERT_PTR_NULL(find_param(g, "basic1.bn3.weight"));
    /* trained: basic0: 2 * (4*4*9) + 2 * 8 = 288 + 16 = 304;
     * basic1: 8*4*9 + 8*8*9 + 8*4 + 3 * 16 = 288 + 576 + 32 + 48 = 944. */
    CU_ASSERT_EQUAL(ir_param_count(g, true), 304 + 944);
    /* running statistics: basic0 2 bns * 8, basic1 3 bns * 16 */
    CU_ASSERT_EQUAL(ir_param_count(g, false), 304 + 944 + 16 + 48);
    /* basic1's shortcut ([8, 4, 4] from [4, 8, 8]: no larger) runs before its body, the
     * parameter table (the checkpoint's order) and the names as written: conv ops 2..4 are
     * conv2 (1x1), conv0, conv1; each value is defined before it is read, in op order */
    const Op *c2 = nth_op(g, OP_CONV, 2), *c3 = nth_op(g, OP_CONV, 3), *c4 = nth_op(g, OP_CONV, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c4);
    EXPECT_STR(c2->pname, "basic1.conv2");
    EXPECT_STR(c3->pname, "basic1.conv0");
    EXPECT_STR(c4->pname, "basic1.conv1");
    CU_ASSERT_EQUAL(c2->in[0], c3->in[0]);
    CU_ASSERT_EQUAL(g->params[c2->param[PARAM_WEIGHT]].op, (int)(c2 - g->ops));
    CU_ASSERT_STRING_EQUAL(g->params[c2->param[PARAM_WEIGHT]].name, "basic1.conv2.weight");
    CU_ASSERT(c2->param[PARAM_WEIGHT] > c4->param[PARAM_WEIGHT]);
    for (int i = 0; i < g->nops; i++) {
        CU_ASSERT_EQUAL(g->values[g->ops[i].out].producer, i);
        CU_ASSERT(i == 0 || g->ops[i].out > g->ops[i - 1].out);
        for (int k = 0; k < g->ops[i].nin; k++)
            CU_ASSERT(g->ops[i].in[k] < g->ops[i].out);
    }
    /* the last add reads the body's output (bn1's) and the shortcut's (bn2's) */
    const Op *ad = nth_op(g, OP_ADD, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ad);
    EXPECT_STR(g->ops[g->values[ad->in[0]].producer].pname, "basic1.bn1");
    EXPECT_STR(g->ops[g->values[ad->in[1]].producer].pname, "basic1.bn2");
    CU_ASSERT(ir_verify(g));
}

/* Three 1x1 convs read one tensor: both adds of its gradient fuse into convs' dx (the second
 * into the conv that adds into the first's sum), and the plan keeps the three gradients in one
 * buffer that lives until the final sum's last read. */
static void test_fused_gradient_adds_chain(void) {
    Graph *g = ok("model m {\n    input [64, 6, 7]\n    batchnorm\n    add {\n"
                  "        branch { conv(128, 1) }\n        branch { conv(128, 1, bias = false); relu }\n"
                  "        branch { conv(128, 1); tanh }\n    }\n    global_avgpool\n    flatten\n    linear(2)\n}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_FATAL(pass_autodiff(g) && pass_shape(g) && pass_fuse(g) && ir_verify(g));
    int heads[2], nh = 0;
    for (int i = 0; i < g->nops; i++)
        if (g->ops[i].bwd_acc > 0 && nh < 2)
            heads[nh++] = i;
    CU_ASSERT_EQUAL_FATAL(nh, 2);
    const Op *h1 = &g->ops[heads[0]], *h2 = &g->ops[heads[1]];
    CU_ASSERT_EQUAL(h2->bwd_acc, h1->writes);
    CU_ASSERT_EQUAL(g->ops[g->values[h1->writes].producer].fused_into, heads[0]);
    Plan *p = pass_plan(g, true);
    CU_ASSERT_FATAL(plan_verify(g, p));
    CU_ASSERT_EQUAL(p->value_offset[h1->bwd_acc], p->value_offset[h1->writes]);
    CU_ASSERT_EQUAL(p->value_offset[h1->bwd_acc], p->value_offset[h2->writes]);
    int root = h1->bwd_acc, last_read = -1;
    while (p->alias_of[root] >= 0)
        root = p->alias_of[root];
    for (int i = 0; i < g->nops; i++)
        for (int k = 0; k < g->ops[i].nin; k++)
            if (g->ops[i].fused_into < 0 && g->ops[i].in[k] == h2->writes)
                last_read = i;
    CU_ASSERT(last_read > heads[1]);
    CU_ASSERT(p->last[root] >= last_read);
}

/* The pair: a residual block's 3x3 stride-2 conv (pad 1) and its 1x1 stride-2 shortcut read
 * one tensor; the later of their backward ops computes both data gradients and writes their
 * sum (bwd_pair), the other computes its weight gradient alone (writes -1, no buffer for its
 * dx), and the plan keeps the other op's dy alive until the pair's step. A 5x5 body (its
 * phase (0, 0) has several taps), a grouped body and a shortcut of stride 1 do not pair. */
static int pair_heads(const char *body, const char *sc, Graph **out) {
    const char *src = arena_printf("model m {\n    input [3, 9, 11]\n    conv(40, 3, pad = 1); relu\n    residual {\n        %s\n    } shortcut {\n"
                                   "        %s\n    }\n    relu\n    global_avgpool\n    flatten\n    linear(2)\n}\n",
                                   body, sc);
    Graph *g = ok(src);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_FATAL(pass_autodiff(g) && pass_shape(g) && pass_fuse(g) && ir_verify(g));
    int n = 0;
    for (int i = 0; i < g->nops; i++)
        n += g->ops[i].bwd_pair > 0;
    *out = g;
    return n;
}

static void test_fused_gradient_pair(void) {
    Graph *g;
    CU_ASSERT_EQUAL_FATAL(pair_heads("conv(64, 3, stride = 2, pad = 1); batchnorm; relu; conv(64, 3, pad = 1); batchnorm",
                                     "conv(64, 1, stride = 2, bias = false); batchnorm", &g), 1);
    int h = -1;
    for (int i = 0; i < g->nops; i++)
        if (g->ops[i].bwd_pair > 0)
            h = i;
    const Op *head = &g->ops[h], *other = &g->ops[head->bwd_pair];
    CU_ASSERT(head->bwd_pair < h);
    CU_ASSERT_EQUAL(other->writes, -1);
    CU_ASSERT(other->out >= 0);
    const Op *ad = &g->ops[g->values[head->writes].producer];
    CU_ASSERT_EQUAL(ad->kind, OP_ADD);
    CU_ASSERT_EQUAL(ad->fused_into, h);
    CU_ASSERT(ad->in[0] == other->out || ad->in[1] == other->out);
    /* the 1x1 conv's and the 3x3 conv's forward ops, one of each */
    int k1 = g->ops[head->fwd].a.kh, k2 = g->ops[other->fwd].a.kh;
    CU_ASSERT(k1 * k2 == 3 && k1 + k2 == 4);
    Plan *p = pass_plan(g, true);
    CU_ASSERT_FATAL(plan_verify(g, p));
    CU_ASSERT_EQUAL(p->value_floats[other->out], 0);
    CU_ASSERT_EQUAL(p->value_floats[head->out], 0);
    CU_ASSERT(p->value_floats[head->writes] > 0);
    CU_ASSERT_EQUAL(ir_pair_dy(g, head), other->in[other->nin - 1]);
    CU_ASSERT(p->last[ir_pair_dy(g, head)] >= h);
    CU_ASSERT_EQUAL(pair_heads("conv(64, 5, stride = 2, pad = 2); relu", "conv(64, 1, stride = 2)", &g), 0);
    CU_ASSERT_EQUAL(pair_heads("conv(64, 3, stride = 2, pad = 1, groups = 2); relu", "conv(64, 1, stride = 2)", &g), 0);
    CU_ASSERT_EQUAL(pair_heads("conv(64, 3, pad = 1); relu", "conv(64, 1)", &g), 0);
}

/* A label replaces the generated component and takes no number. */
static void test_names_labels(void) {
    Graph *g = ok("block blk { conv(2, 1) }\n"
                  "model m {\n    input [2, 3, 3]\n"
                  "    stem: conv(4, 1); blk; first: blk; blk\n"
                  "    conv(2, 1); flatten\n"
                  "    fc: linear(10); linear(5); head: linear(3)\n"
                  "    drop: dropout\n}\n");
    EXPECT_STR(param_names(g), "stem.weight stem.bias blk0.conv0.weight blk0.conv0.bias "
                               "first.conv0.weight first.conv0.bias blk1.conv0.weight blk1.conv0.bias "
                               "conv0.weight conv0.bias fc.weight fc.bias linear0.weight linear0.bias "
                               "head.weight head.bias");
    EXPECT_STR(pshape(g, "fc.weight"), "[10, 18]");
    EXPECT_STR(pshape(g, "linear0.weight"), "[5, 10]");
}

static void test_names_duplicate_label(void) {
    /* "    a: linear(3); a: linear(2)": the second label at column 19. */
    expect_error("model m {\n    input [4]\n    a: linear(3); a: linear(2)\n}\n",
                 "3:19: error: the name 'a' is already used in this model");
}

/* repeat expands before numbering: conv0..conv2 and vgg0, vgg1 with their own conv0, conv1. */
static void test_names_repeat(void) {
    Graph *g = ok("block vgg(channels, convs) {\n"
                  "    repeat convs { conv(channels, 3, pad = 1); relu }\n"
                  "    maxpool(2)\n}\n"
                  "model m {\n    input [3, 16, 16]\n"
                  "    repeat 3 { conv(4, 3, pad = 1) }\n"
                  "    repeat 2 { vgg(8, 2) }\n}\n");
    EXPECT_STR(model_out(g), "[2, 8, 4, 4]");
    EXPECT_STR(param_names(g), "conv0.weight conv0.bias conv1.weight conv1.bias conv2.weight conv2.bias "
                               "vgg0.conv0.weight vgg0.conv0.bias vgg0.conv1.weight vgg0.conv1.bias "
                               "vgg1.conv0.weight vgg1.conv0.bias vgg1.conv1.weight vgg1.conv1.bias");
    EXPECT_STR(pshape(g, "vgg0.conv0.weight"), "[8, 4, 3, 3]");
    EXPECT_STR(pshape(g, "vgg1.conv0.weight"), "[8, 8, 3, 3]");
    CU_ASSERT_EQUAL(count_ops(g, OP_MAXPOOL), 2);
}

/* LeNet-5 (models/lenet5.cnn) has 61,706 parameters:
 * conv 6*1*25+6 = 156, conv 16*6*25+16 = 2416, linear 120*400+120 = 48120,
 * linear 84*120+84 = 10164, linear 10*84+10 = 850. */
static void test_param_count_lenet(void) {
    Graph *g = ok("model lenet5(classes = 10) {\n"
                  "    input [1, 28, 28]\n"
                  "    normalize(mean = 0.2860, std = 0.3530)\n"
                  "    conv(6, 5, pad = 2); tanh; avgpool(2)\n"
                  "    conv(16, 5); tanh; avgpool(2)\n"
                  "    flatten\n"
                  "    linear(120); tanh\n"
                  "    linear(84); tanh\n"
                  "    linear(classes)\n}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    EXPECT_STR(g->name, "lenet5");
    EXPECT_STR(out_of(g, OP_AVGPOOL, 0), "[2, 6, 14, 14]");
    EXPECT_STR(out_of(g, OP_CONV, 1), "[2, 16, 10, 10]");
    EXPECT_STR(out_of(g, OP_FLATTEN, 0), "[2, 400]");
    EXPECT_STR(model_out(g), "[2, 10]");
    CU_ASSERT_EQUAL(ir_param_count(g, true), 61706);
    CU_ASSERT_EQUAL(ir_param_count(g, false), 61706);
    CU_ASSERT_EQUAL(g->nparams, 10);
    int64_t sum = 0;
    for (int i = 0; i < g->nparams; i++)
        sum += g->params[i].numel;
    CU_ASSERT_EQUAL(sum, 61706);
    CU_ASSERT(ir_verify(g));
}

/* ================= expressions ================= */

/* in.c, in.h, in.w, in.features are the shape of the statement's own input. */
static void test_in_fields(void) {
    Graph *g = ok("model m {\n    input [3, 10, 6]\n"
                  "    conv(in.c * 2, 3)\n"                /* 6 ch, 8 x 4 */
                  "    conv(in.h + in.w, [in.h / 4, 1])\n" /* 12 ch, kernel [2, 1]: 7 x 4 */
                  "    flatten\n"                          /* 12 * 7 * 4 = 336 */
                  "    linear(in.features / 8)\n"          /* 42 */
                  "    linear(in.features - 40)\n}\n");    /* 2 */
    EXPECT_STR(out_of(g, OP_CONV, 0), "[2, 6, 8, 4]");
    EXPECT_STR(out_of(g, OP_CONV, 1), "[2, 12, 7, 4]");
    EXPECT_STR(out_of(g, OP_LINEAR, 0), "[2, 42]");
    EXPECT_STR(model_out(g), "[2, 2]");
}

/* Integer `/` truncates toward zero and `%` takes the dividend's sign, as in C:
 * (0 - 7) / 2 = -3 (not -4), so -3 + 10 = 7; -7 % 3 = -1, so -1 + 5 = 4; 7 / 2 * 2 = 6. */
static void test_integer_division_truncates(void) {
    Graph *g = ok("model m(a = -7) {\n    input [4]\n"
                  "    linear(a / 2 + 10)\n"
                  "    linear(a % 3 + 5)\n"
                  "    linear(7 / 2 * 2)\n"
                  "    linear(-(a / -2) + 4)\n}\n"); /* -7 / -2 = 3: -3 + 4 = 1 */
    EXPECT_STR(out_of(g, OP_LINEAR, 0), "[2, 7]");
    EXPECT_STR(out_of(g, OP_LINEAR, 1), "[2, 4]");
    EXPECT_STR(out_of(g, OP_LINEAR, 2), "[2, 6]");
    EXPECT_STR(out_of(g, OP_LINEAR, 3), "[2, 1]");
}

/* if / else if / else chosen at compile time, from parameters and from in.c. */
static void test_if_else_chain(void) {
    Graph *g = ok("block pick(n) {\n"
                  "    if n == 1 { relu } else if n == 2 { tanh } else { sigmoid }\n"
                  "}\n"
                  "model m {\n    input [4, 2, 2]\n"
                  "    pick(2); pick(1); pick(7)\n"
                  "    if in.c > 3 and not (in.h == 3) { conv(1, 1) }\n"
                  "    if in.c > 3 { conv(2, 1) }\n}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_EQUAL(g->nops, 5);
    if (g->nops == 5) {
        CU_ASSERT_EQUAL(g->ops[1].kind, OP_TANH);
        CU_ASSERT_EQUAL(g->ops[2].kind, OP_RELU);
        CU_ASSERT_EQUAL(g->ops[3].kind, OP_SIGMOID);
        CU_ASSERT_EQUAL(g->ops[4].kind, OP_CONV);
    }
    EXPECT_STR(model_out(g), "[2, 1, 2, 2]");
}

/* repeat 0 applies nothing, and the numbering is not disturbed. */
static void test_repeat_zero(void) {
    Graph *g = ok("model m(n = 2) {\n    input [3, 4, 4]\n"
                  "    repeat 0 { conv(8, 3) }\n"
                  "    repeat n - 2 { conv(8, 3) }\n"
                  "    repeat n { conv(3, 1) }\n}\n");
    CU_ASSERT_EQUAL(count_ops(g, OP_CONV), 2);
    EXPECT_STR(model_out(g), "[2, 3, 4, 4]");
    EXPECT_STR(param_names(g), "conv0.weight conv0.bias conv1.weight conv1.bias");
    /* A model that is only an input and empty repeats is its input. */
    g = ok("model m {\n    input [5]\n    repeat 0 { linear(3) }\n}\n");
    EXPECT_STR(model_out(g), "[2, 5]");
}

/* Block defaults are evaluated inside the block (earlier parameters and in.c visible);
 * arguments in the caller. mid = 8 / 2 = 4: conv0 [4, 8, 1, 1], conv1 [3, 4, 1, 1]. */
static void test_block_defaults_and_scope(void) {
    Graph *g = ok("block b(c, mid = in.c / 2) { conv(mid, 1); conv(c, 1) }\n"
                  "model m(width = 3) {\n    input [8, 4, 4]\n    b(width)\n    b(in.c * 2, mid = 1)\n}\n");
    EXPECT_STR(pshape(g, "b0.conv0.weight"), "[4, 8, 1, 1]");
    EXPECT_STR(pshape(g, "b0.conv1.weight"), "[3, 4, 1, 1]");
    EXPECT_STR(pshape(g, "b1.conv0.weight"), "[1, 3, 1, 1]");
    EXPECT_STR(pshape(g, "b1.conv1.weight"), "[6, 1, 1, 1]");
    EXPECT_STR(model_out(g), "[2, 6, 4, 4]");
    /* A block body does not see the caller's names: "block b { linear(classes) }", col 18. */
    expect_error("block b { linear(classes) }\nmodel m(classes = 3) {\n    input [4]\n    b\n}\n",
                 "1:18: error: unknown name 'classes'");
}

/* concat of flat tensors joins features: 3 + 4 = 7. */
static void test_concat_flat(void) {
    Graph *g = ok("model m {\n    input [4]\n    concat {\n        branch { linear(3) }\n        branch { }\n    }\n}\n");
    EXPECT_STR(model_out(g), "[2, 7]");
}

static void test_error_expression_values(void) {
    /* "    linear(9223372036854775807 + 1)": the sum starts at column 12. */
    expect_error("model m {\n    input [4]\n    linear(9223372036854775807 + 1)\n}\n",
                 "3:12: error: integer overflow in '+'");
    /* "    if 1 { relu }": the condition at column 8. */
    expect_error("model m {\n    input [4]\n    if 1 { relu }\n}\n",
                 "3:8: error: an `if` condition must be true or false, got an integer");
    /* "    repeat 0 - 1 { relu }": the count at column 12. */
    expect_error("model m {\n    input [4]\n    repeat 0 - 1 { relu }\n}\n",
                 "3:12: error: repeat count must be an integer from 0 to 10000, got -1");
    expect_error("model m {\n    input [4]\n    adaptive_avgpool(2)\n}\n",
                 "3:5: error: adaptive_avgpool needs an image tensor [C, H, W], got [4]");
    expect_error("model m {\n    input [4]\n    lrn\n}\n", "3:5: error: lrn needs an image tensor [C, H, W], got [4]");
}

/* ================= model parameters, model choice, batch ================= */

static void test_model_defines(void) {
    static const char text[] = "model m(classes = 10, width = 8, deep = false) {\n    input [3, 4, 4]\n"
                               "    conv(width, 3)\n"
                               "    if deep { conv(width, 1) }\n"
                               "    flatten; linear(classes)\n}\n";
    Graph *g = ok(text);
    EXPECT_STR(model_out(g), "[2, 10]");
    EXPECT_STR(pshape(g, "linear0.weight"), "[10, 32]");
    Define d[] = {{"classes", "7"}, {"width", "4"}, {"deep", "true"}};
    ElabOptions o = {.defines = d, .ndefines = 3, .batch = 2};
    g = ok_opts(text, &o);
    EXPECT_STR(model_out(g), "[2, 7]");
    EXPECT_STR(pshape(g, "conv1.weight"), "[4, 4, 1, 1]");
    EXPECT_STR(pshape(g, "linear0.weight"), "[7, 16]");
    /* A list value: kernel [3, 1] on 9 x 9 gives 7 x 9. */
    Define k[] = {{"k", "[3, 1]"}};
    ElabOptions ok_ = {.defines = k, .ndefines = 1, .batch = 2};
    g = ok_opts("model m(k = 3) {\n    input [2, 9, 9]\n    conv(1, k)\n}\n", &ok_);
    EXPECT_STR(model_out(g), "[2, 1, 7, 9]");
    EXPECT_STR(pshape(g, "conv0.weight"), "[1, 2, 3, 1]");
}

static void test_model_define_required(void) {
    static const char text[] = "model m(classes) {\n    input [6]\n    linear(classes)\n}\n";
    Define d[] = {{"classes", "3"}};
    ElabOptions o = {.defines = d, .ndefines = 1, .batch = 2};
    Graph *g = ok_opts(text, &o);
    EXPECT_STR(model_out(g), "[2, 3]");
    expect_error(text, "1:9: error: model parameter 'classes' has no default; set it with -D classes=VALUE");
}

static void test_model_choice(void) {
    static const char text[] = "model a {\n    input [4]\n    linear(2)\n}\n"
                               "model b {\n    input [4]\n    linear(3)\n}\n";
    ElabOptions o = {.model = "b", .batch = 2};
    Graph *g = ok_opts(text, &o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    EXPECT_STR(g->name, "b");
    EXPECT_STR(model_out(g), "[2, 3]");
    o.model = "a";
    g = ok_opts(text, &o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    EXPECT_STR(g->name, "a");
    EXPECT_STR(model_out(g), "[2, 2]");
    expect_error(text, "cnnc: error: the file defines 2 models (a, b); choose one with --model NAME");
    o.model = "c";
    expect_error_opts(text, &o, "cnnc: error: no model named 'c'; the file has: a, b");
}

/* batch: --batch wins; otherwise the train section's; otherwise 1. */
static void test_batch_choice(void) {
    static const char text[] = "model m {\n    input [4]\n    linear(2)\n}\ntrain {\n    batch = 32\n}\n";
    ElabOptions o = {0};
    Graph *g = ok_opts(text, &o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_EQUAL(g->batch, 32);
    EXPECT_STR(model_out(g), "[32, 2]");
    CU_ASSERT_PTR_NOT_NULL(g->train);
    if (g->train)
        CU_ASSERT_EQUAL(g->train->batch, 32);
    o.batch = 5;
    g = ok_opts(text, &o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_EQUAL(g->batch, 5);
    EXPECT_STR(model_out(g), "[5, 2]");
    o.batch = 0;
    g = ok_opts("model m {\n    input [4]\n    linear(2)\n}\n", &o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_EQUAL(g->batch, 1);
    /* A train section for another model name does not apply; the unnamed one does. */
    g = ok_opts("model m {\n    input [4]\n}\nmodel n {\n    input [4]\n}\n"
                "train {\n    batch = 8\n}\ntrain n {\n    batch = 16\n}\n",
                &(ElabOptions){.model = "m"});
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_EQUAL(g->batch, 8);
    g = ok_opts("model m {\n    input [4]\n}\nmodel n {\n    input [4]\n}\n"
                "train {\n    batch = 8\n}\ntrain n {\n    batch = 16\n}\n",
                &(ElabOptions){.model = "n"});
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_EQUAL(g->batch, 16);
}

/* ================= errors ================= */

static void test_error_linear_on_image(void) {
    expect_error("model m {\n    input [3, 4, 4]\n    linear(10)\n}\n",
                 "3:5: error: linear needs a flat tensor, got the image tensor [3, 4, 4]; add `flatten` before it");
}

/* branch 1 gives [4, 6, 6] (8 - 3 + 1), branch 2 gives [2, 8, 8]. */
static void test_error_concat_mismatch(void) {
    expect_error("model m {\n    input [3, 8, 8]\n"
                 "    concat {\n        branch { conv(4, 3) }\n        branch { conv(2, 1) }\n    }\n}\n",
                 "3:5: error: concat: branch 2 gives [2, 8, 8], branch 1 gives [4, 6, 6]");
    /* Channels may differ, but not H and W; here only W differs: [3, 8, 7] vs [3, 8, 8]. */
    expect_error("model m {\n    input [3, 8, 8]\n"
                 "    concat {\n        branch { }\n        branch { conv(3, [1, 2]) }\n    }\n}\n",
                 "3:5: error: concat: branch 2 gives [3, 8, 7], branch 1 gives [3, 8, 8]");
}

static void test_error_residual_mismatch(void) {
    expect_error("model m {\n    input [4, 8, 8]\n    residual { conv(8, 3, pad = 1) }\n}\n",
                 "3:5: error: residual: shortcut gives [4, 8, 8], body gives [8, 8, 8]");
    expect_error("model m {\n    input [4, 8, 8]\n"
                 "    add {\n        branch { maxpool(2) }\n        branch { }\n    }\n}\n",
                 "3:5: error: add: branch 2 gives [4, 8, 8], branch 1 gives [4, 4, 4]");
}

static void test_error_kernel_too_large(void) {
    expect_error("model m {\n    input [3, 5, 5]\n    conv(4, 7)\n}\n",
                 "3:5: error: conv: kernel 7 does not fit the input [3, 5, 5] padded by 0");
    /* dilation 3, k 3: effective 7 > 5 + 2*0 */
    expect_error("model m {\n    input [3, 5, 9]\n    conv(4, 3, dilation = [3, 1])\n}\n",
                 "3:5: error: conv: kernel 3 (dilation [3, 1]) does not fit the input [3, 5, 9] padded by 0");
    expect_error("model m {\n    input [3, 2, 2]\n    maxpool(3)\n}\n",
                 "3:5: error: maxpool: kernel 3 does not fit the input [3, 2, 2] padded by 0");
}

static void test_error_groups(void) {
    expect_error("model m {\n    input [8, 8, 8]\n    conv(6, 3, groups = 4)\n}\n",
                 "3:5: error: conv: groups = 4 must divide both the input channels (8) and out (6)");
    expect_error("model m {\n    input [6, 8, 8]\n    conv(8, 3, groups = 4)\n}\n",
                 "3:5: error: conv: groups = 4 must divide both the input channels (6) and out (8)");
}

static void test_error_unknown_layer(void) {
    expect_error("model m {\n    input [3, 4, 4]\n    conv(4, 3); rleu\n}\n",
                 "3:17: error: unknown layer or block 'rleu'");
    CU_ASSERT_PTR_NOT_NULL(strstr(last_output, "note: did you mean 'relu'?\n"));
    /* Blocks are candidates too. */
    expect_error("block bottleneck { relu }\nmodel m {\n    input [3, 4, 4]\n    botleneck\n}\n",
                 "4:5: error: unknown layer or block 'botleneck'");
    CU_ASSERT_PTR_NOT_NULL(strstr(last_output, "note: did you mean 'bottleneck'?\n"));
}

static void test_error_missing_argument(void) {
    expect_error("model m {\n    input [3, 4, 4]\n    conv(4)\n}\n",
                 "3:5: error: conv needs argument 'kernel'; conv takes "
                 "(out, kernel, stride=1, pad=0, dilation=1, groups=1, bias=true, init=default)");
    expect_error("block b(c, k = 3) { conv(c, k) }\nmodel m {\n    input [3, 4, 4]\n    b(k = 1)\n}\n",
                 "4:5: error: block b needs argument 'c'; block b takes (c, k=3)");
}

static void test_error_repeated_argument(void) {
    /* "    conv(4, 3, pad = 1, pad = 2)": the second `pad` at column 25. */
    expect_error("model m {\n    input [3, 4, 4]\n    conv(4, 3, pad = 1, pad = 2)\n}\n",
                 "3:25: error: conv: argument 'pad' is given twice");
    /* positional then keyword for the same parameter: "    conv(4, 3, out = 2)", col 16. */
    expect_error("model m {\n    input [3, 4, 4]\n    conv(4, 3, out = 2)\n}\n",
                 "3:16: error: conv: argument 'out' is given twice");
}

/* Kinds and ranges come from the op's table: the binder reports them before set_attrs, naming
 * the argument and the allowed range at the value. */
static void test_error_argument_range(void) {
    expect_error("model m {\n    input [3, 4, 4]\n    conv(0, 3)\n}\n",
                 "3:10: error: conv: argument 'out' must be an integer between 1 and 16777216, got 0");
    expect_error("model m {\n    input [3, 4, 4]\n    conv(4, [3, 0])\n}\n",
                 "3:13: error: conv: argument 'kernel' must be an integer between 1 and 1073741824, or a list [h, w] "
                 "of two, got [3, 0]");
    expect_error("model m {\n    input [3, 4, 4]\n    conv(4, 3, pad = -1)\n}\n",
                 "3:22: error: conv: argument 'pad' must be an integer between 0 and 1073741824, or a list [h, w] of "
                 "two, or same, got -1");
    expect_error("model m {\n    input [3, 4, 4]\n    batchnorm(eps = 2)\n}\n",
                 "3:21: error: batchnorm: argument 'eps' must be a number between 1e-30 and 1, got 2");
    expect_error("model m {\n    input [3, 4, 4]\n    conv(4, 3, bias = 1)\n}\n",
                 "3:23: error: conv: argument 'bias' must be true or false, got 1");
    expect_error("model m {\n    input [3, 4, 4]\n    dropout(p = 1.5)\n}\n",
                 "3:17: error: dropout: argument 'p' must be a number between 0 and 1, got 1.5");
    expect_error("model m {\n    input [3, 4, 4]\n    conv(4, 3, stride = 1, 2)\n}\n",
                 "3:28: error: positional argument after keyword argument 'stride'");
}

/* A layer's own init: bound by the train section's init table, kept as the runtime reads it. */
static void test_layer_init(void) {
    Graph *g = ok("model m {\n    input [3, 4, 4]\n    conv(4, 3, init = kaiming_normal(mode = fan_out, nonlinearity = "
                   "relu))\n    flatten\n    linear(2, init = normal(std = 0.5 / 2))\n    linear(2)\n}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_STRING_EQUAL(nth_op(g, OP_CONV, 0)->a.init, "kaiming_normal(a=0, mode=fan_out, nonlinearity=relu)");
    CU_ASSERT_STRING_EQUAL(nth_op(g, OP_LINEAR, 0)->a.init, "normal(mean=0, std=0.25)");
    CU_ASSERT_PTR_NULL(nth_op(g, OP_LINEAR, 1)->a.init);
    expect_error("model m {\n    input [3, 4, 4]\n    conv(4, 3, init = uniform(1, 0))\n}\n",
                 "3:23: error: conv: argument 'init': uniform needs a < b, got a = 1, b = 0");
    expect_error("model m {\n    input [3, 4, 4]\n    linear(4, init = constant)\n}\n",
                 "3:22: error: linear: argument 'init': constant needs argument 'val'; constant takes (val)");
}

static void test_error_unknown_argument(void) {
    /* "    conv(4, 3, strde = 2)": `strde` at column 16. */
    expect_error("model m {\n    input [3, 4, 4]\n    conv(4, 3, strde = 2)\n}\n",
                 "3:16: error: conv has no argument 'strde'; conv takes "
                 "(out, kernel, stride=1, pad=0, dilation=1, groups=1, bias=true, init=default)");
    CU_ASSERT_PTR_NOT_NULL(strstr(last_output, "did you mean 'stride'?"));
}

static void test_error_in_field_wrong_kind(void) {
    /* "    linear(in.features)": in.features at column 12. */
    expect_error("model m {\n    input [3, 4, 4]\n    linear(in.features)\n}\n",
                 "3:12: error: in.features: the input is the image tensor [3, 4, 4]; use in.c, in.h or in.w");
    /* "    linear(in.c)" on a flat input. */
    expect_error("model m {\n    input [12]\n    linear(in.c)\n}\n",
                 "3:12: error: in.c: the input is the flat tensor [12]; use in.features");
}

static void test_error_softmax_not_last(void) {
    expect_error("model m {\n    input [4]\n    softmax; relu\n}\n",
                 "3:5: error: softmax may only be the last statement of a model");
    /* Inside a block that is followed by something. */
    expect_error("block head { linear(3); softmax }\nmodel m {\n    input [4]\n    head\n    relu\n}\n",
                 "1:25: error: softmax may only be the last statement of a model");
    /* Last in a repeat body, but not the last iteration. */
    expect_error("model m {\n    input [4]\n    repeat 2 { relu; softmax }\n}\n",
                 "3:22: error: softmax may only be the last statement of a model");
}

static void test_error_recursion_depth(void) {
    expect_error("block loop { relu; loop }\nmodel m {\n    input [4]\n    loop\n}\n",
                 "1:20: error: blocks nested more than 64 deep: block loop calls itself (64 instances open); does its "
                 "recursion end?");
    /* A block calling itself twice: 2^64 call paths that add no op; the statement budget stops it
     * (it used to run for ever with unbounded memory). */
    expect_error("block b(n) { if n > 0 { b(n - 1); b(n - 1) } }\nmodel m {\n    input [4]\n    b(60)\n}\n",
                 "1:35: error: elaboration stopped after 1000000 statements (the limit): blocks calling blocks expand "
                 "too much; does a block call itself more than once?");
    /* Nested repeats of empty bodies count too. */
    expect_error("model m {\n    input [4]\n    repeat 10000 { repeat 10000 { } }\n}\n",
                 "3:20: error: elaboration stopped after 1000000 statements (the limit): nested repeats expand too much");
    /* A chain of 70 different blocks, none recursive: the message must not blame recursion. */
    {
        const char *src = "";
        for (int i = 0; i < 70; i++)
            src = arena_printf("%sblock b%d { relu; %s }\n", src, i, i < 69 ? arena_printf("b%d", i + 1) : "");
        src = arena_printf("%smodel m {\n    input [4]\n    b0\n}\n", src);
        Graph *gc = run_opts(src, &batch2);
        CU_ASSERT_PTR_NULL(gc);
        CU_ASSERT_PTR_NOT_NULL(strstr(last_output, "a chain of blocks calling blocks reaches block b64 at depth 65"));
        CU_ASSERT_PTR_NULL(strstr(last_output, "itself"));
    }
    /* Recursion that ends through `if` is fine: 5 levels. */
    Graph *g = ok("block down(n) { if n > 0 { linear(in.features + 1); down(n - 1) } }\n"
                  "model m {\n    input [4]\n    down(5)\n}\n");
    EXPECT_STR(model_out(g), "[2, 9]");
    EXPECT_STR(pshape(g, "down0.down0.down0.down0.down0.linear0.weight"), "[9, 8]");
}

static void test_error_division_by_zero(void) {
    /* "    linear(8 / d)": `d` at column 16. */
    expect_error("model m(d = 0) {\n    input [4]\n    linear(8 / d)\n}\n", "3:16: error: division by zero");
    /* "    linear(8 % (in.features - 4))": the divisor inside the parentheses at column 17. */
    expect_error("model m {\n    input [4]\n    linear(8 % (in.features - 4))\n}\n", "3:17: error: division by zero");
}

static void test_error_define_unknown(void) {
    Define d[] = {{"clases", "3"}};
    ElabOptions o = {.defines = d, .ndefines = 1, .batch = 2};
    expect_error_opts("model m(classes = 10, width = 2) {\n    input [4]\n    linear(classes)\n}\n", &o,
                      "cnnc: error: -D clases: model m has no parameter 'clases' (its parameters: classes, width)");
    CU_ASSERT_PTR_NOT_NULL(strstr(last_output, "did you mean 'classes'?"));
    Define bad[] = {{"classes", "ten"}};
    o.defines = bad;
    expect_error_opts("model m(classes = 10) {\n    input [4]\n    linear(classes)\n}\n", &o,
                      "cnnc: error: -D classes=ten: the value must be an integer, a number, true, false or a list");
}

/* Errors inside a block instance carry one note per enclosing instantiation. */
static void test_error_in_block_context(void) {
    expect_error("block inner(c) { conv(c, 3, groups = 3) }\n"
                 "block outer(c) { inner(c * 2) }\n"
                 "model m {\n    input [4, 8, 8]\n    outer(4)\n}\n",
                 "1:18: error: conv: groups = 3 must divide both the input channels (4) and out (8)");
    const char *in1 = strstr(last_output, "note: in block inner(8) at ");
    const char *in2 = strstr(last_output, "note: in block outer(4) at ");
    CU_ASSERT_PTR_NOT_NULL(in1);
    CU_ASSERT_PTR_NOT_NULL(in2);
    CU_ASSERT(in1 && in2 && in1 < in2); /* innermost first */
}

static void test_error_conv_argument_values(void) {
    /* "    conv(4, 3, stride = 2, pad = same)": `same` at column 34. */
    expect_error("model m {\n    input [3, 8, 8]\n    conv(4, 3, stride = 2, pad = same)\n}\n",
                 "3:34: error: conv: pad = same needs stride 1, got stride 2");
    expect_error("model m {\n    input [12]\n    conv(4, 3)\n}\n",
                 "3:5: error: conv needs an image tensor [C, H, W], got [12]");
    /* maxpool pad at most half the kernel: "    maxpool(2, pad = 2)", the 2 at column 22. */
    expect_error("model m {\n    input [3, 8, 8]\n    maxpool(2, pad = 2)\n}\n",
                 "3:22: error: maxpool: pad 2 must be at most half the kernel 2");
}

/* One mistake gives one message, and independent mistakes each give theirs. */
static void test_error_one_message_per_mistake(void) {
    expect_error("model m {\n    input [3, 4, 4]\n    linear(10)\n    relu; linear(5)\n    frob\n}\n",
                 "3:5: error: linear needs a flat tensor, got the image tensor [3, 4, 4]; add `flatten` before it");
    int errors = 0;
    for (const char *p = last_output; (p = strstr(p, ": error: ")); p++)
        errors++;
    CU_ASSERT_EQUAL(errors, 2); /* the linear, and the unknown `frob` (names are still checked) */
    CU_ASSERT_PTR_NOT_NULL(strstr(last_output, "unknown layer or block 'frob'"));
}

void suite_elaborate(void) {
    CU_pSuite s = CU_add_suite("elaborate", suite_init, suite_clean);
    CU_add_test(s, "conv: basic", test_conv_basic);
    CU_add_test(s, "conv: stride, pad, dilation", test_conv_stride_pad_dilation);
    CU_add_test(s, "conv: [h, w] arguments", test_conv_list_arguments);
    CU_add_test(s, "conv: pad = same, odd kernels", test_conv_pad_same_odd);
    CU_add_test(s, "conv: pad = same, even kernels", test_conv_pad_same_even);
    CU_add_test(s, "conv: groups and depthwise", test_conv_groups_depthwise);
    CU_add_test(s, "linear", test_linear);
    CU_add_test(s, "maxpool: floor mode", test_maxpool_floor);
    CU_add_test(s, "maxpool: ceil mode", test_maxpool_ceil);
    CU_add_test(s, "pools: ceil drops a window in the padding", test_pool_ceil_drops_window_in_padding);
    CU_add_test(s, "avgpool: attributes", test_avgpool_attributes);
    CU_add_test(s, "adaptive_avgpool", test_adaptive_avgpool);
    CU_add_test(s, "global pools", test_global_pools);
    CU_add_test(s, "batchnorm: image and flat", test_batchnorm_image_and_flat);
    CU_add_test(s, "flatten", test_flatten);
    CU_add_test(s, "lrn", test_lrn);
    CU_add_test(s, "normalize: per-channel lists", test_normalize);
    CU_add_test(s, "normalize: wrong count, zero std", test_normalize_wrong_count);
    CU_add_test(s, "dropout", test_dropout);
    CU_add_test(s, "activations", test_activations);
    CU_add_test(s, "softmax last", test_softmax_last);
    CU_add_test(s, "residual, add, concat shapes", test_residual_add_concat_shapes);
    CU_add_test(s, "names: per kind", test_names_per_kind);
    CU_add_test(s, "names: block instances", test_names_block_instances);
    CU_add_test(s, "names: nested blocks", test_names_nested_blocks);
    CU_add_test(s, "names: shortcut after body", test_names_shortcut_after_body);
    CU_add_test(s, "fused gradient adds in a chain", test_fused_gradient_adds_chain);
    CU_add_test(s, "paired data gradients of a strided conv and its shortcut", test_fused_gradient_pair);
    CU_add_test(s, "names: labels", test_names_labels);
    CU_add_test(s, "names: duplicate label", test_names_duplicate_label);
    CU_add_test(s, "names: label collides with a generated name", test_names_label_collides_with_generated);
    CU_add_test(s, "names: repeat", test_names_repeat);
    CU_add_test(s, "param count: lenet5", test_param_count_lenet);
    CU_add_test(s, "expr: in fields", test_in_fields);
    CU_add_test(s, "expr: integer division truncates", test_integer_division_truncates);
    CU_add_test(s, "if / else if / else", test_if_else_chain);
    CU_add_test(s, "repeat 0", test_repeat_zero);
    CU_add_test(s, "block defaults and scope", test_block_defaults_and_scope);
    CU_add_test(s, "concat of flat tensors", test_concat_flat);
    CU_add_test(s, "model: -D defines", test_model_defines);
    CU_add_test(s, "model: required parameter", test_model_define_required);
    CU_add_test(s, "model: --model choice", test_model_choice);
    CU_add_test(s, "batch: option, train section, default", test_batch_choice);
    CU_add_test(s, "error: linear on image", test_error_linear_on_image);
    CU_add_test(s, "error: concat mismatch", test_error_concat_mismatch);
    CU_add_test(s, "error: residual mismatch", test_error_residual_mismatch);
    CU_add_test(s, "error: kernel too large", test_error_kernel_too_large);
    CU_add_test(s, "error: groups", test_error_groups);
    CU_add_test(s, "error: unknown layer", test_error_unknown_layer);
    CU_add_test(s, "error: missing argument", test_error_missing_argument);
    CU_add_test(s, "error: repeated argument", test_error_repeated_argument);
    CU_add_test(s, "error: unknown argument", test_error_unknown_argument);
    CU_add_test(s, "error: argument kinds and ranges from the table", test_error_argument_range);
    CU_add_test(s, "a layer's own init", test_layer_init);
    CU_add_test(s, "error: in field of the wrong kind", test_error_in_field_wrong_kind);
    CU_add_test(s, "error: softmax not last", test_error_softmax_not_last);
    CU_add_test(s, "error: recursion depth", test_error_recursion_depth);
    CU_add_test(s, "error: division by zero", test_error_division_by_zero);
    CU_add_test(s, "error: -D unknown or bad", test_error_define_unknown);
    CU_add_test(s, "error: block context notes", test_error_in_block_context);
    CU_add_test(s, "error: conv and pool arguments", test_error_conv_argument_values);
    CU_add_test(s, "error: one message per mistake", test_error_one_message_per_mistake);
    CU_add_test(s, "error: expression values", test_error_expression_values);
}
