/* init.h: parameter initialization with PyTorch's formulas (the random stream differs from
 * PyTorch's; the distributions are the same).
 *
 * fan_in and fan_out follow torch.nn.init._calculate_fan_in_and_fan_out:
 *   conv weight [out, in/groups, kh, kw]: fan_in = in/groups*kh*kw, fan_out = out*kh*kw
 *   linear weight [out, in]:              fan_in = in,              fan_out = out
 * Biases take the fans of their layer's weight. */
#ifndef CNNC_INIT_H
#define CNNC_INIT_H
#include <stdbool.h>
#include <stddef.h>

#include "rng.h"

/* The `init` training setting (docs/language.md, Training settings). For ROLE_WEIGHT:
 *   default         U(-b, b), b = 1/sqrt(fan_in)  (kaiming_uniform_(a=sqrt(5)), nn.Conv2d and
 *                   nn.Linear's reset_parameters)
 *   kaiming_normal  N(0, std), std = sqrt(2/fan_in) (kaiming_normal_ defaults: fan_in mode,
 *                   leaky_relu with a=0, gain sqrt(2))
 *   xavier_uniform  U(-b, b), b = sqrt(6/(fan_in+fan_out)) (gain 1) */
/* The kinds, their names and arguments are train_vocab.def's (shared with the compiler, which
 * writes a program's init as this enum's number). */
#include "train_vocab.def"
#define INIT_NONE_(...)
#define INIT_ENUM_(e, name, ...) e,
typedef enum { TRAIN_VOCAB_INITS(INIT_ENUM_, INIT_NONE_, INIT_NONE_) INIT_KIND_COUNT } InitKind;

/* What a tensor is to its layer. Only weights depend on InitKind:
 *   ROLE_BIAS          default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as PyTorch (0 when fan_in
 *                      is 0); kaiming_normal and xavier_uniform: zeros, the usual companion
 *                      (nn.init.zeros_(m.bias))
 *   ROLE_BN_WEIGHT 1, ROLE_BN_BIAS 0, ROLE_RUNNING_MEAN 0, ROLE_RUNNING_VAR 1 */
typedef enum {
    ROLE_WEIGHT,
    ROLE_BIAS,
    ROLE_BN_WEIGHT,
    ROLE_BN_BIAS,
    ROLE_RUNNING_MEAN,
    ROLE_RUNNING_VAR,
} ParamRole;

const char *init_kind_name(InitKind k);
/* The kind named NAME ("default", "kaiming_normal", "xavier_uniform"); false if none. */
bool init_kind_from_name(const char *name, InitKind *out);

/* Fills dst[0..n) for a tensor of the given role (the kind with torch.nn.init's defaults). */
void init_tensor(Rng *r, InitKind kind, ParamRole role, int fan_in, int fan_out, float *dst,
                 long n);

/* An init with its arguments, as torch.nn.init takes them (weights; biases start at 0 for
 * every kind but default):
 *   kaiming_normal(a=0, mode=fan_in, nonlinearity=leaky_relu)
 *                   N(0, gain / sqrt(fan)), fan = fan_in or fan_out, gain as
 *                   torch.nn.init.calculate_gain: linear and sigmoid 1, tanh 5/3, relu sqrt(2),
 *                   leaky_relu sqrt(2 / (1 + a^2))
 *   kaiming_uniform(a=0, mode=fan_in, nonlinearity=leaky_relu)
 *                   U(-b, b), b = gain * sqrt(3 / fan)
 *   xavier_uniform(gain=1)   U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))
 *   xavier_normal(gain=1)    N(0, std), std = gain * sqrt(2 / (fan_in + fan_out))
 *   normal(mean=0, std=1), uniform(a=0, b=1), constant(val) */
typedef enum { NONLIN_LINEAR, NONLIN_SIGMOID, NONLIN_TANH, NONLIN_RELU, NONLIN_LEAKY_RELU } Nonlinearity;
typedef struct InitSpec {
    InitKind kind;
    int fan_out;                 /* kaiming: mode fan_out */
    Nonlinearity nonlinearity;   /* kaiming */
    double a, b;                 /* kaiming: a (leaky_relu's slope); uniform: a, b */
    double mean, std, val, gain;
} InitSpec;
void init_spec_default(InitKind kind, InitSpec *s);
/* "kaiming_normal(mode = fan_out, nonlinearity = relu)", "normal(std = 0.01)", ... (positional
 * arguments in torch.nn.init's order); false and one line in err when malformed. */
bool init_spec_parse(const char *text, InitSpec *s, char *err, size_t errlen);
/* The spec as text, e.g. "kaiming_normal(a=0, mode=fan_out, nonlinearity=relu)". */
const char *init_spec_text(const InitSpec *s, char *buf, size_t size);
void init_tensor_spec(Rng *r, const InitSpec *s, ParamRole role, int fan_in, int fan_out, float *dst, long n);

/* The fans of a conv weight [out, in/groups, kh, kw] and of a linear weight [out, in]. */
void init_conv_fans(int out, int in, int groups, int kh, int kw, int *fan_in, int *fan_out);
void init_linear_fans(int out, int in, int *fan_in, int *fan_out);

#endif
