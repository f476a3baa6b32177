/* cbuf.h: the one indenting writer of C text. Lines go into a growable buffer; `{` opens a
 * level, `}` closes one, so emitters never count spaces. */
#ifndef CNNC_CBUF_H
#define CNNC_CBUF_H
#include <stdio.h>

typedef struct Cbuf {
    char *data;
    size_t len, cap;
    int indent;
} Cbuf;

/* Appends one line at the current indent. A line ending in '{' (before a trailing comment)
 * indents what follows; a line starting with '}' is written one level out. */
void cb_line(Cbuf *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cb_raw(Cbuf *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));   /* no indent, no newline */
void cb_blank(Cbuf *c);
void cb_free(Cbuf *c);
int cb_write(const Cbuf *c, FILE *f);   /* 0 on success */

#endif
