/* test_runtime.c: the runtime library: safetensors round trip and every malformed-file class,
 * atomic writes, IDX (plain and gzip), CIFAR-10 records, image loading, folder datasets,
 * initialization statistics, and the real Fashion-MNIST test set when it is installed.
 * Temporary files live in a mkdtemp directory under /tmp, removed at the end. */
#define _XOPEN_SOURCE 700   /* nftw */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ckpt.h"
#include "data.h"
#include "image.h"
#include "init.h"
#include "rng.h"
#include "rt.h"

static char tmpdir[64];

/* A path in the temporary directory; four rotating buffers so a call can use several. */
static const char *tp(const char *name) {
    static char bufs[4][256];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
    return b;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    chmod(path, 0700);
    return remove(path);
}

static int suite_init(void) {
    strcpy(tmpdir, "/tmp/cnnc-rt-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : 1;
}

static int suite_cleanup(void) {
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* err holds exactly one line containing want; prints it otherwise. */
static bool err_has(const char *err, const char *want) {
    bool ok = strstr(err, want) != NULL && strchr(err, '\n') == NULL && err[0];
    if (!ok)
        fprintf(stderr, "\n  error message: \"%s\"\n  expected to contain: \"%s\"\n", err, want);
    return ok;
}

static void write_bytes(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(fwrite(data, 1, len, f) == len);
    fclose(f);
}

/* A safetensors file from a header text and a data blob, as another writer might make it. */
static void write_st(const char *path, const char *header, const void *data, size_t dlen) {
    size_t hlen = strlen(header);
    unsigned char *buf = malloc(8 + hlen + dlen + 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(((uint64_t)hlen >> (8 * i)) & 0xff);
    memcpy(buf + 8, header, hlen);
    if (dlen)
        memcpy(buf + 8 + hlen, data, dlen);
    write_bytes(path, buf, 8 + hlen + dlen);
    free(buf);
}

/* Writes a header and data, reads it, and returns the error (NULL-safe on success). */
static const char *read_error(const char *header, const void *data, size_t dlen) {
    static char err[RT_ERR_LEN];
    err[0] = 0;
    write_st(tp("bad.safetensors"), header, data, dlen);
    Ckpt *c = ckpt_read(tp("bad.safetensors"), err);
    CU_ASSERT(c == NULL);
    ckpt_free(c);
    return err;
}

/* ---- safetensors ---------------------------------------------------------------------- */

static void test_ckpt_roundtrip(void) {
    char err[RT_ERR_LEN] = "";
    float w[2 * 3] = {1.5f, -2, 3.25f, 0, 1e-8f, -1e20f};
    float scalar = 0.125f;
    int64_t lab64[4] = {0, 9, -1, INT64_C(1) << 40};
    int32_t lab32[3] = {7, -7, 2147483647};
    int sw[2] = {2, 3}, s4[1] = {4}, s3[1] = {3};
    CkptWriter *wr = ckpt_writer_new();
    ckpt_add_f32(wr, "z.weight", sw, 2, w);
    ckpt_add_f32(wr, "loss", NULL, 0, &scalar);
    ckpt_add_i64(wr, "labels", s4, 1, lab64);
    ckpt_add_i32(wr, "a \"quoted\"\\name\n", s3, 1, lab32);
    ckpt_add_meta(wr, "format", "pt");
    ckpt_add_meta(wr, "epoch", "3");
    CU_ASSERT_FATAL(ckpt_write(wr, tp("rt.safetensors"), err));
    ckpt_writer_free(wr);

    Ckpt *c = ckpt_read(tp("rt.safetensors"), err);
    CU_ASSERT_FATAL(c != NULL);
    CU_ASSERT_EQUAL(c->ntensors, 4);
    /* Order as added; header padded to a multiple of 8. */
    CU_ASSERT_STRING_EQUAL(c->tensors[0].name, "z.weight");
    CU_ASSERT_STRING_EQUAL(c->tensors[1].name, "loss");
    CU_ASSERT_STRING_EQUAL(c->tensors[3].name, "a \"quoted\"\\name\n");
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | c->file[i];
    CU_ASSERT_EQUAL(hlen % 8, 0);
    CU_ASSERT_STRING_EQUAL(ckpt_meta(c, "format"), "pt");
    CU_ASSERT_STRING_EQUAL(ckpt_meta(c, "epoch"), "3");
    CU_ASSERT_PTR_NULL(ckpt_meta(c, "nope"));

    float back[6];
    CU_ASSERT(ckpt_get_f32(c, "z.weight", sw, 2, back, err));
    CU_ASSERT(memcmp(back, w, sizeof w) == 0);
    float sback = 0;
    CU_ASSERT(ckpt_get_f32(c, "loss", NULL, 0, &sback, err));
    CU_ASSERT_EQUAL(sback, 0.125f);
    int64_t l64[4];
    int32_t l32[4];
    CU_ASSERT(ckpt_get_i64(c, "labels", s4, 1, l64, err));
    CU_ASSERT(memcmp(l64, lab64, sizeof lab64) == 0);
    CU_ASSERT(ckpt_get_i64(c, "a \"quoted\"\\name\n", s3, 1, l64, err));
    CU_ASSERT(l64[0] == 7 && l64[1] == -7 && l64[2] == 2147483647);
    /* I64 -> I32 converts, and says so when a value does not fit. */
    CU_ASSERT(!ckpt_get_i32(c, "labels", s4, 1, l32, err));
    CU_ASSERT(err_has(err, "tensor 'labels' has value 1099511627776 at index 3, outside the 32-bit range"));
    ckpt_free(c);

    /* An empty checkpoint and a zero-size tensor are fine. */
    wr = ckpt_writer_new();
    int s0[2] = {0, 5};
    ckpt_add_f32(wr, "empty", s0, 2, NULL);
    CU_ASSERT(ckpt_write(wr, tp("empty.safetensors"), err));
    ckpt_writer_free(wr);
    c = ckpt_read(tp("empty.safetensors"), err);
    CU_ASSERT_FATAL(c != NULL);
    CU_ASSERT_EQUAL(c->tensors[0].numel, 0);
    ckpt_free(c);
}

static void test_ckpt_foreign(void) {
    /* Another writer: key order shuffled, whitespace, escapes, F64 and I32 data, unpadded. */
    char err[RT_ERR_LEN] = "";
    double d[2] = {0.5, -3.0};
    int32_t i32[2] = {4, 5};
    unsigned char data[24];
    memcpy(data, i32, 8);
    memcpy(data + 8, d, 16);
    const char *h = "\n{ \"__metadata__\" : { \"note\" : \"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\"\" } ,\r\n"
                    "\t\"y\\u002ebias\": {\"shape\": [2], \"data_offsets\": [8, 24], \"dtype\": \"F64\"},"
                    " \"lab\" : {\"data_offsets\":[0,8],\"dtype\":\"I32\",\"shape\":[ 2 ]} }  ";
    write_st(tp("foreign.safetensors"), h, data, sizeof data);
    Ckpt *c = ckpt_read(tp("foreign.safetensors"), err);
    if (!c)
        fprintf(stderr, "\n  %s\n", err);
    CU_ASSERT_FATAL(c != NULL);
    CU_ASSERT_STRING_EQUAL(ckpt_meta(c, "note"), "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\"");
    float f[2];
    int two[1] = {2};
    CU_ASSERT(ckpt_get_f32(c, "y.bias", two, 1, f, err));
    CU_ASSERT(f[0] == 0.5f && f[1] == -3.0f);
    int64_t l[2];
    CU_ASSERT(ckpt_get_i64(c, "lab", two, 1, l, err));
    CU_ASSERT(l[0] == 4 && l[1] == 5);
    ckpt_free(c);
}

static void test_ckpt_check_errors(void) {
    char err[RT_ERR_LEN] = "";
    float w[6 * 5 * 5] = {0};
    int64_t lab[2] = {1, 2};
    int shape[4] = {6, 1, 5, 5}, ls[1] = {2};
    CkptWriter *wr = ckpt_writer_new();
    ckpt_add_f32(wr, "conv0.weight", shape, 4, w);
    ckpt_add_i64(wr, "labels", ls, 1, lab);
    CU_ASSERT_FATAL(ckpt_write(wr, tp("w.safetensors"), err));
    ckpt_writer_free(wr);
    Ckpt *c = ckpt_read(tp("w.safetensors"), err);
    CU_ASSERT_FATAL(c != NULL);

    char want[RT_ERR_LEN];
    float *dst = calloc(6 * 3 * 5 * 5, sizeof(float));
    int want_shape[4] = {6, 3, 5, 5};
    CU_ASSERT(!ckpt_get_f32(c, "conv0.weight", want_shape, 4, dst, err));
    snprintf(want, sizeof want, "%s: tensor 'conv0.weight' has shape [6, 1, 5, 5], model expects "
             "[6, 3, 5, 5]", tp("w.safetensors"));
    CU_ASSERT_STRING_EQUAL(err, want);
    CU_ASSERT(!ckpt_get_f32(c, "conv0.weight", want_shape, 3, dst, err));
    CU_ASSERT(err_has(err, "has shape [6, 1, 5, 5], model expects [6, 3, 5]"));
    CU_ASSERT(!ckpt_get_f32(c, "conv0.weights", shape, 4, dst, err));
    CU_ASSERT(err_has(err, "no tensor 'conv0.weights' (did you mean 'conv0.weight'?)"));
    CU_ASSERT(!ckpt_get_f32(c, "linear7.bias", shape, 4, dst, err));
    CU_ASSERT(err_has(err, "no tensor 'linear7.bias' (the file has 2 tensors)"));
    CU_ASSERT(!ckpt_get_f32(c, "labels", ls, 1, dst, err));
    CU_ASSERT(err_has(err, "tensor 'labels' has dtype I64, model expects F32"));
    int64_t l[150];
    CU_ASSERT(!ckpt_get_i64(c, "conv0.weight", shape, 4, l, err));
    CU_ASSERT(err_has(err, "tensor 'conv0.weight' has dtype F32, expected I64 or I32"));
    free(dst);
    ckpt_free(c);

    /* Problems found while adding are reported by ckpt_write, which then writes nothing. */
    wr = ckpt_writer_new();
    ckpt_add_i64(wr, "labels", ls, 1, lab);
    ckpt_add_i64(wr, "labels", ls, 1, lab);
    CU_ASSERT(!ckpt_write(wr, tp("dup.safetensors"), err));
    CU_ASSERT(err_has(err, "dup.safetensors: tensor 'labels' added twice"));
    CU_ASSERT(access(tp("dup.safetensors"), F_OK) != 0);
    ckpt_writer_free(wr);
}

static void test_ckpt_malformed(void) {
    char err[RT_ERR_LEN] = "";
    float four[4] = {1, 2, 3, 4};
    const char *ok_tensor = "{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";

    /* Too short for the length, length beyond the file, missing file, a directory. */
    write_bytes(tp("short.safetensors"), "abcd", 4);
    CU_ASSERT(ckpt_read(tp("short.safetensors"), err) == NULL);
    CU_ASSERT(err_has(err, "short.safetensors: not a safetensors file: 4 bytes, too short"));
    unsigned char big[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    write_bytes(tp("big.safetensors"), big, sizeof big);
    CU_ASSERT(ckpt_read(tp("big.safetensors"), err) == NULL);
    CU_ASSERT(err_has(err, "header length 65535 is beyond the end of the file (16 bytes)"));
    CU_ASSERT(ckpt_read(tp("missing.safetensors"), err) == NULL);
    CU_ASSERT(err_has(err, "missing.safetensors: cannot open: No such file or directory"));
    CU_ASSERT(ckpt_read(tmpdir, err) == NULL);
    CU_ASSERT(err_has(err, "is a directory"));

    /* JSON syntax. */
    CU_ASSERT(err_has(read_error("", NULL, 0), "expected '{' starting the header, found the end of the header"));
    CU_ASSERT(err_has(read_error("[]", NULL, 0), "expected '{' starting the header, found '[' at header byte 0"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\" \"shape\":[2,2]}}", NULL, 0),
                      "not valid JSON: expected ',' or '}', found '\"' at header byte 20"));
    CU_ASSERT(err_has(read_error("{\"t", NULL, 0), "string starting at header byte 1 is not closed"));
    CU_ASSERT(err_has(read_error("{\"t\\", NULL, 0), "is not closed"));
    CU_ASSERT(err_has(read_error("{\"t\" {}}", NULL, 0), "expected ':' after a key"));
    CU_ASSERT(err_has(read_error("{\"t\\x\":{}}", NULL, 0), "expected one of"));
    CU_ASSERT(err_has(read_error("{\"t\\u12\":{}}", NULL, 0), "4 hex digits"));
    CU_ASSERT(err_has(read_error("{\"t\\ud800x\":{}}", NULL, 0), "low surrogate"));
    CU_ASSERT(err_has(read_error("{\"t\\u0000\":{}}", NULL, 0), "no \\u0000"));
    CU_ASSERT(err_has(read_error("{\"a\tb\":{}}", NULL, 0), "no raw control character"));
    CU_ASSERT(err_has(read_error("{}x", NULL, 0), "expected nothing after the closing '}'"));
    CU_ASSERT(err_has(read_error("{},", NULL, 0), "expected nothing after the closing '}'"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[2,,2]}}", NULL, 0), "expected an integer"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[02]}}", NULL, 0), "without leading zeros"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[2.]}}", NULL, 0), "digits after '.'"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[2e]}}", NULL, 0), "digits in the exponent"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[2]", NULL, 0), "found the end of the header"));

    /* Header meaning. */
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", four, 4),
                      "shape of tensor 't' has a non-integer value 1.5"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[2e0],\"data_offsets\":[0,8]}}", four, 8),
                      "non-integer value 2e0"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", four, 8),
                      "shape of tensor 't' has a negative value -2"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", four, 8),
                      "shape of tensor 't' has a string where an integer belongs"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", four, 4),
                      "has more than 8 entries"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"Q8\",\"shape\":[2],\"data_offsets\":[0,8]}}", four, 8),
                      "tensor 't' has unknown dtype 'Q8'"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[2]}}", four, 8), "tensor 't' has no data_offsets"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"shape\":[2],\"data_offsets\":[0,8]}}", four, 8), "tensor 't' has no dtype"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"dtype\":\"F32\"}}", four, 8), "has field 'dtype' twice"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"strides\":[1]}}", four, 8), "unknown field 'strides'"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", four, 8), "has 1 entries, not 2"));
    CU_ASSERT(err_has(read_error("{\"t\":[]}", four, 8), "expected '{' starting the description of a tensor"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", four, 12),
                      "tensor 't' has data_offsets [0, 16] beyond the end of the data (12 bytes"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", four, 16),
                      "tensor 't' has data_offsets [0, 12] spanning 12 bytes, but F32 [2, 2] needs 16"));
    float five[5] = {1, 2, 3, 4, 5};
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,20]}}", five, 20),
                      "tensor 't' has data_offsets [0, 20] spanning 20 bytes, but F32 [2, 2] needs 16"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,0]}}", four, 16),
                      "end before they begin"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[99999999999,99999999999],\"data_offsets\":[0,16]}}", four, 16),
                      "tensor 't' has an absurd shape [99999999999, 99999999999]"));
    CU_ASSERT(err_has(read_error("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}", four, 16),
                      "absurdly large value"));
    CU_ASSERT(err_has(read_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", four, 16),
                      "tensors 'a' and 'b' overlap (data_offsets [0, 8] and [4, 12])"));
    CU_ASSERT(err_has(read_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                 "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", four, 16),
                      "tensor 'a' appears twice"));
    CU_ASSERT(err_has(read_error("{\"__metadata__\":{\"epoch\":3}}", NULL, 0), "metadata 'epoch' is not a string"));
    CU_ASSERT(err_has(read_error("{\"__metadata__\":{},\"__metadata__\":{}}", NULL, 0), "__metadata__ twice"));

    /* Every truncation and many corruptions of a good file: an error or a valid read, never a
     * crash or an out-of-bounds access (run under AddressSanitizer by make test). */
    write_st(tp("good.safetensors"), ok_tensor, four, 16);
    unsigned char *good;
    size_t len;
    CU_ASSERT_FATAL(rt_read_file(tp("good.safetensors"), &good, &len, err));
    for (size_t cut = 0; cut < len; cut++) {
        Ckpt *c = ckpt_parse("cut", good, cut, err);
        CU_ASSERT(c == NULL);
        ckpt_free(c);
    }
    Rng r;
    rng_seed(&r, 7);
    unsigned char *bad = malloc(len);
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(bad, good, len);
        int flips = 1 + (int)rng_below(&r, 3);
        for (int k = 0; k < flips; k++)
            bad[8 + rng_below(&r, (uint32_t)(len - 8))] = (unsigned char)rng_below(&r, 256);
        err[0] = 0;
        Ckpt *c = ckpt_parse("fuzz", bad, len, err);
        CU_ASSERT(c != NULL || (err[0] && strchr(err, '\n') == NULL));
        ckpt_free(c);
    }
    free(bad);
    free(good);
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void test_atomic_write(void) {
    char err[RT_ERR_LEN] = "";
    mkdir(tp("atomic"), 0755);
    char path[300];
    snprintf(path, sizeof path, "%s/out.bin", tp("atomic"));
    CU_ASSERT(rt_write_file_atomic(path, "old", 3, err));
    CU_ASSERT(rt_write_file_atomic(path, "new!", 4, err));
    unsigned char *data;
    size_t len;
    CU_ASSERT_FATAL(rt_read_file(path, &data, &len, err));
    CU_ASSERT(len == 4 && memcmp(data, "new!", 4) == 0);
    free(data);
    CU_ASSERT_EQUAL(count_entries(tp("atomic")), 1);

    /* A directory that does not exist: nothing is created. */
    snprintf(path, sizeof path, "%s/no/such/dir/w.safetensors", tmpdir);
    CU_ASSERT(!rt_write_file_atomic(path, "x", 1, err));
    CU_ASSERT(err_has(err, "w.safetensors: cannot write: No such file or directory"));

    /* The rename fails after all data was written (the target is a directory): the
     * temporary file is removed, the directory holds exactly what it held before. */
    snprintf(path, sizeof path, "%s/target", tp("atomic"));
    mkdir(path, 0755);
    CkptWriter *w = ckpt_writer_new();
    float v[3] = {1, 2, 3};
    int s[1] = {3};
    ckpt_add_f32(w, "v", s, 1, v);
    CU_ASSERT(!ckpt_write(w, path, err));
    CU_ASSERT(err_has(err, "target: cannot replace the file: Is a directory"));
    CU_ASSERT_EQUAL(count_entries(tp("atomic")), 2);   /* out.bin and target */

    /* An unwritable directory (only meaningful when not root; root writes anyway). */
    if (geteuid() != 0) {
        mkdir(tp("ro"), 0555);
        snprintf(path, sizeof path, "%s/w.safetensors", tp("ro"));
        CU_ASSERT(!ckpt_write(w, path, err));
        CU_ASSERT(err_has(err, "w.safetensors: cannot write: Permission denied"));
        CU_ASSERT_EQUAL(count_entries(tp("ro")), 0);
    }
    ckpt_writer_free(w);
}

/* ---- datasets ------------------------------------------------------------------------- */

static size_t idx_images(unsigned char *buf, uint32_t magic, int n, int h, int w, unsigned char seed) {
    uint32_t head[4] = {magic, (uint32_t)n, (uint32_t)h, (uint32_t)w};
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 4; b++)
            buf[4 * i + b] = (unsigned char)(head[i] >> (24 - 8 * b));
    for (int i = 0; i < n * h * w; i++)
        buf[16 + i] = (unsigned char)(seed + i);
    return 16 + (size_t)(n * h * w);
}

static size_t idx_labels(unsigned char *buf, int n, const unsigned char *labels) {
    uint32_t head[2] = {0x801, (uint32_t)n};
    for (int i = 0; i < 2; i++)
        for (int b = 0; b < 4; b++)
            buf[4 * i + b] = (unsigned char)(head[i] >> (24 - 8 * b));
    memcpy(buf + 8, labels, (size_t)n);
    return 8 + (size_t)n;
}

static void write_gz(const char *path, const void *data, size_t len) {
    gzFile g = gzopen(path, "wb");
    CU_ASSERT_FATAL(g != NULL);
    CU_ASSERT(gzwrite(g, data, (unsigned)len) == (int)len);
    gzclose(g);
}

static void test_idx(void) {
    char err[RT_ERR_LEN] = "";
    unsigned char img[16 + 3 * 2 * 4], lab[8 + 3];
    const unsigned char labels[3] = {3, 0, 9};
    size_t ilen = idx_images(img, 0x803, 3, 2, 4, 10), llen = idx_labels(lab, 3, labels);

    /* Plain files under MNIST names. */
    mkdir(tp("idx_plain"), 0755);
    char p1[300], p2[300];
    snprintf(p1, sizeof p1, "%s/t10k-images-idx3-ubyte", tp("idx_plain"));
    snprintf(p2, sizeof p2, "%s/t10k-labels-idx1-ubyte", tp("idx_plain"));
    write_bytes(p1, img, ilen);
    write_bytes(p2, lab, llen);
    Dataset ds;
    CU_ASSERT_FATAL(dataset_load_idx(tp("idx_plain"), SPLIT_TEST, &ds, err));
    CU_ASSERT(ds.n == 3 && ds.c == 1 && ds.h == 2 && ds.w == 4 && ds.nclasses == 10);
    CU_ASSERT(ds.labels[0] == 3 && ds.labels[2] == 9);
    CU_ASSERT(ds.pixels[0] == 10 && ds.pixels[23] == 33);
    CU_ASSERT_STRING_EQUAL(ds.class_names[3], "3");
    int idx[2] = {2, 0};
    float batch[2 * 8];
    dataset_batch_f32(&ds, idx, 2, batch);
    CU_ASSERT(fabsf(batch[0] - 26 / 255.0f) < 1e-7f && fabsf(batch[8] - 10 / 255.0f) < 1e-7f);
    int32_t bl[2];
    dataset_batch_labels(&ds, idx, 2, bl);
    CU_ASSERT(bl[0] == 9 && bl[1] == 3);
    dataset_free(&ds);
    CU_ASSERT(!dataset_load_idx(tp("idx_plain"), SPLIT_TRAIN, &ds, err));
    CU_ASSERT(err_has(err, "idx_plain: no train-images-idx3-ubyte or train-images-idx3-ubyte.gz"));

    /* Gzipped, through the format-detecting entry point; a fashion directory names classes. */
    mkdir(tp("fashion_gz"), 0755);
    snprintf(p1, sizeof p1, "%s/train-images-idx3-ubyte.gz", tp("fashion_gz"));
    snprintf(p2, sizeof p2, "%s/train-labels-idx1-ubyte.gz", tp("fashion_gz"));
    write_gz(p1, img, ilen);
    write_gz(p2, lab, llen);
    CU_ASSERT_FATAL(dataset_load(tp("fashion_gz"), SPLIT_TRAIN, 1, 2, 4, false, &ds, err));
    CU_ASSERT(ds.n == 3 && ds.pixels[5] == 15 && ds.labels[1] == 0);
    CU_ASSERT_STRING_EQUAL(ds.class_names[9], "Ankle boot");
    dataset_free(&ds);
    CU_ASSERT(!dataset_load(tp("fashion_gz"), SPLIT_TRAIN, 3, 32, 32, false, &ds, err));
    CU_ASSERT(err_has(err, "fashion_gz: images are 1x2x4, the model takes 3x32x32"));

    /* A truncated gzip file. */
    unsigned char *gz;
    size_t gzlen;
    CU_ASSERT_FATAL(rt_read_file(p1, &gz, &gzlen, err));
    write_bytes(tp("cut.gz"), gz, gzlen / 2);
    free(gz);
    CU_ASSERT(!dataset_load_idx_files(tp("cut.gz"), p2, 10, &ds, err));
    CU_ASSERT(err_has(err, "cut.gz: cannot read: unexpected end of file (truncated or corrupt gzip?)"));

    /* Wrong magic (labels given as images), truncated, extra bytes, count mismatch, label out
     * of range. */
    snprintf(p1, sizeof p1, "%s/t10k-images-idx3-ubyte", tp("idx_plain"));
    snprintf(p2, sizeof p2, "%s/t10k-labels-idx1-ubyte", tp("idx_plain"));
    CU_ASSERT(!dataset_load_idx_files(p2, p2, 10, &ds, err));
    CU_ASSERT(err_has(err, "t10k-labels-idx1-ubyte: wrong magic 0x00000801, expected 0x00000803 (IDX images file)"));
    write_bytes(tp("trunc-images"), img, ilen - 5);
    CU_ASSERT(!dataset_load_idx_files(tp("trunc-images"), p2, 10, &ds, err));
    CU_ASSERT(err_has(err, "trunc-images: truncated: the header says 3 images (24 bytes), the file has 19"));
    unsigned char longer[sizeof img + 1];
    memcpy(longer, img, ilen);
    longer[ilen] = 7;
    write_bytes(tp("long-images"), longer, ilen + 1);
    CU_ASSERT(!dataset_load_idx_files(tp("long-images"), p2, 10, &ds, err));
    CU_ASSERT(err_has(err, "long-images: extra bytes after the 3 images the header describes"));
    write_bytes(tp("tiny-images"), img, 10);
    CU_ASSERT(!dataset_load_idx_files(tp("tiny-images"), p2, 10, &ds, err));
    CU_ASSERT(err_has(err, "tiny-images: truncated: 10 bytes, too short for the IDX header"));
    unsigned char lab2[8 + 2];
    write_bytes(tp("two-labels"), lab2, idx_labels(lab2, 2, labels));
    CU_ASSERT(!dataset_load_idx_files(p1, tp("two-labels"), 10, &ds, err));
    CU_ASSERT(err_has(err, "two-labels: 2 labels for the 3 images of"));
    CU_ASSERT(!dataset_load_idx_files(p1, p2, 5, &ds, err));
    CU_ASSERT(err_has(err, "t10k-labels-idx1-ubyte: label 9 of image 2 is out of range for 5 classes"));
    CU_ASSERT(ds.pixels == NULL && ds.n == 0);
}

static void test_cifar(void) {
    char err[RT_ERR_LEN] = "";
    size_t len = 2 * CIFAR_RECORD;
    uint8_t *buf = calloc(1, len + 1);
    buf[0] = 7;
    buf[1] = 11;                      /* record 0: R channel, pixel (0,0) */
    buf[1 + 1024] = 22;               /* G (0,0) */
    buf[CIFAR_RECORD] = 2;
    buf[CIFAR_RECORD + 3072] = 33;    /* record 1: B (31,31) */
    Dataset ds;
    CU_ASSERT_FATAL(dataset_alloc(&ds, 2, 3, 32, 32, "test", err));
    ds.n = 0;
    CU_ASSERT(cifar_parse_records("b.bin", buf, len, &ds, err));
    CU_ASSERT(ds.n == 2 && ds.labels[0] == 7 && ds.labels[1] == 2);
    CU_ASSERT(ds.pixels[0] == 11 && ds.pixels[1024] == 22 && ds.pixels[3072 + 3071] == 33);
    ds.n = 0;
    CU_ASSERT(!cifar_parse_records("b.bin", buf, len - 1, &ds, err));
    CU_ASSERT(err_has(err, "b.bin: size 6145 is not a multiple of the 3073-byte CIFAR-10 record"));
    buf[CIFAR_RECORD] = 10;
    ds.n = 0;
    CU_ASSERT(!cifar_parse_records("b.bin", buf, len, &ds, err));
    CU_ASSERT(err_has(err, "b.bin: label 10 of record 1 is out of range for 10 classes"));
    dataset_free(&ds);
    buf[CIFAR_RECORD] = 2;

    /* A dataset directory in the layout of the official archive. */
    mkdir(tp("cifar"), 0755);
    mkdir(tp("cifar/cifar-10-batches-bin"), 0755);
    write_bytes(tp("cifar/cifar-10-batches-bin/test_batch.bin"), buf, len);
    CU_ASSERT_FATAL(dataset_load(tp("cifar"), SPLIT_TEST, 3, 32, 32, false, &ds, err));
    CU_ASSERT(ds.n == 2 && ds.labels[1] == 2 && ds.nclasses == 10);
    CU_ASSERT_STRING_EQUAL(ds.class_names[2], "bird");
    dataset_free(&ds);
    CU_ASSERT(!dataset_load(tp("cifar"), SPLIT_TRAIN, 3, 32, 32, false, &ds, err));
    CU_ASSERT(err_has(err, "data_batch_1.bin: cannot open: No such file or directory"));
    free(buf);
}

/* A binary PGM (P5) or PPM (P6) of w x h, pixel value f(x, y, channel). */
static void write_pnm(const char *path, int channels, int w, int h) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    fprintf(f, "P%d\n%d %d\n255\n", channels == 1 ? 5 : 6, w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < channels; ch++)
                fputc((10 * y + x + 100 * ch) & 0xff, f);
    fclose(f);
}

static void test_image(void) {
    char err[RT_ERR_LEN] = "";
    write_pnm(tp("g.pgm"), 1, 4, 3);
    float px[3 * 3 * 4];
    CU_ASSERT_FATAL(image_load(tp("g.pgm"), 1, 3, 4, false, px, err));
    CU_ASSERT(fabsf(px[0] - 0.0f) < 1e-6f && fabsf(px[5] - 11 / 255.0f) < 1e-6f &&
              fabsf(px[11] - 23 / 255.0f) < 1e-6f);
    /* Grey to RGB replicates the channel. */
    CU_ASSERT(image_load(tp("g.pgm"), 3, 3, 4, false, px, err));
    CU_ASSERT(px[5] == px[12 + 5] && px[5] == px[24 + 5]);
    int c, h, w;
    CU_ASSERT(image_info(tp("g.pgm"), &c, &h, &w, err) && c == 1 && h == 3 && w == 4);

    /* RGB keeps its channels in CHW order; to grey takes the luma. */
    write_pnm(tp("c.ppm"), 3, 4, 3);
    CU_ASSERT(image_load(tp("c.ppm"), 3, 3, 4, false, px, err));
    CU_ASSERT(fabsf(px[5] - 11 / 255.0f) < 1e-6f && fabsf(px[12 + 5] - 111 / 255.0f) < 1e-6f &&
              fabsf(px[24 + 5] - 211 / 255.0f) < 1e-6f);
    CU_ASSERT(image_load(tp("c.ppm"), 1, 3, 4, false, px, err));
    float luma = (0.299f * 11 + 0.587f * 111 + 0.114f * 211) / 255.0f;
    CU_ASSERT(fabsf(px[5] - luma) < 2 / 255.0f);

    /* Size mismatch, unless resizing. */
    write_pnm(tp("big.pgm"), 1, 32, 32);
    float *big = calloc(28 * 28, sizeof(float));
    char want[RT_ERR_LEN];
    CU_ASSERT(!image_load(tp("big.pgm"), 1, 28, 28, false, big, err));
    snprintf(want, sizeof want, "%s: image is 32x32, the model takes 28x28", tp("big.pgm"));
    CU_ASSERT_STRING_EQUAL(err, want);
    CU_ASSERT(image_load(tp("big.pgm"), 1, 28, 28, true, big, err));
    free(big);
    /* Halving a 4x4 grey image bilinearly averages each 2x2 block. */
    write_pnm(tp("four.pgm"), 1, 4, 4);
    float half[4];
    CU_ASSERT(image_load(tp("four.pgm"), 1, 2, 2, true, half, err));
    CU_ASSERT(fabsf(half[0] - 5.5f / 255.0f) < 1e-5f && fabsf(half[3] - 27.5f / 255.0f) < 1e-5f);
    /* Up-scaling a constant stays constant; a 1x1 image is fine. */
    uint8_t up[9];
    write_pnm(tp("one.pgm"), 1, 1, 1);
    CU_ASSERT(image_load_u8(tp("one.pgm"), 1, 3, 3, true, up, err));
    CU_ASSERT(up[0] == 0 && up[8] == 0);

    /* Not an image, missing, empty. */
    write_bytes(tp("x.txt"), "hello, world\n", 13);
    CU_ASSERT(!image_load(tp("x.txt"), 1, 3, 4, false, px, err));
    CU_ASSERT(err_has(err, "x.txt: not an image ("));
    CU_ASSERT(!image_load(tp("nope.png"), 1, 3, 4, false, px, err));
    CU_ASSERT(err_has(err, "nope.png: cannot open: No such file or directory"));
    write_bytes(tp("empty.png"), "", 0);
    CU_ASSERT(!image_load(tp("empty.png"), 1, 3, 4, false, px, err));
    CU_ASSERT(err_has(err, "empty.png: not an image ("));
    /* A truncated PGM. */
    write_bytes(tp("cut.pgm"), "P5\n4 3\n255\nab", 13);
    CU_ASSERT(!image_load(tp("cut.pgm"), 1, 3, 4, false, px, err));
    CU_ASSERT(err_has(err, "cut.pgm: not an image ("));
    /* TGA, which has no magic number: a 2x2 run-length file (one packet of 4 pixels) loads; its
     * header with 12534 x 2088 pixels and no data is refused before decoding (fuzz_image): 18 +
     * ceil(12534 * 2088 / 128) packets of 1 + 3 bytes = 817862. */
    static const unsigned char tga[22] = {0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 0, 24, 0, 0x83, 10, 200, 30};
    write_bytes(tp("ok.tga"), (const char *)tga, sizeof tga);
    float rgb[3 * 2 * 2];
    CU_ASSERT(image_load(tp("ok.tga"), 3, 2, 2, false, rgb, err));
    CU_ASSERT(fabsf(rgb[0] - 30 / 255.0f) < 1e-6f && fabsf(rgb[4] - 200 / 255.0f) < 1e-6f &&
              fabsf(rgb[11] - 10 / 255.0f) < 1e-6f);   /* TGA stores blue, green, red */
    unsigned char huge[18];
    memcpy(huge, tga, 18);
    huge[12] = 0xf6, huge[13] = 0x30, huge[14] = 0x28, huge[15] = 0x08;
    write_bytes(tp("huge.tga"), (const char *)huge, sizeof huge);
    CU_ASSERT(!image_load(tp("huge.tga"), 3, 2, 2, true, rgb, err));
    CU_ASSERT(err_has(err, "huge.tga: not an image (a TGA of 12534x2088 needs at least 817862 bytes, the file has 18)"));
}

static long peak_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A PNG of only a signature and an IHDR chunk declaring w x h (no pixels): enough for the
 * header check, which must refuse it before any decoding is tried. */
static void write_png_header(const char *path, uint32_t w, uint32_t h) {
    unsigned char b[8 + 25] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    unsigned char *d = b + 16;
    for (int i = 0; i < 4; i++)
        d[i] = (unsigned char)(w >> (24 - 8 * i)), d[4 + i] = (unsigned char)(h >> (24 - 8 * i));
    d[8] = 8, d[9] = 0, d[10] = d[11] = d[12] = 0; /* 8-bit grey */
    uint32_t crc = (uint32_t)crc32(0, b + 12, 17);
    for (int i = 0; i < 4; i++)
        b[29 + i] = (unsigned char)(crc >> (24 - 8 * i));
    write_bytes(path, b, sizeof b);
}

/* Inputs built to hurt: each must fail at once with one message, reading little. */
static void test_hostile_inputs(void) {
    char err[RT_ERR_LEN] = "", want[RT_ERR_LEN];
    float px[4 * 28 * 28];
    /* A PNG declaring 32000x32000 (once decoded to 2 GB before being refused). */
    write_png_header(tp("huge.png"), 32000, 32000);
    long rss0 = peak_rss_kb();
    CU_ASSERT(!image_load(tp("huge.png"), 1, 28, 28, true, px, err));
    CU_ASSERT(err_has(err, "huge.png: image is 32000x32000, larger than the limit of 33554432 pixels"));
    CU_ASSERT(peak_rss_kb() - rss0 < 64 * 1024);
    /* The model's size is checked from the header too: this file has no pixels at all. */
    write_png_header(tp("wrong.png"), 40, 30);
    CU_ASSERT(!image_load(tp("wrong.png"), 1, 28, 28, false, px, err));
    snprintf(want, sizeof want, "%s: image is 40x30, the model takes 28x28", tp("wrong.png"));
    CU_ASSERT_STRING_EQUAL(err, want);
    /* An IDAT chunk declaring a gigabyte in a file of 53 bytes: refused before stb_image grows
     * its buffer to the declared length (a 2 GB allocation, found by fuzz_image). */
    {
        unsigned char b[33 + 20];
        write_png_header(tp("claim.png"), 7, 5);
        FILE *f = fopen(tp("claim.png"), "rb");
        CU_ASSERT_FATAL(f != NULL && fread(b, 1, 33, f) == 33);
        fclose(f);
        static const unsigned char idat[20] = {0x40, 0, 0, 0, 'I', 'D', 'A', 'T', 0x78, 0x9c};
        memcpy(b + 33, idat, sizeof idat);
        write_bytes(tp("claim.png"), b, sizeof b);
        CU_ASSERT(!image_load(tp("claim.png"), 1, 5, 7, false, px, err));
        CU_ASSERT(err_has(err, "claim.png: not an image (PNG chunk IDAT at byte 33 claims 1073741824 bytes, the file has 8 left)"));
    }
    /* PGM maxval: 1..65535, pixels scaled by it. */
    write_bytes(tp("max0.pgm"), "P5\n2 1\n0\n\0\0", 11);
    CU_ASSERT(!image_load(tp("max0.pgm"), 1, 1, 2, false, px, err));
    CU_ASSERT(err_has(err, "max0.pgm: not an image (PGM/PPM maxval 0, must be 1 to 65535)"));
    write_bytes(tp("maxneg.pgm"), "P5\n2 1\n-5\n\0\0", 12);
    CU_ASSERT(!image_load(tp("maxneg.pgm"), 1, 1, 2, false, px, err));
    CU_ASSERT(err_has(err, "maxneg.pgm: not an image (PGM/PPM header: no maxval)"));
    write_bytes(tp("max70000.pgm"), "P5\n2 1\n70000\n\0\0\0\0", 17);
    CU_ASSERT(!image_load(tp("max70000.pgm"), 1, 1, 2, false, px, err));
    CU_ASSERT(err_has(err, "maxval 70000, must be 1 to 65535"));
    write_bytes(tp("max1.pgm"), "P5\n2 1\n1\n\0\1", 11);
    CU_ASSERT_FATAL(image_load(tp("max1.pgm"), 1, 1, 2, false, px, err));
    CU_ASSERT(px[0] == 0.0f && px[1] == 1.0f);
    write_bytes(tp("max15.pgm"), "P5\n2 1\n15\n\5\17", 12);
    CU_ASSERT_FATAL(image_load(tp("max15.pgm"), 1, 1, 2, false, px, err));
    CU_ASSERT(fabsf(px[0] - 85 / 255.0f) < 1e-6f && px[1] == 1.0f);
    /* A JPEG of 8x8 grey pixels built by hand: SOI, DQT (table 0), SOF0 (one component, table
     * 0), DHT DC 0 and DHT AC 0 (one code each: symbol 0, of one bit), SOS (DC 0, AC 0), the
     * block's bits 0 (DC difference 0) and 0 (end of block) padded with ones, EOI. Whole, it
     * decodes to 128 everywhere; without its AC table or its quantization table, the scan would
     * decode with stb_image's uninitialized tables (an index of -1 once the heap held other
     * data, found by fuzz_image) and is refused. */
    {
        static const unsigned char soi[] = {0xff, 0xd8}, eoi[] = {0x3f, 0xff, 0xd9};
        static const unsigned char sof[] = {0xff, 0xc0, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0};
        static const unsigned char dc[] = {0xff, 0xc4, 0, 20, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        static const unsigned char ac[] = {0xff, 0xc4, 0, 20, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        static const unsigned char sos[] = {0xff, 0xda, 0, 8, 1, 1, 0x00, 0, 63, 0};
        unsigned char dqt[4 + 65] = {0xff, 0xdb, 0, 67, 0x00};
        memset(dqt + 5, 1, 64);
        const struct { const unsigned char *b; size_t n; } seg[] = {
            {soi, sizeof soi}, {dqt, sizeof dqt}, {sof, sizeof sof}, {dc, sizeof dc}, {ac, sizeof ac}, {sos, sizeof sos}, {eoi, sizeof eoi}};
        for (int drop = -1; drop <= 1; drop++) { /* whole, without DQT, without the AC table */
            unsigned char jpg[256];
            size_t n = 0;
            for (int k = 0; k < 7; k++)
                if (!(drop == 0 && k == 1) && !(drop == 1 && k == 4))
                    memcpy(jpg + n, seg[k].b, seg[k].n), n += seg[k].n;
            write_bytes(tp("t.jpg"), jpg, n);
            bool ok = image_load(tp("t.jpg"), 1, 8, 8, false, px, err);
            if (drop < 0) {
                CU_ASSERT_FATAL(ok);
                CU_ASSERT(fabsf(px[0] - 128 / 255.0f) < 1e-6f && fabsf(px[63] - 128 / 255.0f) < 1e-6f);
            } else {
                CU_ASSERT(!ok);
                CU_ASSERT(err_has(err, drop == 0 ? "t.jpg: not an image (corrupt JPEG: a scan at byte 59 uses quantization table 0, which no DQT segment before it defines)"
                                                 : "t.jpg: not an image (corrupt JPEG: a scan at byte 106 uses AC Huffman table 0, which no DHT segment before it defines)"));
            }
        }
    }
    /* 16-bit samples (maxval > 255), big-endian: 500 of 1000 is 127.5, rounded to 128. */
    write_bytes(tp("wide.pgm"), "P5\n2 1\n1000\n\x01\xf4\x03\xe8", 16);
    CU_ASSERT_FATAL(image_load(tp("wide.pgm"), 1, 1, 2, false, px, err));
    CU_ASSERT(fabsf(px[0] - 128 / 255.0f) < 1e-6f && px[1] == 1.0f);
    /* A width of 2^32 (once a signed overflow inside stb_image, reported as "image is 0x0"). */
    write_bytes(tp("wide32.pgm"), "P5\n4294967296 1\n255\n\0", 21);
    CU_ASSERT(!image_load(tp("wide32.pgm"), 1, 28, 28, true, px, err));
    CU_ASSERT(err_has(err, "wide32.pgm: image is 4294967296x1, larger than the limit"));
    int c, h, w;
    CU_ASSERT(!image_info(tp("wide32.pgm"), &c, &h, &w, err));

    /* A gzip bomb behind a small IDX header: 3 images of 2x4 declared, then 256 MiB of zeros.
     * Only the declared bytes (and one more) may be inflated. */
    unsigned char img[16 + 24], lab[8 + 3];
    const unsigned char labels[3] = {1, 2, 3};
    size_t ilen = idx_images(img, 0x803, 3, 2, 4, 1);
    write_bytes(tp("bomb-labels"), lab, idx_labels(lab, 3, labels));
    gzFile g = gzopen(tp("bomb.gz"), "wb1");
    CU_ASSERT_FATAL(g != NULL);
    gzwrite(g, img, (unsigned)ilen);
    unsigned char *zeros = calloc(1, 1 << 20);
    for (int i = 0; i < 256; i++)
        gzwrite(g, zeros, 1 << 20);
    free(zeros);
    gzclose(g);
    Dataset ds;
    rss0 = peak_rss_kb();
    CU_ASSERT(!dataset_load_idx_files(tp("bomb.gz"), tp("bomb-labels"), 10, &ds, err));
    CU_ASSERT(err_has(err, "bomb.gz: extra bytes after the 3 images the header describes"));
    CU_ASSERT(peak_rss_kb() - rss0 < 64 * 1024);
    /* A header declaring more than the limit is refused before inflating anything. */
    idx_images(img, 0x803, 3, 2, 4, 1);
    img[4] = 0x7f; /* 0x7f000003 images */
    write_gz(tp("toobig.gz"), img, 16);
    CU_ASSERT(!dataset_load_idx_files(tp("toobig.gz"), tp("bomb-labels"), 10, &ds, err));
    CU_ASSERT(err_has(err, "toobig.gz: IDX header describes more than 1024 MiB"));
}

static void test_folder(void) {
    char err[RT_ERR_LEN] = "";
    mkdir(tp("folder"), 0755);
    mkdir(tp("folder/train"), 0755);
    mkdir(tp("folder/train/cat"), 0755);
    mkdir(tp("folder/train/ant"), 0755);
    write_pnm(tp("folder/train/cat/2.pgm"), 1, 4, 3);
    write_pnm(tp("folder/train/cat/1.ppm"), 3, 4, 3);
    write_pnm(tp("folder/train/ant/a.pgm"), 1, 8, 6);
    write_bytes(tp("folder/train/ant/.hidden"), "x", 1);
    Dataset ds;
    CU_ASSERT_FATAL(dataset_load(tp("folder"), SPLIT_TRAIN, 3, 3, 4, true, &ds, err));
    CU_ASSERT(ds.n == 3 && ds.nclasses == 2 && ds.c == 3);
    CU_ASSERT_STRING_EQUAL(ds.class_names[0], "ant");
    CU_ASSERT_STRING_EQUAL(ds.class_names[1], "cat");
    CU_ASSERT(ds.labels[0] == 0 && ds.labels[1] == 1 && ds.labels[2] == 1);
    CU_ASSERT(ds.pixels[36 + 12 + 5] == 111);   /* cat/1.ppm, G channel, (1,1) */
    dataset_free(&ds);
    /* Without resizing the 8x6 image is an error naming it. */
    CU_ASSERT(!dataset_load(tp("folder"), SPLIT_TRAIN, 3, 3, 4, false, &ds, err));
    CU_ASSERT(err_has(err, "ant/a.pgm: image is 8x6, the model takes 4x3"));
    CU_ASSERT(!dataset_load(tp("folder"), SPLIT_TEST, 3, 3, 4, false, &ds, err));
    CU_ASSERT(err_has(err, "folder: has no test/ folder (found train/)"));
    write_bytes(tp("folder/train/cat/notes.txt"), "hi", 2);
    CU_ASSERT(!dataset_load(tp("folder"), SPLIT_TRAIN, 3, 3, 4, true, &ds, err));
    CU_ASSERT(err_has(err, "cat/notes.txt: not an image ("));
    mkdir(tp("nofolders"), 0755);
    CU_ASSERT(!dataset_load_folder(tp("nofolders"), 1, 2, 2, false, &ds, err));
    CU_ASSERT(err_has(err, "nofolders: no class folders"));
    mkdir(tp("parent"), 0755);
    mkdir(tp("parent/a-folder"), 0755);
    mkdir(tp("parent/mnist"), 0755);
    write_bytes(tp("parent/mnist/t10k-images-idx3-ubyte"), "", 0);
    CU_ASSERT(!dataset_load(tp("parent"), SPLIT_TEST, 1, 28, 28, false, &ds, err));
    CU_ASSERT(err_has(err, "parent: no dataset here, but its folder 'mnist' holds an IDX (MNIST-style) dataset"));
    CU_ASSERT(!dataset_load(tp("nowhere"), SPLIT_TRAIN, 1, 2, 2, false, &ds, err));
    CU_ASSERT(err_has(err, "nowhere: not a directory"));
}

int unit_skip(const char *what); /* main.c */

static void test_fashion_mnist(void) {
    const char *dir = getenv("CNNC_FASHION_MNIST"); /* another place, for testing this test */
    if (!dir)
        dir = "/usr/share/datasets/fashion-mnist";
    if (!rt_is_dir(dir) && unit_skip("Fashion-MNIST: its directory is missing (apt-get install dataset-fashion-mnist)"))
        return;
    char err[RT_ERR_LEN] = "";
    Dataset ds;
    bool ok = dataset_load(dir, SPLIT_TEST, 1, 28, 28, false, &ds, err);
    if (!ok)
        fprintf(stderr, "\n  %s\n", err);
    CU_ASSERT_FATAL(ok);
    CU_ASSERT(ds.n == 10000 && ds.c == 1 && ds.h == 28 && ds.w == 28 && ds.nclasses == 10);
    int count[10] = {0};
    bool in_range = true;
    for (int i = 0; i < ds.n; i++) {
        in_range = in_range && ds.labels[i] >= 0 && ds.labels[i] < 10;
        if (in_range)
            count[ds.labels[i]]++;
    }
    CU_ASSERT(in_range);
    for (int k = 0; k < 10; k++)
        CU_ASSERT_EQUAL(count[k], 1000);
    CU_ASSERT_STRING_EQUAL(ds.class_names[0], "T-shirt/top");
    dataset_free(&ds);
}

/* ---- rng and init --------------------------------------------------------------------- */

static void stats(const float *v, long n, double *mean, double *var, float *lo, float *hi) {
    double s = 0, s2 = 0;
    *lo = *hi = v[0];
    for (long i = 0; i < n; i++) {
        s += v[i];
        s2 += (double)v[i] * v[i];
        if (v[i] < *lo) *lo = v[i];
        if (v[i] > *hi) *hi = v[i];
    }
    *mean = s / n;
    *var = s2 / n - *mean * *mean;
}

static void test_init(void) {
    enum { N = 200000 };
    float *v = malloc(N * sizeof(float));
    Rng r;
    rng_seed(&r, 42);
    int fan_in, fan_out;
    init_conv_fans(16, 8, 1, 3, 3, &fan_in, &fan_out);
    CU_ASSERT(fan_in == 72 && fan_out == 144);
    init_conv_fans(32, 32, 4, 5, 5, &fan_in, &fan_out);
    CU_ASSERT(fan_in == 200 && fan_out == 800);
    init_conv_fans(16, 8, 1, 3, 3, &fan_in, &fan_out);
    double mean, var;
    float lo, hi;

    /* default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), variance b^2/3. */
    double b = 1 / sqrt(72.0);
    init_tensor(&r, INIT_DEFAULT, ROLE_WEIGHT, fan_in, fan_out, v, N);
    stats(v, N, &mean, &var, &lo, &hi);
    CU_ASSERT(lo >= -b && hi < b && lo < -0.99 * b && hi > 0.99 * b);
    CU_ASSERT(fabs(mean) < 0.01 * b);
    CU_ASSERT(fabs(var / (b * b / 3) - 1) < 0.02);
    init_tensor(&r, INIT_DEFAULT, ROLE_BIAS, fan_in, fan_out, v, N);
    stats(v, N, &mean, &var, &lo, &hi);
    CU_ASSERT(lo >= -b && hi < b && lo < -0.99 * b && fabs(mean) < 0.01 * b);

    /* kaiming_normal: N(0, 2/fan_in). */
    init_tensor(&r, INIT_KAIMING_NORMAL, ROLE_WEIGHT, fan_in, fan_out, v, N);
    stats(v, N, &mean, &var, &lo, &hi);
    CU_ASSERT(fabs(mean) < 0.01 * sqrt(2.0 / 72));
    CU_ASSERT(fabs(var / (2.0 / 72) - 1) < 0.02);
    CU_ASSERT(hi > 3 * sqrt(2.0 / 72));   /* a normal, not a bounded distribution */
    init_tensor(&r, INIT_KAIMING_NORMAL, ROLE_BIAS, fan_in, fan_out, v, 10);
    CU_ASSERT(v[0] == 0 && v[9] == 0);

    /* xavier_uniform: U(-b, b), b = sqrt(6/(fan_in+fan_out)). */
    b = sqrt(6.0 / (72 + 144));
    init_tensor(&r, INIT_XAVIER_UNIFORM, ROLE_WEIGHT, fan_in, fan_out, v, N);
    stats(v, N, &mean, &var, &lo, &hi);
    CU_ASSERT(lo >= -b && hi < b && lo < -0.99 * b && hi > 0.99 * b);
    CU_ASSERT(fabs(var / (b * b / 3) - 1) < 0.02);

    /* Batchnorm and running statistics. */
    init_tensor(&r, INIT_DEFAULT, ROLE_BN_WEIGHT, 0, 0, v, 4);
    CU_ASSERT(v[0] == 1 && v[3] == 1);
    init_tensor(&r, INIT_DEFAULT, ROLE_BN_BIAS, 0, 0, v, 4);
    CU_ASSERT(v[0] == 0 && v[3] == 0);
    init_tensor(&r, INIT_XAVIER_UNIFORM, ROLE_RUNNING_MEAN, 0, 0, v, 4);
    CU_ASSERT(v[0] == 0 && v[3] == 0);
    init_tensor(&r, INIT_KAIMING_NORMAL, ROLE_RUNNING_VAR, 0, 0, v, 4);
    CU_ASSERT(v[0] == 1 && v[3] == 1);

    InitKind k;
    CU_ASSERT(init_kind_from_name("xavier_uniform", &k) && k == INIT_XAVIER_UNIFORM);
    CU_ASSERT(!init_kind_from_name("xavier", &k));
    CU_ASSERT_STRING_EQUAL(init_kind_name(INIT_KAIMING_NORMAL), "kaiming_normal");
    free(v);
}

static void test_rng(void) {
    Rng a, b;
    rng_seed(&a, 1);
    rng_seed(&b, 1);
    for (int i = 0; i < 100; i++)
        CU_ASSERT(rng_next(&a) == rng_next(&b));
    rng_seed(&b, 2);
    CU_ASSERT(rng_next(&a) != rng_next(&b));
    int hist[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint32_t x = rng_below(&a, 10);
        CU_ASSERT_FATAL(x < 10);
        hist[x]++;
    }
    for (int i = 0; i < 10; i++)
        CU_ASSERT(hist[i] > 9500 && hist[i] < 10500);
    int perm[50], seen[50] = {0};
    for (int i = 0; i < 50; i++)
        perm[i] = i;
    rng_shuffle(&a, perm, 50);
    for (int i = 0; i < 50; i++)
        seen[perm[i]]++;
    for (int i = 0; i < 50; i++)
        CU_ASSERT(seen[i] == 1);
    for (int i = 0; i < 10000; i++) {
        float u = rng_uniform(&a);
        CU_ASSERT_FATAL(u >= 0 && u < 1);
    }
}

void suite_runtime(void) {
    CU_pSuite s = CU_add_suite("runtime", suite_init, suite_cleanup);
    CU_add_test(s, "safetensors round trip", test_ckpt_roundtrip);
    CU_add_test(s, "safetensors from another writer", test_ckpt_foreign);
    CU_add_test(s, "safetensors name/shape/dtype checks", test_ckpt_check_errors);
    CU_add_test(s, "safetensors malformed files", test_ckpt_malformed);
    CU_add_test(s, "atomic write", test_atomic_write);
    CU_add_test(s, "IDX plain and gzip", test_idx);
    CU_add_test(s, "CIFAR-10 records", test_cifar);
    CU_add_test(s, "image loading", test_image);
    CU_add_test(s, "image folder dataset", test_folder);
    CU_add_test(s, "hostile images and IDX files", test_hostile_inputs);
    CU_add_test(s, "Fashion-MNIST t10k", test_fashion_mnist);
    CU_add_test(s, "rng", test_rng);
    CU_add_test(s, "init distributions", test_init);
}
