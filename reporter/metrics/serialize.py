"""CampaignStats as the documented `stats --json` document (README and docs/figures.md)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from reporter.metrics.model import CampaignStats, TrendBucket, VariantStats

VARIANT_KEYS = (
    "variant",
    "name",
    "baseline",
    "sent",
    "sent_users",
    "impressions",
    "impressed_users",
    "clicks",
    "clicked_users",
    "ctr",
    "click_rate",
    "errors",
    "converted_users",
    "conversion_rate",
    "revenue",
    "revenue_per_user",
    "funnel",
    "probability_best",
    "channels",
    "vs_baseline",
)


def _bucket(b: TrendBucket) -> dict[str, Any]:
    return asdict(b)


def _trend(stats: CampaignStats) -> dict[str, Any]:
    """daily, weekly, monthly; hourly first when the period has it (at most seven days)."""
    t = stats.trend
    out = {} if t.hourly is None else {"hourly": [_bucket(b) for b in t.hourly]}
    out.update(
        daily=[_bucket(b) for b in t.daily],
        weekly=[_bucket(b) for b in t.weekly],
        monthly=[_bucket(b) for b in t.monthly],
    )
    return out


def _variant(v: VariantStats) -> dict[str, Any]:
    out = {k: getattr(v, k) for k in VARIANT_KEYS}
    out["funnel"] = asdict(v.funnel)
    out["channels"] = {name: asdict(c) for name, c in v.channels.items()}
    out["vs_baseline"] = asdict(v.vs_baseline) if v.vs_baseline is not None else None
    return out


def stats_to_json(stats: CampaignStats) -> dict[str, Any]:
    """The JSON-ready dict, keys in the documented order."""
    c = stats.campaign
    return {
        "campaign": {
            "id": c.id,
            "name": c.name,
            "type": c.type,
            "conversion_event": c.conversion_event,
            "conversion_window_hours": c.conversion_window_hours,
            "currency": c.currency,
        },
        "period": {
            "from": stats.period.start.isoformat(),
            "to": stats.period.end.isoformat(),
            "timezone": stats.period.timezone,
        },
        "totals": asdict(stats.totals),
        "control": asdict(stats.control),
        "trend": _trend(stats),
        "funnel": asdict(stats.funnel),
        "split": {"os": dict(stats.split.os), "device": dict(stats.split.device)},
        "errors_by_code": [asdict(e) for e in stats.errors_by_code],
        "errors_by_category": asdict(stats.errors_by_category),
        "variants": [_variant(v) for v in stats.variants],
        "winner": stats.winner,
        "sample_ratio": asdict(stats.sample_ratio) if stats.sample_ratio is not None else None,
        "verdict": stats.verdict,
        "test_started": stats.test_started.isoformat() if stats.test_started is not None else None,
    }
