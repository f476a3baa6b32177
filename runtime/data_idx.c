/* data_idx.c: IDX files as MNIST and Fashion-MNIST ship them: a big-endian magic 0x00000803
 * (u8 images, dims n, rows, cols) or 0x00000801 (u8 labels, dim n), big-endian u32 dims, then
 * the bytes. Files ending in .gz (or any gzip file) are inflated through zlib. */
#include "data.h"
#include "rt.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { IDX_IMAGES = 0x00000803, IDX_LABELS = 0x00000801, IDX_MAX_BYTES = 1 << 30 };

static const char *const fashion_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

/* zlib's messages start with "PATH: "; ours already name the file once. */
static const char *gz_message(gzFile gz, const char *path, int *code) {
    const char *msg = gzerror(gz, code);
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        msg += n + 2;
    return msg;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The bytes an IDX file of this magic declares in its first hdr bytes (header included), or
 * 0 when those bytes are not a valid header (idx_header says why, later). */
static uint64_t idx_declared(const unsigned char *buf, size_t n, uint32_t magic, int ndims) {
    size_t hdr = 4 + 4 * (size_t)ndims;
    if (n < hdr || be32(buf) != magic)
        return 0;
    uint64_t total = 1;
    for (int i = 0; i < ndims; i++) {
        total *= be32(buf + 4 + 4 * i);
        if (total > IDX_MAX_BYTES)
            return 0;
    }
    return hdr + total;
}

/* Reads a whole file, inflating it when it is gzip (gzread passes plain files through). The
 * IDX header is read first: no more than the bytes it declares (plus one, to notice extra
 * bytes) are ever inflated, so a gzip bomb behind a small header costs nothing. */
static bool read_maybe_gz(const char *path, uint32_t magic, int ndims, unsigned char **data, size_t *len,
                          char *err) {
    *data = NULL;
    *len = 0;
    if (rt_is_dir(path))
        return rt_fail(err, "%s: is a directory, not a file", path);
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return rt_fail(err, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    size_t cap = 4 + 4 * (size_t)ndims, n = 0, limit = 0; /* first the header alone */
    unsigned char *buf = malloc(cap);
    if (!buf) {
        gzclose(gz);
        return rt_fail(err, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap && limit == 0) {   /* the header is in: size the rest by it */
            uint64_t want = idx_declared(buf, n, magic, ndims);
            if (want == 0)
                break;  /* idx_header explains */
            limit = (size_t)want + 1;
            unsigned char *nb = realloc(buf, limit);
            if (!nb) {
                free(buf);
                gzclose(gz);
                return rt_fail(err, "%s: out of memory", path);
            }
            buf = nb;
            cap = limit;
        }
        if (n == cap)
            break;  /* one byte more than declared: idx_header reports the extra bytes */
        int got = gzread(gz, buf + n, (unsigned)(cap - n));
        if (got < 0) {
            int code;
            const char *msg = gz_message(gz, path, &code);
            rt_fail(err, "%s: cannot read: %s", path,
                    code == Z_ERRNO ? strerror(errno) : msg);
            free(buf);
            gzclose(gz);
            return false;
        }
        if (got == 0) {
            /* A gzip stream cut short reads as a clean end; gzerror tells them apart. */
            int code;
            const char *msg = gz_message(gz, path, &code);
            if (code != Z_OK && code != Z_STREAM_END) {
                rt_fail(err, "%s: cannot read: %s (truncated or corrupt gzip?)", path, msg);
                free(buf);
                gzclose(gz);
                return false;
            }
            break;
        }
        n += (size_t)got;
    }
    gzclose(gz);
    *data = buf;
    *len = n;
    return true;
}

/* Checks the magic and dims of an IDX buffer; returns the dims through dims[]. */
static bool idx_header(const char *path, const unsigned char *buf, size_t len, uint32_t magic,
                       int ndims, uint32_t *dims, char *err) {
    const char *kind = magic == IDX_IMAGES ? "images" : "labels";
    size_t hdr = 4 + 4 * (size_t)ndims;
    if (len < 4)
        return rt_fail(err, "%s: truncated: %zu bytes, too short for an IDX file", path, len);
    uint32_t got = be32(buf);
    if (got != magic)
        return rt_fail(err, "%s: wrong magic 0x%08x, expected 0x%08x (IDX %s file)", path, got,
                       magic, kind);
    if (len < hdr)
        return rt_fail(err, "%s: truncated: %zu bytes, too short for the IDX header", path, len);
    uint64_t total = 1;
    for (int i = 0; i < ndims; i++) {
        dims[i] = be32(buf + 4 + 4 * i);
        if (dims[i] > 0x7fffffff)
            return rt_fail(err, "%s: absurd dimension %u in the IDX header", path, dims[i]);
        total *= dims[i];
        if (total > IDX_MAX_BYTES)
            return rt_fail(err, "%s: IDX header describes more than %d MiB", path, IDX_MAX_BYTES >> 20);
    }
    if (len - hdr < total)
        return rt_fail(err, "%s: truncated: the header says %u %s (%llu bytes), the file has "
                       "%zu", path, dims[0], kind, (unsigned long long)total, len - hdr);
    if (len - hdr > total)
        return rt_fail(err, "%s: extra bytes after the %u %s the header describes", path, dims[0], kind);
    return true;
}

bool dataset_load_idx_files(const char *images_path, const char *labels_path, int nclasses,
                            Dataset *out, char *err) {
    memset(out, 0, sizeof *out);
    unsigned char *img = NULL, *lab = NULL;
    size_t img_len = 0, lab_len = 0;
    uint32_t idims[3] = {0}, ldims[1] = {0};
    bool ok = read_maybe_gz(images_path, IDX_IMAGES, 3, &img, &img_len, err) &&
              idx_header(images_path, img, img_len, IDX_IMAGES, 3, idims, err) &&
              read_maybe_gz(labels_path, IDX_LABELS, 1, &lab, &lab_len, err) &&
              idx_header(labels_path, lab, lab_len, IDX_LABELS, 1, ldims, err);
    if (ok && idims[0] != ldims[0])
        ok = rt_fail(err, "%s: %u labels for the %u images of %s", labels_path, ldims[0],
                     idims[0], images_path);
    if (ok && (idims[1] == 0 || idims[2] == 0))
        ok = rt_fail(err, "%s: images of size %ux%u", images_path, idims[2], idims[1]);
    if (ok)
        ok = dataset_alloc(out, (int)idims[0], 1, (int)idims[1], (int)idims[2], images_path, err);
    if (ok) {
        memcpy(out->pixels, img + 16, (size_t)out->n * (size_t)out->h * (size_t)out->w);
        for (int i = 0; i < out->n && ok; i++) {
            out->labels[i] = lab[8 + i];
            if (out->labels[i] >= nclasses)
                ok = rt_fail(err, "%s: label %d of image %d is out of range for %d classes",
                             labels_path, out->labels[i], i, nclasses);
        }
    }
    free(img);
    free(lab);
    if (!ok)
        dataset_free(out);
    return ok;
}

/* DIR/NAME or DIR/NAME.gz, whichever exists (plain first); NULL with err when neither. */
static char *find_idx(const char *dir, const char *name, char *err) {
    char *plain = rt_path_join(dir, name, err);
    if (!plain)
        return NULL;
    if (rt_is_file(plain))
        return plain;
    size_t n = strlen(plain);
    char *gz = rt_alloc(n + 4, "a path", err);
    if (gz) {
        memcpy(gz, plain, n);
        memcpy(gz + n, ".gz", 4);
        if (!rt_is_file(gz)) {
            rt_fail(err, "%s: no %s or %s.gz", dir, name, name);
            free(gz);
            gz = NULL;
        }
    }
    free(plain);
    return gz;
}

static bool contains_fashion(const char *s) {
    for (; *s; s++)
        if (strncmp(s, "fashion", 7) == 0 || strncmp(s, "Fashion", 7) == 0 ||
            strncmp(s, "FASHION", 7) == 0)
            return true;
    return false;
}

bool dataset_load_idx(const char *dir, DataSplit split, Dataset *out, char *err) {
    memset(out, 0, sizeof *out);
    const char *prefix = split == SPLIT_TRAIN ? "train" : "t10k";
    char iname[64], lname[64];
    snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", prefix);
    snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", prefix);
    char *ipath = find_idx(dir, iname, err);
    char *lpath = ipath ? find_idx(dir, lname, err) : NULL;
    bool ok = lpath && dataset_load_idx_files(ipath, lpath, 10, out, err) &&
              dataset_set_classes(out, 10, contains_fashion(dir) ? fashion_names : NULL, err);
    if (!ok)
        dataset_free(out);
    free(ipath);
    free(lpath);
    return ok;
}
