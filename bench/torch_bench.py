"""torch_bench.py: time a model in PyTorch the way `PROGRAM bench` times the compiled C.

    python3 bench/torch_bench.py MODEL.py --batch B --threads T --repeat R [--csv]

MODEL.py is what `cnnc --emit=torch` prints for the same .cnn file (it defines `Model`). The
model runs in eval mode under torch.no_grad() on uniform random images: first one image per
call (latency), then B images per call (throughput). Each figure is the median of R timed calls
after warm-up (at least 3 calls, and until 0.2 s has passed, at most max(R, 3) calls).

--mode picks how PyTorch runs the module:
  eager   the module as printed (nn.Module calls, oneDNN convolutions)
  frozen  torch.jit.optimize_for_inference(torch.jit.trace(...)): batchnorm folded into the
          convolutions, weights pre-packed for oneDNN (traced separately for 1 and B images)
  best    both, and each figure is the faster of the two (default: PyTorch at its best)

--csv prints one line, batch1_ms,batch_ms,images_per_s,mode1,modeB (images_per_s at batch B;
mode1 and modeB: which mode gave the figure), the same first three fields as
`PROGRAM bench --csv`.

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
    ap.add_argument("--mode", choices=["eager", "frozen", "best"], default="best")
    ap.add_argument("--csv", action="store_true")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = load_model(a.model).eval()
    with torch.no_grad():
        shape = input_shape(a.model)
        g = torch.Generator().manual_seed(2)
        x1 = torch.rand([1] + shape, generator=g)
        xb = torch.rand([a.batch] + shape, generator=g)
        r1 = best_time(model, x1, a)
        rb = best_time(model, xb, a)
    (t1, m1), (tb, mb) = r1, rb
    ips = a.batch / tb
    if a.csv:
        print(f"{t1 * 1e3:.6f},{tb * 1e3:.6f},{ips:.2f},{m1},{mb}")
    else:
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, mode {a.mode}")
        print(f"batch {1:<4d} {t1 * 1e3:10.4f} ms per call {1 / t1:12.1f} images/s  ({m1})")
        print(f"batch {a.batch:<4d} {tb * 1e3:10.4f} ms per call {ips:12.1f} images/s  ({mb})")


def best_time(model, x, a):
    """(seconds, mode) of the fastest mode allowed by --mode for input x."""
    results = []
    if a.mode in ("eager", "best"):
        results.append((time_forward(model, x, a.repeat), "eager"))
    if a.mode in ("frozen", "best"):
        try:
            frozen = torch.jit.optimize_for_inference(torch.jit.trace(model, x))
        except Exception as e:  # a model the tracer cannot take: eager only
            if a.mode == "frozen":
                raise
            print(f"torch_bench.py: frozen mode failed ({type(e).__name__}: {e}); eager only",
                  file=sys.stderr)
        else:
            results.append((time_forward(frozen, x, a.repeat), "frozen"))
            del frozen
    return min(results)

def input_shape(path):
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
