"""The demo data: reproducible for a seed, and realistic enough to exercise every figure."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime, timedelta

from reporter.demo import DEMO_DAYS, PLANS, campaign_records, event_records
from reporter.ingest import campaign_refs, parse_campaign, parse_event


def _digest(users: int, seed: int) -> str:
    h = hashlib.sha256()
    for record in event_records(users, seed):
        h.update(json.dumps(record, sort_keys=True).encode())
    return h.hexdigest()


def test_same_seed_same_data_other_seed_other_data() -> None:
    assert _digest(300, 7) == _digest(300, 7)
    assert _digest(300, 7) != _digest(300, 8)


def test_campaigns_cover_single_and_ab_with_control() -> None:
    records = campaign_records()
    parsed = [parse_campaign(r) for r in records]  # valid against the contract
    types = Counter(row["type"] for row, _ in parsed)
    assert types["single"] >= 1 and types["ab"] >= 1
    ab_row, ab_variants = next(p for p in parsed if p[0]["type"] == "ab")
    assert 2 <= len(ab_variants) <= 3
    assert ab_row["control_group_pct"] > 0
    assert sum(v["baseline"] for v in ab_variants) == 1


def test_events_have_the_properties_reports_need() -> None:
    records = list(event_records(3000, 1))
    kinds = Counter(r["event"] for r in records)
    assert set(kinds) == {"qualified", "control", "sent", "impression", "click", "conversion", "error"}
    assert {r["platform"] for r in records if "platform" in r} >= {"ios", "android"}
    assert {r["device_type"] for r in records if "device_type" in r} >= {"phone", "tablet"}
    codes = {r["error_code"] for r in records if r["event"] == "error"}
    assert codes & {"UNREGISTERED", "QUOTA_EXCEEDED", "UNAVAILABLE"}, "FCM errors"
    assert codes & {"BadDeviceToken", "Unregistered"}, "APNs errors"
    assert codes & {"FREQUENCY_CAP_EXCEEDED", "DND_HOURS"}, "non-technical errors"
    assert {r["channel"] for r in records if r["event"] == "sent"} == {"push", "push_amplification", "app_inbox"}
    ab = PLANS[1]
    assert {r.get("variant") for r in records if r["campaign_id"] == ab.campaign_id and r["event"] == "sent"} == {
        "A",
        "B",
        "C",
    }
    # Conversions with revenue, some inside and some outside the window after a send.
    windows = {p.campaign_id: timedelta(hours=p.window_hours) for p in PLANS}
    sends: dict[tuple[str, str], list[datetime]] = {}
    for r in records:
        if r["event"] == "sent":
            sends.setdefault((r["campaign_id"], r["user_id"]), []).append(datetime.fromisoformat(r["ts"]))
    inside = outside = 0
    for r in records:
        if r["event"] != "conversion":
            continue
        ts = datetime.fromisoformat(r["ts"])
        attributed = any(
            s <= ts <= s + windows[r["campaign_id"]] for s in sends.get((r["campaign_id"], r["user_id"]), [])
        )
        inside += attributed
        outside += not attributed
    assert inside > 50 and outside > 10
    assert sum(1 for r in records if r["event"] == "conversion" and r.get("revenue")) > 50
    # A month of days with a weekly rhythm: weekends are quieter than mid-week.
    days = Counter(datetime.fromisoformat(r["ts"]).date() for r in records if r["event"] == "sent")
    assert len(days) >= DEMO_DAYS - 1
    by_weekday = Counter()
    for day, n in days.items():
        by_weekday[day.weekday()] += n
    assert by_weekday[2] > 1.5 * by_weekday[6]


def test_demo_records_pass_validation(sqlite_engine) -> None:
    from reporter.ingest import store_campaigns

    store_campaigns(sqlite_engine, [parse_campaign(r) for r in campaign_records()])
    refs = campaign_refs(sqlite_engine)
    for record in event_records(500, 3):
        parse_event(record, refs)  # raises on any contract violation


def test_reset_deletes_the_demo_campaigns_and_nothing_else(sqlite_engine) -> None:
    from sqlalchemy import func, select

    from reporter.demo import demo_events, load_demo, reset_demo
    from reporter.models import Campaign, Event
    from tests.metrics.helpers import campaign, load

    load(
        sqlite_engine,
        [campaign("mine")],
        [{"campaign_id": "mine", "user_id": "u1", "event": "sent", "ts": "2026-10-02T10:00:00Z"}],
    )
    loaded, _ = load_demo(sqlite_engine, 50, 1)
    assert demo_events(sqlite_engine) == loaded > 0
    reset_demo(sqlite_engine)
    assert demo_events(sqlite_engine) == 0
    with sqlite_engine.connect() as conn:
        assert list(conn.execute(select(Campaign.campaign_id)).scalars()) == ["mine"]
        assert conn.execute(select(func.count()).select_from(Event)).scalar_one() == 1
