/* cmd_eval.c: `eval`, a trained model scored on one split of a dataset: mean cross-entropy,
 * accuracy, per-class precision and recall, the confusion matrix as text and, with --plot,
 * as an SVG heat map (plot.c). */
#include "ckpt.h"
#include "cli.h"
#include "rt.h"
#include "train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "eval --weights W.safetensors --data DIR [--split test|train] [--plot FILE.svg] [--labels FILE]\n"
    "\n"
    "Runs the model in eval mode on every image of one split of DIR and prints the mean\n"
    "cross-entropy, the accuracy, precision and recall per class and the confusion matrix\n"
    "(rows: true class, columns: predicted class).\n"
    "\n"
    "  --weights W      the checkpoint (e.g. a train run's best.safetensors)\n"
    "  --data DIR       IDX, CIFAR-10 binary or a folder of class folders (as train)\n"
    "  --split S        test (default) or train\n"
    "  --plot FILE      also draw the confusion matrix as an SVG heat map\n"
    "  --labels FILE    class names, one per line (default: the dataset's)\n";

/* Reads one name per line (blank lines skipped) into names[0..k); exactly k are needed. */
static bool read_labels(const char *path, int k, char **names, char *err) {
    unsigned char *data;
    size_t len;
    if (!rt_read_file(path, &data, &len, err))
        return false;
    int n = 0;
    bool ok = true;
    for (char *line = (char *)data, *next; ok && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
            line[--l] = 0;
        if (!l)
            continue;
        if (n == k) {
            ok = rt_fail(err, "%s: more than the model's %d class names", path, k);
            break;
        }
        if (!(names[n++] = rt_strdup(line, err)))
            ok = false;
    }
    if (ok && n < k)
        ok = rt_fail(err, "%s: %d class names, the model has %d classes", path, n, k);
    free(data);
    return ok;
}

int cmd_eval(const CnnModel *m, int argc, char **argv) {
    const char *weights = NULL, *data = NULL, *split_text = "test", *plot = NULL, *labels = NULL;
    const CliOption opts[] = {{"--weights", &weights, NULL}, {"--data", &data, NULL},
                              {"--split", &split_text, NULL}, {"--plot", &plot, NULL},
                              {"--labels", &labels, NULL}, {0}};
    int rc = cli_parse("eval", help, opts, argc, argv, NULL, NULL);
    if (rc >= 0)
        return rc;
    if (!cli_require("eval", "--weights W.safetensors", weights) || !cli_require("eval", "--data DIR", data))
        return EXIT_USAGE;
    DataSplit split;
    if (strcmp(split_text, "test") == 0)
        split = SPLIT_TEST;
    else if (strcmp(split_text, "train") == 0)
        split = SPLIT_TRAIN;
    else
        return cli_error(EXIT_USAGE, "--split takes test or train, not '%s'", split_text);
    if (m->in_rank != 3)
        return cli_error(EXIT_USAGE, "eval needs a model that takes images [C, H, W]; %s takes [%d]", m->name,
                         m->in_shape[0]);

    char err[RT_ERR_LEN];
    int k = (int)m->out_size;
    Dataset ds = {0};
    CliMemory mem = {0};
    Confusion cm = {0};
    float *x = NULL, *out = NULL;
    char **names = calloc((size_t)k, sizeof *names);
    bool ok = names != NULL || rt_fail(err, "out of memory");
    ok = ok && cli_memory_alloc(m, &mem, err) && cli_load_weights(m, weights, mem.params, err) &&
         (!labels || read_labels(labels, k, names, err)) &&
         dataset_load(data, split, m->in_shape[0], m->in_shape[1], m->in_shape[2], true, &ds, err);
    if (ok && ds.n == 0)
        ok = rt_fail(err, "%s: the %s split has no images", data, split_text);
    for (int i = 0; ok && i < ds.n; i++)
        if (ds.labels[i] < 0 || ds.labels[i] >= k)
            ok = rt_fail(err, "%s: %s label %d (image %d) is out of range: the model has %d classes", data, split_text,
                         ds.labels[i], i, k);
    ok = ok && (x = cli_alloc_floats((size_t)m->batch * m->in_size, "a batch", err)) &&
         (out = cli_alloc_floats((size_t)m->batch * m->out_size, "a batch's outputs", err)) &&
         confusion_init(&cm, k, err);
    for (int i = 0; ok && i < k; i++) {
        if (names[i])
            continue;
        char num[16];
        snprintf(num, sizeof num, "%d", i);
        ok = (names[i] = rt_strdup(ds.nclasses == k ? ds.class_names[i] : num, err)) != NULL;
    }
    if (ok) {
        EvalResult r;
        evaluate(m, mem.params, mem.work, &ds, NULL, ds.n, x, out, &r, &cm);
        printf("%s on %s (%s split, %d images): loss %.4f  accuracy %.2f%%\n\n", m->name, data, split_text, ds.n,
               r.loss, r.n ? 100.0 * r.correct / r.n : 0.0);
        int width = 5;
        for (int i = 0; i < k; i++)
            width = (int)strlen(names[i]) > width ? (int)strlen(names[i]) : width;
        if (width > 24)
            width = 24;
        printf("%-*s  precision  recall   images\n", width, "class");
        for (int i = 0; i < k; i++) {
            long long tp = cm.counts[(size_t)i * k + i], row = 0, col = 0;
            for (int j = 0; j < k; j++) {
                row += cm.counts[(size_t)i * k + j];
                col += cm.counts[(size_t)j * k + i];
            }
            char p[16] = "-", rcl[16] = "-";
            if (col)
                snprintf(p, sizeof p, "%.2f%%", 100.0 * tp / col);
            if (row)
                snprintf(rcl, sizeof rcl, "%.2f%%", 100.0 * tp / row);
            printf("%-*.*s  %9s  %7s  %6lld\n", width, width, names[i], p, rcl, row);
        }
        printf("\nconfusion matrix (rows: true class, columns: predicted class)\n");
        int cw = 4;
        for (int i = 0; i < k * k; i++) {
            char b[24];
            int l = snprintf(b, sizeof b, "%lld", cm.counts[i]);
            cw = l + 1 > cw ? l + 1 : cw;
        }
        printf("%*s", width + 4, "");
        for (int j = 0; j < k; j++)
            printf("%*d", cw, j);
        printf("\n");
        for (int i = 0; i < k; i++) {
            printf("%2d %-*.*s ", i, width, width, names[i]);
            for (int j = 0; j < k; j++)
                printf("%*lld", cw, cm.counts[(size_t)i * k + j]);
            printf("\n");
        }
        if (plot) {
            char title[200];
            snprintf(title, sizeof title, "%s, %s split: accuracy %.2f%%", m->name, split_text,
                     r.n ? 100.0 * r.correct / r.n : 0.0);
            ok = plot_confusion(plot, &cm, names, title, err);
            if (ok)
                printf("\nwrote %s\n", plot);
        }
    }
    if (!ok)
        rc = cli_error(EXIT_BAD_INPUT, "%s", err);
    else
        rc = 0;
    for (int i = 0; names && i < k; i++)
        free(names[i]);
    free(names);
    confusion_free(&cm);
    free(x);
    free(out);
    cli_memory_free(&mem);
    dataset_free(&ds);
    return rc;
}
