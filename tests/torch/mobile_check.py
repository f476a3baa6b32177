#!/usr/bin/python3
"""mobile_check.py: models/mobilenet_v2.cnn, mobilenet_v3_small.cnn and efficientnet_b0.cnn
against torchvision's own models.

For each: the parameter count cnnc lists (--emit=params, running statistics left out) equals
torchvision's exactly; torchvision's model with random weights and random batchnorm statistics
is saved with torch.save(model.state_dict(), F); `PROG import F -o W` maps every tensor by order
(shapes must agree pair by pair, so a layer out of torchvision's order fails here); then
`PROG forward --weights W` on random images agrees with torchvision's eval forward (on the
input after cnnc's normalize layer) within rel = max|a - b| / max|b| <= 1e-4. The networks are
convolutional up to the global average pool, so a reduced input (--size, default 64) checks
every layer at a fraction of the cost of 224.

    /usr/bin/python3 tests/torch/mobile_check.py --build BUILD [--size N] [--models a,b] [--keep DIR]
"""
import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from import_check import randomize, read_safetensors, rel_err, write_safetensors  # noqa: E402

TOL = 1e-4
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
failures, passes = [], []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    (passes if ok else failures).append(what)


def run(args):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def build(cnnc, name, size, out):
    r = run([cnnc, "--no-train", "--batch", "2", "-D", "size=%d" % size, os.path.join(TOP, "models", name + ".cnn"),
             "-o", out])
    return r.returncode, r.stderr.strip()


def cnnc_params(cnnc, name):
    r = run([cnnc, "--emit=params", os.path.join(TOP, "models", name + ".cnn")])
    total = 0
    for line in r.stdout.splitlines():
        tname, shape = line.split(" ", 1)
        if "running_" in tname:
            continue
        n = 1
        for d in shape.strip("[]").split(","):
            n *= int(d)
        total += n
    return r.returncode, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--models", default="mobilenet_v2,mobilenet_v3_small,efficientnet_b0")
    ap.add_argument("--keep")
    a = ap.parse_args()
    cnnc = os.path.join(os.path.abspath(a.build), "cnnc")
    tmp = a.keep or tempfile.mkdtemp(prefix="cnnc-mobile-")
    os.makedirs(tmp, exist_ok=True)
    names = a.models.split(",")
    try:
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            jobs = {n: ex.submit(build, cnnc, n, a.size, os.path.join(tmp, n)) for n in names}
            built = {n: j.result() for n, j in jobs.items()}
        for seed, name in enumerate(names):
            torch.manual_seed(seed)
            model = randomize(getattr(torchvision.models, name)(), 20 + seed)
            want = sum(p.numel() for p in model.parameters())
            rc, got = cnnc_params(cnnc, name)
            check(rc == 0 and got == want, "%s: %d parameters, torchvision's %d" % (name, got, want))
            rc, err = built[name]
            check(rc == 0, "%s: builds at %dx%d (%s)" % (name, a.size, a.size, err))
            if rc != 0:
                continue
            prog = os.path.join(tmp, name)
            pt, w = os.path.join(tmp, name + ".pt"), os.path.join(tmp, name + ".safetensors")
            torch.save(model.state_dict(), pt)
            r = run([prog, "import", pt, "-o", w])
            sd = model.state_dict()
            nfloat = sum(1 for v in sd.values() if v.is_floating_point())
            ok = r.returncode == 0 and "by order" in r.stdout and ("wrote %s: %d of %d tensors" % (w, nfloat, nfloat)) in r.stdout
            check(ok, "%s: import maps all %d float tensors by order (%s)" % (name, nfloat, r.stderr.strip()))
            if r.returncode != 0:
                continue
            x = torch.rand([2, 3, a.size, a.size], generator=torch.Generator().manual_seed(5))
            xin, yout = os.path.join(tmp, name + "-x.safetensors"), os.path.join(tmp, name + "-y.safetensors")
            write_safetensors(xin, [("input", x)])
            r = run([prog, "forward", "--weights", w, "--input", xin, "--output", yout])
            check(r.returncode == 0, "%s: forward with the imported weights (%s)" % (name, r.stderr.strip()))
            if r.returncode != 0:
                continue
            with torch.no_grad():
                ref = model((x - torch.tensor(MEAN).view(1, -1, 1, 1)) / torch.tensor(STD).view(1, -1, 1, 1))
            e = rel_err(read_safetensors(yout)["output"], ref)
            check(e <= TOL, "%s: forward agrees with torchvision's: rel %.1e <= %g" % (name, e, TOL))
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print("mobile: %d passed, %d failed" % (len(passes), len(failures)))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
