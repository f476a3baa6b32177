/* report.c: report.html, the one page a training run leaves for people: the settings, the
 * curves, a table of the epochs and the test split's confusion matrix. Static HTML with the
 * pictures inline as SVG: no scripts, no fonts or style sheets from elsewhere, so the page
 * opens offline and from an archive. */
#include "rt.h"
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void text(FILE *f, const char *t) {
    for (; *t; t++) {
        switch (*t) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*t, f); break;
        }
    }
}

static const char style[] =
    "body{font-family:sans-serif;margin:2em auto;max-width:1000px;color:#222;background:#fff}"
    "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;font-size:.9em}td,th{padding:.25em .8em;border-bottom:1px solid #eee;"
    "text-align:left}th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".big{font-size:1.3em;font-weight:bold}svg{max-width:100%;height:auto}";

bool report_write(const char *path, const char *title, const ReportSetting *settings, int nsettings,
                  const EpochRow *rows, int n, const char *val_name, const Confusion *cm, char *const *names,
                  double test_acc, char *err) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return rt_fail(err, "%s: out of memory", path);
    char *curves = plot_curves_svg(rows, n, val_name);
    char *matrix = cm ? plot_confusion_svg(cm, names, "confusion matrix, test split (rows: true class)") : NULL;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
    text(f, title);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", style);
    text(f, title);
    fprintf(f, "</h1>\n<p class=\"big\">test accuracy: %.2f%%</p>\n", test_acc);
    fputs("<h2>Settings</h2>\n<table>\n", f);
    for (int i = 0; i < nsettings; i++) {
        fputs("<tr><th>", f);
        text(f, settings[i].key);
        fputs("</th><td>", f);
        text(f, settings[i].value);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n<h2>Curves</h2>\n", f);
    if (curves)
        fputs(curves, f);
    fputs("<h2>Epochs</h2>\n<table>\n<tr><th>epoch</th><th>train loss</th><th>train acc (%)</th><th>", f);
    text(f, val_name);
    fputs(" loss</th><th>", f);
    text(f, val_name);
    fputs(" acc (%)</th><th>lr</th><th>seconds</th></tr>\n", f);
    for (int i = 0; i < n; i++) {
        const EpochRow *r = &rows[i];
        fprintf(f, "<tr><td class=\"n\">%d</td><td class=\"n\">%.4f</td><td class=\"n\">%.2f</td><td class=\"n\">%.4f</td>"
                   "<td class=\"n\">%.2f</td><td class=\"n\">%.4g</td><td class=\"n\">%.1f</td></tr>\n",
                r->epoch, r->train_loss, r->train_acc, r->val_loss, r->val_acc, r->lr, r->seconds);
    }
    fputs("</table>\n", f);
    if (matrix) {
        fputs("<h2>Confusion matrix</h2>\n", f);
        fputs(matrix, f);
        fputs("<table>\n<tr><th>class</th><th>images</th><th>precision (%)</th><th>recall (%)</th></tr>\n", f);
        for (int i = 0; i < cm->k; i++) {
            long long row = 0, col = 0, tp = cm->counts[(size_t)i * cm->k + i];
            for (int j = 0; j < cm->k; j++) {
                row += cm->counts[(size_t)i * cm->k + j];
                col += cm->counts[(size_t)j * cm->k + i];
            }
            fputs("<tr><td>", f);
            text(f, names[i]);
            fprintf(f, "</td><td class=\"n\">%lld</td><td class=\"n\">%.2f</td><td class=\"n\">%.2f</td></tr>\n", row,
                    col ? 100.0 * (double)tp / (double)col : 0.0, row ? 100.0 * (double)tp / (double)row : 0.0);
        }
        fputs("</table>\n", f);
    }
    fputs("</body>\n</html>\n", f);
    bool ok = fclose(f) == 0 && curves && (matrix || !cm);
    ok = ok ? rt_write_file_atomic(path, buf, len, err) : rt_fail(err, "%s: out of memory", path);
    free(buf);
    free(curves);
    free(matrix);
    return ok;
}
