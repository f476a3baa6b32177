/* value.c: see value.h. */
#include "value.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "arena.h"

Val value_none(Span s) { return (Val){.kind = V_NONE, .span = s}; }
bool value_is_num(const Val *v) { return v->kind == V_INT || v->kind == V_FLOAT; }
double value_num(const Val *v) { return v->kind == V_INT ? (double)v->i : v->f; }

static const char *binop_text(int op) {
    switch (op) {
    case 'l': return "<=";
    case 'g': return ">=";
    case 'e': return "==";
    case 'n': return "!=";
    case '&': return "and";
    case '|': return "or";
    default: return arena_printf("%c", op);
    }
}

Val value_binary(const Expr *e, Val a, Val b) {
    Val r = {.kind = V_BOOL, .span = e->span};
    int op = e->op;
    if (a.kind == V_NONE || b.kind == V_NONE)
        return value_none(e->span);
    if (op == '&' || op == '|') {
        if (a.kind != V_BOOL || b.kind != V_BOOL) {
            diag_error(e->span, "'%s' needs two booleans, got %s and %s", binop_text(op), val_kind_name(a.kind),
                       val_kind_name(b.kind));
            return value_none(e->span);
        }
        r.i = op == '&' ? (a.i && b.i) : (a.i || b.i);
        return r;
    }
    if ((op == 'e' || op == 'n') && a.kind == V_BOOL && b.kind == V_BOOL) {
        r.i = (op == 'e') == (a.i == b.i);
        return r;
    }
    if (!value_is_num(&a) || !value_is_num(&b)) {
        diag_error(e->span, "'%s' needs two numbers, got %s and %s", binop_text(op), val_kind_name(a.kind),
                   val_kind_name(b.kind));
        return value_none(e->span);
    }
    if (strchr("<>lgen", op)) {
        if (a.kind == V_INT && b.kind == V_INT) /* exact for large integers */
            r.i = op == '<' ? a.i < b.i : op == '>' ? a.i > b.i : op == 'l' ? a.i <= b.i : op == 'g' ? a.i >= b.i
                : op == 'e' ? a.i == b.i : a.i != b.i;
        else {
            double p = value_num(&a), q = value_num(&b);
            r.i = op == '<' ? p < q : op == '>' ? p > q : op == 'l' ? p <= q : op == 'g' ? p >= q : op == 'e' ? p == q
                : p != q;
        }
        return r;
    }
    if ((op == '/' || op == '%') && value_num(&b) == 0) {
        diag_error(e->rhs->span, "division by zero");
        return value_none(e->span);
    }
    if (a.kind == V_INT && b.kind == V_INT) {
        long long p = a.i, q = b.i, v = 0;
        bool overflow = false;
        switch (op) {
        case '+': overflow = __builtin_add_overflow(p, q, &v); break;
        case '-': overflow = __builtin_sub_overflow(p, q, &v); break;
        case '*': overflow = __builtin_mul_overflow(p, q, &v); break;
        case '/': overflow = p == LLONG_MIN && q == -1; v = overflow ? 0 : p / q; break;
        case '%': v = (p == LLONG_MIN && q == -1) ? 0 : p % q; break;
        }
        if (overflow) {
            diag_error(e->span, "integer overflow in '%s'", binop_text(op));
            return value_none(e->span);
        }
        r.kind = V_INT;
        r.i = v;
        return r;
    }
    double p = value_num(&a), q = value_num(&b);
    r.kind = V_FLOAT;
    r.f = op == '+' ? p + q : op == '-' ? p - q : op == '*' ? p * q : op == '/' ? p / q : fmod(p, q);
    if (!isfinite(r.f)) {
        diag_error(e->span, "the result of '%s' is not a finite number", binop_text(op));
        return value_none(e->span);
    }
    return r;
}

Val value_unary(const Expr *e, Val a) {
    if (a.kind == V_NONE)
        return value_none(e->span);
    if (e->op == '-') {
        if (a.kind == V_INT && a.i != LLONG_MIN) {
            a.i = -a.i;
        } else if (a.kind == V_FLOAT) {
            a.f = -a.f;
        } else {
            diag_error(e->span, "unary '-' needs a number, got %s", val_kind_name(a.kind));
            return value_none(e->span);
        }
    } else {
        if (a.kind != V_BOOL) {
            diag_error(e->span, "'not' needs a boolean, got %s", val_kind_name(a.kind));
            return value_none(e->span);
        }
        a.i = !a.i;
    }
    a.span = e->span;
    return a;
}
