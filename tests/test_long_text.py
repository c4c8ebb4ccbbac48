"""Unbroken long text (a 1,000-character name, long variant ids and names, a long message) stays on the PDF page."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import Engine

from reporter.branding import Branding
from reporter.ingest import load_campaigns, load_events
from reporter.metrics import compute_stats
from reporter.render import render_html, render_pdf

GENERATED = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
MM = 72 / 25.4
LEFT, RIGHT, TOP = 14 * MM, 595.28 - 14 * MM, 20 * MM  # the report's A4 page margins
NAME = ("BlackFriday" * 100)[:1000]
VARIANTS = [(letter * 40, f"Variant{letter}" * 60) for letter in "ABC"]  # ids of 40 and names of 480 characters
TITLE, BODY = "T" * 400, "B" * 2000

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None and os.environ.get("REPORTER_REQUIRE_BROWSER") != "1",
    reason="pdftotext is not installed (apt-get install poppler-utils; .ci/run does)",
)


@dataclass(frozen=True)
class Word:
    x_min: float
    y_min: float
    x_max: float
    text: str


@dataclass(frozen=True)
class Report:
    html: str
    pages: list[list[Word]]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """An A/B campaign and a single-message one with long texts, loaded as files like any data, and a few events."""
    from reporter.db import make_engine, upgrade

    folder = tmp_path_factory.mktemp("long")
    eng = make_engine(f"sqlite:///{folder / 'long.db'}")
    upgrade(eng)
    start = "2026-10-01T00:00:00Z"
    campaigns = [
        {
            "campaign_id": "long-ab",
            "name": NAME,
            "type": "ab",
            "start_at": start,
            "variants": [
                {"variant": vid, "name": name, "split_pct": 33.3, "baseline": vid.startswith("A")}
                for vid, name in VARIANTS
            ],
        },
        {
            "campaign_id": "long-single",
            "name": NAME,
            "type": "single",
            "start_at": start,
            "variants": [{"variant": "message", "name": "Message", "title": TITLE, "body": BODY}],
        },
    ]
    (folder / "campaigns.json").write_text(json.dumps(campaigns))
    events = []
    for n in range(90):
        cid, variant = ("long-ab", VARIANTS[n % 3][0]) if n % 2 else ("long-single", None)
        ts = f"2026-10-{1 + n % 20:02d}T10:00:00Z"
        for event in ("sent", "impression", "click")[: 2 + (n % 4 == 0)]:
            events.append(
                {
                    "campaign_id": cid,
                    "variant": variant,
                    "user_id": f"u{n}",
                    "event": event,
                    "ts": ts,
                    "error_code": None,
                }
            )
        if n % 9 == 0:
            events.append(
                {
                    "campaign_id": cid,
                    "variant": variant,
                    "user_id": f"e{n}",
                    "event": "error",
                    "ts": ts,
                    "error_code": "X" * 100,
                }
            )
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    assert load_campaigns(eng, folder / "campaigns.json").rejected == 0
    assert load_events(eng, folder / "events.jsonl").rejected == 0
    yield eng
    eng.dispose()


class Collected(logging.Handler):
    """The warnings a logger emits while rendering."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def render(engine: Engine, campaign: str, folder: Path) -> Report:
    """The campaign's report, as its HTML and the words of its PDF with their boxes (pdftotext -bbox)."""
    with engine.connect() as conn:
        stats = compute_stats(conn, campaign)
    collected, weasyprint = Collected(), logging.getLogger("weasyprint")
    weasyprint.addHandler(collected)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a missing glyph or a failed layout in Matplotlib fails the test
            rendered = render_html(stats, None, GENERATED, Branding(company="Acme Inc."))
            pdf = render_pdf(rendered)
    finally:
        weasyprint.removeHandler(collected)
    assert collected.messages == []
    path = folder / f"{campaign}.pdf"
    path.write_bytes(pdf)
    boxes = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True)
    assert boxes.stderr == ""  # poppler reads every text mapping of the PDF
    pages = [
        [
            Word(float(x0), float(y0), float(x1), text)
            for x0, y0, x1, text in re.findall(
                r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', page
            )
        ]
        for page in boxes.stdout.split("<page ")[1:]
    ]
    return Report(rendered.html, pages)


@pytest.fixture(scope="module")
def ab_report(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Report:
    return render(engine, "long-ab", tmp_path_factory.mktemp("pdf"))


@pytest.fixture(scope="module")
def single_report(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Report:
    return render(engine, "long-single", tmp_path_factory.mktemp("pdf"))


@pytest.mark.parametrize("which", ["ab_report", "single_report"])
def test_no_text_runs_off_the_page(which: str, request: pytest.FixtureRequest) -> None:
    report: Report = request.getfixturevalue(which)
    for number, words in enumerate(report.pages, start=1):
        outside = [w.text[:40] for w in words if w.x_min < LEFT - 0.5 or w.x_max > RIGHT + 0.5]
        assert outside == [], f"page {number}: text beyond the margins"


@pytest.mark.parametrize("which", ["ab_report", "single_report"])
def test_running_header_name_is_cut_before_the_period(which: str, request: pytest.FixtureRequest) -> None:
    report: Report = request.getfixturevalue(which)
    for number, words in enumerate(report.pages, start=1):
        header = sorted((w for w in words if w.y_min < TOP), key=lambda w: w.x_min)
        assert header[0].text.startswith("BlackFriday") and header[0].text.endswith("…"), f"page {number}"
        period = next(w for w in header if w.text == "Oct")
        assert header[0].x_max + 12 <= period.x_min, f"page {number}: the name runs into the period"


def test_a_long_name_is_cut_in_the_title_and_whole_in_the_facts(single_report: Report) -> None:
    """The title keeps 120 characters (the whole name in its title attribute); the facts line wraps the whole name."""
    assert f'<h1 title="{NAME}">{NAME[:119]}… <span' in single_report.html
    assert f'<li class="fullname">Name <b>{NAME}</b></li>' in single_report.html
    first = [w for w in single_report.pages[0] if w.y_min > TOP]
    text = "".join(w.text for w in first)
    assert f"{NAME[:119]}…Singlemessage" in text and f"Name{NAME}" in text  # every character, line after line
    assert TITLE in single_report.html and BODY in single_report.html


def test_variant_text_never_overlaps_its_neighbours(ab_report: Report) -> None:
    """Table cells, tick labels and the side-by-side panel titles with long variant ids and names."""
    for number, words in enumerate(ab_report.pages, start=1):
        lines: dict[int, list[Word]] = {}
        for w in words:
            lines.setdefault(round(w.y_min), []).append(w)
        for line in lines.values():
            if not any(w.text.startswith(("AAAA", "BBBB", "CCCC", "Variant")) for w in line):
                continue
            line.sort(key=lambda w: w.x_min)
            for before, after in pairwise(line):
                assert before.x_max <= after.x_min + 0.5, (
                    f"page {number}: {before.text[:30]!r} runs into {after.text[:30]!r}"
                )
