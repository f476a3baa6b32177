"""torch_train_step.py: PyTorch's training step on the module `cnnc --emit=torch` prints, beside
bench/train_step.c (bench/profile.sh --train prints both).

    python3 bench/torch_train_step.py MODEL.py --shape C,H,W --batch B --threads T --repeat R

Train mode, uniform random images of shape [B, C, H, W], labels cycling over the classes; one
step is forward, cross-entropy, backward and an SGD step (momentum 0.9), as train_step.c times
the compiled one. Prints "step ms MEDIAN cpu ms CPU": the median wall-clock and process CPU
time of R steps after 3 warm-up steps. Only the thread count is set here; run it in the
environment bench/README.md gives PyTorch.
"""
import argparse
import statistics
import time

import torch


def arguments(repeat):
    """The command line both scripts take (bench/torch_layers.py adds its own options)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--shape", required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=repeat)
    return ap


def setup(a):
    """The model of a.model in train mode, its input x and labels y, the optimizer and the loss."""
    torch.set_num_threads(a.threads)
    scope = {"__name__": "cnnc_torch_model"}
    with open(a.model) as f:
        exec(compile(f.read(), a.model, "exec"), scope)
    model = scope["Model"]().train()
    torch.manual_seed(1)
    x = torch.rand([a.batch] + [int(d) for d in a.shape.split(",")])
    with torch.no_grad():
        classes = model(x[:2]).shape[1]
    y = torch.arange(a.batch) % classes
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    return model, x, y, opt, torch.nn.CrossEntropyLoss()


def main():
    a = arguments(5).parse_args()
    model, x, y, opt, loss_fn = setup(a)
    wall, cpu = [], []
    for r in range(a.repeat + 3):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if r >= 3:
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    print("step ms %.3f cpu ms %.3f" % (1e3 * statistics.median(wall), 1e3 * statistics.median(cpu)))


if __name__ == "__main__":
    main()
