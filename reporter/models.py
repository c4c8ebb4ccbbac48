"""The schema: campaigns, variants, events, and the reporter's own run log.

Events are stored compactly for the aggregate queries of the metrics engine:
the campaign is an integer key, the event type a small integer code, the
timestamp an integer count of microseconds since the Unix epoch (UTC). Integer
time makes window arithmetic and timezone bucketing identical on every
database (no dialect date functions).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime, TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in time, stored in UTC and read back as an aware UTC datetime on every database.

    (SQLite keeps no offset: without this, what comes back is naive, and each reader had to guess.)
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a naive datetime cannot be stored: {value!r}")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)

    if TYPE_CHECKING:
        # Every model here is mapped to a Table; DeclarativeBase only promises a FromClause,
        # which insert() and update() do not take.
        __table__: ClassVar[Table]


class EventType(enum.IntEnum):
    """Stored code of each event type (the `event` column)."""

    QUALIFIED = 1
    CONTROL = 2
    SENT = 3
    IMPRESSION = 4
    CLICK = 5
    CONVERSION = 6
    ERROR = 7

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> EventType:
        return cls[label.upper()]


EVENT_LABELS = tuple(e.label for e in EventType)
PLATFORMS = ("ios", "android", "web", "other")
DEVICE_TYPES = ("phone", "tablet", "desktop", "wearable", "tv", "other")
CHANNELS = ("push", "push_amplification", "app_inbox")
CAMPAIGN_TYPES = ("single", "ab")
# Events that belong to one message delivery, and so to a variant and a channel.
DELIVERY_EVENTS = frozenset({EventType.SENT, EventType.IMPRESSION, EventType.CLICK, EventType.ERROR})


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(10))
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    conversion_event: Mapped[str | None] = mapped_column(String(200))
    conversion_window_hours: Mapped[float] = mapped_column(Float, default=24.0)
    control_group_pct: Mapped[float] = mapped_column(Float, default=0.0)
    planned_users: Mapped[int | None] = mapped_column(Integer)  # the users an A/B test was planned for
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    # First and last event time (microseconds since the epoch), kept by the loader
    # so that the default report period needs no scan of the campaign's events.
    first_event_us: Mapped[int | None] = mapped_column(BigInteger)
    last_event_us: Mapped[int | None] = mapped_column(BigInteger)
    # A new random value with every batch of events stored (the loader's), so that a copy of the events
    # (database.columnar_copy) knows without a scan whether it is current.
    events_token: Mapped[str | None] = mapped_column(String(32))

    variants: Mapped[list[Variant]] = relationship(
        back_populates="campaign",
        order_by="Variant.position",
        cascade="all, delete-orphan",
    )


class Variant(Base):
    __tablename__ = "variants"
    __table_args__ = (UniqueConstraint("campaign_pk", "variant"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_pk: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    variant: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    split_pct: Mapped[float] = mapped_column(Float)
    baseline: Mapped[bool] = mapped_column(Boolean, default=False)

    campaign: Mapped[Campaign] = relationship(back_populates="variants")


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        # Distinct users per event type (a streaming GROUP BY user_id) and the
        # attribution probes (a conversion -> the same user's send, impression,
        # click or control assignment inside the window); variant rides along so
        # neither touches the table.
        Index("ix_events_campaign_event_user", "campaign_pk", "event", "user_id", "ts", "variant"),
        # Range counts per (event, variant, channel, local day), the
        # platform/device split of impressions and the error codes, from the index alone.
        Index(
            "ix_events_campaign_event_variant",
            "campaign_pk",
            "event",
            "variant",
            "channel",
            "ts",
            "platform",
            "device_type",
            "error_code",
        ),
        # The OS and device split of impressions as a streaming GROUP BY (a partial
        # index: impressions only; queries must say `event = 4` literally to use it).
        Index(
            "ix_events_impressions",
            "campaign_pk",
            "platform",
            "device_type",
            "ts",
            "event",
            sqlite_where=text("event = 4"),
            postgresql_where=text("event = 4"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    campaign_pk: Mapped[int] = mapped_column(Integer)
    variant: Mapped[str | None] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(String(200))
    device_id: Mapped[str | None] = mapped_column(String(200))
    event: Mapped[int] = mapped_column(SmallInteger)
    ts: Mapped[int] = mapped_column(BigInteger)
    platform: Mapped[str] = mapped_column(String(10), default="unknown")
    device_type: Mapped[str] = mapped_column(String(10), default="unknown")
    channel: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(100))
    revenue: Mapped[float | None] = mapped_column(Float)


class RunStatus(enum.StrEnum):
    """States of a unit of work in the run log."""

    QUEUED = "queued"  # waiting in the work queue for a `reporter worker` (queue.url)
    CLAIMED = "claimed"
    RENDERING = "rendering"
    STORED = "stored"
    DELIVERED = "delivered"
    FAILED = "failed"
    # The server may or may not have delivered it (a timeout or a lost connection after the
    # message data was sent): never re-sent automatically, only on an explicit --resend.
    UNKNOWN = "unknown"


class Run(Base):
    """One unit of work: (job, campaign, period), claimed before it starts."""

    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("job", "campaign_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(100))
    campaign_id: Mapped[str] = mapped_column(String(200))
    period: Mapped[str] = mapped_column(String(40))
    period_from: Mapped[datetime] = mapped_column(UtcDateTime)
    period_to: Mapped[datetime] = mapped_column(UtcDateTime)
    timezone: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    first_claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # retries stop retry_for_h after it
    # The heartbeat: a working unit's owner refreshes it while rendering and sending.
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    # When the unit failed for good (a permanent refusal, or retries given up); operators are told once.
    final_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    artifacts: Mapped[str | None] = mapped_column(Text)  # JSON list of archive paths

    deliveries: Mapped[list[Delivery]] = relationship(back_populates="run", cascade="all, delete-orphan")


class Delivery(Base):
    """One recipient of one run (an e-mail address, or a destination by its name), with its outcome."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("run_id", "recipient"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20))  # sent | failed | unknown
    # to | cc | bcc for an address, the destination's type (webhook, slack, teams) for a destination;
    # None: recorded before 0004.
    kind: Mapped[str | None] = mapped_column(String(10))
    smtp_code: Mapped[int | None] = mapped_column(Integer)  # the SMTP reply code, or a destination's HTTP status
    smtp_message: Mapped[str | None] = mapped_column(Text)
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime)

    run: Mapped[Run] = relationship(back_populates="deliveries")


class WebSessionGeneration(Base):
    """Per web user, the generation of its sessions: a logout increments it, revoking every older session."""

    __tablename__ = "web_session_generations"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # a web.users name
    generation: Mapped[int] = mapped_column(Integer)  # sessions issued under a smaller one are revoked
    revoked_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the last logout
