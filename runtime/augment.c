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
 *                      10 tries for a rectangle that fits, all channels set to 0
 *   color_jitter(brightness, contrast, saturation, hue)
 *                      ColorJitter: factors uniform in [max(0, 1 - x), 1 + x] (hue in [-h, h]),
 *                      applied in a random order, each as torchvision.transforms.functional's
 *                      adjust_* computes it on float tensors (a zero argument: not applied)
 *   grayscale(p)       RandomGrayscale(p): 0.2989 R + 0.587 G + 0.114 B in every channel
 *   affine(degrees, translate, scale, shear)
 *                      RandomAffine(degrees, (t, t), scale, shear) with nearest sampling and
 *                      zero fill: angle U(-d, d), shifts round(U(-t W, t W)), round(U(-t H, t H)),
 *                      scale U(lo, hi), x shear U(-s, s); the grid as torchvision builds it
 *   random_resized_crop(scale, ratio)
 *                      RandomResizedCrop(size = the image's, scale, ratio, bilinear,
 *                      antialias off): torchvision's 10 tries then its central fallback
 *   resize(size), center_crop(size)
 *                      Resize(size, bilinear, antialias=False) (the shorter side becomes size)
 *                      then CenterCrop back to the input's size (zero padding when smaller):
 *                      the batch keeps its shape, so a resize to another size must be followed
 *                      by center_crop (train.c checks it) and the two are done in one pass */
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

/* ---- color ---------------------------------------------------------------------------------- */

static float clamp01(float v) {
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* _blend: ratio * a + (1 - ratio) * b, clamped to [0, 1]. */
static float blend(float a, float b, float ratio) {
    return clamp01(ratio * a + (1.0f - ratio) * b);
}

static float gray_of(const float *img, size_t plane, size_t k) {
    return 0.2989f * img[k] + 0.587f * img[plane + k] + 0.114f * img[2 * plane + k];
}

void augment_grayscale_apply(float *img, int c, int h, int w) {
    if (c != 3)
        return;
    size_t plane = (size_t)h * w;
    for (size_t k = 0; k < plane; k++)
        img[k] = img[plane + k] = img[2 * plane + k] = gray_of(img, plane, k);
}

static void adjust_brightness(float *img, size_t n, float f) {
    for (size_t k = 0; k < n; k++)
        img[k] = blend(img[k], 0.0f, f);
}

static void adjust_contrast(float *img, int c, size_t plane, float f) {
    double sum = 0;   /* torch.mean over the grayscale image */
    for (size_t k = 0; k < plane; k++)
        sum += c == 3 ? gray_of(img, plane, k) : img[k];
    float mean = (float)(sum / (double)plane);
    for (size_t k = 0; k < (size_t)c * plane; k++)
        img[k] = blend(img[k], mean, f);
}

static void adjust_saturation(float *img, int c, size_t plane, float f) {
    if (c != 3)
        return;
    for (size_t k = 0; k < plane; k++) {
        float g = gray_of(img, plane, k);
        for (int ch = 0; ch < 3; ch++)
            img[ch * plane + k] = blend(img[ch * plane + k], g, f);
    }
}

/* torchvision's _rgb2hsv, hue shift, _hsv2rgb, in float. */
static void adjust_hue(float *img, int c, size_t plane, float hue) {
    if (c != 3)
        return;
    for (size_t k = 0; k < plane; k++) {
        float r = img[k], g = img[plane + k], b = img[2 * plane + k];
        float maxc = fmaxf(r, fmaxf(g, b)), minc = fminf(r, fminf(g, b));
        bool eqc = maxc == minc;
        float cr = maxc - minc;
        float s = cr / (eqc ? 1.0f : maxc);
        float div = eqc ? 1.0f : cr;
        float rc = (maxc - r) / div, gc = (maxc - g) / div, bc = (maxc - b) / div;
        float hr = maxc == r ? bc - gc : 0.0f;
        float hg = maxc == g && maxc != r ? 2.0f + rc - bc : 0.0f;
        float hb = maxc != g && maxc != r ? 4.0f + gc - rc : 0.0f;
        float hh = fmodf(((hr + hg + hb) / 6.0f + 1.0f), 1.0f);
        hh = hh + hue;   /* (h + hue_factor) % 1.0, Python's modulo */
        hh = hh - floorf(hh);
        if (hh >= 1.0f)
            hh -= 1.0f;
        float v = maxc;
        float i = floorf(hh * 6.0f), f = hh * 6.0f - i;
        int ii = ((int)i % 6 + 6) % 6;
        float p = clamp01(v * (1.0f - s)), q = clamp01(v * (1.0f - s * f)), t = clamp01(v * (1.0f - s * (1.0f - f)));
        const float rr[6] = {v, q, p, p, t, v}, gg[6] = {t, v, v, q, p, p}, bb[6] = {p, p, t, v, v, q};
        img[k] = rr[ii];
        img[plane + k] = gg[ii];
        img[2 * plane + k] = bb[ii];
    }
}

void augment_color_jitter_apply(float *img, int c, int h, int w, const int order[4], const float factor[4],
                                const bool on[4]) {
    size_t plane = (size_t)h * w;
    for (int k = 0; k < 4; k++) {
        int fn = order[k];
        if (!on[fn])
            continue;
        switch (fn) {
        case 0: adjust_brightness(img, (size_t)c * plane, factor[0]); break;
        case 1: adjust_contrast(img, c, plane, factor[1]); break;
        case 2: adjust_saturation(img, c, plane, factor[2]); break;
        default: adjust_hue(img, c, plane, factor[3]); break;
        }
    }
}

static void color_jitter(float *img, Rng *r, int c, int h, int w, const CnnAugment *a) {
    int order[4] = {0, 1, 2, 3};
    rng_shuffle(r, order, 4);
    const float x[4] = {a->brightness, a->contrast, a->saturation, a->hue};
    float factor[4];
    bool on[4];
    for (int k = 0; k < 4; k++) {
        on[k] = x[k] > 0;
        if (!on[k])
            continue;
        float lo = k == 3 ? -x[k] : fmaxf(0.0f, 1.0f - x[k]), hi = k == 3 ? x[k] : 1.0f + x[k];
        factor[k] = lo + (hi - lo) * rng_uniform(r);
    }
    augment_color_jitter_apply(img, c, h, w, order, factor, on);
}

/* ---- random resized crop ----------------------------------------------------------------- */

/* The crop [top, top + ch) x [left, left + cw) of each plane resized to h x w as
 * torch.nn.functional.interpolate(mode='bilinear', align_corners=False) does it. */
void augment_resized_crop_apply(float *img, float *scratch, int c, int h, int w, int top, int left, int ch, int cw) {
    size_t plane = (size_t)h * w;
    memcpy(scratch, img, sizeof(float) * plane * (size_t)c);
    float sy = (float)ch / (float)h, sx = (float)cw / (float)w;
    for (int y = 0; y < h; y++) {
        float fy = sy * ((float)y + 0.5f) - 0.5f;
        if (fy < 0)
            fy = 0;
        int y0 = (int)fy, y1 = y0 + 1 < ch ? y0 + 1 : ch - 1;
        float ly = fy - (float)y0;
        for (int x = 0; x < w; x++) {
            float fx = sx * ((float)x + 0.5f) - 0.5f;
            if (fx < 0)
                fx = 0;
            int x0 = (int)fx, x1 = x0 + 1 < cw ? x0 + 1 : cw - 1;
            float lx = fx - (float)x0;
            for (int k = 0; k < c; k++) {
                const float *p = scratch + k * plane;
                float a00 = p[(size_t)(top + y0) * w + left + x0], a01 = p[(size_t)(top + y0) * w + left + x1];
                float a10 = p[(size_t)(top + y1) * w + left + x0], a11 = p[(size_t)(top + y1) * w + left + x1];
                img[k * plane + (size_t)y * w + x] =
                    (1 - ly) * ((1 - lx) * a00 + lx * a01) + ly * ((1 - lx) * a10 + lx * a11);
            }
        }
    }
}

static void random_resized_crop(float *img, float *scratch, Rng *r, int c, int h, int w, const CnnAugment *a) {
    double area = (double)h * w, lr0 = log(a->ratio[0]), lr1 = log(a->ratio[1]);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * (a->scale[0] + (a->scale[1] - a->scale[0]) * rng_uniform(r));
        double aspect = exp(lr0 + (lr1 - lr0) * rng_uniform(r));
        int cw = (int)nearbyint(sqrt(target * aspect)), ch = (int)nearbyint(sqrt(target / aspect));
        if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
            int top = (int)rng_below(r, (uint32_t)(h - ch + 1)), left = (int)rng_below(r, (uint32_t)(w - cw + 1));
            augment_resized_crop_apply(img, scratch, c, h, w, top, left, ch, cw);
            return;
        }
    }
    double in_ratio = (double)w / h;
    int cw = w, ch = h;
    if (in_ratio < a->ratio[0]) {
        ch = (int)nearbyint(w / a->ratio[0]);
    } else if (in_ratio > a->ratio[1]) {
        cw = (int)nearbyint(h * a->ratio[1]);
    }
    augment_resized_crop_apply(img, scratch, c, h, w, (h - ch) / 2, (w - cw) / 2, ch, cw);
}

/* ---- resize, center crop ------------------------------------------------------------------ */

void augment_resize_size(int h, int w, int size, int *rh, int *rw) {
    /* torchvision's _compute_resized_output_size for an int: the shorter side becomes size,
     * the longer int(size * long / short) */
    int shorter = h < w ? h : w, longer = h < w ? w : h;
    int new_long = (int)((double)size * longer / shorter);
    *rh = w <= h ? new_long : size;
    *rw = w <= h ? size : new_long;
}

void augment_resize_center_crop_apply(float *img, float *scratch, int c, int h, int w, int rh, int rw) {
    size_t plane = (size_t)h * w;
    memcpy(scratch, img, sizeof(float) * plane * (size_t)c);
    /* center_crop of the rh x rw image to h x w: zero padding ((h - rh) // 2 before) when it
     * is smaller, else the offset int(round((rh - h) / 2.0)) (Python's round: half to even) */
    int oy = rh < h ? -((h - rh) / 2) : (int)nearbyint((rh - h) / 2.0);
    int ox = rw < w ? -((w - rw) / 2) : (int)nearbyint((rw - w) / 2.0);
    float sy = (float)h / (float)rh, sx = (float)w / (float)rw;   /* interpolate's in / out */
    for (int y = 0; y < h; y++) {
        int ry = y + oy;
        float fy = sy * ((float)ry + 0.5f) - 0.5f;
        if (fy < 0)
            fy = 0;
        int y0 = (int)fy, y1 = y0 + 1 < h ? y0 + 1 : h - 1;
        float ly = fy - (float)y0;
        for (int x = 0; x < w; x++) {
            int rx = x + ox;
            bool in = ry >= 0 && ry < rh && rx >= 0 && rx < rw;
            float fx = sx * ((float)rx + 0.5f) - 0.5f;
            if (fx < 0)
                fx = 0;
            int x0 = (int)fx, x1 = x0 + 1 < w ? x0 + 1 : w - 1;
            float lx = fx - (float)x0;
            for (int k = 0; k < c; k++) {
                const float *p = scratch + k * plane;
                float v = 0.0f;
                if (in) {
                    float a00 = p[(size_t)y0 * w + x0], a01 = p[(size_t)y0 * w + x1];
                    float a10 = p[(size_t)y1 * w + x0], a11 = p[(size_t)y1 * w + x1];
                    v = (1 - ly) * ((1 - lx) * a00 + lx * a01) + ly * ((1 - lx) * a10 + lx * a11);
                }
                img[k * plane + (size_t)y * w + x] = v;
            }
        }
    }
}

/* ---- affine -------------------------------------------------------------------------------- */

/* torchvision.transforms.functional.affine on a tensor (center None, nearest, fill 0): the
 * inverse matrix of _get_inverse_affine_matrix, the grid of _gen_affine_grid and grid_sample
 * (align_corners False) in float, as torch computes them. */
void augment_affine_apply(float *img, float *scratch, int c, int h, int w, double angle, double tx, double ty,
                          double scale, double shear_x, double shear_y) {
    size_t plane = (size_t)h * w;
    memcpy(scratch, img, sizeof(float) * plane * (size_t)c);
    double rot = angle * PI / 180, sx = shear_x * PI / 180, sy = shear_y * PI / 180;
    double a = cos(rot - sy) / cos(sy), b = -cos(rot - sy) * tan(sx) / cos(sy) - sin(rot);
    double cc = sin(rot - sy) / cos(sy), d = -sin(rot - sy) * tan(sx) / cos(sy) + cos(rot);
    double m[6] = {d / scale, -b / scale, 0, -cc / scale, a / scale, 0};
    m[2] += m[0] * (-tx) + m[1] * (-ty);
    m[5] += m[3] * (-tx) + m[4] * (-ty);
    /* rescaled_theta = theta^T / [0.5 w, 0.5 h], in float */
    float t0 = (float)m[0] / (0.5f * (float)w), t1 = (float)m[1] / (0.5f * (float)w), t2 = (float)m[2] / (0.5f * (float)w);
    float t3 = (float)m[3] / (0.5f * (float)h), t4 = (float)m[4] / (0.5f * (float)h), t5 = (float)m[5] / (0.5f * (float)h);
    for (int y = 0; y < h; y++) {
        /* linspace(-oh/2 + 0.5, oh/2 - 0.5, oh) */
        float Y = h > 1 ? (float)(-h * 0.5 + 0.5) + (float)y * ((float)(h - 1) / (float)(h - 1)) : (float)(-h * 0.5 + 0.5);
        for (int x = 0; x < w; x++) {
            float X = (float)(-w * 0.5 + 0.5) + (float)x;
            float gx = X * t0 + Y * t1 + t2, gy = X * t3 + Y * t4 + t5;
            float ix = ((gx + 1.0f) * (float)w - 1.0f) / 2.0f, iy = ((gy + 1.0f) * (float)h - 1.0f) / 2.0f;
            long sxp = lrintf(ix), syp = lrintf(iy);
            bool in = sxp >= 0 && sxp < w && syp >= 0 && syp < h;
            for (int k = 0; k < c; k++)
                img[k * plane + (size_t)y * w + x] = in ? scratch[k * plane + (size_t)syp * w + sxp] : 0.0f;
        }
    }
}

static void affine(float *img, float *scratch, Rng *r, int c, int h, int w, const CnnAugment *a) {
    double angle = -a->degrees + 2.0 * a->degrees * rng_uniform(r);
    double mx = a->fraction * w, my = a->fraction * h;
    double tx = nearbyint(-mx + 2 * mx * rng_uniform(r)), ty = nearbyint(-my + 2 * my * rng_uniform(r));
    double scale = a->scale[0] + (a->scale[1] - a->scale[0]) * rng_uniform(r);
    double shear = a->shear > 0 ? -a->shear + 2.0 * a->shear * rng_uniform(r) : 0.0;
    augment_affine_apply(img, scratch, c, h, w, angle, tx, ty, scale, shear, 0.0);
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
            case CNN_AUG_COLOR_JITTER:
                color_jitter(img, r, c, h, w, a);
                break;
            case CNN_AUG_GRAYSCALE:
                if (rng_uniform(r) < a->p)
                    augment_grayscale_apply(img, c, h, w);
                break;
            case CNN_AUG_RANDOM_RESIZED_CROP:
                random_resized_crop(img, scratch, r, c, h, w, a);
                break;
            case CNN_AUG_AFFINE:
                affine(img, scratch, r, c, h, w, a);
                break;
            case CNN_AUG_RESIZE: {   /* with the center_crop after it, or to the image's own size */
                int rh, rw;
                augment_resize_size(h, w, a->size, &rh, &rw);
                if (rh != h || rw != w)
                    augment_resize_center_crop_apply(img, scratch, c, h, w, rh, rw);
                break;
            }
            case CNN_AUG_CENTER_CROP:   /* done with the resize before it; alone, at the input's size */
                break;
            default:
                break;
            }
        }
    }
}
