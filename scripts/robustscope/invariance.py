"""Section 2 of the report: is the metric invariant to reparameterisation? Every copy the spec made with
`reparameterize:` against the model it was made from (the results file names it), each change with the
bootstrap interval of the change (the same resampled images for both models)."""
from .convergence import seed_spreads
from .stats import percentile_interval
from .study import fmt

BOUND_PERCENT = 5  # the normalised ψ's change that still counts as invariant
DETAIL_ROWS = 20  # a longer table is summarised by the lines above it, its rows in the CSV


def setting_change(study, base, variant, key):
    """(point change, interval, text, group) of one setting between a copy and its base, or None."""
    b, v = study.setting(base, key), study.setting(variant, key)
    if b is None or v is None or b.samples != v.samples:
        return None
    before, after = study.headline_value(base, key), study.headline_value(variant, key)
    if b.is_metric:  # relative change of the mean ψ, in %
        xb, xv = (s.per_sample_scores() * -1 for s in (b, v))
        replicate = [(xv[i].mean() - xb[i].mean()) / xb[i].mean() * 100 if xb[i].mean() else float("nan")
                     for i in study.resamples(len(xb))]
        point = 100 * (after - before) / before if before else float("nan")
        group = "normalised" if key in study.normalised_keys else "raw"
        return point, percentile_interval(replicate), f"{point:+.1f}%", group, before, after
    # robust accuracy = mean of the per-sample scores: its change is the change of their means
    xb, xv = b.per_sample_scores(), v.per_sample_scores()
    replicate = [xv[i].mean() - xb[i].mean() for i in study.resamples(len(xb))]
    point = after - before
    return point, percentile_interval(replicate), f"{point:+.4f}", "attack", before, after


def state_of(intervals):
    """Holds when every normalised setting's interval lies within ±5%; fails when one lies wholly outside;
    otherwise the images cannot tell."""
    if all(-BOUND_PERCENT <= low and high <= BOUND_PERCENT for low, high in intervals):
        return "**holds**"
    if any(low > BOUND_PERCENT or high < -BOUND_PERCENT for low, high in intervals):
        return "**does NOT hold**"
    return f"**is not resolved** (an interval straddles ±{BOUND_PERCENT}%)"


def largest(changes, group, unit):
    if group not in changes:
        return "–"
    value, (low, high), where = max(changes[group], key=lambda c: c[0])
    return f"{value:.3g}{unit} (interval [{low:+.3g}, {high:+.3g}]{unit}, {where})"


def copy_changes(study, variant, base, name, rows, noise):
    """Adds the copy's table rows (with the base's seed spread of ψ, `noise`, next to ψ's changes); returns
    group → [(|change|, interval, label)]."""
    changes = {}
    for key in study.scored_keys:
        found = setting_change(study, base, variant, key)
        if found is None:
            continue
        point, (low, high), text, group, before, after = found
        spread = f"±{100 * noise:.2f}%" if noise is not None and group != "attack" else "–"
        rows.append([name, study.labels[key], fmt(before), fmt(after), f"{low:+.4g}", f"{high:+.4g}", text,
                     spread])
        changes.setdefault(group, []).append((abs(point), (low, high), study.labels[key]))
    return changes


def invariance(report, study):
    """Section 2; returns the verdict lines."""
    report.add("## 2. Is the metric invariant to reparameterisation?\n")
    results = study.results
    rows, verdicts = [], []
    noise = seed_spreads(study)
    for variant in study.models:
        base = results.base_of(variant)
        if not base or base not in study.models:
            continue
        what = ", ".join(f"{k}={v:g}" for k, v in results.reparameterization(variant).items() if v != 1)
        name = f"{variant} ({what}) vs {base}"
        changes = copy_changes(study, variant, base, name, rows, noise.get(base))
        if not changes:
            continue
        report.add(f"- **{name}**: normalised ψ changes by at most {largest(changes, 'normalised', '%')}; raw ψ by "
                   f"up to {largest(changes, 'raw', '%')}; robust accuracy by up to {largest(changes, 'attack', '')} "
                   "(absolute).")
        if "normalised" in changes:
            intervals = [interval for _, interval, _ in changes["normalised"]]
            # The setting whose interval reaches farthest from zero decides; name it.
            worst = max(changes["normalised"], key=lambda c: max(abs(c[1][0]), abs(c[1][1])))
            verdicts.append(f"{variant} ({what}): the normalised ψ's invariance {state_of(intervals)}: the widest "
                            f"interval is [{worst[1][0]:+.3g}, {worst[1][1]:+.3g}]% at {worst[2]} (change "
                            f"{worst[0]:.3g}%; bound ±{BOUND_PERCENT}%)")
    if not rows:
        report.add("The spec has no reparameterised models.\n")
        return []
    report.add("\nEach reparameterised model against its base checkpoint: robust accuracy (absolute change) and "
               "ψ (relative change, %), each with the 95% bootstrap interval of the change (the same resampled "
               "images for both models, and the same random starts: the seeds do not depend on the model). "
               "Last-layer scaling and ReLU rescaling keep every prediction; deploying the distilled model at its "
               "temperature is last-layer scaling by 1/T. The claim counts as holding for a model when every "
               f"normalised setting's interval lies within ±{BOUND_PERCENT}%, as failing when one lies wholly outside, "
               "and as not resolved otherwise. Where the spec runs a ψ setting under several seeds, the base's spread of "
               "mean ψ over them (the estimator's own noise) stands next to each ψ change.\n")
    report.table("invariance", ["model", "setting", "base", "variant", "interval low", "interval high", "change",
                                "ψ seed spread (base)"],
                 rows, inline=len(rows) <= DETAIL_ROWS)
    report.add("A prediction-preserving change that moves robust accuracy is a change in how well the attack's "
               "gradient works, not in the model's robustness (the alarm missed-on-equivalent-copy names such "
               "attacks); the normalised metric is the estimate meant to stay put (the raw one scales with the "
               "logits).\n")
    return verdicts
