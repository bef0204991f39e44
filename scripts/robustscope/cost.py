"""Section 3 of the report: how cheaply can a setting rank the models as the strongest attack does? Kendall τ
with the reference's ranking (bootstrap interval) against passes and wall time per sample."""
import math

import numpy as np

from . import schema
from .render import plt
from .stats import interval_text, kendall_tau_b_matrix, percentile_interval
from .study import ENSEMBLE

COLOURS = {"metric": "tab:blue", "white-box-reference": "tab:orange", "white-box": "tab:brown",
           "single-step": "tab:olive", "black-box": "tab:green", ENSEMBLE: "tab:red"}
NO_INTERVAL = (float("nan"), (float("nan"), float("nan")))


def agreement_with(study, reference):
    """Setting key → (τ with the reference's ranking, its interval), over the ranked settings."""
    ranked = study.ranked_keys()
    data = study.score_array(ranked, study.base_models)
    ref = ranked.index(reference)
    replicate = []
    for indices in study.resamples(data.shape[2]):
        means = data[:, :, indices].mean(2)
        replicate.append(kendall_tau_b_matrix(means, means[ref:ref + 1])[:, 0])
    replicate = np.array(replicate)
    full = data.mean(2)
    point = kendall_tau_b_matrix(full, full[ref:ref + 1])[:, 0]
    return {key: (float(point[i]), percentile_interval(replicate[:, i])) for i, key in enumerate(ranked)}


def cost_points(study, agreement):
    """Table rows and (key, forward equivalents, ms, τ, interval) per scored setting."""
    rows, points = [], []
    for key in study.scored_keys:
        group = study.by_key[key]
        samples = sum(s.samples for s in group)
        forward = sum(s.total(schema.FORWARD_PASSES) for s in group) / samples
        forward_backward = sum(s.total(schema.FORWARD_BACKWARD_PASSES) for s in group) / samples
        milliseconds = 1e3 * sum(s.total(schema.SECONDS) for s in group) / samples
        tau, interval = agreement.get(key, NO_INTERVAL)
        rows.append([study.labels[key], f"{forward:.1f}", f"{forward_backward:.1f}", f"{milliseconds:.2f}",
                     interval_text(tau, interval)])
        points.append((key, forward + 3 * forward_backward, milliseconds, tau, interval))
    return rows, points


def cost_figure(report, study, points):
    figure, axis = plt.subplots(figsize=(10, 6))
    for family, colour in COLOURS.items():
        mine = [p for p in points if study.first(p[0]).family == family and not math.isnan(p[3])]
        if not mine:
            continue
        axis.errorbar([p[1] for p in mine], [p[3] for p in mine],
                      yerr=[[p[3] - p[4][0] for p in mine], [p[4][1] - p[3] for p in mine]],
                      fmt="o", color=colour, label=family, capsize=2, alpha=0.8)
        for p in mine:
            axis.annotate(study.labels[p[0]], (p[1], p[3]), fontsize=6, xytext=(3, -3), textcoords="offset points")
    axis.set_xscale("log")
    axis.set_xlabel("forward-pass equivalents per sample (F + 3·(F+B))")
    axis.set_ylabel("Kendall τ with the reference ranking")
    axis.set_ylim(-1.05, 1.05)
    axis.axhline(1, color="grey", linewidth=0.5)
    axis.legend(fontsize=8)
    report.figure(figure, "cost_vs_agreement", "What each setting costs against how well it ranks the models as "
                  "the reference does")


def cheapest_lines(study, points, reference, bound=0.8):
    reference_cost = next(p[1] for p in points if p[0] == reference)
    sides = (("metric setting", lambda s: s.is_metric), ("attack setting", lambda s: s.is_attack and s.family != ENSEMBLE))
    parts = []
    for what, belongs in sides:
        good = [p for p in points if p[0] != reference and belongs(study.first(p[0]))
                and not math.isnan(p[3]) and p[4][0] >= bound]
        best = min(good, key=lambda p: p[1]) if good else None
        if best:
            parts.append(f"the cheapest {what} whose τ interval lies above {bound} is {study.labels[best[0]]} "
                         f"(τ {interval_text(best[3], best[4])}, {best[1]:.0f} forward equivalents per sample, "
                         f"{reference_cost / best[1]:.1f}x cheaper than the reference)")
        else:
            parts.append(f"no {what} has a τ interval above {bound}")
    return parts


def cost(report, study):
    """Section 3; returns the verdict line."""
    report.add("## 3. How cheaply can a setting rank the models as the strongest attack does?\n")
    reference = study.strongest_reference()
    agreement = agreement_with(study, reference) if reference is not None else {}
    rows, points = cost_points(study, agreement)
    if reference is None:
        report.add("No ensemble or attack setting covers every base model: no reference ranking.\n")
    else:
        if study.first(reference).family == ENSEMBLE:
            what = "the ensemble: the strongest attack of the spec"
        else:
            what = ("the single attack setting with the lowest mean robust accuracy over the base models, among those "
                    "run on the common samples; the spec has no ensemble, so no stronger reference exists here")
        report.add(f"The reference is **{study.labels[reference]}** ({what}). "
                   "For every setting: passes and wall time per sample averaged over the models (forward F, "
                   "forward+backward F+B; the ensemble's members skip points already broken) and Kendall τ between "
                   "its ranking of the base models and the reference's, with its interval.\n")
    report.table("cost", ["setting", "F / sample", "F+B / sample", "ms / sample", "τ with the reference"], rows)
    if reference is None:
        return "3. Cost: no reference ranking (no ensemble or attack covers every base model)."
    cost_figure(report, study, points)
    line = f"3. Cost (reference {study.labels[reference]}): " + "; ".join(cheapest_lines(study, points, reference)) + "."
    report.add("On this run: " + line[3:] + "\n")
    return line
