"""A Graph client for a stored tenant: its sealed secret and refresh token opened, the right
token provider chosen (app-only or delegated), and refresh tokens the identity platform rotates
stored again, sealed. One place for the CLI, the web UI's runner and its reclamation jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from seatwise.config import Settings
from seatwise.errors import AuthError
from seatwise.store.schema import Tenant

if TYPE_CHECKING:
    from seatwise.graph import GraphClient
    from seatwise.secrets import SecretBox

__all__ = ["graph_client", "save_refresh_tokens"]


def graph_client(
    settings: Settings, secrets: SecretBox, tenant: Tenant, remember: Callable[[str], None]
) -> GraphClient:
    """A Graph client authenticated as the tenant's stored credentials allow.

    `remember(token)` hears each refresh token the identity platform rotates (delegated
    tenants); save them with `save_refresh_tokens` between transactions, since a task's
    transaction may hold SQLite's write lock while the client refreshes. The old refresh token
    stays valid until then (Microsoft does not revoke it on use).
    """
    from seatwise.graph import GraphClient
    from seatwise.graph.auth import ClientCredentialsProvider, RefreshTokenProvider

    if tenant.secret_enc is None:
        raise AuthError(f"Tenant {tenant.name} has no stored client secret; connect it again.")
    secret = secrets.open(tenant.secret_enc)
    if tenant.auth_mode == "app":
        provider: ClientCredentialsProvider | RefreshTokenProvider = ClientCredentialsProvider(
            settings, tenant.tenant_id, tenant.client_id, secret, name=tenant.name
        )
    else:
        if tenant.refresh_token_enc is None:
            raise AuthError(
                f"Tenant {tenant.name} is not signed in; run `seatwise connect {tenant.name}`."
            )
        provider = RefreshTokenProvider(
            settings,
            tenant.tenant_id,
            tenant.client_id,
            secret,
            secrets.open(tenant.refresh_token_enc),
            remember,
            name=tenant.name,
        )
    return GraphClient(settings, provider)


def save_refresh_tokens(session: Session, secrets: SecretBox, tokens: Mapping[int, str]) -> None:
    """Store rotated refresh tokens (tenant key → token), sealed, in the caller's transaction."""
    for tenant_pk, token in tokens.items():
        row = session.get(Tenant, tenant_pk)
        if row is not None:
            row.refresh_token_enc = secrets.seal(token)
            row.updated_at = datetime.now(UTC)
