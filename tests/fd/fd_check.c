/* fd_check.c: checks the gradients of one generated training step against central finite
 * differences of its loss. Built by tests/grad_fd.test.sh against one model's generated C:
 *   cc -DNAME=fd_conv -DUNAME=FD_CONV -DHEADER='"fd_conv.h"' fd_check.c fd_conv.c -lm
 * Parameters, input and labels are random (fixed seed). With -DCHECK_DROPOUT the step runs with
 * dropout on and a fixed seed, so its mask is fixed. The analytic gradient is the one
 * train_step adds into grads (called twice on zeroed grads and halved, so that a kernel that
 * overwrites instead of adding shows); the work block starts as NaN, so that a kernel that
 * reads a dx it did not write shows too. Every trained tensor is compared (up to MAX_ENTRIES
 * entries each, spread over the tensor): a parameter upstream of an op tests that op's input
 * gradient as well.
 *
 * Tolerance. The model and its loss are float32: an evaluated loss L carries a rounding noise
 * of about one float ulp, FLT_EPSILON |L| (measured: less), so the central difference
 * (L+ - L-) / 2 eps has a noise of about NOISE = FLT_EPSILON |L| / eps (5e-5 for L = 1.4 and
 * eps = 3e-3), and a truncation error of order eps^2 |f'''| / 6, negligible at this eps for
 * these small smooth models. An entry's error is
 *   |analytic - fd| / (max(|analytic|, |fd|) + FLOOR * gmax + NOISE / TOL)
 * with gmax the tensor's largest analytic gradient and FLOOR = 0.02: entries far below the
 * tensor's scale or the noise are judged on an absolute scale (differences at the noise level
 * stay well below TOL). A kernel error (a wrong index, a missing term, a wrong divisor) gives
 * errors of order 1; the test fails above TOL = 2e-2.
 * Where the loss has a kink within eps of the point (maxpool's two largest elements trading
 * places), differences say nothing about the derivative: an entry that fails is tried again
 * with eps / 4, and when the two differences disagree as much, it is skipped and counted.
 * (A kernel error leaves the differences consistent, so it cannot hide there.) A model with
 * more than MAX_SKIPPED_PERCENT of its entries skipped fails as well.
 * Printed: each tensor's worst error and the model's. */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include HEADER

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define TENSORS CAT(NAME, _tensors)
#define TRAIN_STEP CAT(NAME, _train_step)
#define PARAM_FLOATS CAT(UNAME, _PARAM_FLOATS)
#define WORK_FLOATS CAT(UNAME, _WORK_FLOATS)
#define NUM_TENSORS CAT(UNAME, _NUM_TENSORS)
#define BATCH CAT(UNAME, _BATCH)
#define IN_SIZE CAT(UNAME, _IN_SIZE)
#define OUT_SIZE CAT(UNAME, _OUT_SIZE)
#define STR_(x) #x
#define STR(x) STR_(x)

enum { MAX_ENTRIES = 160, MAX_SKIPPED_PERCENT = 5 };
static const double EPS = 3e-3, FLOOR = 0.02, TOL = 2e-2;

static float params[PARAM_FLOATS], grads[PARAM_FLOATS], scratch[PARAM_FLOATS], work[WORK_FLOATS];
static float input[BATCH * IN_SIZE];
static int labels[BATCH];

static unsigned long long rng_state = 0x9e3779b97f4a7c15ull;
static double uniform(void) { /* splitmix64, [0, 1) */
    unsigned long long z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

static double loss_at(const cnn_step_opts *o) {
    return TRAIN_STEP(params, scratch, work, input, labels, BATCH, o);
}

/* The central difference of the loss in parameter k with step eps (the step actually taken). */
static double central(size_t k, double eps, const cnn_step_opts *o) {
    float *p = &params[k], p0 = *p;
    float up = (float)(p0 + eps), down = (float)(p0 - eps);
    *p = up;
    double lp = loss_at(o);
    *p = down;
    double lm = loss_at(o);
    *p = p0;
    return (lp - lm) / ((double)up - (double)down);
}

int main(int argc, char **argv) {
    if (argc > 1)
        rng_state = strtoull(argv[1], NULL, 10);
    for (int t = 0; t < NUM_TENSORS; t++) {
        const CAT(NAME, _tensor) *d = &TENSORS[t];
        double bound = 1.5 / sqrt(d->fan_in > 0 ? d->fan_in : 1);
        for (size_t k = 0; k < d->numel; k++)
            params[d->offset + k] = !strcmp(d->init, "ones") ? (float)(0.5 + uniform())
                                                             : (float)((2 * uniform() - 1) * bound);
    }
    for (int k = 0; k < BATCH * IN_SIZE; k++)
        input[k] = (float)(2 * uniform() - 1);
    for (int i = 0; i < BATCH; i++)
        labels[i] = (int)(uniform() * OUT_SIZE);
    for (int k = 0; k < WORK_FLOATS; k++)
        work[k] = NAN;
    cnn_step_opts o = {0};
    o.grad_scale = 1.0f;
#ifdef CHECK_DROPOUT
    /* Dropout on: every call of the step with this seed draws the same mask, so the loss is a
     * smooth function of the parameters and its differences test the backward's mask. */
    o.dropout = 1;
    o.seed = 20260529;
#endif
    double loss = TRAIN_STEP(params, grads, work, input, labels, BATCH, &o);
    TRAIN_STEP(params, grads, work, input, labels, BATCH, &o);
    printf("%s: loss %.6f\n", STR(NAME), loss);
    double worst = 0;
    int checked = 0, skipped = 0;
    for (int t = 0; t < NUM_TENSORS; t++) {
        const CAT(NAME, _tensor) *d = &TENSORS[t];
        if (!d->trained)
            continue;
        double gmax = 0;
        for (size_t k = 0; k < d->numel; k++)
            gmax = fmax(gmax, fabs(grads[d->offset + k] / 2.0));
        size_t step = d->numel > MAX_ENTRIES ? (d->numel + MAX_ENTRIES - 1) / MAX_ENTRIES : 1;
        double tw = 0;
        size_t tk = 0;
        double ta = 0, tf = 0;
        for (size_t k = 0; k < d->numel; k += step) {
            double fd = central(d->offset + k, EPS, &o), a = grads[d->offset + k] / 2.0;
            double scale = FLOOR * gmax + FLT_EPSILON * fabs(loss) / EPS / TOL;
            double err = fabs(a - fd) / (fmax(fabs(a), fabs(fd)) + scale);
            if (!(err <= TOL)) {
                double fd4 = central(d->offset + k, EPS / 4, &o);
                if (fabs(fd4 - fd) / (fmax(fabs(fd4), fabs(fd)) + scale) > TOL) {
                    skipped++; /* a kink within eps: no derivative to compare */
                    continue;
                }
            }
            if (!(err <= tw)) { /* NaN counts as the worst */
                tw = isnan(err) ? INFINITY : err;
                tk = k, ta = a, tf = fd;
            }
            checked++;
        }
        printf("  %-24s max rel err %.2e (entry %zu: analytic %.6g, fd %.6g; max |g| %.3g)%s\n", d->name, tw, tk, ta,
               tf, gmax, tw > TOL ? "  FAIL" : "");
        worst = fmax(worst, tw);
    }
    bool ok = worst <= TOL && skipped <= MAX_SKIPPED_PERCENT * (checked + skipped) / 100;
    printf("%s: %d entries, max rel err %.2e (tolerance %.0e), %d skipped at kinks %s\n", STR(NAME), checked, worst,
           TOL, skipped, ok ? "ok" : "FAIL");
    return ok ? 0 : 1;
}
