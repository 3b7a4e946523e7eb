"""Bulk updates of a few columns of existing rows, written only where the value changed, so a
re-run on an unchanged tenant writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, and_, bindparam, select, update
from sqlalchemy.orm import Session

from seatwise.store.writes import CHUNK_ROWS


def update_changed(
    session: Session,
    table: Table,
    tenant_pk: int,
    key: str,
    values: Mapping[str, Mapping[str, Any]],
    columns: Sequence[str],
) -> int:
    """Set `columns` of the tenant's rows whose `key` is in `values` where they differ; count."""
    if not values:
        return 0
    current = {
        row[0]: row[1:]
        for row in session.execute(
            select(table.c[key], *(table.c[c] for c in columns)).where(
                table.c.tenant_pk == tenant_pk
            )
        )
    }
    changed = []
    for row_key, new in values.items():
        old = current.get(row_key)
        if old is None:
            continue
        wanted = tuple(new.get(c) for c in columns)
        if tuple(old) != wanted:
            changed.append({"k_key": row_key, **{f"v_{c}": new.get(c) for c in columns}})
    if not changed:
        return 0
    stmt = (
        update(table)
        .where(and_(table.c.tenant_pk == tenant_pk, table.c[key] == bindparam("k_key")))
        .values({c: bindparam(f"v_{c}") for c in columns})
    )
    for start in range(0, len(changed), CHUNK_ROWS):
        session.execute(stmt, changed[start : start + CHUNK_ROWS])
    return len(changed)
