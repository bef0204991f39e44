#!/usr/bin/env python3
"""The study's report from a results file (schema robustscope-results/2, docs/results.md, docs/study.md).

Writes into OUT_DIR (default: <results folder>/report): report.md and report.html (the same text, with the
figures), figures/*.png, and tables/*.csv. It answers the study's questions with the numbers of the run:
  1. Does the divergence metric rank models consistently across test settings where adversarial accuracy does
     not?  Rankings per setting (ties shown), Kendall tau and Spearman rho between every pair of settings.
  2. Is it invariant to reparameterisation?  Models of the spec with `reparameterize:` against their base.
  3. How much cheaper is it?  Passes and wall time per sample of the metric, each attack and the ensemble.
plus the metric against robust accuracy per epsilon, landscape panels, and checks of the defended models (by
their training recipe) against the natural ones. Reading (robustscope/results.py), statistics
(robustscope/stats.py) and rendering (this file) are apart. Uses Debian's numpy, h5py and matplotlib only.

usage: report.py RESULTS.h5 [--out OUT_DIR]
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
from robustscope.results import Results  # noqa: E402
from robustscope.stats import kendall_tau_b, ranking_text, spearman_rho  # noqa: E402

DEFENDED_RECIPES = ("pgd", "trades", "alp", "fgsm")
SCORED_KINDS = ("metric", "attack", "ensemble", "transfer")

# ---------------------------------------------------------------- labels


def label(setting):
    s = setting.settings
    epsilon = s.get("epsilon", s.get("1.epsilon", s.get("crafting.epsilon", float("nan"))))
    eps = f"ε={float(epsilon):g}"
    if setting.kind == "metric":
        norm = "raw" if s["normalization"] == "none" else s["normalization"]
        return f"ψ {norm} {eps} K={s['steps']}"
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
    """The results arranged for the report: models, scored settings, their scores and labels."""

    def __init__(self, results):
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
        self.attack_keys = [k for k in self.scored_keys if self.by_key[k][0].kind != "metric"]

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
        """Scored settings every base model has."""
        return [k for k in self.scored_keys if all(self.setting(m, k) for m in self.base_models)]

    def agreement(self):
        names = self.ranked_keys()
        scores = {k: [self.score(m, k) for m in self.base_models] for k in names}
        tau = np.array([[kendall_tau_b(scores[a], scores[b]) for b in names] for a in names])
        rho = np.array([[spearman_rho(scores[a], scores[b]) for b in names] for a in names])
        return names, scores, tau, rho

    def baseline_and_defended(self):
        """From the models' recipes: natural base models, and those trained against an attack."""
        recipe = self.results.recipe
        natural = [m for m in self.base_models if recipe(m) == "natural"]
        defended = [m for m in self.base_models if recipe(m) in DEFENDED_RECIPES]
        return natural, defended


def mean_pairwise(names, tau, group_a, group_b=None):
    values = []
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if group_b is None and j <= i:
                continue
            if a in group_a and (b in group_a if group_b is None else b in group_b) and not math.isnan(tau[i][j]):
                values.append(tau[i][j])
    return (float(np.mean(values)), len(values)) if values else (float("nan"), 0)


# ---------------------------------------------------------------- rendering


class Report:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.parts = []  # ("md", text) | ("figure", path, caption)
        os.makedirs(os.path.join(out_dir, "figures"), exist_ok=True)
        os.makedirs(os.path.join(out_dir, "tables"), exist_ok=True)

    def add(self, markdown):
        self.parts.append(("md", markdown))

    def table(self, name, header, rows):
        with open(os.path.join(self.out_dir, "tables", f"{name}.csv"), "w", newline="") as handle:
            csv.writer(handle).writerows([header] + rows)
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
        self.add("\n".join(lines) + "\n")

    def figure(self, figure, name, caption):
        path = os.path.join("figures", f"{name}.png")
        figure.savefig(os.path.join(self.out_dir, path), dpi=110, bbox_inches="tight")
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
        style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.4}"
                 ".wide{overflow-x:auto;max-width:100%}"
                 "table{border-collapse:collapse;margin:1em 0;font-size:90%}"
                 "td,th{border:1px solid #bbb;padding:3px 8px;text-align:right;white-space:nowrap}"
                 "td:first-child,th:first-child{text-align:left;position:sticky;left:0;background:#fff}"
                 "img{max-width:100%;height:auto}figcaption{color:#555}")
        with open(os.path.join(self.out_dir, "report.html"), "w") as handle:
            handle.write(f"<!doctype html><html><head><meta charset='utf-8'><title>robustscope report</title>"
                         f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def markdown_to_html(markdown):
    """The small subset report.md uses: headings, tables, bullet lists, paragraphs, `code`, **bold**."""
    def inline(line):
        line = html.escape(line)
        line = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", line)
        return re.sub(r"`(.+?)`", r"<code>\1</code>", line)
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
                    rows.append([cell.strip() for cell in lines[i].strip("|").split("|")])
                i += 1
            i -= 1
            out.append("<div class='wide'><table><tr>" + "".join(f"<th>{inline(c)}</th>" for c in rows[0]) +
                       "</tr>" + "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>"
                                         for row in rows[1:]) + "</table></div>")
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
    return "\n".join(out)


# ---------------------------------------------------------------- sections


def provenance(report, study, path):
    root = study.results.root
    failed = study.results.failed
    report.add(f"# robustscope report: {root.get(schema.NAME, '?')}\n")
    report.add(f"Results `{path}` (spec hash `{root.get(schema.SPEC_HASH, '?')}`, code {root.get(schema.CODE_VERSION, '?')}, "
               f"LibTorch {root.get(schema.LIBTORCH_VERSION, '?')}, {root.get(schema.MPI_VERSION, '?')}, HDF5 "
               f"{root.get(schema.HDF5_VERSION, '?')}; last run {root.get('last_run_started', '?')} .. "
               f"{root.get('last_run_ended', '?')} on {root.get('last_run_rank_layout', '?')}). "
               f"{root.get(schema.TASKS_COMPLETED, '?')} of {root.get(schema.TASKS_PLANNED, '?')} tasks completed, "
               f"{len(failed)} failed{':' if failed else '.'}\n")
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
    report.add("## 1. Which estimate ranks the models consistently across settings?\n")
    names, scores, tau, rho = study.agreement()
    rank_rows = [[study.labels[k], ranking_text(study.base_models, scores[k])] for k in names]
    report.add(f"Models ranked from most to least robust by each setting (base models: {', '.join(study.base_models)}; "
               "`=` marks a tie).\n")
    report.table("rankings", ["setting", "ranking"], rank_rows)
    if len(names) >= 2:
        size = max(4.0, 0.42 * len(names))
        figure, axes = plt.subplots(1, 2, figsize=(2 * size + 3, size + 1.5))
        for axis, matrix, title in [(axes[0], tau, "Kendall τ"), (axes[1], rho, "Spearman ρ")]:
            image = axis.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu")
            axis.set_xticks(range(len(names)), [study.labels[n] for n in names], rotation=90, fontsize=9)
            axis.set_yticks(range(len(names)), [study.labels[n] for n in names], fontsize=9)
            axis.set_title(f"{title} between the rankings of every pair of settings", fontsize=11)
            figure.colorbar(image, ax=axis, fraction=0.03)
        report.figure(figure, "rank_agreement", "Rank agreement between settings (base models)")
    report.table("kendall_tau", ["setting"] + [study.labels[n] for n in names],
                 [[study.labels[a]] + [fmt(v, 2) for v in tau[i]] for i, a in enumerate(names)])
    within_metric, n_metric = mean_pairwise(names, tau, study.normalised_keys)
    within_attack, n_attack = mean_pairwise(names, tau, study.attack_keys)
    across, _ = mean_pairwise(names, tau, study.normalised_keys, study.attack_keys)
    report.add(f"- Mean Kendall τ among the **normalised-metric settings** ({len(study.normalised_keys)} settings, "
               f"{n_metric} pairs): **{fmt(within_metric, 3)}**.")
    report.add(f"- Mean Kendall τ among the **attack settings** ({len(study.attack_keys)} settings, {n_attack} pairs): "
               f"**{fmt(within_attack, 3)}**.")
    report.add(f"- Mean Kendall τ between a metric setting and an attack setting: {fmt(across, 3)}.\n")
    verdict = "more consistently than" if within_metric > within_attack else "no more consistently than"
    report.add(f"On this run the divergence metric ranks the models **{verdict}** adversarial accuracy does across "
               f"test settings (τ {fmt(within_metric, 3)} against {fmt(within_attack, 3)}). With "
               f"{len(study.base_models)} models a τ takes few values.\n")


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
    figure, axes = plt.subplots(1, len(common), figsize=(4.2 * len(common), 3.8), squeeze=False)
    for axis, eps in zip(axes[0], common):
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
    report.add("## 2. Is the metric invariant to reparameterisation?\n")
    results = study.results
    rows = []
    for variant in study.models:
        change = results.reparameterization(variant)
        if results.is_base(variant):
            continue
        path = results.models[variant].get(schema.MODEL_PATH)
        base = next((m for m in study.base_models if results.models[m].get(schema.MODEL_PATH) == path), None)
        if base is None:
            continue
        what = ", ".join(f"{k}={v:g}" for k, v in change.items() if v != 1)
        for key in study.scored_keys:
            b, v = study.setting(base, key), study.setting(variant, key)
            if b is None or v is None:
                continue
            before, after = study.headline_value(base, key), study.headline_value(variant, key)
            change_text = (f"{100 * (after - before) / before:+.1f}%" if b.kind == "metric" and before
                           else f"{after - before:+.4f}")
            rows.append([f"{variant} ({what}) vs {base}", study.labels[key], fmt(before), fmt(after), change_text])
    if not rows:
        report.add("The spec has no reparameterised models.\n")
        return
    report.add("Each reparameterised model against its base checkpoint: robust accuracy (absolute change) and "
               "ψ (relative change). Last-layer scaling and ReLU rescaling keep every prediction; deploying the "
               "distilled model at its temperature is last-layer scaling by 1/T.\n")
    report.table("invariance", ["model", "setting", "base", "variant", "change"], rows)
    labels = study.labels
    groups = {"normalised": [labels[k] for k in study.normalised_keys],
              "raw": [labels[k] for k in study.metric_keys if k not in study.normalised_keys],
              "attack": [labels[k] for k in study.attack_keys]}
    for variant in OrderedDict.fromkeys(row[0] for row in rows):
        mine = [row for row in rows if row[0] == variant]

        def largest(group, percent):
            candidates = [(abs(float(row[4].rstrip("%"))), row[1]) for row in mine if row[1] in groups[group]]
            if not candidates:
                return "–"
            value, where = max(candidates)
            return f"{value:.3g}{'%' if percent else ''} ({where})"
        report.add(f"- **{variant}**: normalised ψ changes by at most {largest('normalised', True)}; raw ψ by up to "
                   f"{largest('raw', True)}; robust accuracy by up to {largest('attack', False)} (absolute).")
    report.add("\nA prediction-preserving change that moves robust accuracy is a change in how well the attack's "
               "gradient works, not in the model's robustness; the normalised metric is the estimate meant to stay put "
               "(the raw one scales with the logits).\n")


def brackets(report, study):
    """Certified bounds against what the attacks and the ascent found: both estimates bracketed."""
    certify_keys = [k for k in study.keys if study.by_key[k][0].kind == "certify"]
    if not certify_keys:
        return
    report.add("## Brackets: what was found against what is certified\n")
    report.add("Per model and ball: robust accuracy lies between the certified accuracy (below) and the lowest "
               "robust accuracy any attack reached (above); ψ lies between the ascent's (below) and the certified "
               "bound (above). A narrow bracket means the attacks and the ascent are close to the truth; ψ "
               "columns are medians over samples (the largest ψ any ascent setting found for the ball); the last "
               "column is the share of samples whose bound is finite "
               "(standardised logits have none where every logit may tie). docs/metric.md derives the bound.\n")
    rows = []
    for key in certify_keys:
        for setting in study.by_key[key]:
            s, model = setting.settings, setting.model
            eps, norm = float(s["epsilon"]), s["norm"]
            attacks = [study.headline_value(model, k) for k in study.attack_keys
                       if study.setting(model, k) and float(study.setting(model, k).settings.get("epsilon", -1)) == eps
                       and study.setting(model, k).settings.get("norm", norm) == norm]
            found = [float(np.median(study.setting(model, k).column(schema.PSI))) for k in study.metric_keys
                     if study.setting(model, k) and all(str(study.setting(model, k).settings.get(name)) == str(s[name])
                                                       for name in ("epsilon", "norm", "normalization", "divergence"))]
            upper = setting.column(schema.PSI_UPPER).astype(np.float64)
            finite = upper[np.isfinite(upper)]
            headline = setting.headline()
            rows.append([model, study.labels[key], fmt(headline[schema.CERTIFIED_ACCURACY]),
                         fmt(min(attacks)) if attacks else "–", fmt(max(found)) if found else "–",
                         fmt(float(np.median(upper))) if upper.size else "–",
                         fmt(finite.size / upper.size if upper.size else float("nan"), 2)])
    report.table("brackets", ["model", "ball", "certified accuracy", "lowest robust accuracy", "ψ found (median)",
                              "ψ certified (median)", "finite share"], rows)


def cost(report, study):
    report.add("## 3. How much cheaper is the metric?\n")
    rows = []
    for key in study.scored_keys:
        group = study.by_key[key]
        samples = sum(s.samples for s in group)
        forward = sum(s.total(schema.FORWARD_PASSES) for s in group) / samples
        forward_backward = sum(s.total(schema.FORWARD_BACKWARD_PASSES) for s in group) / samples
        milliseconds = 1e3 * sum(s.total(schema.SECONDS) for s in group) / samples
        rows.append([study.labels[key], f"{forward:.1f}", f"{forward_backward:.1f}", f"{milliseconds:.2f}"])
    report.add("Passes and wall time per sample, averaged over the models (forward F, forward+backward F+B; the "
               "ensemble's members skip points already broken).\n")
    report.table("cost", ["setting", "F / sample", "F+B / sample", "ms / sample"], rows)


def landscapes(report, study):
    landscape_keys = [k for k in study.keys if study.by_key[k][0].kind == "landscape"]
    if not landscape_keys:
        return
    report.add("## Landscapes: natural against defended models\n")
    for index, key in enumerate(landscape_keys):
        shown = [m for m in study.base_models if study.setting(m, key) and study.setting(m, key).landscapes]
        if not shown:
            continue
        sample_ids = sorted(int(d["sample_id"]) for d in study.setting(shown[0], key).landscapes)
        figure, axes = plt.subplots(len(sample_ids), len(shown), figsize=(3.4 * len(shown), 2.6 * len(sample_ids)),
                                    squeeze=False)
        rows = []
        for column, m in enumerate(shown):
            data = {int(d["sample_id"]): d for d in study.setting(m, key).landscapes}
            distances = []
            for row, sample_id in enumerate(sample_ids):
                d = data[sample_id]
                q = d["quantities"].index("decision")
                alpha = d["coordinates_1d"] / d["epsilon"]
                axis = axes[row][column]
                axis.plot(alpha, d["cut_adversarial"][q], label="adversarial d1")
                axis.plot(alpha, d["cut_random"][q], label="random d2")
                axis.axhline(0, color="black", linewidth=1)
                axis.set_title(f"{m}, sample {sample_id}", fontsize=9)
                if row == len(sample_ids) - 1:
                    axis.set_xlabel("distance / ε")
                distances.append(float(d["boundary_adversarial_positive"]))
            rows.append([m] + [fmt(x) for x in distances] + [fmt(float(np.mean(distances)))])
        axes[0][0].legend(fontsize=8)
        report.figure(figure, f"landscapes_{index}",
                      "Decision surface (logit margin; below zero: misclassified) along the adversarial and a random "
                      "direction")
        report.add("Distance along the adversarial direction to the decision boundary (input units; inf: none "
                   "within the range).\n")
        report.table(f"boundary_distance_{index}", ["model"] + [f"sample {i}" for i in sample_ids] + ["mean"], rows)


def checks(report, study):
    natural, defended = study.baseline_and_defended()
    if not natural or not defended:
        return
    report.add("## Checks: defended models against the natural ones\n")
    report.add(f"From the models' training recipes: natural {', '.join(natural)}; defended {', '.join(defended)}.\n")
    landscape_keys = [k for k in study.keys if study.by_key[k][0].kind == "landscape"]
    for base in natural:
        for model in defended:
            for key in study.normalised_keys:
                n, p = study.headline_value(base, key), study.headline_value(model, key)
                if math.isnan(n) or math.isnan(p):
                    continue
                report.add(f"- {study.labels[key]}: ψ {model} {p:.4f} {'<' if p < n else '>='} {base} {n:.4f} "
                           f"({'holds' if p < n else 'does NOT hold'})")
            for key in landscape_keys:
                if study.setting(base, key) and study.setting(model, key):
                    n = study.setting(base, key).headline()[schema.BOUNDARY_DISTANCE]
                    p = study.setting(model, key).headline()[schema.BOUNDARY_DISTANCE]
                    report.add(f"- boundary along the adversarial direction: {model} {fmt(p)} vs {base} {fmt(n)} "
                               f"({'farther: holds' if p > n else 'not farther: does NOT hold'})")
    report.add("")


def main():
    parser = argparse.ArgumentParser(description="Write the study report of a results file.")
    parser.add_argument("results")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out_dir = args.out or os.path.join(os.path.dirname(os.path.abspath(args.results)), "report")
    results = Results(args.results)
    if not results.settings:
        sys.exit(f"{args.results}: no completed tasks")
    study = Study(results)
    report = Report(out_dir)
    provenance(report, study, args.results)
    if study.scored_keys:
        headline_table(report, study)
        consistency(report, study)
        metric_against_accuracy(report, study)
        invariance(report, study)
        cost(report, study)
    brackets(report, study)
    landscapes(report, study)
    checks(report, study)
    report.write()
    print(f"report: {os.path.join(out_dir, 'report.html')} and report.md")


if __name__ == "__main__":
    main()
