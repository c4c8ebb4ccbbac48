"""Storing validated records: campaigns in one transaction, events in batches of one transaction each.

Event ids already stored, or seen earlier in the batch, are duplicates; a batch
the database refuses is halved until the refused rows are found; every batch
widens its campaigns' stored first and last event times.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import shutil
import tempfile
import threading
import uuid
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from operator import itemgetter
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no marker, a build is never left to another load
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import Connection, Engine, Index, case, delete, func, insert, inspect, or_, select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InternalError, OperationalError, ProgrammingError
from sqlalchemy.schema import CreateIndex

from reporter.db import analyze_events
from reporter.ingest.blocks import ROW_COLUMNS, STAGE_COLUMNS, Combinations
from reporter.ingest.parse import COMBINATION_COLUMNS, EVENT_FIELDS, CampaignRef, Reject
from reporter.models import Campaign, Event, Variant

# Larger batches rewrite each index page fewer times: 950,382 events stored into SQLite in 21 s by batches
# of 10,000, 12 s by 25,000 or 50,000 (docs/performance.md); three are in memory at once (read, staged, merged).
BATCH_SIZE = 25_000
log = logging.getLogger(__name__)
# What a database raises for a row it will not store (a constraint, a bad value, a trigger).
REFUSALS = (DataError, IntegrityError, InternalError, ProgrammingError)


def check_kept_variants(
    engine: Engine, ref: CampaignRef | None, row: dict[str, Any], variants: list[dict[str, Any]]
) -> None:
    """A reload may not drop a variant (or change the type) of a campaign whose events use it."""
    if ref is None:
        return
    kept = {v["variant"] for v in variants} if row["type"] == "ab" else set()
    dropped = sorted(ref.variants - kept) if ref.type == "ab" else []
    with engine.connect() as conn:
        has_events = conn.execute(select(Event.id).where(Event.campaign_pk == ref.pk).limit(1)).first() is not None
        if has_events and ref.type != row["type"]:
            raise Reject(f"type cannot change from {ref.type} to {row['type']}: the campaign has events")
        for variant in dropped:
            used = conn.execute(
                select(Event.id).where(Event.campaign_pk == ref.pk, Event.variant == variant).limit(1)
            ).first()
            if used is not None:
                raise Reject(f"variant {variant!r} has events and cannot be removed")


def store_campaigns(engine: Engine, campaigns: Iterable[tuple[dict[str, Any], list[dict[str, Any]]]]) -> int:
    """Insert or update validated campaigns and their variants in one transaction."""
    count = 0
    with engine.begin() as conn:
        existing = dict(conn.execute(select(Campaign.campaign_id, Campaign.id)).tuples().all())
        for row, variants in campaigns:
            pk = existing.get(row["campaign_id"])
            if pk is None:
                # The events token's first half names this campaign row for good: a campaign deleted and
                # loaded again (on SQLite with the same ids) is another campaign to the columnar copy.
                token = uuid.uuid4().hex[:16] + "0" * 16
                pk = conn.execute(
                    insert(Campaign).values(**row, events_token=token).returning(Campaign.id)
                ).scalar_one()
            else:
                conn.execute(update(Campaign).where(Campaign.id == pk).values(**row))
                conn.execute(delete(Variant).where(Variant.campaign_pk == pk))
            if variants:
                conn.execute(insert(Variant), [{**v, "campaign_pk": pk} for v in variants])
            count += 1
    return count


def campaign_refs(engine: Engine) -> dict[str, CampaignRef]:
    """The loaded campaigns, as event validation needs them."""
    with engine.connect() as conn:
        rows = conn.execute(select(Campaign.campaign_id, Campaign.id, Campaign.type)).all()
        variants = conn.execute(select(Variant.campaign_pk, Variant.variant)).all()
    by_pk: dict[int, set[str]] = {}
    for pk, vid in variants:
        by_pk.setdefault(pk, set()).add(vid)
    return {cid: CampaignRef(pk, ctype, frozenset(by_pk.get(pk, ()))) for cid, pk, ctype in rows}


def _store_splitting(
    engine: Engine, rows: list[dict[str, Any]], refused: Callable[[dict[str, Any], str], None] | None
) -> tuple[int, int]:
    """_store_batch, halving a batch the database refuses until the refused rows are found.

    When every row of a batch of several is refused, the fault is not in the data: the error is raised.
    """
    try:
        return _store_batch(engine, rows)
    except REFUSALS:
        if refused is None:
            raise
        found: list[tuple[dict[str, Any], str]] = []
        loaded, duplicates = _bisect(engine, rows, found)
        if len(found) == len(rows) > 1:
            raise
        for row, reason in found:
            refused(row, reason)
        return loaded, duplicates


def _bisect(engine: Engine, rows: list[dict[str, Any]], found: list[tuple[dict[str, Any], str]]) -> tuple[int, int]:
    try:
        return _store_batch(engine, rows)
    except REFUSALS as exc:
        if len(rows) > 1:
            half = len(rows) // 2
            first, second = _bisect(engine, rows[:half], found), _bisect(engine, rows[half:], found)
            return first[0] + second[0], first[1] + second[1]
        row = rows[0]
        if row["event_id"] is not None and _event_id_stored(engine, row["event_id"]):
            return 0, 1  # another load stored it since this batch looked: a duplicate
        found.append((row, f"refused by the database: {_first_line(exc)}"))
        return 0, 0


def _event_id_stored(engine: Engine, event_id: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(Event.id).where(Event.event_id == event_id)).first() is not None


def _store_batch(engine: Engine, rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Insert one batch in one transaction, skipping stored event_ids; returns (loaded, duplicates)."""
    with engine.begin() as conn:
        ids = {r["event_id"] for r in rows if r["event_id"] is not None}
        stored: set[str | None] = set()
        id_list = list(ids)
        if conn.dialect.name == "postgresql":  # one array parameter: no statement of 10,000 placeholders to parse
            if id_list:
                query = "SELECT event_id FROM events WHERE event_id = ANY(%s)"
                stored.update(conn.exec_driver_sql(query, (id_list,)).scalars())
        else:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            for i in range(0, len(id_list), 500):
                chunk = id_list[i : i + 500]
                query = f"SELECT event_id FROM events WHERE event_id IN ({', '.join([mark] * len(chunk))})"
                stored.update(conn.exec_driver_sql(query, tuple(chunk)).scalars())
        fresh = []
        for row in rows:
            eid = row["event_id"]
            if eid is not None:
                if eid in stored:
                    continue
                stored.add(eid)  # a second copy later in the same batch is a duplicate too
            fresh.append(row)
        if fresh:
            _insert_events(conn, fresh)
            ranges: dict[int, tuple[int, int]] = {}
            for row in fresh:
                pk, ts = row["campaign_pk"], row["ts"]
                lo, hi = ranges.get(pk, (ts, ts))
                ranges[pk] = (min(lo, ts), max(hi, ts))
            for pk, (lo, hi) in sorted(ranges.items()):  # in key order, as the stage's merges: no deadlock
                widen_event_range(conn, pk, lo, hi)
    return len(fresh), len(rows) - len(fresh)


# The events table's columns the loader writes: the record's fields, the campaign by its key.
EVENT_COLUMNS = tuple("campaign_pk" if f == "campaign_id" else f for f in EVENT_FIELDS)


_EVENT_VALUES = itemgetter(*EVENT_COLUMNS)


def _insert_events(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """The rows into the events table by the driver's fastest path: COPY on PostgreSQL, one prepared
    executemany of tuples elsewhere (SQLAlchemy's per-row parameter processing cost as much as SQLite's insert).
    A refusal is raised as SQLAlchemy's error of its kind, for the batch to be halved."""
    tuples = list(map(_EVENT_VALUES, rows))
    if conn.dialect.name != "postgresql":
        placeholders = ", ".join("?" if conn.dialect.paramstyle == "qmark" else "%s" for _ in EVENT_COLUMNS)
        conn.exec_driver_sql(f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({placeholders})", tuples)
        return
    statement = f"COPY events ({', '.join(EVENT_COLUMNS)}) FROM STDIN"
    raw: Any = conn.connection.driver_connection
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in tuples:
                copy.write_row(row)
    except raw.Error as exc:
        raise DBAPIError.instance(statement, None, exc, raw.Error) from None


def widen_event_range(conn: Connection, campaign_pk: int, first_us: int, last_us: int) -> None:
    """Extend a campaign's stored first/last event time to cover [first_us, last_us], and mark its events changed
    (a new `events_token`)."""
    first, last = Campaign.first_event_us, Campaign.last_event_us
    conn.execute(
        update(Campaign)
        .where(Campaign.id == campaign_pk)
        .values(
            first_event_us=case((or_(first.is_(None), first > first_us), first_us), else_=first),
            last_event_us=case((or_(last.is_(None), last < last_us), last_us), else_=last),
            # The row's half kept (a new one for a row that had none), the batch's half new.
            events_token=func.coalesce(func.substr(Campaign.events_token, 1, 16), uuid.uuid4().hex[:16])
            + uuid.uuid4().hex[16:],
        )
    )


class Batch:
    """Rows to store in one transaction (ROW_COLUMNS' values and their combination's number in `known`),
    with where each came from: the loader's lines or records, for the rejects file of a row the database
    refuses."""

    __slots__ = ("_origins", "known", "rows")

    def __init__(self, known: Combinations) -> None:
        self.known = known
        self.rows: list[tuple[Any, ...]] = []
        self._origins: list[tuple[int, Any]] = []  # (index of the first row it gave, origin)

    def add(self, rows: list[tuple[Any, ...]], origin: Any) -> None:
        self._origins.append((len(self.rows), origin))
        self.rows.extend(rows)

    def add_row(self, row: dict[str, Any], origin: Any) -> None:
        """One row as parse_event returns it."""
        self.add([(*_ROW_VALUES(row), self.known.id_of(_COMBINATION_VALUES(row)))], origin)

    def origin(self, index: int) -> tuple[Any, int]:
        """The origin of row `index` and the row's place in it."""
        at = bisect_right(self._origins, index, key=itemgetter(0)) - 1
        first, origin = self._origins[at]
        return origin, index - first


# How a batch reaches the refused callback: the batch and the row's index in it.
Refused = Callable[[Batch, int, str], None]
_ROW_VALUES = itemgetter(*ROW_COLUMNS)
_COMBINATION_VALUES = itemgetter(*COMBINATION_COLUMNS)
_STAGE_LIST = ", ".join(STAGE_COLUMNS)
_ROW_LIST = ", ".join(ROW_COLUMNS)
# The staged rows with their combinations' values, in STAGE_COLUMNS order and the file's (`{s}`: the stage's
# tables, `{order}`: the row's place in its table).
_STAGED = (
    f"SELECT {', '.join('r.' + c for c in ROW_COLUMNS)}, {', '.join('c.' + c for c in COMBINATION_COLUMNS)} "
    "FROM {s}events r JOIN {s}combinations c ON c.id = r.combination WHERE true ORDER BY r.{order}"
)


def _row_dicts(batch: Batch) -> list[dict[str, Any]]:
    return [dict(zip(STAGE_COLUMNS, batch.known.row(row), strict=True)) for row in batch.rows]


def _store_serially(engine: Engine, batch: Batch, refused: Refused | None) -> tuple[int, int]:
    """A batch by the row-at-a-time path: a database without a stage, or a batch it refused."""
    rows = _row_dicts(batch)
    where = {id(row): i for i, row in enumerate(rows)}
    report = None if refused is None else (lambda row, reason: refused(batch, where[id(row)], reason))
    return _store_splitting(engine, rows, report)


class _Stage:
    """Where the loading thread puts a batch and the storing thread takes it into the events table in one
    statement (the database's work, without Python's lock), while the next batch is read and validated."""

    slots = 1
    # What the database raises for a merge it undid and that may be tried again (a deadlock between lanes).
    retry: tuple[type[BaseException], ...] = ()

    def fill(self, slot: int, batch: Batch) -> None:
        raise NotImplementedError

    def merge(self, slot: int) -> int:
        """Insert the slot's rows but those whose event_id is stored, widen their campaigns' time ranges,
        commit; the rows inserted."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _SQLiteStage(_Stage):
    """Two stage databases attached to two connections: the loading thread fills one while the storing
    thread merges the other. In memory (shared-cache URIs) where the SQLite library reads URIs in ATTACH;
    elsewhere two files in a temporary folder, written without a journal."""

    slots = 2

    def __init__(self, engine: Engine) -> None:
        self._filler = engine.raw_connection()
        try:
            self._merger = engine.raw_connection()
        except BaseException:
            self._filler.close()
            raise
        self._folder: Path | None = None
        try:
            places = self._places(_reads_uris(self._filler))
            for conn in (self._filler, self._merger):
                for slot, place in enumerate(places):
                    conn.cursor().execute(f"ATTACH DATABASE ? AS stage{slot}", (place,))
            cursor = self._filler.cursor()
            for slot in range(self.slots):
                if self._folder is not None:
                    cursor.execute(f"PRAGMA stage{slot}.journal_mode=OFF")
                    cursor.execute(f"PRAGMA stage{slot}.synchronous=OFF")
                cursor.execute(f"CREATE TABLE stage{slot}.events ({_ROW_LIST}, combination)")
                cursor.execute(
                    f"CREATE TABLE stage{slot}.combinations (id INTEGER PRIMARY KEY, {', '.join(COMBINATION_COLUMNS)})"
                )
            self._filler.commit()
        except BaseException:
            self.close()
            raise
        self._combinations = [0] * self.slots  # how many of the load's combinations each stage holds

    def _places(self, in_memory: bool) -> list[str]:
        if in_memory:
            name = f"reporter-stage-{uuid.uuid4().hex}"
            return [f"file:{name}-{slot}?mode=memory&cache=shared" for slot in range(self.slots)]
        self._folder = Path(tempfile.mkdtemp(prefix="reporter-stage-"))
        return [str(self._folder / f"stage{slot}.db") for slot in range(self.slots)]

    def fill(self, slot: int, batch: Batch) -> None:
        cursor = self._filler.cursor()
        cursor.execute(f"DELETE FROM stage{slot}.events")
        held, values = self._combinations[slot], batch.known.values
        if len(values) > held:
            marks = ", ".join("?" * (len(COMBINATION_COLUMNS) + 1))
            cursor.executemany(
                f"INSERT INTO stage{slot}.combinations VALUES ({marks})",
                [(n, *values[n]) for n in range(held, len(values))],
            )
        marks = ", ".join("?" * (len(ROW_COLUMNS) + 1))
        cursor.executemany(f"INSERT INTO stage{slot}.events VALUES ({marks})", batch.rows)
        self._filler.commit()
        self._combinations[slot] = len(values)

    def merge(self, slot: int) -> int:
        cursor = self._merger.cursor()
        try:
            staged = _STAGED.format(s=f"stage{slot}.", order="rowid")
            cursor.execute(f"INSERT INTO main.events ({_STAGE_LIST}) {staged} ON CONFLICT (event_id) DO NOTHING")
            loaded, last = cursor.rowcount, cursor.lastrowid
            if loaded:
                # The write lock is held: the statement's rows are the table's last `loaded` row ids.
                cursor.execute(
                    "SELECT campaign_pk, min(ts), max(ts) FROM main.events WHERE id > ? GROUP BY campaign_pk",
                    (last - loaded,),
                )
                for pk, lo, hi in cursor.fetchall():
                    cursor.execute(_WIDEN.replace("%s", "?"), _widen_values(pk, lo, hi))
            self._merger.commit()
        except BaseException:
            with contextlib.suppress(Exception):  # the error that ended the merge is the one to tell
                self._merger.rollback()
            raise
        return loaded

    def close(self) -> None:
        for conn in (self._filler, self._merger):
            try:
                conn.rollback()
                attached = {row[1] for row in conn.cursor().execute("PRAGMA database_list").fetchall()}
                for slot in range(self.slots):
                    if f"stage{slot}" in attached:
                        conn.cursor().execute(f"DETACH DATABASE stage{slot}")
            except Exception:
                # Not back to the pool with a stage attached (the next load's ATTACH would fail): closed for good.
                log.warning("detaching the loader's stage failed", exc_info=True)
                conn.invalidate()
            finally:
                conn.close()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


def _reads_uris(conn: Any) -> bool:
    """Whether the SQLite library takes `file:` URIs in ATTACH on a connection opened without them (built
    with SQLITE_USE_URI, as Debian's is; not every platform's Python is)."""
    return ("USE_URI",) in conn.cursor().execute("PRAGMA compile_options").fetchall()


class _PostgresStage(_Stage):
    """Temporary tables of the loader's session, filled by COPY and merged on the same connection (one
    statement at a time: the merge runs on the server while the next batch is validated)."""

    def __init__(self, engine: Engine) -> None:
        from psycopg.errors import DeadlockDetected, UniqueViolation

        self.retry = (DeadlockDetected,)
        self._duplicate = UniqueViolation
        self._unique = True  # no event_id of the load met stored yet: inserted without ON CONFLICT
        self._fairy = engine.raw_connection()
        conn: Any = self._fairy.driver_connection
        self._conn = conn
        try:
            conn.execute("DROP TABLE IF EXISTS pg_temp.reporter_events, pg_temp.reporter_combinations")
            conn.execute(
                f"CREATE TEMPORARY TABLE reporter_events ON COMMIT DELETE ROWS AS "
                f"SELECT {_ROW_LIST}, 0 AS combination FROM events WITH NO DATA"
            )
            conn.execute(
                f"CREATE TEMPORARY TABLE reporter_combinations AS "
                f"SELECT 0 AS id, {', '.join(COMBINATION_COLUMNS)} FROM events WITH NO DATA"
            )
            conn.commit()
        except BaseException:
            self._fairy.invalidate()
            self._fairy.close()
            raise
        self._held = 0  # how many of the load's combinations the table holds

    def fill(self, slot: int, batch: Batch) -> None:
        values = batch.known.values
        with self._conn.cursor() as cursor:
            if len(values) > self._held:
                marks = ", ".join(["%s"] * (len(COMBINATION_COLUMNS) + 1))
                cursor.executemany(
                    f"INSERT INTO reporter_combinations VALUES ({marks})",
                    [(n, *values[n]) for n in range(self._held, len(values))],
                )
                self._conn.commit()
                self._held = len(values)
            with cursor.copy(f"COPY reporter_events ({_ROW_LIST}, combination) FROM STDIN") as copy:
                for row in batch.rows:
                    copy.write_row(row)

    def merge(self, slot: int) -> int:
        try:
            with self._conn.cursor() as cursor:
                found = self._insert(cursor)
                for pk, lo, hi, _ in found:
                    cursor.execute(_WIDEN, _widen_values(pk, lo, hi))
            self._conn.commit()
        except BaseException:
            with contextlib.suppress(Exception):  # the error that ended the merge is the one to tell
                self._conn.rollback()
            raise
        return sum(row[3] for row in found)

    def _insert(self, cursor: Any) -> list[tuple[int, int, int, int]]:
        """The staged rows into the events table; (campaign, first and last time, rows) of those inserted.

        A plain INSERT while no batch of the load has met a stored event_id: ON CONFLICT's speculative insertion
        costs more than the insert (950,382 events: 6.5 s against 4.3 s, docs/performance.md). A duplicate makes
        the plain INSERT fail and undo itself; the batch and the ones after it then skip duplicates.
        """
        staged = _STAGED.format(s="reporter_", order="ctid")
        query = (
            f"WITH stored AS (INSERT INTO events ({_STAGE_LIST}) {staged} {{conflict}} RETURNING campaign_pk, ts) "
            "SELECT campaign_pk, min(ts), max(ts), count(*) FROM stored "
            "GROUP BY campaign_pk ORDER BY campaign_pk"  # campaigns in key order: no deadlock between lanes
        )
        if self._unique:
            cursor.execute("SAVEPOINT reporter_merge")
            try:
                cursor.execute(query.format(conflict=""))
                return list(cursor.fetchall())
            except self._duplicate:
                cursor.execute("ROLLBACK TO SAVEPOINT reporter_merge")
                self._unique = False
        cursor.execute(query.format(conflict="ON CONFLICT (event_id) DO NOTHING"))
        return list(cursor.fetchall())

    def close(self) -> None:
        try:
            self._conn.rollback()
            self._conn.execute("DROP TABLE IF EXISTS pg_temp.reporter_events, pg_temp.reporter_combinations")
            self._conn.commit()
        except Exception:
            log.warning("dropping the loader's stage failed", exc_info=True)
            self._fairy.invalidate()  # the session and its temporary tables end with the connection
        finally:
            self._fairy.close()


_WIDEN = (
    "UPDATE campaigns SET "
    "first_event_us = CASE WHEN first_event_us IS NULL OR first_event_us > %s THEN %s ELSE first_event_us END, "
    "last_event_us = CASE WHEN last_event_us IS NULL OR last_event_us < %s THEN %s ELSE last_event_us END, "
    "events_token = coalesce(substr(events_token, 1, 16), %s) || %s "
    "WHERE id = %s"
)


def _widen_values(pk: int, lo: int, hi: int) -> tuple[Any, ...]:
    """widen_event_range's parameters for _WIDEN."""
    return lo, lo, hi, hi, uuid.uuid4().hex[:16], uuid.uuid4().hex[16:], pk


def _stages_for(engine: Engine) -> list[_Stage]:
    """The stages of a load: none for a database without one (rows are then stored row by row)."""
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        return [_SQLiteStage(engine)]  # one writer at a time: one lane, staged while the other merges
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        # Two sessions: the server merges two batches at once (its index upkeep, the load's largest part,
        # on two cores), while the loader's thread validates the next.
        stages: list[_Stage] = []
        try:
            for _ in range(2):
                stages.append(_PostgresStage(engine))
        except BaseException:
            for stage in stages:
                stage.close()
            raise
        return stages
    return []


def _refusals(engine: Engine) -> tuple[type[BaseException], ...]:
    """The driver's errors for a row the database will not store (REFUSALS, before SQLAlchemy wraps them)."""
    dbapi: Any = engine.dialect.dbapi
    return (dbapi.IntegrityError, dbapi.DataError, dbapi.InternalError, dbapi.ProgrammingError, *REFUSALS)


class _Storer:
    """The storing threads, one per stage (a lane): each merges its stage's batches, each in its own
    transaction, while the caller's thread reads, validates and stages the next. Batch n goes to lane
    n % lanes; with one lane they are stored in the file's order."""

    def __init__(self, engine: Engine, stages: list[_Stage], refused: Refused | None) -> None:
        self._engine, self._stages, self._refused = engine, stages, refused
        self._free = [[threading.Semaphore(1) for _ in range(stage.slots)] for stage in stages]
        self._queues: list[queue.Queue[tuple[int, Batch] | None]] = [queue.Queue() for _ in stages]
        # (loaded, duplicates, the refused rows as (batch, index, reason)) of each batch merged
        self.done: queue.Queue[tuple[int, int, list[tuple[Batch, int, str]]]] = queue.Queue()
        self.error: BaseException | None = None
        self._cancelled = False
        self._threads = [
            threading.Thread(target=self._run, args=(lane,), name=f"reporter-store-{lane}", daemon=True)
            for lane in range(len(stages))
        ]
        for thread in self._threads:
            thread.start()

    def put(self, number: int, batch: Batch) -> None:
        lane = number % len(self._stages)
        stage = self._stages[lane]
        slot = (number // len(self._stages)) % stage.slots
        free = self._free[lane][slot]
        free.acquire()
        if self.error is not None:
            free.release()
            raise self.error
        try:
            stage.fill(slot, batch)
        except BaseException:
            free.release()
            raise
        self._queues[lane].put((slot, batch))

    def finish(self, cancel: bool = False) -> None:
        """Wait for every staged batch (with `cancel`, for those being merged only); re-raise a storing
        thread's error."""
        self._cancelled = cancel
        for waiting in self._queues:
            waiting.put(None)
        for thread in self._threads:
            thread.join()
        if self.error is not None and not cancel:
            raise self.error

    def _run(self, lane: int) -> None:
        stage = self._stages[lane]
        while (item := self._queues[lane].get()) is not None:
            slot, batch = item
            try:
                if self.error is None and not self._cancelled:
                    self.done.put(self._merge(stage, slot, batch))
            except BaseException as exc:  # handed to the caller's thread
                self.error = exc
            finally:
                self._free[lane][slot].release()

    def _merge(self, stage: _Stage, slot: int, batch: Batch) -> tuple[int, int, list[tuple[Batch, int, str]]]:
        for attempt in range(_MERGE_ATTEMPTS):
            try:
                loaded = stage.merge(slot)
            except stage.retry as exc:
                # Two lanes waiting on each other's rows of one event_id (a file holding an event twice, in
                # batches merged at once): the database undid this one, stage included; stage it again.
                if attempt == _MERGE_ATTEMPTS - 1:
                    raise exc
                stage.fill(slot, batch)
                continue
            except _refusals(self._engine):
                # A row the database will not store (a constraint, a bad value, a trigger): found row by row.
                return self._row_by_row(batch)
            return loaded, len(batch.rows) - loaded, []
        raise AssertionError("unreachable")

    def _row_by_row(self, batch: Batch) -> tuple[int, int, list[tuple[Batch, int, str]]]:
        """_store_serially, its refused rows kept for the caller's thread, which alone writes the rejects."""
        found: list[tuple[Batch, int, str]] = []
        report = None if self._refused is None else (lambda *refusal: found.append(refusal))
        loaded, duplicates = _store_serially(self._engine, batch, report)
        return loaded, duplicates, found


_MERGE_ATTEMPTS = 50  # a deadlock lets the other lane go on: it ends, and the merge tried again passes


def _covering_indexes() -> list[Index]:
    """The events table's indexes for the readers' queries (not its keys, which a load checks)."""
    return sorted((index for index in Event.__table__.indexes if not index.unique), key=lambda i: str(i.name))


def _lock_events(conn: Connection) -> None:
    """Hold off the other writers of the events table until the transaction ends; readers go on."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE")
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DELETE FROM events WHERE 0")  # begins the transaction holding SQLite's write lock


# The advisory lock a PostgreSQL load holds while the covering indexes are its to build ("reporter" in ASCII).
_DEFERRING_KEY = 0x7265706F72746572


class _Deferring:
    """Held by a load from the drop of the covering indexes until it has built them, so that another load or
    `reporter db upgrade` leaves them to it instead of building them over half its rows: a session's advisory lock
    on PostgreSQL, a lock on a file beside the database on SQLite. The operating system lets go of either when the
    process ends, whichever way."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Any = None
        self._file: Any = None

    @staticmethod
    def _path(engine: Engine) -> Path | None:
        database = engine.url.database
        if engine.dialect.name != "sqlite" or fcntl is None or not database or database == ":memory:":
            return None
        return Path(f"{database}-reporter-load")

    def take(self) -> bool:
        """Take it without waiting; False where another load holds it."""
        if self._engine.dialect.name == "postgresql":
            self._conn = self._engine.raw_connection()
            cursor = self._conn.cursor()
            cursor.execute(f"SELECT pg_try_advisory_lock({_DEFERRING_KEY})")
            taken = bool(cursor.fetchone()[0])
            self._conn.commit()
            if not taken:
                self.release()
            return taken
        path = self._path(self._engine)
        if path is None:
            return True
        file = open(path, "a")  # noqa: SIM115 - closed in release(), or here
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            file.close()  # the holder's file stays
            return False
        self._file = file
        return True

    def release(self) -> None:
        if self._conn is not None:
            self._conn.invalidate()  # the session, and its advisory lock, end with it: not back to the pool
            self._conn.close()
            self._conn = None
        if self._file is not None:
            path = Path(self._file.name)
            with contextlib.suppress(OSError):
                path.unlink()
            self._file.close()
            self._file = None

    @classmethod
    def held_elsewhere(cls, conn: Connection) -> bool:
        """Whether a load holds it (checked inside the builder's transaction)."""
        if conn.dialect.name == "postgresql":
            return not conn.exec_driver_sql(f"SELECT pg_try_advisory_xact_lock({_DEFERRING_KEY})").scalar_one()
        path = cls._path(conn.engine)
        if path is None or not path.exists():
            return False
        with open(path, "a") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
        return False


def build_event_indexes(engine: Engine, _deferred_by_caller: bool = False) -> list[str]:
    """Build those of the events table's covering indexes that are missing; returns their names.

    A load into an empty table builds them at its end (`defer_event_indexes`); one killed before its end leaves
    them to the next load or to `reporter db upgrade`, which call this. Those a running load dropped are left to it.
    """
    with engine.begin() as conn:
        present = _index_names(conn)
        if all(index.name in present for index in _covering_indexes()):
            return []
        if not _deferred_by_caller and _Deferring.held_elsewhere(conn):
            return []  # without waiting for the table: its batches go on
        _lock_events(conn)  # one builder at a time: a second finds them built
        present = _index_names(conn)
        missing = [index for index in _covering_indexes() if index.name not in present]
        if missing:
            log.info("building the events table's indexes: %s", ", ".join(str(index.name) for index in missing))
        with _sorting_in_threads(conn):
            for index in missing:
                conn.execute(CreateIndex(index, if_not_exists=True))
    return [str(index.name) for index in missing]


def _index_names(conn: Connection) -> set[str]:
    """The events table's indexes, by one catalog query where the dialect has one (every load asks: reflection
    took 20 ms of a small load on PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        query = "SELECT indexname FROM pg_indexes WHERE tablename = 'events' AND schemaname = current_schema()"
    elif conn.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'"
    else:
        return {str(index["name"]) for index in inspect(conn).get_indexes("events")}
    return set(conn.exec_driver_sql(query).scalars())


@contextlib.contextmanager
def _sorting_in_threads(conn: Connection) -> Iterator[None]:
    """On SQLite, the sorter of CREATE INDEX with two worker threads and 8 MB of memory, which makes it sort in
    runs, one thread each, and merge them: the three indexes of 950,382 events in 2.2 s instead of 3.3 s with
    the connection's 64 MB and no thread (docs/performance.md). The connection's settings back after."""
    if conn.dialect.name != "sqlite":
        yield
        return
    threads = conn.exec_driver_sql("PRAGMA threads").scalar_one()
    cache = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.exec_driver_sql("PRAGMA threads = 2")
    conn.exec_driver_sql("PRAGMA cache_size = -8000")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA threads = {int(threads)}")
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(cache)}")


# Why a PostgreSQL load keeps the indexes up instead: lock_not_available (a reader held the table past
# DEFER_LOCK_WAIT_S), deadlock_detected (another load's row-by-row batch), insufficient_privilege (a role that may
# insert but not alter the table).
_KEEP_INDEXES = {"55P03", "40P01", "42501"}


def defer_event_indexes(engine: Engine) -> _Deferring | None:
    """Drop the covering indexes of an empty events table, for the load about to fill it to build them at its
    end, each in one sorted pass instead of kept up row by row; the marker the load holds until it has. None,
    changing nothing, where the table holds events or another load builds them."""
    deferring = _Deferring(engine)
    if not deferring.take():
        return None
    dropped = False
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # DROP INDEX waits for every reader of the table, and the readers that come after wait for it:
                # past DEFER_LOCK_WAIT_S, the load keeps the indexes up instead of holding the readers back. The
                # lock DROP INDEX needs, taken first: no upgrade from a weaker one to deadlock on.
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(DEFER_LOCK_WAIT_S * 1000)}ms'")
                conn.exec_driver_sql("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
            else:
                _lock_events(conn)
            if conn.execute(select(Event.id).limit(1)).first() is None:
                for index in _covering_indexes():
                    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
                dropped = True
    except (OperationalError, ProgrammingError) as exc:
        if engine.dialect.name != "postgresql" or getattr(exc.orig, "sqlstate", None) not in _KEEP_INDEXES:
            raise
        log.info("the load keeps the events table's indexes up: %s", _first_line(exc))
    finally:
        if not dropped:
            deferring.release()
    return deferring if dropped else None


def _build_deferred(engine: Engine, deferring: _Deferring, loaded: bool) -> None:
    """The indexes a load dropped, built at its end; a failure is told, not raised: the events stay stored."""
    try:
        build_event_indexes(engine, _deferred_by_caller=True)
    except Exception as exc:
        state = "loaded" if loaded else "stored up to the load's error"
        log.warning(
            "the events are %s, but building the events table's indexes failed (%s): `reporter db upgrade` builds them",
            state,
            _first_line(exc),
        )
        log.debug("building the events table's indexes failed", exc_info=True)
    finally:
        deferring.release()


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return (str(orig if orig is not None else exc).strip().splitlines() or [type(exc).__name__])[0]


# From how many events a load into an empty table builds its indexes at the end. Measured (docs/performance.md):
# on SQLite, 237,601 events load 10-15 % slower so (the build, 0.6 s, runs alone at the end, where the upkeep ran
# beside the validating), 950,382 1.2 times faster, 2,850,897 2.4 times; on PostgreSQL 237,601 1.2 times faster,
# while a load of a few events took 50 ms more (the drop and the builds).
DEFER_INDEXES_FROM = {"sqlite": 500_000, "postgresql": 50_000}
DEFER_LOCK_WAIT_S = 2.0


def store_batches(
    engine: Engine,
    batches: Iterable[Batch],
    on_batch: Callable[[int, int], None] | None = None,
    refused: Refused | None = None,
    expected: Callable[[int], int] | None = None,
) -> tuple[int, int]:
    """Store batches of validated rows, each in one transaction; returns (loaded, duplicates).

    Into an empty events table, a load of at least DEFER_INDEXES_FROM events (`expected(n)` estimates how many
    once the first batch, of n rows, is read) builds the table's covering indexes at its end, even when it fails.

    On SQLite and PostgreSQL each batch goes into a stage and on into the events table in one statement on a
    thread of its own, while the next is read and validated; a batch the database refuses is stored again
    row by row (split until the refused rows are found, each reported to `refused(batch, index, reason)`).
    """
    loaded = duplicates = batches_done = 0

    def count(n: int, d: int, found: list[tuple[Batch, int, str]] = []) -> None:  # noqa: B006 - never changed
        nonlocal loaded, duplicates, batches_done
        if refused is not None:
            for refusal in found:
                refused(*refusal)
        loaded, duplicates, batches_done = loaded + n, duplicates + d, batches_done + 1
        if batches_done & (batches_done - 1) == 0 and engine.dialect.name != "sqlite":
            # After batches 1, 2, 4, 8, ...: a table that grew from empty has no statistics,
            # and the planner then scans it for each event_id look-up (seen: 0.75 s a batch).
            analyze_events(engine)
        if on_batch is not None:
            on_batch(loaded, duplicates)

    build_event_indexes(engine)  # those a load killed before its end left unbuilt
    pending = iter(batches)
    first = next(pending, None)
    if first is None:
        return 0, 0
    size = expected(len(first.rows)) if expected is not None else 0
    threshold = DEFER_INDEXES_FROM.get(engine.dialect.name)
    deferring = defer_event_indexes(engine) if threshold is not None and size >= threshold else None
    stored = False
    try:
        _store_all(engine, chain([first], pending), count, refused)
        stored = True
    finally:
        if deferring is not None:
            _build_deferred(engine, deferring, stored)  # never raises: a load's error stays the one raised
    return loaded, duplicates


def _store_all(engine: Engine, batches: Iterable[Batch], count: Callable[..., None], refused: Refused | None) -> None:
    stages = _stages_for(engine)
    if not stages:
        for batch in batches:
            count(*_store_serially(engine, batch, refused))
        return
    try:
        storer = _Storer(engine, stages, refused)
        try:
            for number, batch in enumerate(batches):
                storer.put(number, batch)
                while not storer.done.empty():
                    count(*storer.done.get())
        except BaseException:
            storer.finish(cancel=True)  # an error or an interrupt here: no batch is begun after it
            raise
        storer.finish()
        while not storer.done.empty():
            count(*storer.done.get())
    finally:
        for stage in stages:
            try:
                stage.close()
            except Exception:
                log.warning("closing the loader's stage failed", exc_info=True)


def store_events(
    engine: Engine,
    rows: Iterable[dict[str, Any]],
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int, int], None] | None = None,
    refused: Callable[[dict[str, Any], str], None] | None = None,
) -> tuple[int, int]:
    """Store validated event rows (parse_event's) in batches (one transaction each); returns (loaded,
    duplicates). A row the database refuses goes to `refused(row, reason)` and every other row is stored."""

    known = Combinations()

    def batches() -> Iterator[Batch]:
        it = iter(rows)
        while chunk := list(islice(it, batch_size)):
            batch = Batch(known)
            for row in chunk:
                batch.add_row(row, row)
            yield batch

    def report(batch: Batch, index: int, reason: str) -> None:
        row, _ = batch.origin(index)
        if refused is not None:
            refused(row, reason)

    return store_batches(engine, batches(), on_batch, report if refused is not None else None)
