"""Validating a block of CSV event lines a column at a time: the loader's fast path.

A block of a file's lines that keeps the contract throughout (no quotes, no NUL,
no bytes that are not UTF-8, every line its header's number of fields, every
record valid) becomes the rows to store in one pass per column: the fields that
take few values (campaign, variant, event, platform, device type, channel, error
code) are validated once per distinct combination, the others with C-speed
list operations. Anything else in a block (one bad record, a quoted field, a
blank line) returns None, and the loader validates that block record by record,
with each reject's reason. Both paths return exactly the same rows.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from itertools import repeat
from operator import attrgetter
from typing import Any

from reporter.ingest.parse import (
    _CONVERSION,
    COMBINATION_COLUMNS,
    COMBINATION_FIELDS,
    CampaignRef,
    Combination,
    combination_of,
)
from reporter.timezones import to_us

# A stored row's values: the fields that vary per record, then those of its combination (below).
ROW_COLUMNS = ("event_id", "user_id", "device_id", "ts", "revenue")
STAGE_COLUMNS = ROW_COLUMNS + COMBINATION_COLUMNS
# What sends a block to the record-by-record path besides a quote, NUL or a bare CR: a lone surrogate (bytes
# that are not UTF-8).
_SURROGATE = re.compile("[\ud800-\udfff]")
_FIELD_LIMIT = 131_072  # the csv module's default field size limit (sources.py judges longer lines with it)
_TZINFO = attrgetter("tzinfo")
_fromisoformat = datetime.fromisoformat


class Combinations:
    """The distinct combinations of a load, numbered: a stored row carries its combination's number, and the
    database joins the values back (half the values to hand over per row)."""

    def __init__(self) -> None:
        self.ids: dict[Combination, int] = {}
        self.values: list[Combination] = []
        self.by_fields: dict[tuple[str, ...], int] = {}  # a CSV block's raw fields, validated before

    def id_of(self, combination: Combination) -> int:
        number = self.ids.get(combination)
        if number is None:
            number = self.ids[combination] = len(self.values)
            self.values.append(combination)
        return number

    def row(self, stored: tuple[Any, ...]) -> tuple[Any, ...]:
        """A stored row's values in STAGE_COLUMNS order."""
        combination: Combination = self.values[stored[-1]]
        return (*stored[:-1], *combination)


def _optional(values: list[str], limit: int) -> list[str | None] | None:
    """A column of optional text (event_id, device_id): stripped, empty as None; None if one is too long."""
    if values and max(map(len, values)) > limit:
        return None
    return [v.strip() or None for v in values]


def _timestamps(values: list[str]) -> list[int] | None:
    try:
        stamps = list(map(_fromisoformat, [v.strip() for v in values]))
    except ValueError:
        return None
    if None in set(map(_TZINFO, stamps)):
        stamps = [s if s.tzinfo is not None else s.replace(tzinfo=UTC) for s in stamps]
    return list(map(to_us, stamps))


def _revenues(values: list[str], ids: list[int], known: Combinations) -> list[float | None] | None:
    revenues: list[float | None] = [None] * len(values)
    for i, text in enumerate(values):
        if text and text.strip():
            try:
                revenue = float(text)
            except ValueError:
                return None
            if known.values[ids[i]][2] != _CONVERSION or not math.isfinite(revenue) or revenue < 0:
                return None
            revenues[i] = revenue
    return revenues


def block_rows(
    header: list[str], lines: list[str], campaigns: dict[str, CampaignRef], known: Combinations
) -> list[tuple[Any, ...]] | None:
    """The rows of a block of CSV lines, one per line: ROW_COLUMNS' values and the number of the line's
    combination in `known`; None unless every line is a valid record of plain fields."""
    text = "".join(lines)
    if '"' in text or "\x00" in text or (not text.isascii() and _SURROGATE.search(text) is not None):
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
    text = text.removesuffix("\n")
    width = len(header)
    bodies = text.split("\n")
    if len(bodies) != len(lines) or set(map(str.count, bodies, repeat(","))) != {width - 1}:
        return None  # a blank line, or a line of another number of fields
    if len(text) > _FIELD_LIMIT and max(map(len, bodies)) > _FIELD_LIMIT:
        return None
    flat = text.replace("\n", ",").split(",")
    columns = {name: flat[k::width] for k, name in enumerate(header)}
    absent = [""] * len(bodies)

    def column(name: str) -> list[str]:
        return columns.get(name, absent)

    keys = list(zip(*(column(name) for name in COMBINATION_FIELDS), strict=True))
    numbers = known.by_fields
    for key in set(keys).difference(numbers):
        combination = combination_of(key, campaigns)
        if combination is None:
            return None
        numbers[key] = known.id_of(combination)
    ids = list(map(numbers.__getitem__, keys))
    users = [u.strip() for u in column("user_id")]
    lengths = set(map(len, users))
    if 0 in lengths or max(lengths) > 200:
        return None
    event_ids, device_ids = _optional(column("event_id"), 200), _optional(column("device_id"), 200)
    stamps = _timestamps(column("ts"))
    revenues = _revenues(column("revenue"), ids, known) if "revenue" in columns else [None] * len(bodies)
    if event_ids is None or device_ids is None or stamps is None or revenues is None:
        return None
    return list(zip(event_ids, users, device_ids, stamps, revenues, ids, strict=True))
