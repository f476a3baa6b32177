/* pass_plan.c: the memory plan. Requires: a verified graph in execution order (op index is
 * the step). Provides: a Plan (plan.h). Invalidates nothing.
 * Liveness: a value lives from the step that defines it to the last step that reads it (the
 * model output to the end). Placement: values sorted by a heuristic key, each put at the
 * lowest offset where it overlaps no already-placed value whose live range it meets (first
 * fit over the gaps). Five orders are tried and the smallest arena is kept, as Glow and
 * XLA do; peak-live (the most bytes live at one step) is the lower bound any order can reach. */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "ops.h"
#include "ir_print.h"

static int64_t round_up(int64_t n) { return (n + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN; }

typedef struct {
    const Plan *p;
    int key;
} SortCtx;
static SortCtx sort_ctx;

static int64_t duration(const Plan *p, int v) { return p->last[v] - p->first[v] + 1; }

static int cmp_order(const void *a, const void *b) {
    const Plan *p = sort_ctx.p;
    int u = *(const int *)a, v = *(const int *)b;
    int64_t ku, kv;
    switch (sort_ctx.key) {
    case 0: ku = p->value_floats[u], kv = p->value_floats[v]; break;             /* bigger first */
    case 1: ku = duration(p, u), kv = duration(p, v); break;                     /* longer first */
    case 2: ku = p->value_floats[u] * duration(p, u), kv = p->value_floats[v] * duration(p, v); break;
    case 3: ku = -p->first[u], kv = -p->first[v]; break;                         /* definition order */
    default: ku = p->last[u], kv = p->last[v]; break;                            /* freed last first */
    }
    if (ku != kv)
        return ku > kv ? -1 : 1;
    return u - v;
}

/* First fit: the lowest offset where v fits among placed values whose lifetimes meet its own.
 * byoff holds the placed values sorted by offset, so one sweep finds the gap (climbing past
 * them one at a time made long training graphs cubic); v is then inserted in order. */
static int64_t place(const Plan *p, int *byoff, int nplaced, const int64_t *off, int v) {
    int64_t at = 0;
    for (int k = 0; k < nplaced; k++) {
        int u = byoff[k];
        if (p->last[u] < p->first[v] || p->last[v] < p->first[u])
            continue;
        if (off[u] >= at + p->value_floats[v])
            break; /* the gap below this one holds v */
        if (off[u] + p->value_floats[u] > at)
            at = off[u] + p->value_floats[u];
    }
    int lo = 0, hi = nplaced;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (off[byoff[mid]] <= at)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(byoff + lo + 1, byoff + lo, sizeof(int) * (size_t)(nplaced - lo));
    byoff[lo] = v;
    return at;
}

/* Floats of parameter gradients that backward op i computes (its forward op's trained
 * weight and bias, each rounded up), or 0. The order and rounding agree with grad_at. */
int64_t grad_floats(const Graph *g, int i) {
    const Op *op = &g->ops[i];
    if (!op_is_backward(op) || op->wrt != 0)
        return 0;
    int64_t n = 0;
    for (int r = 0; r < 2; r++) {
        int pi = g->ops[op->fwd].param[r];
        if (pi >= 0 && g->params[pi].trained)
            n += round_up(g->params[pi].numel);
    }
    return n;
}

/* Batch slices. A small network's step is a chain of short ops (LeNet-5's training step: 25
 * ops, 3 ms of work at batch 64): threads that fork and join inside every op spend much of the
 * step waiting at the op's end. When no op couples the images of a batch, the step can instead
 * be cut into slices of images, each running every op on its own images in its own arena:
 * one parallel region per call, no barrier until the slices' weight gradients are summed
 * (in a fixed order, so results do not depend on the thread count). Ops that couple images in
 * training are the ones with a training variant of their forward (batchnorm's batch
 * statistics, dropout's masks drawn by image index) and the loss, whose mean the entry point
 * takes over the slices itself (each slice's gradient scale weighted by its share of the
 * batch's denominator). Inference couples nothing. Taken by default, one slice per processor
 * of the compiling machine (the programs are built for it: -march=native) and at least 2, when
 * every slice keeps at least SLICE_MIN images and the forward costs at most SLICE_FLOPS per
 * image: above that, the ops' own threads pay for themselves (docs/hacking.md, "Threads"). */
enum { SLICE_MIN = 8, SLICE_MAX = 64 };
static const double SLICE_FLOPS = 16777216.0; /* 2^24 forward FLOPs per image */

int plan_slices(const Graph *g, bool train, int requested, int cpus) {
    if (requested == 1 || g->batch < 2 * SLICE_MIN)
        return 1;
    for (int i = 0; i < g->nops && train; i++)
        if (op_info(g->ops[i].kind)->emit_forward_train)
            return 1;
    if (!requested && ir_total_flops(g) > SLICE_FLOPS)
        return 1;
    int k = requested ? requested : cpus < 2 ? 2 : cpus > SLICE_MAX ? SLICE_MAX : cpus;
    if (k > g->batch / SLICE_MIN)
        k = g->batch / SLICE_MIN;
    return k > 1 ? k : 1;
}

int64_t plan_grad_block(const Plan *p) { return round_up(p->param_floats); }

int64_t plan_work_floats(const Graph *g, const Plan *p) {
    if (g->slices <= 1)
        return p->arena_floats;
    return g->slices * (round_up(p->arena_floats) + (g->training ? plan_grad_block(p) : 0));
}

Plan *pass_plan(const Graph *g, bool inplace_allowed) {
    Plan *p = arena_alloc(sizeof *p);
    int nv = g->nvalues;
    p->param_offset = arena_alloc(sizeof(int64_t) * (size_t)(g->nparams + 1));
    for (int i = 0; i < g->nparams; i++) {
        p->param_offset[i] = p->param_floats;
        p->param_floats += round_up(g->params[i].numel);
    }
    p->grad_at = arena_alloc(sizeof(int64_t) * (size_t)(g->nparams + 1));
    for (int i = 0; i < g->nparams; i++)
        p->grad_at[i] = -1;
    p->scratch_of = arena_alloc(sizeof(int) * (size_t)(g->nops + 1));
    p->grad_scratch_of = arena_alloc(sizeof(int) * (size_t)(g->nops + 1));
    int nb = nv;
    for (int i = 0; i < g->nops; i++) {
        p->scratch_of[i] = g->ops[i].fused_into < 0 && op_scratch_floats(g, &g->ops[i]) > 0 ? nb++ : -1;
        p->grad_scratch_of[i] = grad_floats(g, i) > 0 ? nb++ : -1;
        if (p->grad_scratch_of[i] >= 0) /* the trained weight, then the trained bias */
            for (int r = 0, at = 0; r < 2; r++) {
                int pi = g->ops[g->ops[i].fwd].param[r];
                if (pi >= 0 && g->params[pi].trained) {
                    p->grad_at[pi] = at;
                    at += (int)round_up(g->params[pi].numel);
                }
            }
    }
    p->grad_block_floats = g->training ? p->param_floats : 0;
    p->nbuffers = nb;
    p->value_offset = arena_alloc(sizeof(int64_t) * (size_t)nb);
    p->value_floats = arena_alloc(sizeof(int64_t) * (size_t)nb);
    p->first = arena_alloc(sizeof(int) * (size_t)nb);
    p->last = arena_alloc(sizeof(int) * (size_t)nb);
    /* A value is materialized when some op's code writes it (fusion leaves the intermediates
     * of a fused chain unwritten); it lives from the step that writes it. */
    bool *written = arena_alloc(sizeof(bool) * (size_t)(nv + 1));
    for (int i = 0; i < g->nops; i++)
        if (g->ops[i].fused_into < 0 && g->ops[i].writes >= 0) {
            written[g->ops[i].writes] = true;
            if (g->ops[i].keeps >= 0)
                written[g->ops[i].keeps] = true;
            if (g->ops[i].evens_out >= 0)
                written[g->ops[i].evens_out] = true;
        }
    for (int v = 0; v < nv; v++) {
        p->value_floats[v] = written[v] ? round_up(shape_numel(g->values[v].shape)) : 0;
        p->first[v] = p->last[v] = g->values[v].producer;
    }
    for (int i = 0; i < g->nops; i++)
        if (g->ops[i].fused_into < 0 && g->ops[i].writes >= 0) {
            p->first[g->ops[i].writes] = p->last[g->ops[i].writes] = i;
            if (g->ops[i].keeps >= 0)
                p->first[g->ops[i].keeps] = p->last[g->ops[i].keeps] = i;
            if (g->ops[i].evens_out >= 0)
                p->first[g->ops[i].evens_out] = p->last[g->ops[i].evens_out] = i;
        }
    for (int i = 0; i < g->nops; i++) {
        int b = p->scratch_of[i];
        if (b >= 0) {
            p->value_floats[b] = round_up(op_scratch_floats(g, &g->ops[i]));
            p->first[b] = p->last[b] = i;
        }
        b = p->grad_scratch_of[i];
        if (b >= 0) {
            p->value_floats[b] = grad_floats(g, i);
            p->first[b] = p->last[b] = i;
        }
        if (g->ops[i].fused_into >= 0)
            continue; /* its reads happen in its head's step */
        for (int k = 0; k < g->ops[i].nin; k++)
            if (p->last[g->ops[i].in[k]] < i)
                p->last[g->ops[i].in[k]] = i;
        int dy2 = ir_pair_dy(g, &g->ops[i]); /* a paired data gradient's other dy (bwd_pair) */
        if (dy2 >= 0 && p->last[dy2] < i)
            p->last[dy2] = i;
        int ev = ir_evens_read(g, &g->ops[i]); /* even pixels read in place of the input */
        if (ev >= 0 && p->last[ev] < i)
            p->last[ev] = i;
    }
    p->last[g->output] = g->nops;
    if (g->loss >= 0)
        p->last[g->loss] = g->nops;

    /* In place: an op whose code allows it writes its output over an input that nothing reads
     * afterwards. The two values become one buffer (the root) whose life spans both. */
    p->alias_of = arena_alloc(sizeof(int) * (size_t)nb);
    for (int v = 0; v < nb; v++)
        p->alias_of[v] = -1;
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        if (op->writes < 0 || op->fused_into >= 0)
            continue;
        /* an add of gradients fused in (bwd_acc): its output must be the other gradient's
         * buffer, which then lives until the output's last read */
        int v = op->bwd_acc;
        if (v <= 0) {
            if (!inplace_allowed || !op_may_run_inplace(g, op))
                continue;
            /* the candidate: the forward op's first input, or the backward op's dy (its last input) */
            int cand = op_inplace_input(op);
            v = op->in[cand];
            if (v == g->input || p->last[v] != i || p->value_floats[v] != p->value_floats[op->writes])
                continue;
            bool read_twice = false; /* the same value twice among the inputs: keep it apart */
            for (int k = 0; k < op->nin; k++)
                read_twice |= op->in[k] == v && k != cand;
            if (read_twice)
                continue;
            p->ninplace++;
        }
        int root = v;
        while (p->alias_of[root] >= 0)
            root = p->alias_of[root];
        p->alias_of[op->writes] = root;
        if (p->last[op->writes] > p->last[root])
            p->last[root] = p->last[op->writes];
    }

    int *order = arena_alloc(sizeof(int) * (size_t)nb);
    int n = 0;
    for (int v = 0; v < nb; v++) {
        if (v != g->input)
            p->naive_floats += p->value_floats[v];
        if (v != g->input && p->alias_of[v] < 0 && p->value_floats[v] > 0)
            order[n++] = v;
    }
    /* peak-live: bytes live at each step, by adding at first and removing after last */
    int64_t *delta = arena_alloc(sizeof(int64_t) * (size_t)(g->nops + 2));
    for (int k = 0; k < n; k++) {
        delta[p->first[order[k]]] += p->value_floats[order[k]];
        delta[p->last[order[k]] + 1] -= p->value_floats[order[k]];
    }
    for (int64_t step = 0, live = 0; step <= g->nops; step++) {
        live += delta[step];
        if (live > p->peak_floats)
            p->peak_floats = live;
    }
    static const char *const names[] = {"largest first", "longest-lived first", "largest area first", "definition order",
                                        "freed last first"};
    int64_t *off = arena_alloc(sizeof(int64_t) * (size_t)nb);
    int *tmp = malloc(sizeof(int) * (size_t)(n + 1));
    if (!tmp) {
        fprintf(stderr, "cnnc: out of memory\n");
        exit(1);
    }
    p->arena_floats = -1;
    for (int key = 0; key < 5; key++) {
        sort_ctx = (SortCtx){p, key};
        qsort(order, (size_t)n, sizeof(int), cmp_order);
        int64_t top = 0;
        for (int k = 0; k < n; k++) {
            int64_t at = place(p, tmp, k, off, order[k]);
            off[order[k]] = at;
            if (off[order[k]] + p->value_floats[order[k]] > top)
                top = off[order[k]] + p->value_floats[order[k]];
        }
        if (p->arena_floats < 0 || top < p->arena_floats) {
            p->arena_floats = top;
            p->heuristic = names[key];
            for (int v = 0; v < nb; v++)
                p->value_offset[v] = off[v];
        }
    }
    free(tmp);
    for (int v = 0; v < nb; v++) /* aliases share their root's place */
        if (p->alias_of[v] >= 0) {
            int root = v;
            while (p->alias_of[root] >= 0)
                root = p->alias_of[root];
            p->value_offset[v] = p->value_offset[root];
        }
    p->value_offset[g->input] = -1;
    return p;
}

/* The verifier recomputes live ranges from the graph alone (who writes a buffer, who reads
 * it) rather than trusting the plan's own ranges, then checks every pair of buffers that share
 * a byte: their ranges must be disjoint, or touch at one step where an op that may run in place
 * reads the one and writes the other. Every read must come after the write. */
bool plan_verify(const Graph *g, const Plan *p) {
    int nb = p->nbuffers;
    int *wstep = arena_alloc(sizeof(int) * (size_t)nb), *rstep = arena_alloc(sizeof(int) * (size_t)nb);
    for (int b = 0; b < nb; b++)
        wstep[b] = rstep[b] = -1;
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        if (op->fused_into >= 0)
            continue;
        if (op->writes >= 0)
            wstep[op->writes] = i;
        if (op->keeps >= 0)
            wstep[op->keeps] = i;
        if (op->evens_out >= 0)
            wstep[op->evens_out] = i;
        if (p->scratch_of[i] >= 0)
            wstep[p->scratch_of[i]] = rstep[p->scratch_of[i]] = i;
        if (p->grad_scratch_of[i] >= 0)
            wstep[p->grad_scratch_of[i]] = rstep[p->grad_scratch_of[i]] = i;
    }
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        if (op->fused_into >= 0)
            continue;
        const int ev = ir_evens_read(g, op);
        for (int k = 0; k <= op->nin + 2; k++) { /* and a fused add's other gradient (bwd_acc), a pair's other dy, even pixels */
            int v = k < op->nin ? op->in[k] : k == op->nin && op->bwd_acc > 0 ? op->bwd_acc : g->input;
            if (k == op->nin + 1 && op->bwd_pair > 0)
                v = ir_pair_dy(g, op);
            if (k == op->nin + 2 && ev >= 0)
                v = ev;
            if (v == g->input)
                continue;
            if (wstep[v] < 0 || wstep[v] >= i) {
                fprintf(stderr, "cnnc: internal error: op %d reads %%%d before it is written\n", i, v);
                return false;
            }
            if (rstep[v] < i)
                rstep[v] = i;
        }
    }
    rstep[g->output] = g->nops;
    if (g->loss >= 0)
        rstep[g->loss] = g->nops;
    for (int u = 0; u < nb; u++) {
        if (u == g->input || p->value_floats[u] == 0)
            continue;
        if (wstep[u] < 0) {
            fprintf(stderr, "cnnc: internal error: buffer %%%d has a place but no writer\n", u);
            return false;
        }
        if (p->value_offset[u] < 0 || p->value_offset[u] + p->value_floats[u] > p->arena_floats) {
            fprintf(stderr, "cnnc: internal error: buffer %%%d lies outside the arena\n", u);
            return false;
        }
        if (rstep[u] < wstep[u])
            rstep[u] = wstep[u];
    }
    for (int u = 0; u < nb; u++) {
        if (u == g->input || p->value_floats[u] == 0)
            continue;
        for (int v = 0; v < nb; v++) {
            if (v == u || v == g->input || p->value_floats[v] == 0)
                continue;
            bool share = p->value_offset[u] < p->value_offset[v] + p->value_floats[v] &&
                         p->value_offset[v] < p->value_offset[u] + p->value_floats[u];
            if (!share || rstep[u] < wstep[v] || rstep[v] < wstep[u])
                continue;
            /* u's last read and v's write are the same step: legal only in place */
            if (rstep[u] == wstep[v] && wstep[v] >= 0 && wstep[v] < g->nops && v < g->nvalues) {
                const Op *op = &g->ops[wstep[v]];
                bool reads_u = false;
                for (int k = 0; k < op->nin; k++)
                    reads_u |= op->in[k] == u;
                if ((op->bwd_acc == u || (reads_u && op_may_run_inplace(g, op))) && op->writes == v &&
                    p->value_offset[u] == p->value_offset[v] && p->value_floats[u] == p->value_floats[v])
                    continue;
            }
            if (rstep[v] == wstep[u])
                continue; /* the same pair seen from the other side */
            fprintf(stderr,
                    "cnnc: internal error: buffers %%%d (steps %d-%d) and %%%d (steps %d-%d) are live together and overlap\n",
                    u, wstep[u], rstep[u], v, wstep[v], rstep[v]);
            return false;
        }
    }
    return true;
}
