/* train_args.c: the spec's call syntax for the flags that take one (--schedule 'step(3,
 * gamma = 0.5)', --augment 'hflip, random_crop(pad = 2)'): a tiny parser and the tables of
 * argument names, defaults and ranges, which mirror docs/language.md, Training settings (the compiler checks the
 * same for the train section in compiler/train_config.c). */
#include "rt.h"
#include "train.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing ------------------------------------------------------------------------------ */

typedef struct Scan {
    const char *what, *s;
    size_t pos;
    char *err;
} Scan;

static void skip_space(Scan *sc) {
    while (isspace((unsigned char)sc->s[sc->pos]))
        sc->pos++;
}

static bool scan_fail(Scan *sc, const char *expected) {
    skip_space(sc);
    char c = sc->s[sc->pos];
    if (c)
        return rt_fail(sc->err, "%s '%s': expected %s at '%.12s'", sc->what, sc->s, expected, sc->s + sc->pos);
    return rt_fail(sc->err, "%s '%s': expected %s at the end", sc->what, sc->s, expected);
}

static bool scan_ident(Scan *sc, char *out, size_t size) {
    skip_space(sc);
    size_t start = sc->pos;
    if (!isalpha((unsigned char)sc->s[start]) && sc->s[start] != '_')
        return false;
    while (isalnum((unsigned char)sc->s[sc->pos]) || sc->s[sc->pos] == '_')
        sc->pos++;
    size_t len = sc->pos - start;
    if (len >= size)
        len = size - 1;
    memcpy(out, sc->s + start, len);
    out[len] = 0;
    return true;
}

static bool scan_number(Scan *sc, double *out) {
    skip_space(sc);
    const char *p = sc->s + sc->pos;
    /* plateau's mode = min | max: the only words a value may be (bind checks the argument). */
    if ((strncmp(p, "min", 3) == 0 || strncmp(p, "max", 3) == 0) && !isalnum((unsigned char)p[3]) && p[3] != '_') {
        *out = p[1] == 'a' ? CALL_WORD_MAX : CALL_WORD_MIN;
        sc->pos += 3;
        return true;
    }
    if (strncmp(p, "true", 4) == 0 && !isalnum((unsigned char)p[4])) {
        *out = 1;
        sc->pos += 4;
        return true;
    }
    if (strncmp(p, "false", 5) == 0 && !isalnum((unsigned char)p[5])) {
        *out = 0;
        sc->pos += 5;
        return true;
    }
    char *end;
    double v = strtod(p, &end);
    if (end == p || !isfinite(v) || isalpha((unsigned char)*p))
        return scan_fail(sc, "a number");
    sc->pos += (size_t)(end - p);
    *out = v;
    return true;
}

static bool scan_char(Scan *sc, char c) {
    skip_space(sc);
    if (sc->s[sc->pos] != c)
        return false;
    sc->pos++;
    return true;
}

static bool scan_value(Scan *sc, CallArg *a) {
    if (scan_char(sc, '[')) {
        a->is_list = true;
        if (scan_char(sc, ']'))
            return true;
        do {
            if (a->nvalues == CALL_MAX_LIST)
                return rt_fail(sc->err, "%s '%s': more than %d values in a list", sc->what, sc->s, CALL_MAX_LIST);
            if (!scan_number(sc, &a->values[a->nvalues++]))
                return false;
        } while (scan_char(sc, ','));
        return scan_char(sc, ']') || scan_fail(sc, "',' or ']'");
    }
    a->nvalues = 1;
    return scan_number(sc, &a->values[0]);
}

static bool scan_call(Scan *sc, Call *c) {
    memset(c, 0, sizeof *c);
    if (!scan_ident(sc, c->name, sizeof c->name))
        return scan_fail(sc, "a name");
    if (!scan_char(sc, '('))
        return true;
    if (scan_char(sc, ')'))
        return true;
    do {
        if (c->nargs == CALL_MAX_ARGS)
            return rt_fail(sc->err, "%s '%s': too many arguments", sc->what, sc->s);
        CallArg *a = &c->args[c->nargs++];
        size_t save = sc->pos;
        if (scan_ident(sc, a->key, sizeof a->key) && strcmp(a->key, "true") && strcmp(a->key, "false")) {
            if (!scan_char(sc, '=')) {
                if (strcmp(a->key, "min") && strcmp(a->key, "max"))
                    return scan_fail(sc, "'='");
                sc->pos = save;   /* a positional min or max */
                a->key[0] = 0;
            }
        } else {
            sc->pos = save;
            a->key[0] = 0;
        }
        if (!scan_value(sc, a))
            return false;
    } while (scan_char(sc, ','));
    return scan_char(sc, ')') || scan_fail(sc, "',' or ')'");
}

bool call_parse_list(const char *what, const char *text, Call *calls, int max, int *n, char *err) {
    Scan sc = {what, text, 0, err};
    *n = 0;
    skip_space(&sc);
    if (!text[sc.pos])
        return scan_fail(&sc, "a name");
    do {
        if (*n == max)
            return rt_fail(err, "%s '%s': more than %d items", what, text, max);
        if (!scan_call(&sc, &calls[(*n)++]))
            return false;
    } while (scan_char(&sc, ','));
    skip_space(&sc);
    return !text[sc.pos] || scan_fail(&sc, "',' or the end");
}

/* ---- binding ------------------------------------------------------------------------------ */

/* The vocabulary's tables come from train_vocab.def, which the compiler reads too: names,
 * argument order, defaults and ranges are said there once. */
#include "train_vocab.def"

enum { RK_INT, RK_I64, RK_NUM, RK_BOOL, RK_NUMS, RK_INTS, RK_WORD };

/* One parameter of a call: name, default (NULL: required, "none": unset), kind, range (open
 * ends flagged), and for a word parameter its words. */
typedef struct Param {
    const char *name, *def;
    int kind;
    double lo, hi;
    int lo_open, hi_open;
    const char *words;
} Param;

static bool param_list(const Param *q) { return q->kind == RK_NUMS || q->kind == RK_INTS; }
static bool param_integer(const Param *q) { return q->kind == RK_INT || q->kind == RK_I64 || q->kind == RK_INTS; }

/* The value of q's default: 0 when unset ("none"), a word's index, true 1, false 0. */
static double param_default(const Param *q) {
    if (!strcmp(q->def, "none") || !strcmp(q->def, "false"))
        return 0;
    if (!strcmp(q->def, "true"))
        return 1;
    if (q->words) {
        int k = 0;
        size_t n = strlen(q->def);
        for (const char *p = q->words; p; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL, k++)
            if (!strncmp(p, q->def, n) && (p[n] == '|' || !p[n]))
                return k;
    }
    return strtod(q->def, NULL);
}

/* "an integer >= 1", "a number > 0 and < 1", "a number from 0 to 1" */
static const char *range_text(const Param *q, char *buf, size_t size) {
    const char *what = param_integer(q) ? "an integer" : "a number";
    bool lo = isfinite(q->lo), hi = isfinite(q->hi);
    if (lo && hi && !q->lo_open && !q->hi_open)
        snprintf(buf, size, "%s from %g to %g", what, q->lo, q->hi);
    else if (lo && hi)
        snprintf(buf, size, "%s %s %g and %s %g", what, q->lo_open ? ">" : ">=", q->lo, q->hi_open ? "<" : "<=", q->hi);
    else if (lo)
        snprintf(buf, size, "%s %s %g", what, q->lo_open ? ">" : ">=", q->lo);
    else
        snprintf(buf, size, "%s", what);
    return buf;
}

static bool in_range(const Param *q, double v) {
    if (q->lo_open ? !(v > q->lo) : !(v >= q->lo))
        return false;
    if (q->hi_open ? !(v < q->hi) : !(v <= q->hi))
        return false;
    return !param_integer(q) || (v == floor(v) && fabs(v) <= 2147483647.0);
}

/* Binds positional then keyword arguments to params; out[i] receives each value (a list's
 * values go to lists[i] and nlist[i]); given[i] says whether argument i was written. */
static bool bind(const char *what, Call *c, const Param *params, double *out, double (*lists)[CALL_MAX_LIST],
                 int *nlist, bool *given, char *err) {
    int np = 0;
    while (params[np].name)
        np++;
    bool set[CALL_MAX_ARGS] = {false};
    int positional = 0;
    char range[96];
    for (int i = 0; i < c->nargs; i++) {
        CallArg *a = &c->args[i];
        int p = -1;
        if (a->key[0]) {
            for (int k = 0; k < np; k++)
                if (strcmp(params[k].name, a->key) == 0)
                    p = k;
            if (p < 0)
                return rt_fail(err, "%s: %s has no argument '%s'", what, c->name, a->key);
        } else {
            p = positional++;
            if (p >= np)
                return rt_fail(err, "%s: %s takes %d argument%s", what, c->name, np, np == 1 ? "" : "s");
        }
        if (set[p])
            return rt_fail(err, "%s: %s's argument '%s' given twice", what, c->name, params[p].name);
        set[p] = true;
        const Param *q = &params[p];
        if (param_list(q) != a->is_list)
            return rt_fail(err, "%s: %s's '%s' takes %s", what, c->name, q->name,
                           param_list(q) ? "a [list] of numbers" : "one value");
        bool word_param = q->kind == RK_WORD;
        for (int k = 0; k < a->nvalues; k++) {
            double v = a->values[k];
            bool word = v == CALL_WORD_MIN || v == CALL_WORD_MAX;
            if (word != word_param)
                return rt_fail(err, "%s: %s's '%s' takes %s", what, c->name, q->name,
                               word_param ? "min or max" : "a number, not min or max");
            if (word) {
                v = a->values[k] = v == CALL_WORD_MAX ? 1 : 0;
                continue;
            }
            if (q->kind == RK_BOOL ? v != 0 && v != 1 : !in_range(q, v))
                return rt_fail(err, "%s: %s's '%s' must be %s, not %g", what, c->name, q->name,
                               q->kind == RK_BOOL ? "true or false" : range_text(q, range, sizeof range), v);
            if (q->kind == RK_INTS && k > 0 && v <= a->values[k - 1])
                return rt_fail(err, "%s: %s's '%s' must increase", what, c->name, q->name);
        }
        if (param_list(q)) {
            memcpy(lists[p], a->values, sizeof(double) * (size_t)a->nvalues);
            nlist[p] = a->nvalues;
        } else {
            out[p] = a->values[0];
        }
    }
    for (int p = 0; p < np; p++) {
        given[p] = set[p];
        if (!set[p]) {
            if (!params[p].def)
                return rt_fail(err, "%s: %s needs its argument '%s'", what, c->name, params[p].name);
            out[p] = param_default(&params[p]);
            nlist[p] = 0;
        }
    }
    return true;
}

#define RT_A(arg, kind, def, range) {#arg, def, RK_##kind, TV_##range, NULL},
#define RT_W(arg, def, words) {#arg, def, RK_WORD, TV_ANY, words},
#define RT_ROW(e, name, ...) {CNN_##e, #name, {__VA_ARGS__{NULL, NULL, 0, 0, 0, 0, 0, NULL}}},
enum { MAX_PARAMS = 8 };
typedef struct Kind {
    int kind;
    const char *name;
    Param params[MAX_PARAMS];
} Kind;
static const Kind schedules[] = {TRAIN_VOCAB_SCHEDULES(RT_ROW, RT_A, RT_W)};
static const Kind augments[] = {TRAIN_VOCAB_AUGMENTS(RT_ROW, RT_A, RT_W)};
enum { NSCHEDULES = sizeof schedules / sizeof *schedules, NAUGMENTS = sizeof augments / sizeof *augments };

/* The runtime's kinds (cnntrain.h) are the vocabulary's, in the same order: the compiler
 * writes them into every program as numbers. */
#define RT_NONE(...)
#define RT_ORDER(e, name, ...) TV_ORDER_##e,
enum { TRAIN_VOCAB_SCHEDULES(RT_ORDER, RT_NONE, RT_NONE) };
enum { TRAIN_VOCAB_AUGMENTS(RT_ORDER, RT_NONE, RT_NONE) };
enum { TRAIN_VOCAB_LOSSES(RT_ORDER, RT_NONE, RT_NONE) };
#define RT_SAME(e, name, ...) _Static_assert(TV_ORDER_##e == CNN_##e, "cnntrain.h's CNN_" #e " is not train_vocab.def's");
TRAIN_VOCAB_SCHEDULES(RT_SAME, RT_NONE, RT_NONE)
TRAIN_VOCAB_AUGMENTS(RT_SAME, RT_NONE, RT_NONE)
TRAIN_VOCAB_LOSSES(RT_SAME, RT_NONE, RT_NONE)

#define RT_NAME(e, name, ...) #name,
static const char *const loss_names[] = {TRAIN_VOCAB_LOSSES(RT_NAME, RT_NONE, RT_NONE)};
static const char *const optimizer_names[] = {TRAIN_VOCAB_OPTIMIZERS(RT_NAME, RT_NONE, RT_NONE)};
_Static_assert(CNN_SGD == 0 && CNN_ADAM == 1 && CNN_ADAMW == 2, "cnn_train_types.h's optimizers are not train_vocab.def's");

int train_vocab_find(const char *family, const char *name) {
    const char *const *names = !strcmp(family, "loss") ? loss_names : !strcmp(family, "optimizer") ? optimizer_names : NULL;
    int n = !strcmp(family, "loss") ? (int)(sizeof loss_names / sizeof *loss_names)
                                    : (int)(sizeof optimizer_names / sizeof *optimizer_names);
    for (int i = 0; names && i < n; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}

const char *train_vocab_names(const char *family, char *buf, size_t size) {
    const char *const *names = !strcmp(family, "loss") ? loss_names : optimizer_names;
    int n = !strcmp(family, "loss") ? (int)(sizeof loss_names / sizeof *loss_names)
                                    : (int)(sizeof optimizer_names / sizeof *optimizer_names);
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < n && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
    return buf;
}

/* The optimizers' defaults, from the vocabulary (torch.optim's). */
#define RT_OPT_ROW(e, name, ...) {CNN_##e, #name, {__VA_ARGS__{NULL, NULL, 0, 0, 0, 0, 0, NULL}}},
#define CNN_OPT_SGD CNN_SGD
#define CNN_OPT_ADAM CNN_ADAM
#define CNN_OPT_ADAMW CNN_ADAMW
static const Kind optimizers[] = {TRAIN_VOCAB_OPTIMIZERS(RT_OPT_ROW, RT_A, RT_W)};

double train_vocab_optimizer_default(int kind, const char *arg) {
    for (int i = 0; i < (int)(sizeof optimizers / sizeof *optimizers); i++)
        for (const Param *q = optimizers[i].params; optimizers[i].kind == kind && q->name; q++)
            if (!strcmp(q->name, arg))
                return q->def ? param_default(q) : 0;
    return 0;
}

static const Kind *find_kind(const Kind *table, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

static const char *kind_names(const Kind *table, int n, char *buf, size_t size) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < n && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%s", i ? ", " : "", table[i].name);
    return buf;
}

const char *schedule_name(int kind) {
    return kind >= 0 && kind < NSCHEDULES ? schedules[kind].name : "?";
}

const char *augment_name(int kind) {
    return kind >= 0 && kind < NAUGMENTS ? augments[kind].name : "?";
}

bool schedule_parse(const char *text, CnnTrainDefaults *d, int *milestones, char *err) {
    Call c;
    int n;
    char names[160];
    if (!call_parse_list("--schedule", text, &c, 1, &n, err))
        return false;
    const Kind *k = find_kind(schedules, NSCHEDULES, c.name);
    if (!k)
        return rt_fail(err, "--schedule: unknown schedule '%s' (one of %s)", c.name,
                       kind_names(schedules, NSCHEDULES, names, sizeof names));
    double v[MAX_PARAMS] = {0}, lists[MAX_PARAMS][CALL_MAX_LIST];
    int nlist[MAX_PARAMS] = {0};
    bool given[MAX_PARAMS];
    if (!bind("--schedule", &c, k->params, v, lists, nlist, given, err))
        return false;
    d->schedule = k->kind;
    switch (k->kind) {
    case CNN_SCHED_STEP: d->step_every = (int)v[0]; d->gamma = (float)v[1]; break;
    case CNN_SCHED_MULTISTEP:
        for (int i = 0; i < nlist[0]; i++)
            milestones[i] = (int)lists[0][i];
        d->nmilestones = nlist[0];
        d->milestones = milestones;
        d->gamma = (float)v[1];
        break;
    case CNN_SCHED_EXPONENTIAL: d->gamma = (float)v[0]; break;
    case CNN_SCHED_COSINE: d->min_lr = (float)v[0]; d->t_max = (int)v[1]; break;
    case CNN_SCHED_ONECYCLE: d->max_lr = (float)v[0]; d->pct_start = (float)v[1]; d->cycle_momentum = (int)v[2]; break;
    case CNN_SCHED_PLATEAU: d->factor = (float)v[0]; d->patience = (int)v[1]; d->plateau_max = (int)v[2]; break;
    default: break;
    }
    return true;
}

/* A [lo, hi] pair list (random_resized_crop's scale and ratio, affine's scale): 0 < lo <= hi. */
static bool pair_ok(const double *l, int n, double max) { return n == 2 && l[0] > 0 && l[0] <= l[1] && l[1] <= max; }

bool augment_parse(const char *text, CnnAugment *out, int max, int *n, char *err) {
    *n = 0;
    if (strcmp(text, "none") == 0)
        return true;
    Call calls[16];
    int ncalls;
    char names[200];
    if (!call_parse_list("--augment", text, calls, max < 16 ? max : 16, &ncalls, err))
        return false;
    for (int i = 0; i < ncalls; i++) {
        const Kind *k = find_kind(augments, NAUGMENTS, calls[i].name);
        if (!k)
            return rt_fail(err, "--augment: unknown augmentation '%s' (one of %s, or none)", calls[i].name,
                           kind_names(augments, NAUGMENTS, names, sizeof names));
        double v[MAX_PARAMS] = {0}, lists[MAX_PARAMS][CALL_MAX_LIST];
        int nlist[MAX_PARAMS] = {0};
        bool given[MAX_PARAMS];
        if (!bind("--augment", &calls[i], k->params, v, lists, nlist, given, err))
            return false;
        CnnAugment a = {.kind = k->kind, .scale = {0.08f, 1.0f}, .ratio = {3.0f / 4.0f, 4.0f / 3.0f}};
        switch (k->kind) {
        case CNN_AUG_RANDOM_CROP:
            a.size = (int)v[0];
            a.pad = given[0] && !given[1] ? 0 : (int)v[1];   /* a size without pad: torchvision's pad 0 */
            break;
        case CNN_AUG_COLOR_JITTER:
            a.brightness = (float)v[0], a.contrast = (float)v[1], a.saturation = (float)v[2], a.hue = (float)v[3];
            break;
        case CNN_AUG_RANDOM_RESIZED_CROP:
            if ((nlist[0] && !pair_ok(lists[0], nlist[0], 1)) || (nlist[1] && !pair_ok(lists[1], nlist[1], INFINITY)))
                return rt_fail(err, "--augment: random_resized_crop takes scale = [lo, hi] with 0 < lo <= hi <= 1 "
                               "and ratio = [lo, hi] with 0 < lo <= hi");
            if (nlist[0])
                a.scale[0] = (float)lists[0][0], a.scale[1] = (float)lists[0][1];
            if (nlist[1])
                a.ratio[0] = (float)lists[1][0], a.ratio[1] = (float)lists[1][1];
            break;
        case CNN_AUG_AFFINE:
            if (nlist[2] && !pair_ok(lists[2], nlist[2], INFINITY))
                return rt_fail(err, "--augment: affine's scale must be [lo, hi] with 0 < lo <= hi");
            a.degrees = (float)v[0], a.fraction = (float)v[1], a.shear = (float)v[3];
            a.scale[0] = nlist[2] ? (float)lists[2][0] : 1.0f;
            a.scale[1] = nlist[2] ? (float)lists[2][1] : 1.0f;
            break;
        case CNN_AUG_RESIZE:
        case CNN_AUG_CENTER_CROP: a.size = (int)v[0]; break;
        case CNN_AUG_ROTATE: a.degrees = (float)v[0]; break;
        case CNN_AUG_TRANSLATE: a.fraction = (float)v[0]; break;
        default: a.p = (float)v[0]; break;
        }
        out[(*n)++] = a;
    }
    return true;
}
