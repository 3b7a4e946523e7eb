"""Each user's share of the licence/service counts is kept with the user's summary
(`user_summary.usage_share`), so License Differentiation updates its counts from the users whose
rows changed. Empty until the task next runs, which then counts every user once.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("user_summary", sa.Column("usage_share", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_summary", schema=None) as batch_op:
        batch_op.drop_column("usage_share")
