/* data_folder.c: a folder of class folders, as torchvision's ImageFolder reads it:
 * DIR/CLASS/IMAGE. Class folders sorted by name are classes 0, 1, ...; the files inside each,
 * sorted, are its images (names starting with '.' are skipped). Every image is loaded at the
 * model's c x h x w through image.c. */
#include "data.h"
#include "image.h"
#include "rt.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct Names {
    char **items;
    int n, cap;
} Names;

static void names_free(Names *v) {
    for (int i = 0; i < v->n; i++)
        free(v->items[i]);
    free(v->items);
    memset(v, 0, sizeof *v);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The visible entries of DIR that are directories (want_dirs) or regular files, sorted. */
static bool list_dir(const char *dir, bool want_dirs, Names *out, char *err) {
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d)
        return rt_fail(err, "%s: cannot open directory: %s", dir, strerror(errno));
    bool ok = true;
    struct dirent *e;
    while (ok && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *path = rt_path_join(dir, e->d_name, err);
        if (!path) {
            ok = false;
            break;
        }
        bool keep = want_dirs ? rt_is_dir(path) : rt_is_file(path);
        free(path);
        if (!keep)
            continue;
        if (out->n == out->cap) {
            int ncap = out->cap ? 2 * out->cap : 64;
            char **p = realloc(out->items, (size_t)ncap * sizeof *p);
            if (!p) {
                ok = rt_fail(err, "%s: out of memory listing the directory", dir);
                break;
            }
            out->items = p;
            out->cap = ncap;
        }
        if (!(out->items[out->n] = rt_strdup(e->d_name, err)))
            ok = false;
        else
            out->n++;
    }
    closedir(d);
    if (!ok) {
        names_free(out);
        return false;
    }
    if (out->n > 1)
        qsort(out->items, (size_t)out->n, sizeof *out->items, cmp_str);
    return true;
}

bool dataset_load_folder(const char *dir, int c, int h, int w, bool resize, Dataset *out,
                         char *err) {
    memset(out, 0, sizeof *out);
    Names classes;
    if (!list_dir(dir, true, &classes, err))
        return false;
    if (classes.n == 0) {
        names_free(&classes);
        return rt_fail(err, "%s: no class folders (expected one sub-folder of images per class)", dir);
    }
    Names *files = rt_alloc_array((size_t)classes.n, sizeof *files, "a file list", err);
    char **class_dirs = files ? rt_alloc_array((size_t)classes.n, sizeof(char *), "a path list", err) : NULL;
    bool ok = class_dirs != NULL;
    long total = 0;
    for (int k = 0; ok && k < classes.n; k++) {
        ok = (class_dirs[k] = rt_path_join(dir, classes.items[k], err)) != NULL &&
             list_dir(class_dirs[k], false, &files[k], err);
        if (ok && files[k].n == 0)
            ok = rt_fail(err, "%s: class folder has no images", class_dirs[k]);
        if (ok)
            total += files[k].n;
    }
    if (ok && total > 0x7fffffff)
        ok = rt_fail(err, "%s: too many images", dir);
    if (ok)
        ok = dataset_alloc(out, (int)total, c, h, w, dir, err) &&
             dataset_set_classes(out, classes.n, (const char *const *)classes.items, err);
    size_t image = (size_t)c * (size_t)h * (size_t)w;
    int i = 0;
    for (int k = 0; ok && k < classes.n; k++)
        for (int f = 0; ok && f < files[k].n; f++, i++) {
            char *path = rt_path_join(class_dirs[k], files[k].items[f], err);
            int sh = h, sw = w;
            ok = path && image_load_u8_sized(path, c, h, w, resize, out->pixels + (size_t)i * image, &sh, &sw, err);
            if (ok && (sh != h || sw != w)) {
                if (out->nresized++ == 0)
                    out->resized_h = sh, out->resized_w = sw;
                else if (sh != out->resized_h || sw != out->resized_w)
                    out->resized_mixed = true;
            }
            out->labels[i] = k;
            free(path);
        }
    for (int k = 0; k < classes.n; k++) {
        if (files)
            names_free(&files[k]);
        if (class_dirs)
            free(class_dirs[k]);
    }
    free(files);
    free(class_dirs);
    names_free(&classes);
    if (!ok)
        dataset_free(out);
    return ok;
}
