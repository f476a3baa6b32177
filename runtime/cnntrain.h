/* cnntrain.h: a model's train section as the runtime's training driver reads it. The compiler
 * writes one of these into the generated glue (NAME_main.c) from the .cnn file's `train { }`;
 * every field can be overridden by a flag of the program. Enumerations follow the order of
 * the compiler's train_config.h tables. */
#ifndef CNNC_CNNTRAIN_H
#define CNNC_CNNTRAIN_H

enum { CNN_LOSS_CROSS_ENTROPY, CNN_LOSS_FOCAL };
enum { CNN_SCHED_CONSTANT, CNN_SCHED_STEP, CNN_SCHED_MULTISTEP, CNN_SCHED_EXPONENTIAL, CNN_SCHED_COSINE,
       CNN_SCHED_ONECYCLE, CNN_SCHED_PLATEAU };
enum { CNN_AUG_RANDOM_CROP, CNN_AUG_HFLIP, CNN_AUG_VFLIP, CNN_AUG_ROTATE, CNN_AUG_TRANSLATE, CNN_AUG_ERASE,
       CNN_AUG_COLOR_JITTER, CNN_AUG_GRAYSCALE, CNN_AUG_RANDOM_RESIZED_CROP, CNN_AUG_AFFINE,
       CNN_AUG_RESIZE, CNN_AUG_CENTER_CROP };
enum { CNN_INIT_DEFAULT, CNN_INIT_KAIMING_NORMAL, CNN_INIT_XAVIER_UNIFORM };

typedef struct CnnAugment {
    int kind;          /* CNN_AUG_* */
    int pad;           /* random_crop */
    float p;           /* hflip, vflip, erase */
    float degrees;     /* rotate */
    float fraction;    /* translate */
    int size;          /* random_crop, center_crop: the crop's size, 0 for the image's (must equal it);
                          resize: the shorter side's new length */
    float brightness, contrast, saturation, hue;   /* color_jitter */
    float scale[2], ratio[2];                      /* random_resized_crop; affine: scale */
    float shear;                                   /* affine (degrees, translate: fraction) */
} CnnAugment;

typedef struct CnnTrainDefaults {
    int epochs, batch;
    long long seed;
    int accumulate;
    float clip_grad_norm;          /* 0: none */
    int loss;                      /* CNN_LOSS_* */
    float label_smoothing;
    int nclass_weight;             /* 0: none */
    const float *class_weight;
    float focal_gamma, focal_alpha;
    int optimizer;                 /* CNN_SGD, CNN_ADAM, CNN_ADAMW (cnnrt.h) */
    float lr, momentum, weight_decay, beta1, beta2, eps;
    int nesterov;
    int schedule;                  /* CNN_SCHED_* */
    int step_every;                /* step */
    float gamma;                   /* step, multistep, exponential */
    int nmilestones;
    const int *milestones;         /* multistep */
    float min_lr;                  /* cosine */
    float max_lr;                  /* onecycle */
    float factor;                  /* plateau */
    int patience;                  /* plateau */
    int naugment;
    const CnnAugment *augment;
    int early_stop;                /* 0: off */
    int early_patience;
    float early_min_delta;
    int nfreeze;
    const char *const *freeze;     /* parameter name prefixes */
    int init;                      /* CNN_INIT_* */
    int nlr_for;                   /* per-parameter-group learning rates */
    const char *const *lr_for_prefix;
    const double *lr_for_value;
    int t_max;                     /* cosine: 0 for the run's epochs */
    float pct_start;               /* onecycle: 0 for 0.3 */
    int cycle_momentum;            /* onecycle: cycle momentum / beta1 between 0.95 and 0.85 */
    int plateau_max;               /* plateau mode max (on the validation accuracy) */
    /* init's arguments (init.h's InitSpec): kaiming mode fan_out, nonlinearity (linear,
     * sigmoid, tanh, relu, leaky_relu = 0..4), a, b, mean, std, val, gain; has_args 0: the
     * kind's defaults */
    int warmup;                    /* epochs of linear warm-up (0: none) */
    float warmup_factor;           /* its start factor (0: 1/3, LinearLR's default) */
    int init_has_args, init_fan_out, init_nonlinearity;
    double init_a, init_b, init_mean, init_std, init_val, init_gain;
} CnnTrainDefaults;

#endif
