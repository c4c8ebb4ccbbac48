"""Charts of a report (Matplotlib, SVG): functions of the typed stats, never of SQL."""

from __future__ import annotations

from reporter.charts import errors, funnel, split, trend, variants
from reporter.charts.figure import Chart
from reporter.metrics.model import CampaignStats

GRANULARITIES = ("daily", "weekly", "monthly")


def report_charts(stats: CampaignStats, granularity: str) -> dict[str, Chart]:
    """Every chart of the campaign's report, by key (A/B charts only for an A/B campaign).

    The message trend comes in every granularity (the HTML switches between
    them); conversion and revenue performance in the one that fits the period.
    """
    out: dict[str, Chart] = {}
    for each in GRANULARITIES:
        chart = trend.message_trend(getattr(stats.trend, each), each)
        out[chart.key] = chart
    buckets = getattr(stats.trend, granularity)
    for chart in (
        trend.conversion_performance(buckets, granularity),
        trend.revenue_performance(buckets, granularity, stats.campaign.currency),
        funnel.users_funnel(stats.funnel),
        funnel.influenced_funnel(stats.funnel),
        split.os_split(stats.split.os),
        split.device_split(stats.split.device),
        errors.errors_by_code(stats.errors_by_code),
    ):
        out[chart.key] = chart
    if stats.variants:
        for chart in (variants.comparison(stats.variants), variants.trends(stats.variants), variants.funnels(stats.variants)):
            out[chart.key] = chart
    return out


__all__ = ["Chart", "GRANULARITIES", "report_charts"]
