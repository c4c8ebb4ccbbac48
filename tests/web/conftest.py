"""A web app over a real archive, a real run log (SQLite with the demo data) and configured users."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from reporter.delivery.archive import Archive
from reporter.settings import load_settings
from reporter.web.app import build_app
from reporter.web.auth import hash_password
from tests.delivery.conftest import demo_url  # noqa: F401

PASSWORDS = {"vera": "viewer-secret-1", "otto": "operator-secret-2"}
T = datetime(2026, 11, 26, 7, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def hashes() -> dict[str, str]:
    return {name: hash_password(pw) for name, pw in PASSWORDS.items()}


def fill_archive(root: Path, n: int = 60) -> None:
    archive = Archive(root)
    for i in range(n):
        job = "daily" if i % 2 else "weekly"
        cid = f"campaign-{i % 3}"
        archive.store(job, cid, f"Campaign {i % 3} <b>bold</b>", f"2026-10-{i % 28 + 1:02d}", "UTC",
                      T - timedelta(days=i), {f"{cid}.pdf": b"%PDF-1.7 report " + str(i).encode(),
                                               f"{cid}.html": b"<!doctype html><title>r</title><p>report " + str(i).encode()})


def make_client(tmp_path: Path, demo_url: str, hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch,  # noqa: F811
                anonymous: bool = False) -> TestClient:
    fill_archive(tmp_path / "archive")
    config = tmp_path / "reporter.yaml"
    config.write_text(
        f"archive:\n  root: {tmp_path / 'archive'}\n"
        "branding:\n  company: Acme Inc.\n"
        f"web:\n  anonymous: {'true' if anonymous else 'false'}\n  users:\n"
        f"    - {{name: vera, password_hash: '{hashes['vera']}', role: viewer}}\n"
        f"    - {{name: otto, password_hash: '{hashes['otto']}', role: operator}}\n"
        "jobs:\n  - name: archive-only\n    schedule: daily 07:00\n    campaigns: [cart-reminder]\n    period: last_month\n"
    )
    monkeypatch.setenv("REPORTER_WEB_SECRET", "a-long-enough-secret-for-tests")
    from reporter.db import make_engine

    settings = load_settings(config)
    return TestClient(build_app(settings, make_engine(demo_url), config, demo_url), follow_redirects=False)


@pytest.fixture
def client(tmp_path: Path, demo_url: str, hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> TestClient:  # noqa: F811
    return make_client(tmp_path, demo_url, hashes, monkeypatch)


def login(client: TestClient, name: str) -> None:
    page = client.get("/login")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    response = client.post("/login", data={"csrf": csrf, "name": name, "password": PASSWORDS[name], "next": "/"})
    assert response.status_code == 303, response.text


def csrf_of(client: TestClient, path: str = "/jobs") -> str:
    return client.get(path).text.split('name="csrf" value="')[1].split('"')[0]
