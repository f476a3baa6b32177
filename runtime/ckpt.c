/* ckpt.c: safetensors reader and writer (format in ckpt.h).
 * The reader holds the whole file in memory and parses the header with a small JSON parser of
 * its own, specialised to the one shape a safetensors header has: an object whose values are
 * tensor descriptions or the string-to-string "__metadata__" object. It checks JSON syntax
 * strictly and every offset against the file before anything is read. */
#include "ckpt.h"
#include "rt.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { HEADER_MAX = 100 * 1024 * 1024, JSON_MAX_DIGITS = 18 };

static const struct { const char *name; int size; } dtype_info[] = {
#define X(name, size) {#name, size},
    CKPT_DTYPES(X)
#undef X
};
enum { NDTYPES = sizeof dtype_info / sizeof dtype_info[0] };

const char *ckpt_dtype_name(CkptDtype t) { return dtype_info[t].name; }
int ckpt_dtype_size(CkptDtype t) { return dtype_info[t].size; }

/* ---- little-endian access ------------------------------------------------------------- */

static uint64_t get_le(const unsigned char *p, int size) {
    uint64_t v = 0;
    for (int i = size - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_le(unsigned char *p, uint64_t v, int size) {
    for (int i = 0; i < size; i++, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

static bool host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* ---- the header parser ---------------------------------------------------------------- */

typedef struct Json {
    const char *path;
    const unsigned char *s;
    size_t n, pos;
    char *err;
} Json;

static void describe_here(const Json *j, char *buf, size_t size) {
    if (j->pos >= j->n)
        snprintf(buf, size, "the end of the header");
    else if (j->s[j->pos] >= 0x20 && j->s[j->pos] < 0x7f)
        snprintf(buf, size, "'%c' at header byte %zu", j->s[j->pos], j->pos);
    else
        snprintf(buf, size, "byte 0x%02x at header byte %zu", j->s[j->pos], j->pos);
}

/* A syntax error: "PATH: safetensors header is not valid JSON: expected X, found Y". */
static bool json_fail(Json *j, const char *expected) {
    char here[64];
    describe_here(j, here, sizeof here);
    return rt_fail(j->err, "%s: safetensors header is not valid JSON: expected %s, found %s",
                   j->path, expected, here);
}

static void json_ws(Json *j) {
    while (j->pos < j->n && (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' ||
                             j->s[j->pos] == '\n' || j->s[j->pos] == '\r'))
        j->pos++;
}

static bool json_peek(Json *j, char c) {
    json_ws(j);
    return j->pos < j->n && j->s[j->pos] == (unsigned char)c;
}

static bool json_expect(Json *j, char c, const char *what) {
    if (!json_peek(j, c))
        return json_fail(j, what);
    j->pos++;
    return true;
}

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool json_hex4(Json *j, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = j->pos < j->n ? hex_value(j->s[j->pos]) : -1;
        if (h < 0)
            return json_fail(j, "4 hex digits after \\u");
        v = v * 16 + (unsigned)h;
        j->pos++;
    }
    *out = v;
    return true;
}

/* A JSON string, unescaped into a malloc'ed UTF-8 C string. The unescaped text is never
 * longer than the escaped text, so one allocation of the raw length suffices. */
static bool json_string(Json *j, char **out) {
    *out = NULL;
    json_ws(j);
    if (j->pos >= j->n || j->s[j->pos] != '"')
        return json_fail(j, "a string");
    size_t start = ++j->pos, end = start;
    while (end < j->n && j->s[end] != '"')
        end += (j->s[end] == '\\') ? 2 : 1;
    if (end >= j->n)
        return rt_fail(j->err, "%s: safetensors header is not valid JSON: string starting at "
                       "header byte %zu is not closed", j->path, start - 1);
    char *buf = rt_alloc(end - start + 1, "a header string", j->err);
    if (!buf)
        return false;
    size_t k = 0;
    while (j->s[j->pos] != '"') {
        unsigned char c = j->s[j->pos];
        if (c < 0x20) {
            free(buf);
            return json_fail(j, "no raw control character in a string");
        }
        if (c != '\\') {
            buf[k++] = (char)c;
            j->pos++;
            continue;
        }
        j->pos++;
        c = j->s[j->pos];
        const char *simple = strchr("\"\\/bfnrt", c);
        if (c && simple) {
            static const char out_of[] = "\"\\/\b\f\n\r\t";
            buf[k++] = out_of[simple - "\"\\/bfnrt"];
            j->pos++;
            continue;
        }
        if (c != 'u') {
            free(buf);
            return json_fail(j, "one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u");
        }
        j->pos++;
        unsigned cp = 0;
        if (!json_hex4(j, &cp)) {
            free(buf);
            return false;
        }
        if (cp >= 0xd800 && cp < 0xdc00) {   /* a surrogate pair: \uD83D\uDE00 */
            unsigned lo = 0;
            if (j->pos + 1 >= j->n || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u') {
                free(buf);
                return json_fail(j, "a low surrogate \\uDC00-\\uDFFF");
            }
            j->pos += 2;
            if (!json_hex4(j, &lo)) {
                free(buf);
                return false;
            }
            if (lo < 0xdc00 || lo > 0xdfff) {
                j->pos -= 6;
                free(buf);
                return json_fail(j, "a low surrogate \\uDC00-\\uDFFF");
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            j->pos -= 6;
            free(buf);
            return json_fail(j, "no lone low surrogate");
        }
        if (cp == 0) {
            j->pos -= 6;
            free(buf);
            return json_fail(j, "no \\u0000 in a name");
        }
        /* Encoded length never exceeds the 6 (or 12) escaped bytes it came from. */
        if (cp < 0x80) {
            buf[k++] = (char)cp;
        } else if (cp < 0x800) {
            buf[k++] = (char)(0xc0 | (cp >> 6));
            buf[k++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            buf[k++] = (char)(0xe0 | (cp >> 12));
            buf[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            buf[k++] = (char)(0x80 | (cp & 0x3f));
        } else {
            buf[k++] = (char)(0xf0 | (cp >> 18));
            buf[k++] = (char)(0x80 | ((cp >> 12) & 0x3f));
            buf[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            buf[k++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    j->pos++;   /* closing quote */
    buf[k] = 0;
    *out = buf;
    return true;
}

/* A JSON number that must be a non-negative integer; `what` names it in messages, e.g.
 * "shape of tensor 'x'". Full JSON number syntax is checked first, so "1.5" and "-1" are
 * reported as what they are rather than as a syntax error. */
static bool json_uint(Json *j, const char *what, int64_t *out) {
    json_ws(j);
    size_t p = j->pos;
    bool neg = false, frac = false;
    if (p < j->n && j->s[p] == '-') {
        neg = true;
        p++;
    }
    size_t digits = p;
    while (p < j->n && j->s[p] >= '0' && j->s[p] <= '9')
        p++;
    size_t ndigits = p - digits;
    if (ndigits == 0) {
        if (!neg && p < j->n && j->s[p] == '"')
            return rt_fail(j->err, "%s: %s has a string where an integer belongs (header byte %zu)",
                           j->path, what, j->pos);
        return json_fail(j, "an integer");
    }
    if (ndigits > 1 && j->s[digits] == '0')
        return json_fail(j, "a number without leading zeros");
    if (p < j->n && j->s[p] == '.') {
        frac = true;
        p++;
        size_t f = p;
        while (p < j->n && j->s[p] >= '0' && j->s[p] <= '9')
            p++;
        if (p == f) {
            j->pos = p;
            return json_fail(j, "digits after '.'");
        }
    }
    if (p < j->n && (j->s[p] == 'e' || j->s[p] == 'E')) {
        frac = true;
        p++;
        if (p < j->n && (j->s[p] == '+' || j->s[p] == '-'))
            p++;
        size_t e = p;
        while (p < j->n && j->s[p] >= '0' && j->s[p] <= '9')
            p++;
        if (p == e) {
            j->pos = p;
            return json_fail(j, "digits in the exponent");
        }
    }
    int len = (int)(p - j->pos);
    const char *text = (const char *)j->s + j->pos;
    if (neg)
        return rt_fail(j->err, "%s: %s has a negative value %.*s", j->path, what, len > 30 ? 30 : len, text);
    if (frac)
        return rt_fail(j->err, "%s: %s has a non-integer value %.*s", j->path, what, len > 30 ? 30 : len, text);
    if (ndigits > JSON_MAX_DIGITS)
        return rt_fail(j->err, "%s: %s has an absurdly large value %.*s", j->path, what, len > 30 ? 30 : len, text);
    int64_t v = 0;
    for (size_t i = digits; i < p; i++)
        v = v * 10 + (j->s[i] - '0');
    j->pos = p;
    *out = v;
    return true;
}

/* [a, b, ...] of non-negative integers, at most max of them. */
static bool json_uint_array(Json *j, const char *what, int64_t *vals, int max, int *count) {
    *count = 0;
    if (!json_expect(j, '[', "'['"))
        return false;
    if (json_peek(j, ']')) {
        j->pos++;
        return true;
    }
    for (;;) {
        int64_t v = 0;
        if (!json_uint(j, what, &v))
            return false;
        if (*count == max)
            return rt_fail(j->err, "%s: %s has more than %d entries", j->path, what, max);
        vals[(*count)++] = v;
        if (json_peek(j, ',')) {
            j->pos++;
            continue;
        }
        return json_expect(j, ']', "',' or ']'");
    }
}

static bool parse_dtype(Json *j, const char *tname, CkptDtype *out) {
    char *s;
    if (!json_string(j, &s))
        return false;
    for (int i = 0; i < NDTYPES; i++)
        if (strcmp(s, dtype_info[i].name) == 0) {
            *out = (CkptDtype)i;
            free(s);
            return true;
        }
    rt_fail(j->err, "%s: tensor '%s' has unknown dtype '%s'", j->path, tname, s);
    free(s);
    return false;
}

/* {"dtype": ..., "shape": [...], "data_offsets": [b, e]} in any order, each exactly once. */
static bool parse_tensor(Json *j, CkptTensor *t, int64_t offsets[2]) {
    bool have_dtype = false, have_shape = false, have_offsets = false;
    char what[200];
    if (!json_expect(j, '{', "'{' starting the description of a tensor"))
        return false;
    bool first = true;
    while (!json_peek(j, '}')) {
        if (!first && !json_expect(j, ',', "',' or '}'"))
            return false;
        first = false;
        char *key;
        if (!json_string(j, &key))
            return false;
        bool *have = strcmp(key, "dtype") == 0          ? &have_dtype
                     : strcmp(key, "shape") == 0        ? &have_shape
                     : strcmp(key, "data_offsets") == 0 ? &have_offsets
                                                        : NULL;
        bool ok;
        if (!have)
            ok = rt_fail(j->err, "%s: tensor '%s' has an unknown field '%s' (expected dtype, "
                         "shape, data_offsets)", j->path, t->name, key);
        else if (*have)
            ok = rt_fail(j->err, "%s: tensor '%s' has field '%s' twice", j->path, t->name, key);
        else
            ok = json_expect(j, ':', "':' after a key");
        if (ok && have == &have_dtype) {
            ok = parse_dtype(j, t->name, &t->dtype);
        } else if (ok && have == &have_shape) {
            snprintf(what, sizeof what, "shape of tensor '%.120s'", t->name);
            ok = json_uint_array(j, what, t->shape, CKPT_MAX_RANK, &t->rank);
        } else if (ok) {
            snprintf(what, sizeof what, "data_offsets of tensor '%.120s'", t->name);
            int n = 0;
            ok = json_uint_array(j, what, offsets, 2, &n);
            if (ok && n != 2)
                ok = rt_fail(j->err, "%s: data_offsets of tensor '%s' has %d entries, not 2 "
                             "[begin, end]", j->path, t->name, n);
        }
        if (have)
            *have = true;
        free(key);
        if (!ok)
            return false;
    }
    j->pos++;
    if (!have_dtype || !have_shape || !have_offsets)
        return rt_fail(j->err, "%s: tensor '%s' has no %s", j->path, t->name,
                       !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");
    return true;
}

static bool grow(void **items, int n, int *cap, size_t size, char *err) {
    if (n < *cap)
        return true;
    int ncap = *cap ? 2 * *cap : 16;
    void *p = realloc(*items, (size_t)ncap * size);
    if (!p)
        return rt_fail(err, "out of memory reading a safetensors header");
    *items = p;
    *cap = ncap;
    return true;
}

static bool parse_metadata(Json *j, Ckpt *c) {
    int cap = 0;
    if (!json_expect(j, '{', "'{' starting __metadata__"))
        return false;
    bool first = true;
    while (!json_peek(j, '}')) {
        if (!first && !json_expect(j, ',', "',' or '}'"))
            return false;
        first = false;
        char *key, *value;
        if (!json_string(j, &key))
            return false;
        if (!json_expect(j, ':', "':' after a key")) {
            free(key);
            return false;
        }
        if (!json_peek(j, '"')) {
            rt_fail(j->err, "%s: metadata '%s' is not a string (safetensors metadata maps "
                    "strings to strings)", j->path, key);
            free(key);
            return false;
        }
        if (!json_string(j, &value)) {
            free(key);
            return false;
        }
        int cap2 = cap;
        if (!grow((void **)&c->meta_keys, c->nmeta, &cap, sizeof(char *), j->err) ||
            !grow((void **)&c->meta_values, c->nmeta, &cap2, sizeof(char *), j->err)) {
            free(key);
            free(value);
            return false;
        }
        c->meta_keys[c->nmeta] = key;
        c->meta_values[c->nmeta++] = value;
    }
    j->pos++;
    return true;
}

static int cmp_by_begin(const void *a, const void *b) {
    const CkptTensor *x = *(const CkptTensor *const *)a, *y = *(const CkptTensor *const *)b;
    return x->data < y->data ? -1 : x->data > y->data;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp((*(const CkptTensor *const *)a)->name, (*(const CkptTensor *const *)b)->name);
}

/* Offsets: inside the data area, exactly dtype size x numel bytes, no two tensors overlapping,
 * no two with the same name. */
static bool check_tensor(Json *j, CkptTensor *t, const int64_t off[2], const unsigned char *data,
                         size_t data_len) {
    char shape[128];
    ckpt_format_shape(t->shape, t->rank, shape, sizeof shape);
    int64_t numel = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->shape[i] != 0 && numel > INT64_MAX / 8 / t->shape[i])
            return rt_fail(j->err, "%s: tensor '%s' has an absurd shape %s", j->path, t->name, shape);
        numel *= t->shape[i];
    }
    t->numel = numel;
    int64_t need = numel * ckpt_dtype_size(t->dtype);
    if (off[0] > off[1])
        return rt_fail(j->err, "%s: tensor '%s' has data_offsets [%" PRId64 ", %" PRId64
                       "] that end before they begin", j->path, t->name, off[0], off[1]);
    if ((uint64_t)off[1] > data_len)
        return rt_fail(j->err, "%s: tensor '%s' has data_offsets [%" PRId64 ", %" PRId64
                       "] beyond the end of the data (%zu bytes; the file is truncated or the "
                       "offsets are wrong)", j->path, t->name, off[0], off[1], data_len);
    if (off[1] - off[0] != need)
        return rt_fail(j->err, "%s: tensor '%s' has data_offsets [%" PRId64 ", %" PRId64
                       "] spanning %" PRId64 " bytes, but %s %s needs %" PRId64, j->path,
                       t->name, off[0], off[1], off[1] - off[0], ckpt_dtype_name(t->dtype),
                       shape, need);
    t->data = data + off[0];
    t->nbytes = (size_t)need;
    return true;
}

static bool parse_header(Json *j, Ckpt *c, const unsigned char *data, size_t data_len) {
    int cap = 0;
    bool have_meta = false;
    if (!json_expect(j, '{', "'{' starting the header"))
        return false;
    bool first = true;
    while (!json_peek(j, '}')) {
        if (!first && !json_expect(j, ',', "',' or '}'"))
            return false;
        first = false;
        char *key;
        if (!json_string(j, &key))
            return false;
        if (!json_expect(j, ':', "':' after a key")) {
            free(key);
            return false;
        }
        if (strcmp(key, "__metadata__") == 0) {
            free(key);
            if (have_meta)
                return rt_fail(j->err, "%s: header has __metadata__ twice", j->path);
            have_meta = true;
            if (!parse_metadata(j, c))
                return false;
            continue;
        }
        if (!grow((void **)&c->tensors, c->ntensors, &cap, sizeof *c->tensors, j->err)) {
            free(key);
            return false;
        }
        CkptTensor *t = &c->tensors[c->ntensors++];
        memset(t, 0, sizeof *t);
        t->name = key;
        int64_t off[2];
        if (!parse_tensor(j, t, off) || !check_tensor(j, t, off, data, data_len))
            return false;
    }
    j->pos++;
    json_ws(j);
    if (j->pos < j->n)
        return json_fail(j, "nothing after the closing '}' but spaces");

    /* Duplicate names and overlapping data, each found by sorting pointers. */
    if (c->ntensors > 1) {
        CkptTensor **order = rt_alloc_array((size_t)c->ntensors, sizeof *order, "a tensor list", j->err);
        if (!order)
            return false;
        for (int i = 0; i < c->ntensors; i++)
            order[i] = &c->tensors[i];
        qsort(order, (size_t)c->ntensors, sizeof *order, cmp_by_name);
        for (int i = 1; i < c->ntensors; i++)
            if (strcmp(order[i - 1]->name, order[i]->name) == 0) {
                rt_fail(j->err, "%s: tensor '%s' appears twice in the header", j->path, order[i]->name);
                free(order);
                return false;
            }
        qsort(order, (size_t)c->ntensors, sizeof *order, cmp_by_begin);
        const CkptTensor *prev = NULL;
        for (int i = 0; i < c->ntensors; i++) {
            const CkptTensor *t = order[i];
            if (t->nbytes == 0)
                continue;
            if (prev && t->data < prev->data + prev->nbytes) {
                rt_fail(j->err, "%s: tensors '%s' and '%s' overlap (data_offsets [%td, %td] and "
                        "[%td, %td])", j->path, prev->name, t->name, prev->data - data,
                        prev->data + prev->nbytes - data, t->data - data, t->data + t->nbytes - data);
                free(order);
                return false;
            }
            prev = t;
        }
        free(order);
    }
    return true;
}

/* Parses buf (taking ownership of it, freed on failure too). */
static Ckpt *ckpt_adopt(const char *path, unsigned char *buf, size_t len, char *err) {
    if (len < 8) {
        rt_fail(err, "%s: not a safetensors file: %zu bytes, too short for the 8-byte header "
                "length", path, len);
        free(buf);
        return NULL;
    }
    uint64_t hlen = get_le(buf, 8);
    if (hlen > len - 8) {
        rt_fail(err, "%s: not a safetensors file or truncated: header length %" PRIu64
                " is beyond the end of the file (%zu bytes)", path, hlen, len);
        free(buf);
        return NULL;
    }
    if (hlen > HEADER_MAX) {
        rt_fail(err, "%s: safetensors header length %" PRIu64 " is absurdly large", path, hlen);
        free(buf);
        return NULL;
    }
    Ckpt *c = rt_alloc(sizeof *c, "a checkpoint", err);
    if (!c) {
        free(buf);
        return NULL;
    }
    c->file = buf;
    c->file_len = len;
    if (!(c->path = rt_strdup(path, err))) {
        ckpt_free(c);
        return NULL;
    }
    Json j = {.path = path, .s = buf + 8, .n = (size_t)hlen, .pos = 0, .err = err};
    if (!parse_header(&j, c, buf + 8 + hlen, len - 8 - (size_t)hlen)) {
        ckpt_free(c);
        return NULL;
    }
    return c;
}

Ckpt *ckpt_parse(const char *path, const unsigned char *buf, size_t len, char *err) {
    unsigned char *copy = rt_alloc(len, path, err);
    if (!copy)
        return NULL;
    memcpy(copy, buf, len);
    return ckpt_adopt(path, copy, len, err);
}

Ckpt *ckpt_read(const char *path, char *err) {
    unsigned char *buf;
    size_t len;
    if (!rt_read_file(path, &buf, &len, err))
        return NULL;
    return ckpt_adopt(path, buf, len, err);
}

void ckpt_free(Ckpt *c) {
    if (!c)
        return;
    for (int i = 0; i < c->ntensors; i++)
        free((char *)c->tensors[i].name);
    for (int i = 0; i < c->nmeta; i++) {
        free(c->meta_keys[i]);
        free(c->meta_values[i]);
    }
    free(c->tensors);
    free(c->meta_keys);
    free(c->meta_values);
    free(c->file);
    free(c->path);
    free(c);
}

const CkptTensor *ckpt_find(const Ckpt *c, const char *name) {
    for (int i = 0; i < c->ntensors; i++)
        if (strcmp(c->tensors[i].name, name) == 0)
            return &c->tensors[i];
    return NULL;
}

const char *ckpt_meta(const Ckpt *c, const char *key) {
    for (int i = 0; i < c->nmeta; i++)
        if (strcmp(c->meta_keys[i], key) == 0)
            return c->meta_values[i];
    return NULL;
}

void ckpt_format_shape(const int64_t *shape, int rank, char *buf, size_t size) {
    size_t k = 0;
    buf[0] = 0;
    k += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < rank && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (k < size)
        snprintf(buf + k, size - k, "]");
}

/* Edit distance for "did you mean"; names longer than 127 bytes are not compared. */
static int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 127 || lb > 127)
        return 1 << 20;
    int row[128];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Finds NAME and checks its shape; on failure says precisely what is missing or different. */
static const CkptTensor *find_checked(const Ckpt *c, const char *name, const int *shape, int rank,
                                      char *err) {
    const CkptTensor *t = ckpt_find(c, name);
    if (!t) {
        const char *best = NULL;
        int best_d = (int)strlen(name) / 3 + 1;
        for (int i = 0; i < c->ntensors; i++) {
            int d = edit_distance(name, c->tensors[i].name);
            if (d <= best_d) {
                best_d = d;
                best = c->tensors[i].name;
            }
        }
        if (best)
            rt_fail(err, "%s: no tensor '%s' (did you mean '%s'?)", c->path, name, best);
        else
            rt_fail(err, "%s: no tensor '%s' (the file has %d tensor%s)", c->path, name,
                    c->ntensors, c->ntensors == 1 ? "" : "s");
        return NULL;
    }
    bool same = t->rank == rank;
    for (int i = 0; same && i < rank; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        int64_t want[CKPT_MAX_RANK];
        int wr = rank < CKPT_MAX_RANK ? rank : CKPT_MAX_RANK;
        for (int i = 0; i < wr; i++)
            want[i] = shape[i];
        char have_s[100], want_s[100];
        ckpt_format_shape(t->shape, t->rank, have_s, sizeof have_s);
        ckpt_format_shape(want, wr, want_s, sizeof want_s);
        rt_fail(err, "%s: tensor '%s' has shape %s, model expects %s", c->path, name, have_s, want_s);
        return NULL;
    }
    return t;
}

bool ckpt_allow_nonfinite;

/* The first NaN or infinity of a float tensor read into dst, reported with its index. */
static bool check_finite(const Ckpt *c, const CkptTensor *t, const float *dst, char *err) {
    if (ckpt_allow_nonfinite)
        return true;
    for (int64_t i = 0; i < t->numel; i++) {
        if (isfinite(dst[i]))
            continue;
        char at[160] = "";
        int64_t rest = i;
        int64_t idx[CKPT_MAX_RANK];
        for (int k = t->rank - 1; k >= 0; k--) {
            idx[k] = t->shape[k] ? rest % t->shape[k] : 0;
            rest = t->shape[k] ? rest / t->shape[k] : 0;
        }
        ckpt_format_shape(idx, t->rank, at, sizeof at);
        return rt_fail(err, "%s: tensor '%s' holds %s at index %s (element %lld); non-finite values are refused "
                       "(--allow-nonfinite accepts them)", c->path, t->name, isnan(dst[i]) ? "NaN" : dst[i] > 0 ? "inf" : "-inf",
                       at, (long long)i);
    }
    return true;
}

bool ckpt_get_f32(const Ckpt *c, const char *name, const int *shape, int rank, float *dst,
                  char *err) {
    const CkptTensor *t = find_checked(c, name, shape, rank, err);
    if (!t)
        return false;
    if (t->dtype == CKPT_F32) {
        if (host_is_little_endian()) {
            memcpy(dst, t->data, t->nbytes);
        } else {
            for (int64_t i = 0; i < t->numel; i++) {
                uint32_t u = (uint32_t)get_le(t->data + 4 * i, 4);
                memcpy(&dst[i], &u, 4);
            }
        }
        return check_finite(c, t, dst, err);
    }
    if (t->dtype == CKPT_F64) {
        for (int64_t i = 0; i < t->numel; i++) {
            uint64_t u = get_le(t->data + 8 * i, 8);
            double d;
            memcpy(&d, &u, 8);
            dst[i] = (float)d;
        }
        return check_finite(c, t, dst, err);
    }
    return rt_fail(err, "%s: tensor '%s' has dtype %s, model expects F32", c->path, name,
                   ckpt_dtype_name(t->dtype));
}

/* Reads element i of an I32 or I64 tensor. */
static int64_t int_at(const CkptTensor *t, int64_t i) {
    if (t->dtype == CKPT_I64)
        return (int64_t)get_le(t->data + 8 * i, 8);
    return (int32_t)(uint32_t)get_le(t->data + 4 * i, 4);
}

bool ckpt_get_i64(const Ckpt *c, const char *name, const int *shape, int rank, int64_t *dst,
                  char *err) {
    const CkptTensor *t = find_checked(c, name, shape, rank, err);
    if (!t)
        return false;
    if (t->dtype != CKPT_I64 && t->dtype != CKPT_I32)
        return rt_fail(err, "%s: tensor '%s' has dtype %s, expected I64 or I32", c->path, name,
                       ckpt_dtype_name(t->dtype));
    for (int64_t i = 0; i < t->numel; i++)
        dst[i] = int_at(t, i);
    return true;
}

bool ckpt_get_i32(const Ckpt *c, const char *name, const int *shape, int rank, int32_t *dst,
                  char *err) {
    const CkptTensor *t = find_checked(c, name, shape, rank, err);
    if (!t)
        return false;
    if (t->dtype != CKPT_I64 && t->dtype != CKPT_I32)
        return rt_fail(err, "%s: tensor '%s' has dtype %s, expected I64 or I32", c->path, name,
                       ckpt_dtype_name(t->dtype));
    for (int64_t i = 0; i < t->numel; i++) {
        int64_t v = int_at(t, i);
        if (v < INT32_MIN || v > INT32_MAX)
            return rt_fail(err, "%s: tensor '%s' has value %" PRId64 " at index %" PRId64
                           ", outside the 32-bit range", c->path, name, v, i);
        dst[i] = (int32_t)v;
    }
    return true;
}

/* ---- the writer ----------------------------------------------------------------------- */

typedef struct WEntry {
    char *name;
    CkptDtype dtype;
    int rank;
    int64_t shape[CKPT_MAX_RANK];
    const void *data;
    size_t nbytes;
} WEntry;

struct CkptWriter {
    WEntry *entries;
    int n, cap;
    char **meta_keys, **meta_values;
    int nmeta, metacap;
    char err[RT_ERR_LEN];   /* the first problem found while adding, reported by ckpt_write */
};

CkptWriter *ckpt_writer_new(void) { return calloc(1, sizeof(CkptWriter)); }

void ckpt_writer_free(CkptWriter *w) {
    if (!w)
        return;
    for (int i = 0; i < w->n; i++)
        free(w->entries[i].name);
    for (int i = 0; i < w->nmeta; i++) {
        free(w->meta_keys[i]);
        free(w->meta_values[i]);
    }
    free(w->entries);
    free(w->meta_keys);
    free(w->meta_values);
    free(w);
}

static void add_tensor(CkptWriter *w, const char *name, CkptDtype dt, const int *shape, int rank,
                       const void *data) {
    if (w->err[0])
        return;
    if (rank < 0 || rank > CKPT_MAX_RANK) {
        rt_fail(w->err, "tensor '%s' has rank %d; checkpoints hold ranks 0 to %d", name, rank,
                CKPT_MAX_RANK);
        return;
    }
    if (strcmp(name, "__metadata__") == 0) {
        rt_fail(w->err, "a tensor cannot be named __metadata__");
        return;
    }
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->entries[i].name, name) == 0) {
            rt_fail(w->err, "tensor '%s' added twice", name);
            return;
        }
    if (!grow((void **)&w->entries, w->n, &w->cap, sizeof *w->entries, w->err))
        return;
    WEntry *e = &w->entries[w->n];
    memset(e, 0, sizeof *e);
    size_t numel = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0) {
            rt_fail(w->err, "tensor '%s' has negative dimension %d", name, shape[i]);
            return;
        }
        e->shape[i] = shape[i];
        if (shape[i] && numel > SIZE_MAX / 8 / (size_t)shape[i]) {
            rt_fail(w->err, "tensor '%s' is absurdly large", name);
            return;
        }
        numel *= (size_t)shape[i];
    }
    if (!data && numel) {
        rt_fail(w->err, "tensor '%s' has no data", name);
        return;
    }
    if (!(e->name = rt_strdup(name, w->err)))
        return;
    e->dtype = dt;
    e->rank = rank;
    e->data = data;
    e->nbytes = numel * (size_t)ckpt_dtype_size(dt);
    w->n++;
}

void ckpt_add_f32(CkptWriter *w, const char *name, const int *shape, int rank, const float *data) {
    add_tensor(w, name, CKPT_F32, shape, rank, data);
}
void ckpt_add_i64(CkptWriter *w, const char *name, const int *shape, int rank, const int64_t *data) {
    add_tensor(w, name, CKPT_I64, shape, rank, data);
}
void ckpt_add_i32(CkptWriter *w, const char *name, const int *shape, int rank, const int32_t *data) {
    add_tensor(w, name, CKPT_I32, shape, rank, data);
}

void ckpt_add_meta(CkptWriter *w, const char *key, const char *value) {
    if (w->err[0])
        return;
    int cap = w->metacap, cap2 = w->metacap;
    if (!grow((void **)&w->meta_keys, w->nmeta, &cap, sizeof(char *), w->err) ||
        !grow((void **)&w->meta_values, w->nmeta, &cap2, sizeof(char *), w->err))
        return;
    w->metacap = cap;
    char *k = rt_strdup(key, w->err), *v = k ? rt_strdup(value, w->err) : NULL;
    if (!k || !v) {
        free(k);
        return;
    }
    w->meta_keys[w->nmeta] = k;
    w->meta_values[w->nmeta++] = v;
}

/* A growable string for the header. */
typedef struct Sbuf {
    char *s;
    size_t n, cap;
    bool oom;
} Sbuf;

static void sb_put(Sbuf *b, const char *s, size_t len) {
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->n + len + 1)
            ncap *= 2;
        char *p = realloc(b->s, ncap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->s = p;
        b->cap = ncap;
    }
    memcpy(b->s + b->n, s, len);
    b->n += len;
    b->s[b->n] = 0;
}

static void sb_str(Sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_json_string(Sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static bool write_data(RtAtomicFile *f, const WEntry *e, char *err) {
    if (host_is_little_endian() || e->nbytes == 0)
        return rt_atomic_write(f, e->data, e->nbytes, err);
    int size = ckpt_dtype_size(e->dtype);
    unsigned char buf[4096];
    const unsigned char *src = e->data;
    for (size_t i = 0; i < e->nbytes;) {
        size_t k = 0;
        for (; k < sizeof buf && i < e->nbytes; k += (size_t)size, i += (size_t)size) {
            uint64_t v;
            if (size == 4) {
                uint32_t u;
                memcpy(&u, src + i, 4);
                v = u;
            } else {
                memcpy(&v, src + i, 8);
            }
            put_le(buf + k, v, size);
        }
        if (!rt_atomic_write(f, buf, k, err))
            return false;
    }
    return true;
}

bool ckpt_write(CkptWriter *w, const char *path, char *err) {
    if (w->err[0])
        return rt_fail(err, "%s: %s", path, w->err);
    Sbuf h = {0};
    char num[64];
    sb_str(&h, "{");
    if (w->nmeta) {
        sb_str(&h, "\"__metadata__\":{");
        for (int i = 0; i < w->nmeta; i++) {
            if (i)
                sb_str(&h, ",");
            sb_json_string(&h, w->meta_keys[i]);
            sb_str(&h, ":");
            sb_json_string(&h, w->meta_values[i]);
        }
        sb_str(&h, "}");
    }
    size_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const WEntry *e = &w->entries[i];
        if (i || w->nmeta)
            sb_str(&h, ",");
        sb_json_string(&h, e->name);
        sb_str(&h, ":{\"dtype\":\"");
        sb_str(&h, ckpt_dtype_name(e->dtype));
        sb_str(&h, "\",\"shape\":[");
        for (int d = 0; d < e->rank; d++) {
            snprintf(num, sizeof num, "%s%" PRId64, d ? "," : "", e->shape[d]);
            sb_str(&h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%zu,%zu]}", off, off + e->nbytes);
        sb_str(&h, num);
        off += e->nbytes;
    }
    sb_str(&h, "}");
    while (h.n % 8)
        sb_str(&h, " ");
    if (h.oom) {
        free(h.s);
        return rt_fail(err, "%s: out of memory building the header", path);
    }
    unsigned char len8[8];
    put_le(len8, h.n, 8);
    RtAtomicFile *f = rt_atomic_open(path, err);
    bool ok = f && rt_atomic_write(f, len8, 8, err) && rt_atomic_write(f, h.s, h.n, err);
    for (int i = 0; ok && i < w->n; i++)
        ok = write_data(f, &w->entries[i], err);
    free(h.s);
    if (!f)
        return false;
    if (!ok) {
        rt_atomic_abort(f);
        return false;
    }
    return rt_atomic_commit(f, err);
}
