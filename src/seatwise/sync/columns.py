"""Bulk updates of a few columns of existing rows, written only where the value changed, so a
re-run on an unchanged tenant writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from seatwise.store.writes import CHUNK_ROWS, update_rows

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
    """Set `columns` of the tenant's rows whose `key` is in `values` where they differ; count.

    `values` maps a key to the new values, in `columns` order; keys with no stored row are
    skipped. The keys of the rows changed are added to `touched` when given.
    """
    if not values:
        return 0
    query = select(table.c[key], *(table.c[c] for c in columns)).where(
        table.c.tenant_pk == tenant_pk
    )
    if len(values) <= FEW:  # a few rows (an incremental read): only theirs
        keys = sorted(values)
        stored = [
            row
            for start in range(0, len(keys), CHUNK_ROWS)
            for row in session.execute(
                query.where(table.c[key].in_(keys[start : start + CHUNK_ROWS]))
            ).all()
        ]
    else:  # one read of the whole column set: far cheaper than a query per row
        stored = list(session.execute(query).all())
    changed = []
    for row in stored:
        new = values.get(row[0])
        if new is not None and tuple(row[1:]) != tuple(new):
            changed.append((row[0], *new))
    del stored
    if touched is not None:
        touched.update(row[0] for row in changed)
    return update_rows(session, table, tenant_pk, key, columns, changed)
