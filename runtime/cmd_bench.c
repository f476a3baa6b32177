/* cmd_bench.c: `bench`, forward latency at batch 1 and throughput at the compiled batch:
 * the median of R timed calls after warm-up, on random images. */
#include "cli.h"
#include "rng.h"
#include "rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The OpenMP API, referenced weakly: libcnnrt is compiled without -fopenmp, but a program whose
 * generated code was (cnnc's default) links an OpenMP runtime, and then these resolve to it;
 * otherwise they are NULL and the program is single-threaded. */
extern void omp_set_num_threads(int n) __attribute__((weak));
extern int omp_get_max_threads(void) __attribute__((weak));

static const char help[] =
    "bench [--weights W.safetensors] [--repeat R] [--threads T] [--csv]\n"
    "\n"
    "Times the forward pass on random images: one image per call (latency), then the compiled\n"
    "batch per call (throughput). Each figure is the median of R timed calls after warm-up.\n"
    "Prints ms per call, images per second and the GFLOP/s achieved (FLOPs x images / time).\n"
    "\n"
    "  --weights FILE   weights to use (default: freshly initialized, seed 1)\n"
    "  --repeat R       timed calls per figure (default 20)\n"
    "  --threads T      OpenMP threads (default: OMP_NUM_THREADS, else one per core); ignored\n"
    "                   by a program built without OpenMP (CNNC_OPENMP=0)\n"
    "  --csv            print one line: batch1_ms,batch_ms,images_per_s,gflops\n"
    "                   (images_per_s and gflops at the compiled batch)\n";

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
static bool time_forward(const CnnModel *m, const CliMemory *mem, const float *in, float *out, int n,
                         int repeat, double *times, double *median) {
    double start = now_seconds();
    for (int i = 0; i < 2 || (i < repeat && now_seconds() - start < 0.05); i++)
        if (m->forward(mem->params, mem->work, in, out, n) != 0)
            return false;
    for (int i = 0; i < repeat; i++) {
        double t0 = now_seconds();
        m->forward(mem->params, mem->work, in, out, n);
        times[i] = now_seconds() - t0;
    }
    qsort(times, (size_t)repeat, sizeof *times, cmp_double);
    *median = repeat % 2 ? times[repeat / 2] : 0.5 * (times[repeat / 2 - 1] + times[repeat / 2]);
    return true;
}

int cmd_bench(const CnnModel *m, int argc, char **argv) {
    const char *weights = NULL, *repeat_text = "20", *threads_text = NULL;
    bool csv = false;
    const CliOption opts[] = {{"--weights", &weights, NULL}, {"--repeat", &repeat_text, NULL},
                              {"--threads", &threads_text, NULL}, {"--csv", NULL, &csv},
                              {0}};
    int rc = cli_parse("bench", help, opts, argc, argv, NULL, NULL);
    if (rc >= 0)
        return rc;
    long long repeat, threads = 0;
    if (!cli_int("--repeat", repeat_text, 1, 1000000, &repeat) ||
        (threads_text && !cli_int("--threads", threads_text, 1, 4096, &threads)))
        return EXIT_USAGE;
    char threads_note[64] = "1 thread (built without OpenMP)";
    if (omp_set_num_threads && omp_get_max_threads) {
        if (threads)
            omp_set_num_threads((int)threads);
        int n = omp_get_max_threads();
        snprintf(threads_note, sizeof threads_note, "%d OpenMP thread%s", n, n == 1 ? "" : "s");
    }

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
        ok = (time_forward(m, &mem, in, out, 1, (int)repeat, times, &t1) &&
              time_forward(m, &mem, in, out, m->batch, (int)repeat, times, &tb)) ||
             rt_fail(err, "the model refused a batch (compiled batch %d)", m->batch);
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
