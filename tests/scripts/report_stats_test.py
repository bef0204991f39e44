#!/usr/bin/env python3
"""The rank statistics of the report (scripts/robustscope/stats.py) against hand-computed values and textbook
formulas."""
import itertools
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from robustscope import results  # noqa: E402
from robustscope import schema  # noqa: E402
from robustscope import stats as report  # noqa: E402


class RankStatistics(unittest.TestCase):
    def test_kendall_tau_by_hand(self):
        self.assertAlmostEqual(report.kendall_tau_b([1, 2, 3, 4], [1, 2, 3, 4]), 1.0)
        self.assertAlmostEqual(report.kendall_tau_b([1, 2, 3, 4], [4, 3, 2, 1]), -1.0)
        # One swapped pair of six: (5 - 1) / 6.
        self.assertAlmostEqual(report.kendall_tau_b([1, 2, 3, 4], [1, 2, 4, 3]), 4 / 6)
        # tau-b with a tie in the first: pairs 5 untied in a, 6 in b; concordant 5 → 5 / sqrt(5·6).
        self.assertAlmostEqual(report.kendall_tau_b([1, 1, 2, 3], [1, 2, 3, 4]), 5 / (5 * 6) ** 0.5)

    def test_kendall_tau_counts_pairs_like_the_definition(self):
        generator = random.Random(4)
        for _ in range(50):
            a = [generator.random() for _ in range(7)]
            b = [generator.random() for _ in range(7)]
            pairs = list(itertools.combinations(range(7), 2))
            concordant = sum((a[i] - a[j]) * (b[i] - b[j]) > 0 for i, j in pairs)
            self.assertAlmostEqual(report.kendall_tau_b(a, b), (2 * concordant - len(pairs)) / len(pairs))

    def test_spearman_without_ties_is_the_textbook_formula(self):
        generator = random.Random(5)
        for _ in range(50):
            n = 8
            a = generator.sample(range(100), n)
            b = generator.sample(range(100), n)
            ra, rb = report.ranks(a), report.ranks(b)
            d2 = sum((x - y) ** 2 for x, y in zip(ra, rb))
            self.assertAlmostEqual(report.spearman_rho(a, b), 1 - 6 * d2 / (n * (n * n - 1)))

    def test_ties_share_the_average_rank(self):
        self.assertEqual(list(report.ranks([3.0, 1.0, 3.0, 2.0])), [3.5, 1.0, 3.5, 2.0])

    def test_rankings_show_ties_as_the_statistics_count_them(self):
        # Three models at 0.0 are tied, not a strict order (the table and tau must agree).
        names, scores = ["a", "b", "c", "d"], [0.0, 0.5, 0.0, 0.0]
        self.assertEqual(report.ranking_text(names, scores), "b > a = c = d")
        self.assertEqual(report.ranking_text(["x", "y"], [0.1, 0.2]), "y > x")


class ManyRankingsAndTheBootstrap(unittest.TestCase):
    def test_the_matrix_forms_equal_the_pairwise_functions_with_ties(self):
        generator = random.Random(6)
        rows = [[generator.choice([0.0, 0.25, 0.5, 1.0]) for _ in range(6)] for _ in range(9)]
        rows.append([0.5] * 6)  # every model tied: no ranking, tau and rho undefined
        tau = report.kendall_tau_b_matrix(rows, rows)
        rho = report.spearman_rho_matrix(rows, rows)
        for i, a in enumerate(rows):
            for j, b in enumerate(rows):
                expected_tau, expected_rho = report.kendall_tau_b(a, b), report.spearman_rho(a, b)
                if expected_tau != expected_tau:
                    self.assertTrue(tau[i][j] != tau[i][j], (i, j))
                else:
                    self.assertAlmostEqual(tau[i][j], expected_tau, places=12)
                if expected_rho != expected_rho:
                    self.assertTrue(rho[i][j] != rho[i][j], (i, j))
                else:
                    self.assertAlmostEqual(rho[i][j], expected_rho, places=12)

    def test_mean_over_pairs_by_hand(self):
        matrix = [[1, 0.5, 0.2], [0.5, 1, float("nan")], [0.2, float("nan"), 1]]
        import numpy as np
        matrix = np.array(matrix)
        self.assertEqual(report.mean_over_pairs(matrix, [0, 1, 2]), (0.35, 2))  # (0.5 + 0.2) / 2; nan out
        self.assertEqual(report.mean_over_pairs(matrix, [0], [1, 2]), (0.35, 2))
        self.assertEqual(report.mean_over_pairs(matrix, [1], [2])[1], 0)

    def test_percentile_interval_interpolates_the_order_statistics(self):
        # 0, 1, ..., 100: the 2.5% and 97.5% points are 2.5 and 97.5.
        low, high = report.percentile_interval(list(range(101)))
        self.assertAlmostEqual(low, 2.5, places=12)
        self.assertAlmostEqual(high, 97.5, places=12)
        # Five values: positions 0.1 and 3.9 of the sorted list [1, 2, 4, 8, 16] → 1.1 and 15.2.
        low, high = report.percentile_interval([16, 1, 8, 2, 4, float("nan")])
        self.assertAlmostEqual(low, 1.1)
        self.assertAlmostEqual(high, 15.2)

    def test_the_bootstrap_of_a_mean_of_two_images(self):
        # Resampling [0, 1] gives means 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4.
        values, (low, high) = report.bootstrap(lambda idx: [0.0, 1.0][idx[0]] / 2 + [0.0, 1.0][idx[1]] / 2,
                                               2, replicates=4000, seed=1)
        self.assertEqual(set(values), {0.0, 0.5, 1.0})
        self.assertAlmostEqual(float((values == 0.0).mean()), 0.25, delta=0.02)
        self.assertAlmostEqual(float((values == 0.5).mean()), 0.5, delta=0.02)
        self.assertEqual((low, high), (0.0, 1.0))

    def test_the_bootstrap_is_seeded_and_degenerate_when_every_image_agrees(self):
        import numpy as np
        scores = np.array([[1.0] * 50, [0.5] * 50, [0.0] * 50])  # three models, fifty images
        tau = lambda idx: report.kendall_tau_b_matrix(scores[:, idx].mean(1)[None], [[3, 2, 1]])[0, 0]
        values, interval = report.bootstrap(tau, 50, replicates=200, seed=3)
        self.assertEqual(interval, (1.0, 1.0))
        again, _ = report.bootstrap(lambda idx: float(idx.sum()), 50, replicates=20, seed=3)
        same, _ = report.bootstrap(lambda idx: float(idx.sum()), 50, replicates=20, seed=3)
        other, _ = report.bootstrap(lambda idx: float(idx.sum()), 50, replicates=20, seed=4)
        self.assertTrue((again == same).all())
        self.assertFalse((again == other).all())

    def test_interval_text(self):
        self.assertEqual(report.interval_text(0.5, (0.25, 0.75)), "0.50 [0.25, 0.75]")
        self.assertEqual(report.interval_text(float("nan"), (0, 1)), "–")


class CountingAttributes(dict):
    """Task attributes that count how often the first sample is read (the sort key)."""
    reads = 0

    def __getitem__(self, name):
        if name == schema.FIRST_SAMPLE:
            CountingAttributes.reads += 1
        return dict.__getitem__(self, name)


class FakeTask:
    def __init__(self, first):
        self.attrs = CountingAttributes({schema.FIRST_SAMPLE: first, schema.SAMPLE_COUNT: 1})
        self.settings = {}


class SettingOfManyShards(unittest.TestCase):
    def test_shards_come_in_sample_order_and_reading_them_is_linear(self):
        setting = results.Setting({schema.MODEL: "m", schema.KIND: "noop", schema.KEY: "noop()",
                                   schema.SETTING_KEY: "m|noop()", schema.LABEL: "no-op", schema.FAMILY: "noop",
                                   schema.HEADLINE_NAMES: ""})
        count = 20000
        CountingAttributes.reads = 0
        for first in reversed(range(count)):
            setting.add(FakeTask(first))
        self.assertEqual([t.attrs[schema.FIRST_SAMPLE] for t in setting.tasks[:3]], [0, 1, 2])
        self.assertEqual(setting.samples, count)
        # One sort of n keys (and the three read above), not a sort per added shard: n² / 2 reads.
        self.assertLessEqual(CountingAttributes.reads, count + 3)


class FakeSetting:
    def __init__(self, model, settings, columns):
        self.model, self.settings, self.columns = model, settings, columns

    def column(self, name):
        import numpy as np
        return np.array(self.columns[name])


class FakeStudy:
    def __init__(self, settings):
        self.by_model_key = settings
        self.attack_keys = [k for (_, k) in settings if k.startswith("attack")]
        self.metric_keys = [k for (_, k) in settings if k.startswith("metric")]

    def setting(self, model, key):
        return self.by_model_key.get((model, key))


class BracketsSampleBySample(unittest.TestCase):
    def test_a_certified_sample_that_an_attack_broke_and_a_bound_below_the_ascent_are_counted(self):
        from robustscope import brackets
        ball = {"epsilon": "0.1", "norm": "linf", "normalization": "none", "divergence": "kl"}
        certify = FakeSetting("m", dict(ball, method="crown"), {
            schema.SAMPLE_IDS: [0, 1, 2], schema.CERTIFIED: [1, 1, 0], schema.PSI_UPPER: [0.5, 0.2, 9.0]})
        attack = FakeSetting("m", {"epsilon": "0.1", "norm": "linf", "name": "pgd"}, {
            schema.SAMPLE_IDS: [0, 1, 2], schema.BROKEN: [0, 1, 1]})
        other_ball = FakeSetting("m", {"epsilon": "0.3", "norm": "linf", "name": "pgd"}, {
            schema.SAMPLE_IDS: [0, 1, 2], schema.BROKEN: [1, 1, 1]})
        metric = FakeSetting("m", dict(ball), {schema.SAMPLE_IDS: [0, 1, 2], schema.PSI: [0.4, 0.3, 1.0]})
        study = FakeStudy({("m", "attack-a"): attack, ("m", "attack-b"): other_ball, ("m", "metric-a"): metric})
        (broken, attacked), (below, compared) = brackets.bracket_checks(study, certify)
        # Sample 1 is certified yet broken at ε = 0.1 (the ε = 0.3 attack does not count); its bound 0.2
        # lies below the ascent's 0.3.
        self.assertEqual((broken, attacked), (1, 3))
        self.assertEqual((below, compared), (1, 3))


class PsiAsAnEstimator(unittest.TestCase):
    def test_the_gain_of_the_last_doubling_per_doubling(self):
        from robustscope.convergence import last_doubling_gain
        self.assertAlmostEqual(last_doubling_gain([(10, 1.0), (20, 1.02)]), 0.02)
        # Two doublings from 10 to 40 that gain 4.04% in all: 2% each; only the two largest budgets count.
        self.assertAlmostEqual(last_doubling_gain([(40, 1.0404), (5, 0.1), (10, 1.0)]), 0.02)
        self.assertTrue(last_doubling_gain([(10, 0.0), (20, 1.0)]) != last_doubling_gain([(10, 0.0), (20, 1.0)]))

    def test_budget_curves_and_seed_spreads_come_from_settings_equal_but_for_them(self):
        from robustscope import convergence
        metric = {"epsilon": "0.1", "norm": "linf", "normalization": "standardize"}
        settings = {"k10": dict(metric, steps=10, restarts=1, step_size=0.025),
                    "k20": dict(metric, steps=20, restarts=1, step_size=0.0125),
                    "k20-seed1": dict(metric, steps=20, restarts=1, step_size=0.0125, seed=1),
                    "k20-seed2": dict(metric, steps=20, restarts=1, step_size=0.0125, seed=2),
                    "other-ball": dict(metric, epsilon="0.3", steps=20, restarts=1, step_size=0.0375)}
        psi = {("a", "k10"): 1.0, ("a", "k20"): 1.1, ("a", "k20-seed1"): 1.0, ("a", "k20-seed2"): 1.2,
               ("a", "other-ball"): 5.0}

        class Study:
            models, metric_keys = ["a"], list(settings)
            labels = {k: k for k in settings}

            def first(self, key):
                return type("S", (), {"settings": settings[key]})()

            def setting(self, model, key):
                return self.first(key) if (model, key) in psi else None

            def headline_value(self, model, key):
                return psi[(model, key)]
        study = Study()
        budget_groups = convergence.groups(study, convergence.NOT_SHAPE, convergence.budget,
                                           keep=lambda s: "seed" not in s)
        self.assertEqual(budget_groups, [["k10", "k20"]])  # the seeded ones and the other ball stay out
        self.assertEqual(convergence.mean_psi_by_budget(study, "a", budget_groups[0]), [(10, 1.0), (20, 1.1)])
        # Seeds: derived (1.1), 1 (1.0), 2 (1.2): spread 0.2 around the mean 1.1.
        self.assertAlmostEqual(convergence.seed_spreads(study)["a"], 0.2 / 1.1)


if __name__ == "__main__":
    unittest.main()
