#!/usr/bin/env python3
"""Exports the TorchScript models of torchscript_bounds_test.

usage: export_bounded_models.py OUTPUT_DIR WEIGHTS

WEIGHTS.f32 holds raw float32 tensors and WEIGHTS.txt one line of sizes per tensor, written by
robustscope's test: the MNIST mean and standard deviation, then the linear model's weight and bias, then the parameters of the built-in mlp
(hidden 32) and of the built-in small-cnn (channels 4, hidden 32), each in registration order. Writes into
OUTPUT_DIR the same networks as PyTorch modules: linear.pt (traced Flatten + Linear, no normalisation),
mlp.pt (traced), cnn_traced.pt (traced, flattening with x.view(x.size(0), -1)), cnn_scripted.pt
(scripted), resnet.pt (a traced pre-activation residual network with its own weights, batch norms in
eval mode, an average pooling and a projection shortcut), vgg.pt (a traced VGG-style network: conv-BN-ReLU,
max pooling, global average pooling) and sigmoid.pt (traced, with a sigmoid bound
propagation does not support).
"""
import sys

import numpy as np
import torch
import torch.nn as nn


class Normalize(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", mean.reshape(1, -1, 1, 1).clone())
        self.register_buffer("std", std.reshape(1, -1, 1, 1).clone())

    def forward(self, x):
        return (x - self.mean) / self.std


class ViewFlatten(nn.Module):
    def forward(self, x):
        return x.view(x.size(0), -1)


def small_cnn(mean, std, flatten):
    """robustscope's small-cnn: conv5x5(c)-ReLU-pool, conv5x5(2c)-ReLU-pool, fc(hidden)-ReLU, fc."""
    return nn.Sequential(Normalize(mean, std), nn.Conv2d(1, 4, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), flatten,
                         nn.Linear(8 * 7 * 7, 32), nn.ReLU(), nn.Linear(32, 10))


class Block(nn.Module):
    """A pre-activation residual block: BN-ReLU-conv-BN-ReLU-conv plus a shortcut."""

    def __init__(self, inputs, outputs, stride):
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(inputs), nn.BatchNorm2d(outputs)
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride=stride, padding=1, bias=False)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, padding=1, bias=False)
        self.shortcut = None
        if stride != 1 or inputs != outputs:
            self.shortcut = nn.Conv2d(inputs, outputs, 1, stride=stride, bias=False)

    def forward(self, x):
        activated = torch.relu(self.bn1(x))
        shortcut = self.shortcut(activated) if self.shortcut is not None else x
        return self.conv2(torch.relu(self.bn2(self.conv1(activated)))) + shortcut


class ResNet(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.stem = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.blocks = nn.Sequential(Block(4, 4, 1), nn.AvgPool2d(2), Block(4, 8, 2))
        self.bn = nn.BatchNorm2d(8)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        x = self.blocks(self.stem(self.normalize(x)))
        x = torch.relu(self.bn(x))
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def vgg(mean, std):
    """A VGG-style network: conv-BN-ReLU stages with max pooling, global average pooling, a linear head."""
    def stage(inputs, outputs):
        return [nn.Conv2d(inputs, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs), nn.ReLU()]
    return nn.Sequential(Normalize(mean, std), *stage(1, 4), nn.MaxPool2d(2), *stage(4, 8), nn.MaxPool2d(2),
                         *stage(8, 8), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))


def with_batch_statistics(module):
    """Batch norms whose running statistics are not the identity, in eval mode."""
    with torch.no_grad():
        for name, buffer in module.named_buffers():
            if name.endswith("running_mean"):
                buffer.uniform_(-0.2, 0.2)
            if name.endswith("running_var"):
                buffer.uniform_(0.5, 2.0)
    return module.eval()


def load_parameters(module, tensors):
    parameters = list(module.parameters())
    assert len(parameters) == len(tensors), (len(parameters), len(tensors))
    with torch.no_grad():
        for parameter, tensor in zip(parameters, tensors):
            assert parameter.shape == tensor.shape, (parameter.shape, tensor.shape)
            parameter.copy_(tensor)
    return module.eval()


def read_weights(prefix):
    values = np.fromfile(prefix + ".f32", dtype=np.float32)
    tensors, offset = [], 0
    with open(prefix + ".txt") as lines:
        for line in lines:
            sizes = [int(size) for size in line.split()]
            count = int(np.prod(sizes)) if sizes else 1
            tensors.append(torch.from_numpy(values[offset:offset + count].copy()).reshape(sizes))
            offset += count
    assert offset == values.size, (offset, values.size)
    return tensors


def main(out, weights_path):
    weights = read_weights(weights_path)
    mean, std = weights[0], weights[1]
    example = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    linear = load_parameters(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), weights[2:4])
    torch.jit.trace(linear, example).save(f"{out}/linear.pt")
    mlp = load_parameters(nn.Sequential(Normalize(mean, std), nn.Flatten(), nn.Linear(784, 32), nn.ReLU(),
                                        nn.Linear(32, 10)), weights[4:8])
    torch.jit.trace(mlp, example).save(f"{out}/mlp.pt")
    cnn_weights = weights[8:16]
    traced = load_parameters(small_cnn(mean, std, ViewFlatten()), cnn_weights)
    torch.jit.trace(traced, example).save(f"{out}/cnn_traced.pt")
    scripted = load_parameters(small_cnn(mean, std, nn.Flatten()), cnn_weights)
    torch.jit.script(scripted).save(f"{out}/cnn_scripted.pt")
    torch.manual_seed(3)
    torch.jit.trace(with_batch_statistics(ResNet(mean, std)), example).save(f"{out}/resnet.pt")
    torch.jit.trace(with_batch_statistics(vgg(mean, std)), example).save(f"{out}/vgg.pt")
    sigmoid = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.Sigmoid(), nn.Linear(16, 10)).eval()
    torch.jit.trace(sigmoid, example).save(f"{out}/sigmoid.pt")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
