"""The report's words for people: the summary of page 1 and the verdicts in one sentence each.

Used by the report's first page, the e-mail and the terminal.
"""

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
        return (
            f"Stop: no variant beats the baseline {baseline.variant}; every other variant converts less "
            "(since the test started)."
        )
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
        return (
            f"Not enough data yet: the targeted and the control group each need {MIN_USERS} users and "
            f"{MIN_CONVERTERS} conversions."
        )
    if ctl.verdict == "winner":
        return (
            f"The campaign works: targeted users convert more often than the control group "
            f"({_interval(test)}, since the campaign started)."
        )
    if ctl.verdict == "loser":
        return (
            f"The campaign hurts: targeted users convert less often than the control group "
            f"({_interval(test)}, since the campaign started)."
        )
    if ctl.verdict == "inconclusive":
        return f"No difference from the control group at the planned {_planned(stats)} users (inconclusive)."
    return f"Keep running: no difference from the control group yet (day {_test_day(stats)} of the campaign)."


def _share(part: int, whole: int) -> str:
    return fmt.rate(100 * part / whole, 1) if whole else fmt.DASH


def _changes(stats: CampaignStats, previous: CampaignStats | None) -> str:
    """ "Against Sep 1 – Sep 30: converted users +4.1%, conversion rate −0.30 pp, revenue +8.0%."."""
    if previous is None:
        return ""
    t, p = stats.totals, previous.totals
    parts = []
    for name, now, before in (
        ("converted users", t.converted_users, p.converted_users),
        ("revenue", t.revenue, p.revenue),
    ):
        change = fmt.change(now, before)
        if change is not None:
            parts.append(f"{name} {change}")
    if t.conversion_rate is not None and p.conversion_rate is not None:
        parts.insert(1, f"conversion rate {fmt.points(t.conversion_rate - p.conversion_rate)}")
    if not parts:
        return ""
    period = fmt.period(previous.period.start, previous.period.end, previous.period.timezone)
    return f"Against the previous period ({period}): {', '.join(parts)}."


def summary(stats: CampaignStats, previous: CampaignStats | None) -> tuple[str, ...]:
    """Three to five sentences from the figures: reach, conversions and revenue, their change, the verdict, errors.

    `previous` is the previous period of the same length, None when it had no data.
    """
    t, users, c = stats.totals, stats.funnel.users, stats.campaign
    if not t.sent and not t.conversions:
        sentences = ["Nothing was sent in this period, and no conversion was attributed to the campaign."]
    else:
        sentences = [
            f"{fmt.counted(t.sent, 'notification')} went to {fmt.counted(t.sent_users, 'user')}; "
            f"{fmt.count(users.viewed)} of them ({_share(users.viewed, users.sent)}) saw one and "
            f"{fmt.count(users.clicked)} ({_share(users.clicked, users.sent)}) clicked.",
            f"{fmt.counted(t.converted_users, 'user')} converted ({fmt.rate(t.conversion_rate)} of the users sent to), "
            f"with {fmt.counted(t.conversions, 'conversion')} worth {fmt.money(t.revenue, c.currency)}.",
        ]
    changes = _changes(stats, previous)
    if changes:
        sentences.append(changes)
    if stats.variants:
        sentences.append(ab_sentence(stats))
    has_control = stats.control.users or (stats.control.test is not None and stats.control.test.difference is not None)
    if has_control and stats.variants:
        sentence = control_sentence(stats)
        sentences.append("Against the control group: " + sentence[0].lower() + sentence[1:])
    elif has_control or (not stats.variants and t.sent):
        sentences.append(control_sentence(stats))
    if t.errors and len(sentences) < 5:
        cat = stats.errors_by_category
        uninstalled = f"; {fmt.counted(t.uninstalls, 'user')} had uninstalled the app" if t.uninstalls else ""
        sentences.append(
            f"{fmt.counted(t.errors, 'notification')} could not be delivered ({fmt.count(cat.technical)} "
            f"technical, {fmt.count(cat.non_technical)} non-technical){uninstalled}."
        )
    return tuple(sentences)
