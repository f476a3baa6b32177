/* fuzz_image.c: every image format the runtime reads (PGM/PPM of our own parser; PNG, JPEG,
 * BMP, GIF, TGA through stb_image). The first input byte chooses the request (channels 1 to
 * 4, model size, resize or not); the rest is the image file. */
#include "fuzz_util.h"

#include "image.h"
#include "rt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    if (len < 1)
        return 0;
    int c = 1 + (data[0] & 3), side = 1 + ((data[0] >> 2) & 7) * 4;
    bool resize = data[0] & 0x20, u8 = data[0] & 0x40;
    const char *path = fuzz_file("img", data + 1, len - 1);
    char err[RT_ERR_LEN] = "";
    int fc, fh, fw;
    if (image_info(path, &fc, &fh, &fw, err) && (fc < 1 || fh < 1 || fw < 1))
        abort();
    float f[4 * 29 * 29];
    uint8_t b[4 * 29 * 29];
    bool ok = u8 ? image_load_u8(path, c, side, side, resize, b, err) : image_load(path, c, side, side, resize, f, err);
    if (!ok && !err[0])
        abort();
    if (ok && !u8)
        for (int i = 0; i < c * side * side; i++)
            if (!(f[i] >= 0 && f[i] <= 1))
                abort(); /* pixels are scaled into [0, 1] */
    return 0;
}
