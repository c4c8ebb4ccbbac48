"""The table model refuses what a writer could not write faithfully."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from reporter.exports import Column, Kind, Table, columns_table

COUNT = Column("n", "N", Kind.COUNT, "a count")


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (Kind.COUNT, "3"),
        (Kind.COUNT, True),
        (Kind.COUNT, 3.0),
        (Kind.RATE, float("nan")),
        (Kind.NUMBER, float("inf")),
        (Kind.MONEY, False),
        (Kind.DATE, datetime(2026, 11, 2, tzinfo=UTC)),
        (Kind.DATETIME, date(2026, 11, 2)),
        (Kind.TEXT, 1),
        (Kind.BOOL, 1),
    ],
)
def test_table_refuses_a_value_of_another_kind(kind: Kind, value: object) -> None:
    with pytest.raises(ValueError, match="is not a"):
        Table.of("t", [Column("x", "X", kind, "x")], [[value]])


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (Kind.COUNT, 3),
        (Kind.NUMBER, 3),
        (Kind.RATE, 12.5),
        (Kind.MONEY, 0.0),
        (Kind.DATE, date(2026, 11, 2)),
        (Kind.DATETIME, datetime(2026, 11, 2)),
        (Kind.TEXT, "=1+1"),
        (Kind.BOOL, False),
        (Kind.COUNT, None),
    ],
)
def test_table_takes_the_values_of_each_kind(kind: Kind, value: object) -> None:
    table = Table.of("t", [Column("x", "X", kind, "x")], [[value]])
    assert table.values("x") == [value] and table.records() == [{"x": value}]


def test_table_refuses_a_bad_shape_or_name() -> None:
    with pytest.raises(ValueError, match="1 values for 2 columns"):
        Table.of("t", [COUNT, Column("m", "M", Kind.COUNT, "m")], [[1]])
    with pytest.raises(ValueError, match="repeated column keys"):
        Table.of("t", [COUNT, COUNT], [])
    with pytest.raises(ValueError, match="repeated column titles"):
        Table.of("t", [COUNT, Column("m", "N", Kind.COUNT, "m")], [])
    for name in ("", "Totals", "has space", "a" * 32, "sheet/1"):
        with pytest.raises(ValueError, match="table name"):
            Table.of(name, [COUNT], [])


def test_column_needs_a_key_a_title_a_description_and_a_kind() -> None:
    with pytest.raises(ValueError, match="lower case"):
        Column("Sent", "Sent", Kind.COUNT, "sent")
    with pytest.raises(ValueError, match="a title and a description"):
        Column("sent", "Sent", Kind.COUNT, " ")
    with pytest.raises(ValueError):
        Column("sent", "Sent", "integer", "sent")  # type: ignore[arg-type]


def test_columns_table_describes_every_column_and_keeps_its_name() -> None:
    table = Table.of("t", [COUNT, Column("s", "S", Kind.TEXT, "a text", "campaign.name")], [])
    assert columns_table([table]).rows == (
        ("t", "n", "N", "count", None, "a count"),
        ("t", "s", "S", "text", "campaign.name", "a text"),
    )
    with pytest.raises(ValueError, match="unique and not 'columns'"):
        columns_table([Table.of("columns", [COUNT], [])])
    with pytest.raises(ValueError, match="unique"):
        columns_table([table, table])
