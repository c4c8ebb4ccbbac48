"""A/B figures worked out by hand: variants, comparisons, Holm, winner, P(best), sample ratio."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine

from tests.metrics.helpers import campaign, ev, load, stats

Z95 = 1.959963984540054  # the 97.5 % quantile of the standard normal


def variants(*splits: float) -> list[dict[str, Any]]:
    return [{"variant": v, "name": f"Variant {v}", "split_pct": s} for v, s in zip("ABC", splits)]


def ab_events(cid: str, plan: dict[str, tuple[int, int]]) -> list[dict[str, Any]]:
    """For each variant, `sent` users each sent once, the first `converted` converting 1 h later."""
    events = []
    for variant, (sent, converted) in plan.items():
        for i in range(sent):
            user = f"{variant}{i}"
            events.append(ev(cid, user, "sent", 1, variant=variant))
            if i < converted:
                events.append(ev(cid, user, "conversion", 2, revenue="2.50"))
    return events


def z_test_p(x1: int, n1: int, x2: int, n2: int) -> float:
    pooled = (x1 + x2) / (n1 + n2)
    z = (x1 / n1 - x2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return math.erfc(abs(z) / math.sqrt(2))


def test_three_variants_one_wins(engine: Engine) -> None:
    load(engine, [campaign("ab", "ab", control=10, variants=variants(30, 30, 30))],
         ab_events("ab", {"A": (1000, 50), "B": (1000, 60), "C": (1000, 100)}))
    st = stats(engine, "ab")
    a, b, c = st.variants
    assert [(v.variant, v.baseline, v.sent_users, v.converted_users) for v in st.variants] == [
        ("A", True, 1000, 50), ("B", False, 1000, 60), ("C", False, 1000, 100),
    ]
    assert (a.conversion_rate, b.conversion_rate, c.conversion_rate) == pytest.approx((5.0, 6.0, 10.0))
    assert c.revenue == pytest.approx(250.0)
    assert a.vs_baseline is None
    # B: +1 pp, z = 0.01 / sqrt(.055 * .945 * .002) = 0.981, p = 0.327: not significant.
    assert b.vs_baseline.difference == pytest.approx(1.0)
    assert b.vs_baseline.p_value == pytest.approx(z_test_p(60, 1000, 50, 1000))
    assert b.vs_baseline.p_value == pytest.approx(0.3267, abs=1e-4)
    assert b.vs_baseline.significant is False
    # C: +5 pp, Wald interval 5 +- 1.96 * sqrt(.1*.9/1000 + .05*.95/1000) = [2.70, 7.30]; p = 2.2e-5.
    se = math.sqrt(0.1 * 0.9 / 1000 + 0.05 * 0.95 / 1000)
    assert c.vs_baseline.difference == pytest.approx(5.0)
    assert (c.vs_baseline.ci_low, c.vs_baseline.ci_high) == pytest.approx((5 - 100 * Z95 * se, 5 + 100 * Z95 * se))
    assert (c.vs_baseline.ci_low, c.vs_baseline.ci_high) == pytest.approx((2.7017, 7.2983), abs=1e-4)
    assert c.vs_baseline.p_value == pytest.approx(z_test_p(100, 1000, 50, 1000))
    # Holm: 2 * 2.2e-5 < 0.05 rejects C; B's 0.327 > 0.05 stays.
    assert c.vs_baseline.significant is True
    assert st.winner == "C"
    assert sum(v.probability_best for v in st.variants) == pytest.approx(1.0)
    assert c.probability_best > 0.999
    assert st.sample_ratio.p_value == pytest.approx(1.0) and st.sample_ratio.mismatch is False
    # Per-variant figures add up to the totals.
    assert sum(v.sent for v in st.variants) == st.totals.sent == 3000
    assert sum(v.converted_users for v in st.variants) == st.totals.converted_users == 210


def test_no_significant_winner(engine: Engine) -> None:
    load(engine, [campaign("ab", "ab", variants=variants(40, 30, 30))],
         ab_events("ab", {"A": (1000, 50), "B": (750, 41), "C": (750, 34)}))
    st = stats(engine, "ab")
    assert st.winner is None
    assert all(not v.vs_baseline.significant for v in st.variants[1:])
    assert st.variants[1].vs_baseline.p_value == pytest.approx(z_test_p(41, 750, 50, 1000))
    # 1000 : 750 : 750 against 40 : 30 : 30 is a perfect split.
    assert st.sample_ratio.p_value == pytest.approx(1.0)


def test_better_but_significant_only_if_holm_allows(engine: Engine) -> None:
    """Raw p-values 0.03 and 0.04 would each pass alone; Holm needs 0.025 for the smallest."""
    # B: 5.0% vs 3.5% on 1500 users each: z = 2.053, p = 0.0401. C: 3.5% too (p = 1).
    load(engine, [campaign("ab", "ab", variants=variants(34, 33, 33))],
         ab_events("ab", {"A": (1500, 52), "B": (1500, 75), "C": (1500, 52)}))
    st = stats(engine, "ab")
    p_b = st.variants[1].vs_baseline.p_value
    assert p_b == pytest.approx(z_test_p(75, 1500, 52, 1500))
    assert 0.025 < p_b < 0.05
    assert st.variants[1].vs_baseline.significant is False
    assert st.winner is None


def test_broken_split_is_a_sample_ratio_mismatch(engine: Engine) -> None:
    load(engine, [campaign("ab", "ab", control=10, variants=variants(30, 30, 30))],
         ab_events("ab", {"A": (1000, 50), "B": (1000, 50), "C": (700, 35)}))
    st = stats(engine, "ab")
    # Expected 900 each: chi2 = (100^2 + 100^2 + 200^2) / 900 = 66.7; with 2 df p = exp(-chi2 / 2).
    chi2 = (100**2 + 100**2 + 200**2) / 900
    assert st.sample_ratio.p_value == pytest.approx(math.exp(-chi2 / 2), rel=1e-6)
    assert st.sample_ratio.mismatch is True


def test_probability_best_matches_monte_carlo(engine: Engine) -> None:
    load(engine, [campaign("ab", "ab", variants=variants(34, 33, 33))],
         ab_events("ab", {"A": (400, 20), "B": (400, 26), "C": (400, 24)}))
    st = stats(engine, "ab")
    rng = np.random.default_rng(0)
    draws = np.stack([rng.beta(1 + x, 1 + 400 - x, 400_000) for x in (20, 26, 24)])
    expected = np.bincount(draws.argmax(axis=0), minlength=3) / draws.shape[1]
    got = [v.probability_best for v in st.variants]
    assert got == pytest.approx(expected.tolist(), abs=0.005)
    assert sum(got) == pytest.approx(1.0)


def test_conversion_belongs_to_the_latest_attributed_send(engine: Engine) -> None:
    events = [
        # u1 got A at 1 h and B at 10 h; the conversion at 20 h is within the window of both: B's.
        ev("ab", "u1", "sent", 1, variant="A"), ev("ab", "u1", "sent", 10, variant="B"),
        ev("ab", "u1", "conversion", 20, revenue="4"),
        # u2 got A at 1 h and B at 30 h; the conversion at 20 h is only A's.
        ev("ab", "u2", "sent", 1, variant="A"), ev("ab", "u2", "sent", 30, variant="B"),
        ev("ab", "u2", "conversion", 20, revenue="6"),
        ev("ab", "u3", "sent", 1, variant="A", channel="app_inbox"),
        ev("ab", "u3", "impression", 2, variant="A", channel="app_inbox"),
        ev("ab", "u3", "error", 3, variant="B", error_code="DND_HOURS"),
    ]
    load(engine, [campaign("ab", "ab", variants=variants(50, 50))], events)
    a, b = stats(engine, "ab").variants
    assert (a.converted_users, a.revenue, b.converted_users, b.revenue) == (1, 6.0, 1, 4.0)
    assert (a.sent, a.sent_users, b.sent, b.sent_users) == (3, 3, 2, 2)
    assert a.channels["app_inbox"].sent == 1 and a.channels["app_inbox"].impressions == 1
    assert a.channels["app_inbox"].ctr == pytest.approx(0.0)
    assert a.channels["push"].ctr is None
    assert b.errors == 1 and b.channels["push"].errors == 1


def test_variant_without_sends_has_null_rates(engine: Engine) -> None:
    load(engine, [campaign("ab", "ab", variants=variants(50, 50))], ab_events("ab", {"A": (100, 5)}))
    a, b = stats(engine, "ab").variants
    assert b.sent_users == 0 and b.conversion_rate is None and b.ctr is None
    assert b.vs_baseline.difference is None and b.vs_baseline.p_value is None
    assert b.vs_baseline.significant is False
