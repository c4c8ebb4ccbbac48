"""The look of every chart: palette, fonts, sizes, and the figure-to-SVG step.

Charts never touch pyplot: each builds a `matplotlib.figure.Figure` inside
`theme()` (a scoped rc context) and turns it into an SVG string. The SVG is
reproducible: fixed hash salt for element ids, no date in the metadata. Every
id of a chart starts with the chart's key, so that the report's many inline
SVGs never share one (Matplotlib names them figure_1, patch_1, ... in each).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")

from babel.numbers import format_decimal
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reporter import formatting as fmt

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
BLUE, ORANGE, GREEN, PINK, SKY, VERMILLION, YELLOW, GREY = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#7A7A7A",
)
SERIES = (BLUE, ORANGE, GREEN, PINK, SKY, VERMILLION, GREY)
INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#e4e7eb"
FONT = "DejaVu Sans"

FULL = (7.6, 2.7)  # inches: a chart across the page
HALF = (3.7, 2.5)  # two side by side

RC: dict[RcKeyType, Any] = {
    "font.family": FONT,
    "font.size": 8.5,
    "text.parse_math": False,  # a "$5 off" variant name is text, not mathtext
    "text.color": INK,
    "axes.edgecolor": GRID,
    "axes.labelcolor": MUTED,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlepad": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": GRID,
    "grid.linewidth": 0.8,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "xtick.major.size": 0,
    "ytick.major.size": 0,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "lines.linewidth": 1.8,
    "svg.fonttype": "none",  # text as text: searchable, small, and 3x faster for WeasyPrint to draw
    "svg.hashsalt": "reporter",  # reproducible element ids
    "figure.dpi": 72,
}


@contextmanager
def theme() -> Iterator[None]:
    """The rc settings of every chart, scoped to the block."""
    with rc_context(RC):
        yield


def new_figure(
    size: tuple[float, float] = FULL, left: float = 0.62, bottom: float = 0.5, top: float = 0.3, right: float = 0.15
) -> tuple[Figure, Axes]:
    """A figure with one axes and fixed margins in inches (a layout engine costs a third of the time)."""
    fig = Figure(figsize=size)
    width, height = size
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height)
    return fig, fig.add_subplot()


def text_width(text: str, size: float = RC["font.size"], bold: bool = False) -> float:
    """The width (inches) of a line of text in the theme's font."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    font = FontProperties(family=FONT, size=size, weight="bold" if bold else "normal")
    width, _height, _descent = text_to_path.get_text_width_height_descent(text, font, ismath=False)
    return width / 72


def label_margin(labels: list[str], minimum: float = 0.5) -> float:
    """The left margin (inches) that fits category labels at the theme's tick size."""
    longest = max((len(text) for text in labels), default=0)
    # The estimate by length is the margin of every usual label; wide letters (WWW, CCC) need the measure.
    widest = max((text_width(text) for text in labels), default=0.0)
    return max(minimum, 0.2 + longest * 0.075, widest + 0.12)


def fit_text(text: str, width: float, size: float = RC["font.size"], bold: bool = False) -> str:
    """The text, cut with an ellipsis where needed to fit a width (inches): a panel title never runs into the next."""
    if text_width(text, size, bold) <= width:
        return text
    while len(text) > 1 and text_width(text + "…", size, bold) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def wrap_text(text: str, width: float, size: float = RC["font.size"]) -> str:
    """The text broken into lines at spaces, each line fitting a width (inches) where its words allow."""
    lines: list[str] = []
    for word in text.split():
        if lines and text_width(f"{lines[-1]} {word}", size) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return "\n".join(lines)


def to_svg(fig: Figure, prefix: str) -> str:
    """The figure as an SVG document without the XML prolog, scalable to its container, its ids under `prefix`."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, transparent=True)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    # No RDF metadata (and its namespace URLs): a chart is its drawing.
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.DOTALL)
    svg = re.sub(r' xmlns:(?:dc|cc|rdf)="[^"]*"', "", svg)
    # Text is text (svg.fonttype none): name metric-compatible fallbacks for viewers without DejaVu.
    svg = svg.replace(
        "font-family: 'DejaVu Sans'", "font-family: 'DejaVu Sans', 'Bitstream Vera Sans', Verdana, sans-serif"
    )
    # Keep the viewBox, let CSS size the chart.
    svg = re.sub(
        r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 preserveAspectRatio="xMidYMid meet"', svg, count=1
    )
    return prefix_ids(without_bare_groups(svg), prefix)


# A group naming an axes (axes_1, axes_2...) stays: what a reader of the SVG finds a plot by.
_BARE_GROUP = re.compile(r' *<g(?: id="(?!axes_)[^"]*")?>')
_EMPTY_GROUP = re.compile(r' *<g(?: id="[^"]*")?/>')
_GROUP = re.compile(r" *<g\s[^>]*[^/]>")


def without_bare_groups(svg: str) -> str:
    """The SVG without the groups that only name what they hold, or nothing.

    Matplotlib wraps every line, tick and label in `<g id="...">` (860 of a report's 1,540 elements). Nothing
    drawn changes; a browser and WeasyPrint walk a third fewer elements (the PDF's 11 charts painted in 0.57 s
    instead of 0.61 s) and the HTML is 25 % lighter. Matplotlib writes one element a line, a group's end at its
    start's indent: its lines are matched as such. A group with attributes beyond its id, or naming an axes, is
    kept; an SVG written otherwise (a group's start or end sharing its line) is left as it is.
    """
    kept: list[str] = []
    groups: list[bool] = []  # for each group open: whether its start was dropped
    for line in svg.split("\n"):
        if _EMPTY_GROUP.fullmatch(line):
            continue
        if _BARE_GROUP.fullmatch(line):
            groups.append(True)
            continue
        if _GROUP.fullmatch(line):
            groups.append(False)
        elif line.strip() == "</g>":
            if not groups:
                return svg
            if groups.pop():
                continue
        elif "<g" in line or "</g>" in line:
            return svg
        kept.append(line)
    return "\n".join(kept) if not groups else svg


# Inside a tag only: text from the data (a variant called 'url(#x)') is never rewritten.
_TAG = re.compile(r"<[^>]+>")
_ID_OR_REF = re.compile(r'(\bid="|url\(#|\bhref="#)([^")]+)')


def prefix_ids(svg: str, prefix: str) -> str:
    """Every id of the SVG and every reference to one (url(#...), href="#...") with `prefix-` in front."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", prefix):
        raise ValueError(f"not an id prefix: {prefix!r}")
    return _TAG.sub(lambda tag: _ID_OR_REF.sub(lambda m: f"{m[1]}{prefix}-{m[2]}", tag[0]), svg)


def number(value: float) -> str:
    """An axis tick in full, with thousands separators and the decimals it has: 1,250, 12.5 (never 1.2K)."""
    return (
        fmt.count(value) if float(value).is_integer() else format_decimal(value, format="#,##0.##", locale=fmt.LOCALE)
    )


def no_data(ax: Axes, message: str = "No data in this period") -> None:
    """Replace an empty chart's axes with a quiet message."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", color=MUTED, fontsize=9, transform=ax.transAxes)


@lru_cache(maxsize=1)
def _glyphs() -> frozenset[int]:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(font_manager.FontProperties(family=FONT))
    return frozenset(FT2Font(path).get_charmap())


def safe_text(text: str, limit: int = 28) -> str:
    """Data text for a chart: characters the font lacks dropped (no missing-glyph warnings), shortened."""
    glyphs = _glyphs()
    cleaned = "".join(ch for ch in text if ord(ch) in glyphs or ch == " ").strip()
    cleaned = re.sub(r"\s+", " ", cleaned)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "…"
