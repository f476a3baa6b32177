"""tests/mpi/subset.py: writes the first NTRAIN training and NTEST test images (and labels) of
an IDX dataset (MNIST's file names, gzip-compressed or not) into DST, as plain IDX files.

    python3 subset.py SRC DST NTRAIN NTEST"""
import gzip
import os
import struct
import sys


def read(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with (gzip.open(p) if p.endswith(".gz") else open(p, "rb")) as f:
                return f.read()
    sys.exit(f"subset.py: {path} not found")


def main():
    src, dst, ntrain, ntest = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    os.makedirs(dst, exist_ok=True)
    for prefix, n in (("train", ntrain), ("t10k", ntest)):
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            data = read(os.path.join(src, f"{prefix}-{kind}"))
            ndim = data[3]
            dims = list(struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim]))
            per = 1
            for d in dims[1:]:
                per *= d
            n = min(n, dims[0])
            dims[0] = n
            body = data[4 + 4 * ndim:4 + 4 * ndim + n * per]
            with open(os.path.join(dst, f"{prefix}-{kind}"), "wb") as f:
                f.write(data[:4] + struct.pack(f">{ndim}I", *dims) + body)


if __name__ == "__main__":
    main()
