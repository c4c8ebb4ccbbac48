"""Loading one file of campaigns or events: read its records, validate them, store them, write the rejects."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from reporter.errors import InputFileError
from reporter.ingest.blocks import Combinations, block_rows
from reporter.ingest.parse import (
    EVENT_FIELDS,
    EVENT_REQUIRED,
    CampaignRef,
    Reject,
    check_campaign_header,
    header_checker,
    parse_campaign,
    parse_event,
)
from reporter.ingest.sources import (
    DataFile,
    RawRecord,
    RejectsWriter,
    csv_blocks,
    csv_line_record,
    data_format,
    read_csv,
    read_jsonl,
    read_list,
)
from reporter.ingest.store import (
    BATCH_SIZE,
    Batch,
    campaign_refs,
    check_kept_variants,
    store_batches,
    store_campaigns,
)


@dataclass
class LoadSummary:
    """What a load did: counts and the rejects file, as the CLI prints them."""

    path: Path | None = None
    loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects_path: Path | None = None
    reasons: dict[str, int] = field(default_factory=dict)


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
        for record in _records(data, fmt, check_campaign_header(path), multiline=True):
            try:
                if record.fields is None:
                    raise Reject(record.problem or "unreadable record")
                row, variants = parse_campaign(record.fields)
                check_kept_variants(engine, stored.get(row["campaign_id"]), row, variants)
            except Reject as exc:
                _reject(summary, rejects, record, str(exc))
                continue
            parsed[row["campaign_id"]] = (row, variants)
    summary.loaded = store_campaigns(engine, parsed.values())
    summary.rejects_path = rejects.close()
    return summary


def _reject(summary: LoadSummary, rejects: RejectsWriter, record: RawRecord, reason: str) -> None:
    rejects.write(record, reason)
    summary.rejected += 1
    kind = reason.split(":")[0].split(" (")[0]
    summary.reasons[kind] = summary.reasons.get(kind, 0) + 1


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
    check = header_checker(path, EVENT_FIELDS, EVENT_REQUIRED)
    with DataFile(path) as data:
        known = Combinations()

        def valid(record: RawRecord) -> dict[str, Any] | None:
            try:
                if record.fields is None:
                    raise Reject(record.problem or "unreadable record")
                return parse_event(record.fields, campaigns)
            except Reject as exc:
                _reject(summary, rejects, record, str(exc))
                return None

        def records() -> Iterator[Piece]:
            """(rows, origin) in the file's order: a block of CSV lines validated at once, else one record's
            row."""
            if fmt != "csv":
                for record in read_jsonl(data):
                    row = valid(record)
                    if row is not None:
                        yield row, record
                return
            for header, start, lines in csv_blocks(data, check):
                rows = block_rows(header, lines, campaigns, known)
                if rows is not None:
                    yield rows, (start, lines)
                    continue
                for lineno, line in enumerate(lines, start=start):
                    line_record = csv_line_record(header, lineno, line)
                    row = None if line_record is None else valid(line_record)
                    if row is not None:
                        yield row, line_record

        def batch_done() -> None:
            if progress is not None:
                progress(data.bytes_read, data.size)

        def refused(batch: Batch, index: int, reason: str) -> None:
            origin, at = batch.origin(index)
            if not isinstance(origin, RawRecord):
                start, lines = origin
                origin = RawRecord(start + at, lines[at], None)
            _reject(summary, rejects, origin, reason)

        def expected(first_rows: int) -> int:
            """The file's events, by the bytes its first batch took."""
            return first_rows * data.size // max(data.bytes_used, 1)

        try:
            batches = _batches(records(), known, batch_size, batch_done)
            summary.loaded, summary.duplicates = store_batches(engine, batches, on_batch, refused, expected)
        finally:
            summary.rejects_path = rejects.close()
    return summary


def store_event_records(
    engine: Engine,
    records: Iterable[dict[str, str]],
    campaigns: dict[str, CampaignRef],
    batch_size: int = BATCH_SIZE,
    expected: int = 0,
) -> tuple[int, int]:
    """Store event records of text fields made by code (the demo generator) by the loader's fast path: a block
    at a time as CSV lines would be, record by record where a block holds anything else. A record that
    breaks the contract raises Reject; returns (loaded, duplicates). `expected`: about how many records come
    (store_batches' choice of building the indexes at the end)."""
    known = Combinations()
    fields = list(EVENT_FIELDS)

    def pieces() -> Iterator[Piece]:
        source = iter(records)
        while block := list(islice(source, 1_000)):
            lines = [",".join([r.get(f) or "" for f in fields]) + "\n" for r in block]
            rows = block_rows(fields, lines, campaigns, known)
            if rows is not None:
                yield rows, None
            else:
                yield from ((parse_event(record, campaigns), None) for record in block)

    return store_batches(engine, _batches(pieces(), known, batch_size), expected=lambda first_rows: expected)


Piece = tuple[list[tuple[Any, ...]] | dict[str, Any], Any]


def _batches(
    pieces: Iterable[Piece], known: Combinations, batch_size: int, batch_done: Callable[[], None] | None = None
) -> Iterator[Batch]:
    """Batches of `batch_size` rows from pieces in order: a row as parse_event returns it with its origin, or a
    block's rows with its (first line number, lines) or None; a block is split where it straddles two
    batches. `batch_done()` after each batch is taken."""
    batch = Batch(known)
    for rows, origin in pieces:
        if isinstance(rows, dict):
            batch.add_row(rows, origin)
        else:
            while len(batch.rows) + len(rows) > batch_size:
                take = batch_size - len(batch.rows)
                batch.add(rows[:take], None if origin is None else (origin[0], origin[1][:take]))
                yield batch
                if batch_done is not None:
                    batch_done()
                batch = Batch(known)
                rows, origin = rows[take:], None if origin is None else (origin[0] + take, origin[1][take:])
            batch.add(rows, origin)
        if len(batch.rows) >= batch_size:
            yield batch
            if batch_done is not None:
                batch_done()
            batch = Batch(known)
    if batch.rows:
        yield batch
        if batch_done is not None:
            batch_done()
