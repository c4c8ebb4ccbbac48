"""Fixtures of the jobs tests: a demo database, an SMTP server, a config file pointing at both."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.delivery.conftest import Handler, SmtpServer, demo_engine, demo_url, free_port, smtp_server  # noqa: F401


def write_config(tmp_path: Path, port: int, jobs: str, extra: str = "") -> Path:
    path = tmp_path / "reporter.yaml"
    path.write_text(
        f"archive:\n  root: {tmp_path / 'archive'}\n"
        f"smtp:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n  from: reports@acme.test\n  retries: 1\n"
        f"scheduler:\n  misfire_grace_s: 600\n  workers: 2\n{extra}"
        f"jobs:\n{jobs}"
    )
    return path


@pytest.fixture
def config_factory(tmp_path: Path):
    return lambda port, jobs, extra="": write_config(tmp_path, port, jobs, extra)
