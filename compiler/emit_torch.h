/* emit_torch.h: the model as a self-contained Python file defining an equivalent
 * torch.nn.Module, built from the same IR as the generated C (cnnc --emit=torch). It is the
 * reference the parity tests run the compiled program against; its state_dict() keys are the
 * checkpoint names of docs/language.md (Naming), so a cnnc checkpoint loads into it. Reads only the IR. */
#ifndef CNNC_EMIT_TORCH_H
#define CNNC_EMIT_TORCH_H
#include <stdio.h>

#include "ir.h"

/* Prints the Python module: a docstring with the source, the class (named after the model,
 * also bound to `Model`) with one submodule or functional call per op in op order. */
void emit_torch(const Graph *g, FILE *f);

/* What an op's twin (OpInfo.torch_module, torch_call) sees, and the helpers it uses. */
typedef struct TorchCtx {
    const Graph *g;
    char *init;        /* lines for __init__ that torch_buffer adds (arena text) */
} TorchCtx;
const char *torch_float(double v);           /* the shortest Python float literal that reads back as v */
const char *torch_pair(int h, int w);        /* "3" or "(3, 5)" */
const char *torch_bool(bool b);              /* "True" or "False" */
const char *torch_in(const TorchCtx *t, const Op *op, int k);   /* input k as a Python name: "v12" */
Shape torch_in_shape(const TorchCtx *t, const Op *op, int k);
const char *torch_module_ref(const Op *op);  /* op's submodule: self.stage1.basic0.conv0 */
/* Registers a constant (non-persistent) buffer of n values shaped by view (e.g.
 * ".view(1, -1, 1, 1)") and returns the expression that reads it ("self.mean_v3"). */
const char *torch_buffer(TorchCtx *t, const Op *op, const char *what, const double *v, int n, const char *view);

#endif
