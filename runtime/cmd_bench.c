/* cmd_bench.c: `bench`, forward latency at batch 1 and throughput at the compiled batch:
 * the median of R timed calls after warm-up, on random images. `bench --train` times the
 * training step instead (forward, loss, backward and the train section's optimizer step). */
#include "cli.h"
#include "cnntrain.h"
#include "rng.h"
#include "rt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The OpenMP API, referenced weakly: libcnnrt is compiled without -fopenmp, but a program whose
 * generated code was (cnnc's default) links an OpenMP runtime, and then these resolve to it;
 * otherwise they are NULL and the program is single-threaded. */
extern void omp_set_num_threads(int n) __attribute__((weak));
extern int omp_get_max_threads(void) __attribute__((weak));

static const char help[] =
    "bench [--train [--batch N]] [--weights W.safetensors] [--repeat R] [--threads T] [--csv]\n"
    "\n"
    "Times the forward pass on random images: one image per call (latency), then the compiled\n"
    "batch per call (throughput). Each figure is the median of R timed calls after warm-up.\n"
    "Prints ms per call, images per second and the GFLOP/s achieved (FLOPs x images / time).\n"
    "\n"
    "With --train, times training steps instead: forward, the train section's loss, backward\n"
    "and its optimizer's update (one fused call, as `train` runs it without accumulation or\n"
    "clipping), on random images and labels, N images per step (default: the compiled batch).\n"
    "GFLOP/s counts 3x the forward FLOPs per image (forward, data and weight gradients).\n"
    "\n"
    "  --train          time training steps (a program built with --no-train has none)\n"
    "  --batch N        --train: images per step, at most the compiled batch\n"
    "  --weights FILE   weights to use (default: freshly initialized, seed 1)\n"
    "  --repeat R       timed calls per figure (default 20)\n"
    "  --threads T      OpenMP threads (default: OMP_NUM_THREADS, else one per core); ignored\n"
    "                   by a program built without OpenMP (CNNC_OPENMP=0)\n"
    "  --csv            print one line: batch1_ms,batch_ms,images_per_s,gflops\n"
    "                   (images_per_s and gflops at the compiled batch); with --train:\n"
    "                   step_ms,images_per_s,gflops,batch,optimizer,lr,momentum,weight_decay,\n"
    "                   nesterov,beta1,beta2,eps,loss,label_smoothing (the settings timed, for\n"
    "                   a reference to copy; optimizer sgd, adam or adamw, loss\n"
    "                   cross_entropy or focal)\n";

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median seconds of one forward call on n images over `repeat` timed calls; false if the
 * model refuses n. Warm-up: two calls, or more until 0.05 s has passed (at most `repeat`). */
static bool time_forward(const CnnModel *m, const CliMemory *mem, float *packs, const float *in, float *out,
                         int n, int repeat, double *times, double *median) {
    double start = now_seconds();
    for (int i = 0; i < 2 || (i < repeat && now_seconds() - start < 0.05); i++)
        if (cli_forward(m, mem->params, packs, mem->work, in, out, n) != 0)
            return false;
    for (int i = 0; i < repeat; i++) {
        double t0 = now_seconds();
        cli_forward(m, mem->params, packs, mem->work, in, out, n);
        times[i] = now_seconds() - t0;
    }
    qsort(times, (size_t)repeat, sizeof *times, cmp_double);
    *median = repeat % 2 ? times[repeat / 2] : 0.5 * (times[repeat / 2 - 1] + times[repeat / 2]);
    return true;
}

/* Training steps: what `train` runs per batch (train_step_update when the train section has no
 * accumulation or clipping, else train_step on zeroed gradients and update), on random images
 * and labels. The parameters move with every step, as in training. */
typedef struct TrainBench {
    const CnnModel *m;
    float *params, *grads, *state, *work;
    const float *in;
    const int *labels;
    int n;
    bool fused;
    cnn_step_opts so;
    cnn_optim opt;
} TrainBench;

static float train_bench_step(TrainBench *t, long long k) {
    const CnnModel *m = t->m;
    t->so.seed = (unsigned long long)k * 0x9e3779b97f4a7c15ULL + 1;
    t->opt.step = k + 1;
    if (t->fused)
        return m->train_step_update(t->params, t->state, t->work, t->in, t->labels, t->n, &t->so, &t->opt);
    memset(t->grads, 0, sizeof(float) * m->param_floats);
    float loss = m->train_step(t->params, t->grads, t->work, t->in, t->labels, t->n, &t->so);
    m->update(t->params, t->grads, t->state, &t->opt);
    return loss;
}

/* The median seconds of one training step over `repeat` timed steps after warm-up (as
 * time_forward); false when the loss is not finite (the model refused n, or diverged). */
static bool time_train(TrainBench *t, int repeat, double *times, double *median) {
    double start = now_seconds();
    long long k = 0;
    for (int i = 0; i < 2 || (i < repeat && now_seconds() - start < 0.05); i++)
        if (!isfinite(train_bench_step(t, k++)))
            return false;
    for (int i = 0; i < repeat; i++) {
        double t0 = now_seconds();
        float loss = train_bench_step(t, k++);
        times[i] = now_seconds() - t0;
        if (!isfinite(loss))
            return false;
    }
    qsort(times, (size_t)repeat, sizeof *times, cmp_double);
    *median = repeat % 2 ? times[repeat / 2] : 0.5 * (times[repeat / 2 - 1] + times[repeat / 2]);
    return true;
}

static const char *optimizer_name(int kind) {
    return kind == CNN_SGD ? "sgd" : kind == CNN_ADAMW ? "adamw" : "adam";
}

/* The settings when a model carries no train section (as train.c's). */
static const CnnTrainDefaults bench_fallback = {
    .epochs = 10, .batch = 64, .accumulate = 1, .optimizer = CNN_ADAM, .lr = 1e-3f, .beta1 = 0.9f,
    .beta2 = 0.999f, .eps = 1e-8f, .focal_gamma = 2, .focal_alpha = 1,
};

static int bench_train(const CnnModel *m, const char *weights, int batch, int repeat, bool csv,
                       const char *threads_note) {
    if (!m->train_step || !m->update)
        return cli_error(EXIT_USAGE, "%s was compiled without training code (cnnc --no-train)", m->name);
    const CnnTrainDefaults *d = m->defaults ? m->defaults : &bench_fallback;
    char err[RT_ERR_LEN];
    TrainBench t = {.m = m, .n = batch};
    t.fused = m->train_step_update && d->accumulate <= 1 && !(d->clip_grad_norm > 0);
    t.so = (cnn_step_opts){
        .loss = d->loss, .label_smoothing = d->label_smoothing,
        .class_weight = d->loss == CNN_LOSS_CROSS_ENTROPY && d->nclass_weight ? d->class_weight : NULL,
        .focal_gamma = d->focal_gamma, .focal_alpha = d->focal_alpha, .grad_scale = 1.0f, .dropout = 1,
        .update_stats = 1,
    };
    t.opt = (cnn_optim){
        .kind = d->optimizer, .lr = d->lr, .momentum = d->momentum, .weight_decay = d->weight_decay,
        .beta1 = d->beta1, .beta2 = d->beta2, .eps = d->eps, .nesterov = d->nesterov,
    };
    float *in = NULL;
    int *labels = NULL;
    double *times = NULL;
    size_t nparams = m->param_floats;
    bool ok = (t.params = cli_alloc_floats(nparams, "the parameters", err)) &&
              (t.fused || (t.grads = cli_alloc_floats(nparams, "the gradients", err))) &&
              (t.state = cli_alloc_floats(m->state_floats, "the optimizer state", err)) &&
              (t.work = cli_alloc_floats(m->work_floats, "the workspace", err)) &&
              (in = cli_alloc_floats((size_t)batch * m->in_size, "the input", err)) &&
              (labels = rt_alloc_array((size_t)batch, sizeof *labels, "the labels", err)) &&
              (times = rt_alloc_array((size_t)repeat, sizeof *times, "the timings", err));
    if (ok && weights)
        ok = cli_load_weights(m, weights, t.params, err);
    else if (ok)
        cli_init_params(m, t.params, INIT_DEFAULT, 1);
    double step = 0;
    if (ok) {
        Rng r;
        rng_seed(&r, 2);
        for (size_t i = 0; i < (size_t)batch * m->in_size; i++)
            in[i] = rng_uniform(&r);
        for (int i = 0; i < batch; i++)
            labels[i] = (int)rng_below(&r, (uint32_t)m->out_size);
        t.in = in;
        t.labels = labels;
        ok = time_train(&t, repeat, times, &step) ||
             rt_fail(err, "the training step failed: a loss that is not finite (batch %d)", batch);
    }
    free(times), free(in), free(labels);
    free(t.params), free(t.grads), free(t.state), free(t.work);
    if (!ok)
        return cli_error(EXIT_BAD_INPUT, "%s", err);
    double ips = batch / step, gflops = 3 * m->flops * ips * 1e-9;
    const char *loss = d->loss == CNN_LOSS_FOCAL ? "focal" : "cross_entropy";
    if (csv) {
        printf("%.6f,%.2f,%.4f,%d,%s,%.9g,%.9g,%.9g,%d,%.9g,%.9g,%.9g,%s,%.9g\n", step * 1e3, ips, gflops, batch,
               optimizer_name(d->optimizer), d->lr, d->momentum, d->weight_decay, d->nesterov, d->beta1, d->beta2,
               d->eps, loss, d->label_smoothing);
        return 0;
    }
    char flops[48];
    printf("%s: %s FLOPs per image forward, training batch %d, %s\n", m->name,
           cli_group((long long)m->flops, flops, sizeof flops), batch, threads_note);
    printf("train step (%s, %s, lr %g%s) %10.4f ms per step %12.1f images/s %10.3f GFLOP/s\n", loss,
           optimizer_name(d->optimizer), d->lr, t.fused ? "" : ", unfused", step * 1e3, ips, gflops);
    printf("median of %d timed steps, after warm-up\n", repeat);
    return 0;
}

int cmd_bench(const CnnModel *m, int argc, char **argv) {
    const char *weights = NULL, *repeat_text = "20", *threads_text = NULL, *batch_text = NULL;
    bool csv = false, train = false;
    const CliOption opts[] = {{"--weights", &weights, NULL}, {"--repeat", &repeat_text, NULL},
                              {"--threads", &threads_text, NULL}, {"--csv", NULL, &csv},
                              {"--train", NULL, &train}, {"--batch", &batch_text, NULL}, {0}};
    int rc = cli_parse("bench", help, opts, argc, argv, NULL, NULL);
    if (rc >= 0)
        return rc;
    long long repeat, threads = 0, batch = m->batch;
    if (!cli_int("--repeat", repeat_text, 1, 1000000, &repeat) ||
        (threads_text && !cli_int("--threads", threads_text, 1, 4096, &threads)) ||
        (batch_text && !cli_int("--batch", batch_text, 1, m->batch, &batch)))
        return EXIT_USAGE;
    if (batch_text && !train)
        return cli_error(EXIT_USAGE, "--batch goes with --train (inference is timed at 1 and at the compiled batch)");
    char threads_note[64] = "1 thread (built without OpenMP)";
    if (omp_set_num_threads && omp_get_max_threads) {
        if (threads)
            omp_set_num_threads((int)threads);
        int n = omp_get_max_threads();
        snprintf(threads_note, sizeof threads_note, "%d OpenMP thread%s", n, n == 1 ? "" : "s");
    }
    if (train)
        return bench_train(m, weights, (int)batch, (int)repeat, csv, threads_note);

    char err[RT_ERR_LEN];
    CliMemory mem = {0};
    float *in = NULL, *out = NULL;
    double *times = NULL;
    bool ok = cli_memory_alloc(m, &mem, err) &&
              (in = cli_alloc_floats((size_t)m->batch * m->in_size, "the input", err)) &&
              (out = cli_alloc_floats((size_t)m->batch * m->out_size, "the output", err)) &&
              (times = rt_alloc_array((size_t)repeat, sizeof *times, "the timings", err));
    if (ok && weights)
        ok = cli_load_weights(m, weights, mem.params, err);
    else if (ok)
        cli_init_params(m, mem.params, INIT_DEFAULT, 1);
    double t1 = 0, tb = 0;
    if (ok) {
        Rng r;
        rng_seed(&r, 2);
        for (size_t i = 0; i < (size_t)m->batch * m->in_size; i++)
            in[i] = rng_uniform(&r);
        float *packs = cli_pack(m, mem.params, mem.work); /* as predict and eval run: weights packed once */
        ok = (time_forward(m, &mem, packs, in, out, 1, (int)repeat, times, &t1) &&
              time_forward(m, &mem, packs, in, out, m->batch, (int)repeat, times, &tb)) ||
             rt_fail(err, "the model refused a batch (compiled batch %d)", m->batch);
        free(packs);
    }
    free(times);
    free(in);
    free(out);
    cli_memory_free(&mem);
    if (!ok)
        return cli_error(EXIT_BAD_INPUT, "%s", err);

    double ips1 = 1 / t1, ipsb = m->batch / tb;
    if (csv) {
        printf("%.6f,%.6f,%.2f,%.4f\n", t1 * 1e3, tb * 1e3, ipsb, m->flops * ipsb * 1e-9);
        return 0;
    }
    char flops[48];
    printf("%s: %s FLOPs per image, compiled batch %d, %s\n", m->name,
           cli_group((long long)m->flops, flops, sizeof flops), m->batch, threads_note);
    printf("batch %-4d %10.4f ms per call %12.1f images/s %10.3f GFLOP/s\n", 1, t1 * 1e3, ips1,
           m->flops * ips1 * 1e-9);
    printf("batch %-4d %10.4f ms per call %12.1f images/s %10.3f GFLOP/s\n", m->batch, tb * 1e3, ipsb,
           m->flops * ipsb * 1e-9);
    printf("median of %lld timed calls each, after warm-up\n", repeat);
    return 0;
}
