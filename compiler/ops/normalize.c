/* normalize.c: fixed input normalization y = (x - mean_c) / std_c, not trained.
 * mean and std are one number (every channel) or a list of C numbers; on a flat tensor, one
 * number or a list of F numbers. Attributes: mean, std (expanded to one per channel), nmean. */
#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../emit_torch.h"
#include "../ops.h"

static const ArgSpec normalize_args[] = {{"mean", NULL, AK_NUM_LIST, RANGE(-1e30, 1e30), NULL, 0},
                                         {"std", NULL, AK_NUM_LIST, RANGE(-1e30, 1e30), NULL, 0}, ARG_END};

static bool expand(Graph *g, Op *op, const Val *v, const char *arg, double **out, bool nonzero) {
    int c = in_shape(g, op, 0)->d[1];
    int n = v->kind == V_LIST ? v->n : 1;
    if (n != 1 && n != c) {
        diag_error(v->span, "normalize: '%s' has %d values, the input %s has %d channels", arg, n,
                   shape_str(*in_shape(g, op, 0), true), c);
        return false;
    }
    double *x = arena_alloc(sizeof(double) * (size_t)c);
    for (int i = 0; i < n; i++) {
        const Val *item = v->kind == V_LIST ? &v->items[i] : v;
        x[i] = val_num(item);
        if (nonzero && x[i] == 0) {
            diag_error(item->span, "normalize: 'std' must not be zero");
            return false;
        }
    }
    for (int i = n; i < c; i++)
        x[i] = x[0];
    *out = x;
    return true;
}

static bool normalize_set_attrs(Graph *g, Op *op, const Val *v) {
    op->a.nmean = in_shape(g, op, 0)->d[1];
    bool ok = expand(g, op, &v[0], "mean", &op->a.mean, false);
    ok &= expand(g, op, &v[1], "std", &op->a.std, true);
    return ok;
}

static bool normalize_infer(Graph *g, Op *op) {
    *out_shape(g, op) = *in_shape(g, op, 0);
    return true;
}

static double normalize_flops(const Graph *g, const Op *op) { return same_shape_flops(g, op, 2); }

static void normalize_print_attrs(const Op *op, char *buf, size_t size) {
    const Attrs *a = &op->a;
    bool uniform = true;
    for (int i = 1; i < a->nmean; i++)
        uniform &= a->mean[i] == a->mean[0] && a->std[i] == a->std[0];
    if (uniform) {
        attr_append(buf, size, "mean=%g std=%g", a->mean[0], a->std[0]);
        return;
    }
    const char *m = "[", *s = "[";
    for (int i = 0; i < a->nmean; i++) {
        m = arena_printf("%s%s%g", m, i ? ", " : "", a->mean[i]);
        s = arena_printf("%s%s%g", s, i ? ", " : "", a->std[i]);
    }
    attr_append(buf, size, "mean=%s] std=%s]", m, s);
}

/* y = (x - mean_c) / std_c with the constants written into the code. */
static void normalize_emit_forward(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    Shape s = emit_in_shape(e, op, 0);
    const char *m = "", *d = "";
    for (int i = 0; i < op->a.nmean; i++) {
        m = arena_printf("%s%s%s", m, i ? ", " : "", emit_float(op->a.mean[i]));
        d = arena_printf("%s%s%s", d, i ? ", " : "", emit_float(op->a.std[i]));
    }
    cb_line(c, "enum { C = %d, HW = %d };", s.d[1], s.rank == 4 ? s.d[2] * s.d[3] : 1);
    cb_line(c, "static const float mean[C] = {%s};", m);
    cb_line(c, "static const float std[C] = {%s};", d);
    cb_line(c, "for (int ic = 0; ic < n * C; ic++)");
    cb_line(c, "    for (int p = 0; p < HW; p++)");
    cb_line(c, "        y[(ptrdiff_t)ic * HW + p] = (x[(ptrdiff_t)ic * HW + p] - mean[ic %% C]) / std[ic %% C];");
}

/* dx = dy / std_c (mean only shifts). */
static void normalize_emit_backward(Emit *e, const Op *bwd, const Op *fwd) {
    Cbuf *c = e->c;
    Shape s = emit_in_shape(e, fwd, 0);
    const char *d = "";
    for (int i = 0; i < fwd->a.nmean; i++)
        d = arena_printf("%s%s%s", d, i ? ", " : "", emit_float(fwd->a.std[i]));
    cb_line(c, "enum { C = %d, HW = %d };", s.d[1], s.rank == 4 ? s.d[2] * s.d[3] : 1);
    cb_line(c, "static const float std[C] = {%s};", d);
    cb_line(c, "for (int ic = 0; ic < n * C; ic++)");
    cb_line(c, "    for (int p = 0; p < HW; p++)");
    cb_line(c, "        dx[(ptrdiff_t)ic * HW + p] = dy[(ptrdiff_t)ic * HW + p] / std[ic %% C];");
}

/* The PyTorch twin: constants inline when every channel has the same, else two buffers. */
static bool all_same(const double *v, int n) {
    for (int i = 1; i < n; i++)
        if (v[i] != v[0])
            return false;
    return true;
}
static const char *normalize_torch(TorchCtx *t, const Op *op) {
    const Attrs *a = &op->a;
    const char *x = torch_in(t, op, 0);
    if (all_same(a->mean, a->nmean) && all_same(a->std, a->nmean))
        return arena_printf("(%s - %s) / %s", x, torch_float(a->mean[0]), torch_float(a->std[0]));
    const char *view = torch_in_shape(t, op, 0).rank == 4 ? ".view(1, -1, 1, 1)" : ".view(1, -1)";
    const char *m = torch_buffer(t, op, "mean", a->mean, a->nmean, view);
    const char *s = torch_buffer(t, op, "std", a->std, a->nmean, view);
    return arena_printf("(%s - %s) / %s", x, m, s);
}

const OpInfo OP_NORMALIZE_info = {
    .name = "normalize", .is_layer = true, .args = normalize_args, .set_attrs = normalize_set_attrs,
    .infer = normalize_infer, .flops = normalize_flops, .print_attrs = normalize_print_attrs,
    .emit_forward = normalize_emit_forward, .emit_backward = normalize_emit_backward, .bwd_needs = 0,
    .bwd_inplace = true,
    .pre_norm = true, /* into a conv's padded copy of its input */
    .torch_call = normalize_torch,
};
