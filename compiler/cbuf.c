/* cbuf.c: see cbuf.h. Uses malloc/realloc (not the arena) because C text grows large. */
#include "cbuf.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void reserve(Cbuf *c, size_t more) {
    if (c->len + more + 1 <= c->cap)
        return;
    size_t cap = c->cap ? c->cap : 4096;
    while (cap < c->len + more + 1)
        cap *= 2;
    char *p = realloc(c->data, cap);
    if (!p) {
        fprintf(stderr, "cnnc: out of memory\n");
        exit(1);
    }
    c->data = p;
    c->cap = cap;
}

static void vappend(Cbuf *c, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    reserve(c, (size_t)n);
    vsnprintf(c->data + c->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    c->len += (size_t)n;
}

static void append(Cbuf *c, const char *s) {
    size_t n = strlen(s);
    reserve(c, n);
    memcpy(c->data + c->len, s, n + 1);
    c->len += n;
}

void cb_raw(Cbuf *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vappend(c, fmt, ap);
    va_end(ap);
}

void cb_line(Cbuf *c, const char *fmt, ...) {
    const char *t = fmt;
    while (*t == ' ')
        t++;
    if (*t == '}' && c->indent > 0)
        c->indent--;
    for (int i = 0; i < c->indent; i++)
        append(c, "    ");
    size_t start = c->len;
    va_list ap;
    va_start(ap, fmt);
    vappend(c, fmt, ap);
    va_end(ap);
    /* the code's last character before a trailing comment: "{" then a comment opens a level too */
    size_t end = c->len;
    if (end >= start + 2 && c->data[end - 1] == '/' && c->data[end - 2] == '*') {
        size_t k = end - 2;
        while (k > start + 1 && !(c->data[k - 2] == '/' && c->data[k - 1] == '*'))
            k--;
        if (k > start + 1)
            end = k - 2;
        while (end > start && c->data[end - 1] == ' ')
            end--;
    }
    if (end > start && c->data[end - 1] == '{')
        c->indent++;
    append(c, "\n");
}

void cb_blank(Cbuf *c) { append(c, "\n"); }

void cb_free(Cbuf *c) {
    free(c->data);
    *c = (Cbuf){0};
}

int cb_write(const Cbuf *c, FILE *f) { return c->len && fwrite(c->data, 1, c->len, f) != c->len ? -1 : 0; }
