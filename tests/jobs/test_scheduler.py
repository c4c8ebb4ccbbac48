"""The scheduler: it fires, catches up after downtime (once, within the grace time), shares work safely."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import Engine, select

from reporter.db import make_engine, upgrade
from reporter.demo import load_demo
from reporter.jobs.scheduler import build_scheduler, sync_jobs
from reporter.models import Delivery, Run
from reporter.settings import load_settings
from tests.delivery.conftest import SmtpServer


def job_yaml(name: str, schedule: str, campaigns: str = "[cart-reminder]", period: str = "last_month") -> str:
    return (
        f'  - name: {name}\n    schedule: "{schedule}"\n    campaigns: {campaigns}\n    period: {period}\n'
        f"    email:\n      to: [boss@acme.test]\n"
    )


def wait_for(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def runs_of(engine: Engine, job: str) -> list:
    with engine.connect() as conn:
        return conn.execute(
            select(Run.campaign_id, Run.period, Run.status, Run.attempts, Run.error)
            .where(Run.job == job)
            .order_by(Run.campaign_id)
        ).all()


def events_of(scheduler, mask: int) -> list:
    seen: list = []
    scheduler.add_listener(seen.append, mask)
    return seen


def test_the_scheduler_fires_a_job(demo_url: str, smtp_server: SmtpServer, config_factory, tmp_path: Path) -> None:
    config = config_factory(smtp_server.port, job_yaml("soon", "daily 07:00"))
    settings = load_settings(config)
    engine = make_engine(demo_url)
    scheduler = build_scheduler(engine, settings, processes=False)
    scheduler.start(paused=True)
    soon = DateTrigger(datetime.now(UTC) + timedelta(seconds=2))
    sync_jobs(scheduler, settings, config, demo_url, triggers={"soon": soon})
    executed = events_of(scheduler, EVENT_JOB_EXECUTED)
    scheduler.resume()
    try:
        assert wait_for(lambda: executed, 60), "the job did not run"
    finally:
        scheduler.shutdown(wait=True)
    assert [r.status for r in runs_of(engine, "soon")] == ["delivered"]
    assert len(smtp_server.handler.received) == 1
    assert list((tmp_path / "archive" / "soon" / "cart-reminder").glob("*/cart-reminder_*.pdf"))


def _seed(engine: Engine, config: Path, db_url: str, job: str, due: datetime) -> None:
    """A scheduler that was stopped with the job due at `due` (its process was down since)."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    from reporter.jobs.scheduler import instance_name

    settings = load_settings(config)
    scheduler = build_scheduler(engine, settings, processes=False)
    scheduler.start(paused=True)
    sync_jobs(scheduler, settings, config.resolve(), db_url)
    scheduler.shutdown(wait=True)
    # Move the due time into the past in the store itself: no scheduler thread may race to run it.
    store = SQLAlchemyJobStore(engine=engine, tablename=f"apscheduler_jobs_{instance_name(settings)}")
    store.start(build_scheduler(engine, settings, processes=False), "default")
    stored = store.lookup_job(job)
    stored._modify(next_run_time=due)
    store.update_job(stored)


def test_catch_up_within_the_grace_time_runs_once(demo_url: str, smtp_server: SmtpServer, config_factory) -> None:
    config = config_factory(smtp_server.port, job_yaml("minutely", "* * * * *"))
    engine = make_engine(demo_url)
    _seed(engine, config, demo_url, "minutely", datetime.now(UTC) - timedelta(minutes=5))  # five runs missed
    settings = load_settings(config)
    scheduler = build_scheduler(engine, settings, processes=False)
    scheduler.start(paused=True)
    report = sync_jobs(scheduler, settings, config.resolve(), demo_url)
    assert report.kept == ("minutely",)  # an unchanged job keeps its due time
    executed = events_of(scheduler, EVENT_JOB_EXECUTED)
    scheduler.resume()
    try:
        assert wait_for(lambda: executed, 60)
        time.sleep(0.5)
    finally:
        scheduler.shutdown(wait=True)
    assert len(executed) == 1  # coalesced: one run for the five missed ones
    assert [(r.status, r.attempts) for r in runs_of(engine, "minutely")] == [("delivered", 1)]
    assert len(smtp_server.handler.received) == 1


def test_catch_up_outside_the_grace_time_skips_and_logs(
    demo_url: str, smtp_server: SmtpServer, config_factory, caplog: pytest.LogCaptureFixture
) -> None:
    due = datetime.now(UTC) - timedelta(hours=2)
    config = config_factory(smtp_server.port, job_yaml("morning", f"daily {due:%H:%M}"))
    engine = make_engine(demo_url)
    _seed(engine, config, demo_url, "morning", due.replace(second=0, microsecond=0))
    settings = load_settings(config)
    scheduler = build_scheduler(engine, settings, processes=False)
    scheduler.start(paused=True)
    sync_jobs(scheduler, settings, config.resolve(), demo_url)
    missed = events_of(scheduler, EVENT_JOB_MISSED)
    executed = events_of(scheduler, EVENT_JOB_EXECUTED)
    with caplog.at_level(logging.WARNING, logger="reporter.jobs.scheduler"):
        scheduler.resume()
        try:
            assert wait_for(lambda: missed, 10)
        finally:
            scheduler.shutdown(wait=True)
    assert executed == [] and runs_of(engine, "morning") == []
    assert "job morning missed its run at" in caplog.text and "(600 s): skipped" in caplog.text


def _cli(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORTER_")}
    return subprocess.Popen(
        [sys.executable, "-m", "reporter", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_schedulers_on_one_postgres_deliver_each_unit_once(
    postgres_url: str, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    from tests.jobs.conftest import write_config

    engine = make_engine(postgres_url)
    upgrade(engine)
    load_demo(engine, 100, 1)
    jobs = job_yaml("everyone", "* * * * *", campaigns="[welcome-series, black-friday-ab, cart-reminder]")
    configs = []
    for instance in ("a", "b"):
        folder = tmp_path / instance
        folder.mkdir()
        config = write_config(
            folder, smtp_server.port, jobs, extra=f"  instance: {instance}\n".replace("  instance", "  instance")
        )
        text = config.read_text().replace(
            f"archive:\n  root: {folder / 'archive'}", f"archive:\n  root: {tmp_path / 'archive'}"
        )
        text = text.replace("  workers: 2\n", f"  workers: 2\n  instance: {instance}\n").replace(
            f"  instance: {instance}\njobs:", "jobs:", 0
        )
        config.write_text(
            text.replace(f"  instance: {instance}\n  instance: {instance}\n", f"  instance: {instance}\n")
        )
        _seed(engine, config, postgres_url, "everyone", datetime.now(UTC) - timedelta(seconds=30))
        configs.append(config)
    procs = [_cli(["--config", str(c.resolve()), "--db", postgres_url, "schedule"], tmp_path) for c in configs]
    try:
        assert wait_for(lambda: [r.status for r in runs_of(engine, "everyone")] == ["delivered"] * 3, 120), runs_of(
            engine, "everyone"
        )
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert all("scheduler stopped" in err for _out, err in outputs)
    units = runs_of(engine, "everyone")
    assert [(r.campaign_id, r.period, r.attempts) for r in units] == [
        ("black-friday-ab", "2026-10", 1),
        ("cart-reminder", "2026-10", 1),
        ("welcome-series", "2026-10", 1),
    ]
    assert len(smtp_server.handler.received) == 3
    with engine.connect() as conn:
        assert conn.execute(select(Delivery.status)).scalars().all() == ["sent"] * 3
    # Both schedulers fired the job; the claims let exactly one produce each unit.
    assert sum(err.count("unit delivered") for _out, err in outputs) == 3, outputs


def test_sigterm_while_rendering_leaves_no_partial_file_and_a_retryable_unit(
    demo_url: str, smtp_server: SmtpServer, config_factory, tmp_path: Path
) -> None:
    config = config_factory(smtp_server.port, job_yaml("big", "daily 07:00", campaigns="[black-friday-ab]"))
    engine = make_engine(demo_url)
    args = ["--config", str(config), "--db", demo_url, "run", "big", "--period", "2026-10-01..2026-11-01"]
    proc = _cli(args, tmp_path)
    assert wait_for(lambda: [r.status for r in runs_of(engine, "big")] == ["rendering"], 60)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    [run] = runs_of(engine, "big")
    assert run.status == "failed" and "Interrupted" in run.error
    archive = tmp_path / "archive"
    assert not [p for p in archive.rglob("*") if p.is_file() and p.name.endswith(".tmp")] if archive.exists() else True
    assert smtp_server.handler.received == []
    again = _cli(args, tmp_path)
    _out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    [run] = runs_of(engine, "big")
    assert (run.status, run.attempts) == ("delivered", 2)
    assert len(smtp_server.handler.received) == 1
