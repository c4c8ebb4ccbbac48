"""The SQL of the metrics engine (SQLAlchemy Core): aggregates only, never raw events.

Each function runs one aggregate query over one campaign's events in a period
and returns a few rows. Conversion attribution (a conversion within the window
after a send, an impression, a click or a control assignment of the same user)
is a correlated sub-query on the (campaign, event, user, ts) index, so it costs
one index probe per conversion, not a join of the campaign's events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    Connection,
    ColumnElement,
    and_,
    case,
    distinct,
    exists,
    func,
    literal,
    select,
)

from reporter.models import Event, EventType

E = Event.__table__.alias("e")
DAY_US = 86_400 * 1_000_000


@dataclass(frozen=True)
class Scope:
    """One campaign's events in [start_us, end_us), bucketed with the given UTC offsets."""

    campaign_pk: int
    start_us: int
    end_us: int
    window_us: int
    offsets: Sequence[tuple[int, int]]  # [(until_us, offset_us)], see timezones.offset_segments

    def where(self, table: object, *events: EventType) -> ColumnElement[bool]:
        t = table.c  # type: ignore[attr-defined]
        cond = [t.campaign_pk == self.campaign_pk, t.ts >= self.start_us, t.ts < self.end_us]
        if len(events) == 1:
            cond.insert(1, t.event == int(events[0]))
        elif events:
            cond.insert(1, t.event.in_([int(e) for e in events]))
        return and_(*cond)

    def local_day(self, ts: ColumnElement[int]) -> ColumnElement[int]:
        """The local day number of a timestamp column (days since 1970-01-01 in the timezone)."""
        if len(self.offsets) == 1:
            shifted = ts + literal(self.offsets[0][1])
        else:
            *earlier, last = self.offsets
            shifted = ts + case(*((ts < until, literal(off)) for until, off in earlier), else_=literal(last[1]))
        return shifted // literal(DAY_US)


def event_counts(conn: Connection, scope: Scope) -> list[tuple[int, str | None, str | None, int, int]]:
    """(event, variant, channel, local day, count) of sent, impression, click and error events."""
    day = scope.local_day(E.c.ts).label("day")
    q = (
        select(E.c.event, E.c.variant, E.c.channel, day, func.count())
        .where(scope.where(E, EventType.SENT, EventType.IMPRESSION, EventType.CLICK, EventType.ERROR))
        .group_by(E.c.event, E.c.variant, E.c.channel, day)
    )
    return [tuple(r) for r in conn.execute(q)]  # type: ignore[misc]


def distinct_users(conn: Connection, scope: Scope) -> list[tuple[int, str | None, int]]:
    """(event, variant, distinct users) per event type and variant, and per event type (variant '*')."""
    kinds = (EventType.QUALIFIED, EventType.CONTROL, EventType.SENT, EventType.IMPRESSION, EventType.CLICK)
    per_variant = (
        select(E.c.event, E.c.variant, func.count(distinct(E.c.user_id)))
        .where(scope.where(E, EventType.SENT, EventType.IMPRESSION, EventType.CLICK))
        .group_by(E.c.event, E.c.variant)
    )
    overall = (
        select(E.c.event, literal("*"), func.count(distinct(E.c.user_id)))
        .where(scope.where(E, *kinds))
        .group_by(E.c.event)
    )
    return [tuple(r) for r in conn.execute(per_variant.union_all(overall))]  # type: ignore[misc]


def impressions_split(conn: Connection, scope: Scope) -> list[tuple[str, str, int]]:
    """(platform, device type, impressions)."""
    q = (
        select(E.c.platform, E.c.device_type, func.count())
        .where(scope.where(E, EventType.IMPRESSION))
        .group_by(E.c.platform, E.c.device_type)
    )
    return [tuple(r) for r in conn.execute(q)]  # type: ignore[misc]


def error_codes(conn: Connection, scope: Scope) -> list[tuple[str, int]]:
    """(error code, count)."""
    q = (
        select(E.c.error_code, func.count())
        .where(scope.where(E, EventType.ERROR))
        .group_by(E.c.error_code)
    )
    return [tuple(r) for r in conn.execute(q)]  # type: ignore[misc]


def _touch(scope: Scope, kind: EventType, conv: object) -> ColumnElement[bool]:
    """EXISTS an event of `kind` of the conversion's user with t.ts <= c.ts <= t.ts + window."""
    t = Event.__table__.alias(f"t_{kind.label}")
    c = conv.c  # type: ignore[attr-defined]
    return exists().where(
        scope.where(t, kind),
        t.c.user_id == c.user_id,
        t.c.ts <= c.ts,
        t.c.ts >= c.ts - scope.window_us,
    )


def _attributed_send(scope: Scope, conv: object) -> ColumnElement[str | None]:
    """The variant ('' for none) of the latest send the conversion is attributed to; NULL if none."""
    s = Event.__table__.alias("s")
    c = conv.c  # type: ignore[attr-defined]
    return (
        select(func.coalesce(s.c.variant, ""))
        .where(scope.where(s, EventType.SENT), s.c.user_id == c.user_id, s.c.ts <= c.ts, s.c.ts >= c.ts - scope.window_us)
        .order_by(s.c.ts.desc())
        .limit(1)
        .scalar_subquery()
    )


def _conversions(scope: Scope, *, touches: bool) -> object:
    c = Event.__table__.alias("c")
    cols = [
        c.c.user_id,
        c.c.revenue,
        scope.local_day(c.c.ts).label("day"),
        _attributed_send(scope, c).label("attr"),
    ]
    if touches:
        cols += [
            case((_touch(scope, EventType.IMPRESSION, c), 1), else_=0).label("vt"),
            case((_touch(scope, EventType.CLICK, c), 1), else_=0).label("ct"),
            case((_touch(scope, EventType.CONTROL, c), 1), else_=0).label("cg"),
        ]
    return select(*cols).where(scope.where(c, EventType.CONVERSION)).subquery("conv")


def attributed_conversions(conn: Connection, scope: Scope) -> list[tuple[int, str, int, float]]:
    """(local day, attributed variant or '', conversions, revenue) of attributed conversions."""
    conv = _conversions(scope, touches=False)
    q = (
        select(conv.c.day, conv.c.attr, func.count(), func.coalesce(func.sum(conv.c.revenue), 0.0))  # type: ignore[attr-defined]
        .where(conv.c.attr.is_not(None))  # type: ignore[attr-defined]
        .group_by(conv.c.day, conv.c.attr)  # type: ignore[attr-defined]
    )
    return [(int(d), a, int(n), float(r)) for d, a, n, r in conn.execute(q)]


@dataclass(frozen=True)
class ConversionUsers:
    converted: int
    view_through: int
    click_through: int
    control_converted: int
    by_variant: dict[str, int]


def conversion_users(conn: Connection, scope: Scope) -> ConversionUsers:
    """Distinct converted users: attributed, view-through, click-through, control, per variant."""
    conv = _conversions(scope, touches=True)
    cc = conv.c  # type: ignore[attr-defined]
    totals = select(
        func.count(distinct(case((cc.attr.is_not(None), cc.user_id)))),
        func.count(distinct(case((cc.vt == 1, cc.user_id)))),
        func.count(distinct(case((cc.ct == 1, cc.user_id)))),
        func.count(distinct(case((cc.cg == 1, cc.user_id)))),
    )
    converted, vt, ct, cg = conn.execute(totals).one()
    conv2 = _conversions(scope, touches=False)
    per_variant = (
        select(conv2.c.attr, func.count(distinct(conv2.c.user_id)))  # type: ignore[attr-defined]
        .where(conv2.c.attr.is_not(None))  # type: ignore[attr-defined]
        .group_by(conv2.c.attr)  # type: ignore[attr-defined]
    )
    by_variant = {a: int(n) for a, n in conn.execute(per_variant)}
    return ConversionUsers(int(converted), int(vt), int(ct), int(cg), by_variant)


def event_range(conn: Connection, campaign_pk: int) -> tuple[int | None, int | None]:
    """The first and last event time of a campaign (microseconds), or (None, None)."""
    return tuple(  # type: ignore[return-value]
        conn.execute(
            select(func.min(E.c.ts), func.max(E.c.ts)).where(E.c.campaign_pk == campaign_pk)
        ).one()
    )
