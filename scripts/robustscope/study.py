"""The results arranged for the report: models, scored settings (labels, families and headline names as the
results file states them), their scores, and the bootstrap replicates every interval is computed on."""
import math
from collections import OrderedDict

import numpy as np

from . import schema
from .stats import bootstrap_indices, kendall_tau_b_matrix, spearman_rho_matrix

ENSEMBLE, CERTIFY, LANDSCAPE = "ensemble", "certify", "landscape"  # families of non-attack settings
REFERENCE_FAMILY = "white-box-reference"  # pgd, bim: the white-box attack a user runs first


def fmt(value, digits=4):
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return "inf" if value == float("inf") else "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


class Study:
    """Settings by procedure key, each with one Setting per model that has it."""

    def __init__(self, results, replicates=1000, seed=2019):
        self.results = results
        self.models = [m for m in results.model_order if any(k[0] == m for k in results.settings)]
        self.base_models = [m for m in self.models if results.is_base(m)]
        plan_order = list(OrderedDict.fromkeys(key for (_, key) in results.settings))
        self.by_key = {key: [results.settings[(m, key)] for m in self.models if (m, key) in results.settings]
                       for key in plan_order}
        # The metric's settings first, then those scored by robust accuracy, then the rest; each in plan order.
        group = lambda k: 0 if self.first(k).is_metric else 1 if self.first(k).is_attack else 2
        self.keys = sorted(plan_order, key=lambda k: (group(k), plan_order.index(k)))
        self.labels = {k: self.first(k).label for k in self.keys}
        self.scored_keys = [k for k in self.keys if group(k) < 2]
        self.metric_keys = [k for k in self.scored_keys if self.first(k).is_metric]
        self.normalised_keys = [k for k in self.metric_keys if self.first(k).settings["normalization"] != "none"]
        # Attacks at an L∞ ε of half the domain or more are the sanity check of docs/alarms.md (b): every
        # working attack leaves ~0 there, so they rank nothing and stay out of the rank statistics.
        self.sanity_keys = [k for k in self.scored_keys if self.first(k).is_attack
                            and self.first(k).settings.get("norm") == "linf"
                            and float(self.first(k).settings.get("epsilon", 0)) >= 0.5]
        self.attack_keys = [k for k in self.scored_keys if self.first(k).is_attack and k not in self.sanity_keys]
        self.replicates, self.seed = replicates, seed
        self._scores, self._resamples = {}, {}

    def first(self, key):
        """The setting of the first model that has it: what every model's setting of the key shares."""
        return self.by_key[key][0]

    def keys_of_family(self, family):
        return [k for k in self.keys if self.first(k).family == family]

    def setting(self, model, key):
        return self.results.settings.get((model, key))

    def score(self, model, key):
        """Higher = more robust: robust accuracy, or minus the mean of ψ."""
        setting = self.setting(model, key)
        if setting is None:
            return float("nan")
        headline = setting.headline()
        return -headline[schema.PSI_MEAN] if setting.is_metric else headline[schema.ROBUST_ACCURACY]

    def headline_value(self, model, key):
        setting = self.setting(model, key)
        if setting is None:
            return float("nan")
        headline = setting.headline()
        return headline[schema.PSI_MEAN] if setting.is_metric else headline[schema.ROBUST_ACCURACY]

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
        natural = [m for m in self.base_models if self.results.recipe(m) == "natural"]
        defended = [m for m in self.base_models if self.results.is_defended(m)]
        return natural, defended

    def strongest_reference(self):
        """The setting that stands for "the strongest attack": the ensemble (the one with the lowest mean
        robust accuracy if several), else the attack setting with the lowest."""
        ranked = self.ranked_keys()
        ensembles = [k for k in ranked if self.first(k).family == ENSEMBLE]
        candidates = ensembles or [k for k in ranked if self.first(k).is_attack]
        if not candidates:
            return None
        return min(candidates, key=lambda k: np.mean([self.score(m, k) for m in self.base_models]))


def ball(settings):
    """(norm, ε) of the ball a setting works in (the metric, attacks, ensemble members, transfers), or None."""
    for prefix in ("", "1.", "crafting."):
        if prefix + "epsilon" in settings:
            return str(settings.get(prefix + "norm", "linf")), float(settings[prefix + "epsilon"])
    return None
