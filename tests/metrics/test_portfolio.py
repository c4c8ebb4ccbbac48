"""The portfolio's grouped figures against each campaign's own figures (compute_stats) and against hand counts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from reporter.metrics import compute_stats
from reporter.metrics.model import Period
from reporter.metrics.portfolio import Card, local_days, portfolio, previous_of
from tests.metrics.helpers import T0, campaign, ev, load

PERIOD = Period(T0 + timedelta(days=1), T0 + timedelta(days=3), "UTC")  # Tue 00:00 .. Thu 00:00
AB = [{"variant": v, "name": f"Variant {v}", "split_pct": 50} for v in "AB"]


@pytest.fixture(scope="module")
def engine(module_engine: Engine) -> Engine:
    events = [
        # single: u1 sent on Monday 22:00 (previous period), converts Tuesday 02:00 (in the period, window 24 h)
        ev("single", "u1", "sent", 22),
        ev("single", "u1", "conversion", 26, revenue=10.5),
        # u2: sent, shown, clicked, converted twice in the period; the second after the window (not attributed)
        ev("single", "u2", "sent", 25),
        ev("single", "u2", "impression", 25.1, platform="ios", device_type="phone"),
        ev("single", "u2", "click", 25.2),
        ev("single", "u2", "conversion", 30, revenue=4.25),
        ev("single", "u2", "conversion", 50, revenue=100),
        # u3: an uninstall error, never sent; u4: sent twice on two days, one error of another kind
        ev("single", "u3", "error", 26, error_code="UNREGISTERED"),
        ev("single", "u4", "sent", 27),
        ev("single", "u4", "sent", 49),
        ev("single", "u4", "error", 49.5, error_code="QuotaExceeded"),
        # control: c1 held out, converts; c2 held out then sent (stays control), converts after the send
        ev("single", "c1", "control", 28),
        ev("single", "c1", "conversion", 29, revenue=7),
        ev("single", "c2", "control", 28),
        ev("single", "c2", "sent", 30),
        ev("single", "c2", "conversion", 31, revenue=3),
        # ab: a test with a 2-hour window
        ev("ab", "a1", "sent", 24.5, variant="A"),
        ev("ab", "a1", "impression", 24.6, variant="A", platform="android", device_type="phone"),
        ev("ab", "a1", "conversion", 25, revenue=20),
        ev("ab", "a2", "sent", 24.5, variant="A"),
        ev("ab", "a2", "conversion", 27, revenue=20),  # 2.5 h later: outside the window
        ev("ab", "b1", "sent", 26, variant="B"),
        ev("ab", "b1", "impression", 26.5, variant="B", platform="ios", device_type="tablet"),
        ev("ab", "b1", "click", 26.6, variant="B"),
        ev("ab", "b1", "conversion", 27, revenue=5),
        ev("ab", "b2", "sent", 71, variant="B"),  # the period's last hour
        ev("ab", "b3", "sent", 72, variant="B"),  # Thursday 00:00: outside
        # idle: sent only in the previous period
        ev("idle", "i1", "sent", 5),
        ev("idle", "i1", "impression", 6, platform="ios", device_type="phone"),
    ]
    campaigns = [
        campaign("single", control=10),
        campaign("ab", ctype="ab", window=2, variants=AB),
        campaign("idle"),
        campaign("unused"),
    ]
    load(module_engine, campaigns, events)
    return module_engine


def _card_of(engine: Engine, cid: str, period: Period) -> Card:
    with engine.connect() as conn:
        s = compute_stats(conn, cid, period.start, period.end, period.timezone)
    t = s.totals
    daily = {b.bucket[:10]: b.sent for b in s.trend.daily}
    return Card(
        sent=t.sent,
        sent_users=t.sent_users,
        impressions=t.impressions,
        impressed_users=t.impressed_users,
        clicks=t.clicks,
        clicked_users=t.clicked_users,
        errors=t.errors,
        uninstalls=t.uninstalls,
        conversions=t.conversions,
        converted_users=t.converted_users,
        revenue=t.revenue,
        control=replace(s.control, test=None, verdict="not_enough_data"),
        daily_sends=tuple(daily.get(d.isoformat(), 0) for d in local_days(period)),
    )


def test_every_row_equals_the_campaigns_own_figures(engine: Engine) -> None:
    pf = portfolio(engine, PERIOD)
    assert [r.campaign.id for r in pf.rows] == ["ab", "single"]  # same start: by id
    assert [r.campaign.id for r in pf.idle] == ["idle", "unused"]
    for row in pf.rows + pf.idle:
        assert row.card == _card_of(engine, row.campaign.id, PERIOD), row.campaign.id
        assert row.previous == _card_of(engine, row.campaign.id, previous_of(PERIOD)), row.campaign.id


def test_the_figures_by_hand(engine: Engine) -> None:
    pf = portfolio(engine, PERIOD)
    ab, single = pf.rows
    s = single.card
    # sends u2, u4 (twice), c2; u1's send was on Monday
    assert (s.sent, s.sent_users, s.daily_sends) == (4, 3, (3, 1))
    assert (s.errors, s.uninstalls, s.error_rate) == (2, 1, pytest.approx(100 * 2 / 6))
    # attributed: u1 (send before the period), u2 at 30 h, c2 at 31 h; not u2 at 50 h (window passed), not c1
    assert (s.conversions, s.converted_users, s.revenue) == (3, 3, 17.75)
    assert (s.ctr, s.conversion_rate) == (100.0, pytest.approx(100.0))
    # intent to treat: control c1, c2 (both convert: 7 + 3); treatment u2, u3 (error only), u4 -> u2 converts twice
    # in its window? 30 h yes, 50 h no -> 1 of 3
    c = s.control
    assert (c.users, c.converted_users, c.revenue) == (2, 2, 10.0)
    assert (c.treatment_users, c.treatment_converted_users, c.treatment_revenue) == (3, 1, 4.25)
    assert c.incremental_conversions == pytest.approx(3 * (100 / 3 - 100) / 100)
    a = ab.card
    assert (a.sent, a.sent_users, a.daily_sends, a.conversions, a.revenue) == (4, 4, (3, 1), 2, 25.0)
    assert ab.verdict is not None and ab.verdict.verdict == "not_enough_data" and not ab.verdict.ready
    assert single.verdict is None
    total = pf.total
    assert (total.sent, total.conversions, total.daily_sends) == (8, 5, (6, 2))
    assert pf.previous_total.sent == 2  # u1 in single, i1 in idle


def test_a_selection_and_none(engine: Engine) -> None:
    one = portfolio(engine, PERIOD, ["ab"])
    none = portfolio(engine, PERIOD, [])
    assert [r.campaign.id for r in one.rows] == ["ab"] and one.idle == ()
    assert none.rows == () and none.idle == () and none.total.daily_sends == (0, 0)


def test_previous_period_is_the_same_local_days_before() -> None:
    march = Period(T0.replace(month=3, day=29, hour=22), T0.replace(month=3, day=30, hour=22), "Europe/Berlin")
    before = previous_of(march)  # Sunday 29 March, the day of 23 hours when the clocks go forward
    assert before.end == march.start and before.start == datetime(2026, 3, 28, 23, tzinfo=UTC)


@pytest.mark.parametrize("days", [(0, 1), (1, 3), (-1, 4)])
def test_the_card_alone_has_the_reports_totals_and_control(engine: Engine, days: tuple[int, int]) -> None:
    """What the previous period's comparison reads (plan.CARD_QUERIES) gives the same totals and control group."""
    from reporter.metrics import compute_stats_concurrently

    start, end = T0 + timedelta(days=days[0]), T0 + timedelta(days=days[1])
    for cid in ("single", "ab", "idle"):
        full = compute_stats_concurrently(engine, cid, start, end, "Europe/Berlin")
        card = compute_stats_concurrently(engine, cid, start, end, "Europe/Berlin", card=True)
        assert card.totals == full.totals, cid
        assert card.control == replace(full.control, test=None, verdict="not_enough_data"), cid
        assert card.period == full.period and card.variants == () and card.trend.daily == ()
