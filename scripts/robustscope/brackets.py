"""The report's brackets: certified bounds against what the attacks and the ascent found, per (model, ball),
in aggregate and sample by sample."""
import math

import numpy as np

from . import schema
from .study import CERTIFY, ball, fmt

DETAIL_ROWS = 20  # a longer table is summarised by the verdict line, its rows in the CSV
MATCHING = ("epsilon", "norm", "normalization", "divergence")  # what a metric and a certify setting share


def by_sample(setting, column):
    """A per-sample column of a setting as {sample id: value}."""
    return dict(zip(setting.column(schema.SAMPLE_IDS).tolist(), setting.column(column).tolist()))


def same_ball_attacks(study, model, where):
    return [study.setting(model, k) for k in study.attack_keys
            if study.setting(model, k) and ball(study.setting(model, k).settings) == where]


def matching_metrics(study, model, settings):
    return [study.setting(model, k) for k in study.metric_keys if study.setting(model, k) and
            all(str(study.setting(model, k).settings.get(name)) == str(settings[name]) for name in MATCHING)]


def bracket_checks(study, setting):
    """Per sample, for one certify setting: (certified samples some attack broke, samples checked against an
    attack), (samples whose certified ψ is below the best ascent's ψ, samples with an ascent to compare)."""
    certified = by_sample(setting, schema.CERTIFIED)
    broken, attacked = set(), set()
    for attack in same_ball_attacks(study, setting.model, ball(setting.settings)):
        for sample, was_broken in by_sample(attack, schema.BROKEN).items():
            attacked.add(sample)
            if was_broken:
                broken.add(sample)
    upper = by_sample(setting, schema.PSI_UPPER)
    best = {}
    for metric in matching_metrics(study, setting.model, setting.settings):
        for sample, psi in by_sample(metric, schema.PSI).items():
            best[sample] = max(psi, best.get(sample, -math.inf))
    certified_broken = sum(1 for sample, c in certified.items() if c and sample in broken)
    below = sum(1 for sample, psi in best.items() if sample in upper and upper[sample] < psi * (1 - 1e-5) - 1e-7)
    return (certified_broken, len(attacked & set(certified))), (below, len(set(best) & set(upper)))


def bracket_row(study, key, setting):
    """(table row, certified accuracy, lowest attack accuracy or None) of one certify setting."""
    attacks = [a.headline()[schema.ROBUST_ACCURACY] for a in same_ball_attacks(study, setting.model,
                                                                               ball(setting.settings))]
    found = [float(np.median(m.column(schema.PSI))) for m in matching_metrics(study, setting.model, setting.settings)]
    upper = setting.column(schema.PSI_UPPER).astype(np.float64)
    finite = upper[np.isfinite(upper)]
    certified = setting.headline()[schema.CERTIFIED_ACCURACY]
    row = [setting.model, study.labels[key], fmt(certified), fmt(min(attacks)) if attacks else "–",
           fmt(max(found)) if found else "–", fmt(float(np.median(upper))) if upper.size else "–",
           fmt(finite.size / upper.size if upper.size else float("nan"), 2)]
    return row, certified, (min(attacks) if attacks else None)


def brackets(report, study):
    """Certified bounds against what the attacks and the ascent found: both estimates bracketed."""
    certify_keys = study.keys_of_family(CERTIFY)
    if not certify_keys:
        return None
    report.add("## Brackets: what was found against what is certified\n")
    report.add("Per model and ball: robust accuracy lies between the certified accuracy (below) and the lowest "
               "robust accuracy any attack reached (above); ψ lies between the ascent's (below) and the certified "
               "bound (above). A narrow bracket means the attacks and the ascent are close to the truth; ψ "
               "columns are medians over samples (the largest ψ any ascent setting found for the ball); the last "
               "column is the share of samples whose bound is finite. docs/metric.md derives the bound. "
               "The bracket is also checked sample by sample: no certified sample may have been broken by an "
               "attack in the same ball, and no sample's certified ψ may lie below what an ascent found.\n")
    rows, pairs = [], {}
    broken = attacked = below = compared = 0
    for key in certify_keys:
        for setting in study.by_key[key]:
            row, certified, lowest = bracket_row(study, key, setting)
            rows.append(row)
            # Certified accuracy does not depend on the normalisation: one (model, ball, method), counted once.
            pairs.setdefault((setting.model, ball(setting.settings), setting.settings.get("method")),
                             (certified, lowest))
            (b, a), (w, c) = bracket_checks(study, setting)
            broken, attacked, below, compared = broken + b, attacked + a, below + w, compared + c
    report.table("brackets", ["model", "ball", "certified accuracy", "lowest robust accuracy", "ψ found (median)",
                              "ψ certified (median)", "finite share"], rows, inline=len(rows) <= DETAIL_ROWS)
    sound = sum(1 for certified, lowest in pairs.values() if lowest is None or certified <= lowest)
    nontrivial = sum(1 for certified, _ in pairs.values() if certified > 0)
    best = max(rows, key=lambda r: float(r[2]))
    return (f"4. Brackets: {len(pairs)} (model, ball, method) pairs, {nontrivial} with a non-zero certified accuracy; "
            f"in {sound} of {len(pairs)} the certified accuracy is at most the lowest robust accuracy an attack "
            f"reached{'' if sound == len(pairs) else ' (a bound is NOT sound: report it)'}. Per sample: "
            f"{broken} certified samples broken by an attack (of {attacked} checked) and {below} certified ψ "
            f"below an ascent's (of {compared} compared){'' if broken + below == 0 else ': a bound is NOT sound'}; "
            f"the highest certified accuracy is {best[0]}'s {best[2]} ({best[1]}).")
