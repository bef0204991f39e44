#!/usr/bin/env python3
"""The rank statistics of the report (scripts/robustscope/stats.py) against hand-computed values and textbook
formulas."""
import itertools
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
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


if __name__ == "__main__":
    unittest.main()
