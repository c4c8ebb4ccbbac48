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
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
    ColumnElement,
    Connection,
    Double,
    FromClause,
    Integer,
    Select,
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
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.types import TypeEngine

from reporter.metrics.taxonomy import UNINSTALL_CODES
from reporter.models import CHANNELS, Event, EventType
from reporter.timezones import DAY_US, HOUR_US

EVENTS = Event.__table__
COUNTED = (EventType.SENT, EventType.IMPRESSION, EventType.CLICK, EventType.ERROR)


@dataclass(frozen=True)
class Scope:
    """One campaign's events in [start_us, end_us), with the local buckets that cover it."""

    campaign_pk: int
    start_us: int
    end_us: int
    window_us: int
    variants: Sequence[str]  # the campaign's variant ids; empty for a single-message campaign
    # (bucket key, first us, end us) of every local bucket, clipped to the period:
    # local clock hours when `hourly`, else local days (key = local day number).
    buckets: Sequence[tuple[int, int, int]]
    offsets: Sequence[tuple[int, int]]  # [(until_us, offset_us)], see timezones.offset_segments
    hourly: bool = False

    def where(self, table: FromClause, *events: EventType) -> ColumnElement[bool]:
        t = table.c
        cond = [t.campaign_pk == self.campaign_pk, t.ts >= self.start_us, t.ts < self.end_us]
        if len(events) == 1:
            cond.insert(1, t.event == int(events[0]))
        elif events:
            cond.insert(1, t.event.in_([int(e) for e in events]))
        return and_(*cond)

    @property
    def keys_follow_buckets(self) -> bool:
        """Whether `bucket_of` puts every event in the planned bucket that holds it: always for days; for hours
        unless the offset moves by a fraction of an hour (Australia/Lord_Howe's half-hour summer time), where
        the planned hours after the change start half an hour off the keys' grid. Checked bucket by bucket: the
        key of its first and of its last microsecond must be its own."""
        if not self.hourly:
            return True

        def key(ts: int) -> int:
            offset = next((off for until, off in self.offsets if ts < until), self.offsets[-1][1])
            return (ts + offset % HOUR_US) // HOUR_US

        return all(key(lo) == k == key(hi - 1) for k, lo, hi in self.buckets)

    def bucket_of(self, ts: ColumnElement[int]) -> ColumnElement[int]:
        """The key of the local bucket holding a timestamp column (see timezones.bucket_key)."""
        unit = HOUR_US if self.hourly else DAY_US

        def shift(offset: int) -> int:
            # A local hour starts where ts + offset is a whole hour, i.e. where
            # ts + (offset mod 1 h) is: that key also tells a repeated hour's two
            # occurrences apart.
            return offset % HOUR_US if self.hourly else offset

        if len(self.offsets) == 1:
            shifted = ts + literal(shift(self.offsets[0][1]), BigInteger)
        else:
            *earlier, last = self.offsets
            shifted = ts + case(
                *((ts < literal(until, BigInteger), literal(shift(off), BigInteger)) for until, off in earlier),
                else_=literal(shift(last[1]), BigInteger),
            )
        return shifted // literal(unit, BigInteger)


def _literal_table(name: str, types: dict[str, TypeEngine[Any]], rows: Sequence[tuple[Any, ...]]) -> CTE:
    selects = [
        select(
            *(
                cast(literal(v, t), t).label(k) if v is not None else cast(null(), t).label(k)
                for (k, t), v in zip(types.items(), row, strict=True)
            )
        )
        for row in rows
    ]
    return union_all(*selects).cte(name) if len(selects) > 1 else selects[0].cte(name)


def event_counts(conn: Connection, scope: Scope) -> list[tuple[int, str | None, str, int, int]]:
    """(event, variant, channel, bucket key, count) of sent, impression, click and error events."""
    if not scope.buckets:
        return []
    if conn.dialect.name == "duckdb" and scope.keys_follow_buckets:
        return _event_counts_grouped(conn, scope)
    days = _literal_table("days", {"day": BigInteger(), "lo": BigInteger(), "hi": BigInteger()}, scope.buckets)
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


def _event_counts_grouped(conn: Connection, scope: Scope) -> list[tuple[int, str | None, str, int, int]]:
    """event_counts as one GROUP BY: a columnar engine (the DuckDB copy) reads the columns faster than it
    answers a range count per cell (0.55 s against 0.1 s for 2.4 million events)."""
    e = EVENTS.alias("e")
    one = len(scope.buckets) == 1  # the card's whole period, or a period of one bucket
    keyed = select(
        e.c.event,
        e.c.variant,
        e.c.channel,
        (literal(scope.buckets[0][0], BigInteger) if one else scope.bucket_of(e.c.ts)).label("k"),
    ).where(
        scope.where(e, *COUNTED),
        e.c.variant.in_(list(scope.variants)) if scope.variants else e.c.variant.is_(None),
        e.c.channel.in_(list(CHANNELS)),
    )
    sub = keyed.subquery("keyed")
    q = select(sub.c.event, sub.c.variant, sub.c.channel, sub.c.k, func.count()).group_by(
        sub.c.event, sub.c.variant, sub.c.channel, sub.c.k
    )
    return [(int(ev), var or None, ch, int(d), int(k)) for ev, var, ch, d, k in conn.execute(q)]


PER_VARIANT_USERS = (EventType.IMPRESSION, EventType.CLICK)
Histogram = dict[int, int]  # users by the bucket of their first event of a kind: {bucket key: users}


@dataclass(frozen=True)
class UserCounts:
    """Distinct users per event type, overall and per variant."""

    overall: dict[int, int]
    by_variant: dict[int, dict[str, int]]


def distinct_users(conn: Connection, scope: Scope) -> UserCounts:
    """Distinct users with a qualified, control, impression and click event (the last two also per variant).

    Each count is a SELECT DISTINCT user_id streamed from the (campaign, event,
    user_id) index (no sort, no hash table on SQLite or PostgreSQL; a bitstring
    in the columnar copy); the
    per-variant ones filter on the covered variant column, several times cheaper
    than conditional aggregates over one pass.
    """
    parts: list[Select[Any]] = []
    # In the columnar copy (DuckDB) users are numbers from 1 to the campaign's count (its `users` table,
    # metrics/columnar.py): a bitstring of one bit per number, set for each user seen, counts them in 125 kB
    # per million users of the campaign where DISTINCT builds a hash table (about 36 MB for the million
    # impressed users of the benchmark's campaign, and 7 times slower). Its bounds are given: from the
    # column's statistics DuckDB would size it for the largest campaign ever copied.
    columnar = conn.dialect.name == "duckdb"
    if columnar:
        numbered = conn.exec_driver_sql("SELECT max(n) FROM users WHERE campaign_pk = ?", (scope.campaign_pk,))
        top = max(1, numbered.scalar() or 0)
    kinds = (EventType.QUALIFIED, EventType.CONTROL, EventType.IMPRESSION, EventType.CLICK)
    for kind in kinds:
        for variant in [None, *(scope.variants if kind in PER_VARIANT_USERS else ())]:
            e = EVENTS.alias(f"u_{kind.label}_{len(parts)}")
            cond = [scope.where(e, kind)]
            if variant is not None:
                cond.append(e.c.variant == variant)
            label = cast(literal(variant if variant is not None else "*"), String)
            if columnar:
                users = func.coalesce(func.bit_count(func.bitstring_agg(e.c.user_id, 1, top)), 0)
                parts.append(select(literal(int(kind)), label, users).where(*cond))
            else:
                per_user = select(e.c.user_id).distinct().where(*cond).subquery()
                parts.append(select(literal(int(kind)), label, func.count()).select_from(per_user))
    out = UserCounts({}, {})
    for kind, variant, users in conn.execute(union_all(*parts)):
        if variant == "*":
            out.overall[int(kind)] = int(users)
        else:
            out.by_variant.setdefault(int(kind), {})[variant] = int(users)
    return out


def _firsts(scope: Scope, name: str, kind: EventType, variant: str | None = None) -> Any:
    """(user_id, at): each user's first event of `kind` (of `variant`) in the period.

    A streaming GROUP BY user_id on the (campaign, event, user_id, ts) index, the
    variant filtered on the covered column.
    """
    e = EVENTS.alias(name)
    where = [scope.where(e, kind)] + ([e.c.variant == variant] if variant is not None else [])
    return select(e.c.user_id, func.min(e.c.ts).label("at")).where(*where).group_by(e.c.user_id).subquery(name)


def first_sends(conn: Connection, scope: Scope, variant: str | None = None) -> Histogram:
    """Users by the bucket of their first send (of `variant`, or of any) in the period.

    The sum is the distinct users sent to; the buckets give the cumulative users
    at every look of the sequential tests. One statement per variant, so that
    they can run side by side.
    """
    firsts = _firsts(scope, "first_sent", EventType.SENT, variant)
    bucket = scope.bucket_of(firsts.c.at)
    return {int(k): int(n) for k, n in conn.execute(select(bucket, func.count()).group_by(bucket))}


def _touch_where(scope: Scope, t: FromClause, kind: EventType, conv: FromClause) -> ColumnElement[bool]:
    """An event of `kind` of the conversion's user with t.ts <= c.ts <= t.ts + window.

    The touch may lie before the period's start (attribution looks back), so
    that conversions add up across consecutive periods.
    """
    t_, c = t.c, conv.c
    return and_(
        t_.campaign_pk == scope.campaign_pk,
        t_.event == int(kind),
        t_.user_id == c.user_id,
        t_.ts <= c.ts,
        t_.ts >= c.ts - scope.window_us,
    )


def _touch(scope: Scope, kind: EventType, conv: FromClause) -> ColumnElement[bool]:
    """EXISTS an event of `kind` of the conversion's user inside the window before it."""
    t = EVENTS.alias(f"t_{kind.label}")
    return exists().where(_touch_where(scope, t, kind, conv))


def _attributed_send(scope: Scope, conv: FromClause) -> ColumnElement[str | None]:
    """The variant ('' for none) of the latest send the conversion is attributed to; NULL if none."""
    s = EVENTS.alias("s")
    return (
        select(func.coalesce(s.c.variant, ""))
        .where(_touch_where(scope, s, EventType.SENT, conv))
        .order_by(s.c.ts.desc())
        .limit(1)
        .scalar_subquery()
    )


def _first_in_period(scope: Scope, row: FromClause, *kinds: EventType) -> ColumnElement[int | None]:
    """The time of the row's user's first event of one of `kinds` in the period (NULL if none)."""
    t = EVENTS.alias("f_" + "_".join(k.label for k in kinds))
    return select(func.min(t.c.ts)).where(scope.where(t, *kinds), t.c.user_id == row.c.user_id).scalar_subquery()


TREATED = (EventType.SENT, EventType.ERROR)  # the events that assign a user to the treatment group


@dataclass(frozen=True)
class Conversions:
    """Attributed conversions per (bucket, variant), the distinct converted users and the control groups' outcomes."""

    by_bucket: list[tuple[int, str, int, float]]  # (bucket key, variant or '', conversions, revenue)
    converted: int
    # converted users by the bucket of their first conversion attributed to the variant
    by_variant: dict[str, Histogram]
    view_through: int
    click_through: int
    view_through_events: int
    click_through_events: int
    # Intent to treat: converted users and their revenue per assignment ("control", "treatment"),
    # followed one window past the period; and by the bucket of their first conversion in it.
    itt_converted: dict[str, int]
    itt_revenue: dict[str, float]
    itt_by_bucket: dict[str, Histogram]


def conversions(conn: Connection, scope: Scope) -> Conversions:
    """Attribute every conversion once (index probes) and aggregate it four ways in one statement.

    The CTE holds the conversions of the period and, for the control group's
    comparison, those up to one window after it (a user assigned in the period
    is followed for one window); only the period's own are attributed.
    """
    c = EVENTS.alias("c")
    in_period = c.c.ts < scope.end_us
    conv = (
        select(
            c.c.user_id,
            c.c.ts,
            c.c.revenue,
            in_period.label("in_period"),
            case((in_period, scope.bucket_of(c.c.ts))).label("bucket"),
            case((in_period, _attributed_send(scope, c))).label("attr"),
            case((and_(in_period, _touch(scope, EventType.IMPRESSION, c)), 1), else_=0).label("vt"),
            case((and_(in_period, _touch(scope, EventType.CLICK, c)), 1), else_=0).label("ct"),
            _first_in_period(scope, c, *TREATED).label("a_treated"),
            _first_in_period(scope, c, EventType.CONTROL).label("a_control"),
        )
        .where(
            c.c.campaign_pk == scope.campaign_pk,
            c.c.event == int(EventType.CONVERSION),
            c.c.ts >= scope.start_us,
            c.c.ts < scope.end_us + scope.window_us,
        )
        .cte("conv")
        .prefix_with("MATERIALIZED")
    )
    zero, no_revenue, blank = literal(0), cast(literal(0.0), Double), cast(literal(""), String)
    attributed = and_(conv.c.in_period == true(), conv.c.attr.is_not(None))
    per_bucket = (
        select(
            literal(0).label("kind"),
            conv.c.bucket,
            conv.c.attr,
            func.count(),
            cast(func.coalesce(func.sum(conv.c.revenue), 0.0), Double),
            zero,
            zero,
            zero,
            zero,
        )
        .where(attributed)
        .group_by(conv.c.bucket, conv.c.attr)
    )
    first_attributed = (
        select(conv.c.attr, func.min(conv.c.bucket).label("first"))
        .where(attributed)
        .group_by(conv.c.attr, conv.c.user_id)
        .subquery("first_attributed")
    )
    per_variant = select(
        literal(1), first_attributed.c.first, first_attributed.c.attr, func.count(), no_revenue, zero, zero, zero, zero
    ).group_by(first_attributed.c.attr, first_attributed.c.first)

    def users_where(flag: ColumnElement[bool]) -> ColumnElement[int]:
        return func.count(distinct(case((flag, conv.c.user_id))))

    def events_where(flag: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((flag, 1), else_=0)), 0)

    users = select(
        literal(2),
        zero,
        blank,
        users_where(attributed),
        no_revenue,
        users_where(conv.c.vt == 1),
        users_where(conv.c.ct == 1),
        events_where(conv.c.vt == 1),
        events_where(conv.c.ct == 1),
    )
    # Intent to treat: a user's assignment is the earliest of their first send,
    # error and control event in the period; the conversion counts for that
    # group when it falls inside the window after the assignment.
    treated_at = conv.c.a_treated
    is_control = and_(conv.c.a_control.is_not(None), or_(treated_at.is_(None), conv.c.a_control < treated_at))
    assigned = (
        select(
            conv.c.user_id,
            conv.c.ts,
            conv.c.revenue,
            conv.c.bucket,
            case((is_control, literal("control")), else_=literal("treatment")).label("grp"),
            case((is_control, conv.c.a_control), else_=treated_at).label("at"),
        )
        .where(or_(conv.c.a_control.is_not(None), treated_at.is_not(None)))
        .subquery("assigned")
    )
    converts = and_(assigned.c.ts >= assigned.c.at, assigned.c.ts <= assigned.c.at + scope.window_us)
    itt = (
        select(
            literal(3),
            zero,
            assigned.c.grp,
            func.count(distinct(assigned.c.user_id)),
            cast(func.coalesce(func.sum(assigned.c.revenue), 0.0), Double),
            zero,
            zero,
            zero,
            zero,
        )
        .where(converts)
        .group_by(assigned.c.grp)
    )
    first_itt = (
        select(assigned.c.grp, func.min(assigned.c.bucket).label("first"))
        .where(converts, assigned.c.bucket.is_not(None))
        .group_by(assigned.c.grp, assigned.c.user_id)
        .subquery("first_itt")
    )
    itt_buckets = select(
        literal(4), first_itt.c.first, first_itt.c.grp, func.count(), no_revenue, zero, zero, zero, zero
    ).group_by(first_itt.c.grp, first_itt.c.first)
    by_bucket: list[tuple[int, str, int, float]] = []
    by_variant: dict[str, Histogram] = {}
    itt_converted: dict[str, int] = {}
    itt_revenue: dict[str, float] = {}
    itt_by_bucket: dict[str, Histogram] = {"control": {}, "treatment": {}}
    converted = vt = ct = vt_events = ct_events = 0
    statement = union_all(per_bucket, per_variant, users, itt, itt_buckets)
    for kind, bucket, attr, n, revenue, a, b, d, e in conn.execute(statement):
        if kind == 0:
            by_bucket.append((int(bucket), attr, int(n), float(revenue)))
        elif kind == 1:
            by_variant.setdefault(attr, {})[int(bucket)] = int(n)
        elif kind == 2:
            converted, vt, ct, vt_events, ct_events = int(n), int(a), int(b), int(d), int(e)
        elif kind == 3:
            itt_converted[attr], itt_revenue[attr] = int(n), float(revenue)
        else:
            itt_by_bucket[attr][int(bucket)] = int(n)
    return Conversions(
        by_bucket, converted, by_variant, vt, ct, vt_events, ct_events, itt_converted, itt_revenue, itt_by_bucket
    )


@dataclass(frozen=True)
class Reach:
    """The uplift channels' extra reach: users shown the message there and never on the main push channel."""

    push_amplification_reached: int
    app_inbox_reached: int


def reach(conn: Connection, scope: Scope) -> Reach:
    """Users with an impression on an uplift channel and none on `push` in the period."""
    parts = []
    for tag, channel in enumerate(("push_amplification", "app_inbox")):
        i, p = EVENTS.alias(f"i_{channel}"), EVENTS.alias(f"p_{channel}")
        only_there = ~exists().where(
            scope.where(p, EventType.IMPRESSION),
            p.c.user_id == i.c.user_id,
            or_(p.c.channel == "push", p.c.channel.is_(None)),
        )
        parts.append(
            select(literal(tag), func.count(distinct(i.c.user_id))).where(
                scope.where(i, EventType.IMPRESSION), i.c.channel == channel, only_there
            )
        )
    rows = dict(conn.execute(union_all(*parts)).tuples().all())
    return Reach(int(rows[0]), int(rows[1]))


@dataclass(frozen=True)
class Assignments:
    """Uninstalls, and the users of the intent-to-treat groups by the bucket they joined them in.

    Treatment users = first sends + `errors_first` - `errors_then_sent` - `control_then_treated`
    (bucket by bucket); control users = `control`.
    """

    uninstalls: int
    control: Histogram  # users whose earliest assigning event is a control one, by its bucket
    control_then_treated: Histogram  # of those, users with a later send or error, by its bucket
    errors_first: Histogram  # users whose first error precedes any send, by the error's bucket
    errors_then_sent: Histogram  # of those, users sent to later, by the send's bucket

    def treatment(self, first_sends: Histogram) -> tuple[tuple[Histogram, int], ...]:
        """The treatment group as signed histograms: users sent to or failed, less those assigned to control first."""
        return ((first_sends, 1), (self.errors_first, 1), (self.errors_then_sent, -1), (self.control_then_treated, -1))


def assignments(conn: Connection, scope: Scope) -> Assignments:
    """Uninstalls, and who joins which group when, by intent to treat (a probe per control or error user)."""
    e = EVENTS.alias("uninstall")
    zero = literal(0)
    parts = [
        select(literal(0), zero, func.count(distinct(e.c.user_id))).where(
            scope.where(e, EventType.ERROR), e.c.error_code.in_(UNINSTALL_CODES)
        )
    ]
    # Materialized, so that the probes run once per user, not once per mention below.
    first_control = _firsts(scope, "first_control", EventType.CONTROL)
    controls = (
        select(first_control.c.at, _first_in_period(scope, first_control, *TREATED).label("other"))
        .cte("control_firsts")
        .prefix_with("MATERIALIZED")
    )
    first_error = _firsts(scope, "first_error", EventType.ERROR)
    errors = (
        select(first_error.c.at, _first_in_period(scope, first_error, EventType.SENT).label("other"))
        .cte("error_firsts")
        .prefix_with("MATERIALIZED")
    )
    # A tie goes to the treatment group (control) and to the send (errors).
    for tag, firsts, later in ((1, controls, False), (2, controls, True), (3, errors, False), (4, errors, True)):
        came_first = or_(firsts.c.other.is_(None), firsts.c.at < firsts.c.other)
        cond = [came_first, firsts.c.other.is_not(None)] if later else [came_first]
        bucket = scope.bucket_of(firsts.c.other if later else firsts.c.at)
        parts.append(select(literal(tag), bucket, func.count()).where(*cond).group_by(bucket))
    hist: dict[int, Histogram] = {1: {}, 2: {}, 3: {}, 4: {}}
    uninstalls = 0
    for tag, bucket, n in conn.execute(union_all(*parts)):
        if tag == 0:
            uninstalls = int(n)
        else:
            hist[int(tag)][int(bucket)] = int(n)
    return Assignments(uninstalls, hist[1], hist[2], hist[3], hist[4])


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
    return [tuple(r) for r in conn.execute(q)]


def error_codes(conn: Connection, scope: Scope) -> list[tuple[str, int]]:
    """(error code, count)."""
    e = EVENTS.alias("e")
    q = select(e.c.error_code, func.count()).where(scope.where(e, EventType.ERROR)).group_by(e.c.error_code)
    return [tuple(r) for r in conn.execute(q)]
