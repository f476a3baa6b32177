/* cnn_train_types.h: the types of one training step, shared by the runtime (through cnnrt.h)
 * and every generated header: cnnc copies this text, from this file, into NAME.h at build time
 * (Makefile: build/gen/train_types.inc), so the two always agree. Only what lies between the
 * guard lines is copied. */
#ifndef CNN_TRAIN_TYPES
#define CNN_TRAIN_TYPES 1
/* Settings of one training step. */
typedef struct cnn_step_opts {
    int loss;                  /* 0: cross-entropy, 1: focal */
    float label_smoothing;     /* cross-entropy, in [0, 1) */
    const float *class_weight; /* cross-entropy: one weight per class, or NULL */
    float focal_gamma, focal_alpha;
    float grad_scale;          /* multiplies every gradient (1 / accumulation steps) */
    int dropout;               /* 1: dropout active; 0: off (as in eval mode) */
    unsigned long long seed;   /* dropout masks; give every step its own */
    int update_stats;          /* 1: batchnorm updates its running statistics */
    int *correct;              /* or NULL; the loss adds the images whose largest logit
                                  (the first, on ties) is at their label */
} cnn_step_opts;
enum { CNN_SGD, CNN_ADAM, CNN_ADAMW };
/* One optimizer step, as torch.optim.SGD (dampening 0), Adam and AdamW compute it. */
typedef struct cnn_optim {
    int kind;                  /* CNN_SGD, CNN_ADAM or CNN_ADAMW */
    float lr, momentum, weight_decay, beta1, beta2, eps;
    int nesterov;
    long long step;            /* 1 at the first update */
    const unsigned char *frozen; /* per tensor of the tensor table: 1 = not updated; or NULL */
} cnn_optim;
#endif
