"""Fixtures of the loader's tests: a database with the sample campaigns loaded."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from reporter.ingest import load_campaigns
from tests.ingest.helpers import DATA


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    summary = load_campaigns(engine, DATA / "campaigns.csv")
    assert (summary.loaded, summary.rejected) == (2, 0)
    return engine
