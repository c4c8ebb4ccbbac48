"""Figures as tidy tables, written as CSV and XLSX (docs/exports.md).

`campaign_tables` turns a campaign's `stats --json` document into `Table`s,
`portfolio_tables` a portfolio's figures;
`to_csv`, `csv_zip` and `to_xlsx` write any tables of the model, and
`card_csv` is the headline card as one CSV.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reporter.exports.campaign import campaign_tables, card_table
from reporter.exports.csv_files import csv_zip, to_csv
from reporter.exports.descriptions import figure_definitions, parse_definitions
from reporter.exports.portfolio import portfolio_tables
from reporter.exports.stamp import FIXED_TIME, source_date
from reporter.exports.table import Column, Kind, Table, Value, columns_table
from reporter.exports.workbook import to_xlsx


def card_csv(stats: Mapping[str, Any]) -> str:
    """The headline card of a `stats --json` document as a CSV of one header and one row (`reporter stats --csv`)."""
    return to_csv(card_table(stats))


__all__ = [
    "FIXED_TIME",
    "Column",
    "Kind",
    "Table",
    "Value",
    "campaign_tables",
    "card_csv",
    "card_table",
    "columns_table",
    "csv_zip",
    "figure_definitions",
    "parse_definitions",
    "portfolio_tables",
    "source_date",
    "to_csv",
    "to_xlsx",
]
