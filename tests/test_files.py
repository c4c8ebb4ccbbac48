"""File helpers: atomic writes keep the ordinary mode of a file; a period is named by its days."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reporter.files import write_atomic


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_write_atomic_gives_the_umask_mode_not_0600(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "report.pdf", b"%PDF-1.7")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "report.pdf").stat().st_mode) == mode
    assert (tmp_path / "report.pdf").read_bytes() == b"%PDF-1.7"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]


@pytest.mark.parametrize(
    ("start", "end", "name"),
    [
        ("2026-11-25T00:00", "2026-11-26T00:00", "2026-11-25"),
        ("2026-10-05T00:00", "2026-10-12T00:00", "2026-W41"),
        ("2026-10-01T00:00", "2026-11-01T00:00", "2026-10"),
        # A range names its last day, as the title does ("Oct 1 – Nov 2"), not the excluded end.
        ("2026-10-01T00:00", "2026-11-03T00:00", "2026-10-01..2026-11-02"),
        ("2026-10-06T00:00", "2026-10-13T00:00", "2026-10-06..2026-10-12"),
        ("2026-10-05T06:00", "2026-10-05T18:00", "2026-10-05T0600..2026-10-05T1800"),
    ],
)
def test_a_period_is_named_by_its_days_in_its_timezone(start: str, end: str, name: str) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from reporter.files import period_name
    from reporter.formatting import period as title
    from reporter.metrics.model import Period

    tz = ZoneInfo("America/New_York")
    period = Period(
        datetime.fromisoformat(start).replace(tzinfo=tz),
        datetime.fromisoformat(end).replace(tzinfo=tz),
        "America/New_York",
    )
    assert period_name(period) == name
    if ".." in name and "T" not in name:
        _first, last = name.split("..")
        assert title(period.start, period.end, period.timezone).endswith(f"{int(last[8:])}, {last[:4]}")
