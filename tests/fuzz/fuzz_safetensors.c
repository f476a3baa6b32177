/* fuzz_safetensors.c: the safetensors reader. The input is a checkpoint file; every tensor
 * it holds is then fetched as floats and integers with its own shape, and by a wrong shape. */
#include "fuzz_util.h"

#include "ckpt.h"
#include "rt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    char err[RT_ERR_LEN] = "";
    Ckpt *c = ckpt_parse("f.safetensors", data, len, err);
    if (!c) {
        if (!err[0])
            abort(); /* a failure must say why */
        return 0;
    }
    for (int i = 0; i < c->ntensors; i++) {
        const CkptTensor *t = &c->tensors[i];
        if (ckpt_find(c, t->name) == NULL)
            abort();
        int shape[CKPT_MAX_RANK];
        bool small = t->numel <= 1 << 20;
        for (int k = 0; k < t->rank; k++)
            shape[k] = t->shape[k] > 1 << 20 ? 1 : (int)t->shape[k];
        if (!small)
            continue;
        size_t n = (size_t)(t->numel ? t->numel : 1);
        float *f = malloc(n * sizeof(float));
        int64_t *l = malloc(n * sizeof(int64_t));
        int32_t *s = malloc(n * sizeof(int32_t));
        if (f && l && s) {
            ckpt_get_f32(c, t->name, shape, t->rank, f, err);
            ckpt_get_i64(c, t->name, shape, t->rank, l, err);
            ckpt_get_i32(c, t->name, shape, t->rank, s, err);
            int wrong[CKPT_MAX_RANK + 1] = {3, 1, 4, 1, 5, 9, 2, 6, 5};
            ckpt_get_f32(c, t->name, wrong, t->rank < CKPT_MAX_RANK ? t->rank + 1 : 1, f, err);
        }
        free(f);
        free(l);
        free(s);
    }
    ckpt_meta(c, "format");
    ckpt_find(c, "no such tensor");
    ckpt_free(c);
    return 0;
}
