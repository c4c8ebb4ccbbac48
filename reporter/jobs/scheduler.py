"""The scheduler: APScheduler 3 with a persistent job store in the reporter's database.

Each scheduler instance keeps its own job-store table (`apscheduler_jobs_<instance>`):
APScheduler 3 does not support several schedulers sharing one store, so
high availability comes from the run log instead: every instance fires every
job, and the claim on (job, campaign, period) lets exactly one of them
produce and deliver each unit.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import signal
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ProcessPoolExecutor, ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from reporter.db import stored_url
from reporter.jobs.schedule import trigger
from reporter.settings import Settings

log = logging.getLogger(__name__)
JOB_FUNCTION = "reporter.jobs.runner:scheduled_run"
RETRY_FUNCTION = "reporter.jobs.runner:scheduled_retry"
RETRY_JOB = "_retry"  # not a configured job's name: those match [a-z0-9-]+


class _WithFireTime:
    """Executors that pass the scheduled fire time to the job (APScheduler 3 does not), as `fire_time`.

    With coalescing, that is the latest missed time: the period of a run is
    computed from when it was due, not from when a late process got to it, so
    two instances firing the same schedule always name the same period.
    """

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        clone = copy.copy(job)  # Job.__getstate__ leaves out its store and scheduler: put them back
        for attribute in ("_jobstore_alias", "_scheduler"):
            if hasattr(job, attribute):
                setattr(clone, attribute, getattr(job, attribute))
        clone.kwargs = {**job.kwargs, "fire_time": run_times[-1].isoformat()}
        super()._do_submit_job(clone, run_times)  # type: ignore[misc]


# The ignores: apscheduler ships no types, so its executors are Any (see the exceptions in pyproject.toml).
class FireTimeProcessPool(_WithFireTime, ProcessPoolExecutor):  # type: ignore[misc]
    pass


class FireTimeThreadPool(_WithFireTime, ThreadPoolExecutor):  # type: ignore[misc]
    pass


def instance_name(settings: Settings) -> str:
    name = settings.scheduler.instance or socket.gethostname()
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "default"


def build_scheduler(engine: Engine, settings: Settings, processes: bool = True) -> BackgroundScheduler:
    """A scheduler with the persistent job store and a pool sized to `scheduler.workers`."""
    workers = settings.scheduler.workers
    executor = FireTimeProcessPool(max_workers=workers) if processes else FireTimeThreadPool(max_workers=workers)
    scheduler = BackgroundScheduler(
        jobstores={
            "default": SQLAlchemyJobStore(engine=engine, tablename=f"apscheduler_jobs_{instance_name(settings)}")
        },
        executors={"default": executor},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": settings.scheduler.misfire_grace_s},
        timezone=settings.timezone,
    )

    def on_event(event: JobExecutionEvent) -> None:
        if event.job_id == RETRY_JOB and event.code != EVENT_JOB_ERROR:
            return  # every minute or so: its retries log themselves
        if event.code == EVENT_JOB_MISSED:
            log.warning(
                "job %s missed its run at %s by more than the grace time (%d s): skipped",
                event.job_id,
                event.scheduled_run_time.isoformat(),
                settings.scheduler.misfire_grace_s,
            )
        elif event.code == EVENT_JOB_ERROR:
            log.error("job %s failed: %s", event.job_id, event.exception)
        else:
            log.info("job %s ran (due %s)", event.job_id, event.scheduled_run_time.isoformat())

    scheduler.add_listener(on_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR | EVENT_JOB_EXECUTED)
    return scheduler


@dataclass(frozen=True)
class SyncReport:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    kept: tuple[str, ...]


def sync_jobs(
    scheduler: BackgroundScheduler,
    settings: Settings,
    config_path: Path | None,
    db_url: str,
    triggers: dict[str, BaseTrigger] | None = None,
) -> SyncReport:
    """Make the job store match the config; an unchanged job keeps its next run time (catch-up)."""
    stored = {job.id: job for job in scheduler.get_jobs()}
    added: list[str] = []
    changed: list[str] = []
    kept: list[str] = []
    for job in settings.jobs:
        tz = settings.timezone_of(job)
        new_trigger = (triggers or {}).get(job.name) or trigger(job.schedule, tz)
        # The job store keeps the URL without its password; workers take the full one from
        # the scheduler's environment (see serve), so no secret is pickled into a table.
        kwargs = {
            "job_name": job.name,
            "config_path": str(config_path) if config_path else None,
            "db_url": stored_url(db_url),
        }
        old = stored.pop(job.name, None)
        if old is not None and str(old.trigger) == str(new_trigger) and old.kwargs == kwargs:
            kept.append(job.name)
            continue
        scheduler.add_job(
            JOB_FUNCTION,
            trigger=new_trigger,
            id=job.name,
            name=job.name,
            kwargs=kwargs,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=settings.scheduler.misfire_grace_s,
        )
        (changed if old is not None else added).append(job.name)
    # The retry sweep: failed and abandoned units of earlier runs (see runner.retry_units).
    every = max(1, min(60, settings.scheduler.abandon_after_s // 2))
    retry_kwargs = {"config_path": str(config_path) if config_path else None, "db_url": stored_url(db_url)}
    old = stored.pop(RETRY_JOB, None)
    if old is None or old.kwargs != retry_kwargs or old.trigger.interval != timedelta(seconds=every):
        scheduler.add_job(
            RETRY_FUNCTION,
            trigger=IntervalTrigger(seconds=every),
            id=RETRY_JOB,
            name="retry failed units",
            kwargs=retry_kwargs,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=every,
        )
    # Alert rules: one evaluation per fire time (see reporter.alerts.run).
    from reporter.alerts.run import FUNCTION as ALERT_FUNCTION
    from reporter.alerts.run import PREFIX as ALERT_PREFIX

    for rule in settings.alerts:
        job_id = ALERT_PREFIX + rule.name
        new_trigger = trigger(rule.schedule, rule.timezone or settings.timezone)
        kwargs = {
            "alert_name": rule.name,
            "config_path": str(config_path) if config_path else None,
            "db_url": stored_url(db_url),
        }
        old = stored.pop(job_id, None)
        if old is not None and str(old.trigger) == str(new_trigger) and old.kwargs == kwargs:
            kept.append(job_id)
            continue
        scheduler.add_job(
            ALERT_FUNCTION,
            trigger=new_trigger,
            id=job_id,
            name=job_id,
            kwargs=kwargs,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=settings.scheduler.misfire_grace_s,
        )
        (changed if old is not None else added).append(job_id)
    for name in stored:
        scheduler.remove_job(name)
    return SyncReport(tuple(added), tuple(changed), tuple(stored), tuple(kept))


def serve(
    engine: Engine, settings: Settings, config_path: Path | None, db_url: str, stop: threading.Event | None = None
) -> None:
    """Run the scheduler in the foreground until SIGINT or SIGTERM; reports in hand are finished first."""
    stop = stop or threading.Event()
    os.environ["REPORTER_DATABASE_URL"] = db_url  # inherited by the worker processes, never stored
    scheduler = build_scheduler(engine, settings)
    scheduler.start(paused=True)
    report = sync_jobs(scheduler, settings, config_path, db_url)
    log.info(
        "scheduler %s started: %d jobs (added %s, changed %s, removed %s); failed units are retried for %g h",
        instance_name(settings),
        len(settings.jobs),
        list(report.added),
        list(report.changed),
        list(report.removed),
        settings.scheduler.retry_for_h,
    )

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s: stopping after the reports in hand", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
    scheduler.resume()
    for job in scheduler.get_jobs():
        if job.id == RETRY_JOB:
            continue
        log.info("job %s next runs at %s", job.id, job.next_run_time.isoformat() if job.next_run_time else "never")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        scheduler.shutdown(wait=True)
        log.info("scheduler stopped at %s", datetime.now(UTC).isoformat(timespec="seconds"))
