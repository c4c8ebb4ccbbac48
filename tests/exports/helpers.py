"""Checking exported tables against the `stats --json` document, and reading the CSV and XLSX back.

`assert_covers` walks every leaf of the document and finds the one cell that
holds it (by the column's `figure` and the row's identifying values), then
checks that no figure cell was left unvisited: a key the document gains
without a column fails here, and so does a cell the tables invent.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import openpyxl

from reporter.exports import Column, Kind, Table

ROW_IDS = {"variants": "variant", "errors_by_code": "code", "trend.*": "bucket"}  # lists: what names an item
DATA_KEYED = {"split.os": "os", "split.device": "device", "variants.channels": "channel"}  # maps keyed by data


@dataclass(frozen=True)
class Leaf:
    form: str  # as docs/figures.md writes the key: `trend.*.sent`, `variants.channels.*.ctr`
    value: Any
    ids: dict[str, Any] = field(default_factory=dict)  # the row: {"variant": "B", "channel": "push"}
    table: str | None = None  # trend_<granularity>


def leaves(node: Any, form: str = "", ids: dict[str, Any] | None = None, table: str | None = None) -> Iterator[Leaf]:
    """Every leaf of a stats document (a null object is a leaf too)."""
    ids = ids or {}
    if form in DATA_KEYED:
        for key, value in node.items():
            sub = {**ids, DATA_KEYED[form]: key}
            if isinstance(value, dict):
                yield from leaves(value, f"{form}.*", sub, table)
            else:
                yield Leaf(form, value, sub, table)
    elif isinstance(node, dict):
        for key, value in node.items():
            if form == "trend":
                yield from leaves(value, "trend.*", ids, f"trend_{key}")
            else:
                yield from leaves(value, f"{form}.{key}" if form else key, ids, table)
    elif isinstance(node, list):
        id_key = ROW_IDS[form]  # a KeyError: a new list in the document, say here what names its items
        for item in node:
            yield from leaves(item, form, {**ids, id_key: item[id_key]}, table)
    else:
        yield Leaf(form, node, ids, table)


@dataclass(frozen=True)
class Frame:
    """A table as read from somewhere: its columns (with their figures) and its rows keyed by column key."""

    name: str
    columns: Sequence[Column]
    rows: list[dict[str, Any]]


def frames(tables: Sequence[Table]) -> list[Frame]:
    return [Frame(t.name, t.columns, t.records()) for t in tables]


def expected(column: Column, value: Any) -> Any:
    """A document value as the table holds it."""
    if value is not None and column.kind is Kind.DATETIME:
        return datetime.fromisoformat(value)
    if value is not None and column.kind is Kind.TEXT:
        return str(value)
    return value


def same(column: Column, want: Any, got: Any) -> bool:
    """Exactly equal, and of the kind's Python type."""
    if want is None or got is None:
        return want is got
    if column.kind is Kind.COUNT:
        return type(got) is int and got == want
    if column.kind is Kind.BOOL:
        return type(got) is bool and got == want
    if column.kind is Kind.TEXT:
        return type(got) is str and got == want
    return type(got) is type(want) and got == want


def assert_covers(
    document: dict[str, Any], found: Sequence[Frame], equal: Callable[[Column, Any, Any], bool] = same
) -> int:
    """Every leaf of the document in exactly one cell, equal to it; every figure cell one leaf's. Returns the leaves."""
    visited: set[tuple[str, int, str]] = set()
    count = 0
    for leaf in leaves(document):
        count += 1
        hits = []
        for frame in found:
            if leaf.table is not None and frame.name != leaf.table:
                continue
            exact = [c for c in frame.columns if c.figure == leaf.form]
            nested = [c for c in frame.columns if c.figure and c.figure.startswith(leaf.form + ".")]
            keys = {c.key for c in frame.columns}
            if not exact and not nested:
                continue
            assert set(leaf.ids) <= keys, f"{leaf.form}: table {frame.name} lacks the row ids {sorted(leaf.ids)}"
            for number, row in enumerate(frame.rows):
                if any(row[k] != v for k, v in leaf.ids.items()):
                    continue
                for column in exact:
                    hits.append((frame.name, number, column.key))
                    assert equal(column, expected(column, leaf.value), row[column.key]), (
                        f"{leaf.form} {leaf.ids}: {frame.name}.{column.key} is {row[column.key]!r}, not {leaf.value!r}"
                    )
                if leaf.value is None and nested:  # a null object: its figures' cells are empty (or no row)
                    for column in nested:
                        visited.add((frame.name, number, column.key))
                        assert row[column.key] is None, f"{leaf.form} is null but {frame.name}.{column.key} is not"
                    hits.append((frame.name, number, "*"))
        if leaf.value is None and not any(c.figure == leaf.form for f in found for c in f.columns):
            assert len(hits) <= 1, f"{leaf.form} {leaf.ids}: in {hits}"  # a null object may have no row at all
        else:
            assert len(hits) == 1, f"{leaf.form} {leaf.ids} = {leaf.value!r}: in {hits or 'no table'}"
        visited.update(hits)
    figure_cells = {
        (f.name, n, c.key) for f in found for c in f.columns if c.figure is not None for n in range(len(f.rows))
    }
    assert sorted(figure_cells - visited) == [], "cells that hold no figure of the document"
    return count


# -- reading the files back ---------------------------------------------------------------------


def parse_csv_value(kind: Kind, text: str) -> Any:
    """A CSV cell back as the Python value of its kind."""
    if text == "":
        return None
    if kind is Kind.COUNT:
        return int(text)
    if kind in (Kind.NUMBER, Kind.RATE, Kind.MONEY):
        number = float(text)
        return int(text) if number.is_integer() and text.lstrip("-").isdigit() else number
    if kind is Kind.DATE:
        return date.fromisoformat(text)
    if kind is Kind.DATETIME:
        return datetime.fromisoformat(text)
    if kind is Kind.BOOL:
        return {"true": True, "false": False}[text]
    return text


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def xlsx_rows(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    """Every sheet of a workbook as rows of cell values, header first."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def xlsx_frames(data: bytes) -> list[Frame]:
    """The sheets as frames, their columns (keys, kinds, figures) read from the workbook's `columns` sheet."""
    sheets = xlsx_rows(data)
    header, *described = sheets.pop("columns")
    assert header == ("Table", "Column", "Title", "Kind", "Figure", "Description")
    out = []
    for name, (titles, *rows) in sheets.items():
        columns = [
            Column(key, title, Kind(kind), description, figure)
            for table, key, title, kind, figure, description in described
            if table == name
        ]
        assert tuple(c.title for c in columns) == titles, name
        out.append(Frame(name, columns, [dict(zip([c.key for c in columns], row, strict=True)) for row in rows]))
    return out


def xlsx_same(column: Column, want: Any, got: Any) -> bool:
    """Equal as Excel holds it: a date as midnight, wall-clock times without offset, 16 significant digits."""
    if want is None or got is None:
        return want is got
    if isinstance(want, datetime):
        return type(got) is datetime and got == want.replace(tzinfo=None)
    if isinstance(want, date):
        return type(got) is datetime and got == datetime(want.year, want.month, want.day)
    if isinstance(want, float) and column.kind is not Kind.COUNT:
        # Excel keeps 16 significant digits; a whole float comes back as an int
        return isinstance(got, int | float) and not isinstance(got, bool) and math.isclose(got, want, rel_tol=1e-15)
    return same(column, want, got)
