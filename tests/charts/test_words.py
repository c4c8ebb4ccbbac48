"""The charts' words: titles that do not repeat their heading, labels with units, codes with their provider."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from reporter import formatting as fmt
from reporter.charts import errors, report_charts, split, trend, variants
from reporter.metrics.model import CampaignStats, ErrorCount
from tests.charts.svg import markers, texts

DAY = datetime(2026, 10, 14, tzinfo=UTC)
PERIODS = {
    "default": (None, None),
    "one-day": (DAY, DAY + timedelta(days=1)),
    "one-week": (DAY, DAY + timedelta(days=7)),
}


def charts_of(demo_stats: Callable[..., CampaignStats], period: str) -> tuple[CampaignStats, dict]:
    start, end = PERIODS[period]
    stats = demo_stats("black-friday-ab", start, end)
    days = round((stats.period.end - stats.period.start) / timedelta(days=1))
    return stats, report_charts(stats, trend.granularity_for(days))


@pytest.mark.parametrize("period", PERIODS)
def test_no_chart_title_repeats_its_heading(demo_stats: Callable[..., CampaignStats], period: str) -> None:
    from reporter.render import render_html

    start, end = PERIODS[period]
    html = render_html(demo_stats("black-friday-ab", start, end), None, datetime(2026, 11, 26, tzinfo=UTC)).html
    headings = [re.sub(r"<[^>]+>", "", h).strip().lower() for h in re.findall(r"<h2[^>]*>(.*?)</h2>", html, re.DOTALL)]
    captions = [c.strip().lower() for c in re.findall(r"<figcaption>(.*?)</figcaption>", html, re.DOTALL)]
    assert "message trend" in headings and len(captions) >= 11  # no per-variant daily trend in a one-day report
    assert len(set(captions)) == len(captions)
    assert [(h, c) for h in headings for c in captions if h in c] == []


@pytest.mark.parametrize("period", PERIODS)
def test_no_abbreviated_number_in_any_chart(demo_stats: Callable[..., CampaignStats], period: str) -> None:
    _stats, charts = charts_of(demo_stats, period)
    drawn = {key: [t for t in texts(c.svg) if re.search(r"\d[KMB]\b", t)] for key, c in charts.items()}
    assert {k: v for k, v in drawn.items() if v} == {}


@pytest.mark.parametrize("period", PERIODS)
def test_every_chart_has_a_meaningful_alt(demo_stats: Callable[..., CampaignStats], period: str) -> None:
    _stats, charts = charts_of(demo_stats, period)
    for key, chart in charts.items():
        assert chart.alt.startswith(chart.title), key
        assert re.search(r"\d", chart.alt), key
        assert chart.rows, key


def test_axes_name_their_units(demo_stats: Callable[..., CampaignStats]) -> None:
    stats, charts = charts_of(demo_stats, "one-day")
    assert {"Hour (UTC)", "Notifications"} <= set(texts(charts["trend-hourly"].svg))
    assert "Revenue (EUR)" in texts(charts["revenue-hourly"].svg) and stats.campaign.currency == "EUR"
    assert "Users" in texts(charts["funnel-users"].svg)
    assert "Impressions (notifications shown)" in texts(charts["split-os"].svg)
    assert "Errors (notifications not delivered)" in texts(charts["errors-code"].svg)


def test_split_table_counts_impressions() -> None:
    chart = split.os_split({"ios": 3_000, "android": 1_000})
    assert chart.headers == ("Category", "Impressions", "Share")
    assert chart.rows == (("iOS", "3,000", "75.0%"), ("Android", "1,000", "25.0%"))
    assert {"75.0%", "25.0%"} <= set(texts(chart.svg))


def test_error_codes_name_their_provider() -> None:
    codes = [
        ErrorCount("UNREGISTERED", 50, "non_technical", "fcm", False, "The app was uninstalled"),
        ErrorCount("Unregistered", 26, "non_technical", "apns", False, "The app was uninstalled"),
        ErrorCount("DND_HOURS", 19, "non_technical", "any", False, "Do not disturb"),
    ]
    chart = errors.errors_by_code(codes)
    drawn = texts(chart.svg)
    assert {"UNREGISTERED (FCM)", "Unregistered (APNs)", "DND_HOURS"} <= set(drawn)
    assert "50 (52.6%)" in drawn  # 50 of 95
    assert "UNREGISTERED (FCM)" in chart.alt
    assert [r[3] for r in chart.rows] == ["FCM", "APNs", "Any"]


def test_demo_error_codes_appear_once_per_provider(demo_stats: Callable[..., CampaignStats]) -> None:
    stats = demo_stats("black-friday-ab")
    drawn = texts(errors.errors_by_code(stats.errors_by_code).svg)
    shown = stats.errors_by_code[: errors.MAX_CODES]
    labels = [f"{e.code} ({fmt.label(e.platform)})" if e.platform != "any" else e.code for e in shown]
    assert all(label in drawn for label in labels)
    assert len(set(labels)) == len(labels)


def test_one_day_variant_trend_is_visible_points(demo_stats: Callable[..., CampaignStats]) -> None:
    stats, charts = charts_of(demo_stats, "one-day")
    chart = charts["variants-trend"]
    # The variants' trends are daily: one day is one point per figure and variant, with a marker.
    assert all(len(v.trend) == 1 for v in stats.variants)
    assert len(markers(chart.svg)) >= 3 * len(stats.variants)
    assert chart.title == "Sent, impressions and clicks per day, by variant"
    assert chart.rows == tuple(
        (
            "Oct 14",
            f"{v.variant} · {v.name}",
            fmt.count(v.trend[0].sent),
            fmt.count(v.trend[0].impressions),
            fmt.count(v.trend[0].clicks),
        )
        for v in stats.variants
    )
    assert sum(int(r[2].replace(",", "")) for r in chart.rows) == stats.totals.sent


def test_variant_trend_rows_add_up_to_each_variant(demo_stats: Callable[..., CampaignStats]) -> None:
    stats = demo_stats("black-friday-ab")
    chart = variants.trends(stats.variants)
    for v in stats.variants:
        sent = sum(int(r[2].replace(",", "")) for r in chart.rows if r[1] == f"{v.variant} · {v.name}")
        assert sent == v.sent
