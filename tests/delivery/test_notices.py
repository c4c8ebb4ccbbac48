"""The payload builders, pure: each destination's payload from a notice, within what the destination accepts."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from reporter.delivery.notices import (
    Notice,
    email_body,
    signature,
    slack_message,
    teams_message,
    webhook_body,
    webhook_headers,
)
from tests.delivery.payload_rules import slack_problems, teams_problems

AT = datetime(2026, 11, 28, 7, 0, 3, tzinfo=UTC)
NOTICE = Notice(
    kind="report",
    title="Push report: Black Friday — Nov 27, 2026",
    summary=("1,200 users were sent the message; 84 converted (7.00%).", "Stop: C wins (+2.47 pp)."),
    facts=(("Sent", "1,250 to 1,200 users"), ("Clicks", "96 (CTR 7.68%)")),
    link="https://reports.example.test/reports/daily/black-friday/2026-11-27",
    campaign="black-friday",
    period="2026-11-27",
    id="report/daily/black-friday/2026-11-27",
)
# Data that tries every trick: markup of each format, a mention, controls, and lengths past every limit.
HOSTILE = Notice(
    kind="alert",
    title="<!channel> *Sale* & [click](https://evil.test) \x1b[2J " + "x" * 1000,
    summary=tuple(f"Sentence {i} <@U123> _{'y' * 400}_." for i in range(30)),
    facts=tuple((f"figure {i} <b>", f"{i} & *bold* [x](https://evil.test)" + "z" * 3000) for i in range(120)),
    link="https://reports.example.test/reports/a/b/c",
    campaign="c" * 300,
    period="2026-W47",
)


def test_the_webhook_body_is_the_documented_document() -> None:
    assert webhook_body(NOTICE, "d-1", AT) == {
        "version": 1,
        "id": "d-1",
        "kind": "report",
        "title": "Push report: Black Friday — Nov 27, 2026",
        "summary": ["1,200 users were sent the message; 84 converted (7.00%).", "Stop: C wins (+2.47 pp)."],
        "facts": [{"name": "Sent", "value": "1,250 to 1,200 users"}, {"name": "Clicks", "value": "96 (CTR 7.68%)"}],
        "link": "https://reports.example.test/reports/daily/black-friday/2026-11-27",
        "campaign": "black-friday",
        "period": "2026-11-27",
        "sent_at": "2026-11-28T07:00:03+00:00",
    }


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    # Computed apart: printf '%s' '1764316800.{"kind":"report"}' | openssl dgst -sha256 -hmac whsec_test_5f2c
    expected = "sha256=22e56bd472940a9399a0aba165e1057106f0a13d5aaff0435a0cb2657613f4d9"
    assert signature(b"whsec_test_5f2c", "1764316800", b'{"kind":"report"}') == expected
    assert webhook_headers(b"whsec_test_5f2c", b'{"kind":"report"}', "1764316800", "d-1") == {
        "X-Reporter-Timestamp": "1764316800",
        "X-Reporter-Signature": expected,
        "X-Reporter-Delivery": "d-1",
    }
    assert signature(b"whsec_test_5f2c", "1764316801", b'{"kind":"report"}') != expected  # the time is signed


def test_the_slack_message_has_header_summary_figures_and_link() -> None:
    message = slack_message(NOTICE)
    assert slack_problems(message) == []
    assert (
        message["text"]
        == "Push report: Black Friday — Nov 27, 2026: 1,200 users were sent the message; 84 converted (7.00%)."
    )
    header, summary, figures, where, actions = message["blocks"]
    assert header["text"] == {"type": "plain_text", "text": "Push report: Black Friday — Nov 27, 2026"}
    assert (
        summary["text"]["text"] == "1,200 users were sent the message; 84 converted (7.00%). Stop: C wins (+2.47 pp)."
    )
    assert [f["text"] for f in figures["fields"]] == ["*Sent*\n1,250 to 1,200 users", "*Clicks*\n96 (CTR 7.68%)"]
    assert where["elements"][0]["text"] == "campaign black-friday · period 2026-11-27"
    assert actions["elements"][0]["url"] == NOTICE.link
    assert actions["elements"][0]["text"]["text"] == "Open the report"


def test_the_slack_message_stays_within_block_kits_limits_and_escapes_data() -> None:
    message = slack_message(HOSTILE)
    assert slack_problems(message) == []
    mrkdwn = [message["text"]] + [
        t["text"]
        for b in message["blocks"]
        for t in [b.get("text", {}), *b.get("fields", []), *b.get("elements", [])]
        if t.get("type") == "mrkdwn"
    ]
    assert all("<" not in t and ">" not in t for t in mrkdwn)  # no <!channel>, <@U123> or <url|link>
    assert "&lt;!channel&gt; *Sale* &amp; [click](https://evil.test) \\x1b[2J" in message["text"]
    fields = [f for b in message["blocks"] for f in b.get("fields", [])]
    assert len(fields) == 40 and fields[0]["text"].startswith("*figure 0 &lt;b&gt;*\n0 &amp; *bold*")
    assert message["blocks"][-2]["elements"][0]["text"].endswith("and 80 more figures")
    assert len(message["blocks"][0]["text"]["text"]) == 150


def test_the_slack_checker_finds_broken_messages() -> None:
    good = slack_message(NOTICE)
    broken = []
    for change in (
        lambda m: m["blocks"][0]["text"].update(text="h" * 151),
        lambda m: m["blocks"][1]["text"].update(text="s" * 3001),
        lambda m: m["blocks"][2]["fields"].extend(m["blocks"][2]["fields"] * 5),
        lambda m: m["blocks"].extend([{"type": "divider"}] * 50),
        lambda m: m["blocks"][1]["text"].update(type="markdown"),
        lambda m: m["blocks"][1].pop("text"),
        lambda m: m.pop("text"),
    ):
        message = copy.deepcopy(good)
        change(message)
        broken.append(len(slack_problems(message)) >= 1)
    assert broken == [True] * 7


def test_the_teams_card_is_valid_against_the_published_schema() -> None:
    message = teams_message(NOTICE)
    assert teams_problems(message) == []
    card = message["attachments"][0]["content"]
    assert card["version"] == "1.4"
    title, where, summary, facts = card["body"]
    assert (title["text"], title["weight"]) == ("Push report: Black Friday — Nov 27, 2026", "Bolder")
    assert where["text"] == "campaign black-friday · period 2026-11-27"
    assert summary["text"] == "1,200 users were sent the message; 84 converted (7.00%). Stop: C wins (+2.47 pp)."
    assert facts["facts"] == [
        {"title": "Sent", "value": "1,250 to 1,200 users"},
        {"title": "Clicks", "value": "96 (CTR 7.68%)"},
    ]
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open the report", "url": NOTICE.link}]


def test_the_teams_card_of_hostile_data_is_valid_small_and_escaped() -> None:
    message = teams_message(HOSTILE)
    assert teams_problems(message) == []
    card = message["attachments"][0]["content"]
    assert card["body"][0]["text"].startswith("<!channel> \\*Sale\\* & \\[click\\](https://evil.test) \\\\x1b\\[2J")
    assert card["body"][0]["color"] == "attention"
    assert len(card["body"][3]["facts"]) == 30 and card["body"][4]["text"] == "and 90 more figures"


def test_the_teams_checker_finds_broken_cards() -> None:
    good = teams_message(NOTICE)
    broken = []
    for change in (
        lambda c: c.update(msteams={"width": "Full"}),  # not in the published schema
        lambda c: c["body"][0].pop("text"),
        lambda c: c["body"][3]["facts"][0].pop("value"),
        lambda c: c.update(version="1.2"),
        lambda c: c["body"].append({"type": "Table", "rows": []}),  # 1.5
        lambda c: c["actions"][0].pop("url"),
    ):
        message = copy.deepcopy(good)
        change(message["attachments"][0]["content"])
        broken.append(len(teams_problems(message)) >= 1)
    assert broken == [True] * 6


def test_the_email_body_has_every_part_and_escapes_html() -> None:
    subject, html, text = email_body(NOTICE)
    assert subject == NOTICE.title
    assert text == (
        "Push report: Black Friday — Nov 27, 2026\ncampaign black-friday · period 2026-11-27\n\n"
        "1,200 users were sent the message; 84 converted (7.00%). Stop: C wins (+2.47 pp).\n\n"
        "Sent: 1,250 to 1,200 users\nClicks: 96 (CTR 7.68%)\n\n"
        "https://reports.example.test/reports/daily/black-friday/2026-11-27\n"
    )
    _subject, html, _text = email_body(HOSTILE)
    assert "<!channel>" not in html and "&lt;!channel&gt;" in html and "<b>" not in html


def test_the_teams_card_leaves_out_facts_until_it_fits_the_webhook() -> None:
    heavy = Notice(kind="report", title="Emoji", facts=tuple((f"f{i}", "😀" * 3000) for i in range(30)))
    message = teams_message(heavy)
    assert teams_problems(message) == []
    card = message["attachments"][0]["content"]
    shown = len(card["body"][1]["facts"])
    assert 0 < shown < 30 and card["body"][2]["text"] == f"and {30 - shown} more figures"
