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

--train times training steps instead, as `PROGRAM bench --train` does: the module in train
mode, forward on B random images, cross-entropy (or focal) loss against random labels,
backward, and the optimizer's step (torch.optim.SGD, Adam or AdamW with the settings given by
--optimizer, --lr, ...; bench/run.sh copies them from the program's `bench --train --csv`
line), gradients reset with zero_grad(set_to_none=True). Modes: eager, and `frozen` here means
torch.jit.trace of the train-mode module (autograd runs through the traced graph); best keeps
the faster. --csv prints step_ms,images_per_s,mode.

bench/run.sh runs this with the environment that gives PyTorch its best (see bench/README.md);
this script itself only sets the thread count.
"""
import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F


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


def train_step_fn(model, opt, x, y, a):
    """One training step as a closure: forward, loss, backward, optimizer step."""
    if a.loss == "focal":
        def loss_fn(z):
            logp = F.log_softmax(z, dim=1).gather(1, y[:, None])[:, 0]
            return (-a.focal_alpha * (1 - logp.exp()) ** a.focal_gamma * logp).mean()
    else:
        def loss_fn(z):
            return F.cross_entropy(z, y, label_smoothing=a.label_smoothing)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x))
        loss.backward()
        opt.step()
        return loss
    return step


def make_optimizer(params, a):
    if a.optimizer == "sgd":
        return torch.optim.SGD(params, lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay,
                               nesterov=a.nesterov)
    kind = torch.optim.AdamW if a.optimizer == "adamw" else torch.optim.Adam
    return kind(params, lr=a.lr, betas=(a.beta1, a.beta2), eps=a.eps, weight_decay=a.weight_decay)


def time_train(step, repeat):
    start = time.perf_counter()
    i = 0
    while i < 3 or (i < max(repeat, 3) and time.perf_counter() - start < 0.2):
        step()
        i += 1
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_train(a):
    shape = input_shape(a.model)
    classes = output_classes(a.model)
    g = torch.Generator().manual_seed(2)
    x = torch.rand([a.batch] + shape, generator=g)
    y = torch.randint(0, classes, [a.batch], generator=g)
    results = []
    if a.mode in ("eager", "best"):
        torch.manual_seed(1)
        model = load_model(a.model).train()
        opt = make_optimizer(model.parameters(), a)
        results.append((time_train(train_step_fn(model, opt, x, y, a), a.repeat), "eager"))
        del model, opt
    if a.mode in ("frozen", "best"):
        torch.manual_seed(1)
        model = load_model(a.model).train()
        try:
            traced = torch.jit.trace(model, x, check_trace=False)
        except Exception as e:  # a model the tracer cannot take: eager only
            if a.mode == "frozen":
                raise
            print(f"torch_bench.py: traced mode failed ({type(e).__name__}: {e}); eager only",
                  file=sys.stderr)
        else:
            opt = make_optimizer(traced.parameters(), a)
            results.append((time_train(train_step_fn(traced, opt, x, y, a), a.repeat), "frozen"))
    t, mode = min(results)
    ips = a.batch / t
    if a.csv:
        print(f"{t * 1e3:.6f},{ips:.2f},{mode}")
    else:
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, mode {a.mode}, "
              f"{a.optimizer} lr {a.lr:g}, {a.loss}")
        print(f"train step batch {a.batch:<4d} {t * 1e3:10.4f} ms per step {ips:12.1f} images/s  ({mode})")


def main():
    ap = argparse.ArgumentParser(description="Time a cnnc --emit=torch module in PyTorch.")
    ap.add_argument("model", help="the Python file printed by cnnc --emit=torch")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--mode", choices=["eager", "frozen", "best"], default="best")
    ap.add_argument("--csv", action="store_true")
    ap.add_argument("--train", action="store_true", help="time training steps")
    ap.add_argument("--optimizer", choices=["sgd", "adam", "adamw"], default="adam")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--momentum", type=float, default=0.0)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--nesterov", type=int, default=0)
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--loss", choices=["cross_entropy", "focal"], default="cross_entropy")
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--focal-gamma", type=float, default=2.0)
    ap.add_argument("--focal-alpha", type=float, default=1.0)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    if a.train:
        bench_train(a)
        return
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


def output_classes(path):
    """The classes from the "output [N, K]" part of the emitted docstring."""
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("Input [N, ") and "output [N, " in line:
                rest = line[line.index("output [N, ") + len("output [N, "):]
                return int(rest[:rest.index("]")])
    sys.exit(f"torch_bench.py: {path}: no 'output [N, K]' in the module's docstring")


if __name__ == "__main__":
    main()
