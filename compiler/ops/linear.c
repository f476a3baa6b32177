/* linear.c: fully connected layer, torch.nn.Linear semantics: y = x W^T + b.
 * Attributes: out, bias. Parameters: weight [out, in], bias [out]. */
#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../emit_torch.h"
#include "../ops.h"

static const ArgSpec linear_args[] = {{"out", NULL}, {"bias", "true"}, {NULL, NULL}};

static bool linear_set_attrs(Graph *g, Op *op, const Val *v) {
    op->a.bias = true;
    bool ok = arg_int(op, &v[0], "out", 1, 1 << 24, &op->a.out);
    if (v[1].kind != V_NONE)
        ok &= arg_bool(op, &v[1], "bias", &op->a.bias);
    return ok;
}

static bool linear_infer(Graph *g, Op *op) {
    Shape in = *in_shape(g, op, 0);
    if (in.rank != 2) {
        diag_error(op->span, "linear needs a flat tensor, got the image tensor %s; add `flatten` before it",
                   shape_str(in, true));
        return false;
    }
    *out_shape(g, op) = shape2(in.d[0], op->a.out);
    return true;
}

static void linear_add_params(Graph *g, int id) {
    Op *op = &g->ops[id];
    ir_add_param(g, id, PARAM_WEIGHT, arena_printf("%s.weight", op->pname),
                 (Shape){2, {op->a.out, in_shape(g, op, 0)->d[1]}}, true);
    if (op->a.bias)
        ir_add_param(g, id, PARAM_BIAS, arena_printf("%s.bias", op->pname), (Shape){1, {op->a.out}}, true);
}

static double linear_flops(const Graph *g, const Op *op) {
    double in = g->values[op->in[0]].shape.d[1];
    return 2 * in * op->a.out + (op->a.bias ? op->a.out : 0);
}

static void linear_print_attrs(const Op *op, char *buf, size_t size) {
    attr_append(buf, size, "out=%d", op->a.out);
    if (!op->a.bias)
        attr_append(buf, size, "bias=false");
}

/* y[i][o] = b[o] + sum_k x[i][k] w[o][k]; eight partial sums let the compiler vectorize the
 * dot product without reassociating floating-point additions on its own. */
static void linear_emit_forward(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    cb_line(c, "enum { IF = %d, OF = %d };", emit_in_shape(e, op, 0).d[1], op->a.out);
    emit_epilogue_setup(e, op, op->a.out);
    cb_line(c, "PARALLEL_FOR");
    cb_line(c, "for (int io = 0; io < n * OF; io++) {");
    cb_line(c, "const int i = io / OF, oc = io %% OF;");
    cb_line(c, "const float *xr = x + (size_t)i * IF, *wr = w + (size_t)oc * IF;");
    cb_line(c, "float acc[8] = {0};");
    cb_line(c, "int k = 0;");
    cb_line(c, "for (; k + 8 <= IF; k += 8)");
    cb_line(c, "    for (int j = 0; j < 8; j++)");
    cb_line(c, "        acc[j] += xr[k + j] * wr[k + j];");
    cb_line(c, "for (; k < IF; k++)");
    cb_line(c, "    acc[0] += xr[k] * wr[k];");
    cb_line(c, "const float v = %s((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));",
            op->a.bias ? "b[oc] + " : "");
    cb_line(c, "y[io] = %s;", emit_epilogue(e, op, "v", "oc"));
    cb_line(c, "}");
}

/* dx = dy W; dW += dy^T x; db += sum over the batch of dy. */
static void linear_emit_backward(Emit *e, const Op *bwd, const Op *fwd) {
    Cbuf *c = e->c;
    cb_line(c, "enum { IF = %d, OF = %d };", emit_in_shape(e, fwd, 0).d[1], fwd->a.out);
    if (bwd->out >= 0) {
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int i = 0; i < n; i++) {");
        cb_line(c, "float *dxi = dx + (size_t)i * IF;");
        cb_line(c, "for (int k = 0; k < IF; k++)");
        cb_line(c, "    dxi[k] = 0.0f;");
        cb_line(c, "for (int j = 0; j < OF; j++) {");
        cb_line(c, "const float g = dy[(size_t)i * OF + j];");
        cb_line(c, "const float *wr = w + (size_t)j * IF;");
        cb_line(c, "for (int k = 0; k < IF; k++)");
        cb_line(c, "    dxi[k] += g * wr[k];");
        cb_line(c, "}");
        cb_line(c, "}");
    }
    if (bwd->wrt == 0) {
        cb_line(c, "PARALLEL_FOR");
        cb_line(c, "for (int j = 0; j < OF; j++) {");
        cb_line(c, "float *dwr = dw + (size_t)j * IF;");
        if (fwd->a.bias)
            cb_line(c, "float gb = 0.0f;");
        cb_line(c, "for (int i = 0; i < n; i++) {");
        cb_line(c, "const float g = dy[(size_t)i * OF + j];");
        cb_line(c, "const float *xi = x + (size_t)i * IF;");
        cb_line(c, "for (int k = 0; k < IF; k++)");
        cb_line(c, "    dwr[k] += g * xi[k];");
        if (fwd->a.bias)
            cb_line(c, "gb += g;");
        cb_line(c, "}");
        if (fwd->a.bias)
            cb_line(c, "db[j] += gb;");
        cb_line(c, "}");
    }
}

/* The PyTorch twin. */
static const char *linear_torch_module(const TorchCtx *t, const Op *op) {
    return arena_printf("nn.Linear(%d, %d%s)", torch_in_shape(t, op, 0).d[1], op->a.out, op->a.bias ? "" : ", bias=False");
}
static const char *linear_torch(TorchCtx *t, const Op *op) {
    return arena_printf("%s(%s)", torch_module_ref(op), torch_in(t, op, 0));
}

const OpInfo OP_LINEAR_info = {
    .name = "linear", .is_layer = true, .args = linear_args, .set_attrs = linear_set_attrs,
    .infer = linear_infer, .add_params = linear_add_params, .flops = linear_flops,
    .print_attrs = linear_print_attrs, .param_kind = "linear",
    .emit_forward = linear_emit_forward, .emit_backward = linear_emit_backward, .bwd_needs = BWD_X,
    .epilogue = true,
    .torch_module = linear_torch_module, .torch_call = linear_torch,
};
