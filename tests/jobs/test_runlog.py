"""The run log on its own: claims, abandoned units, recipients' standing, backoff (a real SQLite file)."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from reporter.db import make_engine, upgrade
from reporter.jobs.runlog import (
    ClaimResult,
    abandoned,
    claim,
    handled_recipients,
    owner_alive,
    owner_name,
    record_delivery,
    retry_backoff,
    set_status,
    take,
)
from reporter.models import Run, RunStatus

T0 = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
OCT = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'runlog.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def claim_at(engine: Engine, now: datetime, job: str = "daily"):
    return claim(engine, job, "c1", "2026-10", *OCT, "UTC", now)


def test_the_first_claim_is_new_a_second_is_busy_while_the_owner_lives(engine: Engine) -> None:
    first = claim_at(engine, T0)
    assert (first.result, first.attempts) == (ClaimResult.NEW, 1)
    assert claim_at(engine, T0 + timedelta(seconds=119)).result == ClaimResult.BUSY


def test_two_claims_at_once_one_wins(engine: Engine) -> None:
    barrier, results = threading.Barrier(8), []

    def attempt() -> None:
        barrier.wait()
        results.append(claim_at(engine, T0).result)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["busy"] * 7 + ["new"]


def test_a_delivered_unit_is_done_a_failed_one_retried_and_counted(engine: Engine) -> None:
    first = claim_at(engine, T0)
    set_status(engine, first.run_id, RunStatus.FAILED, T0, error="boom")
    again = claim_at(engine, T0 + timedelta(seconds=1))
    assert (again.result, again.attempts) == (ClaimResult.RETRY, 2)
    set_status(engine, again.run_id, RunStatus.DELIVERED, T0)
    assert claim_at(engine, T0 + timedelta(days=1)).result == ClaimResult.DONE
    with engine.connect() as conn:
        row = conn.execute(select(Run.first_claimed_at, Run.claimed_at, Run.error)).one()
    assert (row.first_claimed_at, row.claimed_at, row.error) == (T0, T0 + timedelta(seconds=1), None)


def test_times_come_back_as_aware_utc(engine: Engine) -> None:
    berlin = datetime(2026, 11, 28, 7, 0, tzinfo=timezone(timedelta(hours=1)))
    claim_at(engine, berlin)
    with engine.connect() as conn:
        assert conn.execute(select(Run.claimed_at)).scalar() == T0  # 07:00+01:00, stored and read as 06:00 UTC
        assert conn.execute(select(Run.claimed_at)).scalar().tzinfo == UTC


def test_an_owner_is_alive_until_its_process_is_gone() -> None:
    assert owner_alive(owner_name())
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert not owner_alive(f"{socket.gethostname()}:{proc.pid}:")
    start = owner_name().rsplit(":", 1)[1]
    assert not owner_alive(f"{socket.gethostname()}:{os.getpid()}:{int(start) + 1}")  # same pid, another process
    assert owner_alive(f"another-host:{proc.pid}:1")  # elsewhere only the heartbeat can tell


def test_abandoned_by_heartbeat_age_or_a_dead_owner() -> None:
    alive = owner_name()
    assert abandoned("rendering", alive, T0, T0 + timedelta(seconds=119)) is None
    assert "no sign of life" in abandoned("rendering", alive, T0, T0 + timedelta(seconds=120))
    assert abandoned("failed", "elsewhere:1:1", T0, T0 + timedelta(days=9)) is None  # not working: not abandoned


def test_take_is_conditional_on_the_status_seen(engine: Engine) -> None:
    first = claim_at(engine, T0)
    set_status(engine, first.run_id, RunStatus.DELIVERED, T0)
    assert take(engine, first.run_id, RunStatus.DELIVERED, T0)
    assert not take(engine, first.run_id, RunStatus.DELIVERED, T0)  # someone took it already


def test_unknown_recipients_are_handled_unless_resending(engine: Engine) -> None:
    run = claim_at(engine, T0)
    record_delivery(engine, run.run_id, "a@x.test", "sent", 250, "ok", T0, "to")
    record_delivery(engine, run.run_id, "b@x.test", "unknown", None, "no reply", T0, "cc")
    record_delivery(engine, run.run_id, "c@x.test", "failed", 550, "no such user", T0, "bcc")
    assert handled_recipients(engine, run.run_id) == {"a@x.test", "b@x.test"}
    assert handled_recipients(engine, run.run_id, resend=True) == {"a@x.test"}
    record_delivery(engine, run.run_id, "c@x.test", "sent", 250, "ok", T0, "bcc")  # an update, not a second row
    assert handled_recipients(engine, run.run_id, resend=True) == {"a@x.test", "c@x.test"}


def test_retry_backoff_doubles_to_an_hour() -> None:
    assert [retry_backoff(n).total_seconds() / 60 for n in (1, 2, 3, 7, 8, 20)] == [1, 2, 4, 60, 60, 60]


def test_a_status_write_waits_out_a_short_lock(engine: Engine, tmp_path: Path) -> None:
    import sqlite3
    import time

    run = claim_at(engine, T0)
    patient = make_engine(f"sqlite:///{tmp_path / 'runlog.db'}", busy_timeout_s=0.1)
    holder = sqlite3.connect(tmp_path / "runlog.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(1.0, lambda: holder.execute("ROLLBACK")).start()
    t = time.monotonic()
    assert set_status(patient, run.run_id, RunStatus.RENDERING, T0)  # fails on the lock at first, then gets through
    assert time.monotonic() - t >= 0.9
    with engine.connect() as conn:
        assert conn.execute(select(Run.status)).scalar() == "rendering"
    holder.close()
    patient.dispose()


def test_a_stale_claim_elsewhere_is_failed_then_taken(engine: Engine) -> None:
    first = claim_at(engine, T0)
    with engine.begin() as conn:
        conn.execute(update(Run).where(Run.id == first.run_id).values(owner="elsewhere:7:7", status="rendering"))
    taken = claim_at(engine, T0 + timedelta(hours=3))
    assert (taken.result, taken.attempts) == (ClaimResult.RETRY, 2)
