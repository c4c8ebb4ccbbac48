"""The run log: one record per unit of work (job, campaign, period), claimed before any work.

A unit is claimed by inserting its row (a unique key on job, campaign and
period) or, for a failed or abandoned unit, by a conditional UPDATE on the
status it was seen in; whoever's statement changes the row owns the unit.
Every change of state goes through `set_status`.
"""

from __future__ import annotations

import json
import socket
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from reporter.models import Delivery, Run, RunStatus

WORKING = (RunStatus.CLAIMED, RunStatus.RENDERING, RunStatus.STORED)
STALE_AFTER = timedelta(hours=1)


class ClaimResult(StrEnum):
    NEW = "new"  # first attempt
    RETRY = "retry"  # a failed (or abandoned) unit taken again
    DONE = "done"  # already delivered (or stored, for an archive-only unit): nothing to do
    BUSY = "busy"  # another process is working on it


@dataclass(frozen=True)
class Claim:
    result: ClaimResult
    run_id: int
    status: str
    attempts: int


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(
    engine: Engine,
    job: str,
    campaign_id: str,
    period: str,
    period_from: datetime,
    period_to: datetime,
    timezone: str,
    now: datetime,
    terminal: tuple[str, ...] = (RunStatus.DELIVERED,),
) -> Claim:
    """Claim a unit of work; see ClaimResult for what can come back."""
    owner = owner_name()
    row = {
        "job": job, "campaign_id": campaign_id, "period": period, "period_from": period_from, "period_to": period_to,
        "timezone": timezone, "status": RunStatus.CLAIMED, "owner": owner, "attempts": 1, "claimed_at": now,
        "updated_at": now,
    }
    try:
        with engine.begin() as conn:
            run_id = conn.execute(insert(Run).values(**row).returning(Run.id)).scalar_one()
        return Claim(ClaimResult.NEW, run_id, RunStatus.CLAIMED, 1)
    except IntegrityError:
        pass
    with engine.begin() as conn:
        run = conn.execute(
            select(Run.id, Run.status, Run.attempts, Run.updated_at)
            .where(Run.job == job, Run.campaign_id == campaign_id, Run.period == period)
        ).one()
    updated_at = run.updated_at if run.updated_at.tzinfo else run.updated_at.replace(tzinfo=now.tzinfo)
    if run.status in terminal:
        return Claim(ClaimResult.DONE, run.id, run.status, run.attempts)
    if run.status in WORKING and now - updated_at < STALE_AFTER:
        return Claim(ClaimResult.BUSY, run.id, run.status, run.attempts)
    if run.status in WORKING:
        # Abandoned (its process died): recorded as failed, then retried, never repeated silently.
        set_status(engine, run.id, RunStatus.FAILED, now, error=f"abandoned: no progress since {updated_at.isoformat()}",
                   expect=run.status)
    with engine.begin() as conn:
        taken = conn.execute(
            update(Run)
            .where(Run.id == run.id, Run.status == RunStatus.FAILED)
            .values(status=RunStatus.CLAIMED, owner=owner, attempts=Run.attempts + 1, claimed_at=now, updated_at=now,
                    finished_at=None, error=None)
        ).rowcount
    if taken != 1:
        return Claim(ClaimResult.BUSY, run.id, RunStatus.CLAIMED, run.attempts)
    return Claim(ClaimResult.RETRY, run.id, RunStatus.CLAIMED, run.attempts + 1)


def set_status(
    engine: Engine,
    run_id: int,
    status: RunStatus,
    now: datetime,
    error: str | None = None,
    artifacts: list[str] | None = None,
    expect: str | None = None,
    final: bool = False,
) -> bool:
    """Move a run to a new state (the one place that does); False when `expect` no longer holds."""
    values: dict[str, object] = {"status": status, "updated_at": now}
    if final or status in (RunStatus.DELIVERED, RunStatus.FAILED):
        values["finished_at"] = now
    if error is not None:
        values["error"] = error[:4000]
    if artifacts is not None:
        values["artifacts"] = json.dumps(artifacts)
    cond = [Run.id == run_id]
    if expect is not None:
        cond.append(Run.status == expect)
    with engine.begin() as conn:
        return conn.execute(update(Run).where(*cond).values(**values)).rowcount == 1


def delivered_recipients(engine: Engine, run_id: int) -> set[str]:
    """The recipients that already got this run's mail."""
    with engine.connect() as conn:
        return set(conn.execute(select(Delivery.recipient).where(Delivery.run_id == run_id, Delivery.status == "sent")).scalars())


def record_delivery(engine: Engine, run_id: int, recipient: str, sent: bool, code: int | None, message: str,
                    now: datetime) -> None:
    """Record (or update) one recipient's SMTP outcome."""
    values = {"status": "sent" if sent else "failed", "smtp_code": code, "smtp_message": message[:2000], "attempted_at": now}
    with engine.begin() as conn:
        changed = conn.execute(
            update(Delivery).where(Delivery.run_id == run_id, Delivery.recipient == recipient).values(**values)
        ).rowcount
        if not changed:
            conn.execute(insert(Delivery).values(run_id=run_id, recipient=recipient, **values))
