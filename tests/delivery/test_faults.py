"""Delivery under faults, caused for real: a server that answers the end of the data late or never, a
connection lost after the data, a database write lock held during a run, recipients added after delivery."""

from __future__ import annotations

import sqlite3
import threading
import time

from sqlalchemy import Engine, select

from reporter.db import make_engine
from reporter.delivery.email import SmtpConfig
from reporter.jobs.runlog import ClaimResult
from reporter.jobs.unit import run_unit
from reporter.models import Delivery as DeliveryRow
from reporter.models import Run
from reporter.production import Production
from reporter.settings import SmtpSettings
from tests.delivery.conftest import SmtpServer, clock, no_sleep, unit
from tests.delivery.test_email import _cli, _config

ALL = ["cc@example.test", "hidden@example.test", "owner@example.test"]


def slow_target(
    server: SmtpServer, tmp_path, data_timeout_s: float, timeout_s: float = 5, retries: int = 2
) -> Production:
    smtp = SmtpConfig(
        server.host, server.port, "none", None, None, timeout_s, retries, backoff_s=0.01, data_timeout_s=data_timeout_s
    )
    return Production(str(tmp_path / "archive"), smtp, "reports@acme.test", 10 * 2**20)


def outcomes_of(engine: Engine, job: str) -> tuple[str, dict[str, str]]:
    with engine.connect() as conn:
        run = conn.execute(select(Run.id, Run.status).where(Run.job == job)).one()
        rows = dict(
            conn.execute(select(DeliveryRow.recipient, DeliveryRow.status).where(DeliveryRow.run_id == run.id)).all()
        )
    return run.status, rows


def test_a_late_reply_to_the_data_is_an_unknown_outcome_never_resent(
    demo_engine: Engine, smtp_server: SmtpServer, tmp_path
) -> None:
    smtp_server.handler.reply_after_s = 3  # stores the message, answers after 3 s; we wait 1 s
    job = unit()
    first = run_unit(demo_engine, job, slow_target(smtp_server, tmp_path, data_timeout_s=1), clock, sleep=no_sleep)
    assert first.status == "unknown"
    assert len(smtp_server.handler.received) == 1  # retries: 2, and still one copy
    assert outcomes_of(demo_engine, job.job) == ("unknown", dict.fromkeys(ALL, "unknown"))
    assert "outcome unknown for owner@example.test, cc@example.test, hidden@example.test" in first.message
    smtp_server.handler.reply_after_s = 0
    again = run_unit(demo_engine, job, slow_target(smtp_server, tmp_path, data_timeout_s=1), clock)
    assert again.claim.result == ClaimResult.DONE and "delivery outcome unknown" in again.message
    assert len(smtp_server.handler.received) == 1  # the documented recovery no longer sends more
    resent = run_unit(demo_engine, job, slow_target(smtp_server, tmp_path, data_timeout_s=1), clock, resend=True)
    assert resent.status == "delivered" and resent.claim.attempts == 2
    assert sorted(smtp_server.handler.received[1].recipients) == ALL
    assert outcomes_of(demo_engine, job.job) == ("delivered", dict.fromkeys(ALL, "sent"))


def test_the_wait_for_the_data_reply_is_separate_from_the_connection_timeout(
    demo_engine: Engine, smtp_server: SmtpServer, tmp_path
) -> None:
    smtp_server.handler.reply_after_s = 2  # longer than the 0.5 s connection timeout, shorter than the data wait
    job = unit()
    result = run_unit(demo_engine, job, slow_target(smtp_server, tmp_path, data_timeout_s=10, timeout_s=0.5), clock)
    assert result.status == "delivered"
    assert len(smtp_server.handler.received) == 1
    assert SmtpSettings().data_timeout_s == 600  # RFC 5321, 4.5.3.2.6: ten minutes by default


def test_a_connection_lost_after_the_data_is_an_unknown_outcome(
    demo_engine: Engine, smtp_server: SmtpServer, tmp_path
) -> None:
    smtp_server.handler.drop_after_data = 1
    smtp_server.handler.refuse = {"cc@example.test"}
    job = unit()
    result = run_unit(demo_engine, job, slow_target(smtp_server, tmp_path, data_timeout_s=5), clock, sleep=no_sleep)
    assert result.status == "failed"
    assert len(smtp_server.handler.received) == 1 and smtp_server.handler.data_attempts == 1
    # Refused at RCPT: known and failed; accepted: unknown. A failed unit is retried for the refused one only.
    assert outcomes_of(demo_engine, job.job) == (
        "failed",
        {"cc@example.test": "failed", "hidden@example.test": "unknown", "owner@example.test": "unknown"},
    )
    smtp_server.handler.refuse = set()
    retry = run_unit(demo_engine, job, slow_target(smtp_server, tmp_path, data_timeout_s=5), clock)
    assert retry.status == "unknown"  # delivered to cc; the other two still unknown
    assert [r.recipients for r in smtp_server.handler.received[1:]] == [["cc@example.test"]]


def test_a_held_sqlite_write_lock_delays_the_run_log_but_never_strands_the_unit(
    demo_url: str, smtp_server: SmtpServer, tmp_path
) -> None:
    engine = make_engine(demo_url, busy_timeout_s=0.3)  # status writes give up on the lock quickly ...
    job = unit()
    target = slow_target(smtp_server, tmp_path, data_timeout_s=5)
    done: list = []
    worker = threading.Thread(target=lambda: done.append(run_unit(engine, job, target, clock)))
    worker.start()
    database = demo_url.removeprefix("sqlite:///")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(select(Run.status).where(Run.job == job.job)).scalar() == "rendering":
                break
        time.sleep(0.01)
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # ... while another process holds the write lock for 4 s
    time.sleep(4)
    holder.execute("ROLLBACK")
    holder.close()
    worker.join(60)
    assert done and done[0].status == "delivered"
    assert outcomes_of(engine, job.job) == ("delivered", dict.fromkeys(ALL, "sent"))
    assert len(smtp_server.handler.received) == 1
    engine.dispose()


def test_a_delivered_unit_is_sent_to_recipients_added_since(demo_url: str, smtp_server: SmtpServer, tmp_path) -> None:
    base = [
        "--config",
        _config(tmp_path, smtp_server.port),
        "--db",
        demo_url,
        "deliver",
        "cart-reminder",
        "--from",
        "2026-10-05",
        "--to",
        "2026-10-12",
        "--job",
        "new-recipient",
        "--mail-to",
        "boss@acme.test",
    ]
    assert _cli(base, tmp_path).returncode == 0
    added = _cli([*base, "--mail-cc", "new@acme.test"], tmp_path)
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines()[-1] == (
        "new-recipient / cart-reminder / 2026-W41: delivered; sent only to new@acme.test (the others already had it)"
    )
    assert [r.recipients for r in smtp_server.handler.received] == [["boss@acme.test"], ["new@acme.test"]]
    again = _cli([*base, "--mail-cc", "new@acme.test"], tmp_path)
    assert "already delivered" in again.stdout and len(smtp_server.handler.received) == 2


def test_cli_unknown_outcome_exit_1_history_and_resend(demo_url: str, smtp_server: SmtpServer, tmp_path) -> None:
    config = _config(tmp_path, smtp_server.port, "  data_timeout_s: 1\n")
    base = [
        "--config",
        config,
        "--db",
        demo_url,
        "deliver",
        "cart-reminder",
        "--from",
        "2026-10-05",
        "--to",
        "2026-10-12",
        "--job",
        "slow-server",
        "--mail-to",
        "boss@acme.test",
    ]
    smtp_server.handler.reply_after_s = 3
    first = _cli(base, tmp_path)
    assert first.returncode == 1
    assert "outcome unknown for boss@acme.test" in first.stderr
    history = _cli(["--config", config, "--db", demo_url, "history", "slow-server"], tmp_path)
    assert "unknown" in history.stdout
    smtp_server.handler.reply_after_s = 0
    again = _cli(base, tmp_path)
    # Still unconfirmed: exit 1 until an operator decides, and nothing sent.
    assert again.returncode == 1 and "not re-sent (--resend sends it again)" in again.stderr
    assert len(smtp_server.handler.received) == 1
    resent = _cli([*base, "--resend"], tmp_path)
    assert resent.returncode == 0, resent.stderr
    assert len(smtp_server.handler.received) == 2
    assert "delivered" in resent.stdout
