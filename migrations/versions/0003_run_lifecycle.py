"""runs.first_claimed_at and runs.final_at: how long a unit has been retried, and its give-up

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("first_claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("final_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE runs SET first_claimed_at = claimed_at")


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("final_at")
        batch.drop_column("first_claimed_at")
