/* cmd_grad.c: `grad`, the training half of the test interface (architecture.md): one training
 * step on tensors `input` and `labels` of a safetensors file, writing the loss and the gradient
 * of every trained tensor, so that the generated backward pass can be checked against an
 * independent reference (PyTorch autograd). Batchnorm runs in training mode (batch statistics;
 * the running statistics are not touched), dropout is off (on with --dropout-seed), the loss is the model's train
 * section's, and no weight decay or optimizer step is applied. */
#include "ckpt.h"
#include "cli.h"
#include "cnntrain.h"
#include "rt.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "grad --weights W.safetensors --input X.safetensors --output G.safetensors [--dropout-seed S]\n"
    "\n"
    "Runs one training step on tensor 'input' of X ([N, C, H, W] for image models, [N, F] for\n"
    "flat ones, F32 or F64, 1 <= N <= the compiled batch) with tensor 'labels' of X ([N], I64 or\n"
    "I32, each in [0, classes)), and writes to G the mean loss as tensor 'loss' (F32, shape [])\n"
    "and, under each trained tensor's name and with its shape, that tensor's gradient (F32).\n"
    "Batchnorm uses the batch's statistics (its running statistics are left as they are),\n"
    "dropout is off (unless --dropout-seed), the loss is the one of the model's train section;\n"
    "no weight decay.\n"
    "Every tensor of the model must be in W with its shape; other tensors of W are ignored.\n"
    "\n"
    "  --weights FILE   the model's weights (safetensors)\n"
    "  --input FILE     safetensors file holding tensors 'input' and 'labels'\n"
    "  --output FILE    the safetensors file to write (replaced atomically)\n"
    "  --dropout-seed S dropout on, the step's masks drawn from step seed S (0 to 2^63-1), the\n"
    "                   same masks for the same S (for tests against a reference)\n";

/* Checks tensors 'input' and 'labels' of c against the model and reads N into *n. */
static bool check_shapes(const CnnModel *m, const Ckpt *c, int *n, char *err) {
    char have[128];
    if (!cli_check_input(m, c, n, err))
        return false;
    if (*n > m->batch)
        return rt_fail(err, "%s: tensor 'input' holds %d images, more than the compiled batch %d "
                       "(compile with 'cnnc --batch N')", c->path, *n, m->batch);
    const CkptTensor *l = ckpt_find(c, "labels");
    if (!l)
        return rt_fail(err, "%s: no tensor 'labels' [%d] (I64 or I32)", c->path, *n);
    ckpt_format_shape(l->shape, l->rank, have, sizeof have);
    if (l->rank != 1 || l->shape[0] != *n)
        return rt_fail(err, "%s: tensor 'labels' has shape %s, expected [%d] (one per image of 'input')",
                       c->path, have, *n);
    return true;
}

/* Reads the labels into out[n] after checking each is a class of the model. */
static bool read_labels(const CnnModel *m, const Ckpt *c, int n, int *out, char *err) {
    int64_t *raw = rt_alloc_array((size_t)n, sizeof *raw, "the labels", err);
    int shape[1] = {n};
    bool ok = raw && ckpt_get_i64(c, "labels", shape, 1, raw, err);
    for (int i = 0; ok && i < n; i++) {
        if (raw[i] < 0 || raw[i] >= (int64_t)m->out_size)
            ok = rt_fail(err, "%s: tensor 'labels' has %" PRId64 " at index %d, outside the classes [0, %zu)",
                         c->path, raw[i], i, m->out_size);
        else
            out[i] = (int)raw[i];
    }
    free(raw);
    return ok;
}

/* The step options of a gradient check: the train section's loss, nothing else. */
static cnn_step_opts grad_opts(const CnnModel *m) {
    const CnnTrainDefaults *d = m->defaults;
    cnn_step_opts o = {.grad_scale = 1.0f, .focal_gamma = 2.0f, .focal_alpha = 1.0f};
    if (d) {
        o.loss = d->loss == CNN_LOSS_FOCAL ? 1 : 0;
        o.label_smoothing = d->label_smoothing;
        o.class_weight = d->nclass_weight > 0 ? d->class_weight : NULL;
        o.focal_gamma = d->focal_gamma;
        o.focal_alpha = d->focal_alpha;
    }
    o.dropout = 0;
    o.update_stats = 0;
    return o;
}

int cmd_grad(const CnnModel *m, int argc, char **argv) {
    const char *weights = NULL, *input = NULL, *output = NULL, *dropout_seed = NULL;
    const CliOption opts[] = {{"--weights", &weights, NULL},
                              {"--input", &input, NULL},
                              {"--output", &output, NULL},
                              {"--dropout-seed", &dropout_seed, NULL},
                              {0}};
    int rc = cli_parse("grad", help, opts, argc, argv, NULL, NULL);
    if (rc >= 0)
        return rc;
    if (!cli_require("grad", "--weights FILE", weights) || !cli_require("grad", "--input FILE", input) ||
        !cli_require("grad", "--output FILE", output))
        return EXIT_USAGE;
    long long seed = 0;
    if (dropout_seed && !cli_int("--dropout-seed", dropout_seed, 0, INT64_MAX, &seed))
        return EXIT_USAGE;
    if (!m->train_step)
        return cli_error(EXIT_BAD_INPUT, "model %s was compiled without its training step", m->name);

    char err[RT_ERR_LEN];
    CliMemory mem = {0};
    Ckpt *x = NULL;
    float *in = NULL, *grads = NULL;
    int *labels = NULL;
    int n = 0;
    bool ok = cli_memory_alloc(m, &mem, err) && cli_load_weights(m, weights, mem.params, err) &&
              (x = ckpt_read(input, err)) && check_shapes(m, x, &n, err);
    if (ok) {
        int shape[4] = {n, m->in_shape[0], m->in_shape[1], m->in_shape[2]};
        ok = (in = cli_alloc_floats((size_t)n * m->in_size, "the input", err)) &&
             (grads = cli_alloc_floats(m->param_floats, "the gradients", err)) &&
             (labels = rt_alloc_array((size_t)n, sizeof *labels, "the labels", err)) &&
             ckpt_get_f32(x, "input", shape, m->in_rank + 1, in, err) && read_labels(m, x, n, labels, err);
    }
    ckpt_free(x);
    float loss = NAN;
    if (ok) {
        cnn_step_opts o = grad_opts(m);
        cli_poison_work(m, &mem);
        if (dropout_seed) {
            o.dropout = 1;
            o.seed = (unsigned long long)seed;
        }
        loss = m->train_step(mem.params, grads, mem.work, in, labels, n, &o);
        if (isnan(loss))
            ok = rt_fail(err, "the loss is not a number (NaN) on these weights and %d images", n);
    }
    if (ok) {
        CkptWriter *w = ckpt_writer_new();
        if (!w) {
            ok = rt_fail(err, "out of memory");
        } else {
            ckpt_add_meta(w, "model", m->name);
            ckpt_add_f32(w, "loss", NULL, 0, &loss);
            for (int i = 0; i < m->ntensors; i++) {
                const CnnTensorInfo *t = &m->tensors[i];
                if (t->trained)
                    ckpt_add_f32(w, t->name, t->shape, t->rank, grads + t->offset);
            }
            ok = ckpt_write(w, output, err);
            ckpt_writer_free(w);
        }
    }
    free(in);
    free(grads);
    free(labels);
    cli_memory_free(&mem);
    return ok ? 0 : cli_error(EXIT_BAD_INPUT, "%s", err);
}
