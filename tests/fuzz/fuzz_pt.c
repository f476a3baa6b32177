/* fuzz_pt.c: the PyTorch checkpoint reader (import.h): torch.save zip archives (zip entries,
 * deflate, CRC-32, the pickle stack machine, storages and strides) and safetensors through
 * the same entry point. */
#include "fuzz_util.h"

#include "import.h"
#include "rt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    char err[RT_ERR_LEN] = "";
    ImportSet s = {0};
    if (import_parse("f.pt", data, len, &s, err)) {
        for (int i = 0; i < s.n; i++)
            if (!s.t[i].name || s.t[i].rank < 0 || s.t[i].rank > CKPT_MAX_RANK || s.t[i].numel < 0)
                abort();
        import_free(&s);
    } else if (!err[0]) {
        abort(); /* a failure must say why */
    }
    return 0;
}
