"""The most frequent error codes, each with its provider, coloured by category."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from reporter import formatting as fmt
from reporter.charts.figure import Chart
from reporter.charts.theme import (
    FULL, INK, MUTED, ORANGE, VERMILLION, label_margin, new_figure, no_data, number, safe_text, theme, to_svg,
)
from reporter.metrics.model import ErrorCount

COLOURS = {"technical": VERMILLION, "non_technical": ORANGE}
MAX_CODES = 12


def code_label(error: ErrorCount) -> str:
    """A code with its provider: UNREGISTERED (FCM) and Unregistered (APNs) are two providers' codes."""
    provider = "" if error.platform in ("any", "") else f" ({fmt.label(error.platform)})"
    return safe_text(error.code, 32) + provider


def errors_by_code(errors: Sequence[ErrorCount]) -> Chart:
    """The most frequent error codes as horizontal bars; the rest summed as 'other codes'."""
    title = "Most frequent error codes"
    shown = list(errors[:MAX_CODES])
    rest = sum(e.count for e in errors[MAX_CODES:])
    total = sum(e.count for e in errors)
    with theme():
        height = min(max(1.6, 0.28 * (len(shown) + (1 if rest else 0)) + 0.9), 4.6)
        labels = [code_label(e) for e in shown] + (["other codes"] if rest else [])
        fig, ax = new_figure((FULL[0], height), left=label_margin(labels), top=0.1)
        if not total:
            no_data(ax, "No errors in this period")
        else:
            values = [e.count for e in shown] + ([rest] if rest else [])
            colours = [COLOURS.get(e.category, VERMILLION) for e in shown] + ([MUTED] if rest else [])
            y = list(range(len(values)))[::-1]
            ax.barh(y, values, color=colours, height=0.65)
            top = max(values)
            ax.set_xlim(0, top * 1.18)
            for yi, value in zip(y, values):
                ax.text(value + top * 0.01, yi, f"{fmt.count(value)} ({fmt.rate(100 * value / total, 1)})", va="center", fontsize=7.5, color=INK)
            ax.set_yticks(y, labels)
            ax.set_xlabel("Errors (notifications not delivered)")
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: number(v)))
            ax.grid(axis="y", visible=False)
            ax.legend(handles=[Patch(color=c, label=fmt.label(k)) for k, c in COLOURS.items()], loc="lower right")
        svg = to_svg(fig, "errors-code")
    rows = tuple(
        (e.code, fmt.count(e.count), fmt.label(e.category), fmt.label(e.platform), "yes" if e.retryable else "no", e.meaning)
        for e in errors
    )
    alt = (f"{title}: {fmt.count(total)} errors in {len(errors)} code{'' if len(errors) == 1 else 's'}"
           + (f", most often {code_label(errors[0])} ({fmt.count(errors[0].count)})" if errors else "") + ".")
    return Chart("errors-code", title, alt, svg, ("Code", "Errors", "Category", "Provider", "Retryable", "Meaning"), rows)
