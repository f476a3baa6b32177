/* test_ops.c: the op kit is complete. Walks every op kind of ops.def and fails when an OpInfo
 * lacks a callback or table entry that the passes, the emitters and the PyTorch twin rely on
 * (a missing twin would print `None` into the module; a missing act_expr would never fuse). */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "elaborate.h"
#include "emit_torch.h"
#include "ops.h"
#include "passes.h"
#include "train_config.h"

/* Training ops are appended by pass_autodiff and are not part of a forward graph. */
static bool training_op(int k) { return k == OP_LOSS || k == OP_BACKWARD; }

static void report(int k, const char *what) {
    char msg[160];
    snprintf(msg, sizeof msg, "op %s: %s", op_name((OpKind)k), what);
    CU_FAIL(msg);
    fprintf(stderr, "\n  op kit: %s\n", msg);
}

#define NEED(cond, what)          \
    do {                          \
        if (!(cond))              \
            report(k, what);      \
        CU_PASS("");              \
    } while (0)

/* What is wrong with an argument table, or NULL: every entry has a kind (layers: never AK_ANY),
 * a sane range, words where its kind needs them, and a default that is itself a valid value
 * (checked by the binder's own args_check), the name of an earlier argument (`stride = kernel`),
 * or in train tables "none". train: the table is a train callable's (offset fields). */
static const char *table_problem(const ArgSpec *args, bool train) {
    if (!args)
        return "no argument table";
    for (int a = 0; args[a].name; a++) {
        const ArgSpec *x = &args[a];
        if (!*x->name)
            return "an argument without a name";
        for (int b = a + 1; args[b].name; b++)
            if (!strcmp(x->name, args[b].name))
                return "an argument is listed twice";
        if (x->kind == AK_ANY)
            return "an argument without a kind";
        if (!(x->range.lo <= x->range.hi))
            return "an argument whose range is empty";
        if (x->kind == AK_WORD && (!x->words || !*x->words))
            return "a word argument without its words";
        if (x->kind == AK_INIT && train)
            return "an init inside a train callable";
        if (!x->def)
            continue;
        bool other = false;
        for (int b = 0; b < a; b++)
            other |= !strcmp(args[b].name, x->def);
        if (other || (train && !strcmp(x->def, "none")))
            continue;
        Val v = args_default(args, a, span_none(), train);
        if (v.kind == V_NONE)
            return "a default that is not a value";
        if (x->kind == AK_INIT ? v.kind != V_WORD || strcmp(v.word, "default") : !args_check(x, &v, x->name, false))
            return arena_printf("the default of '%s' (%s) is outside its own range or kind", x->name, x->def);
    }
    return NULL;
}

static void check_train_table(void *ctx, const char *family, const char *name, const ArgSpec *args) {
    (*(int *)ctx)++;
    const char *why = table_problem(args, true);
    if (why) {
        char msg[200];
        snprintf(msg, sizeof msg, "train %s %s: %s", family, name, why);
        CU_FAIL(msg);
        fprintf(stderr, "\n  train vocabulary: %s\n", msg);
    }
    CU_PASS("");
}

/* The train section's callables (losses, optimizers, schedules, augmentations, inits) use the
 * same typed tables and binder as layers; each table passes the same checks. */
static void test_train_tables(void) {
    int n = 0;
    train_vocab_walk(check_train_table, &n);
    CU_ASSERT(n >= 20);
}

/* The checker itself catches a default outside its range, an unknown kind, a word missing. */
static void test_table_checker(void) {
    const ArgSpec bad_default[] = {ARG_INT("n", "0", 1, 10), ARG_END};
    const ArgSpec no_kind[] = {{"n", "1", AK_ANY, RANGE_ANY, NULL, 0}, ARG_END};
    const ArgSpec bad_word[] = {ARG_WORD("mode", "max", "min|mid"), ARG_END};
    const ArgSpec bad_num[] = {ARG_NUM("p", "1.5", RANGE(0, 1)), ARG_END};
    const ArgSpec good[] = {ARG_INT("n", NULL, 1, 10), ARG_PAIR("k", "n", 1), ARG_WORD("mode", "min", "min|max"), ARG_END};
    CU_ASSERT_PTR_NOT_NULL(table_problem(bad_default, false));
    CU_ASSERT_PTR_NOT_NULL(table_problem(no_kind, false));
    CU_ASSERT_PTR_NOT_NULL(table_problem(bad_word, false));
    CU_ASSERT_PTR_NOT_NULL(table_problem(bad_num, false));
    CU_ASSERT_PTR_NULL(table_problem(good, false));
}

static void test_every_op_complete(void) {
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *info = op_info((OpKind)k);
        NEED(info != NULL, "no OpInfo");
        if (!info)
            continue;
        NEED(info->name && !strcmp(info->name, op_name((OpKind)k)), "OpInfo name differs from ops.def");
        NEED(info->args != NULL, "no argument table");
        NEED(info->set_attrs && info->infer && info->flops && info->print_attrs,
             "set_attrs, infer, flops and print_attrs are required");
        NEED(info->emit_forward != NULL, "no forward emitter");
        for (const ArgSpec *a = info->args; a && a->name; a++)
            for (const ArgSpec *b = a + 1; b->name; b++)
                NEED(strcmp(a->name, b->name) != 0, "an argument is listed twice");
        if (info->is_layer)
            NEED(op_find_layer(info->name) == info, "layer not found by its name");
        /* the typed table is complete and consistent (see check_table) */
        const char *why = table_problem(info->args, false);
        if (why)
            report(k, why);
        if (training_op(k))
            continue;
        NEED(info->torch_call != NULL, "no PyTorch twin (torch_call)");
        NEED(!info->add_params == !info->torch_module, "ops with parameters need a submodule twin, others none");
        NEED(!info->add_params == !info->param_kind, "add_params and param_kind go together");
        if (info->is_layer && k != OP_SOFTMAX) /* softmax is never differentiated: training reads the logits */
            NEED(info->emit_backward != NULL, "a layer needs a backward emitter");
        if (info->act_expr) {
            NEED(info->inplace && info->bwd_inplace, "an activation runs in place");
            NEED(info->emit_backward != NULL, "an activation needs a backward emitter");
            NEED(!(info->bwd_needs & BWD_X) || !(info->bwd_needs & BWD_Y), "an activation's gradient reads x or y");
        }
        if (info->fold_norm)
            NEED(info->add_params && info->emit_forward_train, "a foldable normalization has parameters");
        if (info->close_pool)
            NEED(info->epilogue, "a head that closes a pooling has an epilogue");
        if (info->epilogue || info->prologue)
            NEED(info->emit_forward != NULL, "a head emits code");
    }
    int heads = 0, acts = 0, norms = 0, pools = 0, pre = 0;
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *info = op_info((OpKind)k);
        heads += info->close_pool != NULL;
        acts += info->act_expr != NULL;
        norms += info->fold_norm;
        pools += info->pool_tiles != NULL;
        pre += info->pre_norm;
    }
    /* every fusion role has someone to play it, or fusion silently never happens */
    CU_ASSERT(heads >= 1 && acts >= 6 && norms >= 1 && pools >= 1 && pre >= 1);
}

/* Every activation, as a one-op graph: its expression mentions its operand, its twin is a call
 * of the input, and printing attributes does not crash. */
static void test_activations_emit(void) {
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *info = op_info((OpKind)k);
        if (!info->act_expr)
            continue;
        Graph *g = ir_new("t", 1);
        int x = ir_add_op(g, OP_INPUT, NULL, 0, shape4(1, 2, 3, 3), span_none());
        g->input = g->ops[x].out;
        int id = ir_add_op(g, (OpKind)k, &g->ops[x].out, 1, shape4(1, 2, 3, 3), span_none());
        Op *op = &g->ops[id];
        Val defaults[8];
        memset(defaults, 0, sizeof defaults);
        for (int a = 0; info->args[a].name && a < 8; a++)
            defaults[a] = arg_default(info, a, span_none());
        CU_ASSERT(info->set_attrs(g, op, defaults));
        const char *e = info->act_expr(op, "vvv");
        NEED(e && strstr(e, "vvv"), "act_expr does not use its operand");
        TorchCtx t = {g, arena_strdup("")};
        const char *py = info->torch_call(&t, op);
        NEED(py && strstr(py, torch_in(&t, op, 0)), "the twin does not read its input");
        char attrs[128] = "";
        info->print_attrs(op, attrs, sizeof attrs);
        CU_ASSERT(strlen(attrs) < sizeof attrs);
    }
}

/* A shape-checked graph of the model text (no diagnostics expected), or NULL. */
static Graph *graph_of(const char *text, bool train) {
    char path[] = "/tmp/cnnc-ops-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    Program *p = load_program(path);
    ElabOptions opts = {.batch = 2};
    Graph *g = p ? elaborate(p, &opts) : NULL;
    unlink(path);
    if (!g || !pass_shape(g))
        return NULL;
    if (train && (!pass_autodiff(g) || !pass_shape(g)))
        return NULL;
    return g;
}

/* The first op of the kind with that name. */
static const Op *find_op(const Graph *g, const char *name) {
    for (int i = 0; i < g->nops; i++)
        if (!strcmp(op_name(g->ops[i].kind), name))
            return &g->ops[i];
    return NULL;
}

/* The fusion rules that no numerical test can see from outside: what may not be absorbed. */
static void test_fusion_rules(void) {
    /* a pooling closes a conv only when its windows tile the image */
    Graph *g = graph_of("model m {\n input [2, 8, 8]\n conv(2, 1)\n maxpool(2)\n flatten\n linear(2)\n}\n", false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    pass_fuse(g);
    CU_ASSERT(find_op(g, "conv")->epi_pool >= 0);
    g = graph_of("model m {\n input [2, 8, 8]\n conv(2, 1)\n maxpool([3, 2], stride = 2)\n flatten\n linear(2)\n}\n",
                 false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    pass_fuse(g);
    CU_ASSERT(find_op(g, "conv")->epi_pool < 0); /* windows overlap vertically */
    CU_ASSERT(find_op(g, "maxpool")->fused_into < 0);
    /* a batchnorm folds into the conv at inference, never in training (batch statistics) */
    const char *bn = "model m {\n input [2, 8, 8]\n conv(2, 3)\n batchnorm\n relu\n flatten\n linear(2)\n}\n";
    g = graph_of(bn, false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    pass_fuse(g);
    CU_ASSERT(find_op(g, "conv")->epi_bn >= 0);
    g = graph_of(bn, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    pass_fuse(g);
    CU_ASSERT(find_op(g, "conv")->epi_bn < 0);
    CU_ASSERT(find_op(g, "batchnorm")->fused_into < 0);
    CU_ASSERT(find_op(g, "batchnorm")->epi_act >= 0); /* the batchnorm heads the relu instead */
    /* an activation whose gradient reads its input stays apart in training, fuses at inference */
    const char *ge = "model m {\n input [4]\n linear(4)\n gelu\n linear(2)\n}\n";
    g = graph_of(ge, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    pass_fuse(g);
    CU_ASSERT(find_op(g, "linear")->epi_act < 0);
    g = graph_of(ge, false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    pass_fuse(g);
    CU_ASSERT(find_op(g, "linear")->epi_act >= 0);
}

/* In training, a tiled max pool after a batchnorm (and a relu) fuses into the batchnorm, forward
 * and backward together; an overlapping pool, an activation whose gradient reads its input, or
 * an activation output that another op reads keeps them apart. */
static bool bn_pool_fused(const char *layers) {
    const char *text = arena_printf("model m {\n input [2, 9, 8]\n conv(3, 3, pad = 1)\n %s\n flatten\n linear(2)\n}\n", layers);
    Graph *g = graph_of(text, true);
    CU_ASSERT_PTR_NOT_NULL(g); /* a model that does not compile must not pass as unfused */
    if (!g || !pass_fuse(g))
        return false;
    const Op *bn = find_op(g, "batchnorm");
    int fb = (int)(bn - g->ops);
    if (bn->epi_pool < 0)
        return false;
    /* the pool is absorbed, the batchnorm writes its output, and the batchnorm's backward
     * absorbs the pool's and reads the pool's output gradient */
    const Op *pool = &g->ops[bn->epi_pool];
    CU_ASSERT(pool->kind == OP_MAXPOOL && pool->fused_into == fb && bn->writes == pool->out);
    int heads = 0;
    for (int i = g->nforward; i < g->nops; i++) {
        const Op *b = &g->ops[i];
        if (b->kind != OP_BACKWARD || b->fwd != fb)
            continue;
        heads++;
        CU_ASSERT(b->bwd_pool > 0 && g->ops[b->bwd_pool].fwd == bn->epi_pool && g->ops[b->bwd_pool].fused_into == i);
        CU_ASSERT(g->values[b->in[1]].shape.d[2] == g->values[pool->out].shape.d[2]);
    }
    CU_ASSERT(heads == 1);
    return true;
}

static void test_fusion_bn_pool(void) {
    CU_ASSERT(bn_pool_fused("batchnorm\n relu\n maxpool(2)"));
    CU_ASSERT(bn_pool_fused("batchnorm\n tanh\n maxpool([2, 4])"));
    CU_ASSERT(bn_pool_fused("batchnorm\n maxpool(2)"));
    CU_ASSERT(!bn_pool_fused("batchnorm\n relu\n maxpool(3, stride = 2)"));           /* windows overlap */
    CU_ASSERT(!bn_pool_fused("batchnorm\n relu\n maxpool(2, pad = 1)"));              /* padding */
    CU_ASSERT(!bn_pool_fused("batchnorm\n relu\n maxpool(5)"));                       /* 25 elements */
    CU_ASSERT(!bn_pool_fused("batchnorm\n leaky_relu\n maxpool(2)"));                 /* gradient reads x */
    CU_ASSERT(!bn_pool_fused("batchnorm\n relu\n avgpool(2)"));
    CU_ASSERT(!bn_pool_fused("batchnorm\n relu\n concat { branch { maxpool(2) } branch { avgpool(2) } }"));
    /* never at inference (the batchnorm folds into the conv there) */
    Graph *g = graph_of("model m {\n input [2, 9, 8]\n conv(3, 3, pad = 1)\n batchnorm\n relu\n maxpool(2)\n flatten\n linear(2)\n}\n", false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    pass_fuse(g);
    CU_ASSERT(find_op(g, "batchnorm")->epi_pool < 0);
}

void suite_ops(void) {
    CU_pSuite s = CU_add_suite("ops", NULL, NULL);
    CU_add_test(s, "every op kind has a complete OpInfo", test_every_op_complete);
    CU_add_test(s, "the argument-table checker catches bad tables", test_table_checker);
    CU_add_test(s, "every train callable has a consistent typed table", test_train_tables);
    CU_add_test(s, "every activation emits C and a twin", test_activations_emit);
    CU_add_test(s, "fusion absorbs only what it may", test_fusion_rules);
    CU_add_test(s, "a training batchnorm takes a tiled max pool, forward and backward", test_fusion_bn_pool);
}
