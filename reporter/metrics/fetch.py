"""Reading one report from the database: the campaign, then the aggregate queries of its plan.

compute_stats runs them on one connection, compute_stats_concurrently spreads
them over a thread pool whose connections all read the same state of the
database; assemble.py makes the figures of their results.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from reporter.db import copy_path, sqlite_in_memory
from reporter.errors import UnknownCampaignError
from reporter.metrics import queries
from reporter.metrics.assemble import assemble
from reporter.metrics.model import CampaignInfo, CampaignStats, Period
from reporter.metrics.plan import Job, StoredCampaign, plan_work, report_period
from reporter.models import Campaign, Variant

SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")


def _load_campaign(conn: Connection, campaign_id: str) -> StoredCampaign:
    campaigns = Campaign.__table__
    row = conn.execute(select(campaigns).where(campaigns.c.campaign_id == campaign_id)).one_or_none()
    if row is None:
        raise UnknownCampaignError(campaign_id)
    variants_table = Variant.__table__
    variants = tuple(
        conn.execute(
            select(variants_table).where(variants_table.c.campaign_pk == row.id).order_by(variants_table.c.position)
        )
    )
    return _stored(row, variants)


def load_campaigns(conn: Connection, campaign_ids: Sequence[str] | None = None) -> list[StoredCampaign]:
    """The campaigns of those ids (every campaign when None) in start order, in two statements.

    An unknown id is an UnknownCampaignError naming the first one missing.
    """
    campaigns, variants_table = Campaign.__table__, Variant.__table__
    query = select(campaigns).order_by(campaigns.c.start_at, campaigns.c.campaign_id)
    if campaign_ids is not None:
        query = query.where(campaigns.c.campaign_id.in_(list(campaign_ids)))
    rows = conn.execute(query).all()
    if campaign_ids is not None:
        found = {row.campaign_id for row in rows}
        missing = next((cid for cid in campaign_ids if cid not in found), None)
        if missing is not None:
            raise UnknownCampaignError(missing)
    by_campaign: dict[int, list[Any]] = {row.id: [] for row in rows}
    if rows:
        variant_rows = conn.execute(
            select(variants_table)
            .where(variants_table.c.campaign_pk.in_(list(by_campaign)))
            .order_by(variants_table.c.campaign_pk, variants_table.c.position)
        )
        for v in variant_rows:
            by_campaign[v.campaign_pk].append(v)
    return [_stored(row, tuple(by_campaign[row.id])) for row in rows]


def _stored(row: Any, variants: tuple[Any, ...]) -> StoredCampaign:
    message = variants[0] if row.type == "single" and variants else None
    info = CampaignInfo(
        id=row.campaign_id,
        name=row.name,
        type=row.type,
        conversion_event=row.conversion_event,
        conversion_window_hours=row.conversion_window_hours,
        currency=row.currency,
        control_group_pct=row.control_group_pct,
        planned_users=row.planned_users,
        message_title=message.title if message else None,
        message_body=message.body if message else None,
    )
    return StoredCampaign(
        row.id,
        info,
        row.start_at,
        row.end_at,
        variants,  # UtcDateTime: aware UTC on every database
        row.first_event_us,
        row.last_event_us,
    )


def resolve_period(
    conn: Connection,
    campaign_id: str,
    start: datetime | None,
    end: datetime | None,
    tz_name: str,
    now: datetime | None = None,
) -> Period:
    """The report period: given bounds, or the campaign's default period (see `default_period`)."""
    return report_period(_load_campaign(conn, campaign_id), start, end, tz_name, now)


def compute_stats(
    conn: Connection,
    campaign_id: str,
    start: datetime | None = None,
    end: datetime | None = None,
    tz: str = "UTC",
    now: datetime | None = None,
    card: bool = False,
) -> CampaignStats:
    """Every figure of the metric definitions for one campaign over [start, end) in timezone `tz`.

    `now` (default: the clock) only decides whether a campaign's end_at has
    passed when the default period is used. With `card`, the headline card
    only (totals and control group, see plan.CARD_QUERIES).
    """
    campaign = _load_campaign(conn, campaign_id)
    period = report_period(campaign, start, end, tz, now)
    work = plan_work(campaign, period, card)
    return assemble(campaign, period, work, {name: query(conn, scope) for name, query, scope in work.jobs})


def compute_stats_concurrently(
    engine: Engine,
    campaign_id: str,
    start: datetime | None = None,
    end: datetime | None = None,
    tz: str = "UTC",
    workers: int = 2,
    now: datetime | None = None,
    card: bool = False,
) -> CampaignStats:
    """compute_stats with the independent queries spread over `workers` connections.

    The figures are those of one state of the database. On PostgreSQL every
    connection imports the snapshot of the first. SQLite has no shared
    snapshots, but it counts commits: each query is one statement (one
    consistent read), and when no other connection committed while they ran
    (`PRAGMA data_version` unchanged) they all read the same state; otherwise
    they run again. Other databases, and in-memory SQLite, use one connection.
    An engine with a columnar copy (`db.with_copy`) computes there (metrics/columnar.py).
    """
    copy = copy_path(engine)
    if copy is not None:
        from reporter.metrics import columnar

        return columnar.compute_stats(engine, copy, campaign_id, start, end, tz, now, card)
    dialect = engine.dialect.name
    on_file = dialect == "sqlite" and not sqlite_in_memory(engine)
    if workers < 2 or not (dialect == "postgresql" or on_file):
        with engine.connect() as conn:
            return compute_stats(conn, campaign_id, start, end, tz, now, card)
    with engine.connect() as main:
        if dialect == "postgresql":
            main = main.execution_options(isolation_level="REPEATABLE READ")
            snapshot = main.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            if not SNAPSHOT_ID.fullmatch(snapshot):
                raise RuntimeError(f"unexpected snapshot id {snapshot!r}")
        campaign = _load_campaign(main, campaign_id)
        period = report_period(campaign, start, end, tz, now)
        work = plan_work(campaign, period, card)
        if dialect == "postgresql":

            def join(conn: Connection) -> Connection:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
                conn.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
                return conn

            return assemble(campaign, period, work, _spread(engine, work.jobs, workers, join))
        for _ in range(3):
            version = main.exec_driver_sql("PRAGMA data_version").scalar_one()
            results = _spread(engine, work.jobs, workers, lambda conn: conn)
            if main.exec_driver_sql("PRAGMA data_version").scalar_one() == version:
                return assemble(campaign, period, work, results)
        # Written to all along: read on one connection inside one transaction (pysqlite
        # begins none for reads on its own, so each statement would see its own state).
        main.commit()  # closes SQLAlchemy's implicit transaction of the reads above
        main.exec_driver_sql("BEGIN")
        results = {name: query(main, scope) for name, query, scope in work.jobs}
        main.commit()
        return assemble(campaign, period, work, results)


def _spread(
    engine: Engine, jobs: Sequence[Job], workers: int, prepare: Callable[[Connection], Connection]
) -> dict[str, Any]:
    """Run the queries on `workers` threads, each on its own connection set up by `prepare`."""
    local = threading.local()
    helpers: list[Connection] = []
    lock = threading.Lock()

    def run(query: Callable[[Connection, queries.Scope], Any], scope: queries.Scope) -> Any:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = engine.connect()
            with lock:
                helpers.append(conn)
            conn = local.conn = prepare(conn)
        return query(conn, scope)

    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stats") as pool:
            futures = {name: pool.submit(run, query, scope) for name, query, scope in jobs}
            return {name: future.result() for name, future in futures.items()}
    finally:
        for conn in helpers:
            conn.close()
