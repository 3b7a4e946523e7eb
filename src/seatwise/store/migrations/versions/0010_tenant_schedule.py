"""Past one machine: each tenant's data version (bumped by every sync and contract edit, so the
caches of every web replica know when they are stale), its schedule (the hour of the daily sync,
tasks switched off) and the registration that superseded it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add tenant.data_version, sync_hour, disabled_tasks and superseded_by."""
    with op.batch_alter_table("tenant", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("data_version", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("sync_hour", sa.Integer(), server_default=sa.text("2"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("disabled_tasks", sa.String(), server_default=sa.text("''"), nullable=False)
        )
        batch_op.add_column(sa.Column("superseded_by", sa.String(), nullable=True))
    # Whatever was synced before counts as version 1, so kept answers start over once.
    op.execute("UPDATE tenant SET data_version = 1")


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("tenant", schema=None) as batch_op:
        batch_op.drop_column("superseded_by")
        batch_op.drop_column("disabled_tasks")
        batch_op.drop_column("sync_hour")
        batch_op.drop_column("data_version")
