#!/usr/bin/python3
"""augment_check.py: the new augmentations' pixel arithmetic against torchvision, with the random
draws fixed on both sides (tests/torch/augment_tool.c applies cnnc's runtime code):
  color_jitter: every order of the four adjustments and factors on both sides of 1, as
      torchvision.transforms.functional.adjust_brightness/contrast/saturation/hue compute them;
  grayscale: rgb_to_grayscale(img, 3);
  random_resized_crop: resized_crop(img, top, left, h, w, size, BILINEAR, antialias=False),
      crops smaller and larger than the output, square and not;
  resize(S) then center_crop back: center_crop(resize(img, S, BILINEAR, antialias=False), [H, W]),
      S above and below the input's shorter side (zero padding) and equal to it;
  affine: affine(img, angle, translate, scale, shear, NEAREST, fill 0) (99% of the pixels equal:
      grid coordinates within float rounding of a pixel boundary may pick the neighbour).
Images are random float32 [3, H, W] in [0, 1] (plus grey pixels and saturated ones, which hit
the hue formula's special cases). Passes when max |cnnc - torchvision| <= 2e-5.

    /usr/bin/python3 tests/torch/augment_check.py TOOL TMPDIR
"""
import itertools
import json
import struct
import subprocess
import sys

import numpy as np
import torch
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

TOL = 2e-5


def write(path, x):
    a = np.ascontiguousarray(x.numpy(), dtype="<f4")
    h = json.dumps({"input": {"dtype": "F32", "shape": list(a.shape), "data_offsets": [0, a.nbytes]}}).encode()
    h += b" " * (-len(h) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + a.tobytes())


def read(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    e = json.loads(raw[8:8 + n])["output"]
    b, end = e["data_offsets"]
    return torch.from_numpy(np.frombuffer(raw[8 + n + b:8 + n + end], "<f4").reshape(e["shape"]).copy())


def main():
    tool, tmp = sys.argv[1], sys.argv[2]
    g = torch.Generator().manual_seed(0)
    img = torch.rand(3, 11, 14, generator=g)
    img[:, 0, :4] = 0.5                     # grey: max == min
    img[:, 1, :3] = torch.tensor([1.0, 0.0, 0.0]).view(3, 1)   # pure red, green-max ties below
    img[:, 2, :3] = torch.tensor([0.3, 0.3, 0.1]).view(3, 1)
    src = tmp + "/aug-in.safetensors"
    write(src, img)
    fails = 0
    count = 0

    def compare(what, args, ref):
        nonlocal fails, count
        out = tmp + "/aug-out.safetensors"
        r = subprocess.run([tool] + args[:1] + [src, out] + [str(a) for a in args[1:]], capture_output=True, text=True)
        count += 1
        if r.returncode != 0:
            print("FAIL %s: %s" % (what, r.stderr.strip()))
            fails += 1
            return
        e = (read(out) - ref).abs().max().item()
        if e > TOL:
            print("FAIL %s: max error %.3g" % (what, e))
            fails += 1

    fns = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]
    factors = [[0.6, 1.4], [0.5, 1.7], [0.0, 1.6], [-0.3, 0.12]]
    for order in itertools.permutations(range(4)):
        k = sum(order[i] * 4 ** i for i in range(4))
        f = [factors[j][(k >> j) & 1] for j in range(4)]
        ref = img.clone()
        for j in order:
            ref = fns[j](ref, f[j])
        compare("jitter order %s factors %s" % (order, f), ["jitter"] + list(order) + f, ref)
    ref = TF.adjust_hue(TF.adjust_contrast(img, 0.7), 0.45)
    compare("jitter with brightness and saturation off", ["jitter", 1, 0, 3, 2, "off", 0.7, "off", 0.45], ref)
    compare("grayscale", ["gray"], TF.rgb_to_grayscale(img, 3))
    for top, left, h, w in [(0, 0, 11, 14), (2, 3, 5, 7), (1, 0, 10, 4), (0, 5, 3, 9), (4, 6, 7, 8)]:
        ref = TF.resized_crop(img, top, left, h, w, [11, 14], InterpolationMode.BILINEAR, antialias=False)
        compare("resized crop %s" % ((top, left, h, w),), ["crop", top, left, h, w], ref)
    # resize(S) + center_crop: larger (odd and even margins), smaller (zero padding), the same.
    for size in [11, 12, 13, 16, 23, 40, 9, 8, 5, 1]:
        ref = TF.center_crop(TF.resize(img, size, InterpolationMode.BILINEAR, antialias=False), [11, 14])
        compare("resize(%d), center_crop" % size, ["resize", size], ref)
    # affine, nearest: torch rounds grid coordinates computed in float32; a coordinate within
    # float rounding of a pixel boundary may land on the neighbour, so 99% of the pixels must
    # agree exactly (in practice all but a handful).
    for angle, tx, ty, scale, shx, shy in [(0, 2, -1, 1, 0, 0), (17.5, 0, 0, 1, 0, 0), (-33, 1, 2, 0.8, 0, 0),
                                           (10, -2, 0, 1.25, 12, 0), (0, 0, 0, 0.9, -20, 5), (90, 0, 0, 1, 0, 0)]:
        ref = TF.affine(img, angle, [tx, ty], scale, [shx, shy], InterpolationMode.NEAREST, fill=[0.0])
        out = tmp + "/aug-out.safetensors"
        r = subprocess.run([tool, "affine", src, out] + [str(v) for v in (angle, tx, ty, scale, shx, shy)],
                           capture_output=True, text=True)
        count += 1
        same = (read(out) == ref).all(0).float().mean().item() if r.returncode == 0 else 0
        if same < 0.99:
            print("FAIL affine %s: %.1f%% of the pixels agree" % ((angle, tx, ty, scale, shx, shy), 100 * same))
            fails += 1
    print("augment: %d passed, %d failed" % (count - fails, fails))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
