/* emit_dot.c: `--emit=dot` (the graph for Graphviz) and `--emit=plan --svg` (the memory plan as
 * an SVG picture). Both read only the IR and the plan. */
#include "emit_dot.h"

#include <string.h>

#include "arena.h"
#include "ir_print.h"
#include "ops.h"

/* Escapes a string for a double-quoted DOT label. */
static const char *dot_esc(const char *s) {
    size_t n = strlen(s);
    char *o = arena_alloc(2 * n + 1), *p = o;
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *p++ = '\\';
        *p++ = *s;
    }
    *p = 0;
    return o;
}

static const char *op_title(const Graph *g, const Op *op) {
    if (op->kind == OP_BACKWARD) {
        const Op *f = &g->ops[op->fwd];
        return arena_printf("backward of %s", f->pname ? f->pname : op_name(f->kind));
    }
    return op->pname ? arena_printf("%s (%s)", op->pname, op_name(op->kind)) : op_name(op->kind);
}

void emit_dot(const Graph *g, FILE *f) {
    fprintf(f, "// %s: %d ops, batch %d%s. Render: dot -Tsvg -o %s.svg\n", g->name, g->nops, g->batch,
            g->training ? ", training step" : "", g->name);
    fprintf(f, "digraph \"%s\" {\n", dot_esc(g->name));
    fprintf(f, "  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=11, nodesep=0.25, ranksep=0.3];\n");
    fprintf(f, "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", color=\"#5a7bb5\", "
               "fontname=\"Helvetica\", fontsize=10];\n");
    fprintf(f, "  edge [color=\"#555555\", arrowsize=0.6];\n");
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        if (op->fused_into >= 0)
            continue; /* drawn inside its head's cluster below */
        bool group = false;
        for (int j = 0; j < g->nops && !group; j++)
            group = g->ops[j].fused_into == i;
        /* the head of m's loop nest: a streamed conv's own fused ops belong to its reader's */
#define DOT_HEAD(m) ((m)->fused_into >= 0 && g->ops[(m)->fused_into].fused_into >= 0 ? g->ops[(m)->fused_into].fused_into \
                                                                                      : (m)->fused_into)
        if (group)
            fprintf(f, "  subgraph cluster_op%d {\n    label=\"fused into one loop nest\"; style=\"dashed,rounded\"; "
                       "color=\"#c0392b\"; fontcolor=\"#c0392b\"; fontsize=9;\n", i);
        for (int j = 0; j < g->nops; j++) {
            const Op *m = &g->ops[j];
            if (j != i && !(group && DOT_HEAD(m) == i))
                continue;
            char attrs[256] = "";
            const OpInfo *info = op_info(m->kind);
            if (info && info->print_attrs && m->kind != OP_BACKWARD)
                info->print_attrs(m, attrs, sizeof attrs);
            const char *shape = m->out >= 0 ? shape_str(g->values[m->out].shape, true) : "(parameter gradients)";
            const char *fill = m->kind == OP_BACKWARD || m->kind == OP_LOSS ? "#eeeeee"
                               : m->kind == OP_INPUT                      ? "#fdf2d0"
                               : m->kind == OP_ADD || m->kind == OP_CONCAT ? "#e3f4e1"
                                                                          : "#eef3fb";
            fprintf(f, "%s  op%d [label=\"%s%s%s\\n%s\", fillcolor=\"%s\"];\n", group ? "  " : "", j,
                    dot_esc(op_title(g, m)), *attrs ? "\\n" : "", dot_esc(attrs), dot_esc(shape), fill);
        }
        if (group)
            fprintf(f, "  }\n");
#undef DOT_HEAD
    }
    for (int i = 1; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        for (int k = 0; k < op->nin; k++) {
            int from = g->values[op->in[k]].producer;
            if (k == 0 && op->pro_norm >= 0)
                from = op->pro_norm; /* the fused normalize reads the input for the conv */
            if (k == 0 && op->pro_conv >= 0) /* a streamed conv: its rows come from the conv before */
                from = g->values[g->ops[op->pro_conv].writes].producer;
            if (op->kind == OP_ADD)
                fprintf(f, "  op%d -> op%d [%s];\n", from, i,
                        k == 0 ? "color=\"#2c5aa0\"" : "color=\"#2c5aa0\", style=bold, label=\" +\", fontcolor=\"#2c5aa0\"");
            else if (op->kind == OP_CONCAT)
                fprintf(f, "  op%d -> op%d [color=\"#2e8b57\", label=\" %d\", fontcolor=\"#2e8b57\"];\n", from, i, k);
            else
                fprintf(f, "  op%d -> op%d;\n", from, i);
        }
    }
    fprintf(f, "}\n");
}

/* ---- the memory plan as SVG -------------------------------------------------------------- */

static const char *buffer_label(const Graph *g, const Plan *p, int b) {
    if (b < g->nvalues) {
        const Op *op = &g->ops[g->values[b].producer];
        if (op->kind == OP_BACKWARD)
            return arena_printf("%%%d d(%s)", b, g->ops[op->fwd].pname ? g->ops[op->fwd].pname : op_name(g->ops[op->fwd].kind));
        return arena_printf("%%%d %s", b, op->pname ? op->pname : op_name(op->kind));
    }
    for (int i = 0; i < g->nops; i++)
        if (p->scratch_of[i] == b || p->grad_scratch_of[i] == b)
            return arena_printf("%s of %%%d", p->scratch_of[i] == b ? "scratch" : "grads", g->ops[i].out);
    return "?";
}

static const char *xml_esc(const char *s) {
    size_t n = strlen(s);
    char *o = arena_alloc(6 * n + 1), *q = o;
    for (; *s; s++) {
        const char *r = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : *s == '"' ? "&quot;" : NULL;
        if (r) {
            strcpy(q, r);
            q += strlen(r);
        } else {
            *q++ = *s;
        }
    }
    *q = 0;
    return o;
}

void plan_svg(const Graph *g, const Plan *p, FILE *f) {
    /* Steps 0 .. nops-1 across; the live bytes at each step give the peak-live step. */
    int steps = g->nops > 0 ? g->nops : 1;
    for (int b = 0; b < p->nbuffers; b++) /* the output stays live one step past the last op */
        if (p->last[b] + 1 > steps)
            steps = p->last[b] + 1;
    int64_t *live = arena_alloc(sizeof(int64_t) * (size_t)(steps + 1));
    for (int b = 0; b < p->nbuffers; b++) {
        if (b == g->input || p->value_floats[b] == 0 || p->value_offset[b] < 0)
            continue;
        for (int s = p->first[b]; s <= p->last[b] && s < steps; s++)
            if (s >= 0)
                live[s] += p->value_floats[b];
    }
    int peak_step = 0;
    for (int s = 0; s < steps; s++)
        if (live[s] > live[peak_step])
            peak_step = s;
    double arena = p->arena_floats > 0 ? (double)p->arena_floats : 1.0;
    const double left = 70, top = 60, width = 900, height = 480, cell = width / steps;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">\n",
            left + width + 30, top + height + 60, left + width + 30, top + height + 60);
    fprintf(f, "<title>memory plan of %s</title>\n", xml_esc(g->name));
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%.0f\" y=\"18\" font-size=\"14\">memory plan of %s%s, batch %d</text>\n", left,
            xml_esc(g->name), g->training ? " (training step)" : "", g->batch);
    fprintf(f, "<text x=\"%.0f\" y=\"34\">arena %s bytes, peak-live %s bytes (step %d), naive %s bytes</text>\n", left,
            fmt_count((double)p->arena_floats * 4), fmt_count((double)p->peak_floats * 4), peak_step,
            fmt_count((double)p->naive_floats * 4));
    fprintf(f, "<text x=\"%.0f\" y=\"48\" fill=\"#555\">steps (ops) across, arena offset down; one rectangle per "
               "buffer over its live range (grey, dashed: an op's scratch or transient gradients)</text>\n", left);
    fprintf(f, "<text x=\"%.2f\" y=\"%.0f\" fill=\"#c0392b\" text-anchor=\"middle\">peak-live</text>\n",
            left + (peak_step + 0.5) * cell, top + height + 28);
    fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#333\"/>\n", left, top,
            width, height);
    static const char *const fills[] = {"#8fb3e0", "#f2b880", "#9fd39c", "#d9a6d9", "#f0d878", "#8fd0d0"};
    for (int b = 0; b < p->nbuffers; b++) {
        if (b == g->input || p->value_floats[b] == 0 || p->value_offset[b] < 0)
            continue;
        double x = left + p->first[b] * cell, w = (p->last[b] - p->first[b] + 1) * cell;
        double y = top + (double)p->value_offset[b] / arena * height, h = (double)p->value_floats[b] / arena * height;
        const char *label = xml_esc(buffer_label(g, p, b));
        bool scratch = b >= g->nvalues;
        fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\" stroke=\"#333\" "
                   "stroke-width=\"0.5\"%s><title>%s: %s bytes at offset %s, steps %d to %d</title></rect>\n",
                x, y, w, h < 0.5 ? 0.5 : h, scratch ? "#cccccc" : fills[b % 6], scratch ? " stroke-dasharray=\"3,2\"" : "",
                label, fmt_count((double)p->value_floats[b] * 4), fmt_count((double)p->value_offset[b] * 4), p->first[b],
                p->last[b]);
        if (h >= 12 && w >= 60)
            fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"9\">%s</text>\n", x + 3, y + 10, label);
    }
    /* The peak-live step, over the buffers. */
    fprintf(f, "<rect x=\"%.2f\" y=\"%.0f\" width=\"%.2f\" height=\"%.0f\" fill=\"#c0392b\" fill-opacity=\"0.08\" "
               "stroke=\"#c0392b\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\"><title>peak-live: %s bytes live at step %d</title></rect>\n",
            left + peak_step * cell, top, cell, height, fmt_count((double)live[peak_step] * 4), peak_step);
    /* Axes: offsets down the left, steps along the bottom. */
    for (int k = 0; k <= 4; k++)
        fprintf(f, "<text x=\"%.0f\" y=\"%.2f\" text-anchor=\"end\" font-size=\"9\">%s</text>\n", left - 4,
                top + k * height / 4 + 3, fmt_count((double)p->arena_floats * 4 * k / 4));
    int every = steps > 40 ? (steps + 39) / 40 : 1;
    for (int s = 0; s < steps; s += every)
        fprintf(f, "<text x=\"%.2f\" y=\"%.0f\" text-anchor=\"middle\" font-size=\"8\">%d</text>\n", left + (s + 0.5) * cell,
                top + height + 12, s);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" fill=\"#555\">bytes</text>\n", 8.0, top - 6);
    fprintf(f, "</svg>\n");
}
