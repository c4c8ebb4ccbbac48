"""Invariants that hold for any event set (Hypothesis).

The generated events follow how push delivery works: an impression and a click
happen at their send's time (so every viewer was sent to, every clicker
viewed), and each user is in one variant. Under that model the funnels never
increase, rates stay in 0..100, variants add up to the totals, the trend
buckets add up to the totals, and the counts, conversions and revenue of any
two consecutive periods add up to those of the whole.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from tests.metrics.helpers import T0, campaign, ev, load, stats

counter = itertools.count()

delivery = st.tuples(
    st.integers(0, 24 * 20),  # send hour
    st.sampled_from(["none", "impression", "click"]),
    st.sampled_from(["push", "push", "app_inbox", "push_amplification"]),
    st.booleans(),  # error instead of a send
)
user = st.tuples(
    st.sampled_from(["A", "B", "control"]),
    st.lists(delivery, max_size=3),
    st.lists(st.tuples(st.integers(-24, 24 * 22), st.sampled_from([None, "1.25", "10"])), max_size=2),
)


def build(cid: str, users: list) -> list[dict]:
    events = []
    for i, (variant, deliveries, conversions) in enumerate(users):
        u = f"u{i}"
        events.append(ev(cid, u, "qualified", 0))
        if variant == "control":
            events.append(ev(cid, u, "control", 0))
        else:
            for hour, seen, channel, failed in deliveries:
                extra = {"variant": variant, "channel": channel, "platform": "ios"}
                if failed:
                    events.append(ev(cid, u, "error", hour, error_code="UNAVAILABLE", **extra))
                    continue
                events.append(ev(cid, u, "sent", hour, **extra))
                if seen != "none":
                    events.append(ev(cid, u, "impression", hour, **extra))
                if seen == "click":
                    events.append(ev(cid, u, "click", hour, **extra))
        for hour, revenue in conversions:
            events.append(ev(cid, u, "conversion", hour, **({"revenue": revenue} if revenue else {})))
    return events


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    users=st.lists(user, max_size=12),
    tz=st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"]),
    from_day=st.integers(0, 5),
    days=st.integers(1, 25),
    cut_hours=st.integers(1, 24 * 25 - 1),
)
def test_invariants(engine: Engine, users: list, tz: str, from_day: int, days: int, cut_hours: int) -> None:
    cid = f"p{next(counter)}"
    variants = [{"variant": "A", "name": "a", "split_pct": 45}, {"variant": "B", "name": "b", "split_pct": 45}]
    load(engine, [campaign(cid, "ab", control=10, variants=variants)], build(cid, users))
    start = T0 + timedelta(days=from_day)
    s = stats(engine, cid, start, start + timedelta(days=days), tz)
    t = s.totals
    # Attribution looks back across the period's start: a user sent to the day before and converting in the
    # period is converted, not sent to, in it. From the campaign's start on, every converter was sent to in it.
    from_start = from_day == 0
    conversion_rates = (
        t.conversion_rate,
        t.view_through_conversion_rate,
        t.click_through_conversion_rate,
        *(v.conversion_rate for v in s.variants),
    )
    for value in (
        t.impression_rate,
        t.click_rate,
        t.ctr,
        s.control.conversion_rate,
        *(v.ctr for v in s.variants),
        *(conversion_rates if from_start else ()),
    ):
        assert value is None or 0 <= value <= 100
    assert all(value is None or value >= 0 for value in conversion_rates)
    fu, fi = s.funnel.users, s.funnel.influenced
    assert fu.sent >= fu.viewed >= fu.clicked
    assert fi.after_sent >= fi.after_viewed >= fi.after_clicked
    assert fu.converted == fi.after_sent == t.converted_users
    assert t.converted_users <= t.sent_users or not from_start
    for key in ("sent", "sent_users", "impressions", "clicks", "errors", "converted_users"):
        assert sum(getattr(v, key) for v in s.variants) == getattr(t, key), key
    assert abs(sum(v.revenue for v in s.variants) - t.revenue) < 1e-6
    for buckets in (s.trend.daily, s.trend.weekly, s.trend.monthly):
        for key in ("sent", "impressions", "clicks", "errors", "conversions"):
            assert sum(getattr(b, key) for b in buckets) == getattr(t, key), key
        assert abs(sum(b.revenue for b in buckets) - t.revenue) < 1e-6
    assert len(s.trend.daily) <= days + 1
    probabilities = [v.probability_best for v in s.variants if v.sent_users]
    assert all(v.probability_best is None for v in s.variants if not v.sent_users)
    assert not probabilities or (abs(sum(probabilities) - 1) < 1e-9 and all(0 <= p <= 1 for p in probabilities))
    assert sum(e.count for e in s.errors_by_code) == t.errors
    assert sum(s.split.os.values()) == t.impressions == sum(s.split.device.values())
    for v in s.variants:
        assert v.funnel.sent >= v.funnel.viewed >= v.funnel.clicked
        assert (v.funnel.viewed, v.funnel.clicked) == (v.impressed_users, v.clicked_users)
    # Each user is in one group: the intent-to-treat groups cover everyone assigned.
    assert s.control.users == t.control_group
    assert s.control.treatment_users >= t.sent_users
    # Any split of the period: the event counts, conversions and revenue of the two parts add up.
    cut = start + timedelta(hours=min(cut_hours, days * 24 - 1))
    parts = [
        stats(engine, cid, start, cut, tz, copy=False),
        stats(engine, cid, cut, start + timedelta(days=days), tz, copy=False),
    ]
    for key in (
        "sent",
        "impressions",
        "clicks",
        "errors",
        "conversions",
        "view_through_conversion_events",
        "click_through_conversion_events",
    ):
        assert sum(getattr(p.totals, key) for p in parts) == getattr(t, key), key
    assert abs(sum(p.totals.revenue for p in parts) - t.revenue) < 1e-6
