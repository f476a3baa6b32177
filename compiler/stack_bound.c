/* stack_bound.c: NAME_STACK_BYTES, read off the generated C text itself (so every emitter is
 * covered without declaring anything): the functions defined at file scope, the local arrays
 * each declares (sizes evaluated from the enum constants the text defines), the calls between
 * them, and the deepest chain of frames from an entry point. tests/strict_c.test.sh checks the
 * bound against the compilers' -fstack-usage reports for every model. */
#include "stack_bound.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

typedef struct {
    const char *name;
    long long value;
} Const;

typedef struct {
    const char *name;
    const char *body, *end; /* the text between the function's braces */
    bool entry;             /* not static: called from outside */
    long long arrays;       /* bytes of its local arrays */
    long long chain;        /* deepest chain from here (memo; -1: not yet, -2: in progress) */
} Func;

typedef struct {
    Const *c;
    int n, cap;
    Func *f;
    int nf, capf;
} Ctx;

static bool ident_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
}

static bool const_get(const Ctx *x, const char *p, size_t len, long long *v) {
    if (len == 6 && !strncmp(p, "CNN_VW", 6)) { /* vector width in floats: the widest */
        *v = 16;
        return true;
    }
    for (int k = 0; k < x->n; k++)
        if (strlen(x->c[k].name) == len && !strncmp(x->c[k].name, p, len)) {
            *v = x->c[k].value;
            return true;
        }
    return false;
}

/* The largest value a name is given (branches of #if, blocks of one function): sizes grow with
 * their constants, so the largest is the bound. */
static void const_set(Ctx *x, const char *p, size_t len, long long v) {
    for (int k = 0; k < x->n; k++)
        if (strlen(x->c[k].name) == len && !strncmp(x->c[k].name, p, len)) {
            if (v > x->c[k].value)
                x->c[k].value = v;
            return;
        }
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 64;
        Const *c = arena_alloc(sizeof(Const) * (size_t)x->cap);
        if (x->n)
            memcpy(c, x->c, sizeof(Const) * (size_t)x->n);
        x->c = c;
    }
    x->c[x->n++] = (Const){arena_printf("%.*s", (int)len, p), v};
}

/* Integer constant expressions: ?: comparisons + - * / % unary minus, parentheses, numbers
 * and known names. *ok turns false on anything else. */
typedef struct {
    const Ctx *x;
    const char *p, *end;
    bool ok;
} Ev;

static void ev_space(Ev *e) {
    while (e->p < e->end && (*e->p == ' ' || *e->p == '\n' || *e->p == '\t'))
        e->p++;
}

static long long ev_cond(Ev *e);

static long long ev_primary(Ev *e) {
    ev_space(e);
    if (e->p >= e->end) {
        e->ok = false;
        return 0;
    }
    if (*e->p == '(') {
        e->p++;
        long long v = ev_cond(e);
        ev_space(e);
        if (e->p < e->end && *e->p == ')')
            e->p++;
        else
            e->ok = false;
        return v;
    }
    if (*e->p == '-') {
        e->p++;
        return -ev_primary(e);
    }
    if (*e->p == '+') {
        e->p++;
        return ev_primary(e);
    }
    const char *q = e->p;
    while (q < e->end && ident_char(*q))
        q++;
    if (q == e->p) {
        e->ok = false;
        return 0;
    }
    long long v = 0;
    if (*e->p >= '0' && *e->p <= '9') {
        for (const char *r = e->p; r < q; r++) {
            if (*r < '0' || *r > '9') { /* suffixes (1LL, 1u) and anything else */
                if (!strchr("uUlL", *r))
                    e->ok = false;
                break;
            }
            v = v * 10 + (*r - '0');
            if (v > (1LL << 40))
                e->ok = false;
        }
    } else if (!const_get(e->x, e->p, (size_t)(q - e->p), &v)) {
        e->ok = false;
    }
    e->p = q;
    return v;
}

static long long ev_mul(Ev *e) {
    long long v = ev_primary(e);
    for (;;) {
        ev_space(e);
        if (e->p >= e->end || !strchr("*/%", *e->p))
            return v;
        char op = *e->p++;
        long long r = ev_primary(e);
        if (op == '*')
            v = v * r;
        else if (r == 0)
            e->ok = false;
        else
            v = op == '/' ? v / r : v % r;
        if (v > (1LL << 40) || v < -(1LL << 40))
            e->ok = false;
        if (!e->ok)
            return 0;
    }
}

static long long ev_add(Ev *e) {
    long long v = ev_mul(e);
    for (;;) {
        ev_space(e);
        if (e->p >= e->end || (*e->p != '+' && *e->p != '-'))
            return v;
        char op = *e->p++;
        long long r = ev_mul(e);
        v = op == '+' ? v + r : v - r;
    }
}

static long long ev_cmp(Ev *e) {
    long long v = ev_add(e);
    ev_space(e);
    if (e->p < e->end && (*e->p == '<' || *e->p == '>')) {
        bool less = *e->p == '<', eq = e->p + 1 < e->end && e->p[1] == '=';
        e->p += eq ? 2 : 1;
        long long r = ev_add(e);
        v = less ? (eq ? v <= r : v < r) : (eq ? v >= r : v > r);
    }
    return v;
}

static long long ev_cond(Ev *e) {
    long long v = ev_cmp(e);
    ev_space(e);
    if (e->p < e->end && *e->p == '?') {
        e->p++;
        long long a = ev_cond(e);
        ev_space(e);
        if (e->p < e->end && *e->p == ':')
            e->p++;
        else
            e->ok = false;
        long long b = ev_cond(e);
        v = v ? a : b;
    }
    return v;
}

static bool eval(const Ctx *x, const char *p, const char *end, long long *v) {
    Ev e = {x, p, end, true};
    *v = ev_cond(&e);
    ev_space(&e);
    return e.ok && e.p == end;
}

/* Every "enum { A = expr, B = expr }" in [p, end), in order (later ones may use earlier). */
static void read_enums(Ctx *x, const char *p, const char *end) {
    for (const char *s = p; (s = strstr(s, "enum {")) && s < end;) {
        s += 6;
        const char *close = strchr(s, '}');
        if (!close || close > end)
            return;
        while (s < close) {
            while (s < close && (*s == ' ' || *s == '\n'))
                s++;
            const char *n0 = s;
            while (s < close && ident_char(*s))
                s++;
            size_t len = (size_t)(s - n0);
            while (s < close && *s == ' ')
                s++;
            const char *comma = s; /* the end of this item: a comma outside parentheses */
            int depth = 0;
            while (comma < close && (*comma != ',' || depth)) {
                depth += *comma == '(' ? 1 : *comma == ')' ? -1 : 0;
                comma++;
            }
            long long v;
            if (len && s < close && *s == '=' && eval(x, s + 1, comma, &v))
                const_set(x, n0, len, v);
            s = comma < close ? comma + 1 : close;
        }
        s = close;
    }
}

/* Bytes of one element of a local of this type, or 0 if the word does not start a type. */
static int type_size(const char *p, size_t *skip) {
    static const struct {
        const char *word;
        int size;
    } types[] = {
        {"float", 4}, {"double", 8}, {"int", 4}, {"unsigned char", 1}, {"unsigned", 4}, {"long long", 8},
        {"long", 8}, {"char", 1}, {"size_t", 8}, {"ptrdiff_t", 8}, {"cnn_vec2", 128}, {"cnn_vec", 64},
        {"cnn_half", 32}, {"conv_v8", 32},
    };
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        size_t len = strlen(types[k].word);
        if (!strncmp(p, types[k].word, len) && !ident_char(p[len])) {
            *skip = len;
            return types[k].size;
        }
    }
    return 0;
}

/* Bytes of the local arrays declared in [p, end) (not the static ones): declarations start a
 * statement ("{", ";", "}" or a line before them). An unknown dimension counts 1024. */
static long long local_arrays(Ctx *x, const char *p, const char *end) {
    long long total = 0;
    char prev = '{';
    for (const char *s = p; s < end;) {
        if (s[0] == '/' && s[1] == '*') { /* comments */
            const char *q = strstr(s + 2, "*/");
            s = q ? q + 2 : end;
            continue;
        }
        if (*s == '#' && (s == p || s[-1] == '\n' || s[-1] == ' ')) { /* preprocessor lines */
            while (s < end && *s != '\n')
                s++;
            continue;
        }
        if (*s == '"' || *s == '\'') { /* literals */
            char quote = *s++;
            while (s < end && *s != quote)
                s += *s == '\\' ? 2 : 1;
            s++;
            prev = 'x';
            continue;
        }
        if (*s == ' ' || *s == '\n' || *s == '\t') {
            s++;
            continue;
        }
        if (!ident_char(*s) || !strchr("{};", prev)) {
            prev = *s++;
            while (ident_char(prev) && s < end && ident_char(*s))
                prev = *s++;
            continue;
        }
        /* a statement starts here: [static] [const] TYPE declarators ; */
        const char *q = s;
        bool is_static = false;
        for (;;) {
            if (!strncmp(q, "static ", 7))
                is_static = true, q += 7;
            else if (!strncmp(q, "const ", 6))
                q += 6;
            else
                break;
        }
        size_t skip = 0;
        int size = type_size(q, &skip);
        if (!size) {
            prev = 'x';
            while (s < end && ident_char(*s))
                s++;
            continue;
        }
        q += skip;
        const int base = size;
        for (;;) { /* declarators: [*...] [const|restrict] NAME [dims] [= init] */
            size = base;
            for (;;) {
                if (*q == ' ')
                    q++;
                else if (*q == '*')
                    q++, size = 8;
                else if (!strncmp(q, "const ", 6))
                    q += 6;
                else if (!strncmp(q, "restrict ", 9))
                    q += 9;
                else
                    break;
            }
            while (q < end && ident_char(*q))
                q++;
            long long count = 1;
            bool array = false;
            while (q < end && *q == '[') {
                const char *close = q + 1;
                int depth = 1;
                while (close < end && depth)
                    depth += *close == '[' ? 1 : *close == ']' ? -1 : 0, close++;
                long long v;
                if (!eval(x, q + 1, close - 1, &v) || v < 0)
                    v = 1024;
                count *= v;
                array = true;
                q = close;
            }
            if (array && !is_static)
                total += (count * size + 63) / 64 * 64;
            int depth = 0; /* to the next declarator or the end */
            while (q < end && ((*q != ',' && *q != ';') || depth)) {
                depth += (*q == '(' || *q == '{') ? 1 : (*q == ')' || *q == '}') ? -1 : 0;
                q++;
            }
            if (q >= end || *q == ';')
                break;
            q++;
        }
        s = q < end ? q + 1 : end;
        prev = ';';
    }
    return total;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const Func *)a)->name, ((const Func *)b)->name);
}

/* The function called name (x->f sorted by name), or -1. */
static int find_func(const Ctx *x, const char *p, size_t len) {
    int lo = 0, hi = x->nf - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strncmp(x->f[mid].name, p, len);
        if (c == 0 && x->f[mid].name[len])
            c = 1;
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static long long chain_of(Ctx *x, int i) {
    Func *f = &x->f[i];
    if (f->chain >= 0)
        return f->chain;
    if (f->chain == -2) /* recursion: not in generated code; count the frame once */
        return 0;
    f->chain = -2;
    long long deepest = 0;
    for (const char *s = f->body; s < f->end;) { /* every NAME( naming a function of the file */
        if (!ident_char(*s)) {
            s++;
            continue;
        }
        const char *q = s;
        while (q < f->end && ident_char(*q))
            q++;
        const char *r = q;
        while (r < f->end && *r == ' ')
            r++;
        int k = r < f->end && *r == '(' ? find_func(x, s, (size_t)(q - s)) : -1;
        if (k >= 0 && k != i) {
            long long c = chain_of(x, k);
            if (c > deepest)
                deepest = c;
        }
        s = q;
    }
    f->chain = f->arrays + STACK_FRAME_MARGIN + deepest;
    return f->chain;
}

long long stack_bound(const char *src) {
    Ctx x = {0};
    /* functions: a line at column 0 with a parameter list, ending in "{", no "=" before it */
    for (const char *line = src; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        const char *eol = strchr(line, '\n');
        if (!eol)
            break;
        if (!ident_char(*line) || eol == line || !strncmp(line, "typedef", 7) || !strncmp(line, "enum", 4) ||
            !strncmp(line, "struct", 6))
            continue;
        const char *paren = memchr(line, '(', (size_t)(eol - line));
        /* a signature may go on over a few lines (long parameter lists): to the line that ends
         * in "{"; one that ends in ";" first is a declaration */
        const char *sig_end = eol;
        for (int more = 0; paren && sig_end[-1] != '{' && sig_end[-1] != ';' && more < 8; more++) {
            const char *next = strchr(sig_end + 1, '\n');
            if (!next)
                break;
            sig_end = next;
        }
        if (sig_end[-1] != '{')
            continue;
        const char *eq = memchr(line, '=', (size_t)(eol - line));
        if (!paren || (eq && eq < paren))
            continue;
        const char *n1 = paren, *n0;
        while (n1 > line && n1[-1] == ' ')
            n1--;
        n0 = n1;
        while (n0 > line && ident_char(n0[-1]))
            n0--;
        const char *end = strstr(sig_end, "\n}\n");
        static const char *const keywords[] = {"for", "if", "while", "switch", "do", "else", "return"};
        bool keyword = false;
        for (size_t k = 0; k < sizeof keywords / sizeof *keywords; k++)
            keyword |= (size_t)(n1 - n0) == strlen(keywords[k]) && !strncmp(n0, keywords[k], (size_t)(n1 - n0));
        if (!end || n0 == n1 || keyword)
            continue;
        if (x.nf == x.capf) {
            x.capf = x.capf ? 2 * x.capf : 64;
            Func *f = arena_alloc(sizeof(Func) * (size_t)x.capf);
            if (x.nf)
                memcpy(f, x.f, sizeof(Func) * (size_t)x.nf);
            x.f = f;
        }
        x.f[x.nf++] = (Func){arena_printf("%.*s", (int)(n1 - n0), n0), sig_end, end, strncmp(line, "static", 6) != 0, 0, -1};
        line = end;
    }
    /* file-scope constants first (the text outside every function), then each function's */
    const char *at = src;
    for (int i = 0; i < x.nf; i++) {
        read_enums(&x, at, x.f[i].body);
        at = x.f[i].end;
    }
    read_enums(&x, at, src + strlen(src));
    int nfile = x.n;
    for (int i = 0; i < x.nf; i++) {
        x.n = nfile; /* each function sees its own constants only */
        read_enums(&x, x.f[i].body, x.f[i].end);
        x.f[i].arrays = local_arrays(&x, x.f[i].body, x.f[i].end);
    }
    qsort(x.f, (size_t)x.nf, sizeof(Func), by_name);
    long long worst = 0;
    for (int i = 0; i < x.nf; i++)
        if (x.f[i].entry && chain_of(&x, i) > worst)
            worst = chain_of(&x, i);
    return (worst + STACK_LIBC_MARGIN + 63) / 64 * 64;
}
