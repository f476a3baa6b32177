/* train_ops.c: the two ops that only training graphs have.
 * loss: logits [N, K] -> a scalar, the mean loss over the batch. Cross-entropy exactly as
 *   torch.nn.CrossEntropyLoss(weight, label_smoothing) with reduction 'mean':
 *   sum_i [(1-e) w[y_i] (-log p_i,y_i) + e/K sum_k w[k] (-log p_i,k)] / sum_i w[y_i]
 *   (w = 1 when no class weights). Focal: mean_i of -alpha (1 - p_t)^gamma log p_t, the softmax
 *   focal loss of Lin et al. (p_t: the probability of the true class).
 *   The labels and the loss settings come from the step options at run time. When
 *   o->correct is set, the loss also counts the rows whose first largest logit is at the
 *   label: the training accuracy, from the training forward's own logits.
 * backward: the gradient op of a forward op (attributes fwd, wrt); its code is the forward
 *   op's emit_backward. */
#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../ops.h"

static const ArgSpec no_args[] = {ARG_END};
static bool no_set_attrs(Graph *g, Op *op, const Val *v) { return true; }
static void no_attrs(const Op *op, char *buf, size_t size) {}

static bool loss_infer(Graph *g, Op *op) {
    *out_shape(g, op) = (Shape){0, {0}};
    return true;
}

static double loss_flops(const Graph *g, const Op *op) { return 4.0 * g->values[op->in[0]].shape.d[1]; }

/* Per row: log-softmax, then the loss; x (logits), y (the loss), labels, o. */
static void loss_emit_forward(Emit *e, const Op *op) {
    Cbuf *c = e->c;
    cb_line(c, "enum { K = %d };", emit_in_shape(e, op, 0).d[1]);
    cb_line(c, "double total = 0.0, denom = 0.0;");
    cb_line(c, "int hits = 0;");
    cb_line(c, "for (int i = 0; i < n; i++) {");
    cb_line(c, "const float *row = x + (ptrdiff_t)i * K;");
    cb_line(c, "const int t = labels[i];");
    cb_line(c, "float m = row[0];");
    cb_line(c, "int best = 0;");
    cb_line(c, "for (int k = 1; k < K; k++)");
    cb_line(c, "    if (row[k] > m) {");
    cb_line(c, "        m = row[k];");
    cb_line(c, "        best = k;");
    cb_line(c, "    }");
    cb_line(c, "hits += best == t;");
    cb_line(c, "double s = 0.0;");
    cb_line(c, "for (int k = 0; k < K; k++)");
    cb_line(c, "    s += exp((double)row[k] - m);");
    cb_line(c, "const double lse = m + log(s);");
    cb_line(c, "/* focal loss, else cross-entropy */");
    cb_line(c, "if (o->loss == 1) {");
    cb_line(c, "const double logp = row[t] - lse, p = exp(logp);");
    cb_line(c, "total += -o->focal_alpha * pow(1.0 - p, o->focal_gamma) * logp;");
    cb_line(c, "denom += 1.0;");
    cb_line(c, "} else {");
    cb_line(c, "const double wt = o->class_weight ? o->class_weight[t] : 1.0;");
    cb_line(c, "double smooth = 0.0;");
    cb_line(c, "if (o->label_smoothing > 0.0f)");
    cb_line(c, "    for (int k = 0; k < K; k++)");
    cb_line(c, "        smooth += (o->class_weight ? o->class_weight[k] : 1.0) * (lse - row[k]);");
    cb_line(c, "total += (1.0 - o->label_smoothing) * wt * (lse - row[t]) + o->label_smoothing / K * smooth;");
    cb_line(c, "denom += wt;");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "y[0] = (float)(denom > 0.0 ? total / denom : 0.0);");
    cb_line(c, "if (o->correct)");
    cb_line(c, "    *o->correct += hits;");
}

/* d loss / d logits, scaled by o->grad_scale (for gradient accumulation). */
static void loss_emit_backward(Emit *e, const Op *bwd, const Op *fwd) {
    Cbuf *c = e->c;
    cb_line(c, "enum { K = %d };", emit_in_shape(e, fwd, 0).d[1]);
    cb_line(c, "double denom = 0.0, wsum = 0.0;");
    cb_line(c, "for (int i = 0; i < n; i++)");
    cb_line(c, "    denom += o->loss == 1 || !o->class_weight ? 1.0 : o->class_weight[labels[i]];");
    cb_line(c, "for (int k = 0; k < K; k++)");
    cb_line(c, "    wsum += o->class_weight ? o->class_weight[k] : 1.0;");
    cb_line(c, "const double scale = denom > 0.0 ? o->grad_scale / denom : 0.0;");
    cb_line(c, "for (int i = 0; i < n; i++) {");
    cb_line(c, "const float *row = x + (ptrdiff_t)i * K;");
    cb_line(c, "float *g = dx + (ptrdiff_t)i * K;");
    cb_line(c, "const int t = labels[i];");
    cb_line(c, "float m = row[0];");
    cb_line(c, "for (int k = 1; k < K; k++)");
    cb_line(c, "    m = row[k] > m ? row[k] : m;");
    cb_line(c, "double s = 0.0;");
    cb_line(c, "for (int k = 0; k < K; k++)");
    cb_line(c, "    s += exp((double)row[k] - m);");
    cb_line(c, "if (o->loss == 1) {");
    cb_line(c, "const double logp = row[t] - m - log(s), p = exp(logp), q = 1.0 - p;");
    cb_line(c, "/* dL/dx_k = [alpha gamma (1-p)^(gamma-1) p log p - alpha (1-p)^gamma] (delta_kt - p_k) */");
    cb_line(c, "const double a = (q > 0.0 ? o->focal_alpha * o->focal_gamma * pow(q, o->focal_gamma - 1.0) * p * logp : 0.0)");
    cb_line(c, "                 - o->focal_alpha * pow(q, o->focal_gamma);");
    cb_line(c, "for (int k = 0; k < K; k++)");
    cb_line(c, "    g[k] = (float)(scale * a * ((k == t) - exp((double)row[k] - m) / s));");
    cb_line(c, "} else {");
    cb_line(c, "const double e = o->label_smoothing, wt = o->class_weight ? o->class_weight[t] : 1.0;");
    cb_line(c, "const double csum = (1.0 - e) * wt + e / K * wsum;");
    cb_line(c, "for (int k = 0; k < K; k++) {");
    cb_line(c, "const double wk = o->class_weight ? o->class_weight[k] : 1.0;");
    cb_line(c, "g[k] = (float)(scale * (exp((double)row[k] - m) / s * csum - (k == t ? (1.0 - e) * wt : 0.0) - e / K * wk));");
    cb_line(c, "}");
    cb_line(c, "}");
    cb_line(c, "}");
}

static bool backward_infer(Graph *g, Op *op) {
    if (op->out >= 0)
        *out_shape(g, op) = g->values[g->ops[op->fwd].in[op->wrt]].shape;
    return true;
}

static double backward_flops(const Graph *g, const Op *op) {
    const OpInfo *f = op_info(g->ops[op->fwd].kind);
    return f->flops ? f->flops(g, &g->ops[op->fwd]) : 0;
}

static void backward_emit(Emit *e, const Op *op) {
    const Op *fwd = &e->g->ops[op->fwd];
    op_info(fwd->kind)->emit_backward(e, op, fwd);
}

static int64_t backward_scratch(const Graph *g, const Op *op) {
    const Op *fwd = &g->ops[op->fwd];
    const OpInfo *f = op_info(fwd->kind);
    return f->bwd_scratch ? f->bwd_scratch(g, op, fwd) : 0;
}

const OpInfo OP_LOSS_info = {
    .name = "loss", .args = no_args, .set_attrs = no_set_attrs, .infer = loss_infer, .flops = loss_flops,
    .print_attrs = no_attrs, .emit_forward = loss_emit_forward, .emit_backward = loss_emit_backward,
    .bwd_needs = BWD_X,
};
const OpInfo OP_BACKWARD_info = {
    .name = "backward", .args = no_args, .set_attrs = no_set_attrs, .infer = backward_infer,
    .flops = backward_flops, .print_attrs = no_attrs, .emit_forward = backward_emit, .scratch = backward_scratch,
};
