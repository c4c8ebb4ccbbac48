"""The statistics of the A/B comparisons: Holm's step-down and the probability of being best against quadrature."""

from __future__ import annotations

from itertools import pairwise

import pytest

from reporter.metrics.statistics import chi_square_tail, holm, probability_best


def test_holm_matches_its_definition() -> None:
    assert holm([0.01, 0.04, 0.03]) == [True, False, False]  # 0.01 * 3 < .05; 0.03 * 2 > .05
    assert holm([0.01, 0.02, 0.04]) == [True, True, True]  # 0.03, 0.04, 0.04
    assert holm([None, 0.01]) == [False, True]


def _reference_best(xs: list[int], ns: list[int]) -> list[float]:
    """P(best) by adaptive quadrature between each posterior's quantiles (scipy.integrate)."""
    from scipy import integrate, stats

    posts = [stats.beta(1 + x, 1 + n - x) for x, n in zip(xs, ns, strict=True)]
    edges = sorted({float(q) for p in posts for q in p.ppf([1e-13, 0.001, 0.5, 0.999, 1 - 1e-13])})
    out = []
    for i, post in enumerate(posts):

        def f(t: float, i: int = i, post: object = post) -> float:
            value = post.pdf(t)  # type: ignore[attr-defined]
            for j, other in enumerate(posts):
                if j != i:
                    value *= other.cdf(t)
            return value

        out.append(sum(integrate.quad(f, lo, hi, limit=200, epsabs=1e-12)[0] for lo, hi in pairwise(edges)))
    total = sum(out)
    return [v / total for v in out]


@pytest.mark.parametrize(
    ("xs", "ns"),
    [
        ([50_000_000, 50_001_000, 3], [10**9, 10**9, 50]),  # version 1 missed this by 0.007
        ([20, 26, 24], [400, 400, 400]),
        ([1, 0], [1, 1]),
        ([5, 7, 6, 9, 4], [100, 100, 100, 100, 100]),
    ],
)
def test_probability_best_within_half_a_point(xs: list[int], ns: list[int]) -> None:
    assert probability_best(xs, ns) == pytest.approx(_reference_best(xs, ns), abs=0.005)


def test_probability_best_is_null_for_an_arm_without_users() -> None:
    got = probability_best([3, 0, 5], [100, 0, 100])
    assert got[1] is None and got[0] + got[2] == pytest.approx(1.0)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("xs", "ns"),
    [
        ([50_000_000, 50_001_000, 3], [10**9, 10**9, 50]),
        ([10**6, 10**6 - 1], [10**6, 10**6]),  # every user converted but one: a posterior against p = 1
        ([0, 0, 1], [10**7, 50, 10**9]),  # none converted: against p = 0, one arm a thousandth as wide
        ([12, 3], [100_000, 1_000]),
    ],
)
def test_probability_best_agrees_with_quadrature_to_a_few_millionths(xs: list[int], ns: list[int]) -> None:
    # The beta functions are NumPy's trapezoid sums on the grid (no SciPy at run time): as close as SciPy's were.
    assert probability_best(xs, ns) == pytest.approx(_reference_best(xs, ns), abs=5e-6)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7, 12, 25])
@pytest.mark.parametrize("x", [0.0, 1e-9, 0.3, 3.84, 11.07, 60.0, 900.0, 1e7])
def test_chi_square_tail_is_scipys(df: int, x: float) -> None:
    from scipy import special

    assert chi_square_tail(df, x) == pytest.approx(float(special.chdtrc(df, x)), rel=1e-12, abs=1e-300)


def test_probability_best_takes_a_rate_above_one_at_one() -> None:
    # A period's converted users can outnumber its users sent to (conversions look back to earlier sends).
    # Beta(2, 1) against Beta(1, 4): P(first is best) = 1 - integral of 2p (1 - p)^4 = 1 - 1/15.
    assert probability_best([5, 0], [1, 3]) == pytest.approx([14 / 15, 1 / 15], abs=1e-6)


def test_probability_best_of_many_arms_keeps_its_memory() -> None:
    # The grid has a segment per arm, and each arm a column over it: fewer points a segment for more arms.
    import tracemalloc

    tracemalloc.start()
    try:
        shares = probability_best([1_000 + 10 * i for i in range(30)], [100_000] * 30)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(s for s in shares if s is not None) == pytest.approx(1.0)
    assert shares[-1] == max(s for s in shares if s is not None)
    assert peak < 48e6  # 272 MB with 4,001 points a segment and every product held at once
