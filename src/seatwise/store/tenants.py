"""Storing a tenant's registration and credentials: the client secret and refresh token are
sealed with the installation's `SecretBox` before they reach the database. One place, used by
`seatwise tenant add`, `seatwise connect` and the web UI's Settings page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.orm import Session

from seatwise.store import reads
from seatwise.store.schema import Tenant

__all__ = ["Sealer", "store_tenant"]


class Sealer(Protocol):
    """What encrypts a secret (`seatwise.secrets.SecretBox`)."""

    def seal(self, secret: str) -> bytes:
        """The encrypted form of `secret`."""
        ...


def store_tenant(
    session: Session,
    box: Sealer,
    name: str,
    tenant_id: str | None,
    client_id: str | None,
    secret: str | None,
    *,
    auth_mode: str,
    refresh: str | None,
    scopes: str | None = None,
) -> Tenant:
    """Add or update tenant `name` with its credentials sealed by `box` (what the CLI's
    `save_tenant` does, without the CLI's context): the secret and refresh token are only
    ever stored encrypted. ValueError when the tenant is new and an id or the secret is missing.
    """
    now = datetime.now(UTC)
    tenant = reads.tenant_by_name(session, name)
    if tenant is None:
        if not (tenant_id and client_id and secret):
            raise ValueError(f"Tenant {name} is new: give its tenant id, client id and secret.")
        tenant = Tenant(
            name=name,
            tenant_id=tenant_id,
            client_id=client_id,
            auth_mode=auth_mode,
            active=True,
            created_at=now,
            updated_at=now,
        )
        session.add(tenant)
    tenant.tenant_id = tenant_id or tenant.tenant_id
    tenant.client_id = client_id or tenant.client_id
    if secret:
        tenant.secret_enc = box.seal(secret)
    tenant.auth_mode = auth_mode
    tenant.refresh_token_enc = box.seal(refresh) if refresh else None
    tenant.granted_scopes = scopes
    tenant.updated_at = now
    session.flush()
    return tenant
