"""Tables as CSV text, and a deterministic ZIP of them with columns.csv describing every column."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from datetime import date, datetime

from reporter.exports.stamp import FIXED_TIME, utc_naive
from reporter.exports.table import Table, Value, columns_table


def csv_value(value: Value) -> str:
    """A cell as CSV text: numbers in full precision (repr), None empty, booleans true/false, dates ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_csv(table: Table) -> str:
    """The table as CSV (RFC 4180, CRLF line ends): a header row of column keys, then one line per row."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.key for c in table.columns])
    writer.writerows([csv_value(v) for v in row] for row in table.rows)
    return out.getvalue()


def csv_zip(tables: Sequence[Table], created: datetime = FIXED_TIME) -> bytes:
    """A ZIP of `<table>.csv` (UTF-8) for each table, in order, then `columns.csv`; the same tables give the same bytes.

    `created` is every entry's timestamp, written in UTC (see `stamp.source_date`).
    """
    stamp = utc_naive(created).timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in [*tables, columns_table(tables)]:
            info = zipfile.ZipInfo(f"{table.name}.csv", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever the machine, so the bytes do not depend on it
            info.external_attr = 0o644 << 16
            archive.writestr(info, to_csv(table).encode("utf-8"))
    return buffer.getvalue()
