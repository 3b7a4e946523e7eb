"""`Workspace`: the database engine (migrated on first use), the secret box, tenant lookup and
each stored tenant's Graph client, built from `Settings` once per CLI invocation, web process or
worker. Refresh tokens the identity platform rotates are kept until `save_rotated_tokens`, which
stores them sealed in their own unit of work.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from seatwise.errors import AuthError, no_such_tenant, which_tenant

# The heavy imports (SQLAlchemy, Alembic, pydantic, httpx) wait for the first use, so that a
# front end's start-up (`seatwise --help`) does not pay for them.
if TYPE_CHECKING:
    import httpx
    from sqlalchemy import Connection
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from seatwise.config import Settings
    from seatwise.graph import GraphClient
    from seatwise.secrets import SecretBox
    from seatwise.store.reads import TenantKey
    from seatwise.store.schema import Tenant

__all__ = ["Workspace", "save_refresh_tokens"]


class Workspace:
    """What every use case works with: settings, the database, secrets and Graph clients.

    `transport` (an `httpx.BaseTransport`) replaces the network under every Graph client made
    here, for in-process tests against the simulator's ASGI app; `engine` an engine the caller
    owns (the workspace then does not dispose of it).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        engine: Engine | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if settings is None:
            from seatwise.config import load_settings

            settings = load_settings()
        self.settings = settings
        self.transport = transport
        from seatwise import skus

        skus.use_data_dir(settings.data_dir)  # an imported product table replaces the shipped one
        self._own_engine = engine is None
        if engine is not None:
            self.__dict__["engine"] = engine
        self._lock = threading.Lock()
        self._rotated: dict[int, str] = {}

    def close(self) -> None:
        """Dispose of the engine's pooled connections, if this workspace made an engine."""
        engine = self.__dict__.pop("engine", None)
        if engine is not None and self._own_engine:
            engine.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @cached_property
    def engine(self) -> Engine:
        """The database, migrated to the current schema."""
        from seatwise.store import ensure_schema, make_engine

        engine = make_engine(self.settings.effective_database_url)
        ensure_schema(engine)
        return engine

    @cached_property
    def secrets(self) -> SecretBox:
        """Encrypts and decrypts stored tenant secrets."""
        from seatwise.secrets import SecretBox

        return SecretBox(self.settings)

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """One unit of work (commits when the block succeeds). `write=True` for one that reads
        then writes: on SQLite it takes the write lock up front (a sync may hold it)."""
        from seatwise.store import session_scope

        with session_scope(self.engine, immediate=write) as session:
            yield session

    @property
    def is_postgresql(self) -> bool:
        """Whether the store is PostgreSQL (the job queue needs it)."""
        return self.engine.dialect.name == "postgresql"

    def tenant(self, session: Session, name: str | None) -> Tenant:
        """The tenant called `name`, or the only one when `name` is None; `UsageError` else."""
        from seatwise.store.schema import Tenant

        tenant = session.get(Tenant, self.tenant_key(session.connection(), name).pk)
        assert tenant is not None  # found in this transaction a moment ago
        return tenant

    def tenant_key(self, connection: Connection, name: str | None) -> TenantKey:
        """`tenant` without the ORM: the key and name of the tenant called `name`, or of the
        only one when `name` is None; `UsageError` else."""
        from seatwise.store import reads

        if name is not None:
            key = reads.tenant_key_by_name(connection, name)
            if key is None:
                raise no_such_tenant(name)
            return key
        key = reads.only_tenant_key(connection)
        if key is None:
            raise which_tenant()
        return key

    def graph_client(self, tenant: Tenant) -> GraphClient:
        """A Graph client authenticated as the tenant's stored credentials allow (app-only or
        delegated). Rotated refresh tokens wait for `save_rotated_tokens`: a task's transaction
        may hold SQLite's write lock while the client refreshes, and the old refresh token stays
        valid until then (Microsoft does not revoke it on use)."""
        from seatwise.graph import GraphClient
        from seatwise.graph.auth import ClientCredentialsProvider, RefreshTokenProvider

        if tenant.secret_enc is None:
            raise AuthError(f"Tenant {tenant.name} has no stored client secret; connect it again.")
        secret = self.secrets.open(tenant.secret_enc)
        tenant_pk = tenant.pk

        def remember(token: str) -> None:
            with self._lock:
                self._rotated[tenant_pk] = token

        if tenant.auth_mode == "app":
            provider: ClientCredentialsProvider | RefreshTokenProvider = ClientCredentialsProvider(
                self.settings, tenant.tenant_id, tenant.client_id, secret, name=tenant.name
            )
        else:
            if tenant.refresh_token_enc is None:
                raise AuthError(
                    f"Tenant {tenant.name} is not signed in; run `seatwise connect {tenant.name}`."
                )
            provider = RefreshTokenProvider(
                self.settings,
                tenant.tenant_id,
                tenant.client_id,
                secret,
                self.secrets.open(tenant.refresh_token_enc),
                remember,
                name=tenant.name,
            )
        return GraphClient(self.settings, provider, transport=self.transport)

    def save_rotated_tokens(self) -> None:
        """Store the refresh tokens rotated since the last call, sealed, in their own unit of
        work. Call it between transactions (after each task) and before exiting."""
        with self._lock:
            pending, self._rotated = self._rotated, {}
        if pending:
            with self.session(write=True) as session:
                save_refresh_tokens(session, self.secrets, pending)


def save_refresh_tokens(session: Session, secrets: SecretBox, tokens: Mapping[int, str]) -> None:
    """Store rotated refresh tokens (tenant key → token), sealed, in the caller's transaction."""
    from seatwise.store.schema import Tenant

    for tenant_pk, token in tokens.items():
        row = session.get(Tenant, tenant_pk)
        if row is not None:
            row.refresh_token_enc = secrets.seal(token)
            row.updated_at = datetime.now(UTC)
