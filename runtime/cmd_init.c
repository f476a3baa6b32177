/* cmd_init.c: `init`, a fresh model's weights (PyTorch's initialization formulas, init.h)
 * written as a safetensors checkpoint with PyTorch's names and shapes. */
#include "ckpt.h"
#include "cli.h"
#include "rt.h"

#include <stdio.h>
#include <stdlib.h>

static const char help[] =
    "init --save W.safetensors [--seed S] [--init KIND]\n"
    "\n"
    "Fills every tensor as a freshly constructed PyTorch model would and writes them all\n"
    "(trained tensors and batchnorm running statistics) as F32, with PyTorch's names and shapes.\n"
    "The random stream is cnnc's own: the same seed gives the same file, not PyTorch's numbers.\n"
    "\n"
    "  --save FILE    the checkpoint to write (replaced atomically)\n"
    "  --seed S       random seed, 0 to 2^63-1 (default 1)\n"
    "  --init KIND    default (PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and\n"
    "                 biases), kaiming_normal, kaiming_uniform, xavier_uniform or xavier_normal\n"
    "                 (weights; biases start at 0),\n"
    "                 with torch.nn.init's arguments: 'kaiming_normal(a=0, mode=fan_in,\n"
    "                 nonlinearity=leaky_relu)', 'xavier_uniform(gain=1)', 'normal(mean=0, std=1)',\n"
    "                 'uniform(a=0, b=1)', 'constant(val)'\n";

int cmd_init(const CnnModel *m, int argc, char **argv) {
    const char *save = NULL, *seed_text = "1", *init_text = "default";
    const CliOption opts[] = {
        {"--save", &save, NULL}, {"--seed", &seed_text, NULL}, {"--init", &init_text, NULL}, {0}};
    int rc = cli_parse("init", help, opts, argc, argv, NULL, NULL);
    if (rc >= 0)
        return rc;
    long long seed;
    InitSpec spec;
    char perr[RT_ERR_LEN];
    if (!cli_require("init", "--save FILE", save) || !cli_int("--seed", seed_text, 0, INT64_MAX, &seed))
        return EXIT_USAGE;
    if (!init_spec_parse(init_text, &spec, perr, sizeof perr))
        return cli_error(EXIT_USAGE, "%s", perr);

    char err[RT_ERR_LEN];
    float *params = cli_alloc_floats(m->param_floats, "the parameters", err);
    if (!params)
        return cli_error(EXIT_BAD_INPUT, "%s", err);
    cli_init_params_spec(m, params, &spec, (unsigned long long)seed);
    CkptWriter *w = ckpt_writer_new();
    if (!w) {
        free(params);
        return cli_error(EXIT_BAD_INPUT, "out of memory");
    }
    char seed_buf[32];
    snprintf(seed_buf, sizeof seed_buf, "%lld", seed);
    ckpt_add_meta(w, "model", m->name);
    ckpt_add_meta(w, "init", init_text);
    ckpt_add_meta(w, "seed", seed_buf);
    for (int i = 0; i < m->ntensors; i++) {
        const CnnTensorInfo *t = &m->tensors[i];
        ckpt_add_f32(w, t->name, t->shape, t->rank, params + t->offset);
    }
    const int64_t no_batches = 0;
    cli_add_batch_counters(w, m, &no_batches);
    bool ok = ckpt_write(w, save, err);
    ckpt_writer_free(w);
    free(params);
    if (!ok)
        return cli_error(EXIT_BAD_INPUT, "%s", err);
    char count[48];
    printf("wrote %s: %d tensors, %s trained parameters (init %s, seed %lld)\n", save, m->ntensors,
           cli_group(m->trained_params, count, sizeof count), init_text, seed);
    return 0;
}
