"""The PDF as a file: its fonts (packaged, embedded, the same without any system font), tags and outline, the
text of page 1 in reading order, and the same bytes twice with SOURCE_DATE_EPOCH."""

from __future__ import annotations

import html
import io
import logging
import os
import pickle
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import ContentStream
from sqlalchemy import Engine

from reporter import fonts as pdf_fonts
from reporter.branding import Branding
from reporter.demo import load_demo
from reporter.errors import UserError
from reporter.formatting import money
from reporter.metrics import compute_stats
from reporter.production import previous_stats, render_campaign, timestamp_now
from reporter.render import Rendered, render_html, render_pdf

GENERATED = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
NAME = "Black Friday ☕ teaser"
PACKAGED = {
    "Reporter-Inter",
    "Reporter-Inter-Semi-Bold",
    "Reporter-Inter-Bold",
    "Reporter-Inter-Italic",
    "Reporter-Noto-Emoji",
    "Reporter-Noto-Emoji-Semi-Bold",
    "Reporter-Noto-Emoji-Bold",
    "Reporter-DejaVu-Sans",
    "Reporter-DejaVu-Sans-Bold",
}


def tool(name: str) -> str:
    """The path of a poppler or qpdf program; CI installs them (.ci/run), elsewhere a missing one skips."""
    path = shutil.which(name)
    if path is None:
        from tests.vnu import unavailable

        unavailable(f"{name} is not installed")
    return path


def run(*args: str | Path) -> str:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=True).stdout


@dataclass(frozen=True)
class Pdf:
    rendered: Rendered
    path: Path

    @property
    def reader(self) -> PdfReader:
        return PdfReader(io.BytesIO(self.path.read_bytes()))


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    from reporter.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('pdf') / 'demo.db'}")
    upgrade(engine)
    load_demo(engine, 400, 1)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def ab_pdf(demo_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Pdf:
    """The A/B demo report, its campaign named with an emoji, laid out with no WeasyPrint warning."""
    with demo_engine.connect() as conn:
        stats = compute_stats(conn, "black-friday-ab")
    stats = replace(stats, campaign=replace(stats.campaign, name=NAME))
    rendered = render_html(stats, previous_stats(demo_engine, stats), GENERATED, Branding(company="Acme Inc."))
    pdf = pdf_without_warnings(rendered)
    path = tmp_path_factory.mktemp("ab") / "ab.pdf"
    path.write_bytes(pdf)
    return Pdf(rendered, path)


def pdf_without_warnings(rendered: Rendered) -> bytes:
    """The report's PDF, WeasyPrint having logged no warning while laying it out."""
    messages: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("weasyprint").addHandler(handler)
    try:
        pdf = render_pdf(rendered)
    finally:
        logging.getLogger("weasyprint").removeHandler(handler)
    assert messages == []
    return pdf


def fonts_of(path: Path) -> list[tuple[str, str]]:
    """(name without the subset tag, embedded yes/no) of every font pdffonts lists."""
    lines = run(tool("pdffonts"), path).splitlines()[2:]
    return [(line.split()[0].split("+", 1)[-1], line.split()[-5]) for line in lines if line.strip()]


def test_pdf_fonts_are_the_packaged_ones_all_embedded(ab_pdf: Pdf) -> None:
    fonts = fonts_of(ab_pdf.path)
    names = {name for name, _ in fonts}
    assert {"Reporter-Inter", "Reporter-Inter-Bold", "Reporter-Noto-Emoji", "Reporter-DejaVu-Sans"} <= names
    assert names <= PACKAGED
    assert all(embedded == "yes" for _, embedded in fonts)


def test_pdf_is_the_same_on_a_machine_without_fonts(ab_pdf: Pdf, tmp_path: Path) -> None:
    """Rendered in a process whose fontconfig knows no font at all: the same bytes."""
    (tmp_path / "none").mkdir()
    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd"><fontconfig>'
        f"<dir>{tmp_path / 'none'}</dir><cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>"
    )
    (tmp_path / "rendered.pickle").write_bytes(pickle.dumps(ab_pdf.rendered))
    script = (
        "import pickle, sys; from reporter.render import render_pdf; "
        "sys.stdout.buffer.write(render_pdf(pickle.loads(open(sys.argv[1], 'rb').read())))"
    )
    alone = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "rendered.pickle")],
        capture_output=True,
        check=True,
        env={**os.environ, "FONTCONFIG_FILE": str(config)},
    )
    assert b"No fonts configured" in alone.stderr  # WeasyPrint saw no system font indeed
    assert alone.stdout == ab_pdf.path.read_bytes()


def glyphs_drawn(reader: PdfReader, page: int) -> dict[str, list[tuple[str, int]]]:
    """The glyphs a page draws, by font name: (the text its ToUnicode map gives, glyph id)."""
    fonts = reader.pages[page]["/Resources"]["/Font"]
    drawn: dict[str, list[tuple[str, int]]] = {}
    current = None
    for operands, operator in ContentStream(reader.pages[page].get_contents(), reader).operations:
        if operator == b"Tf":
            current = fonts[operands[0]].get_object()
        elif operator in (b"TJ", b"Tj") and current is not None:
            cmap = current["/ToUnicode"].get_data().decode()
            unicode = {
                int(gid, 16): bytes.fromhex(text).decode("utf-16-be")
                for gid, text in re.findall(r"<([0-9a-fA-F]{4})>\s*<([0-9a-fA-F]+)>", cmap)
            }
            for part in operands[0] if operator == b"TJ" else [operands[0]]:
                if isinstance(part, (bytes, str)):
                    data = part if isinstance(part, bytes) else part.get_original_bytes()
                    gids = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
                    drawn.setdefault(str(current["/BaseFont"]), []).extend((unicode.get(g, ""), g) for g in gids)
    return drawn


def test_emoji_in_a_campaign_name_is_a_glyph_of_the_packaged_emoji_font(ab_pdf: Pdf) -> None:
    drawn = glyphs_drawn(ab_pdf.reader, 0)
    emoji = [glyph for font, glyphs in drawn.items() for glyph in glyphs if glyph[0] == "☕"]
    assert emoji, "no ☕ drawn on page 1"
    fonts = {font for font, glyphs in drawn.items() if any(text == "☕" for text, _ in glyphs)}
    assert fonts and all(re.fullmatch(r"/[A-Z]{6}\+Reporter-Noto-Emoji(-Bold|-Semi-Bold)?", f) for f in fonts)
    assert all(gid != 0 for _, gid in emoji)  # glyph 0 is .notdef, the box


def test_numbers_have_tabular_figures(tmp_path: Path) -> None:
    """`.num` (tabular-nums) sets 111111 and 000000 to one width; without it Inter's figures differ."""
    css = resources.files("reporter").joinpath("templates", "report.css").read_text(encoding="utf-8")
    page = (
        f"<!doctype html><html lang=en><title>t</title><style>{css}</style><p><span class=num>111111</span></p>"
        "<p><span class=num>000000</span></p><p>111111</p><p>000000</p>"
    )
    path = tmp_path / "figures.pdf"
    path.write_bytes(
        render_pdf(Rendered(html="", pdf_html=page, charts={}, title="t", author="a", generated_at=GENERATED))
    )
    widths = [
        float(x1) - float(x0)
        for x0, x1, word in re.findall(
            r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">(\d{6})</word>',
            run(tool("pdftotext"), "-bbox", path, "-"),
        )
    ]
    assert len(widths) == 4
    assert widths[0] == pytest.approx(widths[1], abs=0.01)
    assert abs(widths[2] - widths[3]) > 5


def test_variants_table_shows_a_big_campaigns_figures_whole(demo_engine: Engine, tmp_path: Path) -> None:
    """Tens of millions sent and of revenue: every figure of the variants table whole on A4, none cut to "…"."""
    with demo_engine.connect() as conn:
        stats = compute_stats(conn, "black-friday-ab")
    big = {"sent": 12_345_678, "impressions": 9_876_543, "clicks": 1_234_567, "errors": 1_234_567}
    variants = [
        replace(
            v,
            **big,
            converted_users=2_345_678,
            revenue=12_345_678.9,
            channels={name: replace(ch, **big) for name, ch in v.channels.items()},
        )
        for v in stats.variants
    ]
    stats = replace(stats, variants=variants)
    path = tmp_path / "big.pdf"
    path.write_bytes(render_pdf(render_html(stats, None, GENERATED, Branding())))
    text = run(tool("pdftotext"), "-layout", path, "-")
    table = text[text.index("Variants\n") :]
    table = table[: table.index("Channel rows count")]
    rows = [line for line in table.splitlines() if "12,345,678" in line]
    assert len(rows) == len(variants) * (1 + len(variants[0].channels))  # each variant's row and its channels'
    for line in rows:
        assert "…" not in line and line.count("1,234,567") == 2, line
    assert table.count(money(12_345_678.9, stats.campaign.currency)) == len(variants)  # €12,345,678.90
    assert len(re.findall(r"(?<![\d,])2,345,678(?![\d,])", table)) == len(variants)  # converted users


def test_pdf_is_tagged_with_language_title_and_outline(ab_pdf: Pdf) -> None:
    info = run(tool("pdfinfo"), ab_pdf.path)
    assert re.search(r"^Tagged:\s+yes$", info, re.MULTILINE)
    assert re.search(rf"^Title:\s+{re.escape(ab_pdf.rendered.title)}$", info, re.MULTILINE)
    reader = ab_pdf.reader
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "en" and root["/MarkInfo"]["/Marked"] and root["/ViewerPreferences"]["/DisplayDocTitle"]
    assert b'pdfuaid:part="1"' in root["/Metadata"].get_object().get_data()  # PDF/UA-1
    headings = [
        " ".join(re.sub(r"<[^>]+>", "", h).split())
        for h in re.findall(r"<h[12][^>]*>(.*?)</h[12]>", ab_pdf.rendered.pdf_html, re.DOTALL)
    ]
    outline = reader.outline
    assert [outline[0].title] + [item.title for item in outline[1]] == [html.unescape(h) for h in headings]
    assert headings[0] == f"{NAME} A/B test" and len(headings) > 5


def test_pdf_passes_qpdf_check(ab_pdf: Pdf) -> None:
    checked = subprocess.run([tool("qpdf"), "--check", str(ab_pdf.path)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "No syntax or stream encoding errors found" in checked.stdout


def test_page_one_reads_in_order_without_a_hidden_running_header(ab_pdf: Pdf) -> None:
    text = run(tool("pdftotext"), "-f", "1", "-l", "1", ab_pdf.path, "-")
    lines = [line for line in text.splitlines() if line.strip()]
    period = "Oct 1, 2026 – Nov 2, 2026 (UTC)"
    assert lines[:2] == [NAME, period]  # the running header: campaign, period
    assert text.count(NAME) == 2  # the header and the title; version 1 had a third, hidden copy
    assert text.count("Acme Inc. · generated") == 1  # the footer only
    assert "(UTC)Acme" not in text and f"{NAME}{period}" not in text  # version 1's run-together line
    first_section = re.search(r"<h2[^>]*>(.*?)</h2>", ab_pdf.rendered.pdf_html).group(1)
    order = [
        lines.index(f"{NAME} A/B test"),
        lines.index(f"Period {period}"),
        next(i for i, line in enumerate(lines) if line.startswith("Generated ")),
        lines.index(first_section),
    ]
    assert order == sorted(order) and order[0] == 3  # after the header's 2 lines and the company's eyebrow
    assert re.fullmatch(r"Page 1 of \d+", lines[-1])


def test_running_header_comes_from_no_page_text(ab_pdf: Pdf) -> None:
    """The header's source is an empty element's attributes, not text the page could extract."""
    source = re.search(r'<div class="running"[^>]*></div>', ab_pdf.rendered.pdf_html)
    assert source and 'data-campaign="Black Friday ☕ teaser"' in source.group(0)
    assert 'class="running"' not in ab_pdf.rendered.html  # the HTML report has no use for it


def test_html_report_keeps_a_font_stack_and_embeds_no_font(ab_pdf: Pdf) -> None:
    page = ab_pdf.rendered.html
    assert 'html { font-family: "Reporter Inter", "Reporter Noto Emoji", "Inter", ' in page
    assert "@font-face" not in page and "font:" not in page


@pytest.mark.parametrize(
    "url",
    [
        "font:../render.py",
        "font:/etc/passwd",
        "font:fonts.css",
        "font:__init__.py",
        "font:Inter-Regular.ttf/..",
        "font:%2e%2e/render.py",
        "font:inter-regular.ttf",
        "fonts:Inter-Regular.ttf",
    ],
)
def test_font_scheme_serves_the_packaged_fonts_only(url: str) -> None:
    assert pdf_fonts.fetch(url) is None
    assert pdf_fonts.fetch("font:Inter-Regular.ttf") == (
        resources.files("reporter").joinpath("fonts", "Inter-Regular.ttf").read_bytes()
    )


def test_pdf_renderer_refuses_other_font_urls() -> None:
    font = resources.files("reporter").joinpath("fonts", "Inter-Bold.ttf")
    urls = ["font:../render.py", "font:/etc/passwd", f"file://{font}", "font:fonts.css"]
    faces = "".join(f'@font-face {{ font-family: "X{i}"; src: url("{u}") }}' for i, u in enumerate(urls))
    page = (
        f"<html lang=en><title>t</title><style>{faces} p {{ font-family: X0, X1, X2, X3 }}</style>"
        f'<p>text</p><img src="font:../fonts/Inter-Bold.ttf" alt="x">'
    )
    refused: list[str] = []
    render_pdf(Rendered(html="", pdf_html=page, charts={}, title="t", author="a", generated_at=GENERATED), refused)
    assert set(refused) == set(urls) | {"font:../fonts/Inter-Bold.ttf"}  # and never the packaged fonts


def test_two_renders_with_source_date_epoch_are_identical(
    demo_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")  # 2026-09-21T14:13:20Z
    instant = datetime(2026, 9, 21, 14, 13, 20, tzinfo=UTC)
    first = render_campaign(demo_engine, "welcome-series", tmp_path / "one")
    second = render_campaign(demo_engine, "welcome-series", tmp_path / "two", generated_at=GENERATED)
    assert [p.name for p in first] == [p.name for p in second] and len(first) == 2
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    page = next(p for p in first if p.suffix == ".html").read_text()
    assert f'<meta name="dcterms.created" content="{instant.isoformat()}">' in page
    assert "Generated <b>Sep 21, 2026, 2:13 PM UTC</b>" in page
    pdf = PdfReader(next(p for p in first if p.suffix == ".pdf"))
    assert pdf.metadata.creation_date == instant


def test_generated_at_is_the_clock_without_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert timestamp_now(GENERATED) == GENERATED
    now = timestamp_now()
    assert now.tzinfo == UTC and now.microsecond == 0
    assert abs((datetime.now(UTC) - now).total_seconds()) < 5
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert timestamp_now(GENERATED) == datetime(1970, 1, 1, tzinfo=UTC)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(UserError, match="SOURCE_DATE_EPOCH"):
        timestamp_now()


def words_placed(pdf: bytes, tmp_path: Path) -> list[tuple[float, float, str]]:
    """Each word of the PDF with where it starts (x, y), in reading order."""
    path = tmp_path / "words.pdf"
    path.write_bytes(pdf)
    box = run(tool("pdftotext"), "-bbox", path, "-")
    found = re.findall(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="[\d.]+">([^<]*)<', box)
    return [(float(x), float(y), html.unescape(word)) for x, y, word in found]


def test_figure_cards_sized_from_the_font_lay_out_as_weasyprint_measures_them(
    demo_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PDF's card grids get their columns' least widths from the packaged font's advances (render.
    size_card_grids) instead of WeasyPrint laying out every word of every card: the demo's reports come out the
    same bytes, and cards of figures too wide for a quarter of the page where WeasyPrint would put them."""
    import reporter.render

    def both(rendered: Rendered) -> tuple[bytes, bytes]:
        sized = render_pdf(rendered)
        with monkeypatch.context() as patch:
            patch.setattr(reporter.render, "size_card_grids", lambda root: None)
            return sized, render_pdf(rendered)

    for campaign in ("welcome-series", "black-friday-ab", "cart-reminder"):
        with demo_engine.connect() as conn:
            stats = compute_stats(conn, campaign)
        sized, measured = both(render_html(stats, previous_stats(demo_engine, stats), GENERATED, Branding()))
        assert sized == measured, campaign
        if campaign != "black-friday-ab":
            continue
        huge = replace(
            stats.totals, sent=111_111_111, impressions=1_111_111_111, clicks=11_111_111, revenue=111_111_111_110.0
        )
        sized, measured = both(render_html(replace(stats, totals=huge), None, GENERATED, Branding()))
        assert sized != measured  # the revenue's column is wider than the others: sized by each way
        placed, expected = words_placed(sized, tmp_path), words_placed(measured, tmp_path)
        assert [w for *_, w in placed] == [w for *_, w in expected]
        assert max(abs(a[0] - b[0]) + abs(a[1] - b[1]) for a, b in zip(placed, expected, strict=True)) < 0.1
