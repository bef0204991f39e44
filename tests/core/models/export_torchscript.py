#!/usr/bin/env python3
"""Exports PyTorch models as TorchScript for torchscript_test, with inputs and the logits PyTorch computes.

Writes into OUTPUT_DIR: traced.pt (torch.jit.trace), scripted.pt (torch.jit.script), wrong_classes.pt (7
outputs), input.f32 (float32 [5,1,28,28] raw), traced_logits.f32 and scripted_logits.f32 (float32 [5,10]).
"""
import sys

import torch
import torch.nn as nn


class Net(nn.Module):
    """A small MNIST CNN with its normalisation inside, as robustscope expects of external models."""

    def __init__(self, classes=10):
        super().__init__()
        self.register_buffer("mean", torch.tensor(0.1307).view(1, 1, 1, 1))
        self.register_buffer("std", torch.tensor(0.3081).view(1, 1, 1, 1))
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Flatten())
        self.head = nn.Linear(16 * 7 * 7, classes)

    def forward(self, x):
        return self.head(self.features((x - self.mean) / self.std))


def main(out):
    torch.manual_seed(0)
    x = torch.rand(5, 1, 28, 28)
    x.numpy().tofile(f"{out}/input.f32")
    net = Net().eval()
    # Non-trivial BatchNorm statistics.
    with torch.no_grad():
        net.features[4].running_mean.uniform_(-0.5, 0.5)
        net.features[4].running_var.uniform_(0.5, 2.0)
    traced = torch.jit.trace(net, x)
    traced.save(f"{out}/traced.pt")
    scripted = torch.jit.script(net)
    scripted.save(f"{out}/scripted.pt")
    with torch.no_grad():
        traced(x).numpy().tofile(f"{out}/traced_logits.f32")
        scripted(x).numpy().tofile(f"{out}/scripted_logits.f32")
    torch.jit.trace(Net(classes=7).eval(), x).save(f"{out}/wrong_classes.pt")


if __name__ == "__main__":
    main(sys.argv[1])
