"""Rendered reports: formatted figures, escaping, self-containment, reproducibility, the PDF."""

from __future__ import annotations

import http.server
import io
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine

from reporter import DOCS_URL
from reporter.branding import Branding
from reporter.demo import load_demo
from reporter.metrics import compute_stats
from reporter.metrics.model import CampaignStats
from reporter.production import previous_stats
from reporter.render import render_html, render_pdf

GENERATED = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
A4 = (595.28, 841.89)


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    from reporter.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('render') / 'demo.db'}")
    upgrade(engine)
    load_demo(engine, 400, 1)
    yield engine
    engine.dispose()


def stats_of(engine: Engine, cid: str) -> CampaignStats:
    with engine.connect() as conn:
        return compute_stats(conn, cid)


class CountingServer:
    """A local HTTP server that counts the requests it gets (it must get none)."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[CountingServer]:
    s = CountingServer()
    yield s
    s.close()


def test_html_shows_headline_figures_formatted(demo_engine: Engine) -> None:
    stats = stats_of(demo_engine, "black-friday-ab")
    html = render_html(stats, None, GENERATED, Branding(company="Acme Inc.")).html
    t = stats.totals
    assert f'<div class="value"><span class="num">{t.sent:,}</span></div>' in html
    assert f"{t.ctr:.2f}%" in html
    assert "€" + f"{t.revenue:,.2f}" in html
    assert "Nov 26, 2026, 7:00 AM UTC" in html
    for variant in stats.variants:
        assert f"<b>{variant.variant}</b> · {variant.name}" in html
    # The verdict is the first thing after the header, and again under the comparison.
    from reporter.verdicts_text import ab_sentence

    sentence = ab_sentence(stats)
    assert html.index(sentence) < html.index('id="sent-conversions"') and html.count(sentence) == 2


def test_undefined_rates_show_a_dash(demo_engine: Engine) -> None:
    stats = stats_of(demo_engine, "welcome-series")
    empty = replace(stats, totals=replace(stats.totals, ctr=None, impressions=0, conversion_rate=None))
    html = render_html(empty, None, GENERATED).html
    assert '<div class="sub">CTR — of impressions</div>' in html
    assert '<div class="sub">— of users sent to</div>' in html


HOSTILE = ["<script>alert(1)</script>", "<img src=http://127.0.0.1:{port}/x>"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_data_is_escaped_and_fetches_nothing(demo_engine: Engine, server: CountingServer, hostile: str) -> None:
    text = hostile.format(port=server.port)
    stats = stats_of(demo_engine, "black-friday-ab")
    campaign = replace(stats.campaign, name=text, message_title=text, message_body=text, conversion_event=text)
    variants = tuple(replace(v, name=text) for v in stats.variants)
    errors = tuple(replace(e, code=text) for e in stats.errors_by_code)
    evil = replace(stats, campaign=campaign, variants=variants, errors_by_code=errors)
    rendered = render_html(evil, None, GENERATED)
    for page in (rendered.html, rendered.pdf_html):
        assert text not in page
        assert text.replace("<", "&lt;").replace(">", "&gt;") in page
    refused: list[str] = []
    pdf = render_pdf(rendered, refused)
    assert refused == [] and server.hits == []
    assert "alert(1)" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text() if "script" in text else True


def test_html_references_nothing_external(demo_engine: Engine) -> None:
    for cid in ("welcome-series", "black-friday-ab"):
        html = render_html(stats_of(demo_engine, cid), None, GENERATED).html
        links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html)
        # In-document references only, and one link (never fetched) to the guide to the figures.
        assert links and all(link.startswith("#") or link == DOCS_URL for link in links)
        assert re.findall(r"""<a href="([^"#][^"]*)">""", html) == [DOCS_URL]
        assert not re.search(r"(?:src|href)\s*=\s*[^\s\"']", html)  # no unquoted ones either
        assert not re.search(r"url\((?!#)", html)
        assert "<script" not in html
        assert "@import" not in html


def test_html_is_byte_identical_across_runs(demo_engine: Engine) -> None:
    stats = stats_of(demo_engine, "black-friday-ab")
    previous = previous_stats(demo_engine, stats)
    first = render_html(stats, previous, GENERATED, Branding(company="Acme")).html
    second = render_html(
        stats_of(demo_engine, "black-friday-ab"),
        previous_stats(demo_engine, stats),
        GENERATED,
        Branding(company="Acme"),
    ).html
    assert first == second


def test_every_chart_has_alt_text_and_numbers(demo_engine: Engine) -> None:
    html = render_html(stats_of(demo_engine, "black-friday-ab"), None, GENERATED).html
    figures = re.findall(r"<figure.*?</figure>", html, flags=re.DOTALL)
    assert len(figures) >= 13
    for figure in figures:
        assert re.search(r'<svg role="img" aria-label="[^"]{10,}"', figure)
        assert "<details>" in figure and "<table>" in figure


def test_pdf_is_a4_with_header_footer_metadata_and_figures(
    demo_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    stats = stats_of(demo_engine, "black-friday-ab")
    rendered = render_html(stats, previous_stats(demo_engine, stats), GENERATED, Branding(company="Acme Inc."))
    refused: list[str] = []
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = render_pdf(rendered, refused)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")] == []
    assert refused == []
    reader = PdfReader(io.BytesIO(pdf))
    pages = len(reader.pages)
    assert pages >= 3
    for number, page in enumerate(reader.pages, start=1):
        box = page.mediabox
        assert (float(box.width), float(box.height)) == pytest.approx(A4, abs=0.5)
        text = page.extract_text()
        assert stats.campaign.name in text  # running header
        assert f"Page {number} of {pages}" in text  # footer
    first = reader.pages[0].extract_text()
    assert f"{stats.totals.sent:,}" in first and f"{stats.totals.ctr:.2f}%" in first
    assert reader.metadata.title == rendered.title
    assert reader.metadata.author == "Acme Inc."
    fonts = {str(f) for page in reader.pages for f in page["/Resources"].get("/Font", {}).values()}
    assert fonts  # text is real text with embedded fonts


def test_pdf_renderer_refuses_anything_but_the_charts(demo_engine: Engine, server: CountingServer, tmp_path) -> None:
    """Even if a template let a URL through, the renderer would not fetch it."""
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    rendered = render_html(stats_of(demo_engine, "welcome-series"), None, GENERATED)
    leaky = rendered.pdf_html.replace(
        "<main", f'<img src="http://127.0.0.1:{server.port}/leak"><img src="file://{secret}"><main', 1
    )
    refused: list[str] = []
    render_pdf(replace(rendered, pdf_html=leaky), refused)
    assert server.hits == []
    assert f"http://127.0.0.1:{server.port}/leak" in refused and any(u.startswith("file://") for u in refused)


def test_bad_branding_is_refused() -> None:
    with pytest.raises(ValueError, match="hex colour"):
        Branding(accent="red; } body { background: url(http://x) }")
    with pytest.raises(ValueError, match="embedded PNG or SVG"):
        Branding(logo_data_uri="http://example.com/logo.png")
