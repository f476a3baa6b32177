#!/usr/bin/env python3
"""tests/torch/train_ref.py: the PyTorch side of tests/train.test.sh.

    data DIR NTRAIN NTEST H W K SEED        a small learnable IDX dataset (uncompressed)
    bad DIR KIND                            DIR's train files damaged: magic, truncated, label
    weights OUT SEED [--wrong]              weights of the test's tiny model (conv0 [2,1,3,3],
                                            linear0 [3,32]); --wrong: linear0.weight [5,32]
    optim RUN DATA WEIGHTS [options]        redoes the run's optimizer steps with torch.optim on
                                            the hand-written twin and compares with RUN/last.safetensors
    sched LOG KIND [options]                the lr column of LOG against torch.optim.lr_scheduler
    same A B                                every tensor of A equals B's, bit for bit
    differ A B                              not so
    unchanged A B PREFIX                    tensors under PREFIX equal, the others differ
    svg FILE                                FILE is well-formed XML with an <svg> root
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
    write_st(a.out, t)


# ---- optimizer parity ---------------------------------------------------------------------

def tiny_model():
    """tinyconv of tests/train.test.sh: conv(2, 3); tanh; flatten; linear(3)."""
    import torch
    import torch.nn as nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv0 = nn.Conv2d(1, 2, 3)
            self.linear0 = nn.Linear(32, 3)

        def forward(self, x):
            return self.linear0(torch.flatten(torch.tanh(self.conv0(x)), 1))

    return Tiny()


def cmd_optim(a):
    import torch
    import torch.nn.functional as F
    torch.manual_seed(0)
    model = tiny_model()
    w, _ = read_st(a.weights)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in w.items()})
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
    got, _ = read_st(a.run + "/last.safetensors")
    worst, where = 0.0, ""
    for k, v in model.state_dict().items():
        ref = v.detach().numpy()
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
        s = S.CosineAnnealingLR(opt, T_max=a.t_max or epochs, eta_min=a.args[0])
    elif a.kind == "plateau":
        s = S.ReduceLROnPlateau(opt, mode=a.mode, factor=a.args[0], patience=int(a.args[1]))
    elif a.kind == "onecycle":
        s = S.OneCycleLR(opt, max_lr=a.args[0], total_steps=epochs * a.steps, cycle_momentum=False,
                         pct_start=a.pct_start)
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
    root = ET.parse(a.file).getroot()
    if not root.tag.endswith("svg"):
        raise Mismatch(f"svg: root is {root.tag}")
    n = sum(1 for _ in root.iter())


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
    p = sub.add_parser("optim")
    p.add_argument("run")
    p.add_argument("data")
    p.add_argument("weights")
    p.add_argument("--label", default="")
    p.add_argument("--optimizer", default="sgd")
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
    p = sub.add_parser("sched")
    p.add_argument("log")
    p.add_argument("kind")
    p.add_argument("args", type=float, nargs="*")
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--t-max", type=int, default=0)
    p.add_argument("--pct-start", type=float, default=0.3)
    p.add_argument("--mode", default="min")
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
