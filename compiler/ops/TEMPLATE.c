/* TEMPLATE.c: the shape of an op file, to copy when adding a layer (docs/hacking.md walks
 * through it). Not linked into cnnc: `make` only checks that it compiles, so it stays current
 * with ops.h. The example is `scale(factor = 1.0)`: y = factor * x, elementwise.
 *
 * To add a layer FOO:
 *   1. copy this file to compiler/ops/foo.c and rename scale -> foo, OP_TEMPLATE -> OP_FOO;
 *   2. add X(OP_FOO, "foo") to compiler/ops.def;
 *   3. if it needs an attribute that Attrs (ir.h) lacks, add one field there;
 *   4. give it a model in tests/models/ and a hand-written twin in tests/torch/coverage_twins.py.
 * tests/unit/test_ops.c fails until every required entry below is filled in. An activation
 * needs only an act_expr and a gradient (see act.c, one block per activation). */
#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../emit_torch.h"
#include "../ops.h"

/* Arguments of the layer, in positional order: name, default as the docs show it (NULL:
 * required), kind and range (ops.h's ARG_* shorthands, args.h's kinds). The binder matches a
 * call's arguments against this table, reports unknown or repeated names, and checks each
 * value's kind and range before set_attrs runs. */
static const ArgSpec scale_args[] = {ARG_NUM("factor", "1.0", RANGE(-1e30, 1e30)), ARG_END};

/* Bound, checked arguments -> op->a. An argument not written arrives as its default from the
 * table above (arg_default), so the default and the range are written nowhere else; convert
 * with the val_* helpers and check only rules that join several arguments. */
static bool scale_set_attrs(Graph *g, Op *op, const Val *v) {
    op->a.alpha = val_num(&v[0]);
    return true;
}

/* The shape rule: the output shape from the input shapes (report errors at op->span). */
static bool scale_infer(Graph *g, Op *op) {
    *out_shape(g, op) = *in_shape(g, op, 0);
    return true;
}

static double scale_flops(const Graph *g, const Op *op) { return same_shape_flops(g, op, 1); }

/* Attributes that differ from their defaults, as --emit=ir prints them. */
static void scale_print_attrs(const Op *op, char *buf, size_t size) {
    if (op->a.alpha != 1.0)
        attr_append(buf, size, "factor=%g", op->a.alpha);
}

/* Forward code: the body of a function that sees x, y and n (emit_c.h lists every name). */
static void scale_emit_forward(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    Shape s = emit_in_shape(e, op, 0);
    cb_line(c, "const size_t total = (size_t)n * %lld;", (long long)(shape_numel(s) / s.d[0]));
    cb_line(c, "for (size_t k = 0; k < total; k++)");
    cb_line(c, "    y[k] = %s * x[k];", emit_float(op->a.alpha));
}

/* Backward code: writes dx from dy (and x or y, as bwd_needs says). */
static void scale_emit_backward(Emit *e, const Op *bwd, const Op *fwd) {
    Cbuf *c = e->c;
    Shape s = emit_in_shape(e, fwd, 0);
    cb_line(c, "const size_t total = (size_t)n * %lld;", (long long)(shape_numel(s) / s.d[0]));
    cb_line(c, "for (size_t k = 0; k < total; k++)");
    cb_line(c, "    dx[k] = %s * dy[k];", emit_float(fwd->a.alpha));
}

/* The PyTorch twin: the expression of the output from the inputs (torch_in). */
static const char *scale_torch(TorchCtx *t, const Op *op) {
    return arena_printf("%s * %s", torch_float(op->a.alpha), torch_in(t, op, 0));
}

const OpInfo OP_TEMPLATE_info = {
    .name = "scale", .is_layer = true, .args = scale_args, .set_attrs = scale_set_attrs,
    .infer = scale_infer, .flops = scale_flops, .print_attrs = scale_print_attrs,
    .emit_forward = scale_emit_forward, .emit_backward = scale_emit_backward,
    .bwd_needs = 0,                          /* the gradient reads neither x nor y */
    .inplace = true, .bwd_inplace = true,    /* each element read before it is written */
    .torch_call = scale_torch,
    /* Parameters: .add_params, .param_kind and .torch_module (see linear.c). Fusion roles:
     * .epilogue / .prologue / .close_pool as a head, .act_expr / .fold_norm / .pre_norm /
     * .pool_tiles as the absorbed neighbour (ops.h). Scratch space: .scratch, .bwd_scratch. */
};
