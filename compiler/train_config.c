/* train_config.c: evaluates and checks one `train { key = value ... }` item (docs/language.md, Training settings)
 * into a TrainConfig. Requires: a parsed ITEM_TRAIN. Provides: plain values with their spans.
 *
 * Every callable value (a loss, an optimizer, a schedule, an augmentation, early_stop, an init)
 * is described once by an argument table: name, default as the docs show it, type, allowed
 * range and the field it fills. Binding, defaults, checks, messages and printing are all driven
 * by those tables, so adding an optimizer argument is one line. Calls bind positional arguments
 * first, then keyword ones, as layer calls do; a call without arguments may drop its
 * parentheses (`loss = cross_entropy` arrives as a name).
 *
 * Values are compile-time expressions of the language (ints, floats, booleans, + - * / %,
 * comparisons, and/or/not, lists) and may use the model's parameters through lookup.
 *
 * Choices docs/language.md makes where the language was open: `augment` and `freeze` also accept a single item without
 * brackets; `freeze` items are names, dotted or not (`conv0`, `stage1.basic0`), or strings
 * (`"stage1.basic0"`); they are taken as written, never looked up as model parameters. */
#include "train_config.h"
#include "value.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

/* ---------- argument tables ---------- */

/* The tables are args.h's typed ArgSpec, read by the binder layers use too (args_bind,
 * args_check); offset is the field each argument fills. */
typedef ArgSpec TrainArg;
typedef ArgRange Range;
#define TA_INT AK_INT
#define TA_I64 AK_I64
#define TA_NUM AK_NUM
#define TA_BOOL AK_BOOL
#define TA_NUMS AK_NUMS
#define TA_INTS AK_INTS

/* The tables, from runtime/train_vocab.def: A(arg, KIND, default, RANGE) fills the field arg
 * of the family's struct; W(arg, default, words) a word argument, stored as the word's index. */
#define TV_A(S, arg, kind, def, range) {#arg, def, AK_##kind, {TV_##range}, NULL, offsetof(S, arg)},
#define TV_W(S, arg, def, words) {#arg, def, AK_WORD, RANGE_ANY, words, offsetof(S, arg)},
#define END_ARGS ARG_END
#define TV_TABLE(prefix, e, name, ...) static const TrainArg prefix##name##_args[] = {__VA_ARGS__ END_ARGS};

#define SETTING_A(arg, kind, def, range) TV_A(TrainConfig, arg, kind, def, range)
static const TrainArg scalar_args[] = {TRAIN_VOCAB_SETTINGS(SETTING_A) END_ARGS};

#define LOSS_A(arg, kind, def, range) TV_A(TrainLoss, arg, kind, def, range)
#define LOSS_TABLE(e, name, ...) TV_TABLE(, e, name, __VA_ARGS__)
TRAIN_VOCAB_LOSSES(LOSS_TABLE, LOSS_A, TRAIN_VOCAB_NONE_)
#define OPT_A(arg, kind, def, range) TV_A(TrainOptimizer, arg, kind, def, range)
#define OPT_TABLE(e, name, ...) TV_TABLE(, e, name, __VA_ARGS__)
TRAIN_VOCAB_OPTIMIZERS(OPT_TABLE, OPT_A, TRAIN_VOCAB_NONE_)
#define SCHED_A(arg, kind, def, range) TV_A(TrainSchedule, arg, kind, def, range)
#define SCHED_W(arg, def, words) TV_W(TrainSchedule, arg, def, words)
#define SCHED_TABLE(e, name, ...) TV_TABLE(, e, name, __VA_ARGS__)
TRAIN_VOCAB_SCHEDULES(SCHED_TABLE, SCHED_A, SCHED_W)
#define AUG_A(arg, kind, def, range) TV_A(TrainAugment, arg, kind, def, range)
#define AUG_TABLE(e, name, ...) TV_TABLE(, e, name, __VA_ARGS__)
TRAIN_VOCAB_AUGMENTS(AUG_TABLE, AUG_A, TRAIN_VOCAB_NONE_)
#define INIT_A(arg, kind, def, range) TV_A(TrainInitArgs, arg, kind, def, range)
#define INIT_W(arg, def, words) TV_W(TrainInitArgs, arg, def, words)
#define INIT_TABLE(e, name, ...) TV_TABLE(init_, e, name, __VA_ARGS__)
TRAIN_VOCAB_INITS(INIT_TABLE, INIT_A, INIT_W)
#define EARLY_A(arg, kind, def, range) TV_A(TrainEarlyStop, arg, kind, def, range)
static const TrainArg early_stop_args[] = {TRAIN_VOCAB_EARLY_STOP(EARLY_A) END_ARGS};

/* A family of callables: the members, in their enum's order. */
typedef struct Callee {
    const char *name;
    const TrainArg *args;
} Callee;

typedef struct Family {
    const char *key;   /* the setting: "optimizer" */
    const char *noun;  /* for "unknown optimizer 'adm'" */
    const Callee *members;
    int n;
} Family;

#define CALLEE(e, name, ...) {#name, name##_args},
static const Callee loss_members[] = {TRAIN_LOSSES(CALLEE)};
static const Callee optimizer_members[] = {TRAIN_OPTIMIZERS(CALLEE)};
static const Callee schedule_members[] = {TRAIN_SCHEDULES(CALLEE)};
static const Callee augment_members[] = {TRAIN_AUGMENTS(CALLEE)};
#define INIT_CALLEE(e, name, ...) {#name, init_##name##_args},
static const Callee init_members[] = {TRAIN_INITS(INIT_CALLEE)};
static const Callee early_stop_members[] = {{"early_stop", early_stop_args}};
#undef CALLEE

#define FAMILY(key, noun, members) {key, noun, members, (int)(sizeof members / sizeof members[0])}
static const Family losses = FAMILY("loss", "loss", loss_members);
static const Family optimizers = FAMILY("optimizer", "optimizer", optimizer_members);
static const Family schedules = FAMILY("schedule", "schedule", schedule_members);
static const Family augments = FAMILY("augment", "augmentation", augment_members);
static const Family inits = FAMILY("init", "init", init_members);
static const Family early_stops = FAMILY("early_stop", "early stopping rule", early_stop_members);

#define KEY_NAME(e, name) #name,
static const char *const key_names[TK_COUNT] = {TRAIN_KEYS(KEY_NAME)};
#undef KEY_NAME

const char *train_key_name(TrainKey k) { return key_names[k]; }
const char *train_loss_name(LossKind k) { return loss_members[k].name; }
const char *train_optimizer_name(OptimizerKind k) { return optimizer_members[k].name; }
const char *train_schedule_name(ScheduleKind k) { return schedule_members[k].name; }
const char *train_augment_name(AugmentKind k) { return augment_members[k].name; }
const char *train_init_name(InitKind k) { return init_members[k].name; }

enum { MAX_ARGS = 8 };

void train_vocab_walk(void (*fn)(void *ctx, const char *family, const char *name, const ArgSpec *args), void *ctx) {
    const Family *fams[] = {&losses, &optimizers, &schedules, &augments, &inits, &early_stops};
    for (int f = 0; f < (int)(sizeof fams / sizeof fams[0]); f++)
        for (int i = 0; i < fams[f]->n; i++)
            fn(ctx, fams[f]->key, fams[f]->members[i].name, fams[f]->members[i].args);
    fn(ctx, "settings", "train", scalar_args);
}

/* ---------- text ---------- */

#define num_text args_num_text
#define value_text args_value_text
#define signature args_signature
#define range_text args_range_text

/* "one of sgd, adam, adamw", or for a one-member family its call: "early_stop(patience, ...)". */
static const char *expected_text(const Family *fam) {
    if (fam->n == 1)
        return arena_printf("%s%s", fam->members[0].name, signature(fam->members[0].args));
    const char *s = "one of ";
    for (int i = 0; i < fam->n; i++)
        s = arena_printf("%s%s%s", s, i ? ", " : "", fam->members[i].name);
    return s;
}

static Span span_prefix(Span s, int len) {
    s.end_line = s.line;
    s.end_col = s.col + len;
    return s;
}

/* The name of a call or bare name: `sgd` in `sgd(lr = 0.1)`. */
static Span callee_span(const Expr *e) {
    return e->kind == EX_CALL ? span_prefix(e->span, (int)strlen(e->name)) : e->span;
}

/* ---------- expressions ---------- */

typedef struct Env {
    bool (*lookup)(void *ctx, const char *name, Val *out);
    void *ctx;
    Val (*eval)(void *ectx, const Expr *e);   /* when set, evaluates every value (a layer's init) */
    void *ectx;
} Env;

static Val none_val(Span s) { return value_none(s); }

static Val eval(const Env *env, const Expr *e);

/* A value of the language; V_NONE after an error has been reported. */
static Val eval(const Env *env, const Expr *e) {
    if (env->eval)
        return env->eval(env->ectx, e);
    Val r = {.span = e->span};
    switch (e->kind) {
    case EX_INT: r.kind = V_INT; r.i = e->ival; return r;
    case EX_FLOAT: r.kind = V_FLOAT; r.f = e->fval; return r;
    case EX_BOOL: r.kind = V_BOOL; r.i = e->ival != 0; return r;
    case EX_STRING:
        diag_error(e->span, "a string is not a value here; strings are for `import` and `freeze`");
        return none_val(e->span);
    case EX_CALL:
        diag_error(e->span, "'%s(...)' is not a value here", e->name);
        return none_val(e->span);
    case EX_FIELD:
        diag_error(e->span, "'in.%s' has no meaning in a train section; the shape of a statement's input exists only "
                            "inside a model or block", e->name);
        return none_val(e->span);
    case EX_NAME:
        if (env->lookup && env->lookup(env->ctx, e->name, &r)) {
            r.span = e->span;
            return r;
        }
        diag_error(e->span, "unknown name '%s'; a train setting's value may use numbers and the model's parameters",
                   e->name);
        return none_val(e->span);
    case EX_LIST:
        r.kind = V_LIST;
        r.n = e->nitems;
        r.items = arena_alloc(sizeof(Val) * (size_t)(e->nitems ? e->nitems : 1));
        for (int i = 0; i < e->nitems; i++) {
            r.items[i] = eval(env, e->items[i]);
            if (r.items[i].kind == V_NONE)
                r.kind = V_NONE; /* go on: other items may hold independent errors */
        }
        return r;
    case EX_UNARY: return value_unary(e, eval(env, e->lhs));
    case EX_BINARY: {
        Val a = eval(env, e->lhs), b = eval(env, e->rhs);
        return value_binary(e, a, b);
    }
    }
    return none_val(e->span);
}

/* ---------- storing checked values ---------- */

static void *field_at(void *base, const TrainArg *a) { return (char *)base + a->offset; }

/* Checks v against a (args_check reports) and stores it in base's field; v of kind V_NONE was
 * already reported. */
static bool store_arg(const TrainArg *a, const Val *v, const char *subject, void *base) {
    void *f = field_at(base, a);
    if (!args_check(a, v, subject, true))
        return false;
    switch (a->kind) {
    case AK_INT: *(int *)f = (int)v->i; return true;
    case AK_I64: *(long long *)f = v->i; return true;
    case AK_NUM: *(double *)f = value_num(v); return true;
    case AK_BOOL: *(bool *)f = v->i != 0; return true;
    case AK_WORD: { /* the word's index in the list */
        int k = 0;
        size_t n = strlen(v->word);
        for (const char *p = a->words; p; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL, k++)
            if (!strncmp(p, v->word, n) && (p[n] == '|' || !p[n]))
                break;
        *(int *)f = k;
        return true;
    }
    case AK_NUMS: {
        double *nums = arena_alloc(sizeof(double) * (size_t)v->n);
        for (int i = 0; i < v->n; i++)
            nums[i] = value_num(&v->items[i]);
        *(TrainNumList *)f = (TrainNumList){nums, v->n, v->span};
        return true;
    }
    case AK_INTS: {
        int *is = arena_alloc(sizeof(int) * (size_t)v->n);
        for (int i = 0; i < v->n; i++)
            is[i] = (int)v->items[i].i;
        *(TrainIntList *)f = (TrainIntList){is, v->n, v->span};
        return true;
    }
    default: return false;
    }
}

/* Fills base (the struct the args describe) with every default; required fields stay 0. */
static void apply_defaults(const TrainArg *args, void *base) {
    for (int i = 0; args[i].name; i++)
        if (args[i].def && strcmp(args[i].def, "none") != 0) {
            Val v = args_default(args, i, span_none(), true);
            store_arg(&args[i], &v, args[i].name, base);
        }
}

/* ---------- calls ---------- */

/* Binds the arguments of call (EX_CALL, or EX_NAME for a call without parentheses) to c's
 * parameters, positional first, then by keyword; stores each value, given or default, into
 * base (zeroed first). vals[i] receives the value of parameter i (with its span) if not NULL. */
static bool bind_call(const Env *env, const char *key, const Callee *c, const Expr *call, void *base, size_t size,
                      Val *vals) {
    const char *what = arena_printf("%s: %s", key, c->name);
    const TrainArg *args = c->args;
    int n = args_count(args);
    assert(n <= MAX_ARGS);
    const Arg *slots[MAX_ARGS] = {0};
    Span name_span = callee_span(call);
    bool ok = args_bind(what, c->name, name_span, args, call->kind == EX_CALL ? &call->args : NULL, slots);
    /* The given values are checked even after a binding error: their mistakes are independent. */
    memset(base, 0, size);
    for (int i = 0; i < n; i++) {
        Val v;
        const Expr *ex = slots[i] ? slots[i]->value : NULL;
        if (ex && args[i].words && ex->kind == EX_NAME &&
            (args[i].kind == AK_WORD || args_word_listed(args[i].words, ex->name)))
            v = (Val){.kind = V_WORD, .word = ex->name, .span = ex->span};   /* checked by store_arg */
        else if (ex)
            v = eval(env, ex);
        else
            v = args_default(args, i, call->span, true);
        if (vals)
            vals[i] = v;
        if (!slots[i] && v.kind == V_NONE)
            continue; /* missing: reported above, or optional with no value */
        ok &= store_arg(&args[i], &v, arena_printf("%s: argument '%s'", what, args[i].name), base);
    }
    return ok;
}

/* e names a member of fam, with or without arguments; binds it into base. Returns the member's
 * index, or -1 after reporting. subject: "train setting 'loss'" or "augment: item 2". */
static int eval_member(const Env *env, const Family *fam, const char *subject, const Expr *e, void *base,
                       size_t size, Val *vals) {
    if (e->kind != EX_NAME && e->kind != EX_CALL) {
        diag_error(e->span, "%s must be %s", subject, expected_text(fam));
        return -1;
    }
    const char *names[16];
    for (int i = 0; i < fam->n; i++) {
        names[i] = fam->members[i].name;
        if (!strcmp(names[i], e->name))
            return bind_call(env, fam->key, &fam->members[i], e, base, size, vals) ? i : -1;
    }
    diag_error(callee_span(e), "unknown %s '%s'; expected %s", fam->noun, e->name, expected_text(fam));
    const char *near = diag_closest(e->name, names, fam->n);
    if (near)
        diag_note(span_none(), "did you mean '%s'?", near);
    return -1;
}

/* ---------- the settings ---------- */

static const TrainArg *scalar_arg(TrainKey k) {
    for (int i = 0; scalar_args[i].name; i++)
        if (!strcmp(scalar_args[i].name, key_names[k]))
            return &scalar_args[i];
    return NULL;
}

static bool eval_scalar(const Env *env, TrainKey k, const Expr *e, TrainConfig *t) {
    Val v = eval(env, e);
    return store_arg(scalar_arg(k), &v, arena_printf("train setting '%s'", key_names[k]), t);
}

static bool eval_loss(const Env *env, const Expr *e, TrainConfig *t) {
    TrainLoss l;
    int m = eval_member(env, &losses, "train setting 'loss'", e, &l, sizeof l, NULL);
    if (m < 0)
        return false;
    l.kind = (LossKind)m;
    if (l.kind == LOSS_CROSS_ENTROPY && l.weight.n > 0) {
        bool any = false;
        for (int i = 0; i < l.weight.n; i++)
            any |= l.weight.items[i] > 0;
        if (!any) {
            diag_error(l.weight.span, "loss: cross_entropy: argument 'weight' needs at least one weight > 0");
            return false;
        }
    }
    t->loss = l;
    return true;
}

static bool eval_optimizer(const Env *env, const Expr *e, TrainConfig *t) {
    TrainOptimizer o;
    Val vals[MAX_ARGS];
    int m = eval_member(env, &optimizers, "train setting 'optimizer'", e, &o, sizeof o, vals);
    if (m < 0)
        return false;
    o.kind = (OptimizerKind)m;
    if (o.kind == OPT_SGD && o.nesterov && o.momentum == 0) {
        int i = 0;
        while (strcmp(sgd_args[i].name, "nesterov") != 0)
            i++;
        diag_error(vals[i].span, "optimizer: sgd: nesterov = true needs momentum > 0");
        return false;
    }
    t->optimizer = o;
    return true;
}

static bool eval_schedule(const Env *env, const Expr *e, TrainConfig *t) {
    TrainSchedule s;
    int m = eval_member(env, &schedules, "train setting 'schedule'", e, &s, sizeof s, NULL);
    if (m < 0)
        return false;
    s.kind = (ScheduleKind)m;
    t->schedule = s;
    return true;
}

static bool eval_early_stop(const Env *env, const Expr *e, TrainConfig *t) {
    TrainEarlyStop s;
    if (eval_member(env, &early_stops, "train setting 'early_stop'", e, &s, sizeof s, NULL) < 0)
        return false;
    s.on = true;
    t->early_stop = s;
    return true;
}

static const char *const nonlinearities[] = {"linear", "sigmoid", "tanh", "relu", "leaky_relu"};

/* An init (the train setting, or a layer's init argument): key prefixes the messages ("init",
 * "conv: argument 'init'"), subject names the whole value. */
static bool bind_init(const Env *env, const Expr *e, const char *fam_key, const char *subject, InitKind *kind,
                      TrainInitArgs *out) {
    TrainInitArgs args;
    const Expr *call = e;
    Family fam = inits;
    fam.key = fam_key;
    int m = eval_member(env, &fam, subject, call, &args, sizeof args, NULL);
    if (m < 0)
        return false;
    if (m == INIT_UNIFORM && !(args.a < args.b)) {
        diag_error(e->span, "%s: uniform needs a < b, got a = %g, b = %g", fam_key, args.a, args.b);
        return false;
    }
    args.has_args = e->kind == EX_CALL && e->args.n > 0;
    *kind = (InitKind)m;
    *out = args;
    return true;
}

static bool eval_init(const Env *env, const Expr *e, TrainConfig *t) {
    return bind_init(env, e, "init", "train setting 'init'", &t->init, &t->init_args);
}

const char *train_init_text(InitKind kind, const TrainInitArgs *a) {
    switch (kind) {
    case INIT_KAIMING_NORMAL:
        return arena_printf("kaiming_normal(a=%s, mode=%s, nonlinearity=%s)", num_text(a->a), a->mode ? "fan_out" : "fan_in",
                            nonlinearities[a->nonlinearity]);
    case INIT_KAIMING_UNIFORM:
        return arena_printf("kaiming_uniform(a=%s, mode=%s, nonlinearity=%s)", num_text(a->a), a->mode ? "fan_out" : "fan_in",
                            nonlinearities[a->nonlinearity]);
    case INIT_XAVIER_UNIFORM: return arena_printf("xavier_uniform(gain=%s)", num_text(a->gain));
    case INIT_XAVIER_NORMAL: return arena_printf("xavier_normal(gain=%s)", num_text(a->gain));
    case INIT_NORMAL: return arena_printf("normal(mean=%s, std=%s)", num_text(a->mean), num_text(a->std));
    case INIT_UNIFORM: return arena_printf("uniform(a=%s, b=%s)", num_text(a->a), num_text(a->b));
    case INIT_CONSTANT: return arena_printf("constant(val=%s)", num_text(a->val));
    default: return "default";
    }
}

const char *train_init_bind(const Expr *e, const char *what, Val (*eval_value)(void *ctx, const Expr *e), void *ctx) {
    Env env = {NULL, NULL, eval_value, ctx};
    InitKind kind;
    TrainInitArgs args;
    if (!bind_init(&env, e, what, what, &kind, &args))
        return NULL;
    return train_init_text(kind, &args);
}

/* The items of a list setting *ep; a single item may be written without brackets. */
static Expr *const *list_items(Expr *const *ep, int *n) {
    if ((*ep)->kind == EX_LIST) {
        *n = (*ep)->nitems;
        return (*ep)->items;
    }
    *n = 1;
    return ep;
}

static bool eval_augment(const Env *env, Expr *e, TrainConfig *t) {
    int n;
    Expr *const *items = list_items(&e, &n);
    TrainAugment *out = arena_alloc(sizeof(TrainAugment) * (size_t)(n ? n : 1));
    int first[AUG_COUNT];
    for (int k = 0; k < AUG_COUNT; k++)
        first[k] = -1;
    bool ok = true;
    for (int i = 0; i < n; i++) {
        const char *subject = e->kind == EX_LIST ? arena_printf("augment: item %d", i + 1) : "train setting 'augment'";
        int m = eval_member(env, &augments, subject, items[i], &out[i], sizeof out[i], NULL);
        if (m < 0) {
            ok = false;
            continue;
        }
        out[i].kind = (AugmentKind)m;
        out[i].span = items[i]->span;
        const Expr *it = items[i];
        if (m == AUG_RANDOM_CROP && out[i].size > 0 && it->kind == EX_CALL) {   /* a size, no pad: pad 0 */
            bool pad_given = it->args.n >= 2;
            for (int k = 0; k < it->args.n; k++)
                pad_given |= it->args.items[k].name && !strcmp(it->args.items[k].name, "pad");
            if (!pad_given)
                out[i].pad = 0;
        }
        if (m == AUG_AFFINE && out[i].scale.n &&
            (out[i].scale.n != 2 || out[i].scale.items[0] > out[i].scale.items[1])) {
            diag_error(out[i].scale.span, "%s: affine's scale must be [lo, hi] with 0 < lo <= hi", subject);
            ok = false;
        }
        if (m == AUG_RANDOM_RESIZED_CROP) {
            const TrainNumList *l[2] = {&out[i].scale, &out[i].ratio};
            for (int k = 0; k < 2; k++)
                if (l[k]->n && (l[k]->n != 2 || l[k]->items[0] > l[k]->items[1] || (k == 0 && l[k]->items[1] > 1))) {
                    diag_error(l[k]->span, "%s: random_resized_crop's %s must be [lo, hi] with 0 < lo <= hi%s", subject,
                               k ? "ratio" : "scale", k ? "" : " <= 1");
                    ok = false;
                }
        }
        if (first[m] >= 0) {
            diag_error(items[i]->span, "augment: %s is listed twice", augment_members[m].name);
            diag_note(items[first[m]]->span, "first listed here");
            ok = false;
        } else {
            first[m] = i;
        }
    }
    if (!ok)
        return false;
    t->augment = out;
    t->naugment = n;
    return true;
}

/* A parameter name prefix: identifiers joined by single dots. */
static bool valid_prefix(const char *s) {
    for (;;) {
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            return false;
        while (*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9'))
            s++;
        if (*s == '\0')
            return true;
        if (*s++ != '.')
            return false;
    }
}

static bool eval_freeze(Expr *e, TrainConfig *t) {
    int n;
    Expr *const *items = list_items(&e, &n);
    TrainFreeze *out = arena_alloc(sizeof(TrainFreeze) * (size_t)(n ? n : 1));
    bool ok = true;
    for (int i = 0; i < n; i++) {
        const Expr *it = items[i];
        const char *subject = e->kind == EX_LIST ? arena_printf("freeze: item %d", i + 1) : "train setting 'freeze'";
        const char *p = it->kind == EX_NAME ? it->name : it->kind == EX_STRING ? it->str : NULL;
        if (!p) {
            diag_error(it->span, "%s must be a parameter name prefix such as conv0, or a string such as "
                                 "\"stage1.basic0\" for a dotted one", subject);
            ok = false;
            continue;
        }
        if (!valid_prefix(p)) {
            diag_error(it->span, "%s: '%s' is not a parameter name prefix (names joined by dots, such as "
                                 "stage1.basic0)", subject, p);
            ok = false;
            continue;
        }
        out[i] = (TrainFreeze){p, it->span};
        for (int j = 0; j < i; j++)
            if (out[j].prefix && !strcmp(out[j].prefix, p)) {
                diag_error(it->span, "freeze: '%s' is listed twice", p);
                diag_note(out[j].span, "first listed here");
                ok = false;
                break;
            }
    }
    if (!ok)
        return false;
    t->freeze = out;
    t->nfreeze = n;
    return true;
}

/* lr_for = [group(PREFIX, lr = X), ...]: PREFIX as freeze takes it, X a number > 0. */
static bool eval_lr_for(const Env *env, Expr *e, TrainConfig *t) {
    int n;
    Expr *const *items = list_items(&e, &n);
    TrainLrFor *out = arena_alloc(sizeof(TrainLrFor) * (size_t)(n ? n : 1));
    bool ok = true;
    for (int i = 0; i < n; i++) {
        const Expr *it = items[i];
        const char *subject = e->kind == EX_LIST ? arena_printf("lr_for: item %d", i + 1) : "train setting 'lr_for'";
        if (it->kind != EX_CALL || strcmp(it->name, "group") != 0) {
            diag_error(it->span, "%s must be group(PREFIX, lr = X), such as group(fc, lr = 0.01)", subject);
            ok = false;
            continue;
        }
        const Expr *pe = NULL, *le = NULL;
        bool args_ok = true;
        for (int a = 0; a < it->args.n; a++) {
            const Arg *arg = &it->args.items[a];
            const char *name = arg->name ? arg->name : a == 0 ? "prefix" : a == 1 ? "lr" : "";
            const Expr **slot = !strcmp(name, "prefix") ? &pe : !strcmp(name, "lr") ? &le : NULL;
            if (!slot || *slot) {
                diag_error(arg->span, "%s: group takes a prefix and lr = X, once each", subject);
                args_ok = false;
                continue;
            }
            *slot = arg->value;
        }
        if (!args_ok || !pe || !le) {
            if (args_ok)
                diag_error(it->span, "%s: group needs a prefix and lr = X, such as group(fc, lr = 0.01)", subject);
            ok = false;
            continue;
        }
        const char *p = pe->kind == EX_NAME ? pe->name : pe->kind == EX_STRING ? pe->str : NULL;
        if (!p || !valid_prefix(p)) {
            diag_error(pe->span, "%s: the prefix must be a parameter name prefix such as fc or layer4.basic1", subject);
            ok = false;
            continue;
        }
        Val v = eval(env, le);
        if (v.kind == V_NONE) {
            ok = false;
            continue;
        }
        if (!value_is_num(&v) || !(value_num(&v) > 0) || !isfinite(value_num(&v))) {
            diag_error(v.span, "%s: lr must be a number > 0, got %s", subject, value_text(&v));
            ok = false;
            continue;
        }
        out[i] = (TrainLrFor){p, value_num(&v), it->span};
        for (int j = 0; j < i; j++)
            if (out[j].prefix && !strcmp(out[j].prefix, p)) {
                diag_error(it->span, "lr_for: '%s' is listed twice", p);
                diag_note(out[j].span, "first listed here");
                ok = false;
                break;
            }
    }
    if (!ok)
        return false;
    t->lr_for = out;
    t->nlr_for = n;
    return true;
}

/* warmup = N, or warmup = linear(N, start_factor = F). */
static bool eval_warmup(const Env *env, Expr *e, TrainConfig *t) {
    const Expr *ne = e, *fe = NULL;
    if (e->kind == EX_CALL) {
        ne = NULL;
        if (strcmp(e->name, "linear")) {
            diag_error(e->span, "warmup must be a number of epochs or linear(epochs, start_factor = F)");
            return false;
        }
        for (int i = 0; i < e->args.n; i++) {
            const Arg *a = &e->args.items[i];
            const char *key = a->name ? a->name : i == 0 ? "epochs" : i == 1 ? "start_factor" : "";
            const Expr **slot = !strcmp(key, "epochs") ? &ne : !strcmp(key, "start_factor") ? &fe : NULL;
            if (!slot || *slot) {
                diag_error(a->span, "warmup: linear takes epochs and start_factor, once each");
                return false;
            }
            *slot = a->value;
        }
        if (!ne) {
            diag_error(e->span, "warmup: linear needs its epochs");
            return false;
        }
    }
    Val n = eval(env, ne);
    if (n.kind == V_NONE)
        return false;
    if (n.kind != V_INT || n.i < 0 || n.i > 1000000) {
        diag_error(n.span, "warmup: epochs must be an integer >= 0, got %s", value_text(&n));
        return false;
    }
    double f = 1.0 / 3.0;
    if (fe) {
        Val v = eval(env, fe);
        if (v.kind == V_NONE)
            return false;
        if (!value_is_num(&v) || !(value_num(&v) > 0) || value_num(&v) > 1) {
            diag_error(v.span, "warmup: start_factor must be a number in (0, 1], got %s", value_text(&v));
            return false;
        }
        f = value_num(&v);
    }
    t->warmup = (int)n.i;
    t->warmup_factor = f;
    return true;
}

static bool eval_setting(const Env *env, TrainKey k, Expr *e, TrainConfig *t) {
    switch (k) {
    case TK_EPOCHS:
    case TK_BATCH:
    case TK_SEED:
    case TK_ACCUMULATE:
    case TK_CLIP_GRAD_NORM: return eval_scalar(env, k, e, t);
    case TK_LOSS: return eval_loss(env, e, t);
    case TK_OPTIMIZER: return eval_optimizer(env, e, t);
    case TK_SCHEDULE: return eval_schedule(env, e, t);
    case TK_AUGMENT: return eval_augment(env, e, t);
    case TK_EARLY_STOP: return eval_early_stop(env, e, t);
    case TK_FREEZE: return eval_freeze(e, t);
    case TK_INIT: return eval_init(env, e, t);
    case TK_LR_FOR: return eval_lr_for(env, e, t);
    case TK_WARMUP: return eval_warmup(env, e, t);
    case TK_COUNT: break;
    }
    return false;
}

void train_config_defaults(TrainConfig *t) {
    memset(t, 0, sizeof *t);
    apply_defaults(scalar_args, t);
    apply_defaults(loss_members[LOSS_CROSS_ENTROPY].args, &t->loss);
    t->loss.kind = LOSS_CROSS_ENTROPY;
    apply_defaults(optimizer_members[OPT_ADAM].args, &t->optimizer);
    t->optimizer.kind = OPT_ADAM;
    t->schedule.kind = SCHED_CONSTANT;
    t->init = INIT_DEFAULT;
    for (int k = 0; k < TK_COUNT; k++)
        t->spans[k] = span_none();
}

bool train_config_eval(const Item *item, TrainConfig *t, bool (*lookup)(void *ctx, const char *name, Val *out),
                       void *ctx) {
    Env env = {lookup, ctx, NULL, NULL};
    const Setting *first[TK_COUNT] = {0};
    bool ok = true;
    for (int i = 0; i < item->nsettings; i++) {
        const Setting *s = &item->settings[i];
        int k = 0;
        while (k < TK_COUNT && strcmp(key_names[k], s->key) != 0)
            k++;
        if (k == TK_COUNT) {
            diag_error(s->key_span, "unknown train setting '%s'", s->key);
            const char *near = diag_closest(s->key, key_names, TK_COUNT);
            if (near) {
                diag_note(span_none(), "did you mean '%s'?", near);
            } else {
                const char *list = "";
                for (int j = 0; j < TK_COUNT; j++)
                    list = arena_printf("%s%s%s", list, j ? ", " : "", key_names[j]);
                diag_note(span_none(), "the train settings are %s", list);
            }
            ok = false;
            continue;
        }
        if (first[k]) {
            diag_error(s->key_span, "train setting '%s' is given twice", s->key);
            diag_note(first[k]->key_span, "first given here");
            ok = false;
            continue;
        }
        first[k] = s;
        if (eval_setting(&env, (TrainKey)k, s->value, t))
            t->spans[k] = s->value->span;
        else
            ok = false;
    }
    return ok;
}

/* ---------- printing ---------- */

static void print_field(FILE *f, const TrainArg *a, const void *base) {
    const void *p = (const char *)base + a->offset;
    bool unset_allowed = a->def && !strcmp(a->def, "none");
    switch (a->kind) {
    case TA_INT:
        if (unset_allowed && *(const int *)p == 0)
            fputs("none", f);
        else
            fprintf(f, "%d", *(const int *)p);
        return;
    case TA_I64: fprintf(f, "%lld", *(const long long *)p); return;
    case TA_NUM: {
        double x = *(const double *)p;
        fputs(unset_allowed && x == 0 ? "none" : num_text(x), f);
        return;
    }
    case TA_BOOL: fputs(*(const bool *)p ? "true" : "false", f); return;
    case AK_WORD: {
        const char *w = a->words;
        for (int k = *(const int *)p; k > 0 && strchr(w, '|'); k--)
            w = strchr(w, '|') + 1;
        fprintf(f, "%.*s", (int)(strchr(w, '|') ? (size_t)(strchr(w, '|') - w) : strlen(w)), w);
        return;
    }
    case TA_NUMS: {
        const TrainNumList *l = p;
        if (l->n == 0) {
            fputs("none", f);
            return;
        }
        for (int i = 0; i < l->n; i++)
            fprintf(f, "%s%s", i ? ", " : "[", num_text(l->items[i]));
        fputs("]", f);
        return;
    }
    case TA_INTS: {
        const TrainIntList *l = p;
        if (l->n == 0) {
            fputs("none", f);
            return;
        }
        for (int i = 0; i < l->n; i++)
            fprintf(f, "%s%d", i ? ", " : "[", l->items[i]);
        fputs("]", f);
        return;
    }
    default: return;
    }
}

/* "sgd(lr=0.1, momentum=0.9, nesterov=false, weight_decay=0.0001)", or "constant". */
static void print_call(FILE *f, const Callee *c, const void *base) {
    fputs(c->name, f);
    for (int i = 0; c->args[i].name; i++) {
        fprintf(f, "%s%s=", i ? ", " : "(", c->args[i].name);
        print_field(f, &c->args[i], base);
    }
    if (c->args[0].name)
        fputs(")", f);
}

void train_config_print(const TrainConfig *t, FILE *f) {
    fputs("train:", f);
    for (int i = 0; scalar_args[i].name; i++) {
        fprintf(f, " %s=", scalar_args[i].name);
        print_field(f, &scalar_args[i], t);
    }
    fputs("\n  loss: ", f);
    print_call(f, &loss_members[t->loss.kind], &t->loss);
    fputs("\n  optimizer: ", f);
    print_call(f, &optimizer_members[t->optimizer.kind], &t->optimizer);
    fputs("\n  schedule: ", f);
    print_call(f, &schedule_members[t->schedule.kind], &t->schedule);
    fputs("\n  augment: ", f);
    if (t->naugment == 0)
        fputs("none", f);
    for (int i = 0; i < t->naugment; i++) {
        fputs(i ? ", " : "", f);
        print_call(f, &augment_members[t->augment[i].kind], &t->augment[i]);
    }
    fputs("\n  early_stop: ", f);
    if (t->early_stop.on)
        print_call(f, &early_stop_members[0], &t->early_stop);
    else
        fputs("none", f);
    fputs("\n  freeze: ", f);
    if (t->nfreeze == 0)
        fputs("none", f);
    for (int i = 0; i < t->nfreeze; i++)
        fprintf(f, "%s%s", i ? ", " : "", t->freeze[i].prefix);
    fprintf(f, "\n  init: ");
    if (t->init_args.has_args) {
        print_call(f, &init_members[t->init], &t->init_args);
    } else {
        fputs(init_members[t->init].name, f);
    }
    if (t->warmup)
        fprintf(f, "\n  warmup: linear(epochs=%d, start_factor=%.17g)", t->warmup, t->warmup_factor);
    if (t->nlr_for) {   /* printed only when given, so that existing listings stay as they were */
        fputs("\n  lr_for: ", f);
        for (int i = 0; i < t->nlr_for; i++)
            fprintf(f, "%s%s=%.17g", i ? ", " : "", t->lr_for[i].prefix, t->lr_for[i].lr);
    }
    fputc('\n', f);
}
