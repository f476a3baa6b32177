/* test_train_config.c: the train section (train_config.c): defaults, every key and every
 * callable with its printed form, layering over earlier values, expressions and model
 * parameters in values, and each class of error with its exact message and location.
 * Sections are parsed from small texts; what the grammar refuses (a positional argument
 * after a keyword one) is built by hand. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "ast.h"
#include "diag.h"
#include "train_config.h"

/* Model parameters visible to the settings: depth = 3, rate = 0.5, deep = true. */
static bool lookup(void *ctx, const char *name, Val *out) {
    (void)ctx;
    if (!strcmp(name, "depth"))
        *out = (Val){.kind = V_INT, .i = 3};
    else if (!strcmp(name, "rate"))
        *out = (Val){.kind = V_FLOAT, .f = 0.5};
    else if (!strcmp(name, "deep"))
        *out = (Val){.kind = V_BOOL, .i = 1};
    else
        return false;
    return true;
}

static char *read_all(FILE *f) {
    long n = ftell(f);
    rewind(f);
    char *s = arena_alloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    return s;
}

/* The message lines of diag output: "t.cnn:2:5: error: ..." and "note: ...", without the
 * quoted source lines, joined by '\n'. */
static char *message_lines(const char *out) {
    char *s = arena_strdup("");
    for (const char *p = out; *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len && p[0] != ' ')
            s = arena_printf("%s%.*s\n", s, (int)len, p);
        p += len + (eol != NULL);
    }
    return s;
}

typedef struct Run {
    bool ok;
    char *diag;     /* everything diag printed */
    char *msgs;     /* message_lines(diag) */
    char *printed;  /* train_config_print after eval */
    TrainConfig t;
} Run;

static const Item *parse_train(const char *text) {
    int id = diag_add_source("t.cnn", text, (long)strlen(text));
    AstFile *file = parse_source(id);
    CU_ASSERT_FATAL(file != NULL);
    for (int i = 0; i < file->nitems; i++)
        if (file->items[i]->kind == ITEM_TRAIN)
            return file->items[i];
    CU_FAIL_FATAL("no train item");
    return NULL;
}

/* Evaluates item over start (or the defaults when NULL). */
static Run run_item(const Item *item, const TrainConfig *start) {
    Run r;
    if (start)
        r.t = *start;
    else
        train_config_defaults(&r.t);
    FILE *f = tmpfile();
    CU_ASSERT_FATAL(f != NULL);
    diag_reset();
    diag_stream = f;
    r.ok = train_config_eval(item, &r.t, lookup, NULL);
    CU_ASSERT_EQUAL(r.ok, diag_error_count() == 0);
    diag_flush();
    diag_stream = NULL;
    r.diag = read_all(f);
    fclose(f);
    r.msgs = message_lines(r.diag);
    f = tmpfile();
    CU_ASSERT_FATAL(f != NULL);
    train_config_print(&r.t, f);
    r.printed = read_all(f);
    fclose(f);
    return r;
}

/* settings: the lines between `train {` (line 1) and `}`; so the first setting is line 2. */
static Run run(const char *settings) {
    const char *text = arena_printf("train {\n%s\n}\n", settings);
    return run_item(parse_train(text), NULL);
}

static bool same_text(const char *got, const char *want) {
    if (strcmp(got, want) == 0)
        return true;
    fprintf(stderr, "\n--- got:\n%s--- want:\n%s---\n", got, want);
    return false;
}

/* The section fails with exactly these message lines. */
static void expect_errors(const char *settings, const char *want) {
    Run r = run(settings);
    CU_ASSERT_FALSE(r.ok);
    CU_ASSERT_TRUE(same_text(r.msgs, want));
}

/* The section succeeds, printing as want. */
static void expect_config(const char *settings, const char *want) {
    Run r = run(settings);
    CU_ASSERT_TRUE(r.ok);
    CU_ASSERT_TRUE(same_text(r.diag, ""));
    CU_ASSERT_TRUE(same_text(r.printed, want));
}

static const char *const DEFAULT_TEXT =
    "train: epochs=10 batch=64 seed=0 accumulate=1 clip_grad_norm=none\n"
    "  loss: cross_entropy(label_smoothing=0, weight=none)\n"
    "  optimizer: adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0)\n"
    "  schedule: constant\n"
    "  augment: none\n"
    "  early_stop: none\n"
    "  freeze: none\n"
    "  init: default\n";

static void test_defaults(void) {
    TrainConfig t;
    train_config_defaults(&t);
    CU_ASSERT_EQUAL(t.epochs, 10);
    CU_ASSERT_EQUAL(t.batch, 64);
    CU_ASSERT_EQUAL(t.seed, 0);
    CU_ASSERT_EQUAL(t.accumulate, 1);
    CU_ASSERT_EQUAL(t.clip_grad_norm, 0);
    CU_ASSERT_EQUAL(t.loss.kind, LOSS_CROSS_ENTROPY);
    CU_ASSERT_EQUAL(t.loss.weight.n, 0);
    CU_ASSERT_EQUAL(t.optimizer.kind, OPT_ADAM);
    CU_ASSERT_EQUAL(t.optimizer.lr, 1e-3);
    CU_ASSERT_EQUAL(t.optimizer.beta2, 0.999);
    CU_ASSERT_EQUAL(t.optimizer.eps, 1e-8);
    CU_ASSERT_EQUAL(t.schedule.kind, SCHED_CONSTANT);
    CU_ASSERT_EQUAL(t.naugment, 0);
    CU_ASSERT_FALSE(t.early_stop.on);
    CU_ASSERT_EQUAL(t.nfreeze, 0);
    CU_ASSERT_EQUAL(t.init, INIT_DEFAULT);
    for (int k = 0; k < TK_COUNT; k++)
        CU_ASSERT_TRUE(t.spans[k].file < 0);
    FILE *f = tmpfile();
    train_config_print(&t, f);
    CU_ASSERT_TRUE(same_text(read_all(f), DEFAULT_TEXT));
    fclose(f);
    /* An empty section changes nothing. */
    expect_config("", DEFAULT_TEXT);
}

static void test_names(void) {
    CU_ASSERT_STRING_EQUAL(train_key_name(TK_CLIP_GRAD_NORM), "clip_grad_norm");
    CU_ASSERT_STRING_EQUAL(train_loss_name(LOSS_FOCAL), "focal");
    CU_ASSERT_STRING_EQUAL(train_optimizer_name(OPT_ADAMW), "adamw");
    CU_ASSERT_STRING_EQUAL(train_schedule_name(SCHED_ONECYCLE), "onecycle");
    CU_ASSERT_STRING_EQUAL(train_augment_name(AUG_RANDOM_CROP), "random_crop");
    CU_ASSERT_STRING_EQUAL(train_init_name(INIT_DEFAULT), "default");
    CU_ASSERT_STRING_EQUAL(train_init_name(INIT_XAVIER_UNIFORM), "xavier_uniform");
}

/* Every key at once, with expressions and model parameters in values. */
static void test_every_key(void) {
    Run r = run("    epochs = 2 * depth\n"
                "    batch = 32\n"
                "    seed = 7\n"
                "    accumulate = 2\n"
                "    clip_grad_norm = 1.5\n"
                "    loss = cross_entropy(0.1, weight = [1, 2.5, 0])\n"
                "    optimizer = sgd(0.1 * rate, momentum = 0.9, nesterov = deep, weight_decay = 5e-4)\n"
                "    schedule = multistep([30, 60], gamma = 0.2)\n"
                "    augment = [random_crop, hflip(p = 0.25), vflip, rotate(15), translate(0.1), erase(p = 1)]\n"
                "    early_stop = early_stop(3, min_delta = 1e-3)\n"
                "    freeze = [conv0, linear0]\n"
                "    init = kaiming_normal");
    CU_ASSERT_TRUE(r.ok);
    CU_ASSERT_TRUE(same_text(r.diag, ""));
    CU_ASSERT_TRUE(same_text(
        r.printed,
        "train: epochs=6 batch=32 seed=7 accumulate=2 clip_grad_norm=1.5\n"
        "  loss: cross_entropy(label_smoothing=0.1, weight=[1, 2.5, 0])\n"
        "  optimizer: sgd(lr=0.05, momentum=0.9, nesterov=true, weight_decay=0.0005)\n"
        "  schedule: multistep(milestones=[30, 60], gamma=0.2)\n"
        "  augment: random_crop(size=none, pad=4), hflip(p=0.25), vflip(p=0.5), rotate(degrees=15), translate(fraction=0.1), "
        "erase(p=1)\n"
        "  early_stop: early_stop(patience=3, min_delta=0.001)\n"
        "  freeze: conv0, linear0\n"
        "  init: kaiming_normal\n"));
    TrainConfig *t = &r.t;
    CU_ASSERT_EQUAL(t->epochs, 6);
    CU_ASSERT_EQUAL(t->loss.weight.n, 3);
    CU_ASSERT_EQUAL(t->loss.weight.items[1], 2.5);
    CU_ASSERT_EQUAL(t->loss.weight.span.line, 7);
    CU_ASSERT_EQUAL(t->loss.weight.span.col, 40);
    CU_ASSERT_EQUAL(t->optimizer.kind, OPT_SGD);
    CU_ASSERT_EQUAL(t->optimizer.lr, 0.05);
    CU_ASSERT_TRUE(t->optimizer.nesterov);
    CU_ASSERT_EQUAL(t->schedule.milestones.n, 2);
    CU_ASSERT_EQUAL(t->schedule.milestones.items[1], 60);
    CU_ASSERT_EQUAL(t->naugment, 6);
    CU_ASSERT_EQUAL(t->augment[3].kind, AUG_ROTATE);
    CU_ASSERT_EQUAL(t->augment[3].degrees, 15);
    CU_ASSERT_EQUAL(t->augment[1].span.line, 10);
    CU_ASSERT_EQUAL(t->augment[1].span.col, 29);
    CU_ASSERT_TRUE(t->early_stop.on);
    CU_ASSERT_EQUAL(t->early_stop.patience, 3);
    CU_ASSERT_STRING_EQUAL(t->freeze[1].prefix, "linear0");
    CU_ASSERT_EQUAL(t->freeze[1].span.col, 22);
    CU_ASSERT_EQUAL(t->init, INIT_KAIMING_NORMAL);
    /* The value spans: `sgd(...)` starts at line 8, column 17. */
    CU_ASSERT_EQUAL(t->spans[TK_OPTIMIZER].line, 8);
    CU_ASSERT_EQUAL(t->spans[TK_OPTIMIZER].col, 17);
    CU_ASSERT_EQUAL(t->spans[TK_LOSS].line, 7);
    CU_ASSERT_EQUAL(t->spans[TK_LOSS].col, 12);
}

static void test_callables(void) {
    const char *rest = "  augment: none\n  early_stop: none\n  freeze: none\n  init: default\n";
    const char *head = "train: epochs=10 batch=64 seed=0 accumulate=1 clip_grad_norm=none\n";
    const char *ce = "  loss: cross_entropy(label_smoothing=0, weight=none)\n";
    const char *adam = "  optimizer: adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0)\n";
    /* Optimizers: adamw's own default decay; keyword-only and positional. */
    expect_config("optimizer = adamw",
                  arena_printf("%s%s  optimizer: adamw(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, "
                               "weight_decay=0.01)\n  schedule: constant\n%s", head, ce, rest));
    expect_config("optimizer = adam(2e-3, 0.8, beta2 = 0.99, eps = 1e-6, weight_decay = 1e-4)",
                  arena_printf("%s%s  optimizer: adam(lr=0.002, beta1=0.8, beta2=0.99, eps=1e-06, "
                               "weight_decay=0.0001)\n  schedule: constant\n%s", head, ce, rest));
    expect_config("optimizer = sgd(lr = 0.1)",
                  arena_printf("%s%s  optimizer: sgd(lr=0.1, momentum=0, nesterov=false, weight_decay=0)\n"
                               "  schedule: constant\n%s", head, ce, rest));
    /* Losses; `()` and no parentheses mean the same. */
    expect_config("loss = focal",
                  arena_printf("%s  loss: focal(gamma=2, alpha=1)\n%s  schedule: constant\n%s", head, adam, rest));
    expect_config("loss = focal(0, alpha = 0.25)",
                  arena_printf("%s  loss: focal(gamma=0, alpha=0.25)\n%s  schedule: constant\n%s", head, adam, rest));
    expect_config("loss = cross_entropy()", DEFAULT_TEXT);
    expect_config("loss = cross_entropy(label_smoothing = 0.05)",
                  arena_printf("%s  loss: cross_entropy(label_smoothing=0.05, weight=none)\n%s  schedule: "
                               "constant\n%s", head, adam, rest));
    /* Schedules. */
    struct {
        const char *in, *out;
    } schedules[] = {
        {"constant", "constant"},
        {"constant()", "constant"},
        {"step(30)", "step(every=30, gamma=0.1)"},
        {"step(every = 8, gamma = 0.96)", "step(every=8, gamma=0.96)"},
        {"multistep([5])", "multistep(milestones=[5], gamma=0.1)"},
        {"exponential(0.95)", "exponential(gamma=0.95)"},
        {"cosine", "cosine(min_lr=0, t_max=0)"},
        {"cosine(min_lr = 1e-5)", "cosine(min_lr=1e-05, t_max=0)"},
        {"cosine(t_max = 4)", "cosine(min_lr=0, t_max=4)"},
        {"onecycle(0.1)", "onecycle(max_lr=0.1, pct_start=0.3, cycle_momentum=false)"},
        {"onecycle(0.1, pct_start = 0.25)", "onecycle(max_lr=0.1, pct_start=0.25, cycle_momentum=false)"},
        {"onecycle(0.1, cycle_momentum = true)", "onecycle(max_lr=0.1, pct_start=0.3, cycle_momentum=true)"},
        {"plateau", "plateau(factor=0.5, patience=5, mode=min)"},
        {"plateau(factor = 0.1, patience = 0)", "plateau(factor=0.1, patience=0, mode=min)"},
    };
    for (size_t i = 0; i < sizeof schedules / sizeof schedules[0]; i++)
        expect_config(arena_printf("schedule = %s", schedules[i].in),
                      arena_printf("%s%s%s  schedule: %s\n%s", head, ce, adam, schedules[i].out, rest));
    /* Inits, early stop with its default, a single augmentation without brackets, an empty list. */
    Run r = run("init = xavier_uniform\nearly_stop = early_stop(patience = 4)\naugment = hflip\nfreeze = []");
    CU_ASSERT_TRUE(r.ok);
    CU_ASSERT_TRUE(same_text(r.printed, arena_printf("%s%s%s  schedule: constant\n  augment: hflip(p=0.5)\n"
                                                     "  early_stop: early_stop(patience=4, min_delta=0)\n"
                                                     "  freeze: none\n  init: xavier_uniform\n",
                                                     head, ce, adam)));
    r = run("augment = []\nfreeze = conv0");
    CU_ASSERT_TRUE(r.ok);
    CU_ASSERT_EQUAL(r.t.naugment, 0);
    CU_ASSERT_EQUAL(r.t.nfreeze, 1);
    CU_ASSERT_STRING_EQUAL(r.t.freeze[0].prefix, "conv0");
    /* Large values print exactly. */
    r = run("seed = 9007199254740993\nclip_grad_norm = 0.1 + 0.2");
    CU_ASSERT_TRUE(r.ok);
    CU_ASSERT_EQUAL(r.t.seed, 9007199254740993LL);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.printed, "seed=9007199254740993 accumulate=1 clip_grad_norm=0.30000000000000004\n"));
}

/* A key that is given replaces its whole setting; absent keys keep what was there; a failed
 * setting keeps the earlier value. */
static void test_layering(void) {
    TrainConfig start;
    train_config_defaults(&start);
    start.epochs = 99;
    start.optimizer.kind = OPT_SGD;
    start.optimizer.lr = 0.5;
    start.optimizer.momentum = 0.7;
    Run r = run_item(parse_train("train {\n    batch = 8\n}\n"), &start);
    CU_ASSERT_TRUE(r.ok);
    CU_ASSERT_EQUAL(r.t.epochs, 99);
    CU_ASSERT_EQUAL(r.t.batch, 8);
    CU_ASSERT_EQUAL(r.t.optimizer.momentum, 0.7);
    r = run_item(parse_train("train {\n    optimizer = sgd(0.2)\n    epochs = 0\n}\n"), &start);
    CU_ASSERT_FALSE(r.ok);
    CU_ASSERT_EQUAL(r.t.optimizer.lr, 0.2);
    CU_ASSERT_EQUAL(r.t.optimizer.momentum, 0);
    CU_ASSERT_EQUAL(r.t.epochs, 99);
    CU_ASSERT_TRUE(r.t.spans[TK_EPOCHS].file < 0);
    CU_ASSERT_EQUAL(r.t.spans[TK_OPTIMIZER].line, 2);
    r = run_item(parse_train("train {\n    optimizer = sgd(0.2, momentum = 2)\n}\n"), &start);
    CU_ASSERT_FALSE(r.ok);
    CU_ASSERT_EQUAL(r.t.optimizer.lr, 0.5);
    CU_ASSERT_EQUAL(r.t.optimizer.momentum, 0.7);
}

static void test_key_errors(void) {
    expect_errors("    epoch = 5",
                  "t.cnn:2:5: error: unknown train setting 'epoch'\n"
                  "note: did you mean 'epochs'?\n");
    expect_errors("    learning_rate = 5",
                  "t.cnn:2:5: error: unknown train setting 'learning_rate'\n"
                  "note: the train settings are epochs, batch, seed, accumulate, clip_grad_norm, loss, optimizer, "
                  "schedule, augment, early_stop, freeze, init, lr_for, warmup\n");
    expect_errors("    epochs = 5\n    batch = 4\n    epochs = 6",
                  "t.cnn:4:5: error: train setting 'epochs' is given twice\n"
                  "t.cnn:2:5: note: first given here\n");
    /* The full text once: location, quoted line, caret under the key. */
    Run r = run("    batch = 4\n    epoch = 5");
    CU_ASSERT_TRUE(same_text(r.diag, "t.cnn:3:5: error: unknown train setting 'epoch'\n"
                                     "    3 |     epoch = 5\n"
                                     "      |     ^~~~~\n"
                                     "note: did you mean 'epochs'?\n"));
}

static void test_scalar_errors(void) {
    expect_errors("    batch = 0", "t.cnn:2:13: error: train setting 'batch' must be an integer >= 1, got 0\n");
    expect_errors("    epochs = 2.5", "t.cnn:2:14: error: train setting 'epochs' must be an integer >= 1, got 2.5\n");
    expect_errors("    seed = -1", "t.cnn:2:12: error: train setting 'seed' must be an integer >= 0, got -1\n");
    expect_errors("    accumulate = true",
                  "t.cnn:2:18: error: train setting 'accumulate' must be an integer >= 1, got true\n");
    expect_errors("    clip_grad_norm = 0",
                  "t.cnn:2:22: error: train setting 'clip_grad_norm' must be a number > 0, got 0\n");
    expect_errors("    batch = [64]", "t.cnn:2:13: error: train setting 'batch' must be an integer >= 1, got [64]\n");
    expect_errors("    epochs = 3000000000",
                  "t.cnn:2:14: error: train setting 'epochs' must be an integer between 1 and 2147483647, got "
                  "3000000000\n");
    /* A value with the span of the whole expression. */
    Run r = run("    batch = depth - 3");
    CU_ASSERT_TRUE(same_text(r.diag, "t.cnn:2:13: error: train setting 'batch' must be an integer >= 1, got 0\n"
                                     "    2 |     batch = depth - 3\n"
                                     "      |             ^~~~~~~~~\n"));
}

static void test_expression_errors(void) {
    expect_errors("    epochs = 10 / (depth - 3)", "t.cnn:2:20: error: division by zero\n");
    expect_errors("    epochs = 10 % 0", "t.cnn:2:19: error: division by zero\n");
    expect_errors("    epochs = width",
                  "t.cnn:2:14: error: unknown name 'width'; a train setting's value may use numbers and the "
                  "model's parameters\n");
    expect_errors("    epochs = in.c",
                  "t.cnn:2:14: error: 'in.c' has no meaning in a train section; the shape of a statement's input "
                  "exists only inside a model or block\n");
    expect_errors("    epochs = 9223372036854775807 + 1", "t.cnn:2:14: error: integer overflow in '+'\n");
    expect_errors("    epochs = deep + 1", "t.cnn:2:14: error: '+' needs two numbers, got a boolean and an integer\n");
    expect_errors("    epochs = -deep", "t.cnn:2:14: error: unary '-' needs a number, got a boolean\n");
    expect_errors("    epochs = adam(1)", "t.cnn:2:14: error: 'adam(...)' is not a value here\n");
    /* Integer arithmetic is C's; comparisons and logic give booleans. */
    Run r = run("    epochs = -7 / 2 + 10\n    batch = 7 % -3 + depth * 2\n"
                "    optimizer = sgd(0.1, nesterov = depth >= 3 and not (rate == 0.5 or false), momentum = 0.5)");
    CU_ASSERT_TRUE(r.ok);
    CU_ASSERT_EQUAL(r.t.epochs, 7);
    CU_ASSERT_EQUAL(r.t.batch, 7);
    CU_ASSERT_FALSE(r.t.optimizer.nesterov);
    r = run("    clip_grad_norm = 7.5 % 2\n    epochs = (1 < 2) == true and 2 != 3 and 2 <= 2 and 3 > 2 and 1.5 >= 1");
    CU_ASSERT_FALSE(r.ok); /* epochs = true: a boolean */
    CU_ASSERT_EQUAL(r.t.clip_grad_norm, 1.5);
    CU_ASSERT_TRUE(same_text(r.msgs, "t.cnn:3:14: error: train setting 'epochs' must be an integer >= 1, got true\n"));
}

static void test_call_errors(void) {
    expect_errors("    optimizer = sgd(momentum = 0.9)",
                  "t.cnn:2:17: error: optimizer: sgd needs argument 'lr'; sgd takes (lr, momentum=0, nesterov=false, "
                  "weight_decay=0)\n");
    expect_errors("    schedule = step",
                  "t.cnn:2:16: error: schedule: step needs argument 'every'; step takes (every, gamma=0.1)\n");
    expect_errors("    optimizer = adam(lr = 1e-3, beta = 0.9)",
                  "t.cnn:2:33: error: optimizer: adam has no argument 'beta'; adam takes (lr=1e-3, beta1=0.9, "
                  "beta2=0.999, eps=1e-8, weight_decay=0)\n"
                  "note: did you mean 'beta1'?\n");
    expect_errors("    loss = focal(gama = 1)",
                  "t.cnn:2:18: error: loss: focal has no argument 'gama'; focal takes (gamma=2, alpha=1)\n"
                  "note: did you mean 'gamma'?\n");
    expect_errors("    optimizer = sgd(0.1, lr = 0.2)",
                  "t.cnn:2:26: error: optimizer: sgd: argument 'lr' is given twice\n"
                  "t.cnn:2:21: note: first given here\n");
    expect_errors("    schedule = cosine(0, 1, 2)",
                  "t.cnn:2:29: error: schedule: cosine takes at most 2 arguments; cosine takes (min_lr=0, t_max=0)\n");
    expect_errors("    schedule = constant(1)", "t.cnn:2:25: error: schedule: constant takes no arguments\n");
    expect_errors("    init = kaiming_normal(mode = 1)",
                  "t.cnn:2:34: error: init: kaiming_normal: argument 'mode' must be fan_in or fan_out, got 1\n");
    expect_errors("    init = kaiming_normal(nonlinearity = relu6)",
                  "t.cnn:2:42: error: init: kaiming_normal: argument 'nonlinearity' must be linear, sigmoid, tanh, relu "
                  "or leaky_relu, got relu6\n");
    expect_errors("    init = uniform(1, 0)", "t.cnn:2:12: error: init: uniform needs a < b, got a = 1, b = 0\n");
    expect_errors("    init = constant", "t.cnn:2:12: error: init: constant needs argument 'val'; constant takes (val)\n");
    {
        Run r = run("    init = kaiming_normal(mode = fan_out, nonlinearity = relu)");
        CU_ASSERT_TRUE(r.ok && r.t.init == INIT_KAIMING_NORMAL && r.t.init_args.mode == 1 &&
                       r.t.init_args.nonlinearity == 3);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.printed, "  init: kaiming_normal(a=0, mode=fan_out, nonlinearity=relu)\n"));
        r = run("    init = normal(std = 0.01)");
        CU_ASSERT_TRUE(r.ok && r.t.init == INIT_NORMAL && r.t.init_args.std == 0.01 && r.t.init_args.mean == 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.printed, "  init: normal(mean=0, std=0.01)\n"));
    }
    expect_errors("    optimizer = adm(lr = 1)",
                  "t.cnn:2:17: error: unknown optimizer 'adm'; expected one of sgd, adam, adamw\n"
                  "note: did you mean 'adam'?\n");
    expect_errors("    loss = mse", "t.cnn:2:12: error: unknown loss 'mse'; expected one of cross_entropy, focal\n");
    expect_errors("    init = kaiming_norml",
                  "t.cnn:2:12: error: unknown init 'kaiming_norml'; expected one of default, kaiming_normal, "
                  "xavier_uniform, normal, uniform, constant, kaiming_uniform, xavier_normal\n"
                  "note: did you mean 'kaiming_normal'?\n");
    expect_errors("    schedule = cosin",
                  "t.cnn:2:16: error: unknown schedule 'cosin'; expected one of constant, step, multistep, "
                  "exponential, cosine, onecycle, plateau\n"
                  "note: did you mean 'cosine'?\n");
    expect_errors("    loss = 3", "t.cnn:2:12: error: train setting 'loss' must be one of cross_entropy, focal\n");
    expect_errors("    early_stop = 5",
                  "t.cnn:2:18: error: train setting 'early_stop' must be early_stop(patience, min_delta=0)\n");
    expect_errors("    early_stop = stop(5)",
                  "t.cnn:2:18: error: unknown early stopping rule 'stop'; expected early_stop(patience, "
                  "min_delta=0)\n");
    expect_errors("    early_stop = early_stop",
                  "t.cnn:2:18: error: early_stop: early_stop needs argument 'patience'; early_stop takes (patience, "
                  "min_delta=0)\n");
    /* A binding error does not hide an independent value error in the same call. */
    expect_errors("    optimizer = sgd(momentum = 1, foo = 2)",
                  "t.cnn:2:35: error: optimizer: sgd has no argument 'foo'; sgd takes (lr, momentum=0, "
                  "nesterov=false, weight_decay=0)\n"
                  "t.cnn:2:17: error: optimizer: sgd needs argument 'lr'; sgd takes (lr, momentum=0, "
                  "nesterov=false, weight_decay=0)\n"
                  "t.cnn:2:32: error: optimizer: sgd: argument 'momentum' must be a number >= 0 and < 1, got 1\n");

    /* A positional argument after a keyword one (the parser refuses it; built by hand). */
    const Item *item = parse_train("train {\n    optimizer = sgd(lr = 0.1, momentum = 0.9)\n}\n");
    Expr *call = item->settings[0].value;
    Arg *a = &call->args.items[1];
    a->name = NULL;
    Run r = run_item(item, NULL);
    CU_ASSERT_FALSE(r.ok);
    CU_ASSERT_TRUE(same_text(r.msgs, "t.cnn:2:31: error: optimizer: sgd: a positional argument cannot follow keyword "
                                     "arguments\n"
                                     "t.cnn:2:21: note: the first keyword argument is here\n"));
}

static void test_range_errors(void) {
    struct {
        const char *in, *out;
    } cases[] = {
        {"optimizer = sgd(0)", "t.cnn:2:17: error: optimizer: sgd: argument 'lr' must be a number > 0, got 0\n"},
        {"optimizer = sgd(0.1, momentum = 1)",
         "t.cnn:2:33: error: optimizer: sgd: argument 'momentum' must be a number >= 0 and < 1, got 1\n"},
        {"optimizer = sgd(0.1, nesterov = 1)",
         "t.cnn:2:33: error: optimizer: sgd: argument 'nesterov' must be true or false, got 1\n"},
        {"optimizer = sgd(0.1, nesterov = true)",
         "t.cnn:2:33: error: optimizer: sgd: nesterov = true needs momentum > 0\n"},
        {"optimizer = sgd(0.1, weight_decay = -1e-4)",
         "t.cnn:2:37: error: optimizer: sgd: argument 'weight_decay' must be a number >= 0, got -0.0001\n"},
        {"optimizer = adam(beta2 = 1)",
         "t.cnn:2:26: error: optimizer: adam: argument 'beta2' must be a number >= 0 and < 1, got 1\n"},
        {"optimizer = adamw(eps = 0)", "t.cnn:2:25: error: optimizer: adamw: argument 'eps' must be a number > 0, got 0\n"},
        {"loss = cross_entropy(label_smoothing = 1)",
         "t.cnn:2:40: error: loss: cross_entropy: argument 'label_smoothing' must be a number >= 0 and < 1, got 1\n"},
        {"loss = cross_entropy(weight = [1, -1, 2])",
         "t.cnn:2:35: error: loss: cross_entropy: argument 'weight': item 2 must be a number >= 0, got -1\n"},
        {"loss = cross_entropy(weight = [0, 0])",
         "t.cnn:2:31: error: loss: cross_entropy: argument 'weight' needs at least one weight > 0\n"},
        {"loss = cross_entropy(weight = 2)",
         "t.cnn:2:31: error: loss: cross_entropy: argument 'weight' must be a non-empty list of numbers >= 0, got 2\n"},
        {"loss = cross_entropy(weight = [])",
         "t.cnn:2:31: error: loss: cross_entropy: argument 'weight' must be a non-empty list of numbers >= 0, got []\n"},
        {"loss = focal(gamma = -1)", "t.cnn:2:22: error: loss: focal: argument 'gamma' must be a number >= 0, got -1\n"},
        {"loss = focal(alpha = 0)", "t.cnn:2:22: error: loss: focal: argument 'alpha' must be a number > 0, got 0\n"},
        {"schedule = step(0)", "t.cnn:2:17: error: schedule: step: argument 'every' must be an integer >= 1, got 0\n"},
        {"schedule = step(10, gamma = 0)",
         "t.cnn:2:29: error: schedule: step: argument 'gamma' must be a number > 0, got 0\n"},
        {"schedule = multistep([30, 20, 40])",
         "t.cnn:2:27: error: schedule: multistep: argument 'milestones' must be strictly increasing, got 20 after 30\n"},
        {"schedule = multistep([0, 2.5])",
         "t.cnn:2:23: error: schedule: multistep: argument 'milestones': item 1 must be an integer >= 1, got 0\n"
         "t.cnn:2:26: error: schedule: multistep: argument 'milestones': item 2 must be an integer >= 1, got 2.5\n"},
        {"schedule = multistep(30)",
         "t.cnn:2:22: error: schedule: multistep: argument 'milestones' must be a non-empty list of integers >= 1 in "
         "increasing order, got 30\n"},
        {"schedule = exponential(-0.5)",
         "t.cnn:2:24: error: schedule: exponential: argument 'gamma' must be a number > 0, got -0.5\n"},
        {"schedule = cosine(min_lr = -1)",
         "t.cnn:2:28: error: schedule: cosine: argument 'min_lr' must be a number >= 0, got -1\n"},
        {"schedule = onecycle(0)", "t.cnn:2:21: error: schedule: onecycle: argument 'max_lr' must be a number > 0, got 0\n"},
        {"schedule = plateau(factor = 1)",
         "t.cnn:2:29: error: schedule: plateau: argument 'factor' must be a number > 0 and < 1, got 1\n"},
        {"schedule = plateau(patience = -1)",
         "t.cnn:2:31: error: schedule: plateau: argument 'patience' must be an integer >= 0, got -1\n"},
        {"augment = [random_crop(pad = -1)]",
         "t.cnn:2:30: error: augment: random_crop: argument 'pad' must be an integer >= 0, got -1\n"},
        {"augment = [hflip(p = 1.5)]",
         "t.cnn:2:22: error: augment: hflip: argument 'p' must be a number between 0 and 1, got 1.5\n"},
        {"augment = [vflip(p = -0.1)]",
         "t.cnn:2:22: error: augment: vflip: argument 'p' must be a number between 0 and 1, got -0.1\n"},
        {"augment = [erase(2)]", "t.cnn:2:18: error: augment: erase: argument 'p' must be a number between 0 and 1, got 2\n"},
        {"augment = [rotate(0)]",
         "t.cnn:2:19: error: augment: rotate: argument 'degrees' must be a number > 0 and <= 180, got 0\n"},
        {"augment = [translate(1)]",
         "t.cnn:2:22: error: augment: translate: argument 'fraction' must be a number > 0 and < 1, got 1\n"},
        {"augment = [rotate]",
         "t.cnn:2:12: error: augment: rotate needs argument 'degrees'; rotate takes (degrees)\n"},
        {"early_stop = early_stop(0)",
         "t.cnn:2:25: error: early_stop: early_stop: argument 'patience' must be an integer >= 1, got 0\n"},
        {"early_stop = early_stop(2, min_delta = -1)",
         "t.cnn:2:40: error: early_stop: early_stop: argument 'min_delta' must be a number >= 0, got -1\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_errors(cases[i].in, cases[i].out);
}

static void test_list_errors(void) {
    expect_errors("    augment = [hflip, random_crop, hflip(p = 0.1)]",
                  "t.cnn:2:36: error: augment: hflip is listed twice\n"
                  "t.cnn:2:16: note: first listed here\n");
    expect_errors("    augment = [hflp, 3]",
                  "t.cnn:2:16: error: unknown augmentation 'hflp'; expected one of random_crop, hflip, vflip, rotate, "
                  "translate, erase, color_jitter, grayscale, random_resized_crop, affine, resize, center_crop\n"
                  "note: did you mean 'hflip'?\n"
                  "t.cnn:2:22: error: augment: item 2 must be one of random_crop, hflip, vflip, rotate, translate, "
                  "erase, color_jitter, grayscale, random_resized_crop, affine, resize, center_crop\n");
    expect_errors("    augment = 3",
                  "t.cnn:2:15: error: train setting 'augment' must be one of random_crop, hflip, vflip, rotate, "
                  "translate, erase, color_jitter, grayscale, random_resized_crop, affine, resize, center_crop\n");
    expect_errors("    freeze = [conv0, 3, conv0]",
                  "t.cnn:2:22: error: freeze: item 2 must be a parameter name prefix such as conv0, or a string such "
                  "as \"stage1.basic0\" for a dotted one\n"
                  "t.cnn:2:25: error: freeze: 'conv0' is listed twice\n"
                  "t.cnn:2:15: note: first listed here\n");
    expect_errors("    freeze = 1.5",
                  "t.cnn:2:14: error: train setting 'freeze' must be a parameter name prefix such as conv0, or a "
                  "string such as \"stage1.basic0\" for a dotted one\n");

    /* Strings and dotted names for dotted prefixes; each must be names joined by single dots. */
    const Item *item =
        parse_train("train {\n    freeze = [\"stage1.basic0\", stage2.basic1.conv0, \"stage1..conv0\", \"\"]\n}\n");
    Run r = run_item(item, NULL);
    CU_ASSERT_FALSE(r.ok);
    CU_ASSERT_TRUE(same_text(r.msgs, "t.cnn:2:53: error: freeze: item 3: 'stage1..conv0' is not a parameter name "
                                     "prefix (names joined by dots, such as stage1.basic0)\n"
                                     "t.cnn:2:70: error: freeze: item 4: '' is not a parameter name prefix (names "
                                     "joined by dots, such as stage1.basic0)\n"));
    item->settings[0].value->nitems = 2;
    r = run_item(item, NULL);
    CU_ASSERT_TRUE(r.ok);
    CU_ASSERT_EQUAL(r.t.nfreeze, 2);
    CU_ASSERT_EQUAL(r.t.freeze[1].span.col, 32);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.printed, "  freeze: stage1.basic0, stage2.basic1.conv0\n"));
    /* A string or a dotted name anywhere else is not a value. */
    expect_errors("    epochs = \"5\"",
                  "t.cnn:2:14: error: a string is not a value here; strings are for `import` and `freeze`\n");
    expect_errors("    epochs = stage1.depth",
                  "t.cnn:2:14: error: unknown name 'stage1.depth'; a train setting's value may use numbers and the "
                  "model's parameters\n");
}

/* Independent errors are all reported in one run, and the good settings still apply. */
static void test_many_errors(void) {
    Run r = run("    epochs = 0\n    optimizer = sgd\n    batch = 16\n    schedule = step(2, gama = 1)\n"
                "    loss = focal(1, 2, 3)\n    init = he");
    CU_ASSERT_FALSE(r.ok);
    CU_ASSERT_EQUAL(r.t.batch, 16);
    CU_ASSERT_TRUE(same_text(
        r.msgs,
        "t.cnn:2:14: error: train setting 'epochs' must be an integer >= 1, got 0\n"
        "t.cnn:3:17: error: optimizer: sgd needs argument 'lr'; sgd takes (lr, momentum=0, nesterov=false, "
        "weight_decay=0)\n"
        "t.cnn:5:24: error: schedule: step has no argument 'gama'; step takes (every, gamma=0.1)\n"
        "note: did you mean 'gamma'?\n"
        "t.cnn:6:24: error: loss: focal takes at most 2 arguments; focal takes (gamma=2, alpha=1)\n"
        "t.cnn:7:12: error: unknown init 'he'; expected one of default, kaiming_normal, xavier_uniform, normal, uniform, constant, kaiming_uniform, "
        "xavier_normal\n"));
}

/* The model files' own train sections evaluate cleanly. */
static void test_model_sections(void) {
    expect_config("    epochs    = 30\n    batch     = 128\n    seed      = 1\n"
                  "    loss      = cross_entropy(label_smoothing = 0.1)\n"
                  "    optimizer = sgd(lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 5e-4)\n"
                  "    schedule  = onecycle(0.1)\n"
                  "    augment   = [random_crop(pad = 4), hflip]",
                  "train: epochs=30 batch=128 seed=1 accumulate=1 clip_grad_norm=none\n"
                  "  loss: cross_entropy(label_smoothing=0.1, weight=none)\n"
                  "  optimizer: sgd(lr=0.1, momentum=0.9, nesterov=true, weight_decay=0.0005)\n"
                  "  schedule: onecycle(max_lr=0.1, pct_start=0.3, cycle_momentum=false)\n"
                  "  augment: random_crop(size=none, pad=4), hflip(p=0.5)\n"
                  "  early_stop: none\n"
                  "  freeze: none\n"
                  "  init: default\n");
}

/* lr_for: parameter groups, their printed form and their errors. */
/* plateau's mode and the warm-up. */
static void test_mode_warmup(void) {
    Run r = run("    schedule = plateau(0.5, 2, max)\n    warmup = linear(3, start_factor = 0.1)");
    CU_ASSERT_TRUE(r.ok && r.t.schedule.mode == 1 && r.t.warmup == 3 && r.t.warmup_factor == 0.1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.printed, "schedule: plateau(factor=0.5, patience=2, mode=max)\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.printed, "  warmup: linear(epochs=3, start_factor=0.10000000000000001)\n"));
    r = run("    warmup = 2");
    CU_ASSERT_TRUE(r.ok && r.t.warmup == 2);
    expect_errors("    schedule = plateau(mode = up)", "t.cnn:2:31: error: schedule: plateau: argument 'mode' must be min or max, got up\n");
    expect_errors("    warmup = linear(2, start_factor = 2)",
                  "t.cnn:2:39: error: warmup: start_factor must be a number in (0, 1], got 2\n");
    expect_errors("    warmup = -1", "t.cnn:2:14: error: warmup: epochs must be an integer >= 0, got -1\n");
}

/* The torchvision augmentations and random_crop's size. */
static void test_new_augments(void) {
    Run r = run("    augment = random_crop(32, pad = 4)");
    CU_ASSERT_PTR_NOT_NULL(strstr(r.printed, "augment: random_crop(size=32, pad=4)\n"));
    r = run("    augment = [random_crop(32), color_jitter(0.4, hue = 0.1), grayscale, "
            "random_resized_crop(scale = [0.5, 1])]");
    CU_ASSERT_TRUE(r.ok);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.printed, "augment: random_crop(size=32, pad=0), "
                                             "color_jitter(brightness=0.4, contrast=0, saturation=0, hue=0.1), "
                                             "grayscale(p=0.1), random_resized_crop(scale=[0.5, 1], ratio=none)\n"));
    r = run("    augment = affine(10, translate = 0.1, scale = [0.9, 1.1], shear = 5)");
    CU_ASSERT_PTR_NOT_NULL(strstr(r.printed, "augment: affine(degrees=10, translate=0.1, scale=[0.9, 1.1], shear=5)\n"));
    expect_errors("    augment = affine(shear = 90)",
                  "t.cnn:2:30: error: augment: affine: argument 'shear' must be a number >= 0 and < 90, got 90\n");
    expect_errors("    augment = color_jitter(hue = 0.6)",
                  "t.cnn:2:34: error: augment: color_jitter: argument 'hue' must be a number between 0 and 0.5, got 0.6\n");
    expect_errors("    augment = random_resized_crop(scale = [0.5, 2])",
                  "t.cnn:2:43: error: train setting 'augment': random_resized_crop's scale must be [lo, hi] with "
                  "0 < lo <= hi <= 1\n");
}

static void test_lr_for(void) {
    Run r = run("    lr_for = [group(fc, lr = 0.01), group(\"layer4.basic1\", 2 * rate / 1000)]");
    CU_ASSERT_TRUE(r.ok);
    CU_ASSERT_EQUAL(r.t.nlr_for, 2);
    if (r.t.nlr_for == 2) {
        CU_ASSERT_STRING_EQUAL(r.t.lr_for[0].prefix, "fc");
        CU_ASSERT_DOUBLE_EQUAL(r.t.lr_for[0].lr, 0.01, 0);
        CU_ASSERT_STRING_EQUAL(r.t.lr_for[1].prefix, "layer4.basic1");
        CU_ASSERT_DOUBLE_EQUAL(r.t.lr_for[1].lr, 0.001, 0);
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(r.printed, "  init: default\n  lr_for: fc=0.01, layer4.basic1=0.001\n"));
    r = run("    lr_for = group(layer4.basic1, lr = 1e-3)");
    CU_ASSERT_TRUE(r.ok && r.t.nlr_for == 1);
    expect_errors("    lr_for = [fc]", "t.cnn:2:15: error: lr_for: item 1 must be group(PREFIX, lr = X), such as "
                                       "group(fc, lr = 0.01)\n");
    expect_errors("    lr_for = group(fc)", "t.cnn:2:14: error: train setting 'lr_for': group needs a prefix and "
                                            "lr = X, such as group(fc, lr = 0.01)\n");
    expect_errors("    lr_for = group(fc, lr = 0)", "t.cnn:2:29: error: train setting 'lr_for': lr must be a number "
                                                    "> 0, got 0\n");
    expect_errors("    lr_for = group(3, lr = 0.1)", "t.cnn:2:20: error: train setting 'lr_for': the prefix must be a "
                                                     "parameter name prefix such as fc or layer4.basic1\n");
    expect_errors("    lr_for = group(fc, lr = 0.1, lr = 0.2)", "t.cnn:2:34: error: train setting 'lr_for': group "
                                                                "takes a prefix and lr = X, once each\n");
    expect_errors("    lr_for = [group(fc, lr = 0.1), group(fc, lr = 0.2)]",
                  "t.cnn:2:36: error: lr_for: 'fc' is listed twice\n"
                  "t.cnn:2:15: note: first listed here\n");
}


/* docs/language.md's table of train settings against the vocabulary (runtime/train_vocab.def):
 * in its family's row, every callable is listed, `name(...)` names every argument in order
 * with its default as the table writes it (arg=def; an argument without a default or unset by
 * default is named alone), and the row lists no callable the table lacks. */
typedef struct DocCheck {
    char *doc;
    int checked, bad;
} DocCheck;

static const char *doc_row(const char *doc, const char *family) {
    char head[64];
    snprintf(head, sizeof head, "\n| `%s` |", family);
    const char *r = strstr(doc, head);
    return r ? r + 1 : NULL;
}

static void doc_fail(DocCheck *c, const char *what) {
    c->bad++;
    fprintf(stderr, "\n  docs/language.md: %s\n", what);
    CU_FAIL(what);
}

static void check_doc_callable(void *ctx, const char *family, const char *name, const ArgSpec *args) {
    DocCheck *c = ctx;
    if (!strcmp(family, "settings"))
        return;
    const char *row = doc_row(c->doc, family);
    char msg[256];
    if (!row) {
        snprintf(msg, sizeof msg, "no row for `%s`", family);
        doc_fail(c, msg);
        return;
    }
    const char *end = strchr(row, '\n');
    size_t len = end ? (size_t)(end - row) : strlen(row);
    char *line = arena_strndup(row, len);
    c->checked++;
    char call[64];
    snprintf(call, sizeof call, "`%s(", name);
    const char *sig = strstr(line, call);
    if (!args[0].name) {
        snprintf(call, sizeof call, "`%s`", name);
        if (!strstr(line, call)) {
            snprintf(msg, sizeof msg, "%s: `%s` is not listed", family, name);
            doc_fail(c, msg);
        }
        return;
    }
    if (!sig) {
        snprintf(msg, sizeof msg, "%s: `%s(...)` is not listed", family, name);
        doc_fail(c, msg);
        return;
    }
    const char *close = strchr(sig, ')');
    char *text = arena_strndup(sig, close ? (size_t)(close - sig) + 1 : strlen(sig));
    const char *at = text;
    for (int i = 0; args[i].name; i++) {
        char want[96];
        bool plain = !args[i].def || !strcmp(args[i].def, "none");
        snprintf(want, sizeof want, plain ? "%s" : "%s=%s", args[i].name, args[i].def);
        const char *hit = strstr(at, want);
        if (!hit) {
            snprintf(msg, sizeof msg, "%s: %s: %s does not say `%s` (in this order)", family, name, text, want);
            doc_fail(c, msg);
            return;
        }
        at = hit + strlen(want);
    }
}

static void test_docs_vocab(void) {
    FILE *f = fopen("../docs/language.md", "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    DocCheck c = {buf, 0, 0};
    train_vocab_walk(check_doc_callable, &c);
    CU_ASSERT(c.checked >= 30 && c.bad == 0);
    /* and the other way: every `word(` in a family's row is a callable of that family */
    const char *families[] = {"loss", "optimizer", "schedule", "augment", "init"};
    for (int k = 0; k < 5; k++) {
        const char *row = doc_row(buf, families[k]);
        if (!row)
            continue;
        const char *end = strchr(row, '\n');
        for (const char *p = strchr(row, '`'); p && p < end; p = strchr(p + 1, '`')) {
            const char *q = p + 1;
            while ((*q >= 'a' && *q <= 'z') || *q == '_')
                q++;
            if (*q != '(' || q == p + 1)
                continue;
            const char *name = arena_strndup(p + 1, (size_t)(q - p - 1));
            bool known = false;
            for (int m = 0; m < 16 && !known; m++) {
                const char *nm = k == 0 ? (m < LOSS_COUNT ? train_loss_name((LossKind)m) : NULL)
                                 : k == 1 ? (m < OPT_COUNT ? train_optimizer_name((OptimizerKind)m) : NULL)
                                 : k == 2 ? (m < SCHED_COUNT ? train_schedule_name((ScheduleKind)m) : NULL)
                                 : k == 3 ? (m < AUG_COUNT ? train_augment_name((AugmentKind)m) : NULL)
                                          : (m < INIT_COUNT ? train_init_name((InitKind)m) : NULL);
                known = nm && !strcmp(nm, name);
            }
            if (!known) {
                char msg[128];
                snprintf(msg, sizeof msg, "%s: `%s(` is not in train_vocab.def", families[k], name);
                doc_fail(&c, msg);
            }
            p = q;
        }
    }
}

void suite_train_config(void) {
    CU_pSuite s = CU_add_suite("train_config", NULL, NULL);
    CU_add_test(s, "defaults", test_defaults);
    CU_add_test(s, "names", test_names);
    CU_add_test(s, "every key", test_every_key);
    CU_add_test(s, "callables", test_callables);
    CU_add_test(s, "layering", test_layering);
    CU_add_test(s, "key errors", test_key_errors);
    CU_add_test(s, "lr_for", test_lr_for);
    CU_add_test(s, "new augments", test_new_augments);
    CU_add_test(s, "plateau mode and warmup", test_mode_warmup);
    CU_add_test(s, "scalar errors", test_scalar_errors);
    CU_add_test(s, "expression errors", test_expression_errors);
    CU_add_test(s, "call errors", test_call_errors);
    CU_add_test(s, "range errors", test_range_errors);
    CU_add_test(s, "list errors", test_list_errors);
    CU_add_test(s, "many errors", test_many_errors);
    CU_add_test(s, "model sections", test_model_sections);
    CU_add_test(s, "docs/language.md agrees with train_vocab.def", test_docs_vocab);
}
