"""Charts of a report (Matplotlib, SVG): functions of the typed stats, never of SQL."""

from __future__ import annotations

from reporter.charts import errors, funnel, split, trend, variants
from reporter.charts.figure import Chart
from reporter.metrics.model import CampaignStats

GRANULARITIES = ("daily", "weekly", "monthly")  # the message trend's views; "hourly" too where the stats have hours


def report_charts(stats: CampaignStats, granularity: str) -> dict[str, Chart]:
    """Every chart of the campaign's report, by key (A/B charts only for an A/B campaign).

    The message trend comes in every granularity that has something to show
    (the HTML switches between them): hourly where the stats have hours
    (periods up to 7 days), daily always, weekly and monthly when the period
    spans more than one week or month. Conversions and revenue come in the
    granularity that fits the period (`trend.granularity_for`).
    """
    tz = stats.period.timezone
    if granularity == "hourly" and stats.trend.hourly is None:
        raise ValueError("an hourly report needs the hourly trend, which the metrics give for periods up to 7 days")
    out: dict[str, Chart] = {}
    views = {"hourly": stats.trend.hourly or (), **{g: getattr(stats.trend, g) for g in GRANULARITIES}}
    for each, buckets in views.items():
        if each == "daily" or each == granularity or len(buckets) > 1:
            chart = trend.message_trend(buckets, each, tz)
            out[chart.key] = chart
    buckets = views[granularity]
    for chart in (
        trend.conversion_performance(buckets, granularity, tz),
        trend.revenue_performance(buckets, granularity, stats.campaign.currency, tz),
        funnel.users_funnel(stats.funnel),
        funnel.influenced_funnel(stats.funnel),
        split.os_split(stats.split.os),
        split.device_split(stats.split.device),
        errors.errors_by_code(stats.errors_by_code),
    ):
        out[chart.key] = chart
    if stats.variants:
        for chart in (
            variants.comparison(stats.variants),
            variants.trends(stats.variants, granularity in ("weekly", "monthly")),
            variants.funnels(stats.variants),
        ):
            out[chart.key] = chart
    return out


__all__ = ["GRANULARITIES", "Chart", "report_charts"]
