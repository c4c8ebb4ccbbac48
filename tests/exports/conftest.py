"""Stats documents of small hand-made campaigns (known values) and of the demo, built once per test module.

Hours after T0 = Monday 2026-11-02 00:00 UTC; window 24 h.

    single "s" (period [T0, T0 + 48 h), so with hourly buckets):
        u1  qualified 0; sent 0 (ios phone); impression 0.5; click 1; conversion 5 (10.00)
        u2  qualified 0; sent 1 (android tablet); impression 2
        u3  sent 2 via app_inbox; impression 3 (ios phone, app_inbox)
        u4  error UNREGISTERED 3; error DND_HOURS 4
        u5  control 0
    A/B "ab" (A baseline 45%, B 45%, control 10%):
        a0..a3 sent 1 (android phone); a0 impression 1.5, click 2, conversion 3 (5.00)
        b0..b3 sent 1 (b0 via push_amplification); b0, b1 conversion 3 (2.50 each)
        c0 control 0
    empty "e": a single-message campaign with no events
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from reporter.db import make_engine, upgrade
from reporter.demo import PLANS, load_demo
from reporter.metrics.serialize import stats_to_json
from tests.metrics.helpers import T0, campaign, ev, load, stats

IOS = {"platform": "ios", "device_type": "phone"}
ANDROID_TABLET = {"platform": "android", "device_type": "tablet"}
ANDROID = {"platform": "android", "device_type": "phone"}


def single_events() -> list[dict[str, Any]]:
    return [
        ev("s", "u1", "qualified", 0),
        ev("s", "u1", "sent", 0, **IOS),
        ev("s", "u1", "impression", 0.5, **IOS),
        ev("s", "u1", "click", 1, **IOS),
        ev("s", "u1", "conversion", 5, revenue="10.00"),
        ev("s", "u2", "qualified", 0),
        ev("s", "u2", "sent", 1, **ANDROID_TABLET),
        ev("s", "u2", "impression", 2, **ANDROID_TABLET),
        ev("s", "u3", "sent", 2, channel="app_inbox"),
        ev("s", "u3", "impression", 3, channel="app_inbox", **IOS),
        ev("s", "u4", "error", 3, error_code="UNREGISTERED"),
        ev("s", "u4", "error", 4, error_code="DND_HOURS"),
        ev("s", "u5", "control", 0),
    ]


def ab_events() -> list[dict[str, Any]]:
    events = []
    for i in range(4):
        events.append(ev("ab", f"a{i}", "sent", 1, variant="A", **ANDROID))
        extra = {"channel": "push_amplification"} if i == 0 else {}
        events.append(ev("ab", f"b{i}", "sent", 1, variant="B", **ANDROID, **extra))
    events += [
        ev("ab", "a0", "impression", 1.5, variant="A", **ANDROID),
        ev("ab", "a0", "click", 2, variant="A", **ANDROID),
        ev("ab", "a0", "conversion", 3, revenue="5.00"),
        ev("ab", "b0", "conversion", 3, revenue="2.50"),
        ev("ab", "b1", "conversion", 3, revenue="2.50"),
        ev("ab", "c0", "control", 0),
    ]
    return events


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """name -> `stats --json` document: single, single_ny (a clocks-go-back day), ab, empty, demo_ab, demo_single."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('exports') / 'reporter.db'}")
    upgrade(engine)
    variants = [{"variant": v, "name": f"Variant {v}", "split_pct": 45} for v in "AB"]
    load(
        engine,
        [campaign("s"), campaign("ab", "ab", control=10, variants=variants), campaign("e")],
        single_events() + ab_events(),
    )
    load_demo(engine, 300, 7)
    ny = ZoneInfo("America/New_York")
    docs = {
        "single": stats(engine, "s", T0, T0 + timedelta(hours=48)),
        "single_ny": stats(engine, "s", datetime(2026, 11, 1, tzinfo=ny), datetime(2026, 11, 3, tzinfo=ny), str(ny)),
        "ab": stats(engine, "ab", T0, T0 + timedelta(days=1)),
        "empty": stats(engine, "e"),
        "demo_ab": stats(engine, PLANS[1].campaign_id),
        "demo_single": stats(engine, PLANS[0].campaign_id),
    }
    engine.dispose()
    return {name: stats_to_json(s) for name, s in docs.items()}


@pytest.fixture(params=["single", "single_ny", "ab", "empty", "demo_ab", "demo_single", "ab_read_back"])
def document(request: pytest.FixtureRequest, documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each document; `ab_read_back` is the A/B one as a user's script gets it: the JSON text parsed again."""
    if request.param == "ab_read_back":
        return dict(json.loads(json.dumps(documents["ab"], ensure_ascii=False)))
    return documents[request.param]
