/* pass_fuse.c: operator fusion (-O1 and above). Requires: a verified graph, with the training
 * step appended if there is one. Provides: heads that do the work of their neighbours in one
 * loop nest, so that the intermediate tensors are never written to memory:
 *   - a batchnorm at inference folded into the conv, linear or add before it (applied as a
 *     per-channel scale and shift where the head stores its output);
 *   - an activation (an op with act_expr: relu, gelu, silu, ...) applied in the same store,
 *     after the head (conv, linear, add, batchnorm) or after the folded batchnorm, in inference
 *     and in training (the activation's backward reads the activation's output, which the head
 *     writes; a batchnorm's backward reads the batchnorm's input, which stays in memory);
 *   - a normalize folded into the following conv's padded copy of its input;
 *   - at inference, a max or average pooling whose windows tile the image (kernel = stride, no
 *     padding, floor mode) folded into the conv before it: the conv computes the rows of one
 *     window row into a small buffer and stores only the pooled values.
 *   - in training, the same pooling into the conv when the pooling is the only forward reader
 *     of the conv's (activated) output: the conv stores that output in full (op->keeps: the
 *     activation's and the pool's backward read it) and the pooled values in the same pass.
 *   - in training, a relu's backward into the backward of the max pool after the relu: the
 *     pool's backward already reads the relu's output (its own input) to find each window's
 *     maximum, and the relu's gradient mask at the element it picks is that maximum > 0, so
 *     the masked gradient is written in the same store (one pass over the relu-sized tensor
 *     instead of three).
 *   - in training, a max pool whose windows tile the image after a batchnorm (and its fused
 *     activation) into the batchnorm, forward (the pooled values are its only store) and
 *     backward (the pool's and the activation's backward done inside the batchnorm's, from
 *     its saved input: act(bn(x)) is never stored; batchnorm.c).
 *   - in training, the add of two gradients of one tensor into the later one's backward when
 *     that is a 1x1 conv's data gradient (conv_1x1.c adds its dx into the other's buffer).
 *   - an add whose output a 1x1 stride-2 conv reads (a downsampling shortcut) also writes that
 *     output's pixels at even rows and columns side by side (evens_out), which the conv's
 *     forward and weight gradient read in place of its input (evens_in; not a fusion of ops:
 *     one more tensor, planned like the others).
 * A neighbour is absorbed only when its input has no other reader, forward or backward, so
 * every tensor that a backward op reads stays in memory. Absorbed ops stay in the IR, marked
 * (fused_into), so the printed IR shows what each fused op replaced; they emit no code.
 * Invalidates: the plan (values that are no longer written get no buffer). */
#include "arena.h"
#include "ops.h"
#include "passes.h"
#include "plan.h"

bool pass_fuse(Graph *g) {
    int *readers = arena_alloc(sizeof(int) * (size_t)(g->nvalues + 1));
    int *reader = arena_alloc(sizeof(int) * (size_t)(g->nvalues + 1));
    for (int i = 0; i < g->nops; i++)
        for (int k = 0; k < g->ops[i].nin; k++) {
            readers[g->ops[i].in[k]]++;
            reader[g->ops[i].in[k]] = i;
        }
    readers[g->output]++; /* the caller reads the model's output */
    int nfwd = g->training ? g->nforward : g->nops;
    /* the same, counting the forward ops only (a training graph's backward ops read the
     * forward's values too) */
    int *freaders = arena_alloc(sizeof(int) * (size_t)(g->nvalues + 1));
    int *freader = arena_alloc(sizeof(int) * (size_t)(g->nvalues + 1));
    for (int i = 0; i < nfwd; i++)
        for (int k = 0; k < g->ops[i].nin; k++) {
            freaders[g->ops[i].in[k]]++;
            freader[g->ops[i].in[k]] = i;
        }
    for (int i = 1; i < nfwd; i++) {
        Op *op = &g->ops[i];
        const OpInfo *info = op_info(op->kind);
        if (op->fused_into >= 0)
            continue;
        if (info->prologue && op->pro_norm < 0) {
            int x = op->in[0], p = g->values[x].producer;
            bool pads = op->a.ph || op->a.pw || op->a.ph_end || op->a.pw_end;
            if (pads && op_info(g->ops[p].kind)->pre_norm && readers[x] == 1 && g->ops[p].fused_into < 0) {
                op->pro_norm = p;
                g->ops[p].fused_into = i;
                op->in[0] = g->ops[p].in[0];
            }
        }
        if (!info->epilogue)
            continue;
        int v = op->out;
        /* the single forward reader of v, or NULL */
#define NEXT(v) (readers[v] == 1 && reader[v] < nfwd ? &g->ops[reader[v]] : NULL)
        const Op *next = NEXT(v);
        if (!g->training && !info->fold_norm && next && op_info(next->kind)->fold_norm) {
            op->epi_bn = reader[v];
            g->ops[reader[v]].fused_into = i;
            v = next->out;
            next = NEXT(v);
        }
        if (next && op_info(next->kind)->act_expr) {
            op->epi_act = reader[v];
            g->ops[reader[v]].fused_into = i;
            v = next->out;
            next = NEXT(v);
        }
        if (info->close_pool && !g->training && next && op_info(next->kind)->pool_tiles &&
            op_info(next->kind)->pool_tiles(next) && info->close_pool(g, op, next)) {
            op->epi_pool = reader[v];
            g->ops[reader[v]].fused_into = i;
            v = next->out;
        } else if (info->close_pool && g->training && v != g->output && freaders[v] == 1) {
            /* Training: the same pooling when it is v's only forward reader. v is still
             * stored (op->keeps) when backward ops read it (the activation's, a max pool's),
             * but in the same pass as the pooled values, while its rows are in registers,
             * instead of being read back by a pooling op. */
            const Op *pool = &g->ops[freader[v]];
            if (pool->fused_into < 0 && op_info(pool->kind)->pool_tiles && op_info(pool->kind)->pool_tiles(pool) &&
                info->close_pool(g, op, pool)) {
                op->epi_pool = freader[v];
                g->ops[freader[v]].fused_into = i;
                op->keeps = readers[v] > freaders[v] ? v : -1;
                v = pool->out;
            }
        }
#undef NEXT
        op->writes = v;
    }
    /* Training: an activation's backward (one whose gradient needs only its output: act_dy)
     * into the backward of the max or average pool after it, which makes its dy. The pool's
     * input must be the activation's output itself (what its backward reads as y), and the
     * pool's gradient must have no other reader. A max pool's backward already reads that
     * tensor; an average pool's backward gets it as a first input. */
    for (int i = g->training ? g->nforward : g->nops; i < g->nops; i++) {
        Op *r = &g->ops[i];
        if (r->kind != OP_BACKWARD || r->out < 0 || r->nin != 2)
            continue;
        const Op *act = &g->ops[r->fwd];
        if (!op_info(act->kind)->act_dy || !op_info(act->kind)->act_dy(act, "y", "g"))
            continue;
        int y = r->in[0], dy = r->in[1], pb = g->values[dy].producer;
        if (pb < 0 || readers[dy] != 1 || y != act->out)
            continue;
        Op *p = &g->ops[pb];
        if (p->kind != OP_BACKWARD || p->fused_into >= 0 || p->bwd_act > 0 || g->ops[p->fwd].in[0] != y)
            continue;
        OpKind pk = g->ops[p->fwd].kind;
        if (pk == OP_MAXPOOL && p->in[0] == y) {
            /* reads y already */
        } else if (pk == OP_AVGPOOL && p->nin == 1) {
            int *in = arena_alloc(sizeof(int) * 2);
            in[0] = y, in[1] = p->in[0];
            p->in = in;
            p->nin = 2;
        } else {
            continue;
        }
        p->bwd_act = i;
        p->writes = r->out;
        r->fused_into = pb;
    }
    /* Training: a max pool whose windows tile the image, after a batchnorm (and the activation
     * fused into it), into the batchnorm, forward and backward together. The forward stores
     * only the pooled values (act(bn(x)) is never written); the batchnorm's backward, which
     * recomputes the batch statistics from its saved input x anyway, recomputes act(bn(x))
     * window by window with the same scale and shift, picks each window's maximum as the
     * pool's backward does, writes the activation's gradient there (its dy), sums it for the
     * batchnorm's reductions while the plane is in the cache, and turns it into dx in place.
     * Both halves or neither: the pool's input, act(bn(x)), must have no reader but the pool,
     * the pool's backward and the activation's backward fused into it, and the pool's
     * backward must write the batchnorm's dy, read by the batchnorm's backward alone. */
    for (int i = g->training ? g->nforward : g->nops; i < g->nops; i++) {
        Op *bb = &g->ops[i];
        if (bb->kind != OP_BACKWARD || bb->fused_into >= 0 || bb->out < 0 || bb->nin != 2)
            continue;
        int fb = bb->fwd;
        Op *bn = &g->ops[fb];
        if (bn->kind != OP_BATCHNORM || bn->fused_into >= 0 || bn->epi_pool >= 0 ||
            g->values[bn->in[0]].shape.rank != 4 || bb->in[0] != bn->in[0])
            continue;
        int y = bn->writes, dv = bb->in[1], pr = g->values[dv].producer;
        if (pr < 0 || readers[dv] != 1 || y == g->output)
            continue;
        int h = g->ops[pr].fused_into >= 0 ? g->ops[pr].fused_into : pr;
        Op *pb = &g->ops[h];
        if (pb->kind != OP_BACKWARD || pb->fused_into >= 0 || pb->writes != dv || pb->nin != 2 || pb->in[0] != y)
            continue;
        int pf = pb->fwd;
        Op *pool = &g->ops[pf];
        /* at most 16 elements a window: the scan is unrolled (as pool.c's tiled max pool) */
        if (pool->kind != OP_MAXPOOL || pool->fused_into >= 0 || pool->in[0] != y || !op_info(pool->kind)->pool_tiles(pool) ||
            pool->a.kh * pool->a.kw > 16)
            continue;
        if (bn->epi_act >= 0 ? pb->bwd_act <= 0 || g->ops[pb->bwd_act].fwd != bn->epi_act : pb->bwd_act > 0)
            continue;
        bool alone = true;
        for (int j = 0; j < g->nops && alone; j++)
            for (int k = 0; k < g->ops[j].nin; k++)
                if (g->ops[j].in[k] == y && j != pf && j != h && j != pb->bwd_act)
                    alone = false;
        if (!alone)
            continue;
        bn->epi_pool = pf;
        pool->fused_into = fb;
        bn->writes = pool->out;
        bb->bwd_pool = h;
        pb->fused_into = i;
        if (pb->bwd_act > 0)
            g->ops[pb->bwd_act].fused_into = i;
        bb->in[1] = pb->in[1]; /* the pool's output gradient */
    }
    /* Training: the add of the data gradients of two convs that read the same tensor (a
     * residual block's input: the body's strided 3x3 conv and the 1x1 stride-2 shortcut) into
     * the backward op of the later one, when its code can compute the other's data gradient
     * with its own (OpInfo.dx_pair: conv_blk.c's phases, the shortcut's products added to
     * the reduction of the phase its pixels are in): it reads the other's dy and weights,
     * writes the add's output (bwd_pair), and the other op computes its weight gradient alone
     * (writes -1). The shortcut's dx then costs no pass of its own over the block input's
     * gradient. Each gradient must have no reader but the add. */
    for (int i = g->training ? g->nforward : g->nops; i < g->nops; i++) {
        Op *ad = &g->ops[i];
        if (ad->kind != OP_ADD || ad->nin != 2 || ad->fused_into >= 0 || ad->in[0] == ad->in[1])
            continue;
        int pa = g->values[ad->in[0]].producer, pb = g->values[ad->in[1]].producer;
        if (pa < pb) {
            int t = pa;
            pa = pb, pb = t;
        }
        Op *ba = &g->ops[pa], *bb = &g->ops[pb];
        if (ba->kind != OP_BACKWARD || bb->kind != OP_BACKWARD || ba->fused_into >= 0 || bb->fused_into >= 0 ||
            ba->writes != ba->out || bb->writes != bb->out || ba->out < 0 || bb->out < 0 || readers[ba->out] != 1 ||
            readers[bb->out] != 1 || ba->bwd_acc > 0 || bb->bwd_acc > 0 || ba->bwd_pair > 0 || bb->bwd_pair > 0)
            continue;
        const Op *fa = &g->ops[ba->fwd], *fb = &g->ops[bb->fwd];
        if (fa->nin != 1 || fb->nin != 1 || fa->in[0] != fb->in[0] || !op_info(fa->kind)->dx_pair ||
            !op_info(fa->kind)->dx_pair(g, fa, fb))
            continue;
        ba->bwd_pair = pb;
        ba->writes = ad->out;
        ad->fused_into = pa;
        bb->writes = -1;
    }
    /* Training: the add of two gradients of one tensor (a residual block's input: the body's
     * dx and the shortcut's) into the backward op that makes the later of the two, when that
     * op's code can add its dx into another gradient (OpInfo.dx_adds: a conv whose dx
     * conv_1x1.c computes): its write-out adds its dx into the other
     * gradient's buffer (bwd_acc), where the add's output is planned. Each gradient must have
     * no reader but the add. A strided 1x1 conv then writes only the pixels its dx reaches
     * (the zeros between them, and the pass of the add over both tensors, are gone). The
     * other gradient may itself be the output of such a fused add (a tensor with three or
     * more readers: an inception block's input), written by the head it is fused into. */
    for (int i = g->training ? g->nforward : g->nops; i < g->nops; i++) {
        Op *ad = &g->ops[i];
        if (ad->kind != OP_ADD || ad->nin != 2 || ad->fused_into >= 0 || ad->in[0] == ad->in[1])
            continue;
        for (int k = 0; k < 2; k++) {
            int dv = ad->in[k], ov = ad->in[1 - k], pc = g->values[dv].producer, po = g->values[ov].producer;
            if (g->ops[po].fused_into >= 0)
                po = g->ops[po].fused_into; /* the head that writes ov */
            if (pc <= po || readers[dv] != 1 || readers[ov] != 1 || ov == g->input)
                continue;
            Op *cb = &g->ops[pc];
            if (cb->kind != OP_BACKWARD || cb->fused_into >= 0 || cb->writes != dv || cb->bwd_acc > 0 ||
                g->ops[po].writes != ov || !op_info(g->ops[cb->fwd].kind)->dx_adds ||
                !op_info(g->ops[cb->fwd].kind)->dx_adds(g, &g->ops[cb->fwd]))
                continue;
            cb->bwd_acc = ov;
            cb->writes = ad->out;
            ad->fused_into = pc;
            break;
        }
    }
    /* A 1x1 stride-2 conv (a residual block's shortcut) whose input an add writes (the
     * previous block's sum): the add also writes that input's even pixels side by side
     * (evens_out: a quarter of the tensor, from the row it has just written, in L1), and the
     * conv reads them (evens_in) as a stride-1 conv's input, in place, in its forward and its
     * weight gradient, instead of gathering every other pixel of every other row of the whole
     * tensor from L3 (ResNet-18's three shortcuts at batch 8, one thread: a quarter of their
     * forward's time). Several such convs of one input read one copy. */
    for (int i = 1; i < nfwd; i++) {
        Op *op = &g->ops[i];
        const OpInfo *info = op_info(op->kind);
        if (op->fused_into >= 0 || !info->reads_evens || !info->reads_evens(g, op))
            continue;
        int x = op->in[0], h = g->values[x].producer;
        if (h >= 0 && g->ops[h].fused_into >= 0)
            h = g->ops[h].fused_into; /* the head that writes x (an add with its relu) */
        if (h < 0 || g->ops[h].writes != x || !op_info(g->ops[h].kind)->writes_evens || g->ops[h].keeps >= 0)
            continue;
        if (g->ops[h].evens_out < 0) {
            Shape es = g->values[x].shape;
            es.d[2] = (es.d[2] + 1) / 2, es.d[3] = (es.d[3] + 1) / 2;
            int v = ir_add_value(g, es);
            g->values[v].producer = h;
            g->ops[h].evens_out = v;
        }
        op->evens_in = g->ops[h].evens_out;
    }
    /* Streaming (batch-1 inference): a head that can read its input's rows while the head
     * that writes it makes them (OpInfo.stream_from) takes that head, when nothing else reads
     * the tensor between them and every op between the two heads is fused into one of them.
     * It is kept only where the planned arena gets smaller. */
    if (g->training || g->batch != 1)
        return true;
    for (int i = 1; i < g->nops; i++) {
        Op *op = &g->ops[i];
        const OpInfo *info = op_info(op->kind);
        int x = op->in[0], pv = g->values[x].producer;
        if (op->fused_into >= 0 || !info->stream_from || op->pro_conv >= 0 || pv < 0 || readers[x] != 1)
            continue;
        int p = g->ops[pv].fused_into >= 0 ? g->ops[pv].fused_into : pv;
        Op *prod = &g->ops[p];
        bool between = prod->writes == x && prod->fused_into < 0;
        for (int k = p + 1; k < i && between; k++)
            between = g->ops[k].fused_into == p || g->ops[k].fused_into == i;
        if (!between || !info->stream_from(g, op, prod))
            continue;
        int64_t before = pass_plan(g, true)->arena_floats;
        op->pro_conv = p;
        op->in[0] = prod->in[0];
        prod->fused_into = i;
        if (pass_plan(g, true)->arena_floats >= before) { /* no smaller: undone */
            op->pro_conv = -1;
            op->in[0] = x;
            prod->fused_into = -1;
        }
    }
    return true;
}
