/* cli.c: the standalone program's command line: cnnrt_main dispatches to one command
 * (cmd_*.c), and this file holds what the commands share: option parsing, error lines,
 * the model's memory and its weights. */
#include "cli.h"
#include "ckpt.h"
#include "rng.h"
#include "rt.h"

#include <stdarg.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The commands, in the order --help lists them. */
#define CLI_COMMANDS(X)                                                               \
    X(info, "what the model is: shapes, parameters, FLOPs, memory")                   \
    X(init, "write freshly initialized weights to a safetensors file")                \
    X(import, "convert a PyTorch checkpoint (.pt) or safetensors file to the model's names") \
    X(predict, "classify image files")                                                \
    X(bench, "measure latency and throughput")                                        \
    X(forward, "run the model on a tensor file (for testing against a reference)")    \
    X(train, "train on a dataset: checkpoints, log.csv, curves.svg")                  \
    X(eval, "loss, accuracy, per-class metrics and confusion matrix on a dataset")   \
    X(grad, "loss and gradients of one training step (for testing against a reference)") \
    X(visualize, "draw the first conv layer's filters or a layer's feature maps as a PNG")

static const struct {
    const char *name, *summary;
    int (*run)(const CnnModel *m, int argc, char **argv);
} commands[] = {
#define X(name, summary) {#name, summary, cmd_##name},
    CLI_COMMANDS(X)
#undef X
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

const char *cli_prog = "model";

int cli_error(int status, const char *fmt, ...) {
    fprintf(stderr, "%s: error: ", cli_prog);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

static void print_help(const CnnModel *m) {
    printf("usage: %s COMMAND [OPTIONS]\n\n", cli_prog);
    printf("Model %s (compiled from %s by cnnc).\n\nCommands:\n", m->name, m->source);
    for (int i = 0; i < NCOMMANDS; i++)
        printf("  %-9s %s\n", commands[i].name, commands[i].summary);
    printf("\n'%s COMMAND --help' describes one command.\n", cli_prog);
    printf("\nEvery command refuses a NaN or an infinity in weights or input tensors, naming the tensor\n"
           "and the index; --allow-nonfinite (with any command) accepts them.\n");
    printf("Exit status: 0 success, 1 bad input (files), 2 bad usage.\n");
}

/* --threads T for the commands that compute but do not parse it themselves (train and bench
 * do): taken out of argv here, before the command sees its options, and listed in its help. */
static bool generic_threads(const char *command) {
    static const char *const names[] = {"predict", "forward", "eval", "grad"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(command, names[i]) == 0)
            return true;
    return false;
}

static const char threads_help[] =
    "  --threads T      OpenMP threads (default: OMP_NUM_THREADS, else one per core); ignored\n"
    "                   by a program built without OpenMP (CNNC_OPENMP=0)\n";

/* Removes every "--threads T" / "--threads=T" before "--" from argv[2..argc) and applies the
 * last one. Returns -1 to go on, else the exit status of a usage error. */
static int take_threads(const CnnModel *m, int *argc, char **argv) {
    const char *value = NULL;
    int k = 2;
    bool rest = false;
    for (int i = 2; i < *argc; i++) {
        const char *a = argv[i];
        if (!rest && strcmp(a, "--") == 0)
            rest = true;
        if (!rest && strcmp(a, "--threads") == 0) {
            if (i + 1 >= *argc)
                return cli_error(EXIT_USAGE, "option --threads needs a value");
            value = argv[++i];
            continue;
        }
        if (!rest && strncmp(a, "--threads=", 10) == 0) {
            value = a + 10;
            continue;
        }
        argv[k++] = argv[i];
    }
    *argc = k;
    argv[k] = NULL;
    long long t;
    if (value && !cli_int("--threads", value, 1, 4096, &t))
        return EXIT_USAGE;
    if (value && m->set_threads)
        m->set_threads((int)t);
    return -1;
}

int cnnrt_main(const CnnModel *m, int argc, char **argv) {
    if (argc > 0 && argv[0] && *argv[0]) {
        const char *slash = strrchr(argv[0], '/');
        cli_prog = slash ? slash + 1 : argv[0];
    }
    if (argc < 2) {
        char names[256] = "";
        for (int i = 0, k = 0; i < NCOMMANDS && k >= 0 && (size_t)k < sizeof names; i++)
            k += snprintf(names + k, sizeof names - (size_t)k, "%s%s", i ? ", " : "", commands[i].name);
        return cli_error(EXIT_USAGE, "no command given (%s; see '%s --help')", names, cli_prog);
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        if (strcmp(name, "help") == 0 && argc > 2) {   /* "help CMD" is "CMD --help" */
            char *help_argv[] = {"--help", NULL};
            for (int i = 0; i < NCOMMANDS; i++)
                if (strcmp(argv[2], commands[i].name) == 0)
                    return commands[i].run(m, 1, help_argv);
            return cli_error(EXIT_USAGE, "unknown command '%s' (see '%s --help')", argv[2], cli_prog);
        }
        print_help(m);
        return fflush(stdout) == 0 ? 0 : cli_error(EXIT_BAD_INPUT, "cannot write standard output");
    }
    /* --allow-nonfinite is accepted by every command: taken out here (before any "--"). */
    int kept = 2;
    for (int i = 2, opts = 1; i < argc; i++) {
        if (opts && strcmp(argv[i], "--") == 0)
            opts = 0;
        if (opts && strcmp(argv[i], "--allow-nonfinite") == 0)
            ckpt_allow_nonfinite = true;
        else
            argv[kept++] = argv[i];
    }
    if (kept < argc)
        argv[kept] = NULL;
    argc = kept;
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0) {
            if (generic_threads(name)) {
                int rc = take_threads(m, &argc, argv);
                if (rc >= 0)
                    return rc;
            }
            int rc = commands[i].run(m, argc - 2, argv + 2);
            if (fflush(stdout) != 0 && rc == 0)
                rc = cli_error(EXIT_BAD_INPUT, "cannot write standard output");
            return rc;
        }
    if (name[0] == '-')
        return cli_error(EXIT_USAGE, "unknown option '%s' (a command comes first; see '%s --help')",
                         name, cli_prog);
    return cli_error(EXIT_USAGE, "unknown command '%s' (see '%s --help')", name, cli_prog);
}

/* ---- options ---------------------------------------------------------------------------- */

/* cli_parse, also gathering every value of option `collect` (when non-NULL) into list. */
static int parse(const char *command, const char *help, const CliOption *opts, int argc, char **argv,
                 const char **positional, int *npositional, const char *collect, const char **list, int *nlist) {
    if (npositional)
        *npositional = 0;
    bool only_positional = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || strcmp(a, "-") == 0) {
            if (!positional)
                return cli_error(EXIT_USAGE, "%s takes no argument '%s' (see '%s %s --help')",
                                 command, a, cli_prog, command);
            positional[(*npositional)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: %s %s", cli_prog, help);
            if (generic_threads(command) && !strstr(help, "--threads"))
                fputs(threads_help, stdout);
            return 0;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const CliOption *o = NULL;
        for (const CliOption *p = opts; p && p->name; p++)
            if (strlen(p->name) == len && strncmp(p->name, a, len) == 0)
                o = p;
        if (!o)
            return cli_error(EXIT_USAGE, "unknown option '%.*s' for %s (see '%s %s --help')",
                             (int)len, a, command, cli_prog, command);
        if (o->flag) {
            if (eq)
                return cli_error(EXIT_USAGE, "option %s takes no value", o->name);
            *o->flag = true;
            continue;
        }
        if (eq) {
            *o->value = eq + 1;
        } else if (i + 1 < argc) {
            *o->value = argv[++i];
        } else {
            return cli_error(EXIT_USAGE, "option %s needs a value", o->name);
        }
        if (!**o->value)
            return cli_error(EXIT_USAGE, "option %s needs a non-empty value", o->name);
        if (collect && strcmp(o->name, collect) == 0)
            list[(*nlist)++] = *o->value;
    }
    return -1;
}

int cli_parse(const char *command, const char *help, const CliOption *opts, int argc,
              char **argv, const char **positional, int *npositional) {
    return parse(command, help, opts, argc, argv, positional, npositional, NULL, NULL, NULL);
}

int cli_parse_repeated(const char *command, const char *help, const CliOption *opts, int argc, char **argv,
                       const char **positional, int *npositional, const char *name, const char **list, int *nlist) {
    *nlist = 0;
    return parse(command, help, opts, argc, argv, positional, npositional, name, list, nlist);
}

bool cli_require(const char *command, const char *name, const char *value) {
    if (value)
        return true;
    cli_error(EXIT_USAGE, "%s needs %s (see '%s %s --help')", command, name, cli_prog, command);
    return false;
}

bool cli_int(const char *name, const char *text, long long lo, long long hi, long long *out) {
    char *end;
    long long v = strtoll(text, &end, 10);
    bool ok = end != text && *end == 0 && text[0] != ' ' && v >= lo && v <= hi;
    if (!ok) {
        cli_error(EXIT_USAGE, "%s needs an integer from %lld to %lld, not '%s'", name, lo, hi, text);
        return false;
    }
    *out = v;
    return true;
}

const char *cli_group(long long v, char *buf, size_t size) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v);
    char out[48];
    size_t k = 0;
    if (v < 0)
        out[k++] = '-';
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = 0;
    snprintf(buf, size, "%s", out);
    return buf;
}

/* ---- memory and weights ----------------------------------------------------------------- */

float *cli_alloc_floats(size_t n, const char *what, char *err) {
    size_t bytes = n > ((size_t)-1 - 64) / sizeof(float) ? 0 : n * sizeof(float);
    if (n && !bytes) {
        rt_fail(err, "out of memory (%zu floats for %s)", n, what);
        return NULL;
    }
    float *p = rt_big_alloc(bytes);
    if (!p)
        rt_fail(err, "out of memory (%zu bytes for %s)", bytes, what);
    return p;
}

bool cli_memory_alloc(const CnnModel *m, CliMemory *mem, char *err) {
    mem->params = cli_alloc_floats(m->param_floats, "the parameters", err);
    mem->work = mem->params ? cli_alloc_floats(m->work_floats, "the workspace", err) : NULL;
    if (!mem->work) {
        cli_memory_free(mem);
        return false;
    }
    return true;
}

void cli_poison_work(const CnnModel *m, CliMemory *mem) {
    for (size_t k = 0; k < m->work_floats; k++)
        mem->work[k] = NAN;
}

float *cli_pack(const CnnModel *m, const float *params, float *work) {
    if (!m->pack_floats || !m->pack)
        return NULL;
    char err[256];
    float *packs = cli_alloc_floats(m->pack_floats, "the packed weights", err);
    if (packs)
        m->pack(params, work, packs);
    return packs;
}

int cli_forward(const CnnModel *m, const float *params, float *packs, float *work, const float *x, float *y,
                int n) {
    return packs ? m->forward_packed(params, packs, work, x, y, n) : m->forward(params, work, x, y, n);
}

void cli_memory_free(CliMemory *mem) {
    free(mem->params);
    free(mem->work);
    mem->params = mem->work = NULL;
}

/* CnnTensorInfo.init names what a fresh tensor holds; the batchnorm roles give the constants.
 * "weight:SPEC" and "bias:SPEC" belong to a layer with its own init (`conv(64, 3, init = ...)`),
 * SPEC as --init takes it; it replaces the model-wide one for that layer. */
static ParamRole role_of(const CnnTensorInfo *t) {
    if (strncmp(t->init, "weight", 6) == 0 && (t->init[6] == 0 || t->init[6] == ':'))
        return ROLE_WEIGHT;
    if (strncmp(t->init, "bias", 4) == 0 && (t->init[4] == 0 || t->init[4] == ':'))
        return ROLE_BIAS;
    if (strcmp(t->init, "ones") == 0)
        return ROLE_BN_WEIGHT;
    return ROLE_BN_BIAS;   /* "zeros" */
}

void cli_init_params(const CnnModel *m, float *params, InitKind kind, unsigned long long seed) {
    InitSpec s;
    init_spec_default(kind, &s);
    cli_init_params_spec(m, params, &s, seed);
}

void cli_init_params_spec(const CnnModel *m, float *params, const InitSpec *s, unsigned long long seed) {
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < m->ntensors; i++) {
        const CnnTensorInfo *t = &m->tensors[i];
        const char *own = strchr(t->init, ':');
        InitSpec layer;
        char err[256];
        if (own && !init_spec_parse(own + 1, &layer, err, sizeof err)) {
            /* the compiler writes these; a hand-edited model file could still get here */
            fprintf(stderr, "%s: tensor %s: its init '%s' is malformed: %s\n", m->name, t->name, own + 1, err);
            exit(EXIT_BAD_INPUT);
        }
        init_tensor_spec(&r, own ? &layer : s, role_of(t), t->fan_in, t->fan_out, params + t->offset, (long)t->numel);
    }
}

bool cli_load_weights(const CnnModel *m, const char *path, float *params, char *err) {
    Ckpt *c = ckpt_read(path, err);
    if (!c)
        return false;
    bool ok = true;
    for (int i = 0; ok && i < m->ntensors; i++) {
        const CnnTensorInfo *t = &m->tensors[i];
        ok = ckpt_get_f32(c, t->name, t->shape, t->rank, params + t->offset, err);
    }
    ckpt_free(c);
    return ok;
}

/* Checks tensor 'input' of c against the model's input shape and reads its N into *n. */
bool cli_check_input(const CnnModel *m, const Ckpt *c, int *n, char *err) {
    const CkptTensor *t = ckpt_find(c, "input");
    char want[96], have[128];
    if (m->in_rank == 3)
        snprintf(want, sizeof want, "[N, %d, %d, %d]", m->in_shape[0], m->in_shape[1], m->in_shape[2]);
    else
        snprintf(want, sizeof want, "[N, %d]", m->in_shape[0]);
    if (!t) {
        char names[96] = "";
        for (int i = 0, k = 0; i < c->ntensors && i < 3; i++)
            k += snprintf(names + k, sizeof names - (size_t)k, "%s'%.20s'", i ? ", " : "", c->tensors[i].name);
        if (c->ntensors == 0)
            return rt_fail(err, "%s: no tensor 'input' (the file holds no tensors)", c->path);
        return rt_fail(err, "%s: no tensor 'input' %s (the file holds %s%s)", c->path, want, names,
                       c->ntensors > 3 ? ", ..." : "");
    }
    ckpt_format_shape(t->shape, t->rank, have, sizeof have);
    bool ok = t->rank == m->in_rank + 1 && t->shape[0] >= 1 && t->shape[0] <= INT_MAX;
    for (int d = 1; ok && d < t->rank; d++)
        ok = t->shape[d] == m->in_shape[d - 1];
    if (!ok && t->rank > 0 && t->shape[0] == 0)
        return rt_fail(err, "%s: tensor 'input' has shape %s, an empty batch (N must be at least 1)",
                       c->path, have);
    if (!ok)
        return rt_fail(err, "%s: tensor 'input' has shape %s, model expects %s", c->path, have, want);
    *n = (int)t->shape[0];
    return true;
}

void cli_add_batch_counters(CkptWriter *w, const CnnModel *m, const int64_t *count) {
    static const char suffix[] = ".running_var";
    size_t ls = sizeof suffix - 1;
    for (int i = 0; i < m->ntensors; i++) {
        const char *name = m->tensors[i].name;
        size_t n = strlen(name);
        if (n > ls && strcmp(name + n - ls, suffix) == 0) {
            char buf[512];
            snprintf(buf, sizeof buf, "%.*s.num_batches_tracked", (int)(n - ls), name);
            ckpt_add_i64(w, buf, NULL, 0, count);
        }
    }
}
