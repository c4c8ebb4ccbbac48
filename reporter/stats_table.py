"""The human view of `reporter stats`: Rich tables of the figures."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from reporter.metrics.model import CampaignStats

DASH = "—"


def format_count(value: int) -> str:
    """A count with thousands separators."""
    return f"{value:,}"


def format_rate(value: float | None) -> str:
    """A percentage with two decimals, or an em dash when undefined."""
    return DASH if value is None else f"{value:.2f}%"


_n, _pct = format_count, format_rate


def _p(value: float | None) -> str:
    return DASH if value is None else ("<0.0001" if value < 1e-4 else f"{value:.4f}")


def print_stats(console: Any, stats: CampaignStats) -> None:
    """Print the campaign's headline, control, funnel, split, errors and variants."""
    c, t, p = stats.campaign, stats.totals, stats.period
    console.print(f"[bold]{c.name}[/bold] ({c.id}, {c.type})", markup=True, highlight=False)
    console.print(f"{p.start.isoformat()} .. {p.end.isoformat()} ({p.timezone}); window {c.conversion_window_hours:g} h")
    head = Table("figure", "value", "rate", title="Sent conversions", box=None, title_justify="left")
    for label, value, rate in (
        ("qualified", _n(t.qualified), ""),
        ("sent", _n(t.sent), f"{_n(t.sent_users)} users"),
        ("impressions", _n(t.impressions), _pct(t.impression_rate)),
        ("clicks", _n(t.clicks), _pct(t.click_rate)),
        ("CTR", "", _pct(t.ctr)),
        ("converted users", _n(t.converted_users), _pct(t.conversion_rate)),
        ("conversions", _n(t.conversions), ""),
        ("revenue", f"{t.revenue:,.2f} {c.currency}", ""),
        ("view-through", _n(t.view_through_conversions), _pct(t.view_through_conversion_rate)),
        ("click-through", _n(t.click_through_conversions), _pct(t.click_through_conversion_rate)),
        ("errors", _n(t.errors), ""),
        ("control group", _n(t.control_group), ""),
        ("uplift: push amplification", _n(t.uplift.push_amplification), ""),
        ("uplift: app inbox", _n(t.uplift.app_inbox), ""),
    ):
        head.add_row(label, value, rate)
    console.print(head)
    ctl = stats.control
    console.print(
        f"Control: {_pct(ctl.conversion_rate)} of {_n(ctl.users)} converted vs {_pct(t.conversion_rate)} sent; "
        f"lift {_pct(ctl.lift)}, p = {_p(ctl.p_value)}"
    )
    f = stats.funnel
    console.print(
        f"Funnel: sent {_n(f.users.sent)} > viewed {_n(f.users.viewed)} > clicked {_n(f.users.clicked)} > "
        f"converted {_n(f.users.converted)}"
    )
    console.print("OS: " + (", ".join(f"{k} {_n(v)}" for k, v in stats.split.os.items()) or DASH))
    console.print("Device: " + (", ".join(f"{k} {_n(v)}" for k, v in stats.split.device.items()) or DASH))
    if stats.errors_by_code:
        errors = Table("code", "count", "category", "retryable", "meaning", title="Errors", box=None, title_justify="left")
        for e in stats.errors_by_code:
            errors.add_row(e.code, _n(e.count), e.category, "yes" if e.retryable else "no", e.meaning)
        console.print(errors)
    if stats.variants:
        table = Table(
            "variant", "sent", "viewed", "clicked", "CTR", "errors", "converted", "conv. rate", "vs baseline", "p",
            "P(best)", title="Variants", box=None, title_justify="left",
        )
        for v in stats.variants:
            cmp = v.vs_baseline
            diff = "baseline" if cmp is None else (
                DASH if cmp.difference is None else f"{cmp.difference:+.2f} pp [{cmp.ci_low:+.2f}, {cmp.ci_high:+.2f}]"
                + (" *" if cmp.significant else "")
            )
            table.add_row(
                f"{v.variant} {v.name}", _n(v.sent), _n(v.impressions), _n(v.clicks), _pct(v.ctr), _n(v.errors),
                _n(v.converted_users), _pct(v.conversion_rate), diff, _p(cmp.p_value) if cmp else "",
                _pct(None if v.probability_best is None else 100 * v.probability_best),
            )
        console.print(table)
        console.print(f"Winner: {stats.winner or 'no significant winner yet'}")
        if stats.sample_ratio is not None and stats.sample_ratio.mismatch:
            console.print(f"[bold red]Sample-ratio mismatch[/] (p = {_p(stats.sample_ratio.p_value)}): the split is broken.")
