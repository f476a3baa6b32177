"""torch_layers.py: PyTorch's own time per conv layer in a training step, beside the per-layer
profile of bench/profile.sh --train (which prints cnnc's and runs this with PROFILE_TORCH=1).

    python3 bench/torch_layers.py MODEL.py --shape C,H,W --batch B --threads T --repeat R
                                  [--peak GFLOPS] [--only k1s2]

The step is bench/torch_train_step.py's (train mode, random images, cross-entropy, backward,
SGD with momentum), run R times after 3 warm-up steps under torch.profiler. Each nn.Conv2d's
forward (aten::convolution) and backward (aten::convolution_backward: the data and the weight
gradient in one call) are found by their input and weight shapes; layers of the same shapes
share a row (its ms are per layer: the row's time over the layers in it). Prints per row the ms
per step of the forward and of the backward, their GFLOP/s (2 * N * OC * IC/groups * KH * KW *
OH * OW a pass; the backward counts two) and, with --peak, their % of that peak. --only k1s2
keeps the 1x1 strided convs (ResNet's shortcuts). Only the thread count is set here; run it in
the environment bench/README.md gives PyTorch.
"""
import collections
import os
import sys

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_train_step import arguments, setup  # noqa: E402  (the same model, data and step)


def main():
    ap = arguments(10)
    ap.add_argument("--peak", type=float, default=0.0)
    ap.add_argument("--only", choices=["k1s2"], default=None)
    a = ap.parse_args()
    model, x, y, opt, loss_fn = setup(a)
    # each conv's input and output shapes at this batch, from a forward with hooks
    convs = []

    def hook(mod, inp, out):
        convs.append((mod, tuple(inp[0].shape), tuple(out.shape)))

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    names = {m: n for n, m in model.named_modules()}

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(a.repeat):
            step()
    # the profiler's rows by (op, input shapes): total self + children CPU time in us
    rows = collections.defaultdict(float)
    for ev in prof.key_averages(group_by_input_shape=True):
        if ev.key in ("aten::convolution", "aten::convolution_backward"):
            shapes = tuple(tuple(s) for s in ev.input_shapes if s)
            rows[(ev.key, shapes)] += ev.cpu_time_total
    groups = collections.OrderedDict()
    for mod, ish, osh in convs:
        if a.only == "k1s2" and not (mod.kernel_size == (1, 1) and mod.stride != (1, 1)):
            continue
        key = (ish, tuple(mod.weight.shape))
        groups.setdefault(key, []).append((names.get(mod, "?"), mod, osh))
    print("%-34s %9s %9s %9s %9s%s" % ("layer (PyTorch)", "fwd ms", "bwd ms", "fwd GF/s", "bwd GF/s",
                                     "  fwd %peak bwd %peak" if a.peak else ""))
    for (ish, wsh), layers in groups.items():
        name, mod, osh = layers[0]
        fwd = bwd = 0.0
        for (op, shapes), us in rows.items():
            if op == "aten::convolution" and len(shapes) >= 2 and shapes[0] == ish and shapes[1] == wsh:
                fwd += us
            if op == "aten::convolution_backward" and len(shapes) >= 3 and shapes[1] == ish and shapes[2] == wsh:
                bwd += us
        k = len(layers) * a.repeat * 1e3  # us -> ms per layer per step
        fwd, bwd = fwd / k, bwd / k
        flops = 2.0 * osh[0] * osh[1] * osh[2] * osh[3] * wsh[1] * wsh[2] * wsh[3]
        gf = lambda ms, f: f / (ms * 1e6) if ms > 0 else float("nan")
        label = name + (" x%d" % len(layers) if len(layers) > 1 else "")
        line = "%-34s %9.3f %9.3f %9.1f %9.1f" % (label, fwd, bwd, gf(fwd, flops), gf(bwd, 2 * flops))
        if a.peak:
            line += "  %9.1f%% %9.1f%%" % (100 * gf(fwd, flops) / a.peak, 100 * gf(bwd, 2 * flops) / a.peak)
        print(line)


if __name__ == "__main__":
    main()
