"""Timezone arithmetic for bucketing in the database without dialect date functions.

A timezone's UTC offset is constant between transitions, so over a period it is
a short list of segments. The metrics engine turns that list into one CASE
expression (`ts < t1 -> o1, ts < t2 -> o2, ...`) and buckets by integer
division of the local time: identical on every database, DST changes included.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reporter.errors import TimezoneError

US = 1_000_000
HOUR_US = 3_600 * US
DAY_US = 24 * HOUR_US
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_DATE = date(1970, 1, 1)


def parse_zone(name: str) -> ZoneInfo:
    """The IANA timezone of that name; ValueError for anything else (paths included)."""
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError):
        raise ValueError(f"unknown timezone {name!r}") from None


def zone(name: str) -> ZoneInfo:
    """The IANA timezone of that name; an unknown one is a TimezoneError (a user error)."""
    try:
        return parse_zone(name)
    except ValueError as exc:
        raise TimezoneError(f"{exc} (expected an IANA name such as Europe/Berlin)") from None


def to_us(dt: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    delta = dt - EPOCH
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def _offset_s(tz: ZoneInfo, seconds: int) -> int:
    return int(datetime.fromtimestamp(seconds, tz).utcoffset().total_seconds())  # type: ignore[union-attr]


def offset_segments(tz: ZoneInfo, start_us: int, end_us: int) -> list[tuple[int, int]]:
    """The UTC offsets over [start, end): [(until_us, offset_us), ...], the last until end_us."""
    start_s = start_us // US
    end_s = -(-end_us // US)
    segments: list[tuple[int, int]] = []
    current = _offset_s(tz, start_s)
    t = start_s
    while t < end_s:
        step = min(86_400, end_s - t)
        nxt = _offset_s(tz, t + step)
        if nxt != current:
            lo, hi = t, t + step  # offset(lo) == current, offset(hi) != current
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset_s(tz, mid) == current:
                    lo = mid
                else:
                    hi = mid
            segments.append((hi * US, current * US))
            current = _offset_s(tz, hi)
            t = hi
        else:
            t += step
    segments.append((end_us, current * US))
    return segments


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The aware instant at which `day` starts in `tz` (the first instant of it across a gap)."""
    naive = datetime(day.year, day.month, day.day)
    aware = naive.replace(tzinfo=tz)
    # A midnight skipped by a DST gap (rare, e.g. America/Santiago) starts at the gap's end.
    back = aware.astimezone(UTC).astimezone(tz)
    if back.replace(tzinfo=None) != naive:
        aware = back
    return aware
