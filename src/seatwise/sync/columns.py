"""Bulk updates of a few columns of existing rows, written only where the value changed, so a
re-run on an unchanged tenant writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from seatwise.store.writes import CHUNK_ROWS, differing_tuples, update_rows

FEW = 20_000  # up to this many keys, read only their rows


def update_changed(
    session: Session,
    table: Table,
    tenant_pk: int,
    key: str,
    values: Mapping[str, Sequence[Any]],
    columns: Sequence[str],
    touched: set[str] | None = None,
) -> int:
    """Set `columns` of the tenant's rows whose `key` is in `values` where they differ (as the
    driver stores them); count.

    `values` maps a key to the new values, in `columns` order; keys with no stored row are
    skipped. The keys of the rows changed are added to `touched` when given.
    """
    if not values:
        return 0
    names = [key, *columns]
    rows = [(k, *new) for k, new in values.items()]
    scope = [table.c.tenant_pk == tenant_pk]
    if len(values) <= FEW:  # a few rows (an incremental read): only theirs
        changed = [
            row
            for start in range(0, len(rows), CHUNK_ROWS)
            for part in (rows[start : start + CHUNK_ROWS],)
            for row in differing_tuples(
                session,
                table,
                names,
                part,
                key=(key,),
                scope=[*scope, table.c[key].in_([row[0] for row in part])],
                stored_only=True,
            )
        ]
    else:  # one read of the whole column set: far cheaper than a query per row
        changed = differing_tuples(session, table, names, rows, (key,), scope, stored_only=True)
    if touched is not None:
        touched.update(row[0] for row in changed)
    return update_rows(session, table, tenant_pk, key, columns, changed)
