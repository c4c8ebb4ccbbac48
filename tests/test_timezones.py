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

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from tests.metrics.helpers import campaign, load, stats

SENDS = [
    "2026-11-01T03:30:00Z",
    "2026-11-01T04:30:00Z",
    "2026-11-01T19:00:00Z",
    "2026-11-02T04:30:00Z",
    "2026-11-02T05:00:00Z",
]


@pytest.fixture
def sends(engine: Engine) -> Engine:
    load(
        engine,
        [campaign("tz")],
        [{"campaign_id": "tz", "user_id": f"u{i}", "event": "sent", "ts": ts} for i, ts in enumerate(SENDS)],
    )
    return engine


@pytest.mark.parametrize(
    ("tz", "daily", "weekly", "monthly"),
    [
        ("UTC", [0, 0, 3, 2, 0, 0], [("2026-10-26", 3), ("2026-11-02", 2)], [("2026-10", 0), ("2026-11", 5)]),
        (
            "America/New_York",
            [0, 1, 3, 1, 0, 0],
            [("2026-10-26", 4), ("2026-11-02", 1)],
            [("2026-10", 1), ("2026-11", 4)],
        ),
        ("Asia/Kolkata", [0, 0, 2, 3, 0, 0], [("2026-10-26", 2), ("2026-11-02", 3)], [("2026-10", 0), ("2026-11", 5)]),
    ],
)
def test_buckets_follow_the_timezone(sends: Engine, tz: str, daily: list, weekly: list, monthly: list) -> None:
    zone = ZoneInfo(tz)
    st = stats(sends, "tz", datetime(2026, 10, 30, tzinfo=zone), datetime(2026, 11, 5, tzinfo=zone), tz)
    # Every day of the period, zeros included (Friday 10-30 to Wednesday 11-04).
    days = ["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]
    assert [(b.bucket, b.sent, b.partial) for b in st.trend.daily] == [
        (d, n, False) for d, n in zip(days, daily, strict=True)
    ]
    # Both weeks and both months are cut by the period.
    assert [(b.bucket, b.sent, b.partial) for b in st.trend.weekly] == [(w, n, True) for w, n in weekly]
    assert [(b.bucket, b.sent, b.partial) for b in st.trend.monthly] == [(m, n, True) for m, n in monthly]
    assert st.period.timezone == tz


def test_fall_back_day_has_25_hours_with_the_repeated_hour_labelled(engine: Engine) -> None:
    # New York falls back on 2026-11-01 at 06:00 UTC (02:00 EDT -> 01:00 EST).
    events = [
        {"campaign_id": "tz", "user_id": "a", "event": "sent", "ts": "2026-11-01T04:30:00Z"},  # 00:30 EDT
        {"campaign_id": "tz", "user_id": "b", "event": "sent", "ts": "2026-11-01T05:30:00Z"},  # 01:30 EDT
        {"campaign_id": "tz", "user_id": "c", "event": "sent", "ts": "2026-11-01T06:30:00Z"},  # 01:30 EST
        {"campaign_id": "tz", "user_id": "c", "event": "conversion", "ts": "2026-11-01T06:45:00Z"},  # 01:45 EST
        {"campaign_id": "tz", "user_id": "d", "event": "sent", "ts": "2026-11-02T04:59:59Z"},  # 23:59:59 EST
    ]
    load(engine, [campaign("tz")], events)
    zone = ZoneInfo("America/New_York")
    st = stats(engine, "tz", datetime(2026, 11, 1, tzinfo=zone), datetime(2026, 11, 2, tzinfo=zone), "America/New_York")
    hourly = st.trend.hourly
    assert hourly is not None and len(hourly) == 25
    assert [b.bucket for b in hourly[:4]] == [
        "2026-11-01T00:00",
        "2026-11-01T01:00-04:00",
        "2026-11-01T01:00-05:00",
        "2026-11-01T02:00",
    ]
    assert hourly[-1].bucket == "2026-11-01T23:00"
    assert [(b.sent, b.conversions) for b in hourly[:3]] == [(1, 0), (1, 0), (1, 1)]
    assert hourly[-1].sent == 1
    assert [(b.bucket, b.sent, b.conversions) for b in st.trend.daily] == [("2026-11-01", 4, 1)]


def test_spring_forward_day_has_23_hours_and_half_hour_zones_keep_local_hours(engine: Engine) -> None:
    events = [
        {"campaign_id": "tz", "user_id": "a", "event": "sent", "ts": "2026-03-08T06:59:59Z"},  # 01:59:59 EST
        {"campaign_id": "tz", "user_id": "b", "event": "sent", "ts": "2026-03-08T07:00:00Z"},  # 03:00 EDT
        {"campaign_id": "tz", "user_id": "c", "event": "conversion", "ts": "2026-03-08T07:10:00Z"},
    ]
    load(engine, [campaign("tz")], events)
    ny = ZoneInfo("America/New_York")
    st = stats(engine, "tz", datetime(2026, 3, 8, tzinfo=ny), datetime(2026, 3, 9, tzinfo=ny), "America/New_York")
    labels = [b.bucket for b in st.trend.hourly or ()]
    assert len(labels) == 23 and "2026-03-08T02:00" not in labels
    assert [(b.bucket, b.sent) for b in st.trend.hourly or () if b.sent] == [
        ("2026-03-08T01:00", 1),
        ("2026-03-08T03:00", 1),
    ]
    # Kolkata (UTC+5:30): 06:59:59 UTC is 12:29:59 local, 07:00 is 12:30: the same local hour.
    kolkata = ZoneInfo("Asia/Kolkata")
    st = stats(engine, "tz", datetime(2026, 3, 8, tzinfo=kolkata), datetime(2026, 3, 9, tzinfo=kolkata), "Asia/Kolkata")
    assert len(st.trend.hourly or ()) == 24
    assert [(b.bucket, b.sent) for b in st.trend.hourly or () if b.sent] == [("2026-03-08T12:00", 2)]


def test_a_period_cut_inside_hours_marks_them_partial(sends: Engine) -> None:
    st = stats(sends, "tz", datetime(2026, 11, 1, 3, 15, tzinfo=UTC), datetime(2026, 11, 1, 5, 0, tzinfo=UTC))
    assert [(b.bucket, b.sent, b.partial) for b in st.trend.hourly or ()] == [
        ("2026-11-01T03:00", 1, True),
        ("2026-11-01T04:00", 1, False),
    ]
    assert [(b.bucket, b.sent, b.partial) for b in st.trend.daily] == [("2026-11-01", 2, True)]


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
    assert [(b.bucket, b.sent) for b in st.trend.daily if b.sent] == [
        ("2026-03-07", 1),
        ("2026-03-08", 2),
        ("2026-03-09", 1),
    ]
    assert len(st.trend.daily) == 14


def test_period_dates_are_midnight_in_the_timezone(sends: Engine) -> None:
    st = stats(sends, "tz", tz="America/New_York")
    # The campaign starts on 2026-11-02 00:00 UTC, 11-01 19:00 EST: the default period starts on that
    # local day; the sends before it are outside.
    assert st.period.start == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # 11-01 00:00 EDT
    assert st.period.end == datetime(2026, 11, 3, 5, 0, tzinfo=UTC)  # 11-03 00:00 EST
    assert st.period.start.isoformat() == "2026-11-01T00:00:00-04:00"
    assert st.totals.sent == 4  # not the send at 10-31 23:30 EDT


def test_core_errors_name_no_command_line_flag(sends: Engine) -> None:
    """The core says what is wrong; only the CLI knows which option carried it (--tz, --from/--to)."""
    from reporter.errors import PeriodError, TimezoneError
    from reporter.timezones import zone

    with pytest.raises(TimezoneError) as bad_zone:
        zone("Mars/Olympus")
    assert str(bad_zone.value) == "unknown timezone 'Mars/Olympus' (expected an IANA name such as Europe/Berlin)"
    at = datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(PeriodError) as empty:
        stats(sends, "tz", at, at)
    assert (
        str(empty.value)
        == "the period is empty: from 2026-11-01T00:00:00+00:00 is not before to 2026-11-01T00:00:00+00:00"
    )
