"""Jobs with destinations, against real local HTTP and SMTP servers: each destination is told a report once, after
it is archived, recorded in the run log like a recipient, retried by the retry sweep; failure notices reach one."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from reporter import formatting as fmt
from reporter.db import make_engine, upgrade
from reporter.demo import load_demo
from reporter.errors import UserError
from reporter.jobs.runlog import ClaimResult
from reporter.jobs.runner import production_for, retry_units, run_job
from reporter.models import Delivery, Run
from reporter.production import branding_of, produce
from reporter.settings import Settings, load_settings
from tests.delivery.conftest import SmtpServer
from tests.delivery.payload_rules import slack_problems
from tests.delivery.receiver import TOKEN_PATH, Answer, Receiver, serve, verify
from tests.jobs.conftest import write_config

FIRE = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)  # a monthly job's run: the period is October
OCTOBER = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
SECRET = "whsec_jobs_3e8a1f"
DESTINATIONS = (
    "web:\n  base_url: https://reports.acme.test/\n"
    "destinations:\n"
    "  team-slack:\n    type: slack\n    url_env: TEST_SLACK_URL\n    retries: 0\n"
    "  ops-hook:\n    type: webhook\n    url_env: TEST_HOOK_URL\n    secret_env: TEST_HOOK_SECRET\n"
    "    retries: 1\n    backoff_s: 0.01\n"
    "  managers:\n    type: email\n    to: [head@acme.test]\n    bcc: [boss@acme.test]\n"
)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def slack() -> Iterator[Receiver]:
    with serve() as r:
        yield r


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with serve() as r:
        yield r


@pytest.fixture
def urls(slack: Receiver, hook: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SLACK_URL", slack.url)
    monkeypatch.setenv("TEST_HOOK_URL", hook.url)
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)


@pytest.fixture(params=["sqlite", "postgresql"])
def demo_db(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The demo data on SQLite (built once per module) or on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        engine = make_engine(request.getfixturevalue("demo_url"))
    else:
        engine = make_engine(request.getfixturevalue("postgres_url"))
        upgrade(engine)
        load_demo(engine, 100, 1)
    yield engine
    engine.dispose()


def job(name: str, destinations: str, email: str = "") -> str:
    return (
        f'  - name: {name}\n    schedule: "0 7 1 * *"\n    campaigns: [cart-reminder]\n    period: last_month\n'
        f"    formats: [html]\n    destinations: {destinations}\n"
        + (f"    email:\n      to: {email}\n" if email else "")
    )


def setup(tmp_path: Path, port: int, jobs: str, extra: str = "") -> Settings:
    return load_settings(write_config(tmp_path, port, jobs, DESTINATIONS + extra))


def deliveries(engine: Engine, job_name: str) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                select(Delivery.recipient, Delivery.status, Delivery.kind, Delivery.smtp_code, Delivery.smtp_message)
                .join(Run, Run.id == Delivery.run_id)
                .where(Run.job == job_name)
                .order_by(Delivery.recipient)
            )
        ]


def runs(engine: Engine, job_name: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(Run.status, Run.attempts).where(Run.job == job_name))]


def test_a_slack_destination_is_told_the_report_once_across_two_runs(
    demo_db: Engine, smtp_server: SmtpServer, slack: Receiver, urls: None, tmp_path: Path
) -> None:
    settings = setup(tmp_path, smtp_server.port, job("to-slack", "[team-slack]"))
    clock = Clock(datetime(2026, 11, 1, 7, 0, 5, tzinfo=UTC))
    [first] = run_job(demo_db, settings, settings.job("to-slack"), FIRE, production_for(settings), clock=clock)
    [again] = run_job(demo_db, settings, settings.job("to-slack"), FIRE, production_for(settings), clock=clock)
    assert (first.status, again.claim.result, again.claim.status) == ("delivered", ClaimResult.DONE, "delivered")
    assert runs(demo_db, "to-slack") == [("delivered", 1)]
    assert deliveries(demo_db, "to-slack") == [("team-slack", "sent", "slack", 200, "OK: ok")]
    assert smtp_server.handler.received == []  # no email: the job tells Slack only
    [request] = slack.requests
    message = request.json
    assert slack_problems(message) == []
    # What the report says, computed again from the same data: its title, summary, figures and archived page.
    report = produce(demo_db, "cart-reminder", *OCTOBER, "UTC", ("html",), clock(), branding_of(settings))
    header, summary, figures, where, actions = message["blocks"]
    assert header["text"]["text"] == f"Push report: {report.stats.campaign.name} — Oct 1, 2026 – Oct 31, 2026"
    assert summary["text"]["text"] == " ".join(report.rendered.summary).replace("&", "&amp;").replace(
        "<", "&lt;"
    ).replace(">", "&gt;")
    assert len(report.rendered.summary) >= 3
    t = report.stats.totals
    assert figures["fields"][0]["text"] == f"*Sent*\n{fmt.count(t.sent)} to {fmt.count(t.sent_users)} users"
    assert t.sent > 0
    assert where["elements"][0]["text"] == "campaign cart-reminder · period 2026-10"
    assert actions["elements"][0]["url"] == "https://reports.acme.test/reports/to-slack/cart-reminder/2026-10"
    assert (tmp_path / "archive" / "to-slack" / "cart-reminder" / "2026-10" / "cart-reminder_2026-10.html").is_file()


def test_a_failed_webhook_is_retried_by_the_sweep_and_only_it(
    demo_url: str,
    smtp_server: SmtpServer,
    hook: Receiver,
    urls: None,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = make_engine(demo_url)
    settings = setup(tmp_path, smtp_server.port, job("hook-retry", "[ops-hook]", "[boss@acme.test]"))
    production = production_for(settings)
    clock = Clock(datetime.now(UTC))
    hook.default = Answer(503, b"down for maintenance")
    with caplog.at_level(logging.DEBUG):
        [result] = run_job(engine, settings, settings.job("hook-retry"), FIRE, production, clock=clock)
        assert result.status == "failed" and len(hook.requests) == 2  # the attempt and its one retry
        assert deliveries(engine, "hook-retry") == [
            ("boss@acme.test", "sent", "to", 250, "accepted"),
            (
                "ops-hook",
                "failed",
                "webhook",
                503,
                "Service Unavailable: down for maintenance (attempt 2; earlier: 503)",
            ),
        ]
        hook.default = Answer(200, b"")
        clock.at += timedelta(seconds=59)
        assert retry_units(engine, settings, production, clock) == []  # the sweep's backoff: a minute
        clock.at += timedelta(seconds=2)
        [retried] = retry_units(engine, settings, production, clock)
        assert (retried.status, retried.claim.attempts) == ("delivered", 2)
        clock.at += timedelta(hours=1)
        assert retry_units(engine, settings, production, clock) == []
    assert len(hook.requests) == 3
    assert [m.recipients for m in smtp_server.handler.received] == [["boss@acme.test"]]  # mailed once, not re-mailed
    assert deliveries(engine, "hook-retry")[1] == ("ops-hook", "sent", "webhook", 200, "OK")
    last = hook.requests[-1]
    assert verify(
        SECRET.encode(), last.body, last.headers["X-Reporter-Timestamp"], last.headers["X-Reporter-Signature"]
    )
    assert last.json["id"] == "report/hook-retry/cart-reminder/2026-10" == hook.requests[0].json["id"]
    assert last.json["link"] == "https://reports.acme.test/reports/hook-retry/cart-reminder/2026-10"
    out, err = capsys.readouterr()
    with engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(select(Run.error, Run.artifacts)) for v in row)
    shown = "\n".join([out, err, caplog.text, stored, str(deliveries(engine, "hook-retry"))])
    assert (
        "destination ops-hook (webhook): failed report notice after 2 attempts: 503 Service Unavailable" in caplog.text
    )
    for secret in (hook.url, TOKEN_PATH, SECRET):
        assert secret not in shown
    engine.dispose()


def test_a_refusal_is_final_and_a_webhook_gets_the_failure_notice(
    demo_url: str, smtp_server: SmtpServer, slack: Receiver, hook: Receiver, urls: None, tmp_path: Path
) -> None:
    engine = make_engine(demo_url)
    settings = setup(
        tmp_path, smtp_server.port, job("refused-slack", "[team-slack]"), "notify:\n  on_failure: [ops-hook]\n"
    )
    production = production_for(settings)
    clock = Clock(datetime.now(UTC))
    slack.default = Answer(404, b"no_service")  # the Slack app was removed
    [result] = run_job(engine, settings, settings.job("refused-slack"), FIRE, production, clock=clock)
    assert result.status == "failed" and len(slack.requests) == 1  # a 4xx is not retried
    clock.at += timedelta(hours=2)
    assert retry_units(engine, settings, production, clock) == []  # refused for good: not retried
    assert len(slack.requests) == 1
    [told] = hook.requests  # once
    assert verify(
        SECRET.encode(), told.body, told.headers["X-Reporter-Timestamp"], told.headers["X-Reporter-Signature"]
    )
    body = told.json
    assert (body["kind"], body["title"], body["campaign"], body["period"]) == (
        "failure",
        "reporter: refused-slack / cart-reminder / 2026-10 failed",
        "cart-reminder",
        "2026-10",
    )
    assert body["facts"] == [
        {"name": "Last error", "value": "not delivered to team-slack (404 Not Found: no_service)"},
        {
            "name": "To try again",
            "value": "reporter run refused-slack --campaign cart-reminder --period 2026-10-01..2026-11-01",
        },
    ]
    assert smtp_server.handler.received == []
    engine.dispose()


def test_a_destination_added_later_is_told_alone(
    demo_url: str, smtp_server: SmtpServer, slack: Receiver, hook: Receiver, urls: None, tmp_path: Path
) -> None:
    engine = make_engine(demo_url)
    before = setup(tmp_path, smtp_server.port, job("grows", "[team-slack]"))
    run_job(engine, before, before.job("grows"), FIRE, production_for(before))
    after = setup(tmp_path, smtp_server.port, job("grows", "[team-slack, ops-hook]"))
    [result] = run_job(engine, after, after.job("grows"), FIRE, production_for(after))
    assert (result.status, result.note) == ("delivered", "sent only to ops-hook (the others already had it)")
    assert (len(slack.requests), len(hook.requests)) == (1, 1)
    assert [r[:3] for r in deliveries(engine, "grows")] == [
        ("ops-hook", "sent", "webhook"),
        ("team-slack", "sent", "slack"),
    ]
    engine.dispose()


def test_an_email_destination_joins_the_jobs_recipients_once(
    demo_url: str, smtp_server: SmtpServer, urls: None, tmp_path: Path
) -> None:
    engine = make_engine(demo_url)
    settings = setup(tmp_path, smtp_server.port, job("managers-too", "[managers]", "[boss@acme.test]"))
    [result] = run_job(engine, settings, settings.job("managers-too"), FIRE, production_for(settings))
    assert result.status == "delivered"
    [mail] = smtp_server.handler.received  # boss is in the job's To and the destination's Bcc: one mail, as To
    assert (
        mail.recipients == ["boss@acme.test", "head@acme.test"]
        and mail.message["To"] == "boss@acme.test, head@acme.test"
    )
    assert [r[:3] for r in deliveries(engine, "managers-too")] == [
        ("boss@acme.test", "sent", "to"),
        ("head@acme.test", "sent", "to"),
    ]
    engine.dispose()


def test_a_dry_run_tells_no_destination(
    demo_url: str,
    smtp_server: SmtpServer,
    slack: Receiver,
    urls: None,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = make_engine(demo_url)
    settings = setup(tmp_path, smtp_server.port, job("dry", "[team-slack, ops-hook]"))
    with caplog.at_level(logging.INFO):
        [result] = run_job(engine, settings, settings.job("dry"), FIRE, production_for(settings), dry_run=True)
    assert result.status == "preview" and slack.requests == [] and runs(engine, "dry") == []
    assert "dry run: would send cart-reminder to team-slack, ops-hook" in caplog.text
    engine.dispose()


def test_an_unset_url_variable_stops_before_any_work(
    smtp_server: SmtpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_SLACK_URL", raising=False)
    settings = setup(tmp_path, smtp_server.port, job("unset", "[team-slack]"))
    with pytest.raises(
        UserError, match=r"^destinations\.team-slack\.url_env: the environment variable TEST_SLACK_URL is not set$"
    ):
        production_for(settings)
