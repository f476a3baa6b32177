/* ensemble.c: `predict` and `eval` with several weight files of one model (`--weights A
 * --weights B ...`): each image's class probabilities are the mean over the weight files of
 * that model's probabilities (the softmax of its logits, or its outputs when it ends in
 * softmax), as torch.stack([F.softmax(model_k(x), 1) for k]).mean(0) computes them. */
#include "cli.h"
#include "rt.h"
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void row_probabilities(const CnnModel *m, const float *row, double *p) {
    if (m->outputs_probabilities) {
        for (size_t j = 0; j < m->out_size; j++)
            p[j] = row[j];
        return;
    }
    double max = row[0], sum = 0;
    for (size_t j = 1; j < m->out_size; j++)
        if (row[j] > max)
            max = row[j];
    for (size_t j = 0; j < m->out_size; j++)
        sum += p[j] = exp(row[j] - max);
    for (size_t j = 0; j < m->out_size; j++)
        p[j] /= sum;
}

bool ensemble_load(const CnnModel *m, const char *const *paths, int n, Ensemble *e, char *err) {
    e->n = 0;
    e->params = calloc((size_t)(n > 0 ? n : 1), sizeof *e->params);
    e->packs = calloc((size_t)(n > 0 ? n : 1), sizeof *e->packs);
    e->packed = calloc((size_t)(n > 0 ? n : 1), sizeof *e->packed);
    if (!e->params || !e->packs || !e->packed)
        return rt_fail(err, "out of memory");
    for (int i = 0; i < n; i++) {
        if (!(e->params[i] = cli_alloc_floats(m->param_floats, "the parameters", err)))
            return false;
        e->n++;
        if (!cli_load_weights(m, paths[i], e->params[i], err))
            return false;
    }
    return true;
}

void ensemble_free(Ensemble *e) {
    for (int i = 0; i < e->n; i++) {
        free(e->params[i]);
        if (e->packs)
            free(e->packs[i]);
    }
    free(e->params);
    free(e->packs);
    free(e->packed);
    e->params = e->packs = NULL;
    e->packed = NULL;
    e->n = 0;
}

bool ensemble_forward(const CnnModel *m, const Ensemble *e, float *work, const float *x, float *out, int b,
                      double *prob, char *err) {
    size_t k = m->out_size;
    double *p = prob + (size_t)b * k; /* scratch row after the b result rows */
    for (size_t i = 0; i < (size_t)b * k; i++)
        prob[i] = 0;
    for (int w = 0; w < e->n; w++) {
        if (!e->packed[w]) { /* the weights packed once, at the first batch */
            e->packs[w] = cli_pack(m, e->params[w], work);
            e->packed[w] = true;
        }
        if (cli_forward(m, e->params[w], e->packs[w], work, x, out, b) != 0)
            return rt_fail(err, "the model refused a batch of %d images (compiled batch %d)", b, m->batch);
        for (int i = 0; i < b; i++) {
            row_probabilities(m, out + (size_t)i * k, p);
            for (size_t j = 0; j < k; j++)
                prob[(size_t)i * k + j] += p[j];
        }
    }
    for (size_t i = 0; i < (size_t)b * k; i++)
        prob[i] /= e->n;
    return true;
}

bool evaluate_ensemble(const CnnModel *m, const Ensemble *e, float *work, const Dataset *ds, float *x, float *out,
                       EvalResult *r, Confusion *cm, char *err) {
    size_t k = m->out_size;
    int chunk = m->batch < 4096 ? m->batch : 4096;
    int indices[4096];
    double *prob = rt_alloc_array(((size_t)chunk + 1) * k, sizeof *prob, "the probabilities", err);
    if (!prob)
        return false;
    double loss = 0;
    r->correct = r->correct5 = 0;
    r->n = ds->n;
    bool ok = true;
    for (int start = 0; ok && start < ds->n; start += chunk) {
        int b = ds->n - start < chunk ? ds->n - start : chunk;
        for (int i = 0; i < b; i++)
            indices[i] = start + i;
        dataset_batch_f32(ds, indices, b, x);
        ok = ensemble_forward(m, e, work, x, out, b, prob, err);
        for (int i = 0; ok && i < b; i++) {
            const double *p = prob + (size_t)i * k;
            int label = ds->labels[start + i];
            loss += -log(p[label] > 1e-30 ? p[label] : 1e-30);
            size_t pred = 0;
            for (size_t j = 1; j < k; j++)
                if (p[j] > p[pred])
                    pred = j;
            r->correct += (int)pred == label;
            int higher = 0;
            for (size_t j = 0; j < k && higher < 5; j++)
                higher += p[j] > p[label];
            r->correct5 += higher < 5;
            if (cm && label < cm->k && (int)pred < cm->k)
                cm->counts[(size_t)label * (size_t)cm->k + pred]++;
        }
    }
    r->loss = ds->n ? loss / ds->n : 0.0;
    free(prob);
    return ok;
}
