#!/usr/bin/env python3
"""The PGD baseline of robustscope-bench-attacks, in plain PyTorch: the same architectures (small-cnn,
preact-resnet18 with its normalisation inside), random inputs, PGD-K with a uniform random start, timed over
repetitions after one warm-up. Prints "samples_per_second X" (median repetition).

PGD here does what robustscope's does: a clean prediction (robust accuracy counts a point misclassified
clean as broken, so any evaluation needs it), K signed steps from a random start, a final prediction.
With --serve it times one run per request instead, so the C++ benchmark can interleave its own
repetitions with these: each line "pgd", "f" (one forward without gradient) or "fb" (K bare forward+backward passes to
the input) on stdin is answered by the seconds it took, after a "ready" line."""
import argparse
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Normalized(nn.Module):
    def __init__(self, body, mean, std):
        super().__init__()
        self.body = body
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x):
        return self.body((x - self.mean) / self.std)


class PreActBlock(nn.Module):
    def __init__(self, i, o, stride):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(i), nn.Conv2d(i, o, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(o), nn.Conv2d(o, o, 3, 1, 1, bias=False)
        self.shortcut = nn.Conv2d(i, o, 1, stride, bias=False) if stride != 1 or i != o else None

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if self.shortcut is not None else x
        return self.conv2(F.relu(self.bn2(self.conv1(out)))) + shortcut


def make(arch):
    if arch == "small-cnn":
        body = nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(3136, 1024), nn.ReLU(), nn.Linear(1024, 10))
        return Normalized(body, [0.1307], [0.3081]), (1, 28, 28)
    layers, i = [nn.Conv2d(3, 64, 3, 1, 1, bias=False)], 64
    for width, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        for block in range(2):
            layers.append(PreActBlock(i, width, stride if block == 0 else 1))
            i = width
    layers += [nn.BatchNorm2d(512), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10)]
    return Normalized(nn.Sequential(*layers), [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]), (3, 32, 32)


def pgd(model, x, y, eps, steps):
    with torch.no_grad():
        clean_correct = model(x).argmax(1) == y
    alpha = 2.5 * eps / steps
    x_adv = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss = F.cross_entropy(model(x_adv), y)
        grad, = torch.autograd.grad(loss, [x_adv])
        x_adv = torch.min(torch.max(x_adv.detach() + alpha * grad.sign(), x - eps), x + eps).clamp(0, 1)
    with torch.no_grad():
        return clean_correct & (model(x_adv).argmax(1) == y)


def forward_backward(model, x, y, steps):
    for _ in range(steps):
        x_in = x.detach().requires_grad_(True)
        torch.autograd.grad(F.cross_entropy(model(x_in), y), [x_in])


def synchronize(x):
    # CUDA work is asynchronous: a timing ends when the device has finished, as in the C++ benchmark.
    if x.is_cuda:
        torch.cuda.synchronize(x.device)


def serve(model, x, y, steps):
    forward_backward(model, x, y, steps)
    synchronize(x)
    print("ready", flush=True)
    for line in sys.stdin:
        synchronize(x)
        start = time.perf_counter()
        if line.strip() == "pgd":
            pgd(model, x, y, 8 / 255, steps)
        elif line.strip() == "f":
            with torch.no_grad():
                model(x)
        else:
            forward_backward(model, x, y, steps)
        synchronize(x)
        print(f"{time.perf_counter() - start:.6f}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="small-cnn")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu | cuda[:i]")
    parser.add_argument("--serve", action="store_true", help="time one run per stdin request")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, shape = make(args.arch)
    model = model.to(args.device).eval()
    x = torch.rand(args.batch, *shape, device=args.device)
    with torch.no_grad():
        y = model(x).argmax(1)
    if args.serve:
        return serve(model, x, y, args.steps)
    pgd(model, x, y, 8 / 255, args.steps)
    times = []
    for _ in range(args.repetitions):
        synchronize(x)
        start = time.perf_counter()
        pgd(model, x, y, 8 / 255, args.steps)
        synchronize(x)
        times.append(time.perf_counter() - start)
    print(f"samples_per_second {args.batch / statistics.median(times):.3f}")


if __name__ == "__main__":
    main()
