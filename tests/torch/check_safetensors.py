#!/usr/bin/python3
"""check_safetensors.py: cross-checks cnnc's safetensors reader and writer (runtime/ckpt.c)
against an independent implementation written here with struct + json + numpy/torch (the
`safetensors` package is not used). Usage: check_safetensors.py CKPT_TOOL WORKDIR
Prints one PASS/FAIL line per check and exits non-zero when any check fails."""
import json
import os
import struct
import subprocess
import sys

import numpy as np
import torch

DTYPES = {  # safetensors name -> (numpy dtype, torch dtype)
    "F64": ("<f8", torch.float64), "F32": ("<f4", torch.float32),
    "I64": ("<i8", torch.int64), "I32": ("<i4", torch.int32),
}
NAME_OF = {t: n for n, (_, t) in DTYPES.items()}


def write_st(path, tensors, metadata=None, pad=True, shuffle_keys=False):
    """tensors: list of (name, torch tensor) in file order."""
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, t in tensors:
        data = t.contiguous().numpy().astype(DTYPES[NAME_OF[t.dtype]][0]).tobytes()
        entry = {"dtype": NAME_OF[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        if shuffle_keys:
            entry = dict(reversed(list(entry.items())))
        header[name] = entry
        blobs.append(data)
        off += len(data)
    text = json.dumps(header, indent=1 if shuffle_keys else None, ensure_ascii=shuffle_keys).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_st(path, strict=False):
    """Returns (list of (name, tensor) in header order, metadata). strict: the layout cnnc
    promises (padded header, contiguous offsets from 0 in header order)."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    text = raw[8:8 + n]
    header = json.loads(text)
    data = raw[8 + n:]
    if strict:
        assert n % 8 == 0, f"header length {n} is not a multiple of 8"
        assert text.rstrip(b" ").endswith(b"}"), "header is not JSON padded with spaces"
    meta = header.pop("__metadata__", None)
    out, expect = [], 0
    for name, e in header.items():
        b, end = e["data_offsets"]
        if strict:
            assert b == expect, f"{name}: data starts at {b}, expected {expect}"
        expect = end
        npd = DTYPES[e["dtype"]][0]
        arr = np.frombuffer(data[b:end], dtype=npd).copy().reshape(e["shape"])
        out.append((name, torch.from_numpy(arr)))
    if strict:
        assert expect == len(data), f"data is {len(data)} bytes, tensors cover {expect}"
    return out, meta


def value(n):  # the pattern of ckpt_tool.c's value(i): computed in double, rounded to float32
    i = np.arange(n, dtype=np.int64)
    return torch.from_numpy(((i * 37 % 101) / 7.0 - 5.0).astype(np.float32))


def ivalue(n):
    return torch.arange(n, dtype=torch.int64) * 1000003 - 77


def main():
    tool, work = sys.argv[1], sys.argv[2]
    failures, passes = [], []

    def check(name, fn):
        try:
            fn()
            passes.append(name)
            print(f"PASS {name}")
        except Exception as e:  # noqa: BLE001 - any failure is reported, the rest still run
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            failures.append(name)

    def run(*args, ok=True):
        r = subprocess.run([tool, *args], capture_output=True, text=True)
        if ok and r.returncode != 0:
            raise AssertionError(f"ckpt_tool {' '.join(args)} failed: {r.stderr.strip()}")
        return r

    g = torch.Generator().manual_seed(0)
    tensors = [
        ("conv0.weight", torch.randn(6, 3, 5, 5, generator=g)),
        ("conv0.bias", torch.randn(6, generator=g)),
        ("bn0.running_var", torch.rand(6, generator=g, dtype=torch.float64)),
        ("stage1.basic0.bn0.num_batches_tracked", torch.tensor(12345678901, dtype=torch.int64)),
        ("labels", torch.tensor([3, 1, 4, 1, 5, 9, 2, 6], dtype=torch.int64)),
        ("labels32", torch.tensor([-7, 2147483647, 0], dtype=torch.int32)),
        ("specials", torch.tensor([0.0, -0.0, float("inf"), -float("inf"), 1e-45, 3.4e38])),
        ("empty", torch.zeros(0, 4)),
        ("sc\u00e9 \"q\"", torch.tensor(2.5)),
    ]
    meta = {"format": "pt", "note": "caf\u00e9 \\ \"quoted\""}

    def roundtrip(pad, shuffle):
        src = os.path.join(work, f"py_{pad}_{shuffle}.safetensors")
        dst = os.path.join(work, f"c_{pad}_{shuffle}.safetensors")
        write_st(src, tensors, meta, pad=pad, shuffle_keys=shuffle)
        run("copy", src, dst)
        back, bmeta = read_st(dst, strict=True)
        assert [n for n, _ in back] == [n for n, _ in tensors], "tensor order differs"
        assert bmeta == meta, f"metadata {bmeta} != {meta}"
        for (name, a), (_, b) in zip(tensors, back):
            want = a.float() if a.dtype == torch.float64 else a
            assert b.dtype == want.dtype, f"{name}: dtype {b.dtype}, expected {want.dtype}"
            assert b.shape == want.shape, f"{name}: shape {list(b.shape)} != {list(want.shape)}"
            if want.is_floating_point():
                assert torch.equal(b.view(torch.int32) if b.numel() else b,
                                   want.view(torch.int32) if b.numel() else want), f"{name}: values differ"
            else:
                assert torch.equal(b, want), f"{name}: values differ"

    check("python writes (padded), C reads and rewrites, python compares bit for bit",
          lambda: roundtrip(True, False))
    check("python writes (unpadded, reordered keys, indented, \\u escapes), C reads",
          lambda: roundtrip(False, True))

    def c_writes():
        path = os.path.join(work, "c_made.safetensors")
        run("make", path)
        got, m = read_st(path, strict=True)
        got = dict(got)
        assert m == {"format": "pt", "written_by": 'cnnc "ckpt_tool"'}, f"metadata {m}"
        shapes = {"conv0.weight": [6, 1, 5, 5], "conv0.bias": [6], "linear0.weight": [10, 24], "loss": []}
        for name, shape in shapes.items():
            n = int(np.prod(shape)) if shape else 1
            assert list(got[name].shape) == shape, f"{name}: shape {list(got[name].shape)}"
            assert torch.equal(got[name].reshape(-1), value(n)), f"{name}: values differ"
        assert torch.equal(got["labels"], ivalue(7)), "labels differ"
        # The names and layouts load into PyTorch modules as they are.
        conv = torch.nn.Conv2d(1, 6, 5)
        conv.load_state_dict({"weight": got["conv0.weight"], "bias": got["conv0.bias"]})
        lin = torch.nn.Linear(24, 10, bias=False)
        lin.load_state_dict({"weight": got["linear0.weight"]})
        x = torch.ones(1, 1, 5, 5)
        assert torch.allclose(conv(x).reshape(-1), got["conv0.weight"].sum((1, 2, 3)) + got["conv0.bias"])

    check("C writes, python reads (strict layout) and loads into nn.Conv2d/nn.Linear", c_writes)

    def python_writes_pattern():
        path = os.path.join(work, "py_pattern.safetensors")
        t = [("labels", ivalue(7).to(torch.int32)),
             ("loss", value(1).reshape(())),
             ("linear0.weight", value(240).reshape(10, 24).double()),
             ("conv0.bias", value(6)),
             ("conv0.weight", value(150).reshape(6, 1, 5, 5))]
        write_st(path, t, {"written_by": 'torch "check_safetensors.py" \u00e9'})
        run("check", path)

    check("python writes (I32, F64, any order), C checks every value", python_writes_pattern)

    def errors():
        path = os.path.join(work, "py_True_False.safetensors")   # written by the first check
        r = run("get", path, "conv0.weight", "6", "1", "5", "5", ok=False)
        want = f"{path}: tensor 'conv0.weight' has shape [6, 3, 5, 5], model expects [6, 1, 5, 5]\n"
        assert r.returncode == 1 and r.stderr == want, f"got {r.returncode} {r.stderr!r}"
        r = run("get", path, "labels", "8", ok=False)
        assert r.returncode == 1 and r.stderr == f"{path}: tensor 'labels' has dtype I64, model expects F32\n", r.stderr
        r = run("get", path, "conv0.weights", "6", ok=False)
        assert r.returncode == 1 and "no tensor 'conv0.weights' (did you mean 'conv0.weight'?)" in r.stderr, r.stderr
        # A file cut short: one line, exit 1.
        cut = os.path.join(work, "cut.safetensors")
        open(cut, "wb").write(open(path, "rb").read()[:-10])
        r = run("get", cut, "conv0.weight", "6", "3", "5", "5", ok=False)
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and "beyond the end of the data" in r.stderr, r.stderr

    check("C reports shape, dtype, name and truncation errors in one line", errors)

    print(f"runtime_torch: {len(passes)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
