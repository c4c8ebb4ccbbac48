"""The portfolio's charts: campaigns side by side (CTR and conversion rate with their 95% intervals), sparklines."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from reporter import formatting as fmt
from reporter.charts.figure import Chart
from reporter.charts.theme import BLUE, GREEN, INK, MUTED, label_margin, safe_text, theme, to_svg
from reporter.metrics.portfolio import Row
from reporter.metrics.statistics import wilson_interval

COMPARED = 20  # campaigns in the comparison chart: the largest by sends (the table lists every one)
ROW_INCHES = 0.26
SPARK_WIDTH, SPARK_HEIGHT = 80, 18


def _label(row: Row) -> str:
    return safe_text(row.campaign.name, 30)


def comparison_chart(rows: Sequence[Row]) -> Chart:
    """CTR and conversion rate of the campaigns with the most sends, each with its 95% interval (Wilson)."""
    shown = sorted(rows, key=lambda r: (-r.card.sent, r.campaign.id))[:COMPARED]
    panels = (
        ("CTR (%)", BLUE, [(r.card.clicks, r.card.impressions) for r in shown]),
        ("Conversion rate (%)", GREEN, [(r.card.converted_users, r.card.sent_users) for r in shown]),
    )
    labels = [_label(r) for r in shown]
    left = label_margin(labels, 1.0)
    height = 0.9 + ROW_INCHES * max(1, len(shown))
    with theme():
        fig = Figure(figsize=(7.6, height))
        gap, right, width = 0.3, 0.2, 7.6
        panel = (width - left - gap - right) / 2
        axes = [
            fig.add_axes((left / width, 0.55 / height, panel / width, 1 - 0.95 / height)),
            fig.add_axes(((left + panel + gap) / width, 0.55 / height, panel / width, 1 - 0.95 / height)),
        ]
        ys = list(range(len(shown)))[::-1]
        for ax, (title, colour, pairs) in zip(axes, panels, strict=True):
            for y, (x, n) in zip(ys, pairs, strict=True):
                interval = wilson_interval(x, n)
                if interval is None:
                    continue
                ax.plot(interval, (y, y), color=colour, alpha=0.45, linewidth=3, solid_capstyle="butt")
                ax.plot([100 * x / n], [y], "o", color=colour, markersize=4)
            ax.set_title(title, fontsize=9, color=INK)
            ax.set_ylim(-0.7, len(shown) - 0.3)
            ax.set_yticks(ys)
            ax.set_xlim(left=0)
            ax.grid(axis="y", visible=False)
        axes[0].set_yticklabels(labels)
        axes[1].set_yticklabels([])
        fig.text(
            0.01,
            0.12 / height,
            "Dot: the rate in the period (CTR: of impressions; conversion rate: of users sent to); "
            "bar: its 95% interval.",
            color=MUTED,
            fontsize=7.5,
        )
        svg = to_svg(fig, "compare")
    rows_text = tuple(
        (
            r.campaign.name,
            fmt.rate(r.card.ctr),
            _interval_text(r.card.clicks, r.card.impressions),
            fmt.rate(r.card.conversion_rate),
            _interval_text(r.card.converted_users, r.card.sent_users),
        )
        for r in shown
    )
    more = f" (the {len(shown)} with the most sends)" if len(rows) > len(shown) else ""
    return Chart(
        key="compare",
        title=f"CTR and conversion rate by campaign{more}",
        alt=f"Dot plot of the CTR and the conversion rate of {len(shown)} campaigns with their 95% intervals; "
        "the numbers are in the table below the chart.",
        svg=svg,
        headers=("Campaign", "CTR", "95% interval", "Conversion rate", "95% interval"),
        rows=rows_text,
    )


def _interval_text(x: int, n: int) -> str:
    interval = wilson_interval(x, n)
    return fmt.DASH if interval is None else f"{fmt.rate(interval[0])} to {fmt.rate(interval[1])}"


def sparkline(key: str, values: Sequence[int], label: str) -> Chart:
    """A tiny line of daily sends (scaled to its own maximum), drawn as SVG by hand: 200 of them cost nothing."""
    top = max(values, default=0) or 1
    step = (SPARK_WIDTH - 2) / max(1, len(values) - 1)
    points = " ".join(
        f"{1 + i * step:.1f},{SPARK_HEIGHT - 2 - (SPARK_HEIGHT - 4) * v / top:.1f}" for i, v in enumerate(values)
    )
    shape = (
        f'<polyline points="{points}" fill="none" stroke="{BLUE}" stroke-width="1.5" stroke-linejoin="round"/>'
        if len(values) > 1
        else f'<circle cx="{SPARK_WIDTH / 2}" cy="{SPARK_HEIGHT - 2 - (SPARK_HEIGHT - 4) * values[0] / top:.1f}" '
        f'r="2" fill="{BLUE}"/>'
        if values
        else ""
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" '
        f'width="{SPARK_WIDTH}" height="{SPARK_HEIGHT}">{shape}</svg>'
    )
    return Chart(key=key, title="", alt=label, svg=svg, headers=(), rows=(), wide=False)
