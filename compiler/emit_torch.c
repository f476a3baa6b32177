/* emit_torch.c: prints the model as a Python file defining an equivalent torch.nn.Module,
 * from the same IR the C emitter reads (emit_torch.h). Ops with parameters become submodules
 * registered under their parameter prefix (op->pname), nested in containers for dotted names,
 * so that state_dict() keys equal the IR's parameter names; every other op is a functional
 * call. forward() computes v0, v1, ... (the IR's value ids) in op order, so a mismatch found by
 * a parity test points at one line of the IR. The semantics of each op are those its file in
 * compiler/ops/ documents: PyTorch's. Fusion (pass_fuse.c) is ignored: absorbed ops stay in the
 * IR and are printed as ordinary lines, and a fused head's rewired input is undone. */
#include "emit_torch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "ir_print.h"
#include "ops.h"

/* Names that cannot be reached as plain attributes: Python's keywords, and what nn.Module
 * (torch 1.13) defines itself. Such a component is reached through _modules["name"]. */
static const char *const python_keywords[] = {
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def",
    "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is",
    "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield", NULL,
};
static const char *const module_attrs[] = {
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children", "cpu", "cuda",
    "double", "dump_patches", "eval", "extra_repr", "float", "forward", "get_buffer", "get_extra_state",
    "get_parameter", "get_submodule", "half", "ipu", "load_state_dict", "modules", "named_buffers",
    "named_children", "named_modules", "named_parameters", "parameters", "register_backward_hook",
    "register_buffer", "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_load_state_dict_post_hook", "register_module", "register_parameter", "requires_grad_",
    "set_extra_state", "share_memory", "state_dict", "to", "to_empty", "train", "training", "type", "xpu",
    "zero_grad", NULL,
};
/* What the generated file defines at top level besides the class. */
static const char *const file_names[] = {"torch", "nn", "F", "Model", "_Scope", "_place", "_Module", NULL};

static bool in_list(const char *s, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(s, *list))
            return true;
    return false;
}

static bool plain_attr(const char *s) {
    return s[0] != '_' && !in_list(s, python_keywords) && !in_list(s, module_attrs);
}

/* The shortest decimal that reads back as v, as a Python float literal. */
const char *torch_float(double v) {
    char buf[64];
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (strstr(buf, "inf") || strstr(buf, "nan"))
        return arena_printf("float(\"%s\")", buf);
    if (!strpbrk(buf, ".e"))
        strcat(buf, ".0");
    return arena_strdup(buf);
}

/* "3" or "(3, 5)": a torch size argument. */
const char *torch_pair(int h, int w) {
    return h == w ? arena_printf("%d", h) : arena_printf("(%d, %d)", h, w);
}

const char *torch_bool(bool b) { return b ? "True" : "False"; }

/* self.stage1.basic0.conv0, with _modules["..."] for the components that are not plain. */
const char *torch_module_ref(const Op *op) {
    const char *s = "self";
    char *path = arena_strdup(op->pname);
    for (char *part = path, *next; part; part = next) {
        next = strchr(part, '.');
        if (next)
            *next++ = 0;
        s = plain_attr(part) ? arena_printf("%s.%s", s, part) : arena_printf("%s._modules[\"%s\"]", s, part);
    }
    return s;
}

/* A name for a top-level buffer of op `id` that no parameter's first component uses. */
static const char *buffer_name(const Graph *g, const char *what, int id) {
    const char *name = arena_printf("%s_v%d", what, id);
    for (;;) {
        size_t n = strlen(name);
        bool taken = false;
        for (int i = 0; i < g->nparams && !taken; i++)
            taken = !strncmp(g->params[i].name, name, n) && (g->params[i].name[n] == '.' || !g->params[i].name[n]);
        if (!taken)
            return name;
        name = arena_printf("%s_", name);
    }
}

static const char *shape_text(Shape s) {
    const char *t = "[N";
    for (int i = 1; i < s.rank; i++)
        t = arena_printf("%s, %d", t, s.d[i]);
    return arena_printf("%s]", t);
}

static const char *basename_of(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The length of the well-formed UTF-8 sequence at s (at most n bytes), or 0. */
static int utf8_length(const unsigned char *s, long n) {
    int len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
    if (len == 0 || len > n)
        return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) || (s[0] == 0xf0 && s[1] < 0x90) ||
        (s[0] == 0xf4 && s[1] >= 0x90))
        return 0; /* overlong, surrogate or past U+10FFFF */
    for (int k = 1; k < len; k++)
        if ((s[k] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* The source text inside a docstring: backslashes doubled, no run of three quotes, bytes that
 * are not UTF-8 (a Python file's encoding) shown as '?'. */
static void print_docstring_text(FILE *f, const char *text, long len) {
    fputs("    ", f);
    for (long i = 0; i < len; i++) {
        char ch = text[i];
        if ((unsigned char)ch >= 0x80) {
            int n = utf8_length((const unsigned char *)text + i, len - i);
            if (n == 0)
                fputc('?', f);
            else
                fwrite(text + i, 1, (size_t)n, f);
            i += n ? n - 1 : 0;
        } else if (ch == '\\')
            fputs("\\\\", f);
        else if (ch == '"' && i > 0 && text[i - 1] == '"')
            fputs("\\\"", f);
        else if (ch == '\n' && i + 1 < len)
            fputs(text[i + 1] == '\n' ? "\n" : "\n    ", f);
        else if (ch == 0)
            fputc('?', f);
        else if (ch != '\n' && ch != '\r')
            fputc(ch, f);
    }
    fputc('\n', f);
}

static const char *py_list(const double *v, int n) {
    const char *s = "[";
    for (int i = 0; i < n; i++)
        s = arena_printf("%s%s%s", s, i ? ", " : "", torch_float(v[i]));
    return arena_printf("%s]", s);
}

/* Input k of op as the unfused graph has it: pass_fuse makes a conv that absorbed a normalize
 * read the normalize's input; the module computes the normalize on its own line. */
static int input_value(const Graph *g, const Op *op, int k) {
    if (k == 0 && op->pro_conv >= 0)
        return g->ops[op->pro_conv].writes;
    return k == 0 && op->pro_norm >= 0 ? g->ops[op->pro_norm].out : op->in[k];
}

const char *torch_in(const TorchCtx *t, const Op *op, int k) { return arena_printf("v%d", input_value(t->g, op, k)); }

Shape torch_in_shape(const TorchCtx *t, const Op *op, int k) { return t->g->values[input_value(t->g, op, k)].shape; }

const char *torch_buffer(TorchCtx *t, const Op *op, const char *what, const double *v, int n, const char *view) {
    const char *name = buffer_name(t->g, what, op->out);
    t->init = arena_printf("%s        self.register_buffer(\"%s\", torch.tensor(%s)%s, persistent=False)\n", t->init, name,
                           py_list(v, n), view);
    return arena_printf("self.%s", name);
}

static const char *class_name(const Graph *g) {
    const char *name = g->name;
    while (in_list(name, python_keywords) || in_list(name, file_names))
        name = arena_printf("%s_", name);
    return name;
}

static void print_docstring(const Graph *g, FILE *f, const char *cls) {
    int file = g->nops ? g->ops[0].span.file : -1;
    const char *path = file >= 0 ? diag_path(file) : NULL;
    Shape in = g->values[g->input].shape, out = g->values[g->output].shape;
    fprintf(f, "\"\"\"%s as a torch.nn.Module, written by `cnnc --emit=torch`%s%s.\n\n", g->name,
            path ? " from " : "", path ? basename_of(path) : "");
    fprintf(f, "Built from the same IR as the generated C: one submodule or functional call per op, in op\n"
               "order; forward() names each value v<id> after the IR (`cnnc --emit=ir`). state_dict() keys are\n"
               "the checkpoint names (docs/language.md, Naming), so a cnnc checkpoint loads with\n"
               "load_state_dict(..., strict=False) (BatchNorm's num_batches_tracked is PyTorch's own).\n"
               "Input %s, output %s (%s); %s parameters (%s trained).\n\n",
            shape_text(in), shape_text(out), g->ends_in_softmax ? "probabilities" : "logits",
            fmt_count((double)ir_param_count(g, false)), fmt_count((double)ir_param_count(g, true)));
    if (g->ends_in_softmax)
        fprintf(f, "The final softmax is applied in train mode too, while cnnc trains the logits before it\n"
                   "(docs/language.md, Layers).\n\n");
    fprintf(f, "    model = %s().eval()\n    y = model(torch.rand(%s))\n", cls,
            arena_printf("[1%s", shape_text(in) + 2));
    if (path) {
        fprintf(f, "\nSource (%s):\n\n", path);
        print_docstring_text(f, diag_text(file), diag_text_len(file));
    }
    fputs("\"\"\"\n", f);
}

static const char imports[] =
    "import torch\n"
    "import torch.nn as nn\n"
    "import torch.nn.functional as F\n"
    "\n"
    "\n";

/* Only when a name component is `training`: nn.Module.train() assigns self.training, which
 * nn.Module refuses while a child of that name exists. */
static const char training_base[] =
    "class _Module(nn.Module):\n"
    "    \"\"\"An nn.Module that may have a child named `training` (a label of the .cnn file): the\n"
    "    train/eval flag stays a plain attribute beside it.\"\"\"\n"
    "\n"
    "    def __setattr__(self, name, value):\n"
    "        if name == \"training\":\n"
    "            object.__setattr__(self, name, value)\n"
    "        else:\n"
    "            super().__setattr__(name, value)\n"
    "\n"
    "\n";

static const char scope_and_place[] =
    "class _Scope(%s):\n"
    "    \"\"\"One level of a dotted parameter name (the `stage1` of stage1.basic0.conv0): holds children only.\"\"\"\n"
    "\n"
    "\n"
    "def _place(root, path, module):\n"
    "    \"\"\"Registers module under the dotted path, making the _Scope levels on the way.\"\"\"\n"
    "    *scopes, leaf = path.split(\".\")\n"
    "    for name in scopes:\n"
    "        if name not in root._modules:\n"
    "            root._modules[name] = _Scope()\n"
    "        root = root._modules[name]\n"
    "    root._modules[leaf] = module\n"
    "\n"
    "\n";

static bool has_component(const Graph *g, const char *name) {
    size_t n = strlen(name);
    for (int i = 0; i < g->nparams; i++)
        for (const char *p = g->params[i].name; p; p = strchr(p, '.') ? strchr(p, '.') + 1 : NULL)
            if (!strncmp(p, name, n) && (p[n] == '.' || !p[n]))
                return true;
    return false;
}

void emit_torch(const Graph *g, FILE *f) {
    const char *cls = class_name(g);
    int nfwd = g->training ? g->nforward : g->nops;   /* the training step is not printed */
    print_docstring(g, f, cls);
    fputs(imports, f);
    const char *base = "nn.Module";
    if (has_component(g, "training")) {
        fputs(training_base, f);
        base = "_Module";
    }
    fprintf(f, scope_and_place, base);
    fprintf(f, "class %s(%s):\n", cls, base);
    fprintf(f, "    def __init__(self):\n        super().__init__()\n");
    TorchCtx t = {g, arena_strdup("")};
    const char **calls = arena_alloc(sizeof(char *) * (size_t)(g->nops + 1));
    for (int i = 0; i < nfwd; i++) {
        const Op *op = &g->ops[i];
        const OpInfo *info = op_info(op->kind);
        const char *ctor = info->torch_module ? info->torch_module(&t, op) : NULL;
        if (ctor && op->pname)
            t.init = arena_printf("%s        _place(self, \"%s\", %s)\n", t.init, op->pname, ctor);
        calls[i] = info->torch_call ? info->torch_call(&t, op) : "None";
    }
    fputs(t.init, f);
    fprintf(f, "\n    def forward(self, x):\n");
    for (int i = 0; i < nfwd; i++) {
        const Op *op = &g->ops[i];
        const char *line = arena_printf("v%d = %s", op->out, calls[i]);
        char attrs[512] = "";
        op_info(op->kind)->print_attrs(op, attrs, sizeof attrs);
        const char *where = op->span.file >= 0
                                ? arena_printf("  %s:%d", basename_of(diag_path(op->span.file)), op->span.line)
                                : "";
        fprintf(f, "        %-60s # %s%s%s -> %s%s\n", line, op_name(op->kind), *attrs ? " " : "", attrs,
                shape_text(g->values[op->out].shape), where);
    }
    fprintf(f, "        return v%d\n\n\nModel = %s\n", g->output, cls);
}
