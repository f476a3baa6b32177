/* load.c: reads the root .cnn file and everything it imports (docs/language.md, Items), parses each
 * once, and gathers the program: every block from every file, the models and train items of
 * the root. Import paths are relative to the importing file's directory; files are identified
 * by their canonical path, so two spellings of one file are read once. Errors: unreadable
 * file, import cycle (at the import that closes it), duplicate block or model names. */
#define _XOPEN_SOURCE 700  /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "ast.h"

enum {
    MAX_FILE_BYTES = 16 << 20,  /* larger is not a model description */
    MAX_IMPORT_DEPTH = 200,
};

typedef struct Loaded {
    const char *real;   /* canonical path */
    const char *path;   /* as displayed: the root as given, imports joined to their importer */
    AstFile *ast;       /* NULL while being loaded, or after syntax errors */
    bool in_progress;
} Loaded;

typedef struct Loader {
    VEC(Loaded) files;
    VEC(int) stack;       /* files being loaded, outermost first: their imports are pending */
    VEC(AstFile *) done;  /* in completion order: a file after everything it imports */
} Loader;

/* Reads a whole file into malloc'd memory that stays alive (diag keeps pointing at it). */
static char *read_text(const char *path, Span at, long *len_out) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        diag_error(at, "cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        diag_error(at, "cannot read '%s': it is a directory", path);
        close(fd);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    for (;;) {
        if (!text) {
            diag_error(at, "cannot read '%s': out of memory", path);
            close(fd);
            return NULL;
        }
        if (len == cap) {
            if (cap > MAX_FILE_BYTES) {
                diag_error(at, "cannot read '%s': file is larger than %d MiB", path,
                           MAX_FILE_BYTES >> 20);
                free(text);
                close(fd);
                return NULL;
            }
            char *bigger = realloc(text, cap * 2);
            if (!bigger)
                free(text);
            text = bigger;
            cap *= 2;
            continue;
        }
        ssize_t got = read(fd, text + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            diag_error(at, "cannot read '%s': %s", path, strerror(errno));
            free(text);
            close(fd);
            return NULL;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    if (len > MAX_FILE_BYTES) {
        diag_error(at, "cannot read '%s': file is larger than %d MiB", path,
                   MAX_FILE_BYTES >> 20);
        free(text);
        return NULL;
    }
    const char *nul = memchr(text, 0, len);
    if (nul) {
        diag_error(at, "cannot read '%s': it contains a NUL byte at offset %ld (not a text file?)",
                   path, (long)(nul - text));
        free(text);
        return NULL;
    }
    *len_out = (long)len;
    return text;
}

/* `rel` as seen from the directory of `importer`. */
static const char *join_import(const char *importer, const char *rel) {
    const char *slash = strrchr(importer, '/');
    if (rel[0] == '/' || !slash)
        return arena_strdup(rel);
    return arena_printf("%.*s%s", (int)(slash - importer + 1), importer, rel);
}

static void load_file(Loader *ld, const char *path, Span at);

static void load_imports(Loader *ld, int index) {
    AstFile *ast = ld->files.items[index].ast;
    for (int i = 0; i < ast->nitems; i++) {
        Item *it = ast->items[i];
        if (it->kind != ITEM_IMPORT)
            continue;
        if (!it->path[0]) {
            diag_error(it->name_span, "empty import path");
            continue;
        }
        load_file(ld, join_import(ld->files.items[index].path, it->path), it->name_span);
    }
}

static void report_cycle(Loader *ld, int target, Span at) {
    int from = 0;
    while (ld->stack.items[from] != target)
        from++;
    char *chain = arena_strdup("");
    for (int i = from; i < ld->stack.n; i++)
        chain = arena_printf("%s%s -> ", chain, ld->files.items[ld->stack.items[i]].path);
    diag_error(at, "import cycle: %s%s", chain, ld->files.items[target].path);
}

static void load_file(Loader *ld, const char *path, Span at) {
    if (ld->stack.n >= MAX_IMPORT_DEPTH) {
        diag_error(at, "imports nested more than %d deep", MAX_IMPORT_DEPTH);
        return;
    }
    char *real = realpath(path, NULL);
    if (!real) {
        diag_error(at, "cannot read '%s': %s", path, strerror(errno));
        return;
    }
    const char *canonical = arena_strdup(real);
    free(real);
    for (int i = 0; i < ld->files.n; i++) {
        if (strcmp(ld->files.items[i].real, canonical) != 0)
            continue;
        if (ld->files.items[i].in_progress)
            report_cycle(ld, i, at);
        return;  /* already read */
    }
    long len;
    char *text = read_text(path, at, &len);
    if (!text)
        return;
    int id = diag_add_source(path, text, len);
    int index = ld->files.n;
    VEC_PUSH(ld->files, ((Loaded){.real = canonical, .path = path, .in_progress = true}));
    VEC_PUSH(ld->stack, index);
    AstFile *ast = parse_source(id);
    ld->files.items[index].ast = ast;
    if (ast) {
        load_imports(ld, index);
        VEC_PUSH(ld->done, ast);
    }
    ld->files.items[index].in_progress = false;
    ld->stack.n--;
}

/* Adds item to list unless its name is taken, which is an error pointing at both. */
static void add_unique(Item ***list, int *n, Item *item, const char *kind) {
    for (int i = 0; i < *n; i++) {
        if (strcmp((*list)[i]->name, item->name) == 0) {
            diag_error(item->name_span, "%s '%s' is defined twice", kind, item->name);
            diag_note((*list)[i]->name_span, "first defined here");
            return;
        }
    }
    *list = arena_realloc(*list, sizeof(Item *) * (size_t)*n, sizeof(Item *) * (size_t)(*n + 1));
    (*list)[(*n)++] = item;
}

Program *load_program(const char *root_path) {
    int errors_before = diag_error_count();
    Loader ld = {0};
    load_file(&ld, arena_strdup(root_path), span_none());
    if (diag_error_count() > errors_before || ld.files.n == 0)
        return NULL;

    Program *prog = arena_alloc(sizeof(Program));
    prog->nfiles = ld.files.n;
    prog->files = arena_alloc(sizeof(AstFile *) * (size_t)ld.files.n);
    for (int i = 0; i < ld.files.n; i++)
        prog->files[i] = ld.files.items[i].ast;
    /* Blocks in completion order: an imported definition counts as the first one, so a
     * clash is reported in the importing file. */
    for (int f = 0; f < ld.done.n; f++) {
        AstFile *file = ld.done.items[f];
        for (int i = 0; i < file->nitems; i++)
            if (file->items[i]->kind == ITEM_BLOCK)
                add_unique(&prog->blocks, &prog->nblocks, file->items[i], "block");
    }
    AstFile *root = prog->files[0];
    for (int i = 0; i < root->nitems; i++) {
        Item *it = root->items[i];
        if (it->kind == ITEM_MODEL)
            add_unique(&prog->models, &prog->nmodels, it, "model");
        else if (it->kind == ITEM_TRAIN) {
            prog->trains = arena_realloc(prog->trains, sizeof(Item *) * (size_t)prog->ntrains,
                                         sizeof(Item *) * (size_t)(prog->ntrains + 1));
            prog->trains[prog->ntrains++] = it;
        }
    }
    return diag_error_count() > errors_before ? NULL : prog;
}
