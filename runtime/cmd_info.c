/* cmd_info.c: `info`, what the compiled model is: shapes, parameter count, FLOPs, memory,
 * and with --tensors the checkpoint's tensor table. */
#include "cli.h"

#include <stdio.h>

static const char help[] =
    "info [--tensors]\n"
    "\n"
    "Prints the model's name and source, input shape, output size, trained parameter count,\n"
    "forward FLOPs per image, the bytes of the parameter block and of the workspace, and the\n"
    "largest batch one forward call takes.\n"
    "\n"
    "  --tensors   also list every checkpoint tensor: name, shape, elements\n";

static void format_shape(const int *shape, int rank, char *buf, size_t size) {
    int k = snprintf(buf, size, "[");
    for (int i = 0; i < rank && k > 0 && (size_t)k < size; i++)
        k += snprintf(buf + k, size - (size_t)k, i ? ", %d" : "%d", shape[i]);
    if (k > 0 && (size_t)k < size)
        snprintf(buf + k, size - (size_t)k, "]");
}

int cmd_info(const CnnModel *m, int argc, char **argv) {
    bool tensors = false;
    const CliOption opts[] = {{"--tensors", NULL, &tensors}, {0}};
    int rc = cli_parse("info", help, opts, argc, argv, NULL, NULL);
    if (rc >= 0)
        return rc;

    char a[48], b[48], shape[96];
    long long all_floats = 0;
    for (int i = 0; i < m->ntensors; i++)
        all_floats += (long long)m->tensors[i].numel;
    printf("model        %s (from %s)\n", m->name, m->source);
    if (m->in_rank == 3)
        printf("input        [%d, %d, %d] (C, H, W; %zu floats per image)\n", m->in_shape[0],
               m->in_shape[1], m->in_shape[2], m->in_size);
    else
        printf("input        [%d] (%zu floats per sample)\n", m->in_shape[0], m->in_size);
    printf("output       %zu %s\n", m->out_size, m->outputs_probabilities ? "probabilities" : "logits");
    printf("parameters   %s trained", cli_group(m->trained_params, a, sizeof a));
    if (all_floats != m->trained_params)
        printf(" (%s with buffers)", cli_group(all_floats, b, sizeof b));
    printf(", %d tensors\n", m->ntensors);
    printf("flops        %s per image (%.4g GFLOPs)\n", cli_group((long long)m->flops, a, sizeof a),
           m->flops * 1e-9);
    printf("memory       parameters %s bytes, workspace %s bytes\n",
           cli_group((long long)(m->param_floats * sizeof(float)), a, sizeof a),
           cli_group((long long)(m->work_floats * sizeof(float)), b, sizeof b));
    printf("batch        %d images per forward call at most\n", m->batch);
    if (tensors) {
        printf("\n%-40s %-20s %12s\n", "tensor", "shape", "elements");
        for (int i = 0; i < m->ntensors; i++) {
            const CnnTensorInfo *t = &m->tensors[i];
            format_shape(t->shape, t->rank, shape, sizeof shape);
            printf("%-40s %-20s %12s%s\n", t->name, shape, cli_group((long long)t->numel, a, sizeof a),
                   t->trained ? "" : "  (buffer)");
        }
    }
    return 0;
}
