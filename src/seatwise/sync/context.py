"""What a running integration task works with: the session (one transaction), the Graph client,
the tenant row, the clock, options, and where it reports progress, counts and notes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from seatwise.errors import (
    PERMISSION_CODES,
    ROLE_CODES,
    GraphForbidden,
    GraphNoPremium,
    PermissionMissing,
    RoleMissing,
    role_advice,
)
from seatwise.store import reads
from seatwise.store.schema import Tenant, User
from seatwise.sync.validate import Problem, Skipped

if TYPE_CHECKING:
    from seatwise.graph import GraphClient

# The directory role a delegated caller needs beside each permission (graph-facts §3–§5): the
# usage reports, sign-in logs and MFA registration all accept Reports Reader.
ROLE_FOR_PERMISSION = {
    "Reports.Read.All": "Reports Reader",
    "AuditLog.Read.All": "Reports Reader",
    "UserAuthenticationMethod.Read.All": "Reports Reader",
}


def scope_granted(granted_scopes: str | None, permission: str) -> bool:
    """Whether the scopes stored at sign-in (full URIs or bare names) include `permission` or
    its ReadWrite form."""
    names = {scope.rsplit("/", 1)[-1].lower() for scope in (granted_scopes or "").split()}
    wanted = permission.lower()
    return wanted in names or wanted.replace(".read.", ".readwrite.") in names


def missing_role(
    auth_mode: str, granted_scopes: str | None, permission: str, code: str
) -> str | None:
    """The directory role a 403 stands for, or None when it stands for a missing permission.

    Only delegated access needs roles. Graph's code decides when it says which; otherwise the
    permission being among the scopes granted means the person, not the app, lacks something.
    """
    role = ROLE_FOR_PERMISSION.get(permission)
    if auth_mode != "delegated" or role is None or code in PERMISSION_CODES:
        return None
    if code in ROLE_CODES or scope_granted(granted_scopes, permission):
        return role
    return None


# The endings of the counter names that count rows written: a run with any of them above zero
# changed the stored data (see `TaskContext.changed_data`).
WRITE_COUNTS = (" written", " removed", " deleted", " pruned", " retired")

# progress(task, what, advance, total): `advance` items done since the last call.
ProgressFn = Callable[[str, str, int, int | None], None]


def _no_progress(*_: object) -> None:
    return None


@dataclass(frozen=True)
class SyncOptions:
    """Tunable facts of the sync (DESIGN §3)."""

    retention_days: int = 90
    first_sign_in_days: int = 30
    active_window_days: int = 30  # License Differentiation: "uses" = active in this window
    # Roster: last sign-ins are re-read from this long before the newest one seen, since Entra
    # ID records them late (and non-interactive ones move on all day).
    sign_in_overlap_minutes: int = 30
    # Every task ends within this long (None: no limit): a Graph that keeps a task waiting fails
    # it with a sentence. Generous: a 100k-user roster takes minutes, not hours.
    task_deadline_s: float | None = 2 * 60 * 60


@dataclass
class TaskContext:
    """One task run's working set."""

    task: str
    session: Session
    client: GraphClient
    tenant: Tenant
    now: datetime
    options: SyncOptions = field(default_factory=SyncOptions)
    progress: ProgressFn = _no_progress
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: Skipped = field(default_factory=Skipped)
    # Users whose stored rows the run changed (None: perhaps every user), for License
    # Differentiation to derive again only theirs.
    touched: set[str] | None = field(default_factory=set)

    @property
    def today(self) -> date:
        """The UTC day of `now`."""
        return self.now.date()

    def count(self, name: str, amount: int = 1) -> None:
        """Add to one of the run's counters."""
        self.counts[name] = self.counts.get(name, 0) + amount

    def touch(self, user_ids: Iterable[str]) -> None:
        """Record users whose stored rows this run changed."""
        if self.touched is not None:
            self.touched.update(user_ids)

    def touch_all(self) -> None:
        """Record that this run may have changed any user's rows."""
        self.touched = None

    def changed_data(self) -> bool:
        """Whether the run wrote, removed or retired any stored row (its counts say so)."""
        return any(amount for name, amount in self.counts.items() if name.endswith(WRITE_COUNTS))

    def note(self, sentence: str) -> None:
        """Record a visible note on the run (once)."""
        if sentence not in self.notes:
            self.notes.append(sentence)

    def skip(self, kind: str, problem: Problem, item: object = None) -> None:
        """Leave out one Graph object of `kind` (e.g. "user") for `problem`: counted as
        "<kind>s skipped", and described in the run's notes when it ends (`finish_notes`)."""
        item_id = item.get("id") if isinstance(item, dict) else None
        self.skipped.add(kind, problem, item_id)
        self.count(f"{kind}s skipped")

    def finish_notes(self) -> list[str]:
        """The notes, with one sentence per kind of object left out and why."""
        for sentence in self.skipped.notes():
            self.note(sentence)
        return self.notes

    @contextmanager
    def needs(self, permission: str) -> Iterator[None]:
        """Turn Graph's 403 inside the block into 'task X needs permission P — reauthorize', or,
        when the permission is granted and the signed-in admin lacks a directory role, into
        'task X needs the R role — an administrator must assign it'."""
        try:
            yield
        except GraphNoPremium:
            raise
        except GraphForbidden as exc:
            detail = f" (Graph said: {exc.graph_message})" if exc.graph_message else ""
            role = missing_role(
                self.tenant.auth_mode, self.tenant.granted_scopes, permission, exc.code
            )
            if role is not None:
                raise RoleMissing(
                    self.task,
                    role,
                    role_advice(
                        f"Task {self.task}",
                        role,
                        f"the account signed in for tenant {self.tenant.name}",
                    )
                    + f"{detail}.",
                ) from exc
            raise PermissionMissing(
                self.task,
                permission,
                f"Task {self.task} needs permission {permission} — run `seatwise connect "
                f"{self.tenant.name}` again to reauthorize{detail}.",
            ) from exc

    def user_ids_by_upn(self) -> dict[str, str]:
        """lower(UPN) → user id for the tenant's users (deleted ones included)."""
        rows = reads.raw_rows(
            self.session.connection(),
            select(User.upn, User.id).where(User.tenant_pk == self.tenant.pk),
        )
        return {upn.lower(): user_id for upn, user_id in rows}

    def user_ids(self) -> set[str]:
        """The ids of the tenant's users (deleted ones included)."""
        query = select(User.id).where(User.tenant_pk == self.tenant.pk)
        return {user_id for (user_id,) in reads.raw_rows(self.session.connection(), query)}

    def any_user_named(self, upns: Collection[str]) -> bool:
        """Whether any of the tenant's users (deleted ones included) has one of these UPNs,
        compared case-insensitively. SQL's lower() folds ASCII only (Entra UPNs are ASCII): a
        UPN beyond it counts as taken, since it cannot be compared safely."""
        if not all(upn.isascii() for upn in upns):
            return True
        lowered = sorted({upn.lower() for upn in upns})
        pk = self.tenant.pk
        return any(
            self.session.execute(
                select(User.id)
                .where(User.tenant_pk == pk, func.lower(User.upn).in_(lowered[start : start + 500]))
                .limit(1)
            ).first()
            for start in range(0, len(lowered), 500)
        )
