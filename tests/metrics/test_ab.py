"""A/B figures worked out by hand: variants, sequential comparisons, Holm, verdicts, P(best), sample ratio."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine

from reporter.metrics.model import UsersFunnel
from tests.metrics.helpers import T0, campaign, ev, load, stats
from tests.metrics.test_sequential import reference_look, reference_sequence


def variants(*splits: float) -> list[dict[str, Any]]:
    return [{"variant": v, "name": f"Variant {v}", "split_pct": s} for v, s in zip("ABC", splits, strict=False)]


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
    load(
        engine,
        [campaign("ab", "ab", control=10, variants=variants(30, 30, 30))],
        ab_events("ab", {"A": (1000, 50), "B": (1000, 60), "C": (1000, 100)}),
    )
    st = stats(engine, "ab")
    a, b, c = st.variants
    assert [(v.variant, v.baseline, v.sent_users, v.converted_users) for v in st.variants] == [
        ("A", True, 1000, 50),
        ("B", False, 1000, 60),
        ("C", False, 1000, 100),
    ]
    assert (a.conversion_rate, b.conversion_rate, c.conversion_rate) == pytest.approx((5.0, 6.0, 10.0))
    assert c.revenue == pytest.approx(250.0) and c.revenue_per_user == pytest.approx(0.25)
    assert c.funnel == UsersFunnel(1000, 0, 0, 100)
    assert a.vs_baseline is None
    # One day, one look: the always-valid figures are that look's (second implementation in test_sequential).
    p_b, _d_b, _h_b = reference_look(50, 1000, 60, 1000, 5000)
    p_c, d_c, h_c = reference_look(50, 1000, 100, 1000, 5000)
    assert (b.vs_baseline.difference, b.vs_baseline.p_value) == pytest.approx((1.0, p_b))
    assert (c.vs_baseline.difference, c.vs_baseline.p_value) == pytest.approx((5.0, p_c))
    assert (c.vs_baseline.ci_low, c.vs_baseline.ci_high) == pytest.approx((d_c - h_c, d_c + h_c))
    assert c.vs_baseline.ci_low > 0  # the interval excludes no difference
    # The fixed-sample z-test is kept for reference: B's p = 0.327, C's 2.2e-5.
    assert b.vs_baseline.fixed_p_value == pytest.approx(z_test_p(60, 1000, 50, 1000))
    assert c.vs_baseline.fixed_p_value == pytest.approx(z_test_p(100, 1000, 50, 1000))
    # Holm: C's p * 2 < 0.05, B's is far above.
    assert p_c * 2 < 0.05 < p_b
    assert (b.vs_baseline.significant, b.vs_baseline.verdict) == (False, "keep_running")
    assert (c.vs_baseline.significant, c.vs_baseline.verdict) == (True, "winner")
    assert (st.winner, st.verdict) == ("C", "winner")
    assert sum(v.probability_best for v in st.variants) == pytest.approx(1.0)
    assert c.probability_best > 0.999
    assert st.sample_ratio.p_value == pytest.approx(1.0) and st.sample_ratio.mismatch is False
    # Per-variant figures add up to the totals.
    assert sum(v.sent for v in st.variants) == st.totals.sent == 3000
    assert sum(v.converted_users for v in st.variants) == st.totals.converted_users == 210


def test_looks_take_the_running_minimum_and_intersection(engine: Engine) -> None:
    """Three daily looks; the report is read on day 3, and the figures are those since the test started."""
    events = []
    # (day, variant, users sent that day, of whom converting)
    for day, variant, users, converting in [
        (0, "A", 400, 20),
        (0, "B", 400, 44),
        (1, "A", 400, 24),
        (1, "B", 400, 30),
        (2, "A", 400, 22),
        (2, "B", 400, 24),
    ]:
        for i in range(users):
            user = f"{variant}{day}-{i}"
            events.append(ev("ab", user, "sent", day * 24 + 1, variant=variant))
            if i < converting:
                events.append(ev("ab", user, "conversion", day * 24 + 2))
    load(engine, [campaign("ab", "ab", variants=variants(50, 50))], events)
    looks = [(20, 400, 44, 400), (44, 800, 74, 800), (66, 1200, 98, 1200)]
    p, low, high = reference_sequence(looks, 5000)
    # A report of the third day alone still compares the data since the test started.
    st = stats(engine, "ab", T0 + timedelta(days=2), T0 + timedelta(days=3))
    b = st.variants[1]
    assert (b.sent_users, b.converted_users) == (400, 24)  # the period's own figures
    assert b.vs_baseline.p_value == pytest.approx(p)
    assert (b.vs_baseline.ci_low, b.vs_baseline.ci_high) == pytest.approx((low, high))
    assert b.vs_baseline.difference == pytest.approx(100 * (98 - 66) / 1200)
    # The smallest p-value was the second look's, not the last's.
    assert p == pytest.approx(reference_look(*looks[1], 5000)[0])
    assert p < reference_look(*looks[-1], 5000)[0]
    assert st.test_started == T0
    whole = stats(engine, "ab")
    assert whole.variants[1].vs_baseline == b.vs_baseline


def test_two_users_per_arm_is_not_enough_data(engine: Engine) -> None:
    load(engine, [campaign("ab", "ab", variants=variants(50, 50))], ab_events("ab", {"A": (2, 0), "B": (2, 2)}))
    st = stats(engine, "ab")
    b = st.variants[1].vs_baseline
    # Version 1 called B the winner here (p = 0.046); Fisher's exact test gives 0.33.
    assert b.fixed_p_value == pytest.approx(0.0455, abs=1e-4)
    assert (b.significant, b.verdict, st.verdict, st.winner) == (False, "not_enough_data", "not_enough_data", None)


def test_better_but_significant_only_if_holm_allows(engine: Engine) -> None:
    """Each comparison alone would pass; Holm over the two variants needs half the level for the smaller p."""
    load(
        engine,
        [campaign("ab", "ab", variants=variants(34, 33, 33), planned=3000)],
        ab_events("ab", {"A": (1500, 60), "B": (1500, 99), "C": (1500, 60)}),
    )
    st = stats(engine, "ab")
    p_b = reference_look(60, 1500, 99, 1500, 3000)[0]
    assert st.variants[1].vs_baseline.p_value == pytest.approx(p_b)
    assert 0.025 < p_b < 0.05
    assert st.variants[1].vs_baseline.significant is False
    # Every arm together has reached the planned 3,000 users and nothing is significant: inconclusive.
    assert [v.vs_baseline.verdict for v in st.variants[1:]] == ["inconclusive", "inconclusive"]
    assert (st.winner, st.verdict) == (None, "inconclusive")


def test_a_worse_variant_is_a_loser(engine: Engine) -> None:
    load(
        engine, [campaign("ab", "ab", variants=variants(50, 50))], ab_events("ab", {"A": (2000, 200), "B": (2000, 100)})
    )
    st = stats(engine, "ab")
    assert st.variants[1].vs_baseline.verdict == "loser" and st.variants[1].vs_baseline.ci_high < 0
    assert (st.winner, st.verdict) == (None, "loser")


def test_broken_split_is_a_sample_ratio_mismatch(engine: Engine) -> None:
    load(
        engine,
        [campaign("ab", "ab", control=10, variants=variants(30, 30, 30))],
        ab_events("ab", {"A": (1000, 50), "B": (1000, 50), "C": (700, 95)}),
    )
    st = stats(engine, "ab")
    # Expected 900 each: chi2 = (100^2 + 100^2 + 200^2) / 900 = 66.7; with 2 df p = exp(-chi2 / 2).
    chi2 = (100**2 + 100**2 + 200**2) / 900
    assert st.sample_ratio.p_value == pytest.approx(math.exp(-chi2 / 2), rel=1e-6)
    assert st.sample_ratio.mismatch is True
    # C converts far better, but the split is broken: no decision.
    assert [v.vs_baseline.verdict for v in st.variants[1:]] == ["do_not_decide", "do_not_decide"]
    assert (st.winner, st.verdict) == (None, "do_not_decide")


def test_probability_best_matches_monte_carlo(engine: Engine) -> None:
    load(
        engine,
        [campaign("ab", "ab", variants=variants(34, 33, 33))],
        ab_events("ab", {"A": (400, 20), "B": (400, 26), "C": (400, 24)}),
    )
    st = stats(engine, "ab")
    rng = np.random.default_rng(0)
    draws = np.stack([rng.beta(1 + x, 1 + 400 - x, 400_000) for x in (20, 26, 24)])
    expected = np.bincount(draws.argmax(axis=0), minlength=3) / draws.shape[1]
    got = [v.probability_best for v in st.variants]
    assert got == pytest.approx(expected.tolist(), abs=0.005)
    assert sum(got) == pytest.approx(1.0)


def test_a_day_whose_conversions_come_from_the_day_before_has_its_probabilities(engine: Engine) -> None:
    # Five of A's users sent to late on day one convert on day two (within the 24 h window, attributed to A);
    # on day two A sends to one new user and B to three. A's day has 5 converted users for 1 user sent to.
    events = [ev("ab", f"a{i}", "sent", 20, variant="A") for i in range(5)]
    events += [ev("ab", f"a{i}", "conversion", 26, revenue="1") for i in range(5)]
    events += [ev("ab", "late", "sent", 30, variant="A")] + [
        ev("ab", f"b{i}", "sent", 30, variant="B") for i in range(3)
    ]
    load(engine, [campaign("ab", "ab", variants=variants(50, 50))], events)
    st = stats(engine, "ab", T0 + timedelta(days=1), T0 + timedelta(days=2))
    a, b = st.variants
    assert (a.sent_users, a.converted_users, b.sent_users, b.converted_users) == (1, 5, 3, 0)
    # A's posterior counts its one user as converted (Beta(2, 1)) against B's Beta(1, 4): P(A best) = 14/15.
    assert (a.probability_best, b.probability_best) == pytest.approx((14 / 15, 1 / 15), abs=1e-6)


def test_conversion_belongs_to_the_latest_attributed_send(engine: Engine) -> None:
    events = [
        # u1 got A at 1 h and B at 10 h; the conversion at 20 h is within the window of both: B's.
        ev("ab", "u1", "sent", 1, variant="A"),
        ev("ab", "u1", "sent", 10, variant="B"),
        ev("ab", "u1", "conversion", 20, revenue="4"),
        # u2 got A at 1 h and B at 30 h; the conversion at 20 h is only A's.
        ev("ab", "u2", "sent", 1, variant="A"),
        ev("ab", "u2", "sent", 30, variant="B"),
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
    assert b.sent_users == 0 and b.conversion_rate is None and b.ctr is None and b.revenue_per_user is None
    assert b.vs_baseline.difference is None and b.vs_baseline.p_value == 1.0 and b.vs_baseline.ci_low is None
    # A variant planned for half the users got none: the split is broken.
    assert (b.vs_baseline.significant, b.vs_baseline.verdict) == (False, "do_not_decide")
    assert (a.probability_best, b.probability_best) == (1.0, None)
