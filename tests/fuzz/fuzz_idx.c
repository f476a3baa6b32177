/* fuzz_idx.c: IDX image and label files (MNIST's format), plain or gzip. The first two input
 * bytes give the images file's length (little-endian); the images file follows, then the
 * labels file. Either may be gzip (the reader detects it). */
#include "fuzz_util.h"

#include "data.h"
#include "rt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    if (len < 2)
        return 0;
    size_t k = (size_t)data[0] | (size_t)data[1] << 8;
    if (k > len - 2)
        k = len - 2;
    const char *ipath = fuzz_file("images", data + 2, k);
    const char *lpath = fuzz_file("labels", data + 2 + k, len - 2 - k);
    Dataset ds;
    char err[RT_ERR_LEN] = "";
    if (dataset_load_idx_files(ipath, lpath, 10, &ds, err)) {
        for (int i = 0; i < ds.n; i++)
            if (ds.labels[i] < 0 || ds.labels[i] >= 10)
                abort();
        dataset_free(&ds);
    } else if (!err[0]) {
        abort();
    }
    return 0;
}
