"""The work queue against the local Redis: `reporter worker` processes produce the units the scheduler and the web
app send; each unit once, whatever the workers do (two of them at once, one killed with SIGKILL mid-render)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from reporter.jobs.queue import UnitQueue, message, unit_of
from reporter.jobs.runlog import ClaimResult, claim
from reporter.jobs.unit import Unit
from reporter.models import Run, RunStatus
from reporter.settings import load_settings
from tests.delivery.receiver import Receiver, serve
from tests.vnu import unavailable
from tests.web.conftest import hashes  # noqa: F401  (the web users of make_client)

REDIS = "redis://127.0.0.1:6379/14"
RABBITMQ = "amqp://guest@127.0.0.1:5672//"  # the guest user, allowed from localhost only
ABANDON_S = 6
DEMO = ("welcome-series", "cart-reminder", "black-friday-ab")
OCT_1 = datetime(2026, 10, 1, tzinfo=UTC)


def reachable(url: str, port: int, name: str) -> str:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        unavailable(f"{name} is not running on 127.0.0.1:{port}")  # a failure in CI, which starts it
    return url


@pytest.fixture
def redis() -> str:
    return reachable(REDIS, 6379, "Redis")


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest) -> str:
    return reachable(REDIS, 6379, "Redis") if request.param == "redis" else reachable(RABBITMQ, 5672, "RabbitMQ")


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with serve() as receiver:
        yield receiver


def write_config(tmp_path: Path, queue: str, url: str = REDIS) -> Path:
    path = tmp_path / "reporter.yaml"
    path.write_text(
        f"archive:\n  root: {tmp_path / 'archive'}\n"
        f"queue:\n  url: {url}\n  name: {queue}\n"
        f"scheduler:\n  abandon_after_s: {ABANDON_S}\n"
        "logging:\n  level: warning\n"
        "destinations:\n  hook:\n    type: webhook\n    url_env: TEST_HOOK_URL\n    secret_env: TEST_HOOK_SECRET\n"
        "    retries: 0\n"
        "jobs:\n  - name: daily\n    schedule: daily 07:00\n    period: yesterday\n    destinations: [hook]\n"
        "    formats: [html]\n"
    )
    return path


def units(n: int) -> list[Unit]:
    """n units of the job `daily`: the demo campaigns, day after day."""
    out = []
    for k in range(n):
        day = OCT_1 + timedelta(days=k // len(DEMO))
        out.append(
            Unit(
                job="daily",
                campaign_id=DEMO[k % len(DEMO)],
                start=day,
                end=day + timedelta(days=1),
                timezone="UTC",
                formats=("html",),
                destinations=("hook",),
            )
        )
    return out


class Workers:
    """`reporter worker` processes of one config and database."""

    def __init__(self, config: Path, db_url: str, hook: Receiver, tmp_path: Path) -> None:
        self.args = [sys.executable, "-m", "reporter", "--config", str(config), "--db", db_url, "worker"]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("REPORTER_")},
            "TEST_HOOK_URL": hook.url,
            "TEST_HOOK_SECRET": "whsec_queue",
        }
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str) -> subprocess.Popen[bytes]:
        log = (self.tmp_path / f"{name}.log").open("wb")
        proc = subprocess.Popen([*self.args, "--name", f"{name}@test"], env=self.env, stdout=log, stderr=log)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def workers(tmp_path: Path, demo_url: str, hook: Receiver, broker: str) -> Iterator[tuple[Workers, UnitQueue]]:
    from reporter.db import make_engine

    config = write_config(tmp_path, f"reporter-test-{uuid.uuid4().hex[:10]}", broker)
    settings = load_settings(config)
    engine = make_engine(demo_url)
    group = Workers(config, demo_url, hook, tmp_path)
    try:
        yield group, UnitQueue(engine, settings)
    finally:
        group.stop()
        engine.dispose()


def runs(engine: Engine, job: str = "daily") -> list[tuple[str, str, str, int, str | None]]:
    """The job's rows of the run log (the demo database is shared by the tests of a session)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Run.campaign_id, Run.period, Run.status, Run.attempts, Run.owner).where(Run.job == job)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def wait_for(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_a_message_is_the_whole_unit() -> None:
    unit = units(1)[0]
    assert unit_of(message(unit)["unit"]) == unit
    portfolio = Unit("weekly", "@portfolio", OCT_1, OCT_1 + timedelta(days=7), "UTC", portfolio=("a", "b"))
    assert unit_of(message(portfolio)["unit"]) == portfolio


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_two_workers_deliver_a_hundred_units_once_each(
    workers: tuple[Workers, UnitQueue], hook: Receiver, demo_url: str
) -> None:
    group, queue = workers
    started = [group.start("w1"), group.start("w2")]
    for unit in units(100):
        result = queue.put(unit)
        assert result.status == RunStatus.QUEUED
    assert {r[2] for r in runs(queue.engine)} <= {"queued", "claimed", "rendering", "stored", "delivered"}
    wait_for(lambda: sum(r[2] == "delivered" for r in runs(queue.engine)) == 100, 180, "100 delivered units")
    for unit in units(3):  # the same units again (a second "Run now"): done for everyone, so not sent
        again = queue.put(unit)
        assert (again.claim.result, again.status) == (ClaimResult.DONE, "delivered")
    time.sleep(1)
    rows = runs(queue.engine)
    assert len(rows) == 100 and {r[2] for r in rows} == {"delivered"} and {r[3] for r in rows} == {1}
    notices = [r.json for r in hook.requests]
    assert len(notices) == 100 and len({n["id"] for n in notices}) == 100  # each unit told once
    pids = {int(r[4].split(":")[1]) for r in rows}
    assert pids == {p.pid for p in started}  # both workers took units


def test_a_worker_killed_mid_render_leaves_its_unit_to_another(
    workers: tuple[Workers, UnitQueue], hook: Receiver, broker: str
) -> None:
    """Redis gives the unacknowledged message back after the abandon time, RabbitMQ when the connection drops."""
    group, queue = workers
    job = f"killed-{broker.partition(':')[0]}"
    doomed = group.start("doomed")
    # The demo's whole life in PDF and HTML: seconds of rendering to be killed in.
    unit = replace(units(1)[0], job=job, end=OCT_1 + timedelta(days=35), formats=("pdf", "html"))
    queue.put(unit)
    wait_for(lambda: runs(queue.engine, job)[0][2] in ("rendering", "delivered"), 60, "the unit in hand")
    assert runs(queue.engine, job)[0][2] == "rendering"
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(10)
    killed = time.monotonic()
    group.start("survivor")
    wait_for(lambda: runs(queue.engine, job)[0][2] == "delivered", ABANDON_S + 30, "the unit taken over")
    taken_over_s = time.monotonic() - killed
    (_, _, status, attempts, owner) = runs(queue.engine, job)[0]
    assert (status, attempts) == ("delivered", 2)
    assert int(owner.split(":")[1]) != doomed.pid  # type: ignore[union-attr]
    assert len(hook.requests) == 1
    print(f"taken over {taken_over_s:.1f} s after the kill")
    assert taken_over_s < ABANDON_S + 15, taken_over_s


def test_a_queued_unit_is_claimed_once(demo_engine: Engine) -> None:
    """The run log's side: a queued unit's first claim is its first attempt; a second claim finds it taken."""
    from reporter.jobs.runlog import mark_queued

    now = datetime(2026, 11, 28, tzinfo=UTC)
    run_id, status, attempts = mark_queued(
        demo_engine, "q", "welcome-series", "2026-10-01", OCT_1, OCT_1 + timedelta(days=1), "UTC", now
    )
    assert (status, attempts) == ("queued", 0)
    again = mark_queued(demo_engine, "q", "welcome-series", "2026-10-01", OCT_1, OCT_1, "UTC", now)
    assert again == (run_id, "queued", 0)
    first = claim(demo_engine, "q", "welcome-series", "2026-10-01", OCT_1, OCT_1 + timedelta(days=1), "UTC", now)
    assert (first.result, first.run_id, first.attempts) == (ClaimResult.NEW, run_id, 1)
    second = claim(demo_engine, "q", "welcome-series", "2026-10-01", OCT_1, OCT_1 + timedelta(days=1), "UTC", now)
    assert second.result == ClaimResult.BUSY


def test_run_now_answers_at_once_and_history_shows_queued_then_done(
    tmp_path: Path, demo_url: str, hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch, redis: str
) -> None:
    from reporter.db import make_engine
    from tests.web.conftest import csrf_of, login, make_client

    name = f"reporter-test-{uuid.uuid4().hex[:10]}"
    job = "  - name: run-now\n    schedule: daily 07:00\n    campaigns: [cart-reminder]\n    period: last_month\n"
    client = make_client(
        tmp_path, demo_url, hashes, monkeypatch, jobs=job, extra=f"queue:\n  url: {REDIS}\n  name: {name}\n"
    )
    login(client, "otto")
    started = time.monotonic()
    response = client.post("/jobs/run-now/run", data={"csrf": csrf_of(client)}, headers={"Accept": "application/json"})
    assert time.monotonic() - started < 5  # no report was produced in the request
    assert response.status_code == 202
    (line,) = response.json()["units"]
    assert line.startswith("run-now / cart-reminder / ") and line.endswith(": queued")
    history = client.get("/api/history?job=run-now").json()["runs"]
    assert [r["status"] for r in history] == ["queued"]
    page = client.post("/jobs/run-now/run", data={"csrf": csrf_of(client)})  # a browser: to the history page
    assert page.status_code == 303 and page.headers["location"] == "/history?job=run-now"
    assert "queued" in client.get(page.headers["location"]).text
    settings = load_settings(tmp_path / "reporter.yaml")
    engine = make_engine(demo_url)
    config = tmp_path / "worker.yaml"
    config.write_text((tmp_path / "reporter.yaml").read_text())
    worker = subprocess.Popen(
        [sys.executable, "-m", "reporter", "--config", str(config), "--db", demo_url, "worker"],
        env={k: v for k, v in os.environ.items() if not k.startswith("REPORTER_")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: runs(engine, "run-now")[0][2] == "stored", 60, "the worker's outcome")
        assert [r["status"] for r in client.get("/api/history?job=run-now").json()["runs"]] == ["stored"]
    finally:
        worker.terminate()
        worker.wait(20)
        engine.dispose()
    assert settings.queue.name == name


def test_a_worker_without_a_queue_is_one_line_and_exit_2(tmp_path: Path, demo_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reporter", "--db", demo_url, "worker"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("REPORTER_")},
        cwd=tmp_path,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "error: no queue configured: set queue.url or queue.url_env (without one, units run in process)\n"
    )


def test_queue_settings_keep_secrets_out_of_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from reporter.errors import UserError
    from reporter.settings import Settings

    with pytest.raises(ValidationError, match="a password does not belong in the config"):
        Settings.model_validate({"queue": {"url": "redis://:s3cret@queue.internal:6379/0"}})
    with pytest.raises(ValidationError, match=r"give queue\.url or queue\.url_env, not both"):
        Settings.model_validate({"queue": {"url": REDIS, "url_env": "Q"}})
    with pytest.raises(ValidationError):
        Settings.model_validate({"queue": {"url": "http://queue.internal/"}})
    env = Settings.model_validate({"queue": {"url_env": "REPORTER_TEST_QUEUE"}}).queue
    monkeypatch.delenv("REPORTER_TEST_QUEUE", raising=False)
    with pytest.raises(UserError, match="REPORTER_TEST_QUEUE is not set"):
        env.broker_url()
    monkeypatch.setenv("REPORTER_TEST_QUEUE", "redis://:s3cret@127.0.0.1:6379/0")
    assert env.broker_url() == "redis://:s3cret@127.0.0.1:6379/0"
    assert Settings().queue.broker_url() is None
