"""Assembling CampaignStats from the results of the aggregate queries; pure (no database, no clock).

Totals, trend, funnel, split, errors, the control group and the variants, with
their statistics and verdicts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from reporter.metrics import queries, verdicts
from reporter.metrics import statistics as st
from reporter.metrics.buckets import BucketPlan, fold, money
from reporter.metrics.model import (
    CampaignStats,
    ChannelStats,
    Comparison,
    ControlGroup,
    ErrorCount,
    ErrorsByCategory,
    Funnel,
    InfluencedFunnel,
    Period,
    SampleRatio,
    Split,
    Totals,
    Trend,
    Uplift,
    UsersFunnel,
    VariantStats,
)
from reporter.metrics.plan import SINCE_QUERIES, StoredCampaign, Work
from reporter.metrics.taxonomy import classify
from reporter.models import CHANNELS, EventType

SENT, IMPRESSION, CLICK, ERROR = EventType.SENT, EventType.IMPRESSION, EventType.CLICK, EventType.ERROR
TREND_KEYS = {SENT: "sent", IMPRESSION: "impressions", CLICK: "clicks", ERROR: "errors"}


def _sends(results: dict[str, Any], prefix: str = "") -> dict[str, queries.Histogram]:
    """{"*" or variant: users by the bucket of their first send} from the per-variant jobs."""
    head = f"{prefix}sends:"
    return {name[len(head) :]: hist for name, hist in results.items() if name.startswith(head)}


def assemble(campaign: StoredCampaign, period: Period, work: Work, results: dict[str, Any]) -> CampaignStats:
    """The report's figures from the results of `work.jobs`, by job name (a card's work: totals and control
    only; its trend, split, errors and variants are left empty)."""
    buckets = work.buckets
    counts: list[tuple[int, str | None, str, int, int]] = results["counts"]
    users: queries.UserCounts = results["users"]
    conv: queries.Conversions = results["conv"]
    assigned: queries.Assignments = results["assigned"]
    sends = _sends(results)
    reach: queries.Reach = results["reach"]
    split_rows: list[tuple[str, str, int]] = results.get("split_rows", [])  # not in a card's work
    error_rows: list[tuple[str, int]] = results.get("error_rows", [])
    prefix = "since_" if "since_conv" in results else ""
    since = {name: results[f"{prefix}{name}"] for name in SINCE_QUERIES if name != "sends"}
    since["sends"] = _sends(results, prefix)
    total: dict[int, int] = defaultdict(int)
    by_channel: dict[str, int] = defaultdict(int)  # sent per channel, campaign-wide
    per_variant: dict[str | None, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    per_variant_channel: dict[tuple[str | None, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    figures: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    variant_figures: dict[str | None, dict[int, dict[str, float]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(float))
    )
    for event, variant, channel, key, n in counts:
        total[event] += n
        per_variant[variant][event] += n
        per_variant_channel[(variant, channel or "push")][event] += n
        figures[key][TREND_KEYS[EventType(event)]] += n
        variant_figures[variant][key][TREND_KEYS[EventType(event)]] += n
        if event == SENT:
            by_channel[channel or "push"] += n
    conversions_total = 0
    revenue_total = 0.0
    revenue_by_variant: dict[str, float] = defaultdict(float)
    for key, attr, n, revenue in conv.by_bucket:
        conversions_total += n
        revenue_total += revenue
        revenue_by_variant[attr] += revenue
        figures[key]["conversions"] += n
        figures[key]["revenue"] += revenue
        variant_figures[attr or None][key]["conversions"] += n
        variant_figures[attr or None][key]["revenue"] += revenue

    distinct = users.overall
    distinct_variant: dict[str, dict[int, int]] = defaultdict(dict)
    for event, per_variant_users in users.by_variant.items():
        for variant, n in per_variant_users.items():
            distinct_variant[variant][event] = n

    sent = total[SENT]
    sent_users = sum(sends["*"].values())
    impressions, clicks = total[IMPRESSION], total[CLICK]
    totals = Totals(
        qualified=distinct.get(EventType.QUALIFIED, 0),
        sent=sent,
        sent_users=sent_users,
        impressions=impressions,
        impression_rate=st.rate(impressions, sent),
        clicks=clicks,
        click_rate=st.rate(clicks, sent),
        ctr=st.rate(clicks, impressions),
        errors=total[ERROR],
        control_group=distinct.get(EventType.CONTROL, 0),
        conversions=conversions_total,
        converted_users=conv.converted,
        conversion_rate=st.rate(conv.converted, sent_users),
        revenue=money(revenue_total),
        view_through_conversions=conv.view_through,
        view_through_conversion_rate=st.rate(conv.view_through, sent_users),
        click_through_conversions=conv.click_through,
        click_through_conversion_rate=st.rate(conv.click_through, sent_users),
        view_through_conversion_events=conv.view_through_events,
        click_through_conversion_events=conv.click_through_events,
        impressed_users=distinct.get(IMPRESSION, 0),
        clicked_users=distinct.get(CLICK, 0),
        uplift=Uplift(
            by_channel.get("push_amplification", 0),
            by_channel.get("app_inbox", 0),
            reach.push_amplification_reached,
            reach.app_inbox_reached,
        ),
        uninstalls=assigned.uninstalls,
    )
    funnel = Funnel(
        UsersFunnel(sent_users, distinct.get(IMPRESSION, 0), distinct.get(CLICK, 0), conv.converted),
        InfluencedFunnel(conv.converted, conv.view_through, conv.click_through),
    )
    os_split: dict[str, int] = defaultdict(int)
    device_split: dict[str, int] = defaultdict(int)
    for platform, device, n in split_rows:
        os_split[platform] += n
        device_split[device] += n
    errors = sorted(
        (
            ErrorCount(code, n, k.category, k.platform, k.retryable, k.meaning, k.uninstall)
            for code, n in error_rows
            for k in [classify(code)]
        ),
        key=lambda e: (-e.count, e.code),
    )
    by_category = ErrorsByCategory(
        technical=sum(e.count for e in errors if e.category == "technical"),
        non_technical=sum(e.count for e in errors if e.category == "non_technical"),
    )
    variants: tuple[VariantStats, ...] = ()
    winner = verdict = None
    sample_ratio = None
    if campaign.info.type == "ab" and not work.card:
        variants, winner, sample_ratio, verdict = _variants(
            campaign,
            buckets,
            per_variant,
            per_variant_channel,
            distinct_variant,
            sends,
            conv,
            revenue_by_variant,
            variant_figures,
            _variant_arms(campaign, work.since, since),
        )
    control = _control(sends["*"], conv, assigned)
    arms = _control_arms(work.since, since)
    if arms is not None:
        tested = verdicts.compare(*arms, campaign.info.planned_users)
        (test,) = verdicts.decide([tested], campaign.info.planned_users, arms[0].n + arms[1].n, False)
        control = replace(control, test=test, verdict=test.verdict)
    return CampaignStats(
        campaign=campaign.info,
        period=period,
        totals=totals,
        control=control,
        trend=Trend() if work.card else fold(buckets, figures),
        funnel=funnel,
        split=Split(_nonzero(os_split), _nonzero(device_split)),
        errors_by_code=tuple(errors),
        errors_by_category=by_category,
        variants=variants,
        winner=winner,
        sample_ratio=sample_ratio,
        verdict=verdict,
        test_started=work.started if work.since is not None else None,
    )


VERDICT_JOBS = ("conv", "sends")  # what an A/B verdict reads: conversions by variant and first sends


def verdict_jobs(work: Work) -> list[Any]:
    """The jobs of `work` an A/B verdict needs (the period's first sends for the split check, and the
    comparisons' conversions and first sends), a third of a report's."""
    return [job for job in work.jobs if job[0].removeprefix("since_").split(":")[0] in VERDICT_JOBS]


def assemble_verdict(campaign: StoredCampaign, work: Work, results: dict[str, Any]) -> Decision:
    """An A/B test's decision from the results of `verdict_jobs(work)`: the same as the report's."""
    prefix = "since_" if "since_conv" in results else ""
    since = {"conv": results[f"{prefix}conv"], "sends": _sends(results, prefix)}
    sent_users = {variant: sum(hist.values()) for variant, hist in _sends(results).items() if variant != "*"}
    return ab_decision(campaign, sent_users, _variant_arms(campaign, work.since, since))


def _variant_arms(
    campaign: StoredCampaign, since: BucketPlan | None, results: dict[str, Any]
) -> dict[str, verdicts.Arm]:
    """Each variant's users and converters at every look since the test started."""
    if since is None:
        return {}
    conv: queries.Conversions = results["conv"]
    return {
        v.variant: verdicts.Arm(
            verdicts.cumulate([results["sends"].get(v.variant, {})], since),
            verdicts.cumulate([conv.by_variant.get(v.variant, {})], since),
        )
        for v in campaign.variants
    }


def _control_arms(since: BucketPlan | None, results: dict[str, Any]) -> tuple[verdicts.Arm, verdicts.Arm] | None:
    """(control, treatment) users and converters at every look since the campaign started, by intent to treat."""
    if since is None:
        return None
    a: queries.Assignments = results["assigned"]
    conv: queries.Conversions = results["conv"]
    hists, signs = zip(*a.treatment(results["sends"]["*"]), strict=True)
    treated = verdicts.cumulate(hists, since, signs)
    control = verdicts.Arm(
        verdicts.cumulate([a.control], since), verdicts.cumulate([conv.itt_by_bucket["control"]], since)
    )
    treatment = verdicts.Arm(treated, verdicts.cumulate([conv.itt_by_bucket["treatment"]], since))
    return control, treatment


def _control(sends: queries.Histogram, conv: queries.Conversions, a: queries.Assignments) -> ControlGroup:
    """The control group against the treatment group, by intent to treat."""
    return control_group(
        users=sum(a.control.values()),
        treated=sum(sign * sum(hist.values()) for hist, sign in a.treatment(sends)),
        converted=conv.itt_converted.get("control", 0),
        treated_converted=conv.itt_converted.get("treatment", 0),
        revenue=conv.itt_revenue.get("control", 0.0),
        treated_revenue=conv.itt_revenue.get("treatment", 0.0),
    )


def control_group(
    users: int, treated: int, converted: int, treated_converted: int, revenue: float, treated_revenue: float
) -> ControlGroup:
    """The control group's figures from the two groups' users, converted users and revenue (by intent to treat).

    The one home of lift and incremental conversions and revenue: the campaign report and the portfolio use it.
    """
    rate, treated_rate = st.rate(converted, users), st.rate(treated_converted, treated)
    both = rate is not None and treated_rate is not None
    return ControlGroup(
        users=users,
        converted_users=converted,
        conversion_rate=rate,
        revenue=money(revenue),
        treatment_users=treated,
        treatment_converted_users=treated_converted,
        treatment_conversion_rate=treated_rate,
        treatment_revenue=money(treated_revenue),
        lift=100 * (treated_rate - rate) / rate if both and rate else None,  # type: ignore[operator]
        incremental_conversions=treated * (treated_rate - rate) / 100 if both else None,  # type: ignore[operator]
        incremental_revenue=money(treated * (treated_revenue / treated - revenue / users)) if both else None,
        p_value=st.two_proportion_p_value(treated_converted, treated, converted, users),
    )


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if v}


def _variants(
    campaign: StoredCampaign,
    buckets: BucketPlan,
    per_variant: dict[str | None, dict[int, int]],
    per_variant_channel: dict[tuple[str | None, str], dict[int, int]],
    distinct_variant: dict[str, dict[int, int]],
    sends: dict[str, queries.Histogram],
    conv: queries.Conversions,
    revenue_by_variant: dict[str, float],
    variant_figures: dict[str | None, dict[int, dict[str, float]]],
    arms: dict[str, verdicts.Arm],
) -> tuple[tuple[VariantStats, ...], str | None, SampleRatio, str]:
    rows = []
    for v in campaign.variants:
        counts = per_variant.get(v.variant, {})
        users = distinct_variant.get(v.variant, {})
        channels = {}
        for channel in CHANNELS:
            c = per_variant_channel.get((v.variant, channel))
            if c and any(c.values()):
                channels[channel] = ChannelStats(
                    c[SENT], c[IMPRESSION], c[CLICK], st.rate(c[CLICK], c[IMPRESSION]), c[ERROR]
                )
        rows.append(
            {
                "v": v,
                "sent": counts.get(SENT, 0),
                "sent_users": sum(sends.get(v.variant, {}).values()),
                "impressed_users": users.get(IMPRESSION, 0),
                "clicked_users": users.get(CLICK, 0),
                "impressions": counts.get(IMPRESSION, 0),
                "clicks": counts.get(CLICK, 0),
                "errors": counts.get(ERROR, 0),
                "converted": sum(conv.by_variant.get(v.variant, {}).values()),
                "channels": channels,
            }
        )
    baseline = next((r for r in rows if r["v"].baseline), rows[0])
    decision = ab_decision(campaign, {r["v"].variant: r["sent_users"] for r in rows}, arms)
    comparisons = decision.comparisons
    best = st.probability_best([r["converted"] for r in rows], [r["sent_users"] for r in rows])
    variants = []
    for r, prob in zip(rows, best, strict=True):
        v = r["v"]
        revenue = money(revenue_by_variant.get(v.variant, 0.0))
        variants.append(
            VariantStats(
                variant=v.variant,
                name=v.name,
                baseline=r is baseline,
                sent=r["sent"],
                sent_users=r["sent_users"],
                impressions=r["impressions"],
                impressed_users=r["impressed_users"],
                clicks=r["clicks"],
                clicked_users=r["clicked_users"],
                ctr=st.rate(r["clicks"], r["impressions"]),
                click_rate=st.rate(r["clicks"], r["sent"]),
                errors=r["errors"],
                converted_users=r["converted"],
                conversion_rate=st.rate(r["converted"], r["sent_users"]),
                revenue=revenue,
                revenue_per_user=revenue / r["sent_users"] if r["sent_users"] else None,
                funnel=UsersFunnel(r["sent_users"], r["impressed_users"], r["clicked_users"], r["converted"]),
                probability_best=prob,
                channels=r["channels"],
                vs_baseline=comparisons.get(v.variant),
                trend=fold(buckets, variant_figures.get(v.variant, {})).daily,
                title=v.title,
                body=v.body,
                split_pct=v.split_pct,
            )
        )
    return tuple(variants), decision.winner, decision.sample_ratio, decision.verdict


@dataclass(frozen=True)
class Decision:
    """An A/B test's comparisons against its baseline (by variant), its winner, split check and verdict word."""

    comparisons: dict[str, Comparison]
    winner: str | None
    sample_ratio: SampleRatio
    verdict: str


def ab_decision(campaign: StoredCampaign, sent_users: dict[str, int], arms: dict[str, verdicts.Arm]) -> Decision:
    """The verdict of an A/B test: its users sent to per variant in the period (the split check) and each
    variant's arm since the test started. The one home of the A/B verdict: the report and the portfolio use it."""
    variants = campaign.variants
    baseline = next((v for v in variants if v.baseline), variants[0])
    others = [v for v in variants if v is not baseline]
    p_ratio = st.sample_ratio_p_value([sent_users.get(v.variant, 0) for v in variants], [v.split_pct for v in variants])
    broken = p_ratio is not None and p_ratio < 0.001
    empty = verdicts.Arm((), ())
    base_arm = arms.get(baseline.variant, empty)
    tested = [verdicts.compare(base_arm, arms.get(v.variant, empty), campaign.info.planned_users) for v in others]
    total_users = sum(arm.n for arm in arms.values())
    decided = verdicts.decide(tested, campaign.info.planned_users, total_users, broken)
    comparisons = {v.variant: c for v, c in zip(others, decided, strict=True)}
    winners = [
        (c.difference or 0.0, variant) for variant, c in comparisons.items() if c.verdict == verdicts.Verdict.WINNER
    ]
    winner = max(winners, key=lambda w: w[0])[1] if winners else None
    verdict = verdicts.campaign_verdict([c.verdict for c in decided], winner)
    return Decision(comparisons, winner, SampleRatio(p_ratio, broken), verdict)
