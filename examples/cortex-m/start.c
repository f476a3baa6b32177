/* examples/cortex-m/start.c: the smallest startup that lets the firmware image run as a
 * static program under qemu-arm (QEMU's Linux user mode), so that it can be tested without a
 * board: _start calls main and ends with the exit system call, and cm_write sends text to
 * standard output with the write system call. On a real Cortex-M4F, replace this file by the
 * vendor's startup (vector table, clock, .data/.bss initialization) and cm_write by a UART.
 *
 * It also measures the stack: before main runs, STACK_PAINT bytes below the stack pointer
 * are filled with a pattern; afterwards the deepest overwritten word gives the most stack
 * main used, which start.c prints after main returns ("stack: N bytes") and cm_stack_used()
 * returns. */
#include <stddef.h>
#include <stdint.h>

#include "cm.h"

enum { STACK_PAINT = 64 * 1024, STACK_GAP = 512 };
#define PATTERN 0x5AC3A55Au

int main(void);

static uintptr_t stack_top;   /* sp when main was called (approximately) */
static size_t stack_used;

size_t cm_stack_used(void) { return stack_used; }

static long sys3(long nr, long a, long b, long c) {
    register long r0 __asm__("r0") = a;
    register long r1 __asm__("r1") = b;
    register long r2 __asm__("r2") = c;
    register long r7 __asm__("r7") = nr;
    __asm__ volatile("svc 0" : "+r"(r0) : "r"(r1), "r"(r2), "r"(r7) : "memory");
    return r0;
}

void cm_write(const char *s, size_t n) { (void)sys3(4 /* write */, 1, (long)s, (long)n); }

static void __attribute__((noinline)) paint(uintptr_t top) {
    for (volatile uint32_t *p = (volatile uint32_t *)(top - STACK_PAINT); p < (volatile uint32_t *)(top - STACK_GAP); p++)
        *p = PATTERN;
}

static void __attribute__((noinline)) measure(uintptr_t top) {
    const volatile uint32_t *p = (const volatile uint32_t *)(top - STACK_PAINT);
    while (p < (const volatile uint32_t *)(top - STACK_GAP) && *p == PATTERN)
        p++;
    stack_used = top - (uintptr_t)p;
}

void __attribute__((noreturn, used)) cm_start_c(uintptr_t sp) {
    stack_top = sp;
    paint(stack_top);
    int rc = main();
    measure(stack_top);
    /* "stack: N bytes", for the size report. */
    char line[40] = "stack: ", digits[16];
    int n = 0, k = 7;
    size_t v = stack_used;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        line[k++] = digits[--n];
    for (const char *t = " bytes\n"; *t; t++)
        line[k++] = *t;
    cm_write(line, (size_t)k);
    (void)sys3(1 /* exit */, rc, 0, 0);
    for (;;) {
    }
}

/* The entry point: hands the initial stack pointer to cm_start_c. */
__attribute__((naked, noreturn)) void _start(void) {
    __asm__ volatile("mov r0, sp\n"
                     "bl cm_start_c\n");
}
