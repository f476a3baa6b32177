/* cnnrt.h: what a standalone program's generated glue (NAME_main.c, written by cnnc) hands to
 * the runtime: a description of the model and pointers to its generated functions.
 * cnnrt_main implements the program's command line (info, init, predict, bench, forward, ...). */
#ifndef CNNC_CNNRT_H
#define CNNC_CNNRT_H
#include <stddef.h>

typedef struct CnnTensorInfo {
    const char *name;       /* checkpoint name, e.g. "conv0.weight" */
    size_t offset, numel;   /* in floats, within the parameter block */
    int rank, shape[4];     /* PyTorch layout */
    int trained;            /* 0 for batchnorm running statistics */
    const char *init;       /* "weight", "bias", "ones", "zeros" */
    int fan_in, fan_out;    /* of the layer the tensor belongs to */
} CnnTensorInfo;

/* The training types (the generated headers carry the same text, under the same guard). */
#include "cnn_train_types.h"

typedef struct CnnModel {
    const char *name;
    const char *source;          /* the .cnn file it came from */
    int batch;                   /* the most images per forward call */
    int in_rank;                 /* 3: images [C, H, W]; 1: flat [F] (in_shape[0]) */
    int in_shape[3];
    size_t in_size, out_size;    /* floats per image in, per row out */
    int outputs_probabilities;   /* the model ends in softmax */
    size_t param_floats, work_floats;
    int ntensors;
    const CnnTensorInfo *tensors;
    long long trained_params;
    double flops;                /* forward FLOPs per image */
    int (*forward)(const float *params, float *work, const float *input, float *output, int n);
    /* The weights some kernels repack at every forward call, packed once (pack_floats floats;
     * 0: nothing to pack), and the forward pass that takes them (cli_pack, cli_forward). */
    size_t pack_floats;
    int (*pack)(const float *params, float *work, float *packs);
    int (*forward_packed)(const float *params, float *packs, float *work, const float *input, float *output,
                          int n);
    /* Training (standalone programs always have it); see the generated header for the contract. */
    size_t state_floats;         /* optimizer state: 2 * param_floats */
    float (*train_step)(float *params, float *grads, float *work, const float *input, const int *labels, int n,
                        const cnn_step_opts *o);
    void (*update)(float *params, const float *grads, float *state, const cnn_optim *o);
    /* train_step then update in one pass, each parameter updated as soon as its gradient is
     * complete (no gradient block); for steps without accumulation or global-norm clipping. */
    float (*train_step_update)(float *params, float *state, float *work, const float *input, const int *labels, int n,
                               const cnn_step_opts *o, const cnn_optim *opt);
    const struct CnnTrainDefaults *defaults; /* the model's train section (cnntrain.h) */
    /* Threads for the generated loops (OpenMP); NULL when the program was built without it. */
    void (*set_threads)(int n);
    int (*max_threads)(void);
    /* visualize: the [C, H, W] values of the forward pass (emit_c.c, emit_taps) */
    int ntaps;
    const char *const *tap_name;   /* "conv0", or KIND#ID for an op without parameters */
    const char *const *tap_what;   /* the ops fused into it: "conv0 + relu" */
    const int (*tap_shape)[3];
    int (*forward_tap)(const float *params, float *work, const float *input, float *dst, int n, int tap);
} CnnModel;

int cnnrt_main(const CnnModel *m, int argc, char **argv);

#endif
