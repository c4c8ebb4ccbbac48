"""What the CLI prints: data shown as text, never as terminal commands or Rich markup.

Campaign names and ids, variant names and error texts come from loaded files
and remote servers. The CLI prints through `echo` and `console()`, which show
their control characters as escapes (`\\x1b`, `\\n`, `\\u202e`, see
`formatting.printable`) and their square brackets as square brackets.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from reporter.formatting import printable


class DataConsole(Console):
    """A Rich console that escapes the control characters of every string it renders (table cells too)."""

    def render_str(self, text: str, **options: Any) -> Text:
        """The string as Rich text, its control characters escaped first."""
        return super().render_str(printable(text), **options)


def console(stderr: bool = False) -> Console:
    """The console of stdout (or stderr): no markup unless a call asks for it, 200 columns when piped."""
    out = DataConsole(stderr=stderr, highlight=False, markup=False, emoji=False)
    if not out.is_terminal:
        out.width = 200  # piped into a file or a script: do not cut columns at 80
    return out


def echo(message: object = "", err: bool = False) -> None:
    """One line on stdout (or stderr), its control characters escaped."""
    click.echo(printable(str(message)), err=err)


def lines(texts: Iterable[str]) -> Text:
    """Several strings in one table cell, one per line (each escaped)."""
    return Text("\n".join(printable(text) for text in texts))
