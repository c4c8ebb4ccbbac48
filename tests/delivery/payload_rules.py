"""What Slack and Teams accept, as checks the tests run on every payload.

Slack: the Block Kit reference's required fields and limits (api.slack.com/reference/block-kit/blocks,
.../composition-objects, .../block-elements). Teams: the Workflows webhook's message envelope, and the card
against the published Adaptive Card 1.4 JSON schema (tests/delivery/data/adaptive-card-1.4.json).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA = Path(__file__).parent / "data" / "adaptive-card-1.4.json"


def _text_object(obj: Any, where: str, limit: int, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where}: not a text object"]
    problems = []
    allowed = {"plain_text"} if plain_only else {"plain_text", "mrkdwn"}
    if obj.get("type") not in allowed:
        problems.append(f"{where}.type: {obj.get('type')!r} is not one of {sorted(allowed)}")
    extra = set(obj) - {"type", "text", "emoji", "verbatim"}
    if extra:
        problems.append(f"{where}: unknown fields {sorted(extra)}")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        problems.append(f"{where}.text: required, non-empty")
    elif len(text) > limit:
        problems.append(f"{where}.text: {len(text)} characters, more than {limit}")
    return problems


def slack_problems(message: dict[str, Any]) -> list[str]:
    """Every way the message breaks Block Kit's documented rules for an incoming webhook ([] when none)."""
    problems = []
    if not isinstance(message.get("text"), str) or not message["text"]:
        problems.append("text: the notification's fallback text is missing")
    blocks = message.get("blocks")
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
        return [*problems, "blocks: 1 to 50 blocks"]
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        kind = block.get("type")
        if len(block.get("block_id", "")) > 255:
            problems.append(f"{where}.block_id: more than 255 characters")
        if kind == "header":
            problems += _text_object(block.get("text"), f"{where}.text", 150, plain_only=True)
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"{where}: a section needs text or fields")
            if "text" in block:
                problems += _text_object(block["text"], f"{where}.text", 3000)
            fields = block.get("fields", [])
            if len(fields) > 10:
                problems.append(f"{where}.fields: {len(fields)} fields, more than 10")
            for j, item in enumerate(fields):
                problems += _text_object(item, f"{where}.fields[{j}]", 2000)
        elif kind == "context":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 10:
                problems.append(f"{where}.elements: 1 to 10 elements")
            for j, item in enumerate(elements):
                problems += _text_object(item, f"{where}.elements[{j}]", 3000)
        elif kind == "actions":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 25:
                problems.append(f"{where}.elements: 1 to 25 elements")
            for j, item in enumerate(elements):
                if item.get("type") != "button":
                    problems.append(f"{where}.elements[{j}]: only buttons are expected here")
                    continue
                problems += _text_object(item.get("text"), f"{where}.elements[{j}].text", 75, plain_only=True)
                url = item.get("url", "")
                if not isinstance(url, str) or len(url) > 3000:
                    problems.append(f"{where}.elements[{j}].url: up to 3000 characters")
        elif kind != "divider":
            problems.append(f"{where}.type: {kind!r} is not a block this reporter sends")
    return problems


@cache
def _card_validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft6Validator(schema)


def teams_problems(message: dict[str, Any]) -> list[str]:
    """Every way the message breaks the Workflows envelope or the Adaptive Card 1.4 schema ([] when none)."""
    problems = []
    if message.get("type") != "message":
        problems.append("type: must be message")
    attachments = message.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        return [*problems, "attachments: one attachment expected"]
    attachment = attachments[0]
    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
        problems.append("attachments[0].contentType: must be application/vnd.microsoft.card.adaptive")
    card = attachment.get("content")
    if not isinstance(card, dict):
        return [*problems, "attachments[0].content: the card is missing"]
    if card.get("type") != "AdaptiveCard":
        problems.append("content.type: must be AdaptiveCard")
    version = card.get("version", "")
    if tuple(int(p) for p in version.split(".")) < (1, 4):
        problems.append(f"content.version: {version!r}, expected 1.4 or later")
    problems += [
        f"content{''.join(f'[{p!r}]' for p in e.absolute_path)}: {e.message}"
        for e in _card_validator().iter_errors(card)
    ]
    if len(json.dumps(message).encode()) > 28 * 1024:
        problems.append("the message is larger than the 28 KB a Workflows webhook takes")
    return problems
