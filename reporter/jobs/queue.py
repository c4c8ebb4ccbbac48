"""Units of work through a Celery queue: the scheduler and the web app's "Run now" send them, `reporter worker`
processes on any number of machines produce them.

With `queue.url` (Redis, or RabbitMQ) a unit is recorded in the run log as
`queued` and sent to the broker as JSON: the whole unit (job, campaign or
portfolio, period, formats, recipients), so a worker needs the same database
and the secrets (SMTP password, destinations), not the same jobs. A worker
claims the unit in the run log before any work, as every producer does: a
message delivered twice (a broker redelivery, a retry sweep) produces the
report once. Messages are acknowledged after the unit is done (acks late):
a worker that dies mid-render leaves its message unacknowledged, and the
broker hands it to another worker once `scheduler.abandon_after_s` has passed
(RabbitMQ at once, when the dead worker's connection closes); the heartbeat
in the run log tells the new worker whether the old one is really gone.

Celery is imported only here, and only when a queue is configured.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from reporter.errors import UnitFailed, UserError
from reporter.jobs.runlog import Claim, ClaimResult, mark_queued
from reporter.jobs.unit import Unit, UnitResult, not_yet_told
from reporter.models import RunStatus
from reporter.settings import Settings

log = logging.getLogger(__name__)
TASK = "reporter.unit"


def celery_app(settings: Settings, url: str) -> Any:
    """The Celery app of the queue: JSON messages, acknowledged late, one unit at a time per worker process."""
    try:
        from celery import Celery
    except ImportError:
        raise UserError("queue.url needs Celery: pip install 'reporter[queue]'") from None
    abandon = settings.scheduler.abandon_after_s
    app = Celery("reporter", broker=url, set_as_current=False)
    app.conf.update(
        task_default_queue=settings.queue.name,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,  # acknowledged once the unit is done: a dead worker's unit goes to another
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a worker takes the next unit when it is free, not before
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        broker_connection_retry_on_startup=True,
        # Redis: an unacknowledged message goes back to the queue after this long (the heartbeat's abandon time),
        # checked every few seconds.
        broker_transport_options={
            "visibility_timeout": abandon,
            "unacked_restore_interval": max(1, min(10, abandon // 4)),
            "unacked_restore_throttle": 1,
        },
    )
    return app


def message(unit: Unit, resend: bool = False) -> dict[str, Any]:
    """The unit as the JSON a worker receives."""
    body = asdict(unit)
    body["start"], body["end"] = unit.start.isoformat(), unit.end.isoformat()
    body["portfolio"] = list(unit.portfolio) if unit.portfolio is not None else None
    return {"unit": body, "resend": resend}


def unit_of(body: dict[str, Any]) -> Unit:
    """The unit of a message (tuples from lists, times from ISO text)."""
    fields = dict(body)
    fields["start"], fields["end"] = datetime.fromisoformat(fields["start"]), datetime.fromisoformat(fields["end"])
    for key in ("formats", "to", "cc", "bcc", "destinations"):
        fields[key] = tuple(fields[key])
    if fields.get("portfolio") is not None:
        fields["portfolio"] = tuple(fields["portfolio"])
    return Unit(**fields)


@dataclass
class UnitQueue:
    """Where the scheduler and the web app send units when `queue.url` is set."""

    engine: Engine
    settings: Settings
    app: Any = None

    def __post_init__(self) -> None:
        if self.app is None:
            url = self.settings.queue.broker_url()
            if url is None:
                raise UserError("no queue configured: set queue.url or queue.url_env")
            self.app = celery_app(self.settings, url)

    def put(self, unit: Unit, resend: bool = False, now: datetime | None = None) -> UnitResult:
        """Record the unit as queued (unless the run log has it) and send it; the result says `queued`.

        A unit already done for everyone it goes to is not sent: the result says so, as a claim would.
        """
        now = now or datetime.now(UTC)
        run_id, status, attempts = mark_queued(
            self.engine, unit.job, unit.campaign_id, unit.period, unit.start, unit.end, unit.timezone, now
        )
        if _done(self.engine, unit, run_id, status, resend):
            return UnitResult(unit, Claim(ClaimResult.DONE, run_id, status, attempts), status)
        self.app.send_task(TASK, args=[message(unit, resend)], queue=self.settings.queue.name)
        return UnitResult(unit, Claim(ClaimResult.NEW, run_id, RunStatus.QUEUED, attempts), RunStatus.QUEUED)


def _done(engine: Engine, unit: Unit, run_id: int, status: str, resend: bool) -> bool:
    """Whether nothing is left to do for the unit: stored (archive only) or delivered to all its recipients."""
    if status == RunStatus.STORED and not unit.delivers:
        return True
    return status in (RunStatus.DELIVERED, RunStatus.UNKNOWN) and not not_yet_told(engine, unit, run_id, resend)


# -- the worker side ---------------------------------------------------------------------------------------


@dataclass
class _Context:
    settings: Settings
    engine: Engine
    production: Any


_SETUP: dict[str, Any] = {}  # config path and database URL, set before the worker starts (inherited by forks)
_CONTEXT: dict[int, _Context] = {}  # per process: a forked child makes its own engine


def _context() -> _Context:
    pid = os.getpid()
    if pid not in _CONTEXT:
        from reporter.db import make_engine, runtime_url, with_copy
        from reporter.jobs.runner import production_for
        from reporter.settings import load_settings

        path = _SETUP.get("config_path")
        settings = load_settings(Path(path) if path else None)
        engine = with_copy(make_engine(runtime_url(_SETUP["db_url"])), settings.database.columnar_copy)
        _CONTEXT[pid] = _Context(settings, engine, production_for(settings))
    return _CONTEXT[pid]


def work(body: dict[str, Any]) -> str:
    """A worker's task: produce one unit (claimed first, so a second delivery of the message does nothing)."""
    from reporter.jobs.runner import run_one

    ctx = _context()
    unit = unit_of(body["unit"])
    try:
        result = run_one(ctx.engine, ctx.settings, unit, ctx.production, resend=bool(body.get("resend")))
    except UnitFailed:
        return str(RunStatus.FAILED)  # in the run log; the scheduler's retry sweep takes it again with backoff
    return str(result.status)


def run_worker(
    settings: Settings, config_path: str | None, db_url: str, concurrency: int = 1, name: str | None = None
) -> int:
    """Consume the queue until stopped (SIGTERM or Ctrl-C finish the unit in hand); the worker's exit code."""
    url = settings.queue.broker_url()
    if url is None:
        raise UserError("no queue configured: set queue.url or queue.url_env (without one, units run in process)")
    _SETUP.update(config_path=config_path, db_url=db_url)
    app = celery_app(settings, url)
    app.task(name=TASK, acks_late=True, reject_on_worker_lost=True)(work)
    worker = app.Worker(
        hostname=name or f"reporter-{os.getpid()}@{socket.gethostname()}",
        concurrency=concurrency,
        pool="solo" if concurrency == 1 else "prefork",
        queues=[settings.queue.name],
        loglevel=settings.logging.level,
        quiet=True,
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
    )
    worker.start()
    return int(worker.exitcode or 0)
