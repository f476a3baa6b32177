/* args.h: typed argument tables and the one binder that reads them, for the arguments of layers
 * (each op's OpInfo.args), of blocks, and of the train section's callables (losses, optimizers,
 * schedules, augmentations, inits: runtime/train_vocab.def). A table entry states an argument's
 * name, kind, default and allowed range once; the binder matches a call's arguments to the
 * entries (positional first, then by keyword), reports unknown ("did you mean"), repeated and
 * missing arguments, and args_check reports a value of the wrong kind or out of range with one
 * message: "WHAT: argument 'ARG' must be RANGE, got VALUE" at the value's file:line:col. */
#ifndef CNNC_ARGS_H
#define CNNC_ARGS_H
#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#include "ast.h"

/* A compile-time value of the language. */
typedef enum { V_NONE, V_INT, V_FLOAT, V_BOOL, V_LIST, V_WORD } ValKind;
typedef struct Val {
    ValKind kind;   /* V_NONE: an argument not given, or an expression that failed */
    long long i;    /* V_INT, V_BOOL */
    double f;       /* V_FLOAT */
    const char *word; /* V_WORD: a bare name such as `same`, or an init's canonical text */
    struct Val *items; /* V_LIST */
    int n;
    Span span;      /* where the value was written */
} Val;

typedef enum {
    AK_ANY,   /* not checked (block parameters) */
    AK_INT,   /* an integer in range (and in int) */
    AK_I64,   /* an integer in range (and in long long) */
    AK_NUM,   /* a finite number in range; an integer is accepted */
    AK_BOOL,  /* true or false */
    AK_PAIR,  /* an integer in range, or a list [h, w] of two */
    AK_NUMS,  /* a non-empty list of numbers, each in range */
    AK_INTS,  /* a non-empty, strictly increasing list of integers, each in range */
    AK_NUM_LIST, /* a number in range, or a non-empty list of them (normalize's per-channel mean) */
    AK_WORD,  /* one of the bare words of `words` */
    AK_INIT,  /* a call-like value: an init such as kaiming_normal(mode = fan_out) */
} ArgKind;

typedef struct ArgRange {
    double lo, hi;
    bool lo_open, hi_open;
} ArgRange;

typedef struct ArgSpec {
    const char *name;
    /* The default as the docs show it (a number, true/false, a word, or another argument's name
     * such as `stride = kernel`); NULL: required; in train tables "none": optional, not set. */
    const char *def;
    ArgKind kind;
    ArgRange range;      /* of a number, or of each item of a list or pair */
    const char *words;   /* bare words accepted besides the kind's values, '|'-separated ("none|tanh") */
    size_t offset;       /* train tables: the field the value fills */
} ArgSpec;

#define RANGE_ANY {-INFINITY, INFINITY, false, false}
#define RANGE(lo, hi) {lo, hi, false, false}
#define RANGE_GE(lo) {lo, INFINITY, false, false}
#define RANGE_GT(lo) {lo, INFINITY, true, false}
#define ARG_END {NULL, NULL, AK_ANY, RANGE_ANY, NULL, 0}

/* Binds args (a call's arguments) to spec's entries: slots[i] gets the Arg for entry i or NULL.
 * what: "conv", "block basic", "optimizer: sgd" (message prefix); callee: "conv", "sgd" (for
 * "sgd takes (lr, momentum=0, ...)"); at: the callee's name. Reports every problem; false if any. */
bool args_bind(const char *what, const char *callee, Span at, const ArgSpec *spec, const ArgList *args,
               const Arg **slots);
/* Whether v fits a (kind and range, or one of its words). report: on a misfit, one error at v
 * ("SUBJECT must be RANGE, got VALUE"; a list's items as "SUBJECT: item N ..."). V_NONE fails
 * silently (its error was reported where it arose). */
bool args_check(const ArgSpec *a, const Val *v, const char *subject, bool report);
/* The default of entry i as a value at span: V_NONE when required, "none" in a train table, or
 * another entry's name (the op's set_attrs applies that rule). */
Val args_default(const ArgSpec *spec, int i, Span span, bool none_is_unset);
/* Whether name is one of the '|'-separated words of list. */
bool args_word_listed(const char *list, const char *name);
/* "(out, kernel, stride=1, ...)", or "no arguments". */
const char *args_signature(const ArgSpec *spec);
/* "an integer >= 1", "a number >= 0 and < 1", "numbers between 0 and 1". */
const char *args_range_text(bool integer, bool plural, ArgRange r);
/* The shortest text reading back as the same double (0.001, 1e-08); a value as written. */
const char *args_num_text(double x);
const char *args_value_text(const Val *v);
int args_count(const ArgSpec *spec);

#endif
