"""Trends over time: messages, conversions and revenue per hour, day, week or month.

The axis runs over every bucket of the period (the metrics list them all, zeros
included). A few buckets get markers and narrow bars, so that one day is a
point or a bar you can see, not empty axes or a bar across the page. A bucket
the period covers only in part (a cut-off week or month) is drawn lighter and
dashed, and its label says "(partial)", so that it does not read as a drop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from reporter import formatting as fmt
from reporter.charts.figure import Chart
from reporter.charts.theme import (
    BLUE,
    FULL,
    GREEN,
    INK,
    MUTED,
    ORANGE,
    PINK,
    new_figure,
    no_data,
    number,
    theme,
    to_svg,
)
from reporter.metrics.model import TrendBucket

X_LABELS = {"hourly": "Hour", "daily": "Day", "weekly": "Week starting Monday", "monthly": "Month"}
UNITS = {"hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month"}
SERIES = (("sent", "Sent", BLUE), ("impressions", "Impressions", ORANGE), ("clicks", "Clicks", GREEN))
MIN_SLOTS = 7  # the axis is at least this many buckets wide: one bucket is a bar, not the whole chart
MARKERS_UP_TO = 16  # buckets; more, and the points would crowd the line
MAX_TICKS = 9


def granularity_for(days: int) -> str:
    """The trend granularity that fits a period of that many days: hours up to two days, then days, weeks, months."""
    if days <= 2:
        return "hourly"
    if days <= 62:
        return "daily"
    if days <= 26 * 7:
        return "weekly"
    return "monthly"


def _hour(key: str) -> tuple[date, str, str]:
    """An hourly bucket key (2026-11-01T01:00, or 2026-11-01T01:00-04:00 for a repeated hour): day, clock, offset."""
    return date.fromisoformat(key[:10]), key[11:16], key[16:]


def bucket_text(bucket: TrendBucket, granularity: str) -> str:
    """The bucket's label for people, marked when the period covers only part of it."""
    if granularity == "hourly":
        day, clock, offset = _hour(bucket.bucket)
        # A repeated hour (the clocks going back) is told apart by its UTC offset.
        label = f"{fmt.short_day(day)}, {clock}" + (f" (UTC{offset.replace('-', '−')})" if offset else "")
    else:
        label = fmt.bucket_label(bucket.bucket, granularity)
    return f"{label} (partial)" if bucket.partial else label


def _hour_ticks(buckets: Sequence[TrendBucket]) -> tuple[list[int], list[str]]:
    """Ticks every 3, 6, 12 or 24 hours on the clock (DST days have 23 or 25 hours), the date under a day's first."""
    n = len(buckets)
    step = 3 if n <= 30 else 6 if n <= 54 else 12 if n <= 100 else 24
    ticks: list[int] = []
    labels: list[str] = []
    seen: set[tuple[date, str]] = set()
    for i, b in enumerate(buckets):
        day, clock, _offset = _hour(b.bucket)
        # A repeated hour (the clocks going back) is labelled once.
        if (int(clock[:2]) % step and not (i == 0 and n < step)) or (day, clock) in seen:
            continue
        first_of_day = not any(d == day for d, _ in seen)
        seen.add((day, clock))
        ticks.append(i)
        labels.append(f"{clock}\n{fmt.short_day(day)}" if first_of_day else clock)
    return ticks, labels


def _ticks(buckets: Sequence[TrendBucket], granularity: str) -> tuple[list[int], list[str]]:
    """At most MAX_TICKS evenly spaced labelled buckets; a partial first or last bucket is always labelled."""
    if granularity == "hourly":
        return _hour_ticks(buckets)
    n = len(buckets)
    step = -(-n // MAX_TICKS)
    # Counted from the end when the last bucket is the partial one, so that it gets its label.
    ticks = list(range(n - 1, -1, -step))[::-1] if buckets[-1].partial else list(range(0, n, step))
    for edge in (0, n - 1):
        if buckets[edge].partial and edge not in ticks:
            nearest = min(ticks, key=lambda t: abs(t - edge))
            ticks[ticks.index(nearest)] = edge
    ticks = sorted(set(ticks))
    labels = [
        fmt.bucket_label(buckets[t].bucket, granularity) + ("\n(partial)" if buckets[t].partial else "") for t in ticks
    ]
    return ticks, labels


def _time_axis(ax: Axes, buckets: Sequence[TrendBucket], granularity: str, timezone: str | None) -> None:
    n = len(buckets)
    pad = max(0.0, (MIN_SLOTS - n) / 2)
    ax.set_xlim(-0.5 - pad, n - 0.5 + pad)  # every bucket of the period, first to last
    ticks, labels = _ticks(buckets, granularity)
    ax.set_xticks(ticks, labels)
    ax.set_xlabel(X_LABELS[granularity] + (f" ({timezone})" if timezone and granularity == "hourly" else ""))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: number(y)))
    ax.grid(axis="x", visible=False)


def plot_series(
    ax: Axes,
    buckets: Sequence[TrendBucket],
    x: Sequence[float],
    figure: str,
    colour: str,
    label: str,
    linewidth: float = 1.8,
) -> None:
    """One figure as a line: solid between whole buckets, dashed into a partial one, with markers when few."""
    values = [getattr(b, figure) for b in buckets]
    partial = [b.partial for b in buckets]
    n = len(buckets)
    size = 0.0 if n > MARKERS_UP_TO else 5.0 if n <= 3 else 3.5
    # Whole buckets: a solid line (NaN breaks it at partial ones) with filled markers.
    whole = [float("nan") if p else v for v, p in zip(values, partial, strict=True)]
    ax.plot(x, whole, color=colour, label=label, linewidth=linewidth, marker="o" if size else None, markersize=size)
    for i in range(n - 1):
        if partial[i] or partial[i + 1]:
            ax.plot(x[i : i + 2], values[i : i + 2], color=colour, linewidth=linewidth, linestyle=(0, (3, 2)))
    # Partial buckets: hollow points, always drawn (a lone partial bucket has no segment).
    px = [xi for xi, p in zip(x, partial, strict=True) if p]
    if px:
        ax.plot(
            px,
            [v for v, p in zip(values, partial, strict=True) if p],
            linestyle="none",
            marker="o",
            markersize=max(size, 4.0),
            markerfacecolor="white",
            markeredgecolor=colour,
            markeredgewidth=1.3,
        )


def partial_note(buckets: Sequence[TrendBucket], granularity: str) -> str:
    cut = [bucket_text(b, granularity).removesuffix(" (partial)") for b in buckets if b.partial]
    if not cut:
        return ""
    unit = UNITS[granularity]
    return (
        f" The period covers only part of the {unit}{'s' if len(cut) > 1 else ''} {' and '.join(cut)} (marked partial)."
    )


def message_trend(buckets: Sequence[TrendBucket], granularity: str, timezone: str | None = None) -> Chart:
    """Sent, impressions and clicks per bucket."""
    unit = UNITS[granularity]
    title = f"Sent, impressions and clicks per {unit}"
    with theme():
        fig, ax = new_figure(FULL, top=0.35, bottom=0.62)
        if not buckets:
            no_data(ax)
        else:
            x = list(range(len(buckets)))
            for figure, label, colour in SERIES:
                plot_series(ax, buckets, x, figure, colour, label)
            _time_axis(ax, buckets, granularity, timezone)
            ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, min_n_ticks=3))
            ax.set_ylim(0, max(max(b.sent for b in buckets), max(b.impressions for b in buckets), 1) * 1.08)
            ax.set_ylabel("Notifications")
            handles, labels = ax.get_legend_handles_labels()
            if any(b.partial for b in buckets):
                handles.append(Line2D([], [], color=MUTED, linestyle=(0, (3, 2)), marker="o", markerfacecolor="white"))
                labels.append(f"Partial {unit}")
            ax.legend(handles, labels, loc="lower left", ncols=len(labels), bbox_to_anchor=(0, 1.0), borderaxespad=0.2)
        svg = to_svg(fig, f"trend-{granularity}")
    total = sum(b.sent for b in buckets)
    if buckets:
        busiest = max(buckets, key=lambda b: b.sent)
        alt = (
            f"{title}: line chart over {len(buckets)} {unit}{'' if len(buckets) == 1 else 's'}, "
            f"{bucket_text(buckets[0], granularity)} to {bucket_text(buckets[-1], granularity)}; "
            f"{fmt.count(total)} sent in all; busiest {unit}: {bucket_text(busiest, granularity)} "
            f"({fmt.count(busiest.sent)} sent)." + partial_note(buckets, granularity)
        )
    else:
        alt = f"{title}: no notifications in this period."
    rows = tuple(
        (
            bucket_text(b, granularity),
            fmt.count(b.sent),
            fmt.count(b.impressions),
            fmt.count(b.clicks),
            fmt.count(b.errors),
        )
        for b in buckets
    )
    return Chart(
        f"trend-{granularity}",
        title,
        alt,
        svg,
        (X_LABELS[granularity], "Sent", "Impressions", "Clicks", "Errors"),
        rows,
    )


def _bars(
    key: str,
    buckets: Sequence[TrendBucket],
    granularity: str,
    timezone: str | None,
    *,
    figure: str,
    what: str,
    colour: str,
    ylabel: str,
    empty: str,
    show: Callable[[float], str],
    integer: bool,
) -> Chart:
    """One bar per bucket of one figure (conversions or revenue); a partial bucket's bar hatched and lighter."""
    unit = UNITS[granularity]
    title = f"{what.capitalize()} per {unit}"
    values = [getattr(b, figure) for b in buckets]
    with theme():
        fig, ax = new_figure(FULL, bottom=0.62)
        if not any(values):
            no_data(ax, empty)
        else:
            x = list(range(len(buckets)))
            whole = [v if not b.partial else 0 for v, b in zip(values, buckets, strict=True)]
            ax.bar(x, whole, color=colour, width=0.75)
            if any(b.partial for b in buckets):
                cut = [v if b.partial else 0 for v, b in zip(values, buckets, strict=True)]
                ax.bar(x, cut, color=colour, alpha=0.45, width=0.75, hatch="////", edgecolor=colour, linewidth=0)
                ax.legend(
                    handles=[
                        Patch(
                            facecolor=colour,
                            alpha=0.45,
                            hatch="////",
                            edgecolor=colour,
                            linewidth=0,
                            label=f"Partial {unit}",
                        )
                    ],
                    loc="lower left",
                    bbox_to_anchor=(0, 1.0),
                    borderaxespad=0.2,
                )
            _time_axis(ax, buckets, granularity, timezone)
            top = max(values)
            ax.set_ylim(0, max(top * 1.12, 2 if integer else 0))
            ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=integer, min_n_ticks=2 if integer else 3))
            if len(buckets) <= 12:
                # Few bars: each with its figure, as in the table; an empty bucket has no bar to label.
                for xi, v in zip(x, values, strict=True):
                    if not v:
                        continue
                    ax.text(xi, v + top * 0.02, show(v), ha="center", va="bottom", fontsize=7.5, color=INK)
            ax.set_ylabel(ylabel)
        svg = to_svg(fig, f"{key}-{granularity}")
    if buckets and any(values):
        best = max(zip(values, buckets, strict=True), key=lambda vb: vb[0])
        alt = (
            f"{title}: bar chart over {len(buckets)} {unit}{'' if len(buckets) == 1 else 's'}; {show(sum(values))} in "
            f"all; most in one {unit}: {bucket_text(best[1], granularity)} ({show(best[0])})."
            + partial_note(buckets, granularity)
        )
    else:
        alt = f"{title}: none in this period."
    rows = tuple((bucket_text(b, granularity), show(v)) for b, v in zip(buckets, values, strict=True))
    return Chart(f"{key}-{granularity}", title, alt, svg, (X_LABELS[granularity], figure.capitalize()), rows)


def conversion_performance(buckets: Sequence[TrendBucket], granularity: str, timezone: str | None = None) -> Chart:
    """Attributed conversions per bucket."""
    return _bars(
        "conversions",
        buckets,
        granularity,
        timezone,
        figure="conversions",
        what="conversions",
        colour=PINK,
        ylabel="Conversions",
        empty="No attributed conversions in this period",
        show=fmt.count,
        integer=True,
    )


def revenue_performance(
    buckets: Sequence[TrendBucket], granularity: str, currency: str, timezone: str | None = None
) -> Chart:
    """Revenue of attributed conversions per bucket."""
    return _bars(
        "revenue",
        buckets,
        granularity,
        timezone,
        figure="revenue",
        what="revenue",
        colour=GREEN,
        ylabel=f"Revenue ({currency})",
        empty="No attributed revenue in this period",
        show=lambda v: fmt.money(v, currency),
        integer=False,
    )
