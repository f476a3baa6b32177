/* diag.c: the one error printer (see diag.h). Output format, which tests compare exactly:
 *
 *   path:line:col: error: message
 *       3 |     conv(6, 5); covn(3)
 *         |                 ^~~~
 *   note: did you mean 'conv'?                 (diag_note at the error's span or without one)
 *   path:line:col: note: first defined here    (diag_note elsewhere: also quoted)
 *       1 | block basic(c) {
 *         |       ^~~~~
 *   note: in block basic(128, stride = 2) at path:31:5   (one per context, innermost first)
 *
 * An error without a location prints "cnnc: error: message". diag_remark prints
 * "path:line:col: note: message" (or "cnnc: note: message") with no quoted line.
 * Context notes are taken when the error is reported but printed after that error's
 * diag_note notes; they are flushed by the next call into diag (or diag_flush). */
#include "diag.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

FILE *diag_stream;

typedef struct Source {
    char *path;
    const char *text;
    long len;
    long *line_starts; /* offsets of each line's first byte; built on first use */
    int nlines;
} Source;

typedef struct Context {
    Span at;
    char *what;
} Context;

static Source *sources;
static int nsources, sources_cap;
static Context *contexts;
static int ncontexts, contexts_cap;
static int error_count;
static bool last_error_printed;  /* notes follow the error they belong to */
static Span last_error_at;
static char *pending;            /* context notes of the last error, not yet printed */
static bool atexit_done;

static FILE *out(void) { return diag_stream ? diag_stream : stderr; }

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n);
    if (!p) {
        fprintf(stderr, "cnnc: out of memory\n");
        exit(1);
    }
    return p;
}

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

static char *vformat(const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *s = xrealloc(NULL, (size_t)(n < 0 ? 0 : n) + 1);
    vsnprintf(s, (size_t)(n < 0 ? 0 : n) + 1, fmt, ap2);
    va_end(ap2);
    return s;
}

void diag_flush(void) {
    if (pending) {
        fputs(pending, out());
        free(pending);
        pending = NULL;
    }
    fflush(out());
}

static void flush_at_exit(void) { diag_flush(); }

int diag_add_source(const char *path, const char *text, long len) {
    if (!atexit_done) {
        atexit(flush_at_exit);
        atexit_done = true;
    }
    if (nsources == sources_cap) {
        sources_cap = sources_cap ? 2 * sources_cap : 16;
        sources = xrealloc(sources, sizeof(Source) * (size_t)sources_cap);
    }
    sources[nsources] = (Source){.path = xstrdup(path), .text = text, .len = len};
    return nsources++;
}

static Source *source(int file) { return file >= 0 && file < nsources ? &sources[file] : NULL; }

const char *diag_path(int file) {
    Source *s = source(file);
    return s ? s->path : "<unknown>";
}

const char *diag_text(int file) {
    Source *s = source(file);
    return s ? s->text : NULL;
}

long diag_text_len(int file) {
    Source *s = source(file);
    return s ? s->len : 0;
}

Span span_join(Span a, Span b) {
    if (a.file < 0)
        return b;
    if (b.file < 0)
        return a;
    a.end_line = b.end_line;
    a.end_col = b.end_col;
    return a;
}

Span span_none(void) { return (Span){.file = -1}; }

/* The text of 1-based line `line` of a source (without its newline), or NULL. */
static const char *source_line(Source *s, int line, long *len) {
    if (!s || !s->text || line < 1)
        return NULL;
    if (!s->line_starts) {
        int cap = 64, n = 0;
        long *starts = xrealloc(NULL, sizeof(long) * (size_t)cap);
        starts[n++] = 0;
        for (long i = 0; i < s->len; i++) {
            if (s->text[i] == '\n') {
                if (n == cap) {
                    cap *= 2;
                    starts = xrealloc(starts, sizeof(long) * (size_t)cap);
                }
                starts[n++] = i + 1;
            }
        }
        s->line_starts = starts;
        s->nlines = n;
    }
    if (line > s->nlines)
        return NULL;
    long start = s->line_starts[line - 1];
    long end = line < s->nlines ? s->line_starts[line] - 1 : s->len;
    if (end > start && s->text[end - 1] == '\r')
        end--;
    *len = end - start;
    return s->text + start;
}

const char *diag_source_line(int file, int line, long *len) {
    return source_line(source(file), line, len);
}

static void print_location(FILE *f, Span at) {
    if (source(at.file))
        fprintf(f, "%s:%d:%d: ", diag_path(at.file), at.line, at.col);
    else
        fputs("cnnc: ", f);
}

/* The quoted source line and the caret line under the span. Control bytes print as '?' so a
 * garbage file cannot disturb the terminal; UTF-8 continuation bytes take no caret column. */
static void print_snippet(FILE *f, Span at) {
    long len;
    const char *line = source_line(source(at.file), at.line, &len);
    if (!line)
        return;
    fprintf(f, "%5d | ", at.line);
    for (long i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        fputc(c == '\t' || (c >= 0x20 && c != 0x7f) ? c : '?', f);
    }
    fputs("\n      | ", f);
    long start = at.col - 1 < 0 ? 0 : at.col - 1;
    if (start > len)
        start = len;
    for (long i = 0; i < start; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c == '\t')
            fputc('\t', f);
        else if ((c & 0xc0) != 0x80)
            fputc(' ', f);
    }
    fputc('^', f);
    long end = at.end_line > at.line ? len : at.end_col - 1;
    if (end > len)
        end = len;
    for (long i = start + 1; i < end; i++)
        if (((unsigned char)line[i] & 0xc0) != 0x80)
            fputc('~', f);
    fputc('\n', f);
}

static void append(char **buf, const char *s) {
    size_t old = *buf ? strlen(*buf) : 0, n = strlen(s);
    *buf = xrealloc(*buf, old + n + 1);
    memcpy(*buf + old, s, n + 1);
}

void diag_error(Span at, const char *fmt, ...) {
    diag_flush();
    error_count++;
    last_error_printed = error_count <= DIAG_MAX_ERRORS;
    if (!last_error_printed) {
        if (error_count == DIAG_MAX_ERRORS + 1)
            fputs("cnnc: error: too many errors, stopping\n", out());
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    last_error_at = at;
    FILE *f = out();
    print_location(f, at);
    fprintf(f, "error: %s\n", msg);
    free(msg);
    print_snippet(f, at);
    for (int i = ncontexts - 1; i >= 0; i--) {
        Context *c = &contexts[i];
        char *line;
        if (source(c->at.file))
            line = xrealloc(NULL, strlen(c->what) + strlen(diag_path(c->at.file)) + 64);
        else
            line = xrealloc(NULL, strlen(c->what) + 16);
        if (source(c->at.file))
            sprintf(line, "note: in %s at %s:%d:%d\n", c->what, diag_path(c->at.file),
                    c->at.line, c->at.col);
        else
            sprintf(line, "note: in %s\n", c->what);
        append(&pending, line);
        free(line);
    }
}

void diag_note(Span at, const char *fmt, ...) {
    if (!last_error_printed)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    FILE *f = out();
    bool at_error = at.file == last_error_at.file && at.line == last_error_at.line &&
                    at.col == last_error_at.col;
    if (source(at.file) && !at_error) {
        print_location(f, at);
        fprintf(f, "note: %s\n", msg);
        print_snippet(f, at);
    } else {
        fprintf(f, "note: %s\n", msg);
    }
    free(msg);
}

void diag_remark(Span at, const char *fmt, ...) {
    diag_flush();
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    FILE *f = out();
    print_location(f, at);
    fprintf(f, "note: %s\n", msg);
    free(msg);
}

int diag_error_count(void) {
    if (pending)  /* no fflush otherwise: the parser asks once per token */
        diag_flush();
    return error_count;
}

void diag_reset(void) {
    diag_flush();
    error_count = 0;
    last_error_printed = false;
    while (ncontexts > 0)
        diag_pop_context();
}

void diag_free_sources(void) {
    diag_flush();
    for (int i = 0; i < nsources; i++) {
        free(sources[i].path);
        free((void *)(uintptr_t)sources[i].text);
        free(sources[i].line_starts);
    }
    nsources = 0;
}

void diag_push_context(Span at, const char *what) {
    diag_flush();
    if (ncontexts == contexts_cap) {
        contexts_cap = contexts_cap ? 2 * contexts_cap : 16;
        contexts = xrealloc(contexts, sizeof(Context) * (size_t)contexts_cap);
    }
    contexts[ncontexts++] = (Context){.at = at, .what = xstrdup(what ? what : "")};
}

void diag_pop_context(void) {
    diag_flush();
    if (ncontexts > 0)
        free(contexts[--ncontexts].what);
}

/* Edit distance counting an insertion, deletion, substitution or swap of two neighbouring
 * characters as one edit (optimal string alignment), so "covn" is one edit from "conv".
 * Words whose lengths differ by more than limit are not compared. */
static int edit_distance(const char *a, const char *b, int limit) {
    size_t la = strlen(a), lb = strlen(b);
    size_t diff = la > lb ? la - lb : lb - la;
    if (diff > (size_t)limit)
        return limit + 1;
    int *rows = xrealloc(NULL, sizeof(int) * 3 * (lb + 1));
    int *before = rows, *prev = rows + lb + 1, *cur = rows + 2 * (lb + 1);
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                before[j - 2] + 1 < best)
                best = before[j - 2] + 1;
            cur[j] = best;
        }
        int *t = before;
        before = prev;
        prev = cur;
        cur = t;
    }
    int d = prev[lb];
    free(rows);
    return d;
}

const char *diag_closest(const char *word, const char *const *candidates, int n) {
    if (!word)
        return NULL;
    int len = (int)strlen(word);
    int limit = len / 3 > 1 ? len / 3 : 1;
    const char *best = NULL;
    int best_d = limit + 1;
    for (int i = 0; i < n; i++) {
        if (!candidates[i])
            continue;
        int d = edit_distance(word, candidates[i], limit);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best;
}
