"""Every chart renders for normal, empty and extreme data, without a warning."""

from __future__ import annotations

import warnings
from datetime import date, timedelta

import pytest

from reporter.charts import errors, funnel, split, trend, variants
from reporter.metrics.model import (
    ChannelStats,
    Comparison,
    ErrorCount,
    Funnel,
    InfluencedFunnel,
    TrendBucket,
    UsersFunnel,
    VariantStats,
)


def days(n: int, sent: int = 100, granularity: str = "daily") -> tuple[TrendBucket, ...]:
    start = date(2026, 1, 5)

    def label(i: int) -> str:
        if granularity == "monthly":
            return f"{2026 + i // 12}-{i % 12 + 1:02d}"
        return (start + timedelta(days=i * (7 if granularity == "weekly" else 1))).isoformat()

    return tuple(
        TrendBucket(label(i), sent + i % 7 * 10, sent // 2, sent // 20, i % 3, i % 4, 12.5 * (i % 4)) for i in range(n)
    )


def variant(name: str, sent: int, converted: int, baseline: bool = False, trend_days: int = 30) -> VariantStats:
    cmp = (
        None
        if baseline
        else Comparison(1.5, -0.5, 3.5, 0.04, True)
        if sent
        else Comparison(None, None, None, None, False)
    )
    return VariantStats(
        variant=name,
        name=f"Variant {name} <b>$5 off</b> 🎉",
        baseline=baseline,
        sent=sent,
        sent_users=sent,
        impressions=sent * 8 // 10,
        clicks=sent // 10,
        ctr=12.5 if sent else None,
        click_rate=10.0 if sent else None,
        errors=3,
        converted_users=converted,
        funnel=UsersFunnel(sent, sent * 7 // 10, sent // 12, converted),
        conversion_rate=100 * converted / sent if sent else None,
        revenue=10.0 * converted,
        probability_best=0.5,
        channels={"push": ChannelStats(sent, sent, 1, 1.0, 0)},
        vs_baseline=cmp,
        trend=days(trend_days, sent // 30 or 0) if sent else (),
    )


def no_warnings(build):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chart = build()
    assert chart.svg.startswith("<svg") and chart.svg.rstrip().endswith("</svg>")
    assert chart.title and chart.alt
    assert "http" not in chart.svg.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        'xmlns:xlink="http://www.w3.org/1999/xlink"', ""
    )
    return chart


@pytest.mark.parametrize("n", [0, 1, 2, 30, 400])
@pytest.mark.parametrize("granularity", ["daily", "weekly", "monthly"])
def test_trend_charts(n: int, granularity: str) -> None:
    buckets = days(n, granularity=granularity)
    chart = no_warnings(lambda: trend.message_trend(buckets, granularity))
    assert len(chart.rows) == n
    no_warnings(lambda: trend.conversion_performance(buckets, granularity))
    no_warnings(lambda: trend.revenue_performance(buckets, granularity, "EUR"))


def test_trend_chart_with_zero_everywhere() -> None:
    zero = tuple(TrendBucket(f"2026-01-{d:02d}") for d in range(1, 11))
    no_warnings(lambda: trend.message_trend(zero, "daily"))
    chart = no_warnings(lambda: trend.conversion_performance(zero, "daily"))
    assert "No attributed conversions" in chart.svg


@pytest.mark.parametrize(
    "users", [UsersFunnel(1000, 800, 80, 40), UsersFunnel(), UsersFunnel(10**9, 10**9, 1, 0), UsersFunnel(0, 5, 0, 1)]
)
def test_funnels(users: UsersFunnel) -> None:
    f = Funnel(users, InfluencedFunnel(users.converted, users.converted // 2, 0))
    chart = no_warnings(lambda: funnel.users_funnel(f))
    assert [row[0] for row in chart.rows] == ["Sent to", "Saw it", "Clicked", "Converted"]
    no_warnings(lambda: funnel.influenced_funnel(f))


def test_funnel_table_has_shares_of_users_sent_to() -> None:
    # 40 users converted, only 10 of whom had clicked: a share of clicked users (50%) would mislead.
    chart = funnel.users_funnel(Funnel(UsersFunnel(1000, 800, 80, 40), InfluencedFunnel()))
    assert chart.headers == ("Step", "Users", "Share of users sent to")
    assert chart.rows == (
        ("Sent to", "1,000", "100.0%"),
        ("Saw it", "800", "80.0%"),
        ("Clicked", "80", "8.0%"),
        ("Converted", "40", "4.0%"),
    )


@pytest.mark.parametrize("counts", [{"ios": 60, "android": 40}, {}, {"unknown": 1}, {"ios": 10**9, "web": 1}])
def test_splits(counts: dict[str, int]) -> None:
    chart = no_warnings(lambda: split.os_split(counts))
    assert len(chart.rows) == len(counts)
    no_warnings(lambda: split.device_split(counts))


@pytest.mark.parametrize("n", [0, 1, 3, 40])
def test_errors_chart(n: int) -> None:
    codes = [
        ErrorCount(
            f"CODE_{i}_VERY_LONG_NAME" if i % 2 else f"E{i}",
            100 - i,
            "technical" if i % 2 else "non_technical",
            "fcm",
            bool(i % 2),
            "meaning",
        )
        for i in range(n)
    ]
    chart = no_warnings(lambda: errors.errors_by_code(codes))
    assert len(chart.rows) == n  # the table lists every code, the chart the top ones


@pytest.mark.parametrize(
    "vs",
    [
        [variant("A", 1000, 50, True), variant("B", 1000, 70), variant("C", 900, 40)],
        [variant("A", 1000, 50, True), variant("B", 0, 0)],  # a variant with no sends
        [variant("A", 0, 0, True), variant("B", 0, 0)],
        [variant("A", 10, 1, True, trend_days=1), variant("B", 10, 2, trend_days=1)],
        [variant("A", 5000, 50, True, trend_days=400), variant("B", 5000, 70, trend_days=400)],
    ],
)
def test_variant_charts(vs: list[VariantStats]) -> None:
    chart = no_warnings(lambda: variants.comparison(vs))
    assert chart.rows[0][2] == "baseline"
    no_warnings(lambda: variants.trends(vs))
    no_warnings(lambda: variants.funnels(vs))


def test_charts_are_reproducible() -> None:
    buckets = days(30)
    assert trend.message_trend(buckets, "daily").svg == trend.message_trend(buckets, "daily").svg
