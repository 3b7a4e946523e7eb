"""The audit log: one append-only row per action on a tenant (plans made and approved, licences
removed and restored, contract terms, tenant settings), with actor, time, what was before and
after, and Graph's request id. Changes that belong to no tenant (local accounts, API tokens) have
no tenant and show in every tenant's log. Rows are only ever inserted; the database refuses
UPDATE and DELETE (migration 0003).
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from seatwise.store.schema import AuditEvent

__all__ = ["KEYS", "current_actor", "events", "of_tenant", "record"]

KEYS = (
    "at",
    "actor",
    "action",
    "outcome",
    "plan",
    "upn",
    "user_id",
    "before",
    "after",
    "request_id",
    "message",
)


def current_actor() -> str:
    """Who is acting from the command line: the operating-system account."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (containers), no LOGNAME
        return "cli:unknown"


def record(
    session: Session,
    *,
    tenant_pk: int | None,
    actor: str,
    action: str,
    outcome: str = "ok",
    plan_pk: int | None = None,
    user_id: str | None = None,
    upn: str | None = None,
    before: Sequence[dict[str, Any]] | None = None,
    after: Sequence[dict[str, Any]] | None = None,
    request_id: str | None = None,
    message: str | None = None,
    at: datetime | None = None,
) -> None:
    """Append one event, in the caller's transaction (`tenant_pk` None: an account or token
    change, which belongs to no tenant)."""
    session.add(
        AuditEvent(
            at=at or datetime.now(UTC),
            actor=actor,
            tenant_pk=tenant_pk,
            action=action,
            outcome=outcome,
            plan_pk=plan_pk,
            user_id=user_id,
            upn=upn,
            before=None if before is None else list(before),
            after=None if after is None else list(after),
            request_id=request_id,
            message=message,
        )
    )


def _licences(value: list[dict[str, Any]] | None) -> str | None:
    """`SKU (group G) [n plans off]` per licence (other changes as `key value` pairs), for
    tables and CSV."""
    if value is None:
        return None
    parts = []
    for lic in value:
        if "part" not in lic and "sku_id" not in lic:  # other changes: terms, settings
            parts.append(", ".join(f"{k} {v}" for k, v in lic.items() if v is not None))
            continue
        text = str(lic.get("part") or lic.get("sku_id"))
        if lic.get("via"):
            text += f" (group {lic['via']})"
        if lic.get("disabled_plans"):
            text += f" [{len(lic['disabled_plans'])} plans off]"
        parts.append(text)
    return "; ".join(parts) or "none"


def of_tenant(tenant_pk: int) -> ColumnElement[bool]:
    """The events shown in a tenant's log: its own and those of no tenant (accounts, tokens)."""
    return or_(AuditEvent.tenant_pk == tenant_pk, AuditEvent.tenant_pk.is_(None))


def events(
    session: Session,
    tenant_pk: int,
    *,
    plan_pk: int | None = None,
    user_id: str | None = None,
    limit: int | None = None,
    flat: bool = False,
) -> Iterator[dict[str, Any]]:
    """The tenant's events (of one plan or user), newest first, as records with `KEYS`
    (`flat`: licences as text)."""
    stmt = select(AuditEvent).where(of_tenant(tenant_pk))
    if plan_pk is not None:
        stmt = stmt.where(AuditEvent.plan_pk == plan_pk)
    if user_id is not None:
        stmt = stmt.where(AuditEvent.user_id == user_id)
    stmt = stmt.order_by(AuditEvent.at.desc(), AuditEvent.pk.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    for event in session.scalars(stmt):
        yield {
            "at": event.at.isoformat(),
            "actor": event.actor,
            "action": event.action,
            "outcome": event.outcome,
            "plan": event.plan_pk,
            "upn": event.upn,
            "user_id": event.user_id,
            "before": _licences(event.before) if flat else event.before,
            "after": _licences(event.after) if flat else event.after,
            "request_id": event.request_id,
            "message": event.message,
        }
