"""What a CLI command works with, built once per invocation from `Settings`: the database
engine (migrated on first use), the secret box, the chosen tenant and its Graph client.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from seatwise.config import Settings, load_settings
from seatwise.errors import UsageError
from seatwise.store import ensure_schema, make_engine, reads, session_scope
from seatwise.store.schema import Tenant

if TYPE_CHECKING:
    from seatwise.graph import GraphClient
    from seatwise.secrets import SecretBox


_OPEN: list[Context] = []


def close_all() -> None:
    """Release every context's database connections (end of a CLI invocation)."""
    while _OPEN:
        _OPEN.pop().close()


class Context:
    """Per-invocation state of the `seatwise` command."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self._rotated: dict[int, str] = {}
        _OPEN.append(self)

    def close(self) -> None:
        """Dispose of the engine's pooled connections, if an engine was made."""
        if self in _OPEN:
            _OPEN.remove(self)
        engine = self.__dict__.pop("engine", None)
        if engine is not None:
            engine.dispose()

    def save_rotated_tokens(self) -> None:
        """Store refresh tokens the identity platform rotated, encrypted, in their own unit of
        work. Call it between transactions (after each task) and before exiting."""
        from seatwise.connections import save_refresh_tokens

        if not self._rotated:
            return
        pending, self._rotated = self._rotated, {}
        with self.session() as session:
            save_refresh_tokens(session, self.secrets, pending)

    @cached_property
    def engine(self) -> Engine:
        """The database, migrated to the current schema."""
        engine = make_engine(self.settings.effective_database_url)
        ensure_schema(engine)
        return engine

    @cached_property
    def secrets(self) -> SecretBox:
        """Encrypts and decrypts stored tenant secrets."""
        from seatwise.secrets import SecretBox

        return SecretBox(self.settings)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work."""
        with session_scope(self.engine) as session:
            yield session

    def tenant(self, session: Session, name: str | None) -> Tenant:
        """The tenant called `name`, or the only one when `name` is None."""
        if name is not None:
            tenant = reads.tenant_by_name(session, name)
            if tenant is None:
                raise UsageError(
                    f"There is no tenant called {name!r}; add it with `seatwise tenant add` or "
                    "`seatwise connect`."
                )
            return tenant
        tenant = reads.only_tenant(session)
        if tenant is None:
            raise UsageError(
                "Say which tenant with --tenant NAME (there are several, or none yet: add one "
                "with `seatwise connect NAME` or `seatwise tenant add NAME`)."
            )
        return tenant

    def graph_client(self, tenant: Tenant) -> GraphClient:
        """A Graph client authenticated as this tenant's stored credentials allow; rotated
        refresh tokens wait for `save_rotated_tokens`."""
        from seatwise.connections import graph_client

        tenant_pk = tenant.pk

        def remember(token: str) -> None:
            self._rotated[tenant_pk] = token

        return graph_client(self.settings, self.secrets, tenant, remember)
