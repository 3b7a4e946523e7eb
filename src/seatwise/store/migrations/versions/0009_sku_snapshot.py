"""Licence history: one row per subscribed SKU per day with its unit counts, written by the
License Information task, for the Overview's trend of licences assigned and purchased.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create sku_snapshot."""
    op.create_table(
        "sku_snapshot",
        sa.Column("tenant_pk", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("purchased", sa.Integer(), nullable=False),
        sa.Column("assigned", sa.Integer(), nullable=False),
        sa.Column("suspended", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("warning", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("locked_out", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_pk"],
            ["tenant.pk"],
            name=op.f("fk_sku_snapshot_tenant_pk_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_pk", "sku_id", "day", name=op.f("pk_sku_snapshot")),
    )
    op.create_index(
        op.f("ix_sku_snapshot_tenant_pk_day"), "sku_snapshot", ["tenant_pk", "day"], unique=False
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_index(op.f("ix_sku_snapshot_tenant_pk_day"), table_name="sku_snapshot")
    op.drop_table("sku_snapshot")
