"""The columns' descriptions, read from the figures guide: docs/figures.md is their one source.

The package ships a copy of docs/figures.md (`reporter/exports/figures.md`,
kept byte-identical by a test), because an installed package has no docs/
folder. Its tables whose first header is "Key" map keys such as
`totals.sent` to definitions; they are parsed here at run time.
"""

from __future__ import annotations

import functools
import re
from importlib.resources import files

KEY = re.compile(r"`([a-z_]+(?:\.(?:[a-z_]+|\*))*)`")
BOLD = re.compile(r"\*\*(.+?)\*\*")
EMPHASIS = re.compile(r"(?<![\w*])\*(\S[^*]*?)\*(?![\w*])")


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row (no cell of the guide holds an escaped pipe)."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def plain(markdown: str) -> str:
    """A Markdown cell as plain text: code spans, bold and emphasis markers dropped."""
    text = BOLD.sub(r"\1", markdown.replace("`", ""))
    return EMPHASIS.sub(r"\1", text)


def parse_definitions(markdown: str) -> dict[str, str]:
    """{key: definition} from every table whose first header is "Key", as plain text.

    A row naming several keys splits a definition of as many parts joined by
    ", and " between them, else gives each the whole definition. A table
    without a "Definition" column (the funnels: Key | Step | Same as) gives
    its other cells as "Header: cell" sentences.
    """
    out: dict[str, str] = {}
    header: list[str] | None = None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = _cells(line)
        if header is None:
            header = cells
            continue
        if header[0] != "Key" or set(line) <= set("|-: "):
            continue
        named = dict(zip(header[1:], cells[1:], strict=False))
        if "Definition" in named:
            text = named["Definition"]
        else:
            text = ". ".join(f"{title}: {cell}" for title, cell in named.items() if cell)
        keys = KEY.findall(cells[0])
        # "`variants.sent`, `variants.sent_users`": "Notifications sent, and distinct users sent to"
        parts = text.split(", and ")
        if len(keys) == 1 or len(parts) != len(keys):
            parts = [text] * len(keys)
        for key, part in zip(keys, parts, strict=True):
            out[key] = plain(part[:1].upper() + part[1:])
    return out


@functools.cache
def figure_definitions() -> dict[str, str]:
    """The definitions of the guide shipped with the package."""
    return parse_definitions(files("reporter.exports").joinpath("figures.md").read_text(encoding="utf-8"))


def describe(figure: str) -> str:
    """The guide's definition of a figure key; a LookupError names a key the guide lacks."""
    try:
        return figure_definitions()[figure]
    except KeyError:
        raise LookupError(f"{figure!r} has no definition in docs/figures.md") from None
