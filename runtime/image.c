/* image.c: image files through stb_image (the one translation unit that instantiates it),
 * channel conversion and our own bilinear resize. */
#include "image.h"
#include "rt.h"

#include <stdlib.h>
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

/* stb_image 2.27 does not notice a binary PGM/PPM cut short (it leaves the missing pixels
 * uninitialised), so those are checked here: header fields, then enough bytes for the pixels. */
static bool pnm_truncated(const unsigned char *b, size_t len) {
    if (len < 2 || b[0] != 'P' || (b[1] != '5' && b[1] != '6'))
        return false;
    size_t p = 2;
    unsigned long field[3];
    for (int f = 0; f < 3; f++) {
        for (;;) {   /* whitespace and # comments */
            while (p < len && strchr(" \t\r\n\v\f", b[p]) && b[p])
                p++;
            if (p < len && b[p] == '#')
                while (p < len && b[p] != '\n')
                    p++;
            else
                break;
        }
        if (p >= len || b[p] < '0' || b[p] > '9')
            return false;   /* malformed: stb reports it */
        field[f] = 0;
        while (p < len && b[p] >= '0' && b[p] <= '9' && field[f] < 1000000000UL)
            field[f] = field[f] * 10 + (unsigned long)(b[p++] - '0');
    }
    p++;   /* the single whitespace byte before the pixels */
    unsigned long long need = (unsigned long long)field[0] * field[1] * (b[1] == '6' ? 3 : 1) *
                              (field[2] > 255 ? 2 : 1);
    return p > len || len - p < need;
}

/* Decodes into interleaved HWC bytes with want_c channels (stb converts grey<->RGB itself,
 * with the luma weights 77/150/29 of 256). */
static unsigned char *decode(const char *path, int want_c, int *h, int *w, char *err) {
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
    if (pnm_truncated(file, len)) {
        free(file);
        rt_fail(err, "%s: not an image (truncated PGM/PPM pixel data)", path);
        return NULL;
    }
    int stored_c;
    unsigned char *px = stbi_load_from_memory(file, (int)len, w, h, &stored_c, want_c);
    free(file);
    if (!px)
        rt_fail(err, "%s: not an image (%s)", path, stbi_failure_reason());
    return px;
}

bool image_info(const char *path, int *c, int *h, int *w, char *err) {
    unsigned char *file;
    size_t len;
    if (!rt_read_file(path, &file, &len, err))
        return false;
    bool ok = len <= 0x7fffffff && stbi_info_from_memory(file, (int)len, w, h, c);
    free(file);
    if (!ok)
        return rt_fail(err, "%s: not an image (%s)", path,
                       len > 0x7fffffff ? "file too large" : stbi_failure_reason());
    return true;
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
                 uint8_t *dst_u8, char *err) {
    if (want_h < 1 || want_w < 1)
        return rt_fail(err, "%s: cannot load at size %dx%d", path, want_h, want_w);
    int h, w;
    unsigned char *px = decode(path, want_c, &h, &w, err);
    if (!px)
        return false;
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
    if (!resize) {
        stbi_image_free(px);
        return rt_fail(err, "%s: image is %dx%d, the model takes %dx%d", path, w, h, want_w, want_h);
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
    return load(path, want_c, want_h, want_w, resize, dst_chw, NULL, err);
}

bool image_load_u8(const char *path, int want_c, int want_h, int want_w, bool resize,
                   uint8_t *dst_chw, char *err) {
    return load(path, want_c, want_h, want_w, resize, NULL, dst_chw, err);
}
