#!/usr/bin/python3
"""import_check.py: `PROG import` against PyTorch.

1. Forward parity: a PyTorch model with random weights and random batchnorm statistics is saved
   with torch.save(model.state_dict(), F); `PROG import F -o W` then `PROG forward --weights W`
   must agree with the PyTorch model's own forward (on the input after cnnc's normalize layer)
   within rel = max|a - b| / max|b| <= 1e-4. Models: a LeNet-5 twin written here (always), and
   with --big torchvision's resnet18 and googlenet (aux_logits=False) at batch 1.
2. --partial: resnet18's checkpoint (1000 classes) onto resnet18 with 10 classes maps every
   tensor but fc.weight and fc.bias, which the table lists as fresh; without --partial it fails
   naming fc.weight (exit 1). The written file holds exactly the mapped tensors, bit-equal.
3. Formats: F16, BF16 and F64 state_dicts (values compared with torch's own conversion to
   float32), a non-contiguous tensor, a zip with deflated entries, a dict holding the state_dict
   under 'state_dict', and a safetensors source: each bit-equal to what PyTorch holds.
4. Hostile files: truncations, flipped bytes, crafted pickles (memo, stack, strides and sizes
   that lie), other zip contents, the legacy format, a pickled module: each gives exit 1 and one
   error line, never a crash, and no output file.

    /usr/bin/python3 tests/torch/import_check.py --build BUILD [--big] [--keep DIR]
"""
import argparse
import collections
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
TOL = 1e-4
failures = []
passes = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    (passes if ok else failures).append(what)


def run(args, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def write_safetensors(path, tensors, dtype="F32"):
    npdt = {"F32": "<f4", "F64": "<f8", "F16": "<f2"}[dtype]
    header, off, arrays = {}, 0, []
    for name, t in tensors:
        a = np.ascontiguousarray(t.detach().double().numpy().astype(npdt))
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        arrays.append(a)
        off += a.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for a in arrays:
            f.write(a.tobytes())


def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    out = collections.OrderedDict()
    for name, e in header.items():
        if e["dtype"] != "F32":
            continue
        b, end = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + b:8 + n + end], "<f4").reshape(e["shape"]).copy())
    return out


def rel_err(a, b):
    a, b = a.double(), b.double()
    return (a - b).abs().max().item() / max(b.abs().max().item(), 1e-30)


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=g) + 0.5)
                mod.bias.copy_(torch.rand(mod.bias.shape, generator=g) * 0.6 - 0.3)
                mod.running_mean.copy_(torch.rand(mod.running_mean.shape, generator=g) - 0.5)
                mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=g) + 0.5)
                mod.num_batches_tracked.fill_(7)
    return model.eval()


def build(cnnc, src, out, extra=()):
    r = run([cnnc, "--no-train", "--batch", "1"] + list(extra) + [src, "-o", out])
    if r.returncode != 0:
        sys.exit("import_check: cannot build %s: %s" % (src, r.stderr))
    return out


def lenet_twin():
    nn = torch.nn
    torch.manual_seed(3)
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(),
                         nn.Linear(84, 10)).eval()


def forward_parity(prog, model, shape, mean, std, tmp, tag, n=1):
    pt = os.path.join(tmp, tag + ".pt")
    torch.save(model.state_dict(), pt)
    w = os.path.join(tmp, tag + ".safetensors")
    r = run([prog, "import", pt, "-o", w])
    check(r.returncode == 0 and "by order" in r.stdout, "%s: import exits 0, mapping by order (%s)" % (tag, r.stderr.strip()))
    if r.returncode != 0:
        return
    x = torch.rand([n] + shape, generator=torch.Generator().manual_seed(5))
    xin, yout = os.path.join(tmp, tag + "-x.safetensors"), os.path.join(tmp, tag + "-y.safetensors")
    write_safetensors(xin, [("input", x)])
    r = run([prog, "forward", "--weights", w, "--input", xin, "--output", yout])
    check(r.returncode == 0, "%s: forward with the imported weights (%s)" % (tag, r.stderr.strip()))
    if r.returncode != 0:
        return
    mean_t = torch.tensor(mean).view(1, -1, 1, 1)
    std_t = torch.tensor(std).view(1, -1, 1, 1)
    with torch.no_grad():
        ref = model((x - mean_t) / std_t)
    e = rel_err(read_safetensors(yout)["output"], ref)
    check(e <= TOL, "%s: forward agrees with PyTorch's: rel %.1e <= %g" % (tag, e, TOL))
    return pt


def expect_bad(prog, path, tmp, what, needle=None):
    out = os.path.join(tmp, "bad-out.safetensors")
    if os.path.exists(out):
        os.remove(out)
    r = run([prog, "import", path, "-o", out])
    lines = r.stderr.strip().splitlines()
    ok = r.returncode == 1 and len(lines) == 1 and "error:" in lines[0] and not os.path.exists(out)
    if needle:
        ok = ok and needle in r.stderr
    check(ok, "hostile: %s: exit %d, %s" % (what, r.returncode, lines[-1] if lines else "no message"))


# ---- crafted pickles: the same opcodes torch.save writes, with values we choose -------------
class Storage:
    def __init__(self, key, numel, kind="FloatStorage"):
        self.key, self.numel, self.kind = key, numel, kind


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", getattr(torch, obj.kind), obj.key, "cpu", obj.numel)
        return None


def crafted_pt(path, entries, storages, raw_pickle=None):
    """entries: [(name, Tensor)]; storages: {key: bytes}. Written as torch.save lays it out."""
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(collections.OrderedDict(entries))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", raw_pickle if raw_pickle is not None else buf.getvalue())
        for k, b in storages.items():
            z.writestr("archive/data/" + k, b)
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


def lenet_entries(model):
    """The LeNet twin's state_dict as crafted entries (contiguous float32 storages)."""
    entries, storages = [], {}
    for i, (name, t) in enumerate(model.state_dict().items()):
        s = Storage(str(i), t.numel())
        storages[str(i)] = t.contiguous().numpy().astype("<f4").tobytes()
        stride, acc = [], 1
        for d in reversed(t.shape):
            stride.insert(0, acc)
            acc *= d
        entries.append((name, Tensor(s, 0, list(t.shape), stride)))
    return entries, storages


def hostile(prog, tmp, lenet):
    good = os.path.join(tmp, "lenet-good.pt")
    torch.save(lenet.state_dict(), good)
    raw = open(good, "rb").read()
    names = []
    for i, cut in enumerate([0, 3, 30, len(raw) // 3, len(raw) // 2, len(raw) - 23, len(raw) - 1]):
        p = os.path.join(tmp, "cut%d.pt" % i)
        open(p, "wb").write(raw[:cut])
        names.append((p, "cut to %d of %d bytes" % (cut, len(raw))))
    with zipfile.ZipFile(good) as z:
        infos = {i.filename: i for i in z.infolist()}
    pkl = [i for n, i in infos.items() if n.endswith("data.pkl")][0]
    st = [i for n, i in infos.items() if n.endswith("data/0")][0]
    for off, what in [(pkl.header_offset + 30 + len(pkl.filename) + 40, "a flipped byte in data.pkl"),
                      (st.header_offset + 200, "a flipped byte in a storage"),
                      (pkl.header_offset + 1, "a flipped byte in a local header")]:
        b = bytearray(raw)
        b[off] ^= 0x5a
        p = os.path.join(tmp, "flip%d.pt" % off)
        open(p, "wb").write(bytes(b))
        names.append((p, what))
    for p, what in names:
        expect_bad(prog, p, tmp, what)
    # every single truncation point of a small crafted file: never a crash
    small = os.path.join(tmp, "small.pt")
    crafted_pt(small, [("w", Tensor(Storage("0", 4), 0, [2, 2], [2, 1]))], {"0": b"\0" * 16})
    sraw = open(small, "rb").read()
    crashes = 0
    for cut in range(len(sraw)):
        p = os.path.join(tmp, "c.pt")
        open(p, "wb").write(sraw[:cut])
        r = run([prog, "import", p, "-o", os.path.join(tmp, "c.safetensors")])
        crashes += r.returncode != 1 or len(r.stderr.strip().splitlines()) != 1
    check(crashes == 0, "hostile: all %d truncations of a small checkpoint: exit 1, one line (%d not)" %
          (len(sraw), crashes))

    entries, storages = lenet_entries(lenet)
    p = os.path.join(tmp, "crafted-ok.pt")
    crafted_pt(p, entries, storages)
    r = run([prog, "import", p, "-o", os.path.join(tmp, "crafted-ok.safetensors")])
    check(r.returncode == 0, "crafted: the pickle generator's own state_dict imports (%s)" % r.stderr.strip())
    name0, t0 = entries[0]
    s0 = t0.args[0]
    cases = [
        ("a stride reaching past the storage", [(name0, Tensor(s0, 0, [6, 1, 5, 5], [26, 25, 5, 1]))], "past its storage"),
        ("an offset past the storage", [(name0, Tensor(s0, 10, [6, 1, 5, 5], [25, 25, 5, 1]))], "past its storage"),
        ("a storage shorter than it says", [(name0, Tensor(Storage("0", 10 ** 6), 0, [6, 1, 5, 5], [25, 25, 5, 1]))], "bytes"),
        ("a storage key not in the archive", [(name0, Tensor(Storage("99", 150), 0, [6, 1, 5, 5], [25, 25, 5, 1]))], "not in the archive"),
        ("a negative size", [(name0, Tensor(s0, 0, [6, -1, 5, 5], [25, 25, 5, 1]))], None),
        ("a huge shape over one element", [(name0, Tensor(s0, 0, [1 << 20, 1 << 20], [0, 0]))], "impossible shape"),
        ("an unknown storage type", [(name0, Tensor(Storage("0", 150, "ComplexFloatStorage"), 0, [6, 1, 5, 5], [25, 25, 5, 1]))], "storage type"),
    ]
    for what, ents, needle in cases:
        p = os.path.join(tmp, "crafted.pt")
        crafted_pt(p, ents + entries[1:], storages)
        expect_bad(prog, p, tmp, what, needle)
    for what, pk in [("a memo lookup never stored", b"\x80\x02h\x05."), ("a huge memo index", b"\x80\x02}r\xff\xff\xff\x7f."),
                     ("a pop from an empty stack", b"\x80\x020."), ("an unknown opcode", b"\x80\x02\xff."),
                     ("SETITEMS without a mark", b"\x80\x02}u."), ("a string longer than the pickle", b"\x80\x02X\xff\xff\xff\x00ab."),
                     ("a pickle without STOP", b"\x80\x02}"), ("an empty pickle", b""),
                     ("a dict of no tensors", b"\x80\x02}X\x01\x00\x00\x00aK\x01s."),
                     ("a pickled module", pickle.dumps(collections.Counter(), protocol=2))]:
        p = os.path.join(tmp, "pk.pt")
        crafted_pt(p, [], {}, raw_pickle=pk)
        expect_bad(prog, p, tmp, what)
    p = os.path.join(tmp, "nopkl.pt")
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("hello.txt", "hi")
    expect_bad(prog, p, tmp, "a zip without data.pkl", "data.pkl")
    p = os.path.join(tmp, "legacy.pt")
    torch.save(lenet.state_dict(), p, _use_new_zipfile_serialization=False)
    expect_bad(prog, p, tmp, "the legacy format", "legacy")
    p = os.path.join(tmp, "module.pt")
    torch.save(lenet, p)
    expect_bad(prog, p, tmp, "a whole pickled module", "state_dict")
    p = os.path.join(tmp, "random.pt")
    open(p, "wb").write(bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)))
    expect_bad(prog, p, tmp, "random bytes")
    expect_bad(prog, os.path.join(tmp, "missing.pt"), tmp, "a missing file")


def formats(prog, tmp, lenet):
    """Dtype conversions, strides, deflate, nesting and safetensors: bit-equal to PyTorch."""
    sd = lenet.state_dict()
    names = list(sd)
    variants = {
        "F16": collections.OrderedDict((k, v.half()) for k, v in sd.items()),
        "BF16": collections.OrderedDict((k, v.bfloat16()) for k, v in sd.items()),
        "F64": collections.OrderedDict((k, v.double()) for k, v in sd.items()),
    }
    tr = collections.OrderedDict(sd)
    tr[names[-2]] = sd[names[-2]].t().contiguous().t()   # linear weight [10, 84] stored transposed
    assert not tr[names[-2]].is_contiguous()
    variants["non-contiguous"] = tr
    variants["nested"] = {"epoch": 3, "state_dict": sd, "optimizer": {"lr": 0.1}}
    for tag, obj in variants.items():
        p = os.path.join(tmp, "fmt.pt")
        torch.save(obj, p)
        if tag == "F16":   # the same file with deflated entries
            q = os.path.join(tmp, "fmt-deflated.pt")
            with zipfile.ZipFile(p) as zi, zipfile.ZipFile(q, "w", zipfile.ZIP_DEFLATED) as zo:
                for i in zi.infolist():
                    zo.writestr(i.filename, zi.read(i.filename))
            check_same(prog, q, tmp, "F16 deflated", variants["F16"])
        check_same(prog, p, tmp, tag, obj.get("state_dict", obj) if tag == "nested" else obj)
    p = os.path.join(tmp, "fmt.safetensors")
    write_safetensors(p, [("t%d" % i, v) for i, v in enumerate(sd.values())], "F16")
    check_same(prog, p, tmp, "safetensors F16", collections.OrderedDict(
        (k, v.half()) for k, v in sd.items()))


def check_same(prog, src, tmp, tag, sd):
    out = os.path.join(tmp, "fmt-out.safetensors")
    r = run([prog, "import", src, "-o", out])
    if r.returncode != 0:
        check(False, "format %s: import failed: %s" % (tag, r.stderr.strip()))
        return
    got = read_safetensors(out)
    want = [v.float() for k, v in sd.items() if v.is_floating_point()]
    ok = len(got) == len(want) and all(torch.equal(a, b) for a, b in zip(got.values(), want))
    check(ok, "format %s: the written tensors equal PyTorch's .float() of the source" % tag)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--big", action="store_true", help="also resnet18 and googlenet (torchvision)")
    ap.add_argument("--keep")
    a = ap.parse_args()
    cnnc = os.path.join(os.path.abspath(a.build), "cnnc")
    tmp = a.keep or tempfile.mkdtemp(prefix="cnnc-import-")
    os.makedirs(tmp, exist_ok=True)
    try:
        torch.manual_seed(0)
        lenet = lenet_twin()
        prog = build(cnnc, os.path.join(TOP, "models", "lenet5.cnn"), os.path.join(tmp, "lenet5"))
        forward_parity(prog, lenet, [1, 28, 28], [0.2860], [0.3530], tmp, "lenet5", n=3)
        formats(prog, tmp, lenet)
        hostile(prog, tmp, lenet)
        r = run([prog, "import", "-o"])
        check(r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, "usage: -o without a value: exit 2")
        r = run([prog, "import", "a.pt", "b.pt", "-o", "x"])
        check(r.returncode == 2, "usage: two sources: exit 2")
        r = run([prog, "import", "a.pt"])
        check(r.returncode == 2, "usage: no -o: exit 2")
        if a.big:
            import torchvision
            imagenet = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
            import concurrent.futures
            models = os.path.join(TOP, "models")
            with concurrent.futures.ThreadPoolExecutor(2) as ex:   # the three builds side by side
                jobs = [ex.submit(build, cnnc, os.path.join(models, src), os.path.join(tmp, out), extra)
                        for src, out, extra in [("resnet18.cnn", "resnet18", ()), ("googlenet.cnn", "googlenet", ()),
                                                ("resnet18.cnn", "resnet18-10", ["-D", "classes=10"])]]
                prog, gprog, p10 = [j.result() for j in jobs]
            torch.manual_seed(1)
            r18 = randomize(torchvision.models.resnet18(), 11)
            pt = forward_parity(prog, r18, [3, 224, 224], *imagenet, tmp, "resnet18")
            torch.manual_seed(2)
            g = randomize(torchvision.models.GoogLeNet(aux_logits=False, init_weights=True), 12)
            forward_parity(gprog, g, [3, 224, 224], *imagenet, tmp, "googlenet")
            # --partial onto another head
            out = os.path.join(tmp, "r18-10.safetensors")
            r = run([p10, "import", pt, "-o", out])
            check(r.returncode == 1 and "fc.weight" in r.stderr and not os.path.exists(out),
                  "partial: without --partial the head is an error naming fc.weight (%s)" % r.stderr.strip())
            r = run([p10, "import", "--partial", pt, "-o", out])
            fresh = [l for l in r.stdout.splitlines() if l.startswith("fresh")]
            check(r.returncode == 0 and fresh == ["fresh (not written): fc.weight, fc.bias"],
                  "partial: exit 0, fresh: fc.weight, fc.bias (%s)" % (fresh or r.stderr.strip()))
            if r.returncode == 0:
                got = read_safetensors(out)
                want = [v for k, v in r18.state_dict().items() if v.is_floating_point()][:-2]
                check(len(got) == 100 and all(torch.equal(x, y) for x, y in zip(got.values(), want)),
                      "partial: the 100 written tensors equal the checkpoint's first 100")
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print("import: %d passed, %d failed" % (len(passes), len(failures)))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
