/* ir.h: the graph every pass reads and writes.
 * Invariants (checked by ir_verify): every value is defined once, by one op, before any op
 * that reads it; every value has a fixed shape whose first dimension is the compiled batch;
 * dtype is float32; an op's parameters are entries of the graph's parameter table, named as
 * docs/language.md, Naming says, in PyTorch's layout. */
#ifndef CNNC_IR_H
#define CNNC_IR_H
#include <stdbool.h>
#include <stdint.h>

#include "diag.h"

typedef enum {
#define X(e, name) e,
#include "ops.def"
#undef X
    OP_COUNT
} OpKind;

enum { MAX_RANK = 4 };

typedef struct Shape {
    int rank;          /* 2: [N, F]; 4: [N, C, H, W]; 0: scalar */
    int d[MAX_RANK];   /* d[0] is the batch */
} Shape;

typedef struct Value {
    Shape shape;
    int producer;      /* index of the op that defines it */
} Value;

/* Every attribute any op has; each op uses the fields its file documents. */
typedef struct Attrs {
    int out;                     /* conv, linear: output channels / features */
    int kh, kw, sh, sw, ph, pw;  /* kernel, stride, padding before (top, left) (conv, pools) */
    int ph_end, pw_end;          /* padding after (bottom, right): differs only for pad = same */
    int dh, dw;                  /* dilation (conv) */
    int groups;                  /* conv */
    int narrow;                  /* conv, only in the copies of an op that conv.c hands to its kernels: the
                                    layer's own groups when groups was cut to fewer, wider ones
                                    (conv_widen: block-diagonal weights); 0 otherwise */
    bool bias;                   /* conv, linear */
    bool ceil_mode;              /* maxpool, avgpool */
    bool count_include_pad;      /* avgpool */
    int oh, ow;                  /* adaptive_avgpool output size */
    double eps, momentum;        /* batchnorm */
    double p;                    /* dropout */
    double slope;                /* leaky_relu */
    double alpha, beta, k;       /* elu (alpha), lrn (alpha, beta, k) */
    int mode;                    /* a variant of the op: gelu 1 = tanh approximation */
    int size;                    /* lrn */
    double *mean, *std;          /* normalize: one per channel (C values, expanded) */
    int nmean;
    const char *init;            /* conv, linear: the layer's own init of its weight and bias, as
                                    the runtime reads it ("kaiming_normal(a=0, mode=fan_out,
                                    nonlinearity=relu)"); NULL: the train section's or --init */
} Attrs;

typedef enum { PARAM_WEIGHT, PARAM_BIAS, PARAM_RUNNING_MEAN, PARAM_RUNNING_VAR } ParamRole;

typedef struct ParamT {
    const char *name;   /* "stage1.basic0.conv0.weight" */
    ParamRole role;
    bool trained;       /* false for batchnorm running statistics */
    Shape shape;        /* PyTorch layout; rank = number of dims, no batch */
    int64_t numel;
    int op;             /* owning op */
} ParamT;

typedef struct Op {
    OpKind kind;
    int *in;            /* input value ids */
    int nin;
    int out;            /* output value id; -1 for a backward op that only writes parameter
                           gradients (its forward op's input needs no gradient) */
    Attrs a;
    const char *pname;  /* parameter prefix ("stage1.basic0.conv0"), NULL when none */
    int param[4];       /* indices into Graph.params by ParamRole; -1 when absent */
    int fwd;            /* OP_BACKWARD: the forward op it differentiates; -1 otherwise */
    int wrt;            /* OP_BACKWARD: which input of fwd its output is the gradient of */
    Span span;          /* the statement it came from */
    const char *where;  /* instantiation path for readers: "stage1.basic0" or "" */
    /* Fusion (pass_fuse.c): a head op does the work of ops around it in one loop nest. */
    int fused_into;     /* this op's work is done by that head op; it emits nothing; -1 */
    int epi_bn;         /* head: a batchnorm (inference) applied to its output, or -1 */
    int epi_act;        /* head: an activation applied last, or -1 */
    int pro_norm;       /* head (conv): a normalize applied to its input, or -1 */
    int epi_pool;       /* head (conv; batchnorm in a training graph): a non-overlapping pooling
                           applied last, or -1 */
    int pro_conv;       /* head (conv, batch-1 inference): the conv whose output rows it reads
                           as they are made (conv_stream.c); its input is that conv's input */
    int writes;         /* the value the op's code writes: out, or the last absorbed op's out */
    int keeps;          /* head (conv with a fused pooling, training): the pooling's input (its
                           fused activation's output, else its own), which it also stores in
                           full beside the pooled values (writes) because backward ops read
                           it; or -1 */
    int bwd_act;        /* head (a pooling's backward): the backward of the activation before
                           the pooling that it does too (OpInfo.act_dy applied in its store),
                           or 0 (op 0 is the input, never a backward op) */
    int bwd_pool;       /* head (a batchnorm's backward, training): the backward of the max pool
                           fused after the batchnorm (its epi_pool), with the activation's
                           backward fused into that (bwd_act), that it does too; its dy is then
                           the pool's output gradient; or 0 */
    int bwd_acc;        /* head (a conv's backward whose dx conv_1x1.c computes): the other
                           gradient of the add of two gradients fused into it (the add's
                           other input, made earlier, read by the add alone); its dx is added
                           into that gradient's buffer, where the add's output (writes) is
                           planned; or 0 */
    int bwd_pair;       /* head (a conv's backward, training): the earlier backward op of a conv
                           that reads the same input (a residual block's strided body conv and
                           its 1x1 shortcut, either way round) whose data gradient this op
                           computes with its own in one kernel (OpInfo.dx_pair), the add of the
                           two fused in (writes is its output); that op then computes its weight
                           gradient alone (its writes is -1); or 0 */
    int evens_out;      /* head (an add, -O1 and above): a value it also writes, its output's
                           pixels at even rows and columns side by side ([N, C, (H + 1) / 2,
                           (W + 1) / 2]), which a 1x1 stride-2 conv reads (evens_in) as a
                           stride-1 conv's input, in place, instead of gathering those pixels
                           itself (pass_fuse.c); or -1 */
    int evens_in;       /* head (a 1x1 stride-2 conv whose forward and weight gradient
                           conv_1x1.c computes): that value, which its forward and its weight
                           gradient read in place of in[0] (its data gradient still writes
                           in[0]'s gradient at stride 2); or -1 */
} Op;

typedef struct Graph {
    const char *name;    /* model name */
    int batch;
    Value *values;
    int nvalues, cap_values;
    Op *ops;
    int nops, cap_ops;
    ParamT *params;
    int nparams, cap_params;
    int input;           /* value id of the model input */
    int output;          /* value id of the model output */
    bool ends_in_softmax;
    struct TrainConfig *train; /* the model's train section with defaults filled in (train_config.h) */
    int classes;         /* output features (the last dimension of the output) */
    bool training;       /* pass_autodiff ran: loss and backward ops follow the forward ops */
    int nforward;        /* ops [0, nforward) are the forward (inference) graph */
    int loss;            /* value id of the loss (a scalar), or -1 */
    /* Batch slices (pass_plan.c, plan_slices): with slices > 1 the shapes and the plan are for
     * one slice of `batch` images, and the entry points split a call of up to batch_all images
     * into at most `slices` slices, each run in its own arena (on its own thread). */
    int slices;          /* 1: no slicing */
    int batch_all;       /* the most images one call takes (= batch without slices) */
    bool no_winograd;    /* cnnc --no-winograd: no conv by conv_wino.c */
} Graph;

Graph *ir_new(const char *name, int batch);
/* A deep copy of g (values, ops, parameters); attribute arrays and the train settings are
 * shared, as no pass changes them. */
Graph *ir_clone(const Graph *g);
/* Sets the batch dimension of every value to b (the graph's shapes before autodiff). */
void ir_rebatch(Graph *g, int b);
int ir_add_value(Graph *g, Shape s);
/* Appends an op reading in[0..nin) (copied) with a fresh output value of shape out. */
int ir_add_op(Graph *g, OpKind kind, const int *in, int nin, Shape out, Span span);
int ir_add_param(Graph *g, int op, ParamRole role, const char *name, Shape shape, bool trained);
/* For a graph being built (before fusion and autodiff): moves the ops [b, nops) before the ops
 * [a, b), renumbering the values they define so that the values stay numbered in the order of
 * the ops that define them; the nv value ids in v[] are renumbered too. The parameter table
 * keeps its order (the checkpoint's). Needs 0 < a < b < nops, each op of [a, nops) to define
 * one value, in op order, and no op to read a value defined by a later one; returns false,
 * changing nothing, when that does not hold. */
bool ir_move_tail_before(Graph *g, int a, int b, int *v, int nv);
Shape shape4(int n, int c, int h, int w);
Shape shape2(int n, int f);
int64_t shape_numel(Shape s);
bool shape_eq(Shape a, Shape b);
/* "[6, 28, 28]" without the batch when skip_batch, else "[1, 6, 28, 28]"; arena string. */
const char *shape_str(Shape s, bool skip_batch);
const char *op_name(OpKind k);

/* The other gradient a head with bwd_pair reads (the dy of the backward op whose data gradient
 * it computes too, that op's last input), or -1. */
int ir_pair_dy(const Graph *g, const Op *op);
/* The even pixels (evens_in) an op reads in place of its input: a conv's forward, or any
 * backward op of that conv (its weight gradient), or -1. */
int ir_evens_read(const Graph *g, const Op *op);
int64_t ir_param_count(const Graph *g, bool trained_only);
/* Checks the invariants above; on a violation prints "internal error: ..." and returns false. */
bool ir_verify(const Graph *g);

#endif
