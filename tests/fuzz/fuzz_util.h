/* fuzz_util.h: helpers shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c). Each harness
 * defines LLVMFuzzerTestOneInput; replay.c drives the same function over files for `make test`. */
#ifndef CNNC_FUZZ_UTIL_H
#define CNNC_FUZZ_UTIL_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A private directory for the files a harness writes (removed at exit is not needed: one per
 * process, reused by every input). */
static inline const char *fuzz_dir(void) {
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/cnnc-fuzz-XXXXXX");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
    }
    return dir;
}

/* Writes data to fuzz_dir()/name and returns the path (static buffer). */
static inline const char *fuzz_file(const char *name, const uint8_t *data, size_t len) {
    static char path[2][256];
    static int k;
    k ^= 1;
    snprintf(path[k], sizeof path[k], "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path[k], "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f)) {
        perror(path[k]);
        abort();
    }
    return path[k];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
#endif
