"""The portfolio's figures: the headline figures of many campaigns over one period, in grouped statements.

Four statements answer for every campaign at once (GROUP BY campaign), where
a campaign report runs a dozen per campaign:

* counts: sent, impressions, clicks and errors per campaign and local day
  (the days give the sparkline of daily sends);
* users: the distinct users sent to, shown, clicked and uninstalled;
* conversions: each conversion probes the index for a send of the same
  campaign and user inside that campaign's window (the attribution of the
  campaign report: the send may lie before the period);
* the control group by intent to treat: each user's first control, send or
  error event in the period assigns them to a group; their conversions
  inside one window after it count for the group.

The definitions are those of the campaign report (docs/figures.md), and the
tests hold every figure here equal to the campaign's own `compute_stats`.
The A/B verdicts need each test's daily looks since it started: `portfolio`
runs the campaign engine's queries a verdict reads (a third of a report's),
for the A/B campaigns with sends only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Integer,
    and_,
    case,
    distinct,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)

from reporter.metrics import queries
from reporter.metrics import statistics as st
from reporter.metrics.assemble import assemble_verdict, control_group, verdict_jobs
from reporter.metrics.buckets import money
from reporter.metrics.fetch import load_campaigns
from reporter.metrics.model import CampaignInfo, ControlGroup, Period
from reporter.metrics.plan import StoredCampaign, overlaps, plan_work
from reporter.metrics.taxonomy import UNINSTALL_CODES
from reporter.models import EventType
from reporter.timezones import EPOCH_DATE, local_midnight, offset_segments, to_us, zone

EVENTS = queries.EVENTS
SENT, IMPRESSION, CLICK, ERROR = (int(e) for e in queries.COUNTED)
CONVERSION, CONTROL = int(EventType.CONVERSION), int(EventType.CONTROL)


@dataclass(frozen=True)
class Card:
    """One campaign's headline figures over one period (the keys of `stats --json` where they share a name)."""

    sent: int = 0
    sent_users: int = 0
    impressions: int = 0
    impressed_users: int = 0
    clicks: int = 0
    clicked_users: int = 0
    errors: int = 0
    uninstalls: int = 0
    conversions: int = 0
    converted_users: int = 0
    revenue: float = 0.0
    control: ControlGroup = field(default_factory=ControlGroup)
    daily_sends: tuple[int, ...] = ()  # one per local day of the period

    @property
    def ctr(self) -> float | None:
        return st.rate(self.clicks, self.impressions)

    @property
    def conversion_rate(self) -> float | None:
        return st.rate(self.converted_users, self.sent_users)

    @property
    def error_rate(self) -> float | None:
        """Errors per delivery attempt: 100 * errors / (sent + errors)."""
        return st.rate(self.errors, self.sent + self.errors)

    @property
    def active(self) -> bool:
        """Anything happened: a send, an error or a conversion attributed to an earlier send."""
        return bool(self.sent or self.errors or self.conversions)


@dataclass(frozen=True)
class Verdict:
    """An A/B test's verdict word and winner over the period (from the campaign engine)."""

    verdict: str | None
    winner: str | None
    ready: bool  # stop now: a winner, a loser or no difference at the planned users


READY = ("winner", "loser", "inconclusive")


@dataclass(frozen=True)
class Row:
    """One campaign of the portfolio: its figures now and over the previous period."""

    campaign: CampaignInfo
    card: Card
    previous: Card
    verdict: Verdict | None  # None for a single message and an A/B test without sends in the period


@dataclass(frozen=True)
class Portfolio:
    period: Period
    previous_period: Period
    days: tuple[date, ...]  # the local days of the period, for the sparklines
    rows: tuple[Row, ...]  # campaigns with sends in the period, in start order
    idle: tuple[Row, ...]  # campaigns without sends in the period (listed apart)

    @property
    def total(self) -> Card:
        """The period's figures that add up across campaigns, added up (rates from the sums)."""
        return add_up([r.card for r in self.rows + self.idle], len(self.days))

    @property
    def previous_total(self) -> Card:
        """The same over the previous period."""
        return add_up([r.previous for r in self.rows + self.idle], 0)


ADDED = (
    "sent",
    "sent_users",
    "impressions",
    "impressed_users",
    "clicks",
    "clicked_users",
    "errors",
    "uninstalls",
    "conversions",
    "converted_users",
)


def add_up(cards: Sequence[Card], days: int) -> Card:
    """The cards' counts added up: users are counted once per campaign (a user of two campaigns counts twice)."""
    return Card(
        **{name: sum(getattr(c, name) for c in cards) for name in ADDED},
        revenue=money(sum(c.revenue for c in cards)),
        daily_sends=tuple(sum(c.daily_sends[k] for c in cards if len(c.daily_sends) == days) for k in range(days)),
    )


def local_days(period: Period) -> tuple[date, ...]:
    """Every local day that overlaps the period."""
    tz = zone(period.timezone)
    first = period.start.astimezone(tz).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(tz).date()
    return tuple(first + timedelta(days=k) for k in range((last - first).days + 1))


def previous_of(period: Period) -> Period:
    """The period of the same length just before: the same local days when the period is whole days."""
    tz = zone(period.timezone)
    start, end = period.start.astimezone(tz), period.end.astimezone(tz)
    if start == local_midnight(start.date(), tz) and end == local_midnight(end.date(), tz):
        days = (end.date() - start.date()).days
        return Period(local_midnight(start.date() - timedelta(days=days), tz), start, period.timezone)
    return Period((start - (end - start)).astimezone(tz), start, period.timezone)


def portfolio(
    engine: Engine,
    period: Period,
    campaign_ids: Sequence[str] | None = None,
    verdicts: bool = True,
) -> Portfolio:
    """The selected campaigns (every one when None) over `period`, with the previous period's figures.

    The period (with the verdicts) and the previous period are read side by side on two connections, each
    inside one read transaction (one state of the database for all of a period's figures).
    """
    previous = previous_of(period)
    with _reading(engine) as conn:
        campaigns = load_campaigns(conn, campaign_ids)
    tests = [c for c in campaigns if verdicts and c.info.type == "ab" and c.variants and overlaps(c, period)]
    # Three readers: the database works for two while Python builds the verdicts' statements for the third.
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="portfolio") as pool:
        earlier = pool.submit(_read, engine, lambda conn: cards(conn, campaigns, previous))
        tested = pool.submit(_read, engine, lambda conn: _verdicts(conn, tests, period))
        now = _read(engine, lambda conn: cards(conn, campaigns, period))
        before, decided = earlier.result(), tested.result()
    rows: list[Row] = []
    idle: list[Row] = []
    for c in campaigns:
        row = Row(c.info, now[c.pk], before[c.pk], decided.get(c.pk) if now[c.pk].sent else None)
        (rows if row.card.sent else idle).append(row)
    return Portfolio(period, previous, local_days(period), tuple(rows), tuple(idle))


T = TypeVar("T")


def _read(engine: Engine, work: Callable[[Connection], T]) -> T:
    with _reading(engine) as conn:
        return work(conn)


@contextmanager
def _reading(engine: Engine) -> Iterator[Connection]:
    """A connection whose statements all read one state of the database (a read transaction)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            yield conn
        elif engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")  # pysqlite begins no transaction for reads on its own
            try:
                yield conn
            finally:
                conn.exec_driver_sql("COMMIT")
        else:
            yield conn


def _verdicts(conn: Connection, tests: Sequence[StoredCampaign], period: Period) -> dict[int, Verdict]:
    """The verdict of each A/B test, from the queries a verdict reads (a third of a report's)."""
    decided = {}
    for c in tests:
        work = plan_work(c, period)
        decision = assemble_verdict(c, work, {name: query(conn, scope) for name, query, scope in verdict_jobs(work)})
        decided[c.pk] = Verdict(decision.verdict, decision.winner, decision.verdict in READY)
    return decided


def cards(conn: Connection, campaigns: Sequence[StoredCampaign], period: Period) -> dict[int, Card]:
    """Every campaign's Card over the period, by campaign key."""
    if not campaigns:
        return {}
    pks = [c.pk for c in campaigns]
    start_us, end_us = to_us(period.start), to_us(period.end)
    days = local_days(period)
    first_day = (days[0] - EPOCH_DATE).days
    scope = queries.Scope(0, start_us, end_us, 0, (), (), offset_segments(zone(period.timezone), start_us, end_us))
    windows = _windows(campaigns)
    figures: dict[int, dict[str, Any]] = {pk: defaultdict(int) for pk in pks}
    sends: dict[int, list[int]] = {pk: [0] * len(days) for pk in pks}

    e = EVENTS.alias("e")
    in_period = [e.c.campaign_pk.in_(pks), e.c.ts >= start_us, e.c.ts < end_us]
    day = scope.bucket_of(e.c.ts)
    counted = select(e.c.campaign_pk, e.c.event, day, func.count()).where(
        *in_period, e.c.event.in_([SENT, IMPRESSION, CLICK, ERROR])
    )
    names = {SENT: "sent", IMPRESSION: "impressions", CLICK: "clicks", ERROR: "errors"}
    for pk, event, key, n in conn.execute(counted.group_by(e.c.campaign_pk, e.c.event, day)):
        figures[pk][names[event]] += n
        if event == SENT:
            sends[pk][int(key) - first_day] += n

    kinds = {SENT: "sent_users", IMPRESSION: "impressed_users", CLICK: "clicked_users"}
    users = select(e.c.campaign_pk, e.c.event, func.count(distinct(e.c.user_id))).where(
        *in_period, e.c.event.in_(list(kinds))
    )
    for pk, event, n in conn.execute(users.group_by(e.c.campaign_pk, e.c.event)):
        figures[pk][kinds[event]] = n
    uninstalled = select(e.c.campaign_pk, func.count(distinct(e.c.user_id))).where(
        *in_period, e.c.event == ERROR, e.c.error_code.in_(UNINSTALL_CODES)
    )
    for pk, n in conn.execute(uninstalled.group_by(e.c.campaign_pk)):
        figures[pk]["uninstalls"] = n

    for pk, n, users_, revenue in conn.execute(_attributed(pks, start_us, end_us, windows)):
        figures[pk].update(conversions=n, converted_users=users_, revenue=float(revenue))

    sizes: dict[int, dict[int, tuple[int, int]]] = defaultdict(dict)
    for pk, tag, n, later in conn.execute(_groups(pks, start_us, end_us)):
        sizes[pk][tag] = (int(n or 0), int(later or 0))
    converted: dict[int, dict[str, tuple[int, float]]] = defaultdict(dict)
    for pk, grp, n, revenue in conn.execute(_converters(pks, start_us, end_us, windows)):
        converted[pk][grp] = (int(n), float(revenue))
    out = {}
    for pk in pks:
        f = figures[pk]
        (controls, control_treated), (error_only, _) = (sizes[pk].get(tag, (0, 0)) for tag in (0, 1))
        ctl, treated = (converted[pk].get(grp, (0, 0.0)) for grp in ("control", "treatment"))
        treatment = f["sent_users"] + error_only - control_treated
        out[pk] = Card(
            **{k: int(v) for k, v in f.items() if k != "revenue"},
            revenue=money(f.get("revenue", 0.0)),
            control=control_group(controls, treatment, ctl[0], treated[0], ctl[1], treated[1]),
            daily_sends=tuple(sends[pk]),
        )
    return out


def _windows(campaigns: Sequence[StoredCampaign]) -> Any:
    """(pk, window_us) of every campaign: its conversion window in microseconds."""
    rows = [(c.pk, round(c.info.conversion_window_hours * 3600 * 1_000_000)) for c in campaigns]
    return queries._literal_table("windows", {"pk": Integer(), "window_us": BigInteger()}, rows)


def _attributed(pks: list[int], start_us: int, end_us: int, windows: Any) -> Any:
    """(campaign, conversions, converted users, revenue) of the conversions attributed to a send of the campaign."""
    c, s = EVENTS.alias("c"), EVENTS.alias("s")
    sent_before = exists().where(
        s.c.campaign_pk == c.c.campaign_pk,
        s.c.event == SENT,
        s.c.user_id == c.c.user_id,
        s.c.ts <= c.c.ts,
        s.c.ts >= c.c.ts - windows.c.window_us,
    )
    return (
        select(
            c.c.campaign_pk, func.count(), func.count(distinct(c.c.user_id)), func.coalesce(func.sum(c.c.revenue), 0)
        )
        .select_from(c.join(windows, windows.c.pk == c.c.campaign_pk))
        .where(
            c.c.campaign_pk.in_(pks),
            c.c.event == CONVERSION,
            c.c.ts >= start_us,
            c.c.ts < end_us,
            sent_before,
        )
        .group_by(c.c.campaign_pk)
    )


def _first(pk: Any, user: Any, kinds: Sequence[int], start_us: int, end_us: int, name: str) -> Any:
    """The time of the user's first event of `kinds` of the campaign in the period (NULL if none): an index probe."""
    t = EVENTS.alias(name)
    return (
        select(func.min(t.c.ts))
        .where(
            t.c.campaign_pk == pk, t.c.event.in_(list(kinds)), t.c.user_id == user, t.c.ts >= start_us, t.c.ts < end_us
        )
        .scalar_subquery()
    )


def _groups(pks: list[int], start_us: int, end_us: int) -> Any:
    """(campaign, control users, control users treated later, users with an error and no send) by intent to treat.

    The treatment group is then: users sent to + error-only users - control users treated later.
    """
    ctl = EVENTS.alias("ctl")
    control = (
        select(ctl.c.campaign_pk.label("pk"), ctl.c.user_id, func.min(ctl.c.ts).label("at"))
        .where(ctl.c.campaign_pk.in_(pks), ctl.c.event == CONTROL, ctl.c.ts >= start_us, ctl.c.ts < end_us)
        .group_by(ctl.c.campaign_pk, ctl.c.user_id)
        .subquery("control")
    )
    treated_at = _first(control.c.pk, control.c.user_id, (SENT, ERROR), start_us, end_us, "treated")
    firsts = select(control.c.pk, control.c.at, treated_at.label("treated_at")).subquery("control_firsts")
    first = or_(firsts.c.treated_at.is_(None), firsts.c.at < firsts.c.treated_at)
    controls = select(
        firsts.c.pk,
        literal(0),
        func.sum(case((first, 1), else_=0)),
        func.sum(case((and_(first, firsts.c.treated_at.is_not(None)), 1), else_=0)),
    ).group_by(firsts.c.pk)
    err, sent = EVENTS.alias("err"), EVENTS.alias("sent")
    never_sent = ~exists().where(
        sent.c.campaign_pk == err.c.campaign_pk,
        sent.c.event == SENT,
        sent.c.user_id == err.c.user_id,
        sent.c.ts >= start_us,
        sent.c.ts < end_us,
    )
    error_only = (
        select(err.c.campaign_pk, literal(1), func.count(distinct(err.c.user_id)), literal(0))
        .where(err.c.campaign_pk.in_(pks), err.c.event == ERROR, err.c.ts >= start_us, err.c.ts < end_us, never_sent)
        .group_by(err.c.campaign_pk)
    )
    return union_all(controls, error_only)


def _converters(pks: list[int], start_us: int, end_us: int, windows: Any) -> Any:
    """(campaign, group, converted users, revenue) of the control and treatment groups.

    A user's group is that of their earliest control, send or error event in
    the period (a tie goes to the treatment group); their conversions from
    then to one window later count for it, also past the period's end. Each
    conversion probes the index for the two first events.
    """
    c = EVENTS.alias("c")
    conv = (
        select(
            c.c.campaign_pk.label("pk"),
            c.c.user_id,
            c.c.ts,
            c.c.revenue,
            windows.c.window_us,
            _first(c.c.campaign_pk, c.c.user_id, (CONTROL,), start_us, end_us, "first_control").label("control_at"),
            _first(c.c.campaign_pk, c.c.user_id, (SENT, ERROR), start_us, end_us, "first_treated").label("treated_at"),
        )
        .select_from(c.join(windows, windows.c.pk == c.c.campaign_pk))
        .where(
            c.c.campaign_pk.in_(pks),
            c.c.event == CONVERSION,
            c.c.ts >= start_us,
            c.c.ts < end_us + windows.c.window_us,
        )
        .subquery("conv")
    )
    is_control = and_(
        conv.c.control_at.is_not(None), or_(conv.c.treated_at.is_(None), conv.c.control_at < conv.c.treated_at)
    )
    assigned = select(
        conv.c.pk,
        conv.c.user_id,
        conv.c.ts,
        conv.c.revenue,
        conv.c.window_us,
        case((is_control, literal("control")), else_=literal("treatment")).label("grp"),
        case((is_control, conv.c.control_at), else_=conv.c.treated_at).label("at"),
    ).subquery("assigned")
    return (
        select(
            assigned.c.pk,
            assigned.c.grp,
            func.count(distinct(assigned.c.user_id)),
            func.coalesce(func.sum(assigned.c.revenue), 0),
        )
        .where(assigned.c.ts >= assigned.c.at, assigned.c.ts <= assigned.c.at + assigned.c.window_us)
        .group_by(assigned.c.pk, assigned.c.grp)
    )
