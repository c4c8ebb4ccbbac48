"""campaigns.events_token: a new random value with every batch of events stored, for the columnar copy to notice

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 14:45:00
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("events_token", sa.String(32), nullable=True))
    # Campaigns stored before: a token each, so that a copy made from now on can tell when they change.
    campaigns = sa.table("campaigns", sa.column("id", sa.Integer), sa.column("events_token", sa.String))
    conn = op.get_bind()
    for (pk,) in conn.execute(sa.select(campaigns.c.id)).all():
        conn.execute(campaigns.update().where(campaigns.c.id == pk).values(events_token=uuid.uuid4().hex))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("events_token")
