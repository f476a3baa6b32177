/* data_cifar.c: CIFAR-10 binary batches: data_batch_1.bin .. data_batch_5.bin (train) and
 * test_batch.bin (test), each a sequence of records: one label byte, then 3072 bytes of a
 * 3x32x32 image in CHW order. */
#include "data.h"
#include "rt.h"

#include <stdlib.h>
#include <string.h>

static const char *const cifar10_names[10] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
};

bool cifar_parse_records(const char *path, const uint8_t *buf, size_t len, Dataset *ds, char *err) {
    if (len == 0)
        return rt_fail(err, "%s: empty file, expected CIFAR-10 records", path);
    if (len % CIFAR_RECORD)
        return rt_fail(err, "%s: size %zu is not a multiple of the %d-byte CIFAR-10 record "
                       "(truncated?)", path, len, CIFAR_RECORD);
    size_t count = len / CIFAR_RECORD, image = CIFAR_RECORD - 1;
    for (size_t r = 0; r < count; r++) {
        const uint8_t *rec = buf + r * CIFAR_RECORD;
        if (rec[0] >= 10)
            return rt_fail(err, "%s: label %d of record %zu is out of range for 10 classes",
                           path, rec[0], r);
        ds->labels[ds->n] = rec[0];
        memcpy(ds->pixels + (size_t)ds->n * image, rec + 1, image);
        ds->n++;
    }
    return true;
}

/* Class names from batches.meta.txt (one per line) when it has ten non-empty lines. */
static bool set_class_names(Dataset *ds, const char *dir, char *err) {
    char *meta = rt_path_join(dir, "batches.meta.txt", err);
    if (!meta)
        return false;
    unsigned char *text;
    size_t len;
    char ignored[RT_ERR_LEN];
    const char *names[10];
    int n = 0;
    if (rt_read_file(meta, &text, &len, ignored)) {
        char *save = NULL;
        for (char *line = strtok_r((char *)text, "\r\n", &save); line && n < 10;
             line = strtok_r(NULL, "\r\n", &save)) {
            while (*line == ' ')
                line++;
            if (*line)
                names[n++] = line;
        }
        bool ok = dataset_set_classes(ds, 10, n == 10 ? names : cifar10_names, err);
        free(text);
        free(meta);
        return ok;
    }
    free(meta);
    return dataset_set_classes(ds, 10, cifar10_names, err);
}

bool dataset_load_cifar10(const char *dir, DataSplit split, Dataset *out, char *err) {
    memset(out, 0, sizeof *out);
    char *sub = rt_path_join(dir, "cifar-10-batches-bin", err);
    if (!sub)
        return false;
    const char *base = rt_is_dir(sub) ? sub : dir;
    const char *train[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                           "data_batch_4.bin", "data_batch_5.bin"};
    const char *test[] = {"test_batch.bin"};
    const char *const *files = split == SPLIT_TRAIN ? train : test;
    int nfiles = split == SPLIT_TRAIN ? 5 : 1;

    /* Read every file first so the dataset is allocated once at its final size. */
    unsigned char *bufs[5] = {0};
    size_t lens[5] = {0}, total = 0;
    char *paths[5] = {0};
    bool ok = true;
    for (int i = 0; i < nfiles && ok; i++) {
        ok = (paths[i] = rt_path_join(base, files[i], err)) != NULL &&
             rt_read_file(paths[i], &bufs[i], &lens[i], err);
        total += lens[i] / CIFAR_RECORD;
    }
    if (ok && total > 0x7fffffff)
        ok = rt_fail(err, "%s: too many CIFAR-10 records", base);
    if (ok && (ok = dataset_alloc(out, (int)total, 3, 32, 32, base, err))) {
        out->n = 0;   /* cifar_parse_records counts the records up */
        for (int i = 0; i < nfiles && ok; i++)
            ok = cifar_parse_records(paths[i], bufs[i], lens[i], out, err);
        ok = ok && set_class_names(out, base, err);
    }
    for (int i = 0; i < nfiles; i++) {
        free(bufs[i]);
        free(paths[i]);
    }
    free(sub);
    if (!ok)
        dataset_free(out);
    return ok;
}
