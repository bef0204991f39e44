#!/usr/bin/env python3
"""The study's report from a results file (schema robustscope-results/2, docs/results.md, docs/study.md).

Writes into OUT_DIR (default: <results folder>/report): report.md and report.html (the same text, with the
figures), figures/*.png, and tables/*.csv. Verdicts come first, then the evidence:
  1. Does the divergence metric rank models consistently across test settings where adversarial accuracy does
     not?  Rankings per setting (ties shown), Kendall tau and Spearman rho between every pair of settings, the
     group means with bootstrap intervals over test images.
  2. Is it invariant to reparameterisation?  Models of the spec with `reparameterize:` against their base, each
     change with its interval.
  3. How cheaply can a setting rank the models as the strongest attack (the ensemble) does?  Kendall tau with
     the ensemble's ranking against passes and wall time per sample.
plus the certified brackets, the gradient-masking alarms merge stored, the metric against robust accuracy, landscape
panels, and checks of the defended models (by their training recipe) against a natural model of the same
architecture. Reading (robustscope/results.py), statistics (robustscope/stats.py) and rendering (this file) are
apart. Uses Debian's numpy, h5py and matplotlib only.

usage: report.py RESULTS.h5 [--out OUT_DIR] [--replicates 1000] [--seed 2019]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from robustscope.environment import use_debian_python  # noqa: E402

use_debian_python()

import argparse  # noqa: E402
import csv  # noqa: E402
import html  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
from collections import OrderedDict  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from robustscope import schema  # noqa: E402
from robustscope.results import Results, cut_coordinates  # noqa: E402
from robustscope.stats import (bootstrap_indices, interval_text, kendall_tau_b_matrix,  # noqa: E402
                               mean_over_pairs, percentile_interval, ranking_text, spearman_rho_matrix)

DEFENDED_RECIPES = ("pgd", "trades", "alp", "fgsm")
SCORED_KINDS = ("metric", "attack", "ensemble", "transfer")

# ---------------------------------------------------------------- labels


def label(setting):
    s = setting.settings
    epsilon = s.get("epsilon", s.get("1.epsilon", s.get("crafting.epsilon", float("nan"))))
    eps = f"ε={float(epsilon):g}"
    if setting.kind == "metric":
        norm = "raw" if s["normalization"] == "none" else s["normalization"]
        restarts = f"x{s['restarts']}" if int(s.get("restarts", 1)) > 1 else ""
        return f"ψ {norm} {eps} K={s['steps']}{restarts}"
    if setting.kind == "landscape":
        return f"landscape {eps} along {s['adversarial_direction']} ({s.get('direction_loss', 'ce')})"
    if setting.kind == "certify":
        return f"certified ({s['method']}) {s['normalization']} {eps}"
    if setting.kind == "noop":
        return "no-op"
    if setting.kind == "ensemble":
        members = "+".join(str(s[k]) for k in sorted(s) if k.endswith(".name"))
        return f"worst of {members} {eps}"
    if setting.kind == "transfer":
        crafted = {k[len("crafting."):]: v for k, v in s.items() if k.startswith("crafting.")}
        return f"transfer from {s['substitute']}: {attack_label(crafted, eps)}"
    return attack_label(s, eps)


def attack_label(s, eps):
    name = str(s["name"])
    if name == "fgsm":
        return f"FGSM {eps}"
    if name == "cw-l2":
        return f"CW-L2 {eps} ({s['binary_search_steps']}x{s['steps']})"
    extra = f" α={float(s['step_size']):g}" if "step_size" in s and name != "bim" else ""
    restarts = f"x{s['restarts']}" if int(s.get("restarts", 1)) > 1 else ""
    return f"{name.upper()}-{s.get('steps', '')}{restarts} {eps}{extra}"


def fmt(value, digits=4):
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return "inf" if value == float("inf") else "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------- the study: numbers, no rendering


class Study:
    """The results arranged for the report: models, scored settings, their scores and labels, and the
    bootstrap replicates (resampled test images) every interval of the report is computed on."""

    def __init__(self, results, replicates=1000, seed=2019):
        self.results = results
        self.models = [m for m in results.model_order if any(k[0] == m for k in results.settings)]
        self.base_models = [m for m in self.models if results.is_base(m)]
        kind_order = {"metric": 0, "attack": 1, "transfer": 2, "ensemble": 3, "certify": 4, "landscape": 5,
                      "noop": 6}
        keys = list(OrderedDict.fromkeys(key for (_, key) in results.settings))
        self.by_key = {key: [results.settings[(m, key)] for m in self.models if (m, key) in results.settings]
                       for key in keys}
        natural = lambda text: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]
        keys.sort(key=lambda k: (kind_order.get(self.by_key[k][0].kind, 9), natural(label(self.by_key[k][0]))))
        self.keys = keys
        self.labels = {k: label(self.by_key[k][0]) for k in keys}
        self.scored_keys = [k for k in keys if self.by_key[k][0].kind in SCORED_KINDS]
        self.metric_keys = [k for k in self.scored_keys if self.by_key[k][0].kind == "metric"]
        self.normalised_keys = [k for k in self.metric_keys if self.by_key[k][0].settings["normalization"] != "none"]
        # Attacks at an L∞ ε of half the domain or more are the sanity check of docs/alarms.md (b): every
        # working attack leaves ~0 there, so they rank nothing and stay out of the rank statistics.
        self.sanity_keys = [k for k in self.scored_keys if self.by_key[k][0].kind == "attack"
                            and self.by_key[k][0].settings.get("norm") == "linf"
                            and float(self.by_key[k][0].settings["epsilon"]) >= 0.5]
        self.attack_keys = [k for k in self.scored_keys
                            if self.by_key[k][0].kind != "metric" and k not in self.sanity_keys]
        self.replicates, self.seed = replicates, seed
        self._scores, self._resamples = {}, {}

    def setting(self, model, key):
        return self.results.settings.get((model, key))

    def score(self, model, key):
        """Higher = more robust: robust accuracy, or minus the mean of ψ."""
        setting = self.setting(model, key)
        if setting is None:
            return float("nan")
        headline = setting.headline()
        return -headline[schema.PSI_MEAN] if setting.kind == "metric" else headline[schema.ROBUST_ACCURACY]

    def headline_value(self, model, key):
        setting = self.setting(model, key)
        if setting is None:
            return float("nan")
        headline = setting.headline()
        return headline[schema.PSI_MEAN] if setting.kind == "metric" else headline[schema.ROBUST_ACCURACY]

    def ranked_keys(self):
        """Scored settings every base model has, over the same samples."""
        keys = [k for k in self.scored_keys
                if k not in self.sanity_keys and all(self.setting(m, k) for m in self.base_models)]
        counts = {k: {self.setting(m, k).samples for m in self.base_models} for k in keys}
        common = max((next(iter(c)) for c in counts.values() if len(c) == 1), default=0)
        return [k for k in keys if counts[k] == {common}]

    def per_sample(self, model, key):
        """Per-sample scores (higher = more robust) of one model and setting, in sample order."""
        if (model, key) not in self._scores:
            self._scores[(model, key)] = self.setting(model, key).per_sample_scores()
        return self._scores[(model, key)]

    def score_array(self, keys, models):
        """[settings, models, samples] per-sample scores."""
        return np.array([[self.per_sample(m, k) for m in models] for k in keys], dtype=float)

    def resamples(self, count):
        """The bootstrap's resampled image indices: the same replicates for every statistic of the report."""
        if count not in self._resamples:
            self._resamples[count] = bootstrap_indices(count, self.replicates, self.seed)
        return self._resamples[count]

    def agreement(self):
        names = self.ranked_keys()
        scores = {k: [self.score(m, k) for m in self.base_models] for k in names}
        means = np.array([scores[k] for k in names], dtype=float)
        tau = kendall_tau_b_matrix(means, means) if names else np.zeros((0, 0))
        rho = spearman_rho_matrix(means, means) if names else np.zeros((0, 0))
        return names, scores, tau, rho

    def baseline_and_defended(self):
        """From the models' recipes: natural base models, and those trained against an attack."""
        recipe = self.results.recipe
        natural = [m for m in self.base_models if recipe(m) == "natural"]
        defended = [m for m in self.base_models if recipe(m) in DEFENDED_RECIPES]
        return natural, defended

    def strongest_reference(self):
        """The setting that stands for "the strongest attack": the ensemble (the one with the lowest mean
        robust accuracy if several), else the attack setting with the lowest."""
        ranked = self.ranked_keys()
        ensembles = [k for k in ranked if self.by_key[k][0].kind == "ensemble"]
        candidates = ensembles or [k for k in ranked if self.by_key[k][0].kind == "attack"]
        if not candidates:
            return None
        return min(candidates, key=lambda k: np.mean([self.score(m, k) for m in self.base_models]))


# ---------------------------------------------------------------- rendering


class Report:
    SPLIT_COLUMNS = 8  # a wider table is shown as several, each repeating the first column

    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.parts = []  # ("md", text) | ("figure", path, caption)
        os.makedirs(os.path.join(out_dir, "figures"), exist_ok=True)
        os.makedirs(os.path.join(out_dir, "tables"), exist_ok=True)

    def add(self, markdown):
        self.parts.append(("md", markdown))

    def placeholder(self):
        """A place to fill later (the verdicts, known only once every section has computed)."""
        self.parts.append(("md", ""))
        return len(self.parts) - 1

    def fill(self, index, markdown):
        self.parts[index] = ("md", markdown)

    def table(self, name, header, rows, link=True):
        with open(os.path.join(self.out_dir, "tables", f"{name}.csv"), "w", newline="") as handle:
            csv.writer(handle).writerows([header] + rows)
        width = self.SPLIT_COLUMNS
        for start in range(1, max(len(header), 2), width):
            columns = [0] + list(range(start, min(start + width, len(header))))
            lines = ["| " + " | ".join(header[c] for c in columns) + " |", "|" + "---|" * len(columns)]
            lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
            self.add("\n".join(lines) + "\n")
        if link:
            self.add(f"(As CSV: `tables/{name}.csv`.)\n")

    def figure(self, figure, name, caption, dpi=110):
        path = os.path.join("figures", f"{name}.png")
        figure.savefig(os.path.join(self.out_dir, path), dpi=dpi, bbox_inches="tight")
        plt.close(figure)
        self.parts.append(("figure", path, caption))

    def write(self):
        markdown, body = [], []
        for part in self.parts:
            if part[0] == "md":
                markdown.append(part[1])
                body.append(markdown_to_html(part[1]))
            else:
                markdown.append(f"![{part[2]}]({part[1]})\n")
                body.append(f'<figure><img src="{part[1]}" alt="{html.escape(part[2])}">'
                            f"<figcaption>{html.escape(part[2])}</figcaption></figure>")
        with open(os.path.join(self.out_dir, "report.md"), "w") as handle:
            handle.write("\n".join(markdown))
        style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;line-height:1.45}"
                 ".wide{overflow-x:auto;max-width:100%}"
                 "table{border-collapse:collapse;margin:1em 0;font-size:90%}"
                 "td,th{border:1px solid #bbb;padding:3px 8px;text-align:right;white-space:nowrap}"
                 "td.long{white-space:normal;text-align:left;min-width:30em}"
                 "td:first-child,th:first-child{text-align:left;position:sticky;left:0;background:#fff}"
                 ".verdicts{background:#f4f7fb;border:1px solid #c8d4e6;padding:0.5em 1.2em}"
                 "img{max-width:100%;height:auto}figcaption{color:#555}")
        with open(os.path.join(self.out_dir, "report.html"), "w") as handle:
            handle.write(f"<!doctype html><html><head><meta charset='utf-8'><title>robustscope report</title>"
                         f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def markdown_to_html(markdown):
    """The small subset report.md uses: headings, tables, bullet lists, paragraphs, `code`, **bold**; a
    "<!-- verdicts -->" first line boxes the part."""
    def inline(line):
        line = html.escape(line)
        line = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", line)
        return re.sub(r"`(.+?)`", r"<code>\1</code>", line)

    def cell(text):
        return f"<td class='long'>{inline(text)}</td>" if len(text) > 60 else f"<td>{inline(text)}</td>"
    boxed = markdown.startswith("<!-- verdicts -->")
    if boxed:
        markdown = markdown[len("<!-- verdicts -->"):]
    out, lines, i = [], markdown.strip("\n").split("\n"), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{inline(line[level:].strip())}</h{level}>")
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                if not re.match(r"^\|(-+\|)+$", lines[i]):
                    rows.append([c.strip() for c in lines[i].strip("|").split("|")])
                i += 1
            i -= 1
            out.append("<div class='wide'><table><tr>" + "".join(f"<th>{inline(c)}</th>" for c in rows[0]) +
                       "</tr>" + "".join("<tr>" + "".join(cell(c) for c in row) + "</tr>" for row in rows[1:]) +
                       "</table></div>")
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{inline(lines[i][2:])}</li>")
                i += 1
            i -= 1
            out.append("<ul>" + "".join(items) + "</ul>")
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
        i += 1
    text = "\n".join(out)
    return f"<div class='verdicts'>{text}</div>" if boxed else text


# ---------------------------------------------------------------- sections


def provenance(report, study, path):
    root = study.results.root
    failed = study.results.failed
    report.add(f"# robustscope report: {root.get(schema.NAME, '?')}\n")
    if schema.LAST_RUN_STARTED in root:
        last_run = (f"{root.get(schema.MPI_VERSION, '?')}; last run {root[schema.LAST_RUN_STARTED]} .. "
                    f"{root.get(schema.LAST_RUN_ENDED, '?')} on {root.get(schema.LAST_RUN_RANK_LAYOUT, '?')}")
    else:
        last_run = "no run has finished: merged from a task folder"
    report.add(f"Results `{path}` (spec hash `{root.get(schema.SPEC_HASH, '?')}`, code {root.get(schema.CODE_VERSION, '?')}, "
               f"LibTorch {root.get(schema.LIBTORCH_VERSION, '?')}, HDF5 {root.get(schema.HDF5_VERSION, '?')}, "
               f"{last_run}). "
               f"{root.get(schema.TASKS_COMPLETED, '?')} of {root.get(schema.TASKS_PLANNED, '?')} tasks completed, "
               f"{len(failed)} failed{':' if failed else '.'} Intervals are 95% percentile-bootstrap intervals over "
               f"the test images ({study.replicates} replicates, seed {study.seed}): each replicate resamples the "
               "images with replacement and recomputes every model's number and every ranking.\n")
    for task in failed:
        report.add(f"- failed: `{task.attrs.get(schema.KEY)}`: {task.attrs.get(schema.MESSAGE)}")


def headline_table(report, study):
    header = ["setting"] + study.models
    clean = {}
    for m in study.models:
        for k in study.scored_keys:
            setting = study.setting(m, k)
            if setting is not None and m not in clean:
                clean[m] = setting.headline()[schema.CLEAN_ACCURACY]
    rows = [["clean accuracy"] + [fmt(clean.get(m, float("nan"))) for m in study.models]]
    for key in study.scored_keys:
        rows.append([study.labels[key]] + [fmt(study.headline_value(m, key)) for m in study.models])
    samples = study.by_key[study.scored_keys[0]][0].samples if study.scored_keys else 0
    report.add("## Robust accuracy and the metric per model\n")
    report.add("Robust accuracy under each attack setting (higher is more robust) and the mean of ψ (lower is more "
               f"robust) on {samples} test samples.\n")
    report.table("headline", header, rows)


def consistency(report, study):
    """Section 1; returns the verdict line."""
    report.add("## 1. Which estimate ranks the models consistently across settings?\n")
    names, scores, tau, rho = study.agreement()
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
    index = {k: i for i, k in enumerate(names)}
    metric = [index[k] for k in study.normalised_keys if k in index]
    attack = [index[k] for k in study.attack_keys if k in index]
    if not names:
        return "1. Consistency: no setting covers every base model; nothing to rank."
    # The bootstrap: every replicate resamples the images, recomputes each model's number per setting, the
    # rankings, and the group means of τ and ρ.
    data = study.score_array(names, study.base_models)
    groups = {"tau_metric": [], "tau_attack": [], "tau_across": [], "rho_metric": [], "rho_attack": []}
    for indices in study.resamples(data.shape[2]):
        means = data[:, :, indices].mean(2)
        t, r = kendall_tau_b_matrix(means, means), spearman_rho_matrix(means, means)
        groups["tau_metric"].append(mean_over_pairs(t, metric)[0])
        groups["tau_attack"].append(mean_over_pairs(t, attack)[0])
        groups["tau_across"].append(mean_over_pairs(t, metric, attack)[0])
        groups["rho_metric"].append(mean_over_pairs(r, metric)[0])
        groups["rho_attack"].append(mean_over_pairs(r, attack)[0])
    difference = np.array(groups["tau_metric"]) - np.array(groups["tau_attack"])
    tau_metric, n_metric = mean_over_pairs(tau, metric)
    tau_attack, n_attack = mean_over_pairs(tau, attack)
    tau_across, _ = mean_over_pairs(tau, metric, attack)
    rho_metric, _ = mean_over_pairs(rho, metric)
    rho_attack, _ = mean_over_pairs(rho, attack)
    ci = {name: percentile_interval(values) for name, values in groups.items()}
    ci_difference = percentile_interval(difference)
    report.add(f"- Mean Kendall τ among the **normalised-metric settings** ({len(metric)} settings, {n_metric} pairs): "
               f"**{interval_text(tau_metric, ci['tau_metric'], 3)}**; Spearman ρ "
               f"{interval_text(rho_metric, ci['rho_metric'], 3)}.")
    report.add(f"- Mean Kendall τ among the **attack settings** ({len(attack)} settings, {n_attack} pairs): "
               f"**{interval_text(tau_attack, ci['tau_attack'], 3)}**; Spearman ρ "
               f"{interval_text(rho_attack, ci['rho_attack'], 3)}.")
    report.add(f"- Mean Kendall τ between a metric setting and an attack setting: "
               f"{interval_text(tau_across, ci['tau_across'], 3)}.")
    report.add(f"- Difference (metric − attack) of the mean τ: "
               f"{interval_text(tau_metric - tau_attack, ci_difference, 3)}.\n")
    if math.isnan(tau_metric) or math.isnan(tau_attack):
        verdict = "cannot be decided on this run (one of the groups has fewer than two settings)"
    elif ci_difference[0] > 0:
        verdict = ("**holds**: the normalised metric ranks the models more consistently across its settings than "
                   "adversarial accuracy does across attacks, and the interval of the difference excludes zero")
    elif ci_difference[1] < 0:
        verdict = ("**does NOT hold**: adversarial accuracy ranks the models more consistently than the normalised "
                   "metric, and the interval of the difference excludes zero")
    else:
        verdict = ("**is not resolved**: the interval of the difference includes zero, so this run cannot tell the "
                   "two apart")
    line = (f"1. Consistency (mean Kendall τ within the metric's settings {interval_text(tau_metric, ci['tau_metric'])}"
            f" against within the attacks' {interval_text(tau_attack, ci['tau_attack'])}, {len(study.base_models)} "
            f"models): the paper's claim {verdict}.")
    report.add("On this run: " + line[3:] + "\n")
    return line


def metric_against_accuracy(report, study):
    pgd_by_eps, metric_by_eps = {}, {}
    for key in study.scored_keys:
        s = study.by_key[key][0]
        if s.kind == "attack" and s.settings["name"] == "pgd":
            pgd_by_eps.setdefault(float(s.settings["epsilon"]), key)  # the first PGD setting at each ε
    for key in study.normalised_keys:
        metric_by_eps.setdefault(float(study.by_key[key][0].settings["epsilon"]), key)
    common = sorted(set(pgd_by_eps) & set(metric_by_eps))
    if not common:
        return
    columns = min(len(common), 2)
    rows = (len(common) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(5.4 * columns, 4.4 * rows), squeeze=False)
    for axis in axes.flat[len(common):]:
        axis.set_visible(False)
    for axis, eps in zip(axes.flat, common):
        for m in study.models:
            x, y = study.headline_value(m, pgd_by_eps[eps]), study.headline_value(m, metric_by_eps[eps])
            if not (math.isnan(x) or math.isnan(y)):
                axis.scatter(x, y)
                axis.annotate(m, (x, y), fontsize=8)
        axis.set_xlabel(f"robust accuracy, {study.labels[pgd_by_eps[eps]]}")
        axis.set_ylabel("mean ψ (normalised)")
        axis.set_title(f"ε = {eps:g}")
    report.figure(figure, "metric_vs_accuracy", "The metric against PGD robust accuracy, one point per model")


def invariance(report, study):
    """Section 2; returns the verdict lines."""
    report.add("## 2. Is the metric invariant to reparameterisation?\n")
    results = study.results
    rows, verdicts = [], []
    labels = study.labels
    for variant in study.models:
        change = results.reparameterization(variant)
        if results.is_base(variant):
            continue
        path = results.models[variant].get(schema.MODEL_PATH)
        base = next((m for m in study.base_models if results.models[m].get(schema.MODEL_PATH) == path), None)
        if base is None:
            continue
        what = ", ".join(f"{k}={v:g}" for k, v in change.items() if v != 1)
        name = f"{variant} ({what}) vs {base}"
        changes = {}  # group → [(|change|, interval, label)]
        for key in study.scored_keys:
            b, v = study.setting(base, key), study.setting(variant, key)
            if b is None or v is None or b.samples != v.samples:
                continue
            before, after = study.headline_value(base, key), study.headline_value(variant, key)
            relative = b.kind == "metric"
            column = schema.PSI if relative else schema.BROKEN
            xb = b.column(column).astype(np.float64)
            xv = v.column(column).astype(np.float64)
            if relative:
                replicate = [(xv[i].mean() - xb[i].mean()) / xb[i].mean() * 100 if xb[i].mean() else float("nan")
                             for i in study.resamples(len(xb))]
                point = 100 * (after - before) / before if before else float("nan")
                text_change = f"{point:+.1f}%"
            else:  # robust accuracy = 1 − broken: its change is minus the change in broken
                replicate = [xb[i].mean() - xv[i].mean() for i in study.resamples(len(xb))]
                point = after - before
                text_change = f"{point:+.4f}"
            low, high = percentile_interval(replicate)
            rows.append([name, labels[key], fmt(before), fmt(after), f"{low:+.4g}", f"{high:+.4g}", text_change])
            group = ("normalised" if key in study.normalised_keys else "raw") if relative else "attack"
            changes.setdefault(group, []).append((abs(point), (low, high), labels[key]))
        if not changes:
            continue

        def largest(group, unit):
            if group not in changes:
                return "–"
            value, (low, high), where = max(changes[group], key=lambda c: c[0])
            return f"{value:.3g}{unit} (interval [{low:+.3g}, {high:+.3g}]{unit}, {where})"
        report.add(f"- **{name}**: normalised ψ changes by at most {largest('normalised', '%')}; raw ψ by up to "
                   f"{largest('raw', '%')}; robust accuracy by up to {largest('attack', '')} (absolute).")
        if "normalised" in changes:
            # Holds when every normalised setting's interval lies within ±5%; fails when one lies wholly
            # outside; otherwise the images cannot tell.
            intervals = [interval for _, interval, _ in changes["normalised"]]
            if all(-5 <= low and high <= 5 for low, high in intervals):
                state = "**holds**"
            elif any(low > 5 or high < -5 for low, high in intervals):
                state = "**does NOT hold**"
            else:
                state = "**is not resolved** (an interval straddles ±5%)"
            # The setting whose interval reaches farthest from zero decides; name it.
            worst = max(changes["normalised"], key=lambda c: max(abs(c[1][0]), abs(c[1][1])))
            verdicts.append(f"{variant} ({what}): the normalised ψ's invariance {state}: the widest interval is "
                            f"[{worst[1][0]:+.3g}, {worst[1][1]:+.3g}]% at {worst[2]} (change {worst[0]:.3g}%; "
                            "bound ±5%)")
    if not rows:
        report.add("The spec has no reparameterised models.\n")
        return []
    report.add("\nEach reparameterised model against its base checkpoint: robust accuracy (absolute change) and "
               "ψ (relative change, %), each with the 95% bootstrap interval of the change (the same resampled "
               "images for both models). Last-layer scaling and ReLU rescaling keep every prediction; deploying the "
               "distilled model at its temperature is last-layer scaling by 1/T. The claim counts as holding for a "
               "model when every normalised setting's interval lies within ±5%, as failing when one lies wholly "
               "outside, and as not resolved otherwise.\n")
    report.table("invariance", ["model", "setting", "base", "variant", "interval low", "interval high", "change"],
                 rows)
    report.add("A prediction-preserving change that moves robust accuracy is a change in how well the attack's "
               "gradient works, not in the model's robustness; the normalised metric is the estimate meant to stay put "
               "(the raw one scales with the logits).\n")
    return verdicts


def cost(report, study):
    """Section 3; returns the verdict line."""
    report.add("## 3. How cheaply can a setting rank the models as the strongest attack does?\n")
    reference = study.strongest_reference()
    ranked = study.ranked_keys()
    agreement = {}
    if reference is not None:
        data = study.score_array(ranked, study.base_models)
        ref = ranked.index(reference)
        replicate = []
        for indices in study.resamples(data.shape[2]):
            means = data[:, :, indices].mean(2)
            replicate.append(kendall_tau_b_matrix(means, means[ref:ref + 1])[:, 0])
        replicate = np.array(replicate)
        full = data.mean(2)
        point = kendall_tau_b_matrix(full, full[ref:ref + 1])[:, 0]
        for i, key in enumerate(ranked):
            agreement[key] = (float(point[i]), percentile_interval(replicate[:, i]))
    rows, points = [], []
    for key in study.scored_keys:
        group = study.by_key[key]
        samples = sum(s.samples for s in group)
        forward = sum(s.total(schema.FORWARD_PASSES) for s in group) / samples
        forward_backward = sum(s.total(schema.FORWARD_BACKWARD_PASSES) for s in group) / samples
        milliseconds = 1e3 * sum(s.total(schema.SECONDS) for s in group) / samples
        tau, interval = agreement.get(key, (float("nan"), (float("nan"), float("nan"))))
        rows.append([study.labels[key], f"{forward:.1f}", f"{forward_backward:.1f}", f"{milliseconds:.2f}",
                     interval_text(tau, interval)])
        points.append((key, forward + 3 * forward_backward, milliseconds, tau, interval))
    if reference is None:
        report.add("No ensemble or attack setting covers every base model: no reference ranking.\n")
    else:
        if study.by_key[reference][0].kind == "ensemble":
            what = "the ensemble: the strongest attack of the spec"
        else:
            what = ("the single attack setting with the lowest mean robust accuracy over the base models, among those run "
                    "on the common samples; the spec has "
                    "no ensemble, so no stronger reference exists here")
        report.add(f"The reference is **{study.labels[reference]}** ({what}). "
                   "For every setting: passes and wall time per sample averaged over the models (forward F, "
                   "forward+backward F+B; the ensemble's members skip points already broken) and Kendall τ between "
                   "its ranking of the base models and the reference's, with its interval.\n")
    report.table("cost", ["setting", "F / sample", "F+B / sample", "ms / sample", "τ with the reference"], rows)
    if reference is None:
        return "3. Cost: no reference ranking (no ensemble or attack covers every base model)."
    figure, axis = plt.subplots(figsize=(9, 5.5))
    colours = {"metric": "tab:blue", "attack": "tab:orange", "transfer": "tab:green", "ensemble": "tab:red"}
    for kind, colour in colours.items():
        mine = [p for p in points if study.by_key[p[0]][0].kind == kind and not math.isnan(p[3])]
        if mine:
            axis.errorbar([p[1] for p in mine], [p[3] for p in mine],
                          yerr=[[p[3] - p[4][0] for p in mine], [p[4][1] - p[3] for p in mine]],
                          fmt="o", color=colour, label=kind, capsize=2, alpha=0.8)
    axis.set_xscale("log")
    axis.set_xlabel("forward-pass equivalents per sample (F + 3·(F+B))")
    axis.set_ylabel("Kendall τ with the reference ranking")
    axis.set_ylim(-1.05, 1.05)
    axis.axhline(1, color="grey", linewidth=0.5)
    axis.legend()
    report.figure(figure, "cost_vs_agreement", "What each setting costs against how well it ranks the models as "
                  "the reference does")
    reference_cost = next(p[1] for p in points if p[0] == reference)

    def cheapest(kinds, bound=0.8):
        good = [p for p in points if p[0] != reference and study.by_key[p[0]][0].kind in kinds
                and not math.isnan(p[3]) and p[4][0] >= bound]
        return min(good, key=lambda p: p[1]) if good else None
    parts = []
    for what, kinds in (("metric setting", ("metric",)), ("attack setting", ("attack", "transfer"))):
        best = cheapest(kinds)
        if best:
            parts.append(f"the cheapest {what} whose τ interval lies above 0.8 is {study.labels[best[0]]} "
                         f"(τ {interval_text(best[3], best[4])}, {best[1]:.0f} forward equivalents per sample, "
                         f"{reference_cost / best[1]:.1f}x cheaper than the reference)")
        else:
            parts.append(f"no {what} has a τ interval above 0.8")
    line = f"3. Cost (reference {study.labels[reference]}): " + "; ".join(parts) + "."
    report.add("On this run: " + line[3:] + "\n")
    return line


def ball_epsilon(settings, norm):
    """A setting's ε if it runs in the ball of `norm` (attacks, ensemble members, transfers), else None."""
    for name in ("epsilon", "1.epsilon", "crafting.epsilon"):
        if name in settings:
            prefix = name[:-len("epsilon")]
            return float(settings[name]) if settings.get(prefix + "norm", norm) == norm else None
    return None


def by_sample(setting, column):
    """A per-sample column of a setting as {sample id: value}."""
    return dict(zip(setting.column(schema.SAMPLE_IDS).tolist(), setting.column(column).tolist()))


def bracket_checks(study, setting):
    """Per sample, for one certify setting: (certified samples some attack broke, samples checked against an
    attack), (samples whose certified ψ is below the best ascent's ψ, samples with an ascent to compare)."""
    s, model = setting.settings, setting.model
    eps, norm = float(s["epsilon"]), s["norm"]
    certified = by_sample(setting, schema.CERTIFIED)
    broken, attacked = set(), set()
    for key in study.attack_keys:
        attack = study.setting(model, key)
        if attack is None or ball_epsilon(attack.settings, norm) != eps:
            continue
        for sample, was_broken in by_sample(attack, schema.BROKEN).items():
            attacked.add(sample)
            if was_broken:
                broken.add(sample)
    upper = by_sample(setting, schema.PSI_UPPER)
    best = {}
    for key in study.metric_keys:
        metric = study.setting(model, key)
        if metric is None or any(str(metric.settings.get(name)) != str(s[name])
                                 for name in ("epsilon", "norm", "normalization", "divergence")):
            continue
        for sample, psi in by_sample(metric, schema.PSI).items():
            best[sample] = max(psi, best.get(sample, -math.inf))
    certified_broken = sum(1 for sample, c in certified.items() if c and sample in broken)
    below = sum(1 for sample, psi in best.items() if sample in upper and upper[sample] < psi * (1 - 1e-5) - 1e-7)
    return (certified_broken, len(attacked & set(certified))), (below, len(set(best) & set(upper)))


def brackets(report, study):
    """Certified bounds against what the attacks and the ascent found: both estimates bracketed."""
    certify_keys = [k for k in study.keys if study.by_key[k][0].kind == "certify"]
    if not certify_keys:
        return None
    report.add("## Brackets: what was found against what is certified\n")
    report.add("Per model and ball: robust accuracy lies between the certified accuracy (below) and the lowest "
               "robust accuracy any attack reached (above); ψ lies between the ascent's (below) and the certified "
               "bound (above). A narrow bracket means the attacks and the ascent are close to the truth; ψ "
               "columns are medians over samples (the largest ψ any ascent setting found for the ball); the last "
               "column is the share of samples whose bound is finite "
               "(standardised logits have none where every logit may tie). docs/metric.md derives the bound. "
               "The bracket is also checked sample by sample: no certified sample may have been broken by an "
               "attack in the same ball, and no sample's certified ψ may lie below what an ascent found.\n")
    rows, pairs = [], {}
    violations = {"broken": [0, 0], "psi": [0, 0]}
    for key in certify_keys:
        for setting in study.by_key[key]:
            s, model = setting.settings, setting.model
            eps, norm = float(s["epsilon"]), s["norm"]
            attacks = [study.headline_value(model, k) for k in study.attack_keys
                       if study.setting(model, k) and ball_epsilon(study.setting(model, k).settings, norm) == eps]
            found = [float(np.median(study.setting(model, k).column(schema.PSI))) for k in study.metric_keys
                     if study.setting(model, k) and all(str(study.setting(model, k).settings.get(name)) == str(s[name])
                                                       for name in ("epsilon", "norm", "normalization", "divergence"))]
            upper = setting.column(schema.PSI_UPPER).astype(np.float64)
            finite = upper[np.isfinite(upper)]
            headline = setting.headline()
            # Certified accuracy does not depend on the normalisation: one (model, ball) pair, counted once.
            pairs.setdefault((model, eps, norm, s.get("method")), (headline[schema.CERTIFIED_ACCURACY],
                                                                   min(attacks) if attacks else None))
            (broken, attacked), (below, compared) = bracket_checks(study, setting)
            violations["broken"][0] += broken
            violations["broken"][1] += attacked
            violations["psi"][0] += below
            violations["psi"][1] += compared
            rows.append([model, study.labels[key], fmt(headline[schema.CERTIFIED_ACCURACY]),
                         fmt(min(attacks)) if attacks else "–", fmt(max(found)) if found else "–",
                         fmt(float(np.median(upper))) if upper.size else "–",
                         fmt(finite.size / upper.size if upper.size else float("nan"), 2)])
    report.table("brackets", ["model", "ball", "certified accuracy", "lowest robust accuracy", "ψ found (median)",
                              "ψ certified (median)", "finite share"], rows)
    sound = sum(1 for certified, lowest in pairs.values() if lowest is None or certified <= lowest)
    nontrivial = sum(1 for certified, _ in pairs.values() if certified > 0)
    best = max(rows, key=lambda r: float(r[2]))
    broken, attacked = violations["broken"]
    below, compared = violations["psi"]
    return (f"4. Brackets: {len(pairs)} (model, ball, method) pairs, {nontrivial} with a non-zero certified accuracy; "
            f"in {sound} of {len(pairs)} the certified accuracy is at most the lowest robust accuracy an attack "
            f"reached{'' if sound == len(pairs) else ' (a bound is NOT sound: report it)'}. Per sample: "
            f"{broken} certified samples broken by an attack (of {attacked} checked) and {below} certified ψ "
            f"below an ascent's (of {compared} compared){'' if broken + below == 0 else ': a bound is NOT sound'}; "
            f"the highest certified accuracy is {best[0]}'s {best[2]} ({best[1]}).")


def alarms(report, study):
    """The gradient-masking alarms merge stored (docs/alarms.md); returns the verdict line."""
    stored = study.results.alarms
    report.add("## Gradient-masking alarms\n")
    report.add("Checks of the stored numbers for attacks that were misled rather than models that are robust "
               "(docs/alarms.md: (a) a black-box or ensemble attack much stronger than white-box PGD, (b) accuracy "
               "that does not fall to ~0 at ε covering the domain or rises with ε, (c) accuracy still falling with "
               "more steps or restarts, (d) a single step stronger than many, (e) the ascent's ψ orders of "
               "magnitude below the certified bound).\n")
    pending = study.results.pending
    if pending:
        many = len(pending) > 1
        report.add(f"{len(pending)} setting{'s are' if many else ' is'} incomplete (tasks not yet computed) and "
                   f"{'were' if many else 'was'} **not checked**:\n")
        for line in pending:
            report.add(f"- `{line}`")
        report.add("")
    unchecked = (f" among the complete settings; {len(pending)} incomplete setting{'s' if len(pending) > 1 else ''} "
                 "unchecked") if pending else ""
    if not stored:
        report.add("No alarm: no check found a symptom (a check with nothing to compare stays silent).\n")
        return f"5. Gradient masking: no alarm{unchecked}."
    report.table("alarms", ["model", "check", "evidence"],
                 [[a[schema.MODEL], a[schema.CHECK], a[schema.EVIDENCE]] for a in stored])
    flagged = list(OrderedDict.fromkeys(a[schema.MODEL] for a in stored))
    checks = {m: sorted({a[schema.CHECK] for a in stored if a[schema.MODEL] == m}) for m in flagged}
    return ("5. Gradient masking: flagged " + "; ".join(f"**{m}** ({', '.join(checks[m])})" for m in flagged) +
            (f" ({len(pending)} incomplete setting{'s' if len(pending) > 1 else ''} unchecked)" if pending else "") +
            ". On these models the flagged attacks or ascents were misled: their numbers overstate robustness.")


def landscapes(report, study):
    landscape_keys = [k for k in study.keys if study.by_key[k][0].kind == "landscape"]
    if not landscape_keys:
        return
    report.add("## Landscapes: natural against defended models\n")
    figure_index = 0
    for index, key in enumerate(landscape_keys):
        shown = [m for m in study.base_models if study.setting(m, key) and study.setting(m, key).landscapes]
        if not shown:
            continue
        sample_ids = sorted(int(d["sample_id"]) for d in study.setting(shown[0], key).landscapes)
        panels = sample_ids[:3]  # three samples per model in the figures; every sample in the table
        rows = []
        for start in range(0, len(shown), 4):  # four models per figure: legible at page width
            group = shown[start:start + 4]
            figure, axes = plt.subplots(len(panels), len(group), figsize=(3.2 * len(group), 2.5 * len(panels)),
                                        squeeze=False)
            for column, m in enumerate(group):
                data = {int(d["sample_id"]): d for d in study.setting(m, key).landscapes}
                for row, sample_id in enumerate(panels):
                    d = data[sample_id]
                    q = d["quantities"].index("decision")
                    axis = axes[row][column]
                    axis.plot(cut_coordinates(d, "adversarial") / d["epsilon"], d["cut_adversarial"][q],
                              label="adversarial d1")
                    axis.plot(cut_coordinates(d, "random") / d["epsilon"], d["cut_random"][q], label="random d2")
                    axis.axhline(0, color="black", linewidth=1)
                    axis.set_title(f"{m}, sample {sample_id}", fontsize=9)
                    if row == len(panels) - 1:
                        axis.set_xlabel("distance / ε")
            axes[0][0].legend(fontsize=8)
            report.figure(figure, f"landscapes_{figure_index}",
                          "Decision surface (logit margin; below zero: misclassified) along the adversarial and a "
                          "random direction")
            figure_index += 1
        for m in shown:
            data = {int(d["sample_id"]): d for d in study.setting(m, key).landscapes}
            distances = [float(data[i]["boundary_adversarial_positive"]) for i in sample_ids]
            rows.append([m] + [fmt(x) for x in distances] + [fmt(float(np.mean(distances)))])
        report.add("Distance along the adversarial direction to the decision boundary (input units; inf: none "
                   "within the range).\n")
        report.table(f"boundary_distance_{index}", ["model"] + [f"sample {i}" for i in sample_ids] + ["mean"], rows)


def checks(report, study):
    """Defended models against a natural model of the same architecture; returns the verdict line."""
    natural, defended = study.baseline_and_defended()
    if not natural or not defended:
        return None
    report.add("## Checks: defended models against a natural one of the same architecture\n")
    report.add("From the models' training recipes and architectures. The paper expects a defended model to have a "
               "smaller ψ (normalised) at every ε and its decision boundary farther along the adversarial direction.\n")
    describe = study.results.description
    landscape_keys = [k for k in study.keys if study.by_key[k][0].kind == "landscape"]
    rows, held, total = [], 0, 0
    for model in defended:
        base = next((n for n in natural if describe(n) == describe(model)), None)
        if base is None:
            continue
        smaller = []
        for key in study.normalised_keys:
            n, p = study.headline_value(base, key), study.headline_value(model, key)
            if not (math.isnan(n) or math.isnan(p)):
                smaller.append(p < n)
        farther = "–"
        for key in landscape_keys:
            if study.setting(base, key) and study.setting(model, key):
                n = study.setting(base, key).headline()[schema.BOUNDARY_DISTANCE]
                p = study.setting(model, key).headline()[schema.BOUNDARY_DISTANCE]
                farther = f"{fmt(p)} vs {fmt(n)}: {'holds' if p > n else 'does NOT hold'}"
                held, total = held + (p > n), total + 1
        held, total = held + sum(smaller), total + len(smaller)
        rows.append([model, base, f"{sum(smaller)} of {len(smaller)}" + ("" if all(smaller) else " (does NOT hold)"),
                     farther])
    if not rows:
        return None
    report.table("defended_checks", ["defended model", "natural baseline", "smaller ψ (settings)",
                                     "boundary distance (mean)"], rows)
    return f"6. Defended against natural (same architecture): {held} of {total} expectations hold."


def main():
    parser = argparse.ArgumentParser(description="Write the study report of a results file.")
    parser.add_argument("results")
    parser.add_argument("--out", default=None)
    parser.add_argument("--replicates", type=int, default=1000, help="bootstrap replicates (default 1000)")
    parser.add_argument("--seed", type=int, default=2019, help="seed of the bootstrap's resampling")
    args = parser.parse_args()
    if args.replicates < 10:
        sys.exit(f"--replicates {args.replicates}: at least 10 are needed for an interval")
    out_dir = args.out or os.path.join(os.path.dirname(os.path.abspath(args.results)), "report")
    if not os.path.exists(args.results):
        if os.path.isdir(args.results + ".d"):
            sys.exit(f"{args.results}: not merged yet (the run stopped before its merge); "
                     f"`robustscope merge {args.results}` writes it from {args.results}.d, then report again")
        sys.exit(f"{args.results}: no such results file")
    try:
        results = Results(args.results)
    except OSError as error:
        sys.exit(f"{args.results}: not a readable HDF5 results file ({error})")
    if not results.settings:
        sys.exit(f"{args.results}: no completed tasks")
    study = Study(results, args.replicates, args.seed)
    report = Report(out_dir)
    provenance(report, study, args.results)
    verdict_place = report.placeholder()
    verdicts = []
    if study.scored_keys:
        verdicts.append(consistency(report, study))
        metric_against_accuracy(report, study)
        invariance_lines = invariance(report, study)
        if invariance_lines:
            verdicts.append("2. Invariance to reparameterisation: " + "; ".join(invariance_lines) + ".")
        verdicts.append(cost(report, study))
    verdicts.append(brackets(report, study))
    verdicts.append(alarms(report, study))
    verdicts.append(checks(report, study))
    if study.scored_keys:
        headline_table(report, study)
    landscapes(report, study)
    report.fill(verdict_place, "<!-- verdicts -->\n## Verdicts\n\n" +
                "\n".join(f"- {line}" for line in verdicts if line) + "\n")
    report.write()
    print(f"report: {os.path.join(out_dir, 'report.html')} and report.md")


if __name__ == "__main__":
    main()
