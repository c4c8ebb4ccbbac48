"""Run-now: an operator runs a job and sees its outcome in the history and the jobs list."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.conftest import csrf_of, login, make_client


def test_operator_runs_a_job_and_sees_it_in_history(
    tmp_path: Path, demo_url: str, hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(tmp_path, demo_url, hashes, monkeypatch)
    login(client, "otto")
    assert "Run now" in client.get("/jobs").text
    assert client.post("/jobs/archive-only/run", data={}).status_code == 403  # no CSRF token
    assert client.post("/jobs/archive-only/run", data={"csrf": "forged"}).status_code == 403
    response = client.post("/jobs/archive-only/run", data={"csrf": csrf_of(client)})
    assert response.status_code == 303 and response.headers["location"].startswith("/history?job=archive-only")
    history = client.get("/api/history?job=archive-only").json()["runs"]
    assert [(r["campaign_id"], r["period"], r["status"]) for r in history] == [("cart-reminder", "2026-10", "stored")]
    assert "archive-only / cart-reminder / 2026-10: stored" in client.get(response.headers["location"]).text
    jobs = client.get("/api/jobs").json()["jobs"]
    assert jobs[0]["name"] == "archive-only" and jobs[0]["last_status"] == "stored" and jobs[0]["next_run"]
    assert client.post("/jobs/nope/run", data={"csrf": csrf_of(client)}).status_code == 404
