"""Conversion funnels: users (sent, viewed, clicked, converted) and influenced conversions."""

from __future__ import annotations

from collections.abc import Sequence

from reporter import formatting as fmt
from reporter.charts.figure import Chart
from reporter.charts.theme import BLUE, HALF, INK, MUTED, PINK, label_margin, new_figure, no_data, theme, to_svg
from reporter.metrics.model import Funnel


def steps_chart(key: str, title: str, steps: Sequence[tuple[str, int]], colour: str, unit: str) -> Chart:
    """A funnel chart: one horizontal bar per step, with its share of the first and previous step."""
    first = steps[0][1] if steps else 0
    with theme():
        fig, ax = new_figure(HALF, left=label_margin([name for name, _ in steps]), top=0.1)
        if not first and not any(v for _, v in steps):
            no_data(ax)
        else:
            labels = [name for name, _ in steps]
            values = [v for _, v in steps]
            y = list(range(len(steps)))[::-1]
            ax.barh(y, values, color=colour, height=0.6)
            top = max(values) or 1
            ax.set_xlim(0, top * 1.45)
            for i, (yi, value) in enumerate(zip(y, values)):
                # The step-to-step conversion; the share of the first step is in the table.
                step = "" if i == 0 else f"  {fmt.rate(100 * value / values[i - 1], 1) if values[i - 1] else fmt.DASH}"
                ax.text(value + top * 0.02, yi, f"{fmt.count(value)}{step}", va="center", fontsize=7.5, color=INK)
            ax.set_yticks(y, labels)
            ax.tick_params(axis="y", labelcolor=MUTED)
            ax.set_xlabel(unit)
            ax.xaxis.set_major_formatter(lambda v, _p: fmt.compact(v))
            ax.grid(axis="y", visible=False)
        svg = to_svg(fig, key)
    rows = []
    for i, (name, value) in enumerate(steps):
        share = fmt.rate(100 * value / first, 1) if first else fmt.DASH
        prev = steps[i - 1][1] if i else None
        step = fmt.DASH if not i else (fmt.rate(100 * value / prev, 1) if prev else fmt.DASH)
        rows.append((name, fmt.count(value), share, step))
    alt = f"{title}: " + ", ".join(f"{name} {fmt.count(value)}" for name, value in steps) + "."
    return Chart(key, title, alt, svg, ("Step", unit, "Of first step", "Of previous step"), tuple(rows), wide=False)


def users_funnel(funnel: Funnel) -> Chart:
    """Users sent to, viewed, clicked, converted."""
    u = funnel.users
    steps = [("Sent", u.sent), ("Viewed", u.viewed), ("Clicked", u.clicked), ("Converted", u.converted)]
    return steps_chart("funnel-users", "Users conversion funnel", steps, BLUE, "Users")


def influenced_funnel(funnel: Funnel) -> Chart:
    """Converted users after a send, after viewing, after clicking."""
    i = funnel.influenced
    steps = [("After sent", i.after_sent), ("After viewed", i.after_viewed), ("After clicked", i.after_clicked)]
    return steps_chart("funnel-influenced", "Influenced conversion funnel", steps, PINK, "Converted users")

