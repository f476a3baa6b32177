/* args.c: the one argument binder (args.h), shared by layers, blocks and train settings. */
#include "args.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

int args_count(const ArgSpec *spec) {
    int n = 0;
    while (spec && spec[n].name)
        n++;
    return n;
}

const char *args_num_text(double x) {
    char buf[40];
    if (x == floor(x) && fabs(x) < 1e15) /* %g would give 1e+02 for 100 */
        return arena_printf("%.0f", x);
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    return arena_strdup(buf);
}

const char *args_value_text(const Val *v) {
    switch (v->kind) {
    case V_INT: return arena_printf("%lld", v->i);
    case V_FLOAT: return args_num_text(v->f);
    case V_BOOL: return v->i ? "true" : "false";
    case V_WORD: return v->word;
    case V_LIST: {
        const char *s = "[";
        for (int i = 0; i < v->n; i++)
            s = arena_printf("%s%s%s", s, i ? ", " : "", args_value_text(&v->items[i]));
        return arena_printf("%s]", s);
    }
    case V_NONE: break;
    }
    return "nothing";
}

const char *args_signature(const ArgSpec *spec) {
    if (!spec || !spec[0].name)
        return "no arguments";
    const char *s = "(";
    for (int i = 0; spec[i].name; i++)
        s = arena_printf("%s%s%s%s%s", s, i ? ", " : "", spec[i].name, spec[i].def ? "=" : "",
                         spec[i].def ? spec[i].def : "");
    return arena_printf("%s)", s);
}

const char *args_range_text(bool integer, bool plural, ArgRange r) {
    const char *what = integer ? (plural ? "integers" : "an integer") : (plural ? "numbers" : "a number");
    bool has_lo = isfinite(r.lo), has_hi = isfinite(r.hi);
    if (has_lo && has_hi && !r.lo_open && !r.hi_open)
        return arena_printf("%s between %s and %s", what, args_num_text(r.lo), args_num_text(r.hi));
    const char *s = what;
    if (has_lo)
        s = arena_printf("%s %s %s", s, r.lo_open ? ">" : ">=", args_num_text(r.lo));
    if (has_hi)
        s = arena_printf("%s%s %s %s", s, has_lo ? " and" : "", r.hi_open ? "<" : "<=", args_num_text(r.hi));
    return s;
}

bool args_word_listed(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL)
        if (!strncmp(p, name, n) && (p[n] == '|' || !p[n]))
            return true;
    return false;
}

/* "none or tanh", "min or max", "fan_in or fan_out", "linear, sigmoid, tanh, relu or leaky_relu" */
static const char *words_text(const char *list) {
    const char *s = "";
    int n = 1;
    for (const char *p = list; *p; p++)
        n += *p == '|';
    int k = 0;
    for (const char *p = list; p; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL, k++) {
        const char *end = strchr(p, '|');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        s = arena_printf("%s%s%.*s", s, k == 0 ? "" : k == n - 1 ? " or " : ", ", (int)len, p);
    }
    return s;
}

static bool in_range(double x, ArgRange r) {
    return (r.lo_open ? x > r.lo : x >= r.lo) && (r.hi_open ? x < r.hi : x <= r.hi);
}

/* The range shown for an integer of the given C type: an open-ended range ends at its maximum
 * when the value given exceeds it. */
static ArgRange int_range(ArgRange r, const Val *v, double type_max) {
    if (v->kind == V_INT && (double)v->i > type_max && !isfinite(r.hi))
        r.hi = type_max;
    return r;
}

static bool int_fits(const ArgSpec *a, const Val *v, double type_max) {
    return v->kind == V_INT && in_range((double)v->i, a->range) && (double)v->i <= type_max &&
           (double)v->i >= -type_max;
}

bool args_check(const ArgSpec *a, const Val *v, const char *subject, bool report) {
    if (v->kind == V_NONE)
        return false;
    if (a->words && v->kind == V_WORD && args_word_listed(a->words, v->word))
        return true;
    switch (a->kind) {
    case AK_ANY: return true;
    case AK_INT:
    case AK_I64: {
        double type_max = a->kind == AK_I64 ? (double)LLONG_MAX : (double)INT_MAX;
        if (int_fits(a, v, type_max))
            return true;
        if (report)
            diag_error(v->span, "%s must be %s, got %s", subject,
                       args_range_text(true, false, int_range(a->range, v, type_max)), args_value_text(v));
        return false;
    }
    case AK_NUM: {
        double x = v->kind == V_INT ? (double)v->i : v->f;
        if ((v->kind == V_INT || v->kind == V_FLOAT) && isfinite(x) && in_range(x, a->range))
            return true;
        if (report)
            diag_error(v->span, "%s must be %s, got %s", subject, args_range_text(false, false, a->range),
                       args_value_text(v));
        return false;
    }
    case AK_BOOL:
        if (v->kind == V_BOOL)
            return true;
        if (report)
            diag_error(v->span, "%s must be true or false, got %s", subject, args_value_text(v));
        return false;
    case AK_PAIR: {
        bool ok = int_fits(a, v, INT_MAX) ||
                  (v->kind == V_LIST && v->n == 2 && int_fits(a, &v->items[0], INT_MAX) && int_fits(a, &v->items[1], INT_MAX));
        if (!ok && report)
            diag_error(v->span, "%s must be %s, or a list [h, w] of two%s, got %s", subject,
                       args_range_text(true, false, a->range), a->words ? arena_printf(", or %s", words_text(a->words)) : "",
                       args_value_text(v));
        return ok;
    }
    case AK_NUM_LIST:
        if (v->kind != V_LIST) {
            ArgSpec one = *a;
            one.kind = AK_NUM;
            return args_check(&one, v, subject, report);
        }
        /* fall through */
    case AK_NUMS:
    case AK_INTS: {
        bool ints = a->kind == AK_INTS;
        if (v->kind != V_LIST || v->n == 0) {
            if (report)
                diag_error(v->span, "%s must be %sa non-empty list of %s%s, got %s", subject,
                           a->kind == AK_NUM_LIST ? arena_printf("%s, or ", args_range_text(false, false, a->range)) : "",
                           args_range_text(ints, true, a->range), ints ? " in increasing order" : "", args_value_text(v));
            return false;
        }
        ArgSpec item = *a;
        item.kind = ints ? AK_INT : AK_NUM;
        item.words = NULL;
        bool ok = true;
        for (int i = 0; i < v->n; i++) {
            if (!args_check(&item, &v->items[i], arena_printf("%s: item %d", subject, i + 1), report)) {
                ok = false;
                continue;
            }
            if (ints && ok && i > 0 && v->items[i].i <= v->items[i - 1].i) {
                if (report)
                    diag_error(v->items[i].span, "%s must be strictly increasing, got %lld after %lld", subject,
                               v->items[i].i, v->items[i - 1].i);
                ok = false;
            }
        }
        return ok;
    }
    case AK_WORD:
        if (report)
            diag_error(v->span, "%s must be %s, got %s", subject, words_text(a->words ? a->words : ""), args_value_text(v));
        return false;
    case AK_INIT:
        if (v->kind == V_WORD)
            return true;
        if (report)
            diag_error(v->span, "%s must be an init such as kaiming_normal(mode = fan_out), got %s", subject,
                       args_value_text(v));
        return false;
    }
    return false;
}

Val args_default(const ArgSpec *spec, int i, Span span, bool none_is_unset) {
    Val v = {.kind = V_NONE, .span = span};
    const char *d = spec[i].def;
    if (!d || (none_is_unset && !strcmp(d, "none")))
        return v;
    for (int k = 0; spec[k].name; k++)
        if (!strcmp(spec[k].name, d))
            return v; /* another argument's value: the caller applies the rule */
    char *end;
    if (!strcmp(d, "true") || !strcmp(d, "false")) {
        v.kind = V_BOOL;
        v.i = d[0] == 't';
        return v;
    }
    long long n = strtoll(d, &end, 10);
    if (*d && !*end && spec[i].kind != AK_NUM && spec[i].kind != AK_NUMS) {
        v.kind = V_INT;
        v.i = n;
        return v;
    }
    double x = strtod(d, &end);
    if (*d && !*end) {
        v.kind = V_FLOAT;
        v.f = x;
        return v;
    }
    v.kind = V_WORD;
    v.word = d;
    return v;
}

bool args_bind(const char *what, const char *callee, Span at, const ArgSpec *spec, const ArgList *args,
               const Arg **slots) {
    int n = args_count(spec);
    const char **names = arena_alloc(sizeof(char *) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        names[i] = spec[i].name;
        slots[i] = NULL;
    }
    bool ok = true, too_many = false;
    const Arg *first_keyword = NULL;
    int npos = 0;
    for (int k = 0; args && k < args->n; k++) {
        const Arg *a = &args->items[k];
        if (!a->name) {
            if (first_keyword) {
                diag_error(a->span, "%s: a positional argument cannot follow keyword arguments", what);
                diag_note(first_keyword->span, "the first keyword argument is here");
                ok = false;
            } else if (npos >= n) {
                if (!too_many) {
                    if (n == 0)
                        diag_error(a->span, "%s takes no arguments", what);
                    else
                        diag_error(a->span, "%s takes at most %d argument%s; %s takes %s", what, n, n == 1 ? "" : "s",
                                   callee, args_signature(spec));
                }
                too_many = true;
                ok = false;
            } else {
                slots[npos++] = a;
            }
            continue;
        }
        if (!first_keyword)
            first_keyword = a;
        int i = 0;
        while (i < n && strcmp(names[i], a->name) != 0)
            i++;
        if (i == n) {
            if (n == 0)
                diag_error(a->name_span, "%s takes no arguments", what);
            else
                diag_error(a->name_span, "%s has no argument '%s'; %s takes %s", what, a->name, callee,
                           args_signature(spec));
            const char *near = diag_closest(a->name, names, n);
            if (near)
                diag_note(span_none(), "did you mean '%s'?", near);
            ok = false;
        } else if (slots[i]) {
            diag_error(a->name_span, "%s: argument '%s' is given twice", what, a->name);
            diag_note(slots[i]->span, "first given here");
            ok = false;
        } else {
            slots[i] = a;
        }
    }
    for (int i = 0; i < n; i++)
        if (!slots[i] && !spec[i].def) {
            diag_error(at, "%s needs argument '%s'; %s takes %s", what, spec[i].name, callee, args_signature(spec));
            ok = false;
        }
    return ok;
}
