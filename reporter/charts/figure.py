"""What a chart is once drawn: its SVG, title, alt text and the numbers behind it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Chart:
    """A rendered chart; `headers` and `rows` are the numbers it shows, already formatted."""

    key: str
    title: str
    alt: str
    svg: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    wide: bool = True
