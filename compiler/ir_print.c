/* ir_print.c: prints the graph one op per line, for people and golden tests:
 *   %2 = conv %1 out=6 kernel=5 pad=2 -> [64, 6, 28, 28]  conv0.weight [6, 1, 5, 5], conv0.bias [6]  params=156 flops=235,200  # lenet5.cnn:5
 * and a closing summary line. The format is documented in docs/ir.md; tests compare it. */
#include "ir_print.h"

#include <string.h>

#include "arena.h"
#include "ops.h"

const char *fmt_count(double n) {
    char digits[64], out[96];
    snprintf(digits, sizeof digits, "%.0f", n);
    int len = (int)strlen(digits), o = 0;
    for (int i = 0; i < len; i++) {
        if (i && digits[i - 1] != '-' && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = 0;
    return arena_strdup(out);
}

double ir_op_flops(const Graph *g, int op) {
    const OpInfo *info = op_info(g->ops[op].kind);
    return info->flops ? info->flops(g, &g->ops[op]) : 0;
}

double ir_total_flops(const Graph *g) {
    double t = 0;
    for (int i = 0; i < (g->training ? g->nforward : g->nops); i++)
        t += ir_op_flops(g, i);
    return t;
}

static const char *basename_of(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static const char *param_shape(const ParamT *p) {
    const char *s = "[";
    for (int i = 0; i < p->shape.rank; i++)
        s = arena_printf("%s%s%d", s, i ? ", " : "", p->shape.d[i]);
    return arena_printf("%s]", s);
}

void ir_print(const Graph *g, FILE *f) {
    fprintf(f, "# model %s: batch %d, input %s, output %s\n", g->name, g->batch,
            shape_str(g->values[g->input].shape, true), shape_str(g->values[g->output].shape, true));
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        const OpInfo *info = op_info(op->kind);
        if (op->kind == OP_BACKWARD) {
            const Op *fw = &g->ops[op->fwd];
            if (op->out >= 0)
                fprintf(f, "%%%d = ", op->out);
            fprintf(f, "%s.backward", op_name(fw->kind));
            for (int k = 0; k < op->nin; k++)
                fprintf(f, "%s%%%d", k ? ", " : " ", op->in[k]);
            if (fw->out >= 0)
                fprintf(f, " of %%%d", fw->out);
            if (fw->nin > 1)
                fprintf(f, " wrt input %d", op->wrt);
            if (op->out >= 0)
                fprintf(f, " -> %s", shape_str(g->values[op->out].shape, false));
            if (op->fused_into >= 0)
                fprintf(f, "  (fused into %%%d)", g->ops[op->fused_into].out);
            if (op->bwd_act > 0)
                fprintf(f, "  fused[%s.backward %%%d] writes %%%d", op_name(g->ops[g->ops[op->bwd_act].fwd].kind),
                        g->ops[op->bwd_act].out, op->writes);
            if (op->bwd_pool > 0) {
                const Op *pb = &g->ops[op->bwd_pool];
                fprintf(f, "  fused[%s.backward %%%d", op_name(g->ops[pb->fwd].kind), pb->out);
                if (pb->bwd_act > 0)
                    fprintf(f, ", %s.backward %%%d", op_name(g->ops[g->ops[pb->bwd_act].fwd].kind), g->ops[pb->bwd_act].out);
                fputc(']', f);
            }
            if (op->bwd_acc > 0)
                fprintf(f, "  fused[add %%%d] adds into %%%d", op->writes, op->bwd_acc);
            if (op->bwd_pair > 0)
                fprintf(f, "  fused[add %%%d] with the dx of %%%d (reads %%%d)", op->writes, g->ops[op->bwd_pair].out,
                        ir_pair_dy(g, op));
            for (int j = i + 1; j < g->nops && op->out >= 0 && op->writes < 0; j++)
                if (g->ops[j].bwd_pair == i)
                    fprintf(f, "  (dx computed by %%%d)", g->ops[j].out);
            if (fw->evens_in >= 0)
                fprintf(f, "  reads %%%d's even pixels %%%d", fw->in[0], fw->evens_in);
            const char *sep = "  grads ";
            for (int r = 0; r < 2; r++)
                if (fw->param[r] >= 0 && g->params[fw->param[r]].trained) {
                    fprintf(f, "%s%s", sep, g->params[fw->param[r]].name);
                    sep = ", ";
                }
            if (fw->span.file >= 0)
                fprintf(f, "  # %s:%d", basename_of(diag_path(fw->span.file)), fw->span.line);
            fputc('\n', f);
            continue;
        }
        if (g->training && i == g->nforward)
            fprintf(f, "# training: loss and backward\n");
        fprintf(f, "%%%d = %s", op->out, op_name(op->kind));
        for (int k = 0; k < op->nin; k++)
            fprintf(f, "%s%%%d", k ? ", " : " ", op->in[k]);
        char attrs[512] = "";
        info->print_attrs(op, attrs, sizeof attrs);
        if (*attrs)
            fprintf(f, " %s", attrs);
        fprintf(f, " -> %s", shape_str(g->values[op->out].shape, false));
        if (op->fused_into >= 0)
            fprintf(f, "  (fused into %%%d)", g->ops[op->fused_into].out);
        if (op->pro_norm >= 0 || op->epi_bn >= 0 || op->epi_act >= 0 || op->epi_pool >= 0 || op->pro_conv >= 0) {
            fprintf(f, "  fused[");
            const char *sep = "";
            if (op->pro_conv >= 0)
                fprintf(f, "conv %%%d streamed before", g->ops[op->pro_conv].out), sep = ", ";
            if (op->pro_norm >= 0)
                fprintf(f, "normalize %%%d before", g->ops[op->pro_norm].out), sep = ", ";
            if (op->epi_bn >= 0)
                fprintf(f, "%sbatchnorm %%%d", sep, g->ops[op->epi_bn].out), sep = ", ";
            if (op->epi_act >= 0)
                fprintf(f, "%s%s %%%d", sep, op_name(g->ops[op->epi_act].kind), g->ops[op->epi_act].out), sep = ", ";
            if (op->epi_pool >= 0)
                fprintf(f, "%s%s %%%d", sep, op_name(g->ops[op->epi_pool].kind), g->ops[op->epi_pool].out);
            fprintf(f, "] writes %%%d", op->writes);
            if (op->keeps >= 0)
                fprintf(f, " and keeps %%%d", op->keeps);
        }
        if (op->evens_out >= 0)
            fprintf(f, "  and its even pixels %%%d %s", op->evens_out, shape_str(g->values[op->evens_out].shape, false));
        if (op->evens_in >= 0)
            fprintf(f, "  reads %%%d's even pixels %%%d", op->in[0], op->evens_in);
        int64_t np = 0;
        const char *sep = "  ";
        for (int r = 0; r < 4; r++) {
            if (op->param[r] < 0)
                continue;
            const ParamT *p = &g->params[op->param[r]];
            fprintf(f, "%s%s %s", sep, p->name, param_shape(p));
            sep = ", ";
            if (p->trained)
                np += p->numel;
        }
        if (op->param[0] >= 0)
            fprintf(f, "  params=%s", fmt_count((double)np));
        double fl = ir_op_flops(g, i);
        if (fl > 0)
            fprintf(f, "  flops=%s", fmt_count(fl));
        if (op->span.file >= 0)
            fprintf(f, "  # %s:%d", basename_of(diag_path(op->span.file)), op->span.line);
        if (*op->where && op->param[0] < 0) {
            size_t n = strlen(op->where);
            fprintf(f, " in %.*s", (int)(n && op->where[n - 1] == '.' ? n - 1 : n), op->where);
        }
        fputc('\n', f);
    }
    int64_t trained = ir_param_count(g, true), all = ir_param_count(g, false);
    fprintf(f, "# %d ops, %s parameters (%s trained, %s in buffers), %s forward FLOPs per image\n", g->training ? g->nforward : g->nops,
            fmt_count((double)all), fmt_count((double)trained), fmt_count((double)(all - trained)),
            fmt_count(ir_total_flops(g)));
}

void ir_print_params(const Graph *g, FILE *f) {
    for (int i = 0; i < g->nparams; i++)
        fprintf(f, "%s %s\n", g->params[i].name, param_shape(&g->params[i]));
}
