"""A columnar copy of the events (DuckDB) for the figures of big campaigns: `database.columnar_copy`.

The database stays the only truth. The copy holds the events of the campaigns
reported on, is brought up to date before each computation and can be deleted
at any time (it is rebuilt). Whether a campaign's copy is current costs no scan:
the loader gives the campaign a new `events_token` with every batch it stores.
When the token moved, the events stored since the copy's newest are appended
and the counts compared; when they differ (a late commit on PostgreSQL) the
campaign is copied again whole. The token's first half names the campaign row
(set when the row is made): a campaign deleted and loaded again, on SQLite with
the same ids, is copied again whole too. The main
database is read in one transaction, so the campaign's row and its events are
one state of it.

Users are numbers in the copy: each campaign's user ids are numbered in the
`users` table as their first events are copied, and the events carry the
number. The figures only compare users (distinct counts, joins on the same
user), which DuckDB does about twice as fast on numbers as on text, in less
memory.

The copy is one DuckDB file, which one process at a time may open for writing:
a lock file next to it serialises the computations of every process on the
machine (each is short: DuckDB runs a query on every core). Workers on other
machines keep copies of their own.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from reporter.db import require_duckdb, stored_url
from reporter.errors import DatabaseError
from reporter.models import Campaign, Event

if TYPE_CHECKING:
    from reporter.metrics.model import CampaignStats

log = logging.getLogger(__name__)

# The events' columns the metrics read, and the id the copy keeps up to date by.
COLUMNS = ("id", "event", "ts", "user_id", "variant", "channel", "platform", "device_type", "error_code", "revenue")
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (campaign_pk INTEGER, id BIGINT, event SMALLINT, ts BIGINT, user_id BIGINT,"
    " variant VARCHAR, channel VARCHAR, platform VARCHAR, device_type VARCHAR, error_code VARCHAR, revenue DOUBLE)",
    "CREATE TABLE IF NOT EXISTS users (campaign_pk INTEGER, user_id VARCHAR, n BIGINT)",
    "CREATE TABLE IF NOT EXISTS copied (campaign_pk INTEGER PRIMARY KEY, token VARCHAR, events BIGINT, max_id BIGINT)",
    "CREATE TABLE IF NOT EXISTS source (url VARCHAR)",
)
TABLES = ("events", "users", "copied", "source")
BATCH = 50_000
# The queries whose working memory grows with the period's users (hash tables of every user: 30-75 MB a
# query for a million users), and the same over the time since an A/B test started ("since_conv"...). The
# others need less: a variant's first sends a hash table of its users (a third of them in the benchmark's
# campaign, 30 MB), the rest a few megabytes (the distinct users' bitstrings 125 kB a million).
BY_EVERY_USER = frozenset({"conv", "assigned", "sends:*"})
# The batch's users not numbered yet get the next numbers of their campaign.
NEW_USERS = """
INSERT INTO users
SELECT ?, user_id, (SELECT coalesce(max(n), 0) FROM users WHERE campaign_pk = ?) + row_number() OVER ()
FROM (SELECT DISTINCT user_id FROM batch) b
WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.campaign_pk = ? AND u.user_id = b.user_id)
"""


def compute_stats(
    engine: Engine,
    path: Path,
    campaign_id: str,
    start: datetime | None,
    end: datetime | None,
    tz: str,
    now: datetime | None,
    card: bool,
    lock_timeout_s: float = 120.0,
) -> CampaignStats:
    """fetch.compute_stats over the copy at `path`, brought up to date with `engine`'s database first."""
    return compute_stats_and_previous(engine, path, campaign_id, start, end, tz, lock_timeout_s, now, card, False)[0]


def compute_stats_and_previous(
    engine: Engine,
    path: Path,
    campaign_id: str,
    start: datetime | None,
    end: datetime | None,
    tz: str,
    lock_timeout_s: float = 120.0,
    now: datetime | None = None,
    card: bool = False,
    previous: bool = True,
    lighter_queries_next: Callable[[], None] = lambda: None,
) -> tuple[CampaignStats, CampaignStats | None]:
    """A report's figures and the headline card of the period of equal length just before (what its changes
    compare with), both over the copy on one connection: a second connection would start DuckDB's database
    again (0.1-0.2 s and 30 MB more for a card of a week). No card (None) when the campaign has no stored
    event in that period (nothing to compare with), or without `previous`.

    The queries over every user (BY_EVERY_USER) run first; `lighter_queries_next` is called when they are
    done, before the others and the card's, which need a few megabytes each.
    """
    from reporter.metrics.assemble import assemble
    from reporter.metrics.fetch import _load_campaign
    from reporter.metrics.plan import overlaps, plan_work, report_period

    with _locked(path, lock_timeout_s), _read_transaction(engine) as main:
        campaign = _load_campaign(main, campaign_id)
        token = main.execute(select(Campaign.events_token).where(Campaign.id == campaign.pk)).scalar()
        period = report_period(campaign, start, end, tz, now)
        works = [plan_work(campaign, period, card)]
        before = report_period(campaign, period.start - (period.end - period.start), period.start, tz, None)
        # A period before the first stored event (the card of a report of a campaign's whole life) has no
        # figures: the report says so without a card (the same page), and without its six queries (0.08 s).
        if previous and overlaps(campaign, before):
            works.append(plan_work(campaign, before, True))
        jobs = [(i, *job) for i, work in enumerate(works) for job in work.jobs]
        with _connect(path) as conn:
            refresh(main, conn, campaign.pk, token, stored_url(str(engine.url)))
            results: list[dict[str, Any]] = [{} for _ in works]
            for i, name, query, scope in jobs:
                if name.removeprefix("since_") in BY_EVERY_USER:
                    results[i][name] = query(conn, scope)
            lighter_queries_next()
            for i, name, query, scope in jobs:
                if name not in results[i]:
                    results[i][name] = query(conn, scope)
    stats = assemble(campaign, period, works[0], results[0])
    return stats, assemble(campaign, before, works[1], results[1]) if len(works) > 1 else None


def refresh(main: Connection, conn: Connection, pk: int, token: str | None, source: str) -> None:
    """Bring the copy of campaign `pk` up to date with `main` (whose events carry `token`)."""
    user_ids = conn.exec_driver_sql(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'events' AND column_name = 'user_id'"
    ).scalar()
    if user_ids not in (None, "BIGINT"):
        log.info("the columnar copy is of an earlier version (user ids as text): starting it again")
        for table in TABLES:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    for statement in SCHEMA:
        conn.exec_driver_sql(statement)
    known = conn.exec_driver_sql("SELECT url FROM source").scalar()
    if known != source:
        if known is not None:
            log.info("the columnar copy was made from another database: starting it again")
        for table in TABLES:
            conn.exec_driver_sql(f"DELETE FROM {table}")
        conn.exec_driver_sql("INSERT INTO source VALUES (?)", (source,))
    row = conn.exec_driver_sql("SELECT token, events, max_id FROM copied WHERE campaign_pk = ?", (pk,)).one_or_none()
    if row is not None and token is not None and row.token == token:
        conn.commit()
        return
    if row is not None and (token is None or row.token is None or row.token[:16] != token[:16]):
        row = None  # another campaign row under this id (deleted and loaded again): copied whole
    started = time.perf_counter()
    # Copied in batches of their own transaction (one transaction held all its rows in memory: 1.1 GB for 2.4
    # million events, 0.2 GB in batches), the campaign unknown to the copy until the last: a copy cut short
    # is started again.
    conn.exec_driver_sql("DELETE FROM copied WHERE campaign_pk = ?", (pk,))
    if row is None:
        _forget(conn, f"= {int(pk)}")  # what a copy cut short left
    conn.commit()
    if row is None:
        _copy(main, conn, pk, None)
    else:
        _copy(main, conn, pk, row.max_id)
        if _count(conn, pk) != _count(main, pk):  # deleted and stored again, or committed late: all again
            log.info("the columnar copy of campaign %s lost track: copying it again", pk)
            _forget(conn, f"= {int(pk)}")
            conn.commit()
            _copy(main, conn, pk, None)
    events, max_id = conn.exec_driver_sql("SELECT count(*), max(id) FROM events WHERE campaign_pk = ?", (pk,)).one()
    conn.exec_driver_sql("DELETE FROM copied WHERE campaign_pk = ?", (pk,))
    conn.exec_driver_sql("INSERT INTO copied VALUES (?, ?, ?, ?)", (pk, token, events, max_id))
    # Campaigns deleted from the database leave the copy too.
    kept = [int(k) for k in main.execute(select(Campaign.id)).scalars()]
    _forget(conn, f"NOT IN ({', '.join(map(str, kept))})")
    conn.exec_driver_sql(f"DELETE FROM copied WHERE campaign_pk NOT IN ({', '.join(map(str, kept))})")
    conn.commit()
    log.info(
        "columnar copy of campaign %s: %s events, brought up to date in %.2f s",
        pk,
        events,
        time.perf_counter() - started,
    )


def _forget(conn: Connection, campaigns: str) -> None:
    """Delete the events and the users' numbers of the campaigns whose pk is `campaigns` ("= 3", "NOT IN (...)")."""
    for table in ("events", "users"):
        conn.exec_driver_sql(f"DELETE FROM {table} WHERE campaign_pk {campaigns}")


def _count(conn: Connection, pk: int) -> tuple[int, int]:
    """The campaign's events and a checksum of their times (the sum of ts modulo a prime: no overflow, any order)."""
    events = Event.__table__
    n, fraction = conn.execute(
        select(func.count(), func.coalesce(func.sum(events.c.ts % 1_000_003), 0)).where(events.c.campaign_pk == pk)
    ).one()
    return int(n), int(fraction)


def _copy(main: Connection, conn: Connection, pk: int, after: int | None) -> None:
    """Append the campaign's events with an id above `after` (all when None) in batches of BATCH rows."""
    raw: Any = conn.connection.driver_connection
    pk, low = int(pk), None if after is None else int(after)
    where = f"campaign_pk = {pk}"
    if main.dialect.name == "sqlite":
        # The table in id order, not the campaign's index: one pass over the pages instead of a jump per event
        # (2.4 million events: 8 s against 25 s). A campaign loaded at once is one range of ids.
        if low is None:
            low = main.exec_driver_sql(f"SELECT min(id) - 1 FROM events WHERE {where}").scalar()
            if low is None:
                return  # no events
        where = f"+campaign_pk = {pk}"
    if low is not None:
        where += f" AND id > {low}"
    # The driver's cursor: plain tuples (SQLAlchemy's rows cost a quarter of the copy's time), and no cyclic
    # garbage collection while millions of them come and go (it scanned them all, over and over: half the time).
    cursor = main.exec_driver_sql(f"SELECT {', '.join(COLUMNS)} FROM events WHERE {where}").cursor
    collecting = gc.isenabled()
    gc.disable()
    try:
        _append(raw, pk, cursor)
    finally:
        if collecting:
            gc.enable()


def _append(raw: Any, pk: int, cursor: Any) -> None:
    import numpy as np

    names = ", ".join(COLUMNS)
    numbered = ", ".join("u.n" if name == "user_id" else f"b.{name}" for name in COLUMNS)
    while rows := cursor.fetchmany(BATCH):
        columns = list(zip(*rows, strict=True))
        batch = {"campaign_pk": np.full(len(rows), pk, dtype=np.int32)}
        for name, values in zip(COLUMNS, columns, strict=True):
            if name in ("id", "ts"):
                batch[name] = np.fromiter(values, dtype=np.int64, count=len(rows))
            elif name == "event":
                batch[name] = np.fromiter(values, dtype=np.int16, count=len(rows))
            else:
                batch[name] = np.array(values, dtype=object)
        raw.register("batch", batch)
        try:
            raw.execute("BEGIN")
            raw.execute(NEW_USERS, (pk, pk, pk))
            raw.execute(
                f"INSERT INTO events (campaign_pk, {names}) SELECT b.campaign_pk, {numbered}"
                " FROM batch b JOIN users u ON u.campaign_pk = ? AND u.user_id = b.user_id",
                (pk,),
            )
            raw.execute("COMMIT")
        except BaseException:
            # The batch's error is the one to tell: DuckDB refuses even the unregister in a transaction it aborted.
            with suppress(Exception):
                raw.execute("ROLLBACK")
            with suppress(Exception):
                raw.unregister("batch")
            raise
        raw.unregister("batch")


@contextmanager
def _read_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection reading one state of the database until it closes."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        elif engine.dialect.name == "sqlite":
            conn.exec_driver_sql("SELECT 1")  # SQLAlchemy's transaction (pysqlite begins none for reads)...
            conn.exec_driver_sql("BEGIN")  # ... and SQLite's own, so every read sees one state
        try:
            yield conn
        finally:
            conn.rollback()


@contextmanager
def _connect(path: Path) -> Iterator[Connection]:
    """A connection to the copy (no pool: the file is free again as soon as the computation ends).

    A file DuckDB cannot read (damaged, or written by another version of DuckDB) is deleted: it is a copy.
    A file another program holds open, or one this process may not write, is one clear error instead.
    """
    require_duckdb()
    import duckdb

    for attempt in (1, 2):
        copy = create_engine(f"duckdb:///{path}", poolclass=NullPool)
        try:
            conn = copy.connect()
        except DBAPIError as exc:
            copy.dispose()
            if attempt == 2 or not isinstance(exc.orig, duckdb.Error):
                raise
            reason = str(exc.orig).splitlines()[0]
            if isinstance(exc.orig, duckdb.IOException) and _held_or_forbidden(reason):
                # Another program holds the file (the DuckDB shell, say) or it cannot be written here:
                # the copy is fine, and deleting it would pull it from under its holder.
                raise DatabaseError(f"the columnar copy {str(path)!r} cannot be opened: {reason}") from None
            log.warning("the columnar copy %s cannot be opened (%s): making it again", path, reason)
            for stale in (path, path.with_name(path.name + ".wal")):
                stale.unlink(missing_ok=True)
            continue
        try:
            with conn:
                yield conn
        finally:
            copy.dispose()
        return


def _held_or_forbidden(reason: str) -> bool:
    """Whether DuckDB's input/output error is about a lock or a permission, not about the file's content."""
    return any(sign in reason for sign in ("Could not set lock", "Permission denied", "Read-only file system"))


@contextmanager
def _locked(path: Path, timeout_s: float) -> Iterator[None]:
    """The copy to this computation alone (every process and thread on the machine), waiting up to `timeout_s`."""
    if not path.parent.is_dir():
        raise DatabaseError(f"database.columnar_copy: folder {str(path.parent)!r} does not exist")
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DatabaseError(f"the columnar copy {str(path)!r} stayed busy for {timeout_s:g} s") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock
