"""Loading campaigns and events: validation, de-duplication, batches, rejects.

Each batch of events is one transaction, so an interrupted load leaves whole
batches only, and re-running it skips the events already stored (by
`event_id`). Records that break the data contract (README) go to the rejects
file with their line and reason; every good record of the file is stored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, case, delete, insert, or_, select, update
from sqlalchemy.exc import DataError, IntegrityError, InternalError, ProgrammingError

from reporter.errors import InputFileError
from reporter.timezones import to_us
from reporter.models import (
    CAMPAIGN_TYPES,
    CHANNELS,
    DELIVERY_EVENTS,
    DEVICE_TYPES,
    PLATFORMS,
    Campaign,
    Event,
    EventType,
    Variant,
)
from reporter.sources import DataFile, RawRecord, RejectsWriter, data_format, read_csv, read_jsonl, read_list

BATCH_SIZE = 10_000
# What a database raises for a row it will not store (a constraint, a bad value, a trigger).
REFUSALS = (DataError, IntegrityError, InternalError, ProgrammingError)

EVENT_FIELDS = (
    "event_id", "campaign_id", "variant", "user_id", "device_id", "event", "ts",
    "platform", "device_type", "channel", "error_code", "revenue",
)
EVENT_REQUIRED = ("campaign_id", "user_id", "event", "ts")
CAMPAIGN_FIELDS = (
    "campaign_id", "name", "type", "start_at", "end_at", "conversion_event",
    "conversion_window_hours", "control_group_pct", "currency", "variants", "planned_users",
)
CAMPAIGN_REQUIRED = ("campaign_id", "name", "type", "start_at")
VARIANT_FIELDS = ("variant", "name", "title", "body", "split_pct", "baseline")
EVENT_CODES = {e.label: int(e) for e in EventType}
SPLIT_TOLERANCE = 0.5


class Reject(Exception):
    """A record that breaks the input contract; the message is the reason."""


@dataclass
class LoadSummary:
    """What a load did: counts and the rejects file, as the CLI prints them."""

    path: Path | None = None
    loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects_path: Path | None = None
    reasons: dict[str, int] = field(default_factory=dict)


# -- field parsers ---------------------------------------------------------------------


def _text(rec: dict[str, Any], key: str, required: bool = False, max_len: int = 200) -> str | None:
    value = rec.get(key)
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if required:
            raise Reject(f"missing {key}")
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise Reject(f"{key} must be a string")
    value = str(value).strip()
    if len(value) > max_len:
        raise Reject(f"{key} is longer than {max_len} characters")
    if "\x00" in value:
        # PostgreSQL refuses NUL in text, and it would cost the whole batch.
        raise Reject(f"{key} contains a NUL character")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise Reject(f"{key} is not valid Unicode (a lone surrogate)")
    return value


def parse_timestamp(value: Any, key: str = "ts") -> datetime:
    """An ISO 8601 timestamp; one without an offset is taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        raise Reject(f"{key} is not an ISO 8601 timestamp: {value!r}")
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Reject(f"{key} is not an ISO 8601 timestamp: {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt


def _number(rec: dict[str, Any], key: str) -> float | None:
    value = rec.get(key)
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        raise Reject(f"{key} is not a number: {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Reject(f"{key} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise Reject(f"{key} is not a finite number: {value!r}")
    return number


def _choice(rec: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str | None:
    value = _text(rec, key)
    if value is None:
        return None
    value = value.lower()
    if value not in allowed:
        raise Reject(f"unknown {key} {value!r} (expected one of {', '.join(allowed)})")
    return value


# -- campaigns ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignRef:
    """What event validation needs to know of a loaded campaign."""

    pk: int
    type: str
    variants: frozenset[str]


def parse_campaign(rec: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Validate one campaign record; returns the campaign row and its variant rows."""
    unknown = sorted(set(rec) - set(CAMPAIGN_FIELDS))
    if unknown:
        raise Reject(f"unknown field {unknown[0]!r}")
    row: dict[str, Any] = {
        "campaign_id": _text(rec, "campaign_id", required=True),
        "name": _text(rec, "name", required=True, max_len=1000),
    }
    ctype = _choice(rec, "type", CAMPAIGN_TYPES)
    if ctype is None:
        raise Reject("missing type")
    row["type"] = ctype
    if rec.get("start_at") in (None, ""):
        raise Reject("missing start_at")
    row["start_at"] = parse_timestamp(rec["start_at"], "start_at")
    row["end_at"] = (
        parse_timestamp(rec["end_at"], "end_at") if rec.get("end_at") not in (None, "") else None
    )
    if row["end_at"] is not None and row["end_at"] <= row["start_at"]:
        raise Reject("end_at is not after start_at")
    row["conversion_event"] = _text(rec, "conversion_event")
    window = _number(rec, "conversion_window_hours")
    if window is not None and window <= 0:
        raise Reject(f"conversion_window_hours must be positive, got {rec['conversion_window_hours']!r}")
    row["conversion_window_hours"] = 24.0 if window is None else window
    control = _number(rec, "control_group_pct")
    if control is not None and not 0 <= control <= 100:
        raise Reject(f"control_group_pct must be between 0 and 100, got {rec['control_group_pct']!r}")
    row["control_group_pct"] = 0.0 if control is None else control
    planned = _number(rec, "planned_users")
    if planned is not None and (planned != int(planned) or not 1 <= planned <= 10**12):
        raise Reject(f"planned_users must be a whole number of users, at least 1, got {rec['planned_users']!r}")
    row["planned_users"] = None if planned is None else int(planned)
    currency = _text(rec, "currency") or "USD"
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise Reject(f"currency is not an ISO 4217 code: {currency!r}")
    from babel.numbers import list_currencies

    if currency not in list_currencies():
        raise Reject(f"currency is not an ISO 4217 code: {currency!r}")
    row["currency"] = currency
    variants = _parse_variants(rec.get("variants"), ctype, row["control_group_pct"])
    return row, variants


def _parse_variants(value: Any, ctype: str, control_pct: float) -> list[dict[str, Any]]:
    if isinstance(value, str):
        if not value.strip():
            value = None
        else:
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise Reject("variants is not a JSON list") from None
    if value is None:
        if ctype == "ab":
            raise Reject("missing variants (required for an ab campaign)")
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise Reject("variants must be a list of objects")
    if ctype == "ab" and len(value) < 2:
        raise Reject("an ab campaign needs at least two variants")
    if ctype == "single" and len(value) > 1:
        raise Reject("a single campaign has at most one variant (its message)")
    rows = []
    for position, item in enumerate(value):
        unknown = sorted(set(item) - set(VARIANT_FIELDS))
        if unknown:
            raise Reject(f"variants[{position}]: unknown field {unknown[0]!r}")
        vid = _text(item, "variant", required=ctype == "ab", max_len=100) or "message"
        split = _number(item, "split_pct")
        if ctype == "ab":
            if split is None:
                raise Reject(f"variants[{position}]: missing split_pct")
            if split < 0:
                raise Reject(f"variants[{position}]: split_pct is negative")
        baseline = item.get("baseline", False)
        if not isinstance(baseline, bool):
            if str(baseline).lower() in ("true", "1", "yes"):
                baseline = True
            elif str(baseline).lower() in ("false", "0", "no", ""):
                baseline = False
            else:
                raise Reject(f"variants[{position}]: baseline must be true or false")
        rows.append(
            {
                "variant": vid,
                "position": position,
                "name": _text(item, "name", max_len=1000) or vid,
                "title": _text(item, "title", max_len=10_000),
                "body": _text(item, "body", max_len=10_000),
                "split_pct": split if split is not None else 100.0 - control_pct,
                "baseline": baseline,
            }
        )
    ids = [r["variant"] for r in rows]
    if len(set(ids)) != len(ids):
        raise Reject("variant ids are not unique")
    if ctype == "ab":
        total = sum(r["split_pct"] for r in rows)
        expected = 100.0 - control_pct
        if abs(total - expected) > SPLIT_TOLERANCE:
            raise Reject(
                f"variant split_pct sum to {total:g}, expected {expected:g} (100 - control_group_pct)"
            )
        baselines = [r for r in rows if r["baseline"]]
        if len(baselines) > 1:
            raise Reject("more than one variant has baseline: true")
        if not baselines:
            rows[0]["baseline"] = True
    return rows


def _check_campaign_header(path: Path) -> Callable[[list[str]], None]:
    return _header_checker(path, CAMPAIGN_FIELDS, CAMPAIGN_REQUIRED)


def _header_checker(
    path: Path, known: tuple[str, ...], required: tuple[str, ...]
) -> Callable[[list[str]], None]:
    def check(header: list[str]) -> None:
        unknown = [h for h in header if h not in known]
        if unknown:
            raise InputFileError(path, f"wrong header: unknown column {unknown[0]!r}")
        missing = [r for r in required if r not in header]
        if missing:
            raise InputFileError(path, f"wrong header: missing column {missing[0]!r}")
        if len(set(header)) != len(header):
            raise InputFileError(path, "wrong header: a column appears twice")

    return check


def _records(
    data: DataFile, fmt: str, check_header: Callable[[list[str]], None], multiline: bool = False
) -> Iterator[RawRecord]:
    if fmt == "csv":
        return read_csv(data, check_header, multiline)
    if fmt == "jsonl":
        return read_jsonl(data)
    return read_list(data)


def load_campaigns(engine: Engine, path: Path) -> LoadSummary:
    """Load (insert or update) campaigns from a file; the whole file is one transaction."""
    path = Path(path)
    fmt = data_format(path)
    summary = LoadSummary(path=path)
    rejects = RejectsWriter(path, "csv" if fmt == "csv" else "jsonl")
    parsed: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    stored = campaign_refs(engine)
    with DataFile(path) as data:
        for record in _records(data, fmt, _check_campaign_header(path), multiline=True):
            try:
                if record.fields is None:
                    raise Reject(record.problem or "unreadable record")
                row, variants = parse_campaign(record.fields)
                _check_kept_variants(engine, stored.get(row["campaign_id"]), row, variants)
            except Reject as exc:
                _reject(summary, rejects, record, str(exc))
                continue
            parsed[row["campaign_id"]] = (row, variants)
    summary.loaded = store_campaigns(engine, parsed.values())
    summary.rejects_path = rejects.close()
    return summary


def _check_kept_variants(engine: Engine, ref: "CampaignRef | None", row: dict[str, Any],
                         variants: list[dict[str, Any]]) -> None:
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


def store_campaigns(
    engine: Engine, campaigns: Iterable[tuple[dict[str, Any], list[dict[str, Any]]]]
) -> int:
    """Insert or update validated campaigns and their variants in one transaction."""
    count = 0
    with engine.begin() as conn:
        existing = dict(conn.execute(select(Campaign.campaign_id, Campaign.id)).all())
        for row, variants in campaigns:
            pk = existing.get(row["campaign_id"])
            if pk is None:
                pk = conn.execute(insert(Campaign).values(**row).returning(Campaign.id)).scalar_one()
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


# -- events ------------------------------------------------------------------------------


def parse_event(rec: dict[str, Any], campaigns: dict[str, CampaignRef]) -> dict[str, Any]:
    """Validate one event record against the contract; returns the row to store."""
    for key in rec:
        if key not in EVENT_FIELDS:
            raise Reject(f"unknown field {key!r}")
    label = _text(rec, "event", required=True)
    code = EVENT_CODES.get(label.lower())  # type: ignore[union-attr]
    if code is None:
        raise Reject(f"unknown event {label!r}")
    cid = _text(rec, "campaign_id", required=True)
    campaign = campaigns.get(cid)  # type: ignore[arg-type]
    if campaign is None:
        raise Reject(f"unknown campaign {cid!r}")
    user = _text(rec, "user_id", required=True)
    if rec.get("ts") in (None, ""):
        raise Reject("missing ts")
    ts = to_us(parse_timestamp(rec["ts"]))
    delivery = code in DELIVERY_EVENTS
    variant = _text(rec, "variant", max_len=100)
    if campaign.type == "single":
        variant = None
    elif variant is None:
        if delivery:
            raise Reject(f"missing variant (required on {label} of an ab campaign)")
    elif variant not in campaign.variants:
        raise Reject(f"unknown variant {variant!r} of campaign {cid!r}")
    channel = _choice(rec, "channel", CHANNELS)
    if delivery:
        channel = channel or "push"
    else:
        channel = None
    error_code = _text(rec, "error_code", max_len=100)
    if code == EventType.ERROR:
        if error_code is None:
            raise Reject("missing error_code (required on error)")
    elif error_code is not None:
        raise Reject(f"error_code is only allowed on error events, not {label}")
    revenue = _number(rec, "revenue")
    if revenue is not None:
        if code != EventType.CONVERSION:
            raise Reject(f"revenue is only allowed on conversion events, not {label}")
        if revenue < 0:
            raise Reject(f"negative revenue: {rec['revenue']!r}")
    return {
        "event_id": _text(rec, "event_id"),
        "campaign_pk": campaign.pk,
        "variant": variant,
        "user_id": user,
        "device_id": _text(rec, "device_id"),
        "event": code,
        "ts": ts,
        "platform": _choice(rec, "platform", PLATFORMS) or "unknown",
        "device_type": _choice(rec, "device_type", DEVICE_TYPES) or "unknown",
        "channel": channel,
        "error_code": error_code,
        "revenue": revenue,
    }


def _reject(summary: LoadSummary, rejects: RejectsWriter, record: RawRecord, reason: str) -> None:
    rejects.write(record, reason)
    summary.rejected += 1
    kind = reason.split(":")[0].split(" (")[0]
    summary.reasons[kind] = summary.reasons.get(kind, 0) + 1


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
        stored: set[str] = set()
        id_list = list(ids)
        for i in range(0, len(id_list), 500):
            chunk = id_list[i : i + 500]
            stored.update(conn.execute(select(Event.event_id).where(Event.event_id.in_(chunk))).scalars())
        fresh = []
        for row in rows:
            eid = row["event_id"]
            if eid is not None:
                if eid in stored:
                    continue
                stored.add(eid)  # a second copy later in the same batch is a duplicate too
            fresh.append(row)
        if fresh:
            conn.execute(insert(Event), fresh)
            ranges: dict[int, tuple[int, int]] = {}
            for row in fresh:
                pk, ts = row["campaign_pk"], row["ts"]
                lo, hi = ranges.get(pk, (ts, ts))
                ranges[pk] = (min(lo, ts), max(hi, ts))
            for pk, (lo, hi) in ranges.items():
                widen_event_range(conn, pk, lo, hi)
    return len(fresh), len(rows) - len(fresh)


def widen_event_range(conn: Connection, campaign_pk: int, first_us: int, last_us: int) -> None:
    """Extend a campaign's stored first/last event time to cover [first_us, last_us]."""
    first, last = Campaign.first_event_us, Campaign.last_event_us
    conn.execute(
        update(Campaign)
        .where(Campaign.id == campaign_pk)
        .values(
            first_event_us=case((or_(first.is_(None), first > first_us), first_us), else_=first),
            last_event_us=case((or_(last.is_(None), last < last_us), last_us), else_=last),
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
                _analyze_events(engine)
            if on_batch is not None:
                on_batch(loaded, duplicates)
    if batch:
        n, d = _store_splitting(engine, batch, refused)
        loaded, duplicates = loaded + n, duplicates + d
        if on_batch is not None:
            on_batch(loaded, duplicates)
    return loaded, duplicates


def _analyze_events(engine: Engine) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("ANALYZE events"))


def load_events(
    engine: Engine,
    path: Path,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> LoadSummary:
    """Stream events from a file into the database; see the module docstring for the guarantees.

    `progress(bytes_read, total_bytes)` is called once per batch; `on_batch(loaded,
    duplicates)` after each committed batch.
    """
    path = Path(path)
    fmt = data_format(path)
    if fmt == "list":
        raise InputFileError(path, "events must be CSV or JSON Lines (.csv, .jsonl, optionally .gz)")
    campaigns = campaign_refs(engine)
    summary = LoadSummary(path=path)
    rejects = RejectsWriter(path, fmt)
    check = _header_checker(path, EVENT_FIELDS, EVENT_REQUIRED)
    with DataFile(path) as data:

        pending: dict[int, RawRecord] = {}  # the records of the batch in hand, by id() of their row

        def rows() -> Iterator[dict[str, Any]]:
            for record in _records(data, fmt, check):
                try:
                    if record.fields is None:
                        raise Reject(record.problem or "unreadable record")
                    row = parse_event(record.fields, campaigns)
                except Reject as exc:
                    _reject(summary, rejects, record, str(exc))
                    continue
                pending[id(row)] = record
                yield row

        def refused(row: dict[str, Any], reason: str) -> None:
            _reject(summary, rejects, pending[id(row)], reason)

        def batch_done(loaded: int, duplicates: int) -> None:
            pending.clear()
            if progress is not None:
                progress(data.bytes_read, data.size)
            if on_batch is not None:
                on_batch(loaded, duplicates)

        try:
            summary.loaded, summary.duplicates = store_events(engine, rows(), batch_size, batch_done, refused)
        finally:
            summary.rejects_path = rejects.close()
    return summary
