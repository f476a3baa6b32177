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

/* One parameter of a call: name, default (NAN: required), range, integer or list. */
typedef struct Param {
    const char *name;
    double def, lo, hi;
    bool integer, list;
} Param;

/* Binds positional then keyword arguments to params; out[i] receives each value (a list's
 * values go to list[] and *nlist). */
static bool bind(const char *what, Call *c, const Param *params, double *out, double *list, int *nlist,
                 char *err) {
    int np = 0;
    while (params[np].name)
        np++;
    bool set[CALL_MAX_ARGS] = {false};
    int positional = 0;
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
        if (q->list != a->is_list)
            return rt_fail(err, "%s: %s's '%s' takes %s", what, c->name, q->name,
                           q->list ? "a [list] of numbers" : "one number");
        bool word_param = strcmp(q->name, "mode") == 0;
        for (int k = 0; k < a->nvalues; k++) {
            double v = a->values[k];
            bool word = v == CALL_WORD_MIN || v == CALL_WORD_MAX;
            if (word != word_param)
                return rt_fail(err, "%s: %s's '%s' takes %s", what, c->name, q->name,
                               word_param ? "min or max" : "a number, not min or max");
            if (word)
                v = a->values[k] = v == CALL_WORD_MAX ? 1 : 0;
            if (v < q->lo || v > q->hi || (q->integer && v != floor(v)))
                return rt_fail(err, "%s: %s's '%s' needs %s from %g to %g, not %g", what, c->name, q->name,
                               q->integer ? "integers" : "a number", q->lo, q->hi, v);
        }
        if (q->list) {
            memcpy(list, a->values, sizeof(double) * (size_t)a->nvalues);
            *nlist = a->nvalues;
        } else {
            out[p] = a->values[0];
        }
    }
    for (int p = 0; p < np; p++)
        if (!set[p]) {
            if (isnan(params[p].def))
                return rt_fail(err, "%s: %s needs its argument '%s'", what, c->name, params[p].name);
            out[p] = params[p].def;
        }
    return true;
}

#define REQ NAN
#define BIG 1e30
#define END {NULL, 0, 0, 0, false, false}

/* X(kind, name, params) in the order of cnntrain.h's CNN_SCHED_*. */
#define SCHEDULES(X)                                                                                      \
    X(CNN_SCHED_CONSTANT, "constant", ({END}))                                                          \
    X(CNN_SCHED_STEP, "step", ({{"every", REQ, 1, 1e9, true, false}, {"gamma", 0.1, 1e-30, BIG, false, false}, END})) \
    X(CNN_SCHED_MULTISTEP, "multistep",                                                                   \
      ({{"milestones", REQ, 1, 1e9, true, true}, {"gamma", 0.1, 1e-30, BIG, false, false}, END}))          \
    X(CNN_SCHED_EXPONENTIAL, "exponential", ({{"gamma", REQ, 1e-30, BIG, false, false}, END}))            \
    X(CNN_SCHED_COSINE, "cosine", ({{"min_lr", 0, 0, BIG, false, false}, {"t_max", 0, 1, 1e9, true, false}, END})) \
    X(CNN_SCHED_ONECYCLE, "onecycle",                                                                     \
      ({{"max_lr", REQ, 1e-30, BIG, false, false}, {"pct_start", 0.3, 1e-9, 1 - 1e-9, false, false},        \
        {"cycle_momentum", 0, 0, 1, true, false}, END}))                                                 \
    X(CNN_SCHED_PLATEAU, "plateau",                                                                       \
      ({{"factor", 0.5, 1e-9, 1 - 1e-9, false, false}, {"patience", 5, 0, 1e9, true, false},              \
        {"mode", 0, 0, 1, true, false}, END}))

#define AUGMENTS(X)                                                                              \
    X(CNN_AUG_RANDOM_CROP, "random_crop", ({{"size", 0, 1, 1e6, true, false}, {"pad", 0, 0, 1e6, true, false}, END})) \
    X(CNN_AUG_HFLIP, "hflip", ({{"p", 0.5, 0, 1, false, false}, END}))                           \
    X(CNN_AUG_VFLIP, "vflip", ({{"p", 0.5, 0, 1, false, false}, END}))                           \
    X(CNN_AUG_ROTATE, "rotate", ({{"degrees", REQ, 1e-9, 180, false, false}, END}))              \
    X(CNN_AUG_TRANSLATE, "translate", ({{"fraction", REQ, 1e-9, 1 - 1e-9, false, false}, END}))  \
    X(CNN_AUG_ERASE, "erase", ({{"p", 0.5, 0, 1, false, false}, END}))                          \
    X(CNN_AUG_COLOR_JITTER, "color_jitter", ({{"brightness", 0, 0, 1e6, false, false},           \
      {"contrast", 0, 0, 1e6, false, false}, {"saturation", 0, 0, 1e6, false, false},             \
      {"hue", 0, 0, 0.5, false, false}, END}))                                                   \
    X(CNN_AUG_GRAYSCALE, "grayscale", ({{"p", 0.1, 0, 1, false, false}, END}))                   \
    X(CNN_AUG_RANDOM_RESIZED_CROP, "random_resized_crop", ({{"scale", NAN, 0, 1, false, true},   \
      {"ratio", NAN, 1e-6, 1e6, false, true}, END}))                                              \
    X(CNN_AUG_AFFINE, "affine", ({{"degrees", 0, 0, 180, false, false}, {"translate", 0, 0, 1, false, false}, \
      {"scale", NAN, 0, 1e6, false, true}, {"shear", 0, 0, 89, false, false}, END}))                      \
    X(CNN_AUG_RESIZE, "resize", ({{"size", REQ, 1, 4096, true, false}, END}))                      \
    X(CNN_AUG_CENTER_CROP, "center_crop", ({{"size", 0, 1, 4096, true, false}, END}))

#define UNPAREN(...) __VA_ARGS__
#define TABLE_ROW(kind, name, params) {kind, name, UNPAREN params},
typedef struct Kind {
    int kind;
    const char *name;
    Param params[5];
} Kind;
static const Kind schedules[] = {SCHEDULES(TABLE_ROW)};
static const Kind augments[] = {AUGMENTS(TABLE_ROW)};
enum { NSCHEDULES = sizeof schedules / sizeof *schedules, NAUGMENTS = sizeof augments / sizeof *augments };

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
    double v[4] = {0}, list[CALL_MAX_LIST];
    int nlist = 0;
    if (!bind("--schedule", &c, k->params, v, list, &nlist, err))
        return false;
    d->schedule = k->kind;
    switch (k->kind) {
    case CNN_SCHED_STEP: d->step_every = (int)v[0]; d->gamma = (float)v[1]; break;
    case CNN_SCHED_MULTISTEP:
        for (int i = 0; i < nlist; i++) {
            milestones[i] = (int)list[i];
            if (i && milestones[i] <= milestones[i - 1])
                return rt_fail(err, "--schedule: multistep's milestones must increase");
        }
        d->nmilestones = nlist;
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

bool augment_parse(const char *text, CnnAugment *out, int max, int *n, char *err) {
    *n = 0;
    if (strcmp(text, "none") == 0)
        return true;
    Call calls[16];
    int ncalls;
    char names[160];
    if (!call_parse_list("--augment", text, calls, max < 16 ? max : 16, &ncalls, err))
        return false;
    for (int i = 0; i < ncalls; i++) {
        const Kind *k = find_kind(augments, NAUGMENTS, calls[i].name);
        if (!k)
            return rt_fail(err, "--augment: unknown augmentation '%s' (one of %s, or none)", calls[i].name,
                           kind_names(augments, NAUGMENTS, names, sizeof names));
        double v[5] = {0}, list[CALL_MAX_LIST];
        int nlist = 0;
        CnnAugment a = {.kind = k->kind, .scale = {0.08f, 1.0f}, .ratio = {3.0f / 4.0f, 4.0f / 3.0f}};
        if (k->kind == CNN_AUG_AFFINE) {   /* numbers and an optional scale = [lo, hi] */
            a.scale[0] = a.scale[1] = 1;
            for (int j = 0; j < calls[i].nargs; j++) {
                CallArg *ca = &calls[i].args[j];
                static const char *const names[] = {"degrees", "translate", "scale", "shear"};
                const char *key = ca->key[0] ? ca->key : j < 4 ? names[j] : "";
                double v = ca->values[0];
                bool ok;
                if (!strcmp(key, "scale")) {
                    ok = ca->is_list && ca->nvalues == 2 && ca->values[0] > 0 && ca->values[0] <= ca->values[1];
                    if (ok)
                        a.scale[0] = (float)ca->values[0], a.scale[1] = (float)ca->values[1];
                } else {
                    ok = !ca->is_list && ca->nvalues == 1;
                    if (!strcmp(key, "degrees"))
                        ok = ok && v >= 0 && v <= 180, a.degrees = (float)v;
                    else if (!strcmp(key, "translate"))
                        ok = ok && v >= 0 && v <= 1, a.fraction = (float)v;
                    else if (!strcmp(key, "shear"))
                        ok = ok && v >= 0 && v < 90, a.shear = (float)v;
                    else
                        ok = false;
                }
                if (!ok)
                    return rt_fail(err, "--augment: affine takes degrees in [0, 180], translate in [0, 1], "
                                   "scale = [lo, hi] with 0 < lo <= hi and shear in [0, 90)");
            }
            out[(*n)++] = a;
            continue;
        }
        if (k->kind == CNN_AUG_RANDOM_RESIZED_CROP) {   /* two [lo, hi] lists, both optional */
            for (int j = 0; j < calls[i].nargs; j++) {
                CallArg *ca = &calls[i].args[j];
                const char *key = ca->key[0] ? ca->key : j == 0 ? "scale" : j == 1 ? "ratio" : "";
                float *dst = !strcmp(key, "scale") ? a.scale : !strcmp(key, "ratio") ? a.ratio : NULL;
                bool ok = dst && ca->is_list && ca->nvalues == 2 && ca->values[0] > 0 && ca->values[0] <= ca->values[1] &&
                          (dst == a.ratio || ca->values[1] <= 1);
                if (!ok)
                    return rt_fail(err, "--augment: random_resized_crop takes scale = [lo, hi] with 0 < lo <= hi <= 1 "
                                   "and ratio = [lo, hi] with 0 < lo <= hi");
                dst[0] = (float)ca->values[0];
                dst[1] = (float)ca->values[1];
            }
            out[(*n)++] = a;
            continue;
        }
        if (!bind("--augment", &calls[i], k->params, v, list, &nlist, err))
            return false;
        switch (k->kind) {
        case CNN_AUG_RANDOM_CROP:
            a.size = (int)v[0];
            a.pad = (int)v[1];
            if (a.size == 0 && a.pad == 0 && calls[i].nargs == 0)
                a.pad = 4;   /* random_crop alone: the spec's pad 4 */
            break;
        case CNN_AUG_COLOR_JITTER:
            a.brightness = (float)v[0], a.contrast = (float)v[1], a.saturation = (float)v[2], a.hue = (float)v[3];
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
