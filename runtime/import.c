/* import.c: PyTorch checkpoints (zip + pickle) and safetensors files read into an ImportSet
 * (import.h), and the `import` command that maps them onto the model's tensors.
 *
 * Hostile input: the whole file is in memory and every read goes through a bounds check;
 * the pickle machine has no recursion, limits its memo to the pickle's size, and never
 * follows a value cycle; inflated sizes are bounded by the deflate ratio limit. */
#include "import.h"
#include "cli.h"
#include "rt.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- little-endian fields --------------------------------------------------------------- */

static uint64_t le(const unsigned char *p, int size) {
    uint64_t v = 0;
    for (int i = size - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0 && man == 0) {
        bits = sign;
    } else if (exp == 0) {                    /* subnormal: renormalize */
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while (!(man & 0x400));
        bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static float element_to_float(const unsigned char *p, CkptDtype dt) {
    uint64_t v;
    switch (dt) {
    case CKPT_F32: {
        uint32_t b = (uint32_t)le(p, 4);
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    case CKPT_F64: {
        v = le(p, 8);
        double d;
        memcpy(&d, &v, 8);
        return (float)d;
    }
    case CKPT_F16:
        return half_to_float((uint16_t)le(p, 2));
    case CKPT_BF16: {
        uint32_t b = (uint32_t)le(p, 2) << 16;
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    default:
        return 0;
    }
}

static bool is_float_dtype(CkptDtype dt) {
    return dt == CKPT_F32 || dt == CKPT_F64 || dt == CKPT_F16 || dt == CKPT_BF16;
}

/* ---- zip ------------------------------------------------------------------------------- */

typedef struct ZipEntry {
    char *name;
    int method;                     /* 0 stored, 8 deflated */
    uint32_t crc;
    uint64_t csize, usize, local;
    unsigned char *inflated;        /* owned, for deflated entries once read */
} ZipEntry;

typedef struct Zip {
    const char *path;
    const unsigned char *buf;
    size_t len;
    int n;
    ZipEntry *e;
} Zip;

enum { ZIP_MAX_ENTRIES = 1 << 20, DEFLATE_MAX_RATIO = 1032 };

static void zip_free(Zip *z) {
    for (int i = 0; i < z->n; i++) {
        free(z->e[i].name);
        free(z->e[i].inflated);
    }
    free(z->e);
    z->e = NULL;
    z->n = 0;
}

static bool zip_bad(const Zip *z, char *err, const char *what) {
    return rt_fail(err, "%s: damaged PyTorch checkpoint: %s", z->path, what);
}

/* Reads the central directory (with zip64 records when present). */
static bool zip_open(Zip *z, char *err) {
    const unsigned char *b = z->buf;
    size_t len = z->len, eocd = SIZE_MAX;
    if (len < 22)
        return zip_bad(z, err, "the zip directory is missing (file cut off?)");
    size_t lo = len - 22 > 65535 ? len - 22 - 65535 : 0;
    for (size_t i = len - 22 + 1; i-- > lo;)
        if (le(b + i, 4) == 0x06054b50 && i + 22 + le(b + i + 20, 2) == len) {
            eocd = i;
            break;
        }
    if (eocd == SIZE_MAX)
        return zip_bad(z, err, "the zip directory is missing (file cut off?)");
    uint64_t count = le(b + eocd + 10, 2), cd_size = le(b + eocd + 12, 4), cd_off = le(b + eocd + 16, 4);
    if (eocd >= 20 && le(b + eocd - 20, 4) == 0x07064b50) {   /* zip64 locator */
        uint64_t off = le(b + eocd - 20 + 8, 8);
        if (off > len || len - off < 56 || le(b + off, 4) != 0x06064b50)
            return zip_bad(z, err, "the zip64 directory record is out of place");
        count = le(b + off + 32, 8);
        cd_size = le(b + off + 40, 8);
        cd_off = le(b + off + 48, 8);
    }
    if (cd_off > len || cd_size > len - cd_off)
        return zip_bad(z, err, "the zip directory points outside the file");
    if (count > cd_size / 46 || count > ZIP_MAX_ENTRIES)
        return zip_bad(z, err, "the zip directory's entry count does not fit its size");
    z->e = rt_alloc_array(count ? count : 1, sizeof(ZipEntry), "the zip directory", err);
    if (!z->e)
        return false;
    size_t p = cd_off, end = cd_off + cd_size;
    for (uint64_t k = 0; k < count; k++) {
        if (end - p < 46 || le(b + p, 4) != 0x02014b50)
            return zip_bad(z, err, "a zip directory entry is damaged");
        ZipEntry *e = &z->e[z->n];
        unsigned flags = (unsigned)le(b + p + 8, 2);
        e->method = (int)le(b + p + 10, 2);
        e->crc = (uint32_t)le(b + p + 16, 4);
        e->csize = le(b + p + 20, 4);
        e->usize = le(b + p + 24, 4);
        size_t nl = (size_t)le(b + p + 28, 2), xl = (size_t)le(b + p + 30, 2), cl = (size_t)le(b + p + 32, 2);
        e->local = le(b + p + 42, 4);
        if (end - p - 46 < nl + xl + cl)
            return zip_bad(z, err, "a zip directory entry runs past the directory");
        if (flags & 1)
            return zip_bad(z, err, "the zip is encrypted");
        if (!(e->name = rt_alloc(nl + 1, "a zip entry name", err)))
            return false;
        memcpy(e->name, b + p + 46, nl);
        z->n++;
        for (size_t x = p + 46 + nl; x + 4 <= p + 46 + nl + xl;) {   /* zip64 extra field */
            unsigned id = (unsigned)le(b + x, 2), sz = (unsigned)le(b + x + 2, 2);
            size_t body = x + 4, stop = p + 46 + nl + xl;
            if (sz > stop - body)
                return zip_bad(z, err, "a zip extra field runs past its entry");
            if (id == 1) {
                uint64_t *fields[3] = {&e->usize, &e->csize, &e->local};
                size_t q = body;
                for (int f = 0; f < 3; f++)
                    if (*fields[f] == 0xffffffffu) {
                        if (q + 8 > body + sz)
                            return zip_bad(z, err, "a zip64 extra field is too short");
                        *fields[f] = le(b + q, 8);
                        q += 8;
                    }
            }
            x = body + sz;
        }
        p += 46 + nl + xl + cl;
    }
    return true;
}

static ZipEntry *zip_find(Zip *z, const char *name) {
    for (int i = 0; i < z->n; i++)
        if (strcmp(z->e[i].name, name) == 0)
            return &z->e[i];
    return NULL;
}

static uint32_t crc_of(const unsigned char *p, uint64_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

/* The bytes of entry e (stored: inside the file; deflated: inflated once and kept). */
static bool zip_data(Zip *z, ZipEntry *e, const unsigned char **out, char *err) {
    const unsigned char *b = z->buf;
    char what[160];
    if (e->local > z->len || z->len - e->local < 30 || le(b + e->local, 4) != 0x04034b50) {
        snprintf(what, sizeof what, "the zip entry '%.80s' is not where the directory says", e->name);
        return zip_bad(z, err, what);
    }
    uint64_t data = e->local + 30 + le(b + e->local + 26, 2) + le(b + e->local + 28, 2);
    if (data > z->len || e->csize > z->len - data) {
        snprintf(what, sizeof what, "the zip entry '%.80s' runs past the end of the file (cut off?)", e->name);
        return zip_bad(z, err, what);
    }
    if (e->method == 0) {
        if (e->csize != e->usize) {
            snprintf(what, sizeof what, "the stored zip entry '%.80s' has two different sizes", e->name);
            return zip_bad(z, err, what);
        }
        *out = b + data;
    } else if (e->method == 8) {
        if (!e->inflated) {
            if (e->csize > UINT_MAX || e->usize > UINT_MAX ||
                e->usize > e->csize * DEFLATE_MAX_RATIO + 1024) {
                snprintf(what, sizeof what, "the deflated zip entry '%.80s' has impossible sizes", e->name);
                return zip_bad(z, err, what);
            }
            unsigned char *dst = rt_alloc((size_t)e->usize, "an inflated zip entry", err);
            if (!dst)
                return false;
            z_stream s;
            memset(&s, 0, sizeof s);
            if (inflateInit2(&s, -MAX_WBITS) != Z_OK) {
                free(dst);
                return rt_fail(err, "%s: zlib cannot start inflating", z->path);
            }
            s.next_in = (Bytef *)(uintptr_t)(b + data);
            s.avail_in = (uInt)e->csize;
            s.next_out = dst;
            s.avail_out = (uInt)e->usize;
            int rc = inflate(&s, Z_FINISH);
            bool ok = rc == Z_STREAM_END && s.total_out == e->usize;
            inflateEnd(&s);
            if (!ok) {
                free(dst);
                snprintf(what, sizeof what, "the deflated zip entry '%.80s' does not inflate to its size", e->name);
                return zip_bad(z, err, what);
            }
            e->inflated = dst;
        }
        *out = e->inflated;
    } else {
        snprintf(what, sizeof what, "zip entry '%.80s' uses compression method %d (only stored and deflated "
                 "are read)", e->name, e->method);
        return zip_bad(z, err, what);
    }
    if (crc_of(*out, e->usize) != e->crc) {
        snprintf(what, sizeof what, "the zip entry '%.80s' fails its CRC-32 check", e->name);
        return zip_bad(z, err, what);
    }
    return true;
}

/* ---- the pickle machine ------------------------------------------------------------------ */

enum { PV_NONE, PV_BOOL, PV_INT, PV_FLOAT, PV_STR, PV_TUPLE, PV_LIST, PV_DICT, PV_GLOBAL, PV_STORAGE,
       PV_TENSOR, PV_OBJ };

typedef struct PVal PVal;
struct PVal {
    int kind;
    int64_t i;                      /* int, bool; tensor: index; storage: element count */
    char *s;                        /* str, global ("module.name"), storage key */
    CkptDtype dtype;                /* storage */
    PVal **items;                   /* tuple, list; dict: key, value, key, value, ... */
    int n, cap;
};

typedef struct PtTensor {
    const PVal *storage;
    int64_t offset;
    int rank;
    int64_t shape[CKPT_MAX_RANK], stride[CKPT_MAX_RANK];
} PtTensor;

typedef struct Pickle {
    const char *path;
    const unsigned char *s;
    size_t n, pos, op_at;
    char *err;
    PVal **all;                     /* every value, for freeing */
    size_t nall, capall;
    PVal **stack;
    size_t depth, capstack;
    size_t *marks;
    size_t nmarks, capmarks;
    PVal **memo;
    size_t nmemo, memo_len;         /* slots allocated; entries stored (MEMOIZE's next index) */
    PtTensor *tensors;
    size_t ntensors, captensors;
} Pickle;

static bool pk_fail(Pickle *p, const char *fmt, const char *arg) {
    char what[160];
    snprintf(what, sizeof what, fmt, arg ? arg : "");
    return rt_fail(p->err, "%s: damaged PyTorch checkpoint: data.pkl byte %zu: %s", p->path, p->op_at, what);
}

static bool grow_array(void **items, size_t n, size_t *cap, size_t size, char *err) {
    if (n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 16;
    void *q = nc > SIZE_MAX / size ? NULL : realloc(*items, nc * size);
    if (!q)
        return rt_fail(err, "out of memory (reading a pickle)");
    *items = q;
    *cap = nc;
    return true;
}

static PVal *pv_new(Pickle *p, int kind) {
    if (!grow_array((void **)&p->all, p->nall, &p->capall, sizeof(PVal *), p->err))
        return NULL;
    PVal *v = calloc(1, sizeof *v);
    if (!v) {
        rt_fail(p->err, "out of memory (reading a pickle)");
        return NULL;
    }
    v->kind = kind;
    p->all[p->nall++] = v;
    return v;
}

static bool pv_append(Pickle *p, PVal *c, PVal *item) {
    size_t cap = (size_t)c->cap;
    if (c->n >= INT_MAX - 1)
        return pk_fail(p, "a container is too large", NULL);
    if (!grow_array((void **)&c->items, (size_t)c->n, &cap, sizeof(PVal *), p->err))
        return false;
    c->cap = (int)(cap > INT_MAX ? INT_MAX : cap);
    c->items[c->n++] = item;
    return true;
}

static bool push(Pickle *p, PVal *v) {
    if (!v)
        return false;
    if (!grow_array((void **)&p->stack, p->depth, &p->capstack, sizeof(PVal *), p->err))
        return false;
    p->stack[p->depth++] = v;
    return true;
}

static size_t floor_of_stack(const Pickle *p) {
    return p->nmarks ? p->marks[p->nmarks - 1] : 0;
}

static PVal *pop(Pickle *p) {
    if (p->depth <= floor_of_stack(p)) {
        pk_fail(p, "the stack is empty", NULL);
        return NULL;
    }
    return p->stack[--p->depth];
}

static PVal *top(Pickle *p) {
    if (p->depth <= floor_of_stack(p)) {
        pk_fail(p, "the stack is empty", NULL);
        return NULL;
    }
    return p->stack[p->depth - 1];
}

/* Pops everything above the last mark into a new container of the given kind. */
static PVal *pop_mark(Pickle *p, int kind) {
    if (!p->nmarks) {
        pk_fail(p, "no mark on the stack", NULL);
        return NULL;
    }
    size_t from = p->marks[--p->nmarks];
    PVal *c = pv_new(p, kind);
    if (!c)
        return NULL;
    for (size_t i = from; i < p->depth; i++)
        if (!pv_append(p, c, p->stack[i]))
            return NULL;
    p->depth = from;
    return c;
}

static bool need(Pickle *p, size_t k) {
    if (p->n - p->pos < k)
        return pk_fail(p, "the pickle ends in the middle of an instruction", NULL);
    return true;
}

static PVal *make_str(Pickle *p, size_t len) {
    if (!need(p, len))
        return NULL;
    PVal *v = pv_new(p, PV_STR);
    if (!v || !(v->s = rt_alloc(len + 1, "a pickle string", p->err)))
        return NULL;
    memcpy(v->s, p->s + p->pos, len);
    p->pos += len;
    v->i = (int64_t)len;
    return v;
}

static bool dict_set(Pickle *p, PVal *d, PVal *k, PVal *v) {
    if (d->kind == PV_DICT) {
        if (k->kind == PV_STR)   /* a repeated key replaces the value in place, as in Python */
            for (int i = 0; i + 1 < d->n; i += 2)
                if (d->items[i]->kind == PV_STR && strcmp(d->items[i]->s, k->s) == 0) {
                    d->items[i + 1] = v;
                    return true;
                }
        return pv_append(p, d, k) && pv_append(p, d, v);
    }
    if (d->kind == PV_OBJ)   /* setting items of an opaque object: ignored */
        return true;
    return pk_fail(p, "SETITEM on something that is not a dict", NULL);
}

static bool storage_dtype(const char *global, CkptDtype *dt) {
    static const struct { const char *name; CkptDtype dt; } map[] = {
        {"torch.FloatStorage", CKPT_F32}, {"torch.DoubleStorage", CKPT_F64}, {"torch.HalfStorage", CKPT_F16},
        {"torch.BFloat16Storage", CKPT_BF16}, {"torch.LongStorage", CKPT_I64}, {"torch.IntStorage", CKPT_I32},
        {"torch.ShortStorage", CKPT_I16}, {"torch.CharStorage", CKPT_I8}, {"torch.ByteStorage", CKPT_U8},
        {"torch.BoolStorage", CKPT_BOOL},
        {"torch.float32", CKPT_F32}, {"torch.float64", CKPT_F64}, {"torch.float16", CKPT_F16},
        {"torch.bfloat16", CKPT_BF16}, {"torch.int64", CKPT_I64}, {"torch.int32", CKPT_I32},
        {"torch.int16", CKPT_I16}, {"torch.int8", CKPT_I8}, {"torch.uint8", CKPT_U8}, {"torch.bool", CKPT_BOOL},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(global, map[i].name) == 0) {
            *dt = map[i].dt;
            return true;
        }
    return false;
}

/* BINPERSID: ('storage', torch.XStorage, key, location, numel) */
static PVal *persistent_load(Pickle *p, PVal *pid) {
    if (pid->kind != PV_TUPLE || pid->n < 5 || pid->items[0]->kind != PV_STR ||
        strcmp(pid->items[0]->s, "storage") != 0 || pid->items[1]->kind != PV_GLOBAL ||
        pid->items[2]->kind != PV_STR || pid->items[4]->kind != PV_INT) {
        pk_fail(p, "a persistent id that is not ('storage', type, key, location, size)", NULL);
        return NULL;
    }
    PVal *v = pv_new(p, PV_STORAGE);
    if (!v)
        return NULL;
    if (!storage_dtype(pid->items[1]->s, &v->dtype)) {
        pk_fail(p, "unsupported storage type %s", pid->items[1]->s);
        return NULL;
    }
    v->s = pid->items[2]->s;   /* owned by the key's value */
    v->i = pid->items[4]->i;
    if (v->i < 0) {
        pk_fail(p, "a storage has a negative size", NULL);
        return NULL;
    }
    return v;
}

static bool int_tuple(const PVal *t, int64_t *out, int *n) {
    if (t->kind != PV_TUPLE || t->n > CKPT_MAX_RANK)
        return false;
    for (int i = 0; i < t->n; i++) {
        if (t->items[i]->kind != PV_INT)
            return false;
        out[i] = t->items[i]->i;
    }
    *n = t->n;
    return true;
}

static PVal *reduce(Pickle *p, PVal *f, PVal *args) {
    const char *name = f->kind == PV_GLOBAL ? f->s : "";
    if (args->kind != PV_TUPLE) {
        pk_fail(p, "REDUCE with arguments that are not a tuple", NULL);
        return NULL;
    }
    if (strcmp(name, "collections.OrderedDict") == 0 && args->n == 0)
        return pv_new(p, PV_DICT);
    if ((strcmp(name, "torch._utils._rebuild_parameter") == 0 ||
         strcmp(name, "torch._utils._rebuild_parameter_with_state") == 0) &&
        args->n >= 1 && args->items[0]->kind == PV_TENSOR)
        return args->items[0];
    bool v2 = strcmp(name, "torch._utils._rebuild_tensor_v2") == 0 ||
              strcmp(name, "torch._utils._rebuild_tensor") == 0;
    bool v3 = strcmp(name, "torch._utils._rebuild_tensor_v3") == 0;
    if (!v2 && !v3)
        return pv_new(p, PV_OBJ);
    PtTensor t = {0};
    int nstride = 0;
    if (args->n < 4 || args->items[0]->kind != PV_STORAGE || args->items[1]->kind != PV_INT ||
        !int_tuple(args->items[2], t.shape, &t.rank) || !int_tuple(args->items[3], t.stride, &nstride) ||
        nstride != t.rank) {
        pk_fail(p, "%s with arguments other than (storage, offset, size, stride, ...) (or rank above 8)", name);
        return NULL;
    }
    t.storage = args->items[0];
    t.offset = args->items[1]->i;
    if (v3) {   /* the dtype comes as argument 6 */
        PVal *dtv = args->n > 6 ? args->items[6] : NULL;
        PVal *st = pv_new(p, PV_STORAGE);
        if (!st)
            return NULL;
        *st = *t.storage;
        st->items = NULL, st->n = st->cap = 0;
        if (!dtv || dtv->kind != PV_GLOBAL || !storage_dtype(dtv->s, &st->dtype)) {
            pk_fail(p, "_rebuild_tensor_v3 without a dtype cnnc knows", NULL);
            return NULL;
        }
        int es = ckpt_dtype_size(st->dtype);
        st->i = t.storage->i / es;   /* an untyped storage counts bytes */
        t.storage = st;
    }
    if (!grow_array((void **)&p->tensors, p->ntensors, &p->captensors, sizeof t, p->err))
        return NULL;
    p->tensors[p->ntensors] = t;
    PVal *v = pv_new(p, PV_TENSOR);
    if (v)
        v->i = (int64_t)p->ntensors++;
    return v;
}

static bool memo_put(Pickle *p, uint64_t idx) {
    PVal *v = top(p);
    if (!v)
        return false;
    if (idx > p->pos)   /* each memo entry costs at least 2 bytes of pickle before it */
        return pk_fail(p, "a memo index beyond the pickle's size", NULL);
    if (idx >= p->nmemo) {
        size_t nn = (size_t)idx + 1 > 2 * p->nmemo ? (size_t)idx + 1 : 2 * p->nmemo;
        PVal **q = realloc(p->memo, nn * sizeof *q);
        if (!q)
            return rt_fail(p->err, "out of memory (reading a pickle)");
        memset(q + p->nmemo, 0, (nn - p->nmemo) * sizeof *q);
        p->memo = q;
        p->nmemo = nn;
    }
    if (!p->memo[idx])
        p->memo_len++;
    p->memo[idx] = v;
    return true;
}

static bool memo_get(Pickle *p, uint64_t idx) {
    if (idx >= p->nmemo || !p->memo[idx])
        return pk_fail(p, "a memo lookup of an entry never stored", NULL);
    return push(p, p->memo[idx]);
}

static PVal *run_pickle(Pickle *p) {
    while (p->pos < p->n) {
        p->op_at = p->pos;
        unsigned char op = p->s[p->pos++];
        PVal *a, *b, *c;
        switch (op) {
        case 0x80:   /* PROTO */
            if (!need(p, 1))
                return NULL;
            if (p->s[p->pos] > 5)
                return pk_fail(p, "pickle protocol above 5", NULL), NULL;
            p->pos++;
            break;
        case 0x95:   /* FRAME */
            if (!need(p, 8))
                return NULL;
            p->pos += 8;
            break;
        case '.':    /* STOP */
            if (p->depth != 1 || p->nmarks)
                return pk_fail(p, "STOP with a stack that does not hold exactly one value", NULL), NULL;
            return p->stack[0];
        case '(':
            if (!grow_array((void **)&p->marks, p->nmarks, &p->capmarks, sizeof(size_t), p->err))
                return NULL;
            p->marks[p->nmarks++] = p->depth;
            break;
        case ')':
            if (!push(p, pv_new(p, PV_TUPLE)))
                return NULL;
            break;
        case ']':
            if (!push(p, pv_new(p, PV_LIST)))
                return NULL;
            break;
        case '}':
            if (!push(p, pv_new(p, PV_DICT)))
                return NULL;
            break;
        case 'N':
            if (!push(p, pv_new(p, PV_NONE)))
                return NULL;
            break;
        case 0x88:
        case 0x89:
            if (!push(p, a = pv_new(p, PV_BOOL)))
                return NULL;
            a->i = op == 0x88;
            break;
        case 'K':
        case 'M':
        case 'J': {
            int sz = op == 'K' ? 1 : op == 'M' ? 2 : 4;
            if (!need(p, (size_t)sz) || !push(p, a = pv_new(p, PV_INT)))
                return NULL;
            uint64_t v = le(p->s + p->pos, sz);
            a->i = op == 'J' ? (int64_t)(int32_t)(uint32_t)v : (int64_t)v;
            p->pos += (size_t)sz;
            break;
        }
        case 0x8a: { /* LONG1 */
            if (!need(p, 1))
                return NULL;
            int sz = p->s[p->pos++];
            if (sz > 8)
                return pk_fail(p, "an integer wider than 64 bits", NULL), NULL;
            if (!need(p, (size_t)sz) || !push(p, a = pv_new(p, PV_INT)))
                return NULL;
            uint64_t v = sz ? le(p->s + p->pos, sz) : 0;
            if (sz > 0 && sz < 8 && (p->s[p->pos + sz - 1] & 0x80))
                v |= ~0ULL << (8 * sz);   /* sign-extend */
            a->i = (int64_t)v;
            p->pos += (size_t)sz;
            break;
        }
        case 'G': {  /* BINFLOAT, big-endian */
            if (!need(p, 8) || !push(p, a = pv_new(p, PV_FLOAT)))
                return NULL;
            p->pos += 8;
            break;
        }
        case 'X':
        case 0x8c:
        case 0x8d:
        case 'T':
        case 'U':
        case 'B':
        case 'C':
        case 0x8e: { /* str and bytes, kept as strings */
            int sz = (op == 0x8c || op == 'U' || op == 'C') ? 1 : (op == 0x8d || op == 0x8e) ? 8 : 4;
            if (!need(p, (size_t)sz))
                return NULL;
            uint64_t len = le(p->s + p->pos, sz);
            p->pos += (size_t)sz;
            if (len > p->n - p->pos)
                return pk_fail(p, "a string runs past the end of the pickle", NULL), NULL;
            if (!push(p, make_str(p, (size_t)len)))
                return NULL;
            break;
        }
        case 'c': {  /* GLOBAL module\nname\n */
            const unsigned char *s = p->s + p->pos, *nl1 = memchr(s, '\n', p->n - p->pos);
            const unsigned char *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(p->s + p->n - nl1 - 1)) : NULL;
            if (!nl2)
                return pk_fail(p, "GLOBAL without two lines", NULL), NULL;
            size_t len = (size_t)(nl2 - s);
            if (!push(p, a = make_str(p, len)))
                return NULL;
            a->kind = PV_GLOBAL;
            a->s[nl1 - s] = '.';
            p->pos++;
            break;
        }
        case 0x93: { /* STACK_GLOBAL */
            if (!(b = pop(p)) || !(a = pop(p)))
                return NULL;
            if (a->kind != PV_STR || b->kind != PV_STR)
                return pk_fail(p, "STACK_GLOBAL of something that is not two strings", NULL), NULL;
            size_t la = strlen(a->s), lb = strlen(b->s);
            if (!push(p, c = pv_new(p, PV_GLOBAL)) || !(c->s = rt_alloc(la + lb + 2, "a global", p->err)))
                return NULL;
            memcpy(c->s, a->s, la);
            c->s[la] = '.';
            memcpy(c->s + la + 1, b->s, lb);
            break;
        }
        case 'q':
        case 'r':
            if (!need(p, op == 'q' ? 1 : 4))
                return NULL;
            p->pos += op == 'q' ? 1 : 4;
            if (!memo_put(p, le(p->s + p->pos - (op == 'q' ? 1 : 4), op == 'q' ? 1 : 4)))
                return NULL;
            break;
        case 0x94:   /* MEMOIZE */
            if (!memo_put(p, p->memo_len))
                return NULL;
            break;
        case 'h':
        case 'j':
            if (!need(p, op == 'h' ? 1 : 4))
                return NULL;
            p->pos += op == 'h' ? 1 : 4;
            if (!memo_get(p, le(p->s + p->pos - (op == 'h' ? 1 : 4), op == 'h' ? 1 : 4)))
                return NULL;
            break;
        case 't':
            if (!push(p, pop_mark(p, PV_TUPLE)))
                return NULL;
            break;
        case 'l':
            if (!push(p, pop_mark(p, PV_LIST)))
                return NULL;
            break;
        case 0x85:
        case 0x86:
        case 0x87: {
            int k = op - 0x84;
            PVal *items[3];
            for (int i = k - 1; i >= 0; i--)
                if (!(items[i] = pop(p)))
                    return NULL;
            if (!(c = pv_new(p, PV_TUPLE)))
                return NULL;
            for (int i = 0; i < k; i++)
                if (!pv_append(p, c, items[i]))
                    return NULL;
            if (!push(p, c))
                return NULL;
            break;
        }
        case 'a':
            if (!(b = pop(p)) || !(a = top(p)))
                return NULL;
            if (a->kind != PV_LIST && a->kind != PV_OBJ)
                return pk_fail(p, "APPEND to something that is not a list", NULL), NULL;
            if (a->kind == PV_LIST && !pv_append(p, a, b))
                return NULL;
            break;
        case 'e':
            if (!(c = pop_mark(p, PV_LIST)) || !(a = top(p)))
                return NULL;
            if (a->kind != PV_LIST && a->kind != PV_OBJ)
                return pk_fail(p, "APPENDS to something that is not a list", NULL), NULL;
            for (int i = 0; a->kind == PV_LIST && i < c->n; i++)
                if (!pv_append(p, a, c->items[i]))
                    return NULL;
            break;
        case 'd':
            if (!(c = pop_mark(p, PV_TUPLE)) || !push(p, a = pv_new(p, PV_DICT)))
                return NULL;
            if (c->n % 2)
                return pk_fail(p, "DICT with an odd number of items", NULL), NULL;
            for (int i = 0; i < c->n; i += 2)
                if (!dict_set(p, a, c->items[i], c->items[i + 1]))
                    return NULL;
            break;
        case 's':
            if (!(c = pop(p)) || !(b = pop(p)) || !(a = top(p)) || !dict_set(p, a, b, c))
                return NULL;
            break;
        case 'u':
            if (!(c = pop_mark(p, PV_TUPLE)) || !(a = top(p)))
                return NULL;
            if (c->n % 2)
                return pk_fail(p, "SETITEMS with an odd number of items", NULL), NULL;
            for (int i = 0; i < c->n; i += 2)
                if (!dict_set(p, a, c->items[i], c->items[i + 1]))
                    return NULL;
            break;
        case 'R':
            if (!(b = pop(p)) || !(a = pop(p)) || !push(p, reduce(p, a, b)))
                return NULL;
            break;
        case 0x81:   /* NEWOBJ: cls, args */
            if (!(b = pop(p)) || !(a = pop(p)) || !push(p, pv_new(p, PV_OBJ)))
                return NULL;
            break;
        case 'Q':
            if (!(a = pop(p)) || !push(p, persistent_load(p, a)))
                return NULL;
            break;
        case 'b':    /* BUILD: the state is dropped (a state_dict's _metadata) */
            if (!(b = pop(p)) || !top(p))
                return NULL;
            break;
        case '0':
            if (!pop(p))
                return NULL;
            break;
        case '2':
            if (!(a = top(p)) || !push(p, a))
                return NULL;
            break;
        case '1':
            if (!p->nmarks)
                return pk_fail(p, "POP_MARK without a mark", NULL), NULL;
            p->depth = p->marks[--p->nmarks];
            break;
        default: {
            char code[8];
            snprintf(code, sizeof code, "0x%02x", op);
            return pk_fail(p, "unsupported pickle opcode %s", code), NULL;
        }
        }
    }
    p->op_at = p->n;
    return pk_fail(p, "the pickle ends without STOP (cut off?)", NULL), NULL;
}

static void pickle_free(Pickle *p) {
    for (size_t i = 0; i < p->nall; i++) {
        if (p->all[i]->kind != PV_STORAGE)
            free(p->all[i]->s);
        free(p->all[i]->items);
        free(p->all[i]);
    }
    free(p->all), free(p->stack), free(p->marks), free(p->memo), free(p->tensors);
}

static int count_tensor_values(const PVal *d) {
    int k = 0;
    for (int i = 0; i + 1 < d->n; i += 2)
        k += d->items[i]->kind == PV_STR && d->items[i + 1]->kind == PV_TENSOR;
    return k;
}

/* The dict of tensors: the saved object itself, or its 'state_dict' (or 'model', ...) entry. */
static const PVal *find_state_dict(const PVal *v) {
    if (v->kind != PV_DICT)
        return NULL;
    if (count_tensor_values(v) > 0)
        return v;
    static const char *keys[] = {"state_dict", "model_state_dict", "model", "net", "module", "weights"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        for (int i = 0; i + 1 < v->n; i += 2)
            if (v->items[i]->kind == PV_STR && strcmp(v->items[i]->s, keys[k]) == 0 &&
                v->items[i + 1]->kind == PV_DICT && count_tensor_values(v->items[i + 1]) > 0)
                return v->items[i + 1];
    return NULL;
}

/* Checks that every element of tensor t (a strided view of a storage) lies in the storage and
 * the storage in its entry of nbytes bytes. */
static bool check_view(const char *path, const char *name, const PtTensor *t, uint64_t nbytes, char *err) {
    int es = ckpt_dtype_size(t->storage->dtype);
    uint64_t storage_n = (uint64_t)t->storage->i;
    if (storage_n > nbytes / (uint64_t)es)
        return rt_fail(err, "%s: damaged PyTorch checkpoint: storage '%.40s' of tensor '%.60s' holds %" PRIu64
                       " bytes, %" PRIu64 " elements expected", path, t->storage->s, name, nbytes, storage_n);
    uint64_t last = (uint64_t)t->offset, numel = 1;
    if (t->offset < 0)
        return rt_fail(err, "%s: damaged PyTorch checkpoint: tensor '%.60s' has a negative offset", path, name);
    for (int d = 0; d < t->rank; d++) {
        if (t->shape[d] < 0 || t->stride[d] < 0)
            return rt_fail(err, "%s: damaged PyTorch checkpoint: tensor '%.60s' has a negative size or stride",
                           path, name);
        numel *= (uint64_t)t->shape[d];
    }
    if (numel == 0)
        return true;
    for (int d = 0; d < t->rank; d++) {
        uint64_t span = (uint64_t)(t->shape[d] - 1);
        if (t->stride[d] && span > (storage_n + 1) / (uint64_t)t->stride[d] + 1)
            return rt_fail(err, "%s: damaged PyTorch checkpoint: tensor '%.60s' reaches past its storage", path, name);
        last += span * (uint64_t)t->stride[d];
        if (last >= storage_n)
            return rt_fail(err, "%s: damaged PyTorch checkpoint: tensor '%.60s' reaches past its storage "
                           "(%" PRIu64 " elements)", path, name, storage_n);
    }
    return true;
}

/* Copies tensor t, checked by check_view, into dst as floats. */
static void gather(const PtTensor *t, const unsigned char *bytes, float *dst) {
    int es = ckpt_dtype_size(t->storage->dtype);
    uint64_t numel = 1;
    for (int d = 0; d < t->rank; d++)
        numel *= (uint64_t)t->shape[d];
    int64_t idx[CKPT_MAX_RANK] = {0};
    for (uint64_t k = 0; k < numel; k++) {
        uint64_t off = (uint64_t)t->offset;
        for (int d = 0; d < t->rank; d++)
            off += (uint64_t)idx[d] * (uint64_t)t->stride[d];
        dst[k] = element_to_float(bytes + off * (uint64_t)es, t->storage->dtype);
        for (int d = t->rank - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d])
                break;
            idx[d] = 0;
        }
    }
}

static bool shape_numel(const char *path, const char *name, const int64_t *shape, int rank, int64_t *numel,
                        char *err) {
    int64_t n = 1;
    for (int d = 0; d < rank; d++) {
        if (shape[d] < 0 || (shape[d] > 0 && n > ((int64_t)1 << 32) / shape[d]))
            return rt_fail(err, "%s: tensor '%.60s' has an impossible shape", path, name);
        n *= shape[d];
    }
    *numel = n;
    return true;
}

static bool read_torch_zip(const char *path, const unsigned char *buf, size_t len, ImportSet *s, char *err) {
    Zip z = {.path = path, .buf = buf, .len = len};
    Pickle p = {.path = path, .err = err};
    bool ok = zip_open(&z, err);
    ZipEntry *pkl = NULL;
    char prefix[512] = "";
    for (int i = 0; ok && i < z.n; i++) {
        size_t nl = strlen(z.e[i].name);
        const char *slash = strchr(z.e[i].name, '/');
        if (nl >= 9 && strcmp(z.e[i].name + nl - 9, "/data.pkl") == 0 && slash == z.e[i].name + nl - 9 &&
            nl - 8 < sizeof prefix) {
            pkl = &z.e[i];
            memcpy(prefix, z.e[i].name, nl - 8);
            prefix[nl - 8] = 0;
            break;
        }
    }
    if (ok && !pkl) {
        bool script = false;
        for (int i = 0; i < z.n; i++)
            script |= strstr(z.e[i].name, "constants.pkl") != NULL;
        ok = script ? rt_fail(err, "%s: a TorchScript archive (torch.jit.save), not a state_dict: save "
                              "model.state_dict() with torch.save", path)
                    : rt_fail(err, "%s: a zip file without ARCHIVE/data.pkl: not a PyTorch checkpoint", path);
    }
    if (ok) {
        char name[600];
        snprintf(name, sizeof name, "%sbyteorder", prefix);
        ZipEntry *bo = zip_find(&z, name);
        const unsigned char *bytes;
        if (bo && (ok = zip_data(&z, bo, &bytes, err)) && !(bo->usize == 6 && memcmp(bytes, "little", 6) == 0))
            ok = rt_fail(err, "%s: the checkpoint was written big-endian; only little-endian files are read", path);
    }
    const unsigned char *pk = NULL;
    if (ok)
        ok = zip_data(&z, pkl, &pk, err);
    const PVal *dict = NULL;
    if (ok) {
        p.s = pk;
        p.n = (size_t)pkl->usize;
        const PVal *root = run_pickle(&p);
        ok = root != NULL;
        if (ok && !(dict = find_state_dict(root)))
            ok = root->kind == PV_OBJ || root->kind == PV_TENSOR
                     ? rt_fail(err, "%s: holds a pickled object, not a state_dict: save model.state_dict() with "
                               "torch.save", path)
                     : rt_fail(err, "%s: holds no dict of tensors (a state_dict, or a dict with one under "
                               "'state_dict' or 'model')", path);
    }
    if (ok) {
        s->format = "PyTorch zip";
        s->t = rt_alloc_array((size_t)dict->n / 2 + 1, sizeof(ImportTensor), "the tensor list", err);
        ok = s->t != NULL;
    }
    for (int i = 0; ok && i + 1 < dict->n; i += 2) {
        const PVal *k = dict->items[i], *v = dict->items[i + 1];
        if (k->kind != PV_STR || v->kind != PV_TENSOR)
            continue;
        const PtTensor *t = &p.tensors[v->i];
        ImportTensor *it = &s->t[s->n];
        if (!(ok = (it->name = rt_strdup(k->s, err)) != NULL))
            break;
        s->n++;
        it->dtype = t->storage->dtype;
        it->rank = t->rank;
        memcpy(it->shape, t->shape, sizeof it->shape);
        if (!(ok = shape_numel(path, k->s, t->shape, t->rank, &it->numel, err)))
            break;
        if (!is_float_dtype(it->dtype))
            continue;
        char ename[700];
        snprintf(ename, sizeof ename, "%sdata/%s", prefix, t->storage->s);
        ZipEntry *e = zip_find(&z, ename);
        const unsigned char *bytes = NULL;
        if (!e) {
            ok = rt_fail(err, "%s: damaged PyTorch checkpoint: tensor '%.60s' needs storage '%.60s', which is "
                         "not in the archive", path, k->s, ename);
            break;
        }
        ok = zip_data(&z, e, &bytes, err) && check_view(path, k->s, t, e->usize, err) &&
             (it->data = rt_alloc_array((size_t)(it->numel ? it->numel : 1), sizeof(float), "a tensor", err));
        if (ok)
            gather(t, bytes, it->data);
    }
    zip_free(&z);
    pickle_free(&p);
    if (!ok)
        import_free(s);
    return ok;
}

static bool read_safetensors(const char *path, const unsigned char *buf, size_t len, ImportSet *s, char *err) {
    Ckpt *c = ckpt_parse(path, buf, len, err);
    if (!c)
        return false;
    bool ok = (s->t = rt_alloc_array((size_t)c->ntensors + 1, sizeof(ImportTensor), "the tensor list", err));
    s->format = "safetensors";
    for (int i = 0; ok && i < c->ntensors; i++) {
        const CkptTensor *ct = &c->tensors[i];
        ImportTensor *it = &s->t[s->n];
        if (!(ok = (it->name = rt_strdup(ct->name, err)) != NULL))
            break;
        s->n++;
        it->dtype = ct->dtype;
        it->rank = ct->rank;
        memcpy(it->shape, ct->shape, sizeof it->shape);
        it->numel = ct->numel;
        if (!is_float_dtype(ct->dtype))
            continue;
        int es = ckpt_dtype_size(ct->dtype);
        ok = (it->data = rt_alloc_array((size_t)(ct->numel ? ct->numel : 1), sizeof(float), "a tensor", err));
        for (int64_t k = 0; ok && k < ct->numel; k++)
            it->data[k] = element_to_float(ct->data + k * es, ct->dtype);
    }
    ckpt_free(c);
    if (!ok)
        import_free(s);
    return ok;
}

bool import_parse(const char *path, const unsigned char *buf, size_t len, ImportSet *s, char *err) {
    memset(s, 0, sizeof *s);
    if (len >= 4 && memcmp(buf, "PK\x03\x04", 4) == 0)
        return read_torch_zip(path, buf, len, s, err);
    if (len >= 4 && memcmp(buf, "PK\x05\x06", 4) == 0)
        return rt_fail(err, "%s: an empty zip file, not a PyTorch checkpoint", path);
    if (len >= 2 && buf[0] == 0x80 && buf[1] <= 5)
        return rt_fail(err, "%s: a PyTorch checkpoint in the legacy format (before PyTorch 1.6); load it in "
                       "PyTorch and save it again with torch.save", path);
    if (len >= 9 && buf[8] == '{')
        return read_safetensors(path, buf, len, s, err);
    return rt_fail(err, "%s: neither a PyTorch checkpoint (zip) nor a safetensors file", path);
}

bool import_read(const char *path, ImportSet *s, char *err) {
    unsigned char *buf;
    size_t len;
    memset(s, 0, sizeof *s);
    if (!rt_read_file(path, &buf, &len, err))
        return false;
    bool ok = import_parse(path, buf, len, s, err);
    free(buf);
    return ok;
}

void import_free(ImportSet *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->t[i].name);
        free(s->t[i].data);
    }
    free(s->t);
    memset(s, 0, sizeof *s);
}

/* ---- the command ------------------------------------------------------------------------- */

static const char help[] =
    "import SRC -o DST.safetensors [--partial]\n"
    "\n"
    "Reads SRC, a PyTorch checkpoint (.pt/.pth: a state_dict saved with torch.save by PyTorch 1.6 or\n"
    "later, or a dict holding one under 'state_dict' or 'model') or a safetensors file, and writes the\n"
    "model's tensors, with the model's names, as F32 to DST (F16, BF16 and F64 are converted).\n"
    "Integer tensors of SRC (batchnorm's num_batches_tracked) are skipped.\n"
    "\n"
    "Matching: when every tensor name of the model is in SRC, by name; otherwise in order: the\n"
    "k-th float tensor of SRC goes to the k-th tensor of the model ('PROGRAM info' and cnnc\n"
    "--emit=params list them), as PyTorch keeps a state_dict in the order the modules were\n"
    "registered. Every pair must agree in shape. The mapping table is printed; the first pair\n"
    "whose shapes differ is an error (exit 1).\n"
    "\n"
    "  -o, --output FILE  the safetensors file to write (replaced atomically)\n"
    "  --partial          map the longest prefix whose shapes agree (a new classifier head stays\n"
    "                     fresh: 'train --init-from DST' starts the rest from DST); the tensors\n"
    "                     not written are listed\n";

static bool same_shape(const CnnTensorInfo *t, const ImportTensor *s) {
    if (t->rank != s->rank)
        return false;
    for (int d = 0; d < t->rank; d++)
        if (t->shape[d] != s->shape[d])
            return false;
    return true;
}

static void model_shape(const CnnTensorInfo *t, char *buf, size_t size) {
    int64_t sh[4];
    for (int d = 0; d < t->rank; d++)
        sh[d] = t->shape[d];
    ckpt_format_shape(sh, t->rank, buf, size);
}

int cmd_import(const CnnModel *m, int argc, char **argv) {
    const char *out = NULL, *pos[2] = {NULL, NULL};
    bool partial = false;
    int npos = 0;
    const char *positional[64];
    const CliOption opts[] = {{"-o", &out, NULL}, {"--output", &out, NULL}, {"--partial", NULL, &partial}, {0}};
    if (argc > 64)
        return cli_error(EXIT_USAGE, "import takes one source file (see '%s import --help')", cli_prog);
    int rc = cli_parse("import", help, opts, argc, argv, positional, &npos);
    if (rc >= 0)
        return rc;
    if (npos != 1)
        return cli_error(EXIT_USAGE, "import takes exactly one source file, not %d (see '%s import --help')", npos,
                         cli_prog);
    pos[0] = positional[0];
    if (!cli_require("import", "-o DST.safetensors", out))
        return EXIT_USAGE;

    char err[RT_ERR_LEN];
    ImportSet s;
    if (!import_read(pos[0], &s, err))
        return cli_error(EXIT_BAD_INPUT, "%s", err);
    int *map = rt_alloc_array((size_t)m->ntensors + 1, sizeof(int), "the mapping", err);
    int *floats = rt_alloc_array((size_t)s.n + 1, sizeof(int), "the mapping", err);
    if (!map || !floats) {
        free(map), free(floats), import_free(&s);
        return cli_error(EXIT_BAD_INPUT, "%s", err);
    }
    int nfloat = 0;
    for (int i = 0; i < s.n; i++)
        if (s.t[i].data || (is_float_dtype(s.t[i].dtype) && s.t[i].numel == 0))
            floats[nfloat++] = i;
    bool by_name = true;
    for (int i = 0; by_name && i < m->ntensors; i++) {
        by_name = false;
        for (int k = 0; k < nfloat; k++)
            if (strcmp(s.t[floats[k]].name, m->tensors[i].name) == 0)
                by_name = true;
    }
    /* map[i]: source index of model tensor i, or -1 (fresh). */
    int mapped = 0, first_bad = -1, bad_src = -1;
    for (int i = 0; i < m->ntensors; i++) {
        map[i] = -1;
        int k = -1;
        if (by_name) {
            for (int j = 0; j < nfloat && k < 0; j++)
                if (strcmp(s.t[floats[j]].name, m->tensors[i].name) == 0)
                    k = floats[j];
        } else if (first_bad < 0 && i < nfloat) {
            k = floats[i];
        }
        if (k < 0)
            continue;
        if (same_shape(&m->tensors[i], &s.t[k])) {
            map[i] = k;
            mapped++;
        } else if (first_bad < 0) {
            first_bad = i;
            bad_src = k;
        }
    }
    printf("import %s (%s, %d tensors, %d of them float) onto %s (%d tensors), by %s\n", pos[0], s.format, s.n,
           nfloat, m->name, m->ntensors, by_name ? "name" : "order");
    for (int i = 0; i < m->ntensors; i++) {
        char ms[96];
        model_shape(&m->tensors[i], ms, sizeof ms);
        if (map[i] >= 0) {
            printf("  %-40s %-18s <- %s %s\n", m->tensors[i].name, ms, s.t[map[i]].name,
                   ckpt_dtype_name(s.t[map[i]].dtype));
        } else {
            printf("  %-40s %-18s    (fresh)\n", m->tensors[i].name, ms);
        }
    }
    bool ok = true;
    if (first_bad >= 0 && !partial) {
        char ms[96], ss[96];
        model_shape(&m->tensors[first_bad], ms, sizeof ms);
        ckpt_format_shape(s.t[bad_src].shape, s.t[bad_src].rank, ss, sizeof ss);
        ok = rt_fail(err, "%s: tensor '%s' %s does not fit the model's '%s' %s (use --partial to keep the "
                     "match before it)", pos[0], s.t[bad_src].name, ss, m->tensors[first_bad].name, ms);
    } else if (!partial && mapped < m->ntensors) {
        int i = 0;
        while (map[i] >= 0)
            i++;
        ok = rt_fail(err, "%s: has no tensor for the model's '%s' (%d of %d tensors matched; use --partial to "
                     "write those)", pos[0], m->tensors[i].name, mapped, m->ntensors);
    } else if (!partial && !by_name && nfloat > m->ntensors) {
        ok = rt_fail(err, "%s: has %d float tensors, the model %d: '%s' and after are left over (use --partial "
                     "to write the match anyway)", pos[0], nfloat, m->ntensors, s.t[floats[m->ntensors]].name);
    } else if (mapped == 0) {
        ok = rt_fail(err, "%s: not one tensor fits the model (the first: '%s')", pos[0],
                     nfloat ? s.t[floats[0]].name : "none");
    }
    if (ok) {
        CkptWriter *w = ckpt_writer_new();
        if (!w) {
            ok = rt_fail(err, "out of memory");
        } else {
            ckpt_add_meta(w, "model", m->name);
            ckpt_add_meta(w, "imported_from", pos[0]);
            for (int i = 0; i < m->ntensors; i++)
                if (map[i] >= 0)
                    ckpt_add_f32(w, m->tensors[i].name, m->tensors[i].shape, m->tensors[i].rank, s.t[map[i]].data);
            const int64_t zero = 0;
            if (mapped == m->ntensors)
                cli_add_batch_counters(w, m, &zero);
            ok = ckpt_write(w, out, err);
            ckpt_writer_free(w);
        }
    }
    if (ok) {
        if (mapped < m->ntensors) {
            printf("fresh (not written):");
            for (int i = 0, k = 0; i < m->ntensors; i++)
                if (map[i] < 0)
                    printf("%s %s", k++ ? "," : "", m->tensors[i].name);
            printf("\n");
        }
        printf("wrote %s: %d of %d tensors\n", out, mapped, m->ntensors);
    }
    free(map), free(floats);
    import_free(&s);
    return ok ? 0 : cli_error(EXIT_BAD_INPUT, "%s", err);
}
