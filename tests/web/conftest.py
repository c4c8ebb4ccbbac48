"""A web app over a real archive, a real run log (SQLite with the demo data) and configured users."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from reporter.delivery.archive import Archive
from reporter.settings import load_settings
from reporter.web.app import build_app
from reporter.web.auth import hash_password
from tests.delivery.conftest import demo_url  # noqa: F401

PASSWORDS = {"vera": "viewer-secret-1", "otto": "operator-secret-2"}
SECRET = "a-long-enough-secret-for-tests"
T = datetime(2026, 11, 26, 7, tzinfo=UTC)


@pytest.fixture(scope="session")
def hashes() -> dict[str, str]:
    return {name: hash_password(pw) for name, pw in PASSWORDS.items()}


def fill_archive(root: Path, n: int = 60) -> None:
    archive = Archive(root)
    for i in range(n):
        job = "daily" if i % 2 else "weekly"
        cid = f"campaign-{i % 3}"
        archive.store(
            job,
            cid,
            f"Campaign {i % 3} <b>bold</b>",
            f"2026-10-{i % 28 + 1:02d}",
            "UTC",
            T - timedelta(days=i),
            {
                f"{cid}.pdf": b"%PDF-1.7 report " + str(i).encode(),
                f"{cid}.html": b"<!doctype html><title>r</title><p>report " + str(i).encode(),
            },
        )


ARCHIVE_JOB = (
    "  - name: archive-only\n    schedule: daily 07:00\n    campaigns: [cart-reminder]\n    period: last_month\n"
)


def make_client(
    tmp_path: Path,
    demo_url: str,
    hashes: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    anonymous: bool = False,
    jobs: str = ARCHIVE_JOB,
    extra: str = "",
    web: str = "",
    raise_server_exceptions: bool = True,
) -> TestClient:
    """The app over a fresh archive and the given database; `extra` is more top-level config, `web` more web
    settings."""
    fill_archive(tmp_path / "archive")
    config = tmp_path / "reporter.yaml"
    config.write_text(
        f"archive:\n  root: {tmp_path / 'archive'}\n"
        "branding:\n  company: Acme Inc.\n"
        f"web:\n  anonymous: {'true' if anonymous else 'false'}\n{web}  users:\n"
        f"    - {{name: vera, password_hash: '{hashes['vera']}', role: viewer}}\n"
        f"    - {{name: otto, password_hash: '{hashes['otto']}', role: operator}}\n"
        f"{extra}jobs:\n{jobs}"
    )
    monkeypatch.setenv("REPORTER_WEB_SECRET", SECRET)
    from reporter.db import make_engine

    settings = load_settings(config)
    engine = make_engine(demo_url)
    return TestClient(
        build_app(settings, engine, config, demo_url),
        follow_redirects=False,
        raise_server_exceptions=raise_server_exceptions,
    )


@pytest.fixture
def client(tmp_path: Path, demo_url: str, hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> TestClient:
    return make_client(tmp_path, demo_url, hashes, monkeypatch)


def login(client: TestClient, name: str) -> None:
    page = client.get("/login")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    response = client.post("/login", data={"csrf": csrf, "name": name, "password": PASSWORDS[name], "next": "/"})
    assert response.status_code == 303, response.text


def csrf_of(client: TestClient, path: str = "/jobs") -> str:
    return client.get(path).text.split('name="csrf" value="')[1].split('"')[0]


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """The app served by uvicorn in a thread on a free port; yields its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
