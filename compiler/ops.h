/* ops.h: what the compiler knows about each op, one OpInfo per op kind, defined in the op's
 * file under compiler/ops/. A layer of the language is an op with a layer name and an argument
 * table; elaborate.c binds a call's arguments against that table and hands the values to
 * set_attrs. Adding a layer: one file in compiler/ops/, one line in ops.def, one in ops.c. */
#ifndef CNNC_OPS_H
#define CNNC_OPS_H
#include <stddef.h>

#include "args.h"
#include "ir.h"

struct Emit;
struct TorchCtx;

typedef struct OpInfo {
    const char *name;
    bool is_layer;           /* callable as a statement of the language */
    /* The typed argument table (args.h), terminated by ARG_END: name, kind, default, range and
     * accepted bare words of each argument. The binder (args_bind, args_check) matches a call
     * against it and checks every value's kind and range before set_attrs runs; a word arrives
     * as V_WORD unless a model parameter of that name exists. */
    const ArgSpec *args;
    /* Converts bound arguments (args[i] for args entry i; its default, arg_default, when not
     * given) into op->a with the val_* helpers: kinds and ranges are already checked, so only
     * rules between arguments remain (pad = same needs stride 1). Reports errors. */
    bool (*set_attrs)(Graph *g, Op *op, const Val *args);
    /* Computes the output shape from the input shapes; reports errors at op->span. */
    bool (*infer)(Graph *g, Op *op);
    /* Adds the op's parameters (weights, biases, running statistics), or NULL. */
    void (*add_params)(Graph *g, int op);
    /* Forward FLOPs for one image (a multiply-add counts 2). */
    double (*flops)(const Graph *g, const Op *op);
    /* Appends the attributes that differ from their defaults, e.g. "out=6 kernel=5 pad=2". */
    void (*print_attrs)(const Op *op, char *buf, size_t size);
    const char *param_kind;  /* component name for numbering ("conv", "linear", "bn"), or NULL */
    /* How a fresh model fills each parameter role (the init column of NAME_tensors):
     * "weight" / "bias" (PyTorch's uniform bounds from fan_in), "ones", "zeros"; NULL: "weight",
     * "bias", "zeros" (running mean), "ones" (running variance). */
    const char *param_init[4];
    /* Emits the body of the op's inference function (emit_c.h says which names it sees). */
    void (*emit_forward)(struct Emit *e, const Op *op);
    /* Training. emit_forward_train, when set, replaces emit_forward inside the training step
     * (batchnorm with batch statistics, dropout with its mask). emit_backward emits the body of
     * the backward op bwd of forward op fwd (emit_c.h lists the names it sees): it writes dx,
     * the gradient of fwd's input bwd->wrt (unless bwd->out < 0), and ADDS the gradients of
     * fwd's parameters into dw, db (unless they are frozen). bwd_needs says which forward
     * tensors the backward reads, so that only those stay alive: BWD_X (the inputs), BWD_Y. */
    void (*emit_forward_train)(struct Emit *e, const Op *op);
    /* Floats of temporary workspace the forward code needs while it runs (the plan gives it a
     * place live for that step only; the code sees it as `scratch`), or NULL for none. */
    int64_t (*scratch)(const Graph *g, const Op *op);
    /* The same for the backward code of the op (bwd: the backward op). */
    int64_t (*bwd_scratch)(const Graph *g, const Op *bwd, const Op *fwd);
    void (*emit_backward)(struct Emit *e, const Op *bwd, const Op *fwd);
    unsigned bwd_needs;
    /* The forward code reads each element before it writes the same element and no other, so
     * its output may overwrite its input when nothing reads the input later (the plan decides);
     * bwd_inplace: the same for the backward code's dx over dy. */
    bool inplace, bwd_inplace;
    /* Fusion, as a head: the forward code applies op->epi_bn and op->epi_act (emit_epilogue)
     * to what it writes (conv, linear, add, batchnorm), and op->pro_norm to what it reads (conv).
     * close_pool, when set: the head can also compute a pooling whose windows tile its output
     * (op->epi_pool) in its store, at inference; it says whether it takes this one. */
    bool epilogue, prologue;
    bool (*close_pool)(const Graph *g, const Op *head, const Op *pool);
    /* stream_from, when set: at batch-1 inference, the head can read the output of producer
     * (a head whose fused ops are settled) row by row through a window of a few rows while
     * producer makes them, so that the tensor between them is never whole (op->pro_conv).
     * pass_fuse takes it only where the planned arena gets smaller. */
    bool (*stream_from)(const Graph *g, const Op *head, const Op *producer);
    /* dx_adds, when set: in training, the backward code of forward op fwd can add its data
     * gradient into a gradient already in dx's buffer (op->bwd_acc: the add of two gradients
     * of one tensor fused into it). */
    bool (*dx_adds)(const Graph *g, const Op *fwd);
    /* dx_pair, when set: in training, the backward code of forward op fwd can also compute the
     * data gradient of forward op other (which reads the same input) and write the sum of the
     * two (op->bwd_pair: the add of the two gradients fused into it). */
    bool (*dx_pair)(const Graph *g, const Op *fwd, const Op *other);
    /* writes_evens: the head's forward code can also write its output's pixels at even rows
     * and columns side by side to op->evens_out (add). reads_evens, when set: forward op op can
     * read those pixels (op->evens_in) in place of its input, in its forward and in its
     * weight gradient (a 1x1 stride-2 conv that conv_1x1.c computes). */
    bool writes_evens;
    bool (*reads_evens)(const Graph *g, const Op *op);
    /* Fusion, as the absorbed neighbour (pass_fuse.c reads these and names no op kind):
     * act_expr: an elementwise activation; the C expression of the op applied to the float
     *   expression v, which a head with `epilogue` puts in its store. Only C99 <math.h> and the
     *   generated file's cnn_exp / cnn_tanh may appear in it.
     * fold_norm: a per-channel affine map at inference (batchnorm: params w, b, mean, var and
     *   attribute eps) that a head with `epilogue` folds as y * scale + shift.
     * pre_norm: a per-channel normalization that a head with `prologue` folds into its padded
     *   copy of the input.
     * pool_tiles: a pooling; true when this op's windows tile the image (kernel = stride, no
     *   padding, floor mode), so that a head with close_pool may take it.
     * act_dy: for an activation whose gradient needs only its output (BWD_Y), the C expression
     *   of its input's gradient from the expressions y (its output) and g (its output's
     *   gradient), linear in g; NULL for the others. A pooling's backward after the activation
     *   puts it in its own store (pass_fuse.c, in training). */
    const char *(*act_expr)(const Op *op, const char *v);
    const char *(*act_dy)(const Op *op, const char *y, const char *g);
    bool fold_norm, pre_norm;
    bool (*pool_tiles)(const Op *pool);
    /* The PyTorch twin (emit_torch.c prints it; emit_torch.h has the helpers):
     * torch_module: the constructor of the submodule holding the op's parameters, e.g.
     *   "nn.Linear(84, 10)", registered under op->pname; NULL for ops without parameters.
     * torch_call: the Python expression computing the op's output from its inputs (torch_in);
     *   it may register constant buffers with torch_buffer. Every forward op has one. */
    const char *(*torch_module)(const struct TorchCtx *t, const Op *op);
    const char *(*torch_call)(struct TorchCtx *t, const Op *op);
} OpInfo;

/* Whether the code of op (forward, or backward of its forward op) may write its output over
 * its in-place candidate input (the forward op's first input, the backward op's dy), and that
 * input's index in op->in. */
bool op_may_run_inplace(const Graph *g, const Op *op);
int op_inplace_input(const Op *op);
/* The OpInfo whose emitters produce op's code: the forward op's for a backward op. */
const OpInfo *op_code_info(const Graph *g, const Op *op);
bool op_is_backward(const Op *op);

enum { BWD_X = 1, BWD_Y = 2 };

extern const OpInfo *const op_infos[OP_COUNT];
const OpInfo *op_info(OpKind k);
/* The forward scratch of op: its kernel's (OpInfo.scratch), then, for a folded batchnorm, the
 * per-channel scale and shift at op_bn_scratch_at (so no kernel keeps them on the stack). */
int64_t op_scratch_floats(const Graph *g, const Op *op);
int64_t op_bn_scratch_at(const Graph *g, const Op *op);
const OpInfo *op_find_layer(const char *name);   /* NULL when no layer has that name */
/* Every layer name, for "did you mean"; returns the count. */
int op_layer_names(const char **names, int max);

/* The default of argument i of info as a value (its ArgSpec text read as a number, true/false
 * or a bare word), at span; V_NONE when the argument is required or its default is another
 * argument (`stride = kernel`), which set_attrs resolves. The binder gives set_attrs this
 * value for every argument not written, so each default is written once, in the table. */
Val arg_default(const OpInfo *info, int i, Span span);

/* Conversion of a value the binder has checked against its table entry (args_check). */
int val_int(const Val *v);
/* An AK_INIT argument as Attrs.init: NULL for `default` (or not given), else its text. */
const char *op_init_text(const Val *v);
void val_pair(const Val *v, int *h, int *w);   /* 3 -> 3, 3; [3, 5] -> 3, 5 */
double val_num(const Val *v);
bool val_bool(const Val *v);
/* Argument shorthands for op tables: name, default (NULL: required), range. */
#define ARG_INT(name, def, lo, hi) {name, def, AK_INT, RANGE(lo, hi), NULL, 0}
#define ARG_PAIR(name, def, lo) {name, def, AK_PAIR, RANGE(lo, 1 << 30), NULL, 0}
#define ARG_NUM(name, def, range) {name, def, AK_NUM, range, NULL, 0}
#define ARG_BOOL(name, def) {name, def, AK_BOOL, RANGE_ANY, NULL, 0}
#define ARG_WORD(name, def, words) {name, def, AK_WORD, RANGE_ANY, words, 0}
#define ARG_INIT(name) {name, "default", AK_INIT, RANGE_ANY, NULL, 0}
const char *val_str(const Val *v);      /* as written: 3, 0.5, [3, 5], true, same */
const char *val_kind_name(ValKind k);

/* Helpers shared by op files. */
Shape *in_shape(Graph *g, const Op *op, int i);
Shape *out_shape(Graph *g, const Op *op);
bool need_image(Graph *g, Op *op);       /* error "NAME needs an image tensor [C, H, W], got ..." */
void attr_append(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *pair_str(int h, int w);      /* "3" when h == w, else "3x5" */
double same_shape_flops(const Graph *g, const Op *op, double per_element);

#endif
