"""Units that lose their owner or fail: taken over at once, retried by the scheduler with backoff, given up
after retry_for_h with the operators told once. Faults are caused for real: kill -9, a server that refuses."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert, select, update

from reporter.db import make_engine
from reporter.files import period_name
from reporter.jobs.runlog import ClaimResult, claim
from reporter.jobs.runner import production_for, retry_units, run_job
from reporter.jobs.unit import Unit, run_unit
from reporter.metrics.model import Period
from reporter.models import Run
from reporter.production import Production
from reporter.settings import load_settings
from tests.delivery.conftest import SmtpServer
from tests.jobs.test_scheduler import _cli, job_yaml, runs_of, wait_for

OCTOBER = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
FIRE = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)  # a monthly job's run: the period is October
NOTIFY = "notify:\n  on_failure: [ops@acme.test]\n"


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_kill_9_while_rendering_is_taken_over_at_once(
    demo_url: str, smtp_server: SmtpServer, config_factory, tmp_path: Path
) -> None:
    config = config_factory(smtp_server.port, job_yaml("killed", "daily 07:00", campaigns="[black-friday-ab]"))
    engine = make_engine(demo_url)
    args = ["--config", str(config), "--db", demo_url, "run", "killed", "--period", "2026-10-01..2026-11-01"]
    proc = _cli(args, tmp_path)
    assert wait_for(lambda: [r.status for r in runs_of(engine, "killed")] == ["rendering"], 60)
    proc.kill()  # SIGKILL: no handler runs, the unit stays "rendering" with a fresh heartbeat
    proc.communicate(timeout=30)
    again = _cli(args, tmp_path)
    _out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    [run] = runs_of(engine, "killed")
    assert (run.status, run.attempts) == ("delivered", 2)  # not "being produced by another process" for an hour
    assert len(smtp_server.handler.received) == 1
    engine.dispose()


def _unit(job: str) -> Unit:
    return Unit(
        job=job, campaign_id="cart-reminder", start=OCTOBER[0], end=OCTOBER[1], timezone="UTC", to=("boss@acme.test",)
    )


def _target(server: SmtpServer, tmp_path: Path, abandon_after_s: float = 120) -> Production:
    from reporter.delivery.email import SmtpConfig

    smtp = SmtpConfig(server.host, server.port, "none", None, None, 5, 0, data_timeout_s=30)
    return Production(str(tmp_path / "archive"), smtp, "reports@acme.test", 2**24, abandon_after_s=abandon_after_s)


def test_a_unit_elsewhere_is_abandoned_only_when_its_heartbeat_is_older_than_abandon_after_s(
    demo_engine: Engine, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    unit = _unit("elsewhere")
    t0 = datetime.now(UTC)
    first = claim(demo_engine, unit.job, unit.campaign_id, unit.period, unit.start, unit.end, "UTC", t0)
    with demo_engine.begin() as conn:  # owned by a process on another machine: only its heartbeat can tell
        conn.execute(update(Run).where(Run.id == first.run_id).values(owner="other-host:4242:1", status="rendering"))
    busy = run_unit(demo_engine, unit, _target(smtp_server, tmp_path), Clock(t0 + timedelta(seconds=119)))
    assert busy.claim.result == ClaimResult.BUSY and smtp_server.handler.received == []
    taken = run_unit(demo_engine, unit, _target(smtp_server, tmp_path), Clock(t0 + timedelta(seconds=120)))
    assert (taken.claim.result, taken.status, taken.claim.attempts) == (ClaimResult.RETRY, "delivered", 2)


def test_the_heartbeat_keeps_a_slow_unit_its_own(demo_engine: Engine, smtp_server: SmtpServer, tmp_path: Path) -> None:
    smtp_server.handler.reply_after_s = 4  # a slow server: the send takes 4 s, twice abandon_after_s
    unit = _unit("slow-send")
    done: list = []
    clock = lambda: datetime.now(UTC)  # noqa: E731
    worker = threading.Thread(
        target=lambda: done.append(run_unit(demo_engine, unit, _target(smtp_server, tmp_path, 2), clock))
    )
    worker.start()
    assert wait_for(lambda: smtp_server.handler.data_attempts == 1, 60)
    time.sleep(3)
    with demo_engine.connect() as conn:
        row = conn.execute(select(Run.status, Run.updated_at, Run.claimed_at).where(Run.job == "slow-send")).one()
    assert row.status == "stored" and (row.updated_at - row.claimed_at).total_seconds() > 3  # it beat while sending
    other = claim(
        demo_engine,
        unit.job,
        unit.campaign_id,
        unit.period,
        unit.start,
        unit.end,
        "UTC",
        clock(),
        abandon_after=timedelta(seconds=2),
    )
    assert other.result == ClaimResult.BUSY  # alive: not taken over, though it started long ago
    worker.join(60)
    assert done[0].status == "delivered" and len(smtp_server.handler.received) == 1


def _setup(tmp_path: Path, config_factory, server: SmtpServer, job: str, extra: str = ""):
    config = config_factory(server.port, job_yaml(job, "0 7 1 * *"), extra)
    settings = load_settings(config)
    return settings, production_for(settings)


def test_a_failed_unit_of_an_earlier_period_is_retried_with_backoff(
    demo_url: str, smtp_server: SmtpServer, config_factory, tmp_path: Path
) -> None:
    engine = make_engine(demo_url)
    settings, delivery = _setup(tmp_path, config_factory, smtp_server, "backoff")
    clock = Clock(datetime.now(UTC))
    smtp_server.handler.defer_data = 100  # 451 to every attempt
    run_job(engine, settings, settings.job("backoff"), FIRE, delivery, clock=clock)
    assert [(r.status, r.attempts) for r in runs_of(engine, "backoff")] == [("failed", 1)]
    smtp_server.handler.defer_data = 0
    clock.at += timedelta(seconds=59)
    assert retry_units(engine, settings, delivery, clock) == []  # backoff: one minute after the first failure
    clock.at += timedelta(seconds=2)
    [result] = retry_units(engine, settings, delivery, clock)
    assert (result.status, result.claim.attempts) == ("delivered", 2)
    assert [m.recipients for m in smtp_server.handler.received] == [["boss@acme.test"]]
    clock.at += timedelta(hours=1)
    assert retry_units(engine, settings, delivery, clock) == []
    engine.dispose()


def test_retries_are_given_up_after_retry_for_h_and_operators_told_once(
    demo_url: str, smtp_server: SmtpServer, config_factory, tmp_path: Path, caplog
) -> None:
    engine = make_engine(demo_url)
    settings, delivery = _setup(tmp_path, config_factory, smtp_server, "give-up", "  retry_for_h: 48\n" + NOTIFY)
    clock = Clock(datetime.now(UTC))
    smtp_server.handler.defer_data = 100
    run_job(engine, settings, settings.job("give-up"), FIRE, delivery, clock=clock)
    smtp_server.handler.defer_data = 0
    clock.at += timedelta(hours=48)
    with caplog.at_level(logging.ERROR):
        assert retry_units(engine, settings, delivery, clock) == []
        assert retry_units(engine, settings, delivery, clock) == []
    [told] = smtp_server.handler.received  # the report itself was not sent again
    assert told.recipients == ["ops@acme.test"]
    assert (
        told.message["Subject"] == "reporter: give-up / cart-reminder / 2026-10 was given up after 1 attempts in 48 h"
    )
    body = told.message.get_body(("plain",)).get_content()
    assert "451 4.3.0 Try again later" in body
    assert "reporter run give-up --campaign cart-reminder --period 2026-10-01..2026-11-01" in body
    assert [r.message for r in caplog.records].count(
        "give-up / cart-reminder / 2026-10: was given up after 1 attempts in 48 h for good: "
        + runs_of(engine, "give-up")[0].error
    ) == 1
    engine.dispose()


def test_a_permanent_refusal_is_final_at_once_and_told_once(
    demo_url: str, smtp_server: SmtpServer, config_factory, tmp_path: Path
) -> None:
    engine = make_engine(demo_url)
    settings, delivery = _setup(tmp_path, config_factory, smtp_server, "refused", NOTIFY)
    clock = Clock(datetime.now(UTC))
    smtp_server.handler.refuse = {"boss@acme.test"}
    run_job(engine, settings, settings.job("refused"), FIRE, delivery, clock=clock)
    clock.at += timedelta(hours=2)
    assert retry_units(engine, settings, delivery, clock) == []  # 550 again would change nothing
    [told] = smtp_server.handler.received
    assert (
        told.recipients == ["ops@acme.test"]
        and told.message["Subject"] == "reporter: refused / cart-reminder / 2026-10 failed"
    )
    assert "boss@acme.test (550 5.1.1 No such user here)" in told.message.get_body(("plain",)).get_content()
    engine.dispose()


def test_a_restarted_scheduler_takes_over_the_unit_its_killed_worker_left(
    demo_url: str, smtp_server: SmtpServer, config_factory, tmp_path: Path
) -> None:
    config = config_factory(smtp_server.port, job_yaml("restarted", "0 7 1 * *"), "  abandon_after_s: 10\n")
    engine = make_engine(demo_url)
    now = datetime.now(UTC)
    period = period_name(Period(*OCTOBER, "UTC"))
    with engine.begin() as conn:  # what a worker killed with -9 leaves: "rendering", owner gone, heartbeat fresh
        conn.execute(
            insert(Run).values(
                job="restarted",
                campaign_id="cart-reminder",
                period=period,
                period_from=OCTOBER[0],
                period_to=OCTOBER[1],
                timezone="UTC",
                status="rendering",
                owner=f"{socket.gethostname()}:{dead_pid()}:1",
                attempts=1,
                claimed_at=now,
                first_claimed_at=now,
                updated_at=now + timedelta(hours=1),
            )
        )  # only "gone" can tell
    proc = _cli(["--config", str(config), "--db", demo_url, "schedule"], tmp_path)
    try:
        assert wait_for(lambda: [r.status for r in runs_of(engine, "restarted")] == ["delivered"], 90)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert "is gone" in err, err
    [run] = runs_of(engine, "restarted")
    assert run.attempts == 2 and len(smtp_server.handler.received) == 1
    engine.dispose()
