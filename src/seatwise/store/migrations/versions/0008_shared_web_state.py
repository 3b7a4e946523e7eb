"""State several web processes (or machines) share: browser sign-ins in progress, and the
lease that lets one sync of a tenant run at a time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create pending_sign_in and sync_lease."""
    op.create_table(
        "pending_sign_in",
        sa.Column("key_hash", sa.String(), nullable=False),
        sa.Column("state_hash", sa.String(), nullable=False),
        sa.Column("payload_enc", sa.LargeBinary(), nullable=False),
        sa.Column("answer_enc", sa.LargeBinary(), nullable=True),
        sa.Column("started_by", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_pending_sign_in")),
    )
    op.create_index(
        op.f("ix_pending_sign_in_state_hash"), "pending_sign_in", ["state_hash"], unique=False
    )
    op.create_table(
        "sync_lease",
        sa.Column("tenant_pk", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_pk"],
            ["tenant.pk"],
            name=op.f("fk_sync_lease_tenant_pk_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_pk", name=op.f("pk_sync_lease")),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("sync_lease")
    op.drop_index(op.f("ix_pending_sign_in_state_hash"), table_name="pending_sign_in")
    op.drop_table("pending_sign_in")
