"""ψ as an estimator: is the ascent converged (ψ against its budget, steps × restarts, per model, with the relative
gain of the last doubling), and how much does ψ move between independent seeds (settings equal but for `seed`)?
ψ is a maximum: an unconverged ascent ranks models partly by how easy they are to ascend, and a change smaller
than the seed spread is noise."""
import math

import numpy as np

from .render import plt
from .study import fmt

CONVERGED_GAIN = 0.02  # relative gain of the last doubling of the budget below which ψ counts as converged
NOT_SHAPE = ("steps", "restarts", "seed", "step_size")  # what budget variants of one ascent differ in


def shape(settings, leave_out):
    return tuple(sorted((k, str(v)) for k, v in settings.items() if k not in leave_out))


def budget(settings):
    return int(settings.get("steps", 0)) * int(settings.get("restarts", 1))


def groups(study, leave_out, distinct, keep=lambda settings: True):
    """Metric settings (those `keep` accepts) equal but for `leave_out`, in groups of at least two distinct values
    of `distinct`."""
    found = {}
    for key in study.metric_keys:
        if keep(study.first(key).settings):
            found.setdefault(shape(study.first(key).settings, leave_out), []).append(key)
    return [keys for keys in found.values() if len({distinct(study.first(k).settings) for k in keys}) >= 2]


def last_doubling_gain(points):
    """Relative gain of ψ per doubling of the budget between the two largest budgets of (budget, ψ) points: with
    ψ₁ at b₁ < b₂ at ψ₂, (ψ₂/ψ₁)^(1/log₂(b₂/b₁)) − 1; nan when ψ₁ is not positive."""
    ordered = sorted(points)
    (b1, psi1), (b2, psi2) = ordered[-2], ordered[-1]
    if not psi1 > 0 or b2 <= b1:
        return float("nan")
    return (psi2 / psi1) ** (1 / math.log2(b2 / b1)) - 1


def mean_psi_by_budget(study, model, keys):
    """(budget, mean ψ) for every setting of the group the model has; equal budgets keep the larger ψ."""
    best = {}
    for key in keys:
        setting = study.setting(model, key)
        if setting is not None:
            b = budget(setting.settings)
            best[b] = max(best.get(b, -math.inf), study.headline_value(model, key))
    return sorted(best.items())


def convergence_rows(study, budget_groups):
    rows, unconverged, figure_data = [], [], []
    for keys in budget_groups:
        name = study.labels[min(keys, key=lambda k: budget(study.first(k).settings))]
        for model in study.models:
            points = mean_psi_by_budget(study, model, keys)
            if len(points) < 2:
                continue
            gain = last_doubling_gain(points)
            rows.append([model, name, ", ".join(f"{b}: {fmt(p)}" for b, p in points),
                         f"{100 * gain:+.1f}%" if not math.isnan(gain) else "–"])
            figure_data.append((name, model, points))
            if math.isnan(gain) or gain > CONVERGED_GAIN:
                unconverged.append((model, name, gain))
    return rows, unconverged, figure_data


def convergence_figure(report, figure_data):
    names = list(dict.fromkeys(name for name, _, _ in figure_data))[:4]
    figure, axes = plt.subplots(1, len(names), figsize=(5.4 * len(names), 4.2), squeeze=False)
    for axis, name in zip(axes[0], names):
        for _, model, points in (d for d in figure_data if d[0] == name):
            axis.plot([b for b, _ in points], [p for _, p in points], "o-", label=model)
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_xlabel("budget (steps × restarts)")
        axis.set_ylabel("mean ψ")
        axis.set_title(name, fontsize=9)
    axes[0][0].legend(fontsize=7)
    figure.tight_layout()
    report.figure(figure, "psi_convergence", "ψ against the ascent's budget, per model: a converged ascent is flat")


def seed_spread(study, model, keys):
    """(mean of the seeds' mean ψ, their spread max − min relative to it) of one model over a seed group."""
    values = [study.headline_value(model, k) for k in keys if study.setting(model, k) is not None]
    if len(values) < 2 or not np.mean(values) > 0:
        return None
    return float(np.mean(values)), (max(values) - min(values)) / float(np.mean(values))


def seed_spreads(study):
    """Model → largest relative seed spread of ψ over the seed groups (what a change of ψ must exceed)."""
    spreads = {}
    for keys in groups(study, ("seed",), lambda s: s.get("seed", "derived")):
        for model in study.models:
            found = seed_spread(study, model, keys)
            if found is not None:
                spreads[model] = max(spreads.get(model, 0.0), found[1])
    return spreads


def convergence(report, study):
    """The section; returns the verdict line, or None when the spec has no budget or seed variants."""
    # Seed replicates stay out of the budget curves: at equal budgets the curve would keep the luckiest seed.
    budget_groups = groups(study, NOT_SHAPE, budget, keep=lambda settings: "seed" not in settings)
    spreads = seed_spreads(study)
    if not budget_groups and not spreads:
        return None
    report.add("## ψ as an estimator: convergence and seed noise\n")
    parts = []
    if budget_groups:
        rows, unconverged, figure_data = convergence_rows(study, budget_groups)
        report.add("Mean ψ of each model at each budget (steps × restarts) of one ascent, and the relative gain of its "
                   f"last doubling: ψ counts as converged where that gain is below {100 * CONVERGED_GAIN:g}%.\n")
        report.table("psi_convergence", ["model", "ascent (smallest budget)", "budget: mean ψ",
                                         "gain of the last doubling"], rows, inline=len(rows) <= 20)
        convergence_figure(report, figure_data)
        worst = max(unconverged, key=lambda u: -1 if math.isnan(u[2]) else u[2], default=None)
        parts.append(f"converged on every model ({len(rows)} model-ascent pairs, last doubling below "
                     f"{100 * CONVERGED_GAIN:g}%)" if not unconverged else
                     f"NOT converged on {len(unconverged)} of {len(rows)} model-ascent pairs (largest gain of the last "
                     f"doubling {100 * worst[2]:+.1f}%, {worst[0]}, {worst[1]}): a larger budget raises ψ")
    if spreads:
        report.add("ψ's own noise: per model, the largest spread (max − min, relative to the mean) of mean ψ over "
                   "settings equal but for their seed. A change of ψ smaller than this is seed noise.\n")
        report.table("psi_seed_spread", ["model", "seed spread of mean ψ"],
                     [[m, f"{100 * s:.2f}%"] for m, s in spreads.items()])
        parts.append(f"seed spread of mean ψ at most {100 * max(spreads.values()):.2f}% "
                     f"({max(spreads, key=spreads.get)})")
    return "7. ψ as an estimator: " + "; ".join(parts) + "."
