"""A/B charts: conversion rate against the baseline with 95% intervals, and each variant side by side."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from reporter import formatting as fmt
from reporter.charts.figure import Chart
from reporter.charts.theme import (
    BLUE, FULL, GREEN, GREY, INK, MUTED, ORANGE, PINK, SERIES, fit_text, label_margin, no_data, safe_text, theme, to_svg,
)
from reporter.metrics.model import VariantStats


def _name(v: VariantStats) -> str:
    return f"{safe_text(v.variant, 8)} · {safe_text(v.name, 22)}"


def _width(fig: Figure, ax: Axes) -> float:
    """The width (inches) of a panel."""
    return ax.get_position().width * fig.get_figwidth()


def comparison(variants: Sequence[VariantStats]) -> Chart:
    """Left: each variant's conversion rate. Right: its difference to the baseline with the 95% interval."""
    title = "Conversion rate by variant, and against the baseline (95% interval)"
    with theme():
        size = (FULL[0], max(2.0, 0.45 * len(variants) + 1.0))
        fig = Figure(figsize=size)
        margin = label_margin([_name(v) for v in variants])
        # The verdict of each variant is written to the right of the plot area.
        fig.subplots_adjust(left=margin / size[0], right=1 - 2.0 / size[0], bottom=0.5 / size[1], top=1 - 0.12 / size[1],
                            wspace=0.08)
        left, right = fig.subplots(1, 2, sharey=True, width_ratios=(1, 1.2))
        y = list(range(len(variants)))[::-1]
        if not any(v.sent_users for v in variants):
            no_data(left)
            no_data(right)
        else:
            rates = [v.conversion_rate or 0.0 for v in variants]
            colours = [GREY if v.baseline else SERIES[i % len(SERIES)] for i, v in enumerate(variants)]
            left.barh(y, rates, color=colours, height=0.6)
            top = max(rates) or 1
            left.set_xlim(0, top * 1.4)
            for yi, v in zip(y, variants):
                left.text((v.conversion_rate or 0) + top * 0.02, yi, fmt.rate(v.conversion_rate), va="center", fontsize=7.5, color=INK)
            left.set_yticks(y, [_name(v) for v in variants])
            left.set_xlabel("Conversion rate (%)")
            left.grid(axis="y", visible=False)
            right.axvline(0, color=MUTED, linewidth=1)
            spans = []
            for yi, v, colour in zip(y, variants, colours):
                cmp = v.vs_baseline
                if v.baseline or cmp is None or cmp.difference is None:
                    note = "baseline" if v.baseline else "no data"
                    right.annotate(note, (0, yi), xytext=(5, 0), textcoords="offset points", va="center", fontsize=7.5,
                                   color=MUTED)
                    continue
                low = cmp.difference if cmp.ci_low is None else cmp.ci_low
                high = cmp.difference if cmp.ci_high is None else cmp.ci_high
                spans += [low, high]
                right.errorbar(cmp.difference, yi, xerr=[[cmp.difference - low], [high - cmp.difference]],
                               fmt="o", color=colour, ecolor=colour, capsize=4, markersize=5)
                verdict = fmt.label(cmp.verdict)
                right.text(1.03, yi, f"{fmt.points(cmp.difference)}, p {fmt.p_value(cmp.p_value)}\n{verdict}",
                           transform=right.get_yaxis_transform(), va="center", fontsize=7.5, clip_on=False,
                           color=INK if cmp.significant else MUTED, fontweight="bold" if cmp.significant else "normal")
            reach = max((abs(s) for s in spans), default=1.0) or 1.0
            right.set_xlim(-reach * 1.15, reach * 1.15)
            right.set_xlabel("Difference to baseline (percentage points)")
            right.xaxis.set_major_locator(MaxNLocator(nbins=5))
            right.grid(axis="y", visible=False)
            right.tick_params(axis="y", left=False)
        svg = to_svg(fig, "variants-comparison")
    rows = tuple(
        (
            f"{v.variant} · {v.name}",
            fmt.rate(v.conversion_rate),
            "baseline" if v.baseline else fmt.points(v.vs_baseline.difference if v.vs_baseline else None),
            "" if v.baseline or not v.vs_baseline else f"{fmt.points(v.vs_baseline.ci_low)} to {fmt.points(v.vs_baseline.ci_high)}",
            "" if v.baseline or not v.vs_baseline else fmt.p_value(v.vs_baseline.p_value),
            "" if v.baseline or not v.vs_baseline else fmt.label(v.vs_baseline.verdict),
        )
        for v in variants
    )
    alt = "Conversion rate by variant: " + "; ".join(f"{v.variant} {fmt.rate(v.conversion_rate)}" for v in variants) + "."
    return Chart("variants-comparison", title, alt, svg,
                 ("Variant", "Conversion rate", "Difference", "95% interval", "p-value (always valid)", "Verdict"), rows)


def trends(variants: Sequence[VariantStats]) -> Chart:
    """Each variant's daily sent, impressions and clicks, side by side on a shared scale."""
    title = "Message trend by variant (daily)"
    buckets = sorted({b.bucket for v in variants for b in v.trend})
    with theme():
        fig = Figure(figsize=(FULL[0], 2.4))
        fig.subplots_adjust(left=0.62 / FULL[0], right=0.98, bottom=0.62 / 2.4, top=1 - 0.3 / 2.4, wspace=0.1)
        axes = fig.subplots(1, max(1, len(variants)), sharey=True, squeeze=False)[0]
        top = max((b.sent for v in variants for b in v.trend), default=0)
        for ax, v in zip(axes, variants):
            ax.set_title(fit_text(_name(v), _width(fig, ax), 8.5, bold=True), fontsize=8.5)
            if not v.trend:
                no_data(ax)
                continue
            index = {b: i for i, b in enumerate(buckets)}
            x = [index[b.bucket] for b in v.trend]
            for key, colour in (("sent", BLUE), ("impressions", ORANGE), ("clicks", GREEN)):
                ax.plot(x, [getattr(b, key) for b in v.trend], color=colour, label=fmt.label(key), linewidth=1.3)
            ax.set_xlim(-0.5, max(len(buckets) - 0.5, 0.5))
            ax.set_ylim(0, top * 1.1 or 1)
            # Two dates per panel, so that neighbouring panels' labels never meet.
            ticks = sorted({0, len(buckets) // 2}) if len(buckets) > 1 else [0]
            ax.set_xticks(ticks, [fmt.bucket_label(buckets[t], "daily") for t in ticks])
            ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _p: fmt.compact(y)))
            ax.grid(axis="x", visible=False)
        axes[0].set_ylabel("Messages")
        if any(v.trend for v in variants):
            fig.legend(*axes[0].get_legend_handles_labels() if variants[0].trend else
                       next(a for a, v in zip(axes, variants) if v.trend).get_legend_handles_labels(),
                       loc="lower center", ncols=3, bbox_to_anchor=(0.5, 0.0))
        svg = to_svg(fig, "variants-trend")
    rows = tuple(
        (v.variant, fmt.count(sum(b.sent for b in v.trend)), fmt.count(sum(b.impressions for b in v.trend)),
         fmt.count(sum(b.clicks for b in v.trend)), fmt.count(len(v.trend)))
        for v in variants
    )
    alt = "Daily sent, impressions and clicks of each variant, side by side on a shared scale."
    return Chart("variants-trend", title, alt, svg, ("Variant", "Sent", "Impressions", "Clicks", "Days"), rows)


def funnels(variants: Sequence[VariantStats]) -> Chart:
    """Each variant's messages sent, viewed and clicked, and its converted users, side by side."""
    title = "Funnel by variant"
    steps = ("Sent", "Viewed", "Clicked", "Converted users")
    with theme():
        fig = Figure(figsize=(FULL[0], 2.0))
        fig.subplots_adjust(left=label_margin(list(steps)) / FULL[0], right=0.98, bottom=0.3 / 2.0, top=1 - 0.3 / 2.0, wspace=0.1)
        axes = fig.subplots(1, max(1, len(variants)), sharex=True, squeeze=False)[0]
        top = max((v.sent for v in variants), default=0)
        for ax, v in zip(axes, variants):
            ax.set_title(fit_text(_name(v), _width(fig, ax), 8.5, bold=True), fontsize=8.5)
            values = [v.sent, v.impressions, v.clicks, v.converted_users]
            if not v.sent:
                no_data(ax)
                continue
            y = list(range(len(values)))[::-1]
            ax.barh(y, values, color=[BLUE, ORANGE, GREEN, PINK], height=0.6)
            ax.set_xlim(0, top * 1.5 or 1)
            for yi, value in zip(y, values):
                ax.text(value + top * 0.03, yi, fmt.compact(value), va="center", fontsize=7, color=INK)
            ax.set_yticks(y, steps if ax is axes[0] else [""] * len(steps))
            ax.xaxis.set_major_locator(MaxNLocator(nbins=3))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: fmt.compact(x)))
            ax.grid(axis="y", visible=False)
        svg = to_svg(fig, "variants-funnel")
    rows = tuple(
        (v.variant, fmt.count(v.sent), fmt.count(v.impressions), fmt.count(v.clicks), fmt.count(v.converted_users))
        for v in variants
    )
    alt = "Messages sent, viewed and clicked, and converted users, of each variant side by side."
    return Chart("variants-funnel", title, alt, svg, ("Variant", *steps), rows)
