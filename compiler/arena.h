/* arena.h: bulk memory for the compiler. Everything the compiler allocates lives until
 * arena_free_all(); cnnc is a short-lived process, so nothing is freed one node at a time. */
#ifndef CNNC_ARENA_H
#define CNNC_ARENA_H
#include <stddef.h>

void *arena_alloc(size_t size);                 /* zeroed, 16-byte aligned; exits on OOM */
void *arena_realloc(void *old, size_t old_size, size_t new_size);
char *arena_strdup(const char *s);
char *arena_strndup(const char *s, size_t n);
char *arena_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void arena_free_all(void);

/* A growable array of T in the arena: VEC(T) v = {0}; VEC_PUSH(v, x); v.items[i], v.n. */
#define VEC(T) struct { T *items; int n, cap; }
#define VEC_PUSH(v, x)                                                                     \
    do {                                                                                   \
        if ((v).n == (v).cap) {                                                            \
            int new_cap_ = (v).cap ? 2 * (v).cap : 8;                                      \
            (v).items = arena_realloc((v).items, sizeof(*(v).items) * (size_t)(v).cap,     \
                                      sizeof(*(v).items) * (size_t)new_cap_);              \
            (v).cap = new_cap_;                                                            \
        }                                                                                  \
        (v).items[(v).n++] = (x);                                                          \
    } while (0)

#endif
