/* cmd_forward.c: `forward`, the test interface (architecture.md): tensor `input` of a
 * safetensors file through the model into tensor `output` of another, so that any model can be
 * checked against an independent reference. */
#include "ckpt.h"
#include "cli.h"
#include "rt.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "forward --weights W.safetensors --input X.safetensors --output Y.safetensors\n"
    "\n"
    "Runs the model on tensor 'input' of X, [N, C, H, W] for image models or [N, F] for flat\n"
    "ones, F32 or F64, any N >= 1 (in chunks of the compiled batch), and writes tensor 'output'\n"
    "[N, OUT] as F32: logits, or probabilities when the model ends in softmax.\n"
    "Every tensor of the model must be in W with its shape; other tensors of W are ignored.\n"
    "\n"
    "  --weights FILE   the model's weights (safetensors)\n"
    "  --input FILE     safetensors file holding tensor 'input'\n"
    "  --output FILE    the safetensors file to write (replaced atomically)\n";


int cmd_forward(const CnnModel *m, int argc, char **argv) {
    const char *weights = NULL, *input = NULL, *output = NULL;
    const CliOption opts[] = {
        {"--weights", &weights, NULL}, {"--input", &input, NULL}, {"--output", &output, NULL}, {0}};
    int rc = cli_parse("forward", help, opts, argc, argv, NULL, NULL);
    if (rc >= 0)
        return rc;
    if (!cli_require("forward", "--weights FILE", weights) || !cli_require("forward", "--input FILE", input) ||
        !cli_require("forward", "--output FILE", output))
        return EXIT_USAGE;

    char err[RT_ERR_LEN];
    CliMemory mem = {0};
    Ckpt *x = NULL;
    float *in = NULL, *out = NULL;
    CkptWriter *w = NULL;
    int n = 0;
    bool ok = cli_memory_alloc(m, &mem, err) && cli_load_weights(m, weights, mem.params, err) &&
              (x = ckpt_read(input, err)) && cli_check_input(m, x, &n, err);
    if (ok) {
        int shape[4] = {n, m->in_shape[0], m->in_shape[1], m->in_shape[2]};
        ok = (in = cli_alloc_floats((size_t)n * m->in_size, "the input", err)) &&
             (out = cli_alloc_floats((size_t)n * m->out_size, "the output", err)) &&
             ckpt_get_f32(x, "input", shape, m->in_rank + 1, in, err);
    }
    ckpt_free(x);
    if (ok)
        cli_poison_work(m, &mem);
    float *packs = ok ? cli_pack(m, mem.params, mem.work) : NULL;
    for (int done = 0; ok && done < n; done += m->batch) {
        int k = n - done < m->batch ? n - done : m->batch;
        if (cli_forward(m, mem.params, packs, mem.work, in + (size_t)done * m->in_size,
                        out + (size_t)done * m->out_size, k) != 0)
            ok = rt_fail(err, "the model refused a batch of %d images (compiled batch %d)", k, m->batch);
    }
    free(packs);
    if (ok) {
        int oshape[2] = {n, (int)m->out_size};
        if (!(w = ckpt_writer_new())) {
            ok = rt_fail(err, "out of memory");
        } else {
            ckpt_add_meta(w, "model", m->name);
            ckpt_add_f32(w, "output", oshape, 2, out);
            ok = ckpt_write(w, output, err);
            ckpt_writer_free(w);
        }
    }
    free(in);
    free(out);
    cli_memory_free(&mem);
    return ok ? 0 : cli_error(EXIT_BAD_INPUT, "%s", err);
}
