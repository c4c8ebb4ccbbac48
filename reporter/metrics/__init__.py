"""The metrics engine: every figure of docs/figures.md, aggregated in the database."""

from reporter.metrics.fetch import compute_stats, compute_stats_concurrently, resolve_period
from reporter.metrics.model import CampaignStats, Period

__all__ = ["CampaignStats", "Period", "compute_stats", "compute_stats_concurrently", "resolve_period"]
