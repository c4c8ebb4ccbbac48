"""Alert evaluations against a real database: ok -> pending -> firing -> resolved, one notice per transition.

The campaign sends 20 notifications an hour; the errors per hour are chosen so
that the error rate (errors / (sent + errors)) crosses 10% and comes back.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from reporter.alerts.check import check_rule
from reporter.alerts.store import history, states
from reporter.settings import Settings
from tests.metrics.helpers import T0, at, campaign, load

ERRORS = [1, 5, 6, 6, 0, 0]  # per hour: 4.8%, 20%, 23.1%, 23.1%, 0%, 0%


def data(engine: Engine) -> None:
    events = []
    for hour, errors in enumerate(ERRORS):
        events += [
            {"campaign_id": "c", "user_id": f"u{hour}-{i}", "event": "sent", "ts": at(hour + i / 40)} for i in range(20)
        ]
        events += [
            {
                "campaign_id": "c",
                "user_id": f"e{hour}-{i}",
                "event": "error",
                "ts": at(hour + i / 40),
                "error_code": "UNAVAILABLE",
                "platform": "android",
            }
            for i in range(errors)
        ]
    # Hour 6: three sends only, under min_volume: no verdict.
    events += [{"campaign_id": "c", "user_id": f"x{i}", "event": "sent", "ts": at(6.5)} for i in range(3)]
    load(engine, [campaign("c")], events)


def rule(**extra: Any) -> Any:
    spec = {
        "name": "errors",
        "schedule": "hourly",
        "campaigns": ["c"],
        "metric": "error_rate",
        "condition": {"above": 10},
        "window": "last_1_hours",
        "min_volume": 10,
        "for": 2,
        **extra,
    }
    settings = Settings.model_validate({"alerts": [spec]})
    return settings, settings.alerts[0]


class Told:
    def __init__(self) -> None:
        self.notices: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, rule: Any, event: Any) -> str | None:
        with self.lock:
            self.notices.append((event.notice, event.detail))
        return None


def test_ok_pending_firing_resolved_one_notice_per_transition(engine: Engine) -> None:
    data(engine)
    settings, r = rule()
    told = Told()
    walk = []
    for hour in range(1, 9):
        slot = T0 + timedelta(hours=hour)
        [e] = check_rule(engine, settings, r, slot, slot, told)
        walk.append((e.state, e.notice, None if e.value is None else round(e.value, 1), e.volume))
    assert walk == [
        ("ok", None, 4.8, 20),
        ("pending", None, 20.0, 20),
        ("firing", "firing", 23.1, 20),
        ("firing", None, 23.1, 20),
        ("resolved", "resolved", 0.0, 20),
        ("ok", None, 0.0, 20),
        ("ok", None, 0.0, 3),  # under min_volume: no verdict
        ("ok", None, None, 0),  # nothing sent: the rate is undefined
    ]
    assert [n for n, _ in told.notices] == ["firing", "resolved"]
    assert told.notices[0][1] == (
        "errors: c: error_rate 23.08% (error_rate above 10; last 1 hours to Nov 2, 2026, 3:00 AM UTC, 20 sends)"
    )
    [s] = states(engine, "errors")
    assert (s.state, s.breaches) == ("ok", 0)
    assert [(h.state, h.notice) for h in reversed(history(engine, "errors"))] == [
        ("pending", None),
        ("firing", "firing"),
        ("resolved", "resolved"),
        ("ok", None),
    ]


def test_two_schedulers_evaluating_the_same_slots_tell_once(engine: Engine) -> None:
    data(engine)
    settings, r = rule()
    told = Told()
    for hour in range(1, 7):
        slot = T0 + timedelta(hours=hour)
        barrier = threading.Barrier(2)

        def evaluate(barrier: threading.Barrier, slot: datetime) -> None:
            barrier.wait()
            check_rule(engine, settings, r, slot, slot, told)

        threads = [threading.Thread(target=evaluate, args=(barrier, slot)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert [n for n, _ in told.notices] == ["firing", "resolved"]
    assert [h.state for h in reversed(history(engine, "errors"))] == ["pending", "firing", "resolved", "ok"]


def test_a_notice_that_could_not_be_told_is_told_by_a_later_evaluation(engine: Engine) -> None:
    data(engine)
    settings, r = rule(**{"for": 1})
    attempts = []

    def down_then_up(rule: Any, event: Any) -> str | None:
        attempts.append(event.notice)
        return "503 Service Unavailable" if len(attempts) == 1 else None

    check_rule(engine, settings, r, T0 + timedelta(hours=2), T0 + timedelta(hours=2), down_then_up)
    [h] = [h for h in history(engine, "errors") if h.notice]
    assert (h.notified_at, h.error) == (None, "503 Service Unavailable")
    check_rule(engine, settings, r, T0 + timedelta(hours=3), T0 + timedelta(hours=3), down_then_up)
    assert attempts == ["firing", "firing"]  # the same notice, once more; the still-firing hour adds none
    assert [h.notified_at is not None for h in history(engine, "errors") if h.notice] == [True]


def test_renotify_after_and_a_split_by_platform(engine: Engine) -> None:
    data(engine)
    settings, r = rule(**{"for": 1, "renotify_after": 1, "by": "platform", "min_volume": 0})
    told = Told()
    for hour in (2, 3, 4):
        slot = T0 + timedelta(hours=hour)
        check_rule(engine, settings, r, slot, slot, told)
    # Sends carry no platform in this data set ("unknown"); the errors are Android's: 100% of Android's attempts.
    assert [s.grp for s in states(engine, "errors")] == ["android", "unknown"]
    assert [(n, d.split(":")[1].strip()) for n, d in told.notices] == [
        ("firing", "c (platform android)"),
        ("renotify", "c (platform android)"),
        ("renotify", "c (platform android)"),
    ]


def test_a_slot_is_counted_once_even_when_evaluated_again(engine: Engine) -> None:
    data(engine)
    settings, r = rule()
    told = Told()
    slot = T0 + timedelta(hours=2)  # 20% errors: a first breach of two
    first = check_rule(engine, settings, r, slot, slot, told)
    again = check_rule(engine, settings, r, slot, slot + timedelta(minutes=5), told)  # a second scheduler, late
    assert [(e.state, e.counted) for e in first + again] == [("pending", True), ("pending", False)]
    assert told.notices == [] and [s.breaches for s in states(engine, "errors")] == [1]
