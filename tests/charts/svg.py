"""Reading a chart's SVG as its viewer would: the texts, the plot area, the bars, the markers, ids and references."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


def texts(svg: str) -> list[str]:
    """Every text drawn, in document order (ticks, labels, legend, annotations)."""
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def ids_and_refs(svg: str) -> tuple[list[str], list[str]]:
    """The id attributes of an SVG document, and every id it refers to (url(#...) in any attribute, href="#...")."""
    ids, refs = [], []
    for element in ET.fromstring(svg).iter():
        for name, value in element.attrib.items():
            if name == "id":
                ids.append(value)
            elif name in ("href", XLINK_HREF) and value.startswith("#"):
                refs.append(value[1:])
            refs += re.findall(r"url\(#([^)]+)\)", value)
    return ids, refs


def _points(d: str) -> list[tuple[float, float]]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
    return list(zip(numbers[::2], numbers[1::2], strict=False))


def _rectangles(svg: str) -> list[tuple[float, float, float, float]]:
    """The closed four-cornered paths of the first axes (x0, x1, y0, y1): its background first, then its bars."""
    axes = next(g for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("id", "").endswith("axes_1"))
    out = []
    for path in axes.iter(f"{SVG}path"):
        d = path.get("d", "")
        if d.rstrip().endswith("z") and len(_points(d)) in (4, 5):
            xs, ys = zip(*_points(d), strict=True)
            out.append((min(xs), max(xs), min(ys), max(ys)))
    return out


def plot_area(svg: str) -> tuple[float, float]:
    """The left and right edge of the (first) plot area."""
    x0, x1, _y0, _y1 = _rectangles(svg)[0]
    return x0, x1


def bars(svg: str) -> list[tuple[float, float, float]]:
    """The bars of the first axes with a height: (left, right, height)."""
    return [(x0, x1, y1 - y0) for x0, x1, y0, y1 in _rectangles(svg)[1:] if y1 - y0 > 0.01]


def markers(svg: str) -> list[tuple[float, float]]:
    """Where a marker (a point of a line) is drawn."""
    return [(float(u.get("x", 0)), float(u.get("y", 0))) for u in ET.fromstring(svg).iter(f"{SVG}use")]


def dashed(svg: str) -> int:
    """How many dashed strokes the chart has."""
    return svg.count("stroke-dasharray")


def text_boxes(svg: str) -> list[tuple[str, float, float]]:
    """Every unrotated text drawn with its left and right edge, measured in the charts' font."""
    from reporter.charts.theme import text_width

    out = []
    for t in ET.fromstring(svg).iter(f"{SVG}text"):
        style = dict(part.split(":", 1) for part in t.get("style", "").replace(" ", "").split(";") if ":" in part)
        transform = t.get("transform", "")
        if re.search(r"rotate\(-?(?!0 )\d", transform):
            continue
        x = float(t.get("x")) if t.get("x") else float(re.findall(r"translate\((-?[\d.]+)", transform)[0])
        width = 72 * text_width(
            t.text or "", float(style["font-size"].removesuffix("px")), style.get("font-weight") == "700"
        )
        shift = {"middle": width / 2, "end": width}.get(style.get("text-anchor", "start"), 0.0)
        out.append((t.text or "", x - shift, x - shift + width))
    return out


def plot_box(svg: str) -> tuple[float, float, float, float]:
    """The (first) plot area: left, right, top and bottom edge (y grows downwards)."""
    return _rectangles(svg)[0]


def text_y(svg: str, text: str) -> float:
    """The baseline height of the first text drawn with these words."""
    t = next(t for t in ET.fromstring(svg).iter(f"{SVG}text") if t.text == text)
    return (
        float(t.get("y"))
        if t.get("y")
        else float(re.findall(r"translate\(-?[\d.]+ (-?[\d.]+)", t.get("transform", ""))[0])
    )
