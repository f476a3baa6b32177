/* ckpt.h: safetensors checkpoints, read and written.
 * Format: an 8-byte little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"k": "v"}, "conv0.weight": {"dtype": "F32", "shape": [6, 1, 5, 5],
 *    "data_offsets": [0, 600]}, ...}
 * then the raw little-endian data; offsets count from the first byte after the header.
 * The reader checks everything (header length, JSON syntax, dtypes, shapes, offsets in range,
 * not overlapping, matching dtype x shape) and never reads outside the file; errors follow
 * rt.h's convention. */
#ifndef CNNC_CKPT_H
#define CNNC_CKPT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* dtype name in the file, element size. The reader accepts all of these; conversion to
 * float or integer arrays is offered for F32/F64 and I32/I64. */
#define CKPT_DTYPES(X) \
    X(F64, 8) X(F32, 4) X(F16, 2) X(BF16, 2) \
    X(I64, 8) X(I32, 4) X(I16, 2) X(I8, 1)   \
    X(U64, 8) X(U32, 4) X(U16, 2) X(U8, 1) X(BOOL, 1)

typedef enum {
#define X(name, size) CKPT_##name,
    CKPT_DTYPES(X)
#undef X
} CkptDtype;

enum { CKPT_MAX_RANK = 8 };

const char *ckpt_dtype_name(CkptDtype t);
int ckpt_dtype_size(CkptDtype t);

typedef struct CkptTensor {
    const char *name;
    CkptDtype dtype;
    int rank;                       /* 0 for a scalar */
    int64_t shape[CKPT_MAX_RANK];
    int64_t numel;                  /* product of shape (1 for a scalar) */
    const unsigned char *data;      /* inside the file buffer; not aligned; little-endian */
    size_t nbytes;
} CkptTensor;

typedef struct Ckpt {
    char *path;
    unsigned char *file;            /* the whole file */
    size_t file_len;
    int ntensors;
    CkptTensor *tensors;            /* in the order of the header */
    int nmeta;
    char **meta_keys, **meta_values;
} Ckpt;

/* Reading. ckpt_read returns NULL (and err) on any malformed input. */
Ckpt *ckpt_read(const char *path, char *err);
/* The same from a buffer (copied); path is used in messages only. */
Ckpt *ckpt_parse(const char *path, const unsigned char *buf, size_t len, char *err);
void ckpt_free(Ckpt *c);
const CkptTensor *ckpt_find(const Ckpt *c, const char *name);
const char *ckpt_meta(const Ckpt *c, const char *key);   /* NULL when absent */

/* Copies tensor NAME into dst after checking that it exists, has a float dtype (F32, or F64
 * converted) and exactly the given shape. Messages:
 *   w.safetensors: no tensor 'conv0.weight' (did you mean 'conv0.weights'?)
 *   w.safetensors: tensor 'conv0.weight' has dtype I64, model expects F32
 *   w.safetensors: tensor 'conv0.weight' has shape [6, 1, 5, 5], model expects [6, 3, 5, 5] */
bool ckpt_get_f32(const Ckpt *c, const char *name, const int *shape, int rank, float *dst,
                  char *err);
/* ckpt_get_f32 refuses a NaN or an infinity with the tensor's name and the element's index
 *   w.safetensors: tensor 'conv0.weight' holds NaN at index [0, 0, 1, 2] (element 7); ...
 * unless this is true (the programs' --allow-nonfinite). */
extern bool ckpt_allow_nonfinite;
/* The same for integer tensors (labels): I64 or I32, converted; a value outside int32 is an
 * error for ckpt_get_i32. */
bool ckpt_get_i64(const Ckpt *c, const char *name, const int *shape, int rank, int64_t *dst,
                  char *err);
bool ckpt_get_i32(const Ckpt *c, const char *name, const int *shape, int rank, int32_t *dst,
                  char *err);
/* Formats a shape as "[6, 1, 5, 5]" into buf (always NUL-terminated). */
void ckpt_format_shape(const int64_t *shape, int rank, char *buf, size_t size);

/* Writing. Tensors and metadata are written in the order added. The writer keeps the data
 * pointers, not copies: the data must stay valid until ckpt_write. Problems found while adding
 * (duplicate name, rank above CKPT_MAX_RANK, negative dimension, out of memory) are kept and
 * reported by ckpt_write. The header is padded with spaces to a multiple of 8 bytes and the
 * file is written atomically. */
typedef struct CkptWriter CkptWriter;
CkptWriter *ckpt_writer_new(void);    /* NULL only when out of memory */
void ckpt_add_f32(CkptWriter *w, const char *name, const int *shape, int rank, const float *data);
void ckpt_add_i64(CkptWriter *w, const char *name, const int *shape, int rank, const int64_t *data);
void ckpt_add_i32(CkptWriter *w, const char *name, const int *shape, int rank, const int32_t *data);
void ckpt_add_meta(CkptWriter *w, const char *key, const char *value);
bool ckpt_write(CkptWriter *w, const char *path, char *err);
void ckpt_writer_free(CkptWriter *w);

#endif
