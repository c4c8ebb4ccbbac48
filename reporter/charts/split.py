"""OS and device split of impressions."""

from __future__ import annotations

from matplotlib.ticker import FuncFormatter, MaxNLocator

from reporter import formatting as fmt
from reporter.charts.figure import Chart
from reporter.charts.theme import HALF, INK, MUTED, SERIES, label_margin, new_figure, no_data, number, theme, to_svg


def share_chart(key: str, title: str, counts: dict[str, int], unit: str = "Impressions (notifications shown)") -> Chart:
    """Horizontal bars of counts by category, largest first, with each one's share."""
    total = sum(counts.values())
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    with theme():
        fig, ax = new_figure(HALF, left=label_margin([fmt.label(k) for k, _ in items]), top=0.1)
        if not total:
            no_data(ax, "No impressions in this period")
        else:
            y = list(range(len(items)))[::-1]
            values = [v for _, v in items]
            ax.barh(y, values, color=[SERIES[i % len(SERIES)] for i in range(len(items))], height=0.6)
            top = max(values)
            ax.set_xlim(0, top * 1.35)
            for yi, value in zip(y, values, strict=True):
                ax.text(value + top * 0.02, yi, fmt.rate(100 * value / total, 1), va="center", fontsize=7.5, color=INK)
            ax.set_yticks(y, [fmt.label(k) for k, _ in items])
            ax.tick_params(axis="y", labelcolor=MUTED)
            ax.set_xlabel(unit)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: number(v)))
            ax.grid(axis="y", visible=False)
        svg = to_svg(fig, key)
    rows = tuple((fmt.label(k), fmt.count(v), fmt.rate(100 * v / total, 1)) for k, v in items)
    alt = (
        f"{title}: "
        + (", ".join(f"{fmt.label(k)} {fmt.rate(100 * v / total, 1)}" for k, v in items) if total else "no impressions")
        + "."
    )
    return Chart(key, title, alt, svg, ("Category", "Impressions", "Share"), rows, wide=False)


def os_split(os: dict[str, int]) -> Chart:
    """Impressions by operating system."""
    return share_chart("split-os", "Impressions by OS", os)


def device_split(device: dict[str, int]) -> Chart:
    """Impressions by device type."""
    return share_chart("split-device", "Impressions by device type", device)
