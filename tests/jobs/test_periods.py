"""Named periods from fire times around month ends and DST changes, in two timezones."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from reporter.jobs.periods import period_bounds
from reporter.jobs.schedule import latest_fire_time, trigger

BERLIN, NY = "Europe/Berlin", "America/New_York"


def local(tz: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz))


@pytest.mark.parametrize(
    ("name", "fire", "tz", "start", "end"),
    [
        # Berlin leaves summer time on 2026-10-25 (a 25-hour day).
        ("yesterday", (2026, 10, 26, 7), BERLIN, (2026, 10, 25), (2026, 10, 26)),
        ("yesterday", (2026, 11, 1, 0, 30), BERLIN, (2026, 10, 31), (2026, 11, 1)),
        ("last_7_days", (2026, 10, 28, 7), BERLIN, (2026, 10, 21), (2026, 10, 28)),
        ("last_week", (2026, 10, 28, 7), BERLIN, (2026, 10, 19), (2026, 10, 26)),
        ("last_week", (2026, 10, 26, 0, 0), BERLIN, (2026, 10, 19), (2026, 10, 26)),
        ("last_month", (2026, 11, 1, 6), BERLIN, (2026, 10, 1), (2026, 11, 1)),
        ("last_month", (2026, 3, 1, 6), NY, (2026, 2, 1), (2026, 3, 1)),
        ("last_month", (2026, 1, 1, 6), NY, (2025, 12, 1), (2026, 1, 1)),
        # New York springs forward on 2026-03-08 (a 23-hour day) and falls back on 2026-11-01.
        ("yesterday", (2026, 3, 9, 7), NY, (2026, 3, 8), (2026, 3, 9)),
        ("yesterday", (2026, 11, 2, 7), NY, (2026, 11, 1), (2026, 11, 2)),
        ("last_7_days", (2026, 3, 10, 7), NY, (2026, 3, 3), (2026, 3, 10)),
        ("yesterday", (2026, 3, 1, 7), NY, (2026, 2, 28), (2026, 3, 1)),
        ("yesterday", (2024, 3, 1, 7), NY, (2024, 2, 29), (2024, 3, 1)),
    ],
)
def test_named_periods(name: str, fire: tuple, tz: str, start: tuple, end: tuple) -> None:
    got_start, got_end = period_bounds(name, local(tz, *fire), tz)
    assert got_start == local(tz, *start) and got_end == local(tz, *end)
    assert got_start.astimezone(ZoneInfo(tz)).hour == 0 and got_end.astimezone(ZoneInfo(tz)).hour == 0


def test_dst_days_have_their_real_length() -> None:
    # (Aware datetimes of one zone subtract as wall clocks: compare in UTC.)
    start, end = period_bounds("yesterday", local(BERLIN, 2026, 10, 26, 7), BERLIN)
    assert (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() == 25 * 3600
    start, end = period_bounds("yesterday", local(NY, 2026, 3, 9, 7), NY)
    assert (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() == 23 * 3600


def test_month_to_date_and_lifetime_end_at_the_fire_time() -> None:
    fire = local(BERLIN, 2026, 11, 26, 7)
    assert period_bounds("month_to_date", fire, BERLIN) == (local(BERLIN, 2026, 11, 1), fire)
    first = datetime(2026, 10, 3, 22, 30, tzinfo=UTC)  # 10-04 00:30 in Berlin
    assert period_bounds("campaign_lifetime", fire, BERLIN, first) == (local(BERLIN, 2026, 10, 4), fire)


def test_the_fire_time_is_taken_in_the_jobs_timezone() -> None:
    # 23:30 UTC on 10-31 is already 11-01 in Berlin: yesterday there is 10-31.
    fire = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    assert period_bounds("yesterday", fire, BERLIN)[0] == local(BERLIN, 2026, 10, 31)
    assert period_bounds("yesterday", fire, "UTC")[0] == datetime(2026, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        ("0 7 * * 1", (2026, 11, 26), (2026, 11, 30, 7)),  # crontab 1 = Monday
        ("0 7 * * 0", (2026, 11, 26), (2026, 11, 29, 7)),  # crontab 0 = Sunday (APScheduler would say Monday)
        ("0 7 * * 7", (2026, 11, 26), (2026, 11, 29, 7)),
        ("30 6 * * 1-5", (2026, 11, 28), (2026, 11, 30, 6, 30)),
        ("daily 07:00", (2026, 11, 26, 8), (2026, 11, 27, 7)),
        ("weekly monday 08:15", (2026, 11, 26), (2026, 11, 30, 8, 15)),
        ("monthly 1 06:00", (2026, 11, 26), (2026, 12, 1, 6)),
        ("hourly", (2026, 11, 26, 8, 10), (2026, 11, 26, 9)),
    ],
)
def test_schedules(schedule: str, after: tuple, expected: tuple) -> None:
    fire = trigger(schedule, BERLIN).get_next_fire_time(None, local(BERLIN, *after))
    assert fire == local(BERLIN, *expected)


def test_latest_fire_time() -> None:
    from datetime import timedelta

    now = local(BERLIN, 2026, 11, 26, 7, 20)
    assert latest_fire_time("daily 07:00", BERLIN, now, timedelta(hours=1)) == local(BERLIN, 2026, 11, 26, 7)
    assert latest_fire_time("daily 07:00", BERLIN, now, timedelta(minutes=10)) is None


def test_a_period_option_may_be_one_day_in_the_jobs_timezone() -> None:
    from reporter.jobs.runner import parse_period

    start, end = parse_period("2026-11-01", "America/New_York")  # the 25-hour day of the fall-back
    assert (start.isoformat(), end.isoformat()) == ("2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00")
