"""The statistics of the control group and of A/B tests.

Normal tails come from the standard library (`statistics.NormalDist`), the
chi-square tail of the sample-ratio check from its closed form for whole
degrees of freedom, and the beta posteriors of "probability to be best" are
integrated numerically with NumPy (their distribution functions included): no
SciPy, whose special functions alone cost a report 12 MB and 0.1 s to import.
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


def probability_best(successes: list[int], trials: list[int], points: int | None = None) -> list[float | None]:
    """P(each rate is the highest) under independent Beta(1+x, 1+n-x) posteriors; None for an arm with no users.

    x is taken at most n: a period's converted users may outnumber the users sent to in it (conversions look
    back one window, to sends before the period), and a rate of more than 100% has no beta posterior.

    Numerical integration of f_i(p) * prod_{j != i} F_j(p) on a grid made of a
    fine segment across each posterior's bulk (where its density is within
    e^-28 of its peak: all but about 1e-12 of its mass) plus one across them
    all: a posterior of 10^9 users, a few millionths wide, gets as many points
    as one of 50 users. Each F_j is the running trapezoid sum of f_j on the
    same grid; with 4,001 points a segment (up to four arms; fewer for more,
    at least 1,001, so that the grid times the arms stays under 16,000
    points a segment) the shares are within 3e-6 of adaptive quadrature with
    SciPy's beta functions (tests/metrics/test_statistics.py). Deterministic.
    """
    import numpy as np

    arms = [i for i, n in enumerate(trials) if n > 0]
    out: list[float | None] = [None] * len(trials)
    if len(arms) == 1:
        out[arms[0]] = 1.0
    if len(arms) <= 1:
        return out
    hits = [min(max(successes[i], 0), trials[i]) for i in arms]
    a = np.array([1 + x for x in hits], dtype=float)
    b = np.array([1 + trials[i] - x for i, x in zip(arms, hits, strict=True)], dtype=float)
    points = points or max(1_001, min(4_001, 16_000 // len(arms)))
    bulks = [_beta_bulk(float(ai), float(bi)) for ai, bi in zip(a, b, strict=True)]
    segments = [np.linspace(lo, hi, points) for lo, hi in bulks]
    segments.append(np.linspace(min(lo for lo, _ in bulks), max(hi for _, hi in bulks), points))
    grid = np.unique(np.concatenate(segments))[:, None]
    log_beta = np.array([math.lgamma(ai) + math.lgamma(bi) - math.lgamma(ai + bi) for ai, bi in zip(a, b, strict=True)])
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        pdf = (a - 1) * np.log(grid)  # the log densities, then the densities in place: three grids in all
        pdf += (b - 1) * np.log1p(-grid)
        pdf -= log_beta
        np.exp(pdf, out=pdf)
    np.nan_to_num(pdf, copy=False)
    widths = np.diff(grid[:, 0])
    cdf = np.zeros_like(pdf)
    np.cumsum((pdf[1:] + pdf[:-1]) * (widths[:, None] / 2), axis=0, out=cdf[1:])
    cdf /= np.where(cdf[-1] > 0, cdf[-1], 1.0)
    k = len(arms)
    # prod_{j != i} F_j: the product of the arms after i (all at once), times that of those before (running).
    after = np.ones_like(cdf)
    if k > 1:
        np.cumprod(cdf[:, :0:-1], axis=1, out=after[:, -2::-1])
    before = np.ones(len(grid))
    mass = np.empty(k)
    for i in range(k):
        mass[i] = np.trapezoid(pdf[:, i] * before * after[:, i], grid[:, 0])
        before *= cdf[:, i]
    mass = np.clip(np.nan_to_num(mass), 0.0, None)
    shares = mass / mass.sum() if mass.sum() > 0 else np.full(k, 1.0 / k)
    for i, share in zip(arms, shares, strict=True):
        out[i] = float(share)
    return out


BULK_DROP = 28.0  # the bulk's edges: the log density this far below its peak


def _beta_bulk(a: float, b: float) -> tuple[float, float]:
    """The interval of Beta(a, b), a, b >= 1, where the density is within e^-BULK_DROP of its peak.

    The density is log-concave, so the interval is one piece around the mode;
    its edges are found by bisection (an edge at 0 or 1 stays just inside).
    """
    if a == 1 and b == 1:
        return _BOTTOM, _TOP

    def log_density(p: float) -> float:
        return (a - 1) * math.log(p) + (b - 1) * math.log1p(-p)

    mode = (a - 1) / (a + b - 2)
    mode = min(max(mode, _BOTTOM), _TOP)
    floor = log_density(mode) - BULK_DROP

    def edge(inside: float, outside: float) -> float:
        if log_density(outside) >= floor:
            return outside
        for _ in range(200):
            middle = (inside + outside) / 2
            if middle in (inside, outside):
                break
            if log_density(middle) >= floor:
                inside = middle
            else:
                outside = middle
        return inside

    return edge(mode, _BOTTOM), edge(mode, _TOP)


_BOTTOM, _TOP = 1e-300, math.nextafter(1.0, 0.0)  # the grid's widest bounds: log(0) and log1p(-1) are -inf


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
    chi2 = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    return chi_square_tail(len(observed) - 1, chi2)


def chi_square_tail(df: int, x: float) -> float:
    """P(X >= x) for X chi-square with `df` (a whole number >= 1) degrees of freedom.

    The closed form of the regularised upper incomplete gamma Q(df/2, x/2):
    e^(-x/2) * sum_{i < df/2} (x/2)^i / i! for even df, and erfc(sqrt(x/2)) plus
    e^(-x/2) * sum_{i < (df-1)/2} (x/2)^(i+1/2) / Gamma(i+3/2) for odd df.
    """
    if x <= 0:
        return 1.0
    half = x / 2
    log_half = math.log(half)
    if df % 2 == 0:  # each term in logs: e^-half underflows and half^i overflows for a large statistic
        total = sum(math.exp(i * log_half - half - math.lgamma(i + 1)) for i in range(df // 2))
    else:
        total = math.erfc(math.sqrt(half)) + sum(
            math.exp((i + 0.5) * log_half - half - math.lgamma(i + 1.5)) for i in range((df - 1) // 2)
        )
    return min(1.0, total)


def wilson_interval(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float] | None:
    """The 95% Wilson score interval of a rate, in percent; None without trials."""
    if trials <= 0:
        return None
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return 100 * max(0.0, centre - half), 100 * min(1.0, centre + half)
