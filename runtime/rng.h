/* rng.h: the runtime's one random number generator: xoshiro256** seeded through splitmix64.
 * Deterministic for a seed on every platform; a generator is a plain value, so independent
 * streams (initialization, shuffling, augmentation) are independent Rng variables. */
#ifndef CNNC_RNG_H
#define CNNC_RNG_H
#include <stdint.h>

typedef struct Rng {
    uint64_t s[4];
    float spare;        /* the second normal of a Box-Muller pair */
    int has_spare;
} Rng;

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_next(Rng *r);                  /* 64 uniform bits */
float rng_uniform(Rng *r);                  /* [0, 1), 24 random bits */
float rng_uniform_range(Rng *r, float lo, float hi);   /* [lo, hi) */
float rng_normal(Rng *r);                   /* N(0, 1) */
uint32_t rng_below(Rng *r, uint32_t n);     /* uniform in [0, n), unbiased; 0 when n == 0 */
void rng_shuffle(Rng *r, int *a, int n);    /* Fisher-Yates */

#endif
