"""Alert states and their history in the reporter's database, changed so that each transition happens once.

Every (rule, campaign, group) has one row in `alert_states`. An evaluation is
for a slot (the rule's fire time): the state moves only by a conditional update
that requires the row unchanged since it was read and the slot newer than the
last one counted, so two schedulers evaluating the same slot count it once and
tell once. Each counted evaluation that must be told leaves a row in
`alert_events` (the outbox); its notice is claimed before it is sent, and one
left unsent (a crash, a destination down) is sent by a later evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Float, Integer, Row, String, Text, UniqueConstraint, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from reporter.alerts.rules import Step
from reporter.models import Base, UtcDateTime

CLAIM_FOR = timedelta(minutes=10)  # a claimed notice not sent by then is taken over


class AlertState(Base):
    """Where one (rule, campaign, group) stands; `group` is a variant or platform, '' for the whole campaign."""

    __tablename__ = "alert_states"
    __table_args__ = (UniqueConstraint("rule", "campaign_id", "grp"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(100))
    campaign_id: Mapped[str] = mapped_column(String(200))
    grp: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(10), default="ok")  # ok | pending | firing | resolved
    breaches: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[float | None] = mapped_column(Float)  # the figure at the last counted evaluation
    last_slot: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the last evaluation counted
    since: Mapped[datetime] = mapped_column(UtcDateTime)  # when the state was entered
    last_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AlertEvent(Base):
    """One counted evaluation that changed the state or must be told: the history, and the outbox of notices."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(100))
    campaign_id: Mapped[str] = mapped_column(String(200))
    grp: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(10))  # the state entered
    value: Mapped[float | None] = mapped_column(Float)
    slot: Mapped[datetime] = mapped_column(UtcDateTime)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    notice: Mapped[str | None] = mapped_column(String(10))  # firing | resolved | renotify; None: nothing to tell
    detail: Mapped[str | None] = mapped_column(Text)  # the sentence told
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error: Mapped[str | None] = mapped_column(Text)  # the last failure to tell


@dataclass(frozen=True)
class Standing:
    """A state as read, to be moved by `advance` only if nobody moved it meanwhile."""

    id: int
    state: str
    breaches: int
    last_slot: datetime | None
    last_notified_at: datetime | None


def standing(engine: Engine, rule: str, campaign_id: str, group: str, now: datetime, create: bool = True) -> Standing:
    """The state of (rule, campaign, group); a new one starts `ok` (and is written only with `create`)."""
    t = AlertState.__table__
    key = and_(t.c.rule == rule, t.c.campaign_id == campaign_id, t.c.grp == group)
    with engine.begin() as conn:
        row = conn.execute(select(t).where(key)).one_or_none()
        if row is None and not create:
            return Standing(0, "ok", 0, None, None)
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(t).values(
                            rule=rule, campaign_id=campaign_id, grp=group, state="ok", breaches=0, since=now
                        )
                    )
            except IntegrityError:
                pass  # another process created it first
            row = conn.execute(select(t).where(key)).one()
    return Standing(row.id, row.state, row.breaches, row.last_slot, row.last_notified_at)


def advance(
    engine: Engine,
    was: Standing,
    step: Step,
    value: float | None,
    slot: datetime,
    now: datetime,
    rule: str,
    campaign_id: str,
    group: str,
    detail: str,
) -> bool:
    """Count this evaluation once: move the state and, when there is something to tell, queue the notice.

    False when another process counted this slot (or moved the state) first: then nothing changed.
    """
    t = AlertState.__table__
    changes = {"state": step.state, "breaches": step.breaches, "value": value, "last_slot": slot}
    if step.state != was.state:
        changes["since"] = now
    if step.notice:
        changes["last_notified_at"] = now
    unchanged = and_(
        t.c.id == was.id,
        t.c.state == was.state,
        t.c.breaches == was.breaches,
        or_(t.c.last_slot.is_(None), t.c.last_slot < slot),
    )
    with engine.begin() as conn:
        if conn.execute(update(t).where(unchanged).values(**changes)).rowcount != 1:
            return False
        if step.notice is not None or step.state != was.state:
            conn.execute(
                insert(AlertEvent.__table__).values(
                    rule=rule,
                    campaign_id=campaign_id,
                    grp=group,
                    state=step.state,
                    value=value,
                    slot=slot,
                    at=now,
                    notice=step.notice,
                    detail=detail if step.notice else None,
                )
            )
    return True


def claim_notices(engine: Engine, rule: str, now: datetime, only: int | None = None) -> list[Row[Any]]:
    """The rule's notices to send now (unsent, not claimed by a live sender), each claimed by this process."""
    e = AlertEvent.__table__
    free = and_(
        e.c.rule == rule,
        e.c.notice.is_not(None),
        e.c.notified_at.is_(None),
        or_(e.c.claimed_at.is_(None), e.c.claimed_at < now - CLAIM_FOR),
    )
    if only is not None:
        free = and_(free, e.c.id == only)
    claimed = []
    with engine.connect() as conn:
        ids = list(conn.execute(select(e.c.id).where(free).order_by(e.c.id)).scalars())
    for event_id in ids:
        with engine.begin() as conn:
            if conn.execute(update(e).where(and_(free, e.c.id == event_id)).values(claimed_at=now)).rowcount == 1:
                claimed.append(conn.execute(select(e).where(e.c.id == event_id)).one())
    return claimed


def mark_told(engine: Engine, event_id: int, now: datetime, error: str | None) -> None:
    """A notice sent (error None), or not: then it is released for a later evaluation to send."""
    e = AlertEvent.__table__
    values = {"notified_at": now, "error": None} if error is None else {"claimed_at": None, "error": error}
    with engine.begin() as conn:
        conn.execute(update(e).where(e.c.id == event_id).values(**values))


def states(engine: Engine, rule: str | None = None) -> list[Row[Any]]:
    """Every alert state (of one rule), by rule, campaign and group."""
    t = AlertState.__table__
    with engine.connect() as conn:
        query = select(t).order_by(t.c.rule, t.c.campaign_id, t.c.grp)
        if rule is not None:
            query = query.where(t.c.rule == rule)
        return list(conn.execute(query))


def history(engine: Engine, rule: str | None = None, limit: int = 100) -> list[Row[Any]]:
    """The newest counted evaluations that changed a state or were told."""
    e = AlertEvent.__table__
    with engine.connect() as conn:
        query = select(e).order_by(e.c.id.desc()).limit(limit)
        if rule is not None:
            query = query.where(e.c.rule == rule)
        return list(conn.execute(query))
