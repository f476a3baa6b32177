#!/usr/bin/python3
"""visualize_check.py: `PROG visualize` against PyTorch. A small model with random weights
(batchnorm statistics included) is compiled; its PNGs are decoded with PIL and every tile's
pixels are compared with the values a hand-written PyTorch twin computes from the same
weights and image, after the documented normalization (per tile: round(255 (v - min) /
(max - min)), nearest-neighbour blocks of K x K pixels, ceil(sqrt(T)) columns, 1-pixel white
lines), within 1 grey level:
  - the first conv layer's filters: RGB tiles for a 3-channel conv, grey (filter, channel)
    tiles otherwise;
  - the feature maps of every layer `visualize --list` names (each the output of its fused
    group, e.g. conv1 + bn0 + relu, computed here op by op in the twin), at the default
    scale and at --scale 1.
Bad uses: an unknown layer and --layer without --image (exit 2), a file that is not an image
and an image of the wrong size (exit 1), --scale 0 (exit 2): one line on stderr, no PNG.

    /usr/bin/python3 tests/torch/visualize_check.py --build BUILD
"""
import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train_ref  # noqa: E402

MODEL = """model vis(classes = 3) {
    input [3, 10, 10]
    conv(5, 3, pad = 1); relu
    conv(4, 3); batchnorm; relu
    maxpool(2)
    conv(6, 1)
    flatten
    linear(classes)
}
model vis_grey {
    input [2, 8, 8]
    conv(3, 3)
    flatten
    linear(2)
}
"""


def run(args):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def expected_tiles(tiles):
    """tiles: [T, C, H, W] float64 -> [T, H, W, C] grey levels after the per-tile normalization."""
    out = []
    for t in tiles:
        lo, hi = t.min(), t.max()
        q = np.round(255 * (t - lo) / (hi - lo)) if hi > lo else np.zeros_like(t)
        out.append(np.transpose(q, (1, 2, 0)))
    return out


def layout(tiles, scale):
    t = len(tiles)
    h, w = tiles[0].shape[0], tiles[0].shape[1]
    if scale is None:
        side = max(h, w)
        scale = 1 if side >= 32 else min(16, 32 // side)
    cols = math.isqrt(t - 1) + 1 if t > 1 else 1
    return scale, cols, h, w


def compare_png(path, tiles, scale=None):
    """Max grey-level difference between the PNG's tiles and the expected ones; None on layout mismatch."""
    scale, cols, h, w = layout(tiles, scale)
    rows = (len(tiles) + cols - 1) // cols
    img = np.asarray(Image.open(path)).astype(np.int64)
    if img.ndim == 2:
        img = img[:, :, None]
    want_shape = (1 + rows * (h * scale + 1), 1 + cols * (w * scale + 1), tiles[0].shape[2])
    if img.shape != want_shape:
        return None, "PNG is %s, expected %s" % (img.shape, want_shape)
    worst = 0
    for i, t in enumerate(tiles):
        y0, x0 = 1 + (i // cols) * (h * scale + 1), 1 + (i % cols) * (w * scale + 1)
        block = np.repeat(np.repeat(t, scale, 0), scale, 1)
        worst = max(worst, int(np.abs(img[y0:y0 + h * scale, x0:x0 + w * scale] - block).max()))
        # the white frame to the left of and above the tile
        if img[y0 - 1, x0:x0 + w * scale].min() != 255 or img[y0:y0 + h * scale, x0 - 1].min() != 255:
            return None, "tile %d is not framed by white lines" % i
    return worst, ""


class Vis(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 5, 3, padding=1)
        self.conv1 = nn.Conv2d(5, 4, 3)
        self.bn0 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 6, 1)

    def steps(self):
        """(op name as the IR prints it, function), in the order of the .cnn file."""
        return [("conv0", self.conv0), ("relu", F.relu), ("conv1", self.conv1), ("bn0", self.bn0),
                ("relu", F.relu), ("maxpool", lambda x: F.max_pool2d(x, 2)), ("conv2", self.conv2)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="cnnc-vis-")
    fails, passes = [], []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        (passes if ok else fails).append(what)
    try:
        src = os.path.join(tmp, "vis.cnn")
        open(src, "w").write(MODEL)
        prog, grey = os.path.join(tmp, "vis"), os.path.join(tmp, "vis_grey")
        for name, p in (("vis", prog), ("vis_grey", grey)):
            # Batch 2: at batch 1 conv0 would be streamed into conv1 (conv_stream.c) and its
            # output never written, so --list would show it inside conv1's group.
            r = run([os.path.join(a.build, "cnnc"), "--model", name, src, "-o", p, "--batch", "2"])
            if r.returncode:
                sys.exit("visualize: FAIL: cnnc: " + r.stderr)
        rng = np.random.default_rng(7)
        t = {"conv0.weight": rng.normal(0, 0.5, (5, 3, 3, 3)), "conv0.bias": rng.normal(0, 0.2, 5),
             "conv1.weight": rng.normal(0, 0.4, (4, 5, 3, 3)), "conv1.bias": rng.normal(0, 0.2, 4),
             "bn0.weight": rng.uniform(0.5, 1.5, 4), "bn0.bias": rng.normal(0, 0.3, 4),
             "bn0.running_mean": rng.normal(0, 0.3, 4), "bn0.running_var": rng.uniform(0.5, 2, 4),
             "conv2.weight": rng.normal(0, 0.5, (6, 4, 1, 1)), "conv2.bias": rng.normal(0, 0.2, 6),
             "linear0.weight": rng.normal(0, 0.3, (3, 96)), "linear0.bias": rng.normal(0, 0.1, 3)}
        t = {k: v.astype(np.float32) for k, v in t.items()}
        wpath = os.path.join(tmp, "w.safetensors")
        train_ref.write_st(wpath, t)
        tg = {"conv0.weight": rng.normal(0, 0.5, (3, 2, 3, 3)).astype(np.float32),
              "conv0.bias": np.zeros(3, np.float32),
              "linear0.weight": rng.normal(0, 0.3, (2, 108)).astype(np.float32),
              "linear0.bias": np.zeros(2, np.float32)}
        wgrey = os.path.join(tmp, "wg.safetensors")
        train_ref.write_st(wgrey, tg)
        px = rng.integers(0, 256, (10, 10, 3)).astype(np.uint8)
        img = os.path.join(tmp, "img.ppm")
        open(img, "wb").write(b"P6\n10 10\n255\n" + px.tobytes())
        x = torch.tensor(np.transpose(px, (2, 0, 1))[None].astype(np.float64) / 255)

        # filters
        out = os.path.join(tmp, "filters.png")
        r = run([prog, "visualize", "--weights", wpath, "-o", out])
        tiles = expected_tiles(t["conv0.weight"].astype(np.float64))
        worst, why = compare_png(out, tiles) if r.returncode == 0 else (None, r.stderr.strip())
        check(worst is not None and worst <= 1, "RGB filters of conv0 (5 tiles 3x3): max difference %s grey levels %s"
              % (worst, why))
        out = os.path.join(tmp, "grey.png")
        r = run([grey, "visualize", "--weights", wgrey, "-o", out, "--scale", "3"])
        w = tg["conv0.weight"].astype(np.float64)
        tiles = expected_tiles(w.reshape(6, 1, 3, 3))
        worst, why = compare_png(out, tiles, 3) if r.returncode == 0 else (None, r.stderr.strip())
        check(worst is not None and worst <= 1, "grey filters of a 2-channel conv (6 tiles, --scale 3): max difference"
              " %s grey levels %s" % (worst, why))

        # feature maps of every layer --list names
        twin = Vis().double().eval()
        twin.load_state_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in t.items()
                              if not k.startswith("linear")}, strict=True)
        listing = run([prog, "visualize", "--list"]).stdout.splitlines()
        layers = [re.match(r"(\S+)\s+\[(\d+), (\d+), (\d+)\]\s+(.*)", l).groups() for l in listing[1:]]
        check(len(layers) >= 2 and listing[0].startswith("filters: conv0.weight [5, 3, 3, 3]"),
              "--list: %d layers: %s" % (len(layers), "; ".join(l[4] for l in layers)))
        steps, at, v = twin.steps(), 0, x
        with torch.no_grad():
            for name, c, h, w_, what in layers:
                for op in what.split(" + "):
                    if op == "normalize":
                        continue
                    while at < len(steps) and steps[at][0] != op:
                        at += 1
                    if at == len(steps):
                        break
                    v = steps[at][1](v)
                    at += 1
                maps = v[0].numpy()
                shape_ok = list(maps.shape) == [int(c), int(h), int(w_)]
                for scale in (None, 1):
                    out = os.path.join(tmp, "maps_%s_%s.png" % (name, scale))
                    args = [prog, "visualize", "--weights", wpath, "--layer", name, "--image", img, "-o", out]
                    r = run(args + (["--scale", str(scale)] if scale else []))
                    tiles = expected_tiles(maps[:, None])
                    worst, why = compare_png(out, tiles, scale) if r.returncode == 0 and shape_ok else \
                        (None, r.stderr.strip() or "shape %s vs [%s, %s, %s]" % (maps.shape, c, h, w_))
                    check(worst is not None and worst <= 1, "feature maps of %s (%s), scale %s: max difference %s grey "
                          "levels %s" % (name, what, scale or "default", worst, why))

        # bad uses: one line, the documented exit, no file
        notimg = os.path.join(tmp, "notes.txt")
        open(notimg, "w").write("hello\n")
        small = os.path.join(tmp, "small.ppm")
        open(small, "wb").write(b"P6\n4 4\n255\n" + bytes(48))
        bad = [(["--layer", "conv9", "--image", img], 2, "conv9"),
               (["--layer", "conv0"], 2, "--image"),
               (["--layer", "conv0", "--image", notimg], 1, "notes.txt"),
               (["--layer", "conv0", "--image", small], 1, "small.ppm"),
               (["--scale", "0"], 2, "--scale")]
        for extra, code, word in bad:
            out = os.path.join(tmp, "bad.png")
            r = run([prog, "visualize", "--weights", wpath, "-o", out] + extra)
            err = r.stderr.strip().splitlines()
            check(r.returncode == code and len(err) == 1 and word in err[0] and not os.path.exists(out),
                  "%s: exit %d (want %d), %r, no PNG" % (" ".join(extra), r.returncode, code, err))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("visualize: %d passed, %d failed" % (len(passes), len(fails)))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
