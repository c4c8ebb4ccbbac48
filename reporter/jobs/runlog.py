"""The run log: one record per unit of work (job, campaign, period), claimed before any work.

A unit is claimed by inserting its row (a unique key on job, campaign and
period) or, for a failed or abandoned unit, by a conditional UPDATE on the
status it was seen in; whoever's statement changes the row owns the unit.
Every change of state goes through `set_status`.

A working unit has a live owner: the owner's heartbeat refreshes
`updated_at` while it renders and sends. A unit whose heartbeat is older
than `abandon_after`, or whose owner process on this host is gone, is
abandoned: recorded as failed and taken over at once. Writes to the run log
wait out a locked or briefly unreachable database instead of leaving a unit
in a working state.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Engine, Row, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from reporter.models import Delivery, Run, RunStatus

log = logging.getLogger(__name__)
T = TypeVar("T")

WORKING = (RunStatus.CLAIMED, RunStatus.RENDERING, RunStatus.STORED)
ABANDON_AFTER = timedelta(seconds=120)
# How long a run-log write keeps retrying a locked or unreachable database before it gives up.
WRITE_PATIENCE_S = 600.0


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


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None where /proc can't tell."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rpartition(b")")[2].split()
    except OSError:
        return None
    return None if fields[0] == b"Z" else fields[19].decode()  # a zombie is as good as gone


def owner_name() -> str:
    """host:pid:start — the start time tells a live owner from a later process that got its pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_ticks(os.getpid()) or ''}"


def owner_alive(owner: str | None) -> bool:
    """False only when the owner ran on this host and its process is gone; elsewhere nobody can tell."""
    host, _, rest = (owner or "").partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if os.path.isdir("/proc/self"):
        ticks = _start_ticks(pid)
        return ticks is not None and (not start or ticks == start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _patiently(write: Callable[[], T], what: str) -> T:
    """Run a run-log write, retrying while the database is locked or unreachable (up to WRITE_PATIENCE_S)."""
    deadline = time.monotonic() + WRITE_PATIENCE_S
    wait = 0.25
    while True:
        try:
            return write()
        except OperationalError as exc:
            if time.monotonic() + wait > deadline:
                raise
            log.warning("run log: %s waits for the database (%s); retrying in %.1f s", what, exc.orig, wait)
            time.sleep(wait)
            wait = min(wait * 2, 10.0)


def abandoned(
    status: str, owner: str | None, updated_at: datetime, now: datetime, abandon_after: timedelta = ABANDON_AFTER
) -> str | None:
    """Why a unit in a working state has no live owner, or None when it has one."""
    if status not in WORKING:
        return None
    if now - updated_at >= abandon_after:
        return f"abandoned: no sign of life from {owner} since {updated_at.isoformat(timespec='seconds')}"
    if not owner_alive(owner):
        return f"abandoned: its process ({owner}) is gone"
    return None


def _insert_run(
    engine: Engine, unit: tuple[str, str, str, datetime, datetime, str], status: RunStatus, now: datetime, what: str
) -> int:
    """Insert a unit's row: claimed by this process (its first attempt), or queued (no attempt, no owner yet).
    IntegrityError when the run log has the unit already."""
    job, campaign_id, period, period_from, period_to, timezone = unit
    claimed = status == RunStatus.CLAIMED
    row = {
        "job": job,
        "campaign_id": campaign_id,
        "period": period,
        "period_from": period_from,
        "period_to": period_to,
        "timezone": timezone,
        "status": status,
        "owner": owner_name() if claimed else None,
        "attempts": 1 if claimed else 0,
        "claimed_at": now,
        "first_claimed_at": now if claimed else None,
        "updated_at": now,
    }

    def insert_row() -> int:
        with engine.begin() as conn:
            return int(conn.execute(insert(Run).values(**row).returning(Run.id)).scalar_one())

    return _patiently(insert_row, what)


def claim(
    engine: Engine,
    job: str,
    campaign_id: str,
    period: str,
    period_from: datetime,
    period_to: datetime,
    timezone: str,
    now: datetime,
    terminal: tuple[str, ...] = (RunStatus.DELIVERED, RunStatus.UNKNOWN),
    abandon_after: timedelta = ABANDON_AFTER,
) -> Claim:
    """Claim a unit of work; see ClaimResult for what can come back."""
    unit = (job, campaign_id, period, period_from, period_to, timezone)
    try:
        return Claim(
            ClaimResult.NEW, _insert_run(engine, unit, RunStatus.CLAIMED, now, "a claim"), RunStatus.CLAIMED, 1
        )
    except IntegrityError:
        pass
    with engine.begin() as conn:
        run = conn.execute(
            select(Run.id, Run.status, Run.attempts, Run.updated_at, Run.owner, Run.finished_at).where(
                Run.job == job, Run.campaign_id == campaign_id, Run.period == period
            )
        ).one()
    if run.status in terminal:
        return Claim(ClaimResult.DONE, run.id, run.status, run.attempts)
    working = run.status in WORKING and not (run.status == RunStatus.STORED and run.finished_at is not None)
    if working:
        why = abandoned(run.status, run.owner, run.updated_at, now, abandon_after)
        if why is None:
            return Claim(ClaimResult.BUSY, run.id, run.status, run.attempts)
        # Abandoned (its process died or hangs): recorded as failed, then retried, never repeated silently.
        log.warning("run %d (%s / %s / %s): %s; taking it over", run.id, job, campaign_id, period, why)
        set_status(engine, run.id, RunStatus.FAILED, now, error=why, expect=run.status)
    elif run.status not in (
        RunStatus.QUEUED,
        RunStatus.FAILED,
        RunStatus.UNKNOWN,
        RunStatus.DELIVERED,
        RunStatus.STORED,
    ):
        return Claim(ClaimResult.BUSY, run.id, run.status, run.attempts)
    seen = RunStatus.FAILED if working else run.status
    if not take(engine, run.id, seen, now):
        return Claim(ClaimResult.BUSY, run.id, RunStatus.CLAIMED, run.attempts)
    first = run.status == RunStatus.QUEUED and run.attempts == 0  # queued, never tried: its first attempt
    return Claim(ClaimResult.NEW if first else ClaimResult.RETRY, run.id, RunStatus.CLAIMED, run.attempts + 1)


def mark_queued(
    engine: Engine,
    job: str,
    campaign_id: str,
    period: str,
    period_from: datetime,
    period_to: datetime,
    timezone: str,
    now: datetime,
) -> tuple[int, str, int]:
    """Record a unit sent to the work queue: a new one as queued (no attempt yet), a failed one as queued again,
    any other left as it is; (run id, status, attempts) as they now stand. A worker's claim takes it from there."""
    try:
        unit = (job, campaign_id, period, period_from, period_to, timezone)
        return _insert_run(engine, unit, RunStatus.QUEUED, now, "a queued unit"), RunStatus.QUEUED, 0
    except IntegrityError:
        pass

    def requeue() -> tuple[int, str, int]:  # a failed unit sent again waits as queued (the retry sweep leaves it)
        with engine.begin() as conn:
            run = conn.execute(
                select(Run.id, Run.status, Run.attempts).where(
                    Run.job == job, Run.campaign_id == campaign_id, Run.period == period
                )
            ).one()
            if run.status != RunStatus.FAILED:
                return int(run.id), str(run.status), int(run.attempts)
            conn.execute(
                update(Run)
                .where(Run.id == run.id, Run.status == RunStatus.FAILED)
                .values(status=RunStatus.QUEUED, updated_at=now)
            )
            return int(run.id), RunStatus.QUEUED, int(run.attempts)

    return _patiently(requeue, "a queued unit")


def take(engine: Engine, run_id: int, seen: str, now: datetime) -> bool:
    """Take a unit again from the status it was seen in; False when another process got there first."""

    def write() -> bool:
        with engine.begin() as conn:
            return (
                conn.execute(
                    update(Run)
                    .where(Run.id == run_id, Run.status == seen)
                    .values(
                        status=RunStatus.CLAIMED,
                        owner=owner_name(),
                        attempts=Run.attempts + 1,
                        claimed_at=now,
                        first_claimed_at=func.coalesce(
                            Run.first_claimed_at, literal(now, Run.first_claimed_at.type)
                        ),  # a queued unit's first claim
                        updated_at=now,
                        finished_at=None,
                        error=None,
                        final_at=None,
                    )
                ).rowcount
                == 1
            )

    return _patiently(write, "a claim")


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
    if final or status in (RunStatus.DELIVERED, RunStatus.FAILED, RunStatus.UNKNOWN):
        values["finished_at"] = now
    if error is not None:
        values["error"] = error[:4000]
    if artifacts is not None:
        values["artifacts"] = json.dumps(artifacts)
    cond = [Run.id == run_id]
    if expect is not None:
        cond.append(Run.status == expect)

    def write() -> bool:
        with engine.begin() as conn:
            return conn.execute(update(Run).where(*cond).values(**values)).rowcount == 1

    return _patiently(write, f"status {status}")


def mark_final(engine: Engine, run_id: int, now: datetime) -> bool:
    """Record that a failed unit failed for good; True for the one caller that did (it tells the operators)."""

    def write() -> bool:
        with engine.begin() as conn:
            return (
                conn.execute(update(Run).where(Run.id == run_id, Run.final_at.is_(None)).values(final_at=now)).rowcount
                == 1
            )

    return _patiently(write, "a final failure")


@contextmanager
def heartbeat(engine: Engine, run_id: int, clock: Callable[[], datetime], every_s: float) -> Iterator[None]:
    """Refresh the unit's `updated_at` every `every_s` while the block runs (rendering, sending)."""
    stop = threading.Event()
    owner = owner_name()

    def beat() -> None:
        while not stop.wait(every_s):
            try:
                with engine.begin() as conn:
                    conn.execute(
                        update(Run)
                        .where(Run.id == run_id, Run.owner == owner, Run.status.in_(WORKING))
                        .values(updated_at=clock())
                    )
            except Exception as exc:  # a missed beat is logged; the next one may get through
                log.warning("run %d: heartbeat not written (%s)", run_id, exc)

    thread = threading.Thread(target=beat, name=f"heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def handled_recipients(engine: Engine, run_id: int, resend: bool = False) -> set[str]:
    """The recipients not to send this run's mail to: those that got it, and (unless `resend`) those that may have."""
    statuses = ("sent",) if resend else ("sent", "unknown")
    with engine.connect() as conn:
        return set(
            conn.execute(
                select(Delivery.recipient).where(Delivery.run_id == run_id, Delivery.status.in_(statuses))
            ).scalars()
        )


def recipient_statuses(engine: Engine, run_id: int) -> dict[str, str]:
    """Each recipient's standing for this run: sent, failed or unknown."""
    with engine.connect() as conn:
        return dict(
            conn.execute(select(Delivery.recipient, Delivery.status).where(Delivery.run_id == run_id)).tuples().all()
        )


def record_delivery(
    engine: Engine,
    run_id: int,
    recipient: str,
    status: str,
    code: int | None,
    message: str,
    now: datetime,
    kind: str | None = None,
) -> None:
    """Record (or update) one recipient's SMTP outcome (sent, failed or unknown) and kind (to, cc or bcc)."""
    values = {"status": status, "smtp_code": code, "smtp_message": message[:2000], "attempted_at": now, "kind": kind}

    def write() -> None:
        with engine.begin() as conn:
            changed = conn.execute(
                update(Delivery).where(Delivery.run_id == run_id, Delivery.recipient == recipient).values(**values)
            ).rowcount
            if not changed:
                conn.execute(insert(Delivery).values(run_id=run_id, recipient=recipient, **values))

    _patiently(write, "a delivery")


def retry_backoff(attempts: int) -> timedelta:
    """The wait before the next automatic retry of a unit that failed `attempts` times: 1, 2, 4 ... 60 minutes."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def unfinished(engine: Engine) -> list[Row[Any]]:
    """Units that are neither done nor failed for good: failed, or working (perhaps abandoned)."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(
                    Run.id,
                    Run.job,
                    Run.campaign_id,
                    Run.period,
                    Run.period_from,
                    Run.period_to,
                    Run.timezone,
                    Run.status,
                    Run.owner,
                    Run.attempts,
                    Run.updated_at,
                    Run.first_claimed_at,
                    Run.claimed_at,
                    Run.error,
                )
                .where(
                    Run.final_at.is_(None),
                    Run.finished_at.is_(None) | (Run.status == RunStatus.FAILED),
                    Run.status.in_((*WORKING, RunStatus.FAILED)),
                )
                .order_by(Run.id)
            )
        )
