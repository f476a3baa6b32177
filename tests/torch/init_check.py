#!/usr/bin/python3
"""init_check.py: the init kinds and their arguments (`PROG init --init SPEC`, and a train
section's `init = ...`) against torch.nn.init's formulas. The random streams differ from
PyTorch's, so the check is on the distributions: a conv weight of 6,400 values (fan_in 25,
fan_out 6,400) must have the formula's standard deviation within 3% and a mean within 4
standard errors of the formula's (normal kinds), or lie inside the formula's bounds and reach
98% of them (uniform kinds), or equal the constant exactly; biases are 0 (but with default),
batchnorm weights 1.

    /usr/bin/python3 tests/torch/init_check.py --build BUILD
"""
import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train_ref  # noqa: E402

MODEL = """model wide(classes = 3) {
    input [1, 8, 8]
    conv(256, 5); batchnorm; relu
    flatten
    linear(classes)
}
train {
    batch = 4
    optimizer = sgd(lr = 1e-30)
    init = kaiming_normal(mode = fan_out, nonlinearity = relu)
}
"""
FAN_IN, FAN_OUT = 1 * 25, 256 * 25

# Per-layer init (`conv(..., init = ...)`): each layer's own init replaces the model-wide one
# (--init, here constant(0.5), which the last layer keeps).
LAYERS = """model layers {
    input [64, 8, 8]
    conv(256, 3, init = kaiming_normal(mode = fan_out, nonlinearity = relu))
    conv(64, 1, init = constant(0.25), bias = false)
    conv(64, 3, pad = 1, init = xavier_uniform(gain = 2))
    flatten
    linear(64, init = normal(0.1, std = 0.02))
    linear(512, init = uniform(-0.3, 0.1))
    linear(8)
}
"""
# name -> (shape, the torch.nn.init call on a tensor of that shape); the weights are compared
# with torch's own draw: mean and standard deviation within 4 standard errors of the two samples.
LAYER_REFS = {
    "conv0.weight": ((256, 64, 3, 3), lambda t, I: I.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")),
    "conv2.weight": ((64, 64, 3, 3), lambda t, I: I.xavier_uniform_(t, gain=2)),
    "linear0.weight": ((64, 2304), lambda t, I: I.normal_(t, 0.1, 0.02)),
    "linear1.weight": ((512, 64), lambda t, I: I.uniform_(t, -0.3, 0.1)),
}


def check_layer_inits(build, tmp, check):
    import torch
    src = os.path.join(tmp, "layers.cnn")
    open(src, "w").write(LAYERS)
    prog = os.path.join(tmp, "layers")
    r = subprocess.run([os.path.join(build, "cnnc"), src, "-o", prog], capture_output=True, text=True)
    if r.returncode:
        check(False, "per-layer init: cannot build: " + r.stderr.strip())
        return
    w_path = os.path.join(tmp, "layers.safetensors")
    r = subprocess.run([prog, "init", "--init", "constant(0.5)", "--save", w_path, "--seed", "3"], capture_output=True,
                       text=True)
    if r.returncode:
        check(False, "per-layer init: init failed: " + r.stderr.strip())
        return
    w = train_ref.read_st(w_path)[0]
    torch.manual_seed(0)
    for name, (shape, fn) in LAYER_REFS.items():
        x = w[name].astype(np.float64).ravel()
        t = torch.empty(shape, dtype=torch.float64)
        fn(t, torch.nn.init)
        ref = t.numpy().ravel()
        n1, n2 = x.size, ref.size
        se_mean = 4 * math.sqrt(ref.var() / n1 + ref.var() / n2)
        se_std = 4 * math.sqrt(1 / (2 * n1) + 1 / (2 * n2))  # normal's; uniform's is smaller
        ok = x.shape == ref.shape and abs(x.mean() - ref.mean()) < se_mean and abs(x.std() / ref.std() - 1) < se_std
        bias = name.replace("weight", "bias")
        ok = ok and not w[bias].any()   # an init other than default starts biases at 0
        check(ok, "per-layer %s: mean %.5g std %.5g; torch.nn.init: mean %.5g std %.5g (n %d)" %
              (name, x.mean(), x.std(), ref.mean(), ref.std(), n1))
    check((w["conv1.weight"] == np.float32(0.25)).all() and "conv1.bias" not in w,
          "per-layer conv1 init = constant(0.25): every weight exactly 0.25")
    check((w["linear2.weight"] == np.float32(0.5)).all() and (w["linear2.bias"] == 0).all(),
          "a layer without its own init keeps --init constant(0.5)")
    # a bad init value: one clear error naming file:line:col, exit 1, no output
    for bad, needle in [("conv(8, 3, init = kaiming_normal(mode = fan_up))",
                         "layers.cnn:3:45: error: conv: argument 'init': kaiming_normal: argument 'mode' must be fan_in or fan_out, got fan_up"),
                        ("conv(8, 3, init = normal(std = -1))",
                         "layers.cnn:3:36: error: conv: argument 'init': normal: argument 'std' must be a number > 0, got -1"),
                        ("conv(8, 3, init = he)", "layers.cnn:3:23: error: unknown init 'he'"),
                        ("conv(8, 3, init = 3)", "layers.cnn:3:23: error: conv: argument 'init' must be one of default")]:
        open(src, "w").write(LAYERS.replace(LAYERS.splitlines()[2].strip(), bad))
        out = os.path.join(tmp, "bad")
        r = subprocess.run([os.path.join(build, "cnnc"), src, "-o", out], capture_output=True, text=True)
        errors = [ln for ln in r.stderr.splitlines() if ": error:" in ln]
        check(r.returncode == 1 and len(errors) == 1 and needle in errors[0] and not os.path.exists(out),
              "bad per-layer init %s: exit %d, %s" % (bad, r.returncode, errors[0] if errors else "no message"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="cnnc-init-")
    passes, fails = [], []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        (passes if ok else fails).append(what)
    try:
        src = os.path.join(tmp, "wide.cnn")
        open(src, "w").write(MODEL)
        prog = os.path.join(tmp, "wide")
        r = subprocess.run([os.path.join(a.build, "cnnc"), src, "-o", prog], capture_output=True, text=True)
        if r.returncode:
            sys.exit("init_check: cannot build: " + r.stderr)
        gain_relu, gain_tanh = math.sqrt(2), 5 / 3
        normal_cases = [
            ("kaiming_normal", 0, math.sqrt(2 / FAN_IN)),
            ("kaiming_normal(mode=fan_out, nonlinearity=relu)", 0, gain_relu / math.sqrt(FAN_OUT)),
            ("kaiming_normal(1, nonlinearity=leaky_relu)", 0, 1 / math.sqrt(FAN_IN)),
            ("kaiming_normal(nonlinearity=tanh)", 0, gain_tanh / math.sqrt(FAN_IN)),
            ("kaiming_normal(0, fan_out, linear)", 0, 1 / math.sqrt(FAN_OUT)),
            ("normal(0.5, 0.01)", 0.5, 0.01),
            ("normal(std=2)", 0, 2),
            ("xavier_normal(gain=2)", 0, 2 * math.sqrt(2 / (FAN_IN + FAN_OUT))),
        ]
        xb = 2 * math.sqrt(6 / (FAN_IN + FAN_OUT))
        kb, kb_out = math.sqrt(2) * math.sqrt(3 / FAN_IN), gain_relu * math.sqrt(3 / FAN_OUT)
        uniform_cases = [("xavier_uniform(gain=2)", -xb, xb), ("uniform(-0.2, 0.3)", -0.2, 0.3), ("uniform", 0, 1),
                         ("kaiming_uniform", -kb, kb), ("kaiming_uniform(mode=fan_out, nonlinearity=relu)", -kb_out, kb_out)]
        w_path = os.path.join(tmp, "w.safetensors")

        def weights(spec):
            r = subprocess.run([prog, "init", "--init", spec, "--save", w_path, "--seed", "5"], capture_output=True,
                               text=True)
            if r.returncode:
                check(False, "%s: init failed: %s" % (spec, r.stderr.strip()))
                return None
            return train_ref.read_st(w_path)[0]
        for spec, mean, std in normal_cases:
            w = weights(spec)
            if w is None:
                continue
            x = w["conv0.weight"].astype(np.float64).ravel()
            ok = abs(x.std() / std - 1) < 0.03 and abs(x.mean() - mean) < 4 * std / math.sqrt(x.size)
            ok = ok and not w["conv0.bias"].any() and (w["bn0.weight"] == 1).all()
            check(ok, "%s: std %.5g (want %.5g), mean %.4g (want %g), biases 0" % (spec, x.std(), std, x.mean(), mean))
        for spec, lo, hi in uniform_cases:
            w = weights(spec)
            if w is None:
                continue
            x = w["conv0.weight"].astype(np.float64).ravel()
            span = hi - lo
            ok = x.min() >= lo and x.max() <= hi and x.min() < lo + 0.02 * span and x.max() > hi - 0.02 * span
            ok = ok and abs(x.mean() - (lo + hi) / 2) < 4 * span / math.sqrt(12 * x.size) and not w["linear0.bias"].any()
            check(ok, "%s: in [%.4g, %.4g] (want [%.4g, %.4g]), mean %.4g" % (spec, x.min(), x.max(), lo, hi, x.mean()))
        w = weights("constant(0.25)")
        if w is not None:
            check((w["conv0.weight"] == np.float32(0.25)).all() and (w["linear0.weight"] == np.float32(0.25)).all()
                  and not w["conv0.bias"].any(), "constant(0.25): every weight 0.25, biases 0")
        for bad, needle in [("kaiming_normal(mode=fan_up)", "fan_in or fan_out"), ("normal(std=-1)", "above 0"),
                            ("uniform(1, 0)", "a < b"), ("constant", "needs its value"), ("normal(1, 2, 3)", "fewer"),
                            ("xavier_uniform(nonlinearity=relu)", "no argument"), ("he", "not 'he'"),
                            ("normal(std=relu)", "takes a number")]:
            r = subprocess.run([prog, "init", "--init", bad, "--save", w_path], capture_output=True, text=True)
            lines = r.stderr.strip().splitlines()
            check(r.returncode == 2 and len(lines) == 1 and needle in r.stderr,
                  "bad --init %s: exit %d, %s" % (bad, r.returncode, lines[-1] if lines else "no message"))
        # The train section's init: one epoch at lr 1e-30 leaves the initial weights in last.
        d = os.path.join(tmp, "d")
        os.makedirs(d)
        train_ref.cmd_data(argparse.Namespace(dir=d, ntrain=8, ntest=4, h=8, w=8, k=3, seed=1))
        run = os.path.join(tmp, "run")
        r = subprocess.run([prog, "train", "--data", d, "--epochs", "1", "--quiet", "--save", run], capture_output=True,
                           text=True)
        if r.returncode:
            check(False, "train with the section's init: %s" % r.stderr.strip())
        else:
            x = train_ref.read_st(os.path.join(run, "last.safetensors"))[0]["conv0.weight"].astype(np.float64)
            std = math.sqrt(2) / math.sqrt(FAN_OUT)
            check(abs(x.std() / std - 1) < 0.03, "train section init = kaiming_normal(mode = fan_out, nonlinearity = "
                  "relu): std %.5g (want %.5g)" % (x.std(), std))
        check_layer_inits(a.build, tmp, check)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("init_kinds: %d passed, %d failed" % (len(passes), len(fails)))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
