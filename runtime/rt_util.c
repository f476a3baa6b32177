/* rt_util.c: the shared helpers of rt.h: error buffer, clean allocation failure, whole-file
 * reads, atomic writes (temporary file, fsync, rename). */
#define _DEFAULT_SOURCE /* madvise's MADV_HUGEPAGE (Linux) */
#include "rt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

bool rt_fail(char *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, RT_ERR_LEN, fmt, ap);
        va_end(ap);
    }
    return false;
}

int rt_report(const char *err) {
    fprintf(stderr, "%s\n", err);
    return 1;
}

void *rt_big_alloc(size_t bytes) {
    const size_t align = bytes < RT_HUGE_BYTES ? 64 : RT_HUGE_BYTES;
    size_t b = bytes ? (bytes + align - 1) / align * align : align;
    void *p = b >= bytes ? aligned_alloc(align, b) : NULL;
    if (!p)
        return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align == RT_HUGE_BYTES)
        madvise(p, b, MADV_HUGEPAGE); /* advice only: without transparent huge pages, 4 KiB pages */
#endif
    memset(p, 0, b);
    return p;
}

void *rt_alloc(size_t size, const char *what, char *err) {
    void *p = size >= RT_HUGE_BYTES ? rt_big_alloc(size) : calloc(1, size ? size : 1);
    if (!p)
        rt_fail(err, "out of memory (%zu bytes for %s)", size, what);
    return p;
}

void *rt_alloc_array(size_t count, size_t size, const char *what, char *err) {
    if (size && count > SIZE_MAX / size) {
        rt_fail(err, "out of memory (%zu x %zu bytes for %s)", count, size, what);
        return NULL;
    }
    return rt_alloc(count * size, what, err);
}

char *rt_strdup(const char *s, char *err) {
    size_t n = strlen(s) + 1;
    char *p = rt_alloc(n, "a string", err);
    if (p)
        memcpy(p, s, n);
    return p;
}

bool rt_read_file(const char *path, unsigned char **data, size_t *len, char *err) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return rt_fail(err, "%s: is a directory, not a file", path);
    }
    /* Regular files: one read of the known size; pipes and the like: grow as needed. */
    size_t cap = (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
                     ? (size_t)st.st_size + 1 : 65536;
    unsigned char *buf = rt_alloc(cap, path, err);
    size_t n = 0;
    while (buf) {
        if (n + 1 >= cap) {
            /* Full: grow only if the file goes on (a regular file read in one go ends here
             * without doubling a buffer of its size). */
            int ch = getc(f);
            if (ch == EOF) {
                if (ferror(f)) {
                    rt_fail(err, "%s: read error: %s", path, strerror(errno));
                    free(buf);
                    buf = NULL;
                }
                break;
            }
            ungetc(ch, f);
            if (cap > SIZE_MAX / 2) {
                free(buf);
                buf = NULL;
                rt_fail(err, "%s: file too large", path);
                break;
            }
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                rt_fail(err, "%s: out of memory reading the file", path);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                rt_fail(err, "%s: read error: %s", path, strerror(errno));
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    fclose(f);
    if (!buf)
        return false;
    buf[n] = 0;
    *data = buf;
    *len = n;
    return true;
}

struct RtAtomicFile {
    FILE *f;
    char *path, *tmp;   /* tmp NULL: the path is written in place (not a regular file) */
};

static void atomic_free(RtAtomicFile *a) {
    free(a->path);
    free(a->tmp);
    free(a);
}

RtAtomicFile *rt_atomic_open(const char *path, char *err) {
    RtAtomicFile *a = rt_alloc(sizeof *a, "an output file", err);
    if (!a)
        return NULL;
    size_t tlen = strlen(path) + 32;
    a->path = rt_strdup(path, err);
    a->tmp = rt_alloc(tlen, "a file name", err);
    if (!a->path || !a->tmp) {
        atomic_free(a);
        return NULL;
    }
    snprintf(a->tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
    /* An existing path that is not a regular file (/dev/null, a pipe) is written in place:
     * a rename over it would replace it (as root, /dev/null would become a file). */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        free(a->tmp);
        a->tmp = NULL;
        if (!(a->f = fopen(path, "wb"))) {
            rt_fail(err, "%s: cannot write: %s", path, strerror(errno));
            atomic_free(a);
            return NULL;
        }
        return a;
    }
    int fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) {
        rt_fail(err, "%s: cannot write: %s", path, strerror(errno));
        atomic_free(a);
        return NULL;
    }
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        rt_fail(err, "%s: cannot write: %s", path, strerror(errno));
        close(fd);
        unlink(a->tmp);
        atomic_free(a);
        return NULL;
    }
    return a;
}

bool rt_atomic_write(RtAtomicFile *a, const void *data, size_t len, char *err) {
    if (len && fwrite(data, 1, len, a->f) != len)
        return rt_fail(err, "%s: write error: %s", a->path, strerror(errno));
    return true;
}

void rt_atomic_abort(RtAtomicFile *a) {
    if (!a)
        return;
    fclose(a->f);
    if (a->tmp)
        unlink(a->tmp);
    atomic_free(a);
}

bool rt_atomic_commit(RtAtomicFile *a, char *err) {
    bool ok = true;
    if (!a->tmp) {   /* written in place */
        if (fclose(a->f) != 0)
            ok = rt_fail(err, "%s: write error: %s", a->path, strerror(errno));
        atomic_free(a);
        return ok;
    }
    if (fflush(a->f) != 0 || fsync(fileno(a->f)) != 0)
        ok = rt_fail(err, "%s: write error: %s", a->path, strerror(errno));
    if (fclose(a->f) != 0 && ok)
        ok = rt_fail(err, "%s: write error: %s", a->path, strerror(errno));
    a->f = NULL;
    /* Test hook (tests/faults.test.sh): CNNC_TEST_STOP_IN_WRITE=N stops the process (SIGSTOP)
     * in its Nth atomic write, with the temporary file complete but not yet renamed, so that a
     * test can kill it at exactly that moment. */
    static int commits;
    const char *stop_at = getenv("CNNC_TEST_STOP_IN_WRITE");
    if (ok && stop_at && atoi(stop_at) == ++commits)
        raise(SIGSTOP);
    if (ok && rename(a->tmp, a->path) != 0)
        ok = rt_fail(err, "%s: cannot replace the file: %s", a->path, strerror(errno));
    if (!ok) {
        unlink(a->tmp);
    } else {
        /* Make the rename itself durable; a failure here loses nothing already written. */
        char *slash = strrchr(a->path, '/');
        char *dir = slash ? a->path : ".";
        if (slash)
            *slash = 0;
        int dfd = open(*dir ? dir : "/", O_RDONLY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    atomic_free(a);
    return ok;
}

bool rt_write_file_atomic(const char *path, const void *data, size_t len, char *err) {
    RtAtomicFile *a = rt_atomic_open(path, err);
    if (!a)
        return false;
    if (!rt_atomic_write(a, data, len, err)) {
        rt_atomic_abort(a);
        return false;
    }
    return rt_atomic_commit(a, err);
}

char *rt_path_join(const char *dir, const char *name, char *err) {
    size_t dl = strlen(dir), nl = strlen(name);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    char *p = rt_alloc(dl + nl + 2, "a path", err);
    if (!p)
        return NULL;
    memcpy(p, dir, dl);
    size_t k = dl;
    if (dl && dir[dl - 1] != '/')
        p[k++] = '/';
    memcpy(p + k, name, nl + 1);
    return p;
}

bool rt_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool rt_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}
