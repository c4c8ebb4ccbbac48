"""Listing the loaded campaigns with their event counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine, func, select

from reporter.models import Campaign, Event, EventType


@dataclass(frozen=True)
class CampaignSummary:
    """One line of `reporter campaigns`."""

    campaign_id: str
    name: str
    type: str
    start_at: datetime
    currency: str
    sent: int
    impressions: int
    clicks: int


def list_campaigns(engine: Engine) -> list[CampaignSummary]:
    """Every loaded campaign with its numbers of sent, impression and click events."""
    counted = (EventType.SENT, EventType.IMPRESSION, EventType.CLICK)
    counts = (
        select(Event.campaign_pk, Event.event, func.count().label("n"))
        .where(Event.event.in_([int(e) for e in counted]))
        .group_by(Event.campaign_pk, Event.event)
    )
    with engine.connect() as conn:
        campaigns = conn.execute(
            select(Campaign.id, Campaign.campaign_id, Campaign.name, Campaign.type, Campaign.start_at, Campaign.currency)
            .order_by(Campaign.start_at, Campaign.campaign_id)
        ).all()
        by_campaign: dict[int, dict[int, int]] = {}
        for pk, code, n in conn.execute(counts):
            by_campaign.setdefault(pk, {})[code] = n
    out = []
    for pk, cid, name, ctype, start_at, currency in campaigns:
        n = by_campaign.get(pk, {})
        if start_at.tzinfo is None:
            start_at = start_at.replace(tzinfo=timezone.utc)
        out.append(
            CampaignSummary(
                cid, name, ctype, start_at, currency,
                n.get(EventType.SENT, 0), n.get(EventType.IMPRESSION, 0), n.get(EventType.CLICK, 0),
            )
        )
    return out
