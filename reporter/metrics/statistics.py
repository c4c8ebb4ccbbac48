"""The statistics of the control group and of A/B tests.

Normal tails come from the standard library (`statistics.NormalDist`); the
beta and chi-square functions from `scipy.special`, imported only for A/B
tests (the routines `scipy.stats` calls, without its 0.4 s import, which every
`reporter stats` would otherwise pay).
"""

from __future__ import annotations

import math
from statistics import NormalDist

STANDARD_NORMAL = NormalDist()
Z95 = STANDARD_NORMAL.inv_cdf(0.975)  # 1.959963984540054


def rate(numerator: float, denominator: float) -> float | None:
    """A percentage; undefined (None) when the denominator is zero."""
    return 100.0 * numerator / denominator if denominator else None


def two_proportion_p_value(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided pooled two-proportion z-test; None when a group is empty."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return 1.0  # both proportions are 0 or both are 1: no difference at all
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return 2 * STANDARD_NORMAL.cdf(-abs(z))


def wald_interval(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float, float] | None:
    """Difference p1 - p2 in percentage points with its unpooled 95% Wald interval."""
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    diff = p1 - p2
    return 100 * diff, 100 * (diff - Z95 * se), 100 * (diff + Z95 * se)


def holm(p_values: list[float | None], alpha: float = 0.05) -> list[bool]:
    """Holm-Bonferroni: which hypotheses are rejected at family-wise level alpha."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(indexed)
    rejected = [False] * len(p_values)
    for rank, (p, i) in enumerate(indexed):
        if p * (m - rank) >= alpha:
            break  # this one and every larger p-value are kept
        rejected[i] = True
    return rejected


def probability_best(successes: list[int], trials: list[int], points: int = 1_001) -> list[float | None]:
    """P(each rate is the highest) under independent Beta(1+x, 1+n-x) posteriors; None for an arm with no users.

    Numerical integration of f_i(p) * prod_{j != i} F_j(p) on a grid made of a
    fine segment across each posterior's mass (1e-12 to 1 - 1e-12 quantiles)
    plus one across them all: a posterior of 10^9 users, a few millionths
    wide, gets as many points as one of 50 users. Deterministic.
    """
    import numpy as np
    from scipy import special

    arms = [i for i, n in enumerate(trials) if n > 0]
    out: list[float | None] = [None] * len(trials)
    if len(arms) == 1:
        out[arms[0]] = 1.0
    if len(arms) <= 1:
        return out
    a = np.array([1 + successes[i] for i in arms], dtype=float)
    b = np.array([1 + trials[i] - successes[i] for i in arms], dtype=float)
    lows = special.betaincinv(a, b, 1e-12)
    highs = special.betaincinv(a, b, 1 - 1e-12)
    segments = [np.linspace(lo, hi, points) for lo, hi in zip(lows, highs, strict=True)]
    segments.append(np.linspace(float(lows.min()), float(highs.max()), points))
    grid = np.unique(np.clip(np.concatenate(segments), 0.0, 1.0))[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pdf = (a - 1) * np.log(grid) + (b - 1) * np.log1p(-grid) - special.betaln(a, b)
    pdf = np.nan_to_num(np.exp(log_pdf))
    cdf = special.betainc(a, b, grid)
    k = len(arms)
    mass = np.empty(k)
    for i in range(k):
        others = np.prod(np.delete(cdf, i, axis=1), axis=1)
        mass[i] = np.trapezoid(pdf[:, i] * others, grid[:, 0])
    mass = np.clip(np.nan_to_num(mass), 0.0, None)
    shares = mass / mass.sum() if mass.sum() > 0 else np.full(k, 1.0 / k)
    for i, share in zip(arms, shares, strict=True):
        out[i] = float(share)
    return out


def sample_ratio_p_value(observed: list[int], shares: list[float]) -> float | None:
    """Chi-square goodness of fit of observed counts against expected shares; None without data."""
    total = sum(observed)
    share_sum = sum(shares)
    if total == 0 or share_sum <= 0 or len(observed) < 2:
        return None
    expected = [total * s / share_sum for s in shares]
    if any(e == 0 for e in expected):
        # A variant meant to get nothing that got users is a broken split.
        return 0.0 if any(o > 0 for o, e in zip(observed, expected, strict=True) if e == 0) else None
    from scipy import special

    chi2 = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    return float(special.chdtrc(len(observed) - 1, chi2))


def wilson_interval(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float] | None:
    """The 95% Wilson score interval of a rate, in percent; None without trials."""
    if trials <= 0:
        return None
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return 100 * max(0.0, centre - half), 100 * min(1.0, centre + half)
