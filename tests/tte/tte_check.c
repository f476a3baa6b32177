/* tte_check.c: NAME_train_step_update (each parameter updated right after its gradient) must
 * give exactly the parameters of NAME_train_step followed by NAME_update, for every optimizer.
 * Built by tests/tte.test.sh against a generated model; M is the model's upper-case name. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include MODEL_H

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define F(x) CAT(MODEL, x)
#define C(x) CAT(M, x)

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 65536.0f - 0.5f;
}

int main(void) {
    enum { N = 4 };
    size_t P = C(_PARAM_FLOATS);
    float *pa = calloc(P, 4), *pb = calloc(P, 4), *grads = calloc(P, 4);
    float *sa = calloc(2 * P, 4), *sb = calloc(2 * P, 4), *work = calloc(C(_WORK_FLOATS) + 1, 4);
    float *x = calloc((size_t)N * C(_IN_SIZE), 4);
    int labels[N];
    int failures = 0;
    for (int kind = 0; kind < 3; kind++) {
        unsigned seed = 12345;
        for (size_t i = 0; i < P; i++)
            pa[i] = pb[i] = 0.2f * frand(&seed);
        for (int t = 0; t < C(_NUM_TENSORS); t++) /* batchnorm scales and running variances: 1 */
            if (!strcmp(F(_tensors)[t].init, "ones"))
                for (size_t k = 0; k < F(_tensors)[t].numel; k++)
                    pa[F(_tensors)[t].offset + k] = pb[F(_tensors)[t].offset + k] = 1.0f;
        memset(sa, 0, 2 * P * 4);
        memset(sb, 0, 2 * P * 4);
        for (size_t i = 0; i < (size_t)N * C(_IN_SIZE); i++)
            x[i] = frand(&seed);
        for (int i = 0; i < N; i++)
            labels[i] = i % C(_OUT_SIZE);
        cnn_step_opts o = {.grad_scale = 1.0f, .update_stats = 1, .dropout = 1, .seed = 99};
        cnn_optim opt = {.kind = kind, .lr = kind ? 0.001f : 0.01f, .momentum = 0.9f, .nesterov = 1, .weight_decay = 0.01f,
                         .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
        for (int step = 1; step <= 3; step++) {
            opt.step = step;
            o.seed = 99 + (unsigned long long)step;
            memset(grads, 0, P * 4);
            float la = F(_train_step)(pa, grads, work, x, labels, N, &o);
            F(_update)(pa, grads, sa, &opt);
            float lb = F(_train_step_update)(pb, sb, work, x, labels, N, &o, &opt);
            /* Bit for bit (memcmp: a NaN equals nothing, not even itself, and fmax would drop it),
             * and finite: two copies that agree on NaN agree on a broken step. */
            double worst = 0;
            size_t differ = 0, nonfinite = 0;
            for (size_t i = 0; i < P; i++) {
                double d = fabs((double)pa[i] - pb[i]);
                if (!(d <= worst))
                    worst = d; /* NaN included */
                differ += memcmp(&pa[i], &pb[i], sizeof(float)) != 0;
                nonfinite += !isfinite(pa[i]) || !isfinite(pb[i]);
            }
            printf("optimizer %d step %d: loss %.6f / %.6f, %zu floats differ (max |difference| %.3g), %zu not finite\n",
                   kind, step, la, lb, differ, worst, nonfinite);
            failures += differ != 0 || nonfinite != 0 || !(la == lb);
        }
    }
    free(pa), free(pb), free(grads), free(sa), free(sb), free(work), free(x);
    return failures ? 1 : 0;
}
