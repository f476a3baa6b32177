/* dropout.c: torch.nn.Dropout: identity at inference; in training, zeroes each element with
 * probability p and scales the rest by 1 / (1 - p). Attribute: p.
 * drop_path: stochastic depth as torchvision.ops.StochasticDepth(p, mode="row"): the same with
 * one draw per image (the whole image kept or zeroed), from the same mask generator. */
#include "../arena.h"
#include "../cbuf.h"
#include "../emit_c.h"
#include "../emit_torch.h"
#include "../ops.h"

static const ArgSpec dropout_args[] = {ARG_NUM("p", "0.5", RANGE(0, 1)), ARG_END};

static bool dropout_set_attrs(Graph *g, Op *op, const Val *v) {
    op->a.p = val_num(&v[0]);
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

/* The mask is a stateless function of (o->seed, the op, the element index), so the backward
 * regenerates exactly the forward's mask instead of storing it: the op's stream starts at a
 * splitmix64 mix of the seed and the op's value id, element k takes the k-th splitmix64 output,
 * and its top 24 bits below round((1 - p) 2^24) keep the element. Emits, inside a loop over k,
 * `const int keep = ...;`. */
static void emit_keep(Cbuf *c, const Op *fwd, long long image_floats) {
    long long threshold = (long long)((1.0 - fwd->a.p) * 16777216.0 + 0.5);
    /* k counts from the batch's first image: a rank of data-parallel training (CNN_MPI) holding
     * the images from CNN_FIRST_IMAGE on draws the masks one process draws for them. */
    cb_line(c, "unsigned long long z = base + ((unsigned long long)k + CNN_FIRST_IMAGE * %lldull + 1) * 0x9E3779B97F4A7C15ull;",
            image_floats);
    cb_line(c, "z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;");
    cb_line(c, "z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;");
    cb_line(c, "z ^= z >> 31;");
    cb_line(c, "const int keep = (z >> 40) < %lldull;", threshold);
}

static void emit_stream(Cbuf *c, const Op *fwd) {
    cb_line(c, "unsigned long long base = o->seed ^ (%dull * 0xD1B54A32D192ED03ull);", fwd->out);
    cb_line(c, "base = (base ^ (base >> 30)) * 0xBF58476D1CE4E5B9ull;");
    cb_line(c, "base = (base ^ (base >> 27)) * 0x94D049BB133111EBull;");
    cb_line(c, "base ^= base >> 31;");
}

static long long per_image(const Emit *e, const Op *fwd) {
    Shape s = emit_in_shape(e, fwd, 0);
    return (long long)(shape_numel(s) / s.d[0]);
}

/* The training forward (y = x * mask * scale) and the backward (dx = dy * mask * scale, the
 * mask regenerated from the same seed) of both ops: each element kept with probability 1 - p
 * and scaled by 1 / (1 - p), as torch.nn.Dropout in train mode, or for drop_path (per_image)
 * one draw per image keeping or zeroing the whole image. Without o->dropout (eval mode), or
 * for drop_path with p = 0, the identity. */
static void emit_masked(Emit *e, const Op *fwd, bool backward, bool per_image_mask) {
    Cbuf *c = e->c;
    const char *out = backward ? "dx" : "y", *in = backward ? "dy" : "x";
    long long per = per_image(e, fwd);
    cb_line(c, "const size_t total = (size_t)n * %lld;", per);
    if (per_image_mask)
        cb_line(c, "if (!o->dropout || %d) {", fwd->a.p == 0 ? 1 : 0);
    else
        cb_line(c, "if (!o->dropout) {");
    if (backward) {
        cb_line(c, "for (size_t k = 0; k < total; k++)");
        cb_line(c, "    dx[k] = dy[k];");
    } else {
        cb_line(c, "memcpy(y, x, sizeof(float) * total);");
    }
    cb_line(c, "return;");
    cb_line(c, "}");
    emit_stream(c, fwd);
    cb_line(c, "const float scale = %s;", emit_float(1.0 / (1.0 - fwd->a.p)));
    if (per_image_mask) {
        cb_line(c, "for (int k = 0; k < n; k++) {");
        emit_keep(c, fwd, 1);
        cb_line(c, "const float f = keep ? scale : 0.0f;");
        cb_line(c, "for (size_t j = 0; j < %lld; j++)", per);
        cb_line(c, "    %s[(size_t)k * %lld + j] = %s[(size_t)k * %lld + j] * f;", out, per, in, per);
    } else {
        cb_line(c, "for (size_t k = 0; k < total; k++) {");
        emit_keep(c, fwd, per);
        cb_line(c, "%s[k] = keep ? %s[k] * scale : 0.0f;", out, in);
    }
    cb_line(c, "}");
}

static void dropout_emit_forward_train(Emit *e, const Op *op) { emit_masked(e, op, false, false); }
static void dropout_emit_backward(Emit *e, const Op *bwd, const Op *fwd) { emit_masked(e, fwd, true, false); }
static void drop_path_emit_forward_train(Emit *e, const Op *op) { emit_masked(e, op, false, true); }
static void drop_path_emit_backward(Emit *e, const Op *bwd, const Op *fwd) { emit_masked(e, fwd, true, true); }

static const ArgSpec drop_path_args[] = {ARG_NUM("p", NULL, RANGE(0, 1)), ARG_END};

static bool drop_path_set_attrs(Graph *g, Op *op, const Val *v) {
    op->a.p = val_num(&v[0]);
    if (op->a.p >= 1) {
        diag_error(v[0].span, "drop_path: argument 'p' must be below 1 (p = 1 drops every image), got %g", op->a.p);
        return false;
    }
    return true;
}

/* The PyTorch twin. */
static const char *dropout_torch(TorchCtx *t, const Op *op) {
    return arena_printf("F.dropout(%s, p=%s, training=self.training)", torch_in(t, op, 0), torch_float(op->a.p));
}

/* torchvision.ops.stochastic_depth(x, p, "row", training), written out so the module needs
 * only torch: x times a dropout of ones with one element per image. */
static const char *drop_path_torch(TorchCtx *t, const Op *op) {
    const char *x = torch_in(t, op, 0);
    return arena_printf("%s * F.dropout(%s.new_ones([%s.shape[0]] + [1] * (%s.dim() - 1)), p=%s, training=self.training)",
                        x, x, x, x, torch_float(op->a.p));
}

const OpInfo OP_DROP_PATH_info = {
    .name = "drop_path", .is_layer = true, .args = drop_path_args, .set_attrs = drop_path_set_attrs,
    .infer = same_infer, .flops = dropout_flops, .print_attrs = dropout_print_attrs,
    .emit_forward = dropout_emit_forward, .emit_forward_train = drop_path_emit_forward_train,
    .emit_backward = drop_path_emit_backward, .bwd_needs = 0,
    .torch_call = drop_path_torch,
};

const OpInfo OP_DROPOUT_info = {
    .name = "dropout", .is_layer = true, .args = dropout_args, .set_attrs = dropout_set_attrs,
    .infer = same_infer, .flops = dropout_flops, .print_attrs = dropout_print_attrs,
    .emit_forward = dropout_emit_forward, .emit_forward_train = dropout_emit_forward_train,
    .emit_backward = dropout_emit_backward, .bwd_needs = 0,
    .torch_call = dropout_torch,
};
