"""Tables as one XLSX workbook (XlsxWriter): a sheet per table, typed cells with number formats, a columns sheet.

XlsxWriter only writes (nothing to read back or to keep in step with an
existing file), in a small dependency-free package; `in_memory` keeps the
temporary XML parts in memory, so it writes no file of its own.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]  # ships neither types nor py.typed

from reporter.exports.stamp import FIXED_TIME, utc_naive
from reporter.exports.table import Column, Kind, Table, Value, columns_table

NUMBER_FORMATS = {
    Kind.COUNT: "#,##0",
    Kind.RATE: "0.00",  # the 0-100 value as it is, the title says "(%)" or "(pp)"
    Kind.MONEY: "#,##0.00",
    Kind.DATE: "yyyy-mm-dd",
    Kind.DATETIME: "yyyy-mm-dd hh:mm:ss",
}
MIN_WIDTH, MAX_WIDTH, DESCRIPTION_WIDTH = 8, 60, 90


def _shown(column: Column, value: Value) -> str:
    """Roughly what Excel shows for a value, to size its column."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "FALSE"
    if isinstance(value, datetime):
        return "0000-00-00 00:00:00"
    if isinstance(value, date):
        return "0000-00-00"
    if column.kind is Kind.COUNT:
        return f"{value:,}"
    if isinstance(value, int | float) and column.kind in (Kind.RATE, Kind.MONEY):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def _width(column: Column, table: Table, index: int) -> float:
    longest = max([len(column.title) + 2, *(len(_shown(column, row[index])) for row in table.rows)])
    limit = DESCRIPTION_WIDTH if column.key == "description" else MAX_WIDTH
    return float(min(max(longest + 1, MIN_WIDTH), limit))


def _write(sheet: Any, row: int, col: int, column: Column, value: Value, fmt: Any) -> None:
    """One cell by its column's kind; text always as a string (never a formula, a number or a link)."""
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value, fmt)
    elif isinstance(value, datetime):
        # Excel has no time zones: the wall-clock time in the value's own offset (the campaign sheet has the zone).
        sheet.write_datetime(row, col, value.replace(tzinfo=None), fmt)
    elif isinstance(value, date):
        sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), fmt)
    elif isinstance(value, int | float):
        sheet.write_number(row, col, value, fmt)
    else:
        sheet.write_string(row, col, value, fmt)


def _sheet(book: Any, table: Table, formats: dict[Kind, Any], header: Any, wrap: Any) -> None:
    sheet = book.add_worksheet(table.name)
    for col, column in enumerate(table.columns):
        sheet.write_string(0, col, column.title, header)
        fmt = wrap if column.key == "description" else formats.get(column.kind)
        sheet.set_column(col, col, _width(column, table, col), fmt)
        for row, values in enumerate(table.rows, 1):
            _write(sheet, row, col, column, values[col], fmt)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, len(table.rows), len(table.columns) - 1)


def to_xlsx(tables: Sequence[Table], created: datetime = FIXED_TIME) -> bytes:
    """The workbook: one sheet per table (named as the table), then `columns` describing every column.

    Header row bold and frozen, with a filter; the same tables and `created`
    (the document's creation time, see `stamp.source_date`) give the same bytes.
    """
    buffer = io.BytesIO()
    options = {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False}
    book = xlsxwriter.Workbook(buffer, options)
    book.set_properties({"created": utc_naive(created)})
    formats = {kind: book.add_format({"num_format": pattern}) for kind, pattern in NUMBER_FORMATS.items()}
    header = book.add_format({"bold": True})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    for table in [*tables, columns_table(tables)]:
        _sheet(book, table, formats, header, wrap)
    book.close()
    return buffer.getvalue()
