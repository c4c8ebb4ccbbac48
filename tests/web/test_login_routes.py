"""Logging in: a wrong password and a form without the CSRF token are refused."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.web.conftest import PASSWORDS


def test_wrong_password_and_missing_csrf_are_refused(client: TestClient) -> None:
    csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    assert client.post("/login", data={"csrf": csrf, "name": "vera", "password": "nope"}).status_code == 401
    assert (
        client.post("/login", data={"csrf": "forged", "name": "vera", "password": PASSWORDS["vera"]}).status_code == 403
    )
    assert client.get("/api/runs").status_code == 401
