"""deliveries.kind holds a destination's type (webhook, slack, teams) beside to, cc and bcc: VARCHAR(3) -> VARCHAR(10)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 10:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column("kind", existing_type=sa.String(3), type_=sa.String(10), existing_nullable=True)


def downgrade() -> None:
    # Destinations' rows would not fit: they go with the column's old width.
    op.execute("DELETE FROM deliveries WHERE kind IS NOT NULL AND length(kind) > 3")
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column("kind", existing_type=sa.String(10), type_=sa.String(3), existing_nullable=True)
