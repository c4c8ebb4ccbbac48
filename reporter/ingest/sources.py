"""Reading data files record by record: CSV, JSON Lines, YAML/JSON lists, gzip.

Every record comes with its line number and its raw text, so that a rejected
record can be written out unchanged. Bytes that are not UTF-8 are kept as they
are (surrogate escapes) and rejected per record rather than failing the file.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any

from reporter.errors import InputFileError

ENCODING = "utf-8"
ERRORS = "surrogateescape"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record of a file: where it starts, its text, and its fields or why they failed."""

    line: int
    text: str
    fields: dict[str, Any] | None
    problem: str | None = None


def data_format(path: Path) -> str:
    """The format of a file from its name: csv, jsonl or list (YAML/JSON)."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix, fmt in (
        (".csv", "csv"),
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".json", "list"),
        (".yaml", "list"),
        (".yml", "list"),
    ):
        if name.endswith(suffix):
            return fmt
    raise InputFileError(path, "unknown file type (expected .csv, .jsonl, .json or .yaml, optionally .gz)")


class _CountingReader(io.RawIOBase):
    """A binary reader that counts the bytes taken from the file on disk (for progress)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        self.bytes_read += n or 0
        return n or 0

    def tell(self) -> int:
        return self.bytes_read


class DataFile:
    """An open data file: text lines (gzip undone), with a byte counter for progress bars."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.size = path.stat().st_size
            raw = open(path, "rb")  # noqa: SIM115 - closed in close()
        except FileNotFoundError as exc:
            raise InputFileError(path, "no such file") from exc
        except IsADirectoryError as exc:
            raise InputFileError(path, "is a folder, not a file") from exc
        except OSError as exc:
            raise InputFileError(path, exc.strerror or str(exc)) from exc
        self._raw = raw
        self._counter = _CountingReader(raw)
        binary: IO[bytes] = io.BufferedReader(self._counter, 1 << 20)
        self._buffered = binary
        if path.name.lower().endswith(".gz"):
            binary = gzip.GzipFile(fileobj=binary, mode="rb")  # type: ignore[assignment]
        self.text = io.TextIOWrapper(binary, encoding=ENCODING, errors=ERRORS, newline="")

    @property
    def bytes_read(self) -> int:
        return self._counter.bytes_read

    @property
    def bytes_used(self) -> int:
        """The file's bytes read and used so far (bytes_read less those read ahead, which for a gzip file can
        hold many times the text used)."""
        return self._buffered.tell()

    def close(self) -> None:
        self.text.close()
        self._raw.close()

    def __enter__(self) -> DataFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lines(self) -> Iterator[str]:
        """The file's lines; a file that is not gzip or not text fails with one clear line."""
        try:
            yield from self.text
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InputFileError(self.path, f"cannot be read: {exc}") from exc


class _LineTap:
    """Feeds lines to the csv module and remembers them, to recover each record's raw text."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.taken: list[str] = []
        self.lineno = 0

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.lineno += 1
        self.taken.append(line)
        return line


def _has_surrogates(text: str) -> bool:
    try:
        text.encode(ENCODING)
    except UnicodeEncodeError:
        return True
    return False


def _csv_header(data: DataFile, reader: Iterator[list[str]], check_header: Callable[[list[str]], None]) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise InputFileError(data.path, "is empty (expected a CSV header line)") from None
    except csv.Error as exc:
        raise InputFileError(data.path, f"not a CSV file: {exc}") from exc
    header = [h.strip() for h in header]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    if _has_surrogates("".join(header)):
        raise InputFileError(data.path, "not a UTF-8 text file")
    check_header(header)
    return header


_FIELD_LIMIT = csv.field_size_limit()  # a longer line may hold a longer field: the csv module judges it
_CSV_SPECIAL = re.compile('["\r\n\x00]')


def _csv_record(header: list[str], start: int, text: str, row: list[str]) -> RawRecord | None:
    if not row or (len(row) == 1 and not row[0].strip()):
        return None  # blank line
    if _has_surrogates(text):
        return RawRecord(start, text, None, "not valid UTF-8")
    if len(row) != len(header):
        return RawRecord(start, text, None, f"malformed CSV line: expected {len(header)} fields, got {len(row)}")
    return RawRecord(start, text, {k: v for k, v in zip(header, row, strict=True) if v != ""})


def csv_blocks(
    data: DataFile, check_header: Callable[[list[str]], None], size: int = 1_000
) -> Iterator[tuple[list[str], int, list[str]]]:
    """A one-record-per-line CSV file (events) in blocks: (header, the block's first line number, its lines)."""
    lines = data.lines()
    header = _csv_header(data, csv.reader(lines, strict=True), check_header)
    start = 2
    while block := list(islice(lines, size)):
        yield header, start, block
        start += len(block)


def csv_line_record(header: list[str], lineno: int, line: str) -> RawRecord | None:
    """The record of one line of a one-record-per-line CSV file; None for a blank line."""
    body = line[:-1] if line.endswith("\n") else line
    body = body[:-1] if body.endswith("\r") else body
    # No quote, no line break, no NUL, no field over the limit: the csv module's split, 4x faster.
    if not _CSV_SPECIAL.search(body) and len(body) <= _FIELD_LIMIT:
        row = body.split(",") if body else []
    else:
        try:
            row = next(csv.reader((line,), strict=True), [])
        except csv.Error as exc:
            return RawRecord(lineno, line, None, f"malformed CSV line: {exc}")
    return _csv_record(header, lineno, line, row)


def read_csv(data: DataFile, check_header: Callable[[list[str]], None], multiline: bool = False) -> Iterator[RawRecord]:
    """Records of a CSV file with a header line; a bad header stops before any record.

    With `multiline` a quoted field may span lines (campaign texts); otherwise each
    line is one record, so that one stray quote costs one record, not the rest of
    the file (event files).
    """
    if not multiline:
        for header, start, block in csv_blocks(data, check_header):
            for lineno, line in enumerate(block, start=start):
                record = csv_line_record(header, lineno, line)
                if record is not None:
                    yield record
        return
    tap = _LineTap(data.lines())
    reader = csv.reader(tap, strict=True)
    header = _csv_header(data, reader, check_header)
    tap.taken.clear()
    while True:
        start = tap.lineno + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            text = "".join(tap.taken)
            tap.taken.clear()
            yield RawRecord(start, text, None, f"malformed CSV line: {exc}")
            continue
        text = "".join(tap.taken)
        tap.taken.clear()
        record = _csv_record(header, start, text, row)
        if record is not None:
            yield record


def read_jsonl(data: DataFile) -> Iterator[RawRecord]:
    """Records of a JSON Lines file, one object per line."""
    first = True
    for lineno, line in enumerate(data.lines(), start=1):
        if not line.strip():
            continue
        if _has_surrogates(line):
            if first:
                raise InputFileError(data.path, "not a UTF-8 text file")
            yield RawRecord(lineno, line, None, "not valid UTF-8")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            if first:
                raise InputFileError(data.path, f"not a JSON Lines file: line 1: {exc.msg}") from exc
            yield RawRecord(lineno, line, None, f"malformed JSON: {exc.msg}")
            continue
        first = False
        if not isinstance(obj, dict):
            yield RawRecord(lineno, line, None, "not a JSON object")
            continue
        yield RawRecord(lineno, line, obj)


def _json_list(data: DataFile, text: str) -> Iterator[RawRecord]:
    """Records of a JSON array, with the line each starts on. JSON's own parser: a `\\ud83c\\udf81` escape
    (what json.dump writes for an emoji by default) is one character, where YAML refuses it."""
    decoder = json.JSONDecoder()
    at = len(text) - len(text.lstrip())
    if not text.startswith("[", at):
        raise InputFileError(data.path, "expected a list of records")
    at += 1
    while True:
        at += len(text[at:]) - len(text[at:].lstrip())
        if text.startswith("]", at):
            break
        try:
            item, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise InputFileError(data.path, f"not valid JSON: {exc}") from None
        line = text.count("\n", 0, at) + 1
        raw = json.dumps(item, default=str, ensure_ascii=False) + "\n"
        yield RawRecord(line, raw, item) if isinstance(item, dict) else RawRecord(line, raw, None, "not an object")
        at = end + len(text[end:]) - len(text[end:].lstrip())
        if text.startswith(",", at):
            at += 1
        elif not text.startswith("]", at):
            raise InputFileError(data.path, f"not valid JSON: expected , or ] at line {text.count(chr(10), 0, at) + 1}")
    if text[at + 1 :].strip():
        raise InputFileError(data.path, "not valid JSON: extra data after the list")


def read_list(data: DataFile) -> Iterator[RawRecord]:
    """Records of a YAML or JSON file holding a list of objects (small files: read whole)."""
    import yaml

    text = "".join(data.lines())
    if _has_surrogates(text):
        raise InputFileError(data.path, "not a UTF-8 text file")
    if data.path.name.lower().removesuffix(".gz").endswith(".json"):
        yield from _json_list(data, text)
        return
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        nodes = yaml.compose(text, Loader=loader)
        items = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise InputFileError(data.path, f"not valid YAML/JSON: {exc}".splitlines()[0]) from exc
    if items is None or nodes is None:  # nodes is None only for an empty text, whose items are None
        return
    if not isinstance(items, list):
        raise InputFileError(data.path, "expected a list of records")
    for node, item in zip(nodes.value, items, strict=True):
        line = node.start_mark.line + 1
        raw = json.dumps(item, default=str, ensure_ascii=False) + "\n"
        if not isinstance(item, dict):
            yield RawRecord(line, raw, None, "not an object")
        else:
            yield RawRecord(line, raw, item)


def _remove_orphans(path: Path) -> None:
    """Delete the temporary rejects files of loads that died (kill -9) before publishing them."""
    for tmp in path.parent.glob(f"{path.name}.*.tmp"):
        pid = tmp.name[len(path.name) + 1 : -len(".tmp")]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except PermissionError:
            pass  # alive, another user's


class RejectsWriter:
    """Writes rejected records, unchanged, beside the input; replaced atomically at the end."""

    def __init__(self, source: Path, fmt: str) -> None:
        suffix = ".rejects.csv" if fmt == "csv" else ".rejects.jsonl"
        self.path = source.with_name(source.name + suffix)
        # Per process: two loads of the same file must not write into one temporary file.
        self._tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        _remove_orphans(self.path)
        self._fmt = fmt
        self._file: IO[str] | None = None
        self._csv: Any = None
        self.count = 0

    def write(self, record: RawRecord, reason: str) -> None:
        if self._file is None:
            self._file = open(self._tmp, "w", encoding=ENCODING, errors=ERRORS, newline="")  # noqa: SIM115 - closed in close()
            if self._fmt == "csv":
                self._csv = csv.writer(self._file)
                self._csv.writerow(["line", "reason", "record"])
        self.count += 1
        text = record.text.rstrip("\r\n")
        if self._csv is not None:
            self._csv.writerow([record.line, reason, text])
        else:
            self._file.write(
                json.dumps({"line": record.line, "reason": reason, "record": text}, ensure_ascii=False) + "\n"
            )

    def close(self) -> Path | None:
        """Publish the rejects file (or remove a stale one when nothing was rejected)."""
        if self._file is None:
            self.path.unlink(missing_ok=True)
            return None
        self._file.flush()
        self._file.close()
        self._tmp.replace(self.path)
        return self.path
