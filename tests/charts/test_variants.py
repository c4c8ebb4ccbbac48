"""The A/B charts: what each comparison panel covers, an axis within ±100 pp, labels apart; weekly trends past 62
days."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from reporter.charts import report_charts, trend, variants
from reporter.metrics.model import CampaignStats, Comparison, TrendBucket, VariantStats
from tests.charts.svg import text_boxes, texts
from tests.charts.test_charts import variant

DAY = datetime(2026, 10, 14, tzinfo=UTC)


def ab(difference: float = 5.38, low: float = 1.0, high: float = 9.0, name: str = "Variant B") -> list[VariantStats]:
    return [
        variant("A", 1000, 14, True),
        replace(
            variant("B", 1000, 17),
            name=name,
            vs_baseline=Comparison(difference, low, high, 0.018, True, verdict="winner"),
        ),
    ]


def lines(svg: str, label: str) -> list[tuple[str, float, float]]:
    """The boxes of a label's lines (a long axis label is wrapped within its panel)."""
    drawn = text_boxes(svg)
    words = label.split()
    found = [
        i for i in range(len(drawn)) if " ".join(t for t, _a, _b in drawn[i : i + 3]).startswith(" ".join(words[:2]))
    ]
    assert found, label
    out, joined = [], ""
    for box in drawn[found[0] :]:
        out.append(box)
        joined = f"{joined} {box[0]}".strip()
        if joined == label:
            return out
    raise AssertionError(f"{label!r} not drawn whole")


def test_comparison_says_what_each_panel_covers(demo_stats: Callable[..., CampaignStats]) -> None:
    stats = demo_stats("black-friday-ab", DAY, DAY + timedelta(days=1))
    svg = variants.comparison(stats.variants).svg
    # The rates are the day's, the differences the test's since it started: each panel says so.
    lines(svg, "Conversion rate in this period (%)")
    lines(svg, "Difference to baseline since the test started (pp)")


def test_comparison_notes_difference_p_value_and_verdict() -> None:
    drawn = texts(variants.comparison(ab()).svg)
    assert "+5.38 pp, p = 0.018," in drawn and "Winner" in drawn
    tiny = ab(low=-0.0004, high=9.0)
    tiny[1] = replace(tiny[1], vs_baseline=replace(tiny[1].vs_baseline, p_value=0.0001))
    assert "+5.38 pp, p < 0.001," in texts(variants.comparison(tiny).svg)


def test_comparison_axis_stays_within_100_points() -> None:
    # A hostile A/B with tiny samples: an interval of −300..+300 pp drew an axis of −300..+300.
    svg = variants.comparison(ab(low=-300.0, high=300.0)).svg
    ticks = [float(t.replace("−", "-")) for t in texts(svg) if re.fullmatch(r"−?\d+(\.\d+)?", t)]
    assert ticks and all(-100 <= t <= 100 for t in ticks)
    assert max(ticks) >= 50 and min(ticks) <= -50


def test_comparison_axis_fits_the_data() -> None:
    svg = variants.comparison(ab(difference=1.5, low=0.5, high=2.5)).svg
    drawn = texts(svg)
    right = drawn[drawn.index("baseline") - 10 : drawn.index("baseline")]
    ticks = [float(t.replace("−", "-")) for t in right if re.fullmatch(r"−?\d+(\.\d+)?", t)]
    assert 0 <= max(ticks) <= 3 and min(ticks) >= -1  # from zero to the interval, not ±100


def test_comparison_labels_do_not_collide_with_a_long_name() -> None:
    name = "An extremely long variant name that goes on and on, WWWWWWWWWWWWWWWWWWWWWW"
    svg = variants.comparison(ab(name=name)).svg
    rate = lines(svg, "Conversion rate in this period (%)")
    difference = lines(svg, "Difference to baseline since the test started (pp)")
    assert max(b for _t, _a, b in rate) + 10 < min(a for _t, a, _b in difference)
    # The name is cut to its capped margin: it ends before the left panel's label begins.
    [(_t, _a, name_end)] = [box for box in text_boxes(svg) if box[0].startswith("B · ")]
    assert name_end <= min(a for _t, a, _b in rate) + 1
    assert name_end < 72 * variants.MAX_MARGIN + 1


def trended(start: date, n: int) -> list[VariantStats]:
    """Two variants with one daily bucket per day from `start`: 10 + the day's index sent each."""
    days = tuple(
        TrendBucket((start + timedelta(days=i)).isoformat(), sent=10 + i, impressions=5, clicks=1) for i in range(n)
    )
    return [replace(variant("A", 1000, 14, True), trend=days), replace(variant("B", 1000, 17), trend=days)]


def test_variant_trend_is_daily_up_to_62_days() -> None:
    chart = variants.trends(trended(date(2026, 1, 7), 62))
    assert chart.title == "Sent, impressions and clicks per day, by variant"
    assert len(chart.rows) == 2 * 62 and chart.headers[0] == "Day"


def test_quarter_variant_trend_is_weekly() -> None:
    # 92 days from a Wednesday: a partial first week (Wed-Sun), 12 whole ones, a partial last (Mon-Wed).
    vs = trended(date(2026, 1, 7), 92)
    chart = variants.trends(vs)
    assert chart.title == "Sent, impressions and clicks per week, by variant"
    assert chart.headers[0] == "Week starting Monday"
    weeks = [r[0] for r in chart.rows if r[1].startswith("A ·")]
    assert len(weeks) == 14
    assert weeks[0] == "Jan 5 (partial)" and weeks[1] == "Jan 12" and weeks[-1] == "Apr 6 (partial)"
    assert not any("partial" in w for w in weeks[1:-1])
    assert sum(int(r[2].replace(",", "")) for r in chart.rows if r[1].startswith("A ·")) == sum(
        b.sent for b in vs[0].trend
    )
    assert chart.rows[0][2] == str(sum(range(10, 15)))  # Jan 7 to 11
    drawn = texts(chart.svg)
    assert "Partial week" in drawn
    assert "partial" in chart.alt


def test_whole_weeks_are_not_partial() -> None:
    chart = variants.trends(trended(date(2026, 1, 5), 70))  # ten weeks from a Monday
    assert len(chart.rows) == 2 * 10 and not any("partial" in r[0] for r in chart.rows)
    assert "Partial week" not in texts(chart.svg)


def test_quarter_report_has_a_weekly_variant_trend(demo_stats: Callable[..., CampaignStats]) -> None:
    stats = demo_stats("black-friday-ab", DAY - timedelta(days=70), DAY + timedelta(days=22))
    chart = report_charts(stats, trend.granularity_for(92))["variants-trend"]
    assert chart.title.endswith("per week, by variant")
    for v in stats.variants:
        assert sum(int(r[2].replace(",", "")) for r in chart.rows if r[1] == f"{v.variant} · {v.name}") == v.sent
