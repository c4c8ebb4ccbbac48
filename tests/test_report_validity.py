"""The reports' HTML through an outside validator: the Nu HTML Checker finds no error but paged-media CSS.

Version 1's demo reports had 525-779 errors each, nearly all duplicate ids from the inline SVG charts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from reporter.branding import Branding
from reporter.metrics import compute_stats, resolve_period
from reporter.render import render_html
from tests.vnu import vnu_errors

GENERATED = datetime(2026, 11, 28, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    from reporter.db import make_engine, upgrade
    from reporter.demo import load_demo

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('validity') / 'demo.db'}")
    upgrade(engine)
    load_demo(engine, 300, 1)
    yield engine
    engine.dispose()


def test_every_report_kind_and_length_is_valid_html(demo_engine: Engine, tmp_path: Path) -> None:
    documents = []
    with demo_engine.connect() as conn:
        for cid in ("welcome-series", "black-friday-ab", "cart-reminder"):
            life = resolve_period(conn, cid, None, None, "UTC")
            for start, end in (
                (None, None),
                (life.start + timedelta(days=4), life.start + timedelta(days=5)),
                (life.start + timedelta(days=4), life.start + timedelta(days=11)),
            ):
                stats = compute_stats(conn, cid, start, end, "Europe/Berlin")
                html = render_html(stats, None, GENERATED, Branding(company="Acme <Inc.> & Co")).html
                documents.append(html)
    assert vnu_errors(documents, tmp_path) == []
