/* arena.c: a chain of large blocks; allocation bumps a pointer, arena_free_all drops the chain. */
#include "arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Block {
    struct Block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
} Block;

static Block *head;

void *arena_alloc(size_t size) {
    size = (size + 15) & ~(size_t)15;
    if (!head || head->size - head->used < size) {
        size_t block_size = size > (1u << 20) ? size : (1u << 20);
        Block *b = malloc(sizeof(Block) + block_size);
        if (!b) {
            fprintf(stderr, "cnnc: out of memory\n");
            exit(1);
        }
        b->next = head;
        b->used = 0;
        b->size = block_size;
        head = b;
    }
    void *p = head->data + head->used;
    head->used += size;
    memset(p, 0, size);
    return p;
}

void *arena_realloc(void *old, size_t old_size, size_t new_size) {
    void *p = arena_alloc(new_size);
    if (old && old_size)
        memcpy(p, old, old_size < new_size ? old_size : new_size);
    return p;
}

char *arena_strndup(const char *s, size_t n) {
    char *p = arena_alloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *arena_strdup(const char *s) { return arena_strndup(s, strlen(s)); }

char *arena_printf(const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = arena_alloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void arena_free_all(void) {
    while (head) {
        Block *next = head->next;
        free(head);
        head = next;
    }
}
