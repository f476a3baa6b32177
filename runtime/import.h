/* import.h: reading other frameworks' checkpoints (the `import` command, cmd_import in
 * import.c).
 *
 * Two source formats:
 * - PyTorch's torch.save files (.pt/.pth) in the zip format of PyTorch >= 1.6: a zip archive
 *   ARCHIVE/data.pkl (a pickle of the saved object, protocol 2 as torch.save writes it),
 *   ARCHIVE/data/KEY (one raw little-endian storage per key), ARCHIVE/version and optionally
 *   ARCHIVE/byteorder. The reader interprets only the pickle opcodes a state_dict needs (a
 *   small stack machine: tuples, lists, dicts, memo, GLOBAL/REDUCE, persistent ids) and builds
 *   nothing but tensors: torch._utils._rebuild_tensor_v2 and _rebuild_parameter are the only
 *   callables it gives meaning to; anything else becomes an opaque value. Zip entries may be
 *   stored or deflated (zlib) and their CRC-32 is checked.
 * - safetensors files (ckpt.h).
 * Tensors of float dtypes (F32, F64, F16, BF16) are converted to float; integer tensors
 * (num_batches_tracked) are kept in the list without data. Every size, offset and stride is
 * checked against the file before anything is read; errors follow rt.h's convention. */
#ifndef CNNC_IMPORT_H
#define CNNC_IMPORT_H
#include <stdbool.h>
#include <stdint.h>

#include "ckpt.h"

typedef struct ImportTensor {
    char *name;
    CkptDtype dtype;                /* in the source */
    int rank;
    int64_t shape[CKPT_MAX_RANK];
    int64_t numel;
    float *data;                    /* converted; NULL for integer dtypes */
} ImportTensor;

typedef struct ImportSet {
    const char *format;             /* "PyTorch zip" or "safetensors" */
    int n;
    ImportTensor *t;                /* in the source's order */
} ImportSet;

/* Reads PATH (format recognised by its first bytes). */
bool import_read(const char *path, ImportSet *s, char *err);
/* The same from a buffer (not kept); path is used in messages only. */
bool import_parse(const char *path, const unsigned char *buf, size_t len, ImportSet *s, char *err);
void import_free(ImportSet *s);

#endif
