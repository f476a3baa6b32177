"""torch_bench.py: time a model in PyTorch the way `PROGRAM bench` times the compiled C.

    python3 bench/torch_bench.py MODEL.py --batch B --threads T --repeat R [--csv]

MODEL.py is what `cnnc --emit=torch` prints for the same .cnn file (it defines `Model`). The
model runs in eval mode under torch.no_grad() on uniform random images: first one image per
call (latency), then B images per call (throughput). Each figure is the median of R timed calls
after warm-up (at least 3 calls, and until 0.2 s has passed, at most max(R, 3) calls).

--csv prints one line, batch1_ms,batch_ms,images_per_s (images_per_s at batch B), the same
first three fields as `PROGRAM bench --csv`.

bench/run.sh runs this with the environment that gives PyTorch its best (see bench/README.md);
this script itself only sets the thread count.
"""
import argparse
import statistics
import sys
import time

import torch


def load_model(path):
    scope = {"__name__": "cnnc_torch_model"}
    with open(path) as f:
        code = compile(f.read(), path, "exec")
    exec(code, scope)
    return scope["Model"]()


def time_forward(model, x, repeat):
    start = time.perf_counter()
    i = 0
    while i < 3 or (i < max(repeat, 3) and time.perf_counter() - start < 0.2):
        model(x)
        i += 1
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description="Time a cnnc --emit=torch module in PyTorch.")
    ap.add_argument("model", help="the Python file printed by cnnc --emit=torch")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--csv", action="store_true")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = load_model(a.model).eval()
    with torch.no_grad():
        # The input shape: the module's docstring states it, but a probe is simpler and exact.
        shape = input_shape(model, a.model)
        g = torch.Generator().manual_seed(2)
        x1 = torch.rand([1] + shape, generator=g)
        xb = torch.rand([a.batch] + shape, generator=g)
        t1 = time_forward(model, x1, a.repeat)
        tb = time_forward(model, xb, a.repeat)
    ips = a.batch / tb
    if a.csv:
        print(f"{t1 * 1e3:.6f},{tb * 1e3:.6f},{ips:.2f}")
    else:
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
        print(f"batch {1:<4d} {t1 * 1e3:10.4f} ms per call {1 / t1:12.1f} images/s")
        print(f"batch {a.batch:<4d} {tb * 1e3:10.4f} ms per call {ips:12.1f} images/s")


def input_shape(model, path):
    """[C, H, W] (or [F]) from the "Input [N, ...]" line of the emitted docstring."""
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("Input [N, "):
                dims = line[len("Input [N, "):line.index("]")]
                return [int(d) for d in dims.split(",")]
    sys.exit(f"torch_bench.py: {path}: no 'Input [N, ...]' line in the module's docstring")


if __name__ == "__main__":
    main()
