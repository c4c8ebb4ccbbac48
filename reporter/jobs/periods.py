"""Report periods computed from a job's fire time, in the job's timezone (DST-safe)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from reporter.timezones import local_midnight

PERIODS = ("yesterday", "last_7_days", "last_week", "last_month", "month_to_date", "campaign_lifetime")


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _previous_month_start(day: date) -> date:
    first = _month_start(day)
    return _month_start(first - timedelta(days=1))


def period_bounds(
    name: str, fire_time: datetime, timezone: str, first_event: datetime | None = None
) -> tuple[datetime, datetime]:
    """[start, end) of a named period for a fire time; days start at local midnight in the timezone."""
    tz = ZoneInfo(timezone)
    local = fire_time.astimezone(tz)
    today = local.date()

    def midnight(day: date) -> datetime:
        return local_midnight(day, tz)

    if name == "yesterday":
        return midnight(today - timedelta(days=1)), midnight(today)
    if name == "last_7_days":
        return midnight(today - timedelta(days=7)), midnight(today)
    if name == "last_week":
        monday = today - timedelta(days=today.weekday())
        return midnight(monday - timedelta(days=7)), midnight(monday)
    if name == "last_month":
        return midnight(_previous_month_start(today)), midnight(_month_start(today))
    if name == "month_to_date":
        start = midnight(_month_start(today))
        end = local if local > start else start + timedelta(microseconds=1)
        return start, end
    if name == "campaign_lifetime":
        start = first_event.astimezone(tz) if first_event else midnight(today)
        start = midnight(start.date())
        return start, max(local, start + timedelta(microseconds=1))
    raise ValueError(f"unknown period {name!r} (expected one of {', '.join(PERIODS)})")
