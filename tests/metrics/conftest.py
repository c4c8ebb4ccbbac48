"""Fixtures of the metrics tests: a database per module and backend, for a data set its tests only read."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from reporter.db import make_engine, upgrade


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Like `engine` (a migrated SQLite file, then a fresh PostgreSQL database), but one per module."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path_factory.mktemp('metrics') / 'reporter.db'}")
        upgrade(eng)
        yield eng
        eng.dispose()
        return
    server = os.environ.get("REPORTER_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("REPORTER_TEST_POSTGRES_URL is not set")
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"reporter_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    eng = make_engine(make_url(server).set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(eng)
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
