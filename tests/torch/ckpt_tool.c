/* ckpt_tool.c: the C side of the safetensors cross-check with PyTorch
 * (tests/runtime_torch.test.sh). Commands:
 *   copy IN OUT          read IN, write every tensor (F64 as F32) and the metadata to OUT;
 *                        non-finite values are copied too (as the programs' --allow-nonfinite)
 *   make OUT             write tensors whose values follow value(i) (see below)
 *   check IN             read tensors written by Python with value(i) and compare them
 *   get IN NAME D0 D1..  ckpt_get_f32 with the given shape; prints the error line on failure
 * Exit status 0 on success, 1 with one error line on stderr otherwise. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "rt.h"

/* The shared pattern: exact in float32 after the same double computation on both sides. */
static float value(long i) { return (float)((double)(i * 37 % 101) / 7.0 - 5.0); }
static int64_t ivalue(long i) { return (int64_t)i * 1000003 - 77; }

static int copy(const char *in, const char *out) {
    char err[RT_ERR_LEN];
    ckpt_allow_nonfinite = true; /* the round trip checks infinities and NaN bit for bit */
    Ckpt *c = ckpt_read(in, err);
    if (!c)
        return rt_report(err);
    CkptWriter *w = ckpt_writer_new();
    void **bufs = calloc((size_t)c->ntensors + 1, sizeof *bufs);
    int status = 0;
    for (int i = 0; i < c->nmeta; i++)
        ckpt_add_meta(w, c->meta_keys[i], c->meta_values[i]);
    for (int i = 0; i < c->ntensors && !status; i++) {
        const CkptTensor *t = &c->tensors[i];
        int shape[CKPT_MAX_RANK];
        for (int d = 0; d < t->rank; d++)
            shape[d] = (int)t->shape[d];
        size_t n = (size_t)t->numel;
        if (t->dtype == CKPT_F32 || t->dtype == CKPT_F64) {
            float *f = bufs[i] = malloc(n * sizeof(float) + 1);
            if (!ckpt_get_f32(c, t->name, shape, t->rank, f, err))
                status = rt_report(err);
            ckpt_add_f32(w, t->name, shape, t->rank, f);
        } else if (t->dtype == CKPT_I64) {
            int64_t *v = bufs[i] = malloc(n * sizeof(int64_t) + 1);
            if (!ckpt_get_i64(c, t->name, shape, t->rank, v, err))
                status = rt_report(err);
            ckpt_add_i64(w, t->name, shape, t->rank, v);
        } else if (t->dtype == CKPT_I32) {
            int32_t *v = bufs[i] = malloc(n * sizeof(int32_t) + 1);
            if (!ckpt_get_i32(c, t->name, shape, t->rank, v, err))
                status = rt_report(err);
            ckpt_add_i32(w, t->name, shape, t->rank, v);
        } else {
            fprintf(stderr, "%s: tensor '%s': dtype %s not supported by copy\n", in, t->name,
                    ckpt_dtype_name(t->dtype));
            status = 1;
        }
    }
    if (!status && !ckpt_write(w, out, err))
        status = rt_report(err);
    for (int i = 0; i < c->ntensors; i++)
        free(bufs[i]);
    free(bufs);
    ckpt_writer_free(w);
    ckpt_free(c);
    return status;
}

static const struct {
    const char *name;
    int rank, shape[4];
    int is_int;
} made[] = {
    {"conv0.weight", 4, {6, 1, 5, 5}, 0},
    {"conv0.bias", 1, {6}, 0},
    {"linear0.weight", 2, {10, 24}, 0},
    {"loss", 0, {0}, 0},
    {"labels", 1, {7}, 1},
};

static long numel(int rank, const int *shape) {
    long n = 1;
    for (int d = 0; d < rank; d++)
        n *= shape[d];
    return n;
}

static int make(const char *out) {
    char err[RT_ERR_LEN];
    CkptWriter *w = ckpt_writer_new();
    void *bufs[5];
    for (int k = 0; k < 5; k++) {
        long n = numel(made[k].rank, made[k].shape);
        if (made[k].is_int) {
            int64_t *v = bufs[k] = malloc((size_t)n * sizeof *v);
            for (long i = 0; i < n; i++)
                v[i] = ivalue(i);
            ckpt_add_i64(w, made[k].name, made[k].shape, made[k].rank, v);
        } else {
            float *v = bufs[k] = malloc((size_t)n * sizeof *v);
            for (long i = 0; i < n; i++)
                v[i] = value(i);
            ckpt_add_f32(w, made[k].name, made[k].shape, made[k].rank, v);
        }
    }
    ckpt_add_meta(w, "format", "pt");
    ckpt_add_meta(w, "written_by", "cnnc \"ckpt_tool\"");
    bool ok = ckpt_write(w, out, err);
    for (int k = 0; k < 5; k++)
        free(bufs[k]);
    ckpt_writer_free(w);
    return ok ? 0 : rt_report(err);
}

static int check(const char *in) {
    char err[RT_ERR_LEN];
    Ckpt *c = ckpt_read(in, err);
    if (!c)
        return rt_report(err);
    int status = 0;
    for (int k = 0; k < 5 && !status; k++) {
        long n = numel(made[k].rank, made[k].shape);
        if (made[k].is_int) {
            int32_t *v = malloc((size_t)n * sizeof *v);
            if (!ckpt_get_i32(c, made[k].name, made[k].shape, made[k].rank, v, err))
                status = rt_report(err);
            for (long i = 0; i < n && !status; i++)
                if (v[i] != (int32_t)ivalue(i)) {
                    fprintf(stderr, "%s: '%s'[%ld] is %" PRId32 ", expected %" PRId64 "\n", in,
                            made[k].name, i, v[i], ivalue(i));
                    status = 1;
                }
            free(v);
        } else {
            float *v = malloc((size_t)n * sizeof *v);
            if (!ckpt_get_f32(c, made[k].name, made[k].shape, made[k].rank, v, err))
                status = rt_report(err);
            for (long i = 0; i < n && !status; i++)
                if (v[i] != value(i)) {
                    fprintf(stderr, "%s: '%s'[%ld] is %.9g, expected %.9g\n", in, made[k].name,
                            i, v[i], value(i));
                    status = 1;
                }
            free(v);
        }
    }
    const char *m = ckpt_meta(c, "written_by");
    if (!status && (!m || strcmp(m, "torch \"check_safetensors.py\" \xc3\xa9") != 0)) {
        fprintf(stderr, "%s: metadata written_by is '%s'\n", in, m ? m : "(missing)");
        status = 1;
    }
    ckpt_free(c);
    return status;
}

static int get(const char *in, const char *name, int rank, char **dims) {
    char err[RT_ERR_LEN];
    Ckpt *c = ckpt_read(in, err);
    if (!c)
        return rt_report(err);
    int shape[CKPT_MAX_RANK];
    for (int d = 0; d < rank && d < CKPT_MAX_RANK; d++)
        shape[d] = atoi(dims[d]);
    float *dst = malloc((size_t)numel(rank, shape) * sizeof(float) + 1);
    int status = ckpt_get_f32(c, name, shape, rank, dst, err) ? 0 : rt_report(err);
    free(dst);
    ckpt_free(c);
    return status;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "copy") == 0)
        return copy(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "make") == 0)
        return make(argv[2]);
    if (argc == 3 && strcmp(argv[1], "check") == 0)
        return check(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "get") == 0)
        return get(argv[2], argv[3], argc - 4, argv + 4);
    fprintf(stderr, "usage: ckpt_tool copy IN OUT | make OUT | check IN | get IN NAME DIMS...\n");
    return 2;
}
