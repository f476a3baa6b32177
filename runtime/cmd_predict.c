/* cmd_predict.c: `predict`, image files through the model: the most probable classes of each,
 * with their probabilities and, given a labels file, their names. */
#include "cli.h"
#include "image.h"
#include "rt.h"
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "predict --weights W.safetensors [--weights W2 ...] [--labels FILE] [--top K] [--resize] IMAGE...\n"
    "\n"
    "Classifies each image (PNG, JPEG, BMP, GIF, TGA, PGM/PPM) and prints one line per image:\n"
    "    IMAGE: CLASS [NAME] PROBABILITY, CLASS [NAME] PROBABILITY, ...\n"
    "the K most probable classes first. Pixels are scaled to [0, 1]; colour becomes grey (or grey\n"
    "colour) to match the model's channels. Probabilities are the softmax of the logits, or the\n"
    "outputs themselves when the model ends in softmax. Several --weights make an ensemble: the\n"
    "probabilities are the mean of each weight file's probabilities.\n"
    "\n"
    "  --weights FILE   the model's weights (safetensors); repeat it for an ensemble\n"
    "  --labels FILE    class names, one per line, as many as the model has outputs\n"
    "  --top K          how many classes to print (default 5, at most the number of outputs)\n"
    "  --resize         resize images of another size (bilinear) instead of refusing them\n";

typedef struct Labels {
    unsigned char *text;    /* the file, its newlines replaced by NULs */
    char **names;           /* n pointers into text */
    size_t n;
} Labels;

static void labels_free(Labels *l) {
    free(l->text);
    free(l->names);
}

/* One name per line; '\r' before '\n' is dropped and so are empty lines at the end. */
static bool labels_read(const char *path, size_t want, Labels *l, char *err) {
    size_t len;
    if (!rt_read_file(path, &l->text, &len, err))
        return false;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += l->text[i] == '\n';
    l->names = rt_alloc_array(lines + 1, sizeof *l->names, "the labels", err);
    if (!l->names)
        return false;
    char *s = (char *)l->text;
    for (size_t i = 0, start = 0; i <= len; i++) {
        if (i < len && l->text[i] != '\n')
            continue;
        l->text[i] = 0;
        if (i > start && l->text[i - 1] == '\r')
            l->text[i - 1] = 0;
        if (i < len || i > start)
            l->names[l->n++] = s + start;
        start = i + 1;
    }
    while (l->n > 0 && l->names[l->n - 1][0] == 0)
        l->n--;
    if (l->n != want)
        return rt_fail(err, "%s: %zu class names, the model has %zu outputs", path, l->n, want);
    return true;
}

/* The top k classes of p, most probable first (ties: the lower class first); p is clobbered. */
static void print_top(const char *image, double *p, size_t nclasses, size_t k, const Labels *labels) {
    printf("%s:", image);
    for (size_t i = 0; i < k; i++) {
        size_t best = 0;
        for (size_t j = 1; j < nclasses; j++)
            if (p[j] > p[best])
                best = j;
        const char *name = labels->n ? labels->names[best] : "";
        printf("%s %zu%s%s %.4f", i ? "," : "", best, *name ? " " : "", name, p[best]);
        p[best] = -1;
    }
    printf("\n");
}

int cmd_predict(const CnnModel *m, int argc, char **argv) {
    const char *labels_path = NULL, *top_text = "5";
    bool resize = false;
    const char **images = malloc(((size_t)argc + 1) * sizeof *images);
    const char **weights = malloc(((size_t)argc + 1) * sizeof *weights);
    if (!images || !weights) {
        free(images);
        free(weights);
        return cli_error(EXIT_BAD_INPUT, "out of memory");
    }
    int nimages = 0, nweights = 0;
    const char *last_weights = NULL;
    const CliOption opts[] = {{"--weights", &last_weights, NULL}, {"--labels", &labels_path, NULL},
                              {"--top", &top_text, NULL},    {"--resize", NULL, &resize},
                              {0}};
    long long top;
    int rc = cli_parse_repeated("predict", help, opts, argc, argv, images, &nimages, "--weights", weights, &nweights);
    if (rc < 0 && (!cli_require("predict", "--weights FILE", nweights ? weights[0] : NULL) ||
                   !cli_int("--top", top_text, 1, 1000000000, &top)))
        rc = EXIT_USAGE;
    if (rc < 0 && nimages == 0)
        rc = cli_error(EXIT_USAGE, "predict needs at least one IMAGE (see '%s predict --help')", cli_prog);
    if (rc < 0 && m->in_rank != 3)
        rc = cli_error(EXIT_BAD_INPUT, "model %s takes flat [%d] inputs, not images (use forward)",
                       m->name, m->in_shape[0]);
    if (rc >= 0) {
        free(images);
        free(weights);
        return rc;
    }
    size_t k = (size_t)top < m->out_size ? (size_t)top : m->out_size;

    char err[RT_ERR_LEN];
    CliMemory mem = {0};
    Labels labels = {0};
    float *in = NULL, *out = NULL;
    double *p = NULL;
    Ensemble ens = {0};
    bool ok = (mem.work = cli_alloc_floats(m->work_floats, "the workspace", err)) && ensemble_load(m, weights, nweights, &ens, err) &&
              (!labels_path || labels_read(labels_path, m->out_size, &labels, err)) &&
              (in = cli_alloc_floats((size_t)m->batch * m->in_size, "the input", err)) &&
              (out = cli_alloc_floats((size_t)m->batch * m->out_size, "the output", err)) &&
              (p = rt_alloc_array(((size_t)m->batch + 1) * m->out_size, sizeof *p, "the probabilities", err));
    for (int done = 0; ok && done < nimages; done += m->batch) {
        int n = nimages - done < m->batch ? nimages - done : m->batch;
        for (int i = 0; ok && i < n; i++)
            ok = image_load(images[done + i], m->in_shape[0], m->in_shape[1], m->in_shape[2], resize,
                            in + (size_t)i * m->in_size, err);
        ok = ok && ensemble_forward(m, &ens, mem.work, in, out, n, p, err);
        for (int i = 0; ok && i < n; i++)
            print_top(images[done + i], p + (size_t)i * m->out_size, m->out_size, k, &labels);
    }
    ensemble_free(&ens);
    free(p);
    free(in);
    free(out);
    labels_free(&labels);
    cli_memory_free(&mem);
    free(images);
    free(weights);
    return ok ? 0 : cli_error(EXIT_BAD_INPUT, "%s", err);
}
