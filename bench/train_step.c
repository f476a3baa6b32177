/* bench/train_step.c: times the training step of a model emitted with `cnnc --emit=c --train`,
 * for bench/profile.sh --train. Build with -DNAME=model -DUNAME=MODEL -DHEADER='"model.h"'
 * -Iruntime, the generated model.c and libcnnrt.a:
 *
 *   PROGRAM BATCH REPEAT     prints "step ms MEDIAN cpu ms CPU" (the median wall-clock time
 *                            of REPEAT timed steps of BATCH random images after 2 warm-up
 *                            steps, and the median CPU time of the process per step, which
 *                            on a loaded machine stays close to what a quiet one would take)
 *
 * Weights follow the tensor table's init kinds (uniform within 1/sqrt(fan_in) for "weight" and
 * "bias"); inputs are uniform in [0, 1); labels cycle over the classes; cross-entropy, SGD. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include HEADER
#include "rt.h" /* rt_big_alloc (libcnnrt.a): as the program allocates */

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(x) CAT(NAME, x)
#define UP(x) CAT(UNAME, x)

static double now(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static unsigned long long rng = 88172645463325252ULL;
static float uniform(void) { /* xorshift64, [0, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)(rng >> 40) / 16777216.0f;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : UP(_BATCH), repeat = argc > 2 ? atoi(argv[2]) : 5;
    if (n < 1 || n > UP(_BATCH) || repeat < 1 || repeat > 100000) {
        fprintf(stderr, "usage: %s [BATCH (1..%d) [REPEAT]]\n", argv[0], UP(_BATCH));
        return 2;
    }
    /* parameters, optimizer state, workspace and input as the program allocates them
     * (rt_big_alloc: zeroed, 64-byte aligned, and from 2 MiB on 2 MiB aligned in huge pages where
     * the system has them): the kernels' 16-float vectors then start on cache lines where the plan
     * puts them, and the big activations are not read through 4 KiB pages */
    const size_t nparam = UP(_PARAM_FLOATS), nstate = UP(_STATE_FLOATS);
    float *params = rt_big_alloc(sizeof(float) * (nparam + 1)), *state = rt_big_alloc(sizeof(float) * (nstate + 1));
    float *work = rt_big_alloc(sizeof(float) * UP(_WORK_FLOATS) + 64), *input = rt_big_alloc(sizeof(float) * (size_t)n * UP(_IN_SIZE));
    int *labels = malloc(sizeof(int) * (size_t)n);
    double *ms = malloc(sizeof(double) * (size_t)repeat), *cpu = malloc(sizeof(double) * (size_t)repeat);
    if (!params || !state || !work || !input || !labels || !ms || !cpu) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (int t = 0; t < UP(_NUM_TENSORS); t++) {
        const FN(_tensor) *d = &FN(_tensors)[t];
        float bound = d->fan_in > 0 ? 1.0f / sqrtf((float)d->fan_in) : 0.1f;
        for (size_t k = 0; k < d->numel; k++)
            params[d->offset + k] = !strcmp(d->init, "ones") ? 1.0f : !strcmp(d->init, "zeros") ? 0.0f
                                                                                        : (2 * uniform() - 1) * bound;
    }
    for (size_t k = 0; k < (size_t)n * UP(_IN_SIZE); k++)
        input[k] = uniform();
    for (int i = 0; i < n; i++)
        labels[i] = i % UP(_OUT_SIZE);
    cnn_step_opts o = {.grad_scale = 1.0f, .focal_gamma = 2.0f, .focal_alpha = 1.0f};
    cnn_optim opt = {.kind = CNN_SGD, .lr = 0.001f, .momentum = 0.9f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    for (int r = -2; r < repeat; r++) {
        opt.step = r + 3;
        double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        float loss = FN(_train_step_update)(params, state, work, input, labels, n, &o, &opt);
        if (r >= 0) {
            ms[r] = 1e3 * (now(CLOCK_MONOTONIC) - t0);
            cpu[r] = 1e3 * (now(CLOCK_PROCESS_CPUTIME_ID) - c0);
        }
        if (!isfinite(loss)) {
            fprintf(stderr, "the loss is not finite\n");
            return 1;
        }
    }
    qsort(ms, (size_t)repeat, sizeof *ms, cmp);
    qsort(cpu, (size_t)repeat, sizeof *cpu, cmp);
    printf("step ms %.3f cpu ms %.3f\n", ms[repeat / 2], cpu[repeat / 2]);
    free(params), free(state), free(work), free(input), free(labels), free(ms), free(cpu);
    return 0;
}
