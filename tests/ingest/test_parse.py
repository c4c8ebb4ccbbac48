"""The data contract: campaigns and their variants, events normalised, every bad record a reject with its line and
reason."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlalchemy import Engine, select

from reporter.ingest import load_campaigns, load_events, parse_timestamp
from reporter.models import Campaign, Event, EventType, Variant
from reporter.timezones import to_us
from tests.ingest.helpers import DATA, GOOD_ROWS, write_events_csv


def test_campaigns_csv_and_yaml_load_with_variants(loaded: Engine) -> None:
    summary = load_campaigns(loaded, DATA / "campaigns.yaml")
    assert (summary.loaded, summary.rejected) == (1, 0)
    with loaded.connect() as conn:
        rows = conn.execute(
            select(Campaign.campaign_id, Campaign.name, Campaign.conversion_window_hours, Campaign.currency).order_by(
                Campaign.campaign_id
            )
        ).all()
        variants = conn.execute(
            select(Campaign.campaign_id, Variant.variant, Variant.split_pct, Variant.baseline)
            .join(Campaign, Campaign.id == Variant.campaign_pk)
            .order_by(Campaign.campaign_id, Variant.position)
        ).all()
    assert rows == [
        ("c-ab", "Black Friday", 48.0, "EUR"),
        ("c-single", "Spring <b>sale</b>", 24.0, "USD"),
        ("c-yaml", "Café ☕ promo", 24.0, "USD"),
    ]
    # The first variant is the baseline unless one says otherwise.
    assert variants == [
        ("c-ab", "A", 45.0, True),
        ("c-ab", "B", 45.0, False),
        ("c-yaml", "A", 50.0, False),
        ("c-yaml", "B", 50.0, True),
    ]


def test_bad_campaigns_are_rejected_with_reasons(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    records = [
        {"campaign_id": "ok", "name": "Fine", "type": "single", "start_at": "2026-11-01T00:00:00Z"},
        {"campaign_id": "no-name", "type": "single", "start_at": "2026-11-01T00:00:00Z"},
        {"campaign_id": "bad-type", "name": "x", "type": "email", "start_at": "2026-11-01T00:00:00Z"},
        {
            "campaign_id": "bad-window",
            "name": "x",
            "type": "single",
            "start_at": "2026-11-01",
            "conversion_window_hours": 0,
        },
        {
            "campaign_id": "bad-split",
            "name": "x",
            "type": "ab",
            "start_at": "2026-11-01",
            "control_group_pct": 10,
            "variants": [
                {"variant": "A", "name": "a", "split_pct": 50},
                {"variant": "B", "name": "b", "split_pct": 50},
            ],
        },
        {"campaign_id": "bad-currency", "name": "x", "type": "single", "start_at": "2026-11-01", "currency": "XYZ"},
        {
            "campaign_id": "bad-control",
            "name": "x",
            "type": "single",
            "start_at": "2026-11-01",
            "control_group_pct": 101,
        },
        {"campaign_id": "bad-planned", "name": "x", "type": "single", "start_at": "2026-11-01", "planned_users": 2.5},
        {"campaign_id": "planned", "name": "x", "type": "single", "start_at": "2026-11-01", "planned_users": "20000"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = load_campaigns(engine, path)
    assert (summary.loaded, summary.rejected) == (2, 7)
    rejects = [json.loads(line) for line in summary.rejects_path.read_text().splitlines()]
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (2, "missing name"),
        (3, "unknown type 'email' (expected one of single, ab)"),
        (4, "conversion_window_hours must be positive, got 0"),
        (5, "variant split_pct sum to 100, expected 90 (100 - control_group_pct)"),
        (6, "currency is not an ISO 4217 code: 'XYZ'"),
        (7, "control_group_pct must be between 0 and 100, got 101"),
        (8, "planned_users must be a whole number of users, at least 1, got 2.5"),
    ]
    assert json.loads(rejects[0]["record"]) == records[1]  # unchanged
    with engine.connect() as conn:
        planned = conn.exec_driver_sql("SELECT campaign_id, planned_users FROM campaigns ORDER BY campaign_id").all()
    assert [tuple(row) for row in planned] == [("ok", None), ("planned", 20000)]


def test_good_csv_events_load_with_normalised_fields(loaded: Engine, tmp_path: Path) -> None:
    summary = load_events(loaded, write_events_csv(tmp_path / "events.csv", GOOD_ROWS))
    assert (summary.loaded, summary.duplicates, summary.rejected) == (6, 0, 0)
    assert summary.rejects_path is None
    with loaded.connect() as conn:
        rows = conn.execute(
            select(
                Event.event_id,
                Event.variant,
                Event.event,
                Event.ts,
                Event.platform,
                Event.device_type,
                Event.channel,
                Event.error_code,
                Event.revenue,
            ).order_by(Event.id)
        ).all()
    ts = lambda s: to_us(parse_timestamp(s))  # noqa: E731
    assert rows == [
        ("e1", None, EventType.SENT, ts("2026-11-02T10:00:00+00:00"), "ios", "phone", "push", None, None),
        ("e2", None, EventType.IMPRESSION, ts("2026-11-02T09:01:00+00:00"), "ios", "phone", "push", None, None),
        # No offset: taken as UTC; no channel on a conversion; revenue kept.
        ("e3", None, EventType.CONVERSION, ts("2026-11-02T12:00:00+00:00"), "unknown", "unknown", None, None, 19.9),
        ("e4", "A", EventType.SENT, ts("2026-11-02T10:00:00+00:00"), "android", "tablet", "app_inbox", None, None),
        (
            "e5",
            "B",
            EventType.ERROR,
            ts("2026-11-02T10:00:00+00:00"),
            "android",
            "unknown",
            "push",
            "UNREGISTERED",
            None,
        ),
        (None, None, EventType.QUALIFIED, ts("2026-11-02T09:00:00+00:00"), "unknown", "unknown", None, None, None),
    ]


def test_every_bad_record_is_rejected_with_line_and_reason(loaded: Engine, tmp_path: Path) -> None:
    bad = [
        "b1,c-single,,,d1,sent,2026-11-02T10:00:00Z,,,,,",  # 2: missing user_id
        "b2,c-single,,u1,,open,2026-11-02T10:00:00Z,,,,,",  # 3: unknown event
        "b3,nope,,u1,,sent,2026-11-02T10:00:00Z,,,,,",  # 4: unknown campaign
        "b4,c-ab,Z,u1,,sent,2026-11-02T10:00:00Z,,,,,",  # 5: unknown variant
        "b5,c-single,,u1,,sent,yesterday,,,,,",  # 6: bad timestamp
        "b6,c-single,,u1,,conversion,2026-11-02T10:00:00Z,,,,,-5",  # 7: negative revenue
        'b7,c-single,,u1,,sent,"2026-11-02T10:00:00Z,,,,,',  # 8: malformed CSV (quote)
        "b8,c-single,,u1,,sent,2026-11-02T10:00:00Z,,,",  # 9: too few fields
        "b9,c-ab,,u1,,click,2026-11-02T10:00:00Z,,,,,",  # 10: ab click without variant
        "b10,c-single,,u1,,error,2026-11-02T10:00:00Z,,,,,",  # 11: error without code
        "b11,c-single,,u1,,sent,2026-11-02T10:00:00Z,beos,,,,",  # 12: unknown platform
        "b12,c-single,,u1,,conversion,2026-11-02T10:00:00Z,,,,,abc",  # 13: revenue not a number
    ]
    rows = [GOOD_ROWS[0], *bad, GOOD_ROWS[3]]
    path = write_events_csv(tmp_path / "events.csv", rows)
    summary = load_events(loaded, path)
    assert (summary.loaded, summary.rejected) == (2, 12)
    assert summary.rejects_path == tmp_path / "events.csv.rejects.csv"
    with open(summary.rejects_path, newline="") as f:
        got = list(csv.DictReader(f))
    assert [(int(r["line"]), r["reason"]) for r in got] == [
        (3, "missing user_id"),
        (4, "unknown event 'open'"),
        (5, "unknown campaign 'nope'"),
        (6, "unknown variant 'Z' of campaign 'c-ab'"),
        (7, "ts is not an ISO 8601 timestamp: 'yesterday'"),
        (8, "negative revenue: '-5'"),
        (9, "malformed CSV line: unexpected end of data"),
        (10, "malformed CSV line: expected 12 fields, got 10"),
        (11, "missing variant (required on click of an ab campaign)"),
        (12, "missing error_code (required on error)"),
        (13, "unknown platform 'beos' (expected one of ios, android, web, other)"),
        (14, "revenue is not a number: 'abc'"),
    ]
    # Rejected records are written unchanged.
    assert [r["record"] for r in got if r["line"] != "9"] == [b for b in bad if not b.startswith("b7")]


def test_nul_and_lone_surrogates_are_rejects_and_the_good_records_load(engine: Engine, tmp_path: Path) -> None:
    """One bad string used to abort the whole load (exit 1) and lose the good records of the file."""
    campaigns = tmp_path / "c.jsonl"
    campaigns.write_text(
        json.dumps({"campaign_id": "c", "name": "C", "type": "single", "start_at": "2026-11-01T00:00:00Z"}) + "\n"
    )
    load_campaigns(engine, campaigns)
    events = tmp_path / "e.jsonl"
    lines = [
        '{"campaign_id": "c", "user_id": "u1", "event": "sent", "ts": "2026-11-02T00:00:00Z"}',
        '{"campaign_id": "c", "user_id": "bad \\ud800 name", "event": "sent", "ts": "2026-11-02T00:00:00Z"}',
        '{"campaign_id": "c", "user_id": "nul \\u0000 name", "event": "sent", "ts": "2026-11-02T00:00:00Z"}',
        '{"campaign_id": "c", "user_id": "u4", "event": "sent", "ts": "2026-11-02T00:00:00Z"}',
    ]
    events.write_text("\n".join(lines) + "\n")
    summary = load_events(engine, events)
    assert (summary.loaded, summary.rejected) == (2, 2)
    rejects = [json.loads(line) for line in summary.rejects_path.read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["reason"], r["record"]) for r in rejects] == [
        (2, "user_id is not valid Unicode (a lone surrogate)", lines[1]),
        (3, "user_id contains a NUL character", lines[2]),
    ]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT user_id FROM events ORDER BY user_id").scalars().all() == ["u1", "u4"]
