#!/usr/bin/python3
"""ensemble_check.py: `PROG eval` and `PROG predict` with several --weights (an ensemble) against
PyTorch: a hand-written twin of the model loads each weight file, and the reference
probabilities of an image are torch.stack([F.softmax(twin_k(x), 1) for each file k]).mean(0)
(for the model that ends in softmax, its outputs are the probabilities: no second softmax).
Checked: eval's loss (-log of the mean probability of the label), accuracy, top-5 accuracy and
confusion matrix; predict's top classes and probabilities; that the ensemble's numbers differ
from any single file's and from the softmax of the mean logits (so the check tells them apart);
and the bad uses: a weight file of another model (exit 1, one line naming it, nothing on
stdout), --weights without a value (exit 2).

    /usr/bin/python3 tests/torch/ensemble_check.py --build BUILD

Prints one line per check, then `ensemble: P passed, F failed`; exits 1 on a failure.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train_ref  # noqa: E402

K = 7
MODEL = """model ens(classes = 7) {
    input [1, 6, 6]
    conv(4, 3); relu
    flatten
    linear(classes)
}
model ens_soft(classes = 7) {
    input [1, 6, 6]
    conv(4, 3); relu
    flatten
    linear(classes)
    softmax
}
model other(classes = 7) {
    input [1, 6, 6]
    conv(3, 3); relu
    flatten
    linear(classes)
}
"""


class Twin(nn.Module):
    def __init__(self, soft):
        super().__init__()
        self.conv0 = nn.Conv2d(1, 4, 3)
        self.linear0 = nn.Linear(64, K)
        self.soft = soft

    def forward(self, x):
        y = self.linear0(torch.flatten(F.relu(self.conv0(x)), 1))
        return F.softmax(y, 1) if self.soft else y


def run(args, want=0):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if want == 0 and r.returncode != 0:
        sys.exit("ensemble: FAIL: %s: %s" % (" ".join(args), r.stderr.strip()))
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="cnnc-ens-")
    fails, passes = [], []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        (passes if ok else fails).append(what)
    try:
        src = os.path.join(tmp, "ens.cnn")
        open(src, "w").write(MODEL)
        progs = {}
        for name in ("ens", "ens_soft", "other"):
            progs[name] = os.path.join(tmp, name)
            run([os.path.join(a.build, "cnnc"), "--batch", "8", "--model", name, src, "-o", progs[name]])
        d = os.path.join(tmp, "d")
        os.makedirs(d)
        train_ref.cmd_data(argparse.Namespace(dir=d, ntrain=8, ntest=53, h=6, w=6, k=K, seed=5))
        x, y = train_ref.read_idx(d, "test")
        rng = np.random.default_rng(11)
        files, twins = [], []
        for k in range(3):   # weights large enough that the members disagree
            t = {"conv0.weight": rng.normal(0, 0.8, (4, 1, 3, 3)), "conv0.bias": rng.normal(0, 0.3, 4),
                 "linear0.weight": rng.normal(0, 0.5, (K, 64)), "linear0.bias": rng.normal(0, 0.3, K)}
            f = os.path.join(tmp, "w%d.safetensors" % k)
            train_ref.write_st(f, t)
            files.append(f)
            twins.append({n: torch.tensor(v, dtype=torch.float64) for n, v in t.items()})
        xt = torch.tensor(x, dtype=torch.float64)
        wargs = [arg for f in files for arg in ("--weights", f)]

        for name in ("ens", "ens_soft"):
            members = []
            for sd in twins:
                m = Twin(name == "ens_soft").double()
                m.load_state_dict(sd)
                with torch.no_grad():
                    out = m(xt)
                members.append(out if name == "ens_soft" else F.softmax(out, 1))
            p = torch.stack(members).mean(0).numpy()
            loss = float(np.mean(-np.log(p[np.arange(len(y)), y])))
            pred = p.argmax(1)
            acc = float(np.mean(pred == y))
            higher = (p > p[np.arange(len(y)), y][:, None]).sum(1)
            top5 = float(np.mean(higher < 5))
            text = run([progs[name], "eval", "--data", d] + wargs).stdout
            mm = re.search(r"loss ([0-9.]+)  accuracy ([0-9.]+)%  top-5 accuracy ([0-9.]+)%", text)
            got = tuple(float(v) for v in mm.groups()) if mm else None
            check(got is not None and abs(got[0] - loss) <= 6e-5 and abs(got[1] - 100 * acc) <= 0.0051
                  and abs(got[2] - 100 * top5) <= 0.0051,
                  "%s eval, 3 weight files: loss/accuracy/top-5 %s vs torch %.4f %.2f%% %.2f%%"
                  % (name, got, loss, 100 * acc, 100 * top5))
            check("ensemble of 3 weight files" in text, "%s eval says it averages 3 weight files" % name)
            lines = text.splitlines()
            at = [i for i, l in enumerate(lines) if l.startswith("confusion matrix")][0] + 2
            cm = np.array([[int(v) for v in lines[at + i].split()[2:]] for i in range(K)])
            want = np.zeros((K, K), int)
            for t_, p_ in zip(y, pred):
                want[t_, p_] += 1
            check(np.array_equal(cm, want), "%s eval: confusion matrix of the mean probabilities" % name)
            # The check can tell an ensemble from one member and from averaged logits.
            single = run([progs[name], "eval", "--data", d, "--weights", files[0]]).stdout
            ms = re.search(r"loss ([0-9.]+)", single)
            check(ms is not None and got is not None and abs(float(ms.group(1)) - got[0]) > 1e-3,
                  "%s: one weight file's loss %s differs from the ensemble's" % (name, ms and ms.group(1)))
            if name == "ens":
                logits = []
                for sd in twins:
                    m = Twin(False).double()
                    m.load_state_dict(sd)
                    with torch.no_grad():
                        logits.append(m(xt))
                q = F.softmax(torch.stack(logits).mean(0), 1).numpy()
                lq = float(np.mean(-np.log(q[np.arange(len(y)), y])))
                check(abs(lq - loss) > 1e-3, "ens: mean of softmaxes (%.4f) and softmax of mean logits (%.4f) differ"
                      % (loss, lq))

            # predict on PGM images of the first test images
            imgs = []
            for i in range(5):
                f = os.path.join(tmp, "img%d.pgm" % i)
                px = np.clip(np.round(x[i, 0] * 255), 0, 255).astype(np.uint8)
                open(f, "wb").write(b"P5\n6 6\n255\n" + px.tobytes())
                imgs.append(f)
            out = run([progs[name], "predict", "--top", "3"] + wargs + imgs).stdout.splitlines()
            ok = len(out) == 5
            for i in range(min(5, len(out))):
                parts = out[i].split(": ", 1)[1].split(", ")
                order = np.argsort(-p[i], kind="stable")[:3]
                for j, part in enumerate(parts):
                    c, prob = part.split()
                    ok = ok and int(c) == order[j] and abs(float(prob) - p[i, order[j]]) <= 6e-5
            check(ok, "%s predict --top 3 with 3 weight files: classes and mean probabilities as torch" % name)

        # bad uses
        wrong = os.path.join(tmp, "other.safetensors")
        run([progs["other"], "init", "--save", wrong])
        for cmd in (["eval", "--data", d], ["predict", os.path.join(tmp, "img0.pgm")]):
            r = run([progs["ens"]] + cmd + ["--weights", files[0], "--weights", wrong], want=1)
            err = r.stderr.strip().splitlines()
            check(r.returncode == 1 and len(err) == 1 and "other.safetensors" in err[0] and r.stdout == "",
                  "%s with a weight file of another model: exit %d, %r" % (cmd[0], r.returncode, err))
            r = run([progs["ens"]] + cmd + ["--weights", files[0], "--weights"], want=2)
            err = r.stderr.strip().splitlines()
            check(r.returncode == 2 and len(err) == 1 and "--weights" in err[0],
                  "%s --weights without a value: exit %d, %r" % (cmd[0], r.returncode, err))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ensemble: %d passed, %d failed" % (len(passes), len(fails)))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
