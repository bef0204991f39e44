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


# ---------------------------------------------------------------- many rankings at once, and the bootstrap


def kendall_tau_b_matrix(a, b):
    """Kendall's tau-b between every row of `a` [S, M] and every row of `b` [T, M]: [S, T] (nan where a row
    has every entry tied). Equal to kendall_tau_b on each pair of rows."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    first, second = np.triu_indices(a.shape[1], k=1)
    sign_a = np.sign(a[:, first] - a[:, second])
    sign_b = np.sign(b[:, first] - b[:, second])
    numerator = sign_a @ sign_b.T                             # C − D (pairs tied in either add 0)
    untied_a, untied_b = np.abs(sign_a).sum(1), np.abs(sign_b).sum(1)  # C + D + ties only in the other
    denominator = np.sqrt(np.outer(untied_a, untied_b))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def spearman_rho_matrix(a, b):
    """Spearman's rho (Pearson on average ranks) between every row of `a` and every row of `b`."""
    ra = np.array([ranks(row) for row in np.asarray(a, dtype=float)])
    rb = np.array([ranks(row) for row in np.asarray(b, dtype=float)])
    ra, rb = ra - ra.mean(1, keepdims=True), rb - rb.mean(1, keepdims=True)
    norm = np.outer(np.sqrt((ra ** 2).sum(1)), np.sqrt((rb ** 2).sum(1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (ra @ rb.T) / np.where(norm > 0, norm, 1), np.nan)


def mean_over_pairs(matrix, rows, columns=None):
    """The mean of matrix[i, j] over pairs i < j of `rows` (or over rows × columns), nan left out; and the
    number of pairs that count."""
    if columns is None:
        values = [matrix[i, j] for n, i in enumerate(rows) for j in rows[n + 1:]]
    else:
        values = [matrix[i, j] for i in rows for j in columns if i != j]
    values = np.array([v for v in values if not math.isnan(v)])
    return (float(values.mean()), len(values)) if values.size else (float("nan"), 0)


def percentile_interval(values, level=0.95):
    """The central `level` interval of the replicate values (nan ones left out), by linear interpolation
    between order statistics (numpy's default quantile)."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2
    return float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail))


def bootstrap_indices(count, replicates, seed):
    """[replicates, count] indices drawn with replacement: the resampled test images of each replicate."""
    return np.random.default_rng(seed).integers(0, count, size=(replicates, count))


def bootstrap(statistic, count, replicates=1000, seed=2019, level=0.95):
    """The percentile bootstrap: `statistic(indices)` on every replicate's resampled images; returns the
    replicate values and their central interval. Every statistic of one report uses the same seed, so the
    same replicates."""
    values = np.array([statistic(indices) for indices in bootstrap_indices(count, replicates, seed)],
                      dtype=float)
    return values, percentile_interval(values, level)


def interval_text(estimate, interval, digits=2):
    low, high = interval
    if math.isnan(estimate):
        return "–"
    return f"{estimate:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
