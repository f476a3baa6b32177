/* act.c: elementwise activations with torch.nn semantics: relu, tanh, sigmoid,
 * leaky_relu (x >= 0 ? x : slope * x), elu (x > 0 ? x : alpha * (exp(x) - 1)), identity.
 * Attributes: slope (leaky_relu), alpha (elu). No parameters. */
#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../ops.h"

static const ArgSpec no_args[] = {{NULL, NULL}};
static const ArgSpec leaky_args[] = {{"slope", "0.01"}, {NULL, NULL}};
static const ArgSpec elu_args[] = {{"alpha", "1.0"}, {NULL, NULL}};

static bool plain_set_attrs(Graph *g, Op *op, const Val *v) { return true; }

static bool leaky_set_attrs(Graph *g, Op *op, const Val *v) {
    op->a.slope = 0.01;
    return v[0].kind == V_NONE || arg_float(op, &v[0], "slope", -1e30, 1e30, &op->a.slope);
}

static bool elu_set_attrs(Graph *g, Op *op, const Val *v) {
    op->a.alpha = 1.0;
    return v[0].kind == V_NONE || arg_float(op, &v[0], "alpha", -1e30, 1e30, &op->a.alpha);
}

static bool act_infer(Graph *g, Op *op) {
    *out_shape(g, op) = *in_shape(g, op, 0);
    return true;
}

static double act_flops(const Graph *g, const Op *op) {
    return op->kind == OP_IDENTITY ? 0 : same_shape_flops(g, op, 1);
}

static void act_print_attrs(const Op *op, char *buf, size_t size) {
    if (op->kind == OP_LEAKY_RELU)
        attr_append(buf, size, "slope=%g", op->a.slope);
    if (op->kind == OP_ELU)
        attr_append(buf, size, "alpha=%g", op->a.alpha);
}

const char *act_expr(const Op *op, const char *v) {
    switch (op->kind) {
    case OP_RELU: return arena_printf("(%s > 0.0f ? %s : 0.0f)", v, v);
    case OP_TANH: return arena_printf("cnn_tanh(%s)", v);
    case OP_SIGMOID: return arena_printf("(1.0f / (1.0f + cnn_exp(-%s)))", v);
    case OP_LEAKY_RELU: return arena_printf("(%s > 0.0f ? %s : %s * %s)", v, v, v, emit_float(op->a.slope));
    case OP_ELU: return arena_printf("(%s > 0.0f ? %s : %s * (cnn_exp(%s) - 1.0f))", v, v, emit_float(op->a.alpha), v);
    default: return v;
    }
}

/* One expression per element; the loop vectorizes. */
static void act_emit_forward(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    Shape s = emit_in_shape(e, op, 0);
    const char *f = act_expr(op, "v");
    cb_line(c, "const size_t total = (size_t)n * %lld;", (long long)(shape_numel(s) / s.d[0]));
    cb_line(c, "for (size_t k = 0; k < total; k++) {");
    cb_line(c, "const float v = x[k];");
    cb_line(c, "y[k] = %s;", f);
    cb_line(c, "}");
}

/* dx = dy * f'(x): relu, tanh and sigmoid from their output (relu's gradient at 0 is 0, as
 * PyTorch's); leaky_relu and elu from their input, as PyTorch's backward kernels do. */
static void act_emit_backward(Emit *e, const Op *bwd, const Op *fwd) {
    Cbuf *c = e->c;
    Shape s = emit_in_shape(e, fwd, 0);
    const char *f = "dy[k]";
    switch (fwd->kind) {
    case OP_RELU: f = "y[k] > 0.0f ? dy[k] : 0.0f"; break;
    case OP_TANH: f = "dy[k] * (1.0f - y[k] * y[k])"; break;
    case OP_SIGMOID: f = "dy[k] * y[k] * (1.0f - y[k])"; break;
    case OP_LEAKY_RELU: f = arena_printf("x[k] > 0.0f ? dy[k] : dy[k] * %s", emit_float(fwd->a.slope)); break;
    case OP_ELU: f = arena_printf("x[k] > 0.0f ? dy[k] : dy[k] * %s * cnn_exp(x[k])", emit_float(fwd->a.alpha)); break;
    default: break;
    }
    cb_line(c, "const size_t total = (size_t)n * %lld;", (long long)(shape_numel(s) / s.d[0]));
    cb_line(c, "for (size_t k = 0; k < total; k++)");
    cb_line(c, "    dx[k] = %s;", f);
}

#define ACT(E, NAME, ARGS, SET, NEEDS)                                                                   \
    const OpInfo E##_info = {.name = NAME, .is_layer = true, .args = ARGS, .set_attrs = SET,      \
                             .infer = act_infer, .flops = act_flops, .print_attrs = act_print_attrs,  \
                             .emit_forward = act_emit_forward, .emit_backward = act_emit_backward,  \
                             .bwd_needs = NEEDS, .inplace = true, .bwd_inplace = true};
ACT(OP_RELU, "relu", no_args, plain_set_attrs, BWD_Y)
ACT(OP_TANH, "tanh", no_args, plain_set_attrs, BWD_Y)
ACT(OP_SIGMOID, "sigmoid", no_args, plain_set_attrs, BWD_Y)
ACT(OP_IDENTITY, "identity", no_args, plain_set_attrs, 0)
ACT(OP_LEAKY_RELU, "leaky_relu", leaky_args, leaky_set_attrs, BWD_X)
ACT(OP_ELU, "elu", elu_args, elu_set_attrs, BWD_X)
