/* examples/cortex-m/cm.h: what the firmware's main needs from the board (start.c here). */
#ifndef CM_H
#define CM_H
#include <stddef.h>

void cm_write(const char *s, size_t n);   /* text to the console (a UART on a board) */
size_t cm_stack_used(void);               /* the most stack main used (valid after main) */

#endif
