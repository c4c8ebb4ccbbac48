"""Named destinations (the config's `destinations:`): telling one a Notice, whatever its type.

`send_notice` is the one entry point, for report notices of jobs, failure
notices and alerts: an e-mail list gets a short mail through the smtp
settings, a webhook the notice as signed JSON, Slack a Block Kit message,
Teams an Adaptive Card. URLs and secrets come from the environment variables
the config names; they are never printed or logged (logs name the
destination). The delivery modules know nothing of the run log: the caller
records the attempts.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

from reporter.delivery.notices import Notice, email_body, slack_message, teams_message, webhook_body, webhook_headers
from reporter.delivery.transport import Attempt, Policy, post_json
from reporter.errors import UserError
from reporter.settings import DestinationSettings, Settings

__all__ = ["Attempt", "Notice", "check_destinations", "kind_of", "send_notice"]

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def kind_of(name: str, settings: Settings) -> str:
    """The destination's type (email, webhook, slack, teams); the run log records it as the delivery's kind."""
    return settings.destinations[name].type


def _variable(environ: Mapping[str, str], name: str | None, setting: str) -> tuple[str, str | None]:
    """The value of the environment variable a setting names, or the problem (naming the variable, not its value)."""
    value = environ.get(name or "")
    if not value:
        return "", f"{setting}: the environment variable {name} is not set"
    return value, None


def check_destinations(settings: Settings, names: Iterable[str], environ: Mapping[str, str] | None = None) -> None:
    """A UserError naming the setting when a destination's URL or secret variable is unset (checked at start-up)."""
    environ = os.environ if environ is None else environ
    for name in dict.fromkeys(names):
        config = settings.destinations[name]
        for key in ("url_env", "secret_env"):
            if getattr(config, key) is not None:
                _value, problem = _variable(environ, getattr(config, key), f"destinations.{name}.{key}")
                if problem:
                    raise UserError(problem)


def send_notice(
    destination_name: str,
    notice: Notice,
    settings: Settings,
    *,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], datetime] = _now,
    environ: Mapping[str, str] | None = None,
) -> list[Attempt]:
    """Tell one configured destination a notice: every attempt, the last one the outcome. Never raises for a
    delivery failure (an unknown destination or an unset variable is a failed attempt too)."""
    environ = os.environ if environ is None else environ
    config = settings.destinations.get(destination_name)
    if config is None:
        known = ", ".join(sorted(settings.destinations)) or "none configured"
        return [Attempt(destination_name, "failed", None, f"unknown destination (destinations: {known})", clock())]
    if config.type == "email":
        attempts = [_email(destination_name, config, notice, settings, sleep, clock)]
    else:
        attempts = _post(destination_name, config, notice, environ, sleep, clock)
    last = attempts[-1]
    level = logging.INFO if last.status == "delivered" else logging.WARNING
    log.log(
        level,
        "destination %s (%s): %s %s notice after %d attempt%s: %s %s",
        destination_name,
        config.type,
        last.status,
        notice.kind,
        len(attempts),
        "" if len(attempts) == 1 else "s",
        last.code or "",
        last.message,
    )
    return attempts


def _post(
    name: str,
    config: DestinationSettings,
    notice: Notice,
    environ: Mapping[str, str],
    sleep: Callable[[float], None] | None,
    clock: Callable[[], datetime],
) -> list[Attempt]:
    url, problem = _variable(environ, config.url_env, f"destinations.{name}.url_env")
    if problem:
        return [Attempt(name, "failed", None, problem, clock())]
    url = url.strip()  # a line end copied in with the URL
    delivery_id = notice.id or uuid.uuid4().hex
    secrets: tuple[str, ...] = ()
    headers: Callable[[], Mapping[str, str]] = dict
    if config.type == "webhook":
        secret, problem = _variable(environ, config.secret_env, f"destinations.{name}.secret_env")
        if problem:
            return [Attempt(name, "failed", None, problem, clock())]
        body = _json(webhook_body(notice, delivery_id, clock()))
        secrets = (secret,)

        def headers() -> Mapping[str, str]:
            return webhook_headers(secret.encode("utf-8"), body, str(int(clock().timestamp())), delivery_id)
    elif config.type == "slack":
        body = _json(slack_message(notice))
    else:
        body = _json(teams_message(notice))
    policy = Policy(
        config.connect_timeout_s, config.read_timeout_s, config.retries, config.backoff_s, config.max_wait_s
    )
    return post_json(name, url, body, policy, headers, sleep, clock, secrets)


def _json(document: object) -> bytes:
    # ASCII with \u escapes: valid JSON whatever text the data holds.
    return json.dumps(document, separators=(",", ":")).encode("ascii")


def _email(
    name: str,
    config: DestinationSettings,
    notice: Notice,
    settings: Settings,
    sleep: Callable[[float], None] | None,
    clock: Callable[[], datetime],
) -> Attempt:
    from reporter.delivery.email import SmtpConfig, build_message, send

    if not settings.mails:
        return Attempt(
            name, "failed", None, "no SMTP server is configured (add an smtp: section to the config)", clock()
        )
    s = settings.smtp
    try:
        password = s.password()
    except UserError as exc:
        return Attempt(name, "failed", None, str(exc), clock())
    smtp = SmtpConfig(
        s.host, s.port, s.security, s.username, password, s.timeout_s, s.retries, data_timeout_s=s.data_timeout_s
    )
    subject, html, text = email_body(notice)
    message = build_message(s.sender, config.to, config.cc, subject, html, text, [], clock())
    outcomes = send(smtp, message, s.sender, [*config.to, *config.cc, *config.bcc], sleep=sleep)
    failed = [o for o in outcomes if not o.sent and not o.unknown]
    if failed:
        text = "not delivered to " + ", ".join(f"{o.recipient} ({o.code} {o.message})" for o in failed)
        return Attempt(name, "failed", failed[0].code, text, clock(), transient=all(o.transient for o in failed))
    unknown = [o for o in outcomes if o.unknown]
    if unknown:
        return Attempt(name, "unknown", None, unknown[0].message, clock())
    return Attempt(
        name, "delivered", 250, f"accepted for {len(outcomes)} recipient{'s' * (len(outcomes) != 1)}", clock()
    )
