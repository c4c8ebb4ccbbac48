"""Storing validated records: campaigns in one transaction, events in batches of one transaction each.

Event ids already stored, or seen earlier in the batch, are duplicates; a batch
the database refuses is halved until the refused rows are found; every batch
widens its campaigns' stored first and last event times.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Engine, case, delete, func, insert, or_, select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InternalError, ProgrammingError

from reporter.db import analyze_events
from reporter.ingest.parse import EVENT_FIELDS, CampaignRef, Reject
from reporter.models import Campaign, Event, Variant

BATCH_SIZE = 10_000
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
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        found.append((row, f"refused by the database: {reason}"))
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
            for pk, (lo, hi) in ranges.items():
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


def store_events(
    engine: Engine,
    rows: Iterable[dict[str, Any]],
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int, int], None] | None = None,
    refused: Callable[[dict[str, Any], str], None] | None = None,
) -> tuple[int, int]:
    """Store validated event rows in batches (one transaction each); returns (loaded, duplicates).

    A batch the database refuses is split until the refused rows are found; each
    goes to `refused(row, reason)` and every other row is stored.
    """
    loaded = duplicates = 0
    batches = 0
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= batch_size:
            n, d = _store_splitting(engine, batch, refused)
            loaded, duplicates = loaded + n, duplicates + d
            batch = []
            batches += 1
            if batches & (batches - 1) == 0 and engine.dialect.name != "sqlite":
                # After batches 1, 2, 4, 8, ...: a table that grew from empty has no statistics,
                # and the planner then scans it for each event_id look-up (seen: 0.75 s a batch).
                analyze_events(engine)
            if on_batch is not None:
                on_batch(loaded, duplicates)
    if batch:
        n, d = _store_splitting(engine, batch, refused)
        loaded, duplicates = loaded + n, duplicates + d
        if on_batch is not None:
            on_batch(loaded, duplicates)
    return loaded, duplicates
