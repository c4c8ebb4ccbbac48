"""The demo data set in a SQLite file, once for the charts' tests, and its stats over chosen periods."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine

from reporter.db import make_engine, upgrade
from reporter.demo import load_demo
from reporter.metrics import compute_stats
from reporter.metrics.model import CampaignStats


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('charts') / 'demo.db'}")
    upgrade(engine)
    load_demo(engine, 2000, 1)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def demo_stats(demo_engine: Engine) -> Callable[..., CampaignStats]:
    """The stats of a demo campaign over [start, end) in a timezone (default: the campaign's default period)."""

    def stats(cid: str, start: datetime | None = None, end: datetime | None = None, tz: str = "UTC") -> CampaignStats:
        with demo_engine.connect() as conn:
            return compute_stats(conn, cid, start, end, tz)

    return stats
