"""Bucketing in the report timezone, across the end of US daylight saving time.

2026-11-01 is a Sunday; New York falls back from UTC-4 to UTC-5 at 06:00 UTC.
Kolkata is UTC+5:30 all year.

    send (UTC)          New York            Kolkata
    11-01 03:30         10-31 23:30 EDT     11-01 09:00
    11-01 04:30         11-01 00:30 EDT     11-01 10:00
    11-01 19:00         11-01 14:00 EST     11-02 00:30
    11-02 04:30         11-01 23:30 EST     11-02 10:00
    11-02 05:00         11-02 00:00 EST     11-02 10:30
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from tests.metrics.helpers import campaign, load, stats

SENDS = ["2026-11-01T03:30:00Z", "2026-11-01T04:30:00Z", "2026-11-01T19:00:00Z", "2026-11-02T04:30:00Z", "2026-11-02T05:00:00Z"]


@pytest.fixture
def sends(engine: Engine) -> Engine:
    load(engine, [campaign("tz")], [{"campaign_id": "tz", "user_id": f"u{i}", "event": "sent", "ts": ts} for i, ts in enumerate(SENDS)])
    return engine


@pytest.mark.parametrize(
    ("tz", "daily", "weekly", "monthly"),
    [
        ("UTC", [("2026-11-01", 3), ("2026-11-02", 2)], [("2026-10-26", 3), ("2026-11-02", 2)], [("2026-11", 5)]),
        (
            "America/New_York",
            [("2026-10-31", 1), ("2026-11-01", 3), ("2026-11-02", 1)],
            [("2026-10-26", 4), ("2026-11-02", 1)],
            [("2026-10", 1), ("2026-11", 4)],
        ),
        ("Asia/Kolkata", [("2026-11-01", 2), ("2026-11-02", 3)], [("2026-10-26", 2), ("2026-11-02", 3)], [("2026-11", 5)]),
    ],
)
def test_buckets_follow_the_timezone(sends: Engine, tz: str, daily: list, weekly: list, monthly: list) -> None:
    zone = ZoneInfo(tz)
    st = stats(sends, "tz", datetime(2026, 10, 30, tzinfo=zone), datetime(2026, 11, 5, tzinfo=zone), tz)
    assert [(b.bucket, b.sent) for b in st.trend.daily] == daily
    assert [(b.bucket, b.sent) for b in st.trend.weekly] == weekly
    assert [(b.bucket, b.sent) for b in st.trend.monthly] == monthly
    assert st.period.timezone == tz


def test_spring_forward_day_has_23_hours(engine: Engine) -> None:
    # New York springs forward on 2026-03-08 at 07:00 UTC; that local day ends at 04:00 UTC on 03-09.
    events = [
        {"campaign_id": "tz", "user_id": "a", "event": "sent", "ts": "2026-03-08T05:00:00Z"},  # 03-08 00:00 EST
        {"campaign_id": "tz", "user_id": "b", "event": "sent", "ts": "2026-03-09T03:59:59Z"},  # 03-08 23:59:59 EDT
        {"campaign_id": "tz", "user_id": "c", "event": "sent", "ts": "2026-03-09T04:00:00Z"},  # 03-09 00:00 EDT
        {"campaign_id": "tz", "user_id": "d", "event": "sent", "ts": "2026-03-08T04:59:59Z"},  # 03-07 23:59:59 EST
    ]
    load(engine, [campaign("tz")], events)
    zone = ZoneInfo("America/New_York")
    st = stats(engine, "tz", datetime(2026, 3, 1, tzinfo=zone), datetime(2026, 3, 15, tzinfo=zone), "America/New_York")
    assert [(b.bucket, b.sent) for b in st.trend.daily] == [("2026-03-07", 1), ("2026-03-08", 2), ("2026-03-09", 1)]


def test_period_dates_are_midnight_in_the_timezone(sends: Engine) -> None:
    st = stats(sends, "tz", tz="America/New_York")
    assert st.period.start == datetime(2026, 10, 31, 4, 0, tzinfo=timezone.utc)  # 10-31 00:00 EDT
    assert st.period.end == datetime(2026, 11, 3, 5, 0, tzinfo=timezone.utc)  # 11-03 00:00 EST
    assert st.period.start.isoformat() == "2026-10-31T00:00:00-04:00"
