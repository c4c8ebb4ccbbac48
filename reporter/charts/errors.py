"""The most frequent error codes, each with its provider, coloured by category."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from reporter import formatting as fmt
from reporter.charts.figure import Chart
from reporter.charts.theme import (
    FULL,
    INK,
    MUTED,
    ORANGE,
    VERMILLION,
    label_margin,
    new_figure,
    no_data,
    number,
    safe_text,
    theme,
    to_svg,
)
from reporter.metrics.model import ErrorCount

COLOURS = {"technical": VERMILLION, "non_technical": ORANGE}
MAX_CODES = 8
MAX_BAR = 0.24  # inches: the thickest a bar gets


def code_label(error: ErrorCount) -> str:
    """A code with its provider: UNREGISTERED (FCM) and Unregistered (APNs) are two providers' codes."""
    provider = "" if error.platform in ("any", "") else f" ({fmt.label(error.platform)})"
    return safe_text(error.code, 32) + provider


def _top(errors: Sequence[ErrorCount]) -> tuple[list[ErrorCount], list[ErrorCount]]:
    """The codes drawn one by one, and the rest summed in one bar (never a single code: that one is drawn by name)."""
    if len(errors) <= MAX_CODES + 1:
        return list(errors), []
    return list(errors[:MAX_CODES]), list(errors[MAX_CODES:])


def errors_by_code(errors: Sequence[ErrorCount]) -> Chart:
    """The most frequent error codes as horizontal bars; the rest summed as 'other codes (N)'."""
    title = "Most frequent error codes"
    shown, others = _top(errors)
    rest = sum(e.count for e in others)
    total = sum(e.count for e in errors)
    with theme():
        labels = [code_label(e) for e in shown] + ([f"other codes ({len(others)})"] if others else [])
        height = min(max(1.6, 0.28 * len(labels) + 1.05), 4.6)
        fig, ax = new_figure((FULL[0], height), left=label_margin(labels), top=0.35)
        if not total:
            no_data(ax, "No errors in this period")
        else:
            values = [e.count for e in shown] + ([rest] if others else [])
            colours = [COLOURS.get(e.category, VERMILLION) for e in shown] + ([MUTED] if others else [])
            y = list(range(len(values)))[::-1]
            # A few bars keep the thickness of many: one code is not a slab across the chart.
            slot = (height - 0.35 - 0.5) / len(values)
            ax.barh(y, values, color=colours, height=min(0.65, MAX_BAR / slot))
            ax.set_ylim(-0.5, len(values) - 0.5)
            top = max(values)
            ax.set_xlim(0, top * 1.18)
            for yi, value in zip(y, values, strict=True):
                ax.text(
                    value + top * 0.01,
                    yi,
                    f"{fmt.count(value)} ({fmt.rate(100 * value / total, 1)})",
                    va="center",
                    fontsize=7.5,
                    color=INK,
                )
            ax.set_yticks(y, labels)
            ax.set_xlabel("Errors (notifications not delivered)")
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: number(v)))
            ax.grid(axis="y", visible=False)
            # Above the axes, as the trends' legends, never on a bar; only the categories drawn.
            present = {e.category for e in shown}
            ax.legend(
                handles=[Patch(color=c, label=fmt.label(k)) for k, c in COLOURS.items() if k in present],
                loc="lower left",
                ncols=len(COLOURS),
                bbox_to_anchor=(0, 1.0),
                borderaxespad=0.2,
            )
        svg = to_svg(fig, "errors-code")
    rows = tuple(
        (
            e.code,
            fmt.count(e.count),
            fmt.label(e.category),
            fmt.label(e.platform),
            "yes" if e.retryable else "no",
            e.meaning,
        )
        for e in errors
    )
    alt = (
        f"{title}: {fmt.count(total)} errors in {len(errors)} code{'' if len(errors) == 1 else 's'}"
        + (f", most often {code_label(errors[0])} ({fmt.count(errors[0].count)})" if errors else "")
        + "."
    )
    return Chart(
        "errors-code", title, alt, svg, ("Code", "Errors", "Category", "Provider", "Retryable", "Meaning"), rows
    )
