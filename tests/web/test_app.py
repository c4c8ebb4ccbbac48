"""The web app over HTTP: access, listings, filters, pagination, downloads, traversal, CSRF, headers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from tests.web.conftest import PASSWORDS, csrf_of, login, make_client


def test_everything_needs_a_login(client: TestClient) -> None:
    for path in ("/", "/history", "/jobs", "/reports/daily/campaign-1/2026-10-02"):
        response = client.get(path)
        assert response.status_code == 401 and "Log in" in response.text
    for path in ("/api/runs", "/api/history", "/api/jobs"):
        assert client.get(path).status_code == 401
    assert client.get("/reports/daily/campaign-1/2026-10-02/campaign-1.pdf").status_code == 401


def test_wrong_password_and_missing_csrf_are_refused(client: TestClient) -> None:
    csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    assert client.post("/login", data={"csrf": csrf, "name": "vera", "password": "nope"}).status_code == 401
    assert client.post("/login", data={"csrf": "forged", "name": "vera", "password": PASSWORDS["vera"]}).status_code == 403
    assert client.get("/api/runs").status_code == 401


def test_session_cookie_is_signed_httponly_samesite(client: TestClient) -> None:
    page = client.get("/login")
    raw = page.headers.get("set-cookie", "")
    assert "reporter_session=" in raw and "httponly" in raw.lower() and "samesite=strict" in raw.lower()
    login(client, "vera")
    assert client.get("/api/runs").status_code == 200
    client.cookies.set("reporter_session", "tampered." + client.cookies.get("reporter_session", "x"))
    assert client.get("/api/runs").status_code == 401


def test_listing_newest_first_paginated_and_filtered(client: TestClient) -> None:
    login(client, "vera")
    data = client.get("/api/runs").json()
    assert (data["total"], data["pages"], len(data["runs"])) == (60, 2, 50)
    generated = [r["generated_at"] for r in data["runs"]]
    assert generated == sorted(generated, reverse=True)
    second = client.get("/api/runs?page=2").json()
    assert len(second["runs"]) == 10
    daily = client.get("/api/runs?job=daily").json()
    assert daily["total"] == 30 and {r["job"] for r in daily["runs"]} == {"daily"}
    one = client.get("/api/runs?campaign=campaign-1&job=daily").json()
    assert one["total"] == 10 and {r["campaign_id"] for r in one["runs"]} == {"campaign-1"}
    dated = client.get("/api/runs?from=2026-11-20&to=2026-11-26").json()
    assert dated["total"] == 7
    assert client.get("/api/runs?from=yesterday").status_code == 400
    html = client.get("/?job=daily&page=1").text
    assert "Page 1 of 1" in html and "30 reports" in html
    assert "Campaign 1 &lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html


def test_report_page_and_downloads(client: TestClient) -> None:
    login(client, "vera")
    run = client.get("/api/runs?job=daily&campaign=campaign-1").json()["runs"][0]
    page = client.get(f"/reports/{run['folder']}")
    assert page.status_code == 200 and 'iframe class="report"' in page.text and "Download PDF" in page.text
    pdf = client.get(f"/reports/{run['folder']}/campaign-1.pdf?download=1")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == 'attachment; filename="campaign-1.pdf"'
    assert pdf.content.startswith(b"%PDF")
    html = client.get(f"/reports/{run['folder']}/campaign-1.html")
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert html.headers["content-disposition"] == 'inline; filename="campaign-1.html"'
    assert "default-src 'none'" in html.headers["content-security-policy"]
    assert client.get(f"/reports/{run['folder']}/manifest.json").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/reports/daily/campaign-1/2026-10-02/../../../../etc/passwd",
        "/reports/daily/campaign-1/2026-10-02/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/reports/%2e%2e/%2e%2e/%2e%2e/passwd",
        "/reports/daily/campaign-1/..%2f..%2f..%2findex.json/x",
        "/reports//etc/passwd/x",
        "/reports/daily/campaign-1/2026-10-02/%2Fetc%2Fpasswd",
        "/reports/daily/campaign-1/2026-10-02/index.json",
    ],
)
def test_traversal_attempts_are_refused(client: TestClient, path: str) -> None:
    login(client, "vera")
    response = client.get(path)
    assert response.status_code == 404
    assert "root:" not in response.text and '"runs"' not in response.text


def test_run_now_needs_operator_and_csrf(client: TestClient) -> None:
    login(client, "vera")
    token = csrf_of(client)
    assert "Run now" not in client.get("/jobs").text
    assert client.post("/jobs/archive-only/run", data={"csrf": token}).status_code == 403


def test_operator_runs_a_job_and_sees_it_in_history(tmp_path: Path, demo_url: str, hashes: dict[str, str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
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


def test_anonymous_browsing_only_when_configured(tmp_path: Path, demo_url: str, hashes: dict[str, str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(tmp_path, demo_url, hashes, monkeypatch, anonymous=True)
    assert client.get("/api/runs").status_code == 200
    assert "Run now" not in client.get("/jobs").text
    assert client.post("/jobs/archive-only/run", data={"csrf": csrf_of(client, "/login")}).status_code == 403


def assert_security_headers(response: httpx.Response) -> None:
    h = response.headers
    assert h["x-content-type-options"] == "nosniff", response
    assert h["referrer-policy"] == "no-referrer", response
    assert h["cross-origin-opener-policy"] == "same-origin", response
    assert h["x-frame-options"] == "DENY", response
    assert "default-src 'self'" in h["content-security-policy"] and "frame-ancestors 'none'" in h["content-security-policy"]
    assert h["cache-control"] == "no-store", response


def test_security_headers_on_every_response(client: TestClient) -> None:
    for response in (client.get("/"), client.get("/login"), client.get("/api/runs"), client.get("/nope")):
        assert_security_headers(response)


def test_security_headers_on_error_responses(client: TestClient, tmp_path: Path, hashes: dict[str, str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # A database without the run log: the history page fails inside the app.
    broken = make_client(tmp_path / "broken", f"sqlite:///{tmp_path / 'empty.db'}", hashes, monkeypatch,
                         anonymous=True, raise_server_exceptions=False)
    responses = [broken.get("/history"), broken.post("/login", data={"csrf": "forged", "name": "vera", "password": "x"})]
    csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    responses += [client.post("/login", data={"csrf": csrf, "name": "vera", "password": "nope"}) for _ in range(6)][-1:]
    login(client, "otto")
    responses += [client.get("/reports/no/such/run"), client.get("/logout"),
                  client.post("/jobs/archive-only/run", data={"csrf": "forged"})]
    for response in responses:
        assert_security_headers(response)
    assert [r.status_code for r in responses] == [500, 403, 429, 404, 405, 403]


def test_serving_without_a_secret_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    config = tmp_path / "reporter.yaml"
    config.write_text(f"archive:\n  root: {tmp_path}\nweb:\n  secret_key_env: REPORTER_TEST_NO_SUCH_SECRET\n")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("REPORTER_")}
    result = subprocess.run([sys.executable, "-m", "reporter", "--config", str(config), "serve"], cwd=tmp_path,
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("error: web.secret_key_env: the environment variable REPORTER_TEST_NO_SUCH_SECRET is not set")


def test_hash_password_reads_stdin(tmp_path: Path) -> None:
    import subprocess
    import sys

    from reporter.web.auth import authenticate

    result = subprocess.run([sys.executable, "-m", "reporter", "hash-password"], input="correct horse\n", cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    digest = result.stdout.strip()
    assert digest.startswith("$argon2id$")
    assert authenticate({"u": (digest, "viewer")}, "u", "correct horse") is not None
    assert authenticate({"u": (digest, "viewer")}, "u", "wrong") is None
