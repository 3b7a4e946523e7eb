"""Registering tenants, once: one validation of names and ids for the CLI, the web UI and the
API; one Entra tenant id per current registration (a second registration of the same tenant is
refused with the existing name, or supersedes it when asked: the older one is retired, as the
seed's "deactivate older integrations" rule says); deactivating and reactivating. Every change
is written to the audit log (`tenant.register`, `tenant.credentials`, `tenant.supersede`,
`tenant.deactivate`, `tenant.reactivate`) with before and after, never a secret.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from seatwise.errors import UsageError
from seatwise.reclaim.audit import current_actor, record
from seatwise.store import reads
from seatwise.store.schema import Tenant
from seatwise.store.tenants import store_tenant
from seatwise.workspace.core import Workspace

__all__ = ["NAME_RULE", "audited", "check_ids", "check_name", "register", "set_active"]

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
NAME_RULE = (
    "1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit "
    "(it is what `seatwise sync --tenant NAME` takes)"
)
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def audited(tenant: Tenant) -> dict[str, Any]:
    """What the audit log keeps of a tenant's registration (never a secret or token)."""
    return {
        "tenant": tenant.name,
        "tenant_id": tenant.tenant_id,
        "client_id": tenant.client_id,
        "auth_mode": tenant.auth_mode,
        "active": bool(tenant.active),
        "superseded_by": tenant.superseded_by,
    }


def check_name(name: str) -> str:
    """The tenant name without surrounding blanks; `UsageError` when it breaks `NAME_RULE`."""
    cleaned = name.strip()
    if not NAME_RE.match(cleaned):
        raise UsageError(f"A tenant name must be {NAME_RULE}; {cleaned[:80]!r} is not.")
    return cleaned


def check_ids(tenant_id: str, client_id: str) -> tuple[str, str]:
    """The directory (tenant) id and client id without blanks; `UsageError` when either is
    missing or not an id (GUIDs, or a domain name for the tenant)."""
    tenant_id, client_id = tenant_id.strip(), client_id.strip()
    if not tenant_id or not client_id:
        raise UsageError("Give the tenant id and the client id of the app registration.")
    for label, value in (("tenant id", tenant_id), ("client id", client_id)):
        if not ID_RE.match(value):
            raise UsageError(f"The {label} {value[:80]!r} is not a directory or application id.")
    return tenant_id, client_id


def _registered(session: Session, tenant_id: str, name: str) -> Tenant | None:
    """The current registration of Entra tenant `tenant_id` under another name, if any."""
    return session.scalar(
        select(Tenant).where(
            Tenant.tenant_id == tenant_id,
            Tenant.name != name,
            Tenant.superseded_by.is_(None),
        )
    )


def check_new(session: Session, name: str, tenant_id: str, *, supersede: str | None) -> None:
    """Refuse to register `name` for `tenant_id` when another current registration has that
    tenant id, unless it is the one named by `supersede`."""
    if supersede is not None:
        old = reads.tenant_by_name(session, supersede)
        if old is None:
            raise UsageError(f"There is no tenant called {supersede!r} to supersede.")
        if old.name == name:
            raise UsageError("A tenant cannot supersede itself.")
    other = _registered(session, tenant_id, name)
    if other is not None and other.name != supersede:
        raise UsageError(
            f"The Microsoft 365 tenant {tenant_id} is already registered as {other.name}; use "
            f"that name, or take over from it with --supersede {other.name}."
        )


def register(
    workspace: Workspace,
    name: str,
    tenant_id: str | None,
    client_id: str | None,
    secret: str | None,
    *,
    auth_mode: str,
    refresh: str | None,
    scopes: str | None = None,
    supersede: str | None = None,
    actor: str | None = None,
) -> Tenant:
    """Add tenant `name`, or update its credentials, sealed; with `supersede`, retire that
    older registration of the same Microsoft 365 tenant in the same transaction (it stops
    syncing, leaves the licence position and shows as retired in the ITAM export; its history
    stays). `actor` (default: the operating-system account) is who the audit log names."""
    name = check_name(name)
    actor = actor or current_actor()
    with workspace.session(write=True) as session:
        known = reads.tenant_by_name(session, name)
        before = None if known is None else audited(known)
        if known is None and not (tenant_id and client_id and secret):
            raise UsageError(
                f"Tenant {name} is new: give --tenant-id, --client-id and --client-secret-env."
            )
        if tenant_id or client_id:
            tenant_id, client_id = check_ids(
                tenant_id or (known.tenant_id if known else ""),
                client_id or (known.client_id if known else ""),
            )
        effective_id = tenant_id or (known.tenant_id if known else "")
        check_new(session, name, effective_id, supersede=supersede)
        if supersede is not None:
            old = reads.tenant_by_name(session, supersede)
            assert old is not None  # checked above
            if old.tenant_id != effective_id:
                raise UsageError(
                    f"Tenant {supersede} is the Microsoft 365 tenant {old.tenant_id}, not "
                    f"{effective_id}: only a registration of the same tenant can be superseded."
                )
        row = store_tenant(
            session,
            workspace.secrets,
            name,
            tenant_id,
            client_id,
            secret,
            auth_mode=auth_mode,
            refresh=refresh,
            scopes=scopes,
        )
        session.flush()
        record(
            session,
            tenant_pk=row.pk,
            actor=actor,
            action="tenant.register" if before is None else "tenant.credentials",
            before=[] if before is None else [before],  # []: no registration before
            after=[{**audited(row), "signed_in": refresh is not None}],
            message=(
                f"Tenant {name} registered ({auth_mode})."
                if before is None
                else f"Tenant {name}: credentials updated ({auth_mode})."
            ),
        )
        if supersede is not None:
            old = reads.tenant_by_name(session, supersede)
            assert old is not None
            old_before = audited(old)
            old.active = False
            old.superseded_by = name
            old.updated_at = datetime.now(UTC)
            record(
                session,
                tenant_pk=old.pk,
                actor=actor,
                action="tenant.supersede",
                before=[old_before],
                after=[audited(old)],
                message=f"Tenant {supersede} retired: {name} took over.",
            )
        session.flush()
        session.expunge(row)
        return row


def set_active(workspace: Workspace, name: str, active: bool, *, actor: str | None = None) -> None:
    """Deactivate (stop syncing; licences retired in the ITAM export; history kept) or
    reactivate a tenant, audited. A superseded registration cannot be reactivated."""
    with workspace.session(write=True) as session:
        tenant = reads.tenant_by_name(session, name)
        if tenant is None:
            raise UsageError(f"There is no tenant called {name!r}.")
        if active and tenant.superseded_by is not None:
            raise UsageError(
                f"Tenant {name} was superseded by {tenant.superseded_by}; it cannot sync again."
            )
        if bool(tenant.active) == active:
            return
        before = audited(tenant)
        tenant.active = active
        tenant.updated_at = datetime.now(UTC)
        record(
            session,
            tenant_pk=tenant.pk,
            actor=actor or current_actor(),
            action="tenant.reactivate" if active else "tenant.deactivate",
            before=[before],
            after=[audited(tenant)],
            message=f"Tenant {name} {'reactivated' if active else 'deactivated'}.",
        )
