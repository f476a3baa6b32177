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
    "eval --weights W.safetensors [--weights W2 ...] --data DIR [--split test|train] [--plot FILE.svg]\n"
    "     [--labels FILE]\n"
    "\n"
    "Runs the model in eval mode on every image of one split of DIR and prints the mean\n"
    "cross-entropy, the accuracy and top-5 accuracy, precision, recall and F1 per class with\n"
    "their macro and weighted averages (as sklearn's classification_report, zero_division=0),\n"
    "and the confusion matrix (rows: true class, columns: predicted class). Several --weights\n"
    "make an ensemble: each image's probabilities are the mean of each weight file's (softmax of\n"
    "the logits, or the outputs of a model ending in softmax); the loss is -log of that mean.\n"
    "\n"
    "  --weights W      the checkpoint (e.g. a train run's best.safetensors); repeat it for an\n"
    "                   ensemble\n"
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

static int eval_run(const CnnModel *m, const char **weights, int nweights, const char *data, const char *split_text,
                    const char *plot, const char *labels, Ensemble *ens);

int cmd_eval(const CnnModel *m, int argc, char **argv) {
    const char *data = NULL, *split_text = "test", *plot = NULL, *labels = NULL;
    const char **weights = malloc(((size_t)argc + 1) * sizeof *weights);
    if (!weights)
        return cli_error(EXIT_BAD_INPUT, "out of memory");
    int nweights = 0;
    const char *last_weights = NULL;
    const CliOption opts[] = {{"--weights", &last_weights, NULL}, {"--data", &data, NULL},
                              {"--split", &split_text, NULL}, {"--plot", &plot, NULL},
                              {"--labels", &labels, NULL}, {0}};
    int rc = cli_parse_repeated("eval", help, opts, argc, argv, NULL, NULL, "--weights", weights, &nweights);
    if (rc < 0 && (!cli_require("eval", "--weights W.safetensors", nweights ? weights[0] : NULL) ||
                   !cli_require("eval", "--data DIR", data)))
        rc = EXIT_USAGE;
    Ensemble ens = {0};
    if (rc < 0)
        rc = eval_run(m, weights, nweights, data, split_text, plot, labels, &ens);
    ensemble_free(&ens);
    free(weights);
    return rc;
}

/* The rest of eval, once the options are read; ens holds the weight sets of an ensemble. */
static int eval_run(const CnnModel *m, const char **weights, int nweights, const char *data, const char *split_text,
                    const char *plot, const char *labels, Ensemble *ens) {
    int rc;
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
    ok = ok && cli_memory_alloc(m, &mem, err) &&
         (nweights == 1 ? cli_load_weights(m, weights[0], mem.params, err)
                        : ensemble_load(m, weights, nweights, ens, err)) &&
         (!labels || read_labels(labels, k, names, err)) &&
         dataset_load(data, split, m->in_shape[0], m->in_shape[1], m->in_shape[2], true, &ds, err);
    if (ok && ds.n == 0)
        ok = rt_fail(err, "%s: the %s split has no images", data, split_text);
    if (ok) {
        char what[64 + 4096];
        snprintf(what, sizeof what, "%s (%s)", data, split_text);
        dataset_report_resize(&ds, what, stderr);
    }
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
        if (nweights == 1)
            evaluate(m, mem.params, mem.work, &ds, NULL, ds.n, x, out, &r, &cm);
        else if (!evaluate_ensemble(m, ens, mem.work, &ds, x, out, &r, &cm, err)) {
            ok = false;
            goto done;
        }
        if (nweights > 1)
            printf("ensemble of %d weight files (mean probabilities)\n", nweights);
        printf("%s on %s (%s split, %d images): loss %.4f  accuracy %.2f%%  top-5 accuracy %.2f%%\n\n", m->name,
               data, split_text, ds.n, r.loss, r.n ? 100.0 * r.correct / r.n : 0.0,
               r.n ? 100.0 * r.correct5 / r.n : 0.0);
        int width = 5;
        for (int i = 0; i < k; i++)
            width = (int)strlen(names[i]) > width ? (int)strlen(names[i]) : width;
        if (width > 24)
            width = 24;
        if (width < 12)
            width = 12;   /* "weighted avg" */
        ClassScores *pc = calloc((size_t)k, sizeof *pc);
        if (!pc) {
            ok = rt_fail(err, "out of memory");
            goto done;
        }
        ScoreAverages avg;
        class_scores(&cm, pc, &avg);
        /* "-": no prediction of the class (precision) or no image of it (recall); counted as 0
         * in the averages. */
        printf("%-*s  %9s  %7s  %7s  %7s\n", width, "class", "precision", "recall", "f1", "images");
        for (int i = 0; i < k; i++) {
            char p[16] = "-", rcl[16] = "-";
            if (pc[i].predicted)
                snprintf(p, sizeof p, "%.2f%%", 100.0 * pc[i].precision);
            if (pc[i].support)
                snprintf(rcl, sizeof rcl, "%.2f%%", 100.0 * pc[i].recall);
            char f1[16];
            snprintf(f1, sizeof f1, "%.2f%%", 100.0 * pc[i].f1);
            printf("%-*.*s  %9s  %7s  %7s  %7lld\n", width, width, names[i], p, rcl, f1, pc[i].support);
        }
        const char *avg_name[2] = {"macro avg", "weighted avg"};
        const double avg_val[2][3] = {{avg.macro_p, avg.macro_r, avg.macro_f1},
                                      {avg.weighted_p, avg.weighted_r, avg.weighted_f1}};
        for (int a = 0; a < 2; a++) {
            char v[3][16];
            for (int q = 0; q < 3; q++)
                snprintf(v[q], sizeof v[q], "%.2f%%", 100.0 * avg_val[a][q]);
            printf("%-*s  %9s  %7s  %7s  %7d\n", width, avg_name[a], v[0], v[1], v[2], ds.n);
        }
        free(pc);
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
done:
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
