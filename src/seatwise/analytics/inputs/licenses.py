"""Loader for licence positions: a tenant's SKUs and contract terms as plain dicts, and the one
write helper for contract terms (`set_contract`), which no sync ever touches.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from seatwise.analytics.licenses import check_contract
from seatwise.errors import UsageError
from seatwise.skus import product_name
from seatwise.store import writes
from seatwise.store.schema import LicenseContract, Sku

__all__ = ["CONTRACT_FIELDS", "contract_rows", "find_sku", "set_contract", "sku_rows"]

# The contract terms a user enters (DESIGN §5); `updated_at` and `updated_by` are bookkeeping.
CONTRACT_FIELDS = (
    "cost",
    "currency",
    "payment_frequency",
    "effective_date",
    "expiration_date",
    "managed",
)

_SKU_COLUMNS = (
    Sku.sku_id,
    Sku.part_number,
    Sku.name,
    Sku.enabled,
    Sku.consumed,
    Sku.suspended,
    Sku.warning,
    Sku.retired,
)


def sku_rows(session: Session, tenant_pk: int) -> list[dict[str, Any]]:
    """The tenant's stored SKUs (retired ones too), with a friendly name for every one."""
    rows = [
        dict(row._mapping)
        for row in session.execute(select(*_SKU_COLUMNS).where(Sku.tenant_pk == tenant_pk))
    ]
    for row in rows:
        row["name"] = row["name"] or product_name(row["sku_id"], row["part_number"])
    return rows


def contract_rows(session: Session, tenant_pk: int) -> list[dict[str, Any]]:
    """The tenant's contract terms, one dict per SKU that has any."""
    columns = [LicenseContract.__table__.c[name] for name in ("sku_id", *CONTRACT_FIELDS)]
    query = select(*columns).where(LicenseContract.tenant_pk == tenant_pk)
    return [dict(row._mapping) for row in session.execute(query)]


def find_sku(session: Session, tenant_pk: int, key: str) -> dict[str, Any]:
    """The tenant's SKU whose skuId or skuPartNumber is `key` (any case); UsageError if none."""
    wanted = key.strip().casefold()
    rows = sku_rows(session, tenant_pk)
    for row in rows:
        if wanted in (row["sku_id"].casefold(), row["part_number"].casefold()):
            return row
    if not rows:
        raise UsageError(f"The tenant has no SKUs yet, so none is {key!r}: run `seatwise sync`.")
    known = ", ".join(sorted({row["part_number"] for row in rows}, key=str.casefold))
    raise UsageError(f"The tenant has no SKU {key!r}; its SKUs are {known}.")


def set_contract(
    session: Session,
    tenant_pk: int,
    sku: Mapping[str, Any],
    changes: Mapping[str, Any],
    now: datetime,
    updated_by: str = "cli",
) -> dict[str, Any]:
    """Change some contract terms of `sku` (a `find_sku` row), keeping the others; return all.

    `changes` holds parsed values for some of `CONTRACT_FIELDS`. The merged terms are checked
    (`check_contract`) before anything is written; the caller's unit of work commits.
    """
    unknown = set(changes) - set(CONTRACT_FIELDS)
    if unknown:
        raise ValueError(f"not contract terms: {', '.join(sorted(unknown))}")
    row = session.get(LicenseContract, (tenant_pk, sku["sku_id"]))
    current: dict[str, Any] = (
        dict.fromkeys(CONTRACT_FIELDS) | {"managed": True}
        if row is None
        else {name: getattr(row, name) for name in CONTRACT_FIELDS}
    )
    merged = current | dict(changes)
    check_contract(sku["part_number"], merged)
    if row is None:
        row = LicenseContract(tenant_pk=tenant_pk, sku_id=sku["sku_id"])
        session.add(row)
    for name in CONTRACT_FIELDS:
        setattr(row, name, merged[name])
    row.updated_at = now
    row.updated_by = updated_by
    writes.bump_data_version(session, tenant_pk)
    session.flush()
    return merged
