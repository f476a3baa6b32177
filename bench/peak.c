/* peak.c: the machine's single-precision FMA peak, the yardstick for `make bench`.
 *
 * Each thread runs CHAINS independent chains of fused multiply-adds on full-width vectors, so
 * the FMA units never wait on a result: with AVX-512, 16 chains of 16-float vectors (16 of the
 * 32 zmm registers); else 12 chains of 8-float vectors, which with the two operands fit the 16
 * ymm registers (16 chains of 16 floats would need 32 of them: spilled to the stack, the loop
 * then measures stores and loads, about a third of an AVX2 machine's FMA peak). A multiply-add counts 2 FLOPs, as in the IR's `flops=`.
 * Built by bench/run.sh with -O3 -march=native -fopenmp.
 *
 *   peak [T ...]    measure with T threads (default: 1 and one per core)
 *   peak --csv T..  print only "threads,gflops" lines
 *
 * Prints the CPU model (from /proc/cpuinfo), whether AVX-512 is present, and the GFLOP/s for
 * each thread count: the best of several trials, since a peak is a maximum, not a median. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef __AVX512F__
#define VW 16 /* floats per vector */
#define CHAINS 16
#else
#define VW 8
#define CHAINS 12
#endif
typedef float vec __attribute__((vector_size(VW * 4)));

#define INNER 1000 /* FMA rounds per timed inner loop; each round is CHAINS vector FMAs */

static double clock_seconds(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double now_seconds(void) { return clock_seconds(CLOCK_MONOTONIC); }

/* With AVX-512, clang keeps 64-byte vectors in pairs of 256-bit registers on the CPUs it tunes
 * for 256-bit vectors unless the function asks for 512-bit ones (the generated op functions
 * do the same, see emit_c.c's CNN_NOINLINE). */
#if defined(__clang__) && defined(__AVX512F__)
#define PEAK_WIDE __attribute__((min_vector_width(512)))
#else
#define PEAK_WIDE
#endif

/* rounds * INNER * CHAINS vector FMAs on one thread; the result keeps them alive. */
static PEAK_WIDE float fma_chains(long rounds, float seed) {
    volatile float vb = 0.999999f, vc = 1e-7f;
    vec b, c, acc[CHAINS];
    for (int l = 0; l < VW; l++) {
        b[l] = vb;
        c[l] = vc;
    }
    for (int k = 0; k < CHAINS; k++)
        for (int l = 0; l < VW; l++)
            acc[k][l] = seed + (float)(k * VW + l) * 1e-3f;
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < INNER; i++) {
#pragma GCC unroll 16
            for (int k = 0; k < CHAINS; k++)
                acc[k] = acc[k] * b + c;
        }
        __asm__ volatile("" : : : "memory"); /* keep the rounds from being fused away */
    }
    vec s = acc[0];
    for (int k = 1; k < CHAINS; k++)
        s += acc[k];
    float t = 0;
    for (int l = 0; l < VW; l++)
        t += s[l];
    return t;
}

/* One trial with `threads` threads, each running `rounds` rounds at once. *wall: GFLOP/s over
 * the wall-clock time from the first thread's start to the last one's end; *cpu: the sum over
 * threads of each thread's GFLOP/s over its own CPU time, which other processes on a busy
 * machine do not inflate (meaningful while threads <= cores). */
static void measure(int threads, long rounds, double *wall, double *cpu) {
    volatile float sink = 0;
    double t0 = 0, t1 = 0, rate = 0;
    double flops = 2.0 * VW * CHAINS * (double)INNER * (double)rounds;
#pragma omp parallel num_threads(threads) reduction(+ : rate)
    {
#pragma omp barrier
#pragma omp master
        t0 = now_seconds();
        double c0 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
        float r = fma_chains(rounds, (float)omp_get_thread_num());
        double c1 = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
        rate += flops / (c1 - c0) * 1e-9;
#pragma omp barrier
#pragma omp master
        t1 = now_seconds();
#pragma omp critical
        sink += r;
    }
    (void)sink;
    *wall = flops * threads / (t1 - t0) * 1e-9;
    *cpu = rate;
}

/* The best of several trials of ~0.2 s each (a peak is a maximum, not a median). */
static void peak(int threads, double *wall, double *cpu) {
    long rounds = 10;
    double w, c;
    for (;;) { /* calibrate to ~0.2 s per trial */
        double t0 = now_seconds();
        measure(threads, rounds, &w, &c);
        double dt = now_seconds() - t0;
        if (dt > 0.05) {
            rounds = (long)(rounds * 0.2 / dt) + 1;
            break;
        }
        rounds *= 4;
    }
    *wall = *cpu = 0;
    for (int trial = 0; trial < 5; trial++) {
        measure(threads, rounds, &w, &c);
        if (w > *wall)
            *wall = w;
        if (c > *cpu)
            *cpu = c;
    }
}

static void cpu_info(char *model, size_t n, int *avx512) {
    snprintf(model, n, "unknown");
    *avx512 = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[8192];
    int have_model = 0, have_flags = 0;
    while (fgets(line, sizeof line, f) && !(have_model && have_flags)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        v[strcspn(v, "\n")] = 0;
        if (!have_model && strncmp(line, "model name", 10) == 0) {
            snprintf(model, n, "%s", v);
            have_model = 1;
        } else if (!have_flags && strncmp(line, "flags", 5) == 0) {
            *avx512 = strstr(v, " avx512f") != NULL || strncmp(v, "avx512f", 7) == 0;
            have_flags = 1;
        }
    }
    fclose(f);
}

int main(int argc, char **argv) {
    int csv = 0, counts[64], ncounts = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--csv") == 0)
            csv = 1;
        else if (ncounts < 64 && atoi(argv[i]) > 0)
            counts[ncounts++] = atoi(argv[i]);
        else {
            fprintf(stderr, "usage: peak [--csv] [THREADS ...]\n");
            return 2;
        }
    }
    int cores = omp_get_num_procs();
    if (ncounts == 0) {
        counts[ncounts++] = 1;
        if (cores > 1)
            counts[ncounts++] = cores;
    }
    if (!csv) {
        char model[256];
        int avx512;
        cpu_info(model, sizeof model, &avx512);
        printf("cpu      %s (%d logical cores)\n", model, cores);
        printf("avx512   %s\n", avx512 ? "yes (avx512f)" : "no");
#ifdef __AVX512F__
        printf("peak.c   built with AVX-512, %d independent chains of %d-float FMAs\n", CHAINS, VW);
#else
        printf("peak.c   built without AVX-512, %d independent chains of %d-float FMAs\n", CHAINS, VW);
#endif
    }
    for (int i = 0; i < ncounts; i++) {
        double wall, cpu;
        peak(counts[i], &wall, &cpu);
        if (csv)
            printf("%d,%.2f,%.2f\n", counts[i], cpu, wall);
        else
            printf("peak     %d thread%s %8.1f GFLOP/s per CPU time, %8.1f GFLOP/s wall clock\n",
                   counts[i], counts[i] == 1 ? "  " : "s ", cpu, wall);
    }
    return 0;
}
