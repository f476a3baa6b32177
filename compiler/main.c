/* main.c: the cnnc driver. Reads options, then runs the stages in a straight line:
 * load (parse) -> elaborate -> shape [-> autodiff -> shape] [-> fuse] -> plan -> the requested
 * output, with one cleanup path (main). Exit codes: 0 success,
 * 1 errors in the input, 2 bad command-line use. No output file is left behind on failure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "ast.h"
#include "ckpt.h"
#include "diag.h"
#include "elaborate.h"
#include "emit_c.h"
#include "emit_dot.h"
#include "emit_torch.h"
#include "ir_print.h"
#include "passes.h"
#include "plan.h"
#include "rt.h"

static const char usage_text[] =
    "usage: cnnc [options] FILE.cnn -o PROGRAM     build a standalone program\n"
    "       cnnc --emit=KIND [options] FILE.cnn    print or write one view of the model\n"
    "\n"
    "Compiles a .cnn network description (docs/language.md) into specialized C.\n"
    "\n"
    "Output:\n"
    "  -o PATH            with no --emit: the program to build (the C is compiled with $CC,\n"
    "                     default clang, -O3 -march=native -mprefer-vector-width=512\n"
    "                     -fno-math-errno, and linked with the runtime);\n"
    "                     with --emit=c: the directory for NAME.c and NAME.h;\n"
    "                     otherwise: the file to write instead of standard output\n"
    "  --emit=ir          the elaborated, shape-checked graph (docs/ir.md)\n"
    "  --emit=params      one line per checkpoint tensor: NAME [d0, d1, ...]\n"
    "  --emit=c           the embeddable pair NAME.c and NAME.h (needs -o DIR)\n"
    "  --emit=plan        the memory plan: every buffer's size, offset and live range, then\n"
    "                     the arena, naive and peak-live bytes (with --train: the training step)\n"
    "  --emit=dot         the graph for Graphviz (dot -Tsvg): one node per op with its output\n"
    "                     shape, fused ops as clusters, residual and concat edges marked\n"
    "  --emit=torch       an equivalent torch.nn.Module as a Python file (the tests' reference)\n"
    "  --svg FILE         with --emit=plan: also draw the plan as an SVG picture (steps across,\n"
    "                     arena offset down, one rectangle per buffer, peak-live marked)\n"
    "\n"
    "Options:\n"
    "  --model NAME       the model to compile when the file has several\n"
    "  -D NAME=VALUE      set a model parameter (integer, number, true/false or [list])\n"
    "  --batch N          the largest batch the compiled code accepts (default: 1 for --emit=c\n"
    "                     without --train, else the train section's batch, else 1); calls\n"
    "                     may pass any n <= N\n"
    "  --slices K         split a call's batch into at most K slices, each run on its own\n"
    "                     thread in its own arena (docs/hacking.md, \"Batch slices\"): 1 turns\n"
    "                     it off; default: one per processor (at least 2) for small networks\n"
    "                     whose ops do not couple the images (no batchnorm or dropout in\n"
    "                     training), with at least 8 images per slice\n"
    "  -O0, -O1, -O2      optimization: -O0 keeps every op as written (no fusion, no in-place\n"
    "                     ops); -O1 and up fuse (docs/ir.md) and run ops in place (default -O2)\n"
    "  --train            with --emit=ir, plan or dot: append the loss and the backward graph; with\n"
    "                     --emit=c: also emit NAME_train_step and NAME_update (standalone\n"
    "                     programs always have them)\n"
    "  --no-winograd      compute every convolution directly: no Winograd F(2x2, 3x3) or\n"
    "                     F(4x4, 3x3) for the 3x3 stride-1 convs of 8x8 planes and more\n"
    "                     (docs/hacking.md, \"Winograd\"), whose sums round differently from\n"
    "                     the direct conv's (about 1e-6 relative)\n"
    "  --no-train         build a program for inference only (no train, eval or grad):\n"
    "                     smaller, and faster to compile\n"
    "  --mpi              build a program whose train runs data-parallel under mpirun\n"
    "                     (docs/distributed.md): compiled with $MPICC (default mpicc) and\n"
    "                     linked with libcnnrt_mpi.a\n"
    "  --embed-weights W  with --emit=c: put the weights of W.safetensors into NAME.c as a\n"
    "                     const array (for firmware without a file system)\n"
    "  --dump-after=PASS  print the IR after a pass (elaborate, shape, autodiff, fuse; after\n"
    "                     plan: the plan) on standard error, then go on\n"
    "  -h, --help         show this help\n"
    "  --version          show the version\n"
    "\n"
    "Environment: CC (the C compiler for programs), CNNC_RUNTIME (the directory holding\n"
    "libcnnrt.a and the runtime headers, default: next to cnnc), CNNC_CFLAGS (extra flags\n"
    "for programs), CNNC_OPENMP=0 (build programs without OpenMP threads).\n";

typedef enum { EMIT_PROGRAM, EMIT_IR, EMIT_PARAMS, EMIT_C, EMIT_TORCH, EMIT_PLAN, EMIT_DOT } EmitKind;

typedef struct Options {
    const char *file, *out, *embed, *svg;
    EmitKind emit;
    bool train, no_train, mpi;
    bool no_winograd;   /* --no-winograd */
    int slices;         /* --slices K: 0 the compiler's choice */
    int opt;            /* -O level: 0 no fusion and no in-place ops; 1 and 2 both (default 2) */
    const char *dump_after; /* --dump-after=PASS, or NULL */
    ElabOptions elab;
} Options;

/* The passes that --dump-after names, in the order they run. */
static const char *const pass_names[] = {"elaborate", "shape", "autodiff", "fuse", "plan"};
enum { NPASSES = sizeof pass_names / sizeof *pass_names };

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "cnnc: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'cnnc --help'.\n");
    return 2;
}

/* Returns -1 when parsing went on, else the exit code. */
static int parse_options(int argc, char **argv, Options *o, Define *defines) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3]) {
            o->opt = a[2] - '0';
        } else if (!strcmp(a, "--train")) {
            o->train = true;
        } else if (!strcmp(a, "--no-train")) {
            o->no_train = true;
        } else if (!strcmp(a, "--mpi")) {
            o->mpi = true;
        } else if (!strcmp(a, "--no-winograd")) {
            o->no_winograd = true;
        } else if (!strcmp(a, "--version")) {
            puts("cnnc 0.1");
            return 0;
        } else if (!strncmp(a, "--dump-after=", 13)) {
            int k = 0;
            while (k < NPASSES && strcmp(a + 13, pass_names[k]))
                k++;
            if (k == NPASSES)
                return usage_error("unknown pass '%s' for --dump-after (elaborate, shape, autodiff, fuse, plan)", a + 13);
            o->dump_after = a + 13;
        } else if (!strncmp(a, "--emit=", 7)) {
            static const char *const kinds[] = {"ir", "params", "c", "torch", "plan", "dot"};
            static const EmitKind ek[] = {EMIT_IR, EMIT_PARAMS, EMIT_C, EMIT_TORCH, EMIT_PLAN, EMIT_DOT};
            int k = 0;
            while (k < 6 && strcmp(a + 7, kinds[k]))
                k++;
            if (k == 6)
                return usage_error("unknown --emit kind '%s' (ir, params, c, plan, dot, torch)", a + 7);
            o->emit = ek[k];
        } else if (!strcmp(a, "--model") || !strcmp(a, "-o") || !strcmp(a, "--batch") || !strcmp(a, "-D") ||
                   !strcmp(a, "--slices") ||
                   !strcmp(a, "--embed-weights") || !strcmp(a, "--svg")) {
            if (i + 1 >= argc)
                return usage_error("option '%s' needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--model"))
                o->elab.model = v;
            else if (!strcmp(a, "-o"))
                o->out = v;
            else if (!strcmp(a, "--embed-weights"))
                o->embed = v;
            else if (!strcmp(a, "--svg"))
                o->svg = v;
            else if (!strcmp(a, "--batch")) {
                char *end;
                long n = strtol(v, &end, 10);
                if (*v == 0 || *end || n < 1 || n > 65536)
                    return usage_error("--batch takes an integer from 1 to 65536, got '%s'", v);
                o->elab.batch = (int)n;
            } else if (!strcmp(a, "--slices")) {
                char *end;
                long n = strtol(v, &end, 10);
                if (*v == 0 || *end || n < 1 || n > 64)
                    return usage_error("--slices takes an integer from 1 to 64, got '%s'", v);
                o->slices = (int)n;
            } else {
                const char *eq = strchr(v, '=');
                if (!eq || eq == v)
                    return usage_error("-D takes NAME=VALUE, got '%s'", v);
                defines[o->elab.ndefines++] = (Define){arena_strndup(v, (size_t)(eq - v)), eq + 1};
            }
        } else if (!strncmp(a, "-D", 2) && a[2]) {
            const char *v = a + 2, *eq = strchr(v, '=');
            if (!eq || eq == v)
                return usage_error("-D takes NAME=VALUE, got '%s'", v);
            defines[o->elab.ndefines++] = (Define){arena_strndup(v, (size_t)(eq - v)), eq + 1};
        } else if (a[0] == '-' && a[1]) {
            return usage_error("unknown option '%s'", a);
        } else if (o->file) {
            return usage_error("more than one input file ('%s')", a);
        } else {
            o->file = a;
        }
    }
    if (!o->file)
        return usage_error("%s", "no input file");
    if (o->emit == EMIT_PROGRAM && !o->out)
        return usage_error("%s", "nothing to do: give -o PROGRAM to build a program, or --emit=KIND");
    if (o->emit == EMIT_C && !o->out)
        return usage_error("%s", "--emit=c needs -o DIR, the directory for NAME.c and NAME.h");
    if (o->embed && o->emit != EMIT_C)
        return usage_error("%s", "--embed-weights goes with --emit=c");
    if (o->mpi && o->emit != EMIT_PROGRAM)
        return usage_error("%s", "--mpi builds a program: give -o PROGRAM without --emit");
    if (o->mpi && o->no_train)
        return usage_error("%s", "--mpi is for data-parallel training; it excludes --no-train");
    if (o->svg && o->emit != EMIT_PLAN)
        return usage_error("%s", "--svg goes with --emit=plan");
    return -1;
}

/* Writes a text view to -o PATH (atomically) or standard output. */
static const Plan *the_plan; /* for print_plan, which write_text calls with the graph only */
static void print_plan(const Graph *g, FILE *f) { plan_print(g, the_plan, f); }
static void print_plan_svg(const Graph *g, FILE *f) { plan_svg(g, the_plan, f); }

/* An existing path that is not a regular file (/dev/null, a pipe, a terminal): written in
 * place, never replaced by a rename (which, run as root, would turn /dev/null into a file). */
static bool is_special(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && !S_ISREG(st.st_mode);
}

static int write_file(const char *out, const Graph *g, void (*print)(const Graph *, FILE *)) {
    if (!out) {
        print(g, stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (is_special(out)) {
        FILE *f = fopen(out, "w");
        if (!f) {
            fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", out, strerror(errno));
            return 1;
        }
        print(g, f);
        if (fclose(f) != 0) {
            fprintf(stderr, "cnnc: error: cannot write '%s'\n", out);
            return 1;
        }
        return 0;
    }
    char *tmp = arena_printf("%s.tmp%d", out, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", out, strerror(errno));
        return 1;
    }
    print(g, f);
    if (fclose(f) != 0 || rename(tmp, out) != 0) {
        remove(tmp);
        fprintf(stderr, "cnnc: error: cannot write '%s'\n", out);
        return 1;
    }
    return 0;
}

static int write_text(const Options *o, const Graph *g, void (*print)(const Graph *, FILE *)) {
    return write_file(o->out, g, print);
}

/* The parameter block from a checkpoint, every tensor checked against the model. */
static float *load_weights(const Graph *g, const Plan *plan, const char *path) {
    char err[RT_ERR_LEN];
    Ckpt *ck = ckpt_read(path, err);
    if (!ck) {
        fprintf(stderr, "cnnc: error: %s\n", err);
        return NULL;
    }
    float *w = arena_alloc(sizeof(float) * (size_t)(plan->param_floats + 1));
    for (int i = 0; i < g->nparams; i++) {
        const ParamT *p = &g->params[i];
        if (!ckpt_get_f32(ck, p->name, p->shape.d, p->shape.rank, w + plan->param_offset[i], err)) {
            fprintf(stderr, "cnnc: error: %s\n", err);
            ckpt_free(ck);
            return NULL;
        }
    }
    ckpt_free(ck);
    return w;
}

static const char *self_dir(void) {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return ".";
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = 0;
    return arena_strdup(buf);
}

/* True when PROG names an executable, directly or on $PATH. */
static bool in_path(const char *prog) {
    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len && access(arena_printf("%.*s/%s", (int)len, p, prog), X_OK) == 0)
            return true;
        p += len + (colon != NULL);
    }
    return false;
}

/* Starts argv[0] with argv; returns its pid, or -1. */
static pid_t start(char *const argv[]) {
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "cnnc: error: cannot run '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

/* Its exit status, or -1. */
static int finish(pid_t pid) {
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool readable(const char *path) { return access(path, R_OK) == 0; }

/* Where the runtime library and headers are: $CNNC_RUNTIME (both in one directory); else
 * next to cnnc in the build tree (build/libcnnrt.a, the headers in runtime/); else the installed layout
 * relative to cnnc (PREFIX/bin/cnnc, PREFIX/lib/libcnnrt.a, PREFIX/include/cnnc/), so an
 * installed (or relocated, or DESTDIR-staged) tree works from any directory. */
static bool find_runtime(const char **lib, const char **inc) {
    const char *rt = getenv("CNNC_RUNTIME");
    if (rt && *rt) {
        *lib = arena_printf("%s/libcnnrt.a", rt);
        *inc = rt;
        if (readable(*lib))
            return true;
        fprintf(stderr, "cnnc: error: cannot find the runtime library '%s' (CNNC_RUNTIME is set to '%s')\n", *lib, rt);
        return false;
    }
    const char *dir = self_dir();
    const char *cand[2][2] = {{arena_printf("%s/libcnnrt.a", dir), arena_printf("%s/../runtime", dir)},
                              {arena_printf("%s/../lib/libcnnrt.a", dir), arena_printf("%s/../include/cnnc", dir)}};
    for (int k = 0; k < 2; k++)
        if (readable(cand[k][0]) && readable(arena_printf("%s/cnnrt.h", cand[k][1]))) {
            *lib = cand[k][0];
            *inc = cand[k][1];
            return true;
        }
    fprintf(stderr,
            "cnnc: error: cannot find the runtime library: looked for '%s' and '%s' with their headers"
            " (set CNNC_RUNTIME to the directory holding libcnnrt.a, cnnrt.h and cnntrain.h)\n",
            cand[0][0], cand[1][0]);
    return false;
}

/* Writes the C into a temporary directory, compiles and links it with the runtime into a
 * temporary program, then renames that over -o. gi is the inference graph; gt the training
 * graph (NULL when the model has nothing to train). */
static int build_program(const Options *o, const Graph *gi, const Plan *pi, Graph *gt, const Plan *pt) {
    const char *lib, *inc;
    if (is_special(o->out)) {
        fprintf(stderr, "cnnc: error: '%s' exists and is not a regular file: give another -o PROGRAM\n", o->out);
        return 1;
    }
    if (!find_runtime(&lib, &inc))
        return 1;
    const char *cc = getenv(o->mpi ? "MPICC" : "CC");
    if (!cc || !*cc)
        cc = o->mpi ? "mpicc" : "clang";
    if (o->mpi) { /* libcnnrt_mpi.a sits next to libcnnrt.a */
        if (!in_path(cc)) {
            fprintf(stderr, "cnnc: error: --mpi needs the MPI compiler '%s', which is not installed (Open MPI: "
                            "apt-get install libopenmpi-dev openmpi-bin; or set MPICC)\n", cc);
            return 1;
        }
        lib = arena_printf("%.*slibcnnrt_mpi.a", (int)(strlen(lib) - strlen("libcnnrt.a")), lib);
        if (!readable(lib)) {
            fprintf(stderr, "cnnc: error: cannot find the MPI runtime library '%s' ('make mpi' builds it where "
                            "MPI is installed)\n", lib);
            return 1;
        }
        /* mpicc compiles with $OMPI_CC: the C compiler of the other programs, when CC is set. */
        if (getenv("CC") && *getenv("CC") && !getenv("OMPI_CC"))
            setenv("OMPI_CC", getenv("CC"), 1);
    }
    char tmpl[] = "/tmp/cnnc.XXXXXX";
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "cnnc: error: cannot make a temporary directory: %s\n", strerror(errno));
        return 1;
    }
    if (gt)
        gt->name = arena_printf("%s_train", gi->name);
    /* The translation units, then the headers: files[0..nc-1] are compiled. Each graph's op
     * functions come in up to MAX_PARTS parts (emit_program_files). */
    enum { MAX_PARTS = 8 };
    const char *files[5 + 2 * MAX_PARTS] = {NULL};
    int nparts = 0, nparts_infer = 0;
    EmitOptions eo = {.source = o->file};
    int rc = 1;
    bool emitted = emit_program_files(gi, pi, gt, pt, &eo, tmpl, MAX_PARTS, &nparts, &nparts_infer);
    int nc = 0, nf;
    if (gt)
        files[nc++] = arena_printf("%s/%s.c", tmpl, gt->name);
    for (int k = 0; k < nparts; k++)
        files[nc++] = arena_printf("%s/%s_part%d.c", tmpl, gt->name, k + 1);
    for (int k = 0; k < nparts_infer; k++)
        files[nc++] = arena_printf("%s/%s_part%d.c", tmpl, gi->name, k + 1);
    files[nc++] = arena_printf("%s/%s.c", tmpl, gi->name);
    files[nc++] = arena_printf("%s/%s_main.c", tmpl, gi->name);
    nf = nc;
    files[nf++] = arena_printf("%s/%s.h", tmpl, gi->name);
    if (gt)
        files[nf++] = arena_printf("%s/%s.h", tmpl, gt->name);
    if (emitted) {
        const char *tmp_out = arena_printf("%s.tmp%d", o->out, (int)getpid());
        /* $CNNC_CFLAGS (space-separated) is added, e.g. sanitizers for tests; CNNC_OPENMP=0
         * builds a single-threaded program. */
        const char *args[80];
        int na = 0;
        /* -mprefer-vector-width=512: with AVX-512 the loops the C compiler vectorizes itself
         * (activations, batchnorm, pools) use 16-float vectors too, not 8 (LeNet-5's training
         * step 4% faster); without AVX-512 it changes nothing. -fno-math-errno: sqrtf may
         * then compile to the vector square root (the optimizer's Adam update, otherwise a
         * scalar loop with a branch per element: 15% of LeNet-5's step); nothing reads errno,
         * and the results are the same (the square root is correctly rounded either way). */
        const char *fixed[] = {cc, "-O3", "-march=native", "-mprefer-vector-width=512", "-fno-math-errno", "-std=c99", "-w", "-I", inc, "-I", tmpl};
        for (size_t k = 0; k < sizeof fixed / sizeof *fixed; k++)
            args[na++] = fixed[k];
        if (o->mpi)
            args[na++] = "-DCNN_MPI";   /* the generated training code's MPI hooks */
        const char *omp = getenv("CNNC_OPENMP");
        if (!omp || strcmp(omp, "0") != 0)
            args[na++] = "-fopenmp";
        const char *extra = getenv("CNNC_CFLAGS");
        if (extra) {
            char *copy = arena_strdup(extra);
            for (char *tok = strtok(copy, " "); tok && na < 48; tok = strtok(NULL, " "))
                args[na++] = tok;
        }
        /* The translation units compile as many at a time as there are processors (the
         * largest first, so that no long one starts last), then link. */
        off_t size[5 + 2 * MAX_PARTS];
        for (int k = 0; k < nc; k++) {
            struct stat sb;
            size[k] = stat(files[k], &sb) == 0 ? sb.st_size : 0;
        }
        for (int k = 1; k < nc; k++) /* insertion sort, largest first */
            for (int j = k; j > 0 && size[j] > size[j - 1]; j--) {
                off_t ts = size[j];
                size[j] = size[j - 1];
                size[j - 1] = ts;
                const char *tf = files[j];
                files[j] = files[j - 1];
                files[j - 1] = tf;
            }
        const char *objs[5 + 2 * MAX_PARTS] = {NULL};
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        int jobs = ncpu < 1 ? 1 : ncpu > nc ? nc : (int)ncpu, running = 0, next = 0;
        int st = 0;
        while (next < nc || running > 0) {
            if (next < nc && running < jobs && st == 0) {
                const char *one[80];
                memcpy(one, args, sizeof(char *) * (size_t)na);
                objs[next] = arena_printf("%.*so", (int)strlen(files[next]) - 1, files[next]);
                int m = na;
                const char *c_args[] = {"-c", files[next], "-o", objs[next], NULL};
                for (size_t j = 0; j < sizeof c_args / sizeof *c_args; j++)
                    one[m++] = c_args[j];
                if (start((char *const *)one) < 0)
                    st = -1;
                else
                    running++;
                next++;
                continue;
            }
            if (running == 0)
                break;
            int status;
            if (wait(&status) < 0) {
                st = -1;
                break;
            }
            running--;
            int s = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            if (s != 0 && st == 0)
                st = s;
        }
        if (st == 0) {
            for (int k = 0; k < nc; k++)
                args[na++] = objs[k];
            const char *tail[] = {lib, "-lz", "-lm", "-o", tmp_out, NULL};
            for (size_t k = 0; k < sizeof tail / sizeof *tail; k++)
                args[na++] = tail[k];
            st = finish(start((char *const *)args));
        }
        for (int k = 0; k < nc; k++)
            if (objs[k])
                remove(objs[k]);
        if (st == 0 && rename(tmp_out, o->out) == 0) {
            rc = 0;
        } else {
            remove(tmp_out);
            fprintf(stderr, "cnnc: error: compiling the generated C with '%s' failed (status %d)\n", cc, st);
        }
    }
    for (int k = 0; k < nf; k++)
        remove(files[k]);
    rmdir(tmpl);
    return rc;
}

static int emit_c_dir(const Options *o, const Graph *g, const Plan *plan) {
    if (mkdir(o->out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cnnc: error: cannot make directory '%s': %s\n", o->out, strerror(errno));
        return 1;
    }
    EmitOptions eo = {.source = o->file};
    if (o->embed && !(eo.weights = load_weights(g, plan, o->embed)))
        return 1;
    return emit_c_files(g, plan, &eo, arena_printf("%s/%s.c", o->out, g->name),
                        arena_printf("%s/%s.h", o->out, g->name))
               ? 0
               : 1;
}

/* --dump-after=PASS: the IR (or, after plan, the plan) on standard error, then go on. */
static void dump_after(const Options *o, const char *pass, const Graph *g, const Plan *plan) {
    if (!o->dump_after || strcmp(o->dump_after, pass) != 0)
        return;
    fprintf(stderr, "# after %s (%s graph)\n", pass, g->training ? "training" : "forward");
    if (plan)
        plan_print(g, plan, stderr);
    else
        ir_print(g, stderr);
}

/* The passes from a shape-checked graph to a verified plan: autodiff (train), fuse (-O1 and
 * up, except for the PyTorch view, which mirrors the network as written), plan. Returns the
 * plan, or NULL after a message. */
static Plan *compile_graph(const Options *o, Graph *g, bool train) {
    /* Batch slices (pass_plan.c) for the code and its plan; the other views show the model. */
    g->batch_all = g->batch;
    g->no_winograd = o->no_winograd;
    if (o->emit == EMIT_PROGRAM || o->emit == EMIT_C || o->emit == EMIT_PLAN) {
        int k = plan_slices(g, train, o->slices, (int)sysconf(_SC_NPROCESSORS_ONLN));
        if (k > 1) {
            g->slices = k;
            ir_rebatch(g, (g->batch + k - 1) / k);
            if (!pass_shape(g))
                return NULL;
        }
    }
    if (train) {
        if (!pass_autodiff(g))
            return NULL;
        dump_after(o, "autodiff", g, NULL);
        if (!pass_shape(g))
            return NULL;
    }
    if (o->opt >= 1 && o->emit != EMIT_TORCH) {
        if (!pass_fuse(g))
            return NULL;
        dump_after(o, "fuse", g, NULL);
    }
    if (!ir_verify(g))
        return NULL;
    Plan *plan = pass_plan(g, o->opt >= 1);
    dump_after(o, "plan", g, plan);
    return plan_verify(g, plan) ? plan : NULL;
}

/* Everything after the options: returns the exit code. The source is elaborated once; a
 * standalone program's inference code comes from a copy of the forward graph, fused for
 * inference, and its training code from the graph with the training step appended. */
static int compile(const Options *o) {
    Program *prog = load_program(o->file);
    Graph *g = prog ? elaborate(prog, &o->elab) : NULL;
    if (!g)
        return 1;
    dump_after(o, "elaborate", g, NULL);
    if (!pass_shape(g))
        return 1;
    dump_after(o, "shape", g, NULL);
    bool trainable = ir_param_count(g, true) > 0;
    if (o->train && !trainable) {
        fprintf(stderr, "cnnc: error: model %s has no trained parameters: there is nothing to train\n", g->name);
        return 1;
    }
    /* Standalone programs always train, unless the model has nothing to train. */
    bool train = o->train || (o->emit == EMIT_PROGRAM && !o->no_train && trainable);
    Graph *gi = o->emit == EMIT_PROGRAM && train ? ir_clone(g) : NULL;
    Plan *plan = compile_graph(o, g, train);
    if (!plan)
        return 1;
    switch (o->emit) {
    case EMIT_IR: return write_text(o, g, ir_print);
    case EMIT_PARAMS: return write_text(o, g, ir_print_params);
    case EMIT_PLAN: {
        the_plan = plan;
        int rc = o->svg ? write_file(o->svg, g, print_plan_svg) : 0;
        return rc ? rc : write_text(o, g, print_plan);
    }
    case EMIT_DOT: return write_text(o, g, emit_dot);
    case EMIT_TORCH: return write_text(o, g, emit_torch);
    case EMIT_C: return emit_c_dir(o, g, plan);
    case EMIT_PROGRAM: break;
    }
    if (!gi)
        return build_program(o, g, plan, NULL, NULL);
    Plan *pi = compile_graph(o, gi, false);
    return pi ? build_program(o, gi, pi, g, plan) : 1;
}

int main(int argc, char **argv) {
    Options o = {.opt = 2};
    Define *defines = calloc((size_t)argc + 1, sizeof *defines);
    o.elab.defines = defines;
    int rc = parse_options(argc, argv, &o, defines);
    /* The embeddable pair is for one image at a time unless --batch says otherwise: the
     * smallest workspace. With --train it holds the training step: the train section's batch. */
    if (rc < 0 && o.emit == EMIT_C && !o.train && o.elab.batch == 0)
        o.elab.batch = 1;
    if (rc < 0)
        rc = compile(&o);
    free(defines);
    arena_free_all();
    return rc;
}
