"""Reference parameter counts for the model zoo (models/*.cnn), from torchvision, offline.

Builds torchvision's alexnet, vgg16, vgg16_bn, resnet18, resnet50 and googlenet (aux_logits=False,
init_weights=False) without weights, prints and asserts their trainable parameter counts; then
prints, for every hand-written twin (twins.py, coverage_twins.py), its checkpoint names and
shapes and checks them against the expected lists. Exits non-zero on any mismatch.

    /usr/bin/python3 tests/torch/param_counts.py [-q]      (-q: counts only, no name lists)
"""
import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twins  # noqa: E402
import coverage_twins  # noqa: E402

EXPECTED_TORCHVISION = {
    "alexnet": 61100840,
    "vgg16": 138357544,
    "vgg16_bn": 138365992,
    "resnet18": 11689512,
    "resnet50": 25557032,
    "googlenet": 6624904,
}


def torchvision_models():
    import torchvision.models as tvm
    # weights=None (torchvision >= 0.13) never downloads anything.
    return {
        "alexnet": lambda: tvm.alexnet(weights=None),
        "vgg16": lambda: tvm.vgg16(weights=None),
        "vgg16_bn": lambda: tvm.vgg16_bn(weights=None),
        "resnet18": lambda: tvm.resnet18(weights=None),
        "resnet50": lambda: tvm.resnet50(weights=None),
        "googlenet": lambda: tvm.googlenet(weights=None, aux_logits=False, init_weights=False),
    }


def main():
    quiet = "-q" in sys.argv
    failed = 0
    print("== torchvision (trainable parameters)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, make in torchvision_models().items():
            m = make()
            n = sum(p.numel() for p in m.parameters() if p.requires_grad)
            ok = n == EXPECTED_TORCHVISION[name]
            failed += not ok
            print("%-10s %12s %s" % (name, format(n, ","), "ok" if ok else "MISMATCH, expected %s" % format(EXPECTED_TORCHVISION[name], ",")))
    for title, mod in (("twins", twins), ("coverage twins", coverage_twins)):
        print("== %s (checkpoint tensors = state_dict less num_batches_tracked)" % title)
        for name in mod.TWINS:
            m = mod.build(name)
            got = mod.checkpoint_tensors(m)
            want = mod.EXPECTED[name]()
            ok = got == want
            failed += not ok
            print("%-15s %4d tensors, %10s trainable %s" % (name, len(got), format(mod.trainable_count(m), ","), "ok" if ok else "MISMATCH with the expected list"))
            if not quiet:
                for n, s in got:
                    print("    %-44s %s" % (n, list(s)))
    print("param_counts: %d passed, %d failed" % (6 + len(twins.TWINS) + len(coverage_twins.TWINS) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    torch.manual_seed(0)
    sys.exit(main())
