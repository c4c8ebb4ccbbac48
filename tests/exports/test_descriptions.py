"""The columns' descriptions come from docs/figures.md, through the copy the package ships."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from reporter.exports import campaign_tables, card_table, figure_definitions, parse_definitions

DOC = Path(__file__).parent.parent.parent / "docs" / "figures.md"


def test_the_packaged_guide_is_docs_figures_md() -> None:
    """Edit docs/figures.md, then copy it: `cp docs/figures.md reporter/exports/figures.md`."""
    packaged = files("reporter.exports").joinpath("figures.md").read_bytes()
    assert packaged == DOC.read_bytes()


def test_parse_definitions_reads_key_tables_only() -> None:
    markdown = "\n".join(
        [
            "| Key | In the report | Definition |",
            "|---|---|---|",
            "| `totals.sent` | Sent | Number of **notifications** sent (*events*) |",
            "| `variants.sent`, `variants.sent_users` | | Notifications sent, and distinct users sent to |",
            "| `a.b`, `a.c`, `a.d` | | One, and two |",
            "",
            "| Key | Step | Same as |",
            "|---|---|---|",
            "| `funnel.users.sent` | Sent to | `totals.sent_users` |",
            "",
            "| Code | Meaning |",
            "|---|---|",
            "| `UNREGISTERED` | not a key table |",
        ]
    )
    assert parse_definitions(markdown) == {
        "totals.sent": "Number of notifications sent (events)",
        "variants.sent": "Notifications sent",
        "variants.sent_users": "Distinct users sent to",
        "a.b": "One, and two",  # two parts for three keys: not split
        "a.c": "One, and two",
        "a.d": "One, and two",
        "funnel.users.sent": "Step: Sent to. Same as: totals.sent_users",
    }


def test_every_column_has_a_description(documents: dict[str, dict[str, Any]]) -> None:
    """Figure columns carry the guide's definition (control.test's borrow the variants'); others say what they hold."""
    guide = figure_definitions()
    for document in documents.values():
        for table in [*campaign_tables(document), card_table(document)]:
            for column in table.columns:
                assert len(column.description) > 10, (table.name, column.key, column.description)
                if column.figure is not None and not column.figure.startswith("control.test."):
                    definition = guide[column.figure].removeprefix("Its ")  # "Its name": "The campaign's name"
                    assert definition in column.description or "verdict word" in column.description


def test_the_guide_defines_the_figures_it_lists() -> None:
    guide = figure_definitions()
    assert guide["totals.ctr"] == "Click-through rate: 100 \N{MULTIPLICATION SIGN} clicks \N{DIVISION SIGN} impressions"
    assert guide["trend.*.sent"] == "Notifications sent in the bucket"
    assert guide["variants.impressed_users"] == "Distinct users shown it"
    assert "`" not in "".join(guide.values()) and "**" not in "".join(guide.values())
