"""Funnels in users, each step a share of the users sent to, with full numbers; per variant too."""

from __future__ import annotations

import re
from collections.abc import Callable

from reporter import formatting as fmt
from reporter.charts import funnel, variants
from reporter.metrics.model import CampaignStats, Funnel, InfluencedFunnel, UsersFunnel, VariantStats
from tests.charts.svg import texts

ABBREVIATED = re.compile(r"\d[KMB]\b")


def test_users_funnel_matches_the_totals(demo_stats: Callable[..., CampaignStats]) -> None:
    stats = demo_stats("black-friday-ab")
    t = stats.totals
    chart = funnel.users_funnel(stats.funnel)
    assert chart.title == "Users at each step" and chart.headers == ("Step", "Users", "Share of users sent to")
    expected = [
        ("Sent to", t.sent_users),
        ("Saw it", t.impressed_users),
        ("Clicked", t.clicked_users),
        ("Converted", t.converted_users),
    ]
    assert chart.rows == tuple((name, fmt.count(n), fmt.rate(100 * n / t.sent_users, 1)) for name, n in expected)
    # The converted users' share is the conversion rate of the report's card.
    assert chart.rows[3][2] == fmt.rate(t.conversion_rate, 1)
    drawn = texts(chart.svg)
    assert fmt.count(t.sent_users) in drawn
    for name, count, share in chart.rows[1:]:
        assert f"{count} ({share})" in drawn, name


def test_converted_is_a_share_of_users_sent_to_not_of_clicks() -> None:
    # 40 converted, 20 clicked: version 1 printed "Converted 200.0%" (of clicked).
    chart = funnel.users_funnel(Funnel(UsersFunnel(1000, 800, 20, 40), InfluencedFunnel(40, 30, 5)))
    drawn = texts(chart.svg)
    assert "40 (4.0%)" in drawn and "20 (2.0%)" in drawn
    assert not any("200.0%" in t for t in drawn)


def test_funnel_numbers_are_in_full() -> None:
    chart = funnel.users_funnel(Funnel(UsersFunnel(2_213_456, 1_900_000, 45_000, 3_100), InfluencedFunnel()))
    drawn = texts(chart.svg)
    assert "2,213,456" in drawn and "1,900,000 (85.8%)" in drawn
    assert [t for t in drawn if ABBREVIATED.search(t)] == []


def test_influenced_funnel_counts_converted_users() -> None:
    chart = funnel.influenced_funnel(Funnel(UsersFunnel(1000, 800, 80, 40), InfluencedFunnel(40, 44, 10)))
    assert chart.title == "Influenced conversions"
    assert chart.headers == ("Step", "Converted users", "Share of converted users")
    # Not nested: after viewed can exceed after sent (a notification seen long after it was sent).
    assert chart.rows == (
        ("After sent", "40", "100.0%"),
        ("After viewed", "44", "110.0%"),
        ("After clicked", "10", "25.0%"),
    )
    assert "Converted users" in texts(chart.svg)


def test_variant_funnels_are_in_users() -> None:
    v = VariantStats(
        "A",
        "Discount",
        True,
        sent=2213,
        sent_users=1487,
        impressions=2000,
        clicks=130,
        converted_users=63,
        funnel=UsersFunnel(1487, 1344, 121, 63),
    )
    w = VariantStats(
        "B", "Urgency", False, sent=2100, sent_users=1455, converted_users=55, funnel=UsersFunnel(1455, 1314, 99, 55)
    )
    chart = variants.funnels([v, w])
    assert chart.headers == ("Variant", "Sent to", "Saw it", "Clicked", "Converted")
    assert chart.rows[0] == ("A · Discount", "1,487", "1,344 (90.4%)", "121 (8.1%)", "63 (4.2%)")
    drawn = texts(chart.svg)
    assert {"1,487", "63 (4.2%)", "1,455", "55 (3.8%)"} <= set(drawn)
    # Messages are not users: version 1 drew "Sent 2,213" beside "Converted 63".
    assert not any("2,213" in t or "2,000" in t for t in drawn)


def test_demo_variant_funnels_match_the_variants(demo_stats: Callable[..., CampaignStats]) -> None:
    stats = demo_stats("black-friday-ab")
    chart = variants.funnels(stats.variants)
    for row, v in zip(chart.rows, stats.variants, strict=True):
        assert row[1] == fmt.count(v.sent_users)
        assert row[4] == f"{fmt.count(v.converted_users)} ({fmt.rate(v.conversion_rate, 1)})"
        assert row[4] in texts(chart.svg)
