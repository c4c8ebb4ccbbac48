"""The pure part of alerts: conditions, windows and the state machine, worked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reporter.alerts.rules import Condition, error_rate, step, window_bounds

NOW = datetime(2026, 11, 28, 9, tzinfo=UTC)


def test_error_rate_is_errors_over_attempts() -> None:
    assert error_rate(errors=5, sent=15) == 25.0  # 5 of 20 attempts
    assert error_rate(0, 0) is None


@pytest.mark.parametrize(
    ("condition", "value", "previous", "breached"),
    [
        (Condition(above=10), 10.0, None, False),
        (Condition(above=10), 10.5, None, True),
        (Condition(below=2), 1.9, None, True),
        (Condition(above=10), None, None, None),
        (Condition(change_pct=50, direction="up"), 150.0, 100.0, True),  # +50%
        (Condition(change_pct=50, direction="up"), 149.0, 100.0, False),
        (Condition(change_pct=50, direction="up"), 40.0, 100.0, False),  # a fall is not watched
        (Condition(change_pct=50, direction="any"), 40.0, 100.0, True),  # −60%
        (Condition(change_pct=50), 10.0, 0.0, None),  # no relative change from zero
        (Condition(change_pp=1.5, direction="down"), 3.4, 5.0, True),  # −1.6 pp
        (Condition(change_pp=1.5, direction="down"), 3.6, 5.0, False),  # −1.4 pp
        (Condition(change_pp=1.5, direction="down"), 3.4, None, None),
    ],
)
def test_conditions(condition: Condition, value: float | None, previous: float | None, breached: bool | None) -> None:
    assert condition.breached(value, previous) is breached


def test_windows() -> None:
    assert window_bounds("last_6_hours", NOW, "UTC") == (NOW - timedelta(hours=6), NOW)
    start, end = window_bounds("yesterday", NOW, "Europe/Berlin")
    assert (start.isoformat(), end.isoformat()) == ("2026-11-27T00:00:00+01:00", "2026-11-28T00:00:00+01:00")


def test_the_state_machine_fires_after_for_evaluations_and_resolves_once() -> None:
    walk = []
    state, breaches, notified = "ok", 0, None
    for breached in (False, True, None, True, True, None, False, False, True):
        s = step(state, breaches, breached, for_evaluations=2, now=NOW, last_notified=notified, renotify_after=None)
        walk.append((s.state, s.breaches, s.notice))
        state, breaches = s.state, s.breaches
    assert walk == [
        ("ok", 0, None),
        ("pending", 1, None),
        ("pending", 1, None),  # no verdict: nothing changes
        ("firing", 2, "firing"),
        ("firing", 3, None),
        ("firing", 3, None),
        ("resolved", 0, "resolved"),
        ("ok", 0, None),
        ("pending", 1, None),
    ]


def test_a_firing_alert_is_told_again_after_renotify_after() -> None:
    told = NOW - timedelta(hours=6)
    assert step("firing", 3, True, 2, NOW, told, timedelta(hours=6)).notice == "renotify"
    assert step("firing", 3, True, 2, NOW, told + timedelta(minutes=1), timedelta(hours=6)).notice is None
    assert step("firing", 3, None, 2, NOW, told, timedelta(hours=6)).notice == "renotify"
    assert step("firing", 3, True, 2, NOW, told, None).notice is None
