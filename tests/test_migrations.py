"""Schema migrations on SQLite and PostgreSQL: existing rows survive, the new schema takes what it is for."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import insert, select
from sqlalchemy.exc import DataError

from reporter.db import _alembic_config, current_revision, make_engine, upgrade
from reporter.models import Delivery, Run

AT = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)


def test_0006_keeps_deliveries_and_records_a_destinations_type(db_url: str) -> None:
    engine = make_engine(db_url)
    command.upgrade(_alembic_config(engine), "0005")  # type: ignore[arg-type]
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(Run)
            .values(
                job="daily",
                campaign_id="c",
                period="2026-10",
                period_from=AT,
                period_to=AT,
                timezone="UTC",
                status="delivered",
                attempts=1,
                claimed_at=AT,
                updated_at=AT,
            )
            .returning(Run.id)
        ).scalar_one()
        conn.execute(
            insert(Delivery).values(
                run_id=run_id,
                recipient="boss@acme.test",
                status="sent",
                kind="bcc",
                smtp_code=250,
                smtp_message="accepted",
                attempted_at=AT,
            )
        )
    if engine.dialect.name == "postgresql":  # VARCHAR(3) is enforced there: a destination's type did not fit
        with pytest.raises(DataError), engine.begin() as conn:
            conn.execute(
                insert(Delivery).values(
                    run_id=run_id, recipient="ops-hook", status="sent", kind="webhook", attempted_at=AT
                )
            )
    assert upgrade(engine) == ("0005", "0007") and current_revision(engine) == "0007"
    with engine.begin() as conn:
        conn.execute(
            insert(Delivery).values(
                run_id=run_id,
                recipient="ops-hook",
                status="sent",
                kind="webhook",
                smtp_code=200,
                smtp_message="OK",
                attempted_at=AT,
            )
        )
        rows = conn.execute(select(Delivery.recipient, Delivery.kind, Delivery.smtp_code).order_by(Delivery.id)).all()
    assert [tuple(r) for r in rows] == [("boss@acme.test", "bcc", 250), ("ops-hook", "webhook", 200)]
    engine.dispose()
