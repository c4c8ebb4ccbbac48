"""Who a report is from (company, accent colour, logo): apart from the rendering, so that what configures
it does not import Matplotlib and WeasyPrint."""

from __future__ import annotations

import re
from dataclasses import dataclass

from reporter import DOCS_URL
from reporter.files import HEX_COLOUR


@dataclass(frozen=True)
class Branding:
    """Who the report is from: shown in the header, the footer and the PDF metadata."""

    company: str = ""
    accent: str = "#3b5bdb"
    logo_data_uri: str | None = None  # an embedded image, never a URL to fetch
    docs_url: str = DOCS_URL  # where the report's figures are defined (a link in the footer)

    def __post_init__(self) -> None:
        # The accent goes into the stylesheet: only a hex colour may, never arbitrary CSS.
        if not re.fullmatch(HEX_COLOUR, self.accent):
            raise ValueError(f"branding accent must be a hex colour like #3b5bdb, got {self.accent!r}")
        if not re.fullmatch(r"https?://[^\s\"'<>]+", self.docs_url):
            raise ValueError(f"docs_url must be an http(s) URL, got {self.docs_url!r}")
        if self.logo_data_uri is not None and not re.fullmatch(
            r"data:image/(?:png|svg\+xml);base64,[A-Za-z0-9+/=]+", self.logo_data_uri
        ):
            raise ValueError("branding logo must be an embedded PNG or SVG (a base64 data URI)")
