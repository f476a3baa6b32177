/* rt.h: what every runtime file shares: the error convention, allocation that fails cleanly,
 * whole-file reads and atomic writes.
 *
 * Error convention. A runtime function that can fail returns bool (or a pointer, NULL on
 * failure) and takes `char *err`, a caller-owned buffer of RT_ERR_LEN bytes. On failure it
 * writes exactly one line, without a trailing newline, that names the file and what is wrong:
 *     weights.safetensors: tensor 'conv0.weight' has shape [6, 1, 5, 5], model expects [6, 3, 5, 5]
 * On success err is left untouched. Nothing in the runtime prints, aborts or exits; the program
 * prints the line (rt_report) and exits 1. Every function cleans up after itself on failure:
 * no leaked memory, no partial output file. */
#ifndef CNNC_RT_H
#define CNNC_RT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum { RT_ERR_LEN = 256 };

/* Formats the message into err (truncated to RT_ERR_LEN) and returns false, so that a failing
 * path reads `return rt_fail(err, "%s: truncated", path);`. */
bool rt_fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints err and a newline on stderr; returns 1, the exit status of a failed program. */
int rt_report(const char *err);

/* malloc/calloc that report instead of aborting: NULL and "out of memory (N bytes for WHAT)".
 * rt_alloc_array checks count * size for overflow; both return zeroed memory, and a request of
 * zero bytes still returns a unique pointer. */
void *rt_alloc(size_t size, const char *what, char *err);
/* Zeroed memory for free(), aligned to 64 bytes, or NULL. From RT_HUGE_BYTES up it is aligned to
 * and rounded up to RT_HUGE_BYTES, and Linux is asked to back it with transparent huge pages
 * (madvise MADV_HUGEPAGE): a model's parameters, workspace and checkpoint file of hundreds of MB
 * then take one page fault per 2 MiB instead of per 4 KiB: `forward` of VGG-16-BN at batch 1
 * (553 MB of weights) took 6.4 s, mostly the kernel's page faults (zeroing, reading the file,
 * copying the tensors), and takes 0.44 s. rt_alloc uses it from that size up. */
enum { RT_HUGE_BYTES = 2 << 20 };
void *rt_big_alloc(size_t bytes);
void *rt_alloc_array(size_t count, size_t size, const char *what, char *err);
char *rt_strdup(const char *s, char *err);

/* Reads a whole file into a malloc'ed buffer (with one NUL byte after the end, not counted in
 * *len). Errors: "PATH: cannot open: REASON", "PATH: is a directory", "PATH: read error: ...". */
bool rt_read_file(const char *path, unsigned char **data, size_t *len, char *err);

/* Atomic output: writes go to PATH.tmp.<pid>; commit flushes, fsyncs, closes and renames it
 * over PATH. Any failure (and abort) removes the temporary file, so PATH is either the old file
 * or the complete new one, never a partial one. commit and abort free the handle. */
typedef struct RtAtomicFile RtAtomicFile;
RtAtomicFile *rt_atomic_open(const char *path, char *err);
bool rt_atomic_write(RtAtomicFile *f, const void *data, size_t len, char *err);
bool rt_atomic_commit(RtAtomicFile *f, char *err);
void rt_atomic_abort(RtAtomicFile *f);
bool rt_write_file_atomic(const char *path, const void *data, size_t len, char *err);

/* Joins a directory and a name with one '/'; NULL (and err) when out of memory. */
char *rt_path_join(const char *dir, const char *name, char *err);
bool rt_is_dir(const char *path);
bool rt_is_file(const char *path);

#endif
