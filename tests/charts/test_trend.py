"""Trends cover the period: every bucket on the axis, single buckets visible, partial buckets marked, hours readable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reporter.charts import report_charts, trend
from reporter.metrics.buckets import fold, plan
from reporter.metrics.model import CampaignStats, Period, TrendBucket
from tests.charts.svg import bars, dashed, markers, plot_area, texts

START = datetime(2026, 10, 14, tzinfo=UTC)  # a day of the demo with sends and conversions


def hours(day: str, tz: str, days: int = 1) -> tuple[TrendBucket, ...]:
    """The hourly buckets the metrics list for local days from `day`, all zero."""
    start = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(tz))
    hourly = fold(plan(Period(start, start + timedelta(days=days), tz)), {}).hourly
    assert hourly is not None
    return hourly


@pytest.mark.parametrize(
    ("days", "granularity"),
    [(1, "hourly"), (2, "hourly"), (3, "daily"), (62, "daily"), (63, "weekly"), (182, "weekly"), (183, "monthly")],
)
def test_granularity_for_a_period(days: int, granularity: str) -> None:
    assert trend.granularity_for(days) == granularity


def test_one_day_report_has_hourly_charts(demo_stats: Callable[..., CampaignStats]) -> None:
    stats = demo_stats("black-friday-ab", START, START + timedelta(days=1))
    assert stats.totals.conversions > 0
    charts = report_charts(stats, trend.granularity_for(1))
    assert {"trend-hourly", "trend-daily", "conversions-hourly", "revenue-hourly"} <= set(charts)
    # A single week or month would repeat the one day: those views are left out.
    assert not {"trend-weekly", "trend-monthly", "conversions-daily", "revenue-daily"} & set(charts)
    rows = charts["trend-hourly"].rows
    assert len(rows) == 24
    assert rows[0][0] == "Oct 14, 00:00" and rows[-1][0] == "Oct 14, 23:00"
    # The hourly table adds up to the period's totals, counted by other queries.
    assert sum(int(r[1].replace(",", "")) for r in rows) == stats.totals.sent
    assert sum(int(r[3].replace(",", "")) for r in rows) == stats.totals.clicks
    assert sum(int(r[1].replace(",", "")) for r in charts["conversions-hourly"].rows) == stats.totals.conversions
    assert "Hour (UTC)" in texts(charts["conversions-hourly"].svg)


def test_week_report_is_daily_with_an_hourly_view(demo_stats: Callable[..., CampaignStats]) -> None:
    charts = report_charts(demo_stats("black-friday-ab", START, START + timedelta(days=7)), trend.granularity_for(7))
    assert {"trend-hourly", "trend-daily", "conversions-daily", "revenue-daily"} <= set(charts)
    assert len(charts["trend-hourly"].rows) == 7 * 24
    assert [r[0] for r in charts["conversions-daily"].rows] == [f"Oct {d}" for d in range(14, 21)]


def test_default_period_has_every_view_but_hours(demo_stats: Callable[..., CampaignStats]) -> None:
    stats = demo_stats("black-friday-ab")
    charts = report_charts(stats, "daily")
    assert {"trend-daily", "trend-weekly", "trend-monthly"} <= set(charts) and "trend-hourly" not in charts
    assert len(charts["trend-daily"].rows) == (stats.period.end - stats.period.start).days


def test_hourly_report_without_hours_is_refused(demo_stats: Callable[..., CampaignStats]) -> None:
    with pytest.raises(ValueError, match="hourly"):
        report_charts(demo_stats("black-friday-ab"), "hourly")


def test_one_bucket_is_a_narrow_bar_and_visible_points() -> None:
    one = (TrendBucket("2026-10-05", sent=200, impressions=150, clicks=4, conversions=3, revenue=104.5),)
    chart = trend.conversion_performance(one, "daily")
    left, right = plot_area(chart.svg)
    [(x0, x1, height)] = bars(chart.svg)
    # Version 1 drew this bar across 75% of the chart.
    assert 0.04 < (x1 - x0) / (right - left) < 0.2
    assert abs((x0 + x1) / 2 - (left + right) / 2) < 1  # in the middle of the axis
    assert height > 50
    assert chart.rows == (("Oct 5", "3"),)
    assert "3" in texts(chart.svg)  # the bar is labelled with its figure
    line = trend.message_trend(one, "daily").svg
    # Sent, impressions and clicks: a point each in the middle of the axis (and three in the legend).
    assert len([x for x, _y in markers(line) if abs(x - (left + right) / 2) < 1]) == 3


def test_every_bucket_is_on_the_axis() -> None:
    buckets = tuple(TrendBucket(f"2026-10-{d:02d}", conversions=1 if d in (1, 31) else 0) for d in range(1, 32))
    chart = trend.conversion_performance(buckets, "daily")
    left, right = plot_area(chart.svg)
    drawn = bars(chart.svg)
    assert len(drawn) == 2
    slot = (right - left) / 31
    # The first and the last day's bars sit half a slot from the axis' ends.
    assert abs((drawn[0][0] + drawn[0][1]) / 2 - (left + slot / 2)) < 0.5
    assert abs((drawn[1][0] + drawn[1][1]) / 2 - (right - slot / 2)) < 0.5


def test_partial_bucket_is_marked() -> None:
    weeks = (
        TrendBucket("2026-10-19", 500, 400, 30, conversions=9),
        TrendBucket("2026-10-26", 480, 380, 28, conversions=8),
        TrendBucket("2026-11-02", 60, 50, 3, conversions=1, partial=True),
    )
    line = trend.message_trend(weeks, "weekly")
    assert line.rows[-1][0] == "Nov 2 (partial)" and line.rows[0][0] == "Oct 19"
    assert "(partial)" in texts(line.svg) and "Partial week" in texts(line.svg)
    assert dashed(line.svg) == 3 + 1  # the last segment of each line, and the legend's sample
    assert "partial" in line.alt
    bar = trend.conversion_performance(weeks, "weekly")
    assert bar.svg.count("<pattern") == 1 and "Partial week" in texts(bar.svg)
    assert bar.rows[-1] == ("Nov 2 (partial)", "1")


def test_whole_buckets_are_not_marked() -> None:
    weeks = (TrendBucket("2026-10-19", 500, conversions=9), TrendBucket("2026-10-26", 480, conversions=8))
    line = trend.message_trend(weeks, "weekly")
    assert dashed(line.svg) == 0 and not any("artial" in t for t in texts(line.svg))
    assert "<pattern" not in trend.conversion_performance(weeks, "weekly").svg


def test_partial_last_month_gets_its_tick_label() -> None:
    months = (*tuple(TrendBucket(f"2025-{m:02d}", 10) for m in range(1, 13)), TrendBucket("2026-01", 2, partial=True))
    drawn = texts(trend.message_trend(months, "monthly").svg)
    assert "Jan 2026" in drawn and "(partial)" in drawn


def test_hour_ticks_name_the_day_at_its_start() -> None:
    drawn = texts(trend.message_trend(hours("2026-10-05", "UTC", days=2), "hourly", "UTC").svg)
    ticks = drawn[: drawn.index("Hour (UTC)")]
    assert ticks[:3] == ["00:00", "Oct 5", "06:00"]  # every 6 hours over two days
    assert "Oct 6" in ticks and ticks[ticks.index("Oct 6") - 1] == "00:00"


def test_dst_days_have_their_hours() -> None:
    back = hours("2026-11-01", "America/New_York")
    chart = trend.message_trend(back, "hourly", "America/New_York")
    assert len(chart.rows) == 25
    assert [r[0] for r in chart.rows[1:3]] == ["Nov 1, 01:00 (UTC−04:00)", "Nov 1, 01:00 (UTC−05:00)"]
    drawn = texts(chart.svg)
    assert drawn.count("00:00") == 1 and "Hour (America/New_York)" in drawn
    forward = trend.message_trend(hours("2026-03-29", "Europe/Berlin"), "hourly")
    assert len(forward.rows) == 23 and "Mar 29, 02:00" not in [r[0] for r in forward.rows]
    assert {"00:00", "03:00", "06:00"} <= set(texts(forward.svg))


@pytest.mark.parametrize("granularity", ["hourly", "daily", "weekly", "monthly"])
def test_titles_name_the_bucket(granularity: str) -> None:
    unit = {"hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month"}[granularity]
    buckets = {
        "hourly": hours("2026-10-05", "UTC"),
        "daily": (TrendBucket("2026-10-05", 1),),
        "weekly": (TrendBucket("2026-10-05", 1),),
        "monthly": (TrendBucket("2026-10", 1),),
    }[granularity]
    assert trend.message_trend(buckets, granularity).title == f"Sent, impressions and clicks per {unit}"
    assert trend.conversion_performance(buckets, granularity).title == f"Conversions per {unit}"
    assert trend.revenue_performance(buckets, granularity, "EUR").title == f"Revenue per {unit}"


def test_empty_buckets_have_no_value_label() -> None:
    days = tuple(
        TrendBucket(f"2026-10-{d:02d}", conversions=3 if d == 3 else 0, revenue=12.5 if d == 3 else 0.0)
        for d in range(1, 8)
    )
    drawn = texts(trend.conversion_performance(days, "daily").svg)
    # The bars' figures come after the axis label: only the one bar with conversions has one.
    assert drawn[drawn.index("Conversions") + 1 :] == ["3"]
    revenue = texts(trend.revenue_performance(days, "daily", "EUR").svg)
    assert revenue[revenue.index("Revenue (EUR)") + 1 :] == ["€12.50"]
