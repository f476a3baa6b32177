/* augment_tool.c: the C side of tests/torch/augment_check.py. Reads tensor 'input' [C, H, W]
 * of IN, applies one augmentation's deterministic part (runtime/train.h) with the random draws
 * given on the command line, and writes tensor 'output' to OUT:
 *   jitter IN OUT O0 O1 O2 O3 B C S H   order of the 4 adjustments, then their factors
 *                                       (a factor given as 'off' is not applied)
 *   gray IN OUT
 *   crop IN OUT TOP LEFT HEIGHT WIDTH   resized back to H x W
 *   affine IN OUT ANGLE TX TY SCALE SHEARX SHEARY
 *   resize IN OUT SIZE                  resize (shorter side SIZE), center crop back to H x W
 * Exit status 0, or 1 with one error line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "rt.h"
#include "train.h"

int main(int argc, char **argv) {
    char err[RT_ERR_LEN];
    if (argc < 4)
        return fprintf(stderr, "usage: augment_tool jitter|gray|crop IN OUT ...\n"), 2;
    Ckpt *c = ckpt_read(argv[2], err);
    if (!c)
        return rt_report(err);
    const CkptTensor *t = ckpt_find(c, "input");
    if (!t || t->rank != 3)
        return fprintf(stderr, "no tensor 'input' [C, H, W]\n"), 1;
    int shape[3] = {(int)t->shape[0], (int)t->shape[1], (int)t->shape[2]};
    size_t n = (size_t)t->numel;
    float *img = malloc(n * sizeof(float)), *scratch = malloc(n * sizeof(float));
    if (!img || !scratch || !ckpt_get_f32(c, "input", shape, 3, img, err))
        return rt_report(err);
    int ch = shape[0], h = shape[1], w = shape[2];
    if (strcmp(argv[1], "jitter") == 0 && argc == 12) {
        int order[4];
        float factor[4];
        bool on[4];
        for (int k = 0; k < 4; k++) {
            order[k] = atoi(argv[4 + k]);
            on[k] = strcmp(argv[8 + k], "off") != 0;
            factor[k] = on[k] ? strtof(argv[8 + k], NULL) : 0;
        }
        augment_color_jitter_apply(img, ch, h, w, order, factor, on);
    } else if (strcmp(argv[1], "affine") == 0 && argc == 10) {
        augment_affine_apply(img, scratch, ch, h, w, atof(argv[4]), atof(argv[5]), atof(argv[6]), atof(argv[7]),
                             atof(argv[8]), atof(argv[9]));
    } else if (strcmp(argv[1], "resize") == 0 && argc == 5) {   /* resize(SIZE) then center_crop back */
        int rh, rw;
        augment_resize_size(h, w, atoi(argv[4]), &rh, &rw);
        augment_resize_center_crop_apply(img, scratch, ch, h, w, rh, rw);
    } else if (strcmp(argv[1], "gray") == 0) {
        augment_grayscale_apply(img, ch, h, w);
    } else if (strcmp(argv[1], "crop") == 0 && argc == 8) {
        augment_resized_crop_apply(img, scratch, ch, h, w, atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]));
    } else {
        return fprintf(stderr, "augment_tool: bad arguments\n"), 2;
    }
    CkptWriter *wr = ckpt_writer_new();
    ckpt_add_f32(wr, "output", shape, 3, img);
    bool ok = ckpt_write(wr, argv[3], err);
    ckpt_writer_free(wr);
    ckpt_free(c);
    free(img);
    free(scratch);
    return ok ? 0 : rt_report(err);
}
