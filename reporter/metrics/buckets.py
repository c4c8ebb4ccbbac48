"""The trend's buckets: every local hour, day, ISO week and month that overlaps a period.

The database groups events by a bucket key (`queries.Scope.bucket_of`): the
local day number, or for periods of at most seven days the local clock hour.
This module lists the buckets of a period with their keys, labels and
boundaries, and folds the per-key figures into the trend, zeros included.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from reporter.metrics.model import Period, Trend, TrendBucket
from reporter.timezones import EPOCH_DATE, HOUR_US, US, from_us, local_midnight, to_us, zone

HOURLY_MAX = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bucket the database counts into: its key, its part of the period, and the local day holding it."""

    key: int
    lo: int  # first microsecond inside the period
    hi: int  # end, exclusive
    day: date
    label: str
    partial: bool  # the period covers only part of it


@dataclass(frozen=True, slots=True)
class BucketPlan:
    hourly: bool
    buckets: tuple[Bucket, ...]
    days: tuple[tuple[date, bool], ...]  # every local day overlapping the period, and whether it is cut

    def rows(self) -> list[tuple[int, int, int]]:
        """(key, first us, end us) for the database."""
        return [(b.key, b.lo, b.hi) for b in self.buckets]


def is_hourly(period: Period) -> bool:
    """Hourly buckets for periods of at most seven days on the local clock."""
    tz = zone(period.timezone)
    local = period.end.astimezone(tz).replace(tzinfo=None) - period.start.astimezone(tz).replace(tzinfo=None)
    return local <= HOURLY_MAX


def plan(period: Period) -> BucketPlan:
    """Every local day (or clock hour) that overlaps the period, clipped to it, in time order."""
    tz = zone(period.timezone)
    start_us, end_us = to_us(period.start), to_us(period.end)
    hourly = is_hourly(period)
    first = period.start.astimezone(tz).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(tz).date()
    buckets: list[Bucket] = []
    days: list[tuple[date, bool]] = []
    day = first
    while day <= last:
        lo_full = to_us(local_midnight(day, tz))
        hi_full = to_us(local_midnight(day + timedelta(days=1), tz))
        lo, hi = max(start_us, lo_full), min(end_us, hi_full)
        days.append((day, (lo, hi) != (lo_full, hi_full)))
        if hourly:
            buckets.extend(_hours(day, lo_full, hi_full, start_us, end_us, tz))
        else:
            buckets.append(Bucket((day - EPOCH_DATE).days, lo, hi, day, day.isoformat(), days[-1][1]))
        day += timedelta(days=1)
    return BucketPlan(hourly, tuple(buckets), tuple(days))


def _hours(day: date, lo_full: int, hi_full: int, start_us: int, end_us: int, tz: object) -> list[Bucket]:
    """The local clock hours of one day (23 or 25 on DST days); a repeated hour is labelled with its offset."""
    hours = []
    for u in range(lo_full, hi_full, HOUR_US):
        local = from_us(u).astimezone(tz)  # type: ignore[arg-type]
        offset_us = round(local.utcoffset().total_seconds()) * US  # type: ignore[union-attr]
        hours.append((u, local, (u + offset_us % HOUR_US) // HOUR_US))
    names = [local.strftime("%Y-%m-%dT%H:00") for _, local, _ in hours]
    out = []
    for (u, local, key), name in zip(hours, names, strict=True):
        lo, hi = max(start_us, u), min(end_us, u + HOUR_US, hi_full)
        if lo >= hi:
            continue
        if names.count(name) > 1:
            name += local.isoformat()[-6:]
        out.append(Bucket(key, lo, hi, day, name, (lo, hi) != (u, min(u + HOUR_US, hi_full))))
    return out


def fold(plan: BucketPlan, figures: Mapping[int, Mapping[str, float]]) -> Trend:
    """The trend of per-key figures: hourly (when planned), daily, weekly and monthly, zeros included."""
    by_day: dict[date, dict[str, float]] = {d: defaultdict(float) for d, _ in plan.days}
    day_partial = dict(plan.days)
    for b in plan.buckets:
        acc = by_day[b.day]
        for k, v in figures.get(b.key, {}).items():
            acc[k] += v
    daily = tuple(_bucket(d.isoformat(), f, day_partial[d]) for d, f in by_day.items())
    weekly = _group(
        by_day,
        day_partial,
        lambda d: d - timedelta(days=d.weekday()),
        lambda d: d.isoformat(),
        lambda d: [d + timedelta(days=i) for i in range(7)],
    )
    monthly = _group(by_day, day_partial, lambda d: d.replace(day=1), lambda d: d.strftime("%Y-%m"), _month_days)
    hourly = tuple(_bucket(b.label, figures.get(b.key, {}), b.partial) for b in plan.buckets) if plan.hourly else None
    return Trend(daily, weekly, monthly, hourly)


def _month_days(first: date) -> list[date]:
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return [first + timedelta(days=i) for i in range((nxt - first).days)]


def _group(
    by_day: dict[date, dict[str, float]],
    day_partial: dict[date, bool],
    key_of: Callable[[date], date],
    label_of: Callable[[date], str],
    days_of: Callable[[date], list[date]],
) -> tuple[TrendBucket, ...]:
    """Days summed into weeks or months (keyed by their first day); partial unless every day is whole."""
    groups: dict[date, dict[str, float]] = {}
    for d, figures in by_day.items():
        acc = groups.setdefault(key_of(d), defaultdict(float))
        for k, v in figures.items():
            acc[k] += v
    return tuple(
        _bucket(label_of(key), figures, any(d not in by_day or day_partial[d] for d in days_of(key)))
        for key, figures in groups.items()
    )


def _bucket(label: str, figures: Mapping[str, float], partial: bool) -> TrendBucket:
    return TrendBucket(
        bucket=label,
        sent=int(figures.get("sent", 0)),
        impressions=int(figures.get("impressions", 0)),
        clicks=int(figures.get("clicks", 0)),
        errors=int(figures.get("errors", 0)),
        conversions=int(figures.get("conversions", 0)),
        revenue=money(figures.get("revenue", 0.0)),
        partial=partial,
    )


def money(value: float) -> float:
    """A revenue sum without the float noise of adding many decimals (0.1 + 0.2)."""
    return round(float(value), 6) + 0.0
