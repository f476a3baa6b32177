/* examples/embed/main.c: classifies a 28x28 PGM image with LeNet-5, using nothing but the two
 * files cnnc generated (lenet5.c, lenet5.h) with the weights compiled in. No runtime library, no
 * file system for the weights, no malloc: what firmware would do, with the image from a file
 * here only to have something to classify.
 *
 *   cnnc --emit=c --embed-weights W.safetensors -o DIR models/lenet5.cnn
 *   make -C examples/embed GEN=DIR && examples/embed/classify image.pgm
 *
 * --emit=c compiles for one image per call (LENET5_BATCH 1) unless --batch says otherwise,
 * which gives the smallest workspace (LENET5_WORK_BYTES). Before the first use, the program
 * checks the compiled-in weights against their CRC-32, as firmware would after a flash. */
#include <math.h>
#include <stdio.h>

#include "lenet5.h"

static float work[LENET5_WORK_FLOATS];   /* the workspace: its size is a constant of the header */

/* Reads a binary PGM (P5) of exactly LENET5_IN_H x LENET5_IN_W into [0, 1] floats. */
static int read_pgm(const char *path, float *pixels) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "classify: cannot open %s\n", path);
        return -1;
    }
    int w, h, maxval;
    if (fscanf(f, "P5 %d %d %d", &w, &h, &maxval) != 3 || fgetc(f) == EOF || maxval <= 0 || maxval > 255) {
        fprintf(stderr, "classify: %s: not a binary PGM image\n", path);
        fclose(f);
        return -1;
    }
    if (w != LENET5_IN_W || h != LENET5_IN_H) {
        fprintf(stderr, "classify: %s: image is %dx%d, the model takes %dx%d\n", path, w, h, LENET5_IN_W, LENET5_IN_H);
        fclose(f);
        return -1;
    }
    for (int i = 0; i < w * h; i++) {
        int c = fgetc(f);
        if (c == EOF) {
            fprintf(stderr, "classify: %s: truncated\n", path);
            fclose(f);
            return -1;
        }
        pixels[i] = (float)c / (float)maxval;
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    static const char *const names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    if (argc != 2) {
        fprintf(stderr, "usage: classify IMAGE.pgm\n");
        return 2;
    }
    float image[LENET5_IN_SIZE], logits[LENET5_OUT_SIZE];
    if (lenet5_check_params(lenet5_weights, LENET5_WEIGHTS_CRC32) != 0) {
        fprintf(stderr, "classify: the compiled-in weights are corrupted (CRC-32 mismatch)\n");
        return 1;
    }
    if (read_pgm(argv[1], image) != 0)
        return 1;
    if (lenet5_forward(lenet5_weights, work, image, logits, 1) != 0)
        return 1;
    int best = 0;
    double sum = 0;
    for (int k = 0; k < LENET5_OUT_SIZE; k++) {
        if (logits[k] > logits[best])
            best = k;
    }
    for (int k = 0; k < LENET5_OUT_SIZE; k++)
        sum += exp(logits[k] - logits[best]);
    printf("%s: class %d (%s), probability %.4f\n", argv[1], best, best < 10 ? names[best] : "?", 1.0 / sum);
    return 0;
}
