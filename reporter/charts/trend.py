"""Trends over time: messages, conversions and revenue per day, week or month."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator

from reporter import formatting as fmt
from reporter.charts.figure import Chart
from reporter.charts.theme import BLUE, FULL, GREEN, ORANGE, PINK, new_figure, no_data, theme, to_svg
from reporter.metrics.model import TrendBucket

X_LABELS = {"daily": "Day", "weekly": "Week starting Monday", "monthly": "Month"}


def granularity_for(days: int) -> str:
    """The trend granularity that fits a period of that many days."""
    if days <= 62:
        return "daily"
    if days <= 26 * 7:
        return "weekly"
    return "monthly"


def bucket_text(bucket: TrendBucket, granularity: str) -> str:
    """The bucket's label for people, marked when the period covers only part of it."""
    label = fmt.bucket_label(bucket.bucket, granularity)
    return f"{label} (partial)" if bucket.partial else label


def _time_axis(ax: Axes, buckets: Sequence[TrendBucket], granularity: str) -> None:
    labels = [bucket_text(b, granularity) for b in buckets]
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: labels[int(x)] if 0 <= int(x) < len(labels) and x == int(x) else ""))
    ax.set_xlim(-0.6, len(buckets) - 0.4)
    ax.set_xlabel(X_LABELS[granularity])
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, min_n_ticks=3))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: fmt.compact(y)))
    ax.grid(axis="x", visible=False)
    ax.set_ylim(bottom=0)


def message_trend(buckets: Sequence[TrendBucket], granularity: str) -> Chart:
    """Sent, impressions and clicks per bucket."""
    title = f"Message trend ({fmt.label(granularity).lower()})"
    with theme():
        fig, ax = new_figure(FULL, top=0.35)
        if not buckets:
            no_data(ax)
        else:
            x = range(len(buckets))
            marker = "o" if len(buckets) < 3 else None
            for key, colour in (("sent", BLUE), ("impressions", ORANGE), ("clicks", GREEN)):
                ax.plot(x, [getattr(b, key) for b in buckets], color=colour, label=fmt.label(key), marker=marker)
            _time_axis(ax, buckets, granularity)
            ax.set_ylabel("Messages")
            ax.legend(loc="lower left", ncols=3, bbox_to_anchor=(0, 1.0), borderaxespad=0.2)
        svg = to_svg(fig, f"trend-{granularity}")
    total = sum(b.sent for b in buckets)
    alt = (
        f"{title}: line chart of sent, impressions and clicks over {len(buckets)} "
        f"{'bucket' if len(buckets) == 1 else 'buckets'}; {fmt.count(total)} sent in all."
        if buckets else f"{title}: no messages in this period."
    )
    rows = tuple(
        (bucket_text(b, granularity), fmt.count(b.sent), fmt.count(b.impressions), fmt.count(b.clicks), fmt.count(b.errors))
        for b in buckets
    )
    return Chart(f"trend-{granularity}", title, alt, svg, (X_LABELS[granularity], "Sent", "Impressions", "Clicks", "Errors"), rows)


def _bars(key: str, buckets: Sequence[TrendBucket], granularity: str, *, title: str, figure: str, what: str,
          colour: str, ylabel: str, empty: str, show: Callable[[float], str], integer: bool) -> Chart:
    """One bar per bucket of one figure (conversions or revenue)."""
    values = [getattr(b, figure) for b in buckets]
    with theme():
        fig, ax = new_figure(FULL)
        if not any(values):
            no_data(ax, empty)
        else:
            ax.bar(range(len(buckets)), values, color=colour, width=0.75)
            _time_axis(ax, buckets, granularity)
            if not integer:
                ax.yaxis.set_major_locator(MaxNLocator(nbins=5, min_n_ticks=3))
            ax.set_ylabel(ylabel)
        svg = to_svg(fig, f"{key}-{granularity}")
    unit = X_LABELS[granularity].split()[0].lower()
    alt = f"{title}: bar chart of {what} per {unit}; {show(sum(values))} in all."
    rows = tuple((bucket_text(b, granularity), show(v)) for b, v in zip(buckets, values))
    return Chart(f"{key}-{granularity}", title, alt, svg, (X_LABELS[granularity], figure.capitalize()), rows)


def conversion_performance(buckets: Sequence[TrendBucket], granularity: str) -> Chart:
    """Attributed conversions per bucket."""
    return _bars("conversions", buckets, granularity, title="Conversion performance", figure="conversions",
                 what="attributed conversions", colour=PINK, ylabel="Conversions",
                 empty="No attributed conversions in this period", show=fmt.count, integer=True)


def revenue_performance(buckets: Sequence[TrendBucket], granularity: str, currency: str) -> Chart:
    """Revenue of attributed conversions per bucket."""
    return _bars("revenue", buckets, granularity, title="Revenue performance", figure="revenue", what="revenue",
                 colour=GREEN, ylabel=f"Revenue ({currency})", empty="No attributed revenue in this period",
                 show=lambda v: fmt.money(v, currency), integer=False)
