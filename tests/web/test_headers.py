"""Security headers on every response, error pages included."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from tests.web.conftest import login, make_client


def assert_security_headers(response: httpx.Response) -> None:
    h = response.headers
    assert h["x-content-type-options"] == "nosniff", response
    assert h["referrer-policy"] == "no-referrer", response
    assert h["cross-origin-opener-policy"] == "same-origin", response
    assert h["x-frame-options"] == "DENY", response
    assert (
        "default-src 'self'" in h["content-security-policy"]
        and "frame-ancestors 'none'" in h["content-security-policy"]
    )
    assert h["cache-control"] == "no-store", response


def test_security_headers_on_every_response(client: TestClient) -> None:
    for response in (client.get("/"), client.get("/login"), client.get("/api/runs"), client.get("/nope")):
        assert_security_headers(response)


def test_security_headers_on_error_responses(
    client: TestClient, tmp_path: Path, hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A database without the run log: the history page fails inside the app.
    broken = make_client(
        tmp_path / "broken",
        f"sqlite:///{tmp_path / 'empty.db'}",
        hashes,
        monkeypatch,
        anonymous=True,
        raise_server_exceptions=False,
    )
    responses = [
        broken.get("/history"),
        broken.post("/login", data={"csrf": "forged", "name": "vera", "password": "x"}),
    ]
    csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    responses += [client.post("/login", data={"csrf": csrf, "name": "vera", "password": "nope"}) for _ in range(6)][-1:]
    login(client, "otto")
    responses += [
        client.get("/reports/no/such/run"),
        client.get("/logout"),
        client.post("/jobs/archive-only/run", data={"csrf": "forged"}),
    ]
    for response in responses:
        assert_security_headers(response)
    assert [r.status_code for r in responses] == [500, 403, 429, 404, 405, 403]
