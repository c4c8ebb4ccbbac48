"""The app as build_app makes it: a signed, HttpOnly, SameSite session cookie; no serving without a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.web.conftest import login


def test_session_cookie_is_signed_httponly_samesite(client: TestClient) -> None:
    page = client.get("/login")
    raw = page.headers.get("set-cookie", "")
    assert "reporter_session=" in raw and "httponly" in raw.lower() and "samesite=strict" in raw.lower()
    login(client, "vera")
    assert client.get("/api/runs").status_code == 200
    client.cookies.set("reporter_session", "tampered." + client.cookies.get("reporter_session", "x"))
    assert client.get("/api/runs").status_code == 401


def test_serving_without_a_secret_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    config = tmp_path / "reporter.yaml"
    config.write_text(f"archive:\n  root: {tmp_path}\nweb:\n  secret_key_env: REPORTER_TEST_NO_SUCH_SECRET\n")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("REPORTER_")}
    result = subprocess.run(
        [sys.executable, "-m", "reporter", "--config", str(config), "serve"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: web.secret_key_env: the environment variable REPORTER_TEST_NO_SUCH_SECRET is not set"
    )
