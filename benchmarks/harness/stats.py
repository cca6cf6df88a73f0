"""Statistics over seeds: means with intervals, tests against a baseline, bootstrap intervals."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence

import numpy as np

mean = statistics.fmean


def sd(values: Sequence[float]) -> float:
    """The sample standard deviation (NaN with one value)."""
    return statistics.stdev(values) if len(values) > 1 else math.nan


def interval95(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% t-interval (0 with one value)."""
    from scipy import stats

    m = mean(values)
    if len(values) < 2:
        return m, 0.0
    return m, float(stats.t.ppf(0.975, len(values) - 1)) * statistics.stdev(values) / math.sqrt(len(values))


def welch(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided p-value of Welch's t-test; ``None`` with fewer than 2 values a side (no test possible)."""
    from scipy import stats

    if len(a) < 2 or len(b) < 2:
        return None
    if statistics.pvariance(a) == 0 and statistics.pvariance(b) == 0:  # t undefined: equal or surely different
        return 1.0 if mean(a) == mean(b) else 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def holm(pvalues: dict[str, float]) -> dict[str, float]:
    """Holm-adjusted p-values (family-wise error control over the given tests)."""
    order = sorted(pvalues, key=pvalues.__getitem__)
    adjusted, running = {}, 0.0
    for rank, key in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * pvalues[key]))
        adjusted[key] = running
    return adjusted


def against_baseline(
    values: dict[str, Sequence[float]], baseline: str
) -> tuple[dict[str, float | None], dict[str, float]]:
    """Welch's p-value of each other arm against ``baseline`` (``None``: not testable), and their Holm adjustment."""
    p = {arm: welch(v, values[baseline]) for arm, v in values.items() if arm != baseline}
    return p, holm({arm: q for arm, q in p.items() if q is not None})


def bootstrap_ratio(a: Sequence[float], b: Sequence[float], seed: int = 0, n: int = 10_000) -> tuple[float, float]:
    """95% percentile-bootstrap interval of mean(a) / mean(b), resampling seeds within each arm."""
    rng = np.random.default_rng(seed)
    ra = rng.choice(np.asarray(a, dtype=float), size=(n, len(a))).mean(axis=1)
    rb = rng.choice(np.asarray(b, dtype=float), size=(n, len(b))).mean(axis=1)
    lo, hi = np.percentile(ra / rb, [2.5, 97.5])
    return float(lo), float(hi)


def bootstrap_median(values: Sequence[float], n: int = 2000) -> list[float]:
    """95% bootstrap interval of the median (values resampled with replacement)."""
    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(n))
    return [medians[int(0.025 * n)], medians[int(0.975 * n) - 1]]
