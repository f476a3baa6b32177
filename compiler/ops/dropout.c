/* dropout.c: torch.nn.Dropout: identity at inference; in training, zeroes each element with
 * probability p and scales the rest by 1 / (1 - p). Attribute: p. */
#include "../cbuf.h"
#include "../emit_c.h"
#include "../ops.h"

static const ArgSpec dropout_args[] = {{"p", "0.5"}, {NULL, NULL}};

static bool dropout_set_attrs(Graph *g, Op *op, const Val *v) {
    op->a.p = 0.5;
    if (v[0].kind == V_NONE)
        return true;
    if (!arg_float(op, &v[0], "p", 0, 1, &op->a.p))
        return false;
    if (op->a.p >= 1) {
        diag_error(v[0].span, "dropout: argument 'p' must be below 1 (p = 1 drops everything), got %g", op->a.p);
        return false;
    }
    return true;
}

static bool same_infer(Graph *g, Op *op) {
    *out_shape(g, op) = *in_shape(g, op, 0);
    return true;
}

static double dropout_flops(const Graph *g, const Op *op) { return 0; }

static void dropout_print_attrs(const Op *op, char *buf, size_t size) { attr_append(buf, size, "p=%g", op->a.p); }

/* Inference: the identity. */
static void dropout_emit_forward(Emit *e, const Op *op) {
    cb_line(e->c, "memcpy(y, x, sizeof(float) * (size_t)n * %lld);",
            (long long)(shape_numel(emit_in_shape(e, op, 0)) / emit_in_shape(e, op, 0).d[0]));
}

const OpInfo OP_DROPOUT_info = {
    .name = "dropout", .is_layer = true, .args = dropout_args, .set_attrs = dropout_set_attrs,
    .infer = same_infer, .flops = dropout_flops, .print_attrs = dropout_print_attrs,
    .emit_forward = dropout_emit_forward,
};
