/* augment.c: the augmentations of docs/language.md, Training settings on a float batch, image by image, drawing
 * from the caller's generator. They follow torchvision's transforms (same parameters, same
 * sampling rules; the random stream is cnnc's own) and run on pixels in [0, 1] before the
 * model's normalize layer, so "zero" fill is black:
 *   random_crop(pad)   RandomCrop(size, padding=pad): zero padding, offsets uniform in [0, 2 pad]
 *   hflip(p), vflip(p) RandomHorizontalFlip(p), RandomVerticalFlip(p)
 *   rotate(degrees)    RandomRotation(degrees, bilinear, fill 0): angle uniform in [-d, d],
 *                      positive counter-clockwise, about the image centre
 *   translate(f)       RandomAffine(0, translate=(f, f)): shifts round(U(-f W, f W)) and
 *                      round(U(-f H, f H)) pixels, zero fill
 *   erase(p)           RandomErasing(p, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0): up to
 *                      10 tries for a rectangle that fits, all channels set to 0 */
#include "train.h"

#include <math.h>
#include <string.h>

static const double PI = 3.14159265358979323846;

/* dst = src shifted by (dx, dy) pixels (dst[y][x] = src[y - dy][x - dx]), zero outside. */
static void shift_plane(const float *src, float *dst, int h, int w, int dx, int dy) {
    for (int y = 0; y < h; y++) {
        int sy = y - dy;
        for (int x = 0; x < w; x++) {
            int sx = x - dx;
            dst[y * w + x] = sy >= 0 && sy < h && sx >= 0 && sx < w ? src[sy * w + sx] : 0.0f;
        }
    }
}

static void shift_image(float *img, float *scratch, int c, int h, int w, int dx, int dy) {
    size_t plane = (size_t)h * (size_t)w;
    memcpy(scratch, img, sizeof(float) * plane * (size_t)c);
    for (int ch = 0; ch < c; ch++)
        shift_plane(scratch + ch * plane, img + ch * plane, h, w, dx, dy);
}

static void flip(float *img, int c, int h, int w, bool horizontal) {
    for (int ch = 0; ch < c; ch++) {
        float *p = img + (size_t)ch * h * w;
        if (horizontal) {
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w / 2; x++) {
                    float t = p[y * w + x];
                    p[y * w + x] = p[y * w + w - 1 - x];
                    p[y * w + w - 1 - x] = t;
                }
        } else {
            for (int y = 0; y < h / 2; y++)
                for (int x = 0; x < w; x++) {
                    float t = p[y * w + x];
                    p[y * w + x] = p[(h - 1 - y) * w + x];
                    p[(h - 1 - y) * w + x] = t;
                }
        }
    }
}

static float pixel(const float *p, int h, int w, int y, int x) {
    return y >= 0 && y < h && x >= 0 && x < w ? p[y * w + x] : 0.0f;
}

static void rotate(float *img, float *scratch, int c, int h, int w, double degrees) {
    size_t plane = (size_t)h * (size_t)w;
    memcpy(scratch, img, sizeof(float) * plane * (size_t)c);
    double a = degrees * PI / 180.0, ca = cos(a), sa = sin(a);
    double cx = (w - 1) * 0.5, cy = (h - 1) * 0.5;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            /* The source of output pixel (x, y): the inverse of a counter-clockwise turn in
             * image coordinates (y down). */
            double dx = x - cx, dy = y - cy;
            double sx = dx * ca - dy * sa + cx, sy = dx * sa + dy * ca + cy;
            int x0 = (int)floor(sx), y0 = (int)floor(sy);
            float fx = (float)(sx - x0), fy = (float)(sy - y0);
            for (int ch = 0; ch < c; ch++) {
                const float *p = scratch + ch * plane;
                float top = pixel(p, h, w, y0, x0) * (1 - fx) + pixel(p, h, w, y0, x0 + 1) * fx;
                float bottom = pixel(p, h, w, y0 + 1, x0) * (1 - fx) + pixel(p, h, w, y0 + 1, x0 + 1) * fx;
                img[ch * plane + (size_t)y * w + x] = top * (1 - fy) + bottom * fy;
            }
        }
}

static void erase(float *img, Rng *r, int c, int h, int w) {
    double area = (double)h * w, lo = log(0.3), hi = log(3.3);
    for (int attempt = 0; attempt < 10; attempt++) {
        double erase_area = area * (0.02 + (0.33 - 0.02) * rng_uniform(r));
        double aspect = exp(lo + (hi - lo) * rng_uniform(r));
        int eh = (int)nearbyint(sqrt(erase_area * aspect)), ew = (int)nearbyint(sqrt(erase_area / aspect));
        if (!(eh < h && ew < w))
            continue;
        int top = (int)rng_below(r, (uint32_t)(h - eh + 1)), left = (int)rng_below(r, (uint32_t)(w - ew + 1));
        for (int ch = 0; ch < c; ch++)
            for (int y = top; y < top + eh; y++)
                for (int x = left; x < left + ew; x++)
                    img[(size_t)ch * h * w + (size_t)y * w + x] = 0.0f;
        return;
    }
}

void augment_batch(const CnnAugment *aug, int naug, Rng *r, float *x, int n, int c, int h, int w,
                   float *scratch) {
    size_t image = (size_t)c * h * w;
    for (int i = 0; i < n; i++) {
        float *img = x + (size_t)i * image;
        for (int k = 0; k < naug; k++) {
            const CnnAugment *a = &aug[k];
            switch (a->kind) {
            case CNN_AUG_RANDOM_CROP: {
                int dx = (int)rng_below(r, (uint32_t)(2 * a->pad + 1)) - a->pad;
                int dy = (int)rng_below(r, (uint32_t)(2 * a->pad + 1)) - a->pad;
                /* crop at offset (pad + dx, pad + dy) of the padded image = shift by (-dx, -dy) */
                if (dx || dy)
                    shift_image(img, scratch, c, h, w, -dx, -dy);
                break;
            }
            case CNN_AUG_HFLIP:
            case CNN_AUG_VFLIP:
                if (rng_uniform(r) < a->p)
                    flip(img, c, h, w, a->kind == CNN_AUG_HFLIP);
                break;
            case CNN_AUG_ROTATE: {
                double deg = -a->degrees + 2.0 * a->degrees * rng_uniform(r);
                rotate(img, scratch, c, h, w, deg);
                break;
            }
            case CNN_AUG_TRANSLATE: {
                double mx = a->fraction * w, my = a->fraction * h;
                int dx = (int)nearbyint(-mx + 2 * mx * rng_uniform(r));
                int dy = (int)nearbyint(-my + 2 * my * rng_uniform(r));
                if (dx || dy)
                    shift_image(img, scratch, c, h, w, dx, dy);
                break;
            }
            case CNN_AUG_ERASE:
                if (rng_uniform(r) < a->p)
                    erase(img, r, c, h, w);
                break;
            default:
                break;
            }
        }
    }
}
