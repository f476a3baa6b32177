#!/usr/bin/python3
"""eval_metrics.py: `PROG eval`'s top-5 accuracy, per-class precision, recall and F1 and their
macro and weighted averages, against the same quantities computed here with numpy from the
model's own outputs (`PROG forward` on the same images), following sklearn's definitions
(precision_recall_fscore_support, zero_division=0; macro over the classes among the labels or
predictions; weighted by support) and top-5 as "fewer than 5 classes score higher".
A 10-class model with random weights on a synthetic IDX dataset gives uneven, partly empty
classes (precision '-', F1 0), so every branch of the definitions is exercised.

    /usr/bin/python3 tests/torch/eval_metrics.py --build BUILD
"""
import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train_ref  # noqa: E402

MODEL = """model tenway(classes = 10) {
    input [1, 6, 6]
    conv(4, 3); relu
    flatten
    linear(classes)
}
"""


def run(args):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("eval_metrics: FAIL: %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def write_input(path, x):
    a = np.ascontiguousarray(x, dtype="<f4")
    h = json.dumps({"input": {"dtype": "F32", "shape": list(a.shape), "data_offsets": [0, a.nbytes]}}).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + a.tobytes())


def reference(logits, y, k):
    pred = logits.argmax(1)
    higher = (logits > logits[np.arange(len(y)), y][:, None]).sum(1)
    out = {"accuracy": (pred == y).mean(), "top5": (higher < 5).mean()}
    rows = []
    for c in range(k):
        tp = np.sum((pred == c) & (y == c))
        npred, nsup = np.sum(pred == c), np.sum(y == c)
        p = tp / npred if npred else 0.0
        r = tp / nsup if nsup else 0.0
        f = 2 * p * r / (p + r) if p + r > 0 else 0.0
        rows.append((p, r, f, nsup, npred))
    present = [row for row in rows if row[3] or row[4]]
    out["macro"] = [np.mean([row[i] for row in present]) for i in range(3)]
    sup = np.array([row[3] for row in rows], float)
    out["weighted"] = [np.sum(np.array([row[i] for row in rows]) * sup) / sup.sum() for i in range(3)]
    out["rows"] = rows
    return out


def close(printed, value):   # printed with 2 decimals, in percent
    return abs(float(printed) - 100 * value) <= 0.0051


def compare(tag, text, ref, n, check):
    m = re.search(r"accuracy ([0-9.]+)%  top-5 accuracy ([0-9.]+)%", text)
    check(m is not None and close(m.group(1), ref["accuracy"]) and close(m.group(2), ref["top5"]),
          "%s: accuracy and top-5: %s vs %.4f %.4f" % (tag, m.groups() if m else text.splitlines()[0],
                                                      ref["accuracy"], ref["top5"]))
    check(0 < ref["top5"] < 1 and ref["top5"] > ref["accuracy"], "%s: top-5 is informative (%.3f)" % (tag, ref["top5"]))
    lines = text.splitlines()
    start = [i for i, l in enumerate(lines) if l.startswith("class ")][0] + 1
    empties = 0
    for c in range(10):
        cols = lines[start + c].split()
        p, r, f, sup, npred = ref["rows"][c]
        ok = cols[0] == str(c) and int(cols[4]) == sup and close(cols[3].rstrip("%"), f)
        ok = ok and (cols[1] == "-" if npred == 0 else close(cols[1].rstrip("%"), p))
        ok = ok and (cols[2] == "-" if sup == 0 else close(cols[2].rstrip("%"), r))
        empties += npred == 0
        check(ok, "%s: class %d: %s vs p %.4f r %.4f f1 %.4f n %d" % (tag, c, " ".join(cols[1:]), p, r, f, sup))
    if tag == "fresh":
        check(empties > 0, "fresh: some class is never predicted (%d), so zero_division matters" % empties)
    for name, key in (("macro avg", "macro"), ("weighted avg", "weighted")):
        line = [l for l in lines if l.startswith(name)][0]
        cols = line[len(name):].split()
        ok = all(close(cols[i].rstrip("%"), ref[key][i]) for i in range(3)) and int(cols[3]) == n
        check(ok, "%s: %s: %s vs %s" % (tag, name, " ".join(cols), " ".join("%.4f" % v for v in ref[key])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="cnnc-evalm-")
    fails, passes = [], []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        (passes if ok else fails).append(what)
    try:
        src = os.path.join(tmp, "tenway.cnn")
        open(src, "w").write(MODEL)
        prog = os.path.join(tmp, "tenway")
        run([os.path.join(a.build, "cnnc"), "--batch", "16", src, "-o", prog])
        d = os.path.join(tmp, "d")
        os.makedirs(d)
        train_ref.cmd_data(argparse.Namespace(dir=d, ntrain=400, ntest=300, h=6, w=6, k=10, seed=4))
        w0 = os.path.join(tmp, "w.safetensors")
        run([prog, "init", "--save", w0, "--seed", "3"])
        run([prog, "train", "--data", d, "--epochs", "1", "--batch", "16", "--lr", "0.005", "--quiet", "--save", os.path.join(tmp, "run")])
        raw = open(os.path.join(d, "t10k-images-idx3-ubyte"), "rb").read()
        n = struct.unpack(">I", raw[4:8])[0]
        x = np.frombuffer(raw[16:], np.uint8).reshape(n, 1, 6, 6).astype(np.float32) / 255
        y = np.frombuffer(open(os.path.join(d, "t10k-labels-idx1-ubyte"), "rb").read()[8:], np.uint8).astype(int)
        write_input(os.path.join(tmp, "x.safetensors"), x)
        for tag, w in (("fresh", w0), ("trained", os.path.join(tmp, "run", "last.safetensors"))):
            text = run([prog, "eval", "--weights", w, "--data", d])
            run([prog, "forward", "--weights", w, "--input", os.path.join(tmp, "x.safetensors"), "--output",
                 os.path.join(tmp, "y.safetensors")])
            logits = train_ref.read_st(os.path.join(tmp, "y.safetensors"))[0]["output"]
            ref = reference(logits, y, 10)
            compare(tag, text, ref, n, check)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("eval_metrics: %d passed, %d failed" % (len(passes), len(fails)))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
