"""The report's other sections: provenance, the per-model table a reviewer reads first, the headline numbers
of every setting, the gradient-masking alarms, the checks of defended models, and the landscapes."""
from collections import OrderedDict

import numpy as np

from . import schema
from .stats import interval_text, percentile_interval
from .study import CERTIFY, ENSEMBLE, REFERENCE_FAMILY, ball, fmt


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
               "images with replacement and recomputes every model's number and every ranking. They cover the "
               "choice of test images only: each model is one trained checkpoint, so variation over training runs "
               "is not in them.\n")
    for task in failed:
        report.add(f"- failed: `{task.attrs.get(schema.KEY)}`: {task.attrs.get(schema.MESSAGE)}")


def main_ball(study):
    """The ball with the most normalised-metric settings (ties: the first in plan order)."""
    balls = [ball(study.first(k).settings) for k in study.normalised_keys]
    return max(balls, key=balls.count) if balls else None


def mean_with_interval(study, setting, column, transform=lambda x: x):
    values = transform(setting.column(column).astype(np.float64))
    if values.size == 0:
        return "–"
    replicate = [values[i].mean() for i in study.resamples(values.size)]
    return interval_text(float(values.mean()), percentile_interval(replicate), 3)


def strongest_at(study, model, keys):
    """The setting of `keys` with the lowest robust accuracy on `model`, or None."""
    found = [study.setting(model, k) for k in keys if study.setting(model, k)]
    return min(found, key=lambda s: s.headline()[schema.ROBUST_ACCURACY]) if found else None


def model_table(report, study):
    """One row per model: what a reviewer reads first."""
    where = main_ball(study)
    if where is None:
        return
    # The most converged metric setting of the ball: the largest budget (steps × restarts).
    budget = lambda k: int(study.first(k).settings.get("steps", 0)) * int(study.first(k).settings.get("restarts", 1))
    psi_key = max((k for k in study.normalised_keys if ball(study.first(k).settings) == where), key=budget)
    at_ball = [k for k in study.attack_keys if ball(study.first(k).settings) == where]
    pgd_keys = [k for k in at_ball if study.first(k).family == REFERENCE_FAMILY]
    # The strongest at this ball: its ensembles, else every attack run there.
    strongest_keys = [k for k in at_ball if study.first(k).family == ENSEMBLE] or at_ball
    certify_keys = [k for k in study.keys_of_family(CERTIFY) if ball(study.first(k).settings) == where]
    flagged = OrderedDict()
    for alarm in study.results.alarms:
        flagged.setdefault(alarm[schema.MODEL], []).append(alarm[schema.CHECK])
    rows = []
    for model in study.models:
        psi, pgd = study.setting(model, psi_key), strongest_at(study, model, pgd_keys)
        ref = strongest_at(study, model, strongest_keys)
        certified = [study.setting(model, k).headline()[schema.CERTIFIED_ACCURACY] for k in certify_keys
                     if study.setting(model, k)]
        clean = next((s.headline()[schema.CLEAN_ACCURACY] for s in (psi, pgd, ref) if s is not None), float("nan"))
        broken = lambda x: 1 - x
        rows.append([model, fmt(clean, 3), mean_with_interval(study, psi, schema.PSI) if psi else "–",
                     mean_with_interval(study, pgd, schema.BROKEN, broken) if pgd else "–",
                     mean_with_interval(study, ref, schema.BROKEN, broken) if ref else "–",
                     fmt(max(certified), 3) if certified else "–", ", ".join(sorted(set(flagged.get(model, [])))) or
                     "none"])
    report.add(f"## The models at a glance ({where[0]} ε = {where[1]:g})\n")
    report.add(f"ψ: {study.labels[psi_key]}; PGD: the strongest PGD/BIM setting at this ball; strongest: the "
               f"lowest robust accuracy of {'the ensembles' if strongest_keys != at_ball else 'every attack'} at this "
               "ball, per model; certified: the best certified accuracy at this ball. Intervals: 95% bootstrap over "
               "the test images.\n")
    report.table("models", ["model", "clean accuracy", "ψ (mean)", "PGD robust accuracy",
                            "strongest robust accuracy", "certified accuracy", "alarms"], rows)


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
    samples = study.first(study.scored_keys[0]).samples if study.scored_keys else 0
    report.add("## Robust accuracy and the metric per model\n")
    report.add("Robust accuracy under each attack setting (higher is more robust) and the mean of ψ (lower is more "
               f"robust) on {samples} test samples.\n")
    report.table("headline", header, rows)


def alarms(report, study):
    """The gradient-masking alarms merge stored (docs/alarms.md); returns the verdict line."""
    stored = study.results.alarms
    report.add("## Gradient-masking alarms\n")
    report.add("Per-sample and per-setting checks of the stored numbers for attacks that were misled rather than "
               "models that are robust (docs/alarms.md). Each alarm names what was seen.\n")
    pending = study.results.pending
    if pending:
        many = len(pending) > 1
        report.add(f"{len(pending)} setting{'s are' if many else ' is'} incomplete (tasks not yet computed) and "
                   f"{'were' if many else 'was'} **not checked**:\n")
        for line in pending:
            report.add(f"- `{line}`")
        report.add("")
    unchecked = f"{len(pending)} incomplete setting{'s' if len(pending) > 1 else ''} unchecked" if pending else ""
    if not stored:
        report.add("No alarm: no check found a symptom (a check with nothing to compare stays silent).\n")
        return "5. Gradient masking: no alarm" + (f" among the complete settings; {unchecked}." if pending else ".")
    counts = OrderedDict()
    for a in stored:
        counts.setdefault((a[schema.MODEL], a[schema.CHECK]), []).append(a)
    report.add("\n".join(f"- **{model}**, {check}: {len(found)} alarm{'s' if len(found) > 1 else ''}; e.g. "
                         f"{found[0][schema.EVIDENCE]}" for (model, check), found in counts.items()) + "\n")
    report.table("alarms", ["model", "check", "evidence"],
                 [[a[schema.MODEL], a[schema.CHECK], a[schema.EVIDENCE]] for a in stored], inline=len(stored) <= 12)
    flagged = list(OrderedDict.fromkeys(a[schema.MODEL] for a in stored))
    checks = {m: sorted({a[schema.CHECK] for a in stored if a[schema.MODEL] == m}) for m in flagged}
    return ("5. Gradient masking: flagged " + "; ".join(f"**{m}** ({', '.join(checks[m])})" for m in flagged) +
            (f" ({unchecked})" if pending else "") + ". The settings each alarm names were misled on that model: their numbers are not evidence "
            "of its robustness.")


def checks(report, study):
    """Defended models against a natural model of the same architecture; returns the verdict line."""
    natural, defended = study.baseline_and_defended()
    if not natural or not defended:
        return None
    report.add("## Checks: defended models against a natural one of the same architecture\n")
    report.add("From the models' training recipes and architectures. The paper expects a defended model to have a "
               "smaller ψ (normalised) at every ε and its decision boundary farther along the adversarial direction.\n")
    describe = study.results.description
    landscape_keys = [k for k in study.keys if study.first(k).landscapes]
    rows, held, total = [], 0, 0
    for model in defended:
        base = next((n for n in natural if describe(n) == describe(model)), None)
        if base is None:
            continue
        smaller = [study.headline_value(model, k) < study.headline_value(base, k) for k in study.normalised_keys
                   if study.setting(base, k) and study.setting(model, k)]
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
