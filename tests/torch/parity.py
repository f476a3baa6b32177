#!/usr/bin/python3
"""parity.py: compiled models against PyTorch, forward pass, eval mode.

For every model of models/*.cnn, tests/models/*.cnn (each `model` of a file; tests/models/lib/
holds imported blocks only) and tests/torch/parity_edge.cnn: compile it with
`cnnc FILE -o PROG --batch 8`, write random weights (batchnorm running statistics included:
running_var in [0.5, 1.5]) and a random input as safetensors, run `PROG forward`, and compare
the output with two references:
  (a) the module that `cnnc --emit=torch` prints for the same model (built from the same IR), and
  (b) the hand-written twin (twins.py, coverage_twins.py) for lenet5, simplecnn, resnet18_cifar,
      googlenet and every tests/models model, after checking that its checkpoint names (its
      state_dict less num_batches_tracked) are exactly the compiled model's tensor names.
A comparison passes when rel = max|a - b| / max|b| <= 1e-4; references run in float32, and a
float64 run of (a) gives the error of the float32 C code against exact arithmetic ("f64"; shown,
not checked, and left out for the ImageNet models unless --f64: a float64 VGG-16 takes longer than
the rest of its check).
Batch 1 and batch 8, except for the big ImageNet models (batch 1 only, to keep CI time low).

    /usr/bin/python3 tests/torch/parity.py --build BUILD [--only NAME ...] [--small] [--keep DIR]

Prints one line per model and batch, then `parity: N passed, M failed, K skipped` (models left out
by --only or --small are printed as SKIP and counted); exits 1 on a failure.
"""
import argparse
import concurrent.futures
import contextlib
import copy
import glob
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import coverage_twins  # noqa: E402
import twins  # noqa: E402

TOL = 1e-4
BIG = {"alexnet", "vgg16", "vgg16_bn", "resnet50"}      # batch 1 only
SLOW_BUILDS = {"googlenet", "resnet50", "resnet18", "vgg16_bn", "vgg16", "alexnet"}  # started first
# Checked against torchvision's own models (import, forward) by tests/mobile.test.sh at a reduced
# input size; here only when --only names them.
MOBILE = {"mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0"}
COMPILED_BATCH = 8
F64 = False     # --f64
EDGE_FILE = os.path.join(HERE, "parity_edge.cnn")      # what tests/models leaves to --emit=torch; no twins


# ---------------------------------------------------------------- safetensors (struct + json)
def write_safetensors(path, tensors):
    """tensors: [(name, float32 torch tensor)], written in order, header padded to 8 bytes."""
    header, off = {}, 0
    arrays = []
    for name, t in tensors:
        a = np.ascontiguousarray(t.detach().to(torch.float32).numpy(), dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        arrays.append(a)
        off += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for a in arrays:
            f.write(a.data)


def read_safetensors(path):
    """{name: torch tensor} of an F32/F64 file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        dt = {"F32": "<f4", "F64": "<f8"}[e["dtype"]]
        b, end = e["data_offsets"]
        a = np.frombuffer(data[b:end], dtype=dt).reshape(e["shape"])
        out[name] = torch.from_numpy(a.copy())
    return out


# ---------------------------------------------------------------- the models
class Case:
    def __init__(self, path, model, several):
        self.path, self.model, self.several = path, model, several
        self.rel = os.path.relpath(path, TOP)

    def cnnc_args(self):
        """cnnc's arguments naming the model (and --no-winograd for the models that check the
        direct kernels of the convs conv_wino.c would otherwise take: coverage_twins.py)."""
        return ([self.path] + (["--model", self.model] if self.several else [])
                + (["--no-winograd"] if self.model in coverage_twins.NO_WINOGRAD else []))

    def twin(self):
        """The hand-written twin module's builder, or None when this model has none."""
        if self.model in twins.TWINS and self.rel.startswith("models/"):
            return lambda: twins.build(self.model)
        if self.model in coverage_twins.TWINS:
            return lambda: coverage_twins.build(self.model)
        return None

    def needs_twin(self):
        return self.rel.startswith("tests/models/") or self.model in twins.TWINS

    def batches(self):
        return [1] if self.model in BIG or COMPILED_BATCH == 1 else [1, COMPILED_BATCH]


def find_cases(files=None):
    """Every model of models/*.cnn and tests/models/*.cnn, then those of EDGE_FILE; or those of files."""
    paths = []
    for d in ("models", os.path.join("tests", "models")):
        full = os.path.join(TOP, d)
        paths += [os.path.join(full, fn) for fn in sorted(os.listdir(full)) if fn.endswith(".cnn")]
    cases = []
    for path in files or paths + [EDGE_FILE]:
        with open(path) as f:
            names = re.findall(r"^\s*model\s+([A-Za-z_][A-Za-z0-9_]*)", f.read(), re.M)
        for m in names:
            cases.append(Case(path, m, len(names) > 1))
    return cases


# ---------------------------------------------------------------- helpers
def run(args, what, env=None):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env)
    if p.returncode != 0:
        raise RuntimeError("%s failed (status %d): %s" % (what, p.returncode, (p.stderr or p.stdout).strip()[-1500:]))
    return p.stdout


def _program_key(args, env):
    """What decides a program's build: cnnc and the runtime (the identity of cnnc, libcnnrt.a
    and the runtime's headers beside them), the model file's text, cnnc's arguments but -o and
    --no-train, and the build's environment (CC and every CNNC_* variable)."""
    env = os.environ if env is None else env
    h = hashlib.sha256()
    cnnc = os.path.realpath(args[0])
    here = os.path.dirname(cnnc)
    for f in [cnnc, os.path.join(here, "libcnnrt.a")] + sorted(glob.glob(os.path.join(here, "..", "runtime", "*.h"))):
        st = os.stat(f) if os.path.exists(f) else None
        h.update(repr((f, st and st.st_mtime_ns, st and st.st_size)).encode())
    rest, i = [], 1
    while i < len(args):
        if args[i] == "-o":
            i += 2
            continue
        if args[i] != "--no-train":
            rest.append(args[i])
            if args[i].endswith(".cnn") and os.path.exists(args[i]):
                with open(args[i], "rb") as f:
                    h.update(f.read())
        i += 1
    h.update(json.dumps([rest, sorted((k, v) for k, v in env.items() if k == "CC" or k.startswith("CNNC_"))]).encode())
    return h.hexdigest()[:32]


def build_program(args, what, env=None):
    """Runs `cnnc ARGS` (ARGS holding -o PROG). With $CNNC_PROGRAM_CACHE (a directory
    tests/run_all.sh makes for one half of the tests), a program with training code is kept there
    under the key of its build (_program_key), and an inference-only build (--no-train) with the
    same key takes the kept program instead: the same model C and commands, plus train, eval and
    grad. grad_parity.py runs before parity.py and builds its models' programs at parity's
    batch, so most models are compiled once a half (parity.test.sh 265 -> 110 s in the normal
    half, 221 -> 87 s under the sanitizers, 2026-12-02)."""
    cache = os.environ.get("CNNC_PROGRAM_CACHE")
    if not cache or not os.path.isdir(cache):
        run(args, what, env)
        return
    prog = args[args.index("-o") + 1]
    kept = os.path.join(cache, _program_key(args, env))
    if "--no-train" in args:
        if os.path.exists(kept):
            shutil.copy2(kept, prog)
        else:
            run(args, what, env)
        return
    run(args, what, env)
    try:
        os.link(prog, kept + ".tmp%d" % os.getpid())
        os.replace(kept + ".tmp%d" % os.getpid(), kept)
    except OSError:
        shutil.copy2(prog, kept)


def o0_env():
    """The environment of the -O0 programs' builds (no fusion, no in-place ops: the reference for
    the fused program). Their C is compiled at clang/gcc -O0 (added after cnnc's -O3), unless
    CNNC_CFLAGS sets an optimization level: what they check is the graph, not the C compiler's
    optimizations. -O0 takes a quarter of -O3's compile time, and the models' forward and
    gradient runs stay short (the whole of grad_parity.py: 546 s of CPU with them at -O1, 403
    at -O0; VGG-16-BN's forward at 224x224 takes a few seconds)."""
    env = dict(os.environ)
    flags = env.get("CNNC_CFLAGS", "")
    if not any(f.startswith("-O") for f in flags.split()):
        env["CNNC_CFLAGS"] = (flags + " -O0").strip()
    return env


def cnnc_params(cnnc, case):
    """[(name, shape)] in checkpoint order, from `cnnc --emit=params`."""
    out = []
    for line in run([cnnc, "--emit=params"] + case.cnnc_args(), "cnnc --emit=params").splitlines():
        name, shape = line.split(" ", 1)
        out.append((name, tuple(json.loads(shape))))
    return out


def emitted_text(cnnc, case, opt=None):
    return run([cnnc, "--emit=torch"] + ([opt] if opt else []) + case.cnnc_args(), "cnnc --emit=torch")


@contextlib.contextmanager
def no_default_init():
    """Modules built inside skip torch.nn.init's fills (their default initialization): check_case
    loads every parameter and buffer next, name_mismatch having checked that the names are the
    same both ways (an unloaded tensor would hold whatever the memory held, and fail the check).
    VGG-16-BN's 138M parameters took 2.7 s to fill."""
    names = [n for n in ("uniform_", "normal_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_",
                         "xavier_normal_", "trunc_normal_", "constant_", "ones_", "zeros_")
             if hasattr(torch.nn.init, n)]
    saved = {n: getattr(torch.nn.init, n) for n in names}
    try:
        for n in names:
            setattr(torch.nn.init, n, lambda t, *args, **kwargs: t)
        yield
    finally:
        for n, f in saved.items():
            setattr(torch.nn.init, n, f)


def emitted_module(cnnc, case, text=None):
    """A fresh instance of the module `cnnc --emit=torch` prints (text: that output, if at hand)."""
    text = text or emitted_text(cnnc, case)
    ns = {"__name__": "cnnc_emitted_" + case.model}
    exec(compile(text, "<cnnc --emit=torch %s>" % case.model, "exec"), ns)
    return ns["Model"]()


def checkpoint_names(module):
    return {k: tuple(v.shape) for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}


def name_mismatch(params, module, who):
    """A message when module's checkpoint names or shapes differ from the compiled model's, else None."""
    have = checkpoint_names(module)
    want = dict(params)
    only_c = [n for n in want if n not in have]
    only_m = [n for n in have if n not in want]
    if only_c or only_m:
        return "tensor names differ from %s: only in cnnc: %s; only in %s: %s" % (
            who, ", ".join(only_c) or "-", who, ", ".join(only_m) or "-")
    shapes = ["%s %s vs %s" % (n, list(want[n]), list(have[n])) for n in want if want[n] != have[n]]
    if shapes:
        return "tensor shapes differ from %s (cnnc vs %s): %s" % (who, who, "; ".join(shapes))
    return None


def random_weights(params, seed):
    """He-scaled conv/linear weights, small biases, batchnorm affine and running statistics."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for name, shape in params:
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "running_var":
            t = torch.rand(shape, generator=g) + 0.5
        elif leaf == "running_mean":
            t = torch.randn(shape, generator=g) * 0.5
        elif leaf == "weight" and len(shape) == 1:      # batchnorm scale
            t = torch.rand(shape, generator=g) + 0.5
        elif leaf == "weight":
            fan_in = 1
            for d in shape[1:]:
                fan_in *= d
            t = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
        else:                                            # biases
            t = (torch.rand(shape, generator=g) - 0.5) * 0.4
        out.append((name, t))
    return out


def rel_err(a, b):
    a, b = a.double(), b.double()
    den = b.abs().max().item()
    num = (a - b).abs().max().item()
    return num / den if den > 0 else num


def fmt(e):
    return "-" if e is None else "%.1e" % e


# ---------------------------------------------------------------- one model
def ir_input_shape(cnnc, case):
    """[C, H, W] (or [F]) from the first line of `cnnc --emit=ir`."""
    first = run([cnnc, "--emit=ir"] + case.cnnc_args(), "cnnc --emit=ir").splitlines()[0]
    return json.loads(re.search(r"input (\[[0-9, ]*\])", first).group(1))


def check_case(case, cnnc, prog, prefix):
    """[(batch, rel vs emitted, rel vs twin, rel C vs f64, rel torch vs f64, problems)] for the program
    prog built from case; a rel is None when that comparison did not run. Files go to prefix*."""
    seed = zlib.crc32(case.model.encode())
    params = cnnc_params(cnnc, case)
    text = emitted_text(cnnc, case)
    with no_default_init():
        emitted = emitted_module(cnnc, case, text).eval()
    problems = []
    if emitted_text(cnnc, case, "-O0") != text:   # the reference must not depend on fusion
        problems.append("cnnc --emit=torch prints a different module at -O0 than at the default -O2")
    msg = name_mismatch(params, emitted, "--emit=torch")
    if msg:
        problems.append(msg)
    weights = random_weights(params, seed)
    state = dict(weights)
    wpath = prefix + "weights.safetensors"
    write_safetensors(wpath, weights)
    emitted.load_state_dict(state, strict=False)

    twin, twin_build = None, case.twin()
    if twin_build is None and case.needs_twin():
        problems.append("no hand-written twin for %s (twins.py / coverage_twins.py)" % case.model)
    elif twin_build is not None:
        with no_default_init():
            twin = twin_build().eval()
        msg = name_mismatch(params, twin, "the twin")
        if msg:
            problems.append(msg)
            twin = None
        else:
            twin.load_state_dict(state, strict=False)

    in_shape = ir_input_shape(cnnc, case)
    emitted64 = None
    rows = []
    for n in case.batches():
        g = torch.Generator().manual_seed(seed + n)
        x = torch.rand([n] + in_shape, generator=g)
        row_problems = list(problems)
        with torch.no_grad():
            ref = emitted(x)
            ref_twin = twin(x) if twin is not None else None
            ref64 = None
            if F64 or case.model not in SLOW_BUILDS:
                if emitted64 is None:
                    emitted64 = copy.deepcopy(emitted).double()
                ref64 = emitted64(x.double())
        xpath, ypath = prefix + "in%d.safetensors" % n, prefix + "out%d.safetensors" % n
        write_safetensors(xpath, [("input", x)])
        got = None
        try:
            run([prog, "forward", "--weights", wpath, "--input", xpath, "--output", ypath], "forward")
            got = read_safetensors(ypath).get("output")
            if got is None or list(got.shape) != list(ref.shape):
                row_problems.append("output has shape %s, PyTorch gives %s" % (
                    None if got is None else list(got.shape), list(ref.shape)))
                got = None
        except RuntimeError as e:
            row_problems.append(str(e))
        # The same model without fusion or in-place ops (-O0) must agree with the default -O2.
        try:
            if FUSED_ONLY or case.model in BIG:
                raise StopIteration
            y0path = prefix + "out%d_O0.safetensors" % n
            run([prog + "_O0", "forward", "--weights", wpath, "--input", xpath, "--output", y0path], "forward -O0")
            got0 = read_safetensors(y0path).get("output")
            r_o0 = rel_err(got0, got) if got is not None and got0 is not None else None
            if r_o0 is None or not r_o0 <= O0_TOL:
                row_problems.append("-O0 and -O2 programs differ: rel %s > %g" % (fmt(r_o0), O0_TOL))
            r_o0_ref = rel_err(got0, ref) if got0 is not None else None
            if r_o0_ref is None or not r_o0_ref <= TOL:
                row_problems.append("-O0 program differs from --emit=torch: rel %s > %g" % (fmt(r_o0_ref), TOL))
        except StopIteration:
            pass
        except RuntimeError as e:
            row_problems.append("-O0: " + str(e))
        r_em = rel_err(got, ref) if got is not None else None
        r_tw = rel_err(got, ref_twin) if got is not None and ref_twin is not None else None
        r_64 = rel_err(got, ref64) if got is not None and ref64 is not None else None
        r_t64 = rel_err(ref, ref64) if ref64 is not None else None
        if r_em is not None and not r_em <= TOL:
            row_problems.append("C output differs from --emit=torch: rel %.2e > %g" % (r_em, TOL))
        if r_tw is not None and not r_tw <= TOL:
            row_problems.append("C output differs from the twin: rel %.2e > %g (twin vs --emit=torch: %.2e)" % (
                r_tw, TOL, rel_err(ref_twin, ref)))
        rows.append((n, r_em, r_tw, r_64, r_t64, row_problems))
    return rows


O0_TOL = 1e-5   # -O0 against -O2: the same arithmetic but for the order of a few operations
# --fused-only: no -O0 programs (the sanitizer half: the normal half compares them; under the
# sanitizers the point is the memory safety of the programs users run)
FUSED_ONLY = False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="the build directory holding cnnc")
    ap.add_argument("--only", nargs="*", default=[], help="model names to check")
    ap.add_argument("--small", action="store_true", help="skip the ImageNet models (%s)" % ", ".join(sorted(SLOW_BUILDS)))
    ap.add_argument("--keep", help="keep programs and tensors in this directory")
    ap.add_argument("--jobs", type=int, default=2, help="programs compiled at once")
    ap.add_argument("--compiled-batch", type=int, default=8,
                    help="the batch the programs are compiled for (1: batch 1 only, the embedded plans)")
    ap.add_argument("--file", nargs="*", default=[], help="check the models of these files instead")
    ap.add_argument("--skip", nargs="*", default=[], help="leave these models out (counted as skipped)")
    ap.add_argument("--f64", action="store_true", help="the float64 reference for the ImageNet models too")
    ap.add_argument("--fused-only", action="store_true",
                    help="no -O0 (unfused) programs to compare with (the sanitizer half of the tests)")
    args = ap.parse_args()
    globals()["COMPILED_BATCH"] = args.compiled_batch
    globals()["F64"] = args.f64
    globals()["FUSED_ONLY"] = args.fused_only
    torch.set_num_threads(1)
    cnnc = os.path.join(os.path.abspath(args.build), "cnnc")
    cases = find_cases([os.path.abspath(f) for f in args.file])
    if args.only:
        unknown = set(args.only) - {c.model for c in cases}
        if unknown:
            sys.exit("parity: no model named %s" % ", ".join(sorted(unknown)))
    skipped = []    # said and counted, not left out silently
    if args.only:
        skipped = [(c, "not in --only") for c in cases if c.model not in args.only]
        cases = [c for c in cases if c.model in args.only]
    else:
        skipped = [(c, "tests/mobile.test.sh checks it against torchvision") for c in cases if c.model in MOBILE]
        cases = [c for c in cases if c.model not in MOBILE]
    if args.small:
        skipped += [(c, "--small leaves out the ImageNet models") for c in cases if c.model in SLOW_BUILDS]
        cases = [c for c in cases if c.model not in SLOW_BUILDS]
    if args.skip:
        skipped += [(c, "--skip (the test script's choice)") for c in cases if c.model in args.skip]
        cases = [c for c in cases if c.model not in args.skip]
    for c, why in skipped:
        print("SKIP parity %s: %s" % (c.model, why))
    work = args.keep or tempfile.mkdtemp(prefix="cnnc-parity-")
    os.makedirs(work, exist_ok=True)

    def build(i, case):
        t = time.time()
        prog = os.path.join(work, "%02d_%s" % (i, case.model))
        build_program([cnnc] + case.cnnc_args() + ["-o", prog, "--batch", str(args.compiled_batch), "--no-train"],
                      "cnnc -o")
        if not FUSED_ONLY and case.model not in BIG:   # the big models' ops unfused: the smaller models'
            build_program([cnnc] + case.cnnc_args() + ["-o", prog + "_O0", "--batch", str(args.compiled_batch), "--no-train",
                                                       "-O0"], "cnnc -O0 -o", o0_env())
        return prog, time.time() - t

    passed = failed = 0
    t0 = time.time()
    print("%-16s %5s  %-10s %-10s %-10s %-12s %6s %6s  %s" % (
        "model", "batch", "vs emitted", "vs twin", "C vs f64", "torch vs f64", "build", "check", "result"))
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            # The slowest builds start first; each model is checked as soon as its program is built.
            order = sorted(range(len(cases)), key=lambda i: cases[i].model not in SLOW_BUILDS)
            futures = {pool.submit(build, i, cases[i]): i for i in order}
            for fut in concurrent.futures.as_completed(futures):
                i = futures[fut]
                case = cases[i]
                start = time.time()
                try:
                    prog, build_time = fut.result()
                    rows = check_case(case, cnnc, prog, os.path.join(work, "%02d_" % i))
                    rows = [(n, r_em, r_tw, r_64, r_t64, problems, time.time() - start)
                            for n, r_em, r_tw, r_64, r_t64, problems in rows]
                except Exception as e:  # noqa: BLE001: one model's failure does not stop the others
                    build_time = None
                    rows = [("-", None, None, None, None, [str(e)], time.time() - start)]
                for k, (n, r_em, r_tw, r_64, r_t64, problems, check_time) in enumerate(rows):
                    ok = not problems
                    passed += ok
                    failed += not ok
                    print("%-16s %5s  %-10s %-10s %-10s %-12s %6s %5.1fs  %s%s" % (
                        case.model, n, fmt(r_em), fmt(r_tw), fmt(r_64), fmt(r_t64),
                        "%5.1fs" % build_time if k == 0 and build_time is not None else "",
                        check_time, "ok" if ok else "FAIL", "" if ok else "  (%s)" % case.rel))
                    for p in problems:
                        print("    " + p)
                sys.stdout.flush()
                if not args.keep:
                    for fn in os.listdir(work):
                        if fn.startswith("%02d_" % i) and fn.endswith(".safetensors"):
                            os.remove(os.path.join(work, fn))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("parity: %d passed, %d failed, %d skipped (%.0f s)" % (passed, failed, len(skipped), time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
