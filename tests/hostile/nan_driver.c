/* nan_driver.c: runs a generated model (MODEL.h, given by -include) forward and through one
 * training step on inputs holding NaN, infinities and huge values. Built with UBSan
 * (-fno-sanitize-recover), so any undefined behaviour in the generated math aborts. Prints the
 * count of non-finite outputs (informative only: relu, like max pooling, may map NaN to 0). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define U(x) CAT(MODEL_U, x)
#define N(x) CAT(MODEL_N, x)

static float params[U(_PARAM_FLOATS)], grads[U(_PARAM_FLOATS)], work[U(_WORK_FLOATS)];
static float input[U(_BATCH) * U(_IN_SIZE)], output[U(_BATCH) * U(_OUT_SIZE)];

int main(void) {
    for (int i = 0; i < U(_PARAM_FLOATS); i++)
        params[i] = (float)(i * 37 % 101 + 1) / 400.0f; /* positive: batchnorm variances too */
    const float specials[] = {NAN, INFINITY, -INFINITY, 3e38f, -3e38f, 1e-45f, 0.0f, -0.0f};
    int ns = (int)(sizeof specials / sizeof specials[0]);
    for (int s = 0; s < ns; s++) {
        for (int i = 0; i < U(_BATCH) * U(_IN_SIZE); i++)
            input[i] = i % 3 == 0 ? specials[s] : (float)(i % 7) / 7.0f;
        if (N(_forward)(params, work, input, output, U(_BATCH)) != 0)
            return 2;
        int nonfinite = 0;
        for (int i = 0; i < U(_BATCH) * U(_OUT_SIZE); i++)
            nonfinite += !isfinite(output[i]);
        printf("input %g: %d non-finite outputs\n", (double)specials[s], nonfinite);
#ifdef MODEL_TRAIN
        int labels[U(_BATCH)] = {0};
        cnn_step_opts o;
        memset(&o, 0, sizeof o);
        o.grad_scale = 1.0f;
        memset(grads, 0, sizeof grads);
        float loss = N(_train_step)(params, grads, work, input, labels, U(_BATCH), &o);
        printf("input %g: loss %g\n", (double)specials[s], (double)loss);
#endif
    }
    return 0;
}
