"""The run history by role: viewers see counts and archive-relative names, operators recipients but never Bcc ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.delivery.conftest import SmtpServer, smtp_server  # noqa: F401
from tests.web.conftest import ARCHIVE_JOB, csrf_of, login, make_client

MAILED_JOB = """  - name: mailed
    schedule: daily 07:00
    campaigns: [cart-reminder]
    period: last_month
    email:
      to: [to@example.com]
      cc: ["Carla Cc <cc@example.com>"]
      bcc: ["Secret Person <Secret@Example.com>"]
"""


@pytest.fixture
def mailed(
    tmp_path: Path, demo_url: str, hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer
) -> tuple[TestClient, str]:
    """An operator's client after running a job whose Bcc recipient and Cc recipient were refused (550)."""
    smtp_server.handler.refuse = {"Secret@Example.com", "cc@example.com"}
    smtp = (
        f"smtp:\n  host: {smtp_server.host}\n  port: {smtp_server.port}\n  security: none\n"
        "  from: reports@example.com\n  retries: 0\n"
    )
    client = make_client(tmp_path, demo_url, hashes, monkeypatch, jobs=MAILED_JOB, extra=smtp)
    login(client, "otto")
    response = client.post("/jobs/mailed/run", data={"csrf": csrf_of(client)})
    assert response.status_code == 303 and response.headers["location"].startswith("/history?job=mailed")
    return client, response.headers["location"]


def test_operators_see_recipients_but_never_bcc_ones(mailed: tuple[TestClient, str], tmp_path: Path) -> None:
    client, location = mailed
    page = client.get(location).text
    assert "secret@" not in page.lower() and "Secret Person" not in page
    assert "to@example.com" in page and "cc@example.com" in page
    assert location == "/history?job=mailed"  # the message goes through the session, not the URL
    notice = page.split('<p class="notice">')[1].split("</p>")[0]  # the run-now message, shown once
    assert "not delivered to" in notice and "[Bcc]" in notice
    assert "1 sent · 2 failed" in page and "(1 not shown)" in page
    assert 'class="notice"' not in client.get(location).text
    run = client.get("/api/history?job=mailed").json()["runs"][0]
    assert run["deliveries"] == {"sent": 1, "failed": 2}
    assert sorted(r["recipient"] for r in run["recipients"]) == ["cc@example.com", "to@example.com"]
    assert "[Bcc]" in run["error"] and "cc@example.com" in run["error"]
    assert "secret@" not in str(run).lower()
    assert str(tmp_path) not in str(run)
    assert run["artifacts"] and all(not a.startswith("/") for a in run["artifacts"])


def test_viewers_see_counts_and_archive_relative_names(mailed: tuple[TestClient, str], tmp_path: Path) -> None:
    client, _location = mailed
    client.cookies.clear()
    login(client, "vera")
    page = client.get("/history?job=mailed").text
    assert "@example.com" not in page.lower() and "Carla" not in page
    assert "1 sent · 2 failed" in page
    run = client.get("/api/history?job=mailed").json()["runs"][0]
    assert "@" not in str(run) and str(tmp_path) not in str(run)
    assert run["deliveries"] == {"sent": 1, "failed": 2} and "recipients" not in run
    assert "[recipient]" in run["error"]
    assert run["artifacts"] == [
        "mailed/cart-reminder/2026-10/cart-reminder_2026-10.pdf",
        "mailed/cart-reminder/2026-10/cart-reminder_2026-10.html",
    ]


def test_runs_of_jobs_no_longer_configured_show_recipients_by_their_recorded_kind(
    mailed: tuple[TestClient, str],
    tmp_path: Path,
    demo_url: str,
    hashes: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run log keeps each recipient's kind: a Bcc one stays hidden after its job left the config."""
    (tmp_path / "later").mkdir()
    client = make_client(tmp_path / "later", demo_url, hashes, monkeypatch, jobs=ARCHIVE_JOB)
    login(client, "otto")
    run = client.get("/api/history?job=mailed").json()["runs"][0]
    assert "secret@" not in str(run).lower() and "[Bcc]" in run["error"]
    assert sorted(r["recipient"] for r in run["recipients"]) == ["cc@example.com", "to@example.com"]
    assert run["deliveries"] == {"sent": 1, "failed": 2}
    assert "(1 not shown)" in client.get("/history?job=mailed").text


def test_deliveries_recorded_before_kinds_were_kept_show_no_recipient_without_the_config(
    mailed: tuple[TestClient, str],
    tmp_path: Path,
    demo_url: str,
    hashes: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a recorded kind or the job's config nobody can tell which recipients were Bcc: none is shown."""
    from sqlalchemy import update

    from reporter.db import make_engine
    from reporter.models import Delivery

    engine = make_engine(demo_url)
    with engine.begin() as conn:
        conn.execute(update(Delivery).values(kind=None))
    engine.dispose()
    (tmp_path / "later").mkdir()
    client = make_client(tmp_path / "later", demo_url, hashes, monkeypatch, jobs=ARCHIVE_JOB)
    login(client, "otto")
    run = client.get("/api/history?job=mailed").json()["runs"][0]
    assert "@" not in str(run)
    assert run["recipients"] == [] and run["deliveries"] == {"sent": 1, "failed": 2}
    assert "3 not shown" in client.get("/history?job=mailed").text


def test_history_and_jobs_do_not_echo_a_message_from_the_url(client: TestClient) -> None:
    login(client, "otto")
    bait = "Your account is locked: call 555-0100"
    for path in ("/history", "/jobs"):
        response = client.get(path, params={"message": bait})
        assert response.status_code == 200 and "555-0100" not in response.text
