/* plan.h: where every tensor lives. Parameters sit in one block (PyTorch layout, each tensor
 * aligned to 16 floats); every intermediate value gets an offset in one workspace arena.
 * The graph input is read from the caller's memory and has no offset. */
#ifndef CNNC_PLAN_H
#define CNNC_PLAN_H
#include <stdint.h>
#include <stdio.h>

#include "ir.h"

typedef struct Plan {
    int64_t *param_offset;   /* per parameter, in floats from the block's start */
    int64_t param_floats;
    /* Buffers: the values first (ids 0 .. nvalues-1), then one scratch buffer per op that
     * asks for one (OpInfo.scratch), live during its op only. */
    int nbuffers;
    int64_t *value_offset;   /* per buffer, in floats from the arena's start; -1: the input */
    int64_t *value_floats;   /* per buffer: its size, rounded up to 16 floats */
    int *first, *last;       /* per buffer: the op that defines it and the last op that reads it */
    int *scratch_of;         /* per op: its scratch buffer id, or -1 */
    int *alias_of;           /* per buffer: the buffer it overwrites in place, or -1 */
    /* Training: the backward op that computes an op's parameter gradients may write them into
     * a transient arena buffer instead of the gradient block, when the step updates each
     * parameter right after its gradient is complete (NAME_train_step_update). */
    int *grad_scratch_of;    /* per op: that buffer's id, or -1 */
    int64_t *grad_at;        /* per parameter: where its gradient starts in that buffer, or -1 */
    int64_t grad_block_floats; /* the gradient block NAME_train_step needs (= param_floats) */
    int ninplace;            /* ops that run in place */
    int64_t arena_floats;    /* the arena this plan needs */
    int64_t naive_floats;    /* every value its own memory */
    int64_t peak_floats;     /* the most floats live at one step: the lower bound */
    const char *heuristic;   /* which placement won */
} Plan;

enum { PLAN_ALIGN = 16 };

/* Liveness, then offsets by several placement heuristics; keeps the smallest arena. */
Plan *pass_plan(const Graph *g, bool inplace);
int64_t grad_floats(const Graph *g, int op);
/* Batch slices: how many independent slices a call of g->batch images is split into (1: none),
 * decided on the forward graph before autodiff. requested: --slices (0: the compiler's choice,
 * up to cpus slices, at least 2; 1: none; K: at most K). See pass_plan.c. */
int plan_slices(const Graph *g, bool train, int requested, int cpus);
/* The floats of a call's workspace: the plan's arena, or with slices each slice's arena and,
 * for a training graph, one gradient block per slice. */
int64_t plan_work_floats(const Graph *g, const Plan *p);
int64_t plan_grad_block(const Plan *p);
/* Checks that no two values whose live ranges overlap share a float; false (with a message
 * on stderr) on a violation. */
bool plan_verify(const Graph *g, const Plan *p);
/* `--emit=plan`: the buffer table and the summary (plan_print.c). */
void plan_print(const Graph *g, const Plan *p, FILE *f);

#endif
