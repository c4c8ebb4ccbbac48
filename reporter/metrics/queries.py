"""The SQL of the metrics engine (SQLAlchemy Core): aggregates only, never raw events.

Four statements per report, each shaped so that the database answers from an
index alone, without sorting the campaign's events (see docs/performance.md):

* counts: for every (event, variant, channel, local day) a range count on the
  index (campaign, event, variant, channel, ts, ...). Day boundaries come from
  Python's timezone database, so DST is exact on every database and the
  database never evaluates a date function per row.
* distinct users: per event type a streaming GROUP BY user_id on the index
  (campaign, event, user_id, ts, variant), with conditional sums per variant.
* conversions: each conversion probes the same index for the latest send (its
  variant), an impression, a click and a control assignment of the same user
  inside the window; the probes run once (a materialized CTE) and feed the
  per-day sums and the distinct converted users.
* impressions by platform and device, and errors by code: small GROUP BYs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Float,
    Integer,
    String,
    and_,
    case,
    cast,
    distinct,
    exists,
    func,
    literal,
    literal_column,
    null,
    select,
    true,
    union_all,
)

from reporter.models import CHANNELS, Event, EventType

EVENTS = Event.__table__
COUNTED = (EventType.SENT, EventType.IMPRESSION, EventType.CLICK, EventType.ERROR)
DAY_US = 86_400 * 1_000_000


@dataclass(frozen=True)
class Scope:
    """One campaign's events in [start_us, end_us), with the local days that cover it."""

    campaign_pk: int
    start_us: int
    end_us: int
    window_us: int
    variants: Sequence[str]  # the campaign's variant ids; empty for a single-message campaign
    days: Sequence[tuple[int, int, int]]  # (local day number, first us, end us), clipped to the period
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
            shifted = ts + literal(self.offsets[0][1], BigInteger)
        else:
            *earlier, last = self.offsets
            shifted = ts + case(
                *((ts < literal(until, BigInteger), literal(off, BigInteger)) for until, off in earlier),
                else_=literal(last[1], BigInteger),
            )
        return shifted // literal(DAY_US, BigInteger)


def _literal_table(name: str, types: dict[str, object], rows: Sequence[tuple]) -> object:
    selects = [
        select(*(cast(literal(v, t), t).label(k) if v is not None else cast(null(), t).label(k)
                 for (k, t), v in zip(types.items(), row)))
        for row in rows
    ]
    return union_all(*selects).cte(name) if len(selects) > 1 else selects[0].cte(name)


def event_counts(conn: Connection, scope: Scope) -> list[tuple[int, str | None, str, int, int]]:
    """(event, variant, channel, local day, count) of sent, impression, click and error events."""
    if not scope.days:
        return []
    days = _literal_table("days", {"day": Integer(), "lo": BigInteger(), "hi": BigInteger()}, scope.days)
    variants: Sequence[str | None] = scope.variants or [None]
    combos = _literal_table(
        "combos",
        {"event": Integer(), "variant": String(), "channel": String()},
        [(int(e), v, ch) for e in COUNTED for v in variants for ch in CHANNELS],
    )
    e = EVENTS.alias("e")
    variant_match = e.c.variant.is_(None) if not scope.variants else e.c.variant == combos.c.variant
    n = (
        select(func.count())
        .where(
            e.c.campaign_pk == scope.campaign_pk,
            e.c.event == combos.c.event,
            variant_match,
            e.c.channel == combos.c.channel,
            e.c.ts >= days.c.lo,
            e.c.ts < days.c.hi,
        )
        .scalar_subquery()
    )
    # Materialized, so that PostgreSQL runs each range count once, not once for the
    # filter and again for the output.
    grid = (
        select(combos.c.event, combos.c.variant, combos.c.channel, days.c.day, n.label("n"))
        .select_from(days.join(combos, true()))
        .cte("grid")
        .prefix_with("MATERIALIZED")
    )
    q = select(grid).where(grid.c.n > 0)
    return [(ev, var or None, ch, int(d), int(k)) for ev, var, ch, d, k in conn.execute(q)]


@dataclass(frozen=True)
class UserCounts:
    """Distinct users per event type, overall and per variant."""

    overall: dict[int, int]
    by_variant: dict[int, dict[str, int]]


def distinct_users(conn: Connection, scope: Scope) -> UserCounts:
    """Distinct users with a qualified, control, sent, impression and click event (sent also per variant).

    Each count is a SELECT DISTINCT user_id streamed from the (campaign, event,
    user_id) index (no sort, no hash table on SQLite or PostgreSQL); the
    per-variant ones filter on the covered variant column, several times cheaper
    than conditional aggregates over one pass.
    """
    parts = []
    kinds = (EventType.QUALIFIED, EventType.CONTROL, EventType.SENT, EventType.IMPRESSION, EventType.CLICK)
    for kind in kinds:
        for variant in [None, *(scope.variants if kind == EventType.SENT else ())]:
            e = EVENTS.alias(f"u_{kind.label}_{len(parts)}")
            cond = [scope.where(e, kind)]
            if variant is not None:
                cond.append(e.c.variant == variant)
            per_user = select(e.c.user_id).distinct().where(*cond).subquery()
            label = cast(literal(variant if variant is not None else "*"), String)
            parts.append(select(literal(int(kind)), label, func.count()).select_from(per_user))
    out = UserCounts({}, {})
    for kind, variant, users in conn.execute(union_all(*parts)):
        if variant == "*":
            out.overall[int(kind)] = int(users)
        else:
            out.by_variant.setdefault(int(kind), {})[variant] = int(users)
    return out


def _touch(scope: Scope, kind: EventType, conv: object) -> ColumnElement[bool]:
    """EXISTS an event of `kind` of the conversion's user with t.ts <= c.ts <= t.ts + window."""
    t = EVENTS.alias(f"t_{kind.label}")
    c = conv.c  # type: ignore[attr-defined]
    return exists().where(
        scope.where(t, kind),
        t.c.user_id == c.user_id,
        t.c.ts <= c.ts,
        t.c.ts >= c.ts - scope.window_us,
    )


def _attributed_send(scope: Scope, conv: object) -> ColumnElement[str | None]:
    """The variant ('' for none) of the latest send the conversion is attributed to; NULL if none."""
    s = EVENTS.alias("s")
    c = conv.c  # type: ignore[attr-defined]
    return (
        select(func.coalesce(s.c.variant, ""))
        .where(scope.where(s, EventType.SENT), s.c.user_id == c.user_id, s.c.ts <= c.ts, s.c.ts >= c.ts - scope.window_us)
        .order_by(s.c.ts.desc())
        .limit(1)
        .scalar_subquery()
    )


@dataclass(frozen=True)
class Conversions:
    """Attributed conversions per (day, variant) and the distinct converted users."""

    by_day: list[tuple[int, str, int, float]]  # (local day, variant or '', conversions, revenue)
    converted: int
    by_variant: dict[str, int]
    view_through: int
    click_through: int
    control_converted: int


def conversions(conn: Connection, scope: Scope) -> Conversions:
    """Attribute every conversion once (index probes) and aggregate it three ways in one statement."""
    c = EVENTS.alias("c")
    conv = (
        select(
            c.c.user_id,
            c.c.revenue,
            scope.local_day(c.c.ts).label("day"),
            _attributed_send(scope, c).label("attr"),
            case((_touch(scope, EventType.IMPRESSION, c), 1), else_=0).label("vt"),
            case((_touch(scope, EventType.CLICK, c), 1), else_=0).label("ct"),
            case((_touch(scope, EventType.CONTROL, c), 1), else_=0).label("cg"),
        )
        .where(scope.where(c, EventType.CONVERSION))
        .cte("conv")
        .prefix_with("MATERIALIZED")
    )
    zero, no_revenue = literal(0), cast(literal(0.0), Float)
    attributed = conv.c.attr.is_not(None)
    per_day = (
        select(literal(0).label("kind"), conv.c.day, conv.c.attr, func.count(),
               cast(func.coalesce(func.sum(conv.c.revenue), 0.0), Float), zero, zero, zero)
        .where(attributed)
        .group_by(conv.c.day, conv.c.attr)
    )
    per_variant = (
        select(literal(1), zero, conv.c.attr, func.count(distinct(conv.c.user_id)), no_revenue, zero, zero, zero)
        .where(attributed)
        .group_by(conv.c.attr)
    )

    def users_where(flag: ColumnElement[bool]) -> ColumnElement[int]:
        return func.count(distinct(case((flag, conv.c.user_id))))

    users = select(
        literal(2), zero, cast(literal(""), String), users_where(attributed), no_revenue,
        users_where(conv.c.vt == 1), users_where(conv.c.ct == 1), users_where(conv.c.cg == 1),
    )
    by_day: list[tuple[int, str, int, float]] = []
    by_variant: dict[str, int] = {}
    converted = vt = ct = cg = 0
    for kind, day, attr, n, revenue, a, b, g in conn.execute(union_all(per_day, per_variant, users)):
        if kind == 0:
            by_day.append((int(day), attr, int(n), float(revenue)))
        elif kind == 1:
            by_variant[attr] = int(n)
        else:
            converted, vt, ct, cg = int(n), int(a), int(b), int(g)
    return Conversions(by_day, converted, by_variant, vt, ct, cg)


def impressions_split(conn: Connection, scope: Scope) -> list[tuple[str, str, int]]:
    """(platform, device type, impressions)."""
    e = EVENTS.alias("e")
    q = (
        select(e.c.platform, e.c.device_type, func.count())
        .where(
            e.c.campaign_pk == scope.campaign_pk,
            # Literal, not a parameter, so the planner can use the partial index.
            e.c.event == literal_column(str(int(EventType.IMPRESSION))),
            # `ts + 0`: a filter, not an index range. Given a range on ts SQLite
            # prefers a skip-scan over every campaign of the index to the
            # campaign_pk equality (seen on a 10M-event table: 0.28 s vs 3 ms).
            e.c.ts + 0 >= scope.start_us,
            e.c.ts + 0 < scope.end_us,
        )
        .group_by(e.c.platform, e.c.device_type)
    )
    return [tuple(r) for r in conn.execute(q)]  # type: ignore[misc]


def error_codes(conn: Connection, scope: Scope) -> list[tuple[str, int]]:
    """(error code, count)."""
    e = EVENTS.alias("e")
    q = select(e.c.error_code, func.count()).where(scope.where(e, EventType.ERROR)).group_by(e.c.error_code)
    return [tuple(r) for r in conn.execute(q)]  # type: ignore[misc]
