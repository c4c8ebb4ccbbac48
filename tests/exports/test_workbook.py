"""to_xlsx read back with openpyxl: the stats document cell by cell, typed cells, formats, text never a formula."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from reporter.exports import Column, Kind, Table, campaign_tables, source_date, to_xlsx
from tests.exports.helpers import assert_covers, xlsx_frames, xlsx_rows, xlsx_same

FORMATS = {
    Kind.COUNT: "#,##0",
    Kind.RATE: "0.00",
    Kind.MONEY: "#,##0.00",
    Kind.DATE: "yyyy-mm-dd",
    Kind.DATETIME: "yyyy-mm-dd hh:mm:ss",
}


def test_the_workbook_holds_the_json_cell_by_cell(document: dict[str, Any]) -> None:
    """Read with the columns sheet's keys and figures only: the workbook describes itself."""
    assert assert_covers(document, xlsx_frames(to_xlsx(campaign_tables(document))), xlsx_same) > 250


def test_every_cell_has_its_kinds_type_and_number_format(document: dict[str, Any], tmp_path: Path) -> None:
    tables = campaign_tables(document)
    path = tmp_path / "stats.xlsx"
    path.write_bytes(to_xlsx(tables))
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [t.name for t in tables] + ["columns"]
    for table in tables:
        sheet = book[table.name]
        assert sheet.freeze_panes == "A2" and sheet.max_row == len(table.rows) + 1
        for col, column in enumerate(table.columns, 1):
            head = sheet.cell(1, col)
            assert (head.value, head.font.b) == (column.title, True)
            letter = head.column_letter
            assert 8 <= sheet.column_dimensions[letter].width <= 61
            for row, values in enumerate(table.rows, 2):
                cell, value = sheet.cell(row, col), values[col - 1]
                assert xlsx_same(column, value, cell.value), (table.name, column.key, value, cell.value)
                if value is None:
                    assert cell.data_type == "n" and cell.value is None
                elif column.kind in (Kind.COUNT, Kind.NUMBER, Kind.RATE, Kind.MONEY):
                    types = (int,) if column.kind is Kind.COUNT else (int, float)
                    assert cell.data_type == "n" and type(cell.value) in types
                    assert cell.number_format == FORMATS.get(column.kind, "General")
                elif column.kind in (Kind.DATE, Kind.DATETIME):
                    assert cell.is_date and cell.number_format == FORMATS[column.kind]
                elif column.kind is Kind.BOOL:
                    assert cell.data_type == "b"
                else:
                    assert cell.data_type == "s"


def test_counts_come_back_as_ints_and_dates_as_dates(documents: dict[str, Any]) -> None:
    sheets = xlsx_rows(to_xlsx(campaign_tables(documents["single"])))
    header, *days = sheets["trend_daily"]
    assert header[:4] == ("Campaign", "Bucket", "Start (local)", "Sent")
    assert days[0][:4] == ("s", "2026-11-02", datetime(2026, 11, 2), 3)
    assert type(days[0][3]) is int and days[0][-1] is False
    campaign = dict(zip(*sheets["campaign"], strict=True))
    assert campaign["From"] == datetime(2026, 11, 2) and campaign["Conversion window (hours)"] == 24
    totals = dict(zip(*sheets["totals"], strict=True))
    assert totals["CTR (%)"] == pytest.approx(100 / 3) and totals["Revenue (USD)"] == 10


def test_text_that_looks_like_a_formula_a_number_or_a_link_stays_text() -> None:
    texts = ["=1+2", '=HYPERLINK("http://evil.test","x")', "+1", "-1", "@SUM(A1)", "0012", "https://example.test"]
    column = Column("name", "Name", Kind.TEXT, "a name")
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx([Table.of("names", [column], [[t] for t in texts])])))
    cells = [row[0] for row in book["names"].iter_rows(min_row=2)]
    assert [(c.value, c.data_type) for c in cells] == [(t, "s") for t in texts]
    assert all(c.hyperlink is None for c in cells)


def test_the_columns_sheet_describes_every_column(documents: dict[str, Any]) -> None:
    tables = campaign_tables(documents["demo_ab"])
    header, *rows = xlsx_rows(to_xlsx(tables))["columns"]
    assert header == ("Table", "Column", "Title", "Kind", "Figure", "Description")
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (t.name, c.key, c.title, str(c.kind)) for t in tables for c in t.columns
    ]
    assert all(r[5] for r in rows)
    assert ("totals", "sent", "Sent", "count", "totals.sent") in [r[:5] for r in rows]


def test_an_empty_campaign_gives_sheets_with_their_headers(documents: dict[str, Any]) -> None:
    sheets = xlsx_rows(to_xlsx(campaign_tables(documents["empty"])))
    assert sheets["split_os"] == [("Campaign", "Operating system", "Impressions")]
    assert sheets["variants"][0][:4] == ("Campaign", "Variant", "Name", "Baseline") and len(sheets["variants"]) == 1
    assert sheets["comparisons"][0][:3] == ("Campaign", "Variant", "Baseline")


def test_the_same_tables_give_the_same_bytes(documents: dict[str, Any]) -> None:
    first = to_xlsx(campaign_tables(documents["demo_ab"]))
    assert to_xlsx(campaign_tables(documents["demo_ab"])) == first
    assert to_xlsx(campaign_tables(documents["ab"])) != first
    assert openpyxl.load_workbook(io.BytesIO(first)).properties.created == datetime(1980, 1, 1)
    moment = source_date({"SOURCE_DATE_EPOCH": "1793491200"})
    assert moment == datetime(2026, 11, 1, tzinfo=UTC)
    stamped = to_xlsx(campaign_tables(documents["demo_ab"]), created=moment)
    assert stamped != first and stamped == to_xlsx(campaign_tables(documents["demo_ab"]), created=moment)
    assert openpyxl.load_workbook(io.BytesIO(stamped)).properties.created == datetime(2026, 11, 1)


@pytest.mark.parametrize("environ", [{}, {"SOURCE_DATE_EPOCH": ""}, {"SOURCE_DATE_EPOCH": "soon"}])
def test_without_a_usable_source_date_the_time_is_fixed(environ: dict[str, str]) -> None:
    assert source_date(environ) == datetime(1980, 1, 1, tzinfo=UTC)


def test_a_date_is_written_as_an_excel_date() -> None:
    column = Column("day", "Day", Kind.DATE, "a day")
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx([Table.of("days", [column], [[date(2026, 2, 28)]])])))["days"]
    assert sheet["A2"].is_date and sheet["A2"].value == datetime(2026, 2, 28)
