"""No database password is printed, logged or stored in the scheduler's job table."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from reporter.db import make_engine, runtime_url, stored_url, upgrade
from reporter.jobs.runner import scheduled_run
from reporter.jobs.scheduler import build_scheduler, sync_jobs
from reporter.settings import load_settings
from tests.jobs.test_scheduler import job_yaml
from tests.test_cli import run

SECRET = "s3cret-Pw"


def with_password(url: str) -> str:
    return make_url(url).set(password=SECRET).render_as_string(hide_password=False)


def test_stored_and_runtime_urls() -> None:
    full = "postgresql+psycopg://app:" + SECRET + "@db.example/reports"
    assert stored_url(full) == "postgresql+psycopg://app@db.example/reports"
    assert runtime_url(stored_url(full), {"REPORTER_DATABASE_URL": full}) == full
    # Another database in the environment is not borrowed.
    assert runtime_url("sqlite:///other.db", {"REPORTER_DATABASE_URL": full}) == "sqlite:///other.db"


def test_demo_never_prints_the_password(postgres_url: str, tmp_path: Path) -> None:
    url = with_password(postgres_url)  # trust authentication ignores it, so the URL works
    upgrade_result = run(["--db", url, "db", "upgrade"], tmp_path)
    assert upgrade_result.returncode == 0 and SECRET not in upgrade_result.stdout + upgrade_result.stderr
    result = run(["--db", url, "demo", "--users", "60", "--out", str(tmp_path / "reports")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert "***" in result.stdout


def test_the_job_store_keeps_no_password_and_workers_still_connect(
    postgres_url: str, tmp_path: Path, monkeypatch
) -> None:
    url = with_password(postgres_url)
    engine = make_engine(url)
    upgrade(engine)
    config = tmp_path / "reporter.yaml"
    config.write_text(f"archive:\n  root: {tmp_path / 'archive'}\njobs:\n" + job_yaml("weekly", "0 6 * * 1"))
    settings = load_settings(config)
    scheduler = build_scheduler(engine, settings, processes=False)
    scheduler.start(paused=True)
    sync_jobs(scheduler, settings, config, url)
    stored = scheduler.get_job("weekly").kwargs["db_url"]
    scheduler.shutdown(wait=True)
    with engine.connect() as conn:
        tables = [
            t
            for t in conn.execute(text("SELECT tablename FROM pg_tables WHERE tablename LIKE 'apscheduler%'")).scalars()
        ]
        states = [bytes(s) for t in tables for s in conn.execute(text(f'SELECT job_state FROM "{t}"')).scalars()]
    assert states and all(SECRET.encode() not in s for s in states)
    assert SECRET not in stored
    # A worker finds the full URL in the scheduler's environment.
    monkeypatch.setenv("REPORTER_DATABASE_URL", url)
    assert scheduled_run("weekly", str(config), stored) == 0  # no campaigns loaded: no units, but it connected
    engine.dispose()
