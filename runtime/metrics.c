/* metrics.c: evaluation of a model on a dataset (mean cross-entropy, accuracy) and the
 * confusion matrix that `eval` prints and plots. The loss is plain cross-entropy whatever the
 * training loss (no label smoothing, no class weights, not focal), so that validation losses
 * of different recipes compare; a model that ends in softmax is scored by -log p. */
#include "cli.h"
#include "rt.h"
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool confusion_init(Confusion *cm, int k, char *err) {
    cm->k = k;
    cm->counts = rt_alloc_array((size_t)k * (size_t)k, sizeof(long long), "the confusion matrix", err);
    return cm->counts != NULL;
}

void confusion_free(Confusion *cm) {
    free(cm->counts);
    cm->counts = NULL;
}

static int argmax(const float *row, size_t k) {
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (row[j] > row[best])
            best = j;
    return (int)best;
}

int count_correct(const float *out, const int *labels, int n, size_t k) {
    int correct = 0;
    for (int i = 0; i < n; i++)
        correct += argmax(out + (size_t)i * k, k) == labels[i];
    return correct;
}

double row_loss(const float *row, int label, size_t k, bool probabilities) {
    if (probabilities) {
        double p = row[label];
        return -log(p > 1e-30 ? p : 1e-30);
    }
    double m = row[0];
    for (size_t j = 1; j < k; j++)
        m = row[j] > m ? row[j] : m;
    double s = 0;
    for (size_t j = 0; j < k; j++)
        s += exp((double)row[j] - m);
    return m + log(s) - row[label];
}

void evaluate(const CnnModel *m, const float *params, float *work, const Dataset *ds,
              const int *idx, int n, float *x, float *out, EvalResult *r, Confusion *cm) {
    float *packs = cli_pack(m, params, work); /* the weights packed once for every batch */
    int total = idx ? n : ds->n;
    int indices[4096];
    int labels[4096];
    int chunk = m->batch < 4096 ? m->batch : 4096;
    double loss = 0;
    r->correct = 0;
    r->correct5 = 0;
    r->n = total;
    for (int start = 0; start < total; start += chunk) {
        int b = total - start < chunk ? total - start : chunk;
        for (int i = 0; i < b; i++) {
            indices[i] = idx ? idx[start + i] : start + i;
            labels[i] = ds->labels[indices[i]];
        }
        dataset_batch_f32(ds, indices, b, x);
        cli_forward(m, params, packs, work, x, out, b);
        for (int i = 0; i < b; i++) {
            const float *row = out + (size_t)i * m->out_size;
            loss += row_loss(row, labels[i], m->out_size, m->outputs_probabilities);
            int pred = argmax(row, m->out_size);
            r->correct += pred == labels[i];
            int higher = 0;
            for (size_t j = 0; j < m->out_size && higher < 5; j++)
                higher += row[j] > row[labels[i]];
            r->correct5 += higher < 5;
            if (cm && labels[i] < cm->k && pred < cm->k)
                cm->counts[(size_t)labels[i] * cm->k + pred]++;
        }
    }
    r->loss = total ? loss / total : 0.0;
    free(packs);
}

void class_scores(const Confusion *cm, ClassScores *pc, ScoreAverages *avg) {
    int k = cm->k;
    long long total = 0;
    int present = 0;
    memset(avg, 0, sizeof *avg);
    for (int i = 0; i < k; i++) {
        long long tp = cm->counts[(size_t)i * k + i], row = 0, col = 0;
        for (int j = 0; j < k; j++) {
            row += cm->counts[(size_t)i * k + j];
            col += cm->counts[(size_t)j * k + i];
        }
        ClassScores *c = &pc[i];
        c->support = row;
        c->predicted = col;
        c->precision = col ? (double)tp / (double)col : 0.0;
        c->recall = row ? (double)tp / (double)row : 0.0;
        c->f1 = c->precision + c->recall > 0 ? 2 * c->precision * c->recall / (c->precision + c->recall) : 0.0;
        total += row;
        if (row || col) {
            present++;
            avg->macro_p += c->precision;
            avg->macro_r += c->recall;
            avg->macro_f1 += c->f1;
        }
        avg->weighted_p += c->precision * (double)row;
        avg->weighted_r += c->recall * (double)row;
        avg->weighted_f1 += c->f1 * (double)row;
    }
    if (present) {
        avg->macro_p /= present;
        avg->macro_r /= present;
        avg->macro_f1 /= present;
    }
    if (total) {
        avg->weighted_p /= (double)total;
        avg->weighted_r /= (double)total;
        avg->weighted_f1 /= (double)total;
    }
}
