"""The error codes chart: its legend above the bars, only the categories drawn, slim bars, the top codes then the
rest."""

from __future__ import annotations

import pytest

from reporter.charts import errors
from reporter.metrics.model import ErrorCount
from tests.charts.svg import bars, plot_box, text_y, texts


def codes(n: int, category: str | None = None) -> list[ErrorCount]:
    return [
        ErrorCount(f"CODE_{i}", 100 - i, category or ("technical" if i % 2 else "non_technical"), "any", False, "m")
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [1, 2, 3, 12])
def test_errors_legend_is_above_the_bars(n: int) -> None:
    svg = errors.errors_by_code(codes(n)).svg
    _left, _right, top, _bottom = plot_box(svg)
    assert text_y(svg, "Non-technical") < top


def test_errors_legend_lists_only_categories_drawn() -> None:
    drawn = texts(errors.errors_by_code(codes(3, "non_technical")).svg)
    assert "Non-technical" in drawn and "Technical" not in drawn
    drawn = texts(errors.errors_by_code(codes(3)).svg)
    assert {"Technical", "Non-technical"} <= set(drawn)


@pytest.mark.parametrize("n", [1, 2, 3, 8])
def test_errors_bars_are_slim_when_few(n: int) -> None:
    thickness = [height for _x0, _x1, height in bars(errors.errors_by_code(codes(n)).svg)]
    assert len(thickness) >= n
    # A bar at most a quarter of an inch thick (one code drew a slab across the chart).
    assert 10 < max(thickness) <= 0.25 * 72


def test_errors_show_the_top_8_then_other_codes() -> None:
    chart = errors.errors_by_code(codes(20))
    drawn = texts(chart.svg)
    assert [f"CODE_{i}" for i in range(8)] == [t for t in drawn if t.startswith("CODE_")]
    assert "other codes (12)" in drawn
    assert len(chart.rows) == 20  # the table lists every code


def test_errors_name_a_single_leftover_code() -> None:
    drawn = texts(errors.errors_by_code(codes(9)).svg)
    assert "CODE_8" in drawn and not any(t.startswith("other codes") for t in drawn)
