#!/usr/bin/env python3
"""tests/torch/train_ref.py: the PyTorch side of tests/train.test.sh.

    data DIR NTRAIN NTEST H W K SEED        a small learnable IDX dataset (uncompressed)
    bad DIR KIND                            DIR's train files damaged: magic, truncated, label
    weights OUT SEED [--wrong] [--bn]       weights of the test's tiny model (conv0 [2,1,3,3],
                                            linear0 [3,32]); --wrong: linear0.weight [5,32];
                                            --bn: also bn0 (bnnet)
    optim RUN DATA WEIGHTS [options]        redoes the run's optimizer steps with torch.optim on
                                            the hand-written twin and compares with RUN/last.safetensors
                                            (--model bn: bnnet, running statistics included)
    dropout PROG WORK                       dropout in training (PROG grad --dropout-seed) against
                                            PyTorch with the mask the forward drew
    evalcheck OUT WEIGHTS DATA              eval's printed numbers against counts made here
    sched LOG KIND [options]                the lr column of LOG against torch.optim.lr_scheduler
    same A B                                every tensor of A equals B's, bit for bit
    differ A B                              not so
    unchanged A B PREFIX                    tensors under PREFIX equal, the others differ
    svg FILE [--curves N] [--cells K TOTAL] FILE is an SVG drawing 6 curves of N points, or a K x K
                                            confusion grid counting TOTAL images
    batch FILE                              the checks listed in FILE, one process (torch is
                                            imported once): NAME<TAB>CHECK ARGS per line
A check prints one line and exits 1 on a mismatch.
"""
import argparse
import json
import math
import struct
import sys
import xml.etree.ElementTree as ET

import shlex

import numpy as np


class Mismatch(Exception):
    """A failed check: its message is the one line printed."""


# ---- files --------------------------------------------------------------------------------

def read_st(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    data = b[8 + n:]
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] in ("F32", "I64"), v   # I64: batchnorm's num_batches_tracked
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(data[s:e], dtype="<f4" if v["dtype"] == "F32" else "<i8").reshape(v["shape"]).copy()
    return out, header.get("__metadata__", {})


def write_st(path, tensors):
    header, blobs, off = {}, [], 0
    for k, a in tensors.items():
        raw = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    j = json.dumps(header).encode()
    j += b" " * ((8 - len(j) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(j)) + j + b"".join(blobs))


def read_idx(dirname, split):
    prefix = "train" if split == "train" else "t10k"
    with open(f"{dirname}/{prefix}-images-idx3-ubyte", "rb") as f:
        b = f.read()
    _, n, h, w = struct.unpack(">IIII", b[:16])
    x = np.frombuffer(b[16:], dtype=np.uint8).reshape(n, 1, h, w)
    with open(f"{dirname}/{prefix}-labels-idx1-ubyte", "rb") as f:
        lb = f.read()
    y = np.frombuffer(lb[8:], dtype=np.uint8).astype(np.int64)
    # As dataset_batch_f32: x * (1/255) in float32.
    return x.astype(np.float32) * np.float32(1.0 / 255.0), y


def cmd_data(a):
    rng = np.random.default_rng(a.seed)
    for split, n in (("train", a.ntrain), ("t10k", a.ntest)):
        y = rng.integers(0, a.k, n).astype(np.uint8)
        x = rng.integers(0, 120, (n, a.h, a.w))
        for i in range(n):   # class c: a bright diagonal band at offset c
            for r in range(a.h):
                for c in range(a.w):
                    if (r + 2 * c + int(y[i])) % a.k == 0:
                        x[i, r, c] += 100
        x = np.clip(x, 0, 255).astype(np.uint8)
        with open(f"{a.dir}/{split}-images-idx3-ubyte", "wb") as f:
            f.write(struct.pack(">IIII", 0x803, n, a.h, a.w) + x.tobytes())
        with open(f"{a.dir}/{split}-labels-idx1-ubyte", "wb") as f:
            f.write(struct.pack(">II", 0x801, n) + y.tobytes())


def cmd_bad(a):
    img, lab = f"{a.dir}/train-images-idx3-ubyte", f"{a.dir}/train-labels-idx1-ubyte"
    if a.kind == "magic":
        with open(img, "r+b") as f:
            f.write(struct.pack(">I", 0x0BADF00D))
    elif a.kind == "truncated":
        with open(img, "rb") as f:
            b = f.read()
        with open(img, "wb") as f:
            f.write(b[:len(b) - 7])
    elif a.kind == "label":   # 7 is fine for IDX (10 classes) but not for a 3-class model
        with open(lab, "r+b") as f:
            f.seek(8 + 5)
            f.write(bytes([7]))
    else:
        raise Mismatch("unknown kind " + a.kind)


def cmd_weights(a):
    rng = np.random.default_rng(a.seed)
    t = {
        "conv0.weight": rng.uniform(-0.4, 0.4, (2, 1, 3, 3)),
        "conv0.bias": rng.uniform(-0.3, 0.3, (2,)),
        "linear0.weight": rng.uniform(-0.3, 0.3, (5 if a.wrong else 3, 32)),
        "linear0.bias": rng.uniform(-0.2, 0.2, (5 if a.wrong else 3,)),
    }
    if a.bn:   # bnnet: conv0, bn0 (random affine and running statistics), linear0
        t["bn0.weight"] = rng.uniform(0.5, 1.5, (2,))
        t["bn0.bias"] = rng.uniform(-0.3, 0.3, (2,))
        t["bn0.running_mean"] = rng.uniform(-0.2, 0.2, (2,))
        t["bn0.running_var"] = rng.uniform(0.5, 2.0, (2,))
    write_st(a.out, t)


# ---- optimizer parity ---------------------------------------------------------------------

def tiny_model(bn=False):
    """tinyconv of tests/train.test.sh: conv(2, 3); tanh; flatten; linear(3); with bn (bnnet), a
    batchnorm(momentum = 0.2) after the conv."""
    import torch
    import torch.nn as nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv0 = nn.Conv2d(1, 2, 3)
            if bn:
                self.bn0 = nn.BatchNorm2d(2, momentum=0.2)
            self.linear0 = nn.Linear(32, 3)

        def forward(self, x):
            x = self.conv0(x)
            if bn:
                x = self.bn0(x)
            return self.linear0(torch.flatten(torch.tanh(x), 1))

    return Tiny()


def cmd_optim(a):
    import torch
    import torch.nn.functional as F
    torch.manual_seed(0)
    model = tiny_model(a.model == "bn")
    model.train()
    w, _ = read_st(a.weights)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in w.items()}, strict=a.model != "bn")
    frozen = [k for k, _ in model.named_parameters() if a.freeze and (k == a.freeze or k.startswith(a.freeze + "."))]
    for k, p in model.named_parameters():
        p.requires_grad_(k not in frozen)
    params = [p for p in model.parameters() if p.requires_grad]
    if a.lr_for:   # parameter groups: the longest matching prefix gives a tensor its lr
        groups = {}
        for k, p in model.named_parameters():
            if not p.requires_grad:
                continue
            lr, best = a.lr, -1
            for item in a.lr_for:
                pre, v = item.rsplit("=", 1)
                if (k == pre or k.startswith(pre + ".")) and len(pre) >= best:
                    lr, best = float(v), len(pre)
            groups.setdefault(lr, []).append(p)
        params = [{"params": ps, "lr": lr} for lr, ps in groups.items()]
    if a.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=a.lr, momentum=a.momentum, nesterov=a.nesterov, weight_decay=a.wd)
    elif a.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=a.lr, weight_decay=a.wd)
    else:
        opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=a.wd)
    x, y = read_idx(a.data, "train")
    n, B = len(y), a.batch
    batches = [(s, min(s + B, n)) for s in range(0, n, B)]
    sched = None
    if a.onecycle:   # stepped after every update, momentum (or beta1) cycled
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.onecycle, total_steps=len(batches),
                                                    cycle_momentum=True)
    for i, (s, e) in enumerate(batches):
        if i % a.accumulate == 0:
            opt.zero_grad()
        out = model(torch.from_numpy(x[s:e]))
        weight = torch.tensor([float(v) for v in a.class_weights.split(",")]) if a.class_weights else None
        loss = F.cross_entropy(out, torch.from_numpy(y[s:e]), weight=weight, label_smoothing=a.smoothing) / a.accumulate
        loss.backward()
        if (i + 1) % a.accumulate == 0 or i == len(batches) - 1:
            if a.clip > 0:
                torch.nn.utils.clip_grad_norm_(params, a.clip)
            opt.step()
            if sched:
                sched.step()
    got, _ = read_st(a.run + "/last.safetensors")
    worst, where = 0.0, ""
    for k, v in model.state_dict().items():   # with bn: running statistics and step counter too
        ref = v.detach().numpy()
        if k not in got:
            raise Mismatch(f"optim {a.label}: no {k} in {a.run}/last.safetensors")
        if k.endswith("num_batches_tracked"):
            if got[k].shape != ref.shape or int(got[k]) != int(ref):
                raise Mismatch(f"optim {a.label}: {k} is {got[k]}, PyTorch {ref}")
            continue
        err = np.max(np.abs(got[k] - ref) / (np.abs(ref) + 1e-3))
        if err > worst:
            worst, where = err, k
        init = w[k]
        if k in frozen and not np.array_equal(got[k], init):
            raise Mismatch(f"optim {a.label}: frozen {k} changed")
    if worst > 1e-4:
        raise Mismatch(f"optim {a.label}: MISMATCH, worst relative error {worst:.3g} in {where}")
    # The weights must have moved: a run that did nothing would match nothing.
    moved = max(np.max(np.abs(got[k] - w[k])) for k in w)
    if moved < 1e-5:
        raise Mismatch(f"optim {a.label}: weights did not move")


# ---- dropout in training ------------------------------------------------------------------

def cmd_dropout(a):
    """PROG is dropnet (input [10]; linear(24); dropout(0.3); linear(3)) built with --batch 1.
    For several step seeds, `PROG grad --dropout-seed S` on one random input: the mask the
    forward drew and its scale are read off linear1's gradients (dW1[j] = dlogits[j] h_drop,
    db1[j] = dlogits[j]); PyTorch then redoes the step with that mask, so that the loss and
    linear0's gradients (which pass through the backward's mask) must agree; over all seeds,
    the fraction kept must be 1 - p and the kept elements scaled by 1 / (1 - p)."""
    import os
    import subprocess
    import torch
    import torch.nn.functional as F
    p, hidden, seeds = 0.3, 24, 24
    rng = np.random.default_rng(11)
    w = {"linear0.weight": rng.uniform(-0.5, 0.5, (hidden, 10)), "linear0.bias": rng.uniform(-0.2, 0.2, (hidden,)),
         "linear1.weight": rng.uniform(-0.5, 0.5, (3, hidden)), "linear1.bias": rng.uniform(-0.2, 0.2, (3,))}
    w = {k: v.astype(np.float32) for k, v in w.items()}
    wpath = os.path.join(a.work, "dropnet.safetensors")
    write_st(wpath, w)
    kept_total, masks = 0, set()
    for seed in range(1, seeds + 1):
        x = (rng.uniform(0.2, 1.0, (1, 10)) * rng.choice([-1, 1], (1, 10))).astype(np.float32)
        label = int(rng.integers(0, 3))
        xpath, gpath = os.path.join(a.work, "x.safetensors"), os.path.join(a.work, "g.safetensors")
        write_st_labels(xpath, x, label)
        r = subprocess.run([a.prog, "grad", "--weights", wpath, "--input", xpath, "--output", gpath,
                            "--dropout-seed", str(seed)], capture_output=True, text=True)
        if r.returncode != 0:
            raise Mismatch(f"dropout: grad failed: {r.stderr.strip()}")
        g, _ = read_st(gpath)
        t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in w.items()}
        h = (torch.from_numpy(x).double() @ t["linear0.weight"].T + t["linear0.bias"]).detach().numpy()[0]
        j = int(np.argmax(np.abs(g["linear1.bias"])))
        hd = g["linear1.weight"][j].astype(np.float64) / float(g["linear1.bias"][j])
        mask = np.abs(hd) > 1e-6 * np.max(np.abs(hd))
        if not mask.any():
            raise Mismatch(f"dropout: seed {seed}: every element dropped")
        scale = hd[mask] / h[mask]
        if np.max(np.abs(scale - 1 / (1 - p))) > 1e-3 * (1 / (1 - p)):
            raise Mismatch(f"dropout: seed {seed}: kept elements scaled by {scale.min():.5g}..{scale.max():.5g}, "
                           f"want 1/(1-p) = {1 / (1 - p):.5g}")
        kept_total += int(mask.sum())
        masks.add(mask.tobytes())
        m = torch.from_numpy(mask.astype(np.float64))
        hh = torch.from_numpy(x).double() @ t["linear0.weight"].T + t["linear0.bias"]
        out = (hh * m / (1 - p)) @ t["linear1.weight"].T + t["linear1.bias"]
        loss = F.cross_entropy(out, torch.tensor([label]))
        loss.backward()
        if abs(float(g["loss"]) - loss.item()) > 1e-5 * max(1.0, abs(loss.item())):
            raise Mismatch(f"dropout: seed {seed}: loss {float(g['loss']):.6g}, PyTorch {loss.item():.6g}")
        for k, v in t.items():
            ref = v.grad.numpy()
            err = np.max(np.abs(g[k] - ref)) / max(np.max(np.abs(ref)), 1e-6)
            if not err <= 1e-4:
                raise Mismatch(f"dropout: seed {seed}: gradient of {k} off by {err:.3g} (relative) from PyTorch "
                               f"with the forward's mask")
    frac, n = kept_total / (seeds * hidden), seeds * hidden
    sd = math.sqrt(p * (1 - p) / n)
    if abs(frac - (1 - p)) > 5 * sd:
        raise Mismatch(f"dropout: kept {frac:.3f} of {n} elements, want 1 - p = {1 - p} (5 sd = {5 * sd:.3f})")
    if len(masks) < seeds // 2:
        raise Mismatch(f"dropout: only {len(masks)} different masks for {seeds} seeds")


def write_st_labels(path, x, label):
    """A grad input: F32 'input' and I64 'labels' [1]."""
    header = {"input": {"dtype": "F32", "shape": list(x.shape), "data_offsets": [0, x.nbytes]},
              "labels": {"dtype": "I64", "shape": [1], "data_offsets": [x.nbytes, x.nbytes + 8]}}
    j = json.dumps(header).encode()
    j += b" " * ((8 - len(j) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(j)) + j + np.ascontiguousarray(x, "<f4").tobytes() +
                struct.pack("<q", label))


# ---- eval's metrics ------------------------------------------------------------------------

def cmd_evalcheck(a):
    """OUT is `tinyconv eval --weights WEIGHTS --data DATA` (test split): its accuracy, loss,
    per-class precision and recall and confusion matrix against the twin's predictions on the
    same images, counted here."""
    import torch
    import torch.nn.functional as F
    model = tiny_model()
    w, _ = read_st(a.weights)
    model.load_state_dict({k: torch.from_numpy(w[k]) for k in model.state_dict()})
    model.eval()
    x, y = read_idx(a.data, "test")
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    loss = F.cross_entropy(out.double(), torch.from_numpy(y)).item()
    top2 = torch.topk(out, 2, dim=1).values
    if float((top2[:, 0] - top2[:, 1]).min()) < 1e-4:
        raise Mismatch("evalcheck: a near tie between two classes; the comparison would be fragile")
    pred = out.argmax(1).numpy()
    k = out.shape[1]
    cm = np.zeros((k, k), dtype=np.int64)
    for t, q in zip(y, pred):
        cm[t, q] += 1
    with open(a.out) as f:
        text = f.read()
    lines = text.split("\n")
    import re
    m = re.search(r"\((\w+) split, (\d+) images\): loss ([0-9.]+)  accuracy ([0-9.]+)%", text)
    if not m:
        raise Mismatch("evalcheck: no summary line")
    if int(m.group(2)) != len(y) or abs(float(m.group(3)) - loss) > 1e-4 + 1e-4 * loss or \
            abs(float(m.group(4)) - 100 * np.mean(pred == y)) > 0.006:
        raise Mismatch(f"evalcheck: summary {m.group(0)!r}, want {len(y)} images, loss {loss:.4f}, accuracy "
                       f"{100 * np.mean(pred == y):.2f}%")
    at = lines.index("confusion matrix (rows: true class, columns: predicted class)")
    got = np.array([[int(v) for v in lines[at + 2 + i].split()[2:]] for i in range(k)])
    if got.shape != cm.shape or not np.array_equal(got, cm):
        raise Mismatch(f"evalcheck: confusion matrix {got.tolist()}, want {cm.tolist()}")
    hi = next(i for i, l in enumerate(lines) if l.startswith("class") and "precision" in l)
    head = [h.lower() for h in lines[hi].split()]
    for c in range(k):
        row = dict(zip(head, lines[hi + 1 + c].split()))
        col, tot = cm[:, c].sum(), cm[c].sum()
        want = {"precision": "%.2f%%" % (100 * cm[c, c] / col) if col else "-",
                "recall": "%.2f%%" % (100 * cm[c, c] / tot) if tot else "-", "images": str(tot)}
        if col and tot and cm[c, c]:
            pr, rc = cm[c, c] / col, cm[c, c] / tot
            want["f1"] = "%.2f%%" % (100 * 2 * pr * rc / (pr + rc))
        for key, v in want.items():
            if key in row and row[key] != v:
                raise Mismatch(f"evalcheck: class {c} {key} {row[key]}, want {v}")
            if key not in row and key != "f1":
                raise Mismatch(f"evalcheck: no {key} column in {lines[hi]!r}")
    if len(set(pred)) < 2:
        raise Mismatch("evalcheck: every image predicted the same class; the check proves little")
    if a.asymmetric and (np.array_equal(cm, cm.T) or all(cm[:, c].sum() == cm[c].sum() for c in range(k))):
        raise Mismatch("evalcheck: the confusion matrix is symmetric or precision equals recall; the check "
                       "could not tell rows from columns")


# ---- schedules ----------------------------------------------------------------------------

def read_log(path):
    with open(path) as f:
        lines = f.read().strip().split("\n")
    assert lines[0] == "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds", lines[0]
    rows = [[float(v) for v in l.split(",")] for l in lines[1:]]
    return rows


def cmd_sched(a):
    import torch
    rows = read_log(a.log)
    epochs = len(rows)
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=a.lr)
    S = torch.optim.lr_scheduler
    if a.kind == "step":
        s = S.StepLR(opt, step_size=int(a.args[0]), gamma=a.args[1])
    elif a.kind == "multistep":
        s = S.MultiStepLR(opt, milestones=[int(v) for v in a.args[:-1]], gamma=a.args[-1])
    elif a.kind == "exponential":
        s = S.ExponentialLR(opt, gamma=a.args[0])
    elif a.kind == "cosine":
        s = S.CosineAnnealingLR(opt, T_max=a.t_max or epochs - a.warmup, eta_min=a.args[0])
    elif a.kind == "plateau":
        s = S.ReduceLROnPlateau(opt, mode=a.mode, factor=a.args[0], patience=int(a.args[1]))
    elif a.kind == "onecycle":
        s = S.OneCycleLR(opt, max_lr=a.args[0], total_steps=epochs * a.steps, cycle_momentum=False,
                         pct_start=a.pct_start)
    if a.warmup:   # SequentialLR resets the lr and makes the first scheduler's initial step
        s = S.SequentialLR(opt, [S.LinearLR(opt, start_factor=a.warmup_factor, total_iters=a.warmup), s],
                           milestones=[a.warmup])
    want = []
    for e in range(epochs):
        if a.kind == "onecycle":
            for _ in range(a.steps):
                lr = opt.param_groups[0]["lr"]
                opt.step()
                s.step()
            want.append(lr)   # the epoch's last step
            continue
        want.append(opt.param_groups[0]["lr"])
        opt.step()
        if a.kind == "plateau":
            s.step(rows[e][3] if a.mode == "min" else rows[e][4])   # val loss, or val accuracy
        else:
            s.step()
    got = [r[5] for r in rows]
    bad = [(e + 1, g, w) for e, (g, w) in enumerate(zip(got, want)) if abs(g - w) > 1e-6 * abs(w) + 1e-12]
    if bad:
        raise Mismatch(f"sched {a.kind}: MISMATCH (epoch, cnnc, torch): {bad}")
    if len(set(round(w, 12) for w in want)) < 2:
        raise Mismatch(f"sched {a.kind}: the lr never changed, the test proves nothing: {want}")


def cmd_same(a):
    ta, _ = read_st(a.a)
    tb, _ = read_st(a.b)
    if sorted(ta) != sorted(tb):
        raise Mismatch(f"same: different tensors: {sorted(set(ta) ^ set(tb))}")
    diff = [k for k in ta if ta[k].tobytes() != tb[k].tobytes()]
    if diff:
        worst = max(float(np.max(np.abs(ta[k] - tb[k]))) for k in diff)
        raise Mismatch(f"same: {len(diff)} of {len(ta)} tensors differ (e.g. {diff[0]}, max {worst:.3g})")


def cmd_differ(a):
    try:
        cmd_same(a)
    except Mismatch:
        return
    raise Mismatch(f"differ: {a.a} and {a.b} hold the same tensors")


def cmd_unchanged(a):
    ta, _ = read_st(a.a)
    tb, _ = read_st(a.b)
    for k in tb:
        under = k == a.prefix or k.startswith(a.prefix + ".")
        equal = np.array_equal(ta[k], tb[k])
        if under != equal:
            raise Mismatch(f"unchanged: {k} {'changed' if under else 'did not change'}")


def cmd_svg(a):
    """An SVG that draws what it should: --curves N: the four panels' six polylines (train and
    validation loss and accuracy, learning rate, seconds per epoch) with N points each; --cells K TOTAL: a K x K grid of cells
    whose printed counts add up to TOTAL (the images evaluated)."""
    root = ET.parse(a.file).getroot()
    if not root.tag.endswith("svg"):
        raise Mismatch(f"svg: root is {root.tag}")
    tag = lambda e: e.tag.rsplit("}", 1)[-1]
    if a.curves is not None:
        lines = [e for e in root.iter() if tag(e) == "polyline"]
        points = [len(e.get("points", "").split()) for e in lines]
        if points != [a.curves] * 6:
            raise Mismatch(f"svg: want 6 curves of {a.curves} points, got points {points}")
    if a.cells is not None:
        k, total = a.cells
        cells = [e for e in root.iter() if tag(e) == "rect" and e.get("stroke") == "#eee"]
        counts = [int(e.text) for e in root.iter()   # the cells' counts (the class names have no fill)
                  if tag(e) == "text" and e.get("fill") and (e.text or "").strip().isdigit()]
        if len(cells) != k * k or sum(counts) != total:
            raise Mismatch(f"svg: want {k}x{k} cells counting {total} images, got {len(cells)} cells counting "
                           f"{sum(counts)}")
    if a.curves is None and a.cells is None:
        raise Mismatch("svg: say what the drawing must hold (--curves or --cells)")


def parser():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("data")
    p.add_argument("dir")
    for name in ("ntrain", "ntest", "h", "w", "k", "seed"):
        p.add_argument(name, type=int)
    p = sub.add_parser("bad")
    p.add_argument("dir")
    p.add_argument("kind")
    p = sub.add_parser("weights")
    p.add_argument("out")
    p.add_argument("seed", type=int)
    p.add_argument("--wrong", action="store_true")
    p.add_argument("--bn", action="store_true")
    p = sub.add_parser("dropout")
    p.add_argument("prog")
    p.add_argument("work")
    p = sub.add_parser("evalcheck")
    p.add_argument("out")
    p.add_argument("weights")
    p.add_argument("data")
    p.add_argument("--asymmetric", action="store_true", help="the matrix must tell rows from columns")
    p = sub.add_parser("optim")
    p.add_argument("run")
    p.add_argument("data")
    p.add_argument("weights")
    p.add_argument("--label", default="")
    p.add_argument("--optimizer", default="sgd")
    p.add_argument("--model", default="tiny")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--nesterov", action="store_true")
    p.add_argument("--wd", type=float, default=0.0)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--accumulate", type=int, default=1)
    p.add_argument("--clip", type=float, default=0.0)
    p.add_argument("--smoothing", type=float, default=0.0)
    p.add_argument("--freeze", default="")
    p.add_argument("--class-weights", default="")
    p.add_argument("--lr-for", action="append", default=[])
    p.add_argument("--onecycle", type=float, default=0.0)
    p = sub.add_parser("sched")
    p.add_argument("log")
    p.add_argument("kind")
    p.add_argument("args", type=float, nargs="*")
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--t-max", type=int, default=0)
    p.add_argument("--pct-start", type=float, default=0.3)
    p.add_argument("--mode", default="min")
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--warmup-factor", type=float, default=1 / 3)
    p = sub.add_parser("same")
    p.add_argument("a")
    p.add_argument("b")
    p = sub.add_parser("differ")
    p.add_argument("a")
    p.add_argument("b")
    p = sub.add_parser("unchanged")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("prefix")
    p = sub.add_parser("svg")
    p.add_argument("file")
    p.add_argument("--curves", type=int)
    p.add_argument("--cells", type=int, nargs=2)
    p = sub.add_parser("batch")
    p.add_argument("file")
    return ap


def run(argv):
    """Runs one check; (True, message) or (False, message)."""
    a = parser().parse_args(argv)
    try:
        globals()["cmd_" + a.cmd](a)
        return True, ""
    except Mismatch as e:
        return False, str(e)
    except Exception as e:   # a missing file, a malformed log: a failure, not a crash
        return False, f"{argv[0]}: {type(e).__name__}: {e}"


def cmd_batch(a):
    """Each line of FILE: NAME<TAB>CHECK ARGS (shell-quoted); prints PASS/FAIL NAME per line,
    so that torch is imported once for the whole test."""
    with open(a.file) as f:
        for line in f:
            if not line.strip():
                continue
            name, args = line.rstrip("\n").split("\t", 1)
            ok, msg = run(shlex.split(args))
            print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + msg), flush=True)


def main():
    ok, msg = run(sys.argv[1:])
    if not ok:
        print(msg)
        sys.exit(1)


if __name__ == "__main__":
    main()
