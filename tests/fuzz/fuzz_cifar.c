/* fuzz_cifar.c: CIFAR-10 binary batches. The input is test_batch.bin of a CIFAR-10 directory,
 * loaded as the test split. */
#include "fuzz_util.h"

#include "data.h"
#include "rt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    fuzz_file("test_batch.bin", data, len);
    Dataset ds;
    char err[RT_ERR_LEN] = "";
    if (dataset_load_cifar10(fuzz_dir(), SPLIT_TEST, &ds, err)) {
        if (ds.n < 1 || ds.c != 3 || ds.h != 32 || ds.w != 32)
            abort();
        dataset_free(&ds);
    } else if (!err[0]) {
        abort();
    }
    return 0;
}
