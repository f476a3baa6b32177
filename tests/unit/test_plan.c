/* test_plan.c: the memory plan on a few hundred random graphs (seeded): the verifier must
 * accept every plan, with and without fusion and in-place ops, forward and training; the
 * arena must lie between peak-live and naive; and the verifier must reject plans that are
 * deliberately broken (two live buffers moved onto each other). */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "ops.h"
#include "passes.h"
#include "plan.h"

static unsigned long long rng_state;
static int rnd(int n) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (int)((rng_state >> 33) % (unsigned long long)n);
}

/* A random graph of image ops: convs, activations, batchnorms, pools, adds of equal shapes and
 * concats of equal sizes, ending in flatten + linear so that training has a loss. */
static Graph *random_graph(int nops) {
    Graph *g = ir_new("rand", 1 + rnd(3));
    Span sp = span_none();
    int x = ir_add_op(g, OP_INPUT, NULL, 0, shape4(g->batch, 1 + rnd(4), 8, 8), sp);
    g->input = g->ops[x].out;
    int nconv = 0, nbn = 0;
    for (int k = 0; k < nops; k++) {
        int v = g->ops[rnd(g->nops)].out; /* any earlier value */
        if (g->values[v].shape.rank != 4)
            continue;
        int choice = rnd(7), id;
        if (choice == 0 || choice == 1) {
            id = ir_add_op(g, OP_CONV, &v, 1, (Shape){0}, sp);
            Op *op = &g->ops[id];
            op->a = (Attrs){.out = 1 + rnd(6), .kh = 1 + 2 * rnd(2), .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 1,
                            .bias = rnd(2)};
            op->a.kw = op->a.kh;
            op->a.ph = op->a.pw = op->a.ph_end = op->a.pw_end = op->a.kh / 2;
            op->pname = arena_printf("conv%d", nconv++);
        } else if (choice == 2) {
            static const OpKind acts[] = {OP_RELU, OP_TANH, OP_SIGMOID, OP_IDENTITY};
            id = ir_add_op(g, acts[rnd(4)], &v, 1, (Shape){0}, sp);
        } else if (choice == 3) {
            id = ir_add_op(g, OP_BATCHNORM, &v, 1, (Shape){0}, sp);
            g->ops[id].a.eps = 1e-5;
            g->ops[id].pname = arena_printf("bn%d", nbn++);
        } else if (choice == 4) {
            int same[64], n = 0;
            for (int u = 0; u < g->nvalues && n < 64; u++)
                if (u != v && shape_eq(g->values[u].shape, g->values[v].shape))
                    same[n++] = u;
            if (!n)
                continue;
            int in[2] = {v, same[rnd(n)]};
            id = ir_add_op(g, OP_ADD, in, 2, (Shape){0}, sp);
        } else if (choice == 5) {
            int in[2] = {v, g->ops[rnd(g->nops)].out};
            if (g->values[in[1]].shape.rank != 4)
                continue;
            id = ir_add_op(g, OP_CONCAT, in, 2, (Shape){0}, sp);
        } else {
            id = ir_add_op(g, OP_MAXPOOL, &v, 1, (Shape){0}, sp);
            g->ops[id].a = (Attrs){.kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .ph_end = 1, .pw_end = 1};
        }
        Op *op = &g->ops[id];
        CU_ASSERT_FATAL(op_info(op->kind)->infer(g, op));
        if (op_info(op->kind)->add_params)
            op_info(op->kind)->add_params(g, id);
    }
    int last = g->ops[g->nops - 1].out;
    int f = ir_add_op(g, OP_FLATTEN, &last, 1, (Shape){0}, sp);
    op_info(OP_FLATTEN)->infer(g, &g->ops[f]);
    int fv = g->ops[f].out;
    int l = ir_add_op(g, OP_LINEAR, &fv, 1, (Shape){0}, sp);
    g->ops[l].a = (Attrs){.out = 3, .bias = true};
    g->ops[l].pname = "linear0";
    op_info(OP_LINEAR)->infer(g, &g->ops[l]);
    op_info(OP_LINEAR)->add_params(g, l);
    g->output = g->ops[l].out;
    return g;
}

static void test_random_plans(void) {
    int checked = 0, streamed = 0;
    for (int seed = 1; seed <= 400; seed++) {
        rng_state = (unsigned long long)seed;
        int mode = seed % 4; /* forward or training, with or without fusion */
        Graph *g = random_graph(4 + rnd(24));
        CU_ASSERT_FATAL(ir_verify(g));
        if (mode & 1)
            pass_autodiff(g);
        if (mode & 2)
            pass_fuse(g);
        CU_ASSERT_FATAL(ir_verify(g));
        Plan *p = pass_plan(g, (mode & 2) != 0);
        CU_ASSERT(plan_verify(g, p));
        CU_ASSERT(p->arena_floats >= p->peak_floats);
        CU_ASSERT(p->arena_floats <= p->naive_floats);
        for (int i = 0; i < g->nops; i++)
            streamed += g->ops[i].pro_conv >= 0; /* batch-1 inference: a conv streamed into the next */
        checked++;
    }
    CU_ASSERT_EQUAL(checked, 400);
    CU_ASSERT(streamed > 0);
}

/* Moving one buffer onto another that is live at the same time must be caught. */
static void test_verifier_rejects_overlap(void) {
    int caught = 0, tried = 0;
    FILE *saved = stderr;
    for (int seed = 1; seed <= 100; seed++) {
        rng_state = (unsigned long long)seed * 7919;
        Graph *g = random_graph(10);
        if (seed & 1)
            pass_autodiff(g);
        Plan *p = pass_plan(g, false);
        int u = -1, v = -1;
        for (int a = 0; a < g->nvalues && u < 0; a++)
            for (int b = a + 1; b < g->nvalues; b++)
                if (a != g->input && b != g->input && p->value_floats[a] && p->value_floats[b] &&
                    p->first[a] <= p->last[b] && p->first[b] <= p->last[a] && p->first[b] > p->first[a]) {
                    u = a, v = b;
                    break;
                }
        if (u < 0)
            continue;
        tried++;
        p->value_offset[v] = p->value_offset[u];
        stderr = fopen("/dev/null", "w");
        caught += !plan_verify(g, p);
        fclose(stderr);
        stderr = saved;
    }
    CU_ASSERT(tried > 50);
    CU_ASSERT_EQUAL(caught, tried);
}

/* A hand-made chain whose sizes are known: conv -> relu (in place) -> conv. */
static void test_inplace_chain(void) {
    Graph *g = ir_new("chain", 2);
    Span sp = span_none();
    int x = ir_add_op(g, OP_INPUT, NULL, 0, shape4(2, 1, 4, 8), sp); /* 8 columns: no scratch */
    g->input = g->ops[x].out;
    int v = g->input;
    for (int k = 0; k < 3; k++) {
        OpKind kind = k == 1 ? OP_RELU : OP_CONV;
        int id = ir_add_op(g, kind, &v, 1, (Shape){0}, sp);
        if (kind == OP_CONV) {
            g->ops[id].a = (Attrs){.out = 2, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 1};
            g->ops[id].pname = k ? "conv1" : "conv0";
        }
        op_info(kind)->infer(g, &g->ops[id]);
        if (op_info(kind)->add_params)
            op_info(kind)->add_params(g, id);
        v = g->ops[id].out;
    }
    g->output = v;
    Plan *p = pass_plan(g, true);
    CU_ASSERT(plan_verify(g, p));
    CU_ASSERT_EQUAL(p->ninplace, 1);
    CU_ASSERT_EQUAL(p->value_offset[1], p->value_offset[2]); /* relu over the first conv's output */
    CU_ASSERT_EQUAL(p->arena_floats, 2 * 128);                /* two buffers of 2x2x4x8 = 128 floats */
    Plan *q = pass_plan(g, false);
    CU_ASSERT_EQUAL(q->ninplace, 0);
    CU_ASSERT_EQUAL(q->arena_floats, 2 * 128);                /* three buffers, two live at once */
    CU_ASSERT_EQUAL(q->naive_floats, 3 * 128);
}

void suite_plan(void) {
    CU_pSuite s = CU_add_suite("plan", NULL, NULL);
    CU_add_test(s, "random graphs plan and verify", test_random_plans);
    CU_add_test(s, "verifier rejects overlapping live buffers", test_verifier_rejects_overlap);
    CU_add_test(s, "in-place chain", test_inplace_chain);
}
