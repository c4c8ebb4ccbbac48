"""Every key of metrics.md on a single-message campaign worked out by hand.

The data set (hours after T0 = Monday 2026-11-02 00:00 UTC; window 24 h; the
period is [T0, T0 + 72 h)):

    u1  qualified 0; sent 0 (ios phone); impression 0.1; click 0.2; conversion 5 (10.00)
        sent 30; conversion 54 (5.00) -- exactly 24 h after the send: inside (inclusive)
        sent 80 -- after the period: ignored
    u2  qualified 0; sent 1 (android tablet); impression 2; conversion 25 h 0 m 1 s (7.00)
        -- 24 h + 1 s after the send: not attributed; 23 h after the impression: view-through
    u3  qualified 0; conversion 1 (100.00) before the send at 2: not attributed
    u4  error UNREGISTERED 3; error WEIRD_CODE 4 (unknown code)
    u5  control 0; conversion 10 -- control converted
    u6  control 0; conversion 30 -- 30 h after: not a control conversion
    u7  sent 4 via app_inbox; impression 4.5 (ios phone)
    u8  sent 5 via push_amplification
    u9  sent -5; conversion -4 -- before the period: ignored

Intent to treat (the control group's comparison): treatment = the users whose
earliest send or error in the period comes first (u1, u2, u3, u4, u7, u8),
control = u5, u6. Converting means a conversion within 24 h after that first
event: u1 (5 h after its send, 10.00) and u5 (10 h after its control event).
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from reporter.metrics.serialize import stats_to_json
from tests.metrics.helpers import T0, campaign, ev, load, stats

C = "s"
ONE_SECOND = 1 / 3600


@pytest.fixture
def single(engine: Engine) -> Engine:
    ios = {"platform": "ios", "device_type": "phone"}
    android = {"platform": "android", "device_type": "tablet"}
    events = [
        ev(C, "u1", "qualified", 0),
        ev(C, "u1", "sent", 0, **ios),
        ev(C, "u1", "impression", 0.1, **ios),
        ev(C, "u1", "click", 0.2, **ios),
        ev(C, "u1", "conversion", 5, revenue="10.00"),
        ev(C, "u1", "sent", 30, **ios),
        ev(C, "u1", "conversion", 54, revenue="5.00"),
        ev(C, "u1", "sent", 80, **ios),
        ev(C, "u2", "qualified", 0),
        ev(C, "u2", "sent", 1, **android),
        ev(C, "u2", "impression", 2, **android),
        ev(C, "u2", "conversion", 25 + ONE_SECOND, revenue="7.00"),
        ev(C, "u3", "qualified", 0),
        ev(C, "u3", "conversion", 1, revenue="100"),
        ev(C, "u3", "sent", 2),
        ev(C, "u4", "error", 3, error_code="UNREGISTERED"),
        ev(C, "u4", "error", 4, error_code="WEIRD_CODE"),
        ev(C, "u5", "control", 0),
        ev(C, "u5", "conversion", 10),
        ev(C, "u6", "control", 0),
        ev(C, "u6", "conversion", 30),
        ev(C, "u7", "sent", 4, channel="app_inbox"),
        ev(C, "u7", "impression", 4.5, channel="app_inbox", **ios),
        ev(C, "u8", "sent", 5, channel="push_amplification"),
        ev(C, "u9", "sent", -5),
        ev(C, "u9", "conversion", -4, revenue="1"),
    ]
    load(engine, [campaign(C, control=10)], events)
    return engine


def period(engine: Engine, **kw):
    return stats(engine, C, T0, T0 + timedelta(hours=72), **kw)


def z_test_p(x1: int, n1: int, x2: int, n2: int) -> float:
    pooled = (x1 + x2) / (n1 + n2)
    z = (x1 / n1 - x2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return math.erfc(abs(z) / math.sqrt(2))


def test_headline_figures(single: Engine) -> None:
    t = period(single).totals
    assert t.qualified == 3
    assert (t.sent, t.sent_users) == (6, 5)
    assert t.impressions == 3 and t.impression_rate == pytest.approx(50.0)
    assert t.clicks == 1 and t.click_rate == pytest.approx(100 / 6)
    assert t.ctr == pytest.approx(100 / 3)
    assert t.errors == 2
    assert t.control_group == 2
    # u1 at 5 h and at 54 h (boundary inclusive); not u2 (1 s late), u3 (before), u9 (outside).
    assert (t.conversions, t.converted_users) == (2, 1)
    assert t.conversion_rate == pytest.approx(20.0)
    assert t.revenue == pytest.approx(15.0)
    # View-through: u1 and u2 (without a click, and without an attributed send).
    assert t.view_through_conversions == 2 and t.view_through_conversion_rate == pytest.approx(40.0)
    assert t.click_through_conversions == 1 and t.click_through_conversion_rate == pytest.approx(20.0)
    assert (t.uplift.push_amplification, t.uplift.app_inbox) == (1, 1)
    # v2: users, not events. u1, u2 and u7 were shown the message; u1 clicked.
    assert (t.impressed_users, t.clicked_users) == (3, 1)
    # Conversion events with an impression (u1 at 5 h, u2 at 25 h 0 m 1 s) or a click (u1 at 5 h) before them.
    assert (t.view_through_conversion_events, t.click_through_conversion_events) == (2, 1)
    # u7 saw the message only in the app inbox; u8's amplification send was never shown.
    assert (t.uplift.push_amplification_reached, t.uplift.app_inbox_reached) == (0, 1)
    assert t.uninstalls == 1  # u4's UNREGISTERED


def test_control_group_by_intent_to_treat(single: Engine) -> None:
    c = period(single).control
    assert (c.users, c.converted_users, c.revenue) == (2, 1, 0.0)  # u5 converted in the window, u6 too late
    assert c.conversion_rate == pytest.approx(50.0)
    # u4 (errors only) and u3 (converted before its send) count as treated: intent to treat.
    assert (c.treatment_users, c.treatment_converted_users, c.treatment_revenue) == (6, 1, 10.0)
    assert c.treatment_conversion_rate == pytest.approx(100 / 6)
    assert c.lift == pytest.approx(100 * (100 / 6 - 50) / 50)  # -66.7 %
    assert c.incremental_conversions == pytest.approx(6 * (100 / 6 - 50) / 100)  # -2 converters
    assert c.incremental_revenue == pytest.approx(6 * (10.0 / 6 - 0.0 / 2))  # +10.00
    # Pooled z-test of 1/6 against 1/2: q = 0.25, z = -(1/3) / sqrt(0.1875 * 2/3) = -0.9428, p = 0.3458.
    assert c.p_value == pytest.approx(z_test_p(1, 6, 1, 2), rel=1e-9)
    assert c.p_value == pytest.approx(0.3458, abs=1e-4)


def test_control_group_follows_the_period_s_users_for_one_window(single: Engine) -> None:
    # Day 2 only: u1 is assigned by its send at 30 h and converts at 54 h, after the
    # period's end but inside its window: a converter of the treatment group, though
    # not a conversion of the period.
    st = stats(single, C, T0 + timedelta(hours=24), T0 + timedelta(hours=48))
    c = st.control
    assert (c.treatment_users, c.treatment_converted_users, c.treatment_revenue) == (1, 1, 5.0)
    assert (c.users, c.conversion_rate, c.lift, c.incremental_conversions, c.incremental_revenue) == (
        0,
        None,
        None,
        None,
        None,
    )
    assert st.totals.conversions == 0


def test_trend_buckets(single: Engine) -> None:
    trend = period(single).trend
    rows = [(b.bucket, b.sent, b.impressions, b.clicks, b.errors, b.conversions, b.revenue) for b in trend.daily]
    assert rows == [
        ("2026-11-02", 5, 3, 1, 2, 1, 10.0),
        ("2026-11-03", 1, 0, 0, 0, 0, 0.0),
        ("2026-11-04", 0, 0, 0, 0, 1, 5.0),
    ]
    assert [(b.bucket, b.sent, b.conversions, b.revenue, b.partial) for b in trend.weekly] == [
        ("2026-11-02", 6, 2, 15.0, True)
    ]  # three days of the week
    assert [(b.bucket, b.sent, b.errors, b.partial) for b in trend.monthly] == [("2026-11", 6, 2, True)]
    assert not any(b.partial for b in trend.daily)
    # Three days: hourly buckets too, every hour present.
    assert trend.hourly is not None and len(trend.hourly) == 72
    assert trend.hourly[0].bucket == "2026-11-02T00:00" and trend.hourly[-1].bucket == "2026-11-04T23:00"
    hours = {b.bucket: (b.sent, b.impressions, b.clicks, b.errors, b.conversions, b.revenue) for b in trend.hourly}
    assert hours["2026-11-02T00:00"] == (1, 1, 1, 0, 0, 0.0)
    assert hours["2026-11-02T05:00"] == (1, 0, 0, 0, 1, 10.0)  # u8's send, u1's conversion
    assert hours["2026-11-03T06:00"] == (1, 0, 0, 0, 0, 0.0)  # u1's second send
    assert hours["2026-11-04T06:00"] == (0, 0, 0, 0, 1, 5.0)
    assert sum(h[0] for h in hours.values()) == 6


def test_no_hourly_trend_beyond_seven_days(single: Engine) -> None:
    assert stats(single, C, T0, T0 + timedelta(days=7)).trend.hourly is not None
    long = stats(single, C, T0, T0 + timedelta(days=7, hours=1))
    assert long.trend.hourly is None and "hourly" not in stats_to_json(long)["trend"]


def test_funnels(single: Engine) -> None:
    f = period(single).funnel
    assert (f.users.sent, f.users.viewed, f.users.clicked, f.users.converted) == (5, 3, 1, 1)
    assert (f.influenced.after_sent, f.influenced.after_viewed, f.influenced.after_clicked) == (1, 2, 1)


def test_split_counts_impressions(single: Engine) -> None:
    s = period(single).split
    assert s.os == {"ios": 2, "android": 1}
    assert s.device == {"phone": 2, "tablet": 1}


def test_errors_with_taxonomy_and_unknown_code(single: Engine) -> None:
    st = period(single)
    assert [(e.code, e.count, e.category, e.platform, e.retryable, e.uninstall) for e in st.errors_by_code] == [
        ("UNREGISTERED", 1, "non_technical", "fcm", False, True),  # the app was uninstalled
        ("WEIRD_CODE", 1, "technical", "any", False, False),
    ]
    assert st.errors_by_code[0].meaning.startswith("The app was uninstalled")
    assert (st.errors_by_category.technical, st.errors_by_category.non_technical) == (1, 1)


def test_single_campaign_has_no_ab_keys(single: Engine) -> None:
    st = period(single)
    assert st.variants == () and st.winner is None and st.sample_ratio is None
    doc = stats_to_json(st)
    assert doc["variants"] == [] and doc["winner"] is None and doc["sample_ratio"] is None


def test_events_outside_the_period_are_ignored(single: Engine) -> None:
    # Only the second day: u1's send at 30 h; u1's conversion at 54 h is in a later day.
    st = stats(single, C, T0 + timedelta(hours=24), T0 + timedelta(hours=48))
    assert (st.totals.sent, st.totals.sent_users, st.totals.conversions) == (1, 1, 0)
    assert st.totals.impressions == 0
    assert st.totals.ctr is None  # no impressions: CTR is undefined, not 0
    assert st.totals.impression_rate == pytest.approx(0.0)
    # u6's conversion at 30 h has no control event in this period: not a control conversion.
    assert st.control.users == 0 and st.control.conversion_rate is None and st.control.p_value is None
    # u2's conversion at 25 h 0 m 1 s: its send (at 1 h) is 1 s too far back, but its
    # impression at 2 h, before the period, is inside the window (attribution looks back).
    assert (st.totals.view_through_conversions, st.totals.view_through_conversion_events) == (1, 1)


def test_empty_period_gives_zeros_and_nulls(single: Engine) -> None:
    st = stats(single, C, T0 + timedelta(days=30), T0 + timedelta(days=31))
    t = st.totals
    assert (t.sent, t.sent_users, t.impressions, t.clicks, t.errors, t.conversions, t.revenue) == (
        0,
        0,
        0,
        0,
        0,
        0,
        0.0,
    )
    assert (t.impression_rate, t.click_rate, t.ctr, t.conversion_rate) == (None, None, None, None)
    assert (t.view_through_conversion_rate, t.click_through_conversion_rate) == (None, None)
    # Every bucket of the period is there, with zeros.
    assert [(b.bucket, b.sent, b.conversions, b.partial) for b in st.trend.daily] == [("2026-12-02", 0, 0, False)]
    assert [(b.bucket, b.partial) for b in st.trend.weekly] == [("2026-11-30", True)]
    assert [(b.bucket, b.partial) for b in st.trend.monthly] == [("2026-12", True)]
    assert len(st.trend.hourly or ()) == 24 and not any(b.sent for b in st.trend.hourly or ())
    assert st.split.os == {} and st.errors_by_code == ()
    assert st.control.lift is None and st.control.incremental_revenue is None


def test_default_period_starts_on_the_start_day(single: Engine) -> None:
    st = stats(single, C)
    # From the start_at day (u9's send and conversion the day before are outside it)
    # to the end of the day of the last event (u1's send at 80 h).
    assert st.period.start.isoformat() == "2026-11-02T00:00:00+00:00"
    assert st.period.end.isoformat() == "2026-11-06T00:00:00+00:00"
    assert st.totals.sent == 7
    assert st.totals.conversions == 2


def test_default_period_of_a_campaign_that_never_sent(engine: Engine) -> None:
    load(engine, [campaign("quiet")], [])
    st = stats(engine, "quiet")
    assert (st.period.start, st.period.end) == (T0, T0 + timedelta(days=1))
    assert (st.totals.sent, st.totals.conversions, st.totals.conversion_rate) == (0, 0, None)
    assert [b.bucket for b in st.trend.daily] == ["2026-11-02"]
    assert stats_to_json(st)["totals"]["revenue"] == 0.0


def test_default_period_runs_to_a_passed_end_at(engine: Engine) -> None:
    record = {**campaign("ended"), "end_at": (T0 + timedelta(days=3, hours=5)).isoformat()}
    load(engine, [record], [ev("ended", "u", "sent", 1)])
    # end_at has passed: the period covers its day.
    after = stats(engine, "ended", now=T0 + timedelta(days=10))
    assert after.period.end == T0 + timedelta(days=4)
    # end_at is still ahead: the period stops with the last event's day, never in the future.
    before = stats(engine, "ended", now=T0 + timedelta(days=2))
    assert before.period.end == T0 + timedelta(days=1)


def test_json_has_the_documented_shape(single: Engine) -> None:
    doc = stats_to_json(period(single))
    assert list(doc) == [
        "campaign",
        "period",
        "totals",
        "control",
        "trend",
        "funnel",
        "split",
        "errors_by_code",
        "errors_by_category",
        "variants",
        "winner",
        "sample_ratio",
        "verdict",
        "test_started",
    ]
    assert doc["campaign"] == {
        "id": "s",
        "name": "Campaign s",
        "type": "single",
        "conversion_event": "Charged",
        "conversion_window_hours": 24.0,
        "currency": "USD",
    }
    assert doc["period"] == {"from": "2026-11-02T00:00:00+00:00", "to": "2026-11-05T00:00:00+00:00", "timezone": "UTC"}
    assert list(doc["totals"]) == [
        "qualified",
        "sent",
        "sent_users",
        "impressions",
        "impression_rate",
        "clicks",
        "click_rate",
        "ctr",
        "errors",
        "control_group",
        "conversions",
        "converted_users",
        "conversion_rate",
        "revenue",
        "view_through_conversions",
        "view_through_conversion_rate",
        "click_through_conversions",
        "click_through_conversion_rate",
        "view_through_conversion_events",
        "click_through_conversion_events",
        "impressed_users",
        "clicked_users",
        "uplift",
        "uninstalls",
    ]
    assert doc["totals"]["uplift"] == {
        "push_amplification": 1,
        "app_inbox": 1,
        "push_amplification_reached": 0,
        "app_inbox_reached": 1,
    }
    assert list(doc["control"]) == [
        "users",
        "converted_users",
        "conversion_rate",
        "revenue",
        "treatment_users",
        "treatment_converted_users",
        "treatment_conversion_rate",
        "treatment_revenue",
        "lift",
        "incremental_conversions",
        "incremental_revenue",
        "p_value",
        "test",
        "verdict",
    ]
    assert list(doc["control"]["test"]) == [
        "difference",
        "ci_low",
        "ci_high",
        "p_value",
        "significant",
        "fixed_p_value",
        "verdict",
    ]
    assert doc["control"]["verdict"] == "not_enough_data"  # 6 and 2 users
    assert (doc["verdict"], doc["test_started"]) == (None, "2026-11-02T00:00:00+00:00")
    assert list(doc["trend"]) == ["hourly", "daily", "weekly", "monthly"]
    assert list(doc["trend"]["daily"][0]) == [
        "bucket",
        "sent",
        "impressions",
        "clicks",
        "errors",
        "conversions",
        "revenue",
        "partial",
    ]
    assert doc["funnel"] == {
        "users": {"sent": 5, "viewed": 3, "clicked": 1, "converted": 1},
        "influenced": {"after_sent": 1, "after_viewed": 2, "after_clicked": 1},
    }
    assert list(doc["errors_by_code"][0]) == [
        "code",
        "count",
        "category",
        "platform",
        "retryable",
        "meaning",
        "uninstall",
    ]
    assert doc["errors_by_category"] == {"technical": 1, "non_technical": 1}
