"""The human view of `reporter stats`: Rich tables of the figures."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from reporter import formatting as fmt
from reporter.formatting import DASH
from reporter.metrics.model import CampaignStats
from reporter.verdicts_text import ab_sentence, control_sentence

format_count = fmt.count
format_rate = fmt.rate


def _ci(value: float | None) -> str:
    return DASH if value is None else f"{value:+.2f}"


def _signed(value: float | None) -> str:
    return DASH if value is None else f"{value:+,.1f}"


_p = fmt.p_value


def print_stats(console: Any, stats: CampaignStats) -> None:
    """Print the campaign's headline, control, funnel, split, errors and variants.

    The console is `terminal.console()`: it escapes control characters and parses markup only where a call asks.
    """
    c, t, p = stats.campaign, stats.totals, stats.period
    console.print(f"[bold]{escape(c.name)}[/bold] ({escape(c.id)}, {c.type})", markup=True, highlight=False)
    console.print(
        f"{p.start.isoformat()} .. {p.end.isoformat()} ({p.timezone}); window {c.conversion_window_hours:g} h"
    )
    head = Table("figure", "value", "rate", title="Sent conversions", box=None, title_justify="left")
    for label, value, rate in (
        ("qualified", format_count(t.qualified), ""),
        ("sent", format_count(t.sent), f"{format_count(t.sent_users)} users"),
        ("impressions", format_count(t.impressions), format_rate(t.impression_rate)),
        ("impressed users", format_count(t.impressed_users), ""),
        ("clicks", format_count(t.clicks), format_rate(t.click_rate)),
        ("clicked users", format_count(t.clicked_users), ""),
        ("CTR", "", format_rate(t.ctr)),
        ("converted users", format_count(t.converted_users), format_rate(t.conversion_rate)),
        ("conversions", format_count(t.conversions), ""),
        ("revenue", f"{t.revenue:,.2f} {c.currency}", ""),
        ("view-through", format_count(t.view_through_conversions), format_rate(t.view_through_conversion_rate)),
        ("click-through", format_count(t.click_through_conversions), format_rate(t.click_through_conversion_rate)),
        ("errors", format_count(t.errors), ""),
        ("uninstalls", format_count(t.uninstalls), "users"),
        ("control group", format_count(t.control_group), ""),
        (
            "uplift: push amplification",
            format_count(t.uplift.push_amplification),
            f"{format_count(t.uplift.push_amplification_reached)} users reached only there",
        ),
        (
            "uplift: app inbox",
            format_count(t.uplift.app_inbox),
            f"{format_count(t.uplift.app_inbox_reached)} users reached only there",
        ),
    ):
        head.add_row(label, value, rate)
    console.print(head)
    ctl = stats.control
    console.print(
        f"Control (intent to treat): {format_rate(ctl.conversion_rate)} of {format_count(ctl.users)} control users "
        "converted vs "
        f"{format_rate(ctl.treatment_conversion_rate)} of {format_count(ctl.treatment_users)} targeted; lift "
        f"{format_rate(ctl.lift)}, "
        f"incremental converters {_signed(ctl.incremental_conversions)}, p = {_p(ctl.p_value)}"
    )
    f = stats.funnel
    console.print(
        f"Funnel: sent {format_count(f.users.sent)} > viewed {format_count(f.users.viewed)} > clicked "
        f"{format_count(f.users.clicked)} > "
        f"converted {format_count(f.users.converted)}"
    )
    console.print("OS: " + (", ".join(f"{k} {format_count(v)}" for k, v in stats.split.os.items()) or DASH))
    console.print("Device: " + (", ".join(f"{k} {format_count(v)}" for k, v in stats.split.device.items()) or DASH))
    if stats.errors_by_code:
        errors = Table(
            "code", "count", "category", "retryable", "meaning", title="Errors", box=None, title_justify="left"
        )
        for e in stats.errors_by_code:
            errors.add_row(e.code, format_count(e.count), e.category, "yes" if e.retryable else "no", e.meaning)
        console.print(errors)
    if stats.variants:
        table = Table(
            "variant",
            "sent",
            "viewed",
            "clicked",
            "CTR",
            "errors",
            "converted",
            "conv. rate",
            "vs baseline",
            "p",
            "P(best)",
            title="Variants",
            box=None,
            title_justify="left",
        )
        for v in stats.variants:
            cmp = v.vs_baseline
            diff = (
                "baseline"
                if cmp is None
                else (
                    DASH
                    if cmp.difference is None
                    else f"{cmp.difference:+.2f} pp [{_ci(cmp.ci_low)}, {_ci(cmp.ci_high)}] "
                    + cmp.verdict.replace("_", " ")
                )
            )
            table.add_row(
                f"{v.variant} {v.name}",
                format_count(v.sent),
                format_count(v.impressions),
                format_count(v.clicks),
                format_rate(v.ctr),
                format_count(v.errors),
                format_count(v.converted_users),
                format_rate(v.conversion_rate),
                diff,
                _p(cmp.p_value) if cmp else "",
                format_rate(None if v.probability_best is None else 100 * v.probability_best),
            )
        console.print(table)
        if stats.sample_ratio is not None and stats.sample_ratio.mismatch:
            console.print(
                f"[bold red]Sample-ratio mismatch[/] (p = {_p(stats.sample_ratio.p_value)}): the split is broken.",
                markup=True,
            )
        console.print(ab_sentence(stats), markup=False, highlight=False)
    if stats.control.users:
        console.print(control_sentence(stats), markup=False, highlight=False)
