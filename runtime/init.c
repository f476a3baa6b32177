/* init.c: PyTorch's initialization formulas over the runtime's Rng (see init.h). */
#include "init.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INIT_NAME_(e, name, ...) #name,
static const char *const kind_names[] = {TRAIN_VOCAB_INITS(INIT_NAME_, INIT_NONE_, INIT_NONE_)};

const char *init_kind_name(InitKind k) { return kind_names[k]; }

bool init_kind_from_name(const char *name, InitKind *out) {
    for (int i = 0; i < (int)(sizeof kind_names / sizeof kind_names[0]); i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *out = (InitKind)i;
            return true;
        }
    return false;
}

static void fill(float *dst, long n, float v) {
    for (long i = 0; i < n; i++)
        dst[i] = v;
}

static void fill_uniform(Rng *r, float *dst, long n, double bound) {
    for (long i = 0; i < n; i++)
        dst[i] = rng_uniform_range(r, (float)-bound, (float)bound);
}

static const char *const nonlin_names[] = {"linear", "sigmoid", "tanh", "relu", "leaky_relu"};

void init_spec_default(InitKind kind, InitSpec *s) {
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->nonlinearity = NONLIN_LEAKY_RELU;
    s->std = 1;
    s->b = kind == INIT_UNIFORM ? 1 : 0;
    s->gain = 1;
}

static double gain_of(const InitSpec *s) {
    switch (s->nonlinearity) {
    case NONLIN_TANH: return 5.0 / 3.0;
    case NONLIN_RELU: return sqrt(2.0);
    case NONLIN_LEAKY_RELU: return sqrt(2.0 / (1.0 + s->a * s->a));
    default: return 1.0;
    }
}

void init_tensor_spec(Rng *r, const InitSpec *s, ParamRole role, int fan_in, int fan_out, float *dst, long n) {
    switch (role) {
    case ROLE_BN_WEIGHT:
    case ROLE_RUNNING_VAR:
        fill(dst, n, 1.0f);
        return;
    case ROLE_BN_BIAS:
    case ROLE_RUNNING_MEAN:
        fill(dst, n, 0.0f);
        return;
    case ROLE_BIAS:
        if (s->kind == INIT_DEFAULT && fan_in > 0)
            fill_uniform(r, dst, n, 1.0 / sqrt((double)fan_in));
        else
            fill(dst, n, 0.0f);
        return;
    case ROLE_WEIGHT:
        break;
    }
    switch (s->kind) {
    case INIT_DEFAULT:
        fill_uniform(r, dst, n, fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0.0);
        return;
    case INIT_KAIMING_NORMAL: {
        int fan = s->fan_out ? fan_out : fan_in;
        float std = fan > 0 ? (float)(gain_of(s) / sqrt((double)fan)) : 0.0f;
        for (long i = 0; i < n; i++)
            dst[i] = std * rng_normal(r);
        return;
    }
    case INIT_KAIMING_UNIFORM: {
        int fan = s->fan_out == 0 ? fan_in : fan_out; /* mode */
        fill_uniform(r, dst, n, fan > 0 ? gain_of(s) * sqrt(3.0 / fan) : 0.0);
        return;
    }
    case INIT_XAVIER_UNIFORM:
        fill_uniform(r, dst, n, fan_in + fan_out > 0 ? s->gain * sqrt(6.0 / (fan_in + fan_out)) : 0.0);
        return;
    case INIT_XAVIER_NORMAL: {
        float std = fan_in + fan_out > 0 ? (float)(s->gain * sqrt(2.0 / (fan_in + fan_out))) : 0.0f;
        for (long i = 0; i < n; i++)
            dst[i] = std * rng_normal(r);
        return;
    }
    case INIT_KIND_COUNT:
        return;
    case INIT_NORMAL:
        for (long i = 0; i < n; i++)
            dst[i] = (float)(s->mean + s->std * rng_normal(r));
        return;
    case INIT_UNIFORM:
        for (long i = 0; i < n; i++)
            dst[i] = rng_uniform_range(r, (float)s->a, (float)s->b);
        return;
    case INIT_CONSTANT:
        fill(dst, n, (float)s->val);
        return;
    }
}

void init_tensor(Rng *r, InitKind kind, ParamRole role, int fan_in, int fan_out, float *dst,
                 long n) {
    InitSpec s;
    init_spec_default(kind, &s);
    init_tensor_spec(r, &s, role, fan_in, fan_out, dst, n);
}

/* ---- "name(key = value, ...)" ---------------------------------------------------------------- */

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static const char *ident(const char *p, char *out, size_t size) {
    size_t k = 0;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_'))
        return NULL;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_') {
        if (k + 1 < size)
            out[k++] = *p;
        p++;
    }
    out[k] = 0;
    return p;
}

/* The argument names of each kind, in torch.nn.init's positional order (train_vocab.def). */
#define INIT_ARG_(arg, kind, def, range) #arg,
#define INIT_WORD_(arg, def, words) #arg,
#define INIT_ARGS_(e, name, ...) {__VA_ARGS__ NULL},
static const char *const kind_args[][4] = {TRAIN_VOCAB_INITS(INIT_ARGS_, INIT_ARG_, INIT_WORD_)};

static bool set_arg(InitSpec *s, const char *key, const char *word, double v, bool is_word, char *err, size_t n,
                    const char *text) {
    const char *kind = kind_names[s->kind];
    if (!strcmp(key, "mode") || !strcmp(key, "nonlinearity")) {
        if (!is_word)
            return snprintf(err, n, "--init '%s': %s's %s takes a name, not a number", text, kind, key), false;
        if (!strcmp(key, "mode")) {
            if (strcmp(word, "fan_in") && strcmp(word, "fan_out"))
                return snprintf(err, n, "--init '%s': mode is fan_in or fan_out, not '%s'", text, word), false;
            s->fan_out = !strcmp(word, "fan_out");
            return true;
        }
        for (int i = 0; i < 5; i++)
            if (!strcmp(word, nonlin_names[i])) {
                s->nonlinearity = (Nonlinearity)i;
                return true;
            }
        return snprintf(err, n, "--init '%s': nonlinearity is linear, sigmoid, tanh, relu or leaky_relu, not '%s'",
                        text, word), false;
    }
    if (is_word)
        return snprintf(err, n, "--init '%s': %s's %s takes a number, not '%s'", text, kind, key, word), false;
    if (!isfinite(v))
        return snprintf(err, n, "--init '%s': %s needs a finite number", text, key), false;
    if (!strcmp(key, "a"))
        s->a = v;
    else if (!strcmp(key, "b"))
        s->b = v;
    else if (!strcmp(key, "mean"))
        s->mean = v;
    else if (!strcmp(key, "std") || !strcmp(key, "gain")) {
        if (v <= 0)
            return snprintf(err, n, "--init '%s': %s must be above 0", text, key), false;
        *(!strcmp(key, "std") ? &s->std : &s->gain) = v;
    } else
        s->val = v;
    return true;
}

bool init_spec_parse(const char *text, InitSpec *s, char *err, size_t errlen) {
    char name[32], key[32], word[32];
    const char *p = ident(skip_ws(text), name, sizeof name);
    InitKind kind;
    if (!p || !init_kind_from_name(name, &kind)) {
        char kinds[200];
        size_t k = 0;
        kinds[0] = 0;
        for (int i = 0; i < INIT_KIND_COUNT && k < sizeof kinds; i++)
            k += (size_t)snprintf(kinds + k, sizeof kinds - k, "%s%s", i == 0 ? "" : i == INIT_KIND_COUNT - 1 ? " or " : ", ",
                                  kind_names[i]);
        return snprintf(err, errlen, "--init takes %s, not '%s'", kinds, text), false;
    }
    init_spec_default(kind, s);
    p = skip_ws(p);
    bool seen[3] = {false, false, false}, need_val = kind == INIT_CONSTANT;
    if (*p == '(') {
        p = skip_ws(p + 1);
        int positional = 0;
        while (*p && *p != ')') {
            const char *q = ident(p, key, sizeof key), *val = p;
            bool keyword = q && *skip_ws(q) == '=';
            if (keyword)
                val = skip_ws(skip_ws(q) + 1);
            int slot = -1;
            for (int i = 0; i < 3 && kind_args[kind][i]; i++)
                if (keyword ? !strcmp(kind_args[kind][i], key) : i == positional)
                    slot = i;
            if (slot < 0)
                return snprintf(err, errlen, keyword ? "--init '%s': %s has no argument '%s'"
                                                     : "--init '%s': %s takes fewer arguments%s",
                                text, name, keyword ? key : ""), false;
            if (seen[slot])
                return snprintf(err, errlen, "--init '%s': argument '%s' given twice", text, kind_args[kind][slot]),
                       false;
            seen[slot] = true;
            if (!keyword)
                positional++;
            const char *after = ident(val, word, sizeof word);
            double v = 0;
            bool is_word = after != NULL;
            if (!is_word) {
                char *end;
                v = strtod(val, &end);
                if (end == val)
                    return snprintf(err, errlen, "--init '%s': expected a value at '%.12s'", text, val), false;
                after = end;
            }
            if (!set_arg(s, kind_args[kind][slot], word, v, is_word, err, errlen, text))
                return false;
            if (kind == INIT_CONSTANT)
                need_val = false;
            p = skip_ws(after);
            if (*p == ',')
                p = skip_ws(p + 1);
            else if (*p != ')')
                return snprintf(err, errlen, "--init '%s': expected ',' or ')' at '%.12s'", text, p), false;
        }
        if (*p != ')')
            return snprintf(err, errlen, "--init '%s': expected ')'", text), false;
        p = skip_ws(p + 1);
    }
    if (*p)
        return snprintf(err, errlen, "--init '%s': unexpected '%.12s'", text, p), false;
    if (need_val)
        return snprintf(err, errlen, "--init '%s': constant needs its value, e.g. constant(0.5)", text), false;
    if (kind == INIT_UNIFORM && !(s->a < s->b))
        return snprintf(err, errlen, "--init '%s': uniform needs a < b", text), false;
    return true;
}

const char *init_spec_text(const InitSpec *s, char *buf, size_t size) {
    switch (s->kind) {
    case INIT_KAIMING_NORMAL:
        snprintf(buf, size, "kaiming_normal(a=%g, mode=%s, nonlinearity=%s)", s->a, s->fan_out ? "fan_out" : "fan_in",
                 nonlin_names[s->nonlinearity]);
        break;
    case INIT_KAIMING_UNIFORM:
        snprintf(buf, size, "kaiming_uniform(a=%g, mode=%s, nonlinearity=%s)", s->a, s->fan_out ? "fan_out" : "fan_in",
                 nonlin_names[s->nonlinearity]);
        break;
    case INIT_XAVIER_UNIFORM: snprintf(buf, size, "xavier_uniform(gain=%g)", s->gain); break;
    case INIT_XAVIER_NORMAL: snprintf(buf, size, "xavier_normal(gain=%g)", s->gain); break;
    case INIT_NORMAL: snprintf(buf, size, "normal(mean=%g, std=%g)", s->mean, s->std); break;
    case INIT_UNIFORM: snprintf(buf, size, "uniform(a=%g, b=%g)", s->a, s->b); break;
    case INIT_CONSTANT: snprintf(buf, size, "constant(val=%g)", s->val); break;
    default: snprintf(buf, size, "default"); break;
    }
    return buf;
}

void init_conv_fans(int out, int in, int groups, int kh, int kw, int *fan_in, int *fan_out) {
    *fan_in = in / (groups > 0 ? groups : 1) * kh * kw;
    *fan_out = out * kh * kw;
}

void init_linear_fans(int out, int in, int *fan_in, int *fan_out) {
    *fan_in = in;
    *fan_out = out;
}
