/* dist.c: the single-process version of dist.h, in libcnnrt.a: one rank holding every image.
 * libcnnrt_mpi.a replaces this file with mpi.c. */
#include "dist.h"

bool dist_start(int *argc, char ***argv, char *err) { return true; }
void dist_stop(void) {}
int dist_rank(void) { return 0; }
int dist_size(void) { return 1; }
bool dist_is_root(void) { return true; }

void dist_slice(int count, int *first, int *n) {
    *first = 0;
    *n = count;
}

void dist_sum_floats(float *v, size_t n) {}
void dist_sum_doubles(double *v, int n) {}
void dist_bcast_floats(float *v, size_t n) {}
void dist_bcast_doubles(double *v, int n) {}
bool dist_all(bool ok) { return ok; }
void dist_protect(bool on) {}
void dist_set_stop_note(const char *note) {}
