"""The charts' SVG without Matplotlib's groups that only carry an id: the same drawing, fewer elements."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Callable

from matplotlib.figure import Figure

from reporter.charts import report_charts
from reporter.charts.theme import theme, without_bare_groups
from reporter.metrics.model import CampaignStats

SVG = "{http://www.w3.org/2000/svg}"


def drawn(svg: str) -> list[tuple[str, dict[str, str], str]]:
    """The elements of an SVG in document order, each with its attributes and text, but the bare groups."""
    return [
        (el.tag, dict(el.attrib), (el.text or "").strip())
        for el in ET.fromstring(svg).iter()
        if not (el.tag == f"{SVG}g" and set(el.attrib) <= {"id"} and not el.get("id", "").startswith("axes_"))
    ]


def test_a_matplotlib_figure_keeps_every_drawn_element_in_order() -> None:
    with theme():
        fig = Figure(figsize=(4, 2))
        ax = fig.add_subplot()
        ax.plot([1, 2, 3], [3, 1, 2], label="sent")
        ax.bar([1, 2], [2, 1])
        ax.set_title("Title & <more>")
        ax.legend()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    simpler = without_bare_groups(svg)
    assert drawn(simpler) == drawn(svg)
    bare = [el for el in ET.fromstring(svg).iter() if el.tag == f"{SVG}g" and set(el.attrib) <= {"id"}]
    assert len(bare) > 20  # every tick, line and label was wrapped in one
    assert [line.strip() for line in simpler.splitlines() if "<g id=" in line] == ['<g id="axes_1">']
    assert "clip-path" in simpler  # the groups that clip (or transform) stay


def test_the_reports_charts_keep_no_bare_group(demo_stats: Callable[..., CampaignStats]) -> None:
    for key, chart in report_charts(demo_stats("black-friday-ab"), "daily").items():
        groups = [el.get("id", "") for el in ET.fromstring(chart.svg).iter(f"{SVG}g") if set(el.attrib) <= {"id"}]
        assert groups and all(name.startswith(f"{key}-axes_") for name in groups), key


def test_an_svg_written_otherwise_is_left_as_it_is() -> None:
    one_line = '<svg>\n <g id="a"><path d="M 0 0"/></g>\n</svg>'
    unbalanced = '<svg>\n <g id="a">\n  <path d="M 0 0"/>\n</svg>'
    nested = '<svg>\n <g id="a">\n  <g id="b"/>\n  <g clip-path="url(#c)">\n   <path/>\n  </g>\n </g>\n</svg>'
    assert without_bare_groups(one_line) == one_line
    assert without_bare_groups(unbalanced) == unbalanced
    assert without_bare_groups(nested) == '<svg>\n  <g clip-path="url(#c)">\n   <path/>\n  </g>\n</svg>'
