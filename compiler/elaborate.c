/* elaborate.c: expands blocks, parameters, repeat, if, residual/add/concat of the syntax tree
 * into one flat graph, checking shapes as it goes (the language's `in.c` needs the shape of a
 * statement's input while expanding, so each op's shape rule runs as the op is added; the
 * shape pass later re-checks the finished graph).
 * Naming (docs/language.md, Naming): each body (the model, or one block instance) numbers the layers
 * that own parameters per kind in textual order after expansion (conv0, conv1, linear0, bn0)
 * and block instances per block name (basic0, basic1); a label replaces the generated
 * component and takes no number; branches, shortcuts, repeat and if add no level.
 * Errors: each is reported where it arises; a failed statement "poisons" the tensor that flows
 * on, so later statements are still checked for names and arguments but not for shapes, and
 * one mistake gives one message. */
#include "elaborate.h"

#include <limits.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "ops.h"
#include "train_config.h"
#include "value.h"

enum {
    MAX_DEPTH = 64,          /* nested block instances */
    MAX_OPS = 2000,          /* ops in one graph (docs/language.md, Limits) */
    MAX_REPEAT = 10000,
    MAX_STEPS = 1000000,     /* statements elaborated, over all call paths and repeats */
    POISON = -1,             /* the tensor after a failed statement */
};

typedef struct Counter {
    const char *name;
    int count;
    struct Counter *next;
} Counter;

typedef struct Scope {       /* one naming body: the model or one block instance */
    const char *prefix;      /* "" or "stage1.basic0." */
    Counter *counters;
    Counter *used;           /* components given out, to catch duplicate labels */
} Scope;

typedef struct Env {         /* parameter bindings of one body */
    const char **names;
    Val *vals;
    int n;
} Env;

typedef struct Elab {
    Program *prog;
    Graph *g;
    int depth;
    const Item *stack[MAX_DEPTH];   /* the block instances being elaborated, outermost first */
    long long steps;         /* statements elaborated so far (MAX_STEPS) */
    bool too_big;
} Elab;

static int elab_body(Elab *E, const Body *b, Env *env, Scope *sc, int x, bool tail);

/* ---------- small helpers ---------- */

static Span span_prefix(Span s, int len) {
    s.end_line = s.line;
    s.end_col = s.col + len;
    return s;
}

/* The source text a span covers (first line only). */
static const char *span_text(Span s) {
    const char *t = diag_text(s.file);
    if (!t)
        return "";
    int line = 1;
    while (*t && line < s.line)
        if (*t++ == '\n')
            line++;
    const char *start = t + s.col - 1;
    int len = (s.end_line == s.line ? s.end_col : INT_MAX) - s.col;
    int n = 0;
    while (n < len && start[n] && start[n] != '\n')
        n++;
    return arena_strndup(start, (size_t)n);
}

static Counter *counter_find(Counter *c, const char *name) {
    for (; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static int counter_next(Counter **list, const char *name) {
    Counter *c = counter_find(*list, name);
    if (!c) {
        c = arena_alloc(sizeof *c);
        c->name = name;
        c->next = *list;
        *list = c;
    }
    return c->count++;
}

/* The component name for a layer or block instance in this scope, or NULL on a duplicate. */
static const char *component(Scope *sc, const char *label, Span label_span, Span name_span, const char *kind) {
    const char *name = label ? label : arena_printf("%s%d", kind, counter_next(&sc->counters, kind));
    if (counter_find(sc->used, name)) {
        diag_error(label ? label_span : name_span, "the name '%s' is already used in this %s", name,
                   *sc->prefix ? "block" : "model");
        return NULL;
    }
    counter_next(&sc->used, name);
    return arena_printf("%s%s", sc->prefix, name);
}

static Shape value_shape(Elab *E, int x) { return E->g->values[x].shape; }

/* ---------- expressions ---------- */

static Val none_val(Span s) { return value_none(s); }

static bool env_lookup(const Env *env, const char *name, Val *out) {
    for (int i = env->n - 1; i >= 0; i--)
        if (strcmp(env->names[i], name) == 0) {
            *out = env->vals[i];
            return true;
        }
    return false;
}

static Val eval(Elab *E, const Expr *e, const Env *env, int x);

static Val eval_field(Elab *E, const Expr *e, int x) {
    if (x == POISON)
        return none_val(e->span);
    Shape s = value_shape(E, x);
    Val r = {.kind = V_INT, .span = e->span};
    const char *f = e->name;
    if (!strcmp(f, "c") || !strcmp(f, "h") || !strcmp(f, "w")) {
        if (s.rank != 4) {
            diag_error(e->span, "in.%s: the input is the flat tensor %s; use in.features", f, shape_str(s, true));
            return none_val(e->span);
        }
        r.i = s.d[f[0] == 'c' ? 1 : f[0] == 'h' ? 2 : 3];
        return r;
    }
    if (!strcmp(f, "features")) {
        if (s.rank != 2) {
            diag_error(e->span, "in.features: the input is the image tensor %s; use in.c, in.h or in.w",
                       shape_str(s, true));
            return none_val(e->span);
        }
        r.i = s.d[1];
        return r;
    }
    static const char *const fields[] = {"c", "h", "w", "features"};
    diag_error(e->span, "unknown shape field 'in.%s'; the fields are in.c, in.h, in.w and in.features", f);
    const char *near = diag_closest(f, fields, 4);
    if (near)
        diag_note(e->span, "did you mean 'in.%s'?", near);
    return none_val(e->span);
}

static Val eval(Elab *E, const Expr *e, const Env *env, int x) {
    Val r = {.span = e->span};
    switch (e->kind) {
    case EX_INT: r.kind = V_INT; r.i = e->ival; return r;
    case EX_FLOAT: r.kind = V_FLOAT; r.f = e->fval; return r;
    case EX_BOOL: r.kind = V_BOOL; r.i = e->ival != 0; return r;
    case EX_STRING:
        diag_error(e->span, "a string is only allowed after `import`");
        return none_val(e->span);
    case EX_CALL:
        diag_error(e->span, "'%s(...)' is not a value here; calls are only allowed in train settings", e->name);
        return none_val(e->span);
    case EX_NAME: {
        if (env_lookup(env, e->name, &r)) {
            r.span = e->span;
            return r;
        }
        if (!strcmp(e->name, "same")) {
            r.kind = V_WORD;
            r.word = "same";
            return r;
        }
        diag_error(e->span, "unknown name '%s'", e->name);
        const char *near = diag_closest(e->name, env->names, env->n);
        if (near)
            diag_note(e->span, "did you mean '%s'?", near);
        return none_val(e->span);
    }
    case EX_FIELD: return eval_field(E, e, x);
    case EX_LIST:
        r.kind = V_LIST;
        r.n = e->nitems;
        r.items = arena_alloc(sizeof(Val) * (size_t)(e->nitems ? e->nitems : 1));
        for (int i = 0; i < e->nitems; i++) {
            r.items[i] = eval(E, e->items[i], env, x);
            if (r.items[i].kind == V_NONE)
                return none_val(e->span);
        }
        return r;
    case EX_UNARY: return value_unary(e, eval(E, e->lhs, env, x));
    case EX_BINARY: {
        Val a = eval(E, e->lhs, env, x), b = eval(E, e->rhs, env, x);
        return value_binary(e, a, b);
    }
    }
    return none_val(e->span);
}

/* ---------- argument binding ---------- */

/* Layers, blocks and train settings share one binder (args.h); an init argument is bound by
 * the train section's init table (train_config.h), with values evaluated here. */
typedef struct EvalCtx {
    Elab *E;
    const Env *env;
    int x;
} EvalCtx;

static Val eval_thunk(void *ctx, const Expr *e) {
    EvalCtx *c = ctx;
    return eval(c->E, e, c->env, c->x);
}

/* ---------- statements ---------- */

static int add_op(Elab *E, OpKind kind, const int *in, int nin, Span span, const char *where) {
    if (E->g->nops >= MAX_OPS) {
        if (!E->too_big)
            diag_error(span, "the network has more than %d ops; is a repeat count too large?", MAX_OPS);
        E->too_big = true;
        return -1;
    }
    int id = ir_add_op(E->g, kind, in, nin, (Shape){0}, span);
    E->g->ops[id].where = where;
    return id;
}

static bool check_size(Elab *E, int x, Span span) {
    Shape s = value_shape(E, x);
    double n = 1;
    for (int i = 0; i < s.rank; i++)
        n *= s.d[i];
    if (n > (double)INT_MAX) {
        diag_error(span, "the tensor %s at batch %d has 2^31 or more elements (the limit is 2^31 - 1)", shape_str(s, true), E->g->batch);
        return false;
    }
    return true;
}

static int apply_layer(Elab *E, const Stmt *st, const OpInfo *info, Env *env, Scope *sc, int x, bool tail) {
    int nargs = args_count(info->args);
    const Arg **slots = arena_alloc(sizeof(Arg *) * (size_t)(nargs ? nargs : 1));
    bool ok = args_bind(info->name, info->name, st->name_span, info->args, &st->args, slots);
    Val *vals = arena_alloc(sizeof(Val) * (size_t)(nargs ? nargs : 1));
    for (int i = 0; i < nargs; i++) {
        const ArgSpec *a = &info->args[i];
        vals[i] = arg_default(info, i, st->name_span);
        if (!ok || !slots[i])
            continue;
        const Expr *ex = slots[i]->value;
        const char *subject = arena_printf("%s: argument '%s'", info->name, a->name);
        Val bound;
        if (a->kind == AK_INIT) {
            EvalCtx c = {E, env, x};
            const char *text = train_init_bind(ex, subject, eval_thunk, &c);
            vals[i] = text ? (Val){.kind = V_WORD, .word = text, .span = ex->span} : none_val(ex->span);
        } else if (ex->kind == EX_NAME && a->words && !env_lookup(env, ex->name, &bound) &&
                   (a->kind == AK_WORD || args_word_listed(a->words, ex->name))) {
            if (args_word_listed(a->words, ex->name))
                vals[i] = (Val){.kind = V_WORD, .word = ex->name, .span = ex->span};
            else {
                char *list = arena_strdup(a->words);
                const char *w[16];
                int nw = 0;
                for (char *p = list; p && nw < 16; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL)
                    w[nw++] = p;
                for (char *p = list; *p; p++)
                    if (*p == '|')
                        *p = 0;
                const char *shown = w[0];
                for (int k = 1; k < nw; k++)
                    shown = arena_printf("%s%s%s", shown, k == nw - 1 ? " or " : ", ", w[k]);
                diag_error(ex->span, "%s: argument '%s' takes %s, got unknown name '%s'", info->name, a->name, shown,
                           ex->name);
                const char *near = diag_closest(ex->name, w, nw);
                if (near)
                    diag_note(ex->span, "did you mean '%s'?", near);
                vals[i] = none_val(ex->span);
            }
        } else {
            vals[i] = eval(E, ex, env, x);
            if (vals[i].kind != V_NONE && !args_check(a, &vals[i], subject, true))
                vals[i] = none_val(ex->span);
        }
        ok &= vals[i].kind != V_NONE;
    }
    if (!strcmp(info->name, "softmax") && !tail) {
        diag_error(st->name_span, "softmax may only be the last statement of a model");
        ok = false;
    }
    if (!ok || x == POISON || E->too_big)
        return POISON;
    OpKind kind = OP_IDENTITY;
    for (int k = 0; k < OP_COUNT; k++)
        if (op_infos[k] == info)
            kind = (OpKind)k;
    int id = add_op(E, kind, &x, 1, st->name_span, sc->prefix);
    if (id < 0)
        return POISON;
    Op *op = &E->g->ops[id];
    if (!info->set_attrs(E->g, op, vals) || !info->infer(E->g, op))
        return POISON;
    if (info->add_params) {
        const char *name = component(sc, st->label, st->label_span, st->name_span, info->param_kind);
        if (!name)
            return POISON;
        E->g->ops[id].pname = name;
        info->add_params(E->g, id);
    }
    if (kind == OP_SOFTMAX)
        E->g->ends_in_softmax = true;
    int y = E->g->ops[id].out;
    return check_size(E, y, st->name_span) ? y : POISON;
}

static const Item *find_block(Program *p, const char *name) {
    for (int i = 0; i < p->nblocks; i++)
        if (!strcmp(p->blocks[i]->name, name))
            return p->blocks[i];
    return NULL;
}

static int apply_block(Elab *E, const Stmt *st, const Item *blk, Env *env, Scope *sc, int x, bool tail) {
    int n = blk->params.n;
    const char **names = arena_alloc(sizeof(char *) * (size_t)(n + 1));
    ArgSpec *spec = arena_alloc(sizeof(ArgSpec) * (size_t)(n + 1));
    for (int i = 0; i < n; i++) {
        names[i] = blk->params.items[i].name;
        spec[i] = (ArgSpec){names[i], blk->params.items[i].def ? span_text(blk->params.items[i].def->span) : NULL,
                            AK_ANY, RANGE_ANY, NULL, 0};
    }
    spec[n] = (ArgSpec)ARG_END;
    const char *what = arena_printf("block %s", blk->name);
    const Arg **slots = arena_alloc(sizeof(Arg *) * (size_t)(n + 1));
    if (!args_bind(what, what, st->name_span, spec, &st->args, slots))
        return POISON;
    /* Arguments are evaluated in the caller's environment; defaults in the block's own,
     * where earlier parameters are visible. */
    Env inner = {arena_alloc(sizeof(char *) * (size_t)(n + 1)), arena_alloc(sizeof(Val) * (size_t)(n + 1)), 0};
    const char *shown = "";
    bool ok = true;
    for (int i = 0; i < n; i++) {
        Val v;
        if (slots[i]) {
            v = eval(E, slots[i]->value, env, x);
            const char *text = val_str(&v);
            if (slots[i]->name)
                shown = arena_printf("%s%s%s = %s", shown, *shown ? ", " : "", names[i], text);
            else
                shown = arena_printf("%s%s%s", shown, *shown ? ", " : "", text);
        } else {
            diag_push_context(st->name_span, arena_printf("the default of parameter '%s' of block %s", names[i], blk->name));
            v = eval(E, blk->params.items[i].def, &inner, x);
            diag_pop_context();
        }
        ok &= v.kind != V_NONE;
        inner.names[inner.n] = names[i];
        inner.vals[inner.n++] = v;
    }
    if (!ok)
        return POISON;
    if (E->depth >= MAX_DEPTH) {
        int self = 0;
        for (int i = 0; i < E->depth; i++)
            self += E->stack[i] == blk;
        if (self)
            diag_error(st->name_span, "blocks nested more than %d deep: block %s calls itself (%d instances open); does its "
                       "recursion end?", MAX_DEPTH, blk->name, self);
        else
            diag_error(st->name_span, "blocks nested more than %d deep: a chain of blocks calling blocks reaches block %s "
                       "at depth %d (the limit is %d)", MAX_DEPTH, blk->name, E->depth + 1, MAX_DEPTH);
        return POISON;
    }
    const char *prefix = component(sc, st->label, st->label_span, st->name_span, blk->name);
    if (!prefix)
        return POISON;
    Scope inner_scope = {arena_printf("%s.", prefix), NULL, NULL};
    diag_push_context(st->name_span, arena_printf("block %s(%s)", blk->name, shown));
    E->stack[E->depth++] = blk;
    int y = elab_body(E, &blk->body, &inner, &inner_scope, x, tail);
    E->depth--;
    diag_pop_context();
    return y;
}

static int apply(Elab *E, const Stmt *st, Env *env, Scope *sc, int x, bool tail) {
    if (diag_error_count() > DIAG_MAX_ERRORS)
        return POISON;   /* "too many errors, stopping" was printed: stop expanding too */
    const Item *blk = find_block(E->prog, st->name);
    if (blk)
        return apply_block(E, st, blk, env, sc, x, tail);
    const OpInfo *info = op_find_layer(st->name);
    if (info)
        return apply_layer(E, st, info, env, sc, x, tail);
    diag_error(st->name_span, "unknown layer or block '%s'", st->name);
    const char *cands[128];
    int nc = op_layer_names(cands, 64);
    for (int i = 0; i < E->prog->nblocks && nc < 128; i++)
        cands[nc++] = E->prog->blocks[i]->name;
    const char *near = diag_closest(st->name, cands, nc);
    if (near)
        diag_note(st->name_span, "did you mean '%s'?", near);
    return POISON;
}

/* mul: equal shapes, or one of them [C, 1, 1] against [C, H, W] (broadcast over H and W). */
static bool mul_shapes_ok(Shape a, Shape b) {
    if (shape_eq(a, b))
        return true;
    if (a.rank != 4 || b.rank != 4 || a.d[0] != b.d[0] || a.d[1] != b.d[1])
        return false;
    return (a.d[2] == 1 && a.d[3] == 1) || (b.d[2] == 1 && b.d[3] == 1);
}

/* Joins branch results: add (and residual) and average need equal shapes; concat equal H and W; mul
 * equal shapes or a [C, 1, 1] branch against a [C, H, W] one. */
static int merge(Elab *E, const Stmt *st, OpKind kind, const char *what, const int *ys, const char *const *labels,
                 int n) {
    for (int i = 0; i < n; i++)
        if (ys[i] == POISON)
            return POISON;
    Span kw = span_prefix(st->span, (int)strlen(what));
    Shape s0 = value_shape(E, ys[0]);
    for (int i = 1; i < n; i++) {
        Shape si = value_shape(E, ys[i]);
        bool bad = kind == OP_ADD || kind == OP_AVERAGE ? !shape_eq(si, s0)
                   : kind == OP_MUL ? !mul_shapes_ok(s0, si)
                                    : si.rank != s0.rank || (s0.rank == 4 && (si.d[2] != s0.d[2] || si.d[3] != s0.d[3]));
        if (bad) {
            diag_error(kw, "%s: %s gives %s, %s gives %s", what, labels[i], shape_str(si, true), labels[0],
                       shape_str(s0, true));
            return POISON;
        }
    }
    int id = add_op(E, kind, ys, n, kw, "");
    if (id < 0 || !op_info(kind)->infer(E->g, &E->g->ops[id]))
        return POISON;
    return E->g->ops[id].out;
}

static int elab_stmt(Elab *E, const Stmt *st, Env *env, Scope *sc, int x, bool tail) {
    if (E->too_big)
        return POISON;
    if (++E->steps > MAX_STEPS) {
        /* The op limit alone does not bound the work: a block calling itself twice expands
         * 2^depth statements that add no op. */
        diag_error(st->span, "elaboration stopped after %d statements (the limit): blocks calling blocks expand too "
                   "much; does a block call itself more than once?", MAX_STEPS);
        E->too_big = true;
        return POISON;
    }
    switch (st->kind) {
    case ST_INPUT:
        diag_error(span_prefix(st->span, 5), "`input` may only be the first statement of a model");
        return POISON;
    case ST_APPLY: return apply(E, st, env, sc, x, tail);
    case ST_REPEAT: {
        Val n = eval(E, st->count, env, x);
        if (n.kind == V_NONE)
            return POISON;
        if (n.kind != V_INT || n.i < 0 || n.i > MAX_REPEAT) {
            diag_error(st->count->span, "repeat count must be an integer from 0 to %d, got %s", MAX_REPEAT, val_str(&n));
            return POISON;
        }
        for (long long i = 0; i < n.i && !E->too_big; i++) {
            if (++E->steps > MAX_STEPS) { /* empty bodies count too: repeat 100000 { repeat 100000 { } } */
                diag_error(st->span, "elaboration stopped after %d statements (the limit): nested repeats expand too much",
                           MAX_STEPS);
                E->too_big = true;
                return POISON;
            }
            x = elab_body(E, &st->body, env, sc, x, tail && i == n.i - 1);
            if (x == POISON) /* errors in one iteration repeat in every one */
                return POISON;
        }
        return x;
    }
    case ST_IF: {
        Val c = eval(E, st->cond, env, x);
        if (c.kind == V_NONE)
            return POISON;
        if (c.kind != V_BOOL) {
            diag_error(st->cond->span, "an `if` condition must be true or false, got %s", val_kind_name(c.kind));
            return POISON;
        }
        if (c.i)
            return elab_body(E, &st->body, env, sc, x, tail);
        return st->else_body ? elab_body(E, st->else_body, env, sc, x, tail) : x;
    }
    case ST_RESIDUAL: {
        int ys[2];
        int a = E->g->nops;
        ys[0] = elab_body(E, &st->body, env, sc, x, false);
        int b = E->g->nops;
        ys[1] = st->shortcut ? elab_body(E, st->shortcut, env, sc, x, false) : x;
        /* The shortcut's ops run first when its output is no larger than the block's input
         * (a downsampling shortcut): it then reads the input while the op before has just
         * written it (ResNet-18's 1x1 stride-2 shortcuts at batch 8, one thread: forward 46-62%
         * -> 51-71% of peak), and in inference the input is dead after the body's first op
         * instead of living through the body. Names and the parameter table keep the textual
         * order (body first), as the checkpoint does. (ir_move_tail_before declines when
         * either side has no ops.) */
        if (x >= 0 && ys[0] >= 0 && ys[1] >= 0 && !E->too_big &&
            shape_numel(value_shape(E, ys[1])) <= shape_numel(value_shape(E, x)))
            ir_move_tail_before(E->g, a, b, ys, 2);
        const char *labels[2] = {"body", "shortcut"};
        return merge(E, st, OP_ADD, "residual", ys, labels, 2);
    }
    case ST_ADD:
    case ST_CONCAT:
    case ST_MUL:
    case ST_AVERAGE: {
        const char *what = st->kind == ST_ADD       ? "add"
                           : st->kind == ST_MUL     ? "mul"
                           : st->kind == ST_AVERAGE ? "average"
                                                    : "concat";
        if (st->kind == ST_MUL && st->nbranches != 2) {
            diag_error(span_prefix(st->span, 3), "mul needs exactly 2 branches, got %d", st->nbranches);
            return POISON;
        }
        if (st->nbranches < 2) {
            diag_error(span_prefix(st->span, (int)strlen(what)), "%s needs at least 2 branches, got %d", what,
                       st->nbranches);
            return POISON;
        }
        int *ys = arena_alloc(sizeof(int) * (size_t)st->nbranches);
        const char **labels = arena_alloc(sizeof(char *) * (size_t)st->nbranches);
        for (int i = 0; i < st->nbranches; i++) {
            ys[i] = elab_body(E, &st->branches[i], env, sc, x, false);
            labels[i] = arena_printf("branch %d", i + 1);
        }
        OpKind kind = st->kind == ST_ADD       ? OP_ADD
                      : st->kind == ST_MUL     ? OP_MUL
                      : st->kind == ST_AVERAGE ? OP_AVERAGE
                                               : OP_CONCAT;
        return merge(E, st, kind, what, ys, labels, st->nbranches);
    }
    }
    return POISON;
}

static int elab_body(Elab *E, const Body *b, Env *env, Scope *sc, int x, bool tail) {
    for (int i = 0; i < b->n; i++) {
        int y = elab_stmt(E, b->items[i], env, sc, x, tail && i == b->n - 1);
        x = y;
    }
    return x;
}

/* ---------- models, defines, train section ---------- */

/* Parses the value of -D name=VALUE: an integer, a number, true/false, or a list of these. */
static bool parse_define(const char *s, Val *out) {
    while (*s == ' ')
        s++;
    if (*s == '[') {
        VEC(Val) items = {0};
        s++;
        while (*s == ' ')
            s++;
        if (*s != ']') {
            for (;;) {
                const char *end = s;
                int depth = 0;
                while (*end && !(depth == 0 && (*end == ',' || *end == ']'))) {
                    depth += *end == '[' ? 1 : *end == ']' ? -1 : 0;
                    end++;
                }
                if (!*end)
                    return false;
                Val v;
                if (!parse_define(arena_strndup(s, (size_t)(end - s)), &v))
                    return false;
                VEC_PUSH(items, v);
                s = end + 1;
                if (*end == ']')
                    break;
            }
        } else {
            s++;
        }
        while (*s == ' ')
            s++;
        if (*s)
            return false;
        *out = (Val){.kind = V_LIST, .items = items.items, .n = items.n, .span = span_none()};
        return true;
    }
    char *end;
    size_t len = strlen(s);
    while (len && s[len - 1] == ' ')
        len--;
    const char *t = arena_strndup(s, len);
    *out = (Val){.span = span_none()};
    if (!strcmp(t, "true") || !strcmp(t, "false")) {
        out->kind = V_BOOL;
        out->i = t[0] == 't';
        return true;
    }
    long long i = strtoll(t, &end, 10);
    if (*t && !*end && i != LLONG_MAX && i != LLONG_MIN) {
        out->kind = V_INT;
        out->i = i;
        return true;
    }
    double f = strtod(t, &end);
    if (*t && !*end && isfinite(f)) {
        out->kind = V_FLOAT;
        out->f = f;
        return true;
    }
    return false;
}

static const Item *choose_model(Program *p, const char *name) {
    if (name) {
        for (int i = 0; i < p->nmodels; i++)
            if (!strcmp(p->models[i]->name, name))
                return p->models[i];
        const char **names = arena_alloc(sizeof(char *) * (size_t)(p->nmodels + 1));
        const char *list = "";
        for (int i = 0; i < p->nmodels; i++) {
            names[i] = p->models[i]->name;
            list = arena_printf("%s%s%s", list, i ? ", " : "", names[i]);
        }
        diag_error(span_none(), "no model named '%s'; the file has: %s", name, *list ? list : "no model");
        return NULL;
    }
    if (p->nmodels == 1)
        return p->models[0];
    if (p->nmodels == 0) {
        diag_error(span_none(), "the file defines no model");
        return NULL;
    }
    const char *list = "";
    for (int i = 0; i < p->nmodels; i++)
        list = arena_printf("%s%s%s", list, i ? ", " : "", p->models[i]->name);
    diag_error(span_none(), "the file defines %d models (%s); choose one with --model NAME", p->nmodels, list);
    return NULL;
}

static bool model_param_lookup(void *ctx, const char *name, Val *out) { return env_lookup(ctx, name, out); }

static const Item *find_train(Program *p, const Item *model) {
    const Item *named = NULL, *unnamed = NULL;
    for (int i = 0; i < p->ntrains; i++) {
        const Item *t = p->trains[i];
        if (!t->name) {
            if (unnamed) {
                diag_error(t->span, "a second `train` section without a model name");
                diag_note(unnamed->span, "the first one is here");
            }
            unnamed = t;
            continue;
        }
        bool known = false;
        for (int m = 0; m < p->nmodels; m++)
            known |= !strcmp(p->models[m]->name, t->name);
        if (!known)
            diag_error(t->name_span, "train section for '%s', but the file has no model of that name", t->name);
        if (!strcmp(t->name, model->name)) {
            if (named) {
                diag_error(t->span, "a second `train` section for model '%s'", t->name);
                diag_note(named->span, "the first one is here");
            }
            named = t;
        }
    }
    return named ? named : unnamed;
}

static void check_block_names(Program *p) {
    for (int i = 0; i < p->nblocks; i++)
        if (op_find_layer(p->blocks[i]->name))
            diag_error(p->blocks[i]->name_span, "block '%s' has the name of a layer; choose another name",
                       p->blocks[i]->name);
}

static int elab_input(Elab *E, const Stmt *st, Env *env) {
    Val d = eval(E, st->dims, env, POISON);
    if (d.kind == V_NONE)
        return POISON;
    if (d.kind != V_LIST || (d.n != 3 && d.n != 1)) {
        diag_error(st->dims->span, "input takes [C, H, W] for images or [F] for flat features, got %s", val_str(&d));
        return POISON;
    }
    int dims[3];
    double total = 1;
    for (int i = 0; i < d.n; i++) {
        if (d.items[i].kind != V_INT || d.items[i].i < 1 || d.items[i].i > (1 << 24)) {
            diag_error(d.items[i].span, "input dimensions must be integers from 1 to %d, got %s", 1 << 24,
                       val_str(&d.items[i]));
            return POISON;
        }
        dims[i] = (int)d.items[i].i;
        total *= (double)d.items[i].i;
    }
    if (total * E->g->batch > (double)INT_MAX) {
        diag_error(st->dims->span, "the input %s at batch %d has 2^31 or more elements (the limit is 2^31 - 1)", val_str(&d), E->g->batch);
        return POISON;
    }
    Shape s = d.n == 3 ? shape4(E->g->batch, dims[0], dims[1], dims[2]) : shape2(E->g->batch, dims[0]);
    int id = ir_add_op(E->g, OP_INPUT, NULL, 0, s, span_prefix(st->span, 5));
    return E->g->ops[id].out;
}

Graph *elaborate(Program *prog, const ElabOptions *opts) {
    int errors0 = diag_error_count();
    check_block_names(prog);
    const Item *model = choose_model(prog, opts->model);
    if (!model)
        return NULL;
    /* Model parameters: defaults, overridden by -D. */
    int n = model->params.n;
    Env env = {arena_alloc(sizeof(char *) * (size_t)(n + 1)), arena_alloc(sizeof(Val) * (size_t)(n + 1)), 0};
    const char **pnames = arena_alloc(sizeof(char *) * (size_t)(n + 1));
    for (int i = 0; i < n; i++)
        pnames[i] = model->params.items[i].name;
    for (int k = 0; k < opts->ndefines; k++) {
        bool known = false;
        for (int i = 0; i < n; i++)
            known |= !strcmp(pnames[i], opts->defines[k].name);
        if (!known) {
            const char *list = "";
            for (int i = 0; i < n; i++)
                list = arena_printf("%s%s%s", list, i ? ", " : "", pnames[i]);
            diag_error(span_none(), "-D %s: model %s has no parameter '%s' (its parameters: %s)", opts->defines[k].name,
                       model->name, opts->defines[k].name, *list ? list : "none");
            const char *near = diag_closest(opts->defines[k].name, pnames, n);
            if (near)
                diag_note(span_none(), "did you mean '%s'?", near);
        }
    }
    Elab E = {.prog = prog};
    E.g = ir_new(model->name, 1);
    for (int i = 0; i < n; i++) {
        const Param *p = &model->params.items[i];
        Val v = none_val(p->span);
        const Define *d = NULL;
        for (int k = 0; k < opts->ndefines; k++)
            if (!strcmp(opts->defines[k].name, p->name))
                d = &opts->defines[k];
        if (d) {
            if (!parse_define(d->value, &v)) {
                diag_error(span_none(), "-D %s=%s: the value must be an integer, a number, true, false or a list", d->name,
                           d->value);
                v = none_val(p->span);
            }
        } else if (p->def) {
            v = eval(&E, p->def, &env, POISON);
        } else {
            diag_error(p->span, "model parameter '%s' has no default; set it with -D %s=VALUE", p->name, p->name);
        }
        env.names[env.n] = p->name;
        env.vals[env.n++] = v;
    }
    /* The train section: its batch is the compiled batch unless --batch says otherwise. */
    TrainConfig *tc = arena_alloc(sizeof *tc);
    train_config_defaults(tc);
    const Item *train = find_train(prog, model);
    if (train)
        train_config_eval(train, tc, model_param_lookup, &env);
    E.g->train = tc;
    E.g->batch = opts->batch > 0 ? opts->batch : train && tc->batch > 0 ? tc->batch : 1;
    if (diag_error_count() > errors0)
        return NULL;

    const Body *b = &model->body;
    if (b->n == 0 || b->items[0]->kind != ST_INPUT) {
        diag_error(b->n ? b->items[0]->span : model->name_span, "a model's first statement must be `input [C, H, W]`");
        return NULL;
    }
    int x = elab_input(&E, b->items[0], &env);
    E.g->input = x;
    Scope sc = {"", NULL, NULL};
    Body rest = {b->items + 1, b->n - 1};
    x = elab_body(&E, &rest, &env, &sc, x, true);
    if (diag_error_count() > errors0 || x == POISON)
        return NULL;
    E.g->output = x;
    Shape out = value_shape(&E, x);
    E.g->classes = out.d[out.rank - 1];
    if (!ir_verify(E.g))
        return NULL;
    return E.g;
}
