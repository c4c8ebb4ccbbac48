"""The verdicts in one sentence each, for the report's first page, the e-mail and the terminal."""

from __future__ import annotations

import math
from datetime import timedelta

from reporter import formatting as fmt
from reporter.metrics.model import CampaignStats, Comparison
from reporter.metrics.sequential import DEFAULT_PLANNED_USERS, MIN_CONVERTERS, MIN_USERS


def _decimal(value: float | None) -> str:
    """+0.6, −1.2: a signed number of percentage points without the unit."""
    return fmt.points(value).removesuffix(" pp")


def _interval(c: Comparison) -> str:
    return f"{fmt.points(c.difference)}, 95% CI {_decimal(c.ci_low)} to {_decimal(c.ci_high)}"


def _test_day(stats: CampaignStats) -> int:
    if stats.test_started is None:
        return 0
    return max(1, math.ceil((stats.period.end - stats.test_started) / timedelta(days=1)))


def _planned(stats: CampaignStats) -> str:
    return fmt.count(stats.campaign.planned_users or DEFAULT_PLANNED_USERS)


def ab_sentence(stats: CampaignStats) -> str:
    """The A/B test's verdict: "Stop: C wins (+1.80 pp, 95% CI +0.60 to +3.00, since the test started)"."""
    verdict = stats.verdict
    if verdict == "do_not_decide":
        return "Do not decide: the split is broken (the users sent to each variant do not match the planned split)."
    if verdict == "winner" and stats.winner is not None:
        v = next(v for v in stats.variants if v.variant == stats.winner)
        assert v.vs_baseline is not None
        return f"Stop: {v.variant} wins ({_interval(v.vs_baseline)}, since the test started)."
    baseline = next((v for v in stats.variants if v.baseline), None)
    if verdict == "loser" and baseline is not None:
        return (f"Stop: no variant beats the baseline {baseline.variant}; every other variant converts less "
                "(since the test started).")
    if verdict == "inconclusive":
        return f"Stop: no difference found at the planned {_planned(stats)} users (inconclusive)."
    if verdict == "keep_running":
        return f"Keep running: no variant is ahead yet (day {_test_day(stats)} of the test)."
    return f"Not enough data yet: each variant needs {MIN_USERS} users and {MIN_CONVERTERS} conversions."


def control_sentence(stats: CampaignStats) -> str:
    """The control group's verdict: does the campaign make targeted users convert more often?"""
    ctl = stats.control
    if not ctl.users and (ctl.test is None or ctl.test.difference is None):
        return "This campaign has no control group in the period, so its effect cannot be measured."
    test = ctl.test
    if test is None or ctl.verdict == "not_enough_data":
        return (f"Not enough data yet: the targeted and the control group each need {MIN_USERS} users and "
                f"{MIN_CONVERTERS} conversions.")
    if ctl.verdict == "winner":
        return (f"The campaign works: targeted users convert more often than the control group "
                f"({_interval(test)}, since the campaign started).")
    if ctl.verdict == "loser":
        return (f"The campaign hurts: targeted users convert less often than the control group "
                f"({_interval(test)}, since the campaign started).")
    if ctl.verdict == "inconclusive":
        return f"No difference from the control group at the planned {_planned(stats)} users (inconclusive)."
    return f"Keep running: no difference from the control group yet (day {_test_day(stats)} of the campaign)."
