"""Reading the run log for people: recent runs with their deliveries, the last run of each job."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select

from reporter.models import Delivery, Run

if TYPE_CHECKING:
    from reporter.settings import Settings


@dataclass(frozen=True)
class DeliveryView:
    recipient: str
    status: str
    smtp_code: int | None
    smtp_message: str | None
    kind: str | None = None  # to | cc | bcc; None for deliveries recorded before the kind was kept


@dataclass(frozen=True)
class RunView:
    id: int
    job: str
    campaign_id: str
    period: str
    status: str
    attempts: int
    claimed_at: datetime
    finished_at: datetime | None
    error: str | None
    artifacts: tuple[str, ...]
    deliveries: tuple[DeliveryView, ...]


def runs(engine: Engine, job: str | None = None, limit: int = 50) -> list[RunView]:
    """The most recent runs (of one job), newest first, with their deliveries."""
    query = select(Run).order_by(Run.claimed_at.desc(), Run.id.desc()).limit(limit)
    if job:
        query = query.where(Run.job == job)
    with engine.connect() as conn:
        rows = conn.execute(query.with_only_columns(*Run.__table__.c)).all()
        ids = [r.id for r in rows]
        deliveries: dict[int, list[DeliveryView]] = {}
        if ids:
            for d in conn.execute(select(*Delivery.__table__.c).where(Delivery.run_id.in_(ids)).order_by(Delivery.id)):
                deliveries.setdefault(d.run_id, []).append(
                    DeliveryView(d.recipient, d.status, d.smtp_code, d.smtp_message, d.kind)
                )
    return [_view(r, deliveries.get(r.id, ())) for r in rows]


def _view(r: Any, deliveries: Iterable[DeliveryView]) -> RunView:
    """A run-log row as a RunView, with its deliveries."""
    return RunView(
        r.id,
        r.job,
        r.campaign_id,
        r.period,
        r.status,
        r.attempts,
        r.claimed_at,
        r.finished_at,
        r.error,
        tuple(json.loads(r.artifacts or "[]")),
        tuple(deliveries),
    )


def last_runs(engine: Engine) -> dict[str, RunView]:
    """The latest run of every job."""
    latest = select(Run.job, func.max(Run.claimed_at).label("at")).group_by(Run.job).subquery()
    with engine.connect() as conn:
        rows = conn.execute(
            select(*Run.__table__.c).join(latest, (Run.job == latest.c.job) & (Run.claimed_at == latest.c.at))
        ).all()
    return {r.job: _view(r, ()) for r in rows}


def job_overview(engine: Engine, settings: Settings, now: datetime) -> list[dict[str, str | None]]:
    """Each configured job with its schedule, next fire time and last run (for `reporter jobs` and the web app)."""
    from reporter.jobs.schedule import next_fire_time

    last = last_runs(engine)
    out: list[dict[str, str | None]] = []
    for job in settings.jobs:
        tz = settings.timezone_of(job)
        nxt = next_fire_time(job.schedule, tz, now)
        run = last.get(job.name)
        campaigns: str
        if isinstance(job.campaigns, str):
            campaigns = job.campaigns
        elif isinstance(job.campaigns, list):
            campaigns = ", ".join(job.campaigns)
        else:
            campaigns = f"name: {job.campaigns.name}"
        out.append(
            {
                "name": job.name,
                "schedule": job.schedule,
                "timezone": tz,
                "campaigns": campaigns,
                "period": job.period,
                "next_run": nxt.isoformat(timespec="minutes") if nxt else None,
                "last_run": run.claimed_at.isoformat(timespec="minutes") if run else None,
                "last_status": run.status if run else None,
            }
        )
    return out
