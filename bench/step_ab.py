#!/usr/bin/env python3
"""bench/step_ab.py: one generated op function of two compilers timed inside the training step.

    python3 bench/step_ab.py BUILD_A BUILD_B MODEL FUNCTION [--batch B] [--repeat R]
                             [--check FLOATS] [--cc CC]

Emits MODEL's training C with BUILD_A/cnnc and BUILD_B/cnnc (--emit=c --train --batch B; MODEL a
name under models/ or a path to a .cnn file), adds BUILD_B's FUNCTION to BUILD_A's C as
FUNCTION_v, and builds bench/train_step.c on it (-O3 -march=native, as bench/profile.sh --train
builds) with the one call of FUNCTION in the step-and-update function timed: odd calls run
A's function, even calls B's, on whatever the step leaves in the caches and memory just before
(the op's input just written by the op before it, its output's lines cold), which
bench/op_time.py's harness does not reproduce. It runs R steps (default 40) on one thread and
prints the median ms of each function's calls and B's over A's. Everything else in the step is
A's code, so both run in the same minutes of a shared machine: ratios within about 0.97-1.03
are noise (A against itself: 0.985).
--check FLOATS: before the timed steps, the first call runs A's function, keeps the first FLOATS
floats of its second pointer argument (a forward's output y), runs B's, and prints the largest
difference (0 when the two compute the same sums in the same order).
Used for bench/README.md's in-step figures from 2026-12-04 20:30 UTC on.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from op_time import block_end  # noqa: E402 (bench/op_time.py: the end of a generated function)


def emit(build, src, batch, out):
    os.makedirs(out, exist_ok=True)
    r = subprocess.run([os.path.join(build, "cnnc"), "--emit=c", "--train", src, "-o", out, "--batch", str(batch)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if r.returncode:
        sys.exit("step_ab: %s/cnnc failed:\n%s" % (build, r.stdout))
    hs = [f for f in os.listdir(out) if f.endswith(".h")]
    if len(hs) != 1:
        sys.exit("step_ab: expected one header in %s" % out)
    return hs[0][:-2]


def function(text, fn):
    """The offsets of FUNCTION's definition in text: its first character, and past its last line."""
    lines = text.split("\n")
    head = "static CNN_NOINLINE void %s(" % fn
    st = next((i for i, l in enumerate(lines) if l.startswith(head)), -1)
    en = block_end(lines, st) if st >= 0 else -1
    if en < 0:
        sys.exit("step_ab: no function %s in the generated C" % fn)
    start = sum(len(l) + 1 for l in lines[:st])
    return start, start + sum(len(l) + 1 for l in lines[st:en + 1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build_a")
    ap.add_argument("build_b")
    ap.add_argument("model")
    ap.add_argument("function")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=40)
    ap.add_argument("--check", type=int, default=0)
    ap.add_argument("--cc", default=os.environ.get("CC", "clang"))
    a = ap.parse_args()
    src = a.model if a.model.endswith(".cnn") else os.path.join(ROOT, "models", a.model + ".cnn")
    if not os.path.isfile(src):
        sys.exit("step_ab: no model %s" % src)
    fn = a.function
    with tempfile.TemporaryDirectory(prefix="cnnc-step_ab.") as d:
        name = emit(a.build_a, src, a.batch, os.path.join(d, "a"))
        emit(a.build_b, src, a.batch, os.path.join(d, "b"))
        ta = open(os.path.join(d, "a", name + ".c")).read()
        tb = open(os.path.join(d, "b", name + ".c")).read()
        i, j = function(ta, fn)
        bi, bj = function(tb, fn)
        fb = tb[bi:bj].replace(fn + "(", fn + "_v(", 1)
        ta = ta[:j] + fb + ta[j:]
        upd = ta.index("float %s_train_step_update(" % name)
        calls = [m.start() for m in re.finditer(r"^    %s\(" % re.escape(fn), ta[upd:], re.M)]
        if not calls:
            sys.exit("step_ab: %s_train_step_update does not call %s" % (name, fn))
        k = upd + calls[0]
        e = ta.index(";\n", k) + 2
        call = ta[k:e].strip()
        args = call[call.index("("):]
        yarg = args[1:-2].split(",")[1].strip()
        check = ""
        if a.check > 0:
            check = ("    { static int ab_checked; if (!ab_checked) { ab_checked = 1; const size_t NY = (size_t)%d;\n"
                     "        float *c0 = malloc(NY * sizeof *c0); if (!c0) abort();\n"
                     "        %s%s memcpy(c0, %s, NY * sizeof *c0); memset(%s, 0, NY * sizeof *c0); %s_v%s\n"
                     "        double md = 0; for (size_t i = 0; i < NY; i++) { double df = fabs((double)c0[i] - (%s)[i]); if (df > md) md = df; }\n"
                     "        fprintf(stderr, \"check: largest difference %%g over %%zu floats\\n\", md, NY); free(c0); } }\n"
                     % (a.check, fn, args, yarg, yarg, fn, args, yarg))
        wrap = ("    { struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);\n"
                "      if (ab_tog) %s_v%s else %s%s\n"
                "      clock_gettime(CLOCK_MONOTONIC, &t1); ab_rec(ab_tog, (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) * 1e-6); ab_tog ^= 1; }\n"
                % (fn, args, fn, args))
        ta = ta[:k] + check + wrap + ta[e:]
        hdr = ("#include <math.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <time.h>\n"
               "static int ab_tog; static double ab_t[2][4096]; static int ab_n[2];\n"
               "static int ab_cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }\n"
               "static void ab_rep(void) { double m[2]; for (int s = 0; s < 2; s++) { qsort(ab_t[s], ab_n[s], sizeof(double), ab_cmp); m[s] = ab_n[s] ? ab_t[s][ab_n[s] / 2] : 0; }\n"
               "  printf(\"%s: A median %%.4f ms (%%d calls), B median %%.4f ms (%%d calls), B / A %%.3f\\n\", m[0], ab_n[0], m[1], ab_n[1], m[0] > 0 ? m[1] / m[0] : 0); }\n"
               "static void ab_rec(int s, double ms) { if (!ab_n[0] && !ab_n[1]) atexit(ab_rep); if (ab_n[s] < 4096) ab_t[s][ab_n[s]++] = ms; }\n"
               % fn)
        ta = "#define _POSIX_C_SOURCE 200809L\n" + hdr + ta
        cfile = os.path.join(d, "a", name + ".c")
        with open(cfile, "w") as f:
            f.write(ta)
        exe = os.path.join(d, "step")
        cmd = [a.cc, "-std=c99", "-O3", "-march=native", "-mprefer-vector-width=512", "-fno-math-errno", "-fopenmp",
               "-DNAME=" + name, "-DUNAME=" + name.upper(), '-DHEADER="%s.h"' % name, "-I" + os.path.join(d, "a"),
               "-I" + os.path.join(ROOT, "runtime"), os.path.join(HERE, "train_step.c"), cfile,
               os.path.join(a.build_a, "libcnnrt.a"), "-lm", "-o", exe]
        subprocess.run(cmd, check=True)
        env = dict(os.environ, OMP_NUM_THREADS="1")
        r = subprocess.run([exe, str(a.batch), str(a.repeat)], env=env, stdout=subprocess.PIPE, universal_newlines=True)
        sys.stdout.write("".join(l + "\n" for l in r.stdout.split("\n") if l.startswith(fn)))
        return r.returncode


if __name__ == "__main__":
    sys.exit(main())
