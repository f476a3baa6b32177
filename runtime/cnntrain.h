/* cnntrain.h: a model's train section as the runtime's training driver reads it. The compiler
 * writes one of these into the generated glue (NAME_main.c) from the .cnn file's `train { }`;
 * every field can be overridden by a flag of the program. Enumerations follow the order of
 * the compiler's train_config.h tables. */
#ifndef CNNC_CNNTRAIN_H
#define CNNC_CNNTRAIN_H

enum { CNN_LOSS_CROSS_ENTROPY, CNN_LOSS_FOCAL };
enum { CNN_SCHED_CONSTANT, CNN_SCHED_STEP, CNN_SCHED_MULTISTEP, CNN_SCHED_EXPONENTIAL, CNN_SCHED_COSINE,
       CNN_SCHED_ONECYCLE, CNN_SCHED_PLATEAU };
enum { CNN_AUG_RANDOM_CROP, CNN_AUG_HFLIP, CNN_AUG_VFLIP, CNN_AUG_ROTATE, CNN_AUG_TRANSLATE, CNN_AUG_ERASE };
enum { CNN_INIT_DEFAULT, CNN_INIT_KAIMING_NORMAL, CNN_INIT_XAVIER_UNIFORM };

typedef struct CnnAugment {
    int kind;          /* CNN_AUG_* */
    int pad;           /* random_crop */
    float p;           /* hflip, vflip, erase */
    float degrees;     /* rotate */
    float fraction;    /* translate */
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
    int plateau_max;               /* plateau mode max (on the validation accuracy) */
} CnnTrainDefaults;

#endif
