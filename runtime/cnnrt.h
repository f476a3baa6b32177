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
} CnnModel;

int cnnrt_main(const CnnModel *m, int argc, char **argv);

#endif
