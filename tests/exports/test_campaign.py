"""campaign_tables: every figure of the `stats --json` document in one cell of a tidy table."""

from __future__ import annotations

import copy
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from reporter.exports import Kind, Table, campaign_tables, card_table
from tests.exports.helpers import assert_covers, frames

NAMES = [
    "campaign",
    "totals",
    "control",
    "funnel",
    "trend_hourly",
    "trend_daily",
    "trend_weekly",
    "trend_monthly",
    "split_os",
    "split_device",
    "errors_by_code",
    "variants",
    "variant_channels",
    "comparisons",
    "ab_test",
]


def by_name(document: dict[str, Any]) -> dict[str, Table]:
    return {t.name: t for t in campaign_tables(document)}


def one(table: Table) -> dict[str, Any]:
    (row,) = table.records()
    return row


def test_every_leaf_of_the_json_is_in_exactly_one_cell(document: dict[str, Any]) -> None:
    tables = campaign_tables(document)
    assert assert_covers(document, frames(tables)) > 250
    for table in tables:
        assert set(table.values("campaign_id")) <= {document["campaign"]["id"]}


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["totals"].update(new_figure=1),
        lambda d: d["totals"]["uplift"].update(web_push=2),
        lambda d: d["trend"]["daily"][0].update(unique_clicks=3),
        lambda d: d["variants"][1]["channels"]["push"].update(opens=4),
        lambda d: d.update(forecast={"sent": 5}),
        lambda d: d["split"].update(browser={"chrome": 6}),
    ],
)
def test_a_key_the_tables_lack_fails_the_coverage_check(documents: dict[str, Any], change: Any) -> None:
    """The check itself: a key added to the JSON without a column is caught, however deep."""
    document = copy.deepcopy(documents["demo_ab"])
    tables = campaign_tables(document)
    change(document)
    with pytest.raises(AssertionError):
        assert_covers(document, frames(tables))


def test_a_changed_value_fails_the_coverage_check(documents: dict[str, Any]) -> None:
    document = copy.deepcopy(documents["ab"])
    tables = campaign_tables(document)
    document["variants"][1]["vs_baseline"]["p_value"] = 0.5
    with pytest.raises(AssertionError, match=r"vs_baseline\.p_value"):
        assert_covers(document, frames(tables))


def test_single_message_tables_hold_the_known_figures(documents: dict[str, Any]) -> None:
    t = by_name(documents["single"])
    assert list(t) == NAMES
    assert one(t["campaign"]) == {
        "campaign_id": "s",
        "name": "Campaign s",
        "type": "single",
        "conversion_event": "Charged",
        "conversion_window_hours": 24.0,
        "currency": "USD",
        "period_from": datetime.fromisoformat("2026-11-02T00:00:00+00:00"),
        "period_to": datetime.fromisoformat("2026-11-04T00:00:00+00:00"),
        "timezone": "UTC",
    }
    totals = one(t["totals"])
    assert {k: totals[k] for k in ("qualified", "sent", "sent_users", "impressions", "clicks", "errors")} == {
        "qualified": 2,
        "sent": 3,
        "sent_users": 3,
        "impressions": 3,
        "clicks": 1,
        "errors": 2,
    }
    assert totals["ctr"] == pytest.approx(100 / 3) and totals["impression_rate"] == 100.0
    assert (totals["revenue"], totals["converted_users"], totals["uninstalls"]) == (10.0, 1, 1)
    assert (totals["uplift_app_inbox"], totals["uplift_app_inbox_reached"], totals["errors_non_technical"]) == (1, 1, 2)
    assert one(t["funnel"])["users_sent"] == 3 and one(t["control"])["users"] == 1
    assert t["split_os"].records() == [
        {"campaign_id": "s", "os": "ios", "impressions": 2},
        {"campaign_id": "s", "os": "android", "impressions": 1},
    ]
    assert t["split_device"].values("device") == ["phone", "tablet"]
    assert t["errors_by_code"].values("code") == ["DND_HOURS", "UNREGISTERED"]
    assert t["errors_by_code"].values("uninstall") == [False, True]
    hourly = t["trend_hourly"]
    assert len(hourly.rows) == 48 and hourly.values("sent")[:3] == [1, 1, 1]
    assert hourly.values("start")[1] == datetime(2026, 11, 2, 1) and hourly.values("bucket")[1] == "2026-11-02T01:00"
    assert t["trend_daily"].values("start") == [date(2026, 11, 2), date(2026, 11, 3)]
    assert t["trend_weekly"].records()[0] | {"campaign_id": "s"} == {
        "campaign_id": "s",
        "bucket": "2026-11-02",
        "start": date(2026, 11, 2),
        "sent": 3,
        "impressions": 3,
        "clicks": 1,
        "errors": 2,
        "conversions": 1,
        "revenue": 10.0,
        "partial": True,
    }
    assert t["trend_monthly"].records()[0]["start"] == date(2026, 11, 1)


def test_single_message_has_empty_ab_tables_with_their_headers(documents: dict[str, Any]) -> None:
    t = by_name(documents["single"])
    for name in ("variants", "variant_channels", "comparisons"):
        assert t[name].rows == () and len(t[name].columns) > 3
    assert one(t["ab_test"]) == {
        "campaign_id": "s",
        "test_started": datetime.fromisoformat("2026-11-02T00:00:00+00:00"),
        "verdict": None,
        "winner": None,
        "sample_ratio_p_value": None,
        "sample_ratio_mismatch": None,
    }


def test_ab_tables_hold_variants_channels_and_the_comparison(documents: dict[str, Any]) -> None:
    t = by_name(documents["ab"])
    assert [(r["variant"], r["baseline"], r["sent"], r["converted_users"]) for r in t["variants"].records()] == [
        ("A", True, 4, 1),
        ("B", False, 4, 2),
    ]
    assert t["variants"].values("conversion_rate") == [25.0, 50.0]
    assert t["variants"].values("revenue") == [5.0, 5.0]
    assert [(r["variant"], r["channel"], r["sent"]) for r in t["variant_channels"].records()] == [
        ("A", "push", 4),
        ("B", "push", 3),
        ("B", "push_amplification", 1),
    ]
    (comparison,) = t["comparisons"].records()
    assert [comparison[k] for k in ("variant", "baseline_variant", "verdict")] == ["B", "A", "not_enough_data"]
    assert comparison["difference"] == pytest.approx(25.0) and comparison["significant"] is False
    test = one(t["ab_test"])
    assert (test["verdict"], test["winner"], test["sample_ratio_mismatch"]) == ("not_enough_data", None, False)
    assert type(test["verdict"]) is str  # the enum made plain text


def test_a_campaign_without_events_gives_zeros_and_empty_tables(documents: dict[str, Any]) -> None:
    t = by_name(documents["empty"])
    assert list(t) == NAMES
    totals = one(t["totals"])
    assert totals["sent"] == 0 and totals["ctr"] is None and totals["conversion_rate"] is None
    assert one(t["control"])["lift"] is None
    for name in ("split_os", "split_device", "errors_by_code", "variants", "variant_channels", "comparisons"):
        assert t[name].rows == () and t[name].columns[0].key == "campaign_id"
    assert set(t["trend_daily"].values("sent")) == {0}


def test_a_repeated_hour_gives_two_rows_with_the_same_local_start(documents: dict[str, Any]) -> None:
    hourly = by_name(documents["single_ny"])["trend_hourly"]
    rows = {r["bucket"]: r["start"] for r in hourly.records()}
    assert rows["2026-11-01T01:00-04:00"] == rows["2026-11-01T01:00-05:00"] == datetime(2026, 11, 1, 1)
    assert len(hourly.rows) == 49  # a 25-hour day and a 24-hour one
    assert next(c for c in hourly.columns if c.key == "start").kind is Kind.DATETIME


def test_without_hourly_buckets_there_is_no_hourly_table(documents: dict[str, Any]) -> None:
    assert "trend_hourly" not in by_name(documents["demo_ab"])
    weekly = by_name(documents["demo_ab"])["trend_weekly"]
    assert all(isinstance(d, date) and d.weekday() == 0 for d in weekly.values("start"))


def test_card_is_one_row_of_every_headline_figure(document: dict[str, Any]) -> None:
    card = card_table(document)
    assert len(card.rows) == 1
    keys = [c.key for c in card.columns]
    assert keys[:5] == ["campaign_id", "period_from", "period_to", "timezone", "currency"]
    totals = by_name(document)["totals"]
    control = by_name(document)["control"]
    assert one(card) == {
        "campaign_id": document["campaign"]["id"],
        "period_from": datetime.fromisoformat(document["period"]["from"]),
        "period_to": datetime.fromisoformat(document["period"]["to"]),
        "timezone": document["period"]["timezone"],
        "currency": document["campaign"]["currency"],
        **{k: v for k, v in one(totals).items() if k != "campaign_id"},
        **{f"control_{k}": v for k, v in one(control).items() if k != "campaign_id"},
    }


def test_the_exports_guide_names_every_table_and_column(documents: dict[str, Any]) -> None:
    """docs/exports.md lists each table's columns: a new column without a mention fails here."""
    guide = (Path(__file__).parent.parent.parent / "docs" / "exports.md").read_text(encoding="utf-8")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in guide.splitlines() if line.startswith("| `")}
    for document in (documents["single"], documents["demo_ab"]):
        for table in campaign_tables(document):
            row = next((line for names, line in rows.items() if f"`{table.name}`" in names), None)
            assert row is not None, f"docs/exports.md has no row for the table {table.name}"
            missing = [c.key for c in table.columns if f"`{c.key}`" not in row]
            assert missing == [], f"docs/exports.md, table {table.name}: {missing}"
