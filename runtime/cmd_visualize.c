/* cmd_visualize.c: `visualize`, looking inside a model as course notebooks do: the first conv
 * layer's filters, or the feature maps of one layer for one image, as a PNG grid of tiles,
 * each tile scaled to the full grey range on its own (its minimum black, its maximum white).
 * PNG encoding through Debian's libstb-dev (stb_image_write), the file written atomically. */
#include "cli.h"
#include "image.h"
#include "rt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO   /* written to memory, then atomically to the file */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wcast-qual"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

static const char help[] =
    "visualize --weights W.safetensors -o OUT.png [--layer NAME --image IMAGE [--resize]] [--scale K]\n"
    "visualize --list\n"
    "\n"
    "Without --layer, draws the filters of the model's first conv layer: one RGB tile per filter\n"
    "when it takes 3 channels, else one grey tile per filter and input channel (filter-major).\n"
    "With --layer, draws the feature maps of that layer for IMAGE: one grey tile per channel.\n"
    "Layers are the values the compiled forward pass writes (--list names them, with the ops\n"
    "fused into each, a conv streamed into the next one at batch 1 included: compile with -O0\n"
    "to see every layer on its own).\n"
    "Tiles fill a grid of ceil(sqrt(T)) columns, in order, row by row, separated and framed by\n"
    "1-pixel white lines; each pixel is a K x K block. Each tile is normalized on its own:\n"
    "grey = round(255 (v - min) / (max - min)) over the tile's values (all three colours of an\n"
    "RGB filter together), 0 for a constant tile.\n"
    "\n"
    "  --weights FILE   the model's weights (safetensors)\n"
    "  -o, --output F   the PNG file to write\n"
    "  --layer NAME     a layer from --list (its name, or the name of an op fused into it)\n"
    "  --image IMAGE    the image whose feature maps are drawn (as predict reads it)\n"
    "  --resize         resize an image of another size (bilinear) instead of refusing it\n"
    "  --scale K        pixels per value, 1 to 64 (default: 32 / the tile's larger side, 1 to 16)\n"
    "  --list           print the layers that --layer accepts, with their shapes\n";

/* The layer whose name, or the name of an op fused into it ("conv0 + bn0 + relu"), is name;
 * -1 when none, -2 when several layers have an op of that name fused into them ("relu"). */
static int find_tap(const CnnModel *m, const char *name) {
    for (int t = 0; t < m->ntaps; t++)
        if (strcmp(m->tap_name[t], name) == 0)
            return t;
    size_t len = strlen(name);
    int found = -1;
    for (int t = 0; t < m->ntaps; t++) {
        bool in = false;
        for (const char *p = strstr(m->tap_what[t], name); p && !in; p = strstr(p + 1, name))
            in = (p == m->tap_what[t] || (p >= m->tap_what[t] + 3 && strncmp(p - 3, " + ", 3) == 0)) &&
                 (p[len] == 0 || strncmp(p + len, " + ", 3) == 0);
        if (in)
            found = found == -1 ? t : -2;
    }
    return found;
}

typedef struct Grid {
    int tiles, th, tw, channels, scale, cols, rows, width, height;
    unsigned char *px;
} Grid;

static bool grid_init(Grid *g, int tiles, int th, int tw, int channels, long long scale, char *err) {
    g->tiles = tiles;
    g->th = th;
    g->tw = tw;
    g->channels = channels;
    int side = th > tw ? th : tw;
    g->scale = scale > 0 ? (int)scale : side >= 32 ? 1 : 32 / side > 16 ? 16 : 32 / side;
    g->cols = (int)ceil(sqrt((double)tiles));
    while (g->cols > 1 && (long long)(g->cols - 1) * (g->cols - 1) >= tiles) /* sqrt's rounding */
        g->cols--;
    while ((long long)g->cols * g->cols < tiles)
        g->cols++;
    g->rows = (tiles + g->cols - 1) / g->cols;
    long long w = 1 + (long long)g->cols * ((long long)tw * g->scale + 1);
    long long h = 1 + (long long)g->rows * ((long long)th * g->scale + 1);
    if (w > 1 << 15 || h > 1 << 15 || w * h > 1 << 26)
        return rt_fail(err, "the picture would be %lldx%lld pixels (%d tiles of %dx%d at scale %d): too large; "
                            "use a smaller --scale", w, h, tiles, th, tw, g->scale);
    g->width = (int)w;
    g->height = (int)h;
    g->px = rt_alloc_array((size_t)(w * h * channels), 1, "the picture", err);
    if (!g->px)
        return false;
    memset(g->px, 255, (size_t)(w * h * channels));
    return true;
}

/* Tile t from values v[c * plane + y * tw + x] (c < channels; plane = th * tw), normalized
 * over all of them. */
static void grid_tile(Grid *g, int t, const float *v, size_t plane) {
    size_t nv = plane * (size_t)g->channels;
    double lo = v[0], hi = v[0];
    for (size_t i = 1; i < nv; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    int x0 = 1 + (t % g->cols) * (g->tw * g->scale + 1), y0 = 1 + (t / g->cols) * (g->th * g->scale + 1);
    for (int y = 0; y < g->th * g->scale; y++)
        for (int x = 0; x < g->tw * g->scale; x++)
            for (int c = 0; c < g->channels; c++) {
                double a = v[(size_t)c * plane + (size_t)(y / g->scale) * (size_t)g->tw + (size_t)(x / g->scale)];
                long q = hi > lo ? lround(255.0 * (a - lo) / (hi - lo)) : 0;
                g->px[((size_t)(y0 + y) * (size_t)g->width + (size_t)(x0 + x)) * (size_t)g->channels + (size_t)c] =
                    (unsigned char)(q < 0 ? 0 : q > 255 ? 255 : q);
            }
}

static bool grid_write(const Grid *g, const char *path, char *err) {
    int len = 0;
    unsigned char *png = stbi_write_png_to_mem(g->px, g->width * g->channels, g->width, g->height, g->channels, &len);
    if (!png)
        return rt_fail(err, "out of memory encoding the PNG");
    bool ok = rt_write_file_atomic(path, png, (size_t)len, err);
    STBIW_FREE(png);
    return ok;
}

/* The first conv layer's weight: the first [O, I, KH, KW] tensor of the model. */
static const CnnTensorInfo *first_conv(const CnnModel *m) {
    for (int i = 0; i < m->ntensors; i++)
        if (m->tensors[i].rank == 4)
            return &m->tensors[i];
    return NULL;
}

int cmd_visualize(const CnnModel *m, int argc, char **argv) {
    const char *weights = NULL, *out = NULL, *out_short = NULL, *layer = NULL, *image = NULL, *scale_text = NULL;
    bool resize = false, list = false;
    const CliOption opts[] = {{"--weights", &weights, NULL}, {"--output", &out, NULL}, {"-o", &out_short, NULL},
                              {"--layer", &layer, NULL},     {"--image", &image, NULL}, {"--resize", NULL, &resize},
                              {"--scale", &scale_text, NULL}, {"--list", NULL, &list}, {0}};
    int rc = cli_parse("visualize", help, opts, argc, argv, NULL, NULL);
    if (rc >= 0)
        return rc;
    if (out_short)
        out = out_short;
    if (list) {
        const CnnTensorInfo *w = first_conv(m);
        if (w)
            printf("filters: %s [%d, %d, %d, %d]\n", w->name, w->shape[0], w->shape[1], w->shape[2], w->shape[3]);
        for (int t = 0; t < m->ntaps; t++)
            printf("%-24s [%d, %d, %d]  %s\n", m->tap_name[t], m->tap_shape[t][0], m->tap_shape[t][1],
                   m->tap_shape[t][2], m->tap_what[t]);
        return 0;
    }
    long long scale = 0;
    if (!cli_require("visualize", "--weights FILE", weights) || !cli_require("visualize", "-o OUT.png", out) ||
        (scale_text && !cli_int("--scale", scale_text, 1, 64, &scale)))
        return EXIT_USAGE;
    if (image && !layer)
        return cli_error(EXIT_USAGE, "--image goes with --layer NAME (feature maps); without --layer visualize draws "
                                     "the first conv layer's filters");
    int tap = -1;
    if (layer) {
        if (!image)
            return cli_error(EXIT_USAGE, "--layer needs --image IMAGE (the feature maps of one image)");
        if (m->in_rank != 3)
            return cli_error(EXIT_USAGE, "model %s takes flat [%d] inputs, not images", m->name, m->in_shape[0]);
        if ((tap = find_tap(m, layer)) == -2)
            return cli_error(EXIT_USAGE, "--layer: '%s' is fused into several layers of model %s: name one (see '%s "
                             "visualize --list')", layer, m->name, cli_prog);
        if (tap < 0) {
            char names[512] = "";
            for (int t = 0, k = 0; t < m->ntaps && (size_t)k < sizeof names - 40; t++)
                k += snprintf(names + k, sizeof names - (size_t)k, "%s%s", t ? ", " : "", m->tap_name[t]);
            return cli_error(EXIT_USAGE, "--layer: model %s has no layer '%s' with feature maps (%s%s; see '%s "
                             "visualize --list')", m->name, layer, m->ntaps ? "it has " : "it has none", names,
                             cli_prog);
        }
    }

    char err[RT_ERR_LEN];
    CliMemory mem = {0};
    Grid g = {0};
    float *in = NULL, *maps = NULL;
    bool ok = cli_memory_alloc(m, &mem, err) && cli_load_weights(m, weights, mem.params, err);
    if (ok && tap < 0) {
        const CnnTensorInfo *w = first_conv(m);
        if (!w) {
            ok = rt_fail(err, "model %s has no conv layer (no [O, I, KH, KW] weight) to draw", m->name);
        } else {
            int o = w->shape[0], ci = w->shape[1], kh = w->shape[2], kw = w->shape[3];
            size_t plane = (size_t)kh * (size_t)kw;
            const float *v = mem.params + w->offset;
            if (ci == 3) {
                ok = grid_init(&g, o, kh, kw, 3, scale, err);
                for (int t = 0; ok && t < o; t++)
                    grid_tile(&g, t, v + (size_t)t * 3 * plane, plane);
            } else {
                ok = grid_init(&g, o * ci, kh, kw, 1, scale, err);
                for (int t = 0; ok && t < o * ci; t++)
                    grid_tile(&g, t, v + (size_t)t * plane, plane);
            }
        }
    } else if (ok) {
        const int *s = m->tap_shape[tap];
        size_t plane = (size_t)s[1] * (size_t)s[2];
        ok = (in = cli_alloc_floats(m->in_size, "the image", err)) &&
             (maps = cli_alloc_floats((size_t)s[0] * plane, "the feature maps", err)) &&
             image_load(image, m->in_shape[0], m->in_shape[1], m->in_shape[2], resize, in, err);
        if (ok && m->forward_tap(mem.params, mem.work, in, maps, 1, tap) != 0)
            ok = rt_fail(err, "the model refused the image");
        ok = ok && grid_init(&g, s[0], s[1], s[2], 1, scale, err);
        for (int t = 0; ok && t < s[0]; t++)
            grid_tile(&g, t, maps + (size_t)t * plane, plane);
    }
    ok = ok && grid_write(&g, out, err);
    if (ok) {
        if (tap >= 0)
            printf("wrote %s: %d feature maps of %s (%s), %dx%d each, %d columns, scale %d\n", out, g.tiles,
                   m->tap_name[tap], m->tap_what[tap], g.th, g.tw, g.cols, g.scale);
        else
            printf("wrote %s: %d %s filter tiles of %s, %dx%d each, %d columns, scale %d\n", out, g.tiles,
                   g.channels == 3 ? "RGB" : "grey", first_conv(m)->name, g.th, g.tw, g.cols, g.scale);
    }
    free(g.px);
    free(in);
    free(maps);
    cli_memory_free(&mem);
    return ok ? 0 : cli_error(EXIT_BAD_INPUT, "%s", err);
}
