#!/usr/bin/python3
"""random_models.py: random conv networks for the PyTorch parity checks.

Writes N models drawn from a seed into one .cnn file: convs of random channel counts (from 1 to
a few hundred, vector multiples and not), kernels (square or not, 1 to 7 taps), strides (1 to
4), padding (none, some, `same`), dilation and groups (depthwise included), batchnorm and
activations, pooling, residual blocks with projection shortcuts, concatenated, summed and
averaged branches, squeeze-and-excitation products, adaptive pooling, lrn and dropout, and a
linear head, each layer's shape worked out here so that every model is valid. The spatial
sizes and channel counts are what decides which of cnnc's conv kernels takes a layer
(compiler/ops/conv*.c), so a few hundred such models pass through all of them at shapes no
hand-written test names. parity.py and grad_parity.py check them (`--file`) against the module
`cnnc --emit=torch` prints, which computes with torch.nn's own layers:

    /usr/bin/python3 tests/torch/random_models.py --seed S --count N -o FILE.cnn
    /usr/bin/python3 tests/torch/parity.py --build build --file FILE.cnn
    /usr/bin/python3 tests/torch/grad_parity.py --build build --file FILE.cnn

The same seed always writes the same file. With --build, it does all of that for each seed of
--seeds, at batch sizes that vary with the seed (parity.py compiled for 8, 3, 16, 1 or 5
images, grad_parity.py's step on 4, 3, 8, 16, 2 or 5; every third seed's programs compiled by
gcc, the others by clang, unless $CC is set), and sorts the failures. A gradient that fails can
be a draw's bad luck rather than a wrong kernel: a relu's input within float32 rounding of 0
takes the other side of the relu than in float64, and that element's gradient and its
channel's batchnorm gradients move by percents (PyTorch's own float32 may happen to agree). So
each failing model is checked again under three other draws (renamed copies: the weights and
the input are drawn from the model's name) and counted as a finding only when it fails in all
of them. Exits 1 on a finding; `make fuzz-models` runs it (docs/testing.md, Random models),
and tests/random_models.test.sh a short fixed slice.

    /usr/bin/python3 tests/torch/random_models.py --build build --seeds 1-40 [--count 10] [--keep DIR]
"""
import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PARITY_BATCHES = [8, 3, 16, 1, 5]   # parity.py's compiled batch, by seed
GRAD_BATCHES = [4, 3, 8, 16, 2, 5]  # grad_parity.py's batch, by seed (not 1: batchnorm over one image)

ACTS = ["relu", "relu", "relu", "leaky_relu", "gelu", "silu", "tanh", "sigmoid", "hardswish", "relu6", "elu"]


def out_size(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


class Gen:
    def __init__(self, rng):
        self.r = rng
        self.lines = []

    def emit(self, text, depth=1):
        self.lines.append("    " * depth + text)

    def channels(self, c_in):
        r = self.r
        pick = r.random()
        if pick < 0.35:
            return r.randint(1, 40)
        if pick < 0.75:
            return r.choice([16, 24, 32, 48, 64, 96, 128])
        if pick < 0.9:
            return r.choice([c_in, 2 * c_in]) if c_in <= 256 else c_in
        return r.choice([160, 192, 256, 257])

    def conv(self, c, h, w):
        """A random conv on [c, h, w]; returns its text and output shape, or None."""
        r = self.r
        for _ in range(20):
            square = r.random() < 0.75
            kh = r.choice([1, 1, 2, 3, 3, 3, 3, 5, 7]) if square else r.randint(1, 5)
            kw = kh if square else r.randint(1, 5)
            s = r.choice([1, 1, 1, 2, 2, 3, 4])
            sw = s if r.random() < 0.85 else r.choice([1, 2])
            d = 1 if r.random() < 0.85 else r.choice([2, 3])
            same = s == 1 and sw == 1 and r.random() < 0.2
            if same:
                ph = pw = None
            else:
                ph = r.randint(0, (kh * d) // 2) if r.random() < 0.8 else 0
                pw = ph if r.random() < 0.8 else r.randint(0, (kw * d) // 2)
                pw = min(pw, (kw * d) // 2)
            oc = self.channels(c)
            g = 1
            pick = r.random()
            if pick < 0.15:
                g, oc = c, c * r.choice([1, 1, 2])           # depthwise (channel multiplier 1 or 2)
            elif pick < 0.3:
                common = [x for x in range(2, 33) if c % x == 0 and oc % x == 0]
                if common:
                    g = r.choice(common)
            if same:
                oh, ow = h, w
            else:
                oh, ow = out_size(h, kh, s, ph, d), out_size(w, kw, sw, pw, d)
            if oh < 1 or ow < 1:
                continue
            if c * kh * kw * oc // g > 600000 or oc * oh * ow > 200000:
                continue
            args = [str(oc), str(kh) if kh == kw else "[%d, %d]" % (kh, kw)]
            if s != 1 or sw != 1:
                args.append("stride = %s" % (str(s) if s == sw else "[%d, %d]" % (s, sw)))
            if same:
                args.append("pad = same")
            elif ph or pw:
                args.append("pad = %s" % (str(ph) if ph == pw else "[%d, %d]" % (ph, pw)))
            if d != 1:
                args.append("dilation = %d" % d)
            if g != 1:
                args.append("groups = %d" % g)
            if r.random() < 0.3:
                args.append("bias = false")
            return "conv(%s)" % ", ".join(args), (oc, oh, ow)
        return None

    def norm_act(self, shape):
        """A batchnorm (not on planes of fewer than 4 pixels: over a batch of 4 images its
        statistics would be ill-conditioned, in PyTorch's float32 as much as here) and an
        activation, each or neither."""
        r = self.r
        parts = []
        if r.random() < 0.5 and shape[1] * shape[2] >= 4:
            parts.append("batchnorm")
        if r.random() < 0.7:
            a = r.choice(ACTS)
            if a == "leaky_relu":
                a = "leaky_relu(slope = 0.1)"
            parts.append(a)
        return parts

    def layer(self, shape, depth=1):
        r = self.r
        c, h, w = shape
        pick = r.random()
        if pick < 0.12 and h >= 2 and w >= 2:
            k = r.choice([2, 2, 3])
            s = r.choice([k, 1, 2])
            p = r.randint(0, k // 2)
            kind = r.choice(["maxpool", "avgpool"])
            ceil = r.random() < 0.2
            oh = (h + 2 * p - k + (s - 1 if ceil else 0)) // s + 1
            ow = (w + 2 * p - k + (s - 1 if ceil else 0)) // s + 1
            # PyTorch's ceil mode drops a last window that starts in the padding
            if ceil:
                if (oh - 1) * s >= h + p:
                    oh -= 1
                if (ow - 1) * s >= w + p:
                    ow -= 1
            if oh < 1 or ow < 1 or h + 2 * p < k or w + 2 * p < k:
                return shape
            args = [str(k)]
            if s != k:
                args.append("stride = %d" % s)
            if p:
                args.append("pad = %d" % p)
            if ceil:
                args.append("ceil = true")
            self.emit("%s(%s)" % (kind, ", ".join(args)), depth)
            return (c, oh, ow)
        if pick < 0.2:
            return self.other(shape, depth)
        if pick < 0.27 and h >= 3 and w >= 3:
            return self.residual(shape, depth)
        if pick < 0.35 and h >= 2 and w >= 2:
            return self.concat(shape, depth)
        got = self.conv(c, h, w)
        if got is None:
            return shape
        text, out = got
        parts = self.norm_act(out)
        if parts[:1] == ["batchnorm"] and "bias = false" not in text:
            # a bias before a batchnorm has a gradient of 0 in exact arithmetic, only rounding
            # noise in float32 (PyTorch's too): no tolerance can compare it
            text = text[:-1] + ", bias = false)"
        self.emit("; ".join([text] + parts), depth)
        return out

    def other(self, shape, depth):
        """One of the layers and combinations besides convs and pools: adaptive average
        pooling, lrn, dropout, a squeeze-and-excitation product (mul), the sum or the mean of
        branches (add, average)."""
        r = self.r
        c, h, w = shape
        kind = r.choice(["adaptive", "lrn", "dropout", "se", "add", "average"])
        if kind == "adaptive":
            oh, ow = r.randint(1, h), r.randint(1, w)
            self.emit("adaptive_avgpool(%d, %d)" % (oh, ow), depth)
            return (c, oh, ow)
        if kind == "lrn":
            self.emit("lrn(size = %d)" % r.choice([2, 3, 5]), depth)
            return shape
        if kind == "dropout":
            self.emit("dropout(%s)" % r.choice(["0.1", "0.5"]), depth)
            return shape
        if kind == "se":
            self.emit("mul {", depth)
            self.emit("branch { identity }", depth + 1)
            self.emit("branch { global_avgpool; conv(%d, 1); relu; conv(%d, 1); %s }"
                      % (max(1, c // 4), c, r.choice(["sigmoid", "hardsigmoid"])), depth + 1)
            self.emit("}", depth)
            return shape
        oc = self.channels(c) if r.random() < 0.6 else c
        self.emit("%s {" % kind, depth)
        for i in range(r.randint(2, 3)):
            k = r.choice([1, 3, 5])
            st = "" if i == 0 and oc == c and r.random() < 0.3 else "conv(%d, %d, pad = %d)" % (oc, k, k // 2)
            self.emit("branch { %s }" % (st or "identity"), depth + 1)
        self.emit("}", depth)
        return (oc, h, w)

    def residual(self, shape, depth):
        r = self.r
        c, h, w = shape
        oc = r.choice([c, c, 2 * c, 64, 128]) if c <= 128 else c
        s = r.choice([1, 1, 2])
        k = r.choice([3, 3, 1, 5])
        p = k // 2
        oh, ow = out_size(h, k, s, p, 1), out_size(w, k, s, p, 1)
        if oh < 1 or ow < 1 or oh != out_size(h, 1, s, 0, 1) or ow != out_size(w, 1, s, 0, 1):
            s, oh, ow = 1, h, w
        self.emit("residual {", depth)
        st = ", stride = %d" % s if s != 1 else ""
        self.emit("conv(%d, %d%s, pad = %d, bias = false); batchnorm; relu" % (oc, k, st, p), depth + 1)
        self.emit("conv(%d, %d, pad = %d, bias = false); batchnorm" % (oc, k, p), depth + 1)
        if s != 1 or oc != c:
            self.emit("} shortcut {", depth)
            self.emit("conv(%d, 1%s, bias = false); batchnorm" % (oc, st), depth + 1)
        self.emit("}", depth)
        self.emit(r.choice(["relu", "relu", "silu"]), depth)
        return (oc, oh, ow)

    def concat(self, shape, depth):
        r = self.r
        c, h, w = shape
        self.emit("concat {", depth)
        total = 0
        for _ in range(r.randint(2, 3)):
            self.emit("branch {", depth + 1)
            kind = r.random()
            if kind < 0.25 and h >= 3 and w >= 3:
                self.emit("maxpool(3, stride = 1, pad = 1)", depth + 2)
                oc = c
            else:
                k = r.choice([1, 3, 5])
                oc = self.channels(c) if r.random() < 0.5 else r.randint(1, 48)
                self.emit("conv(%d, %d, pad = %d)%s" % (oc, k, k // 2, "; relu" if r.random() < 0.6 else ""), depth + 2)
            total += oc
            self.emit("}", depth + 1)
        self.emit("}", depth)
        return (total, h, w)

    def model(self, name):
        r = self.r
        self.lines = []
        pick = r.random()
        if pick < 0.2:
            c = r.choice([64, 96, 128, 256])
            h = w = r.choice([3, 4, 5, 7, 8])
        elif pick < 0.4:
            c = r.choice([16, 32, 64])
            h = r.randint(6, 20)
            w = r.randint(6, 20)
        else:
            c = r.randint(1, 8)
            h = r.randint(5, 48)
            w = h if r.random() < 0.6 else r.randint(5, 48)
        classes = r.randint(2, 12)
        self.emit("input [%d, %d, %d]" % (c, h, w))
        shape = (c, h, w)
        for _ in range(r.randint(1, 5)):
            shape = self.layer(shape)
        pick = r.random()
        if pick < 0.5:
            self.emit(r.choice(["global_avgpool", "global_maxpool"]))
            self.emit("flatten")
        else:
            if shape[0] * shape[1] * shape[2] > 20000:
                self.emit("global_avgpool")
            self.emit("flatten")
            if r.random() < 0.3:
                self.emit("linear(%d); relu" % r.randint(4, 40))
        self.emit("linear(classes)")
        return "model %s(classes = %d) {\n%s\n}\n" % (name, classes, "\n".join(self.lines))


def write_file(path, seed, count):
    gen = Gen(random.Random(seed))
    text = "# %d random models, seed %d (tests/torch/random_models.py)\n" % (count, seed)
    for i in range(count):
        text += gen.model("rand%d_%d" % (seed, i))
    with open(path, "w") as f:
        f.write(text)
    return text


def model_text(text, name):
    """The text of model name in a file's text."""
    m = re.search(r"^model %s\(.*?^}\n" % re.escape(name), text, re.M | re.S)
    return m.group(0)


def run_check(script, build, path, extra=(), cc=None):
    """(the failing models' names, the output) of parity.py or grad_parity.py on the file,
    the programs compiled by cc (cnnc's $CC) if given."""
    env = dict(os.environ)
    if cc:
        env["CC"] = cc
    p = subprocess.run([sys.executable, os.path.join(HERE, script), "--build", build, "--file", path] + list(extra),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env)
    failed = []     # each model once (parity.py prints a row per batch size)
    for name in re.findall(r"^(rand[0-9_a-z]+)\s.*\bFAIL\b", p.stdout, re.M):
        if name not in failed:
            failed.append(name)
    if p.returncode != 0 and not failed:
        failed = ["(the run: status %d)" % p.returncode]
    return failed, p.stdout


def campaign(args):
    first, _, last = args.seeds.partition("-")
    seeds = range(int(first), int(last or first) + 1)
    work = args.keep or tempfile.mkdtemp(prefix="cnnc-random-")
    os.makedirs(work, exist_ok=True)
    build = os.path.abspath(args.build)
    findings, passed_again, models = [], 0, 0
    try:
        for seed in seeds:
            path = os.path.join(work, "r%d.cnn" % seed)
            text = write_file(path, seed, args.count)
            models += args.count
            # the batch sizes vary with the seed: the jobs are cut between threads by images,
            # channel blocks or rows depending on the batch (parity.py runs batch 1 and the
            # compiled one; grad_parity.py's batch is the compiled one, and from 16 on runs
            # in batch slices)
            batches = {"parity.py": ["--compiled-batch", str(PARITY_BATCHES[seed % len(PARITY_BATCHES)])],
                       "grad_parity.py": ["--batch", str(GRAD_BATCHES[seed % len(GRAD_BATCHES)])]}
            # every third seed's programs are compiled by gcc (clang is cnnc's default)
            cc = "gcc" if seed % 3 == 2 and not os.environ.get("CC") else None
            for script in ("parity.py", "grad_parity.py"):
                extra = args.check_args + batches[script]
                failed, out = run_check(script, build, path, extra, cc)
                last_line = out.strip().splitlines()[-1] if out.strip() else "(no output)"
                print("seed %d %s %s%s: %s" % (seed, script, " ".join(batches[script]), " (gcc)" if cc else "", last_line))
                for name in failed:
                    if not name.startswith("rand"):
                        findings.append((seed, script, name, out))
                        continue
                    again = os.path.join(work, "r%d_%s.cnn" % (seed, name))
                    body = model_text(text, name)
                    with open(again, "w") as f:
                        for s in "abc":
                            f.write(body.replace("model %s(" % name, "model %s_%s(" % (name, s), 1))
                    refailed, out2 = run_check(script, build, again, extra, cc)
                    # a run that failed without naming a model (a crash) counts as all three
                    bad = 3 if any(not f.startswith("rand") for f in refailed) else len(refailed)
                    verdict = "a finding" if bad == 3 else "passes under %d of 3 other draws" % (3 - bad)
                    print("    %s failed; %s" % (name, verdict))
                    if bad == 3:
                        findings.append((seed, script, name, out + out2))
                    else:
                        passed_again += 1
                sys.stdout.flush()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    for seed, script, name, out in findings:
        print("FINDING seed %d, %s, %s:" % (seed, script, name))
        print("    " + "\n    ".join(line for line in out.splitlines() if name in line or line.startswith("    ")))
    checks = 2 * models     # each model's forward and gradients
    print("random_models: %d passed, %d failed (%d models, forward and gradients; %d failures passed under "
          "other draws)" % (checks - len(findings), len(findings), models, passed_again))
    return 1 if findings else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1, help="the draw of -o (default 1)")
    ap.add_argument("--count", type=int, default=10, help="models per file (default 10)")
    ap.add_argument("-o", dest="out", help="the .cnn file to write")
    ap.add_argument("--build", help="check: the build directory holding cnnc")
    ap.add_argument("--seeds", default="1", help="check: the seeds, N or FIRST-LAST (default 1)")
    ap.add_argument("--keep", help="check: keep the files in this directory")
    ap.add_argument("--fused-only", action="store_true", help="check: no -O0 programs (passed on to the checks)")
    args = ap.parse_args()
    if args.count < 1:
        sys.exit("random_models: --count must be at least 1")
    if not re.fullmatch(r"[0-9]+(-[0-9]+)?", args.seeds):
        sys.exit("random_models: --seeds takes N or FIRST-LAST, not %r" % args.seeds)
    if (args.out is None) == (args.build is None):
        sys.exit("random_models: give either -o FILE (write a file) or --build DIR (check)")
    if args.out:
        write_file(args.out, args.seed, args.count)
        return 0
    args.check_args = ["--fused-only"] if args.fused_only else []
    return campaign(args)


if __name__ == "__main__":
    sys.exit(main())
