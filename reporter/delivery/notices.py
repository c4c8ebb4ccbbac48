"""Notices and how each destination shows them, as pure functions: a Notice in, a JSON-ready dict out.

A notice is what the reporter tells a destination: a report went out, an alert
fired, a unit failed for good. The webhook gets it whole as documented JSON,
signed (`signature`); Slack gets a Block Kit message and Teams an Adaptive
Card, both kept within their documented limits whatever the data holds
(names of 1,000 characters, markup characters, controls); e-mail gets a
short text. Data text is escaped for each format: it never becomes a link,
a mention or markup.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from html import escape as html_escape
from typing import Any, Literal

from reporter.formatting import printable

Kind = Literal["report", "alert", "failure"]
PAYLOAD_VERSION = 1

# Slack Block Kit limits (api.slack.com/reference/block-kit): 50 blocks a message, a header's plain text 150
# characters, a section's text 3,000, up to 10 fields of 2,000 each, a button's label 75 and its URL 3,000.
SLACK_BLOCKS, SLACK_HEADER, SLACK_TEXT, SLACK_FIELDS, SLACK_FIELD, SLACK_BUTTON, SLACK_URL = (
    50,
    150,
    3000,
    10,
    2000,
    75,
    3000,
)
SLACK_FACT_SECTIONS = 4  # 40 facts at most; the rest are counted in a context line
# Teams: a Workflows webhook takes a message of 28 KB: texts are cut, and facts left out until the card fits.
TEAMS_TEXT, TEAMS_VALUE, TEAMS_FACTS, TEAMS_BYTES, CARD_VERSION = 2000, 500, 30, 24 * 1024, "1.4"
SUMMARY_SENTENCES = 10
BUTTON = {"report": "Open the report", "alert": "Open", "failure": "Open"}


@dataclass(frozen=True)
class Notice:
    """What a destination is told: a report went out, an alert changed state, a unit failed for good."""

    kind: Kind
    title: str
    summary: tuple[str, ...] = ()  # sentences
    facts: tuple[tuple[str, str], ...] = ()  # (name, value), in order
    link: str | None = None  # e.g. the archived report in the web app
    campaign: str | None = None
    period: str | None = None
    id: str | None = None  # the same for every retry of one notice: receivers de-duplicate with it


def cut(text: str, limit: int) -> str:
    """The text, shortened to `limit` characters with an ellipsis when longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _where(notice: Notice) -> str:
    parts = [
        f"campaign {notice.campaign}" if notice.campaign else "",
        f"period {notice.period}" if notice.period else "",
    ]
    return " · ".join(p for p in parts if p)


def webhook_body(notice: Notice, delivery_id: str, sent_at: datetime) -> dict[str, Any]:
    """The webhook's JSON document (documented in the README; keys are only ever added)."""
    return {
        "version": PAYLOAD_VERSION,
        "id": delivery_id,
        "kind": notice.kind,
        "title": notice.title,
        "summary": list(notice.summary),
        "facts": [{"name": name, "value": value} for name, value in notice.facts],
        "link": notice.link,
        "campaign": notice.campaign,
        "period": notice.period,
        "sent_at": sent_at.isoformat(timespec="seconds"),
    }


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 with the secret over `<timestamp>.<raw body>`."""
    return "sha256=" + hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def webhook_headers(secret: bytes, body: bytes, timestamp: str, delivery_id: str) -> dict[str, str]:
    """The headers of one attempt: each attempt signs again with its own timestamp."""
    return {
        "X-Reporter-Timestamp": timestamp,
        "X-Reporter-Signature": signature(secret, timestamp, body),
        "X-Reporter-Delivery": delivery_id,
    }


def _mrkdwn(text: str) -> str:
    """Data text for Slack's mrkdwn: &, < and > escaped (so no link, mention or command), controls shown."""
    return printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str) -> str:
    return printable(text)


def slack_message(notice: Notice) -> dict[str, Any]:
    """An incoming-webhook message: a header, the summary, the facts as fields, where, and a link button."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": cut(_plain(notice.title) or notice.kind, SLACK_HEADER)},
        },
    ]
    summary = " ".join(notice.summary[:SUMMARY_SENTENCES])
    if summary:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": cut(_mrkdwn(summary), SLACK_TEXT)}})
    shown = notice.facts[: SLACK_FIELDS * SLACK_FACT_SECTIONS]
    for i in range(0, len(shown), SLACK_FIELDS):
        fields = [
            {"type": "mrkdwn", "text": cut(f"*{_mrkdwn(name)}*\n{_mrkdwn(value)}", SLACK_FIELD)}
            for name, value in shown[i : i + SLACK_FIELDS]
        ]
        blocks.append({"type": "section", "fields": fields})
    context = [_mrkdwn(_where(notice))] if _where(notice) else []
    if len(notice.facts) > len(shown):
        context.append(f"and {len(notice.facts) - len(shown)} more figures")
    if context:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(" · ".join(context), SLACK_TEXT)}]}
        )
    if notice.link and len(notice.link) <= SLACK_URL:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": BUTTON[notice.kind]}, "url": notice.link}
                ],
            }
        )
    fallback = notice.title + (f": {notice.summary[0]}" if notice.summary else "")
    return {"text": cut(_mrkdwn(fallback), SLACK_TEXT), "blocks": blocks[:SLACK_BLOCKS]}


def _card_text(text: str, limit: int = TEAMS_TEXT) -> str:
    """Data text for an Adaptive Card's markdown subset: *, _, [ and ] escaped (no emphasis, no link), controls
    shown."""
    out = printable(text)
    for char in "\\*_[]":
        out = out.replace(char, "\\" + char)
    return cut(out, limit)


def teams_message(notice: Notice) -> dict[str, Any]:
    """A Workflows webhook message holding one Adaptive Card (1.4): title, where, summary, facts, a link action.

    Facts are left out from the end (and counted) while the message is larger than the webhook takes.
    """
    shown = min(len(notice.facts), TEAMS_FACTS)
    message = _teams_message(notice, shown)
    while shown and len(json.dumps(message)) > TEAMS_BYTES:
        shown -= 1
        message = _teams_message(notice, shown)
    return message


def _teams_message(notice: Notice, shown: int) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": _card_text(notice.title),
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
            "color": "default" if notice.kind == "report" else "attention",
        },
    ]
    if _where(notice):
        body.append(
            {"type": "TextBlock", "text": _card_text(_where(notice)), "isSubtle": True, "spacing": "None", "wrap": True}
        )
    summary = " ".join(notice.summary[:SUMMARY_SENTENCES])
    if summary:
        body.append({"type": "TextBlock", "text": _card_text(summary), "wrap": True})
    if shown:
        facts = [
            {"title": cut(_plain(name), 200), "value": _card_text(value, TEAMS_VALUE)}
            for name, value in notice.facts[:shown]
        ]
        body.append({"type": "FactSet", "facts": facts})
    if len(notice.facts) > shown:
        body.append(
            {
                "type": "TextBlock",
                "text": f"and {len(notice.facts) - shown} more figures",
                "isSubtle": True,
                "wrap": True,
            }
        )
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "fallbackText": cut(_plain(notice.title), TEAMS_TEXT),
    }
    if notice.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": BUTTON[notice.kind], "url": notice.link}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def email_body(notice: Notice) -> tuple[str, str, str]:
    """The subject, HTML and plain text of a notice by e-mail."""
    lines = [notice.title]
    if _where(notice):
        lines.append(_where(notice))
    lines += ["", " ".join(notice.summary), ""] if notice.summary else [""]
    lines += [f"{name}: {value}" for name, value in notice.facts]
    if notice.link:
        lines += ["", notice.link]
    text = "\n".join(lines).rstrip("\n") + "\n"
    html = (
        f"<h2>{html_escape(notice.title)}</h2>"
        + (f'<p style="color:#666">{html_escape(_where(notice))}</p>' if _where(notice) else "")
        + (f"<p>{html_escape(' '.join(notice.summary))}</p>" if notice.summary else "")
        + (
            "<table>"
            + "".join(
                f'<tr><th style="text-align:left;padding-right:1em">{html_escape(n)}</th><td>{html_escape(v)}</td></tr>'
                for n, v in notice.facts
            )
            + "</table>"
            if notice.facts
            else ""
        )
        + (f'<p><a href="{html_escape(notice.link)}">{BUTTON[notice.kind]}</a></p>' if notice.link else "")
    )
    return notice.title, html, text
