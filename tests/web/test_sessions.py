"""Sessions: a logout revokes the cookie (and every copy of it), a login lasts a fixed time however much it is used."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.web.conftest import csrf_of, login, make_client


def test_a_cookie_copied_before_logout_is_refused_after_it(client: TestClient) -> None:
    login(client, "vera")
    stolen = client.cookies["reporter_session"]
    assert client.post("/logout", data={"csrf": csrf_of(client)}).status_code == 303
    assert client.get("/api/runs").status_code == 401
    client.cookies.clear()
    client.cookies.set("reporter_session", stolen)
    assert client.get("/api/runs").status_code == 401
    assert client.get("/").status_code == 401
    client.cookies.clear()
    login(client, "vera")  # a new login works again
    assert client.get("/api/runs").status_code == 200


def test_logout_ends_the_users_other_sessions_too(
    tmp_path: Path, demo_url: str, hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The generation is kept in the database: another app (a second worker process) refuses the cookie too."""
    laptop = make_client(tmp_path / "a", demo_url, hashes, monkeypatch)
    phone = make_client(tmp_path / "b", demo_url, hashes, monkeypatch)
    login(laptop, "otto")
    login(phone, "otto")
    assert phone.get("/api/jobs").status_code == 200
    assert laptop.post("/logout", data={"csrf": csrf_of(laptop)}).status_code == 303
    assert phone.get("/api/jobs").status_code == 401


def test_logout_needs_a_post_with_the_csrf_token(client: TestClient) -> None:
    login(client, "vera")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout", data={}).status_code == 403
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert client.get("/api/runs").status_code == 200  # still logged in


def test_a_login_expires_after_session_hours_even_when_used(client_clock: tuple[TestClient, list[float]]) -> None:
    client, now = client_clock
    login(client, "vera")
    now[0] += 11 * 3600
    assert client.get("/api/runs").status_code == 200  # in use: the cookie is sent back renewed
    now[0] += 3600 - 1
    assert client.get("/api/runs").status_code == 200
    now[0] += 2
    assert client.get("/api/runs").status_code == 401
    assert client.get("/").status_code == 401


@pytest.fixture
def client_clock(
    tmp_path: Path, demo_url: str, hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[TestClient, list[float]]:
    """A client whose whole process runs on a clock the test moves: the app, the cookie signer, the cookie jar."""
    now = [time.time()]
    monkeypatch.setattr(time, "time", lambda: now[0])
    return make_client(tmp_path, demo_url, hashes, monkeypatch), now
