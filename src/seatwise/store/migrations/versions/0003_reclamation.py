"""Reclamation: plans, their per-user items, and the append-only audit log (DESIGN §6).

UPDATE and DELETE on `audit_event` are refused by triggers, so no code path can rewrite history.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSE = "audit_event rows are append-only"


def upgrade() -> None:
    """Create reclaim_plan, reclaim_item and audit_event, and audit_event's guard triggers."""
    states = ("pending", "sent", "done", "failed", "skipped")
    op.create_table(
        "reclaim_plan",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_pk", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("rules", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("only_managed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_by", sa.String(), nullable=True),
        sa.Column("realised", sa.JSON(none_as_null=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'approved', 'applying', 'applied', 'undone')",
            name=op.f("ck_reclaim_plan_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_pk"],
            ["tenant.pk"],
            name=op.f("fk_reclaim_plan_tenant_pk_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_reclaim_plan")),
    )
    op.create_index(op.f("ix_reclaim_plan_tenant_pk"), "reclaim_plan", ["tenant_pk"], unique=False)
    listed = ", ".join(f"'{s}'" for s in states)
    op.create_table(
        "reclaim_item",
        sa.Column("tenant_pk", sa.Integer(), nullable=False),
        sa.Column("plan_pk", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("upn", sa.String(), nullable=False),
        sa.Column("reasons", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("licences", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("remove", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("last_sign_in", sa.DateTime(timezone=True), nullable=True),
        sa.Column("excluded", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(), nullable=True),
        sa.Column("undo_state", sa.String(), nullable=True),
        sa.Column("undo_message", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"state IN ({listed})", name=op.f("ck_reclaim_item_state")),
        sa.CheckConstraint(f"undo_state IN ({listed})", name=op.f("ck_reclaim_item_undo_state")),
        sa.ForeignKeyConstraint(
            ["plan_pk"],
            ["reclaim_plan.pk"],
            name=op.f("fk_reclaim_item_plan_pk_reclaim_plan"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_pk"],
            ["tenant.pk"],
            name=op.f("fk_reclaim_item_tenant_pk_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_pk", "plan_pk", "user_id", name=op.f("pk_reclaim_item")),
    )
    op.create_table(
        "audit_event",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("tenant_pk", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("plan_pk", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.String(), nullable=True),
        sa.Column("upn", sa.String(), nullable=True),
        sa.Column("before", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("after", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("request_id", sa.String(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('ok', 'failed', 'skipped')", name=op.f("ck_audit_event_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_pk"], ["tenant.pk"], name=op.f("fk_audit_event_tenant_pk_tenant")
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_audit_event")),
    )
    op.create_index(
        op.f("ix_audit_event_tenant_pk_at"), "audit_event", ["tenant_pk", "at"], unique=False
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_event_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_REFUSE}'; END $$"
        )
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
                "FOR EACH ROW EXECUTE FUNCTION audit_event_refuse()"
            )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
                f"BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END"
            )


def downgrade() -> None:
    """Drop the reclamation tables and the audit log (its triggers go with it)."""
    op.drop_index(op.f("ix_audit_event_tenant_pk_at"), table_name="audit_event")
    op.drop_table("audit_event")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_event_refuse()")
    op.drop_table("reclaim_item")
    op.drop_index(op.f("ix_reclaim_plan_tenant_pk"), table_name="reclaim_plan")
    op.drop_table("reclaim_plan")
