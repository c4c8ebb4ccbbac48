"""Shared by the loader's tests: the sample files, an events CSV writer, the events stored."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select

from reporter.models import Event

DATA = Path(__file__).parent.parent / "data"
HEADER = "event_id,campaign_id,variant,user_id,device_id,event,ts,platform,device_type,channel,error_code,revenue\n"


def count_events(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Event)).scalar_one()


def write_events_csv(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


GOOD_ROWS = [
    "e1,c-single,,u1,d1,sent,2026-11-02T10:00:00Z,iOS,Phone,,,",
    "e2,c-single,,u1,d1,impression,2026-11-02T10:01:00+01:00,ios,phone,push,,",
    "e3,c-single,,u1,d1,conversion,2026-11-02T12:00:00,,,,,19.90",
    "e4,c-ab,A,u2,,sent,2026-11-02T10:00:00Z,android,tablet,app_inbox,,",
    "e5,c-ab,B,u3,,error,2026-11-02T10:00:00Z,android,,,UNREGISTERED,",
    ",c-ab,,u4,,qualified,2026-11-02T09:00:00Z,,,,,",
]
