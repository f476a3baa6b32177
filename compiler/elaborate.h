/* elaborate.h: from the syntax tree of a program to one flat, shape-checked graph.
 * Requires: a loaded Program (load.c). Provides: a Graph (ir.h) that passes ir_verify, with
 * parameters named as docs/language.md (Naming) says, and the model's train settings. */
#ifndef CNNC_ELABORATE_H
#define CNNC_ELABORATE_H
#include "ast.h"
#include "ir.h"

typedef struct Define {
    const char *name;
    const char *value;   /* as typed after `-D name=` */
} Define;

typedef struct ElabOptions {
    const char *model;   /* --model NAME, or NULL for the only model */
    const Define *defines;
    int ndefines;
    int batch;           /* --batch N; 0: the train section's batch, else 1 */
} ElabOptions;

/* Returns NULL after reporting every error it found. */
Graph *elaborate(Program *prog, const ElabOptions *opts);

#endif
