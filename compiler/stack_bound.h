/* stack_bound.h: an upper bound of the stack the functions of a generated NAME.c use, for the
 * header's NAME_STACK_BYTES (docs/embedding.md explains the bound and its margins). */
#ifndef CNNC_STACK_BOUND_H
#define CNNC_STACK_BOUND_H

/* Bytes a function frame may use beyond its local arrays (saved registers, spilled vector
 * and scalar temporaries, the return address, alignment). */
#define STACK_FRAME_MARGIN 2048
/* Bytes allowed below the deepest generated function for the C library calls it makes
 * (memcpy, memset, expf, powf, ...). */
#define STACK_LIBC_MARGIN 1024

/* The worst-case stack use, in bytes, of any entry function of the generated C source text:
 * its frame plus the largest frame of the functions it calls (the generated entry points call
 * op functions, which call only the C library and the small math helpers), each frame being
 * the bytes of its local arrays (summed, as if no two shared a slot; vector types counted at
 * their widest, 64 bytes) plus STACK_FRAME_MARGIN, and STACK_LIBC_MARGIN below it all. */
long long stack_bound(const char *source);

#endif
