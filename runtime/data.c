/* data.c: what every dataset reader shares: allocation, class names, the shape check, batches
 * for the model, and the dispatcher that recognises a dataset directory's format. */
#include "data.h"
#include "rt.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *data_split_name(DataSplit s) { return s == SPLIT_TRAIN ? "train" : "test"; }

void dataset_free(Dataset *ds) {
    if (!ds)
        return;
    free(ds->pixels);
    free(ds->labels);
    if (ds->class_names)
        for (int i = 0; i < ds->nclasses; i++)
            free(ds->class_names[i]);
    free(ds->class_names);
    memset(ds, 0, sizeof *ds);
}

bool dataset_alloc(Dataset *ds, int n, int c, int h, int w, const char *what, char *err) {
    memset(ds, 0, sizeof *ds);
    size_t image = (size_t)c * (size_t)h * (size_t)w;
    ds->pixels = rt_alloc_array((size_t)n, image, what, err);
    ds->labels = ds->pixels ? rt_alloc_array((size_t)n, sizeof(int32_t), what, err) : NULL;
    if (!ds->labels) {
        dataset_free(ds);
        return false;
    }
    ds->n = n;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    return true;
}

bool dataset_set_classes(Dataset *ds, int nclasses, const char *const *names, char *err) {
    ds->class_names = rt_alloc_array((size_t)nclasses, sizeof(char *), "class names", err);
    if (!ds->class_names)
        return false;
    ds->nclasses = nclasses;
    for (int i = 0; i < nclasses; i++) {
        char num[16];
        snprintf(num, sizeof num, "%d", i);
        if (!(ds->class_names[i] = rt_strdup(names ? names[i] : num, err)))
            return false;   /* dataset_free frees the names made so far */
    }
    return true;
}

bool dataset_check_shape(const Dataset *ds, const char *what, int c, int h, int w, char *err) {
    if (ds->c == c && ds->h == h && ds->w == w)
        return true;
    return rt_fail(err, "%s: images are %dx%dx%d, the model takes %dx%dx%d", what, ds->c, ds->h,
                   ds->w, c, h, w);
}

/* The images of a shuffled batch lie anywhere in a dataset larger than the caches (Fashion-
 * MNIST's 47 MB): each is fetched from memory a few images ahead of its conversion, so that
 * the misses overlap (LeNet-5's batches of 64: about 47 us a batch without). */
enum { PREFETCH_AHEAD = 4 };

static void prefetch_image(const uint8_t *p, size_t bytes) {
#if defined(__GNUC__)
    for (size_t b = 0; b < bytes; b += 64)
        __builtin_prefetch(p + b);
    __builtin_prefetch(p + bytes - 1);
#else
    (void)p, (void)bytes;
#endif
}

void dataset_batch_f32(const Dataset *ds, const int *indices, int n, float *dst) {
    size_t image = (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
    for (int k = 0; k < n && k < PREFETCH_AHEAD; k++)
        prefetch_image(ds->pixels + (size_t)indices[k] * image, image);
    for (int k = 0; k < n; k++) {
        if (k + PREFETCH_AHEAD < n)
            prefetch_image(ds->pixels + (size_t)indices[k + PREFETCH_AHEAD] * image, image);
        const uint8_t *src = ds->pixels + (size_t)indices[k] * image;
        float *out = dst + (size_t)k * image;
        for (size_t i = 0; i < image; i++)
            out[i] = (float)src[i] * (1.0f / 255.0f);
    }
}

void dataset_batch_labels(const Dataset *ds, const int *indices, int n, int32_t *dst) {
    for (int k = 0; k < n; k++)
        dst[k] = ds->labels[indices[k]];
}

static bool has_file(const char *dir, const char *name) {
    char *p = rt_path_join(dir, name, NULL);
    bool yes = p && rt_is_file(p);
    free(p);
    return yes;
}

static bool is_idx_dir(const char *dir) {
    return has_file(dir, "train-images-idx3-ubyte") || has_file(dir, "train-images-idx3-ubyte.gz") ||
           has_file(dir, "t10k-images-idx3-ubyte") || has_file(dir, "t10k-images-idx3-ubyte.gz");
}

static bool is_cifar_dir(const char *dir) {
    return has_file(dir, "test_batch.bin") || has_file(dir, "data_batch_1.bin") ||
           has_file(dir, "cifar-10-batches-bin/test_batch.bin") ||
           has_file(dir, "cifar-10-batches-bin/data_batch_1.bin");
}

/* A parent of dataset directories given by mistake: names the first child that is one, so
 * the message is not about a .gz file being "not an image". */
static bool points_to_child(const char *dir, char *err) {
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *sub = rt_path_join(dir, e->d_name, NULL);
        if (sub && rt_is_dir(sub) && (is_idx_dir(sub) || is_cifar_dir(sub))) {
            rt_fail(err, "%s: no dataset here, but its folder '%s' holds %s dataset", dir,
                    e->d_name, is_idx_dir(sub) ? "an IDX (MNIST-style)" : "a CIFAR-10");
            found = true;
        }
        free(sub);
    }
    closedir(d);
    return found;
}

bool dataset_load(const char *dir, DataSplit split, int c, int h, int w, bool resize,
                  Dataset *out, char *err) {
    memset(out, 0, sizeof *out);
    if (!rt_is_dir(dir))
        return rt_fail(err, "%s: not a directory", dir);
    bool ok;
    if (is_idx_dir(dir)) {
        ok = dataset_load_idx(dir, split, out, err);
    } else if (is_cifar_dir(dir)) {
        ok = dataset_load_cifar10(dir, split, out, err);
    } else if (points_to_child(dir, err)) {
        return false;
    } else {
        char *sub = rt_path_join(dir, data_split_name(split), err);
        if (!sub)
            return false;
        char *other = rt_path_join(dir, data_split_name(split == SPLIT_TRAIN ? SPLIT_TEST : SPLIT_TRAIN), err);
        if (!other) {
            free(sub);
            return false;
        }
        if (rt_is_dir(sub))
            ok = dataset_load_folder(sub, c, h, w, resize, out, err);
        else if (rt_is_dir(other))
            ok = rt_fail(err, "%s: has no %s/ folder (found %s/)", dir, data_split_name(split),
                         data_split_name(split == SPLIT_TRAIN ? SPLIT_TEST : SPLIT_TRAIN));
        else
            ok = dataset_load_folder(dir, c, h, w, resize, out, err);
        free(sub);
        free(other);
        return ok;   /* folder images were loaded at the model's shape */
    }
    if (ok && !dataset_check_shape(out, dir, c, h, w, err)) {
        dataset_free(out);
        return false;
    }
    return ok;
}

void dataset_report_resize(const Dataset *ds, const char *what, FILE *f) {
    if (ds->nresized == 0)
        return;
    fprintf(f, "%s: resizing %d of %d images from %dx%d%s to the model's %dx%d (bilinear)\n", what, ds->nresized, ds->n,
            ds->resized_w, ds->resized_h, ds->resized_mixed ? " and other sizes" : "", ds->w, ds->h);
}
