/* ast.h: the syntax tree the parser builds. It holds only what was written, with spans;
 * no meaning is decided here (that is elaborate.c's job). All nodes live in the arena. */
#ifndef CNNC_AST_H
#define CNNC_AST_H
#include <stdbool.h>

#include "diag.h"

typedef struct Expr Expr;
typedef struct Stmt Stmt;

typedef enum {
    EX_INT,     /* ival */
    EX_FLOAT,   /* fval */
    EX_BOOL,    /* ival 0/1 */
    EX_STRING,  /* str: "..." (the parser accepts it in any expression; meaning is checked later) */
    EX_NAME,    /* name: a parameter, or a bare word such as `same` or `cross_entropy`, or a
                   dotted parameter-name prefix such as `stage1.basic0` (for `freeze`) */
    EX_FIELD,   /* `in.c`: name = "c" (the object is always `in`) */
    EX_LIST,    /* [a, b, ...]: items */
    EX_UNARY,   /* op ('-' or 'n' for not), lhs */
    EX_BINARY,  /* op: + - * / % < > and 'l' (<=) 'g' (>=) 'e' (==) 'n' (!=) '&' (and) '|' (or) */
    EX_CALL,    /* name(args): only in train settings, e.g. adam(lr = 1e-3) */
} ExprKind;

typedef struct Arg {
    const char *name; /* NULL for a positional argument */
    Expr *value;
    Span span;        /* the whole argument, name included */
    Span name_span;
} Arg;

typedef struct ArgList {
    Arg *items;
    int n;
} ArgList;

struct Expr {
    ExprKind kind;
    Span span;
    long long ival;   /* EX_INT: value saturates are reported by the lexer as errors */
    double fval;
    const char *str;  /* EX_STRING */
    const char *name; /* EX_NAME, EX_FIELD, EX_CALL */
    int op;           /* EX_UNARY, EX_BINARY */
    Expr *lhs, *rhs;
    Expr **items;     /* EX_LIST */
    int nitems;
    ArgList args;     /* EX_CALL */
    int depth;        /* height of this expression tree (1 for a leaf); bounded by the parser */
};

typedef struct Body {
    Stmt **items;
    int n;
} Body;

typedef enum {
    ST_INPUT,    /* dims: list expression [C, H, W] (or [F]) */
    ST_APPLY,    /* label (may be NULL), name, args, has_parens */
    ST_REPEAT,   /* count, body */
    ST_IF,       /* cond, body (then), else_body (NULL when no else; else-if is an ST_IF
                    alone in else_body) */
    ST_RESIDUAL, /* body, shortcut (NULL when no shortcut clause: identity) */
    ST_ADD,      /* branches */
    ST_CONCAT,   /* branches */
    ST_MUL,      /* branches */
    ST_AVERAGE,  /* branches */
} StmtKind;

struct Stmt {
    StmtKind kind;
    Span span;        /* the whole statement */
    Expr *dims;       /* ST_INPUT */
    const char *label;
    Span label_span;
    const char *name; /* ST_APPLY */
    Span name_span;
    ArgList args;
    bool has_parens;
    Expr *count;      /* ST_REPEAT */
    Expr *cond;       /* ST_IF */
    Body body;
    Body *else_body;
    Body *shortcut;   /* ST_RESIDUAL */
    Body *branches;   /* ST_ADD, ST_CONCAT, ST_MUL, ST_AVERAGE: nbranches bodies */
    Span *branch_spans;
    int nbranches;
};

typedef struct Param {
    const char *name;
    Expr *def;        /* NULL: required */
    Span span;
} Param;

typedef struct ParamList {
    Param *items;
    int n;
} ParamList;

typedef struct Setting {
    const char *key;
    Span key_span;
    Expr *value;
    Span span;
} Setting;

typedef enum { ITEM_IMPORT, ITEM_BLOCK, ITEM_MODEL, ITEM_TRAIN } ItemKind;

typedef struct Item {
    ItemKind kind;
    Span span;
    const char *name;      /* block/model name; train: model name or NULL */
    Span name_span;        /* import: the span of the path string */
    const char *path;      /* import: the string as written */
    ParamList params;      /* block, model */
    Body body;             /* block, model */
    Setting *settings;     /* train */
    int nsettings;
    struct AstFile *file;  /* the file that holds this item */
} Item;

typedef struct AstFile {
    const char *path;      /* as opened */
    int file_id;           /* diag source id */
    Item **items;
    int nitems;
} AstFile;

/* Parses one file's text (registered with diag). Returns NULL after reporting syntax errors
 * (several when the parser can recover). Defined in grammar/parser.y. */
AstFile *parse_source(int file_id);

/* A whole program: the root file and every file it imports (each read once), with every
 * block and model visible from the root. Import paths are relative to the importing file;
 * a cycle is an error at the import that closes it. Returns NULL after reporting errors
 * (unreadable file, syntax errors, cycle, duplicate block or model name). Defined in load.c. */
typedef struct Program {
    AstFile **files;
    int nfiles;
    Item **blocks;   /* every block from every file */
    int nblocks;
    Item **models;   /* models of the root file only */
    int nmodels;
    Item **trains;   /* train items of the root file */
    int ntrains;
} Program;

Program *load_program(const char *root_path);

/* Constructors used by the parser's actions. */
Expr *ast_expr(ExprKind kind, Span span);
Stmt *ast_stmt(StmtKind kind, Span span);
Item *ast_item(ItemKind kind, Span span);

/* Helpers for the parser's actions: arrays grow in the arena. */
enum { AST_MAX_EXPR_DEPTH = 256 };  /* deeper expressions are an error, so later passes can
                                       recurse on them safely */
Expr *ast_unary(int op, Expr *operand, Span span);
Expr *ast_binary(int op, Expr *lhs, Expr *rhs, Span span);
void ast_list_add(Expr *list, Expr *item);           /* EX_LIST items */
void ast_args_add(ArgList *args, Arg arg);           /* reports a positional after a keyword */
void ast_params_add(ParamList *params, Param param); /* reports a repeated parameter name */
void ast_body_add(Body *body, Stmt *stmt);
Body *ast_body_dup(Body body);                       /* an arena copy, for else/shortcut */
void ast_branch_add(Stmt *stmt, Body body, Span span);
void ast_setting_add(Item *train, Setting setting);
void ast_file_add(AstFile *file, Item *item);

#endif
