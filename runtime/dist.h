/* dist.h: data-parallel training across processes (docs/distributed.md). train.c calls these
 * at a few points of its loop. libcnnrt.a holds the single-process version (dist.c: one rank,
 * every reduction the identity), so nothing depends on MPI; libcnnrt_mpi.a, which `cnnc --mpi`
 * links, replaces it with mpi.c, built on MPI.
 *
 * Every rank holds the whole model and runs the same loop over the same global batches; each
 * batch is split into contiguous slices, one per rank (dist_slice). The calls below are
 * collective: every rank makes them in the same order. A failed collective ends the program
 * with a message (a rank that died); the calls never return an error. */
#ifndef CNNC_DIST_H
#define CNNC_DIST_H
#include <stdbool.h>
#include <stddef.h>

/* Starts the ranks (MPI_Init); false and err when it cannot. dist_stop ends them. */
bool dist_start(int *argc, char ***argv, char *err);
void dist_stop(void);
int dist_rank(void);
int dist_size(void);
bool dist_is_root(void);

/* This rank's slice of a global batch of count images: images [*first, *first + *n). Ranks
 * get count / size images, the first count % size ranks one more. Also sets the group of ranks
 * that batchnorm's statistics are summed over (the ranks with images) and the image offset
 * the generated dropout masks use, so each image gets the mask one process gives it. */
void dist_slice(int count, int *first, int *n);

/* Sums over every rank, in place. */
void dist_sum_floats(float *v, size_t n);
void dist_sum_doubles(double *v, int n);
/* Copies rank 0's values to every rank. */
void dist_bcast_floats(float *v, size_t n);
void dist_bcast_doubles(double *v, int n);
/* True when ok is true on every rank. */
bool dist_all(bool ok);

/* Rank 0 writes its files between dist_protect(true) and dist_protect(false): a stop request
 * (mpirun's SIGTERM after another rank died) waits until the files are complete. The note is
 * what rank 0 prints when the job is stopped (where the last complete checkpoint is); set it
 * between dist_protect(true) and dist_protect(false) too. */
void dist_protect(bool on);
void dist_set_stop_note(const char *note);

#endif
