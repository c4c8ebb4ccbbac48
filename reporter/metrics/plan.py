"""What one report reads: the campaign, the period, its buckets and the aggregate queries over them.

Pure: fetch.py runs the queries, assemble.py turns their results into CampaignStats.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Connection

from reporter.errors import PeriodError
from reporter.metrics import queries
from reporter.metrics.buckets import BucketPlan, plan
from reporter.metrics.model import CampaignInfo, Period
from reporter.timezones import from_us, local_midnight, offset_segments, to_us, zone


@dataclass(frozen=True)
class StoredCampaign:
    """A campaign as the engine reads it: its row, its variants in order and its stored event range."""

    pk: int
    info: CampaignInfo
    start_at: datetime
    end_at: datetime | None
    variants: tuple[Any, ...]
    first_event_us: int | None
    last_event_us: int | None


def overlaps(campaign: StoredCampaign, period: Period) -> bool:
    """Whether the campaign has stored events in the period's range (the loader keeps each campaign's range)."""
    first, last = campaign.first_event_us, campaign.last_event_us
    return first is not None and last is not None and first < to_us(period.end) and last >= to_us(period.start)


def report_period(
    campaign: StoredCampaign, start: datetime | None, end: datetime | None, tz_name: str, now: datetime | None
) -> Period:
    """The given bounds, the campaign's default period where one is missing; never empty."""
    tz = zone(tz_name)
    if start is None or end is None:
        default_start, default_end = default_period(campaign, tz, now)
        start = start if start is not None else default_start
        end = end if end is not None else default_end
    if start >= end:
        raise PeriodError(f"the period is empty: from {start.isoformat()} is not before to {end.isoformat()}")
    return Period(start.astimezone(tz), end.astimezone(tz), tz_name)


def default_period(campaign: StoredCampaign, tz: Any, now: datetime | None) -> tuple[datetime, datetime]:
    """From local midnight of the start_at day to local midnight after the last event or the passed end_at.

    A running campaign's period ends with the day of its last event (never in
    the future); one without events gets its start day. Never empty.
    """
    now = now or datetime.now(UTC)
    first_day = start_day(campaign, tz)
    ends = [from_us(campaign.last_event_us + 1)] if campaign.last_event_us is not None else []
    if campaign.end_at is not None and campaign.end_at <= now:
        ends.append(campaign.end_at)
    last_day = max([(e - timedelta(microseconds=1)).astimezone(tz).date() for e in ends] + [first_day])
    return local_midnight(first_day, tz), local_midnight(last_day + timedelta(days=1), tz)


def start_day(campaign: StoredCampaign, tz: Any) -> date:
    """The local day of the campaign's start_at: where its default period and its tests begin."""
    return campaign.start_at.astimezone(tz).date()


def _scope(campaign: StoredCampaign, period: Period, buckets: BucketPlan) -> queries.Scope:
    start_us, end_us = to_us(period.start), to_us(period.end)
    return queries.Scope(
        campaign_pk=campaign.pk,
        start_us=start_us,
        end_us=end_us,
        window_us=round(campaign.info.conversion_window_hours * 3600 * 1_000_000),
        variants=[v.variant for v in campaign.variants] if campaign.info.type == "ab" else [],
        buckets=buckets.rows(),
        offsets=offset_segments(zone(period.timezone), start_us, end_us),
        hourly=buckets.hourly,
    )


# The aggregate queries of one report, costliest first (the concurrent path
# schedules them in this order).
QUERIES: tuple[tuple[str, Callable[[Connection, queries.Scope], Any]], ...] = (
    ("users", queries.distinct_users),
    ("conv", queries.conversions),
    ("assigned", queries.assignments),
    ("sends:*", queries.first_sends),
    ("counts", queries.event_counts),
    ("reach", queries.reach),
    ("split_rows", queries.impressions_split),
    ("error_rows", queries.error_codes),
)
# What the comparisons need from the data since the test started, when that is not the period.
SINCE_QUERIES = ("conv", "assigned", "sends")  # "sends" stands for every "sends:<variant>" job
Job = tuple[str, Callable[[Connection, queries.Scope], Any], queries.Scope]


# What the headline card reads (the previous period's comparison): no split, no error codes, no per-variant
# first sends, no comparisons since the test started, and the counts as one range per event, not per bucket.
CARD_QUERIES = ("users", "conv", "assigned", "sends:*", "counts", "reach")


@dataclass(frozen=True)
class Work:
    """The report's buckets and queries; `since` is the comparisons' period (from the test's start day).

    A `card` work computes the headline figures only (`CampaignStats.totals` and `control` without its test).
    """

    buckets: BucketPlan
    since: BucketPlan | None
    started: datetime  # local midnight of the start day
    jobs: tuple[Job, ...]
    card: bool = False


def plan_work(campaign: StoredCampaign, period: Period, card: bool = False) -> Work:
    """The period's buckets and queries, with those of the comparisons' period when it starts earlier.

    With `card`, only the queries of the headline card (CARD_QUERIES), its counts in one range per event.
    """
    buckets = plan(period)
    scope = _scope(campaign, period, buckets)
    tz = zone(period.timezone)
    started = local_midnight(start_day(campaign, tz), tz)
    if card:
        whole = replace(scope, buckets=[(scope.buckets[0][0], scope.start_us, scope.end_us)] if scope.buckets else [])
        jobs = [(name, query, whole if name == "counts" else scope) for name, query in QUERIES if name in CARD_QUERIES]
        return Work(buckets, None, started.astimezone(tz), tuple(jobs), card=True)
    jobs = _jobs(campaign, scope)
    since: BucketPlan | None = None
    if started < period.end:
        since_period = Period(started, period.end, period.timezone)
        since = plan(since_period)
        if started != period.start:
            since_scope = _scope(campaign, since_period, since)
            jobs += [
                (f"since_{name}", query, s)
                for name, query, s in _jobs(campaign, since_scope)
                if name.split(":")[0] in SINCE_QUERIES
            ]
    return Work(buckets, since, started.astimezone(tz), tuple(jobs))


def _jobs(campaign: StoredCampaign, scope: queries.Scope) -> list[Job]:
    """QUERIES on one scope, with a first-sends query per variant."""
    jobs: list[Job] = [(name, query, scope) for name, query in QUERIES]
    for v in scope.variants:
        jobs.insert(4, (f"sends:{v}", partial(queries.first_sends, variant=v), scope))
    return jobs
