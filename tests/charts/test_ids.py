"""The inline SVGs of one report share no id, and each one's references resolve inside it."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from reporter.charts import report_charts, trend
from reporter.charts.theme import prefix_ids
from reporter.metrics.model import CampaignStats
from tests.charts.svg import ids_and_refs

START = datetime(2026, 10, 14, tzinfo=UTC)


@pytest.mark.parametrize("days", [None, 1, 7], ids=["default-period", "one-day", "one-week"])
def test_report_charts_share_no_id_and_resolve_their_references(
    demo_stats: Callable[..., CampaignStats], days: int | None
) -> None:
    stats = demo_stats("black-friday-ab", START if days else None, START + timedelta(days=days) if days else None)
    granularity = trend.granularity_for(days or 34)
    charts = report_charts(stats, granularity)
    assert {"variants-comparison", "variants-trend", "variants-funnel"} <= set(charts)
    every_id: Counter[str] = Counter()
    refs_seen = 0
    for key, chart in charts.items():
        ids, refs = ids_and_refs(chart.svg)
        assert ids, key
        assert len(ids) == len(set(ids)), f"{key}: an id twice in one chart"
        missing = set(refs) - set(ids)
        assert not missing, f"{key}: references to nothing: {sorted(missing)[:5]}"
        assert all(i.startswith(f"{key}-") for i in ids), key
        every_id.update(ids)
        refs_seen += len(refs)
    assert [i for i, n in every_id.items() if n > 1] == []
    # Clip paths and markers are referenced: the check above is not vacuous.
    assert refs_seen > 20


def test_charts_are_byte_identical_for_the_same_data(demo_stats: Callable[..., CampaignStats]) -> None:
    first = report_charts(demo_stats("black-friday-ab"), "daily")
    second = report_charts(demo_stats("black-friday-ab"), "daily")
    assert {k: c.svg for k, c in first.items()} == {k: c.svg for k, c in second.items()}


def test_text_from_the_data_is_not_rewritten() -> None:
    svg = (
        '<svg><defs><clipPath id="p1"/></defs><g clip-path="url(#p1)"><text>url(#p1) id="x" href="#p1"</text></g></svg>'
    )
    assert prefix_ids(svg, "k") == (
        '<svg><defs><clipPath id="k-p1"/></defs><g clip-path="url(#k-p1)"><text>url(#p1) id="x" '
        'href="#p1"</text></g></svg>'
    )


def test_report_html_has_no_duplicate_id(demo_stats: Callable[..., CampaignStats]) -> None:
    from reporter.render import render_html

    html = render_html(demo_stats("black-friday-ab"), None, datetime(2026, 11, 26, 7, tzinfo=UTC)).html
    ids = Counter(re.findall(r'\sid="([^"]+)"', html))
    assert len([i for i in ids if "-axes_" in i]) >= 10  # the charts' ids (their axes, clip paths) are in it
    assert [i for i, n in ids.items() if n > 1] == []
