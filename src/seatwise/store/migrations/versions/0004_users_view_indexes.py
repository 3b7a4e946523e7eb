"""Users view paging indexes: each sort index of user_summary ends with user_id (the view's
tie-break) and carries the filter columns, so a page of ids is read from the index alone; the
licence filter's lookup on license_assignment gets (tenant_pk, sku_id, user_id).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILTERS = ("upn", "last_activity", "country", "mfa_registered", "guest", "account_enabled")
# Sort column → its direction in the index (dates and sizes newest, largest first).
PAGES = {
    "upn": "",
    "display_name": "",
    "last_activity": " DESC",
    "last_sign_in": " DESC",
    "mail_mb": " DESC",
    "onedrive_mb": " DESC",
}


def _page_columns(key: str) -> list[str | sa.TextClause]:
    order: str | sa.TextClause = sa.text(key + PAGES[key]) if PAGES[key] else key
    return ["tenant_pk", order, "user_id", *(c for c in FILTERS if c != key)]


def upgrade() -> None:
    """Replace the single-column sort indexes with the covering paging indexes."""
    for key in PAGES:
        op.drop_index(f"ix_user_summary_tenant_pk_{key}", table_name="user_summary")
        op.create_index(f"ix_user_summary_page_{key}", "user_summary", _page_columns(key))
    op.drop_index("ix_license_assignment_tenant_pk_sku_id", table_name="license_assignment")
    op.create_index(
        "ix_license_assignment_tenant_pk_sku_id_user_id",
        "license_assignment",
        ["tenant_pk", "sku_id", "user_id"],
    )


def downgrade() -> None:
    """Back to the indexes of revision 0002."""
    op.drop_index("ix_license_assignment_tenant_pk_sku_id_user_id", table_name="license_assignment")
    op.create_index(
        "ix_license_assignment_tenant_pk_sku_id", "license_assignment", ["tenant_pk", "sku_id"]
    )
    for key in PAGES:
        op.drop_index(f"ix_user_summary_page_{key}", table_name="user_summary")
        op.create_index(f"ix_user_summary_tenant_pk_{key}", "user_summary", ["tenant_pk", key])
