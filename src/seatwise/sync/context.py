"""What a running integration task works with: the session (one transaction), the Graph client,
the tenant row, the clock, options, and where it reports progress, counts and notes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from seatwise.errors import GraphForbidden, GraphNoPremium, PermissionMissing
from seatwise.store.schema import Tenant, User

if TYPE_CHECKING:
    from seatwise.graph import GraphClient

# progress(task, what, advance, total): `advance` items done since the last call.
ProgressFn = Callable[[str, str, int, int | None], None]


def _no_progress(*_: object) -> None:
    return None


@dataclass(frozen=True)
class SyncOptions:
    """Tunable facts of the sync (DESIGN §3)."""

    retention_days: int = 90
    first_sign_in_days: int = 30
    report_period: str = "D30"
    active_window_days: int = 30  # License Differentiation: "uses" = active in this window
    # Roster: last sign-ins are re-read from this long before the newest one seen, since Entra
    # ID records them late (and non-interactive ones move on all day).
    sign_in_overlap_minutes: int = 30


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

    @property
    def today(self) -> date:
        """The UTC day of `now`."""
        return self.now.date()

    def count(self, name: str, amount: int = 1) -> None:
        """Add to one of the run's counters."""
        self.counts[name] = self.counts.get(name, 0) + amount

    def note(self, sentence: str) -> None:
        """Record a visible note on the run (once)."""
        if sentence not in self.notes:
            self.notes.append(sentence)

    @contextmanager
    def needs(self, permission: str) -> Iterator[None]:
        """Turn Graph's 403 inside the block into 'task X needs permission P — reauthorize'."""
        try:
            yield
        except GraphNoPremium:
            raise
        except GraphForbidden as exc:
            detail = f" (Graph said: {exc.graph_message})" if exc.graph_message else ""
            raise PermissionMissing(
                self.task,
                permission,
                f"Task {self.task} needs permission {permission} — run `seatwise connect "
                f"{self.tenant.name}` again to reauthorize{detail}.",
            ) from exc

    def user_ids_by_upn(self) -> dict[str, str]:
        """lower(UPN) → user id for the tenant's users (deleted ones included)."""
        rows = self.session.execute(
            select(User.upn, User.id).where(User.tenant_pk == self.tenant.pk)
        ).all()
        return {upn.lower(): user_id for upn, user_id in rows}
