"""User summary: the Users view as a table (each user's columns, derived ones included), so the
view filters, sorts and pages with indexes and no joins.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the user_summary table and its indexes."""
    op.create_table(
        "user_summary",
        sa.Column("tenant_pk", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("upn", sa.String(), nullable=False),
        sa.Column("mail", sa.String(), nullable=True),
        sa.Column("given_name", sa.String(), nullable=True),
        sa.Column("surname", sa.String(), nullable=True),
        sa.Column("display_name", sa.String(), nullable=True),
        sa.Column("account_enabled", sa.Boolean(), nullable=True),
        sa.Column("mfa_registered", sa.Boolean(), nullable=True),
        sa.Column("last_sign_in", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("on_premises_sync", sa.Boolean(), nullable=True),
        sa.Column("guest", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("job_title", sa.String(), nullable=True),
        sa.Column("country", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active_date", sa.Date(), nullable=True),
        sa.Column("last_activity", sa.Date(), nullable=True),
        sa.Column("last_used_app", sa.String(), nullable=True),
        sa.Column("activity_as_of", sa.Date(), nullable=True),
        sa.Column("mail_mb", sa.Float(), nullable=True),
        sa.Column("onedrive_mb", sa.Float(), nullable=True),
        sa.Column("windows", sa.Boolean(), nullable=True),
        sa.Column("mac", sa.Boolean(), nullable=True),
        sa.Column("mobile", sa.Boolean(), nullable=True),
        sa.Column("web", sa.Boolean(), nullable=True),
        sa.Column("licenses", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("activations", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_pk"],
            ["tenant.pk"],
            name=op.f("fk_user_summary_tenant_pk_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_pk", "user_id", name=op.f("pk_user_summary")),
    )
    with op.batch_alter_table("user_summary", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_summary_tenant_pk_display_name"),
            ["tenant_pk", "display_name"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_user_summary_tenant_pk_last_activity"),
            ["tenant_pk", "last_activity"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_user_summary_tenant_pk_last_sign_in"),
            ["tenant_pk", "last_sign_in"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_user_summary_tenant_pk_mail_mb"), ["tenant_pk", "mail_mb"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_user_summary_tenant_pk_onedrive_mb"),
            ["tenant_pk", "onedrive_mb"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_user_summary_tenant_pk_upn"), ["tenant_pk", "upn"], unique=False
        )


def downgrade() -> None:
    """Drop the user_summary table."""
    with op.batch_alter_table("user_summary", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_summary_tenant_pk_upn"))
        batch_op.drop_index(batch_op.f("ix_user_summary_tenant_pk_onedrive_mb"))
        batch_op.drop_index(batch_op.f("ix_user_summary_tenant_pk_mail_mb"))
        batch_op.drop_index(batch_op.f("ix_user_summary_tenant_pk_last_sign_in"))
        batch_op.drop_index(batch_op.f("ix_user_summary_tenant_pk_last_activity"))
        batch_op.drop_index(batch_op.f("ix_user_summary_tenant_pk_display_name"))

    op.drop_table("user_summary")
