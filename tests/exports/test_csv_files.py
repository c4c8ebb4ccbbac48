"""to_csv, csv_zip and card_csv: plain CSV in full precision that reads back to the same values."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from reporter.exports import Column, Kind, Table, campaign_tables, card_csv, card_table, csv_zip, to_csv
from tests.exports.helpers import assert_covers, frames, parse_csv_value, read_csv


def read_back(table: Table, text: str) -> list[tuple[Any, ...]]:
    """The CSV's rows as Python values of the table's kinds, after checking its header."""
    header, *rows = read_csv(text)
    assert header == [c.key for c in table.columns]
    return [tuple(parse_csv_value(c.kind, cell) for c, cell in zip(table.columns, row, strict=True)) for row in rows]


def test_every_table_round_trips_through_csv(document: dict[str, Any]) -> None:
    for table in campaign_tables(document):
        assert read_back(table, to_csv(table)) == list(table.rows), table.name


def test_csv_writes_plain_values() -> None:
    columns = [
        Column("n", "N", Kind.COUNT, "n"),
        Column("r", "R", Kind.RATE, "r"),
        Column("d", "D", Kind.DATE, "d"),
        Column("t", "T", Kind.DATETIME, "t"),
        Column("b", "B", Kind.BOOL, "b"),
        Column("s", "S", Kind.TEXT, "s"),
    ]
    minus_four = timezone(timedelta(hours=-4))
    table = Table.of(
        "t",
        columns,
        [
            [1234567, 100 / 3, date(2026, 11, 2), datetime(2026, 11, 1, 1, tzinfo=minus_four), True, 'a "b", c'],
            [None, None, None, None, False, "=1+2\nline"],
        ],
    )
    assert to_csv(table) == (
        "n,r,d,t,b,s\r\n"
        '1234567,33.333333333333336,2026-11-02,2026-11-01T01:00:00-04:00,true,"a ""b"", c"\r\n'
        ',,,,false,"=1+2\nline"\r\n'
    )
    assert read_back(table, to_csv(table)) == list(table.rows)


def test_an_empty_table_is_its_header_line(documents: dict[str, Any]) -> None:
    tables = {t.name: t for t in campaign_tables(documents["empty"])}
    assert to_csv(tables["variants"]).startswith("campaign_id,variant,name,baseline,sent,")
    assert to_csv(tables["split_os"]) == "campaign_id,os,impressions\r\n"


def test_csv_zip_holds_each_table_then_columns(documents: dict[str, Any], tmp_path: Path) -> None:
    tables = campaign_tables(documents["ab"])
    path = tmp_path / "ab.zip"
    path.write_bytes(csv_zip(tables))
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names == [f"{t.name}.csv" for t in tables] + ["columns.csv"]
        for table in tables:
            assert archive.read(f"{table.name}.csv").decode("utf-8") == to_csv(table)
        header, *described = read_csv(archive.read("columns.csv").decode("utf-8"))
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())
    assert header == ["table", "column", "title", "kind", "figure", "description"]
    assert [(row[0], row[1]) for row in described] == [(t.name, c.key) for t in tables for c in t.columns]
    assert all(row[5] for row in described)
    ctr = next(r for r in described if r[:2] == ["totals", "ctr"])
    assert ctr[2:5] == ["CTR (%)", "rate", "totals.ctr"]


def test_csv_zip_is_the_same_bytes_for_the_same_data(documents: dict[str, Any]) -> None:
    first = csv_zip(campaign_tables(documents["demo_ab"]))
    assert csv_zip(campaign_tables(documents["demo_ab"])) == first
    assert csv_zip(campaign_tables(documents["demo_single"])) != first
    stamped = csv_zip(campaign_tables(documents["demo_ab"]), created=datetime(2026, 11, 2, 12, 30, tzinfo=UTC))
    assert stamped != first
    with zipfile.ZipFile(io.BytesIO(stamped)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2026, 11, 2, 12, 30, 0)}


def test_card_csv_is_one_row_of_the_headline_figures(document: dict[str, Any]) -> None:
    card = card_table(document)
    text = card_csv(document)
    (row,) = read_back(card, text)
    assert row == card.rows[0]
    assert text.startswith("campaign_id,period_from,period_to,timezone,currency,qualified,sent,")
    # The card holds exactly these parts of the document, each figure once.
    headline = {
        "campaign": {k: document["campaign"][k] for k in ("id", "currency")},
        **{k: document[k] for k in ("period", "totals", "errors_by_category", "control")},
    }
    assert_covers(headline, frames([card]))
