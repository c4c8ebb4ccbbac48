"""The guard: a login (or anonymous browsing) for every page and API call, an operator and a CSRF token to run a job."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.web.conftest import csrf_of, login, make_client


def test_everything_needs_a_login(client: TestClient) -> None:
    for path in ("/", "/history", "/jobs", "/reports/daily/campaign-1/2026-10-02"):
        response = client.get(path)
        assert response.status_code == 401 and "Log in" in response.text
    for path in ("/api/runs", "/api/history", "/api/jobs"):
        assert client.get(path).status_code == 401
    assert client.get("/reports/daily/campaign-1/2026-10-02/campaign-1.pdf").status_code == 401


def test_a_refused_page_is_the_login_page_and_a_refused_api_call_json(client: TestClient) -> None:
    for path in ("/", "/history", "/jobs", "/reports/daily/campaign-1/2026-10-02"):
        response = client.get(path)
        assert response.status_code == 401 and f'name="next" value="{path}"' in response.text
    for response in (
        client.get("/api/runs"),
        client.get("/api/history"),
        client.get("/api/jobs"),
        client.post("/jobs/archive-only/run", data={"csrf": csrf_of(client, "/login")}),
    ):
        assert (response.status_code, response.json()) == (401, {"error": "authentication required"})


def test_run_now_checks_the_csrf_token_before_the_role(client: TestClient) -> None:
    login(client, "vera")
    forged = client.post("/jobs/archive-only/run", data={"csrf": "forged"})
    assert (forged.status_code, forged.json()) == (403, {"error": "missing or wrong CSRF token"})
    viewer = client.post("/jobs/archive-only/run", data={"csrf": csrf_of(client)})
    assert (viewer.status_code, viewer.json()) == (403, {"error": "only operators may run jobs"})
    client.cookies.clear()
    login(client, "otto")
    unknown = client.post("/jobs/nope/run", data={"csrf": csrf_of(client)})
    assert (unknown.status_code, unknown.json()) == (404, {"error": "unknown job 'nope'"})


def test_run_now_needs_operator_and_csrf(client: TestClient) -> None:
    login(client, "vera")
    token = csrf_of(client)
    assert "Run now" not in client.get("/jobs").text
    assert client.post("/jobs/archive-only/run", data={"csrf": token}).status_code == 403


def test_anonymous_browsing_only_when_configured(
    tmp_path: Path, demo_url: str, hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(tmp_path, demo_url, hashes, monkeypatch, anonymous=True)
    assert client.get("/api/runs").status_code == 200
    assert "Run now" not in client.get("/jobs").text
    assert client.post("/jobs/archive-only/run", data={"csrf": csrf_of(client, "/login")}).status_code == 403
