"""Listing the loaded campaigns with their event counts, filtered in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, or_, select

from reporter.errors import UserError
from reporter.models import CAMPAIGN_TYPES, Campaign, Event, EventType
from reporter.timezones import to_us


@dataclass(frozen=True)
class CampaignSummary:
    """One line of `reporter campaigns`."""

    campaign_id: str
    name: str
    type: str
    start_at: datetime
    currency: str
    sent: int


def list_campaigns(
    engine: Engine, name: str | None = None, type: str | None = None, active_since: datetime | None = None
) -> list[CampaignSummary]:
    """The loaded campaigns with their number of sent events, filtered (all filters must hold).

    `name`: a case-insensitive substring of the campaign's name or id (SQLite folds ASCII letters only);
    `type`: single or ab; `active_since`: an aware datetime, the campaign has an event at or after it.
    """
    if type is not None and type not in CAMPAIGN_TYPES:
        raise UserError(f"unknown campaign type {type!r} (types: {', '.join(CAMPAIGN_TYPES)})")
    if active_since is not None and active_since.tzinfo is None:
        raise ValueError(f"active_since must be an aware datetime: {active_since!r}")
    # One range count per campaign on the (campaign, event, ...) index, not a scan of every event.
    sent = (
        select(func.count())
        .where(Event.campaign_pk == Campaign.id, Event.event == int(EventType.SENT))
        .scalar_subquery()
    )
    query = select(Campaign.campaign_id, Campaign.name, Campaign.type, Campaign.start_at, Campaign.currency, sent)
    if name:
        query = query.where(
            or_(Campaign.name.icontains(name, autoescape=True), Campaign.campaign_id.icontains(name, autoescape=True))
        )
    if type is not None:
        query = query.where(Campaign.type == type)
    if active_since is not None:
        # The loader keeps each campaign's last event time, so no scan of the events; no event yet: never active.
        query = query.where(Campaign.last_event_us >= to_us(active_since))
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(Campaign.start_at, Campaign.campaign_id)).all()
    return [
        CampaignSummary(cid, name, ctype, start_at, currency, n) for cid, name, ctype, start_at, currency, n in rows
    ]
