"""How an apply ended: a reclamation plan may now be "partly applied" (some users' licences
removed, others refused) or "failed" (nothing removed), besides "applied".

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = ("draft", "approved", "applying", "applied", "undone")
_AFTER = ("draft", "approved", "applying", "applied", "partly applied", "failed", "undone")


def _listed(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _status_check(values: Sequence[str]) -> None:
    with op.batch_alter_table("reclaim_plan", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_reclaim_plan_status"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_reclaim_plan_status"), f"status IN ({_listed(values)})"
        )


def upgrade() -> None:
    """Allow the statuses "partly applied" and "failed"."""
    _status_check(_AFTER)


def downgrade() -> None:
    """Back to five statuses: a plan that ended partly applied or failed counts as applied."""
    op.execute(
        "UPDATE reclaim_plan SET status = 'applied' WHERE status IN ('partly applied', 'failed')"
    )
    _status_check(_BEFORE)
