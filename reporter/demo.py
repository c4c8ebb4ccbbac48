"""A realistic, seeded, reproducible synthetic data set of push campaigns.

The same seed and size always give the same campaigns and events (event ids
included), so reports built from the demo data are reproducible. Records come
out in the input contract's own shape (README) and are loaded through the
same validation as a user's files.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

DEMO_START = datetime(2026, 10, 1, tzinfo=UTC)
DEMO_DAYS = 30
# Relative send volume by weekday (Monday first): busy mid-week, quiet weekends.
WEEKDAY_WEIGHTS = (1.0, 1.25, 1.3, 1.2, 1.0, 0.55, 0.45)

FCM_ERRORS = (("UNREGISTERED", 5), ("INVALID_ARGUMENT", 1), ("QUOTA_EXCEEDED", 1), ("UNAVAILABLE", 2), ("INTERNAL", 1))
APNS_ERRORS = (("BadDeviceToken", 3), ("Unregistered", 4), ("TooManyRequests", 1), ("ServiceUnavailable", 1))
NON_TECHNICAL_ERRORS = (("FREQUENCY_CAP_EXCEEDED", 4), ("DND_HOURS", 2), ("USER_UNSUBSCRIBED", 1), ("NO_PUSH_TOKEN", 2))


@dataclass(frozen=True)
class VariantPlan:
    variant: str
    name: str
    title: str
    body: str
    split_pct: float
    click_rate: float  # clicks per impression
    convert_after_click: float


@dataclass(frozen=True)
class CampaignPlan:
    campaign_id: str
    name: str
    type: str
    audience: float  # share of the demo users targeted
    control_pct: float
    window_hours: float
    currency: str
    conversion_event: str
    sends_per_user: tuple[int, ...]  # choices, equally likely
    variants: tuple[VariantPlan, ...]
    amplification: float = 0.0  # share of sends through push amplification
    inbox: float = 0.0  # share of sends to the app inbox


PLANS = (
    CampaignPlan(
        campaign_id="welcome-series",
        name="Welcome series — 20% off your first order",
        type="single",
        audience=1.0,
        control_pct=10.0,
        window_hours=24,
        currency="USD",
        conversion_event="Charged",
        sends_per_user=(1, 1, 2),
        variants=(
            VariantPlan(
                "message", "Welcome", "Welcome to Acme 👋", "Here is 20% off your first order.", 90.0, 0.08, 0.22
            ),
        ),
        amplification=0.05,
        inbox=0.04,
    ),
    CampaignPlan(
        campaign_id="black-friday-ab",
        name="Black Friday teaser (A/B)",
        type="ab",
        audience=1.0,
        control_pct=10.0,
        window_hours=48,
        currency="EUR",
        conversion_event="Charged",
        sends_per_user=(1, 2),
        variants=(
            VariantPlan(
                "A", "Discount first", "Black Friday starts now", "Up to 50% off everything.", 30.0, 0.06, 0.18
            ),
            VariantPlan(
                "B", "Urgency", "Only 24 hours left ⏰", "Your Black Friday deals end tonight.", 30.0, 0.065, 0.19
            ),
            VariantPlan(
                "C",
                "Personal",
                "{name}, your wishlist is on sale",
                "Items you saved are up to 50% off.",
                30.0,
                0.11,
                0.32,
            ),
        ),
        amplification=0.03,
        inbox=0.02,
    ),
    CampaignPlan(
        campaign_id="cart-reminder",
        name="Abandoned cart reminder",
        type="single",
        audience=0.5,
        control_pct=0.0,
        window_hours=12,
        currency="USD",
        conversion_event="Charged",
        sends_per_user=(1, 2, 3),
        variants=(
            VariantPlan(
                "message",
                "Reminder",
                "You left something behind",
                "Complete your order before it sells out.",
                100.0,
                0.1,
                0.3,
            ),
        ),
    ),
)


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    total = sum(w for _, w in pairs)
    pick = rng.random() * total
    for value, weight in pairs:
        pick -= weight
        if pick < 0:
            return value
    return pairs[-1][0]


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def campaign_records() -> list[dict[str, Any]]:
    """The demo campaigns, as campaign records of the input contract."""
    records = []
    for plan in PLANS:
        record: dict[str, Any] = {
            "campaign_id": plan.campaign_id,
            "name": plan.name,
            "type": plan.type,
            "start_at": _iso(DEMO_START),
            "end_at": _iso(DEMO_START + timedelta(days=DEMO_DAYS + 3)),
            "conversion_event": plan.conversion_event,
            "conversion_window_hours": plan.window_hours,
            "control_group_pct": plan.control_pct,
            "currency": plan.currency,
            "variants": [
                {
                    "variant": v.variant,
                    "name": v.name,
                    "title": v.title,
                    "body": v.body,
                    "split_pct": v.split_pct,
                    **({"baseline": True} if i == 0 and plan.type == "ab" else {}),
                }
                for i, v in enumerate(plan.variants)
            ],
        }
        records.append(record)
    return records


def _send_day(rng: random.Random) -> int:
    while True:
        day = rng.randrange(DEMO_DAYS)
        weekday = (DEMO_START + timedelta(days=day)).weekday()
        if rng.random() * 1.3 < WEEKDAY_WEIGHTS[weekday]:
            return day


def _send_time(rng: random.Random) -> datetime:
    # Sends cluster around the late morning and the early evening (UTC).
    hour = rng.gauss(10, 1.5) if rng.random() < 0.6 else rng.gauss(18, 1.5)
    seconds = int(min(max(hour, 0.0), 23.99) * 3600) + rng.randrange(60)
    return DEMO_START + timedelta(days=_send_day(rng), seconds=seconds)


def _device(rng: random.Random) -> tuple[str, str]:
    r = rng.random()
    platform = "android" if r < 0.52 else "ios" if r < 0.93 else "web" if r < 0.985 else "other"
    if platform == "web":
        return platform, "desktop"
    r = rng.random()
    device = "phone" if r < 0.86 else "tablet" if r < 0.97 else "wearable" if r < 0.99 else "tv"
    return platform, device


def event_records(users: int, seed: int) -> Iterator[dict[str, Any]]:
    """The demo events for `users` users, in the input contract's shape."""
    for index, plan in enumerate(PLANS):
        rng = random.Random(f"{seed}:{plan.campaign_id}")
        targeted = max(1, math.ceil(users * plan.audience))
        yield from _campaign_events(plan, targeted, rng, index)


def _campaign_events(plan: CampaignPlan, users: int, rng: random.Random, index: int) -> Iterator[dict[str, Any]]:
    counter = 0
    window = timedelta(hours=plan.window_hours)
    cumulative = []
    acc = 0.0
    for v in plan.variants:
        acc += v.split_pct
        cumulative.append((acc, v))

    def event(kind: str, user: str, ts: datetime, **extra: Any) -> dict[str, Any]:
        nonlocal counter
        counter += 1
        record = {
            "event_id": f"{plan.campaign_id}-{counter}",
            "campaign_id": plan.campaign_id,
            "user_id": user,
            "event": kind,
            "ts": _iso(ts),
        }
        record.update(extra)
        return record

    for u in range(users):
        user = f"u{u:07d}"
        platform, device = _device(rng)
        dev = {"device_id": f"d{index}{u:07d}", "platform": platform, "device_type": device}
        first = _send_time(rng)
        yield event("qualified", user, first - timedelta(minutes=rng.randrange(5, 120)))
        if rng.random() * 100 < plan.control_pct:
            yield event("control", user, first)
            if rng.random() < 0.025:
                yield event("conversion", user, first + window * rng.random(), revenue=_revenue(rng))
            continue
        pick = rng.random() * (100 - plan.control_pct)
        variant = next((v for limit, v in cumulative if pick < limit), plan.variants[-1])
        tag = {"variant": variant.variant} if plan.type == "ab" else {}
        if rng.random() < 0.005:  # converted before any message: never attributed
            yield event("conversion", user, first - timedelta(hours=rng.randrange(1, 72)), revenue=_revenue(rng))
        sends = rng.choice(plan.sends_per_user)
        for n in range(sends):
            at = first if n == 0 else _send_time(rng)
            r = rng.random()
            channel = (
                "push_amplification"
                if r < plan.amplification
                else "app_inbox"
                if r < plan.amplification + plan.inbox
                else "push"
            )
            if rng.random() < 0.035:
                code = _error_code(rng, platform)
                yield event("error", user, at, error_code=code, channel=channel, **tag, **dev)
                continue
            yield event("sent", user, at, channel=channel, **tag, **dev)
            seen = rng.random() < (0.78 if platform == "ios" else 0.86)
            clicked = False
            if seen:
                shown = at + timedelta(seconds=rng.randrange(2, 900))
                yield event("impression", user, shown, channel=channel, **tag, **dev)
                if rng.random() < variant.click_rate:
                    clicked = True
                    click_at = shown + timedelta(seconds=rng.randrange(5, 3600))
                    yield event("click", user, click_at, channel=channel, **tag, **dev)
            p = variant.convert_after_click if clicked else 0.035 if seen else 0.012
            if rng.random() < p:
                base = click_at if clicked else at
                if rng.random() < 0.88:
                    # Inside the window, skewed towards the first hours.
                    delay = (window - (base - at)) * (rng.random() ** 2)
                else:
                    delay = window + timedelta(hours=rng.uniform(1, 48))  # too late: not attributed
                yield event("conversion", user, base + delay, revenue=_revenue(rng))


def _revenue(rng: random.Random) -> str | None:
    if rng.random() < 0.25:
        return None
    return f"{min(rng.lognormvariate(3.5, 0.7), 2000):.2f}"


def _error_code(rng: random.Random, platform: str) -> str:
    if rng.random() < 0.35:
        return _weighted(rng, NON_TECHNICAL_ERRORS)
    return _weighted(rng, APNS_ERRORS if platform == "ios" else FCM_ERRORS)


def load_demo(engine: Engine, users: int, seed: int) -> tuple[int, int]:
    """Load the demo campaigns and events (idempotent); returns (events loaded, already there)."""
    from reporter.ingest import campaign_refs, parse_campaign, store_campaigns
    from reporter.ingest.load import store_event_records

    store_campaigns(engine, [parse_campaign(r) for r in campaign_records()])
    # About 9.5 events a user (237,601 for 25,000).
    return store_event_records(engine, event_records(users, seed), campaign_refs(engine), expected=users * 9)


def demo_events(engine: Engine) -> int:
    """How many events the demo campaigns hold (0: the demo data is not loaded)."""
    from sqlalchemy import func, select

    from reporter.models import Campaign, Event

    ids = [p.campaign_id for p in PLANS]
    with engine.connect() as conn:
        pks = select(Campaign.id).where(Campaign.campaign_id.in_(ids))
        return conn.execute(select(func.count()).select_from(Event).where(Event.campaign_pk.in_(pks))).scalar_one()


def reset_demo(engine: Engine) -> None:
    """Delete the demo campaigns with their variants and events (and nothing else), in one transaction."""
    from sqlalchemy import delete, select

    from reporter.models import Campaign, Event, Variant

    ids = [p.campaign_id for p in PLANS]
    with engine.begin() as conn:
        pks = list(conn.execute(select(Campaign.id).where(Campaign.campaign_id.in_(ids))).scalars())
        conn.execute(delete(Event).where(Event.campaign_pk.in_(pks)))
        conn.execute(delete(Variant).where(Variant.campaign_pk.in_(pks)))
        conn.execute(delete(Campaign).where(Campaign.id.in_(pks)))
