/* ops.c: the table of OpInfo (one per line of ops.def) and the helpers op files share:
 * argument conversion with precise messages, shape access, attribute text. */
#include "ops.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define X(e, name) extern const OpInfo e##_info;
#include "ops.def"
#undef X

const OpInfo *const op_infos[OP_COUNT] = {
#define X(e, name) &e##_info,
#include "ops.def"
#undef X
};

const OpInfo *op_info(OpKind k) { return op_infos[k]; }

const OpInfo *op_find_layer(const char *name) {
    for (int k = 0; k < OP_COUNT; k++)
        if (op_infos[k]->is_layer && strcmp(op_infos[k]->name, name) == 0)
            return op_infos[k];
    return NULL;
}

int op_layer_names(const char **names, int max) {
    int n = 0;
    for (int k = 0; k < OP_COUNT && n < max; k++)
        if (op_infos[k]->is_layer)
            names[n++] = op_infos[k]->name;
    return n;
}

const char *val_kind_name(ValKind k) {
    switch (k) {
    case V_INT: return "an integer";
    case V_FLOAT: return "a number";
    case V_BOOL: return "a boolean";
    case V_LIST: return "a list";
    case V_WORD: return "a name";
    default: return "nothing";
    }
}

const char *val_str(const Val *v) {
    switch (v->kind) {
    case V_INT: return arena_printf("%lld", v->i);
    case V_FLOAT: return arena_printf("%g", v->f);
    case V_BOOL: return v->i ? "true" : "false";
    case V_WORD: return v->word;
    case V_LIST: {
        const char *s = "[";
        for (int i = 0; i < v->n; i++)
            s = arena_printf("%s%s%s", s, i ? ", " : "", val_str(&v->items[i]));
        return arena_printf("%s]", s);
    }
    default: return "?";
    }
}

Val arg_default(const OpInfo *info, int i, Span span) {
    Val v = {.kind = V_NONE, .span = span};
    const char *d = info->args[i].def;
    if (!d)
        return v;
    for (int k = 0; info->args[k].name; k++)
        if (!strcmp(info->args[k].name, d))
            return v; /* another argument's value: set_attrs applies the rule */
    char *end;
    if (!strcmp(d, "true") || !strcmp(d, "false")) {
        v.kind = V_BOOL;
        v.i = d[0] == 't';
        return v;
    }
    long long n = strtoll(d, &end, 10);
    if (*d && !*end) {
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

bool arg_int(const Op *op, const Val *v, const char *arg, long long min, long long max, int *out) {
    if (v->kind != V_INT) {
        diag_error(v->span, "%s: argument '%s' must be an integer, got %s", op_name(op->kind), arg,
                   val_kind_name(v->kind));
        return false;
    }
    if (v->i < min || v->i > max) {
        if (max == (1LL << 30) || max == 0x7fffffff)
            diag_error(v->span, "%s: argument '%s' must be >= %lld, got %lld", op_name(op->kind), arg, min, v->i);
        else
            diag_error(v->span, "%s: argument '%s' must be between %lld and %lld, got %lld", op_name(op->kind), arg,
                       min, max, v->i);
        return false;
    }
    *out = (int)v->i;
    return true;
}

bool arg_pair(const Op *op, const Val *v, const char *arg, int min, int *h, int *w) {
    if (v->kind == V_LIST) {
        if (v->n != 2) {
            diag_error(v->span, "%s: argument '%s' takes an integer or a list [h, w], got a list of %d", op_name(op->kind),
                       arg, v->n);
            return false;
        }
        return arg_int(op, &v->items[0], arg, min, 1 << 30, h) && arg_int(op, &v->items[1], arg, min, 1 << 30, w);
    }
    if (v->kind != V_INT) {
        diag_error(v->span, "%s: argument '%s' takes an integer or a list [h, w], got %s", op_name(op->kind), arg,
                   val_kind_name(v->kind));
        return false;
    }
    if (!arg_int(op, v, arg, min, 1 << 30, h))
        return false;
    *w = *h;
    return true;
}

bool arg_float(const Op *op, const Val *v, const char *arg, double min, double max, double *out) {
    double x;
    if (v->kind == V_INT)
        x = (double)v->i;
    else if (v->kind == V_FLOAT)
        x = v->f;
    else {
        diag_error(v->span, "%s: argument '%s' must be a number, got %s", op_name(op->kind), arg, val_kind_name(v->kind));
        return false;
    }
    if (!(x >= min && x <= max) || !isfinite(x)) {
        if (isinf(max))
            diag_error(v->span, "%s: argument '%s' must be >= %g, got %s", op_name(op->kind), arg, min, val_str(v));
        else
            diag_error(v->span, "%s: argument '%s' must be between %g and %g, got %s", op_name(op->kind), arg, min, max,
                       val_str(v));
        return false;
    }
    *out = x;
    return true;
}

bool arg_bool(const Op *op, const Val *v, const char *arg, bool *out) {
    if (v->kind != V_BOOL) {
        diag_error(v->span, "%s: argument '%s' must be true or false, got %s", op_name(op->kind), arg,
                   val_kind_name(v->kind));
        return false;
    }
    *out = v->i != 0;
    return true;
}

Shape *in_shape(Graph *g, const Op *op, int i) { return &g->values[op->in[i]].shape; }
Shape *out_shape(Graph *g, const Op *op) { return &g->values[op->out].shape; }

bool need_image(Graph *g, Op *op) {
    Shape *s = in_shape(g, op, 0);
    if (s->rank == 4)
        return true;
    diag_error(op->span, "%s needs an image tensor [C, H, W], got %s", op_name(op->kind), shape_str(*s, true));
    return false;
}

void attr_append(char *buf, size_t size, const char *fmt, ...) {
    size_t n = strlen(buf);
    if (n + 1 >= size)
        return;
    if (n)
        buf[n++] = ' ', buf[n] = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, size - n, fmt, ap);
    va_end(ap);
}

const char *pair_str(int h, int w) { return h == w ? arena_printf("%d", h) : arena_printf("[%d, %d]", h, w); }

double same_shape_flops(const Graph *g, const Op *op, double per_element) {
    Shape s = g->values[op->out].shape;
    return per_element * (double)shape_numel(s) / (s.rank ? s.d[0] : 1);
}

bool op_is_backward(const Op *op) { return op->kind == OP_BACKWARD; }

const OpInfo *op_code_info(const Graph *g, const Op *op) {
    return op_info(op_is_backward(op) ? g->ops[op->fwd].kind : op->kind);
}

int op_inplace_input(const Op *op) { return op_is_backward(op) ? op->nin - 1 : 0; }

bool op_may_run_inplace(const Graph *g, const Op *op) {
    const OpInfo *info = op_code_info(g, op);
    return op_is_backward(op) ? info->bwd_inplace : info->inplace;
}
