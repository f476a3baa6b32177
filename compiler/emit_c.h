/* emit_c.h: generated C for one schedule and plan: NAME.c and NAME.h (the embeddable pair),
 * and, for standalone programs, NAME_main.c, the glue that hands the model to the runtime.
 * Reads only the IR and the plan. */
#ifndef CNNC_EMIT_C_H
#define CNNC_EMIT_C_H
#include <stdio.h>

#include "cbuf.h"
#include "ir.h"
#include "plan.h"

typedef struct EmitOptions {
    const char *source;      /* the .cnn path, for comments */
    const float *weights;    /* --embed-weights: the parameter block, or NULL */
    bool train;              /* also emit the training step */
    bool taps;               /* also emit NAME_forward_tap and its table (standalone programs) */
} EmitOptions;

/* What an op's emitter sees. Inside the op's function these names are defined:
 *   x (one input) or x0, x1, ... (several), y (output), w b mean var (parameters by role),
 *   n (images in this call, 1 <= n <= the compiled batch). */
typedef struct Emit {
    Cbuf *c;
    const Graph *g;
    const Plan *plan;
    bool packable;           /* an inference function: its weights may come packed (emit_pack_begin) */
    int64_t pack_floats;     /* set by emit_pack_begin: the floats of the packed weights */
} Emit;

/* Writes NAME.c and NAME.h (the embeddable pair). Returns false after a
 * message when a file cannot be written; no partial files remain. */
bool emit_c_files(const Graph *g, const Plan *plan, const EmitOptions *o, const char *c_path, const char *h_path);

/* A standalone program's sources in dir: NAME.c/.h from the inference graph gi (fused for
 * inference), NAME_train.c/.h from the training graph gt (named so; NULL when the model has
 * nothing to train), and NAME_main.c, the glue for the runtime. The parameter layouts agree
 * because both graphs hold the same parameters in the same order. With max_parts > 0 the
 * op functions go to parts compiled in parallel: the training graph's always, to
 * NAME_train_part1.c ... NAME_train_partK.c (*nparts = K <= max_parts, by their amount of
 * text), the inference graph's when they are many, to NAME_part1.c ... (*nparts_infer). */
bool emit_program_files(const Graph *gi, const Plan *pi, const Graph *gt, const Plan *pt, const EmitOptions *o,
                        const char *dir, int max_parts, int *nparts, int *nparts_infer);

/* Helpers for op emitters. */
Shape emit_in_shape(const Emit *e, const Op *op, int i);
Shape emit_out_shape(const Emit *e, const Op *op);
/* Declares the local constants N-independent sizes: e.g. "enum { C = 6, H = 28, W = 28 };". */
void emit_image_dims(Cbuf *c, const char *prefix, Shape s);
/* Fusion: emit_epilogue_setup declares bn_scale/bn_shift for a folded batchnorm (call it at
 * the top of the head's body); emit_epilogue returns the C expression that applies the folded
 * batchnorm (per channel ch) and activation to the float expression v. The head's parameters
 * then include bnw, bnb, bnm, bnv. */
void emit_epilogue_setup(const Emit *e, const Op *op, int channels);
const char *emit_epilogue(const Emit *e, const Op *op, const char *v, const char *ch);
/* The same for a loop over one channel's values: emit_epilogue_hoist declares the channel's
 * batchnorm parameters as locals (bn_s, bn_t) before the loop, emit_epilogue_hoisted's
 * expression reads them (bn_scale and bn_shift lie in the scratch: a loop that stores into the
 * scratch and reads them stays scalar). */
void emit_epilogue_hoist(const Emit *e, const Op *op, const char *ch);
const char *emit_epilogue_hoisted(const Emit *e, const Op *op, const char *v);
/* emit_epilogue with the batchnorm's scale and shift given as C expressions */
const char *emit_epilogue_with(const Emit *e, const Op *op, const char *v, const char *scale, const char *shift);
bool emit_has_epilogue(const Op *op);
/* Pooling windows: declares m, the maximum (NaN wins, as in PyTorch), or s, the sum, of
 * xi[h * IW + w] over h0 <= h < h1, w0 <= w < w1; with argmax, also at, the index of the
 * first maximum in row-major order (the window's first element when nothing beats -inf). */
void emit_window_reduce(Cbuf *c, bool max, bool argmax);
/* The same over src[wr * pitch + wc] (C expressions; the loops' wr and wc: a conv's w stays free). */
void emit_window_reduce_in(Cbuf *c, bool max, bool argmax, const char *src, const char *pitch);
/* Weights packed once (NAME_pack, docs/embedding.md): a kernel that repacks its weights at
 * every call declares the packed block with emit_pack_begin (float *const VAR, floats of it,
 * its place in the scratch otherwise) and writes the repacking loop, then calls emit_pack_end.
 * In an inference function the block then comes from the caller's packs when NAME_pack has
 * filled them (the loop is skipped), and NAME_pack runs only the loop; elsewhere (training,
 * gradients) the code is the plain repacking into the scratch. The repacking must depend on
 * the weights alone (not on x or n), and nothing before it may have effects beyond the scratch. */
void emit_pack_begin(Emit *e, const char *var, const char *scratch_expr, int64_t floats);
void emit_pack_end(Emit *e);
/* Before a loop of n independent iterations inside an op's parallel loop: CNN_SIMD(VL) (see
 * the generated prelude), VL the longest of 16, 8 and 4 lanes that leaves at most a quarter of
 * the iterations to the scalar remainder, else 4 (2 below 4; nothing for one iteration). */
void emit_simd(Cbuf *c, int n);
/* The VL x VL transpose in registers of the vectors M[0..VL) of TYPE (VL floats: 16 with
 * AVX-512, else 8; needs CNN_SHUFFLE): log2(VL) rounds in which rows r and r + h (r & h == 0)
 * exchange their lanes l with l & h set and unset respectively; after them lane l of M[j] is
 * what lane j of M[l] was. */
void emit_transpose(Cbuf *c, const char *m, const char *type);
/* One block copied transposed through registers (inside #if CNN_SHUFFLE): CNN_VW vectors
 * loaded, vector p from src (a C expression of p), transposed (emit_transpose), and vector j
 * stored to dst (a C expression of j) for the j < CNN_VW for which cond holds (NULL: every j).
 * Lane l of the vector stored for j is lane j of the vector loaded for p = l. */
void emit_transposed_block(Cbuf *c, const char *src, const char *dst, const char *cond);
/* Under #if CNN_SHUFFLE: declares the cnn_vec dst, the even lanes of the vectors lo and hi
 * (a stride-2 row's pixels from two vectors of it), for CNN_VW of 16 or 8. hi_early: hi was
 * read from one float earlier (from lo's last float): its odd lanes then, so that a row's last
 * vector of even floats ends at the last float it needs, not one past it. */
void emit_even_lanes(Cbuf *c, const char *dst, const char *lo, const char *hi, bool hi_early);
/* A conv's write-out from a pixel-major buffer to its output's channel planes (C expressions):
 * position q's sums of the block's channels at buf + q * pitch, channel j's plane at
 * dst + j * plane (position q at q), the positions [lo, hi) of nch channels written; the
 * channels of the block are ch0 + j of the tensor's nc. Positions before lo are final in buf
 * already (the last vector block may overlap them), so hi >= CNN_VW is the vector path's only
 * condition. */
typedef struct {
    const char *buf, *pitch, *dst, *plane, *lo, *hi, *nch, *ch0, *nc;
} EmitPlanes;
/* The head of a loop over the lanes of one position's sums bq (j < W.pitch): oc (the tensor's
 * channel; nc - 1 past nc) and v, the sum plus op's bias. The block ends with "}". */
void emit_lanes_head(Cbuf *c, const Op *op, const EmitPlanes *w);
/* The write-out: op's bias and fused epilogue (op may be NULL: none) applied in place, pixel by
 * pixel in a loop over the block's lanes that compilers vectorize (the lanes past nc read
 * channel nc - 1's parameters and are not stored); then, with vector shuffles (CNN_SHUFFLE),
 * blocks of CNN_VW positions x CNN_VW channels transposed in registers (emit_transpose) and each
 * channel's CNN_VW positions stored as one vector (the last block overlapping the one before),
 * else, and for runs shorter than a vector, a float at a time. The loop that read buf a float
 * at a time across the lanes took a sixth of ResNet-18's stem at batch 8 (conv_oc.c) and 5% of
 * layer2's stride-2 forward (conv_blk.c). */
void emit_planes_out(Emit *e, const Op *op, const EmitPlanes *w);
/* A float literal that round-trips: 0.286000013f */
const char *emit_float(double v);

#endif
