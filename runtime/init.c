/* init.c: PyTorch's initialization formulas over the runtime's Rng (see init.h). */
#include "init.h"

#include <math.h>
#include <string.h>

static const char *const kind_names[] = {
#define X(kind, name) name,
    INIT_KINDS(X)
#undef X
};

const char *init_kind_name(InitKind k) { return kind_names[k]; }

bool init_kind_from_name(const char *name, InitKind *out) {
    for (int i = 0; i < (int)(sizeof kind_names / sizeof kind_names[0]); i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *out = (InitKind)i;
            return true;
        }
    return false;
}

static void fill(float *dst, long n, float v) {
    for (long i = 0; i < n; i++)
        dst[i] = v;
}

static void fill_uniform(Rng *r, float *dst, long n, double bound) {
    for (long i = 0; i < n; i++)
        dst[i] = rng_uniform_range(r, (float)-bound, (float)bound);
}

void init_tensor(Rng *r, InitKind kind, ParamRole role, int fan_in, int fan_out, float *dst,
                 long n) {
    switch (role) {
    case ROLE_BN_WEIGHT:
    case ROLE_RUNNING_VAR:
        fill(dst, n, 1.0f);
        return;
    case ROLE_BN_BIAS:
    case ROLE_RUNNING_MEAN:
        fill(dst, n, 0.0f);
        return;
    case ROLE_BIAS:
        if (kind == INIT_DEFAULT && fan_in > 0)
            fill_uniform(r, dst, n, 1.0 / sqrt((double)fan_in));
        else
            fill(dst, n, 0.0f);
        return;
    case ROLE_WEIGHT:
        break;
    }
    switch (kind) {
    case INIT_DEFAULT:
        fill_uniform(r, dst, n, fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0.0);
        return;
    case INIT_KAIMING_NORMAL: {
        float std = fan_in > 0 ? (float)sqrt(2.0 / fan_in) : 0.0f;
        for (long i = 0; i < n; i++)
            dst[i] = std * rng_normal(r);
        return;
    }
    case INIT_XAVIER_UNIFORM:
        fill_uniform(r, dst, n, fan_in + fan_out > 0 ? sqrt(6.0 / (fan_in + fan_out)) : 0.0);
        return;
    }
}

void init_conv_fans(int out, int in, int groups, int kh, int kw, int *fan_in, int *fan_out) {
    *fan_in = in / (groups > 0 ? groups : 1) * kh * kw;
    *fan_out = out * kh * kw;
}

void init_linear_fans(int out, int in, int *fan_in, int *fan_out) {
    *fan_in = in;
    *fan_out = out;
}
