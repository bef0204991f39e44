"""The report's landscapes: decision-surface cuts along the adversarial and a random direction, the 2-D loss
and decision surfaces of a natural against a defended model (the paper's signature figure), and the distance
to the decision boundary along the adversarial direction."""
import numpy as np
from matplotlib.colors import TwoSlopeNorm

from .render import plt
from .results import cut_coordinates
from .study import LANDSCAPE, fmt

MODELS_PER_FIGURE, SAMPLES_SHOWN = 4, 3  # legible at page width


def by_sample_id(setting):
    return {int(d["sample_id"]): d for d in setting.landscapes}


def cut_figure(report, study, key, models, sample_ids, name):
    figure, axes = plt.subplots(len(sample_ids), len(models), figsize=(3.2 * len(models), 2.5 * len(sample_ids)),
                                squeeze=False)
    for column, m in enumerate(models):
        data = by_sample_id(study.setting(m, key))
        for row, sample_id in enumerate(sample_ids):
            d = data[sample_id]
            q = d["quantities"].index("decision")
            axis = axes[row][column]
            axis.plot(cut_coordinates(d, "adversarial") / d["epsilon"], d["cut_adversarial"][q], label="adversarial d1")
            axis.plot(cut_coordinates(d, "random") / d["epsilon"], d["cut_random"][q], label="random d2")
            axis.axhline(0, color="black", linewidth=1)
            axis.set_title(f"{m}, sample {sample_id}", fontsize=9)
            if row == len(sample_ids) - 1:
                axis.set_xlabel("distance / ε")
    axes[0][0].legend(fontsize=8)
    report.figure(figure, name, "Decision surface (logit margin; below zero: misclassified) along the adversarial "
                  "and a random direction")


def surface_figure(report, study, key, models, sample_id):
    """Loss (top) and decision surface (bottom) over the adversarial × random plane, one column per model."""
    figure, axes = plt.subplots(2, len(models), figsize=(4.6 * len(models), 7.6), squeeze=False)
    for column, m in enumerate(models):
        d = by_sample_id(study.setting(m, key))[sample_id]
        c = d["coordinates_2d"] / d["epsilon"]
        for row, quantity in enumerate(("cross_entropy", "decision")):
            surface = d["grid"][d["quantities"].index(quantity)]
            axis = axes[row][column]
            decision = d["grid"][d["quantities"].index("decision")]
            # The decision surface's colours meet at zero, the boundary: blue correct, red misclassified.
            centred = row == 1 and decision.min() < 0 < decision.max()
            filled = axis.contourf(c, c, surface.T, levels=20, cmap="viridis" if row == 0 else "RdBu",
                                   norm=TwoSlopeNorm(vcenter=0) if centred else None)
            if decision.min() < 0 < decision.max():
                axis.contour(c, c, decision.T, levels=[0], colors="black", linewidths=1.2)
            figure.colorbar(filled, ax=axis, fraction=0.046)
            axis.set_title(f"{m}: {'cross-entropy loss' if row == 0 else 'decision surface'}", fontsize=9)
            axis.set_xlabel("adversarial direction / ε", fontsize=8)
            axis.set_ylabel("random direction / ε", fontsize=8)
    figure.tight_layout()
    report.figure(figure, "surfaces_2d", f"Sample {sample_id}: the loss and the decision surface (black: the "
                  "decision boundary) over the plane of the adversarial and a random direction, a natural against "
                  "defended models")


def landscapes(report, study):
    keys = [k for k in study.keys_of_family(LANDSCAPE)]
    if not keys:
        return
    report.add("## Landscapes: natural against defended models\n")
    natural, defended = study.baseline_and_defended()
    figure_index = 0
    for index, key in enumerate(keys):
        shown = [m for m in study.base_models if study.setting(m, key) and study.setting(m, key).landscapes]
        if not shown:
            continue
        sample_ids = sorted(by_sample_id(study.setting(shown[0], key)))
        pair = [m for m in natural[:1] + defended if m in shown]
        if index == 0 and len(pair) >= 2 and "grid" in study.setting(pair[0], key).landscapes[0]:
            surface_figure(report, study, key, pair[:MODELS_PER_FIGURE], sample_ids[0])
        for start in range(0, len(shown), MODELS_PER_FIGURE):
            cut_figure(report, study, key, shown[start:start + MODELS_PER_FIGURE], sample_ids[:SAMPLES_SHOWN],
                       f"landscapes_{figure_index}")
            figure_index += 1
        rows = []
        for m in shown:
            data = by_sample_id(study.setting(m, key))
            distances = [float(data[i]["boundary_adversarial_positive"]) for i in sample_ids]
            rows.append([m] + [fmt(x) for x in distances] + [fmt(float(np.mean(distances)))])
        report.add(f"{study.labels[key]}: distance along the adversarial direction to the decision boundary (input "
                   "units; inf: none within the range).\n")
        report.table(f"boundary_distance_{index}", ["model"] + [f"sample {i}" for i in sample_ids] + ["mean"], rows)
