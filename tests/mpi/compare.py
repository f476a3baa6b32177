"""tests/mpi/compare.py: compares the model tensors (not the optimizer state) of two checkpoints (safetensors files
written by a program's train command), read here with json and numpy only.

    python3 compare.py A.safetensors B.safetensors TOL

Every tensor of A must be in B with the same shape; for each, the relative difference
||A - B|| / ||A|| (Euclidean norms over the tensor) must be at most TOL. The norm, not the
largest element, because Adam moves a weight whose gradient is a rounding error by a full step
of either sign (its update is m / sqrt(v)), so single elements may differ by lr after a few
steps while the tensor agrees. Prints the worst tensor and 'PASS' or 'FAIL'; exit status 0 or 1."""
import json
import struct
import sys

import numpy as np


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32" or name.startswith("optim."):
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b], dtype="<f4").reshape(info["shape"])
    return out


def main():
    a, b, tol = read(sys.argv[1]), read(sys.argv[2]), float(sys.argv[3])
    worst, worst_name = 0.0, None
    for name, x in a.items():
        if name not in b or b[name].shape != x.shape:
            print(f"FAIL {name}: missing or of another shape in {sys.argv[2]}")
            return 1
        x64 = x.astype(np.float64)
        scale = float(np.linalg.norm(x64)) or 1.0
        rel = float(np.linalg.norm(x64 - b[name])) / scale
        if rel >= worst:
            worst, worst_name = rel, name
    ok = worst <= tol and len(a) > 0
    print(f"{'PASS' if ok else 'FAIL'} {len(a)} tensors, worst {worst_name}: relative difference {worst:.3g} (tolerance {tol:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
