/* plot.c: the two pictures the runtime draws, as plain SVG text: training curves (loss,
 * accuracy, learning rate and time per epoch against the epoch, with axes, "nice" ticks and a
 * legend) and a confusion matrix heat map. A small appending string buffer builds the file,
 * written atomically, or handed over as text (report.c puts both into report.html). */
#include "rt.h"
#include "train.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct Svg {
    char *s;
    size_t len, cap;
    bool oom;
} Svg;

static void out(Svg *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(Svg *g, const char *fmt, ...) {
    if (g->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(g->s ? g->s + g->len : NULL, g->s ? g->cap - g->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            g->oom = true;
            return;
        }
        if (g->s && g->len + (size_t)n < g->cap) {
            g->len += (size_t)n;
            return;
        }
        size_t cap = g->cap ? g->cap * 2 : 4096;
        while (cap < g->len + (size_t)n + 1)
            cap *= 2;
        char *s = realloc(g->s, cap);
        if (!s) {
            g->oom = true;
            return;
        }
        g->s = s;
        g->cap = cap;
    }
}

/* Text with &, <, >, " escaped. */
static void out_text(Svg *g, const char *t) {
    for (; *t; t++) {
        switch (*t) {
        case '&': out(g, "&amp;"); break;
        case '<': out(g, "&lt;"); break;
        case '>': out(g, "&gt;"); break;
        case '"': out(g, "&quot;"); break;
        default: out(g, "%c", *t); break;
        }
    }
}

static char *finish_text(Svg *g) {
    out(g, "</svg>\n");
    if (g->oom) {
        free(g->s);
        return NULL;
    }
    return g->s;
}

static bool write_text(char *text, const char *path, char *err) {
    bool ok = text ? rt_write_file_atomic(path, text, strlen(text), err) : rt_fail(err, "%s: out of memory", path);
    free(text);
    return ok;
}

/* Ticks at 1, 2 or 5 times a power of ten covering [lo, hi], about five of them. */
static double nice_step(double span) {
    if (!(span > 0))
        return 1;
    double raw = span / 5, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

typedef struct Panel {
    double x, y, w, h;             /* plot area in pixels */
    double x0, x1, y0, y1;         /* data range */
} Panel;

static double px(const Panel *p, double v) { return p->x + (v - p->x0) / (p->x1 - p->x0) * p->w; }
static double py(const Panel *p, double v) { return p->y + p->h - (v - p->y0) / (p->y1 - p->y0) * p->h; }

static void axes(Svg *g, Panel *p, const char *title, const char *ylabel) {
    double ystep = nice_step(p->y1 - p->y0);
    p->y0 = floor(p->y0 / ystep) * ystep;
    p->y1 = ceil(p->y1 / ystep) * ystep;
    if (p->y1 <= p->y0)
        p->y1 = p->y0 + ystep;
    out(g, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n", p->x, p->y,
        p->w, p->h);
    out(g, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"15\">", p->x + p->w / 2, p->y - 12);
    out_text(g, title);
    out(g, "</text>\n");
    for (double v = p->y0; v <= p->y1 + ystep * 1e-6; v += ystep) {
        double y = py(p, v);
        out(g, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", p->x, y, p->x + p->w, y);
        out(g, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>\n", p->x - 5, y, p->x, y);
        out(g, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%g</text>\n", p->x - 8, y + 4,
            fabs(v) < ystep * 1e-6 ? 0.0 : v);
    }
    double xstep = nice_step(p->x1 - p->x0);
    if (xstep < 1)
        xstep = 1;
    for (double v = ceil(p->x0 / xstep) * xstep; v <= p->x1 + 1e-9; v += xstep) {
        double x = px(p, v);
        out(g, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>\n", x, p->y + p->h, x,
            p->y + p->h + 5);
        out(g, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\">%g</text>\n", x, p->y + p->h + 18, v);
    }
    out(g, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\">epoch</text>\n", p->x + p->w / 2,
        p->y + p->h + 36);
    out(g, "<text transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">", p->x - 48,
        p->y + p->h / 2);
    out_text(g, ylabel);
    out(g, "</text>\n");
}

static void curve(Svg *g, const Panel *p, const EpochRow *rows, int n, size_t field, const char *colour) {
    out(g, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colour);
    for (int i = 0; i < n; i++) {
        double v = *(const double *)((const char *)&rows[i] + field);
        if (isfinite(v))
            out(g, "%.1f,%.1f ", px(p, rows[i].epoch), py(p, v));
    }
    out(g, "\"/>\n");
    for (int i = 0; i < n; i++) {
        double v = *(const double *)((const char *)&rows[i] + field);
        if (isfinite(v))
            out(g, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px(p, rows[i].epoch), py(p, v), colour);
    }
}

static void legend(Svg *g, const Panel *p, const char *val_name) {
    double x = p->x + p->w - 110, y = p->y + 10;
    out(g, "<rect x=\"%.1f\" y=\"%.1f\" width=\"100\" height=\"44\" fill=\"white\" stroke=\"#999\"/>\n", x, y);
    const char *names[2] = {"train", val_name}, *colours[2] = {"#1f77b4", "#ff7f0e"};
    for (int i = 0; i < 2; i++) {
        double yy = y + 15 + 18 * i;
        out(g, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>\n", x + 8, yy - 4,
            x + 30, yy - 4, colours[i]);
        out(g, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">", x + 36, yy);
        out_text(g, names[i]);
        out(g, "</text>\n");
    }
}

static void range_of(const EpochRow *rows, int n, size_t f1, size_t f2, double *lo, double *hi) {
    *lo = INFINITY, *hi = -INFINITY;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            double v = *(const double *)((const char *)&rows[i] + (k ? f2 : f1));
            if (isfinite(v)) {
                *lo = v < *lo ? v : *lo;
                *hi = v > *hi ? v : *hi;
            }
        }
    if (!isfinite(*lo))
        *lo = 0, *hi = 1;
    if (*hi - *lo < 1e-9)
        *lo -= 0.5, *hi += 0.5;
}

char *plot_curves_svg(const EpochRow *rows, int n, const char *val_name) {
    Svg g = {0};
    out(&g, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"780\" font-family=\"sans-serif\">\n");
    out(&g, "<rect width=\"960\" height=\"780\" fill=\"white\"/>\n");
    double x0 = n > 1 ? rows[0].epoch : (n ? rows[0].epoch - 1 : 0), x1 = n ? rows[n - 1].epoch : 1;
    if (x1 <= x0)
        x1 = x0 + 1;
    Panel loss = {80, 40, 360, 300, x0, x1, 0, 1}, acc = {580, 40, 360, 300, x0, x1, 0, 100};
    range_of(rows, n, offsetof(EpochRow, train_loss), offsetof(EpochRow, val_loss), &loss.y0, &loss.y1);
    if (loss.y0 > 0)
        loss.y0 = 0;
    range_of(rows, n, offsetof(EpochRow, train_acc), offsetof(EpochRow, val_acc), &acc.y0, &acc.y1);
    acc.y1 = acc.y1 > 100 ? acc.y1 : fmin(100, acc.y1 + 2);
    axes(&g, &loss, "loss", "cross-entropy");
    curve(&g, &loss, rows, n, offsetof(EpochRow, train_loss), "#1f77b4");
    curve(&g, &loss, rows, n, offsetof(EpochRow, val_loss), "#ff7f0e");
    legend(&g, &loss, val_name);
    axes(&g, &acc, "accuracy", "accuracy (%)");
    curve(&g, &acc, rows, n, offsetof(EpochRow, train_acc), "#1f77b4");
    curve(&g, &acc, rows, n, offsetof(EpochRow, val_acc), "#ff7f0e");
    Panel lower = acc;
    lower.y = acc.y + acc.h - 64;   /* accuracy rises: the legend goes bottom right */
    legend(&g, &lower, val_name);
    /* Second row: the learning rate of each epoch and its wall time (training and validation). */
    Panel lr = {80, 420, 360, 300, x0, x1, 0, 1}, secs = {580, 420, 360, 300, x0, x1, 0, 1};
    range_of(rows, n, offsetof(EpochRow, lr), offsetof(EpochRow, lr), &lr.y0, &lr.y1);
    if (lr.y0 > 0)
        lr.y0 = 0;
    range_of(rows, n, offsetof(EpochRow, seconds), offsetof(EpochRow, seconds), &secs.y0, &secs.y1);
    if (secs.y0 > 0)
        secs.y0 = 0;
    axes(&g, &lr, "learning rate", "lr");
    curve(&g, &lr, rows, n, offsetof(EpochRow, lr), "#2ca02c");
    axes(&g, &secs, "time per epoch", "seconds");
    curve(&g, &secs, rows, n, offsetof(EpochRow, seconds), "#9467bd");
    return finish_text(&g);
}

bool plot_curves(const char *path, const EpochRow *rows, int n, const char *val_name, char *err) {
    return write_text(plot_curves_svg(rows, n, val_name), path, err);
}

char *plot_confusion_svg(const Confusion *cm, char *const *names, const char *title) {
    int k = cm->k;
    double cell = k <= 10 ? 48 : k <= 30 ? 24 : 12, left = 140, top = 70;
    double width = fmax(left + cell * k + 40, 420), height = top + cell * k + 110;
    Svg g = {0};
    out(&g, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\">\n",
        width, height);
    out(&g, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n", width, height);
    out(&g, "<text x=\"%.1f\" y=\"28\" text-anchor=\"middle\" font-size=\"15\">", width / 2);
    out_text(&g, title);
    out(&g, "</text>\n");
    double font = cell >= 48 ? 12 : cell >= 24 ? 9 : 0;
    for (int i = 0; i < k; i++) {
        long long row = 0;
        for (int j = 0; j < k; j++)
            row += cm->counts[(size_t)i * k + j];
        for (int j = 0; j < k; j++) {
            long long c = cm->counts[(size_t)i * k + j];
            double f = row ? (double)c / row : 0;
            /* white to dark blue */
            int r = (int)(255 - f * (255 - 8)), gg = (int)(255 - f * (255 - 48)), b = (int)(255 - f * (255 - 107));
            double x = left + j * cell, y = top + i * cell;
            out(&g, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"rgb(%d,%d,%d)\" stroke=\"#eee\"/>\n",
                x, y, cell, cell, r, gg, b);
            if (font > 0 && c)
                out(&g, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"%.0f\" fill=\"%s\">%lld</text>\n",
                    x + cell / 2, y + cell / 2 + font / 3, font, f > 0.5 ? "white" : "black", c);
        }
        double fs = cell >= 24 ? 11 : 8;
        out(&g, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"%.0f\">", left - 6,
            top + i * cell + cell / 2 + fs / 3, fs);
        out_text(&g, names[i]);
        out(&g, "</text>\n");
        out(&g, "<text transform=\"translate(%.1f %.1f) rotate(-45)\" text-anchor=\"end\" font-size=\"%.0f\">",
            left + i * cell + cell / 2 + fs / 3, top + k * cell + 8, fs);
        out_text(&g, names[i]);
        out(&g, "</text>\n");
    }
    out(&g, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\">predicted class</text>\n",
        left + cell * k / 2, height - 10);
    out(&g, "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">true class</text>\n",
        top + cell * k / 2);
    return finish_text(&g);
}

bool plot_confusion(const char *path, const Confusion *cm, char *const *names, const char *title,
                    char *err) {
    return write_text(plot_confusion_svg(cm, names, title), path, err);
}
