"""One evaluation of an alert rule: its campaigns' figures over the window, each state moved once, notices told.

Called by the scheduler at the rule's fire times (the slot) and by `reporter
alert check NAME` (the slot is now). The figures are those of `stats --json`;
split by platform, the event counts per platform.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, func, select

from reporter import formatting as fmt
from reporter.alerts.rules import RATES, Condition, error_rate, figure, step, window_bounds
from reporter.alerts.store import advance, claim_notices, mark_told, standing
from reporter.models import Campaign, Event, EventType
from reporter.settings import AlertSettings, Settings
from reporter.timezones import to_us

log = logging.getLogger(__name__)

Tell = Callable[[AlertSettings, Any], str | None]  # (rule, the notice's event row) -> None when told, else the error


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation found for one campaign (and group), and what it did."""

    campaign_id: str
    group: str
    value: float | None
    previous: float | None
    volume: int
    breached: bool | None  # None: no verdict (too little volume, or an undefined figure)
    state: str  # the state after this evaluation (unchanged when another process counted the slot)
    notice: str | None  # firing | resolved | renotify, told or queued
    counted: bool  # False when this slot was already counted (another scheduler) or in a dry run


def condition_of(rule: AlertSettings) -> Condition:
    c = rule.condition
    if c.change is None:
        return Condition(above=c.above, below=c.below)
    text = c.change
    direction: Literal["up", "down", "any"] = (
        "up" if text.startswith("+") else "down" if text.startswith("-") else "any"
    )
    amount = float(text.lstrip("+-").removesuffix("pp").removesuffix("%"))
    if text.endswith("pp"):
        return Condition(change_pp=amount, direction=direction)
    return Condition(change_pct=amount, direction=direction)


@dataclass(frozen=True)
class _Counts:
    """Event counts of one platform, with the rates the reporter defines on them."""

    sent: int = 0
    impressions: int = 0
    clicks: int = 0
    errors: int = 0

    @property
    def ctr(self) -> float | None:
        return 100 * self.clicks / self.impressions if self.impressions else None

    @property
    def impression_rate(self) -> float | None:
        return 100 * self.impressions / self.sent if self.sent else None

    @property
    def click_rate(self) -> float | None:
        return 100 * self.clicks / self.sent if self.sent else None

    @property
    def error_rate(self) -> float | None:
        return error_rate(self.errors, self.sent)


def _by_platform(engine: Engine, campaign_id: str, start: datetime, end: datetime) -> dict[str, _Counts]:
    names = {
        EventType.SENT: "sent",
        EventType.IMPRESSION: "impressions",
        EventType.CLICK: "clicks",
        EventType.ERROR: "errors",
    }
    counts: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        pk = select(Campaign.id).where(Campaign.campaign_id == campaign_id).scalar_subquery()
        rows = conn.execute(
            select(Event.platform, Event.event, func.count())
            .where(
                Event.campaign_pk == pk,
                Event.event.in_([int(e) for e in names]),
                Event.ts >= to_us(start),
                Event.ts < to_us(end),
            )
            .group_by(Event.platform, Event.event)
        )
        for platform, event, n in rows:
            counts.setdefault(platform, {})[names[EventType(event)]] = n
    return {platform: _Counts(**c) for platform, c in sorted(counts.items())}


def _groups(
    engine: Engine, rule: AlertSettings, campaign_id: str, start: datetime, end: datetime, tz: str
) -> dict[str, tuple[float | None, int]]:
    """(figure, sends) per group of the rule over [start, end)."""
    if rule.by == "platform":
        return {p: (figure(c, rule.metric), c.sent) for p, c in _by_platform(engine, campaign_id, start, end).items()}
    from reporter.metrics import compute_stats_concurrently

    stats = compute_stats_concurrently(engine, campaign_id, start, end, tz)
    if rule.by == "variant":
        return {v.variant: (figure(v, rule.metric), v.sent) for v in stats.variants}
    return {"": (figure(stats.totals, rule.metric), stats.totals.sent)}


def shown(metric: str, value: float | None) -> str:
    """A watched figure for people: 23.08% for a rate, 1,234 for a count."""
    if value is None:
        return fmt.DASH
    return fmt.rate(value) if metric in RATES else fmt.count(value) if float(value).is_integer() else f"{value:,.2f}"


def check_rule(
    engine: Engine,
    settings: Settings,
    rule: AlertSettings,
    slot: datetime,
    now: datetime,
    tell: Tell | None,
    dry_run: bool = False,
    campaigns: list[str] | None = None,
) -> list[Evaluation]:
    """Evaluate the rule for the slot on each of its campaigns; move states once; tell what must be told.

    `tell` None (or a dry run) queues nothing to send now; queued notices stay in the outbox.
    """
    from reporter.jobs.runner import select_campaigns

    tz = rule.timezone or settings.timezone
    start, end = window_bounds(rule.window, slot, tz)
    condition = condition_of(rule)
    chosen = campaigns if campaigns is not None else select_campaigns(engine, rule, start, end)  # type: ignore[arg-type]
    results = []
    for cid in chosen:
        now_groups = _groups(engine, rule, cid, start, end, tz)
        before = _groups(engine, rule, cid, start - (end - start), start, tz) if rule.condition.change else {}
        for group, (value, volume) in now_groups.items():
            previous = before.get(group, (None, 0))[0]
            breached = None if volume < rule.min_volume else condition.breached(value, previous)
            was = standing(engine, rule.name, cid, group, now, create=not dry_run)
            renotify = timedelta(hours=rule.renotify_after_h) if rule.renotify_after_h else None
            nxt = step(was.state, was.breaches, breached, rule.for_evaluations, now, was.last_notified_at, renotify)  # type: ignore[arg-type]
            where = f"{cid}" + (f" ({rule.by} {group})" if group else "")
            detail = (
                f"{rule.name}: {where}: {rule.metric} {shown(rule.metric, value)} "
                f"({condition.describe(rule.metric)}; {rule.window.replace('_', ' ')} to "
                f"{fmt.timestamp(slot, tz)}, {fmt.count(volume)} sends)"
            )
            counted = False
            if not dry_run:
                counted = advance(engine, was, nxt, value, slot, now, rule.name, cid, group, detail)
            results.append(
                Evaluation(
                    cid,
                    group,
                    value,
                    previous,
                    volume,
                    breached,
                    nxt.state if counted or dry_run else was.state,
                    nxt.notice if counted or dry_run else None,
                    counted,
                )
            )
    if tell is not None and not dry_run:
        send_notices(engine, rule, now, tell)
    return results


def send_notices(engine: Engine, rule: AlertSettings, now: datetime, tell: Tell) -> int:
    """Send the rule's queued notices (this evaluation's and any left unsent); returns how many were told."""
    told = 0
    for event in claim_notices(engine, rule.name, now):
        error = tell(rule, event)
        mark_told(engine, event.id, now, error)
        if error is None:
            told += 1
        else:
            log.error("alert %s: could not tell %s: %s", rule.name, event.notice, error)
    return told
