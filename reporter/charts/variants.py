"""A/B charts: conversion rate against the baseline with 95% intervals, and each variant side by side."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator

from reporter import formatting as fmt
from reporter.charts.figure import Chart
from reporter.charts.funnel import USER_STEPS, draw_steps, step_texts
from reporter.charts.theme import (
    BLUE,
    FULL,
    GREEN,
    GREY,
    INK,
    MUTED,
    ORANGE,
    PINK,
    SERIES,
    fit_text,
    label_margin,
    no_data,
    number,
    safe_text,
    text_width,
    theme,
    to_svg,
    wrap_text,
)
from reporter.charts.trend import MIN_SLOTS, UNITS, X_LABELS, bucket_text, partial_note, plot_series
from reporter.charts.trend import SERIES as TREND_SERIES
from reporter.metrics.model import Comparison, TrendBucket, VariantStats

STEP_COLOURS = (BLUE, ORANGE, GREEN, PINK)
WEEKLY_AFTER = 62  # days: a longer period's variant trends are summed into weeks, as the main trend
MAX_MARGIN = 2.0  # inches: a long variant name is cut, it does not squeeze the panels
GAP = 0.3  # inches between the two panels of the comparison
MAX_POINTS = 100.0  # a difference of two rates never passes ±100 pp, whatever its interval says
RATE_LABEL = "Conversion rate in this period (%)"
DIFFERENCE_LABEL = "Difference to baseline since the test started (pp)"


def _name(v: VariantStats) -> str:
    return f"{safe_text(v.variant, 8)} · {safe_text(v.name, 22)}"


def _width(fig: Figure, ax: Axes) -> float:
    """The width (inches) of a panel."""
    return ax.get_position().width * fig.get_figwidth()


def _p(value: float | None) -> str:
    """p = 0.018, p < 0.001."""
    text = fmt.p_value(value)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _note(cmp: Comparison) -> str:
    """The words next to a variant's interval: its difference, p-value and verdict."""
    return f"{fmt.points(cmp.difference)}, {_p(cmp.p_value)},\n{fmt.label(cmp.verdict)}"


def comparison(variants: Sequence[VariantStats]) -> Chart:
    """Left: each variant's conversion rate in the period. Right: its difference to the baseline since the test
    started."""
    title = "Conversion rate by variant, and its difference to the baseline with the 95% interval"
    compared = [
        v.vs_baseline
        for v in variants
        if not v.baseline and v.vs_baseline is not None and v.vs_baseline.difference is not None
    ]
    with theme():
        size = (FULL[0], max(2.2, 0.45 * len(variants) + 1.2))
        fig = Figure(figsize=size)
        margin = min(label_margin([_name(v) for v in variants]), MAX_MARGIN)
        names = [fit_text(_name(v), margin - 0.12) for v in variants]
        # The verdict of each variant is written to the right of the plot area.
        notes = [line for cmp in compared for line in _note(cmp).split("\n")]
        right_margin = min(MAX_MARGIN, max(1.0, max((text_width(n, 7.5) for n in notes), default=0.0) + 0.25))
        room = size[0] - margin - right_margin - GAP
        fig.subplots_adjust(
            left=margin / size[0],
            right=1 - right_margin / size[0],
            bottom=0.72 / size[1],
            top=1 - 0.12 / size[1],
            wspace=GAP / (room / 2),
        )
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
            for yi, v in zip(y, variants, strict=True):
                left.text(
                    (v.conversion_rate or 0) + top * 0.02,
                    yi,
                    fmt.rate(v.conversion_rate),
                    va="center",
                    fontsize=7.5,
                    color=INK,
                )
            left.set_yticks(y, names)
            # Each label within its panel, so that the two never run together.
            left.set_xlabel(wrap_text(RATE_LABEL, _width(fig, left)))
            left.grid(axis="y", visible=False)
            right.axvline(0, color=MUTED, linewidth=1)
            spans = [0.0]
            for yi, v, colour in zip(y, variants, colours, strict=True):
                cmp = v.vs_baseline
                if v.baseline or cmp is None or cmp.difference is None:
                    note = "baseline" if v.baseline else "no data"
                    right.annotate(
                        note, (0, yi), xytext=(5, 0), textcoords="offset points", va="center", fontsize=7.5, color=MUTED
                    )
                    continue
                low = cmp.difference if cmp.ci_low is None else cmp.ci_low
                high = cmp.difference if cmp.ci_high is None else cmp.ci_high
                spans += [low, high]
                right.errorbar(
                    cmp.difference,
                    yi,
                    xerr=[[cmp.difference - low], [high - cmp.difference]],
                    fmt="o",
                    color=colour,
                    ecolor=colour,
                    capsize=4,
                    markersize=5,
                )
                right.annotate(
                    _note(cmp),
                    (1, yi),
                    xycoords=right.get_yaxis_transform(),
                    xytext=(6, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=7.5,
                    annotation_clip=False,
                    color=INK if cmp.significant else MUTED,
                    fontweight="bold" if cmp.significant else "normal",
                )
            # The data's span, never past ±100 pp: a wide interval of a small sample runs off the axis instead.
            low, high = max(min(spans), -MAX_POINTS), min(max(spans), MAX_POINTS)
            pad = 0.12 * ((high - low) or 1.0)
            right.set_xlim(max(low - pad, -MAX_POINTS), min(high + pad, MAX_POINTS))
            right.set_xlabel(wrap_text(DIFFERENCE_LABEL, _width(fig, right)))
            right.xaxis.set_major_locator(MaxNLocator(nbins=5))
            right.grid(axis="y", visible=False)
            right.tick_params(axis="y", left=False)
        svg = to_svg(fig, "variants-comparison")
    rows = tuple(
        (
            f"{v.variant} · {v.name}",
            fmt.rate(v.conversion_rate),
            "baseline" if v.baseline else fmt.points(v.vs_baseline.difference if v.vs_baseline else None),
            ""
            if v.baseline or not v.vs_baseline
            else f"{fmt.points(v.vs_baseline.ci_low)} to {fmt.points(v.vs_baseline.ci_high)}",
            "" if v.baseline or not v.vs_baseline else fmt.p_value(v.vs_baseline.p_value),
            "" if v.baseline or not v.vs_baseline else fmt.label(v.vs_baseline.verdict),
        )
        for v in variants
    )
    alt = f"{title}: " + "; ".join(_against(v) for v in variants) + "."
    return Chart(
        "variants-comparison",
        title,
        alt,
        svg,
        ("Variant", "Conversion rate", "Difference", "95% interval", "p-value (always valid)", "Verdict"),
        rows,
    )


def _against(v: VariantStats) -> str:
    """A variant's conversion rate and where it stands against the baseline, in words."""
    head = f"{v.variant} {fmt.rate(v.conversion_rate)}"
    cmp = v.vs_baseline
    if v.baseline:
        return f"{head} (baseline)"
    if cmp is None or cmp.difference is None:
        return f"{head}, no comparison yet"
    return (
        f"{head}, {fmt.points(cmp.difference)} ({fmt.points(cmp.ci_low)} to {fmt.points(cmp.ci_high)}), "
        f"{fmt.label(cmp.verdict).lower()}"
    )


def weekly(trend: Sequence[TrendBucket], days: Sequence[str]) -> tuple[TrendBucket, ...]:
    """Daily buckets summed into ISO weeks, keyed by their Monday; partial unless the period has its 7 days whole."""
    weeks: dict[str, list[TrendBucket]] = {}
    for b in trend:
        day = date.fromisoformat(b.bucket)
        weeks.setdefault((day - timedelta(days=day.weekday())).isoformat(), []).append(b)
    covered = Counter(
        (date.fromisoformat(d) - timedelta(days=date.fromisoformat(d).weekday())).isoformat() for d in days
    )
    return tuple(
        TrendBucket(
            monday,
            sum(b.sent for b in bs),
            sum(b.impressions for b in bs),
            sum(b.clicks for b in bs),
            sum(b.errors for b in bs),
            sum(b.conversions for b in bs),
            round(sum(b.revenue for b in bs), 2),
            partial=covered[monday] < 7 or any(b.partial for b in bs),
        )
        for monday, bs in weeks.items()
    )


def trends(variants: Sequence[VariantStats], by_week: bool | None = None) -> Chart:
    """Each variant's sent, impressions and clicks per day (per week over more than 62 days), side by side.

    The variants' trends are daily whatever the period (the metrics give no
    hourly trend per variant): a one- or two-day report shows one or two points,
    a quarter its days summed into weeks rather than 92 points under two ticks.
    """
    days = sorted({b.bucket for v in variants for b in v.trend})
    if by_week is None:
        by_week = len(days) > WEEKLY_AFTER
    granularity = "weekly" if by_week else "daily"
    series = [weekly(v.trend, days) if by_week else tuple(v.trend) for v in variants]
    unit = UNITS[granularity]
    title = f"Sent, impressions and clicks per {unit}, by variant"
    buckets = sorted({b.bucket for bs in series for b in bs})
    index = {d: i for i, d in enumerate(buckets)}
    n = len(buckets)
    pad = max(0.0, (MIN_SLOTS - n) / 2)
    with theme():
        fig = Figure(figsize=(FULL[0], 2.4))
        fig.subplots_adjust(left=0.62 / FULL[0], right=0.98, bottom=0.62 / 2.4, top=1 - 0.3 / 2.4, wspace=0.1)
        axes = fig.subplots(1, max(1, len(variants)), sharey=True, squeeze=False)[0]
        top = max((b.sent for bs in series for b in bs), default=0)
        for ax, v, bs in zip(axes, variants, series, strict=False):
            ax.set_title(fit_text(_name(v), _width(fig, ax), 8.5, bold=True), fontsize=8.5)
            if not bs:
                no_data(ax)
                continue
            x = [index[b.bucket] for b in bs]
            for figure, label, colour in TREND_SERIES:
                plot_series(ax, bs, x, figure, colour, label, linewidth=1.3)
            ax.set_xlim(-0.5 - pad, n - 0.5 + pad)
            ax.set_ylim(0, top * 1.1 or 1)
            # Two dates per panel, so that neighbouring panels' labels never meet.
            ticks = sorted({0, n // 2}) if n > 2 else list(range(n))
            ax.set_xticks(ticks, [fmt.bucket_label(buckets[t], granularity) for t in ticks])
            ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, min_n_ticks=3))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _p: number(y)))
            ax.grid(axis="x", visible=False)
        axes[0].set_ylabel("Notifications")
        drawn = next((a for a, bs in zip(axes, series, strict=False) if bs), None)
        if drawn is not None:
            handles, labels = drawn.get_legend_handles_labels()
            if any(b.partial for bs in series for b in bs):
                handles.append(Line2D([], [], color=MUTED, linestyle=(0, (3, 2)), marker="o", markerfacecolor="white"))
                labels.append(f"Partial {unit}")
            fig.legend(handles, labels, loc="lower center", ncols=len(labels), bbox_to_anchor=(0.5, 0.0))
        svg = to_svg(fig, "variants-trend")
    rows = tuple(
        (
            bucket_text(b, granularity),
            f"{v.variant} · {v.name}",
            fmt.count(b.sent),
            fmt.count(b.impressions),
            fmt.count(b.clicks),
        )
        for d in buckets
        for v, bs in zip(variants, series, strict=True)
        for b in bs
        if b.bucket == d
    )
    alt = (
        f"{title}, on a shared scale over {n} {unit}{'' if n == 1 else 's'}: "
        + "; ".join(f"{v.variant} {fmt.count(sum(b.sent for b in v.trend))} sent" for v in variants)
        + "."
        + partial_note(max(series, key=len, default=()), granularity)
    )
    return Chart(
        "variants-trend", title, alt, svg, (X_LABELS[granularity], "Variant", "Sent", "Impressions", "Clicks"), rows
    )


def funnels(variants: Sequence[VariantStats]) -> Chart:
    """Each variant's users sent to, who saw it, clicked and converted, as shares of its users sent to, side by side."""
    title = "Users at each step, by variant"
    with theme():
        fig = Figure(figsize=(FULL[0], 2.1))
        fig.subplots_adjust(
            left=label_margin(list(USER_STEPS)) / FULL[0], right=0.98, bottom=0.55 / 2.1, top=1 - 0.3 / 2.1, wspace=0.12
        )
        axes = fig.subplots(1, max(1, len(variants)), squeeze=False)[0]
        top = max((v.funnel.sent for v in variants), default=0)
        texts = {v.variant: step_texts(_steps(v)) for v in variants}
        size = 7.0 if len(variants) <= 3 else 6.0
        # One scale for every panel: the widest room any panel's texts need.
        scales = []
        for ax, v in zip(axes, variants, strict=False):
            ax.set_title(fit_text(_name(v), _width(fig, ax), 8.5, bold=True), fontsize=8.5)
            if not any(_steps(v)):
                no_data(ax)
                continue
            draw_steps(ax, fig, _steps(v), texts[v.variant], STEP_COLOURS, top, size)
            scales.append(ax.get_xlim()[1])
            ax.set_yticks(list(range(len(USER_STEPS)))[::-1], USER_STEPS if ax is axes[0] else [""] * len(USER_STEPS))
            ax.set_xlabel("Users")
        for ax, v in zip(axes, variants, strict=False):
            if any(_steps(v)):
                ax.set_xlim(0, max(scales))
        svg = to_svg(fig, "variants-funnel")
    rows = tuple((f"{v.variant} · {v.name}", *texts[v.variant]) for v in variants)
    alt = (
        f"{title}, as a share of each variant's users sent to: "
        + "; ".join(f"{v.variant} sent to {texts[v.variant][0]}, converted {texts[v.variant][3]}" for v in variants)
        + "."
    )
    return Chart("variants-funnel", title, alt, svg, ("Variant", *USER_STEPS), rows)


def _steps(v: VariantStats) -> list[int]:
    f = v.funnel
    return [f.sent, f.viewed, f.clicked, f.converted]
