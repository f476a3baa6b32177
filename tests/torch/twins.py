"""Hand-written PyTorch twins of models/lenet5.cnn, simplecnn.cnn, resnet18_cifar.cnn and
googlenet.cnn: the independent reference that compiled models are compared against.

Each twin is written by hand from torch.nn (not generated from the .cnn file, not torchvision)
so that its state_dict() keys are exactly the checkpoint names that docs/language.md (Naming) gives for the
.cnn file, in the order the file defines them (PyTorch's state_dict order is registration order,
so modules are registered in textual order). BatchNorm's `num_batches_tracked` buffer is not a
cnnc checkpoint tensor: use checkpoint_tensors() to get the comparable list.

    build(name) -> nn.Module          (default model arguments, e.g. classes = 10)
    EXPECTED[name]() -> [(name, shape)] worked out by hand from the naming rules
    INPUT_SHAPE[name] -> [C, H, W]

Run it to check every twin against its expected list and print output shapes.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Normalize(nn.Module):
    """`normalize(mean, std)`: fixed (x - mean) / std per channel; not trained, not in checkpoints."""

    def __init__(self, mean, std, channels):
        super().__init__()
        mean = mean if isinstance(mean, (list, tuple)) else [mean] * channels
        std = std if isinstance(std, (list, tuple)) else [std] * channels
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def forward(self, x):
        return (x - self.mean) / self.std


def checkpoint_tensors(module):
    """[(name, shape)] of the tensors a cnnc checkpoint holds: state_dict without num_batches_tracked."""
    return [(k, tuple(v.shape)) for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")]


def trainable_count(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# Helpers for the expected lists (written by hand per the naming rules).
def _conv(name, out, inp, kh, kw=None, bias=True):
    kw = kh if kw is None else kw
    r = [(name + ".weight", (out, inp, kh, kw))]
    if bias:
        r.append((name + ".bias", (out,)))
    return r


def _linear(name, out, inp, bias=True):
    r = [(name + ".weight", (out, inp))]
    if bias:
        r.append((name + ".bias", (out,)))
    return r


def _bn(name, c):
    return [(name + "." + s, (c,)) for s in ("weight", "bias", "running_mean", "running_var")]


# ---------------------------------------------------------------- lenet5
class LeNet5(nn.Module):
    # model lenet5(classes = 10): conv0 conv1 linear0 linear1 linear2
    def __init__(self, classes=10):
        super().__init__()
        self.norm = Normalize(0.2860, 0.3530, 1)
        self.conv0 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv1 = nn.Conv2d(6, 16, 5)
        self.linear0 = nn.Linear(16 * 5 * 5, 120)
        self.linear1 = nn.Linear(120, 84)
        self.linear2 = nn.Linear(84, classes)

    def forward(self, x):
        x = self.norm(x)
        x = F.avg_pool2d(torch.tanh(self.conv0(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.conv1(x)), 2)
        x = torch.flatten(x, 1)
        x = torch.tanh(self.linear0(x))
        x = torch.tanh(self.linear1(x))
        return self.linear2(x)


def expected_lenet5(classes=10):
    return (_conv("conv0", 6, 1, 5) + _conv("conv1", 16, 6, 5) + _linear("linear0", 120, 400)
            + _linear("linear1", 84, 120) + _linear("linear2", classes, 84))


# ---------------------------------------------------------------- simplecnn
class SimpleStage(nn.Module):
    # block stage(channels): conv0 (no bias), bn0, relu, maxpool(2)
    def __init__(self, inp, channels):
        super().__init__()
        self.conv0 = nn.Conv2d(inp, channels, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(channels)

    def forward(self, x):
        return F.max_pool2d(F.relu(self.bn0(self.conv0(x))), 2)


class SimpleCNN(nn.Module):
    # model simplecnn: stage0, stage1, linear0, fc (label)
    def __init__(self, classes=10):
        super().__init__()
        self.norm = Normalize(0.2860, 0.3530, 1)
        self.stage0 = SimpleStage(1, 32)
        self.stage1 = SimpleStage(32, 64)
        self.linear0 = nn.Linear(64 * 7 * 7, 128)
        self.fc = nn.Linear(128, classes)

    def forward(self, x):
        x = self.stage1(self.stage0(self.norm(x)))
        x = torch.flatten(x, 1)
        x = F.dropout(x, 0.25, self.training)
        x = F.relu(self.linear0(x))
        x = F.dropout(x, 0.25, self.training)
        return self.fc(x)


def expected_simplecnn(classes=10):
    return (_conv("stage0.conv0", 32, 1, 3, bias=False) + _bn("stage0.bn0", 32)
            + _conv("stage1.conv0", 64, 32, 3, bias=False) + _bn("stage1.bn0", 64)
            + _linear("linear0", 128, 3136) + _linear("fc", classes, 128))


# ---------------------------------------------------------------- resnet18_cifar
class Basic(nn.Module):
    """Spec section 8's block basic(channels, stride = 1): residual body conv0 bn0 conv1 bn1;
    shortcut (only when stride != 1 or in.c != channels) conv2 bn2, numbered after the body."""

    def __init__(self, inp, channels, stride=1):
        super().__init__()
        self.conv0 = nn.Conv2d(inp, channels, 3, stride=stride, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.has_shortcut = stride != 1 or inp != channels
        if self.has_shortcut:
            self.conv2 = nn.Conv2d(inp, channels, 1, stride=stride, bias=False)
            self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        y = F.relu(self.bn0(self.conv0(x)))
        y = self.bn1(self.conv1(y))
        s = self.bn2(self.conv2(x)) if self.has_shortcut else x
        return F.relu(y + s)


class Stage(nn.Module):
    # block stage(channels, blocks, stride = 1): basic0 (stride), then basic1.. (repeat blocks - 1)
    def __init__(self, inp, channels, blocks, stride=1):
        super().__init__()
        self.basic0 = Basic(inp, channels, stride)
        for i in range(1, blocks):
            setattr(self, "basic%d" % i, Basic(channels, channels))
        self.blocks = blocks

    def forward(self, x):
        for i in range(self.blocks):
            x = getattr(self, "basic%d" % i)(x)
        return x


class ResNet18Cifar(nn.Module):
    # model resnet18_cifar: conv0 bn0 stage0..stage3 linear0
    def __init__(self, classes=10):
        super().__init__()
        self.norm = Normalize([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616], 3)
        self.conv0 = nn.Conv2d(3, 64, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(64)
        self.stage0 = Stage(64, 64, 2)
        self.stage1 = Stage(64, 128, 2, 2)
        self.stage2 = Stage(128, 256, 2, 2)
        self.stage3 = Stage(256, 512, 2, 2)
        self.linear0 = nn.Linear(512, classes)

    def forward(self, x):
        x = F.relu(self.bn0(self.conv0(self.norm(x))))
        x = self.stage3(self.stage2(self.stage1(self.stage0(x))))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.linear0(x)


def _expected_basic(p, inp, c, stride):
    r = _conv(p + ".conv0", c, inp, 3, bias=False) + _bn(p + ".bn0", c)
    r += _conv(p + ".conv1", c, c, 3, bias=False) + _bn(p + ".bn1", c)
    if stride != 1 or inp != c:
        r += _conv(p + ".conv2", c, inp, 1, bias=False) + _bn(p + ".bn2", c)
    return r


def expected_resnet18_cifar(classes=10):
    r = _conv("conv0", 64, 3, 3, bias=False) + _bn("bn0", 64)
    r += _expected_basic("stage0.basic0", 64, 64, 1) + _expected_basic("stage0.basic1", 64, 64, 1)
    r += _expected_basic("stage1.basic0", 64, 128, 2) + _expected_basic("stage1.basic1", 128, 128, 1)
    r += _expected_basic("stage2.basic0", 128, 256, 2) + _expected_basic("stage2.basic1", 256, 256, 1)
    r += _expected_basic("stage3.basic0", 256, 512, 2) + _expected_basic("stage3.basic1", 512, 512, 1)
    return r + _linear("linear0", classes, 512)


# ---------------------------------------------------------------- googlenet
class BConv(nn.Module):
    # block bconv(out, kernel, stride = 1, pad = 0): labels `conv:` and `bn:` name the tensors
    def __init__(self, inp, out, kernel, stride=1, pad=0):
        super().__init__()
        self.conv = nn.Conv2d(inp, out, kernel, stride=stride, padding=pad, bias=False)
        self.bn = nn.BatchNorm2d(out, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    # block inception(c1, c3r, c3, c5r, c5, proj): bconv0 | bconv1 bconv2 | bconv3 bconv4 | pool bconv5
    def __init__(self, inp, c1, c3r, c3, c5r, c5, proj):
        super().__init__()
        self.bconv0 = BConv(inp, c1, 1)
        self.bconv1 = BConv(inp, c3r, 1)
        self.bconv2 = BConv(c3r, c3, 3, pad=1)
        self.bconv3 = BConv(inp, c5r, 1)
        self.bconv4 = BConv(c5r, c5, 3, pad=1)
        self.bconv5 = BConv(inp, proj, 1)

    def forward(self, x):
        b1 = self.bconv0(x)
        b2 = self.bconv2(self.bconv1(x))
        b3 = self.bconv4(self.bconv3(x))
        b4 = self.bconv5(F.max_pool2d(x, 3, 1, 1, ceil_mode=True))
        return torch.cat([b1, b2, b3, b4], 1)


GOOGLENET_INCEPTIONS = [  # label, in, c1, c3r, c3, c5r, c5, proj (torchvision's table)
    ("inception3a", 192, 64, 96, 128, 16, 32, 32),
    ("inception3b", 256, 128, 128, 192, 32, 96, 64),
    ("inception4a", 480, 192, 96, 208, 16, 48, 64),
    ("inception4b", 512, 160, 112, 224, 24, 64, 64),
    ("inception4c", 512, 128, 128, 256, 24, 64, 64),
    ("inception4d", 512, 112, 144, 288, 32, 64, 64),
    ("inception4e", 528, 256, 160, 320, 32, 128, 128),
    ("inception5a", 832, 256, 160, 320, 32, 128, 128),
    ("inception5b", 832, 384, 192, 384, 48, 128, 128),
]


class GoogLeNet(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        self.norm = Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225], 3)
        self.conv1 = BConv(3, 64, 7, stride=2, pad=3)
        self.conv2 = BConv(64, 64, 1)
        self.conv3 = BConv(64, 192, 3, pad=1)
        for label, *cfg in GOOGLENET_INCEPTIONS:
            setattr(self, label, Inception(*cfg))
        self.fc = nn.Linear(1024, classes)

    def forward(self, x):
        x = self.norm(x)
        x = F.max_pool2d(self.conv1(x), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.conv3(self.conv2(x)), 3, 2, ceil_mode=True)
        x = self.inception3b(self.inception3a(x))
        x = F.max_pool2d(x, 3, 2, ceil_mode=True)
        for label in ("inception4a", "inception4b", "inception4c", "inception4d", "inception4e"):
            x = getattr(self, label)(x)
        x = F.max_pool2d(x, 2, 2, ceil_mode=True)
        x = self.inception5b(self.inception5a(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        x = F.dropout(x, 0.2, self.training)
        return self.fc(x)


def _expected_bconv(p, inp, out, k):
    return _conv(p + ".conv", out, inp, k, bias=False) + _bn(p + ".bn", out)


def expected_googlenet(classes=1000):
    r = _expected_bconv("conv1", 3, 64, 7) + _expected_bconv("conv2", 64, 64, 1) + _expected_bconv("conv3", 64, 192, 3)
    for label, inp, c1, c3r, c3, c5r, c5, proj in GOOGLENET_INCEPTIONS:
        r += _expected_bconv(label + ".bconv0", inp, c1, 1)
        r += _expected_bconv(label + ".bconv1", inp, c3r, 1)
        r += _expected_bconv(label + ".bconv2", c3r, c3, 3)
        r += _expected_bconv(label + ".bconv3", inp, c5r, 1)
        r += _expected_bconv(label + ".bconv4", c5r, c5, 3)
        r += _expected_bconv(label + ".bconv5", inp, proj, 1)
    return r + _linear("fc", classes, 1024)


# ---------------------------------------------------------------- registry
TWINS = {"lenet5": LeNet5, "simplecnn": SimpleCNN, "resnet18_cifar": ResNet18Cifar, "googlenet": GoogLeNet}
EXPECTED = {"lenet5": expected_lenet5, "simplecnn": expected_simplecnn,
            "resnet18_cifar": expected_resnet18_cifar, "googlenet": expected_googlenet}
INPUT_SHAPE = {"lenet5": [1, 28, 28], "simplecnn": [1, 28, 28], "resnet18_cifar": [3, 32, 32],
               "googlenet": [3, 224, 224]}
OUTPUT_SHAPE = {"lenet5": [10], "simplecnn": [10], "resnet18_cifar": [10], "googlenet": [1000]}


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
    print("%-15s %3d checkpoint tensors, %9d trainable, forward [2, %s] -> %s" % (
        name, len(got), trainable_count(m), ", ".join(map(str, INPUT_SHAPE[name])), list(y.shape)))


if __name__ == "__main__":
    import sys
    torch.manual_seed(0)
    names = [a for a in sys.argv[1:] if not a.startswith("-")]
    for n in (names or TWINS):
        check(n, verbose="-v" in sys.argv)
