"""Writing report files: safe names from data, atomic writes."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the metrics package (NumPy, the queries) is not for every command that reads the config
    from reporter.metrics.model import Period

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


FORMATS = ("pdf", "html", "csv", "xlsx")  # the formats of a report, in the order they are produced
DEFAULT_FORMATS = ("pdf", "html")  # a job's and `reporter render`'s formats when none are given
EXTENSIONS = {"pdf": "pdf", "html": "html", "csv": "csv.zip", "xlsx": "xlsx"}  # csv: one file per table, zipped
HEX_COLOUR = r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})"  # the only accent colour that may go into a stylesheet


def safe_name(text: str, limit: int = 80) -> str:
    """A file or folder name made from data: never empty, never '.' or '..', no separators.

    A name that had to change gets a short hash of the original, so two ids
    that clean up alike (`a/b`, `a?b`) still get different names.
    """
    cleaned = _UNSAFE.sub("-", text).strip(".-")[:limit]
    if cleaned == text and cleaned:
        return cleaned
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned}-{digest}" if cleaned else digest


def period_name(period: Period) -> str:
    """A period's ISO form: 2026-11-25 (a day), 2026-W47 (an ISO week), 2026-10 (a month), else first..last day.

    Both days of a range are included, as in the report's title (Oct 5 – Oct 11 is 2026-10-05..2026-10-11);
    a period that does not start and end at local midnight gives its times (2026-10-05T0600..2026-10-05T1800).
    """
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(period.timezone)
    start, end = period.start.astimezone(tz), period.end.astimezone(tz)
    midnight = datetime.min.time()
    if start.time() != midnight or end.time() != midnight:
        return f"{start:%Y-%m-%dT%H%M}..{end:%Y-%m-%dT%H%M}"
    first, stop = start.date(), end.date()
    if stop - first == timedelta(days=1):
        return first.isoformat()
    if stop - first == timedelta(days=7) and first.weekday() == 0:
        year, week, _ = first.isocalendar()
        return f"{year}-W{week:02d}"
    if first.day == 1 and stop == _next_month(first):
        return f"{first:%Y-%m}"
    return f"{first.isoformat()}..{(stop - timedelta(days=1)).isoformat()}"


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so that a reader sees the old content or the new, never half of it.

    The file gets the ordinary mode (0666 less the umask), not tempfile's 0600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
