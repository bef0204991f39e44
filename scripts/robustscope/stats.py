"""Rank statistics and bootstrap intervals for the study report."""
import math

import numpy as np


def ranks(values):
    """Average ranks (1 = smallest), ties shared."""
    values = np.asarray(values, dtype=float)
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
    """Kendall's tau-b: (C − D) / sqrt((C + D + T_a)(C + D + T_b)), pairs tied in both left out."""
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
    """Pearson correlation of the average ranks."""
    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def ranking_text(names, scores):
    """Most robust first, tied models (equal scores) grouped with '='."""
    order = sorted(range(len(names)), key=lambda i: -scores[i])
    groups, previous = [], None
    for i in order:
        if previous is not None and scores[i] == scores[previous]:
            groups[-1].append(names[i])
        else:
            groups.append([names[i]])
        previous = i
    return " > ".join(" = ".join(group) for group in groups)
