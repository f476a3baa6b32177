/* diag.h: the one error printer. Every message about the user's input goes through here:
 *   file:line:col: error: message
 *     12 |     conv(6, 5, pad = 2); tanh; avgpool(2)
 *        |              ^~~~~~~
 *   note: in block basic(128, stride = 2) at resnet18.cnn:31:5
 * Messages go to diag_stream (stderr unless a test redirects it). */
#ifndef CNNC_DIAG_H
#define CNNC_DIAG_H
#include <stdbool.h>
#include <stdio.h>

/* A source span: file id from diag_add_source, 1-based line and column of the first
 * character, and the line and column just past the last character. file < 0: no location. */
typedef struct Span {
    int file;
    int line, col;
    int end_line, end_col;
} Span;

extern FILE *diag_stream;  /* where messages go; NULL means stderr */
enum { DIAG_MAX_ERRORS = 20 };

/* Registers a source text (kept, not copied: the caller keeps it alive) and returns its id. */
int diag_add_source(const char *path, const char *text, long len);
const char *diag_path(int file);
const char *diag_text(int file);
long diag_text_len(int file);     /* length of the registered text in bytes */
/* The text of 1-based line `line` (without its newline) and its length, or NULL. */
const char *diag_source_line(int file, int line, long *len);
Span span_join(Span a, Span b);   /* from the start of a to the end of b */
Span span_none(void);

/* An error at a span; prints the quoted line, a caret with tildes, and one note per active
 * context (innermost first). After DIAG_MAX_ERRORS errors, further ones are counted but not
 * printed, and "too many errors" is printed once. */
void diag_error(Span at, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A note attached to the error just printed (e.g. "did you mean 'conv'?"). At the error's own
 * position (or without a location) it prints as "note: ..."; elsewhere as
 * "file:line:col: note: ..." with the quoted line and a caret. Dropped when its error was
 * not printed (over the limit). */
void diag_note(Span at, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A note that is not about an error (e.g. "softmax dropped for training"). */
void diag_remark(Span at, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int diag_error_count(void);
void diag_reset(void);  /* forget errors and contexts; sources stay registered */
/* Frees every registered source (diag owns the text given to diag_add_source, which must be
 * malloc'd) and forgets them: spans into them are dead after this. For processes that load
 * many programs, such as the fuzzing harnesses. */
void diag_free_sources(void);
/* Prints what is still pending (the context notes of the last error come after its
 * diag_note notes, so they wait until the next diag call) and flushes diag_stream. Every
 * diag function, diag_error_count included, flushes first; so does exit(). */
void diag_flush(void);

/* Instantiation contexts: while a block body is being expanded, errors inside it get
 * "note: in block NAME(ARGS) at FILE:LINE:COL". */
void diag_push_context(Span at, const char *what);
void diag_pop_context(void);

/* "did you mean": the candidate closest to word by edit distance (a swap of two neighbouring
 * characters counts as one edit), accepted when the distance is at most max(1, strlen(word)/3);
 * the first of equally close candidates; NULL when none is close. */
const char *diag_closest(const char *word, const char *const *candidates, int n);

#endif
