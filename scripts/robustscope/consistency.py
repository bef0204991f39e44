"""Section 1 of the report: which estimate ranks the models consistently across settings? Kendall τ and
Spearman ρ between every pair of settings, and the group means with bootstrap intervals over test images,
for several groupings, of which the matched one (the same ε grid for both) carries the verdict."""
import csv
import math
import os

import numpy as np

from .render import plt
from .stats import interval_text, kendall_tau_b_matrix, mean_over_pairs, percentile_interval, ranking_text
from .study import ball, fmt

VERDICT_GROUPING = "same ε grid"


def groupings(study, names):
    """Grouping name → (metric settings, attack settings) as indices into `names`. The metric side is the
    normalised ψ (the paper's metric); the attack side is what it is compared with."""
    index = {k: i for i, k in enumerate(names)}
    metric = [k for k in study.normalised_keys if k in index]
    attack = [k for k in study.attack_keys if k in index]
    balls = lambda keys: {ball(study.first(k).settings) for k in keys}
    shared = balls(metric) & balls(attack)
    white_box_linf = [k for k in attack if study.first(k).family.startswith("white-box")
                      and ball(study.first(k).settings)[0] == "linf"]
    # One ε: the ball with the most metric settings (its budget variants) against the attacks at it.
    counts = {b: sum(ball(study.first(k).settings) == b for k in metric) for b in shared}
    one = max(sorted(counts), key=lambda b: counts[b]) if counts else None
    chosen = {
        "all settings": (metric, attack),
        VERDICT_GROUPING: ([k for k in metric if ball(study.first(k).settings) in shared],
                           [k for k in attack if ball(study.first(k).settings) in shared]),
        "white-box L∞ attacks": (metric, white_box_linf),
        f"one ball ({one[0]} ε={one[1]:g})" if one else "one ball": (
            [k for k in metric if ball(study.first(k).settings) == one],
            [k for k in attack if ball(study.first(k).settings) == one]),
    }
    return {name: ([index[k] for k in m], [index[k] for k in a]) for name, (m, a) in chosen.items()}


def rankings(report, study, names, scores, tau, rho):
    """The rankings table, the τ heat map and the τ/ρ matrices as CSV."""
    rank_rows = [[study.labels[k], ranking_text(study.base_models, scores[k])] for k in names]
    sanity = (f" Left out of the rank statistics: {', '.join(study.labels[k] for k in study.sanity_keys)} (ε covering "
              "half the domain or more: the sanity check of docs/alarms.md, where every working attack leaves ~0)."
              if study.sanity_keys else "")
    report.add(f"Models ranked from most to least robust by each setting (base models: {', '.join(study.base_models)}; "
               f"`=` marks a tie).{sanity}\n")
    report.table("rankings", ["setting", "ranking"], rank_rows)
    if len(names) >= 2:
        # One panel at page width: cells and labels stay legible for ~50 settings.
        size = min(11.0, max(4.5, 0.24 * len(names) + 3))
        font = 8 if len(names) > 24 else 10
        figure, axis = plt.subplots(figsize=(size + 1.2, size))
        image = axis.imshow(tau, vmin=-1, vmax=1, cmap="RdBu")
        axis.set_xticks(range(len(names)), [study.labels[n] for n in names], rotation=90, fontsize=font)
        axis.set_yticks(range(len(names)), [study.labels[n] for n in names], fontsize=font)
        axis.set_title("Kendall τ between the rankings of every pair of settings", fontsize=12)
        figure.colorbar(image, ax=axis, fraction=0.03)
        report.figure(figure, "rank_agreement", "Rank agreement between settings (base models); Spearman ρ in "
                      "tables/spearman_rho.csv", dpi=100)
    for name, matrix in (("kendall_tau", tau), ("spearman_rho", rho)):
        with open(os.path.join(report.out_dir, "tables", f"{name}.csv"), "w", newline="") as handle:
            csv.writer(handle).writerows([["setting"] + [study.labels[n] for n in names]] +
                                         [[study.labels[a]] + [fmt(v, 3) for v in matrix[i]]
                                          for i, a in enumerate(names)])


def grouping_statistics(study, names, tau, groups):
    """Per grouping: mean τ within the metric's settings, within the attacks', and their difference, each with
    its bootstrap interval (every replicate resamples the images and recomputes every ranking)."""
    data = study.score_array(names, study.base_models)
    replicates = {name: ([], []) for name in groups}
    for indices in study.resamples(data.shape[2]):
        means = data[:, :, indices].mean(2)
        t = kendall_tau_b_matrix(means, means)
        for name, (metric, attack) in groups.items():
            replicates[name][0].append(mean_over_pairs(t, metric)[0])
            replicates[name][1].append(mean_over_pairs(t, attack)[0])
    statistics = {}
    for name, (metric, attack) in groups.items():
        tau_metric, pairs_metric = mean_over_pairs(tau, metric)
        tau_attack, pairs_attack = mean_over_pairs(tau, attack)
        metric_replicates, attack_replicates = (np.array(r, dtype=float) for r in replicates[name])
        statistics[name] = {
            "metric": (tau_metric, percentile_interval(metric_replicates), len(metric), pairs_metric),
            "attack": (tau_attack, percentile_interval(attack_replicates), len(attack), pairs_attack),
            "difference": (tau_metric - tau_attack, percentile_interval(metric_replicates - attack_replicates)),
        }
    return statistics


def verdict_of(difference, interval):
    if math.isnan(difference):
        return "cannot be decided on this run (one of the groups has fewer than two settings)"
    if interval[0] > 0:
        return ("**holds**: the normalised metric ranks the models more consistently across its settings than "
                "adversarial accuracy does across attacks, and the interval of the difference excludes zero")
    if interval[1] < 0:
        return ("**does NOT hold**: adversarial accuracy ranks the models more consistently than the normalised "
                "metric, and the interval of the difference excludes zero")
    return "**is not resolved**: the interval of the difference includes zero (a tie on this run)"


def consistency(report, study):
    """Section 1; returns the verdict line."""
    report.add("## 1. Which estimate ranks the models consistently across settings?\n")
    names, scores, tau, rho = study.agreement()
    rankings(report, study, names, scores, tau, rho)
    if not names:
        return "1. Consistency: no setting covers every base model; nothing to rank."
    groups = groupings(study, names)
    statistics = grouping_statistics(study, names, tau, groups)
    rows = []
    for name, numbers in statistics.items():
        (tm, cm, nm, pm), (ta, ca, na, pa) = numbers["metric"], numbers["attack"]
        rows.append([name + (" (verdict)" if name == VERDICT_GROUPING else ""), f"{nm} ({pm} pairs)",
                     interval_text(tm, cm, 3), f"{na} ({pa} pairs)", interval_text(ta, ca, 3),
                     interval_text(*numbers["difference"], 3)])
    report.add("Mean Kendall τ within the normalised metric's settings and within the attack settings, by grouping. "
               f"The verdict comes from **{VERDICT_GROUPING}**: only the balls both sides were run at, so neither "
               "side's agreement is helped or hurt by a wider spread of ε; the other rows show how the answer moves "
               "with the grouping (white-box L∞ attacks alone; one ball, where the settings differ in budget only).\n")
    report.table("consistency_groups", ["grouping", "metric settings", "τ within the metric", "attack settings",
                                        "τ within the attacks", "difference (metric − attack)"], rows)
    chosen = statistics[VERDICT_GROUPING]
    line = (f"1. Consistency ({VERDICT_GROUPING}: mean Kendall τ within the metric's settings "
            f"{interval_text(chosen['metric'][0], chosen['metric'][1])} against within the attacks' "
            f"{interval_text(chosen['attack'][0], chosen['attack'][1])}, {len(study.base_models)} models): "
            f"the paper's claim {verdict_of(*chosen['difference'])}.")
    report.add("On this run: " + line[3:] + "\n")
    return line


def metric_against_accuracy(report, study):
    """ψ against PGD/BIM robust accuracy per model, one panel per ε both were run at (ψ on a log axis)."""
    reference_by_ball, metric_by_ball = {}, {}
    for key in study.attack_keys:
        if study.first(key).family == "white-box-reference":
            reference_by_ball.setdefault(ball(study.first(key).settings), key)  # the first one per ball
    for key in study.normalised_keys:
        metric_by_ball.setdefault(ball(study.first(key).settings), key)
    common = sorted(set(reference_by_ball) & set(metric_by_ball))
    if not common:
        return
    columns = min(len(common), 2)
    rows = (len(common) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(5.6 * columns, 4.6 * rows), squeeze=False)
    for axis in axes.flat[len(common):]:
        axis.set_visible(False)
    for axis, where in zip(axes.flat, common):
        for m in study.models:
            x, y = study.headline_value(m, reference_by_ball[where]), study.headline_value(m, metric_by_ball[where])
            if not (math.isnan(x) or math.isnan(y)) and y > 0:
                axis.scatter(x, y)
                axis.annotate(m, (x, y), fontsize=8, xytext=(3, 3), textcoords="offset points")
        axis.set_yscale("log")
        axis.set_xlabel(f"robust accuracy, {study.labels[reference_by_ball[where]]}", fontsize=9)
        axis.set_ylabel(f"mean ψ, {study.labels[metric_by_ball[where]]}", fontsize=9)
        axis.set_title(f"{where[0]} ε = {where[1]:g}")
    figure.tight_layout()
    report.figure(figure, "metric_vs_accuracy", "The metric (log axis) against PGD robust accuracy, one point per "
                  "model")
