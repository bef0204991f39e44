#!/usr/bin/env python3
"""The study's report from a results file (schema robustscope-results/1, docs/results.md).

Writes into OUT_DIR (default: <results folder>/report): report.md and report.html (the same text, with the
figures), figures/*.png, and tables/*.csv. It answers the study's three questions with the numbers of the run:
  1. Does the divergence metric rank models consistently across test settings where adversarial accuracy does
     not?  Rankings per setting, Kendall tau and Spearman rho between every pair of settings (a heatmap), and
     the mean agreement within the attack settings and within the metric settings.
  2. Is it invariant to reparameterisation?  Models of the spec with `reparameterize:` against their base
     checkpoint: accuracy under each attack, the raw and the normalised metric.
  3. How much cheaper is it?  Passes and wall time per sample of the metric, each attack and the ensemble.
plus the metric against robust accuracy per epsilon, and landscape panels of the models side by side.
Uses Debian's numpy, h5py and matplotlib only.

usage: report.py RESULTS.h5 [--out OUT_DIR]
"""
import argparse
import csv
import html
import math
import os
import re
import sys
from collections import OrderedDict, defaultdict

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

SCHEMA = "robustscope-results/1"


def text(value):
    return value.decode() if isinstance(value, bytes) else value


# ---------------------------------------------------------------- reading


class Setting:
    """One procedure setting of one model, aggregated over its completed shards."""

    def __init__(self, model, kind, key, settings):
        self.model, self.kind, self.key, self.settings = model, kind, key, settings
        self.samples = 0
        self.sums = defaultdict(float)
        self.forward = self.forward_backward = 0
        self.seconds = 0.0
        self.landscapes = []  # per sample: dict of arrays and attributes

    def value(self, name):
        return self.sums[name] / self.samples if self.samples else float("nan")


def read(path):
    with h5py.File(path, "r") as handle:
        schema = text(handle.attrs.get("schema", b""))
        if schema != SCHEMA:
            sys.exit(f"{path}: not a robustscope results file (schema {schema!r}, expected {SCHEMA})")
        root = {name: text(handle.attrs[name]) for name in handle.attrs}
        settings = OrderedDict()
        reparameterized = {}
        failed = []
        for task_id in handle.get("tasks", {}):
            group = handle["tasks"][task_id]
            attrs = {name: text(group.attrs[name]) for name in group.attrs}
            if attrs.get("status") != "completed":
                failed.append(attrs)
                continue
            model, kind = attrs["model"], attrs["kind"]
            key = attrs["setting_key"].split("|", 1)[1]
            entries = {name[len("setting."):]: value for name, value in attrs.items() if name.startswith("setting.")}
            change = {name.split(".", 1)[1]: float(value) for name, value in attrs.items()
                      if name.startswith("model_reparameterization.")}
            reparameterized[model] = (attrs["model_path"], change)
            setting = settings.setdefault((model, key), Setting(model, kind, key, entries))
            n = int(attrs["sample_count"])
            setting.samples += n
            setting.forward += int(attrs["forward_passes"])
            setting.forward_backward += int(attrs["forward_backward_passes"])
            setting.seconds += float(attrs["seconds"])
            labels = group["labels"][()]
            if kind == "metric":
                setting.sums["psi"] += float(group["psi"][()].astype(np.float64).sum())
                setting.sums["clean"] += float((group["clean_class"][()] == labels).sum())
            elif kind in ("attack", "ensemble"):
                setting.sums["robust"] += float((1 - group["broken"][()].astype(np.float64)).sum())
            elif kind == "landscape":
                for sample_id in group["samples"]:
                    sample = group["samples"][sample_id]
                    data = {name: sample[name][()] for name in sample}
                    data.update({name: sample.attrs[name] for name in sample.attrs})
                    data["quantities"] = text(group.attrs["quantities"]).split(",")
                    data["epsilon"] = float(entries["epsilon"])
                    setting.landscapes.append(data)
    return root, settings, reparameterized, failed


# ---------------------------------------------------------------- labels and statistics


def label(setting):
    s = setting.settings
    eps = f"ε={float(s.get('epsilon', s.get('1.epsilon', 'nan'))):g}"
    if setting.kind == "metric":
        norm = "raw" if s["normalization"] == "none" else s["normalization"]
        return f"ψ {norm} {eps} K={s['steps']}"
    if setting.kind == "landscape":
        return f"landscape {eps} along {s['adversarial_direction']} ({s.get('direction_loss', 'ce')})"
    if setting.kind == "noop":
        return "no-op"
    if setting.kind == "ensemble":
        members = "+".join(s[k] for k in sorted(s) if k.endswith(".name"))
        return f"worst of {members} {eps}"
    name = s["name"].upper()
    if s["name"] == "fgsm":
        return f"FGSM {eps}"
    if s["name"] == "cw-l2":
        return f"CW-L2 {eps} ({s['binary_search_steps']}x{s['steps']})"
    steps = s.get("steps", "")
    extra = f" α={float(s['step_size']):g}" if "step_size" in s else ""
    return f"{name}-{steps} {eps}{extra}"


def ranks(values):
    """Average ranks (1 = smallest), ties shared."""
    order = np.argsort(values, kind="mergesort")
    result = np.empty(len(values))
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[order[j + 1]] == values[order[i]]:
            j += 1
        result[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return result


def kendall_tau_b(a, b):
    concordant = discordant = ties_a = ties_b = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
            if da == 0 and db == 0:
                continue
            if da == 0:
                ties_a += 1
            elif db == 0:
                ties_b += 1
            elif da == db:
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_a) * (concordant + discordant + ties_b))
    return (concordant - discordant) / denominator if denominator else float("nan")


def spearman_rho(a, b):
    ra, rb = ranks(np.asarray(a)), ranks(np.asarray(b))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def robustness_score(setting):
    """Higher = more robust: robust accuracy, or minus the metric."""
    return -setting.value("psi") if setting.kind == "metric" else setting.value("robust")


# ---------------------------------------------------------------- the report


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
        style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}"
                 "table{border-collapse:collapse;margin:1em 0;font-size:90%}"
                 "td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}"
                 "td:first-child{text-align:left}img{max-width:100%}figcaption{color:#555}")
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
            out.append("<table><tr>" + "".join(f"<th>{inline(c)}</th>" for c in rows[0]) + "</tr>" +
                       "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in rows[1:])
                       + "</table>")
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


def fmt(value, digits=4):
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return "inf" if value == float("inf") else "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def main():
    parser = argparse.ArgumentParser(description="Write the study report of a results file.")
    parser.add_argument("results")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out_dir = args.out or os.path.join(os.path.dirname(os.path.abspath(args.results)), "report")
    root, settings, reparameterized, failed = read(args.results)
    if not settings:
        sys.exit(f"{args.results}: no completed tasks")
    report = Report(out_dir)

    # Models in the spec's order, settings by kind then label (task ids carry no order).
    spec_text = root.get("spec_text", "")
    models = sorted(OrderedDict.fromkeys(s.model for s in settings.values()),
                    key=lambda m: (spec_text.find(f"name: {m}") % (len(spec_text) + 1), m))
    base_models = [m for m in models if all(v == 1 for v in reparameterized[m][1].values())]
    kind_order = {"metric": 0, "attack": 1, "ensemble": 2, "landscape": 3, "noop": 4}
    keys = list(OrderedDict.fromkeys(key for (_, key) in settings))
    by_key = {key: [settings[(m, key)] for m in models if (m, key) in settings] for key in keys}
    natural_order = lambda text: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]
    keys.sort(key=lambda k: (kind_order.get(by_key[k][0].kind, 9), natural_order(label(by_key[k][0]))))
    scored_keys = [k for k in keys if by_key[k][0].kind in ("metric", "attack", "ensemble")]
    labels = {k: label(by_key[k][0]) for k in keys}

    report.add(f"# robustscope report: {root.get('name', '?')}\n")
    report.add(f"Results `{args.results}` (spec hash `{root.get('spec_hash', '?')}`, code {root.get('code_version', '?')}, "
               f"LibTorch {root.get('libtorch_version', '?')}, {root.get('mpi_version', '?')}, HDF5 "
               f"{root.get('hdf5_version', '?')}; last run {root.get('last_run_started', '?')} .. "
               f"{root.get('last_run_ended', '?')} on {root.get('last_run_rank_layout', '?')}). "
               f"{root.get('tasks_completed', '?')} of {root.get('tasks_planned', '?')} tasks completed, "
               f"{len(failed)} failed{':' if failed else '.'}\n")
    for task in failed:
        report.add(f"- failed: `{task.get('key')}`: {task.get('message')}")

    # ---- the headline table
    header = ["setting"] + models
    rows = []
    clean = {m: settings[(m, k)].value("clean") for m in models for k in keys
             if (m, k) in settings and settings[(m, k)].kind == "metric"}
    rows.append(["clean accuracy"] + [fmt(clean.get(m, float("nan"))) for m in models])
    for key in scored_keys:
        row = [labels[key]]
        for m in models:
            s = settings.get((m, key))
            row.append(fmt(s.value("psi") if s and s.kind == "metric" else s.value("robust") if s else float("nan")))
        rows.append(row)
    report.add("## Robust accuracy and the metric per model\n")
    report.add("Robust accuracy under each attack setting (higher is more robust) and the mean of ψ (lower is more "
               f"robust) on {by_key[scored_keys[0]][0].samples} test samples.\n")
    report.table("headline", header, rows)

    # ---- question 1: rankings and their agreement
    report.add("## 1. Which estimate ranks the models consistently across settings?\n")
    ranked_models = base_models
    scores = {k: np.array([robustness_score(settings[(m, k)]) for m in ranked_models]) for k in scored_keys
              if all((m, k) in settings for m in ranked_models)}
    rank_rows = []
    for key, values in scores.items():
        order = [ranked_models[i] for i in np.argsort(-values, kind="mergesort")]
        rank_rows.append([labels[key], " > ".join(order)])
    report.add(f"Models ranked from most to least robust by each setting (base models: {', '.join(ranked_models)}).\n")
    report.table("rankings", ["setting", "ranking"], rank_rows)
    names = list(scores)
    tau = np.array([[kendall_tau_b(scores[a], scores[b]) for b in names] for a in names])
    rho = np.array([[spearman_rho(scores[a], scores[b]) for b in names] for a in names])
    figure, axes = plt.subplots(1, 2, figsize=(2 + 0.9 * len(names) * 2, 1 + 0.45 * len(names)))
    for axis, matrix, title in [(axes[0], tau, "Kendall τ"), (axes[1], rho, "Spearman ρ")]:
        image = axis.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu")
        axis.set_xticks(range(len(names)), [labels[n] for n in names], rotation=90, fontsize=7)
        axis.set_yticks(range(len(names)), [labels[n] for n in names], fontsize=7)
        axis.set_title(f"{title} between the rankings of every pair of settings")
        figure.colorbar(image, ax=axis, fraction=0.03)
    report.figure(figure, "rank_agreement", "Rank agreement between settings (base models)")
    report.table("kendall_tau", ["setting"] + [labels[n] for n in names],
                 [[labels[a]] + [fmt(v, 2) for v in tau[i]] for i, a in enumerate(names)])

    def mean_pairwise(group_a, group_b=None):
        values = []
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                if j <= i and group_b is None:
                    continue
                if (a in group_a) and ((b in group_a) if group_b is None else (b in group_b)):
                    if not math.isnan(tau[i][j]):
                        values.append(tau[i][j])
        return (float(np.mean(values)), len(values)) if values else (float("nan"), 0)

    metric_keys = [k for k in names if by_key[k][0].kind == "metric"]
    normalised_keys = [k for k in metric_keys if by_key[k][0].settings["normalization"] != "none"]
    attack_keys = [k for k in names if by_key[k][0].kind != "metric"]
    within_metric, n_metric = mean_pairwise(normalised_keys)
    within_attack, n_attack = mean_pairwise(attack_keys)
    across, _ = mean_pairwise(normalised_keys, attack_keys)
    report.add(f"- Mean Kendall τ among the **normalised-metric settings** ({len(normalised_keys)} settings, "
               f"{n_metric} pairs): **{fmt(within_metric, 3)}**.")
    report.add(f"- Mean Kendall τ among the **attack settings** ({len(attack_keys)} settings, {n_attack} pairs): "
               f"**{fmt(within_attack, 3)}**.")
    report.add(f"- Mean Kendall τ between a metric setting and an attack setting: {fmt(across, 3)}.\n")
    verdict = ("more consistently than" if within_metric > within_attack else
               "no more consistently than")
    report.add(f"On this run the divergence metric ranks the models **{verdict}** adversarial accuracy does across "
               f"test settings (τ {fmt(within_metric, 3)} against {fmt(within_attack, 3)}). With "
               f"{len(ranked_models)} models a τ takes few values; the cluster-sized specs rank many more.\n")

    # ---- metric against robust accuracy per epsilon
    pgd_by_eps = {}
    for key in scored_keys:
        s = by_key[key][0]
        if s.kind == "attack" and s.settings["name"] == "pgd" and "step_size" in s.settings:
            eps = float(s.settings["epsilon"])
            pgd_by_eps.setdefault(eps, key)  # the first PGD setting at each ε
    metric_by_eps = {float(by_key[k][0].settings["epsilon"]): k for k in normalised_keys}
    common = sorted(set(pgd_by_eps) & set(metric_by_eps))
    if common:
        figure, axes = plt.subplots(1, len(common), figsize=(4.2 * len(common), 3.8), squeeze=False)
        for axis, eps in zip(axes[0], common):
            for m in models:
                if (m, metric_by_eps[eps]) in settings and (m, pgd_by_eps[eps]) in settings:
                    x = settings[(m, pgd_by_eps[eps])].value("robust")
                    y = settings[(m, metric_by_eps[eps])].value("psi")
                    axis.scatter(x, y)
                    axis.annotate(m, (x, y), fontsize=7)
            axis.set_xlabel(f"robust accuracy, {labels[pgd_by_eps[eps]]}")
            axis.set_ylabel("mean ψ (normalised)")
            axis.set_title(f"ε = {eps:g}")
        report.figure(figure, "metric_vs_accuracy", "The metric against PGD robust accuracy, one point per model")

    # ---- question 2: invariance
    report.add("## 2. Is the metric invariant to reparameterisation?\n")
    inv_rows = []
    for variant in models:
        path, change = reparameterized[variant]
        if all(v == 1 for v in change.values()):
            continue
        base = next((m for m in base_models if reparameterized[m][0] == path), None)
        if base is None:
            continue
        what = ", ".join(f"{k}={v:g}" for k, v in change.items() if v != 1)
        for key in scored_keys:
            if (base, key) not in settings or (variant, key) not in settings:
                continue
            b, v = settings[(base, key)], settings[(variant, key)]
            name = "psi" if b.kind == "metric" else "robust"
            before, after = b.value(name), v.value(name)
            change_text = (f"{100 * (after - before) / before:+.1f}%" if b.kind == "metric" and before
                           else f"{after - before:+.4f}")
            inv_rows.append([f"{variant} ({what}) vs {base}", labels[key], fmt(before), fmt(after), change_text])
    if inv_rows:
        report.add("Each reparameterised model against its base checkpoint: robust accuracy (absolute change) and "
                   "ψ (relative change). Last-layer scaling and ReLU rescaling keep every prediction; deploying the "
                   "distilled model at its temperature is last-layer scaling by 1/T.\n")
        report.table("invariance", ["model", "setting", "base", "variant", "change"], inv_rows)
        # Per variant: what its reparameterisation does to each estimate, largest changes first.
        for variant in OrderedDict.fromkeys(row[0] for row in inv_rows):
            rows = [row for row in inv_rows if row[0] == variant]
            def largest(selected, percent):
                best = None
                for row in selected:
                    value = abs(float(row[4].rstrip("%")))
                    if best is None or value > best[0]:
                        best = (value, row[1])
                if best is None:
                    return "–"
                return f"{best[0]:.3g}{'%' if percent else ''} ({best[1]})"
            normalised = [r for r in rows if r[1] in [labels[k] for k in normalised_keys]]
            raw = [r for r in rows if r[1] in [labels[k] for k in metric_keys if k not in normalised_keys]]
            attacks = [r for r in rows if r[1] in [labels[k] for k in attack_keys]]
            report.add(f"- **{variant}**: normalised ψ changes by at most {largest(normalised, True)}; raw ψ by up to "
                       f"{largest(raw, True)}; robust accuracy by up to {largest(attacks, False)} (absolute).")
        report.add("\nA prediction-preserving change that moves robust accuracy is a change in how well the attack's "
                   "gradient works, not in the model's robustness; the normalised metric is the estimate meant to "
                   "stay put (the raw one scales with the logits).")
        report.add("")

    # ---- question 3: cost
    report.add("## 3. How much cheaper is the metric?\n")
    cost_rows = []
    for key in scored_keys:
        group = by_key[key]
        samples = sum(s.samples for s in group)
        forward = sum(s.forward for s in group) / samples
        forward_backward = sum(s.forward_backward for s in group) / samples
        milliseconds = 1e3 * sum(s.seconds for s in group) / samples
        cost_rows.append([labels[key], f"{forward:.1f}", f"{forward_backward:.1f}", f"{milliseconds:.2f}"])
    report.add("Passes and wall time per sample, averaged over the models (forward F, forward+backward F+B; the "
               "ensemble's members skip points already broken).\n")
    report.table("cost", ["setting", "F / sample", "F+B / sample", "ms / sample"], cost_rows)

    # ---- landscapes
    landscape_keys = [k for k in keys if by_key[k][0].kind == "landscape"]
    report.add("## Landscapes: natural against defended models\n")
    for key in landscape_keys:
        shown = [m for m in base_models if (m, key) in settings and settings[(m, key)].landscapes]
        if not shown:
            continue
        sample_ids = sorted(int(d["sample_id"]) for d in settings[(shown[0], key)].landscapes)
        figure, axes = plt.subplots(len(sample_ids), len(shown), figsize=(3.4 * len(shown), 2.6 * len(sample_ids)),
                                    squeeze=False)
        distance_rows = []
        for column, m in enumerate(shown):
            data = {int(d["sample_id"]): d for d in settings[(m, key)].landscapes}
            distances = []
            for row, sample_id in enumerate(sample_ids):
                d = data[sample_id]
                q = d["quantities"].index("decision")
                alpha = d["coordinates_1d"] / d["epsilon"]
                axis = axes[row][column]
                axis.plot(alpha, d["cut_adversarial"][q], label="adversarial d1")
                axis.plot(alpha, d["cut_random"][q], label="random d2")
                axis.axhline(0, color="black", linewidth=1)
                axis.set_title(f"{m}, sample {sample_id}", fontsize=8)
                if row == len(sample_ids) - 1:
                    axis.set_xlabel("distance / ε")
                distances.append(float(d["boundary_adversarial_positive"]))
            distance_rows.append([m] + [fmt(x) for x in distances] + [fmt(float(np.mean(distances)))])
        axes[0][0].legend(fontsize=7)
        report.figure(figure, f"landscapes_{landscape_keys.index(key)}",
                      "Decision surface (logit margin; below zero: misclassified) along the adversarial and a random "
                      "direction")
        report.add("Distance along the adversarial direction to the decision boundary (input units; inf: none "
                   "within the range).\n")
        report.table(f"boundary_distance_{landscape_keys.index(key)}",
                     ["model"] + [f"sample {i}" for i in sample_ids] + ["mean"], distance_rows)

    # ---- the demo's acceptance checks, stated with numbers
    if "natural" in models and "pgd-at" in models:
        report.add("## Checks: the PGD-trained model against the natural one\n")
        for key in normalised_keys:
            n, p = settings[("natural", key)].value("psi"), settings[("pgd-at", key)].value("psi")
            report.add(f"- {labels[key]}: ψ pgd-at {p:.4f} {'<' if p < n else '>='} natural {n:.4f} "
                       f"({'holds' if p < n else 'does NOT hold'})")
        for key in landscape_keys:
            if ("natural", key) in settings and ("pgd-at", key) in settings:
                def mean_distance(m):
                    return float(np.mean([float(d["boundary_adversarial_positive"])
                                          for d in settings[(m, key)].landscapes]))
                n, p = mean_distance("natural"), mean_distance("pgd-at")
                report.add(f"- boundary along the adversarial direction: pgd-at {fmt(p)} vs natural {fmt(n)} "
                           f"({'farther: holds' if p > n else 'not farther: does NOT hold'})")
        report.add("")
    report.write()
    print(f"report: {os.path.join(out_dir, 'report.html')} and report.md")


if __name__ == "__main__":
    main()
