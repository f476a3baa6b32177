/* test_frontend.c: the lexer, parser, error printer and file loader. Syntax trees are checked
 * through a compact one-line dump; error output is compared byte for byte. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "ast.h"
#include "diag.h"

/* ---- capturing diag output ---- */

static char *captured;
static size_t captured_len;
static FILE *capture_stream;

static void capture_begin(void) {
    diag_reset();
    free(captured);
    captured = NULL;
    capture_stream = open_memstream(&captured, &captured_len);
    diag_stream = capture_stream;
}

static const char *capture_end(void) {
    diag_flush();
    diag_stream = NULL;
    fclose(capture_stream);
    return captured;
}

static void expect_text(const char *got, const char *want) {
    if (strcmp(got, want) != 0)
        fprintf(stderr, "\n--- got:\n%s--- want:\n%s---\n", got, want);
    CU_ASSERT_STRING_EQUAL(got, want);
}

static AstFile *parse_len(const char *name, const char *text, long len) {
    return parse_source(diag_add_source(name, text, len));
}

static AstFile *parse_text(const char *text) {
    return parse_len("t.cnn", text, (long)strlen(text));
}

/* Parses text that must be wrong and compares the whole diagnostic output. */
static void expect_errors(const char *text, const char *want) {
    capture_begin();
    AstFile *f = parse_text(text);
    const char *got = capture_end();
    CU_ASSERT_PTR_NULL(f);
    expect_text(got, want);
}

/* ---- a compact dump of the syntax tree ---- */

static void dump_expr(FILE *f, const Expr *e);
static void dump_body(FILE *f, const Body *b);

static const char *op_text(int op, bool unary) {
    static char one[2];
    if (unary)
        return op == 'n' ? "not" : "-";
    switch (op) {
    case 'l': return "<=";
    case 'g': return ">=";
    case 'e': return "==";
    case 'n': return "!=";
    case '&': return "and";
    case '|': return "or";
    default: one[0] = (char)op; return one;
    }
}

static void dump_args(FILE *f, const ArgList *a) {
    fputc('(', f);
    for (int i = 0; i < a->n; i++) {
        if (i)
            fputs(", ", f);
        if (a->items[i].name)
            fprintf(f, "%s=", a->items[i].name);
        dump_expr(f, a->items[i].value);
    }
    fputc(')', f);
}

static void dump_expr(FILE *f, const Expr *e) {
    switch (e->kind) {
    case EX_INT: fprintf(f, "%lld", e->ival); break;
    case EX_FLOAT: fprintf(f, "%gf", e->fval); break;
    case EX_BOOL: fputs(e->ival ? "true" : "false", f); break;
    case EX_STRING: fprintf(f, "\"%s\"", e->str); break;
    case EX_NAME: fputs(e->name, f); break;
    case EX_FIELD: fprintf(f, "in.%s", e->name); break;
    case EX_LIST:
        fputc('[', f);
        for (int i = 0; i < e->nitems; i++) {
            if (i)
                fputc(' ', f);
            dump_expr(f, e->items[i]);
        }
        fputc(']', f);
        break;
    case EX_UNARY:
        fprintf(f, "(%s ", op_text(e->op, true));
        dump_expr(f, e->lhs);
        fputc(')', f);
        break;
    case EX_BINARY:
        fprintf(f, "(%s ", op_text(e->op, false));
        dump_expr(f, e->lhs);
        fputc(' ', f);
        dump_expr(f, e->rhs);
        fputc(')', f);
        break;
    case EX_CALL:
        fputs(e->name, f);
        dump_args(f, &e->args);
        break;
    }
}

static void dump_stmt(FILE *f, const Stmt *s) {
    switch (s->kind) {
    case ST_INPUT:
        fputs("input ", f);
        dump_expr(f, s->dims);
        break;
    case ST_APPLY:
        if (s->label)
            fprintf(f, "%s: ", s->label);
        fputs(s->name, f);
        if (s->has_parens)
            dump_args(f, &s->args);
        break;
    case ST_REPEAT:
        fputs("repeat ", f);
        dump_expr(f, s->count);
        fputc(' ', f);
        dump_body(f, &s->body);
        break;
    case ST_IF:
        fputs("if ", f);
        dump_expr(f, s->cond);
        fputc(' ', f);
        dump_body(f, &s->body);
        if (s->else_body) {
            fputs(" else ", f);
            dump_body(f, s->else_body);
        }
        break;
    case ST_RESIDUAL:
        fputs("residual ", f);
        dump_body(f, &s->body);
        if (s->shortcut) {
            fputs(" shortcut ", f);
            dump_body(f, s->shortcut);
        }
        break;
    case ST_ADD:
    case ST_CONCAT:
    case ST_MUL:
    case ST_AVERAGE:
        fputs(s->kind == ST_ADD       ? "add {"
              : s->kind == ST_MUL     ? "mul {"
              : s->kind == ST_AVERAGE ? "average {"
                                      : "concat {",
              f);
        for (int i = 0; i < s->nbranches; i++) {
            fputs(i ? " branch " : "branch ", f);
            dump_body(f, &s->branches[i]);
        }
        fputc('}', f);
        break;
    }
}

static void dump_body(FILE *f, const Body *b) {
    fputc('{', f);
    for (int i = 0; i < b->n; i++) {
        if (i)
            fputs("; ", f);
        dump_stmt(f, b->items[i]);
    }
    fputc('}', f);
}

static void dump_item(FILE *f, const Item *it) {
    switch (it->kind) {
    case ITEM_IMPORT: fprintf(f, "import \"%s\"", it->path); break;
    case ITEM_BLOCK:
    case ITEM_MODEL:
        fprintf(f, "%s %s(", it->kind == ITEM_BLOCK ? "block" : "model", it->name);
        for (int i = 0; i < it->params.n; i++) {
            fprintf(f, "%s%s", i ? ", " : "", it->params.items[i].name);
            if (it->params.items[i].def) {
                fputc('=', f);
                dump_expr(f, it->params.items[i].def);
            }
        }
        fputs(") ", f);
        dump_body(f, &it->body);
        break;
    case ITEM_TRAIN:
        fprintf(f, "train%s%s {", it->name ? " " : "", it->name ? it->name : "");
        for (int i = 0; i < it->nsettings; i++) {
            fprintf(f, "%s%s=", i ? "; " : "", it->settings[i].key);
            dump_expr(f, it->settings[i].value);
        }
        fputc('}', f);
        break;
    }
}

/* The dump of a whole file, items separated by " | ". */
static char *dump_file(const AstFile *file) {
    static char *s;
    size_t n;
    free(s);
    s = NULL;
    FILE *f = open_memstream(&s, &n);
    for (int i = 0; i < file->nitems; i++) {
        if (i)
            fputs(" | ", f);
        dump_item(f, file->items[i]);
    }
    fclose(f);
    return s;
}

/* Parses text that must be right and compares its dump. */
static void expect_ast(const char *text, const char *want) {
    capture_begin();
    AstFile *f = parse_text(text);
    const char *errors = capture_end();
    CU_ASSERT_PTR_NOT_NULL(f);
    expect_text(errors, "");
    if (f)
        expect_text(dump_file(f), want);
}

/* A statement body wrapped into a model, for short tests. */
static void expect_body(const char *body, const char *want) {
    char *text = arena_printf("model m {\n%s\n}\n", body);
    char *full = arena_printf("model m() {%s}", want);
    expect_ast(text, full);
}

/* ---- lexer ---- */

static void test_numbers(void) {
    expect_body("f(64, 0.5, .5, 1e-3, 2.5E+2, 1., 007, 3e2, 0)",
                "f(64, 0.5f, 0.5f, 0.001f, 250f, 1f, 7, 300f, 0)");
    expect_body("f(9223372036854775807)", "f(9223372036854775807)");
    capture_begin();
    AstFile *f = parse_text("model m { f(1e-3) }");
    capture_end();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    Expr *e = f->items[0]->body.items[0]->args.items[0].value;
    CU_ASSERT_EQUAL(e->kind, EX_FLOAT);
    CU_ASSERT_DOUBLE_EQUAL(e->fval, 1e-3, 1e-12);
    CU_ASSERT_EQUAL(e->span.line, 1);
    CU_ASSERT_EQUAL(e->span.col, 13);
    CU_ASSERT_EQUAL(e->span.end_col, 17);
}

static void test_comments_and_separators(void) {
    expect_body("# a comment\n  relu # trailing\n\n\n; ; tanh;sigmoid;\n",
                "relu; tanh; sigmoid");
    expect_body("conv(6,\n     5,   # comment inside parentheses\n     pad = 2)\nrelu",
                "conv(6, 5, pad=2); relu");
    expect_body("input [1,\n 28,\n 28]", "input [1 28 28]");
    expect_body("relu\r\ntanh\r\n", "relu; tanh");
    expect_ast("", "");
    expect_ast("\n\n# only a comment", "");
    expect_ast("model a {}\nmodel b { }; block c() {relu}",
               "model a() {} | model b() {} | block c() {relu}");
}

static void test_spans(void) {
    capture_begin();
    AstFile *f = parse_text("model m {\n\tfc: linear(10,\n  bias = false)\n}\n");
    capture_end();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    Item *it = f->items[0];
    CU_ASSERT_EQUAL(it->span.line, 1);
    CU_ASSERT_EQUAL(it->span.col, 1);
    CU_ASSERT_EQUAL(it->span.end_line, 4);
    CU_ASSERT_EQUAL(it->span.end_col, 2);
    CU_ASSERT_EQUAL(it->name_span.col, 7);
    Stmt *s = it->body.items[0];
    CU_ASSERT_EQUAL(s->span.line, 2);
    CU_ASSERT_EQUAL(s->span.col, 2);
    CU_ASSERT_EQUAL(s->span.end_line, 3);
    CU_ASSERT_EQUAL(s->span.end_col, 16);
    CU_ASSERT_EQUAL(s->label_span.col, 2);
    CU_ASSERT_EQUAL(s->label_span.end_col, 4);
    CU_ASSERT_EQUAL(s->name_span.col, 6);
    CU_ASSERT_EQUAL(s->name_span.end_col, 12);
    Arg *a = &s->args.items[1];
    CU_ASSERT_STRING_EQUAL(a->name, "bias");
    CU_ASSERT_EQUAL(a->span.line, 3);
    CU_ASSERT_EQUAL(a->span.col, 3);
    CU_ASSERT_EQUAL(a->span.end_col, 15);
    CU_ASSERT_EQUAL(a->name_span.end_col, 7);
    CU_ASSERT_EQUAL(f->file_id, it->span.file);
    CU_ASSERT_PTR_EQUAL(it->file, f);
}

/* ---- parser ---- */

static void test_items(void) {
    expect_ast("import \"lib/blocks.cnn\"\n"
               "block b(c, stride = 1) { relu }\n"
               "model m(classes = 10,) {\n input [3, 32, 32]\n linear(classes)\n}\n"
               "train {\n epochs = 5\n\n optimizer = adam(lr = 1e-3)\n}\n"
               "train m { batch = 64; loss = cross_entropy }\n"
               "block empty {}\n",
               "import \"lib/blocks.cnn\" | block b(c, stride=1) {relu} | "
               "model m(classes=10) {input [3 32 32]; linear(classes)} | "
               "train {epochs=5; optimizer=adam(lr=0.001f)} | "
               "train m {batch=64; loss=cross_entropy} | block empty() {}");
}

static void test_statements(void) {
    expect_body("input [1, 28, 28]\nflatten\nconv(6, 5, pad = same)\nfc: linear(10)\nhead: relu",
                "input [1 28 28]; flatten; conv(6, 5, pad=same); fc: linear(10); head: relu");
    expect_body("repeat n - 1 { conv(c, 3); relu }\nrepeat 0 {}",
                "repeat (- n 1) {conv(c, 3); relu}; repeat 0 {}");
    expect_body("if a { relu } else if b { tanh } else { sigmoid }",
                "if a {relu} else {if b {tanh} else {sigmoid}}");
    expect_body("if a {\n relu\n}\nelse {\n tanh\n}", "if a {relu} else {tanh}");
    expect_body("if stride != 1 or in.c != channels {\n conv(channels, 1)\n}",
                "if (or (!= stride 1) (!= in.c channels)) {conv(channels, 1)}");
    expect_body("residual { conv(3, 3) } shortcut { }\nresidual { relu }",
                "residual {conv(3, 3)} shortcut {}; residual {relu}");
    expect_body("residual {\n conv(3, 3)\n}\n\nshortcut {\n conv(3, 1)\n}\nrelu",
                "residual {conv(3, 3)} shortcut {conv(3, 1)}; relu");
    expect_body("add { branch { relu } branch { } }",
                "add {branch {relu} branch {}}");
    expect_body("concat {\n branch { conv(1, 1); relu }\n\n branch { maxpool(3, stride = 1) }\n}",
                "concat {branch {conv(1, 1); relu} branch {maxpool(3, stride=1)}}");
    expect_body("f()\ng(1,)", "f(); g(1)");
}

static void test_branch_spans(void) {
    capture_begin();
    AstFile *f = parse_text("model m {\n  add {\n    branch { relu }\n    branch {}\n  }\n}");
    capture_end();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    Stmt *s = f->items[0]->body.items[0];
    CU_ASSERT_EQUAL(s->kind, ST_ADD);
    CU_ASSERT_EQUAL(s->nbranches, 2);
    CU_ASSERT_EQUAL(s->span.line, 2);
    CU_ASSERT_EQUAL(s->span.end_line, 5);
    CU_ASSERT_EQUAL(s->branch_spans[1].line, 4);
    CU_ASSERT_EQUAL(s->branch_spans[1].col, 5);
    CU_ASSERT_EQUAL(s->branch_spans[1].end_col, 14);
}

static void test_expressions(void) {
    expect_body("f(1 + 2 * 3, (1 + 2) * 3, -a - -b, 7 % 2 / 3)",
                "f((+ 1 (* 2 3)), (* (+ 1 2) 3), (- (- a) (- b)), (/ (% 7 2) 3))");
    expect_body("f(a or b and c, not a == b, a < b, a <= b, a > b, a >= b, a == b, a != b)",
                "f((or a (and b c)), (not (== a b)), (< a b), (<= a b), (> a b), (>= a b), "
                "(== a b), (!= a b))");
    expect_body("f(true, false, in.h * in.w, in.features, [], [1, [2, 3],], g(x, k = 2))",
                "f(true, false, (* in.h in.w), in.features, [], [1 [2 3]], g(x, k=2))");
    expect_body("f(1 - 2 - 3, not not x)", "f((- (- 1 2) 3), (not (not x)))");
    expect_ast("train {\n augment = [random_crop(pad = 4), hflip]\n"
               " freeze = [stage1.basic0, \"fc\", conv0]\n}",
               "train {augment=[random_crop(pad=4) hflip]; freeze=[stage1.basic0 \"fc\" conv0]}");
}

/* ---- syntax errors: exact text ---- */

static void test_error_messages(void) {
    expect_errors("model m {\n    conv(6, 5\n    relu\n}\n",
                  "t.cnn:3:5: error: expected \")\" or \",\", found \"relu\"\n"
                  "    3 |     relu\n"
                  "      |     ^~~~\n");
    expect_errors("model m {\n    relu relu\n}\n",
                  "t.cnn:2:10: error: expected newline, \";\" or \"}\", found \"relu\"\n"
                  "    2 |     relu relu\n"
                  "      |          ^~~~\n");
    expect_errors("model m {\n\tconv(6, , 5)\n}\n",
                  "t.cnn:2:10: error: expected an expression or \")\", found \",\"\n"
                  "    2 | \tconv(6, , 5)\n"
                  "      | \t        ^\n");
    expect_errors("model m {\n  shortcut { relu }\n}\n",
                  "t.cnn:2:3: error: expected a statement or \"}\", found \"shortcut\"\n"
                  "    2 |   shortcut { relu }\n"
                  "      |   ^~~~~~~~\n");
    expect_errors("train {\n  epochs 5\n}\n",
                  "t.cnn:2:10: error: expected \"=\", found \"5\"\n"
                  "    2 |   epochs 5\n"
                  "      |          ^\n");
    expect_errors("model m {\n  repeat 3\n    relu\n}\n",
                  "t.cnn:2:11: error: expected \"{\", found newline\n"
                  "    2 |   repeat 3\n"
                  "      |           ^\n");
    expect_errors("relu\n",
                  "t.cnn:1:1: error: expected \"model\", \"block\", \"train\" or \"import\", found "
                  "\"relu\"\n"
                  "    1 | relu\n"
                  "      | ^~~~\n");
    expect_errors("block add(x) { }\n",
                  "t.cnn:1:7: error: expected a name, found \"add\"\n"
                  "    1 | block add(x) { }\n"
                  "      |       ^~~\n"
                  "note: \"add\" is a reserved word and cannot be used as a name\n");
    expect_errors("model m {\n  relu\n",
                  "t.cnn:3:1: error: expected a statement or \"}\", found end of file\n"
                  "    3 | \n"
                  "      | ^\n"
                  "t.cnn:1:9: note: to match this \"{\"\n"
                  "    1 | model m {\n"
                  "      |         ^\n");
    expect_errors("import x.cnn\n",
                  "t.cnn:1:8: error: expected a string, found \"x\"\n"
                  "    1 | import x.cnn\n"
                  "      |        ^\n");
    expect_errors("model m { f(pad = 1, 3) }",
                  "t.cnn:1:22: error: positional argument after keyword argument 'pad'\n"
                  "    1 | model m { f(pad = 1, 3) }\n"
                  "      |                      ^\n");
    expect_errors("block b(x, y = 1, x) {}",
                  "t.cnn:1:19: error: parameter 'x' is declared twice\n"
                  "    1 | block b(x, y = 1, x) {}\n"
                  "      |                   ^\n"
                  "t.cnn:1:9: note: first declared here\n"
                  "    1 | block b(x, y = 1, x) {}\n"
                  "      |         ^\n");
}

static void test_lexical_errors(void) {
    expect_errors("model m { f(1 ! 2) }",
                  "t.cnn:1:15: error: unexpected character '!'\n"
                  "    1 | model m { f(1 ! 2) }\n"
                  "      |               ^\n"
                  "note: use 'not' for logical negation, '!=' for inequality\n"
                  "t.cnn:1:17: error: expected \")\" or \",\", found \"2\"\n"
                  "    1 | model m { f(1 ! 2) }\n"
                  "      |                 ^\n");
    expect_errors("model m { f(99999999999999999999) }",
                  "t.cnn:1:13: error: integer 99999999999999999999 is too large (the largest is "
                  "9223372036854775807)\n"
                  "    1 | model m { f(99999999999999999999) }\n"
                  "      |             ^~~~~~~~~~~~~~~~~~~~\n");
    expect_errors("model m { f(1e999, 3x, 2e) }",
                  "t.cnn:1:13: error: number 1e999 is too large\n"
                  "    1 | model m { f(1e999, 3x, 2e) }\n"
                  "      |             ^~~~~\n"
                  "t.cnn:1:20: error: invalid number '3x'\n"
                  "    1 | model m { f(1e999, 3x, 2e) }\n"
                  "      |                    ^~\n"
                  "t.cnn:1:24: error: invalid number '2e'\n"
                  "    1 | model m { f(1e999, 3x, 2e) }\n"
                  "      |                        ^~\n");
    expect_errors("import \"a.cnn\nmodel m {\x01}",
                  "t.cnn:1:8: error: unterminated string (strings end on the same line)\n"
                  "    1 | import \"a.cnn\n"
                  "      |        ^~~~~~\n"
                  "t.cnn:2:10: error: unexpected character '\\x01'\n"
                  "    2 | model m {?}\n"
                  "      |          ^\n");
    expect_errors("model m { f(\xc3\xa9t\xe9) }",
                  "t.cnn:1:13: error: unexpected character '\xc3\xa9'\n"
                  "    1 | model m { f(\xc3\xa9t\xe9) }\n"
                  "      |             ^\n"
                  "t.cnn:1:16: error: unexpected character '\\xE9'\n"
                  "    1 | model m { f(\xc3\xa9t\xe9) }\n"
                  "      |               ^\n");
}

static void test_multiple_errors(void) {
    expect_errors("model m {\n"
                  "    conv(6, 5 relu\n"
                  "    linear(10) tanh\n"
                  "    repeat 2 x { relu }\n"
                  "    fine(1)\n"
                  "}\n"
                  "train {\n"
                  "    lr = \n"
                  "}\n",
                  "t.cnn:2:15: error: expected \")\" or \",\", found \"relu\"\n"
                  "    2 |     conv(6, 5 relu\n"
                  "      |               ^~~~\n"
                  "t.cnn:3:16: error: expected newline, \";\" or \"}\", found \"tanh\"\n"
                  "    3 |     linear(10) tanh\n"
                  "      |                ^~~~\n"
                  "t.cnn:4:14: error: expected \"{\", found \"x\"\n"
                  "    4 |     repeat 2 x { relu }\n"
                  "      |              ^\n"
                  "t.cnn:8:10: error: expected an expression, found newline\n"
                  "    8 |     lr = \n"
                  "      |          ^\n");
}

static void test_error_limit(void) {
    char *text = arena_strdup("model m {\n");
    for (int i = 0; i < 30; i++)
        text = arena_printf("%s  relu relu\n", text);
    text = arena_printf("%s}\n", text);
    capture_begin();
    CU_ASSERT_PTR_NULL(parse_text(text));
    const char *out = capture_end();
    int errors = 0;
    for (const char *p = out; (p = strstr(p, "t.cnn:")); p++)
        errors++;
    CU_ASSERT_EQUAL(errors, DIAG_MAX_ERRORS);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\ncnnc: error: too many errors, stopping\n"));
    CU_ASSERT_PTR_NULL(strstr(strstr(out, "too many errors") + 1, "too many errors"));
}

/* ---- the printer itself ---- */

static void test_diag_format(void) {
    static const char text[] = "block b {\n\tconv(6, 5); covn(3)\n}\nmodel m {\n  b\n}\n";
    capture_begin();
    int id = diag_add_source("models/x.cnn", text, (long)strlen(text));
    diag_push_context((Span){id, 5, 3, 5, 4}, "block b()");
    diag_push_context(span_none(), "an inner thing");
    diag_error((Span){id, 2, 14, 2, 18}, "unknown layer '%s'", "covn");
    diag_note((Span){id, 2, 14, 2, 18}, "did you mean '%s'?", "conv");
    diag_note((Span){id, 2, 2, 2, 6}, "a note elsewhere");
    diag_pop_context();
    diag_error(span_none(), "no location");
    diag_error((Span){id, 1, 1, 3, 2}, "multi-line span");
    diag_pop_context();
    diag_remark((Span){id, 4, 7, 4, 8}, "softmax dropped for training");
    diag_remark(span_none(), "plain");
    CU_ASSERT_EQUAL(diag_error_count(), 3);
    const char *out = capture_end();
    expect_text(out, "models/x.cnn:2:14: error: unknown layer 'covn'\n"
                     "    2 | \tconv(6, 5); covn(3)\n"
                     "      | \t            ^~~~\n"
                     "note: did you mean 'conv'?\n"
                     "models/x.cnn:2:2: note: a note elsewhere\n"
                     "    2 | \tconv(6, 5); covn(3)\n"
                     "      | \t^~~~\n"
                     "note: in an inner thing\n"
                     "note: in block b() at models/x.cnn:5:3\n"
                     "cnnc: error: no location\n"
                     "note: in block b() at models/x.cnn:5:3\n"
                     "models/x.cnn:1:1: error: multi-line span\n"
                     "    1 | block b {\n"
                     "      | ^~~~~~~~~\n"
                     "note: in block b() at models/x.cnn:5:3\n"
                     "models/x.cnn:4:7: note: softmax dropped for training\n"
                     "cnnc: note: plain\n");
    diag_reset();
    CU_ASSERT_EQUAL(diag_error_count(), 0);
}

static void test_closest(void) {
    static const char *const layers[] = {"conv", "linear", "maxpool", "avgpool", "relu",
                                         "batchnorm"};
    CU_ASSERT_STRING_EQUAL(diag_closest("covn", layers, 6), "conv");
    CU_ASSERT_STRING_EQUAL(diag_closest("lienar", layers, 6), "linear");
    CU_ASSERT_STRING_EQUAL(diag_closest("maxpol", layers, 6), "maxpool");
    CU_ASSERT_STRING_EQUAL(diag_closest("xaxpool", layers, 6), "maxpool"); /* tie: first */
    CU_ASSERT_STRING_EQUAL(diag_closest("batchnrom", layers, 6), "batchnorm");
    CU_ASSERT_PTR_NULL(diag_closest("softmax", layers, 6));
    CU_ASSERT_PTR_NULL(diag_closest("xyz", layers, 6));
    CU_ASSERT_PTR_NULL(diag_closest("conv", layers, 0));
}

/* ---- garbage in, clean errors out ---- */

static int count_errors_of(const char *text, long len) {
    capture_begin();
    AstFile *f = parse_len("g.cnn", text, len);
    capture_end();
    CU_ASSERT_PTR_NULL(f);
    return diag_error_count();
}

static void test_garbage(void) {
    unsigned seed = 12345;
    for (int round = 0; round < 200; round++) {
        long len = 1 + (long)(seed % 3000);
        char *text = arena_alloc((size_t)len);
        for (long i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            text[i] = (char)(seed >> 16);
        }
        capture_begin();
        parse_len("g.cnn", text, len); /* may or may not be valid; must not crash */
        capture_end();
    }
    static const char nuls[] = "model m {\0\0 relu\0}\0";
    CU_ASSERT(count_errors_of(nuls, (long)sizeof nuls) >= 1);

    /* Random sequences of real tokens exercise error recovery much harder. */
    static const char *const tokens[] = {"model", "block", "m", "{", "}", "(", ")", "[", "]",
                                         ",", ";", "\n", "=", "1", "relu", "branch", "add",
                                         "residual", "shortcut", "else", "if", "in", ".", "-",
                                         "train", "import", "\"x\"", ":", "not", "+"};
    for (int round = 0; round < 300; round++) {
        char *text = arena_strdup("");
        for (int i = 0; i < 60; i++) {
            seed = seed * 1103515245u + 12345u;
            text = arena_printf("%s %s", text, tokens[(seed >> 16) % 30]);
        }
        capture_begin();
        parse_text(text);
        capture_end();
    }
}

static void test_deep_nesting(void) {
    enum { N = 10000 };
    char *text = arena_alloc(2 * N + 32);
    strcpy(text, "model m { f(");
    memset(text + strlen(text), '(', N);
    capture_begin();
    CU_ASSERT_PTR_NULL(parse_text(text));
    const char *out = capture_end();
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "error: nesting too deep"));
    CU_ASSERT_PTR_NULL(strstr(out, "memory exhausted"));

    /* Braces nest statements; unary minus and long operator chains nest expressions. */
    char *braces = arena_strdup("model m {");
    for (int i = 0; i < 3000; i++)
        braces = arena_printf("%s repeat 1 {", braces);
    capture_begin();
    CU_ASSERT_PTR_NULL(parse_text(braces));
    CU_ASSERT_PTR_NOT_NULL(strstr(capture_end(), "error: nesting too deep"));

    char *minus = arena_alloc(N + 32);
    strcpy(minus, "model m { f(");
    memset(minus + strlen(minus), '-', N);
    strcat(minus, "1) }");
    capture_begin();
    CU_ASSERT_PTR_NULL(parse_text(minus));
    CU_ASSERT_PTR_NOT_NULL(strstr(capture_end(), "error: nesting too deep"));

    char *chain = arena_strdup("model m { f(1");
    for (int i = 0; i < 5000; i++)
        chain = arena_printf("%s+1", chain);
    chain = arena_printf("%s) }", chain);
    capture_begin();
    CU_ASSERT_PTR_NULL(parse_text(chain));
    const char *out2 = capture_end();
    CU_ASSERT_PTR_NOT_NULL(strstr(out2, "error: expression nested too deeply"));
    CU_ASSERT_EQUAL(diag_error_count(), 1);

    /* Within the limits, deep nesting is fine. */
    char *ok = arena_strdup("model m { f(");
    for (int i = 0; i < 100; i++)
        ok = arena_printf("%s(", ok);
    ok = arena_printf("%s1", ok);
    for (int i = 0; i < 100; i++)
        ok = arena_printf("%s)", ok);
    ok = arena_printf("%s) }", ok);
    capture_begin();
    CU_ASSERT_PTR_NOT_NULL(parse_text(ok));
    capture_end();
}

/* ---- loading files and imports ---- */

static char tmpdir[64];

static void write_file(const char *rel, const char *text, size_t len) {
    char *path = arena_printf("%s/%s", tmpdir, rel);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fwrite(text, 1, len, f);
    fclose(f);
}

static void write_text(const char *rel, const char *text) { write_file(rel, text, strlen(text)); }

static Program *load(const char *rel, const char **out) {
    capture_begin();
    Program *p = load_program(arena_printf("%s/%s", tmpdir, rel));
    *out = capture_end();
    return p;
}

static void test_load(void) {
    strcpy(tmpdir, "/tmp/cnnc-frontend-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpdir));
    mkdir(arena_printf("%s/lib", tmpdir), 0700);
    mkdir(arena_printf("%s/dir.cnn", tmpdir), 0700);
    const char *out;

    /* Relative imports, a diamond (common.cnn is read once). */
    write_text("root.cnn", "import \"lib/a.cnn\"\nimport \"lib/b.cnn\"\n"
                           "model m { input [1, 2, 2]; a; b; c }\nmodel n { input [1] }\n"
                           "train m { epochs = 1 }\n");
    write_text("lib/a.cnn", "import \"common.cnn\"\nblock a { relu }\n");
    write_text("lib/b.cnn", "import \"./common.cnn\"\nimport \"../lib/common.cnn\"\nblock b {}\n");
    write_text("lib/common.cnn", "block c {}\nmodel ignored {}\n");
    Program *p = load("root.cnn", &out);
    expect_text(out, "");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(p->nfiles, 4);
    CU_ASSERT_EQUAL(p->nblocks, 3);
    CU_ASSERT_EQUAL(p->nmodels, 2);
    CU_ASSERT_EQUAL(p->ntrains, 1);
    CU_ASSERT_STRING_EQUAL(p->models[0]->name, "m");
    CU_ASSERT_STRING_EQUAL(p->trains[0]->name, "m");
    CU_ASSERT_PTR_EQUAL(p->models[0]->file, p->files[0]);

    /* A cycle, reported at the import that closes it. */
    write_text("c1.cnn", "import \"lib/c2.cnn\"\nmodel m { input [1] }\n");
    write_text("lib/c2.cnn", "block x {}\nimport \"../c1.cnn\"\n");
    CU_ASSERT_PTR_NULL(load("c1.cnn", &out));
    char *want = arena_printf("%s/lib/c2.cnn:2:8: error: import cycle: %s/c1.cnn -> "
                               "%s/lib/c2.cnn -> %s/c1.cnn\n"
                               "    2 | import \"../c1.cnn\"\n"
                               "      |        ^~~~~~~~~~~\n",
                               tmpdir, tmpdir, tmpdir, tmpdir);
    expect_text(out, want);

    write_text("self.cnn", "import \"self.cnn\"\n");
    CU_ASSERT_PTR_NULL(load("self.cnn", &out));
    expect_text(out, arena_printf("%s/self.cnn:1:8: error: import cycle: %s/self.cnn -> "
                                  "%s/self.cnn\n"
                                  "    1 | import \"self.cnn\"\n"
                                  "      |        ^~~~~~~~~~\n",
                                  tmpdir, tmpdir, tmpdir));

    /* Missing files, directories, NUL bytes. */
    write_text("missing.cnn", "import \"nope.cnn\"\n");
    CU_ASSERT_PTR_NULL(load("missing.cnn", &out));
    expect_text(out, arena_printf("%s/missing.cnn:1:8: error: cannot read '%s/nope.cnn': No "
                                  "such file or directory\n"
                                  "    1 | import \"nope.cnn\"\n"
                                  "      |        ^~~~~~~~~~\n",
                                  tmpdir, tmpdir));
    CU_ASSERT_PTR_NULL(load("absent.cnn", &out));
    expect_text(out, arena_printf("cnnc: error: cannot read '%s/absent.cnn': No such file or "
                                  "directory\n", tmpdir));
    CU_ASSERT_PTR_NULL(load("dir.cnn", &out));
    expect_text(out, arena_printf("cnnc: error: cannot read '%s/dir.cnn': it is a directory\n",
                                  tmpdir));
    write_file("nul.cnn", "model m {\0}", 11);
    CU_ASSERT_PTR_NULL(load("nul.cnn", &out));
    expect_text(out, arena_printf("cnnc: error: cannot read '%s/nul.cnn': it contains a NUL "
                                  "byte at offset 9 (not a text file?)\n", tmpdir));

    /* Syntax errors in an imported file are reported with that file's path. */
    write_text("bad_import.cnn", "import \"lib/bad.cnn\"\n");
    write_text("lib/bad.cnn", "block b { relu relu }\n");
    CU_ASSERT_PTR_NULL(load("bad_import.cnn", &out));
    expect_text(out, arena_printf("%s/lib/bad.cnn:1:16: error: expected newline, \";\" or "
                                  "\"}\", found \"relu\"\n"
                                  "    1 | block b { relu relu }\n"
                                  "      |                ^~~~\n", tmpdir));

    /* Duplicates: blocks across files (reported in the importer), models in the root. */
    write_text("dup.cnn", "import \"lib/a.cnn\"\nblock a {}\nmodel m {}\nmodel m {}\n");
    CU_ASSERT_PTR_NULL(load("dup.cnn", &out));
    expect_text(out, arena_printf("%s/dup.cnn:2:7: error: block 'a' is defined twice\n"
                                  "    2 | block a {}\n"
                                  "      |       ^\n"
                                  "%s/lib/a.cnn:2:7: note: first defined here\n"
                                  "    2 | block a { relu }\n"
                                  "      |       ^\n"
                                  "%s/dup.cnn:4:7: error: model 'm' is defined twice\n"
                                  "    4 | model m {}\n"
                                  "      |       ^\n"
                                  "%s/dup.cnn:3:7: note: first defined here\n"
                                  "    3 | model m {}\n"
                                  "      |       ^\n",
                                  tmpdir, tmpdir, tmpdir, tmpdir));

    /* Too large. */
    size_t big = (16u << 20) + 1;
    char *huge = malloc(big);
    memset(huge, '#', big);
    write_file("huge.cnn", huge, big);
    free(huge);
    CU_ASSERT_PTR_NULL(load("huge.cnn", &out));
    expect_text(out, arena_printf("cnnc: error: cannot read '%s/huge.cnn': file is larger than "
                                  "16 MiB\n", tmpdir));

    static const char *const files[] = {"root.cnn", "lib/a.cnn", "lib/b.cnn", "lib/common.cnn",
                                        "c1.cnn", "lib/c2.cnn", "self.cnn", "missing.cnn",
                                        "nul.cnn", "bad_import.cnn", "lib/bad.cnn", "dup.cnn",
                                        "huge.cnn"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        unlink(arena_printf("%s/%s", tmpdir, files[i]));
    rmdir(arena_printf("%s/dir.cnn", tmpdir));
    rmdir(arena_printf("%s/lib", tmpdir));
    rmdir(tmpdir);
}

void suite_frontend(void) {
    CU_pSuite s = CU_add_suite("frontend", NULL, NULL);
    CU_add_test(s, "lexer: numbers", test_numbers);
    CU_add_test(s, "lexer: comments and separators", test_comments_and_separators);
    CU_add_test(s, "lexer: spans", test_spans);
    CU_add_test(s, "parser: items", test_items);
    CU_add_test(s, "parser: statements", test_statements);
    CU_add_test(s, "parser: branch spans", test_branch_spans);
    CU_add_test(s, "parser: expressions", test_expressions);
    CU_add_test(s, "errors: syntax messages", test_error_messages);
    CU_add_test(s, "errors: lexical messages", test_lexical_errors);
    CU_add_test(s, "errors: several in one run", test_multiple_errors);
    CU_add_test(s, "errors: limit", test_error_limit);
    CU_add_test(s, "diag: format", test_diag_format);
    CU_add_test(s, "diag: closest", test_closest);
    CU_add_test(s, "garbage input", test_garbage);
    CU_add_test(s, "deep nesting", test_deep_nesting);
    CU_add_test(s, "load: imports, cycles, bad files", test_load);
}
