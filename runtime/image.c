/* image.c: image files through stb_image (the one translation unit that instantiates it),
 * channel conversion and our own bilinear resize. */
#include "image.h"
#include "rt.h"

#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#define STBI_NO_HDR
#define STBI_NO_LINEAR
#define STBI_NO_STDIO   /* files are read by rt_read_file, so open errors say why */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wcast-qual"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

/* The largest image decoded, in pixels (each side at most IMAGE_MAX_SIDE): checked from the
 * header before any pixel is decoded, so a small file declaring a huge image costs nothing. */
enum { IMAGE_MAX_SIDE = 1 << 15, IMAGE_MAX_PIXELS = 1 << 25 };

/* Binary PGM/PPM (P5/P6) are parsed here rather than by stb_image 2.27, which accepts maxval 0
 * or above 65535, does not scale pixels by maxval, overflows on huge widths and leaves the
 * pixels of a truncated file uninitialised. Header: "P5" or "P6", width, height, maxval
 * (1..65535), each after whitespace or # comments, then one whitespace byte and the pixels
 * (one byte per sample, two big-endian bytes when maxval > 255). */
typedef struct {
    int c, w, h;
    unsigned maxval;
    size_t data;   /* offset of the first pixel byte */
} Pnm;

/* 1: a PNM header parsed into *pnm; 0: not a binary PNM; -1: a bad PNM, reason in err. */
static int pnm_header(const char *path, const unsigned char *b, size_t len, Pnm *pnm, char *err) {
    if (len < 2 || b[0] != 'P' || (b[1] != '5' && b[1] != '6'))
        return 0;
    static const char *const what[3] = {"width", "height", "maxval"};
    size_t p = 2;
    unsigned long long field[3];
    for (int f = 0; f < 3; f++) {
        for (;;) {   /* whitespace and # comments */
            while (p < len && b[p] && strchr(" \t\r\n\v\f", b[p]))
                p++;
            if (p < len && b[p] == '#')
                while (p < len && b[p] != '\n')
                    p++;
            else
                break;
        }
        if (p >= len || b[p] < '0' || b[p] > '9') {
            rt_fail(err, "%s: not an image (PGM/PPM header: no %s)", path, what[f]);
            return -1;
        }
        field[f] = 0;
        while (p < len && b[p] >= '0' && b[p] <= '9') {
            if (field[f] < 100000000000ULL)
                field[f] = field[f] * 10 + (unsigned)(b[p] - '0');
            p++;
        }
    }
    if (field[2] < 1 || field[2] > 65535) {
        rt_fail(err, "%s: not an image (PGM/PPM maxval %llu, must be 1 to 65535)", path, field[2]);
        return -1;
    }
    if (field[0] < 1 || field[1] < 1 || field[0] > IMAGE_MAX_SIDE || field[1] > IMAGE_MAX_SIDE ||
        field[0] * field[1] > IMAGE_MAX_PIXELS) {
        rt_fail(err, "%s: image is %llux%llu, larger than the limit of %d pixels (%d on a side) or empty",
                path, field[0], field[1], IMAGE_MAX_PIXELS, IMAGE_MAX_SIDE);
        return -1;
    }
    if (p >= len || !strchr(" \t\r\n\v\f", b[p]) || !b[p]) {
        rt_fail(err, "%s: not an image (PGM/PPM header: no whitespace before the pixels)", path);
        return -1;
    }
    p++;
    *pnm = (Pnm){b[1] == '6' ? 3 : 1, (int)field[0], (int)field[1], (unsigned)field[2], p};
    size_t need = (size_t)pnm->w * (size_t)pnm->h * (size_t)pnm->c * (pnm->maxval > 255 ? 2 : 1);
    if (len - p < need) {
        rt_fail(err, "%s: not an image (truncated PGM/PPM pixel data: %zu of %zu bytes)", path, len - p, need);
        return -1;
    }
    return 1;
}

/* PNM pixels as want_c-channel 8-bit HWC, each sample scaled to 0..255 by maxval (rounded);
 * grey<->RGB as stb_image converts (replicated grey; luma (77R + 150G + 29B) / 256). */
static unsigned char *pnm_decode(const char *path, const unsigned char *b, const Pnm *pnm, int want_c, char *err) {
    size_t npx = (size_t)pnm->w * (size_t)pnm->h;
    unsigned char *out = malloc(npx * (size_t)want_c);
    if (!out) {
        rt_fail(err, "%s: out of memory for a %dx%d image", path, pnm->w, pnm->h);
        return NULL;
    }
    const unsigned char *d = b + pnm->data;
    bool wide = pnm->maxval > 255;
    for (size_t i = 0; i < npx; i++) {
        unsigned v[4] = {0, 0, 0, 255};
        for (int k = 0; k < pnm->c; k++) {
            size_t at = i * (size_t)pnm->c + (size_t)k;
            unsigned raw = wide ? (unsigned)d[2 * at] << 8 | d[2 * at + 1] : d[at];
            if (raw > pnm->maxval)
                raw = pnm->maxval;   /* out of range samples saturate */
            v[k] = (raw * 255u + pnm->maxval / 2) / pnm->maxval;
        }
        if (pnm->c == 1)
            v[1] = v[2] = v[0];
        unsigned grey = pnm->c == 1 ? v[0] : (v[0] * 77 + v[1] * 150 + v[2] * 29) >> 8;
        unsigned char *o = out + i * (size_t)want_c;
        switch (want_c) {
        case 1: o[0] = (unsigned char)grey; break;
        case 2: o[0] = (unsigned char)grey, o[1] = 255; break;
        default:
            for (int k = 0; k < want_c; k++)
                o[k] = (unsigned char)v[k];
        }
    }
    return out;
}

/* stb_image 2.27 builds a JPEG Huffman table from a DHT segment without checking that its 16
 * code counts add up to at most 256 symbols, and then writes past its 257-entry arrays (found
 * by tests/fuzz/fuzz_image.c). And it decodes a scan with whatever its Huffman and quantization
 * tables hold, defined or not: its decoder state is not zeroed, so a scan whose table no DHT
 * segment defined read uninitialized memory and indexed an array at -1 (found by fuzz_image
 * when the heap held other data: a nondeterministic crash). The JPEG's markers are walked here
 * first, and a DHT table of more than 256 symbols is refused, as is a scan (SOS) that uses a
 * Huffman table no DHT before it defined (a baseline scan its components' DC and AC tables, a
 * progressive one the DC tables in a first DC scan, the AC tables in an AC scan) or a component
 * whose quantization table no DQT before it defined. False with err for such a file; true for
 * anything else (stb reports other faults itself). */
static bool jpeg_tables_ok(const char *path, const unsigned char *b, size_t len, char *err) {
    /* stb finds the start-of-image marker as it finds every marker: after any number of 0xff
     * fill bytes, so a file may start ff ff ... ff d8 and still be read as a JPEG. */
    size_t p = 0;
    while (p < len && b[p] == 0xff)
        p++;
    if (p == 0 || p >= len || b[p] != 0xd8)
        return true;
    p++;
    bool huff[2][4] = {{false}}, quant[4] = {false}, progressive = false;   /* tables defined so far: [DC, AC][id] */
    int comp_id[4], comp_tq[4], ncomp = 0;                                   /* the frame's components */
    while (p + 1 < len) {
        if (b[p] != 0xff) {   /* entropy-coded data: on to the next marker */
            p++;
            continue;
        }
        unsigned m = b[p + 1];
        if (m == 0xff) {
            p++;
            continue;
        }
        p += 2;
        if (m == 0x00 || m == 0x01 || (m >= 0xd0 && m <= 0xd8))
            continue;   /* stuffed byte, TEM, RSTn, SOI: no length */
        if (m == 0xd9 || p + 2 > len)
            break;
        size_t seg = (size_t)b[p] << 8 | b[p + 1];
        if (seg < 2)
            break;
        size_t end = p + seg < len ? p + seg : len;
        if (m == 0xc4) {
            size_t q = p + 2;
            while (q < end) {   /* as stb reads: a table that starts in the segment is read whole */
                size_t n = 0;
                for (size_t i = 1; i <= 16 && q + i < len; i++)
                    n += b[q + i];
                if (n > 256)
                    return rt_fail(err, "%s: not an image (corrupt JPEG: a Huffman table of %zu symbols)", path, n);
                if (b[q] >> 4 <= 1 && (b[q] & 15) <= 3 && q + 17 + n <= len)
                    huff[b[q] >> 4][b[q] & 15] = true;
                q += 17 + n;
            }
        } else if (m == 0xdb) {
            size_t q = p + 2;
            while (q < end) {   /* tables of 64 entries of 8 or 16 bits */
                size_t n = b[q] >> 4 ? 128 : 64;
                if ((b[q] & 15) <= 3 && q + 1 + n <= len)
                    quant[b[q] & 15] = true;
                q += 1 + n;
            }
        } else if (m >= 0xc0 && m <= 0xc2 && p + 8 <= end) {   /* the frame: its components' quantization tables */
            progressive = m == 0xc2;
            ncomp = 0;
            for (size_t i = 0; i < b[p + 7] && ncomp < 4 && p + 10 + 3 * i < end; i++, ncomp++)
                comp_id[ncomp] = b[p + 8 + 3 * i], comp_tq[ncomp] = b[p + 10 + 3 * i];
        } else if (m == 0xda && p + 3 <= end) {   /* a scan: the tables it decodes with */
            size_t ns = b[p + 2], at = p + 3 + 2 * ns;
            if (at + 3 > end)
                break;   /* stb refuses a short scan header itself */
            int ss = b[at], ah = b[at + 2] >> 4;
            for (size_t i = 0; i < ns; i++) {
                int id = b[p + 3 + 2 * i], td = b[p + 4 + 2 * i] >> 4, ta = b[p + 4 + 2 * i] & 15, k = 0;
                while (k < ncomp && comp_id[k] != id)
                    k++;
                if (k == ncomp || td > 3 || ta > 3)
                    continue;   /* stb refuses these itself */
                const char *miss = (!progressive || (ss == 0 && ah == 0)) && !huff[0][td] ? "DC"
                                   : (!progressive || ss > 0) && !huff[1][ta]       ? "AC"
                                                                                    : NULL;
                if (miss)
                    return rt_fail(err, "%s: not an image (corrupt JPEG: a scan at byte %zu uses %s Huffman table %d, "
                                   "which no DHT segment before it defines)", path, p - 2, miss,
                                   miss[0] == 'D' ? td : ta);
                if (comp_tq[k] > 3 || !quant[comp_tq[k]])
                    return rt_fail(err, "%s: not an image (corrupt JPEG: a scan at byte %zu uses quantization table "
                                   "%d, which no DQT segment before it defines)", path, p - 2, comp_tq[k]);
            }
        }
        p = end;
    }
    return true;
}

/* Two PNG checks before stb_image sees the file, both found by fuzz_image. stb_image 2.27 copies
 * an IDAT chunk's data to its buffer's start plus the offset so far; for an empty first IDAT
 * that buffer is still a null pointer (undefined behaviour): an empty IDAT carries no data, so
 * such chunks are dropped from the file. And it grows its buffer to an IDAT chunk's declared
 * length before reading the data, so 112 bytes declaring a chunk of a gigabyte cost a 2 GB
 * allocation: a chunk (before IEND) that claims more bytes than the file has left is refused.
 * *plen: the new length. False with err if refused. */
static bool png_check_chunks(const char *path, unsigned char *b, size_t *plen, char *err) {
    static const unsigned char sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    size_t len = *plen;
    if (len < 8 || memcmp(b, sig, 8) != 0)
        return true;
    size_t p = 8;
    while (len - p >= 12) {
        size_t n = (size_t)b[p] << 24 | (size_t)b[p + 1] << 16 | (size_t)b[p + 2] << 8 | b[p + 3];
        if (n == 0 && memcmp(b + p + 4, "IDAT", 4) == 0) {
            memmove(b + p, b + p + 12, len - p - 12);
            len -= 12;
            *plen = len;
            continue;
        }
        if (n > len - p - 12) {
            char type[5] = "????";
            for (int i = 0; i < 4; i++)
                if (isalpha(b[p + 4 + i]))
                    type[i] = (char)b[p + 4 + i];
            rt_fail(err, "%s: not an image (PNG chunk %s at byte %zu claims %zu bytes, the file has %zu left)", path,
                    type, p, n, len - p - 12);
            return false;
        }
        if (memcmp(b + p + 4, "IEND", 4) == 0)
            break;
        p += 12 + n;
    }
    return true;
}

/* TGA has no magic number: stb_image tries it last and reads past the end of a truncated file as
 * zeros, so 18 bytes can declare 12534 x 2088 pixels and cost their decoding (found by
 * fuzz_image). A file none of the other formats claims, whose TGA header is plausible, must
 * hold at least the bytes its pixels need: width x height x bytes per pixel uncompressed, one
 * packet of 1 + bytes per pixel per 128 pixels run-length encoded. False with err if not. */
static bool tga_size_ok(const char *path, const unsigned char *b, size_t len, int w, int h, char *err) {
    static const unsigned char png[4] = {137, 80, 78, 71}, pic[4] = {0x53, 0x80, 0xf6, 0x34};
    if (len < 18 || b[0] == 0xff || memcmp(b, png, 4) == 0 || memcmp(b, pic, 4) == 0 || memcmp(b, "BM", 2) == 0 ||
        memcmp(b, "GIF8", 4) == 0 || memcmp(b, "8BPS", 4) == 0)
        return true;
    int type = b[2];
    if (type != 1 && type != 2 && type != 3 && type != 9 && type != 10 && type != 11)
        return true;
    size_t bpp = ((size_t)b[16] + 7) / 8, px = (size_t)w * (size_t)h;
    size_t cmap = b[1] ? ((size_t)b[5] | (size_t)b[6] << 8) * (((size_t)b[7] + 7) / 8) : 0;
    size_t need = 18 + b[0] + cmap + (type >= 9 ? (px + 127) / 128 * (1 + bpp) : px * bpp);
    if (bpp == 0 || len >= need)
        return true;
    return rt_fail(err, "%s: not an image (a TGA of %dx%d needs at least %zu bytes, the file has %zu)", path, w, h,
                   need, len);
}

/* Decodes into interleaved HWC bytes with want_c channels (stb converts grey<->RGB itself,
 * with the luma weights 77/150/29 of 256). The size is read from the header first: an image
 * over the limit, or (when want_h > 0 and it may not be resized) of another size than the
 * model's, is refused before decoding. */
static unsigned char *decode(const char *path, int want_c, int want_h, int want_w, bool resize, int *h, int *w,
                             char *err) {
    if (want_c < 1 || want_c > 4) {
        rt_fail(err, "%s: cannot load as %d channels (1 to 4)", path, want_c);
        return NULL;
    }
    unsigned char *file;
    size_t len;
    if (!rt_read_file(path, &file, &len, err))
        return NULL;
    if (len > 0x7fffffff) {
        free(file);
        rt_fail(err, "%s: image file too large", path);
        return NULL;
    }
    Pnm pnm;
    int is_pnm = pnm_header(path, file, len, &pnm, err);
    int stored_c;
    if (is_pnm == 0 && !jpeg_tables_ok(path, file, len, err)) {
        free(file);
        return NULL;
    }
    if (is_pnm == 0 && !png_check_chunks(path, file, &len, err)) {
        free(file);
        return NULL;
    }
    if (is_pnm < 0 || (is_pnm == 0 && !stbi_info_from_memory(file, (int)len, w, h, &stored_c))) {
        if (is_pnm == 0)
            rt_fail(err, "%s: not an image (%s)", path, stbi_failure_reason());
        free(file);
        return NULL;
    }
    if (is_pnm)
        *w = pnm.w, *h = pnm.h;
    if (*w < 1 || *h < 1 || *w > IMAGE_MAX_SIDE || *h > IMAGE_MAX_SIDE ||
        (long long)*w * *h > IMAGE_MAX_PIXELS) {
        rt_fail(err, "%s: image is %dx%d, larger than the limit of %d pixels (%d on a side) or empty", path, *w, *h,
                IMAGE_MAX_PIXELS, IMAGE_MAX_SIDE);
        free(file);
        return NULL;
    }
    if (!is_pnm && !tga_size_ok(path, file, len, *w, *h, err)) {
        free(file);
        return NULL;
    }
    if (want_h > 0 && !resize && (*h != want_h || *w != want_w)) {
        rt_fail(err, "%s: image is %dx%d, the model takes %dx%d", path, *w, *h, want_w, want_h);
        free(file);
        return NULL;
    }
    int dw = 0, dh = 0;
    unsigned char *px = is_pnm ? pnm_decode(path, file, &pnm, want_c, err)
                               : stbi_load_from_memory(file, (int)len, &dw, &dh, &stored_c, want_c);
    free(file);
    if (!px && !is_pnm)
        rt_fail(err, "%s: not an image (%s)", path, stbi_failure_reason());
    else if (px && !is_pnm && (dw != *w || dh != *h)) {   /* the header lied */
        rt_fail(err, "%s: not an image (decoded %dx%d, the header says %dx%d)", path, dw, dh, *w, *h);
        stbi_image_free(px);
        return NULL;
    }
    return px;
}

bool image_info(const char *path, int *c, int *h, int *w, char *err) {
    unsigned char *file;
    size_t len;
    if (!rt_read_file(path, &file, &len, err))
        return false;
    Pnm pnm;
    int is_pnm = len <= 0x7fffffff ? pnm_header(path, file, len, &pnm, err) : 0;
    if (is_pnm == 0 && !jpeg_tables_ok(path, file, len, err)) {
        free(file);
        return false;
    }
    if (is_pnm > 0)
        *c = pnm.c, *h = pnm.h, *w = pnm.w;
    bool ok = is_pnm > 0 || (is_pnm == 0 && len <= 0x7fffffff && stbi_info_from_memory(file, (int)len, w, h, c));
    free(file);
    if (!ok && is_pnm == 0)
        return rt_fail(err, "%s: not an image (%s)", path,
                       len > 0x7fffffff ? "file too large" : stbi_failure_reason());
    if (ok && (*w < 1 || *h < 1 || *c < 1))   /* stb_image passes a GIF of height 0 (found by fuzz_image) */
        return rt_fail(err, "%s: not an image (it is %dx%d)", path, *w, *h);
    return ok;
}

/* Bilinear sample of channel ch of an HWC image at output pixel (oy, ox); the source
 * coordinate of an output pixel centre is (o + 0.5) * in/out - 0.5, clamped at the borders. */
static float bilinear(const unsigned char *px, int c, int h, int w, int ch, float sy, float sx) {
    if (sy < 0) sy = 0;
    if (sx < 0) sx = 0;
    int y0 = (int)sy, x0 = (int)sx;
    if (y0 > h - 1) y0 = h - 1;
    if (x0 > w - 1) x0 = w - 1;
    int y1 = y0 + 1 < h ? y0 + 1 : h - 1, x1 = x0 + 1 < w ? x0 + 1 : w - 1;
    float fy = sy - (float)y0, fx = sx - (float)x0;
    if (fy > 1) fy = 1;
    if (fx > 1) fx = 1;
#define P(y, x) ((float)px[((size_t)(y) * (size_t)w + (size_t)(x)) * (size_t)c + (size_t)ch])
    float top = P(y0, x0) + (P(y0, x1) - P(y0, x0)) * fx;
    float bot = P(y1, x0) + (P(y1, x1) - P(y1, x0)) * fx;
#undef P
    return top + (bot - top) * fy;
}

/* Loads and converts to CHW floats in 0..255 or copies bytes; one of dst_f, dst_u8 is set. */
static bool load(const char *path, int want_c, int want_h, int want_w, bool resize, float *dst_f,
                 uint8_t *dst_u8, int *src_h, int *src_w, char *err) {
    if (want_h < 1 || want_w < 1)
        return rt_fail(err, "%s: cannot load at size %dx%d", path, want_h, want_w);
    int h, w;
    unsigned char *px = decode(path, want_c, want_h, want_w, resize, &h, &w, err);
    if (!px)
        return false;
    if (src_h)
        *src_h = h, *src_w = w;
    size_t plane = (size_t)want_h * (size_t)want_w;
    if (h == want_h && w == want_w) {
        for (int ch = 0; ch < want_c; ch++)
            for (size_t i = 0; i < plane; i++) {
                unsigned char v = px[i * (size_t)want_c + (size_t)ch];
                if (dst_f)
                    dst_f[(size_t)ch * plane + i] = (float)v * (1.0f / 255.0f);
                else
                    dst_u8[(size_t)ch * plane + i] = v;
            }
        stbi_image_free(px);
        return true;
    }
    float scale_y = (float)h / (float)want_h, scale_x = (float)w / (float)want_w;
    for (int ch = 0; ch < want_c; ch++)
        for (int oy = 0; oy < want_h; oy++)
            for (int ox = 0; ox < want_w; ox++) {
                float v = bilinear(px, want_c, h, w, ch, ((float)oy + 0.5f) * scale_y - 0.5f,
                                   ((float)ox + 0.5f) * scale_x - 0.5f);
                size_t o = (size_t)ch * plane + (size_t)oy * (size_t)want_w + (size_t)ox;
                if (dst_f)
                    dst_f[o] = v * (1.0f / 255.0f);
                else
                    dst_u8[o] = (uint8_t)(v + 0.5f);
            }
    stbi_image_free(px);
    return true;
}

bool image_load(const char *path, int want_c, int want_h, int want_w, bool resize,
                float *dst_chw, char *err) {
    return load(path, want_c, want_h, want_w, resize, dst_chw, NULL, NULL, NULL, err);
}

bool image_load_u8(const char *path, int want_c, int want_h, int want_w, bool resize,
                   uint8_t *dst_chw, char *err) {
    return load(path, want_c, want_h, want_w, resize, NULL, dst_chw, NULL, NULL, err);
}

bool image_load_u8_sized(const char *path, int want_c, int want_h, int want_w, bool resize,
                         uint8_t *dst_chw, int *src_h, int *src_w, char *err) {
    return load(path, want_c, want_h, want_w, resize, NULL, dst_chw, src_h, src_w, err);
}
