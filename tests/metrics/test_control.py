"""The control group's sequential test: treatment against control by intent to treat, since the campaign started."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from tests.metrics.helpers import T0, campaign, ev, load, stats
from tests.metrics.test_sequential import reference_look, reference_sequence


def users(prefix: str, kind: str, day: int, n: int, converting: int, **extra: str) -> list[dict]:
    out = []
    for i in range(n):
        user = f"{prefix}{day}-{i}"
        out.append(ev("c", user, kind, day * 24 + 1, **extra))
        if i < converting:
            out.append(ev("c", user, "conversion", day * 24 + 3, revenue="10"))
    return out


def test_treatment_beats_control_since_the_campaign_started(engine: Engine) -> None:
    events = (
        users("t", "sent", 0, 900, 90)
        + users("g", "control", 0, 300, 12)
        + users("t", "sent", 1, 900, 99)
        + users("g", "control", 1, 300, 15)
        # Targeted but never reached: stays in the treatment group, and does not convert.
        + users("e", "error", 1, 100, 0, error_code="NO_PUSH_TOKEN")
    )
    load(engine, [campaign("c", control=25)], events)
    looks = [(12, 300, 90, 900), (27, 600, 189, 1900)]  # (control x, n, treatment x, n) at each midnight
    p, low, high = reference_sequence(looks, 5000)
    # A report of day 2 alone: its own figures, and the test on both days.
    st = stats(engine, "c", T0 + timedelta(days=1), T0 + timedelta(days=2))
    c = st.control
    assert (c.users, c.converted_users, c.treatment_users, c.treatment_converted_users) == (300, 15, 1000, 99)
    assert c.test is not None
    assert c.test.p_value == pytest.approx(p) and p < 0.05
    assert (c.test.ci_low, c.test.ci_high) == pytest.approx((low, high)) and low > 0
    assert c.test.difference == pytest.approx(100 * (189 / 1900 - 27 / 600))
    assert c.test.fixed_p_value is not None
    assert (c.test.significant, c.test.verdict, c.verdict) == (True, "winner", "winner")


def test_a_user_assigned_to_the_control_first_stays_there(engine: Engine) -> None:
    events = users("t", "sent", 0, 200, 30) + users("g", "control", 0, 200, 26)
    # g0-0 .. g0-9 are also sent the message a day later: still control users (their first assignment).
    events += [ev("c", f"g0-{i}", "sent", 30) for i in range(10)]
    load(engine, [campaign("c", control=50)], events)
    st = stats(engine, "c")
    assert (st.control.users, st.control.treatment_users) == (200, 200)
    assert st.totals.sent_users == 210
    looks = [(26, 200, 30, 200), (26, 200, 30, 200)]
    assert st.control.test.p_value == pytest.approx(reference_sequence(looks, 5000)[0])
    assert st.control.test.verdict == "keep_running"  # gate passed (200 users, 26 and 30 converters), p large
    assert reference_look(26, 200, 30, 200, 5000)[0] > 0.05


def test_a_single_conversion_is_not_significant(engine: Engine) -> None:
    # Version 1 called this "significant": 1 of 20 treated against none of 1,000 held out.
    events = users("t", "sent", 0, 20, 1) + users("g", "control", 0, 1000, 0)
    load(engine, [campaign("c", control=50)], events)
    c = stats(engine, "c").control
    assert (c.test.significant, c.verdict) == (False, "not_enough_data")
