/* ast.c: constructors and list helpers for the syntax tree, called from the grammar's actions
 * (grammar/parser.y). Everything lives in the arena. The only checks here are the few that are
 * purely syntactic: expression depth, positional-after-keyword arguments, repeated parameters. */
#include "ast.h"

#include <string.h>

#include "arena.h"

/* Arrays grow by doubling; their capacity is implied by their length (4, 8, 16, ...), so the
 * AST types need no capacity fields. Returns the array with room for one more element. */
static void *grow(void *items, int n, size_t elem) {
    if (n == 0)
        return arena_alloc(4 * elem);
    if (n >= 4 && (n & (n - 1)) == 0)
        return arena_realloc(items, (size_t)n * elem, 2 * (size_t)n * elem);
    return items;
}

Expr *ast_expr(ExprKind kind, Span span) {
    Expr *e = arena_alloc(sizeof(Expr));
    e->kind = kind;
    e->span = span;
    e->depth = 1;
    return e;
}

Stmt *ast_stmt(StmtKind kind, Span span) {
    Stmt *s = arena_alloc(sizeof(Stmt));
    s->kind = kind;
    s->span = span;
    return s;
}

Item *ast_item(ItemKind kind, Span span) {
    Item *it = arena_alloc(sizeof(Item));
    it->kind = kind;
    it->span = span;
    return it;
}

/* Reported once per tree: only the node that first crosses the limit complains. */
static void check_depth(Expr *e) {
    if (e->depth == AST_MAX_EXPR_DEPTH + 1)
        diag_error(e->span, "expression nested too deeply (more than %d levels)",
                   AST_MAX_EXPR_DEPTH);
}

Expr *ast_unary(int op, Expr *operand, Span span) {
    Expr *e = ast_expr(EX_UNARY, span);
    e->op = op;
    e->lhs = operand;
    e->depth = operand->depth + 1;
    check_depth(e);
    return e;
}

Expr *ast_binary(int op, Expr *lhs, Expr *rhs, Span span) {
    Expr *e = ast_expr(EX_BINARY, span);
    e->op = op;
    e->lhs = lhs;
    e->rhs = rhs;
    e->depth = (lhs->depth > rhs->depth ? lhs->depth : rhs->depth) + 1;
    check_depth(e);
    return e;
}

void ast_list_add(Expr *list, Expr *item) {
    list->items = grow(list->items, list->nitems, sizeof(Expr *));
    list->items[list->nitems++] = item;
    if (item->depth + 1 > list->depth) {
        list->depth = item->depth + 1;
        check_depth(list);
    }
}

void ast_args_add(ArgList *args, Arg arg) {
    if (!arg.name && args->n > 0 && args->items[args->n - 1].name) {
        diag_error(arg.span, "positional argument after keyword argument '%s'",
                   args->items[args->n - 1].name);
    }
    args->items = grow(args->items, args->n, sizeof(Arg));
    args->items[args->n++] = arg;
}

void ast_params_add(ParamList *params, Param param) {
    for (int i = 0; i < params->n; i++) {
        if (strcmp(params->items[i].name, param.name) == 0) {
            diag_error(param.span, "parameter '%s' is declared twice", param.name);
            diag_note(params->items[i].span, "first declared here");
            break;
        }
    }
    params->items = grow(params->items, params->n, sizeof(Param));
    params->items[params->n++] = param;
}

void ast_body_add(Body *body, Stmt *stmt) {
    body->items = grow(body->items, body->n, sizeof(Stmt *));
    body->items[body->n++] = stmt;
}

Body *ast_body_dup(Body body) {
    Body *b = arena_alloc(sizeof(Body));
    *b = body;
    return b;
}

void ast_branch_add(Stmt *stmt, Body body, Span span) {
    stmt->branches = grow(stmt->branches, stmt->nbranches, sizeof(Body));
    stmt->branch_spans = grow(stmt->branch_spans, stmt->nbranches, sizeof(Span));
    stmt->branches[stmt->nbranches] = body;
    stmt->branch_spans[stmt->nbranches] = span;
    stmt->nbranches++;
}

void ast_setting_add(Item *train, Setting setting) {
    train->settings = grow(train->settings, train->nsettings, sizeof(Setting));
    train->settings[train->nsettings++] = setting;
}

void ast_file_add(AstFile *file, Item *item) {
    item->file = file;
    file->items = grow(file->items, file->nitems, sizeof(Item *));
    file->items[file->nitems++] = item;
}
