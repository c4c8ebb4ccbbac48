"""Conversion funnels: users (sent to, saw it, clicked, converted) and influenced conversions.

Every step is shown as a share of the funnel's first step (users sent to, or
converted users), never of the step before: users convert without clicking,
so "converted of clicked" would overstate what clicking does (docs/figures.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from reporter import formatting as fmt
from reporter.charts.figure import Chart
from reporter.charts.theme import (
    BLUE,
    HALF,
    INK,
    MUTED,
    PINK,
    label_margin,
    new_figure,
    no_data,
    number,
    text_width,
    theme,
    to_svg,
)
from reporter.metrics.model import Funnel

USER_STEPS = ("Sent to", "Saw it", "Clicked", "Converted")
LABEL_SIZE = 7.5


def step_texts(values: Sequence[int]) -> list[str]:
    """Each step's count in full, and after the first its share of the first: 1,234 (56.7%)."""
    first = values[0] if values else 0
    return [
        fmt.count(v) if i == 0 else f"{fmt.count(v)} ({fmt.rate(100 * v / first, 1) if first else fmt.DASH})"
        for i, v in enumerate(values)
    ]


def draw_steps(
    ax: Axes,
    fig: Figure,
    values: Sequence[int],
    texts: Sequence[str],
    colours: Sequence[str] | str,
    top: int,
    size: float = LABEL_SIZE,
) -> None:
    """Horizontal bars, first step on top, each with its text; the scale leaves room for the longest text."""
    y = list(range(len(values)))[::-1]
    ax.barh(y, values, color=colours, height=0.6)
    width = ax.get_position().width * fig.get_figwidth()  # inches
    pad = 0.05
    # The bar of value v ends at v / xmax of the width; its text must fit after it.
    xmax = max(
        [top * 1.05, 1.0]
        + [v * width / max(width - pad - text_width(t, size), 0.3 * width) for v, t in zip(values, texts, strict=True)]
    )
    ax.set_xlim(0, xmax)
    for yi, value, text in zip(y, values, texts, strict=True):
        ax.annotate(
            text, (value, yi), xytext=(pad * 72, 0), textcoords="offset points", va="center", fontsize=size, color=INK
        )
    ax.xaxis.set_major_locator(MaxNLocator(nbins=3 if width < 2.5 else 4, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: number(x)))
    ax.grid(axis="y", visible=False)


def steps_chart(key: str, title: str, steps: Sequence[tuple[str, int]], colour: str, unit: str, base: str) -> Chart:
    """A funnel chart: one horizontal bar per step, with its count and its share of the first step."""
    names = [name for name, _ in steps]
    values = [v for _, v in steps]
    texts = step_texts(values)
    with theme():
        fig, ax = new_figure(HALF, left=label_margin(names), top=0.1)
        if not any(values):
            no_data(ax)
        else:
            draw_steps(ax, fig, values, texts, colour, max(values))
            ax.set_yticks(list(range(len(steps)))[::-1], names)
            ax.tick_params(axis="y", labelcolor=MUTED)
            ax.set_xlabel(unit)
        svg = to_svg(fig, key)
    first = values[0] if values else 0
    rows = tuple((name, fmt.count(v), fmt.rate(100 * v / first, 1) if first else fmt.DASH) for name, v in steps)
    alt = (
        f"{title}, as a share of {base}: "
        + "; ".join(f"{name} {text}" for name, text in zip(names, texts, strict=True))
        + "."
    )
    return Chart(key, title, alt, svg, ("Step", unit, f"Share of {base}"), rows, wide=False)


def users_funnel(funnel: Funnel) -> Chart:
    """Users sent to, who saw it, clicked, converted; each as a share of the users sent to."""
    u = funnel.users
    steps = list(zip(USER_STEPS, (u.sent, u.viewed, u.clicked, u.converted), strict=True))
    return steps_chart("funnel-users", "Users at each step", steps, BLUE, "Users", "users sent to")


def influenced_funnel(funnel: Funnel) -> Chart:
    """Converted users after a send, after seeing it, after clicking; each as a share of the converted users."""
    i = funnel.influenced
    steps = [("After sent", i.after_sent), ("After viewed", i.after_viewed), ("After clicked", i.after_clicked)]
    return steps_chart("funnel-influenced", "Influenced conversions", steps, PINK, "Converted users", "converted users")
