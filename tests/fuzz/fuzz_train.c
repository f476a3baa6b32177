/* fuzz_train.c: the train section. The input is the body of a `train { ... }` section,
 * appended to a fixed small model, then elaborated (the section is evaluated and checked). */
#include "fuzz_util.h"

#include "arena.h"
#include "ast.h"
#include "diag.h"
#include "elaborate.h"
#include "ir.h"

static const char head[] = "model m(width = 4) {\n    input [1, 8, 8]\n    conv(width, 3, pad = 1); batchnorm; relu\n"
                           "    maxpool(2)\n    flatten\n    dropout(0.5)\n    linear(10)\n}\n\ntrain {\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    size_t hl = sizeof head - 1;
    uint8_t *text = malloc(hl + len + 3);
    if (!text)
        return 0;
    memcpy(text, head, hl);
    memcpy(text + hl, data, len);
    memcpy(text + hl + len, "\n}\n", 3);
    diag_reset();
    diag_stream = sink;
    Program *prog = load_program(fuzz_file("t.cnn", text, hl + len + 3));
    free(text);
    ElabOptions eo = {0};
    if (prog)
        elaborate(prog, &eo);
    diag_flush();
    diag_stream = NULL;
    arena_free_all();
    diag_free_sources();
    return 0;
}
