#!/usr/bin/env python3
"""bench/op_time.py: one generated op function timed alone, for kernel A/B runs.

    python3 bench/op_time.py BUILD MODEL FUNCTION [PART] [--batch B] [--repeat R] [--flush MB]
                             [--cc CC] [--keep DIR]

Emits MODEL's training C (BUILD/cnnc --emit=c --train --batch B; MODEL a name under models/ or
a path to a .cnn file), takes the static function FUNCTION of it (the names bench/profile.sh
prints: op3_layer2_conv2, op63_layer2_conv2_backward, op_conv0_param_grads, ...), keeps of a
backward function only PART's block (dx, dw or dx_pair: the blocks the generated C marks
`/* profile: PART FLOPS */`; the other parts' blocks are left out; default: all), and builds a
program that calls it REPEAT times (default 50) on buffers of random floats, one per pointer
parameter (`int n` the batch B; packed weights `pk` NULL: packed at each call, as in training),
with -O3 -march=native as bench/profile.sh builds. It prints the median and the fastest call
in ms, the GFLOP/s of the median from the part's FLOPS when the function has one part, and a
checksum of the written buffers (equal between two versions of a kernel that compute the same
sums in the same order).
--before F1,F2: functions of the same C called (untimed) before each call, in order, a pointer
parameter named as one of FUNCTION's sharing its buffer: the caches as the step leaves them for
FUNCTION (e.g. --before op61_layer2_conv0_backward for op63_layer2_conv2_backward of
bench/resnet18_shortcuts.cnn: the weight gradient that reads the same input x just before).
--flush MB: before each call, read and write MB megabytes of another buffer (the op's inputs
then come from memory, as after other layers in a step; default 0: they stay in the caches as
far as they fit).
Alternate two builds' runs a few times on a shared machine: a minute of load moves a call by a
tenth. Used for bench/README.md's op-level figures (2026-12-02 15:00 UTC on).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

HARNESS = r'''
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "%(src)s"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec * 1e-6; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
static float *buf(size_t n, unsigned seed) {
    float *p = malloc(n * sizeof *p);
    if (!p) { fprintf(stderr, "op_time: out of memory\n"); exit(1); }
    for (size_t i = 0; i < n; i++) { seed = seed * 1103515245u + 12345u; p[i] = (float)(seed >> 8) / 16777216.0f - 0.5f; }
    return p;
}
int main(void) {
    enum { R = %(repeat)d };
    const size_t flush = (size_t)%(flush)d << 18;
%(decls)s
    float *junk = flush ? buf(flush, 99u) : NULL;
    static double t[R];
    for (int r = 0; r < R; r++) {
        if (junk) for (size_t i = 0; i < flush; i += 16) junk[i] += 1.0f;
%(before)s
        const double t0 = now();
        %(call)s;
        t[r] = now() - t0;
    }
    double cs = 0;
%(sums)s
    qsort(t, R, sizeof t[0], cmp);
    printf("%%s: median %%.3f ms, fastest %%.3f ms", "%(name)s", t[R / 2], t[0]);
    if (%(flops)s > 0)
        printf(", %%.1f GFLOP/s", %(flops)s / (t[R / 2] * 1e6));
    printf(" (checksum %%.9g)\n", cs);
    return 0;
}
'''


def call_args(sig, batch, decls, have, seed, sums=None):
    """The arguments of a call to a function of parameter list sig: `int n` the batch, other
    ints 0, packed weights `pk` NULL, a buffer of random floats per pointer (declared in decls
    unless have names it already; seed(k) for the k-th parameter; its checksum in sums when
    given and the function writes it)."""
    args = []
    for k, p in enumerate(x.strip() for x in sig.split(',')):
        name = p.split()[-1].lstrip('*')
        if p.startswith('int'):
            args.append(str(batch) if name == 'n' else '0')
        elif name == 'pk':
            args.append('NULL')
        else:
            if name not in have:
                decls.append('    float *const %s = buf((size_t)1 << 24, %du);' % (name, seed(k)))
                have.add(name)
                if sums is not None and not p.startswith('const') and name != 'scratch':
                    sums.append('    for (size_t i = 0; i < ((size_t)1 << 24); i += 7) cs += %s[i];' % name)
            args.append(name)
    return args


def block_end(lines, start):
    """The index of the line whose '}' closes the block opened on lines[start] (braces counted,
    comments left out), or -1."""
    depth, opened = 0, False
    for i in range(start, len(lines)):
        code = re.sub(r'/\*.*?\*/', '', lines[i]).split('//')[0]
        depth += code.count('{') - code.count('}')
        opened = opened or code.count('{') > 0
        if opened and depth <= 0:
            return i
    return -1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('build')
    ap.add_argument('model')
    ap.add_argument('function')
    ap.add_argument('part', nargs='?', default='all', choices=['all', 'forward', 'dx', 'dw', 'dx_pair'])
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--repeat', type=int, default=50)
    ap.add_argument('--before', default='', help='functions (comma-separated) called untimed before each call, '
                    'in order; a pointer parameter of the same name as one of FUNCTION\'s shares its buffer')
    ap.add_argument('--flush', type=int, default=0, help='MB read and written before each call')
    ap.add_argument('--cc', default=os.environ.get('CC', 'clang'))
    ap.add_argument('--keep', help='a directory for the generated C and the program (else a temporary one)')
    a = ap.parse_args()
    if a.batch < 1 or a.repeat < 1 or a.flush < 0:
        sys.exit('op_time: --batch and --repeat must be at least 1, --flush at least 0')
    src = a.model if a.model.endswith('.cnn') else os.path.join(ROOT, 'models', a.model + '.cnn')
    if not os.path.isfile(src):
        sys.exit('op_time: no model file %s' % src)
    work = a.keep or tempfile.mkdtemp(prefix='op_time.')
    os.makedirs(work, exist_ok=True)
    cdir = os.path.join(work, 'c')
    r = subprocess.run([os.path.join(a.build, 'cnnc'), '--emit=c', '--train', src, '-o', cdir, '--batch', str(a.batch)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        sys.exit('op_time: cnnc failed:\n' + r.stdout)
    cfile = [f for f in os.listdir(cdir) if f.endswith('.c')][0]
    lines = open(os.path.join(cdir, cfile)).read().split('\n')
    head = 'static CNN_NOINLINE void %s(' % a.function
    starts = [i for i, l in enumerate(lines) if l.startswith(head)]
    if not starts:
        names = sorted(set(m.group(1) for l in lines for m in [re.match(r'static CNN_NOINLINE void (op\w+)\(', l)] if m))
        sys.exit('op_time: no function %s in %s; the ops: %s' % (a.function, cfile, ' '.join(names)))
    st = starts[0]
    en = block_end(lines, st) if lines[st].rstrip().endswith('{') else -1
    if en < 0:
        sys.exit('op_time: the end of %s not found' % a.function)
    # the parts: '/* profile: PART FLOPS */' then a block at the marker's indent
    parts = []
    for i in range(st, en):
        m = re.match(r'\s*/\* profile: (\w+) (\d+) \*/', lines[i])
        if m and i + 1 < en and lines[i + 1].strip().startswith('{'):
            parts.append((m.group(1), int(m.group(2)), i, block_end(lines, i + 1)))
    flops = 0
    if a.part != 'all':
        keep = [p for p in parts if p[0] == a.part]
        if not keep:
            sys.exit('op_time: %s has no %s part (its parts: %s)' % (a.function, a.part, ' '.join(p[0] for p in parts) or 'none'))
        for p in sorted((p for p in parts if p[0] != a.part), key=lambda p: -p[2]):
            del lines[p[2]:p[3] + 1]
        flops = keep[0][1] * a.batch
    elif len(parts) == 1:
        flops = parts[0][1] * a.batch
    st = [i for i, l in enumerate(lines) if l.startswith(head)][0]
    decls, sums, have = [], [], set()
    args = call_args(lines[st][len(head):lines[st].index(')')], a.batch, decls, have, lambda k: k + 1, sums)
    before = []
    for fn in [f for f in a.before.split(',') if f]:
        h = 'static CNN_NOINLINE void %s(' % fn
        fl = [l for l in lines if l.startswith(h)]
        if not fl:
            sys.exit('op_time: no function %s (--before) in %s' % (fn, cfile))
        bargs = call_args(fl[0][len(h):fl[0].index(')')], a.batch, decls, have, lambda k: 100 + len(decls))
        before.append('        %s(%s);' % (fn, ', '.join(bargs)))
    mod = os.path.join(work, 'op.c')
    open(mod, 'w').write('\n'.join(lines))
    prog = os.path.join(work, 'op_time.c')
    open(prog, 'w').write(HARNESS % {'src': mod, 'repeat': a.repeat, 'flush': a.flush, 'decls': '\n'.join(decls),
                                     'call': '%s(%s)' % (a.function, ', '.join(args)), 'before': '\n'.join(before), 'sums': '\n'.join(sums),
                                     'name': a.function + ('' if a.part == 'all' else ' ' + a.part), 'flops': '%d.0' % flops})
    exe = os.path.join(work, 'op_time')
    r = subprocess.run([a.cc, '-std=c99', '-O3', '-march=native', '-mprefer-vector-width=512', '-fno-math-errno', '-fopenmp',
                        '-Wno-unused-function', '-I' + cdir, '-I' + os.path.join(ROOT, 'runtime'), prog, '-lm', '-o', exe],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        sys.exit('op_time: the program did not build:\n' + r.stdout)
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', '1')
    r = subprocess.run([exe], env=env)
    sys.exit(r.returncode)


if __name__ == '__main__':
    main()
