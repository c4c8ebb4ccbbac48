"""Telling an alert's notice to the rule's `notify` targets: e-mail addresses, or named destinations."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from html import escape
from typing import Any

from reporter.alerts.check import Tell
from reporter.production import Production
from reporter.settings import AlertSettings, Settings

log = logging.getLogger(__name__)

HEADLINES = {"firing": "firing", "renotify": "still firing", "resolved": "resolved"}


def subject_of(rule: AlertSettings, event: Any) -> str:
    where = event.campaign_id + (f" ({rule.by} {event.grp})" if event.grp else "")
    return f"reporter alert {rule.name} {HEADLINES.get(event.notice, event.notice)}: {where}"


def teller(settings: Settings, production: Production) -> Tell:
    """Tell a notice to each target of its rule; an error only when no target could be told (then it is retried).

    A target told while another failed is not told again: the failure is logged.
    """

    def tell(rule: AlertSettings, event: Any) -> str | None:
        errors = []
        for target in rule.notify:
            error = (
                _email(production, target, rule, event)
                if "@" in target
                else _destination(settings, target, rule, event)
            )
            if error:
                errors.append(f"{target if '@' in target else 'destination ' + target}: {error}")
        if errors and len(errors) < len(rule.notify):
            log.error("alert %s: told some targets, not: %s", rule.name, "; ".join(errors))
            return None
        if not rule.notify:
            log.warning("alert %s: %s (no notify targets)", rule.name, event.detail)
        return "; ".join(errors) or None

    return tell


def _email(production: Production, address: str, rule: AlertSettings, event: Any) -> str | None:
    from reporter.delivery.email import build_message, send

    if production.smtp is None:
        return "no SMTP server is configured (add an smtp: section to the config)"
    text = f"{event.detail}\n"
    message = build_message(
        production.sender,
        [address],
        [],
        subject_of(rule, event),
        f"<p>{escape(event.detail)}</p>",
        text,
        [],
        datetime.now(UTC),
    )
    failed = [o for o in send(production.smtp, message, production.sender, [address]) if not o.sent]
    return f"{failed[0].code} {failed[0].message}" if failed else None


def _destination(settings: Settings, name: str, rule: AlertSettings, event: Any) -> str | None:
    """A named destination (webhook, Slack, Teams, e-mail list) of the config."""
    from reporter.alerts.check import shown
    from reporter.delivery import destinations

    base = settings.web.base_url
    notice = destinations.Notice(
        kind="alert",
        title=subject_of(rule, event),
        summary=(event.detail,),
        facts=(("state", HEADLINES.get(event.notice, event.notice)), (rule.metric, shown(rule.metric, event.value))),
        link=f"{base.rstrip('/')}/alerts" if base else None,
        campaign=event.campaign_id,
        id=f"alert-{rule.name}-{event.id}",
    )
    attempts = destinations.send_notice(name, notice, settings)
    last = attempts[-1] if attempts else None
    if last is None or last.status != "delivered":
        return "not delivered" if last is None else f"{last.code} {last.message}"
    return None
