/* fuzz_cnn.c: the .cnn front end through planning and emission. The input is a .cnn file;
 * it is loaded, elaborated (with its train section), shape-checked, differentiated, fused,
 * planned, verified, and printed as IR, plan, PyTorch and C (inference and training). Any
 * crash, hang, sanitizer report or failed plan verification is a finding; errors in the
 * input are expected (reported to a null stream). */
#include "fuzz_util.h"

#include "arena.h"
#include "ast.h"
#include "diag.h"
#include "elaborate.h"
#include "emit_c.h"
#include "emit_torch.h"
#include "ir_print.h"
#include "passes.h"
#include "plan.h"

/* Emission writes files and is the slowest step: only graphs of this many ops or fewer. */
enum { EMIT_MAX_OPS = 600 };

static void run(const Graph *g, const Plan *plan, FILE *sink) {
    ir_print(g, sink);
    ir_print_params(g, sink);
    plan_print(g, plan, sink);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    diag_reset();
    diag_stream = sink;
    const char *path = fuzz_file("m.cnn", data, len);
    Program *prog = load_program(path);
    for (int pass = 0; prog && pass < 2; pass++) {
        ElabOptions eo = {.batch = pass ? 0 : 2};
        Graph *g = elaborate(prog, &eo);
        if (!g || !pass_shape(g))
            continue;
        bool train = pass == 1 && ir_param_count(g, true) > 0;
        if (pass == 0 && g->nops <= EMIT_MAX_OPS) {
            char tpath[300];
            snprintf(tpath, sizeof tpath, "%s/m.py", fuzz_dir());
            FILE *t = fopen(tpath, "w");
            if (t) {
                emit_torch(g, t);
                fclose(t);
            }
        }
        if (train) {
            pass_autodiff(g);
            if (!pass_shape(g))
                continue;
        }
        pass_fuse(g);
        if (!ir_verify(g))
            abort(); /* a valid model must stay valid through the passes */
        Plan *plan = pass_plan(g, true);
        if (!plan_verify(g, plan))
            abort();
        run(g, plan, sink);
        if (g->nops <= EMIT_MAX_OPS) {
            EmitOptions o = {.source = path, .train = train};
            char c_path[300], h_path[300];
            snprintf(c_path, sizeof c_path, "%s/m.c", fuzz_dir());
            snprintf(h_path, sizeof h_path, "%s/m.h", fuzz_dir());
            emit_c_files(g, plan, &o, c_path, h_path);
        }
    }
    diag_flush();
    diag_stream = NULL;
    arena_free_all();
    diag_free_sources();
    return 0;
}
