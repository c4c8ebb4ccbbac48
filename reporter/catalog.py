"""Listing the loaded campaigns with their event counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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


def list_campaigns(engine: Engine) -> list[CampaignSummary]:
    """Every loaded campaign with its number of sent events."""
    # One range count per campaign on the (campaign, event, ...) index, not a scan of every event.
    sent = (
        select(func.count())
        .where(Event.campaign_pk == Campaign.id, Event.event == int(EventType.SENT))
        .scalar_subquery()
    )
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Campaign.campaign_id, Campaign.name, Campaign.type, Campaign.start_at, Campaign.currency, sent
            ).order_by(Campaign.start_at, Campaign.campaign_id)
        ).all()
    return [
        CampaignSummary(cid, name, ctype, start_at, currency, n) for cid, name, ctype, start_at, currency, n in rows
    ]
