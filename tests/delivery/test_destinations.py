"""Named destinations against real HTTP servers on 127.0.0.1: signatures, retries, timeouts, and secrets kept."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from reporter.delivery.destinations import Notice, check_destinations, send_notice
from reporter.errors import UserError
from reporter.settings import Settings
from tests.delivery.conftest import SmtpServer
from tests.delivery.payload_rules import slack_problems, teams_problems
from tests.delivery.receiver import TOKEN_PATH, Answer, Receiver, serve, verify

AT = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
SECRET = "whsec_9c1d7e2a4b6f"
NOTICE = Notice(
    kind="alert",
    title="reporter alert error-spike firing: black-friday",
    summary=("error_rate is 12.50 (above 10) over the last 6 hours.",),
    facts=(("value", "12.50"),),
    campaign="black-friday",
)


class Time:
    """An injected clock that the injected sleep moves on."""

    def __init__(self) -> None:
        self.now = AT
        self.sleeps: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve() as r:
        yield r


def settings_for(**destinations: dict) -> Settings:
    return Settings.model_validate({"destinations": destinations})


def hook(**kw: object) -> dict:
    return {"type": "webhook", "url_env": "HOOK_URL", "secret_env": "HOOK_SECRET", "backoff_s": 0.5, **kw}


def env(receiver: Receiver) -> dict[str, str]:
    return {"HOOK_URL": receiver.url, "HOOK_SECRET": SECRET}


def test_a_webhook_gets_the_notice_signed(receiver: Receiver) -> None:
    sleeps: list[float] = []
    [attempt] = send_notice(
        "ops", NOTICE, settings_for(ops=hook()), sleep=sleeps.append, clock=lambda: AT, environ=env(receiver)
    )
    assert (attempt.destination, attempt.status, attempt.code, attempt.message, attempt.at) == (
        "ops",
        "delivered",
        200,
        "OK: ok",
        AT,
    )
    [request] = receiver.requests
    assert request.path == TOKEN_PATH and request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["X-Reporter-Timestamp"] == "1795849200"  # AT: date -u -d @1795849200
    assert verify(
        SECRET.encode(), request.body, request.headers["X-Reporter-Timestamp"], request.headers["X-Reporter-Signature"]
    )
    assert not verify(
        b"another secret",
        request.body,
        request.headers["X-Reporter-Timestamp"],
        request.headers["X-Reporter-Signature"],
    )
    body = request.json
    assert request.headers["X-Reporter-Delivery"] == body["id"] and len(body["id"]) == 32
    assert {
        k: body[k] for k in ("version", "kind", "title", "summary", "facts", "link", "campaign", "period", "sent_at")
    } == {
        "version": 1,
        "kind": "alert",
        "title": "reporter alert error-spike firing: black-friday",
        "summary": ["error_rate is 12.50 (above 10) over the last 6 hours."],
        "facts": [{"name": "value", "value": "12.50"}],
        "link": None,
        "campaign": "black-friday",
        "period": None,
        "sent_at": "2026-11-28T07:00:00+00:00",
    }
    assert sleeps == []


def test_a_503_then_200_is_delivered_once_after_two_attempts(receiver: Receiver) -> None:
    receiver.script = [Answer(503, b"busy")]
    time = Time()
    attempts = send_notice(
        "ops", NOTICE, settings_for(ops=hook(backoff_s=2)), sleep=time.sleep, clock=time.clock, environ=env(receiver)
    )
    assert [(a.status, a.code, a.transient) for a in attempts] == [("failed", 503, True), ("delivered", 200, False)]
    assert [a.at for a in attempts] == [AT, AT + timedelta(seconds=2)]
    assert attempts[0].message == "Service Unavailable: busy"
    assert time.sleeps == [2]  # backoff_s
    first, second = receiver.requests
    assert first.body == second.body  # the same notice, the same id: a receiver can drop a duplicate
    assert (first.headers["X-Reporter-Timestamp"], second.headers["X-Reporter-Timestamp"]) == (
        "1795849200",
        "1795849202",
    )
    assert all(
        verify(SECRET.encode(), r.body, r.headers["X-Reporter-Timestamp"], r.headers["X-Reporter-Signature"])
        for r in receiver.requests
    )  # each attempt signed with its own time


def test_backoff_doubles_until_the_retries_are_spent(receiver: Receiver) -> None:
    receiver.default = Answer(502, b"")
    sleeps: list[float] = []
    attempts = send_notice(
        "ops", NOTICE, settings_for(ops=hook(retries=3, max_wait_s=1.5)), sleep=sleeps.append, environ=env(receiver)
    )
    assert [a.code for a in attempts] == [502, 502, 502, 502] and attempts[-1].status == "failed"
    assert sleeps == [0.5, 1.0, 1.5]  # 0.5, 1, 2 capped at max_wait_s
    assert len(receiver.requests) == 4


def test_a_429_waits_what_retry_after_asks_capped(receiver: Receiver) -> None:
    later = format_datetime(AT + timedelta(seconds=7), usegmt=True)
    receiver.script = [
        Answer(429, b"rate_limited", {"Retry-After": "2"}),
        Answer(429, b"", {"Retry-After": "900"}),
        Answer(503, b"", {"Retry-After": later}),
    ]
    sleeps: list[float] = []
    attempts = send_notice(
        "ops",
        NOTICE,
        settings_for(ops=hook(max_wait_s=30)),
        sleep=sleeps.append,
        clock=lambda: AT,
        environ=env(receiver),
    )
    assert [a.code for a in attempts] == [429, 429, 503, 200]
    assert sleeps == [2.0, 30.0, 7.0]  # Retry-After in seconds; 900 capped at max_wait_s; an HTTP date


def test_a_400_fails_at_once_without_retry(receiver: Receiver) -> None:
    receiver.default = Answer(400, b"invalid_payload")
    sleeps: list[float] = []
    attempts = send_notice("ops", NOTICE, settings_for(ops=hook()), sleep=sleeps.append, environ=env(receiver))
    assert [(a.status, a.code, a.message, a.transient) for a in attempts] == [
        ("failed", 400, "Bad Request: invalid_payload", False)
    ]
    assert sleeps == [] and len(receiver.requests) == 1


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    receiver.default = Answer(302, b"", {"Location": "http://127.0.0.1:9/elsewhere"})
    [attempt] = send_notice("ops", NOTICE, settings_for(ops=hook()), sleep=lambda s: None, environ=env(receiver))
    assert (attempt.status, attempt.code, attempt.transient) == ("failed", 302, False)
    assert attempt.message.endswith("(a redirect: not followed; point the variable at the new URL)")
    assert len(receiver.requests) == 1


def test_a_server_that_never_answers_times_out_and_is_retried(receiver: Receiver) -> None:
    receiver.default = Answer(hang=True)
    sleeps: list[float] = []
    attempts = send_notice(
        "ops", NOTICE, settings_for(ops=hook(read_timeout_s=0.3, retries=2)), sleep=sleeps.append, environ=env(receiver)
    )
    assert [(a.status, a.code, a.transient) for a in attempts] == [("failed", None, True)] * 3
    assert all(a.message.startswith("timed out") for a in attempts), attempts[0].message
    assert sleeps == [0.5, 1.0] and len(receiver.requests) == 3


def test_no_connection_is_retried_then_failed() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    attempts = send_notice(
        "ops",
        NOTICE,
        settings_for(ops=hook(retries=1)),
        sleep=sleeps.append,
        environ={"HOOK_URL": f"http://127.0.0.1:{port}/hook", "HOOK_SECRET": SECRET},
    )
    assert [(a.status, a.transient) for a in attempts] == [("failed", True)] * 2
    assert attempts[0].message.startswith("no connection: ConnectionRefusedError")
    assert sleeps == [0.5]


def test_slack_gets_block_kit(receiver: Receiver) -> None:
    settings = settings_for(team={"type": "slack", "url_env": "SLACK_URL"})
    [attempt] = send_notice("team", NOTICE, settings, environ={"SLACK_URL": receiver.url})
    assert attempt.status == "delivered"
    [request] = receiver.requests
    assert slack_problems(request.json) == []
    assert request.json["blocks"][0]["text"]["text"] == "reporter alert error-spike firing: black-friday"
    assert "X-Reporter-Signature" not in request.headers


def test_teams_gets_an_adaptive_card(receiver: Receiver) -> None:
    receiver.default = Answer(202, b"")  # what a Workflows webhook answers
    settings = settings_for(team={"type": "teams", "url_env": "TEAMS_URL"})
    [attempt] = send_notice("team", NOTICE, settings, environ={"TEAMS_URL": receiver.url})
    assert (attempt.status, attempt.code, attempt.message) == ("delivered", 202, "Accepted")
    [request] = receiver.requests
    assert teams_problems(request.json) == []
    assert (
        request.json["attachments"][0]["content"]["body"][0]["text"]
        == "reporter alert error-spike firing: black-friday"
    )


def test_an_unset_variable_or_unknown_destination_is_a_failed_attempt_naming_it(receiver: Receiver) -> None:
    settings = settings_for(ops=hook())
    [unset] = send_notice("ops", NOTICE, settings, environ={"HOOK_URL": receiver.url})
    assert (unset.status, unset.message) == (
        "failed",
        "destinations.ops.secret_env: the environment variable HOOK_SECRET is not set",
    )
    [unknown] = send_notice("nope", NOTICE, settings, environ=env(receiver))
    assert (unknown.status, unknown.message) == ("failed", "unknown destination (destinations: ops)")
    [bad] = send_notice(
        "ops", NOTICE, settings, environ={"HOOK_URL": "ftp://files.example.test/x", "HOOK_SECRET": SECRET}
    )
    assert (bad.status, bad.message) == ("failed", "the destination's URL is not an http(s) URL")
    [spaced] = send_notice(
        "ops", NOTICE, settings, environ={"HOOK_URL": receiver.url + "/a b\n", "HOOK_SECRET": SECRET}
    )
    assert (spaced.status, spaced.message) == (
        "failed",
        "the destination's URL holds spaces, control or non-ASCII characters (quote them as %XX)",
    )
    [port] = send_notice(
        "ops", NOTICE, settings, environ={"HOOK_URL": "https://hooks.example.test:99999/x", "HOOK_SECRET": SECRET}
    )
    assert (port.status, port.message) == ("failed", "the destination's URL is not a URL")
    assert receiver.requests == []
    with pytest.raises(UserError, match=r"^destinations\.ops\.url_env: the environment variable HOOK_URL is not set$"):
        check_destinations(settings, ["ops"], environ={})
    check_destinations(settings, ["ops"], environ=env(receiver))


def test_an_email_destination_gets_a_mail(smtp_server: SmtpServer) -> None:
    settings = Settings.model_validate(
        {
            "smtp": {
                "host": smtp_server.host,
                "port": smtp_server.port,
                "security": "none",
                "from": "reports@acme.test",
            },
            "destinations": {"ops-mail": {"type": "email", "to": ["ops@acme.test"], "bcc": ["audit@acme.test"]}},
        }
    )
    [attempt] = send_notice("ops-mail", NOTICE, settings, clock=lambda: AT)
    assert (attempt.status, attempt.code, attempt.message) == ("delivered", 250, "accepted for 2 recipients")
    [mail] = smtp_server.handler.received
    assert mail.recipients == ["ops@acme.test", "audit@acme.test"] and "Bcc" not in mail.message
    assert mail.message["Subject"] == "reporter alert error-spike firing: black-friday"
    assert "error_rate is 12.50 (above 10) over the last 6 hours." in mail.message.get_body(("plain",)).get_content()


def test_urls_and_secrets_never_reach_the_output(
    receiver: Receiver, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # A server whose error page quotes the request, URL included, as many do; then one that works.
    receiver.script = [
        Answer(404, f"no route for POST {receiver.url} (secret {SECRET})".encode()),
        Answer(500, TOKEN_PATH.encode()),
    ]
    settings = settings_for(ops=hook(retries=1), team={"type": "slack", "url_env": "SLACK_URL", "retries": 1})
    environ = {**env(receiver), "SLACK_URL": receiver.url + "?token=xoxb-123"}
    with caplog.at_level(logging.DEBUG):
        failed = send_notice("ops", NOTICE, settings, sleep=lambda s: None, environ=environ)
        retried = send_notice("team", NOTICE, settings, sleep=lambda s: None, environ=environ)
    out, err = capsys.readouterr()
    assert failed[-1].message == "Not Found: no route for POST <hidden> (secret <hidden>)"
    assert [a.status for a in retried] == ["failed", "delivered"]
    shown = "\n".join([out, err, caplog.text, *(a.message for a in failed + retried)])
    for secret in (receiver.url, TOKEN_PATH, "xoxSecretToken123", SECRET, "xoxb-123"):
        assert secret not in shown, secret
    # logs name the destination
    assert "destination ops (webhook): failed alert notice after 1 attempt: 404 Not Found" in caplog.text
    assert "destination team (slack): delivered alert notice after 2 attempts: 200 OK" in caplog.text
