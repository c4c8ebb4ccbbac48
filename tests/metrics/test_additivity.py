"""Conversions add up across periods: the daily reports sum to the month's and the whole life's.

Attribution looks back across a period's start, so a conversion whose send
fell the day before is counted on the conversion's day, exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from reporter.demo import PLANS, load_demo
from reporter.metrics import CampaignStats
from reporter.timezones import local_midnight
from tests.metrics.helpers import campaign, load, stats

ADDITIVE = ("conversions", "view_through_conversion_events", "click_through_conversion_events", "sent", "errors")


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _sum_reports(reports: list[CampaignStats]) -> dict[str, float]:
    out: dict[str, float] = {k: sum(getattr(r.totals, k) for r in reports) for k in ADDITIVE}
    out["revenue"] = round(sum(r.totals.revenue for r in reports), 6)
    return out


def _figures(report: CampaignStats) -> dict[str, float]:
    return {**{k: getattr(report.totals, k) for k in ADDITIVE}, "revenue": round(report.totals.revenue, 6)}


def _buckets(reports: list[CampaignStats]) -> list[tuple]:
    return [(b.bucket, b.sent, b.errors, b.conversions, round(b.revenue, 6)) for r in reports for b in r.trend.daily]


def check_additive(engine: Engine, cid: str, tz_name: str) -> CampaignStats:
    """Every day's report, every month's, and the whole life's agree; returns the whole life's."""
    tz = ZoneInfo(tz_name)
    life = stats(engine, cid, tz=tz_name)
    first, last = life.period.start.date(), (life.period.end - timedelta(microseconds=1)).astimezone(tz).date()
    daily = [
        stats(engine, cid, local_midnight(d, tz), local_midnight(d + timedelta(days=1), tz), tz_name, copy=False)
        for d in _days(first, last)
    ]
    assert _sum_reports(daily) == _figures(life)
    assert _buckets(daily) == _buckets([life])
    months = sorted({(d.year, d.month) for d in _days(first, last)})
    monthly = []
    for y, m in months:
        start = max(life.period.start, local_midnight(date(y, m, 1), tz))
        end = min(life.period.end, local_midnight(date(y + m // 12, m % 12 + 1, 1), tz))
        month = stats(engine, cid, start, end, tz_name)
        in_month = [r for r in daily if start <= r.period.start < end]
        assert _sum_reports(in_month) == _figures(month), (y, m)
        monthly.append(month)
    assert _sum_reports(monthly) == _figures(life)
    return life


@pytest.fixture(scope="module")
def demo(module_engine: Engine) -> Engine:
    """The demo data set, loaded once for both timezones: the tests only read it."""
    load_demo(module_engine, 1500, 7)
    return module_engine


@pytest.mark.parametrize("tz_name", ["UTC", "America/New_York"])
def test_demo_daily_reports_add_up_to_the_month_and_the_life(demo: Engine, tz_name: str) -> None:
    for plan in PLANS:
        life = check_additive(demo, plan.campaign_id, tz_name)
        assert life.totals.conversions > 50, plan.campaign_id  # enough data for the check to mean something


def test_hand_built_case_across_a_dst_change_adds_up(engine: Engine) -> None:
    """New York falls back on 2026-11-01 (a 25-hour day); window 24 h.

    u1 sent 10-31 22:00 EDT (11-01 02:00Z); converts 11-01 20:30 EST (11-02 01:30Z, 23.5 h later): day 11-01.
    u2 sent 11-01 23:30 EST (11-02 04:30Z), impression 23:40, click 23:50; converts 11-02 00:10 (05:10Z), 9.50.
    u3 sent 10-31 01:00 EDT (05:00Z); converts 11-01 00:30 EDT (04:30Z): 23.5 h, day 11-01, 20.00.
    u4 sent 10-30 12:00Z; converts 10-31 12:00:01Z: one second past the window, never counted.
    """
    events = [
        {"campaign_id": "d", "user_id": "u1", "event": "sent", "ts": "2026-11-01T02:00:00Z"},
        {"campaign_id": "d", "user_id": "u1", "event": "conversion", "ts": "2026-11-02T01:30:00Z", "revenue": "5.25"},
        {"campaign_id": "d", "user_id": "u2", "event": "sent", "ts": "2026-11-02T04:30:00Z"},
        {"campaign_id": "d", "user_id": "u2", "event": "impression", "ts": "2026-11-02T04:40:00Z"},
        {"campaign_id": "d", "user_id": "u2", "event": "click", "ts": "2026-11-02T04:50:00Z"},
        {"campaign_id": "d", "user_id": "u2", "event": "conversion", "ts": "2026-11-02T05:10:00Z", "revenue": "9.50"},
        {"campaign_id": "d", "user_id": "u3", "event": "sent", "ts": "2026-10-31T05:00:00Z"},
        {"campaign_id": "d", "user_id": "u3", "event": "conversion", "ts": "2026-11-01T04:30:00Z", "revenue": "20"},
        {"campaign_id": "d", "user_id": "u4", "event": "sent", "ts": "2026-10-30T12:00:00Z"},
        {"campaign_id": "d", "user_id": "u4", "event": "conversion", "ts": "2026-10-31T12:00:01Z", "revenue": "1"},
    ]
    record = {**campaign("d"), "start_at": "2026-10-30T00:00:00Z"}
    load(engine, [record], events)
    tz = "America/New_York"
    life = check_additive(engine, "d", tz)
    assert (life.totals.conversions, life.totals.revenue) == (3, 34.75)
    assert (life.totals.view_through_conversion_events, life.totals.click_through_conversion_events) == (1, 1)
    by_day = {b.bucket: (b.conversions, b.revenue) for b in life.trend.daily}
    assert by_day == {
        "2026-10-29": (0, 0.0),
        "2026-10-30": (0, 0.0),
        "2026-10-31": (0, 0.0),
        "2026-11-01": (2, 25.25),
        "2026-11-02": (1, 9.5),
    }
    # The 25-hour day alone: both conversions, though their sends were the day before (its one send is u2's).
    ny = ZoneInfo(tz)
    day = stats(engine, "d", datetime(2026, 11, 1, tzinfo=ny), datetime(2026, 11, 2, tzinfo=ny), tz)
    assert (day.totals.conversions, day.totals.revenue, day.totals.sent) == (2, 25.25, 1)
    assert len(day.trend.hourly or ()) == 25
