"""Assembling CampaignStats: period resolution, the aggregate queries, the statistics."""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from reporter.errors import OptionError, UnknownCampaignError
from reporter.metrics import queries, statistics as st
from reporter.metrics.model import (
    CampaignInfo,
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
    TrendBucket,
    Uplift,
    UsersFunnel,
    VariantStats,
)
from reporter.metrics.taxonomy import classify
from reporter.metrics.timezones import EPOCH_DATE, day_of, from_us, local_midnight, offset_segments, to_us, zone
from reporter.models import CHANNELS, Campaign, EventType, Variant

SENT, IMPRESSION, CLICK, ERROR = EventType.SENT, EventType.IMPRESSION, EventType.CLICK, EventType.ERROR
TREND_KEYS = {SENT: "sent", IMPRESSION: "impressions", CLICK: "clicks", ERROR: "errors"}


@dataclass(frozen=True)
class _Campaign:
    pk: int
    info: CampaignInfo
    start_at: datetime
    end_at: datetime | None
    variants: tuple[Any, ...]
    first_event_us: int | None
    last_event_us: int | None


def _load_campaign(conn: Connection, campaign_id: str) -> _Campaign:
    campaigns, variants_table = Campaign.__table__, Variant.__table__
    row = conn.execute(select(campaigns).where(campaigns.c.campaign_id == campaign_id)).one_or_none()
    if row is None:
        raise UnknownCampaignError(campaign_id)
    variants = tuple(
        conn.execute(
            select(variants_table).where(variants_table.c.campaign_pk == row.id).order_by(variants_table.c.position)
        )
    )
    message = variants[0] if row.type == "single" and variants else None
    info = CampaignInfo(
        id=row.campaign_id,
        name=row.name,
        type=row.type,
        conversion_event=row.conversion_event,
        conversion_window_hours=row.conversion_window_hours,
        currency=row.currency,
        control_group_pct=row.control_group_pct,
        message_title=message.title if message else None,
        message_body=message.body if message else None,
    )
    return _Campaign(
        row.id, info, _aware(row.start_at), _aware(row.end_at) if row.end_at else None, variants,
        row.first_event_us, row.last_event_us,
    )


def _aware(dt: datetime) -> datetime:
    from datetime import timezone

    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def resolve_period(
    conn: Connection, campaign_id: str, start: datetime | None, end: datetime | None, tz_name: str
) -> Period:
    """The report period: given bounds, or the campaign's whole life in whole local days."""
    return _period(_load_campaign(conn, campaign_id), start, end, tz_name)


def _period(campaign: _Campaign, start: datetime | None, end: datetime | None, tz_name: str) -> Period:
    tz = zone(tz_name)
    if start is None or end is None:
        first, last = campaign.first_event_us, campaign.last_event_us
        life_start = campaign.start_at
        life_end = campaign.end_at or campaign.start_at
        if first is not None and last is not None:
            life_start = min(life_start, from_us(first))
            life_end = max(life_end, from_us(last + 1))
        if start is None:
            start = local_midnight(life_start.astimezone(tz).date(), tz)
        if end is None:
            last_day = (life_end - timedelta(microseconds=1)).astimezone(tz).date()
            end = local_midnight(last_day + timedelta(days=1), tz)
    if start >= end:
        raise OptionError("--from/--to", f"the period is empty: from {start.isoformat()} is not before to {end.isoformat()}")
    return Period(start.astimezone(tz), end.astimezone(tz), tz_name)


def compute_stats(
    conn: Connection,
    campaign_id: str,
    start: datetime | None = None,
    end: datetime | None = None,
    tz: str = "UTC",
) -> CampaignStats:
    """Every figure of spec/metrics.md for one campaign over [start, end) in timezone `tz`."""
    campaign = _load_campaign(conn, campaign_id)
    period = _period(campaign, start, end, tz)
    scope = _scope(campaign, period)
    return _assemble(campaign, period, **{name: query(conn, scope) for name, query in QUERIES})


def compute_stats_concurrently(
    engine: Engine,
    campaign_id: str,
    start: datetime | None = None,
    end: datetime | None = None,
    tz: str = "UTC",
    workers: int = 2,
) -> CampaignStats:
    """compute_stats with the independent queries spread over `workers` connections.

    PostgreSQL only, where every connection imports the snapshot of the first,
    so the figures are exactly those of one transaction. Elsewhere (SQLite has no
    shared snapshots) it is compute_stats on one connection.
    """
    if engine.dialect.name != "postgresql" or workers < 2:
        with engine.connect() as conn:
            return compute_stats(conn, campaign_id, start, end, tz)
    with engine.connect() as main:
        main = main.execution_options(isolation_level="REPEATABLE READ")
        snapshot = main.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        if not SNAPSHOT_ID.fullmatch(snapshot):
            raise RuntimeError(f"unexpected snapshot id {snapshot!r}")
        campaign = _load_campaign(main, campaign_id)
        period = _period(campaign, start, end, tz)
        scope = _scope(campaign, period)
        local = threading.local()
        helpers: list[Connection] = []
        lock = threading.Lock()

        def run(query: Callable[[Connection, queries.Scope], Any]) -> Any:
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = engine.connect().execution_options(isolation_level="REPEATABLE READ")
                conn.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
                local.conn = conn
                with lock:
                    helpers.append(conn)
            return query(conn, scope)

        try:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stats") as pool:
                futures = {name: pool.submit(run, query) for name, query in QUERIES}
                results = {name: future.result() for name, future in futures.items()}
        finally:
            for conn in helpers:
                conn.close()
        return _assemble(campaign, period, **results)


def _scope(campaign: _Campaign, period: Period) -> queries.Scope:
    start_us, end_us = to_us(period.start), to_us(period.end)
    return queries.Scope(
        campaign_pk=campaign.pk,
        start_us=start_us,
        end_us=end_us,
        window_us=round(campaign.info.conversion_window_hours * 3600 * 1_000_000),
        variants=[v.variant for v in campaign.variants] if campaign.info.type == "ab" else [],
        days=local_days(period),
        offsets=offset_segments(zone(period.timezone), start_us, end_us),
    )


def local_days(period: Period) -> list[tuple[int, int, int]]:
    """(day number, first us, end us) of every local day touching the period, clipped to it."""
    tz = zone(period.timezone)
    start_us, end_us = to_us(period.start), to_us(period.end)
    first = period.start.astimezone(tz).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(tz).date()
    out = []
    day = first
    while day <= last:
        lo = max(start_us, to_us(local_midnight(day, tz)))
        hi = min(end_us, to_us(local_midnight(day + timedelta(days=1), tz)))
        out.append(((day - EPOCH_DATE).days, lo, hi))
        day += timedelta(days=1)
    return out


# The aggregate queries of one report, costliest first (the concurrent path
# schedules them in this order).
QUERIES: tuple[tuple[str, Callable[[Connection, queries.Scope], Any]], ...] = (
    ("conv", queries.conversions),
    ("users", queries.distinct_users),
    ("counts", queries.event_counts),
    ("split_rows", queries.impressions_split),
    ("error_rows", queries.error_codes),
)
SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")


def _assemble(
    campaign: _Campaign,
    period: Period,
    counts: list[tuple[int, str | None, str, int, int]],
    users: queries.UserCounts,
    conv: queries.Conversions,
    split_rows: list[tuple[str, str, int]],
    error_rows: list[tuple[str, int]],
) -> CampaignStats:
    total: dict[int, int] = defaultdict(int)
    by_channel: dict[str, int] = defaultdict(int)  # sent per channel, campaign-wide
    per_variant: dict[str | None, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    per_variant_channel: dict[tuple[str | None, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    daily: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    variant_daily: dict[str | None, dict[int, dict[str, float]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(float))
    )
    for event, variant, channel, day, n in counts:
        total[event] += n
        per_variant[variant][event] += n
        per_variant_channel[(variant, channel or "push")][event] += n
        daily[day][TREND_KEYS[EventType(event)]] += n
        variant_daily[variant][day][TREND_KEYS[EventType(event)]] += n
        if event == SENT:
            by_channel[channel or "push"] += n
    conversions_total = 0
    revenue_total = 0.0
    revenue_by_variant: dict[str, float] = defaultdict(float)
    for day, attr, n, revenue in conv.by_day:
        conversions_total += n
        revenue_total += revenue
        revenue_by_variant[attr] += revenue
        daily[day]["conversions"] += n
        daily[day]["revenue"] += revenue
        variant_daily[attr or None][day]["conversions"] += n
        variant_daily[attr or None][day]["revenue"] += revenue

    distinct = users.overall
    distinct_variant: dict[str, dict[int, int]] = defaultdict(dict)
    for event, per_variant_users in users.by_variant.items():
        for variant, n in per_variant_users.items():
            distinct_variant[variant][event] = n

    sent = total[SENT]
    sent_users = distinct.get(SENT, 0)
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
        revenue=_money(revenue_total),
        view_through_conversions=conv.view_through,
        view_through_conversion_rate=st.rate(conv.view_through, sent_users),
        click_through_conversions=conv.click_through,
        click_through_conversion_rate=st.rate(conv.click_through, sent_users),
        uplift=Uplift(by_channel.get("push_amplification", 0), by_channel.get("app_inbox", 0)),
    )
    control_users = totals.control_group
    control_rate = st.rate(conv.control_converted, control_users)
    control = ControlGroup(
        users=control_users,
        converted_users=conv.control_converted,
        conversion_rate=control_rate,
        lift=(
            100 * (totals.conversion_rate - control_rate) / control_rate
            if totals.conversion_rate is not None and control_rate
            else None
        ),
        p_value=st.two_proportion_p_value(conv.converted, sent_users, conv.control_converted, control_users),
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
        (ErrorCount(code, n, k.category, k.platform, k.retryable, k.meaning) for code, n in error_rows for k in [classify(code)]),
        key=lambda e: (-e.count, e.code),
    )
    by_category = ErrorsByCategory(
        technical=sum(e.count for e in errors if e.category == "technical"),
        non_technical=sum(e.count for e in errors if e.category == "non_technical"),
    )
    variants: tuple[VariantStats, ...] = ()
    winner = None
    sample_ratio = None
    if campaign.info.type == "ab":
        variants, winner, sample_ratio = _variants(
            campaign, per_variant, per_variant_channel, distinct_variant, conv, revenue_by_variant, variant_daily
        )
    return CampaignStats(
        campaign=campaign.info,
        period=period,
        totals=totals,
        control=control,
        trend=_trend(daily),
        funnel=funnel,
        split=Split(_nonzero(os_split), _nonzero(device_split)),
        errors_by_code=tuple(errors),
        errors_by_category=by_category,
        variants=variants,
        winner=winner,
        sample_ratio=sample_ratio,
    )


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if v}


def _variants(
    campaign: _Campaign,
    per_variant: dict[str | None, dict[int, int]],
    per_variant_channel: dict[tuple[str | None, str], dict[int, int]],
    distinct_variant: dict[str | None, dict[int, int]],
    conv: queries.Conversions,
    revenue_by_variant: dict[str, float],
    variant_daily: dict[str | None, dict[int, dict[str, float]]],
) -> tuple[tuple[VariantStats, ...], str | None, SampleRatio]:
    rows = []
    for v in campaign.variants:
        counts = per_variant.get(v.variant, {})
        users = distinct_variant.get(v.variant, {})
        sent_users = users.get(SENT, 0)
        converted = conv.by_variant.get(v.variant, 0)
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
                "sent_users": sent_users,
                "impressions": counts.get(IMPRESSION, 0),
                "clicks": counts.get(CLICK, 0),
                "errors": counts.get(ERROR, 0),
                "converted": converted,
                "channels": channels,
            }
        )
    baseline = next((r for r in rows if r["v"].baseline), rows[0])
    others = [r for r in rows if r is not baseline]
    comparisons = {}
    p_values = []
    for r in others:
        p = st.two_proportion_p_value(r["converted"], r["sent_users"], baseline["converted"], baseline["sent_users"])
        p_values.append(p)
    significant = st.holm(p_values)
    for r, p, sig in zip(others, p_values, significant):
        interval = st.wald_interval(r["converted"], r["sent_users"], baseline["converted"], baseline["sent_users"])
        diff, low, high = interval if interval else (None, None, None)
        comparisons[r["v"].variant] = Comparison(diff, low, high, p, sig)
    best = st.probability_best([r["converted"] for r in rows], [r["sent_users"] for r in rows])
    variants = []
    for r, prob in zip(rows, best):
        v = r["v"]
        variants.append(
            VariantStats(
                variant=v.variant,
                name=v.name,
                baseline=r is baseline,
                sent=r["sent"],
                sent_users=r["sent_users"],
                impressions=r["impressions"],
                clicks=r["clicks"],
                ctr=st.rate(r["clicks"], r["impressions"]),
                click_rate=st.rate(r["clicks"], r["sent"]),
                errors=r["errors"],
                converted_users=r["converted"],
                conversion_rate=st.rate(r["converted"], r["sent_users"]),
                revenue=_money(revenue_by_variant.get(v.variant, 0.0)),
                probability_best=prob,
                channels=r["channels"],
                vs_baseline=comparisons.get(v.variant),
                trend=_trend(variant_daily.get(v.variant, {})).daily,
                title=v.title,
                body=v.body,
                split_pct=v.split_pct,
            )
        )
    base_rate = st.rate(baseline["converted"], baseline["sent_users"])
    candidates = [
        v for v in variants
        if v.vs_baseline is not None and v.vs_baseline.significant and v.conversion_rate is not None
        and base_rate is not None and v.conversion_rate > base_rate
    ]
    winner = max(candidates, key=lambda v: v.conversion_rate or 0.0).variant if candidates else None
    p_ratio = st.sample_ratio_p_value([r["sent_users"] for r in rows], [r["v"].split_pct for r in rows])
    return tuple(variants), winner, SampleRatio(p_ratio, p_ratio is not None and p_ratio < 0.001)


def _trend(daily: dict[int, dict[str, float]]) -> Trend:
    """Daily, weekly and monthly buckets, gaps between the first and last non-empty one filled."""
    days = sorted(d for d, figures in daily.items() if any(figures.values()))
    if not days:
        return Trend()
    daily_buckets = []
    weekly: dict[date, dict[str, float]] = {}
    monthly: dict[str, dict[str, float]] = {}
    for n in range(days[0], days[-1] + 1):
        figures = daily.get(n, {})
        d = day_of(n)
        daily_buckets.append(_bucket(d.isoformat(), figures))
        for key, store in ((d - timedelta(days=d.weekday()), weekly), (d.strftime("%Y-%m"), monthly)):
            acc = store.setdefault(key, defaultdict(float))  # type: ignore[arg-type]
            for k, v in figures.items():
                acc[k] += v
    return Trend(
        tuple(daily_buckets),
        tuple(_bucket(k.isoformat(), v) for k, v in weekly.items()),
        tuple(_bucket(k, v) for k, v in monthly.items()),
    )


def _bucket(label: str, figures: dict[str, float]) -> TrendBucket:
    return TrendBucket(
        bucket=label,
        sent=int(figures.get("sent", 0)),
        impressions=int(figures.get("impressions", 0)),
        clicks=int(figures.get("clicks", 0)),
        errors=int(figures.get("errors", 0)),
        conversions=int(figures.get("conversions", 0)),
        revenue=_money(figures.get("revenue", 0.0)),
    )


def _money(value: float) -> float:
    """A revenue sum without the float noise of adding many decimals (0.1 + 0.2)."""
    return round(float(value), 6) + 0.0
