"""Producing a campaign's report files: query, render, write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from reporter.errors import OptionError
from reporter.files import period_name, safe_name, write_atomic
from reporter.metrics import CampaignStats, compute_stats_concurrently
from reporter.render import Branding, Rendered, render_html, render_pdf

FORMATS = ("pdf", "html")


@dataclass(frozen=True)
class ReportFiles:
    """The files written for one campaign and period."""

    campaign_id: str
    period: str
    paths: tuple[Path, ...]


def parse_formats(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """`pdf,html` -> ('pdf', 'html'); an unknown format is a user error naming the option."""
    items = value.split(",") if isinstance(value, str) else list(value)
    formats = tuple(dict.fromkeys(f.strip().lower() for f in items if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise OptionError("--format", f"unknown format {unknown[0]!r} (expected pdf, html or both)" if unknown
                          else "no format given (expected pdf, html or both)")
    return formats


def previous_stats(engine: Engine, stats: CampaignStats) -> CampaignStats:
    """The same campaign over the period of equal length just before."""
    length = stats.period.end - stats.period.start
    return compute_stats_concurrently(
        engine, stats.campaign.id, stats.period.start - length, stats.period.start, stats.period.timezone
    )


def build_report(
    engine: Engine,
    campaign_id: str,
    start: datetime | None,
    end: datetime | None,
    tz: str,
    generated_at: datetime,
    branding: Branding,
) -> tuple[CampaignStats, Rendered]:
    """The campaign's stats and rendered HTML (with the previous-period comparison)."""
    stats = compute_stats_concurrently(engine, campaign_id, start, end, tz)
    previous = previous_stats(engine, stats)
    return stats, render_html(stats, previous, generated_at, branding)


def report_bytes(rendered: Rendered, formats: tuple[str, ...]) -> dict[str, bytes]:
    """The content of each requested format (the PDF is laid out only when asked for)."""
    return {fmt: render_pdf(rendered) if fmt == "pdf" else rendered.html.encode("utf-8") for fmt in formats}


def write_report(rendered: Rendered, stats: CampaignStats, formats: tuple[str, ...], folder: Path) -> ReportFiles:
    """Write the report's files (atomically) into `folder`; returns their paths."""
    base = f"{safe_name(stats.campaign.id)}_{period_name(stats.period)}"
    paths = []
    for fmt, data in report_bytes(rendered, formats).items():
        path = folder / f"{base}.{fmt}"
        write_atomic(path, data)
        paths.append(path)
    return ReportFiles(stats.campaign.id, period_name(stats.period), tuple(paths))


def render_campaign(
    engine: Engine,
    campaign_id: str,
    out: Path,
    formats: tuple[str, ...] = FORMATS,
    start: datetime | None = None,
    end: datetime | None = None,
    tz: str = "UTC",
    generated_at: datetime | None = None,
    branding: Branding = Branding(),
) -> ReportFiles:
    """Query, render and write one campaign's report into `out`."""
    from datetime import timezone

    generated_at = generated_at or datetime.now(timezone.utc).replace(microsecond=0)
    stats, rendered = build_report(engine, campaign_id, start, end, tz, generated_at, branding)
    return write_report(rendered, stats, formats, out)
