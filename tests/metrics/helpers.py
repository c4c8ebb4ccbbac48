"""Building small hand-made data sets through the real validation and storage path."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from reporter.db import with_copy
from reporter.ingest import campaign_refs, parse_campaign, parse_event, store_campaigns, store_events
from reporter.metrics import CampaignStats, compute_stats, compute_stats_concurrently

T0 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
# One columnar copy per test process (each test's database replaces the previous one's in it).
COPY = Path(tempfile.gettempdir()) / f"reporter-test-copy-{os.getpid()}.duckdb"


def at(hours: float) -> str:
    """The ISO timestamp `hours` after T0."""
    return (T0 + timedelta(hours=hours)).isoformat()


def campaign(
    cid: str,
    ctype: str = "single",
    window: float = 24,
    control: float = 0,
    variants: Any = None,
    planned: int | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "campaign_id": cid,
        "name": f"Campaign {cid}",
        "type": ctype,
        "start_at": T0.isoformat(),
        "conversion_window_hours": window,
        "control_group_pct": control,
        "conversion_event": "Charged",
    }
    if variants is not None:
        record["variants"] = variants
    if planned is not None:
        record["planned_users"] = planned
    return record


def load(engine: Engine, campaigns: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
    store_campaigns(engine, [parse_campaign(c) for c in campaigns])
    refs = campaign_refs(engine)
    store_events(engine, [parse_event(e, refs) for e in events])


def ev(cid: str, user: str, kind: str, hours: float, **extra: Any) -> dict[str, Any]:
    return {"campaign_id": cid, "user_id": user, "event": kind, "ts": at(hours), **extra}


def stats(
    engine: Engine,
    cid: str,
    start: datetime | None = None,
    end: datetime | None = None,
    tz: str = "UTC",
    now: datetime | None = None,
    copy: bool = True,
) -> CampaignStats:
    """The stats on one connection, checked equal to the concurrent path (PostgreSQL: two connections) and, with
    `copy`, to those computed in a columnar copy of the events (DuckDB, `database.columnar_copy`)."""
    with engine.connect() as conn:
        result = compute_stats(conn, cid, start, end, tz, now)
    assert compute_stats_concurrently(engine, cid, start, end, tz, now=now) == result
    if copy:
        assert compute_stats_concurrently(with_copy(engine, COPY), cid, start, end, tz, now=now) == result
    return result
