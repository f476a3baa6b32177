/* ir.c: building the graph, shape helpers, and the verifier that checks the invariants of
 * ir.h between passes. A failed verification is a compiler bug, reported as such. */
#include "ir.h"

#include <stdio.h>
#include <string.h>

#include "arena.h"

Graph *ir_new(const char *name, int batch) {
    Graph *g = arena_alloc(sizeof *g);
    g->name = name;
    g->batch = g->batch_all = batch;
    g->slices = 1;
    g->input = g->output = g->loss = -1;
    return g;
}

#define GROW(arr, n, cap)                                                                  \
    do {                                                                                   \
        if ((n) == (cap)) {                                                                \
            int nc = (cap) ? 2 * (cap) : 64;                                               \
            (arr) = arena_realloc((arr), sizeof(*(arr)) * (size_t)(cap),                   \
                                  sizeof(*(arr)) * (size_t)nc);                            \
            (cap) = nc;                                                                    \
        }                                                                                  \
    } while (0)

void ir_rebatch(Graph *g, int b) {
    for (int v = 0; v < g->nvalues; v++)
        if (g->values[v].shape.rank > 0)
            g->values[v].shape.d[0] = b;
    g->batch = b;
}

Graph *ir_clone(const Graph *g) {
    Graph *c = arena_alloc(sizeof *c);
    *c = *g;
    c->values = arena_alloc(sizeof(Value) * (size_t)(g->nvalues + 1));
    c->ops = arena_alloc(sizeof(Op) * (size_t)(g->nops + 1));
    c->params = arena_alloc(sizeof(ParamT) * (size_t)(g->nparams + 1));
    c->cap_values = g->nvalues + 1, c->cap_ops = g->nops + 1, c->cap_params = g->nparams + 1;
    if (g->nvalues)
        memcpy(c->values, g->values, sizeof(Value) * (size_t)g->nvalues);
    if (g->nparams)
        memcpy(c->params, g->params, sizeof(ParamT) * (size_t)g->nparams);
    for (int i = 0; i < g->nops; i++) {
        c->ops[i] = g->ops[i];
        c->ops[i].in = arena_alloc(sizeof(int) * (size_t)(g->ops[i].nin + 1));
        if (g->ops[i].nin)
            memcpy(c->ops[i].in, g->ops[i].in, sizeof(int) * (size_t)g->ops[i].nin);
    }
    return c;
}

int ir_add_value(Graph *g, Shape s) {
    GROW(g->values, g->nvalues, g->cap_values);
    g->values[g->nvalues].shape = s;
    g->values[g->nvalues].producer = -1;
    return g->nvalues++;
}

int ir_add_op(Graph *g, OpKind kind, const int *in, int nin, Shape out, Span span) {
    GROW(g->ops, g->nops, g->cap_ops);
    int id = g->nops++;
    Op *op = &g->ops[id];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->nin = nin;
    op->in = arena_alloc(sizeof(int) * (size_t)(nin ? nin : 1));
    if (nin)
        memcpy(op->in, in, sizeof(int) * (size_t)nin);
    op->span = span;
    op->where = "";
    for (int i = 0; i < 4; i++)
        op->param[i] = -1;
    op->fwd = -1;
    op->fused_into = op->epi_bn = op->epi_act = op->pro_norm = op->epi_pool = op->pro_conv = op->keeps = op->evens_out = op->evens_in = -1;
    if (out.rank < 0) { /* no output value */
        op->out = op->writes = -1;
        return id;
    }
    op->out = op->writes = ir_add_value(g, out);
    g->values[op->out].producer = id;
    return id;
}

int ir_pair_dy(const Graph *g, const Op *op) {
    if (op->bwd_pair <= 0)
        return -1;
    const Op *o = &g->ops[op->bwd_pair];
    return o->in[o->nin - 1];
}

int ir_evens_read(const Graph *g, const Op *op) {
    const Op *f = op->kind == OP_BACKWARD ? &g->ops[op->fwd] : op;
    return f->evens_in;
}

int ir_add_param(Graph *g, int op, ParamRole role, const char *name, Shape shape, bool trained) {
    GROW(g->params, g->nparams, g->cap_params);
    ParamT *p = &g->params[g->nparams];
    p->name = name;
    p->role = role;
    p->trained = trained;
    p->shape = shape;
    p->numel = 1;
    for (int i = 0; i < shape.rank; i++)
        p->numel *= shape.d[i];
    p->op = op;
    g->ops[op].param[role] = g->nparams;
    return g->nparams++;
}

bool ir_move_tail_before(Graph *g, int a, int b, int *v, int nv) {
    int n = g->nops - a, m = g->nops - b; /* ops moved: [a, nops); of them [b, nops) go first */
    if (a <= 0 || a >= b || b >= g->nops) /* op 0 is the input */
        return false;
    int va = g->ops[a].out;
    if (va < 0 || g->nvalues != va + n)
        return false;
    for (int i = a; i < g->nops; i++) {
        if (g->ops[i].out != va + (i - a))
            return false;
        for (int k = 0; k < g->ops[i].nin; k++)
            if (g->ops[i].in[k] >= va + (i - a))
                return false;
    }
    Op *ops = arena_alloc(sizeof(Op) * (size_t)n);
    Value *vals = arena_alloc(sizeof(Value) * (size_t)n);
    memcpy(ops, g->ops + a, sizeof(Op) * (size_t)n);
    memcpy(vals, g->values + va, sizeof(Value) * (size_t)n);
    /* the op at old index a + j goes to a + pos(j); its value va + j becomes va + pos(j) */
#define POS(j) ((j) < b - a ? (j) + m : (j) - (b - a))
#define NEWV(x) ((x) >= va ? va + POS((x) - va) : (x))
    for (int j = 0; j < n; j++) {
        Op o = ops[j];
        for (int k = 0; k < o.nin; k++)
            o.in[k] = NEWV(o.in[k]);
        o.out = o.writes = va + POS(j);
        g->ops[a + POS(j)] = o;
        g->values[va + POS(j)] = vals[j];
        g->values[va + POS(j)].producer = a + POS(j);
    }
    for (int p = 0; p < g->nparams; p++)
        if (g->params[p].op >= a)
            g->params[p].op = a + POS(g->params[p].op - a);
    for (int i = 0; i < nv; i++)
        v[i] = NEWV(v[i]);
#undef NEWV
#undef POS
    return true;
}

Shape shape4(int n, int c, int h, int w) { return (Shape){4, {n, c, h, w}}; }
Shape shape2(int n, int f) { return (Shape){2, {n, f, 0, 0}}; }

int64_t shape_numel(Shape s) {
    int64_t n = 1;
    for (int i = 0; i < s.rank; i++)
        n *= s.d[i];
    return n;
}

bool shape_eq(Shape a, Shape b) {
    if (a.rank != b.rank)
        return false;
    for (int i = 0; i < a.rank; i++)
        if (a.d[i] != b.d[i])
            return false;
    return true;
}

const char *shape_str(Shape s, bool skip_batch) {
    char buf[96];
    int n = snprintf(buf, sizeof buf, "[");
    for (int i = skip_batch ? 1 : 0; i < s.rank; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%d", i > (skip_batch ? 1 : 0) ? ", " : "", s.d[i]);
    snprintf(buf + n, sizeof buf - (size_t)n, "]");
    return arena_strdup(buf);
}

static const char *const op_names[OP_COUNT] = {
#define X(e, name) name,
#include "ops.def"
#undef X
};

const char *op_name(OpKind k) { return (unsigned)k < OP_COUNT ? op_names[k] : "?"; }

int64_t ir_param_count(const Graph *g, bool trained_only) {
    int64_t n = 0;
    for (int i = 0; i < g->nparams; i++)
        if (g->params[i].trained || !trained_only)
            n += g->params[i].numel;
    return n;
}

static bool fail(const char *what, int op) {
    fprintf(stderr, "cnnc: internal error: IR verification failed at op %%%d: %s\n", op, what);
    return false;
}

bool ir_verify(const Graph *g) {
    if (g->input < 0 || g->input >= g->nvalues || g->output < 0 || g->output >= g->nvalues)
        return fail("graph input or output is not a value", -1);
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        if ((unsigned)op->kind >= OP_COUNT)
            return fail("unknown op kind", i);
        for (int k = 0; k < op->nin; k++) {
            int v = op->in[k];
            if (v < 0 || v >= g->nvalues)
                return fail("input is not a value", i);
            if (g->values[v].producer < 0 || g->values[v].producer >= i)
                return fail("input read before it is defined", i);
        }
        if (op->kind == OP_BACKWARD && (op->fwd < 0 || op->fwd >= i || op->wrt < 0 || op->wrt >= g->ops[op->fwd].nin))
            return fail("backward op without a valid forward op", i);
        for (int r = 0; r < 4; r++) {
            int p = op->param[r];
            if (p >= 0 && (p >= g->nparams || g->params[p].op != i || g->params[p].role != (ParamRole)r))
                return fail("parameter table entry does not point back at its op", i);
        }
        if (op->out == -1 && op->kind == OP_BACKWARD)
            continue; /* writes parameter gradients only */
        if (op->out < 0 || op->out >= g->nvalues || g->values[op->out].producer != i)
            return fail("output value not defined by this op", i);
        const Shape *s = &g->values[op->out].shape;
        if (s->rank != 0 && s->rank != 2 && s->rank != 4)
            return fail("output rank is not 0, 2 or 4", i);
        if (s->rank && s->d[0] != g->batch)
            return fail("first dimension is not the batch", i);
        for (int d = 0; d < s->rank; d++)
            if (s->d[d] <= 0)
                return fail("non-positive dimension", i);
    }
    for (int v = 0; v < g->nvalues; v++)
        if (g->values[v].producer < 0)
            return fail("value without a producer", -1);
    return true;
}
