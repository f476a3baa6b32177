"""bench/distributed_model.py: the bandwidth and latency model of docs/distributed.md.

    python3 bench/distributed_model.py [CNNC] [RATE_TFLOPS] [LOCAL_BATCH]

For resnet18, resnet50 and vgg16 it reads `cnnc --emit=ir` (every op's trained parameters and
forward FLOPs per image, in execution order) and prints:
  - the bytes one training step moves per rank: the gradient (4 bytes per trained parameter,
    ring allreduce: each rank sends and receives 2(N-1)/N of it) and batchnorm's statistics
    (5 small allreduces per batchnorm layer: 2 in the forward, 3 in the backward);
  - the overlap the backward schedule allows: the backward runs the ops in reverse, and an op's
    gradients are complete when its backward is done, so a bucket of gradients can be summed
    while the backward of the ops before it still runs; only the last bucket (the first
    layers) cannot;
  - the scaling efficiency for 2 to 64 machines on 1, 10 and 100 Gbit/s networks: compute time
    / step time, with each machine training LOCAL_BATCH images per step at RATE_TFLOPS (a
    training step costs 3x the forward FLOPs), without overlap (what train does: one
    MPI_Allreduce after the backward) and with bucketed overlap.
Nothing here is measured: bench/distributed.sh measures the 2-rank case on one machine."""
import math
import re
import subprocess
import sys

NETS = [  # name, bits per second, per-message latency alpha (s)
    ("1 Gbit/s", 1e9, 50e-6),
    ("10 Gbit/s", 10e9, 20e-6),
    ("100 Gbit/s", 100e9, 5e-6),
]
LINK_EFFICIENCY = 0.9   # of the nominal rate, for TCP/IP or RDMA framing
BUCKET_BYTES = 8 << 20  # gradients are summed in buckets of at least this many bytes
RANKS = [2, 4, 8, 16, 32, 64]


def ops_of(cnnc, model):
    ir = subprocess.run([cnnc, "-O0", "--emit=ir", f"models/{model}.cnn"], check=True, capture_output=True,
                        text=True).stdout
    ops = []
    for line in ir.splitlines():
        m = re.match(r"%\d+ = (\w+) .*?-> \[([\d, ]+)\]", line)
        if not m:
            continue
        params = re.search(r"params=([\d,]+)", line)
        flops = re.search(r"flops=([\d,]+)", line)
        shape = [int(x) for x in m.group(2).split(",")]
        ops.append({
            "kind": m.group(1),
            "params": int(params.group(1).replace(",", "")) if params else 0,
            "flops": int(flops.group(1).replace(",", "")) if flops else 0,
            "channels": shape[1] if len(shape) > 1 else 0,
        })
    return ops


def allreduce_time(nbytes, n, bw, alpha):
    """Ring allreduce: 2(N-1) steps, each moving nbytes/N."""
    return 2 * (n - 1) / n * nbytes / bw + 2 * (n - 1) * alpha


def small_allreduce_time(nbytes, n, bw, alpha):
    """Recursive doubling, for batchnorm's few hundred bytes: log2(N) exchanges of the message."""
    return math.ceil(math.log2(n)) * (alpha + nbytes / bw)


def model(ops, n, bw_bits, alpha, rate, batch):
    bw = bw_bits / 8 * LINK_EFFICIENCY
    fwd = sum(o["flops"] for o in ops) * batch / rate
    grad_bytes = 4 * sum(o["params"] for o in ops)
    # Batchnorm: forward sums (C + 1) then C doubles, backward (C + 1), C and 2C.
    bn = [o["channels"] for o in ops if o["kind"] == "batchnorm"]
    t_bn = sum(small_allreduce_time(8 * m, n, bw, alpha) for c in bn for m in (c + 1, c, c + 1, c, 2 * c))
    compute = 3 * fwd
    t_comm = allreduce_time(grad_bytes, n, bw, alpha)
    blocking = compute / (compute + t_bn + t_comm)
    # Overlap: walk the backward (ops reversed), 2x each op's forward time; buckets go out on one
    # link in the order they fill.
    t, link, bucket = fwd, fwd, 0
    for o in reversed(ops):
        t += 2 * o["flops"] * batch / rate
        bucket += 4 * o["params"]
        if bucket >= BUCKET_BYTES:
            link = max(link, t) + allreduce_time(bucket, n, bw, alpha)
            bucket = 0
    if bucket:
        link = max(link, t) + allreduce_time(bucket, n, bw, alpha)
    exposed = max(0.0, link - t)
    overlapped = compute / (compute + t_bn + exposed)
    return grad_bytes, compute, t_comm, t_bn, blocking, overlapped


def schedule_overlap(ops):
    """The fraction of the gradient bytes complete after each quarter of the backward."""
    total_t = sum(2 * o["flops"] for o in ops)
    total_b = sum(o["params"] for o in ops)
    t = b = 0
    marks, out = [0.25, 0.5, 0.75], []
    for o in reversed(ops):
        t += 2 * o["flops"]
        b += o["params"]
        while marks and t >= marks[0] * total_t:
            out.append(b / total_b)
            marks.pop(0)
    first = next(o for o in ops if o["params"])   # the last gradient to complete
    tail = sum(2 * o["flops"] for o in ops[:ops.index(first) + 1]) / total_t
    return out, tail


def main():
    cnnc = sys.argv[1] if len(sys.argv) > 1 else "build/cnnc"
    rate = float(sys.argv[2]) * 1e12 if len(sys.argv) > 2 else 1e12
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    print(f"# {rate / 1e12:g} TFLOP/s per machine, {batch} images per machine per step, buckets of "
          f"{BUCKET_BYTES >> 20} MB, links at {LINK_EFFICIENCY:.0%} of nominal")
    for name in ("resnet18", "resnet50", "vgg16"):
        ops = ops_of(cnnc, name)
        params = sum(o["params"] for o in ops)
        nbn = sum(o["kind"] == "batchnorm" for o in ops)
        bn_bytes = sum(8 * (7 * o["channels"] + 2) for o in ops if o["kind"] == "batchnorm")
        quarters, tail = schedule_overlap(ops)
        print(f"\n## {name}: {params:,} trained parameters = {4 * params / 1e6:.1f} MB of gradient per step; "
              f"{nbn} batchnorm layers: {5 * nbn} allreduces of {bn_bytes / 1e3:.1f} KB in all per step")
        print(f"per rank and step, ring allreduce: sends and receives 2(N-1)/N x {4 * params / 1e6:.1f} MB "
              f"({4 * params / 1e6:.1f} MB at N=2, {2 * 63 / 64 * 4 * params / 1e6:.1f} MB at N=64)")
        print("gradient bytes complete after 25/50/75% of the backward: " +
              " / ".join(f"{q:.0%}" for q in quarters) +
              f"; the first layer's gradient (the last to complete) leaves {tail:.1%} of the backward to hide its sum")
        fwd = sum(o["flops"] for o in ops)
        print(f"compute per step: {3 * fwd * batch / rate * 1e3:.0f} ms")
        print("\nallreduce of the gradient, ms (batchnorm's sums, ms):\n")
        print("| network | " + " | ".join(f"N={n}" for n in RANKS) + " |")
        print("|---|" + "---|" * len(RANKS))
        for net, bw, alpha in NETS:
            cells = []
            for n in RANKS:
                _, _, tc, tbn, _, _ = model(ops, n, bw, alpha, rate, batch)
                cells.append(f"{tc * 1e3:.0f} ({tbn * 1e3:.1f})")
            print(f"| {net} | " + " | ".join(cells) + " |")
        print("\nscaling efficiency, blocking / overlapped:\n")
        print("| network | " + " | ".join(f"N={n}" for n in RANKS) + " |")
        print("|---|" + "---|" * len(RANKS))
        for net, bw, alpha in NETS:
            cells = []
            for n in RANKS:
                _, _, _, _, e1, e2 = model(ops, n, bw, alpha, rate, batch)
                cells.append(f"{e1:.0%} / {e2:.0%}")
            print(f"| {net} | " + " | ".join(cells) + " |")

if __name__ == "__main__":
    main()
