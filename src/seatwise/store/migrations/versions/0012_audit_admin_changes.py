"""The audit log also records changes that belong to no tenant (local accounts and API tokens):
`audit_event.tenant_pk` may be NULL. On SQLite the table is rebuilt, which drops its guard
triggers; they are made again at once, so UPDATE and DELETE stay refused.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSE = "audit_event rows are append-only"


def _sqlite_triggers() -> None:
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS audit_event_no_{verb.lower()}")
        op.execute(
            f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
            f"BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END"
        )


def _nullable(nullable: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("audit_event", "tenant_pk", existing_type=sa.Integer(), nullable=nullable)
        return
    for verb in ("UPDATE", "DELETE"):  # the rebuild copies rows: no trigger may stand in its way
        op.execute(f"DROP TRIGGER IF EXISTS audit_event_no_{verb.lower()}")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.alter_column("tenant_pk", existing_type=sa.Integer(), nullable=nullable)
    _sqlite_triggers()


def upgrade() -> None:
    """Allow audit events without a tenant."""
    _nullable(True)


def downgrade() -> None:
    """Every event belongs to a tenant again (fails while events without one exist)."""
    _nullable(False)
