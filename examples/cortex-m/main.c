/* examples/cortex-m/main.c: LeNet-5 on a Cortex-M4F, as firmware would run it: the weights
 * and a 28x28 test image are const arrays in flash, the workspace is one static array of
 * LENET5_WORK_FLOATS floats, nothing is allocated. It checks the weights' CRC-32, classifies
 * the image and prints the class and its probability in the host example's format
 * (examples/embed), so that the two can be compared. Built by this directory's Makefile. */
#include <math.h>
#include <stddef.h>

#include "cm.h"
#include "lenet5.h"

static const unsigned char pixels[LENET5_IN_SIZE] = {
#include "image.inc"
};

static float work[LENET5_WORK_FLOATS];
static float image[LENET5_IN_SIZE], logits[LENET5_OUT_SIZE];

static void put(const char *s) {
    size_t n = 0;
    while (s[n])
        n++;
    cm_write(s, n);
}

static void put_uint(unsigned long v) {
    char buf[24];
    int k = (int)sizeof buf;
    buf[--k] = 0;
    do {
        buf[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(buf + k);
}

int main(void) {
    static const char *const names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    if (lenet5_check_params(lenet5_weights, LENET5_WEIGHTS_CRC32) != 0) {
        put("the weights are corrupted (CRC-32 mismatch)\n");
        return 1;
    }
    for (int i = 0; i < LENET5_IN_SIZE; i++)
        image[i] = (float)pixels[i] / 255.0f;
    if (lenet5_forward(lenet5_weights, work, image, logits, 1) != 0)
        return 1;
    int best = 0;
    for (int k = 1; k < LENET5_OUT_SIZE; k++)
        if (logits[k] > logits[best])
            best = k;
    double sum = 0;
    for (int k = 0; k < LENET5_OUT_SIZE; k++)
        sum += exp(logits[k] - logits[best]);
    /* The probability with 4 decimals, rounded as printf's %.4f rounds it. */
    unsigned long p = (unsigned long)(1.0 / sum * 10000.0 + 0.5);
    put("class ");
    put_uint((unsigned long)best);
    put(" (");
    put(best < 10 ? names[best] : "?");
    put("), probability ");
    put_uint(p / 10000);
    put(".");
    char frac[5] = {(char)('0' + p / 1000 % 10), (char)('0' + p / 100 % 10), (char)('0' + p / 10 % 10),
                    (char)('0' + p % 10), 0};
    put(frac);
    put("\n");
    return 0;
}
