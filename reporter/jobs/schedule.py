"""Job schedules: 5-field cron expressions and the shorthands hourly, daily HH:MM, weekly DAY HH:MM, monthly D HH:MM."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")  # crontab: 0 and 7 are Sunday
_TIME = r"([01]?\d|2[0-3]):([0-5]\d)"


def _cron_weekdays(field: str) -> str:
    """Crontab weekday numbers (0 = Sunday) as names: APScheduler 3 counts 0 as Monday."""

    def name(match: re.Match[str]) -> str:
        number = int(match[0])
        if number > 7:
            raise ValueError(f"weekday {number} is out of range 0-7")
        return CRON_DAYS[number]

    return re.sub(r"(?<![/\d])\d+", name, field)


def trigger(schedule: str, timezone: str) -> CronTrigger:
    """The trigger of a schedule; ValueError with a one-line reason when it is not valid."""
    text = " ".join(schedule.split()).lower()
    if text == "hourly":
        return CronTrigger(minute=0, timezone=timezone)
    if m := re.fullmatch(rf"daily {_TIME}", text):
        return CronTrigger(hour=int(m[1]), minute=int(m[2]), timezone=timezone)
    if m := re.fullmatch(rf"weekly ({'|'.join(DAYS)})[a-z]* {_TIME}", text):
        return CronTrigger(day_of_week=m[1], hour=int(m[2]), minute=int(m[3]), timezone=timezone)
    if m := re.fullmatch(rf"monthly (\d{{1,2}}|last) {_TIME}", text):
        day = m[1]
        if day != "last" and not 1 <= int(day) <= 31:
            raise ValueError(f"invalid day of month in {schedule!r}")
        return CronTrigger(day=day, hour=int(m[2]), minute=int(m[3]), timezone=timezone)
    fields = text.split(" ")
    if len(fields) != 5:
        raise ValueError(
            f"invalid schedule {schedule!r} (expected a 5-field cron expression, hourly, "
            "daily HH:MM, weekly DAY HH:MM or monthly D HH:MM)"
        )
    try:
        minute, hour, day, month, weekday = fields
        return CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=_cron_weekdays(weekday), timezone=timezone
        )
    except ValueError:
        raise ValueError(f"invalid cron expression {schedule!r}") from None


def latest_fire_time(schedule: str, timezone: str, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest time the schedule fired at or before `now`, looking back at most `lookback`."""
    t = trigger(schedule, timezone)
    fire = t.get_next_fire_time(None, now - lookback)
    latest = None
    while fire is not None and fire <= now:
        latest = fire
        fire = t.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return latest


def next_fire_time(schedule: str, timezone: str, now: datetime) -> datetime | None:
    """The first time the schedule fires after `now`."""
    fire: datetime | None = trigger(schedule, timezone).get_next_fire_time(None, now + timedelta(microseconds=1))
    return fire
