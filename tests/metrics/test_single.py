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
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from tests.metrics.helpers import T0, campaign, ev, load, stats

C = "s"
ONE_SECOND = 1 / 3600


@pytest.fixture
def single(engine: Engine) -> Engine:
    ios = {"platform": "ios", "device_type": "phone"}
    android = {"platform": "android", "device_type": "tablet"}
    events = [
        ev(C, "u1", "qualified", 0), ev(C, "u1", "sent", 0, **ios), ev(C, "u1", "impression", 0.1, **ios),
        ev(C, "u1", "click", 0.2, **ios), ev(C, "u1", "conversion", 5, revenue="10.00"),
        ev(C, "u1", "sent", 30, **ios), ev(C, "u1", "conversion", 54, revenue="5.00"),
        ev(C, "u1", "sent", 80, **ios),
        ev(C, "u2", "qualified", 0), ev(C, "u2", "sent", 1, **android), ev(C, "u2", "impression", 2, **android),
        ev(C, "u2", "conversion", 25 + ONE_SECOND, revenue="7.00"),
        ev(C, "u3", "qualified", 0), ev(C, "u3", "conversion", 1, revenue="100"), ev(C, "u3", "sent", 2),
        ev(C, "u4", "error", 3, error_code="UNREGISTERED"), ev(C, "u4", "error", 4, error_code="WEIRD_CODE"),
        ev(C, "u5", "control", 0), ev(C, "u5", "conversion", 10),
        ev(C, "u6", "control", 0), ev(C, "u6", "conversion", 30),
        ev(C, "u7", "sent", 4, channel="app_inbox"), ev(C, "u7", "impression", 4.5, channel="app_inbox", **ios),
        ev(C, "u8", "sent", 5, channel="push_amplification"),
        ev(C, "u9", "sent", -5), ev(C, "u9", "conversion", -4, revenue="1"),
    ]
    load(engine, [campaign(C, control=10)], events)
    return engine


def period(engine: Engine, **kw):  # noqa: ANN201
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


def test_control_group_lift_and_p_value(single: Engine) -> None:
    c = period(single).control
    assert (c.users, c.converted_users) == (2, 1)  # u5 converted in the window, u6 too late
    assert c.conversion_rate == pytest.approx(50.0)
    assert c.lift == pytest.approx(100 * (20 - 50) / 50)  # -60 %
    # Pooled z-test of 1/5 against 1/2: z = -0.3 / sqrt(2/7 * 5/7 * 0.7) = -0.7937, p = 0.4274.
    assert c.p_value == pytest.approx(z_test_p(1, 5, 1, 2), rel=1e-9)
    assert c.p_value == pytest.approx(0.4274, abs=1e-4)


def test_trend_buckets(single: Engine) -> None:
    trend = period(single).trend
    rows = [(b.bucket, b.sent, b.impressions, b.clicks, b.errors, b.conversions, b.revenue) for b in trend.daily]
    assert rows == [
        ("2026-11-02", 5, 3, 1, 2, 1, 10.0),
        ("2026-11-03", 1, 0, 0, 0, 0, 0.0),
        ("2026-11-04", 0, 0, 0, 0, 1, 5.0),
    ]
    assert [(b.bucket, b.sent, b.conversions, b.revenue) for b in trend.weekly] == [("2026-11-02", 6, 2, 15.0)]
    assert [(b.bucket, b.sent, b.errors) for b in trend.monthly] == [("2026-11", 6, 2)]


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
    assert [(e.code, e.count, e.category, e.platform, e.retryable) for e in st.errors_by_code] == [
        ("UNREGISTERED", 1, "technical", "fcm", False),
        ("WEIRD_CODE", 1, "technical", "any", False),
    ]
    assert st.errors_by_code[0].meaning.startswith("The token is no longer valid")
    assert (st.errors_by_category.technical, st.errors_by_category.non_technical) == (2, 0)


def test_single_campaign_has_no_ab_keys(single: Engine) -> None:
    st = period(single)
    assert st.variants == () and st.winner is None and st.sample_ratio is None
    doc = st.to_json()
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


def test_empty_period_gives_zeros_and_nulls(single: Engine) -> None:
    st = stats(single, C, T0 + timedelta(days=30), T0 + timedelta(days=31))
    t = st.totals
    assert (t.sent, t.sent_users, t.impressions, t.clicks, t.errors, t.conversions, t.revenue) == (0, 0, 0, 0, 0, 0, 0.0)
    assert (t.impression_rate, t.click_rate, t.ctr, t.conversion_rate) == (None, None, None, None)
    assert (t.view_through_conversion_rate, t.click_through_conversion_rate) == (None, None)
    assert st.trend.daily == () and st.trend.weekly == () and st.trend.monthly == ()
    assert st.split.os == {} and st.errors_by_code == ()
    assert st.control.lift is None


def test_default_period_is_the_whole_life_in_whole_days(single: Engine) -> None:
    st = stats(single, C)
    assert st.period.start.isoformat() == "2026-11-01T00:00:00+00:00"  # u9's send at -5 h
    assert st.period.end.isoformat() == "2026-11-06T00:00:00+00:00"  # u1's send at 80 h
    assert st.totals.sent == 8


def test_json_has_the_documented_shape(single: Engine) -> None:
    doc = period(single).to_json()
    assert list(doc) == [
        "campaign", "period", "totals", "control", "trend", "funnel", "split", "errors_by_code",
        "errors_by_category", "variants", "winner", "sample_ratio",
    ]
    assert doc["campaign"] == {"id": "s", "name": "Campaign s", "type": "single", "conversion_event": "Charged",
                               "conversion_window_hours": 24.0, "currency": "USD"}
    assert doc["period"] == {"from": "2026-11-02T00:00:00+00:00", "to": "2026-11-05T00:00:00+00:00", "timezone": "UTC"}
    assert list(doc["totals"]) == [
        "qualified", "sent", "sent_users", "impressions", "impression_rate", "clicks", "click_rate", "ctr",
        "errors", "control_group", "conversions", "converted_users", "conversion_rate", "revenue",
        "view_through_conversions", "view_through_conversion_rate", "click_through_conversions",
        "click_through_conversion_rate", "uplift",
    ]
    assert doc["totals"]["uplift"] == {"push_amplification": 1, "app_inbox": 1}
    assert list(doc["control"]) == ["users", "converted_users", "conversion_rate", "lift", "p_value"]
    assert list(doc["trend"]["daily"][0]) == ["bucket", "sent", "impressions", "clicks", "errors", "conversions", "revenue"]
    assert doc["funnel"] == {"users": {"sent": 5, "viewed": 3, "clicked": 1, "converted": 1},
                             "influenced": {"after_sent": 1, "after_viewed": 2, "after_clicked": 1}}
    assert list(doc["errors_by_code"][0]) == ["code", "count", "category", "platform", "retryable", "meaning"]
    assert doc["errors_by_category"] == {"technical": 2, "non_technical": 0}
