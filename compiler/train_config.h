/* train_config.h: a model's training recipe (docs/language.md, Training settings) as plain values, evaluated and
 * checked from the syntax tree of one `train { ... }` item. Later stages (the C emitter, the
 * runtime training driver) read only this struct, never the syntax tree.
 *
 * Every list below (keys, losses, optimizers, schedules, augmentations, inits) is defined once
 * here as an X-macro X(ENUM, name); train_config.c derives the names, the argument tables and
 * the "did you mean" candidates from them. Arrays and strings live in the compiler's arena. */
#ifndef CNNC_TRAIN_CONFIG_H
#define CNNC_TRAIN_CONFIG_H
#include <stdbool.h>
#include <stdio.h>

#include "ast.h"
#include "ops.h" /* Val */

/* The setting keys, in the order train_config_print shows them. */
#define TRAIN_KEYS(X)                                                                           \
    X(TK_EPOCHS, epochs) X(TK_BATCH, batch) X(TK_SEED, seed) X(TK_ACCUMULATE, accumulate)      \
    X(TK_CLIP_GRAD_NORM, clip_grad_norm) X(TK_LOSS, loss) X(TK_OPTIMIZER, optimizer)           \
    X(TK_SCHEDULE, schedule) X(TK_AUGMENT, augment) X(TK_EARLY_STOP, early_stop)               \
    X(TK_FREEZE, freeze) X(TK_INIT, init) X(TK_LR_FOR, lr_for) X(TK_WARMUP, warmup)
/* The vocabulary (losses, optimizers, schedules, augmentations, inits, their arguments and
 * defaults) is runtime/train_vocab.def, shared with the runtime. */
#include "train_vocab.def"
#define TRAIN_VOCAB_ENUM_(e, name, ...) e,
#define TRAIN_VOCAB_NONE_(...)
#define TRAIN_LOSSES(X) TRAIN_VOCAB_LOSSES(X, TRAIN_VOCAB_NONE_, TRAIN_VOCAB_NONE_)
#define TRAIN_OPTIMIZERS(X) TRAIN_VOCAB_OPTIMIZERS(X, TRAIN_VOCAB_NONE_, TRAIN_VOCAB_NONE_)
#define TRAIN_SCHEDULES(X) TRAIN_VOCAB_SCHEDULES(X, TRAIN_VOCAB_NONE_, TRAIN_VOCAB_NONE_)
#define TRAIN_AUGMENTS(X) TRAIN_VOCAB_AUGMENTS(X, TRAIN_VOCAB_NONE_, TRAIN_VOCAB_NONE_)
#define TRAIN_INITS(X) TRAIN_VOCAB_INITS(X, TRAIN_VOCAB_NONE_, TRAIN_VOCAB_NONE_)

#define TRAIN_ENUM_(e, name) e,
typedef enum { TRAIN_KEYS(TRAIN_ENUM_) TK_COUNT } TrainKey;
#undef TRAIN_ENUM_
typedef enum { TRAIN_LOSSES(TRAIN_VOCAB_ENUM_) LOSS_COUNT } LossKind;
typedef enum { TRAIN_OPTIMIZERS(TRAIN_VOCAB_ENUM_) OPT_COUNT } OptimizerKind;
typedef enum { TRAIN_SCHEDULES(TRAIN_VOCAB_ENUM_) SCHED_COUNT } ScheduleKind;
typedef enum { TRAIN_AUGMENTS(TRAIN_VOCAB_ENUM_) AUG_COUNT } AugmentKind;
typedef enum { TRAIN_INITS(TRAIN_VOCAB_ENUM_) INIT_COUNT } InitKind;

/* The names as written in .cnn files ("epochs", "cross_entropy", "kaiming_normal", ...). */
const char *train_key_name(TrainKey k);
const char *train_loss_name(LossKind k);
const char *train_optimizer_name(OptimizerKind k);
const char *train_schedule_name(ScheduleKind k);
const char *train_augment_name(AugmentKind k);
const char *train_init_name(InitKind k);

typedef struct TrainNumList {
    double *items;
    int n;
    Span span;        /* the list as written (file < 0 when not written) */
} TrainNumList;

typedef struct TrainIntList {
    int *items;
    int n;
    Span span;
} TrainIntList;

typedef struct TrainLoss {
    LossKind kind;
    double label_smoothing;   /* cross_entropy, in [0, 1) */
    TrainNumList weight;      /* cross_entropy: class weights, each >= 0, not all 0; n == 0: not
                                 given. Its count against the model's classes is checked by
                                 elaborate.c (weight.span points at the list). */
    double gamma, alpha;      /* focal: gamma >= 0, alpha > 0 (a scale of the loss) */
} TrainLoss;

typedef struct TrainOptimizer {
    OptimizerKind kind;
    double lr;                /* > 0 */
    double momentum;          /* sgd, in [0, 1) */
    bool nesterov;            /* sgd; needs momentum > 0 */
    double beta1, beta2, eps; /* adam, adamw: betas in [0, 1), eps > 0 */
    double weight_decay;      /* >= 0; sgd and adam add it to the gradient (L2), adamw decouples it */
} TrainOptimizer;

typedef struct TrainSchedule {
    ScheduleKind kind;
    int every;                /* step: epochs between decays, >= 1 */
    TrainIntList milestones;  /* multistep: epochs, >= 1, strictly increasing */
    double gamma;             /* step, multistep, exponential: factor per decay, > 0 */
    double min_lr;            /* cosine: >= 0 */
    int t_max;                /* cosine: T_max in epochs, >= 0; 0: the run's epochs */
    double max_lr;            /* onecycle: > 0 */
    double pct_start;         /* onecycle: the rising part's fraction of the steps, in (0, 1) */
    bool cycle_momentum;      /* onecycle: momentum / beta1 from 0.95 to 0.85 and back */
    int mode;                 /* plateau: 0 min (on the validation loss), 1 max (on the accuracy) */
    double factor;            /* plateau: in (0, 1) */
    int patience;             /* plateau: epochs without improvement, >= 0 */
} TrainSchedule;

typedef struct TrainAugment {
    AugmentKind kind;
    int pad;                  /* random_crop: zero padding before the crop, >= 0 */
    double p;                 /* hflip, vflip, erase: probability, in [0, 1] */
    double degrees;           /* rotate: uniform in [-degrees, degrees], in (0, 180] */
    double fraction;          /* translate: of the width/height, in (0, 1) */
    int size;                 /* random_crop: the crop's size (0: not given, the input's); it
                                 must equal the input's height and width (checked when training) */
    double brightness, contrast, saturation, hue;   /* color_jitter: >= 0, hue <= 0.5 */
    TrainNumList scale, ratio;                      /* random_resized_crop, affine (scale): [lo, hi] or not given */
    double translate, shear;                        /* affine: in [0, 1], in [0, 90) degrees */
    Span span;                /* the item as written */
} TrainAugment;

typedef struct TrainEarlyStop {
    bool on;
    int patience;             /* epochs without improvement, >= 1 */
    double min_delta;         /* >= 0 */
} TrainEarlyStop;

/* A parameter name prefix (docs/language.md, Naming): written as a name, dotted or not (`conv0`,
 * `stage1.basic0`), or as a string (`"stage1.basic0"`). It is meant to match a parameter whose name equals it or
 * continues with '.'; whether it matches anything is checked by elaborate.c at span. */
typedef struct TrainFreeze {
    const char *prefix;
    Span span;
} TrainFreeze;

/* A learning rate for one parameter group (`lr_for = [group(fc, lr = 0.01)]`): tensors named
 * prefix or prefix.* train with lr instead of the optimizer's (the longest prefix wins). */
typedef struct TrainLrFor {
    const char *prefix;
    double lr;                /* > 0 */
    Span span;
} TrainLrFor;

/* init's arguments, as torch.nn.init names them (init.h of the runtime has the formulas):
 * kaiming_normal(a=0, mode=fan_in, nonlinearity=leaky_relu), xavier_uniform(gain=1),
 * normal(mean=0, std=1), uniform(a=0, b=1), constant(val). has_args: any was written. */
typedef struct TrainInitArgs {
    bool has_args;
    double a, b, mean, std, val, gain;
    int mode;                 /* 0 fan_in, 1 fan_out */
    int nonlinearity;         /* linear, sigmoid, tanh, relu, leaky_relu: 0..4 */
} TrainInitArgs;

/* An init as the runtime reads it (runtime/init.h, init_spec_parse), every argument written:
 * "kaiming_normal(a=0, mode=fan_out, nonlinearity=relu)", "normal(mean=0, std=0.01)", "default". */
const char *train_init_text(InitKind kind, const TrainInitArgs *args);
/* Binds e, an init written as a layer's argument (`conv(64, 3, init = normal(std = 0.01))`),
 * with the train section's init table and checks; values are evaluated by eval_value(ctx, expr).
 * Returns its train_init_text, or NULL after reporting at e, each message prefixed with what
 * ("conv: argument 'init'"). */
const char *train_init_bind(const Expr *e, const char *what, Val (*eval_value)(void *ctx, const Expr *e), void *ctx);

/* Calls fn for each callable of the training vocabulary with its typed argument table (args.h):
 * family "loss", "optimizer", "schedule", "augment", "init", "early_stop", "settings". */
void train_vocab_walk(void (*fn)(void *ctx, const char *family, const char *name, const ArgSpec *args), void *ctx);

typedef struct TrainConfig {
    int epochs;               /* >= 1 */
    int batch;                /* >= 1; also the largest batch the compiled code accepts */
    long long seed;           /* >= 0 */
    int accumulate;           /* steps of gradient accumulation, >= 1 */
    double clip_grad_norm;    /* > 0; 0: no clipping (the default) */
    TrainLoss loss;
    TrainOptimizer optimizer;
    TrainSchedule schedule;
    TrainAugment *augment;    /* applied in this order */
    int naugment;
    TrainEarlyStop early_stop;
    TrainFreeze *freeze;
    int nfreeze;
    InitKind init;
    TrainInitArgs init_args;
    TrainLrFor *lr_for;
    int nlr_for;
    int warmup;               /* epochs of linear warm-up (0: none): `warmup = N` or
                                 `warmup = linear(N, start_factor = F)` */
    double warmup_factor;     /* F, in (0, 1]; 1/3 when not given (LinearLR's default) */
    Span spans[TK_COUNT];     /* the value of each setting as written (e.g. spans[TK_LOSS] covers
                                 `cross_entropy(label_smoothing = 0.1)`); file < 0 when absent */
} TrainConfig;

/* The values when a key is absent: epochs=10 batch=64 seed=0 accumulate=1, no clipping,
 * cross_entropy, adam with its defaults, constant schedule, no augmentation, no early stop,
 * nothing frozen, PyTorch's default init. */
void train_config_defaults(TrainConfig *t);

/* Evaluates every setting of item (ITEM_TRAIN) into t, starting from t's current values: a key
 * that is given replaces that whole setting (`optimizer = sgd(lr = 0.1)` resets every optimizer
 * field to sgd's defaults first); a setting with an error leaves t's value as it was. Reports
 * each error through diag_error at the exact span and goes on, so that independent errors are
 * all reported; returns false if there was any. lookup(ctx, name, &val) resolves model
 * parameters used in values (`epochs = 2 * depth`); it may be NULL. */
bool train_config_eval(const Item *item, TrainConfig *t, bool (*lookup)(void *ctx, const char *name, Val *out),
                       void *ctx);

/* Every setting as stable text, one group per line, for `--emit=ir --train` and golden tests:
 *   train: epochs=10 batch=64 seed=0 accumulate=1 clip_grad_norm=none
 *     loss: cross_entropy(label_smoothing=0, weight=none)
 *     optimizer: adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0)
 *     schedule: constant
 *     augment: random_crop(pad=4), hflip(p=0.5)
 *     early_stop: none
 *     freeze: conv0, stage1.basic0
 *     init: default
 *     lr_for: fc=0.01, layer4=0.001
 * Numbers print in the shortest form that reads back to the same double. */
void train_config_print(const TrainConfig *t, FILE *f);

#endif
