/* value.h: the operators of the language's compile-time expressions, shared by the two
 * evaluators (elaborate.c for models and blocks, train_config.c for train sections), which
 * differ only in what names and fields mean. */
#ifndef CNNC_VALUE_H
#define CNNC_VALUE_H
#include "ast.h"
#include "ops.h"

Val value_none(Span s);
bool value_is_num(const Val *v);
double value_num(const Val *v);
/* e is the EX_BINARY or EX_UNARY expression whose operands evaluated to a (and b). Applies
 * C's rules (integer / truncates toward zero), reports a type error, a division by zero, an
 * integer overflow or a non-finite result at e, and returns V_NONE after an error or when an
 * operand is V_NONE (its error was already reported). */
Val value_binary(const Expr *e, Val a, Val b);
Val value_unary(const Expr *e, Val a);

#endif
