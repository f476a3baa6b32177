/* emit_torch.h: the model as a self-contained Python file defining an equivalent
 * torch.nn.Module, built from the same IR as the generated C (cnnc --emit=torch). It is the
 * reference the parity tests run the compiled program against; its state_dict() keys are the
 * checkpoint names of spec section 6, so a cnnc checkpoint loads into it. Reads only the IR. */
#ifndef CNNC_EMIT_TORCH_H
#define CNNC_EMIT_TORCH_H
#include <stdio.h>

#include "ir.h"

/* Prints the Python module: a docstring with the source, the class (named after the model,
 * also bound to `Model`) with one submodule or functional call per op in op order. */
void emit_torch(const Graph *g, FILE *f);

#endif
