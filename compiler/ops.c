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

int64_t op_bn_scratch_at(const Graph *g, const Op *op) {
    const OpInfo *info = op_info(op->kind);
    int64_t k = info->scratch ? info->scratch(g, op) : 0;
    return (k + 15) / 16 * 16;
}

int64_t op_scratch_floats(const Graph *g, const Op *op) {
    if (op->epi_bn < 0) {
        const OpInfo *info = op_info(op->kind);
        return info->scratch ? info->scratch(g, op) : 0;
    }
    int64_t ch = g->values[g->ops[op->epi_bn].out].shape.d[1];
    return op_bn_scratch_at(g, op) + 2 * ((ch + 15) / 16 * 16);
}

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

Val arg_default(const OpInfo *info, int i, Span span) { return args_default(info->args, i, span, false); }

int val_int(const Val *v) { return (int)v->i; }

void val_pair(const Val *v, int *h, int *w) {
    if (v->kind == V_LIST) {
        *h = (int)v->items[0].i;
        *w = (int)v->items[1].i;
    } else {
        *h = *w = (int)v->i;
    }
}

double val_num(const Val *v) { return v->kind == V_INT ? (double)v->i : v->f; }

bool val_bool(const Val *v) { return v->i != 0; }

const char *op_init_text(const Val *v) {
    return v->kind == V_WORD && strcmp(v->word, "default") != 0 ? v->word : NULL;
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
