"""Hand-written PyTorch twins of the layer-coverage models in tests/models/*.cnn.

Each twin is written by hand from torch.nn / torch.nn.functional (the reference semantics of
the language, docs/language.md, Layers) with modules registered in the textual order of the .cnn file,
so that state_dict() keys (less BatchNorm's num_batches_tracked) are exactly the checkpoint
names of docs/language.md (Naming), in order. Every model's name equals its key here and its `model` name
in the file (multi.cnn holds two models: compile it with --model multi_a / multi_b).

    build(name) -> nn.Module        FILES[name] -> path of the .cnn file (relative to the repo)
    EXPECTED[name]() -> [(name, shape)] worked out by hand
    INPUT_SHAPE[name], OUTPUT_SHAPE[name]

Naming decisions these twins pin down (see naming.cnn): a labeled layer or block instance takes
no number (the unlabeled ones around it are numbered consecutively); every block instance takes
a number even if it owns no parameters after expansion.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from twins import Basic, Normalize, checkpoint_tensors, trainable_count, _conv, _linear, _bn, _expected_basic

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.normpath(os.path.join(HERE, "..", "models"))


# ---------------------------------------------------------------- cov_conv
class CovConv(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.norm = Normalize([0.5, 0.4, 0.3], [0.25, 0.5, 2.0], 3)
        self.conv0 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.conv1 = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4, bias=False)
        self.conv2 = nn.Conv2d(8, 12, (3, 5), stride=(1, 2), padding=(1, 2))
        # pad = same, kernel 3 with dilation [2, 1]: total padding [4, 2], symmetric
        self.conv3 = nn.Conv2d(12, 12, 3, padding=(2, 1), dilation=(2, 1), groups=12)
        # pad = same, kernel [2, 3]: total padding [1, 2]; PyTorch puts the odd row at the bottom
        self.conv4 = nn.Conv2d(12, 6, (2, 3))
        self.conv5 = nn.Conv2d(6, 6, 1, stride=1, padding=0, dilation=1, groups=2, bias=False)
        self.conv6 = nn.Conv2d(6, 4, (3, 2), stride=(2, 1), padding=(0, 1), dilation=(1, 3))
        self.linear0 = nn.Linear(4, classes, bias=False)

    def forward(self, x):
        x = self.norm(x)
        x = F.relu(self.conv0(x))
        x = self.conv1(x)
        x = self.conv2(x)
        x = self.conv3(x)
        x = self.conv4(F.pad(x, (1, 1, 0, 1)))  # (left, right, top, bottom)
        x = torch.tanh(x)
        x = self.conv5(x)
        x = self.conv6(x)
        x = torch.amax(x, dim=(2, 3), keepdim=True)
        return self.linear0(torch.flatten(x, 1))


def expected_cov_conv(classes=5):
    return (_conv("conv0", 8, 3, 3) + _conv("conv1", 8, 2, 3, bias=False) + _conv("conv2", 12, 8, 3, 5)
            + _conv("conv3", 12, 1, 3) + _conv("conv4", 6, 12, 2, 3) + _conv("conv5", 6, 3, 1, bias=False)
            + _conv("conv6", 4, 6, 3, 2) + _linear("linear0", classes, 4, bias=False))


# ---------------------------------------------------------------- cov_pool
class CovPool(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.norm = Normalize(0.5, 0.25, 3)
        self.conv0 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv1 = nn.Conv2d(4, 6, 1)
        self.conv2 = nn.Conv2d(36, 5, 1)
        self.linear0 = nn.Linear(5, classes)

    def forward(self, x):
        x = F.relu(self.conv0(self.norm(x)))                      # [4, 16, 15]
        x = F.max_pool2d(x, 3, 2, 1, ceil_mode=True)              # [4, 9, 8]
        x = F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=True)   # [4, 5, 5]
        x = self.conv1(x)
        x = torch.cat([
            F.avg_pool2d(x, 2, 2, 1, ceil_mode=True, count_include_pad=False),
            F.avg_pool2d(x, 2, 2, 1, ceil_mode=True, count_include_pad=True),
            F.max_pool2d(x, 2, 2, 1, ceil_mode=True),
            F.avg_pool2d(x, 3, 2, 1),
            F.max_pool2d(x, 3, 2, 1, ceil_mode=False),
            F.adaptive_avg_pool2d(x, 3),
        ], 1)                                                     # [36, 3, 3]
        x = self.conv2(x)
        x = (F.avg_pool2d(F.adaptive_avg_pool2d(x, (2, 3)), 2)
             + F.adaptive_avg_pool2d(F.max_pool2d(x, 2, 1), (1, 1))
             + x.mean(dim=(2, 3), keepdim=True))
        return self.linear0(torch.flatten(x, 1))


def expected_cov_pool(classes=3):
    return (_conv("conv0", 4, 3, 3) + _conv("conv1", 6, 4, 1) + _conv("conv2", 5, 36, 1)
            + _linear("linear0", classes, 5))


# ---------------------------------------------------------------- cov_norm_act
class CovNormAct(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(8, eps=1e-3, momentum=0.05)
        self.conv1 = nn.Conv2d(8, 8, 3)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 6, 3, stride=2)
        self.linear0 = nn.Linear(54, 16)
        self.bn2 = nn.BatchNorm1d(16, eps=1e-4, momentum=0.2)
        self.linear1 = nn.Linear(16, 12)
        self.linear2 = nn.Linear(12, classes)

    def forward(self, x):
        x = F.leaky_relu(self.bn0(self.conv0(x)), 0.2)
        x = F.local_response_norm(x, 3, alpha=0.5, beta=0.6, k=0.8)
        x = F.elu(self.bn1(self.conv1(x)), 0.7)
        x = F.local_response_norm(x, 5, alpha=1e-4, beta=0.75, k=2.0)
        x = self.conv2(x)
        x = F.relu(F.elu(F.leaky_relu(x, 0.01), 1.0))            # leaky_relu; elu; relu; identity
        x = torch.flatten(x, 1)
        x = F.dropout(x, 0.3, self.training)
        x = torch.sigmoid(self.bn2(self.linear0(x)))
        x = F.dropout(x, 0.5, self.training)
        x = torch.tanh(self.linear1(x))
        return self.linear2(x)


def expected_cov_norm_act(classes=4):
    return (_conv("conv0", 8, 3, 3) + _bn("bn0", 8) + _conv("conv1", 8, 8, 3) + _bn("bn1", 8)
            + _conv("conv2", 6, 8, 3) + _linear("linear0", 16, 54) + _bn("bn2", 16)
            + _linear("linear1", 12, 16) + _linear("linear2", classes, 12))


# ---------------------------------------------------------------- cov_act
class CovAct(nn.Module):
    """The activation modules of torch.nn (the emitted module uses torch.nn.functional)."""

    def __init__(self, classes=5):
        super().__init__()
        self.norm = Normalize(0.5, 0.08, 3)
        self.conv0 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.conv3 = nn.Conv2d(8, 8, 3, padding=1)
        self.conv4 = nn.Conv2d(8, 6, 3)
        self.linear0 = nn.Linear(96, 24)
        self.linear1 = nn.Linear(24, 16)
        self.linear2 = nn.Linear(16, 12)
        self.linear3 = nn.Linear(12, 10)
        self.linear4 = nn.Linear(10, 8)
        self.linear5 = nn.Linear(8, classes)
        self.gelu, self.gelu_tanh = nn.GELU(), nn.GELU(approximate="tanh")
        self.silu, self.relu6 = nn.SiLU(), nn.ReLU6()
        self.hardswish, self.hardsigmoid = nn.Hardswish(), nn.Hardsigmoid()

    def forward(self, x):
        x = self.relu6(self.conv0(self.norm(x)))
        x = self.hardswish(self.bn0(self.conv1(x)))
        x = nn.MaxPool2d(2)(self.gelu(self.conv2(x)))
        x = self.silu(x)
        x = self.hardsigmoid(self.conv3(x))
        x = self.gelu_tanh(self.conv4(x))
        x = torch.flatten(x, 1)
        x = self.gelu_tanh(self.linear0(x))
        x = self.silu(self.linear1(x))
        x = self.relu6(self.linear2(x))
        x = self.hardsigmoid(self.linear3(x))
        x = self.gelu(self.hardswish(self.linear4(x)))
        return self.linear5(x)


def expected_cov_act(classes=5):
    return (_conv("conv0", 8, 3, 3) + _conv("conv1", 8, 8, 3) + _bn("bn0", 8) + _conv("conv2", 8, 8, 3)
            + _conv("conv3", 8, 8, 3) + _conv("conv4", 6, 8, 3) + _linear("linear0", 24, 96)
            + _linear("linear1", 16, 24) + _linear("linear2", 12, 16) + _linear("linear3", 10, 12)
            + _linear("linear4", 8, 10) + _linear("linear5", classes, 8))


# ---------------------------------------------------------------- cov_residual
class CovResidual(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(4, 8, 3, padding=1)
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.conv3 = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv4 = nn.Conv2d(8, 16, 1, bias=False)
        self.conv5 = nn.Conv2d(16, 16, 1)
        self.conv6 = nn.Conv2d(16, 16, 3, padding=1)
        self.conv7 = nn.Conv2d(16, 16, 1)
        self.conv8 = nn.Conv2d(16, 16, 1)
        self.linear0 = nn.Linear(16, classes)

    def forward(self, x):
        x = self.conv0(x)
        x = self.conv2(F.relu(self.bn0(self.conv1(x)))) + x
        x = F.relu(x)
        x = self.bn1(self.conv3(x)) + self.conv4(F.avg_pool2d(x, 2))
        x = torch.sigmoid(self.conv5(x)) + x
        y = self.conv7(x)
        x = self.conv6(x) + x + (self.conv8(y) + y)
        x = torch.tanh(x)
        x = x.mean(dim=(2, 3))
        return self.linear0(x)


def expected_cov_residual(classes=3):
    return (_conv("conv0", 8, 4, 3) + _conv("conv1", 8, 8, 3) + _bn("bn0", 8) + _conv("conv2", 8, 8, 3)
            + _conv("conv3", 16, 8, 3, bias=False) + _bn("bn1", 16) + _conv("conv4", 16, 8, 1, bias=False)
            + _conv("conv5", 16, 16, 1) + _conv("conv6", 16, 16, 3) + _conv("conv7", 16, 16, 1)
            + _conv("conv8", 16, 16, 1) + _linear("linear0", classes, 16))


# ---------------------------------------------------------------- cov_concat
class SpecInception(nn.Module):
    # GoogLeNet's block inception (models/googlenet.cnn): conv0 | conv1 conv2 | conv3 conv4 | pool conv5, all with relu
    def __init__(self, inp, c1, c3r, c3, c5r, c5, proj):
        super().__init__()
        self.conv0 = nn.Conv2d(inp, c1, 1)
        self.conv1 = nn.Conv2d(inp, c3r, 1)
        self.conv2 = nn.Conv2d(c3r, c3, 3, padding=1)
        self.conv3 = nn.Conv2d(inp, c5r, 1)
        self.conv4 = nn.Conv2d(c5r, c5, 5, padding=2)
        self.conv5 = nn.Conv2d(inp, proj, 1)

    def forward(self, x):
        b1 = F.relu(self.conv0(x))
        b2 = F.relu(self.conv2(F.relu(self.conv1(x))))
        b3 = F.relu(self.conv4(F.relu(self.conv3(x))))
        b4 = F.relu(self.conv5(F.max_pool2d(x, 3, 1, 1)))
        return torch.cat([b1, b2, b3, b4], 1)


class CovConcat(nn.Module):
    def __init__(self, classes=6):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 8, 3, padding=1)
        self.inception0 = SpecInception(8, 4, 4, 6, 2, 3, 3)
        self.conv1 = nn.Conv2d(16, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 2, 1)
        self.inception1 = SpecInception(42, 8, 4, 8, 2, 4, 4)
        self.linear0 = nn.Linear(24, classes)

    def forward(self, x):
        x = self.inception0(self.conv0(x))
        inner = torch.cat([self.conv2(x), F.max_pool2d(x, 3, 1, 1)], 1)
        x = torch.cat([x, F.relu(self.conv1(x)), inner], 1)
        x = self.inception1(F.max_pool2d(x, 2))
        return self.linear0(x.mean(dim=(2, 3)))


def _expected_spec_inception(p, inp, c1, c3r, c3, c5r, c5, proj):
    return (_conv(p + ".conv0", c1, inp, 1) + _conv(p + ".conv1", c3r, inp, 1) + _conv(p + ".conv2", c3, c3r, 3)
            + _conv(p + ".conv3", c5r, inp, 1) + _conv(p + ".conv4", c5, c5r, 5) + _conv(p + ".conv5", proj, inp, 1))


def expected_cov_concat(classes=6):
    return (_conv("conv0", 8, 3, 3) + _expected_spec_inception("inception0", 8, 4, 4, 6, 2, 3, 3)
            + _conv("conv1", 8, 16, 3) + _conv("conv2", 2, 16, 1)
            + _expected_spec_inception("inception1", 42, 8, 4, 8, 2, 4, 4) + _linear("linear0", classes, 24))


# ---------------------------------------------------------------- cov_blocks (imports lib/blocks.cnn)
class CBR(nn.Module):
    # block cbr(out, kernel = 3, stride = 1, act = true)
    def __init__(self, inp, out, kernel=3, stride=1, act=True):
        super().__init__()
        self.conv0 = nn.Conv2d(inp, out, kernel, stride=stride, padding=kernel // 2, bias=False)
        self.bn0 = nn.BatchNorm2d(out)
        self.act = act

    def forward(self, x):
        x = self.bn0(self.conv0(x))
        return F.relu(x) if self.act else x


class Double(nn.Module):
    # block double(out, stride = 1): cbr0 cbr1 relu
    def __init__(self, inp, out, stride=1):
        super().__init__()
        self.cbr0 = CBR(inp, out, stride=stride)
        self.cbr1 = CBR(out, out, act=False)

    def forward(self, x):
        return F.relu(self.cbr1(self.cbr0(x)))


class Stack(nn.Module):
    # block stack(out, n): double0 .. double{n-1}
    def __init__(self, inp, out, n):
        super().__init__()
        self.n = n
        for i in range(n):
            setattr(self, "double%d" % i, Double(inp if i == 0 else out, out))

    def forward(self, x):
        for i in range(self.n):
            x = getattr(self, "double%d" % i)(x)
        return x


class Head(nn.Module):
    # block head(classes, hidden = 0): [linear0 relu] fc
    def __init__(self, inp, classes, hidden=0):
        super().__init__()
        self.hidden = hidden
        if hidden > 0:
            self.linear0 = nn.Linear(inp, hidden)
        self.fc = nn.Linear(hidden if hidden > 0 else inp, classes)

    def forward(self, x):
        x = torch.flatten(x.mean(dim=(2, 3), keepdim=True), 1)
        if self.hidden > 0:
            x = F.relu(self.linear0(x))
        return self.fc(x)


class CovBlocks(nn.Module):
    def __init__(self, classes=7, depth=2):
        super().__init__()
        self.stem = CBR(3, 8, 5)
        self.double0 = Double(8, 8)
        self.double1 = Double(8, 16, stride=2)
        self.stack0 = Stack(16, 16, depth)
        self.stack1 = Stack(16, 16, 0)
        self.head0 = Head(16, classes, hidden=12)

    def forward(self, x):
        x = self.double1(self.double0(self.stem(x)))
        x = self.stack1(self.stack0(x))
        return self.head0(x)


def _expected_cbr(p, inp, out, k=3):
    return _conv(p + ".conv0", out, inp, k, bias=False) + _bn(p + ".bn0", out)


def _expected_double(p, inp, out):
    return _expected_cbr(p + ".cbr0", inp, out) + _expected_cbr(p + ".cbr1", out, out)


def expected_cov_blocks(classes=7):
    return (_expected_cbr("stem", 3, 8, 5) + _expected_double("double0", 8, 8) + _expected_double("double1", 8, 16)
            + _expected_double("stack0.double0", 16, 16) + _expected_double("stack0.double1", 16, 16)
            + _linear("head0.linear0", 12, 16) + _linear("head0.fc", classes, 12))


# ---------------------------------------------------------------- cov_cond
class Adapt(nn.Module):
    # block adapt(target): identity if in.c == target, 1x1 conv if smaller, 3x3 conv if larger
    def __init__(self, inp, target):
        super().__init__()
        self.kind = "id" if inp == target else "up" if inp < target else "down"
        if self.kind == "up":
            self.conv0 = nn.Conv2d(inp, target, 1)
        elif self.kind == "down":
            self.conv0 = nn.Conv2d(inp, target, 3, padding=1)

    def forward(self, x):
        return x if self.kind == "id" else self.conv0(x)


class CovCond(nn.Module):
    # defaults width = 6, mode = 2, big = false
    def __init__(self):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv1 = nn.Conv2d(6, 12, 1)          # mode == 2 branch
        self.adapt0 = Adapt(12, 16)
        self.adapt1 = Adapt(16, 8)
        self.adapt2 = Adapt(8, 8)                 # identity: no parameters
        self.conv2 = nn.Conv2d(8, 10, (3, 3))     # [in.c + 2, [in.h - 9, in.w / 3]] = 10, [3, 3]
        self.conv3 = nn.Conv2d(10, 3, 1)          # 10 / 3 = 3
        self.linear0 = nn.Linear(60, 27)          # 60 / 2 + (-7) / 2 = 30 - 3
        self.linear1 = nn.Linear(27, 9)           # 27 % 7 + 3
        self.linear2 = nn.Linear(9, 5, bias=True)

    def forward(self, x):
        x = self.conv0(x)
        x = self.conv1(torch.tanh(x))
        x = F.elu(x, 1.0)                         # not (2 > 2) and 6 % 4 == 2
        x = self.adapt2(self.adapt1(self.adapt0(x)))
        x = self.conv2(x)                         # [10, 10, 8]
        x = F.max_pool2d(x, 2)                    # 10 >= 10 and 8 <= 8
        x = self.conv3(x)                         # in.h == 5: no extra conv
        x = F.elu(x, 1.0)                         # 3 / 2 * 1.0 = 1.0
        x = torch.flatten(x, 1)
        x = F.leaky_relu(self.linear0(x), 0.1)
        x = F.relu(self.linear1(x))               # repeat 3 - 1 * 2 = 1
        return self.linear2(x)


def expected_cov_cond():
    return (_conv("conv0", 6, 3, 3) + _conv("conv1", 12, 6, 1) + _conv("adapt0.conv0", 16, 12, 1)
            + _conv("adapt1.conv0", 8, 16, 3) + _conv("conv2", 10, 8, 3) + _conv("conv3", 3, 10, 1)
            + _linear("linear0", 27, 60) + _linear("linear1", 9, 27) + _linear("linear2", 5, 9))


# ---------------------------------------------------------------- naming
class Pair(nn.Module):
    # block pair(c): conv0, out: (label, takes no number), conv1
    def __init__(self, inp, c):
        super().__init__()
        self.conv0 = nn.Conv2d(inp, c, 3, padding=1)
        self.out = nn.Conv2d(c, c, 1)
        self.conv1 = nn.Conv2d(c, c, 1)

    def forward(self, x):
        return self.conv1(self.out(self.conv0(x)))


class MaybeProj(nn.Module):
    def __init__(self, inp, c):
        super().__init__()
        self.proj = inp != c
        if self.proj:
            self.conv0 = nn.Conv2d(inp, c, 1, bias=False)

    def forward(self, x):
        return self.conv0(x) if self.proj else x


class Naming(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.conv0 = nn.Conv2d(4, 4, 1)
        self.first = nn.Conv2d(4, 4, 1)
        self.conv1 = nn.Conv2d(4, 6, 1)
        self.maybe_proj0 = MaybeProj(6, 6)       # owns nothing, still numbered
        self.maybe_proj1 = MaybeProj(6, 8)
        self.top = Pair(8, 8)                    # labeled: takes no number
        self.pair0 = Pair(8, 8)
        self.bn = nn.BatchNorm2d(8)
        self.bn0 = nn.BatchNorm2d(8)
        self.linear0 = nn.Linear(8, classes)

    def forward(self, x):
        x = self.conv1(self.first(self.conv0(x)))
        x = self.maybe_proj1(self.maybe_proj0(x))
        x = self.pair0(self.top(x))
        x = F.relu(self.bn0(self.bn(x)))
        return self.linear0(x.mean(dim=(2, 3)))


def _expected_pair(p, inp, c):
    return _conv(p + ".conv0", c, inp, 3) + _conv(p + ".out", c, c, 1) + _conv(p + ".conv1", c, c, 1)


def expected_naming(classes=5):
    return (_conv("conv0", 4, 4, 1) + _conv("first", 4, 4, 1) + _conv("conv1", 6, 4, 1)
            + _conv("maybe_proj1.conv0", 8, 6, 1, bias=False) + _expected_pair("top", 8, 8)
            + _expected_pair("pair0", 8, 8) + _bn("bn", 8) + _bn("bn0", 8) + _linear("linear0", classes, 8))


# ---------------------------------------------------------------- multi (two models in one file)
class MultiA(nn.Module):
    def __init__(self, channels=2, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(channels, 4, 3)
        self.linear0 = nn.Linear(100, classes)

    def forward(self, x):
        x = F.avg_pool2d(F.leaky_relu(self.conv0(x), 0.3), 2)
        return self.linear0(torch.flatten(x, 1))


class MultiB(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.conv0 = nn.Conv2d(2, 3, 5, stride=2, padding=2)
        self.linear0 = nn.Linear(12, 8)
        self.linear1 = nn.Linear(8, classes)

    def forward(self, x):
        x = F.max_pool2d(F.elu(self.conv0(x), 0.5), 3, 3)
        x = F.relu(self.linear0(torch.flatten(x, 1)))
        return F.softmax(self.linear1(x), dim=1)


def expected_multi_a(classes=3):
    return _conv("conv0", 4, 2, 3) + _linear("linear0", classes, 100)


def expected_multi_b(classes=4):
    return _conv("conv0", 3, 2, 5) + _linear("linear0", 8, 12) + _linear("linear1", classes, 8)


# ---------------------------------------------------------------- conv_held.cnn
class ConvOdd(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(5, 20, 3, stride=2, padding=1)
        self.conv1 = nn.Conv2d(20, 24, (3, 5), stride=2, padding=(1, 2), groups=4)
        self.conv2 = nn.Conv2d(24, 17, 1, stride=2, bias=False)
        self.conv3 = nn.Conv2d(17, 19, 3, padding=2, dilation=2)
        self.linear0 = nn.Linear(19, classes)

    def forward(self, x):
        x = self.conv3(self.conv2(self.conv1(F.relu(self.conv0(x)))))
        return self.linear0(x.mean(dim=(2, 3)))


class ConvWide(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(2, 4, (1, 64))
        self.conv1 = nn.Conv2d(4, 3, (1, 5), stride=(1, 2))
        self.linear0 = nn.Linear(3, classes)

    def forward(self, x):
        x = self.conv1(F.max_pool2d(F.relu(self.conv0(x)), 2))
        return self.linear0(x.mean(dim=(2, 3)))


class ConvIssue11(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(1, 1, (1, 64))
        self.linear0 = nn.Linear(1, classes)

    def forward(self, x):
        return self.linear0(self.conv0(x).mean(dim=(2, 3)))


class ConvBwdOdd(nn.Module):
    # tests/models/conv_bwd.cnn
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(5, 24, 3, padding=1)
        self.conv1 = nn.Conv2d(24, 7, (3, 2))
        self.conv2 = nn.Conv2d(7, 6, (2, 3), padding=1, bias=False)
        self.conv3 = nn.Conv2d(6, 5, 5, padding=(1, 3))
        self.conv4 = nn.Conv2d(5, 3, 3, stride=2, padding=1)
        self.linear0 = nn.Linear(3, classes)

    def forward(self, x):
        x = self.conv4(self.conv3(self.conv2(torch.tanh(self.conv1(F.relu(self.conv0(x)))))))
        return self.linear0(x.mean(dim=(2, 3)))


class ConvDwWide(nn.Module):
    # tests/models/conv_dw_wide.cnn
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 40, 3, padding=1)
        self.conv1 = nn.Conv2d(40, 100, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(100, 96, (2, 3), padding=1)
        self.conv3 = nn.Conv2d(96, 20, (3, 2), padding=(1, 0))
        self.conv4 = nn.Conv2d(20, 32, 3, padding=1)
        self.conv5 = nn.Conv2d(32, 18, 3, stride=2, padding=1)
        self.linear0 = nn.Linear(18, classes)

    def forward(self, x):
        x = F.relu(self.conv2(torch.tanh(self.conv1(F.relu(self.conv0(x))))))
        return self.linear0(self.conv5(self.conv4(self.conv3(x))).mean(dim=(2, 3)))


def expected_conv_dw_wide(classes=3):
    return (_conv("conv0", 40, 3, 3) + _conv("conv1", 100, 40, 3, bias=False) + _conv("conv2", 96, 100, 2, 3)
            + _conv("conv3", 20, 96, 3, 2) + _conv("conv4", 32, 20, 3) + _conv("conv5", 18, 32, 3)
            + _linear("linear0", classes, 18))


def expected_conv_bwd_odd(classes=3):
    return (_conv("conv0", 24, 5, 3) + _conv("conv1", 7, 24, 3, 2) + _conv("conv2", 6, 7, 2, 3, bias=False)
            + _conv("conv3", 5, 6, 5) + _conv("conv4", 3, 5, 3) + _linear("linear0", classes, 3))


def expected_conv_odd(classes=3):
    return (_conv("conv0", 20, 5, 3) + _conv("conv1", 24, 5, 3, 5) + _conv("conv2", 17, 24, 1, bias=False)
            + _conv("conv3", 19, 17, 3) + _linear("linear0", classes, 19))


def expected_conv_wide(classes=2):
    return _conv("conv0", 4, 2, 1, 64) + _conv("conv1", 3, 4, 1, 5) + _linear("linear0", classes, 3)


def expected_conv_issue11(classes=2):
    return _conv("conv0", 1, 1, 1, 64) + _linear("linear0", classes, 1)


# ---------------------------------------------------------------- conv_oc (conv_oc.cnn)
class ConvOcA(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.norm = Normalize([0.1, -0.2, 0.3, 0.0, 0.5], [0.9, 1.1, 0.7, 1.3, 2.0], 5)
        self.conv0 = nn.Conv2d(5, 24, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(24)
        self.conv1 = nn.Conv2d(24, 20, 3)
        self.linear0 = nn.Linear(20 * 4 * 5, classes)

    def forward(self, x):
        x = F.relu(self.bn0(self.conv0(self.norm(x))))
        x = F.max_pool2d(self.conv1(x), 2)
        return self.linear0(torch.flatten(x, 1))


class ConvOcB(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(7, 33, (5, 3), padding=(4, 1), dilation=(2, 1), bias=False)
        self.conv1 = nn.Conv2d(33, 72, 2)
        self.conv2 = nn.Conv2d(72, 64, 1)
        self.conv3 = nn.Conv2d(64, 16, 1)
        self.linear0 = nn.Linear(16, classes)

    def forward(self, x):
        x = F.relu(self.conv0(x))
        x = self.conv2(self.conv1(F.pad(x, (0, 1, 0, 1))))          # pad = same, kernel 2
        return self.linear0(self.conv3(F.avg_pool2d(x, 3)).mean(dim=(2, 3)))


class ConvOcC(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(5, 24, 3, padding=1)
        self.conv1 = nn.Conv2d(24, 17, 3, padding=1, bias=False)
        self.linear0 = nn.Linear(17 * 4 * 4, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv0(x)), 2)
        return self.linear0(torch.flatten(F.max_pool2d(self.conv1(x), 2), 1))


class ConvOcD(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 20, 3, padding=1)
        self.linear0 = nn.Linear(20 * 6 * 4, classes)

    def forward(self, x):
        return self.linear0(torch.flatten(torch.sigmoid(F.avg_pool2d(self.conv0(x), (2, 4))), 1))


class ConvOcE(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.norm = Normalize([0.4, 0.5, 0.6], [0.2, 0.25, 0.3], 3)
        self.conv0 = nn.Conv2d(3, 20, 7, stride=2, padding=3, bias=False)
        self.bn0 = nn.BatchNorm2d(20)
        self.linear0 = nn.Linear(20 * 10 * 11, classes)

    def forward(self, x):
        x = F.relu(self.bn0(self.conv0(self.norm(x))))
        return self.linear0(torch.flatten(F.max_pool2d(x, 3, stride=2, padding=1), 1))


class ConvOcF(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(2, 16, (3, 5), stride=(1, 3), padding=(1, 2), dilation=(2, 1))
        self.linear0 = nn.Linear(16 * 7 * 17, classes)

    def forward(self, x):
        return self.linear0(torch.flatten(F.relu(self.conv0(x)), 1))


class ConvOcG(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(1, 33, (4, 7))
        self.linear0 = nn.Linear(33 * 3 * 20, classes)

    def forward(self, x):
        x = F.pad(x, (3, 3, 1, 2))  # pad = same with an even kernel: the extra row at the bottom
        return self.linear0(torch.flatten(F.avg_pool2d(torch.tanh(self.conv0(x)), 2), 1))


class ConvOcH(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(8, 64, 3, padding=1)
        self.linear0 = nn.Linear(64 * 5 * 6, classes)

    def forward(self, x):
        return self.linear0(torch.flatten(F.max_pool2d(F.relu(self.conv0(x)), 2), 1))


def expected_conv_oc_h(classes=3):
    return _conv("conv0", 64, 8, 3) + _linear("linear0", classes, 1920)


def expected_conv_oc_e(classes=3):
    return _conv("conv0", 20, 3, 7, bias=False) + _bn("bn0", 20) + _linear("linear0", classes, 2200)


def expected_conv_oc_f(classes=2):
    return _conv("conv0", 16, 2, 3, 5) + _linear("linear0", classes, 1904)


def expected_conv_oc_g(classes=2):
    return _conv("conv0", 33, 1, 4, 7) + _linear("linear0", classes, 1980)


def expected_conv_oc_d(classes=2):
    return _conv("conv0", 20, 3, 3) + _linear("linear0", classes, 480)


def expected_conv_oc_c(classes=3):
    return _conv("conv0", 24, 5, 3) + _conv("conv1", 17, 24, 3, bias=False) + _linear("linear0", classes, 272)


def expected_conv_oc_a(classes=3):
    return (_conv("conv0", 24, 5, 3) + _bn("bn0", 24) + _conv("conv1", 20, 24, 3)
            + _linear("linear0", classes, 400))


def expected_conv_oc_b(classes=2):
    return (_conv("conv0", 33, 7, 5, 3, bias=False) + _conv("conv1", 72, 33, 2) + _conv("conv2", 64, 72, 1)
            + _conv("conv3", 16, 64, 1)
            + _linear("linear0", classes, 16))


# ---------------------------------------------------------------- conv_blk (conv_blk.cnn)
class ConvBlkA(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(33, 40, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(40)
        self.conv1 = nn.Conv2d(40, 60, 3)
        self.linear0 = nn.Linear(60 * 3 * 5, classes)

    def forward(self, x):
        x = F.relu(self.bn0(self.conv0(x)))
        return self.linear0(torch.flatten(F.relu(self.conv1(x)), 1))


class ConvBlkB(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(34, 48, 3, padding=1, bias=False)
        self.conv1 = nn.Conv2d(48, 45, 5, padding=2)
        self.linear0 = nn.Linear(45, classes)

    def forward(self, x):
        x = F.relu(self.conv1(F.relu(self.conv0(x))))
        return self.linear0(x.mean(dim=(2, 3)))


class ConvBlkC(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(32, 32, 3, padding=1)
        self.conv1 = nn.Conv2d(32, 70, 3)
        self.linear0 = nn.Linear(70, classes)

    def forward(self, x):
        x = self.conv1(F.relu(self.conv0(x)))
        return self.linear0(x.mean(dim=(2, 3)))


class ConvBlkD(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(130, 230, 3, padding=1)
        self.conv1 = nn.Conv2d(230, 131, 3, padding=1)
        self.linear0 = nn.Linear(131, classes)

    def forward(self, x):
        x = self.conv1(F.relu(self.conv0(x)))
        return self.linear0(x.mean(dim=(2, 3)))


class ConvBlkE(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(34, 40, 3, stride=2, padding=1)
        self.conv1 = nn.Conv2d(40, 70, 3, stride=2)
        self.linear0 = nn.Linear(70, classes)

    def forward(self, x):
        x = self.conv1(F.relu(self.conv0(x)))
        return self.linear0(x.mean(dim=(2, 3)))


class ConvBlkF(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(32, 40, 3, padding=1)
        self.conv1 = nn.Conv2d(40, 33, 3)
        self.linear0 = nn.Linear(33, classes)

    def forward(self, x):
        x = self.conv1(F.relu(self.conv0(x)))
        return self.linear0(x.mean(dim=(2, 3)))


def expected_conv_blk_a(classes=3):
    return _conv("conv0", 40, 33, 3) + _bn("bn0", 40) + _conv("conv1", 60, 40, 3) + _linear("linear0", classes, 900)


def expected_conv_blk_b(classes=2):
    return _conv("conv0", 48, 34, 3, bias=False) + _conv("conv1", 45, 48, 5) + _linear("linear0", classes, 45)


def expected_conv_blk_c(classes=2):
    return _conv("conv0", 32, 32, 3) + _conv("conv1", 70, 32, 3) + _linear("linear0", classes, 70)


def expected_conv_blk_e(classes=2):
    return _conv("conv0", 40, 34, 3) + _conv("conv1", 70, 40, 3) + _linear("linear0", classes, 70)


def expected_conv_blk_f(classes=2):
    return _conv("conv0", 40, 32, 3) + _conv("conv1", 33, 40, 3) + _linear("linear0", classes, 33)


def expected_conv_blk_d(classes=2):
    return _conv("conv0", 230, 130, 3) + _conv("conv1", 131, 230, 3) + _linear("linear0", classes, 131)


# ---------------------------------------------------------------- conv_1x1 (conv_1x1.cnn)
class Conv1x1A(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(130, 36, 1, stride=2)
        self.bn0 = nn.BatchNorm2d(36)
        self.conv1 = nn.Conv2d(36, 50, 1, bias=False)
        self.linear0 = nn.Linear(50 * 4 * 4, classes)

    def forward(self, x):
        x = F.relu(self.bn0(self.conv0(x)))
        return self.linear0(torch.flatten(F.relu(self.conv1(x)), 1))


class Conv1x1B(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(24)
        self.conv0 = nn.Conv2d(24, 130, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(130)
        self.conv1 = nn.Conv2d(130, 130, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(130)
        self.conv2 = nn.Conv2d(24, 130, 1, stride=2, bias=False)
        self.bn3 = nn.BatchNorm2d(130)
        self.linear0 = nn.Linear(130, classes)

    def forward(self, x):
        x = self.bn0(x)
        y = self.bn2(self.conv1(F.relu(self.bn1(self.conv0(x)))))
        x = F.relu(y + self.bn3(self.conv2(x)))
        return self.linear0(x.mean(dim=(2, 3)))


class Conv1x1C(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(200)
        self.conv0 = nn.Conv2d(200, 190, 1)
        self.conv1 = nn.Conv2d(190, 70, 1, stride=3)
        self.linear0 = nn.Linear(70, classes)

    def forward(self, x):
        x = self.conv1(F.relu(self.conv0(self.bn0(x))))
        return self.linear0(x.mean(dim=(2, 3)))


class Conv1x1D(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(64)
        self.conv0 = nn.Conv2d(64, 70, 1, stride=2)
        self.bn1 = nn.BatchNorm2d(70)
        self.conv1 = nn.Conv2d(70, 66, 1, stride=2, bias=False)
        self.conv2 = nn.Conv2d(66, 64, 1, stride=2)
        self.conv3 = nn.Conv2d(64, 80, 1, stride=(2, 1))
        self.linear0 = nn.Linear(80 * 3 * 5, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv0(self.bn0(x))))
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        return self.linear0(torch.flatten(self.conv3(x), 1))


class Conv1x1E(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(96)
        self.conv0 = nn.Conv2d(96, 64, 1, stride=(1, 2), bias=False)
        self.conv1 = nn.Conv2d(64, 64, 1, stride=(3, 2))
        self.linear0 = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.conv1(F.relu(self.conv0(self.bn0(x)))))
        return self.linear0(x.mean(dim=(2, 3)))


class Conv1x1F(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(64)
        self.conv0 = nn.Conv2d(64, 72, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(72)
        self.conv1 = nn.Conv2d(72, 72, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(72)
        self.conv2 = nn.Conv2d(64, 72, 1, stride=2, bias=False)
        self.bn3 = nn.BatchNorm2d(72)
        self.conv3 = nn.Conv2d(72, 80, 3, stride=2, padding=1, bias=False)
        self.bn4 = nn.BatchNorm2d(80)
        self.conv4 = nn.Conv2d(72, 80, 1, stride=2)
        self.bn5 = nn.BatchNorm2d(80)
        self.linear0 = nn.Linear(80, classes)

    def forward(self, x):
        x = self.bn0(x)
        y = self.bn2(self.conv1(F.relu(self.bn1(self.conv0(x)))))
        x = F.relu(y + self.bn3(self.conv2(x)))
        x = F.relu(F.relu(self.bn4(self.conv3(x))) + self.bn5(self.conv4(x)))
        return self.linear0(x.mean(dim=(2, 3)))


class Conv1x1G(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(128)
        self.conv0 = nn.Conv2d(128, 96, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(96)
        self.conv1 = nn.Conv2d(128, 96, 1, stride=2, bias=False)
        self.conv2 = nn.Conv2d(96, 160, 1)
        self.conv3 = nn.Conv2d(96, 160, 1, bias=False)
        self.conv4 = nn.Conv2d(160, 160, 3, padding=1)
        self.conv5 = nn.Conv2d(160, 160, 1)
        self.linear0 = nn.Linear(160, classes)

    def forward(self, x):
        x = self.bn0(x)
        x = F.relu(F.relu(self.bn1(self.conv0(x))) + self.conv1(x))
        x = F.relu(F.relu(self.conv2(x)) + self.conv3(x))
        x = F.relu(self.conv4(x)) + self.conv5(x)
        return self.linear0(x.mean(dim=(2, 3)))


class Conv1x1H(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(64)
        self.conv0 = nn.Conv2d(64, 128, 1)
        self.conv1 = nn.Conv2d(64, 128, 1, bias=False)
        self.conv2 = nn.Conv2d(64, 128, 1)
        self.linear0 = nn.Linear(128, classes)

    def forward(self, x):
        x = self.bn0(x)
        x = self.conv0(x) + F.relu(self.conv1(x)) + torch.tanh(self.conv2(x))
        return self.linear0(x.mean(dim=(2, 3)))


def expected_conv_1x1_a(classes=3):
    return _conv("conv0", 36, 130, 1) + _bn("bn0", 36) + _conv("conv1", 50, 36, 1, bias=False) + _linear("linear0", classes, 800)


def expected_conv_1x1_b(classes=2):
    return (_bn("bn0", 24) + _conv("conv0", 130, 24, 3, bias=False) + _bn("bn1", 130) + _conv("conv1", 130, 130, 3, bias=False)
            + _bn("bn2", 130) + _conv("conv2", 130, 24, 1, bias=False) + _bn("bn3", 130) + _linear("linear0", classes, 130))


def expected_conv_1x1_c(classes=2):
    return _bn("bn0", 200) + _conv("conv0", 190, 200, 1) + _conv("conv1", 70, 190, 1) + _linear("linear0", classes, 70)


def expected_conv_1x1_d(classes=3):
    return (_bn("bn0", 64) + _conv("conv0", 70, 64, 1) + _bn("bn1", 70) + _conv("conv1", 66, 70, 1, bias=False)
            + _conv("conv2", 64, 66, 1) + _conv("conv3", 80, 64, 1) + _linear("linear0", classes, 1200))


def expected_conv_1x1_e(classes=2):
    return _bn("bn0", 96) + _conv("conv0", 64, 96, 1, bias=False) + _conv("conv1", 64, 64, 1) + _linear("linear0", classes, 64)


def expected_conv_1x1_f(classes=2):
    return (_bn("bn0", 64) + _conv("conv0", 72, 64, 3, bias=False) + _bn("bn1", 72) + _conv("conv1", 72, 72, 3, bias=False)
            + _bn("bn2", 72) + _conv("conv2", 72, 64, 1, bias=False) + _bn("bn3", 72) + _conv("conv3", 80, 72, 3, bias=False)
            + _bn("bn4", 80) + _conv("conv4", 80, 72, 1) + _bn("bn5", 80) + _linear("linear0", classes, 80))


def expected_conv_1x1_g(classes=2):
    return (_bn("bn0", 128) + _conv("conv0", 96, 128, 3, bias=False) + _bn("bn1", 96) + _conv("conv1", 96, 128, 1, bias=False)
            + _conv("conv2", 160, 96, 1) + _conv("conv3", 160, 96, 1, bias=False) + _conv("conv4", 160, 160, 3)
            + _conv("conv5", 160, 160, 1) + _linear("linear0", classes, 160))


def expected_conv_1x1_h(classes=2):
    return (_bn("bn0", 64) + _conv("conv0", 128, 64, 1) + _conv("conv1", 128, 64, 1, bias=False) + _conv("conv2", 128, 64, 1)
            + _linear("linear0", classes, 128))


# ---------------------------------------------------------------- conv_blk_s2 (conv_blk_s2.cnn)
class ConvBlkS2A(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(33, 40, 3, padding=1)
        self.conv1 = nn.Conv2d(40, 48, 5, stride=2, padding=2)
        self.conv2 = nn.Conv2d(48, 36, 3, stride=2, padding=2)
        self.linear0 = nn.Linear(36, classes)

    def forward(self, x):
        x = F.relu(self.conv1(F.relu(self.conv0(x))))
        return self.linear0(F.relu(self.conv2(x)).mean(dim=(2, 3)))


class ConvBlkS2B(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(34, 35, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(35)
        self.conv1 = nn.Conv2d(35, 64, 3, stride=2, bias=False)
        self.conv2 = nn.Conv2d(64, 40, 3, stride=2, padding=1)
        self.linear0 = nn.Linear(40 * 2 * 2, classes)

    def forward(self, x):
        x = F.relu(self.conv1(F.relu(self.bn0(self.conv0(x)))))
        return self.linear0(torch.flatten(self.conv2(x), 1))


class ConvBlkS2C(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(32, 33, 3, padding=1)
        self.conv1 = nn.Conv2d(33, 256, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(256, 270, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(270, 40, 3, stride=3, padding=1)
        self.linear0 = nn.Linear(40, classes)

    def forward(self, x):
        x = F.relu(self.conv2(F.relu(self.conv1(F.relu(self.conv0(x))))))
        return self.linear0(F.relu(self.conv3(x)).mean(dim=(2, 3)))


class ConvBlkS2D(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(34, 40, 3, padding=1)
        self.conv1 = nn.Conv2d(40, 48, 3, stride=(3, 2), padding=1)
        self.conv2 = nn.Conv2d(48, 36, 3, stride=(2, 3), padding=(1, 0))
        self.linear0 = nn.Linear(36 * 2 * 1, classes)

    def forward(self, x):
        x = F.relu(self.conv1(F.relu(self.conv0(x))))
        return self.linear0(torch.flatten(self.conv2(x), 1))


class ConvBlkS2E(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(34, 40, 3, stride=2, padding=1)
        self.conv1 = nn.Conv2d(40, 48, 3, padding=1)
        self.conv2 = nn.Conv2d(48, 36, 3, stride=2, padding=1)
        self.linear0 = nn.Linear(36, classes)

    def forward(self, x):
        x = F.relu(self.conv1(F.relu(self.conv0(x))))
        return self.linear0(F.relu(self.conv2(x)).mean(dim=(2, 3)))


class ConvBlkS2F(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(33, 40, 3, stride=2, padding=1)
        self.linear0 = nn.Linear(40 * 3 * 16, classes)

    def forward(self, x):
        return self.linear0(torch.flatten(F.relu(self.conv0(x)), 1))


def expected_conv_blk_s2_e(classes=3):
    return _conv("conv0", 40, 34, 3) + _conv("conv1", 48, 40, 3) + _conv("conv2", 36, 48, 3) + _linear("linear0", classes, 36)


def expected_conv_blk_s2_f(classes=2):
    return _conv("conv0", 40, 33, 3) + _linear("linear0", classes, 1920)


def expected_conv_blk_s2_a(classes=3):
    return _conv("conv0", 40, 33, 3) + _conv("conv1", 48, 40, 5) + _conv("conv2", 36, 48, 3) + _linear("linear0", classes, 36)


def expected_conv_blk_s2_b(classes=2):
    return (_conv("conv0", 35, 34, 3) + _bn("bn0", 35) + _conv("conv1", 64, 35, 3, bias=False) + _conv("conv2", 40, 64, 3)
            + _linear("linear0", classes, 160))


def expected_conv_blk_s2_c(classes=2):
    return (_conv("conv0", 33, 32, 3) + _conv("conv1", 256, 33, 3) + _conv("conv2", 270, 256, 3) + _conv("conv3", 40, 270, 3)
            + _linear("linear0", classes, 40))


def expected_conv_blk_s2_d(classes=3):
    return _conv("conv0", 40, 34, 3) + _conv("conv1", 48, 40, 3) + _conv("conv2", 36, 48, 3) + _linear("linear0", classes, 72)


# ---------------------------------------------------------------- conv_pair (conv_pair.cnn)
class ConvPairAB(nn.Module):
    # conv0 bn0, then block pair(channels): twins.Basic with stride 2 (conv0 bn0 conv1 bn1 and the
    # shortcut conv2 bn2), global average pool, linear0
    def __init__(self, channels, inp, classes):
        super().__init__()
        self.conv0 = nn.Conv2d(3, inp, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(inp)
        self.pair0 = Basic(inp, channels, 2)
        self.linear0 = nn.Linear(channels, classes)

    def forward(self, x):
        x = self.pair0(F.relu(self.bn0(self.conv0(x))))
        return self.linear0(x.mean(dim=(2, 3)))


class ConvPairA(ConvPairAB):
    def __init__(self, classes=3):
        super().__init__(72, 40, classes)


class ConvPairB(ConvPairAB):
    def __init__(self, classes=2):
        super().__init__(144, 32, classes)


class ConvPairC(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 36, 3, padding=1)
        self.conv1 = nn.Conv2d(36, 48, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(36, 48, 1, stride=2)
        self.linear0 = nn.Linear(48, classes)

    def forward(self, x):
        x = F.relu(self.conv0(x))
        x = F.relu(self.conv1(x) + self.conv2(x))
        return self.linear0(x.mean(dim=(2, 3)))


def expected_conv_pair_a(classes=3):
    return (_conv("conv0", 40, 3, 3, bias=False) + _bn("bn0", 40) + _expected_basic("pair0", 40, 72, 2)
            + _linear("linear0", classes, 72))


def expected_conv_pair_b(classes=2):
    return (_conv("conv0", 32, 3, 3, bias=False) + _bn("bn0", 32) + _expected_basic("pair0", 32, 144, 2)
            + _linear("linear0", classes, 144))


def expected_conv_pair_c(classes=4):
    return _conv("conv0", 36, 3, 3) + _conv("conv1", 48, 36, 3) + _conv("conv2", 48, 36, 1) + _linear("linear0", classes, 48)


# ---------------------------------------------------------------- conv_blk_pad (conv_blk_pad.cnn)
class ConvBlkPadA(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(34, 40, 3, padding=1)
        self.conv1 = nn.Conv2d(40, 48, 3, padding=2)
        self.conv2 = nn.Conv2d(48, 33, 3)
        self.conv3 = nn.Conv2d(33, 36, 3, stride=2, padding=1)
        self.conv4 = nn.Conv2d(36, 35, 3, padding=1)
        self.linear0 = nn.Linear(35 * 2 * 2, classes)

    def forward(self, x):
        for conv in (self.conv0, self.conv1, self.conv2, self.conv3):
            x = F.relu(conv(x))
        return self.linear0(torch.flatten(F.relu(self.conv4(x)), 1))


class ConvBlkPadB(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(33, 40, 5, padding=2)
        self.conv1 = nn.Conv2d(40, 36, 3, padding=2)
        self.conv2 = nn.Conv2d(36, 34, (9, 3), padding=(0, 1))
        self.conv3 = nn.Conv2d(34, 40, 3, padding=(2, 1))
        self.conv4 = nn.Conv2d(40, 36, (3, 5), padding=(1, 2))
        self.conv5 = nn.Conv2d(36, 33, 4, padding="same")
        self.conv6 = nn.Conv2d(33, 35, 3, stride=2, padding=1)
        self.linear0 = nn.Linear(35 * 2 * 5, classes)

    def forward(self, x):
        for conv in (self.conv0, self.conv1, self.conv2, self.conv3, self.conv4, self.conv5):
            x = F.relu(conv(x))
        return self.linear0(torch.flatten(F.relu(self.conv6(x)), 1))


def expected_conv_blk_pad_a(classes=3):
    return (_conv("conv0", 40, 34, 3) + _conv("conv1", 48, 40, 3) + _conv("conv2", 33, 48, 3) + _conv("conv3", 36, 33, 3)
            + _conv("conv4", 35, 36, 3) + _linear("linear0", classes, 140))


def expected_conv_blk_pad_b(classes=2):
    return (_conv("conv0", 40, 33, 5) + _conv("conv1", 36, 40, 3) + _conv("conv2", 34, 36, 9, 3) + _conv("conv3", 40, 34, 3)
            + _conv("conv4", 36, 40, 3, 5) + _conv("conv5", 33, 36, 4) + _conv("conv6", 35, 33, 3) + _linear("linear0", classes, 350))

# ---------------------------------------------------------------- cov_mul
class SqueezeExcite(nn.Module):
    # block se(c, r = 4): x * hardsigmoid(conv1(relu(conv0(mean over H, W of x))))
    def __init__(self, c, r=4):
        super().__init__()
        self.conv0 = nn.Conv2d(c, c // r, 1)
        self.conv1 = nn.Conv2d(c // r, c, 1)

    def forward(self, x):
        s = x.mean(dim=(2, 3), keepdim=True)
        return x * F.hardsigmoid(self.conv1(F.relu(self.conv0(s))))


class CovMul(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 8, 3, padding=1)
        self.se0 = SqueezeExcite(8)
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 1)
        self.se1 = SqueezeExcite(8, 2)
        self.linear0 = nn.Linear(8, classes)

    def forward(self, x):
        x = self.se0(F.relu(self.conv0(x)))
        x = torch.sigmoid(x.mean(dim=(2, 3), keepdim=True)) * self.conv1(x)
        x = x * torch.tanh(self.conv2(x))
        x = self.se1(F.max_pool2d(x, 2))
        return self.linear0(x.mean(dim=(2, 3)))


def expected_cov_mul(classes=4):
    return (_conv("conv0", 8, 3, 3) + _conv("se0.conv0", 2, 8, 1) + _conv("se0.conv1", 8, 2, 1)
            + _conv("conv1", 8, 8, 3) + _conv("conv2", 8, 8, 1)
            + _conv("se1.conv0", 4, 8, 1) + _conv("se1.conv1", 8, 4, 1) + _linear("linear0", classes, 8))


# ---------------------------------------------------------------- cov_drop_path
def row_drop(x, p, training):
    # stochastic depth, mode "row": each image kept with probability 1 - p, scaled by 1 / (1 - p)
    if not training or p == 0:
        return x
    keep = F.dropout(torch.ones(x.shape[0], 1, 1, 1, dtype=x.dtype), p, True)
    return x * keep


class ResDrop(nn.Module):
    def __init__(self, c, p):
        super().__init__()
        self.p = p
        self.conv0 = nn.Conv2d(c, c, 3, padding=1)
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return F.relu(x + row_drop(self.conv1(F.relu(self.conv0(x))), self.p, self.training))


class CovDropPath(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 6, 3, padding=1)
        self.res0 = ResDrop(6, 0.2)
        self.res1 = ResDrop(6, 0.0)
        self.conv1 = nn.Conv2d(6, 6, 1)
        self.linear0 = nn.Linear(6, classes)

    def forward(self, x):
        x = self.res1(self.res0(F.relu(self.conv0(x))))
        x = x + row_drop(self.conv1(x), 0.5, self.training)
        return self.linear0(x.mean(dim=(2, 3)))


def expected_cov_drop_path(classes=3):
    return (_conv("conv0", 6, 3, 3) + _conv("res0.conv0", 6, 6, 3) + _conv("res0.conv1", 6, 6, 3)
            + _conv("res1.conv0", 6, 6, 3) + _conv("res1.conv1", 6, 6, 3) + _conv("conv1", 6, 6, 1)
            + _linear("linear0", classes, 6))


# ---------------------------------------------------------------- se_dw.cnn
class SE(nn.Module):
    # block se(c, sq): x * hardsigmoid(conv1(relu(conv0(mean over H, W of x))))
    def __init__(self, c, sq):
        super().__init__()
        self.conv0 = nn.Conv2d(c, sq, 1)
        self.conv1 = nn.Conv2d(sq, c, 1)

    def forward(self, x):
        return x * F.hardsigmoid(self.conv1(F.relu(self.conv0(x.mean(dim=(2, 3), keepdim=True)))))


class SeDw(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.conv0 = nn.Conv2d(6, 12, 1)
        self.bn0 = nn.BatchNorm2d(12)
        self.conv1 = nn.Conv2d(12, 12, 3, padding=1, groups=12, bias=False)
        self.bn1 = nn.BatchNorm2d(12)
        self.se0 = SE(12, 4)
        self.conv2 = nn.Conv2d(12, 24, 5, stride=2, padding=2, groups=12)
        self.conv3 = nn.Conv2d(24, 24, 3, padding=1, groups=24)
        self.bn2 = nn.BatchNorm2d(24)
        self.conv4 = nn.Conv2d(24, 24, 1)
        self.conv5 = nn.Conv2d(24, 48, (3, 5), stride=2, padding=(1, 2), groups=24, bias=False)
        self.conv6 = nn.Conv2d(48, 12, 1)
        self.conv7 = nn.Conv2d(12, 48, 1)
        self.linear0 = nn.Linear(48, classes)

    def forward(self, x):
        x = F.relu6(self.bn0(self.conv0(x)))
        x = self.se0(F.hardswish(self.bn1(self.conv1(x))))
        x = F.relu(self.conv2(x))
        x = x + self.conv4(F.relu6(self.bn2(self.conv3(x))))
        x = self.conv5(x)
        x = x * torch.sigmoid(self.conv7(F.silu(self.conv6(x.mean(dim=(2, 3), keepdim=True)))))
        return self.linear0(x.mean(dim=(2, 3)))


class SeDwWide(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.conv1 = nn.Conv2d(4, 4, 7, stride=2, padding=3, groups=4, bias=False)
        self.bn0 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 12, 3, groups=4)
        self.se0 = SE(12, 3)
        self.linear0 = nn.Linear(12, classes)

    def forward(self, x):
        x = self.bn0(self.conv1(F.relu(self.conv0(x))))
        x = self.se0(self.conv2(x))
        return self.linear0(x.mean(dim=(2, 3)))


def expected_se_dw(classes=5):
    return (_conv("conv0", 12, 6, 1) + _bn("bn0", 12) + _conv("conv1", 12, 1, 3, bias=False) + _bn("bn1", 12)
            + _conv("se0.conv0", 4, 12, 1) + _conv("se0.conv1", 12, 4, 1) + _conv("conv2", 24, 1, 5)
            + _conv("conv3", 24, 1, 3) + _bn("bn2", 24) + _conv("conv4", 24, 24, 1)
            + _conv("conv5", 48, 1, 3, 5, bias=False) + _conv("conv6", 12, 48, 1) + _conv("conv7", 48, 12, 1)
            + _linear("linear0", classes, 48))


def expected_se_dw_wide(classes=3):
    return (_conv("conv0", 4, 1, 3) + _conv("conv1", 4, 1, 7, bias=False) + _bn("bn0", 4) + _conv("conv2", 12, 1, 3)
            + _conv("se0.conv0", 3, 12, 1) + _conv("se0.conv1", 12, 3, 1) + _linear("linear0", classes, 12))


# ---------------------------------------------------------------- cov_average
class Mean2(nn.Module):
    # block mean2(c): the mean of tanh(conv 3x3) and conv 1x1 of the same input
    def __init__(self, c):
        super().__init__()
        self.conv0 = nn.Conv2d(c, c, 3, padding=1)
        self.conv1 = nn.Conv2d(c, c, 1)

    def forward(self, x):
        return torch.stack([torch.tanh(self.conv0(x)), self.conv1(x)]).mean(dim=0)


class CovAverage(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv1 = nn.Conv2d(6, 6, 3, padding=1)
        self.mean20 = Mean2(6)
        self.linear0 = nn.Linear(96, classes)
        self.linear1 = nn.Linear(96, 10)
        self.linear2 = nn.Linear(10, classes)
        self.linear3 = nn.Linear(96, 7)
        self.linear4 = nn.Linear(7, classes)

    def forward(self, x):
        x = F.relu(self.conv0(x))
        x = torch.stack([x, torch.sigmoid(self.conv1(x))]).mean(dim=0)
        x = torch.flatten(F.max_pool2d(self.mean20(x), 2), 1)
        heads = [self.linear0(x), self.linear2(F.relu(self.linear1(x))), self.linear4(torch.tanh(self.linear3(x)))]
        return torch.stack(heads).mean(dim=0)


def expected_cov_average(classes=4):
    return (_conv("conv0", 6, 3, 3) + _conv("conv1", 6, 6, 3) + _conv("mean20.conv0", 6, 6, 3)
            + _conv("mean20.conv1", 6, 6, 1) + _linear("linear0", classes, 96) + _linear("linear1", 10, 96)
            + _linear("linear2", classes, 10) + _linear("linear3", 7, 96) + _linear("linear4", classes, 7))


# ---------------------------------------------------------------- conv_blk_grp (conv_blk_grp.cnn)
class ConvBlkGrpA(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(64, 64, 3, padding=1, groups=2)
        self.bn0 = nn.BatchNorm2d(64)
        self.conv1 = nn.Conv2d(64, 192, 3, padding=1, groups=2, bias=False)
        self.conv2 = nn.Conv2d(192, 96, 3, groups=3)
        self.linear0 = nn.Linear(96 * 4 * 3, classes)

    def forward(self, x):
        x = F.relu(self.bn0(self.conv0(x)))
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        return self.linear0(torch.flatten(x, 1))


class ConvBlkGrpB(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(64, 64, 3, stride=2, padding=1, groups=2)
        self.conv1 = nn.Conv2d(64, 128, 3, stride=2, groups=2)
        self.linear0 = nn.Linear(128 * 2 * 1, classes)

    def forward(self, x):
        x = F.relu(self.conv1(F.relu(self.conv0(x))))
        return self.linear0(torch.flatten(x, 1))


class ConvBlkGrpC(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(256, 256, 3, padding=1, groups=2)
        self.conv1 = nn.Conv2d(256, 64, 3, padding=1, groups=4)
        self.conv2 = nn.Conv2d(64, 64, 3, padding=1, groups=4)
        self.conv3 = nn.Conv2d(64, 96, 3, padding=1, groups=2)
        self.linear0 = nn.Linear(96, classes)

    def forward(self, x):
        x = F.relu(self.conv1(F.relu(self.conv0(x))))
        x = self.conv3(F.relu(self.conv2(x)))
        return self.linear0(x.mean(dim=(2, 3)))


class ConvBlkGrpD(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(64, 64, 3, padding=1, groups=2)
        self.linear0 = nn.Linear(64, classes)

    def forward(self, x):
        return self.linear0(F.relu(self.conv0(x)).mean(dim=(2, 3)))


def expected_conv_blk_grp_a(classes=3):
    return (_conv("conv0", 64, 32, 3) + _bn("bn0", 64) + _conv("conv1", 192, 32, 3, bias=False) + _conv("conv2", 96, 64, 3)
            + _linear("linear0", classes, 288))


def expected_conv_blk_grp_b(classes=2):
    return _conv("conv0", 64, 32, 3) + _conv("conv1", 128, 32, 3) + _linear("linear0", classes, 256)


def expected_conv_blk_grp_c(classes=2):
    return (_conv("conv0", 256, 128, 3) + _conv("conv1", 64, 64, 3) + _conv("conv2", 64, 16, 3) + _conv("conv3", 96, 32, 3)
            + _linear("linear0", classes, 96))


def expected_conv_blk_grp_d(classes=2):
    return _conv("conv0", 64, 32, 3) + _linear("linear0", classes, 64)


# ---------------------------------------------------------------- conv_dil (conv_dil.cnn)
class ConvDilA(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(32, 48, 3, padding=2, dilation=2)
        self.bn0 = nn.BatchNorm2d(48)
        self.conv1 = nn.Conv2d(48, 40, 3, padding=1, dilation=2, bias=False)
        self.conv2 = nn.Conv2d(40, 64, 3, padding=(4, 2), dilation=(4, 2))
        self.linear0 = nn.Linear(64 * 7 * 9, classes)

    def forward(self, x):
        x = F.relu(self.bn0(self.conv0(x)))
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        return self.linear0(torch.flatten(x, 1))


class ConvDilB(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(64, 64, 3, padding=2, dilation=2, groups=2)
        self.conv1 = nn.Conv2d(64, 32, 3, stride=2, padding=2, dilation=2)
        self.linear0 = nn.Linear(32, classes)

    def forward(self, x):
        x = F.relu(self.conv1(F.relu(self.conv0(x))))
        return self.linear0(x.mean(dim=(2, 3)))


class ConvDilC(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(256, 256, 3, padding=2, dilation=2)
        self.conv1 = nn.Conv2d(256, 64, 3, padding=2, dilation=2)
        self.linear0 = nn.Linear(64, classes)

    def forward(self, x):
        x = self.conv1(F.relu(self.conv0(x)))
        return self.linear0(x.mean(dim=(2, 3)))


class ConvDilD(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(32, 32, 3, padding=2, dilation=2)
        self.linear0 = nn.Linear(32, classes)

    def forward(self, x):
        return self.linear0(F.relu(self.conv0(x)).mean(dim=(2, 3)))


def expected_conv_dil_a(classes=3):
    return (_conv("conv0", 48, 32, 3) + _bn("bn0", 48) + _conv("conv1", 40, 48, 3, bias=False) + _conv("conv2", 64, 40, 3)
            + _linear("linear0", classes, 4032))


def expected_conv_dil_b(classes=2):
    return _conv("conv0", 64, 32, 3) + _conv("conv1", 32, 64, 3) + _linear("linear0", classes, 32)


def expected_conv_dil_c(classes=2):
    return _conv("conv0", 256, 256, 3) + _conv("conv1", 64, 256, 3) + _linear("linear0", classes, 64)


def expected_conv_dil_d(classes=2):
    return _conv("conv0", 32, 32, 3) + _linear("linear0", classes, 32)


# ---------------------------------------------------------------- conv_evens (conv_evens.cnn)
class ConvEvensA(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(64)
        self.conv0 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv1 = nn.Conv2d(64, 96, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(96)
        self.conv2 = nn.Conv2d(64, 96, 1, stride=2)
        self.bn3 = nn.BatchNorm2d(96)
        self.linear0 = nn.Linear(96, classes)

    def forward(self, x):
        x = self.bn0(x)
        x = F.relu(F.relu(self.bn1(self.conv0(x))) + x)
        x = F.relu(F.relu(self.bn2(self.conv1(x))) + self.bn3(self.conv2(x)))
        return self.linear0(x.mean(dim=(2, 3)))


class ConvEvensB(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(64, 64, 1, bias=False)
        self.conv1 = nn.Conv2d(64, 80, 1, stride=2, bias=False)
        self.bn0 = nn.BatchNorm2d(80)
        self.conv2 = nn.Conv2d(64, 80, 1, stride=2, bias=False)
        self.linear0 = nn.Linear(80, classes)

    def forward(self, x):
        x = F.relu(self.conv0(x)) + x
        x = F.relu(self.bn0(self.conv1(x)) + self.conv2(x))
        return self.linear0(x.mean(dim=(2, 3)))


def expected_conv_evens_a(classes=3):
    return (_bn("bn0", 64) + _conv("conv0", 64, 64, 3, bias=False) + _bn("bn1", 64) + _conv("conv1", 96, 64, 3, bias=False)
            + _bn("bn2", 96) + _conv("conv2", 96, 64, 1) + _bn("bn3", 96) + _linear("linear0", classes, 96))


def expected_conv_evens_b(classes=2):
    return (_conv("conv0", 64, 64, 1, bias=False) + _conv("conv1", 80, 64, 1, bias=False) + _bn("bn0", 80)
            + _conv("conv2", 80, 64, 1, bias=False) + _linear("linear0", classes, 80))


# ---------------------------------------------------------------- registry
TWINS = {"cov_act": CovAct, "cov_conv": CovConv, "cov_pool": CovPool, "cov_norm_act": CovNormAct, "cov_residual": CovResidual,
         "cov_concat": CovConcat, "cov_blocks": CovBlocks, "cov_cond": CovCond, "naming": Naming,
         "multi_a": MultiA, "multi_b": MultiB, "conv_odd": ConvOdd, "conv_wide": ConvWide,
         "conv_issue11": ConvIssue11, "conv_bwd_odd": ConvBwdOdd, "conv_dw_wide": ConvDwWide, "cov_mul": CovMul, "cov_drop_path": CovDropPath,
         "se_dw": SeDw, "se_dw_wide": SeDwWide, "cov_average": CovAverage, "conv_oc_a": ConvOcA,
         "conv_oc_b": ConvOcB, "conv_oc_c": ConvOcC, "conv_oc_d": ConvOcD, "conv_oc_e": ConvOcE, "conv_oc_f": ConvOcF, "conv_oc_g": ConvOcG, "conv_oc_h": ConvOcH, "conv_blk_a": ConvBlkA, "conv_blk_b": ConvBlkB, "conv_blk_c": ConvBlkC, "conv_blk_d": ConvBlkD, "conv_blk_e": ConvBlkE, "conv_blk_f": ConvBlkF,
         "conv_1x1_a": Conv1x1A, "conv_1x1_b": Conv1x1B, "conv_1x1_c": Conv1x1C, "conv_1x1_d": Conv1x1D, "conv_1x1_e": Conv1x1E, "conv_1x1_f": Conv1x1F, "conv_1x1_g": Conv1x1G, "conv_1x1_h": Conv1x1H,
         "conv_blk_s2_a": ConvBlkS2A, "conv_blk_s2_b": ConvBlkS2B, "conv_blk_s2_c": ConvBlkS2C, "conv_blk_s2_d": ConvBlkS2D,
         "conv_blk_s2_e": ConvBlkS2E, "conv_blk_s2_f": ConvBlkS2F,
         "conv_blk_pad_a": ConvBlkPadA, "conv_blk_pad_b": ConvBlkPadB,
         "conv_pair_a": ConvPairA, "conv_pair_b": ConvPairB, "conv_pair_c": ConvPairC,
         "conv_blk_grp_a": ConvBlkGrpA, "conv_blk_grp_b": ConvBlkGrpB, "conv_blk_grp_c": ConvBlkGrpC, "conv_blk_grp_d": ConvBlkGrpD,
         "conv_dil_a": ConvDilA, "conv_dil_b": ConvDilB, "conv_dil_c": ConvDilC, "conv_dil_d": ConvDilD,
         "conv_evens_a": ConvEvensA, "conv_evens_b": ConvEvensB}
EXPECTED = {"cov_act": expected_cov_act, "cov_conv": expected_cov_conv, "cov_pool": expected_cov_pool, "cov_norm_act": expected_cov_norm_act,
            "cov_residual": expected_cov_residual, "cov_concat": expected_cov_concat,
            "cov_blocks": expected_cov_blocks, "cov_cond": expected_cov_cond, "naming": expected_naming,
            "multi_a": expected_multi_a, "multi_b": expected_multi_b, "conv_odd": expected_conv_odd,
            "conv_wide": expected_conv_wide, "conv_issue11": expected_conv_issue11, "conv_bwd_odd": expected_conv_bwd_odd,
            "conv_dw_wide": expected_conv_dw_wide,
            "cov_mul": expected_cov_mul, "cov_drop_path": expected_cov_drop_path,
            "se_dw": expected_se_dw, "se_dw_wide": expected_se_dw_wide, "cov_average": expected_cov_average,
            "conv_oc_a": expected_conv_oc_a, "conv_oc_b": expected_conv_oc_b, "conv_oc_c": expected_conv_oc_c, "conv_oc_d": expected_conv_oc_d, "conv_oc_e": expected_conv_oc_e, "conv_oc_f": expected_conv_oc_f, "conv_oc_g": expected_conv_oc_g, "conv_oc_h": expected_conv_oc_h,
            "conv_blk_a": expected_conv_blk_a, "conv_blk_b": expected_conv_blk_b, "conv_blk_c": expected_conv_blk_c, "conv_blk_d": expected_conv_blk_d, "conv_blk_e": expected_conv_blk_e, "conv_blk_f": expected_conv_blk_f,
            "conv_1x1_a": expected_conv_1x1_a, "conv_1x1_b": expected_conv_1x1_b, "conv_1x1_c": expected_conv_1x1_c, "conv_1x1_d": expected_conv_1x1_d, "conv_1x1_e": expected_conv_1x1_e, "conv_1x1_f": expected_conv_1x1_f, "conv_1x1_g": expected_conv_1x1_g, "conv_1x1_h": expected_conv_1x1_h,
            "conv_blk_s2_a": expected_conv_blk_s2_a, "conv_blk_s2_b": expected_conv_blk_s2_b, "conv_blk_s2_c": expected_conv_blk_s2_c, "conv_blk_s2_d": expected_conv_blk_s2_d,
            "conv_blk_s2_e": expected_conv_blk_s2_e, "conv_blk_s2_f": expected_conv_blk_s2_f,
            "conv_blk_pad_a": expected_conv_blk_pad_a, "conv_blk_pad_b": expected_conv_blk_pad_b,
            "conv_pair_a": expected_conv_pair_a, "conv_pair_b": expected_conv_pair_b, "conv_pair_c": expected_conv_pair_c,
            "conv_blk_grp_a": expected_conv_blk_grp_a, "conv_blk_grp_b": expected_conv_blk_grp_b,
            "conv_blk_grp_c": expected_conv_blk_grp_c, "conv_blk_grp_d": expected_conv_blk_grp_d,
            "conv_dil_a": expected_conv_dil_a, "conv_dil_b": expected_conv_dil_b, "conv_dil_c": expected_conv_dil_c,
            "conv_dil_d": expected_conv_dil_d, "conv_evens_a": expected_conv_evens_a, "conv_evens_b": expected_conv_evens_b}
FILES = {n: os.path.join(MODELS, n + ".cnn") for n in TWINS}
FILES["multi_a"] = FILES["multi_b"] = os.path.join(MODELS, "multi.cnn")
FILES["conv_odd"] = FILES["conv_wide"] = FILES["conv_issue11"] = os.path.join(MODELS, "conv_held.cnn")
FILES["conv_bwd_odd"] = os.path.join(MODELS, "conv_bwd.cnn")
FILES["se_dw"] = FILES["se_dw_wide"] = os.path.join(MODELS, "se_dw.cnn")
FILES["conv_oc_a"] = FILES["conv_oc_b"] = FILES["conv_oc_c"] = FILES["conv_oc_d"] = FILES["conv_oc_e"] = FILES["conv_oc_f"] = FILES["conv_oc_g"] = FILES["conv_oc_h"] = os.path.join(MODELS, "conv_oc.cnn")
FILES["conv_blk_a"] = FILES["conv_blk_b"] = FILES["conv_blk_c"] = FILES["conv_blk_d"] = FILES["conv_blk_e"] = FILES["conv_blk_f"] = os.path.join(MODELS, "conv_blk.cnn")
FILES["conv_1x1_a"] = FILES["conv_1x1_b"] = FILES["conv_1x1_c"] = FILES["conv_1x1_d"] = FILES["conv_1x1_e"] = FILES["conv_1x1_f"] = FILES["conv_1x1_g"] = FILES["conv_1x1_h"] = os.path.join(MODELS, "conv_1x1.cnn")
FILES["conv_blk_s2_a"] = FILES["conv_blk_s2_b"] = FILES["conv_blk_s2_c"] = FILES["conv_blk_s2_d"] = os.path.join(MODELS, "conv_blk_s2.cnn")
FILES["conv_blk_s2_e"] = FILES["conv_blk_s2_f"] = os.path.join(MODELS, "conv_blk_s2.cnn")
FILES["conv_blk_pad_a"] = FILES["conv_blk_pad_b"] = os.path.join(MODELS, "conv_blk_pad.cnn")
FILES["conv_pair_a"] = FILES["conv_pair_b"] = FILES["conv_pair_c"] = os.path.join(MODELS, "conv_pair.cnn")
FILES["conv_blk_grp_a"] = FILES["conv_blk_grp_b"] = FILES["conv_blk_grp_c"] = FILES["conv_blk_grp_d"] = os.path.join(MODELS, "conv_blk_grp.cnn")
FILES["conv_dil_a"] = FILES["conv_dil_b"] = FILES["conv_dil_c"] = FILES["conv_dil_d"] = os.path.join(MODELS, "conv_dil.cnn")
FILES["conv_evens_a"] = FILES["conv_evens_b"] = os.path.join(MODELS, "conv_evens.cnn")
INPUT_SHAPE = {"cov_act": [3, 12, 12], "cov_conv": [3, 16, 16], "cov_pool": [3, 16, 15], "cov_norm_act": [3, 10, 10],
               "cov_residual": [4, 12, 12], "cov_concat": [3, 12, 12], "cov_blocks": [3, 14, 14],
               "cov_cond": [3, 12, 10], "naming": [4, 8, 8], "multi_a": [2, 12, 12], "multi_b": [2, 12, 12],
               "conv_odd": [5, 13, 11], "conv_wide": [2, 2, 30000], "conv_issue11": [1, 1, 200000], "conv_bwd_odd": [5, 13, 17], "conv_dw_wide": [3, 26, 27],
               "cov_mul": [3, 10, 10], "cov_drop_path": [3, 8, 8],
               "se_dw": [6, 19, 17], "se_dw_wide": [4, 9, 40], "cov_average": [3, 9, 9],
               "conv_oc_a": [5, 11, 13], "conv_oc_b": [7, 12, 13], "conv_oc_c": [5, 16, 16], "conv_oc_d": [3, 12, 16],
               "conv_blk_a": [33, 5, 7], "conv_blk_b": [34, 9, 9], "conv_blk_c": [32, 24, 24], "conv_blk_d": [130, 4, 3], "conv_blk_e": [34, 11, 9], "conv_blk_f": [32, 6, 40],
               "conv_1x1_a": [130, 7, 7], "conv_1x1_b": [24, 9, 11], "conv_1x1_c": [200, 16, 16], "conv_1x1_d": [64, 33, 40], "conv_1x1_e": [96, 64, 31], "conv_1x1_f": [64, 14, 41], "conv_1x1_g": [128, 9, 9], "conv_1x1_h": [64, 10, 13],
               "conv_blk_s2_a": [33, 9, 9], "conv_blk_s2_b": [34, 8, 7], "conv_blk_s2_c": [32, 7, 7], "conv_blk_s2_d": [34, 9, 10],
               "conv_blk_s2_e": [34, 9, 35], "conv_blk_s2_f": [33, 6, 31],
               "conv_blk_pad_a": [34, 4, 4], "conv_blk_pad_b": [33, 7, 7],
               "conv_pair_a": [3, 15, 13], "conv_pair_b": [3, 12, 12], "conv_pair_c": [3, 10, 10],
               "conv_blk_grp_a": [64, 6, 5], "conv_blk_grp_b": [64, 9, 7], "conv_blk_grp_c": [256, 3, 3], "conv_blk_grp_d": [64, 3, 36],
               "conv_dil_a": [32, 9, 11], "conv_dil_b": [64, 6, 5], "conv_dil_c": [256, 4, 4], "conv_dil_d": [32, 3, 36],
               "conv_evens_a": [64, 15, 13], "conv_evens_b": [64, 9, 10]}
OUTPUT_SHAPE = {"cov_act": [5], "cov_conv": [5], "cov_pool": [3], "cov_norm_act": [4], "cov_residual": [3], "cov_concat": [6],
                "cov_blocks": [7], "cov_cond": [5], "naming": [5], "multi_a": [3], "multi_b": [4],
                "conv_odd": [3], "conv_wide": [2], "conv_issue11": [2], "conv_bwd_odd": [3], "conv_dw_wide": [3], "cov_mul": [4],
                "cov_drop_path": [3], "se_dw": [5], "se_dw_wide": [3], "cov_average": [4], "conv_oc_a": [3], "conv_oc_b": [2], "conv_oc_c": [3], "conv_oc_d": [2],
                "conv_blk_a": [3], "conv_blk_b": [2], "conv_blk_c": [2], "conv_blk_d": [2], "conv_blk_e": [2], "conv_blk_f": [2],
                "conv_1x1_a": [3], "conv_1x1_b": [2], "conv_1x1_c": [2], "conv_1x1_d": [3], "conv_1x1_e": [2], "conv_1x1_f": [2], "conv_1x1_g": [2], "conv_1x1_h": [2],
                "conv_blk_s2_a": [3], "conv_blk_s2_b": [2], "conv_blk_s2_c": [2], "conv_blk_s2_d": [3],
                "conv_blk_s2_e": [3], "conv_blk_s2_f": [2],
                "conv_blk_pad_a": [3], "conv_blk_pad_b": [2],
                "conv_pair_a": [3], "conv_pair_b": [2], "conv_pair_c": [4],
                "conv_blk_grp_a": [3], "conv_blk_grp_b": [2], "conv_blk_grp_c": [2], "conv_blk_grp_d": [2],
                "conv_dil_a": [3], "conv_dil_b": [2], "conv_dil_c": [2], "conv_dil_d": [2],
                "conv_evens_a": [3], "conv_evens_b": [2]}


# ---------------------------------------------------------------- lin_lanes (lin_lanes.cnn)
class LinLanesA(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.linear0 = nn.Linear(210, 20, bias=False)
        self.linear1 = nn.Linear(20, 17)
        self.bn0 = nn.BatchNorm1d(17)
        self.linear2 = nn.Linear(17, classes)

    def forward(self, x):
        x = F.relu(self.linear0(torch.flatten(x, 1)))
        return self.linear2(F.relu(self.bn0(self.linear1(x))))


class LinLanesB(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 4, 3, padding=1)
        self.linear0 = nn.Linear(256, 64)
        self.linear1 = nn.Linear(64, classes)

    def forward(self, x):
        x = torch.flatten(F.relu(self.conv0(x)), 1)
        return self.linear1(torch.sigmoid(self.linear0(x)))


def expected_lin_lanes_a(classes=3):
    return (_linear("linear0", 20, 210, bias=False) + _linear("linear1", 17, 20) + _bn("bn0", 17)
            + _linear("linear2", classes, 17))


def expected_lin_lanes_b(classes=4):
    return _conv("conv0", 4, 3, 3) + _linear("linear0", 64, 256) + _linear("linear1", classes, 64)


TWINS["lin_lanes_a"], TWINS["lin_lanes_b"] = LinLanesA, LinLanesB
EXPECTED["lin_lanes_a"], EXPECTED["lin_lanes_b"] = expected_lin_lanes_a, expected_lin_lanes_b
FILES["lin_lanes_a"] = FILES["lin_lanes_b"] = os.path.join(MODELS, "lin_lanes.cnn")
INPUT_SHAPE["lin_lanes_a"], INPUT_SHAPE["lin_lanes_b"] = [5, 6, 7], [3, 8, 8]
OUTPUT_SHAPE["lin_lanes_a"], OUTPUT_SHAPE["lin_lanes_b"] = [3], [4]

def build(name, **kwargs):
    return TWINS[name](**kwargs)


def check(name, verbose=False):
    m = build(name).eval()
    got = checkpoint_tensors(m)
    want = EXPECTED[name]()
    if got != want:
        for i, (g, w) in enumerate(zip(got, want)):
            if g != w:
                raise AssertionError("%s: tensor %d is %s, expected %s" % (name, i, g, w))
        raise AssertionError("%s: %d tensors, expected %d" % (name, len(got), len(want)))
    with torch.no_grad():
        y = m(torch.rand([2] + INPUT_SHAPE[name]))
    assert list(y.shape) == [2] + OUTPUT_SHAPE[name], (name, y.shape)
    if verbose:
        for n, s in got:
            print("  %-40s %s" % (n, list(s)))
    print("%-13s %3d checkpoint tensors, %6d trainable, forward [2, %s] -> %s" % (
        name, len(got), trainable_count(m), ", ".join(map(str, INPUT_SHAPE[name])), list(y.shape)))


if __name__ == "__main__":
    import sys
    torch.manual_seed(0)
    names = [a for a in sys.argv[1:] if not a.startswith("-")]
    for n in (names or TWINS):
        check(n, verbose="-v" in sys.argv)


# ---------------------------------------------------------------- fuse_train (fuse_train.cnn)
class FuseTrainA(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(8)
        self.conv1 = nn.Conv2d(8, 6, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 5, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(5)
        self.linear0 = nn.Linear(10, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn0(self.conv0(x))), 2)           # [8, 11, 9]
        x = F.max_pool2d(torch.tanh(self.bn1(self.conv1(x))), (2, 3))  # [6, 5, 3]
        x = F.max_pool2d(self.bn2(self.conv2(x)), 2)                   # [5, 2, 1]
        return self.linear0(torch.flatten(x, 1))


class FuseTrainB(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.conv0 = nn.Conv2d(2, 4, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(4)
        self.conv1 = nn.Conv2d(4, 6, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 6, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(6)
        self.conv3 = nn.Conv2d(12, 5, 1)
        self.linear0 = nn.Linear(5, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn0(self.conv0(x))), 3, stride=2, padding=1)   # [4, 9, 8]
        x = F.max_pool2d(F.leaky_relu(self.bn1(self.conv1(x)), 0.1), 2)             # [6, 4, 4]
        x = F.relu(self.bn2(self.conv2(x)))
        x = torch.cat([F.max_pool2d(x, 2), F.avg_pool2d(x, 2)], 1)                   # [12, 2, 2]
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)                                   # [5, 1, 1]
        return self.linear0(torch.flatten(x, 1))


def expected_fuse_train_a(classes=3):
    return (_conv("conv0", 8, 3, 3) + _bn("bn0", 8) + _conv("conv1", 6, 8, 3, bias=False) + _bn("bn1", 6)
            + _conv("conv2", 5, 6, 3) + _bn("bn2", 5) + _linear("linear0", classes, 10))


def expected_fuse_train_b(classes=4):
    return (_conv("conv0", 4, 2, 3) + _bn("bn0", 4) + _conv("conv1", 6, 4, 3) + _bn("bn1", 6)
            + _conv("conv2", 6, 6, 3) + _bn("bn2", 6) + _conv("conv3", 5, 12, 1) + _linear("linear0", classes, 5))


TWINS["fuse_train_a"], TWINS["fuse_train_b"] = FuseTrainA, FuseTrainB
EXPECTED["fuse_train_a"], EXPECTED["fuse_train_b"] = expected_fuse_train_a, expected_fuse_train_b
FILES["fuse_train_a"] = FILES["fuse_train_b"] = os.path.join(MODELS, "fuse_train.cnn")
INPUT_SHAPE["fuse_train_a"], INPUT_SHAPE["fuse_train_b"] = [3, 23, 19], [2, 17, 16]
OUTPUT_SHAPE["fuse_train_a"], OUTPUT_SHAPE["fuse_train_b"] = [3], [4]


class FuseTrainC(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 5, 3, padding=1)
        self.conv1 = nn.Conv2d(5, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 4, 1)
        self.linear0 = nn.Linear(8, classes)

    def forward(self, x):
        x = F.avg_pool2d(torch.tanh(self.conv0(x)), (2, 3))     # [5, 7, 4]
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)              # [6, 3, 2]
        x = F.avg_pool2d(torch.sigmoid(self.conv2(x)), 2, stride=1)   # [4, 2, 1]
        return self.linear0(torch.flatten(x, 1))


def expected_fuse_train_c(classes=3):
    return _conv("conv0", 5, 3, 3) + _conv("conv1", 6, 5, 3) + _conv("conv2", 4, 6, 1) + _linear("linear0", classes, 8)


TWINS["fuse_train_c"], EXPECTED["fuse_train_c"] = FuseTrainC, expected_fuse_train_c
FILES["fuse_train_c"] = os.path.join(MODELS, "fuse_train.cnn")
INPUT_SHAPE["fuse_train_c"], OUTPUT_SHAPE["fuse_train_c"] = [3, 15, 13], [3]


class FuseTrainD(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(2, 4, 3, padding=1)
        self.conv1 = nn.Conv2d(4, 5, 3, padding=1)
        self.linear0 = nn.Linear(45, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv0(x)), 3, stride=2, padding=1)                  # [4, 6, 10]
        x = F.max_pool2d(F.relu(self.conv1(x)), (3, 5), stride=(2, 4), padding=(1, 2))  # [5, 3, 3]
        return self.linear0(torch.flatten(x, 1))


def expected_fuse_train_d(classes=2):
    return _conv("conv0", 4, 2, 3) + _conv("conv1", 5, 4, 3) + _linear("linear0", classes, 45)


TWINS["fuse_train_d"], EXPECTED["fuse_train_d"] = FuseTrainD, expected_fuse_train_d
FILES["fuse_train_d"] = os.path.join(MODELS, "fuse_train.cnn")
INPUT_SHAPE["fuse_train_d"], OUTPUT_SHAPE["fuse_train_d"] = [2, 11, 20], [2]


class FuseTrainE(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(2, 6, 3, padding=1)
        self.conv1 = nn.Conv2d(6, 8, 3, padding=1)
        self.linear0 = nn.Linear(352, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv0(x)), 2)               # [6, 8, 11]
        x = F.avg_pool2d(torch.tanh(self.conv1(x)), (2, 1))      # [8, 4, 11]
        return self.linear0(torch.flatten(x, 1))


def expected_fuse_train_e(classes=3):
    return _conv("conv0", 6, 2, 3) + _conv("conv1", 8, 6, 3) + _linear("linear0", classes, 352)


TWINS["fuse_train_e"], EXPECTED["fuse_train_e"] = FuseTrainE, expected_fuse_train_e
FILES["fuse_train_e"] = os.path.join(MODELS, "fuse_train.cnn")
INPUT_SHAPE["fuse_train_e"], OUTPUT_SHAPE["fuse_train_e"] = [2, 16, 22], [3]


# ---------------------------------------------------------------- conv_tiny (conv_tiny.cnn)
class ConvTinyA(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(1, 3, 3, padding=1)
        self.conv1 = nn.Conv2d(3, 6, (3, 5), padding=(1, 2))
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.conv3 = nn.Conv2d(16, 1, (3, 11), padding=(1, 5))
        self.conv4 = nn.Conv2d(1, 3, 3, padding=1)
        self.linear0 = nn.Linear(405, classes)

    def forward(self, x):
        x = F.relu(self.conv1(torch.sigmoid(self.conv0(x))))    # [6, 9, 31]
        x = F.relu(self.conv3(torch.tanh(self.conv2(x))))       # [1, 5, 27]
        return self.linear0(torch.flatten(self.conv4(x), 1))


def expected_conv_tiny_a(classes=3):
    return (_conv("conv0", 3, 1, 3) + _conv("conv1", 6, 3, 3, 5) + _conv("conv2", 16, 6, 5) + _conv("conv3", 1, 16, 3, 11)
            + _conv("conv4", 3, 1, 3) + _linear("linear0", classes, 405))


TWINS["conv_tiny_a"], EXPECTED["conv_tiny_a"] = ConvTinyA, expected_conv_tiny_a
FILES["conv_tiny_a"] = os.path.join(MODELS, "conv_tiny.cnn")
INPUT_SHAPE["conv_tiny_a"], OUTPUT_SHAPE["conv_tiny_a"] = [1, 9, 31], [3]


class ConvTinyB(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(2, 5, 3, padding=1)
        self.conv1 = nn.Conv2d(5, 4, (4, 6), padding=(3, 1))
        self.conv2 = nn.Conv2d(4, 1, 3, padding=2)
        self.linear0 = nn.Linear(216, classes)

    def forward(self, x):
        x = F.relu(self.conv1(torch.tanh(self.conv0(x))))       # [4, 10, 16]
        x = torch.sigmoid(self.conv2(x))                        # [1, 12, 18]
        return self.linear0(torch.flatten(x, 1))


def expected_conv_tiny_b(classes=3):
    return _conv("conv0", 5, 2, 3) + _conv("conv1", 4, 5, 4, 6) + _conv("conv2", 1, 4, 3) + _linear("linear0", classes, 216)


TWINS["conv_tiny_b"], EXPECTED["conv_tiny_b"] = ConvTinyB, expected_conv_tiny_b
FILES["conv_tiny_b"] = os.path.join(MODELS, "conv_tiny.cnn")
INPUT_SHAPE["conv_tiny_b"], OUTPUT_SHAPE["conv_tiny_b"] = [2, 7, 19], [3]


# ---------------------------------------------------------------- conv_wino (conv_wino.cnn)
# Models whose 3x3 stride-1 convs of 8x8 planes and more check the direct kernels (conv_blk.c's
# copies per slot, its rows of 33 to 64 columns, its tiles that skip the padding and its strided
# data gradient's phases, conv_oc.c's tiles, conv.c's kernel, conv_bwd.c's data gradient):
# compiled with --no-winograd, as conv_wino.c would take those convs.
NO_WINOGRAD = {"conv_blk_b", "conv_blk_c", "conv_blk_f", "conv_blk_pad_b", "conv_blk_s2_a", "conv_dw_wide", "conv_oc_a",
               "conv_oc_c"}

class ConvWinoA(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(17, 20, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(20)
        self.conv1 = nn.Conv2d(20, 40, 3, padding=2, bias=False)
        self.conv2 = nn.Conv2d(40, 45, 3)
        self.linear0 = nn.Linear(45, classes)

    def forward(self, x):
        x = F.relu(self.bn0(self.conv0(x)))
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        return self.linear0(x.mean(dim=(2, 3)))


class ConvWinoB(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(16, 30, 3, padding=1)
        self.conv1 = nn.Conv2d(30, 17, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(17)
        self.conv2 = nn.Conv2d(17, 24, 3, padding=1)
        self.linear0 = nn.Linear(24 * 15 * 11, classes)

    def forward(self, x):
        x = F.relu(self.bn0(self.conv1(F.relu(self.conv0(x)))))
        return self.linear0(torch.flatten(self.conv2(x), 1))


class ConvWinoC(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(32, 32, 3)
        self.conv1 = nn.Conv2d(32, 64, 3, padding=1)
        self.linear0 = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.conv1(F.relu(self.conv0(x))))
        return self.linear0(x.mean(dim=(2, 3)))


class ConvWinoD(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(128, 128, 3, padding=1)
        self.conv1 = nn.Conv2d(128, 130, 3, padding=1)
        self.linear0 = nn.Linear(130, classes)

    def forward(self, x):
        x = self.conv1(self.conv0(x))
        return self.linear0(x.mean(dim=(2, 3)))


def expected_conv_wino_d(classes=2):
    return _conv("conv0", 128, 128, 3) + _conv("conv1", 130, 128, 3) + _linear("linear0", classes, 130)


def expected_conv_wino_a(classes=3):
    return (_conv("conv0", 20, 17, 3) + _bn("bn0", 20) + _conv("conv1", 40, 20, 3, bias=False) + _conv("conv2", 45, 40, 3)
            + _linear("linear0", classes, 45))


def expected_conv_wino_b(classes=2):
    return (_conv("conv0", 30, 16, 3) + _conv("conv1", 17, 30, 3) + _bn("bn0", 17) + _conv("conv2", 24, 17, 3)
            + _linear("linear0", classes, 24 * 15 * 11))


def expected_conv_wino_c(classes=2):
    return _conv("conv0", 32, 32, 3) + _conv("conv1", 64, 32, 3) + _linear("linear0", classes, 64)


for _n, _t, _e, _i, _o in (("conv_wino_a", ConvWinoA, expected_conv_wino_a, [17, 13, 13], [3]),
                           ("conv_wino_b", ConvWinoB, expected_conv_wino_b, [16, 15, 11], [2]),
                           ("conv_wino_c", ConvWinoC, expected_conv_wino_c, [32, 14, 14], [2]),
                           ("conv_wino_d", ConvWinoD, expected_conv_wino_d, [128, 11, 26], [2])):
    TWINS[_n], EXPECTED[_n], FILES[_n] = _t, _e, os.path.join(MODELS, "conv_wino.cnn")
    INPUT_SHAPE[_n], OUTPUT_SHAPE[_n] = _i, _o


# ---------------------------------------------------------------- conv_dws (conv_dws.cnn)
# Strided convs with few input channels, whose weight gradient conv_small.c computes on the
# input's phases.
class ConvDwsA(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(2, 12, (4, 5), stride=3, padding=(1, 2))
        self.linear0 = nn.Linear(12 * 13 * 18, classes)

    def forward(self, x):
        return self.linear0(torch.flatten(F.relu(self.conv0(x)), 1))


class ConvDwsB(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(1, 6, 3, stride=2, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(6)
        self.linear0 = nn.Linear(6 * 17 * 33, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn0(self.conv0(x))), 2)
        return self.linear0(torch.flatten(x, 1))


class ConvDwsC(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(4, 16, 8, stride=4, padding=2)
        self.linear0 = nn.Linear(16, classes)

    def forward(self, x):
        return self.linear0(F.relu(self.conv0(x)).mean(dim=(2, 3)))


class ConvDwsD(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 25, 7, stride=2, padding=3, bias=False)
        self.bn0 = nn.BatchNorm2d(25)
        self.linear0 = nn.Linear(25, classes)

    def forward(self, x):
        return self.linear0(F.relu(self.bn0(self.conv0(x))).mean(dim=(2, 3)))


class ConvDwsE(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(2, 8, 3, stride=2, padding=1)
        self.linear0 = nn.Linear(8 * 35 * 8, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv0(x)), 2)
        return self.linear0(torch.flatten(x, 1))


def expected_conv_dws_a(classes=3):
    return _conv("conv0", 12, 2, 4, 5) + _linear("linear0", classes, 12 * 13 * 18)


def expected_conv_dws_b(classes=2):
    return _conv("conv0", 6, 1, 3, bias=False) + _bn("bn0", 6) + _linear("linear0", classes, 6 * 17 * 33)


def expected_conv_dws_c(classes=2):
    return _conv("conv0", 16, 4, 8) + _linear("linear0", classes, 16)


def expected_conv_dws_d(classes=2):
    return _conv("conv0", 25, 3, 7, bias=False) + _bn("bn0", 25) + _linear("linear0", classes, 25)


def expected_conv_dws_e(classes=2):
    return _conv("conv0", 8, 2, 3) + _linear("linear0", classes, 8 * 35 * 8)


for _n, _t, _e, _i, _o in (("conv_dws_a", ConvDwsA, expected_conv_dws_a, [2, 40, 53], [3]),
                           ("conv_dws_b", ConvDwsB, expected_conv_dws_b, [1, 70, 131], [2]),
                           ("conv_dws_c", ConvDwsC, expected_conv_dws_c, [4, 45, 90], [2]),
                           ("conv_dws_d", ConvDwsD, expected_conv_dws_d, [3, 64, 64], [2]),
                           ("conv_dws_e", ConvDwsE, expected_conv_dws_e, [2, 140, 32], [2])):
    TWINS[_n], EXPECTED[_n], FILES[_n] = _t, _e, os.path.join(MODELS, "conv_dws.cnn")
    INPUT_SHAPE[_n], OUTPUT_SHAPE[_n] = _i, _o


# ---------------------------------------------------------------- conv_narrow (conv_narrow.cnn)
# Narrow groups (4 to 16 channels a group), which cnnc computes as fewer, wider groups with
# block-diagonal weights.
class ConvNarrowA(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv0 = nn.Conv2d(32, 32, 3, padding=1, groups=8, bias=False)
        self.bn0 = nn.BatchNorm2d(32)
        self.conv1 = nn.Conv2d(32, 64, 3, stride=2, padding=1, groups=8)
        self.conv2 = nn.Conv2d(64, 64, 3, padding=1, groups=4, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.linear0 = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn0(self.conv0(x)))
        x = F.relu(self.conv1(x))
        x = F.relu(self.bn1(self.conv2(x)))
        return self.linear0(x.mean(dim=(2, 3)))


class ConvNarrowB(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(96, 96, 3, padding=1, groups=8)
        self.conv1 = nn.Conv2d(96, 128, 3, stride=2, groups=8)
        self.linear0 = nn.Linear(128 * 3 * 2, classes)

    def forward(self, x):
        x = F.relu(self.conv1(F.relu(self.conv0(x))))
        return self.linear0(torch.flatten(x, 1))


class ConvNarrowC(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(128, 64, 3, padding=1, groups=8, bias=False)
        self.bn0 = nn.BatchNorm2d(64)
        self.conv1 = nn.Conv2d(64, 128, 3, stride=2, groups=8)
        self.linear0 = nn.Linear(128 * 3 * 2, classes)

    def forward(self, x):
        x = F.relu(self.bn0(self.conv0(x)))
        x = F.relu(self.conv1(x))
        return self.linear0(torch.flatten(x, 1))


def expected_conv_narrow_a(classes=3):
    return (_conv("conv0", 32, 4, 3, bias=False) + _bn("bn0", 32) + _conv("conv1", 64, 4, 3) + _conv("conv2", 64, 16, 3, bias=False) +
            _bn("bn1", 64) + _linear("linear0", classes, 64))


def expected_conv_narrow_b(classes=2):
    return _conv("conv0", 96, 12, 3) + _conv("conv1", 128, 12, 3) + _linear("linear0", classes, 128 * 3 * 2)


def expected_conv_narrow_c(classes=2):
    return (_conv("conv0", 64, 16, 3, bias=False) + _bn("bn0", 64) + _conv("conv1", 128, 8, 3) +
            _linear("linear0", classes, 128 * 3 * 2))


for _n, _t, _e, _i, _o in (("conv_narrow_a", ConvNarrowA, expected_conv_narrow_a, [32, 9, 7], [3]),
                           ("conv_narrow_b", ConvNarrowB, expected_conv_narrow_b, [96, 8, 6], [2]),
                           ("conv_narrow_c", ConvNarrowC, expected_conv_narrow_c, [128, 7, 5], [2])):
    TWINS[_n], EXPECTED[_n], FILES[_n] = _t, _e, os.path.join(MODELS, "conv_narrow.cnn")
    INPUT_SHAPE[_n], OUTPUT_SHAPE[_n] = _i, _o


# ---------------------------------------------------------------- conv_1x1_i, conv_1x1_j (conv_1x1.cnn)
# 1x1 convs on 14x14 and 9x8 images (panels across images), 36 and 40 input channels.
class Conv1x1I(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(36, 48, 1)
        self.bn0 = nn.BatchNorm2d(48)
        self.conv1 = nn.Conv2d(48, 40, 1, bias=False)
        self.linear0 = nn.Linear(40, classes)

    def forward(self, x):
        x = F.relu(self.conv1(F.relu(self.bn0(self.conv0(x)))))
        return self.linear0(x.mean(dim=(2, 3)))


class Conv1x1J(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.conv0 = nn.Conv2d(40, 72, 1)
        self.conv1 = nn.Conv2d(72, 36, 1, bias=False)
        self.linear0 = nn.Linear(36, classes)

    def forward(self, x):
        x = self.conv1(F.relu(self.conv0(x)))
        return self.linear0(x.mean(dim=(2, 3)))


def expected_conv_1x1_i(classes=2):
    return (_conv("conv0", 48, 36, 1) + _bn("bn0", 48) + _conv("conv1", 40, 48, 1, bias=False) +
            _linear("linear0", classes, 40))


def expected_conv_1x1_j(classes=2):
    return _conv("conv0", 72, 40, 1) + _conv("conv1", 36, 72, 1, bias=False) + _linear("linear0", classes, 36)


for _n, _t, _e, _i, _o in (("conv_1x1_i", Conv1x1I, expected_conv_1x1_i, [36, 14, 14], [2]),
                           ("conv_1x1_j", Conv1x1J, expected_conv_1x1_j, [40, 9, 8], [2])):
    TWINS[_n], EXPECTED[_n], FILES[_n] = _t, _e, os.path.join(MODELS, "conv_1x1.cnn")
    INPUT_SHAPE[_n], OUTPUT_SHAPE[_n] = _i, _o
