"""One sync of a tenant at a time, across processes and machines: a lease row per tenant
(`sync_lease`) that `seatwise sync`, the web app's "Run now" and its scheduler take before
their first task and give back after their last.

A holder renews its lease every `RENEW_S` while it runs. A lease not renewed for `LEASE_S` is
free (its holder crashed or lost the database); so is one whose holder was a process on this
machine that no longer exists, which frees a killed `seatwise sync` at once. On SQLite a task
holds the write lock for its whole transaction, so a renewal may have to wait for it: `LEASE_S`
leaves room for the longest task many times over, and a renewal that finds the database busy
tries again at the next beat.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from seatwise.errors import StoreError, SyncBusy
from seatwise.store import session_scope
from seatwise.store.schema import SyncLease, Tenant

__all__ = ["LEASE_S", "RENEW_S", "Lease", "current_lease"]

log = logging.getLogger(__name__)

LEASE_S = 15 * 60
RENEW_S = 60.0


def _now() -> datetime:
    return datetime.now(UTC)


def _holder() -> str:
    """This process, recognisably: host, pid, and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _gone(holder: str) -> bool:
    """Whether `holder` was a process on this machine that has ended."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def current_lease(session: Session, tenant_pk: int) -> SyncLease | None:
    """The tenant's lease while somebody holds it (a sync runs somewhere), else None."""
    row = session.get(SyncLease, tenant_pk)
    if row is None or row.expires_at <= _now() or _gone(row.holder):
        return None
    return row


class Lease:
    """The sync lease of one tenant, held by this process until `release` (or the block of
    `with`). `take` it; `SyncBusy` says who holds it otherwise."""

    def __init__(self, engine: Engine, tenant_pk: int, holder: str) -> None:
        self.engine = engine
        self.tenant_pk = tenant_pk
        self.holder = holder
        self._stop = threading.Event()
        self._renewer = threading.Thread(
            target=self._renew_until_released, name="seatwise-sync-lease", daemon=True
        )

    @classmethod
    def take(cls, engine: Engine, tenant_pk: int, purpose: str) -> Lease:
        """Take the tenant's lease for `purpose` (shown to whoever is refused), or `SyncBusy`."""
        lease = cls(engine, tenant_pk, _holder())
        now = _now()
        try:
            with session_scope(engine, immediate=True) as session:
                tenant = session.get(Tenant, tenant_pk)
                row = session.get(SyncLease, tenant_pk, with_for_update=True)
                if row is not None and row.expires_at > now and not _gone(row.holder):
                    since = row.acquired_at.strftime("%Y-%m-%d %H:%M UTC")
                    raise SyncBusy(
                        f"Tenant {tenant.name if tenant else tenant_pk} is already being synced "
                        f"({row.purpose}, since {since}); wait for it to finish."
                    )
                if row is None:
                    row = SyncLease(tenant_pk=tenant_pk)
                    session.add(row)
                row.holder, row.purpose = lease.holder, purpose
                row.acquired_at, row.expires_at = now, now + timedelta(seconds=LEASE_S)
        except IntegrityError:  # PostgreSQL: another process inserted the row first
            raise SyncBusy(
                "Another process started a sync of this tenant at the same moment; wait for it "
                "to finish."
            ) from None
        lease._renewer.start()
        return lease

    def release(self) -> None:
        """Give the lease back (only if it is still ours)."""
        self._stop.set()
        self._renewer.join()
        try:
            with session_scope(self.engine, immediate=True) as session:
                session.execute(
                    delete(SyncLease).where(
                        SyncLease.tenant_pk == self.tenant_pk, SyncLease.holder == self.holder
                    )
                )
        except StoreError as exc:  # it expires on its own
            log.warning("Could not give back the sync lease of tenant %s: %s", self.tenant_pk, exc)

    def _renew_until_released(self) -> None:
        while not self._stop.wait(RENEW_S):
            try:
                with session_scope(self.engine, immediate=True) as session:
                    session.execute(
                        update(SyncLease)
                        .where(
                            SyncLease.tenant_pk == self.tenant_pk,
                            SyncLease.holder == self.holder,
                        )
                        .values(expires_at=_now() + timedelta(seconds=LEASE_S))
                    )
            except StoreError as exc:  # busy: the next beat tries again
                log.info("Could not renew the sync lease of tenant %s: %s", self.tenant_pk, exc)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()
