#!/usr/bin/env python3
"""Draws landscapes: those of `robustscope landscape` files (schema robustscope-landscape/2), or of a model in a
batch results file (robustscope-results/2; FILE.h5:MODEL picks the model, else the first with landscapes).

For one sample present in every given source (one per model, e.g. natural and defended), writes into OUT_DIR:
  cuts_<sample>.{png,svg}      decision surface and cross-entropy along the adversarial and the random direction,
                               models side by side
  contour_<sample>.{png,svg}   2-D contours of the decision surface, zero contour (the boundary) drawn boldly
  surface_<sample>.{png,svg}   the decision surface in 3-D
  regions_<sample>.{png,svg}   the predicted class over the plane
Axes are in units of the file's epsilon. Adaptive landscapes (sampling: adaptive) are drawn at their own points:
each cut at its sampling points (refined ones marked), and on the contour the boundary traced through the coarse
grid and the refined points together, the refined points shown as dots. Uses Debian's numpy, h5py and matplotlib
only.

usage: plot_landscapes.py OUT_DIR SOURCE [SOURCE ...] [--sample ID] [--labels natural,pgd]
       SOURCE: landscape.h5, or results.h5:MODEL
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from robustscope.environment import use_debian_python  # noqa: E402

use_debian_python()

import argparse  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from robustscope.results import cut_coordinates, landscape_samples  # noqa: E402


def load(source, sample):
    """`source` is a landscape file, or a results file with an optional ":MODEL" suffix."""
    path, _, model = source.partition(":") if not os.path.exists(source) else (source, "", "")
    samples = {int(entry["sample_id"]): entry for entry in landscape_samples(path, model or None)}
    if sample is None:
        sample = min(samples)
    if sample not in samples:
        sys.exit(f"{source}: has no sample {sample} (has {', '.join(str(s) for s in sorted(samples))})")
    return samples[sample], sample


def save(figure, out_dir, stem):
    for extension in ("png", "svg"):
        figure.savefig(os.path.join(out_dir, f"{stem}.{extension}"), dpi=110)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description="Draw robustscope landscapes.")
    parser.add_argument("out_dir")
    parser.add_argument("files", nargs="+")
    parser.add_argument("--sample", type=int, default=None, help="sample id (default: the first in the first file)")
    parser.add_argument("--labels", default=None, help="comma-separated model names for the titles")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    first, args.sample = load(args.files[0], args.sample)
    models = [first] + [load(path, args.sample)[0] for path in args.files[1:]]
    labels = args.labels.split(",") if args.labels else [m["model"] for m in models]
    title = lambda m, label: f"{label}\nsample {args.sample} (label {m['label']})"
    n = len(models)

    figure, axes = plt.subplots(2, n, figsize=(4.5 * n, 7), squeeze=False)
    for column, (m, label) in enumerate(zip(models, labels)):
        for row, (quantity, name) in enumerate([("decision", "decision surface S (logit margin)"),
                                                 ("cross_entropy", "cross-entropy loss")]):
            axis = axes[row][column]
            for cut, text in (("adversarial", "adversarial direction d1"), ("random", "random direction d2")):
                coordinates = cut_coordinates(m, cut)
                values = m["cut_" + cut][m["index"][quantity]]
                line, = axis.plot(coordinates / m["epsilon"], values, label=text)
                added = ~np.isin(coordinates, m["coordinates_1d"])
                if added.any():  # adaptive: the points bisection added near S = 0
                    axis.plot(coordinates[added] / m["epsilon"], values[added], ".", color=line.get_color(),
                              markersize=4)
            if quantity == "decision":
                axis.axhline(0, color="black", linewidth=1.5)
            axis.set_xlabel("distance / ε")
            axis.set_ylabel(name)
            axis.set_title(title(m, label) if row == 0 else "")
            axis.legend(fontsize=8)
    figure.tight_layout()
    save(figure, args.out_dir, f"cuts_{args.sample}")

    figure, axes = plt.subplots(1, n, figsize=(5 * n, 4.3), squeeze=False)
    for column, (m, label) in enumerate(zip(models, labels)):
        c = m["coordinates_2d"] / m["epsilon"]
        surface = m["grid"][m["index"]["decision"]]
        axis = axes[0][column]
        filled = axis.contourf(c, c, surface.T, levels=20, cmap="RdBu")
        refined = m.get("refined_points", np.zeros((0, 2)))
        if len(refined):
            # Adaptive: the zero contour through the coarse grid and the refined points together.
            a, b = np.meshgrid(c, c, indexing="ij")
            alphas = np.concatenate([a.ravel(), refined[:, 0] / m["epsilon"]])
            betas = np.concatenate([b.ravel(), refined[:, 1] / m["epsilon"]])
            values = np.concatenate([surface.ravel(), m["refined_grid"][m["index"]["decision"]]])
            axis.tricontour(alphas, betas, values, levels=[0], colors="black", linewidths=2)
            axis.plot(refined[:, 0] / m["epsilon"], refined[:, 1] / m["epsilon"], ".", color="black",
                      markersize=1, alpha=0.4)
        else:
            axis.contour(c, c, surface.T, levels=[0], colors="black", linewidths=3)
        figure.colorbar(filled, ax=axis, label="S")
        axis.plot(0, 0, "k*", markersize=10)
        axis.set_xlabel("adversarial direction / ε")
        axis.set_ylabel("random direction / ε")
        axis.set_title(title(m, label))
    figure.tight_layout()
    save(figure, args.out_dir, f"contour_{args.sample}")

    figure = plt.figure(figsize=(5 * n, 4.5))
    for column, (m, label) in enumerate(zip(models, labels)):
        c = m["coordinates_2d"] / m["epsilon"]
        a, b = np.meshgrid(c, c, indexing="ij")
        axis = figure.add_subplot(1, n, column + 1, projection="3d")
        plot = axis.plot_surface(a, b, m["grid"][m["index"]["decision"]], cmap="RdBu", linewidth=0)
        figure.colorbar(plot, ax=axis, shrink=0.6, label="S")
        axis.set_xlabel("d1 / ε")
        axis.set_ylabel("d2 / ε")
        axis.set_zlabel("S")
        axis.set_title(title(m, label))
    save(figure, args.out_dir, f"surface_{args.sample}")

    figure, axes = plt.subplots(1, n, figsize=(5 * n, 4.3), squeeze=False)
    for column, (m, label) in enumerate(zip(models, labels)):
        c = m["coordinates_2d"] / m["epsilon"]
        classes = m["grid"][m["index"]["predicted_class"]]
        axis = axes[0][column]
        image = axis.imshow(classes.T, origin="lower", extent=[c[0], c[-1], c[0], c[-1]], cmap="tab10",
                            vmin=-0.5, vmax=9.5, interpolation="nearest")
        figure.colorbar(image, ax=axis, ticks=range(10), label="predicted class")
        axis.plot(0, 0, "k*", markersize=10)
        axis.set_xlabel("adversarial direction / ε")
        axis.set_ylabel("random direction / ε")
        axis.set_title(title(m, label))
    figure.tight_layout()
    save(figure, args.out_dir, f"regions_{args.sample}")
    print(f"wrote cuts, contour, surface and regions for sample {args.sample} into {args.out_dir}")


if __name__ == "__main__":
    main()
