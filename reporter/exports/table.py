"""The tidy table model of the exports: typed columns, rows of plain Python values, checked on construction.

A `Table` is one kind of observation (a campaign, a trend bucket, a variant),
one row per observation and one `Column` per variable. The writers
(`to_csv`, `csv_zip`, `to_xlsx`) take any tables built with it, the
campaign's or others.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

Value = int | float | str | bool | date | datetime | None
"""What a cell holds: datetime is a date subclass, bool an int subclass; the kinds below tell them apart."""

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
RESERVED = "columns"  # the name of the table that describes the others (columns.csv, the `columns` sheet)


class Kind(StrEnum):
    """What a column holds, which decides its Python type and how the writers format it."""

    COUNT = "count"  # int: a number of events or users
    NUMBER = "number"  # int or float: anything else numeric (hours, p-values, probabilities 0-1, estimates)
    RATE = "rate"  # int or float on the 0-100 scale, unrounded: a percentage or a difference in percentage points
    MONEY = "money"  # int or float in the campaign's currency
    DATE = "date"  # datetime.date (never a datetime)
    DATETIME = "datetime"  # datetime.datetime, aware or naive (local wall-clock time)
    TEXT = "text"  # str
    BOOL = "bool"  # bool


def _fits(kind: Kind, value: Value) -> bool:
    """Whether a non-None value has the Python type of its column's kind."""
    if kind is Kind.COUNT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in (Kind.NUMBER, Kind.RATE, Kind.MONEY):
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if kind is Kind.DATE:
        return isinstance(value, date) and not isinstance(value, datetime)
    if kind is Kind.DATETIME:
        return isinstance(value, datetime)
    if kind is Kind.TEXT:
        return isinstance(value, str)
    return isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Column:
    """One variable of a table.

    `key` is the machine name (the CSV header, snake_case), `title` the
    human header of the spreadsheet, `description` what the column holds,
    `figure` the key of docs/figures.md it comes from (`totals.sent`,
    `trend.*.sent`), None for columns that are not figures of the stats.
    """

    key: str
    title: str
    kind: Kind
    description: str
    figure: str | None = None

    def __post_init__(self) -> None:
        if not NAME.match(self.key):
            raise ValueError(f"column key {self.key!r}: lower case letters, digits and _ only")
        if not self.title.strip() or not self.description.strip():
            raise ValueError(f"column {self.key!r} needs a title and a description")
        Kind(self.kind)  # a ValueError for anything else


@dataclass(frozen=True, slots=True)
class Table:
    """Rows of values under typed columns; every row as long as the columns, every value of its column's kind."""

    name: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Value, ...], ...]

    def __post_init__(self) -> None:
        if not NAME.match(self.name) or len(self.name) > 31:
            raise ValueError(f"table name {self.name!r}: at most 31 lower case letters, digits and _")
        keys = [c.key for c in self.columns]
        if len(set(keys)) != len(keys):
            raise ValueError(f"table {self.name!r}: repeated column keys")
        if len({c.title for c in self.columns}) != len(keys):  # the spreadsheet's header names the columns
            raise ValueError(f"table {self.name!r}: repeated column titles")
        for number, row in enumerate(self.rows, 1):
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.name!r}, row {number}: {len(row)} values for {len(keys)} columns")
            for column, value in zip(self.columns, row, strict=True):
                if value is not None and not _fits(column.kind, value):
                    raise ValueError(
                        f"table {self.name!r}, row {number}, column {column.key!r}: "
                        f"{value!r} is not a {column.kind} value"
                    )

    @classmethod
    def of(cls, name: str, columns: Sequence[Column], rows: Iterable[Sequence[Value]]) -> Table:
        """A table from any sequences (stored as tuples)."""
        return cls(name, tuple(columns), tuple(tuple(row) for row in rows))

    def values(self, key: str) -> list[Value]:
        """The column `key`, top to bottom."""
        index = [c.key for c in self.columns].index(key)
        return [row[index] for row in self.rows]

    def records(self) -> list[dict[str, Value]]:
        """The rows as dicts keyed by column key."""
        keys = [c.key for c in self.columns]
        return [dict(zip(keys, row, strict=True)) for row in self.rows]


COLUMNS_COLUMNS = (
    Column("table", "Table", Kind.TEXT, "The table (CSV file name without .csv, or sheet name)"),
    Column("column", "Column", Kind.TEXT, "The column's key: the CSV header"),
    Column("title", "Title", Kind.TEXT, "The column's header in the spreadsheet"),
    Column(
        "kind",
        "Kind",
        Kind.TEXT,
        "count, number, rate (0-100: a percentage or percentage points), money, date, datetime, text or bool",
    ),
    Column(
        "figure",
        "Figure",
        Kind.TEXT,
        "The key of the figure in `reporter stats --json`, as docs/figures.md writes it; empty for other columns",
    ),
    Column("description", "Description", Kind.TEXT, "What the column holds"),
)


def columns_table(tables: Sequence[Table]) -> Table:
    """The table describing every column of `tables`: one row per (table, column)."""
    names = [t.name for t in tables]
    if RESERVED in names or len(set(names)) != len(names):
        raise ValueError(f"table names must be unique and not {RESERVED!r}: {names}")
    rows = [(t.name, c.key, c.title, str(c.kind), c.figure, c.description) for t in tables for c in t.columns]
    return Table.of(RESERVED, COLUMNS_COLUMNS, rows)
