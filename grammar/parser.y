/* parser.y: the .cnn grammar (docs/language.md). Actions only build the syntax tree
 * (compiler/ast.c); all meaning is decided by the elaborator. Syntax errors name what was
 * expected ("expected \")\" or \",\", found newline"); recovery resynchronizes at the end of
 * a statement (newline, ";" or "}"), so one run reports several independent errors.
 *
 * Separators: statements in a body are separated by newlines or ";" (blank lines and leading
 * or trailing separators are fine); two statements on one line need a ";". The token
 * wrapper yylex() below folds newlines that come just before "else" or "shortcut", so
 * "} else {" and "} shortcut {" may also be split across lines. */

%require "3.8"
%define api.pure full
%define api.location.type {Span}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%param {void *scanner} {ParseState *ps}

%code requires {
#include "ast.h"
typedef struct ParseState ParseState;

/* A nonterminal spans from its first symbol to its last; an empty one sits at the end of
 * what precedes it. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                                        \
    do {                                                                                   \
        if (N) {                                                                           \
            (Cur) = YYRHSLOC(Rhs, 1);                                                      \
            (Cur).end_line = YYRHSLOC(Rhs, N).end_line;                                    \
            (Cur).end_col = YYRHSLOC(Rhs, N).end_col;                                      \
        } else {                                                                           \
            (Cur).file = YYRHSLOC(Rhs, 0).file;                                            \
            (Cur).line = (Cur).end_line = YYRHSLOC(Rhs, 0).end_line;                       \
            (Cur).col = (Cur).end_col = YYRHSLOC(Rhs, 0).end_col;                          \
        }                                                                                  \
    } while (0)
}

%code provides {
enum { PARSE_MAX_TRACKED = 256 };

/* Shared by the scanner (as its extra data) and the parser. */
struct ParseState {
    int file;                 /* diag source id */
    int line, col;            /* position of the next byte */
    int depth;                /* open "(" and "[": newlines inside them are not separators */
    int nbraces;              /* open "{" (the first PARSE_MAX_TRACKED positions are kept) */
    Span brace_at[PARSE_MAX_TRACKED];
    bool has_pending;         /* a token read ahead while folding newlines */
    int pending;
    YYSTYPE pending_val;
    Span pending_loc;
    AstFile *ast;
    bool stopped;             /* input cut short at diag's error limit */
};

/* The flex scanner; yylex() in parser.y wraps it. */
#define YY_DECL int lex_token(YYSTYPE *yylval_param, Span *yylloc_param, void *yyscanner)
YY_DECL;
}

%code {
#include <limits.h>
#include <string.h>

#include "arena.h"
#include "lexer.h"

/* Deep enough for any real model (a few hundred nested brackets or blocks), shallow enough
 * that later passes can recurse over the tree without exhausting the C stack. */
#define YYMAXDEPTH 2000

static int yylex(YYSTYPE *lval, Span *loc, void *scanner, ParseState *ps);
static void yyerror(Span *loc, void *scanner, ParseState *ps, const char *msg);
}

%initial-action {
    @$ = (Span){ps->file, 1, 1, 1, 1};
}

%union {
    long long ival;
    double fval;
    const char *str;
    Expr *expr;
    Stmt *stmt;
    Body body;
    Arg arg;
    ArgList args;
    Param param;
    ParamList params;
    Item *item;
    Setting setting;
}

/* Declaration order is the order in which "expected ..." lists them. */
%token END 0 "end of file"
%token NEWLINE "newline" SEMI ";" RPAREN ")" RBRACKET "]" RBRACE "}" COMMA "," COLON ":"
%token ASSIGN "=" LPAREN "(" LBRACKET "[" LBRACE "{" DOT "."
%token KW_MODEL "model" KW_BLOCK "block" KW_TRAIN "train" KW_IMPORT "import"
%token KW_INPUT "input" KW_REPEAT "repeat" KW_IF "if" KW_ELSE "else"
%token KW_RESIDUAL "residual" KW_SHORTCUT "shortcut" KW_ADD "add" KW_CONCAT "concat" KW_MUL "mul" KW_AVERAGE "average"
%token KW_BRANCH "branch" KW_AND "and" KW_OR "or" KW_NOT "not" KW_TRUE "true"
%token KW_FALSE "false" KW_IN "in"
%token <str> IDENT "name"
%token <ival> INT "integer"
%token <fval> FLOAT "number"
%token <str> STRING "string"
%token EQ "==" NE "!=" LE "<=" GE ">=" LT "<" GT ">"
%token PLUS "+" MINUS "-" STAR "*" SLASH "/" PERCENT "%"

%left KW_OR
%left KW_AND
%precedence KW_NOT
%left EQ NE LT LE GT GE
%left PLUS MINUS
%left STAR SLASH PERCENT
%precedence UMINUS

%type <item> item settings settings_tail settings_skipped settings_body
%type <params> params param_list
%type <param> param
%type <body> body stmts stmts_tail stmts_skipped
%type <stmt> stmt apply if_stmt branches branches_skipped branch_block
%type <args> call_args arg_list
%type <arg> arg
%type <expr> expr primary list list_items
%type <setting> setting
%type <str> name_path

%%

file
    : %empty
    | file item         { ast_file_add(ps->ast, $2); }
    | file sep
    | file skipped_line
    ;

sep : NEWLINE | SEMI ;

item
    : KW_IMPORT STRING
        { $$ = ast_item(ITEM_IMPORT, @$); $$->path = $2; $$->name_span = @2; }
    | KW_BLOCK IDENT params body
        { $$ = ast_item(ITEM_BLOCK, @$); $$->name = $2; $$->name_span = @2;
          $$->params = $3; $$->body = $4; }
    | KW_MODEL IDENT params body
        { $$ = ast_item(ITEM_MODEL, @$); $$->name = $2; $$->name_span = @2;
          $$->params = $3; $$->body = $4; }
    | KW_BLOCK error body
        { $$ = ast_item(ITEM_BLOCK, @$); $$->name = ""; $$->body = $3; }
    | KW_MODEL error body
        { $$ = ast_item(ITEM_MODEL, @$); $$->name = ""; $$->body = $3; }
    | KW_TRAIN settings_body
        { $$ = $2; $$->span = @$; }
    | KW_TRAIN IDENT settings_body
        { $$ = $3; $$->span = @$; $$->name = $2; $$->name_span = @2; }
    ;

params
    : %empty                            { $$ = (ParamList){0}; }
    | LPAREN RPAREN                     { $$ = (ParamList){0}; }
    | LPAREN param_list RPAREN          { $$ = $2; }
    | LPAREN param_list COMMA RPAREN    { $$ = $2; }
    ;

param_list
    : param                     { $$ = (ParamList){0}; ast_params_add(&$$, $1); }
    | param_list COMMA param    { $$ = $1; ast_params_add(&$$, $3); }
    ;

param
    : IDENT                     { $$ = (Param){.name = $1, .span = @$}; }
    | IDENT ASSIGN expr         { $$ = (Param){.name = $1, .def = $3, .span = @$}; }
    ;

/* Train settings: one `key = value` per line. */
settings_body
    : LBRACE settings RBRACE        { $$ = $2; }
    | LBRACE settings_tail RBRACE   { $$ = $2; }
    ;

settings
    : %empty                { $$ = ast_item(ITEM_TRAIN, @$); }
    | settings sep          { $$ = $1; }
    | settings_tail sep     { $$ = $1; }
    ;

settings_tail
    : settings setting      { $$ = $1; ast_setting_add($$, $2); }
    | settings_skipped      { $$ = $1; }
    ;

settings_skipped
    : settings error                            { $$ = $1; }
    | settings_tail error                       { $$ = $1; }
    | settings_skipped skipped_token            { $$ = $1; }
    | settings_skipped LBRACE skipped RBRACE    { $$ = $1; }
    ;

setting
    : IDENT ASSIGN expr
        { $$ = (Setting){.key = $1, .key_span = @1, .value = $3, .span = @$}; }
    ;

/* A body: statements separated by newlines or ";". `stmts` ends where a statement may
 * start, `stmts_tail` just after one. On a syntax error the statement is dropped and the
 * rest of it, up to the next separator or "}", is skipped, "{ ... }" groups whole. */
body
    : LBRACE stmts RBRACE       { $$ = $2; }
    | LBRACE stmts_tail RBRACE  { $$ = $2; }
    ;

stmts
    : %empty                { $$ = (Body){0}; }
    | stmts sep             { $$ = $1; }
    | stmts_tail sep        { $$ = $1; }
    ;

stmts_tail
    : stmts stmt            { $$ = $1; ast_body_add(&$$, $2); }
    | stmts_skipped         { $$ = $1; }
    ;

stmts_skipped
    : stmts error                               { $$ = $1; }
    | stmts_tail error                          { $$ = $1; }
    | stmts_skipped skipped_token               { $$ = $1; }
    | stmts_skipped LBRACE skipped RBRACE       { $$ = $1; }
    ;

stmt
    : KW_INPUT list
        { $$ = ast_stmt(ST_INPUT, @$); $$->dims = $2; }
    | apply
    | IDENT COLON apply
        { $$ = $3; $$->span = @$; $$->label = $1; $$->label_span = @1; }
    | KW_REPEAT expr body
        { $$ = ast_stmt(ST_REPEAT, @$); $$->count = $2; $$->body = $3; }
    | if_stmt
    | KW_RESIDUAL body
        { $$ = ast_stmt(ST_RESIDUAL, @$); $$->body = $2; }
    | KW_RESIDUAL body KW_SHORTCUT body
        { $$ = ast_stmt(ST_RESIDUAL, @$); $$->body = $2; $$->shortcut = ast_body_dup($4); }
    | KW_ADD branch_block
        { $$ = $2; $$->kind = ST_ADD; $$->span = @$; }
    | KW_CONCAT branch_block
        { $$ = $2; $$->kind = ST_CONCAT; $$->span = @$; }
    | KW_MUL branch_block
        { $$ = $2; $$->kind = ST_MUL; $$->span = @$; }
    | KW_AVERAGE branch_block
        { $$ = $2; $$->kind = ST_AVERAGE; $$->span = @$; }
    ;

apply
    : IDENT
        { $$ = ast_stmt(ST_APPLY, @$); $$->name = $1; $$->name_span = @1; }
    | IDENT call_args
        { $$ = ast_stmt(ST_APPLY, @$); $$->name = $1; $$->name_span = @1; $$->args = $2;
          $$->has_parens = true; }
    ;

if_stmt
    : KW_IF expr body
        { $$ = ast_stmt(ST_IF, @$); $$->cond = $2; $$->body = $3; }
    | KW_IF expr body KW_ELSE body
        { $$ = ast_stmt(ST_IF, @$); $$->cond = $2; $$->body = $3;
          $$->else_body = ast_body_dup($5); }
    | KW_IF expr body KW_ELSE if_stmt
        { $$ = ast_stmt(ST_IF, @$); $$->cond = $2; $$->body = $3;
          Body chain = {0};
          ast_body_add(&chain, $5);
          $$->else_body = ast_body_dup(chain); }
    ;

/* add { branch { } branch { } }: the branches collect into a statement whose kind the
 * enclosing rule sets. */
branch_block
    : LBRACE branches RBRACE        { $$ = $2; }
    ;

branches
    : %empty                    { $$ = ast_stmt(ST_ADD, @$); }
    | branches sep              { $$ = $1; }
    | branches KW_BRANCH body   { $$ = $1; ast_branch_add($$, $3, span_join(@2, @3)); }
    | branches_skipped          { $$ = $1; }
    ;

branches_skipped
    : branches error                            { $$ = $1; }
    | branches_skipped base_token               { $$ = $1; }
    | branches_skipped item_keyword             { $$ = $1; }
    | branches_skipped LBRACE skipped RBRACE    { $$ = $1; }
    ;

/* What error recovery skips: the rest of a statement or line, with "{ ... }" groups taken
 * whole so that a "}" inside a broken statement does not close the enclosing body. */
skipped_line
    : error
    | skipped_line line_token
    | skipped_line LBRACE skipped RBRACE
    ;

skipped
    : %empty
    | skipped skipped_token
    | skipped sep
    | skipped LBRACE skipped RBRACE
    ;

/* At the top level, skipping also stops at the keyword that starts an item; between
 * branches, at "branch". */
skipped_token : line_token | item_keyword ;
line_token : base_token | KW_BRANCH ;
item_keyword : KW_MODEL | KW_BLOCK | KW_TRAIN | KW_IMPORT ;

base_token
    : RPAREN | RBRACKET | COMMA | COLON | ASSIGN | LPAREN | LBRACKET | DOT
    | KW_INPUT | KW_REPEAT | KW_IF | KW_ELSE
    | KW_RESIDUAL | KW_SHORTCUT | KW_ADD | KW_CONCAT | KW_MUL | KW_AVERAGE | KW_AND | KW_OR | KW_NOT
    | KW_TRUE | KW_FALSE | KW_IN | IDENT | INT | FLOAT | STRING
    | EQ | NE | LE | GE | LT | GT | PLUS | MINUS | STAR | SLASH | PERCENT
    ;

call_args
    : LPAREN RPAREN                     { $$ = (ArgList){0}; }
    | LPAREN arg_list RPAREN            { $$ = $2; }
    | LPAREN arg_list COMMA RPAREN      { $$ = $2; }
    ;

arg_list
    : arg                       { $$ = (ArgList){0}; ast_args_add(&$$, $1); }
    | arg_list COMMA arg        { $$ = $1; ast_args_add(&$$, $3); }
    ;

arg
    : expr                  { $$ = (Arg){.value = $1, .span = @$, .name_span = @$}; }
    | IDENT ASSIGN expr     { $$ = (Arg){.name = $1, .value = $3, .span = @$, .name_span = @1}; }
    ;

expr
    : expr KW_OR expr       { $$ = ast_binary('|', $1, $3, @$); }
    | expr KW_AND expr      { $$ = ast_binary('&', $1, $3, @$); }
    | KW_NOT expr           { $$ = ast_unary('n', $2, @$); }
    | expr EQ expr          { $$ = ast_binary('e', $1, $3, @$); }
    | expr NE expr          { $$ = ast_binary('n', $1, $3, @$); }
    | expr LT expr          { $$ = ast_binary('<', $1, $3, @$); }
    | expr LE expr          { $$ = ast_binary('l', $1, $3, @$); }
    | expr GT expr          { $$ = ast_binary('>', $1, $3, @$); }
    | expr GE expr          { $$ = ast_binary('g', $1, $3, @$); }
    | expr PLUS expr        { $$ = ast_binary('+', $1, $3, @$); }
    | expr MINUS expr       { $$ = ast_binary('-', $1, $3, @$); }
    | expr STAR expr        { $$ = ast_binary('*', $1, $3, @$); }
    | expr SLASH expr       { $$ = ast_binary('/', $1, $3, @$); }
    | expr PERCENT expr     { $$ = ast_binary('%', $1, $3, @$); }
    | MINUS expr %prec UMINUS { $$ = ast_unary('-', $2, @$); }
    | primary
    ;

primary
    : INT                   { $$ = ast_expr(EX_INT, @$); $$->ival = $1; }
    | FLOAT                 { $$ = ast_expr(EX_FLOAT, @$); $$->fval = $1; }
    | KW_TRUE               { $$ = ast_expr(EX_BOOL, @$); $$->ival = 1; }
    | KW_FALSE              { $$ = ast_expr(EX_BOOL, @$); $$->ival = 0; }
    | name_path             { $$ = ast_expr(EX_NAME, @$); $$->name = $1; }
    | STRING                { $$ = ast_expr(EX_STRING, @$); $$->str = $1; }
    | IDENT call_args       { $$ = ast_expr(EX_CALL, @$); $$->name = $1; $$->args = $2; }
    | KW_IN DOT IDENT       { $$ = ast_expr(EX_FIELD, @$); $$->name = $3; }
    | list
    | LPAREN expr RPAREN    { $$ = $2; }
    ;

/* A name, or a dotted parameter-name prefix such as stage1.basic0 (for `freeze`). */
name_path
    : IDENT                     { $$ = $1; }
    | name_path DOT IDENT       { $$ = arena_printf("%s.%s", $1, $3); }
    ;

list
    : LBRACKET RBRACKET                     { $$ = ast_expr(EX_LIST, @$); }
    | LBRACKET list_items RBRACKET          { $$ = $2; $$->span = @$; }
    | LBRACKET list_items COMMA RBRACKET    { $$ = $2; $$->span = @$; }
    ;

list_items
    : expr                      { $$ = ast_expr(EX_LIST, @$); ast_list_add($$, $1); }
    | list_items COMMA expr     { $$ = $1; ast_list_add($$, $3); }
    ;

%%

/* Reads the next token; a run of newlines becomes one, and disappears when the next token is
 * "else" or "shortcut" (so they may start the line after a "}"). Past diag's error limit the
 * input ends, so a garbage file stops quickly. */
static int yylex(YYSTYPE *lval, Span *loc, void *scanner, ParseState *ps) {
    int tok;
    if (ps->has_pending) {
        ps->has_pending = false;
        *lval = ps->pending_val;
        *loc = ps->pending_loc;
        tok = ps->pending;
    } else {
        tok = lex_token(lval, loc, scanner);
    }
    if (diag_error_count() > DIAG_MAX_ERRORS) {
        ps->stopped = true;
        return END;
    }
    if (tok != NEWLINE)
        return tok;
    Span newline = *loc;
    int next;
    do
        next = lex_token(&ps->pending_val, &ps->pending_loc, scanner);
    while (next == NEWLINE);
    if (next == KW_ELSE || next == KW_SHORTCUT) {
        *lval = ps->pending_val;
        *loc = ps->pending_loc;
        return next;
    }
    ps->has_pending = true;
    ps->pending = next;
    *loc = newline;
    return NEWLINE;
}

/* With parse.error custom, bison calls this only when its stack is full. */
static void yyerror(Span *loc, void *scanner, ParseState *ps, const char *msg) {
    if (strcmp(msg, "memory exhausted") == 0)
        diag_error(*loc, "nesting too deep (brackets, blocks or operators nested more than "
                         "about %d levels)", YYMAXDEPTH / 4);
    else
        diag_error(*loc, "%s", msg);
}

/* How a token looks in "expected ..." lists. */
static const char *symbol_desc(yysymbol_kind_t k) {
    switch (k) {
    case YYSYMBOL_YYEOF: return "end of file";
    case YYSYMBOL_NEWLINE: return "newline";
    case YYSYMBOL_IDENT: return "a name";
    case YYSYMBOL_INT:
    case YYSYMBOL_FLOAT: return "a number";
    case YYSYMBOL_STRING: return "a string";
    default: return arena_printf("\"%s\"", yysymbol_name(k));
    }
}

static bool is_keyword(yysymbol_kind_t k) { return k >= YYSYMBOL_KW_MODEL && k <= YYSYMBOL_KW_IN; }

/* The found token as written: "covn", "}", newline, end of file. */
static const char *found_desc(yysymbol_kind_t k, Span at) {
    if (k == YYSYMBOL_YYEOF || k == YYSYMBOL_NEWLINE)
        return symbol_desc(k);
    long len;
    const char *line = diag_source_line(at.file, at.line, &len);
    int n = at.end_col - at.col;
    if (!line || at.end_line != at.line || n <= 0 || n > 40 || at.end_col - 1 > len)
        return symbol_desc(k);
    const char *text = line + at.col - 1;
    for (int i = 0; i < n; i++)
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
            return symbol_desc(k);
    if (k == YYSYMBOL_STRING)
        return arena_printf("string %.*s", n, text);
    return arena_printf("\"%.*s\"", n, text);
}

static bool has(const bool *expected, yysymbol_kind_t k) { return expected[k]; }

static bool has_all(const bool *expected, const yysymbol_kind_t *set, int n) {
    for (int i = 0; i < n; i++)
        if (!expected[set[i]])
            return false;
    return true;
}

static void clear(bool *expected, const yysymbol_kind_t *set, int n) {
    for (int i = 0; i < n; i++)
        expected[set[i]] = false;
}

/* "expected A, B or C, found X": the token kinds the parser could take, grouped where a
 * group reads better ("an expression", "a statement") and without the operators that could
 * continue an expression, which are never what the user forgot. */
static int yyreport_syntax_error(const yypcontext_t *ctx, void *scanner, ParseState *ps) {
    static const yysymbol_kind_t expr_start[] = {
        YYSYMBOL_INT, YYSYMBOL_FLOAT, YYSYMBOL_IDENT, YYSYMBOL_KW_TRUE, YYSYMBOL_KW_FALSE,
        YYSYMBOL_KW_IN, YYSYMBOL_LPAREN, YYSYMBOL_LBRACKET, YYSYMBOL_MINUS, YYSYMBOL_KW_NOT,
        YYSYMBOL_STRING};
    static const yysymbol_kind_t stmt_start[] = {
        YYSYMBOL_IDENT, YYSYMBOL_KW_INPUT, YYSYMBOL_KW_REPEAT, YYSYMBOL_KW_IF,
        YYSYMBOL_KW_RESIDUAL, YYSYMBOL_KW_ADD, YYSYMBOL_KW_CONCAT, YYSYMBOL_KW_MUL, YYSYMBOL_KW_AVERAGE};
    static const yysymbol_kind_t item_start[] = {
        YYSYMBOL_KW_MODEL, YYSYMBOL_KW_BLOCK, YYSYMBOL_KW_TRAIN, YYSYMBOL_KW_IMPORT};
    static const yysymbol_kind_t separators[] = {YYSYMBOL_NEWLINE, YYSYMBOL_SEMI, YYSYMBOL_YYEOF};
    static const yysymbol_kind_t operators[] = {
        YYSYMBOL_KW_AND, YYSYMBOL_KW_OR, YYSYMBOL_EQ, YYSYMBOL_NE, YYSYMBOL_LE, YYSYMBOL_GE,
        YYSYMBOL_LT, YYSYMBOL_GT, YYSYMBOL_PLUS, YYSYMBOL_MINUS, YYSYMBOL_STAR,
        YYSYMBOL_SLASH, YYSYMBOL_PERCENT};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

    /* Recovery resumes at the next newline, so a missing ")" must not hide the rest of the
     * file: newlines count again from here. */
    ps->depth = 0;
    if (diag_error_count() >= DIAG_MAX_ERRORS + 1)
        return 0;
    yysymbol_kind_t found = yypcontext_token(ctx);
    Span at = *yypcontext_location(ctx);
    yysymbol_kind_t list[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, list, YYNTOKENS);
    if (n < 0)
        return n;
    bool expected[YYNTOKENS] = {false};
    for (int i = 0; i < n; i++)
        expected[list[i]] = true;
    bool ident_expected = has(expected, YYSYMBOL_IDENT);
    bool expected_all[YYNTOKENS];
    memcpy(expected_all, expected, sizeof expected);

    const char *items[YYNTOKENS + 3];
    int nitems = 0;
    if (has_all(expected, item_start, COUNT(item_start)))
        clear(expected, separators, COUNT(separators));
    if (has_all(expected, stmt_start, COUNT(stmt_start))) {
        clear(expected, stmt_start, COUNT(stmt_start));
        items[nitems++] = "a statement";
    } else if (has_all(expected, expr_start, COUNT(expr_start))) {
        clear(expected, expr_start, COUNT(expr_start));
        items[nitems++] = "an expression";
    }
    if (nitems > 0 || has(expected, YYSYMBOL_IDENT) || has(expected, YYSYMBOL_KW_BRANCH)) {
        /* something could start here: that is more telling than "newline" */
        clear(expected, separators, COUNT(separators));
    } else if (has(expected, YYSYMBOL_NEWLINE)) {  /* the statement could end here: say so */
        expected[YYSYMBOL_COLON] = false;
        expected[YYSYMBOL_LPAREN] = false;
    }
    bool others = nitems > 0;
    for (int k = 0; k < YYNTOKENS; k++) {
        bool op = false;
        for (int i = 0; i < COUNT(operators); i++)
            op |= operators[i] == (yysymbol_kind_t)k;
        others |= expected[k] && !op;
    }
    if (others)
        clear(expected, operators, COUNT(operators));
    if (has(expected, YYSYMBOL_INT) && has(expected, YYSYMBOL_FLOAT))
        expected[YYSYMBOL_FLOAT] = false;
    for (int k = 0; k < YYNTOKENS; k++)
        if (expected[k])
            items[nitems++] = symbol_desc((yysymbol_kind_t)k);

    const char *what = found_desc(found, at);
    if (nitems == 0 || nitems > 5) {
        diag_error(at, "unexpected %s", what);
    } else {
        char *msg = arena_printf("expected %s", items[0]);
        for (int i = 1; i < nitems; i++)
            msg = arena_printf("%s%s%s", msg, i == nitems - 1 ? " or " : ", ", items[i]);
        diag_error(at, "%s, found %s", msg, what);
    }
    bool statement_expected = has_all(expected_all, stmt_start, COUNT(stmt_start));
    if (is_keyword(found) && ident_expected && !statement_expected)
        diag_note(span_none(), "%s is a reserved word and cannot be used as a name", what);
    if (found == YYSYMBOL_YYEOF && ps->nbraces > 0 && ps->nbraces <= PARSE_MAX_TRACKED)
        diag_note(ps->brace_at[ps->nbraces - 1], "to match this \"{\"");
    return 0;
#undef COUNT
}

AstFile *parse_source(int file_id) {
    int errors_before = diag_error_count();
    ParseState *ps = arena_alloc(sizeof(ParseState));
    ps->file = file_id;
    ps->line = 1;
    ps->col = 1;
    ps->ast = arena_alloc(sizeof(AstFile));
    ps->ast->path = diag_path(file_id);
    ps->ast->file_id = file_id;

    const char *text = diag_text(file_id);
    long len = diag_text_len(file_id);
    if (!text || len < 0) {
        text = "";
        len = 0;
    }
    if (len > INT_MAX / 2) {
        diag_error(span_none(), "'%s' is too large to parse", diag_path(file_id));
        return NULL;
    }
    yyscan_t scanner;
    if (yylex_init_extra(ps, &scanner) != 0) {
        diag_error(span_none(), "out of memory");
        return NULL;
    }
    YY_BUFFER_STATE buffer = yy_scan_bytes(text, (int)len, scanner);
    yyparse(scanner, ps);
    yy_delete_buffer(buffer, scanner);
    yylex_destroy(scanner);
    return diag_error_count() > errors_before || ps->stopped ? NULL : ps->ast;
}
