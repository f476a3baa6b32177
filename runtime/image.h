/* image.h: one image file (PGM/PPM, PNG, JPEG, BMP, GIF, TGA through Debian's libstb-dev)
 * into a CHW array of the channel count and size a model takes. */
#ifndef CNNC_IMAGE_H
#define CNNC_IMAGE_H
#include <stdbool.h>
#include <stdint.h>

/* Loads PATH as want_c channels (1 grey or 3 RGB; grey is replicated, RGB becomes luma
 * 0.299R+0.587G+0.114B; alpha is dropped), want_h x want_w pixels, into dst_chw scaled to
 * [0, 1]. A different size is an error ("x.png: image is 32x32, the model takes 28x28")
 * unless resize is true, then it is resized bilinearly (half-pixel centres, as PyTorch's
 * interpolate with align_corners=False). Other errors: "x.txt: not an image (REASON)",
 * "x.png: cannot open: REASON". */
bool image_load(const char *path, int want_c, int want_h, int want_w, bool resize,
                float *dst_chw, char *err);
/* The same, keeping 8-bit pixels (0..255) for datasets held as bytes. */
bool image_load_u8(const char *path, int want_c, int want_h, int want_w, bool resize,
                   uint8_t *dst_chw, char *err);
/* image_load_u8 that also reports the file's own size (before any resize). */
bool image_load_u8_sized(const char *path, int want_c, int want_h, int want_w, bool resize,
                         uint8_t *dst_chw, int *src_h, int *src_w, char *err);
/* The size and channel count stored in the file, without decoding the pixels. */
bool image_info(const char *path, int *c, int *h, int *w, char *err);

#endif
