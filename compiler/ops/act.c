/* act.c: elementwise activations with torch.nn semantics. Each activation is one block below:
 * its arguments, its forward expression (y_expr, also what a fused head applies in its store),
 * its gradient expression (dx_expr, from x[k], y[k] and dy[k]), its PyTorch twin, then one
 * ACT(...) line that makes its OpInfo. Adding an activation: a line in ops.def and a block here.
 *   relu, tanh, sigmoid, identity;
 *   leaky_relu(slope = 0.01):   x >= 0 ? x : slope * x
 *   elu(alpha = 1.0):           x > 0 ? x : alpha * (exp(x) - 1)
 *   gelu(approximate = none):   x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (PyTorch's exact form);
 *                               approximate = tanh: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
 *   silu:                       x * sigmoid(x)
 *   relu6:                      min(max(x, 0), 6)
 *   hardswish:                  x * relu6(x + 3) / 6
 *   hardsigmoid:                relu6(x + 3) / 6
 * Gradients follow PyTorch's backward kernels, including at the kinks (relu'(0) = 0, relu6's
 * and hardsigmoid's gradient is 0 at the ends of their linear piece, hardswish takes the middle
 * piece at x = -3 and 3). An activation whose gradient needs only y (BWD_Y) also fuses into a
 * head in training; the others (BWD_X) need the head's output in memory, so pass_fuse leaves
 * them apart in training (their input has a second reader, the backward op).
 * Attributes: slope (leaky_relu), alpha (elu), mode (gelu: 1 = tanh approximation). No
 * parameters. erf, exp and tanh come from the generated file's cnn_erf, cnn_exp, cnn_tanh,
 * which vectorize (libm's are scalar calls). */
#include <string.h>

#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../emit_torch.h"
#include "../ops.h"

static const ArgSpec no_args[] = {ARG_END};

static bool plain_set_attrs(Graph *g, Op *op, const Val *v) { return true; }
static void no_attrs(const Op *op, char *buf, size_t size) {}

/* ---- relu */
static const char *relu_y(const Op *op, const char *v) { return arena_printf("(%s > 0.0f ? %s : 0.0f)", v, v); }
static const char *relu_dx(const Op *op) { return "y[k] > 0.0f ? dy[k] : 0.0f"; }
static const char *relu_torch(TorchCtx *t, const Op *op) { return arena_printf("F.relu(%s)", torch_in(t, op, 0)); }

/* ---- tanh */
static const char *tanh_y(const Op *op, const char *v) { return arena_printf("cnn_tanh(%s)", v); }
static const char *tanh_dx(const Op *op) { return "dy[k] * (1.0f - y[k] * y[k])"; }
static const char *tanh_torch(TorchCtx *t, const Op *op) { return arena_printf("torch.tanh(%s)", torch_in(t, op, 0)); }

/* ---- sigmoid */
static const char *sigmoid_y(const Op *op, const char *v) { return arena_printf("(1.0f / (1.0f + cnn_exp(-%s)))", v); }
static const char *sigmoid_dx(const Op *op) { return "dy[k] * y[k] * (1.0f - y[k])"; }
static const char *sigmoid_torch(TorchCtx *t, const Op *op) { return arena_printf("torch.sigmoid(%s)", torch_in(t, op, 0)); }

/* ---- identity */
static const char *identity_y(const Op *op, const char *v) { return v; }
static const char *identity_dx(const Op *op) { return "dy[k]"; }
static const char *identity_torch(TorchCtx *t, const Op *op) { return torch_in(t, op, 0); }

/* ---- leaky_relu */
static const ArgSpec leaky_args[] = {ARG_NUM("slope", "0.01", RANGE(-1e30, 1e30)), ARG_END};
static bool leaky_set_attrs(Graph *g, Op *op, const Val *v) {
    op->a.slope = val_num(&v[0]);
    return true;
}
static void leaky_print_attrs(const Op *op, char *buf, size_t size) { attr_append(buf, size, "slope=%g", op->a.slope); }
static const char *leaky_y(const Op *op, const char *v) {
    return arena_printf("(%s > 0.0f ? %s : %s * %s)", v, v, v, emit_float(op->a.slope));
}
static const char *leaky_dx(const Op *op) { return arena_printf("x[k] > 0.0f ? dy[k] : dy[k] * %s", emit_float(op->a.slope)); }
static const char *leaky_torch(TorchCtx *t, const Op *op) {
    return arena_printf("F.leaky_relu(%s, negative_slope=%s)", torch_in(t, op, 0), torch_float(op->a.slope));
}

/* ---- elu */
static const ArgSpec elu_args[] = {ARG_NUM("alpha", "1.0", RANGE(-1e30, 1e30)), ARG_END};
static bool elu_set_attrs(Graph *g, Op *op, const Val *v) {
    op->a.alpha = val_num(&v[0]);
    return true;
}
static void elu_print_attrs(const Op *op, char *buf, size_t size) { attr_append(buf, size, "alpha=%g", op->a.alpha); }
static const char *elu_y(const Op *op, const char *v) {
    return arena_printf("(%s > 0.0f ? %s : %s * (cnn_exp(%s) - 1.0f))", v, v, emit_float(op->a.alpha), v);
}
static const char *elu_dx(const Op *op) {
    return arena_printf("x[k] > 0.0f ? dy[k] : dy[k] * %s * cnn_exp(x[k])", emit_float(op->a.alpha));
}
static const char *elu_torch(TorchCtx *t, const Op *op) {
    return arena_printf("F.elu(%s, alpha=%s)", torch_in(t, op, 0), torch_float(op->a.alpha));
}

/* ---- gelu: mode 0 exact (erf), 1 tanh approximation */
static const ArgSpec gelu_args[] = {ARG_WORD("approximate", "none", "none|tanh"), ARG_END};
static bool gelu_set_attrs(Graph *g, Op *op, const Val *v) {
    op->a.mode = !strcmp(v[0].word, "tanh");
    return true;
}
static void gelu_print_attrs(const Op *op, char *buf, size_t size) {
    if (op->a.mode)
        attr_append(buf, size, "approximate=tanh");
}
#define GELU_K "0.797884561f" /* sqrt(2 / pi) */
static const char *gelu_y(const Op *op, const char *v) {
    if (op->a.mode)
        return arena_printf("(0.5f * %s * (1.0f + cnn_tanh(" GELU_K " * (%s + 0.044715f * %s * %s * %s))))", v, v, v, v, v);
    return arena_printf("(0.5f * %s * (1.0f + cnn_erf(%s * 0.707106781f)))", v, v);
}
static const char *gelu_dx(const Op *op) {
    if (op->a.mode) /* t = tanh(u), u = k (x + c x^3): 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2) */
        return "dy[k] * (0.5f * (1.0f + cnn_tanh(" GELU_K " * (x[k] + 0.044715f * x[k] * x[k] * x[k]))) + 0.5f * x[k] * "
               "(1.0f - cnn_tanh(" GELU_K " * (x[k] + 0.044715f * x[k] * x[k] * x[k])) * cnn_tanh(" GELU_K
               " * (x[k] + 0.044715f * x[k] * x[k] * x[k]))) * " GELU_K " * (1.0f + 0.134145f * x[k] * x[k]))";
    /* Phi(x) + x phi(x) */
    return "dy[k] * (0.5f * (1.0f + cnn_erf(x[k] * 0.707106781f)) + x[k] * 0.398942280f * cnn_exp(-0.5f * x[k] * x[k]))";
}
static const char *gelu_torch(TorchCtx *t, const Op *op) {
    return arena_printf("F.gelu(%s%s)", torch_in(t, op, 0), op->a.mode ? ", approximate=\"tanh\"" : "");
}

/* ---- silu */
static const char *silu_y(const Op *op, const char *v) { return arena_printf("(%s / (1.0f + cnn_exp(-%s)))", v, v); }
static const char *silu_dx(const Op *op) { /* s (1 + x (1 - s)), s = sigmoid(x) */
    return "dy[k] / (1.0f + cnn_exp(-x[k])) * (1.0f + x[k] * (1.0f - 1.0f / (1.0f + cnn_exp(-x[k]))))";
}
static const char *silu_torch(TorchCtx *t, const Op *op) { return arena_printf("F.silu(%s)", torch_in(t, op, 0)); }

/* ---- relu6: the gradient from y (0 < y < 6 exactly when 0 < x < 6) */
static const char *relu6_y(const Op *op, const char *v) {
    return arena_printf("(%s > 0.0f ? (%s < 6.0f ? %s : 6.0f) : 0.0f)", v, v, v);
}
static const char *relu6_dx(const Op *op) { return "y[k] > 0.0f && y[k] < 6.0f ? dy[k] : 0.0f"; }
static const char *relu6_torch(TorchCtx *t, const Op *op) { return arena_printf("F.relu6(%s)", torch_in(t, op, 0)); }

/* ---- hardswish */
static const char *hardswish_y(const Op *op, const char *v) {
    return arena_printf("(%s > -3.0f ? (%s < 3.0f ? %s * (%s + 3.0f) * (1.0f / 6.0f) : %s) : 0.0f)", v, v, v, v, v);
}
static const char *hardswish_dx(const Op *op) {
    return "x[k] < -3.0f ? 0.0f : x[k] <= 3.0f ? dy[k] * (x[k] * (1.0f / 3.0f) + 0.5f) : dy[k]";
}
static const char *hardswish_torch(TorchCtx *t, const Op *op) { return arena_printf("F.hardswish(%s)", torch_in(t, op, 0)); }

/* ---- hardsigmoid: the gradient from y (0 < y < 1 exactly when -3 < x < 3) */
static const char *hardsigmoid_y(const Op *op, const char *v) {
    return arena_printf("(%s > -3.0f ? (%s < 3.0f ? (%s + 3.0f) * (1.0f / 6.0f) : 1.0f) : 0.0f)", v, v, v);
}
static const char *hardsigmoid_dx(const Op *op) { return "y[k] > 0.0f && y[k] < 1.0f ? dy[k] * (1.0f / 6.0f) : 0.0f"; }
static const char *hardsigmoid_torch(TorchCtx *t, const Op *op) {
    return arena_printf("F.hardsigmoid(%s)", torch_in(t, op, 0));
}

/* ---- what every activation shares */
static bool act_infer(Graph *g, Op *op) {
    *out_shape(g, op) = *in_shape(g, op, 0);
    return true;
}

static double act_flops(const Graph *g, const Op *op) { return same_shape_flops(g, op, 1); }
static double no_flops(const Graph *g, const Op *op) { return 0; }

/* out[k] = expr for every element k, in blocks of 64 through a local buffer, then the rest one
 * by one. The op may run in place (out is its input), and its pointers are not restrict: a
 * plain loop would then fail the compilers' run-time overlap check and run scalar, while the
 * block loop writes only the local buffer and vectorizes either way. The blocks are shared out
 * over the threads (each block read and written by one: in place too); on one thread,
 * resnet18_cifar's relu gradients took 23 ms of its training step at batch 64, as long on 2. */
static void act_emit_loop(Cbuf *c, Shape s, const char *out, const char *pre, const char *expr) {
    cb_line(c, "const size_t total = (size_t)n * %lld;", (long long)(shape_numel(s) / s.d[0]));
    cb_line(c, "const long long blocks = (long long)(total / 64);");
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (long long b = 0; b < blocks; b++) {");
    cb_line(c, "const size_t k0 = (size_t)b * 64;");
    cb_line(c, "float t[64];");
    cb_line(c, "for (int j = 0; j < 64; j++) {");
    cb_line(c, "const size_t k = k0 + (size_t)j;");
    if (pre)
        cb_line(c, "%s", pre);
    cb_line(c, "t[j] = %s;", expr);
    cb_line(c, "}");
    cb_line(c, "memcpy(%s + k0, t, sizeof t);", out);
    cb_line(c, "}");
    cb_line(c, "const size_t k0 = (size_t)blocks * 64;");
    /* the rest, fewer than 64: counted in an int, which gcc -O3 needs to see that the loop
     * ends (with k itself it warned "iteration 4611686018427387903 invokes undefined behavior"
     * in a clone for a fixed buffer) */
    cb_line(c, "for (int j = 0; j < (int)(total - k0); j++) {");
    cb_line(c, "const size_t k = k0 + (size_t)j;");
    if (pre)
        cb_line(c, "%s", pre);
    cb_line(c, "%s[k] = %s;", out, expr);
    cb_line(c, "}");
}

/* The gradient expression dx_expr with y[k] and dy[k] replaced by the expressions y and g (each
 * in parentheses), for a fused pooling's backward; NULL when it also reads x[k]. */
static const char *act_dy_of(const char *dx, const char *y, const char *g) {
    const char *out = "";
    for (const char *p = dx; *p;) {
        if (!strncmp(p, "dy[k]", 5)) {
            out = arena_printf("%s(%s)", out, g);
            p += 5;
        } else if (!strncmp(p, "y[k]", 4) && (p == dx || (p[-1] != 'd' && p[-1] != '_'))) {
            out = arena_printf("%s(%s)", out, y);
            p += 4;
        } else if (!strncmp(p, "x[k]", 4) && (p == dx || (p[-1] != 'd' && p[-1] != '_'))) {
            return NULL;
        } else {
            out = arena_printf("%s%c", out, *p);
            p++;
        }
    }
    return out;
}

/* One expression per element. */
static void act_emit_forward(Emit *e, const Op *op) {
    act_emit_loop(e->c, emit_in_shape(e, op, 0), "y", "const float v = x[k];", op_info(op->kind)->act_expr(op, "v"));
}

/* dx = dy * f'(x), from x or y as the activation's bwd_needs says. */
static void act_emit_backward(Emit *e, const Op *fwd, const char *f) {
    act_emit_loop(e->c, emit_in_shape(e, fwd, 0), "dx", NULL, f);
}

#define ACT(E, P, NAME, ARGS, SET, PRINT, FLOPS, NEEDS)                                                     \
    static void P##_emit_backward(Emit *e, const Op *bwd, const Op *fwd) { act_emit_backward(e, fwd, P##_dx(fwd)); } \
    static const char *P##_act_dy(const Op *op, const char *y, const char *g) {                              \
        return (NEEDS) == BWD_Y ? act_dy_of(P##_dx(op), y, g) : NULL;                                        \
    }                                                                                                         \
    const OpInfo E##_info = {.name = NAME, .is_layer = true, .args = ARGS, .set_attrs = SET,                \
                             .infer = act_infer, .flops = FLOPS, .print_attrs = PRINT,                        \
                             .emit_forward = act_emit_forward, .emit_backward = P##_emit_backward,            \
                             .bwd_needs = NEEDS, .inplace = true, .bwd_inplace = true, .act_expr = P##_y,    \
                             .act_dy = P##_act_dy,                                                            \
                             .torch_call = P##_torch};
ACT(OP_RELU, relu, "relu", no_args, plain_set_attrs, no_attrs, act_flops, BWD_Y)
ACT(OP_TANH, tanh, "tanh", no_args, plain_set_attrs, no_attrs, act_flops, BWD_Y)
ACT(OP_SIGMOID, sigmoid, "sigmoid", no_args, plain_set_attrs, no_attrs, act_flops, BWD_Y)
ACT(OP_IDENTITY, identity, "identity", no_args, plain_set_attrs, no_attrs, no_flops, 0)
ACT(OP_LEAKY_RELU, leaky, "leaky_relu", leaky_args, leaky_set_attrs, leaky_print_attrs, act_flops, BWD_X)
ACT(OP_ELU, elu, "elu", elu_args, elu_set_attrs, elu_print_attrs, act_flops, BWD_X)
ACT(OP_GELU, gelu, "gelu", gelu_args, gelu_set_attrs, gelu_print_attrs, act_flops, BWD_X)
ACT(OP_SILU, silu, "silu", no_args, plain_set_attrs, no_attrs, act_flops, BWD_X)
ACT(OP_RELU6, relu6, "relu6", no_args, plain_set_attrs, no_attrs, act_flops, BWD_Y)
ACT(OP_HARDSWISH, hardswish, "hardswish", no_args, plain_set_attrs, no_attrs, act_flops, BWD_X)
ACT(OP_HARDSIGMOID, hardsigmoid, "hardsigmoid", no_args, plain_set_attrs, no_attrs, act_flops, BWD_Y)
