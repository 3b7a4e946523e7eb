"""Editing a SKU's contract terms (cost, currency, payment frequency, dates, managed flag) from
any front end: checked, stored, the tenant's data version moved on (so every process's kept
recommendations and pages are stale) and written to the audit log with the terms before and
after, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from seatwise.analytics.inputs import licenses as inputs
from seatwise.analytics.licenses import price
from seatwise.reclaim.audit import record
from seatwise.store.schema import LicenseContract

__all__ = ["set_contract"]


def _plain(terms: Mapping[str, Any]) -> dict[str, Any]:
    """Terms as JSON values (the cost as `seatwise licenses` shows it, dates ISO)."""
    return {
        key: price(value)
        if isinstance(value, Decimal)
        else value.isoformat()
        if isinstance(value, date)
        else value
        for key, value in terms.items()
    }


def set_contract(
    session: Session,
    tenant_pk: int,
    sku: Mapping[str, Any],
    changes: Mapping[str, Any],
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Change some contract terms of `sku` (an `inputs.find_sku` row), keeping the others, and
    audit it; return every term. `UsageError` (nothing written) for inconsistent terms."""
    row = session.get(LicenseContract, (tenant_pk, sku["sku_id"]))
    before = None if row is None else {n: getattr(row, n) for n in inputs.CONTRACT_FIELDS}
    terms = inputs.set_contract(session, tenant_pk, sku, changes, now, actor)
    record(
        session,
        tenant_pk=tenant_pk,
        actor=actor,
        action="contract.set",
        before=None if before is None else [{"sku": sku["part_number"], **_plain(before)}],
        after=[{"sku": sku["part_number"], **_plain(terms)}],
        message=f"Contract terms of {sku['part_number']}: {', '.join(sorted(changes))}.",
        at=now,
    )
    return terms
