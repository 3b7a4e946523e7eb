"""Plan jobs that reach Graph: applying an approved reclamation plan and undoing one, for a
stored tenant, with the tenant's Graph client made and its rotated refresh tokens stored. The CLI
runs them in the foreground, the web app on a thread, `seatwise worker` as a job; the policy
comes from the workspace's settings, so every front end judges users alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from seatwise.analytics.recommendations import Policy
from seatwise.errors import UsageError
from seatwise.reclaim import Outcome, apply_plan, undo_plan
from seatwise.store.schema import Tenant
from seatwise.workspace.core import Workspace

if TYPE_CHECKING:
    from seatwise.graph import GraphClient

__all__ = ["apply", "policy", "undo"]

PlanProgress = Callable[[int, int], None]


def policy(workspace: Workspace) -> Policy:
    """The recommendation and reclamation policy the settings name."""
    return Policy.from_mapping(workspace.settings.recommendations.model_dump())


def _tenant(workspace: Workspace, tenant_pk: int) -> Tenant:
    with workspace.session() as session:
        row = session.get(Tenant, tenant_pk)
        if row is None:
            raise UsageError(f"There is no tenant {tenant_pk} in the database.")
        session.expunge(row)
        return row


def apply(
    workspace: Workspace,
    tenant_pk: int,
    plan_pk: int,
    *,
    actor: str,
    progress: PlanProgress | None = None,
    client: GraphClient | None = None,
) -> Outcome:
    """Apply (or resume) an approved plan through Graph; see `seatwise.reclaim.apply_plan`.
    `client`: the tenant's Graph client made already (closed here), else one is made."""
    with client or workspace.graph_client(_tenant(workspace, tenant_pk)) as client:
        try:
            return apply_plan(
                workspace.engine,
                client,
                tenant_pk,
                plan_pk,
                actor=actor,
                policy=policy(workspace),
                progress=progress,
            )
        finally:
            workspace.save_rotated_tokens()


def undo(
    workspace: Workspace,
    tenant_pk: int,
    plan_pk: int,
    *,
    actor: str,
    upns: Sequence[str] = (),
    progress: PlanProgress | None = None,
    client: GraphClient | None = None,
) -> Outcome:
    """Give back what a plan removed (every user, or those in `upns`) through Graph.
    `client`: the tenant's Graph client made already (closed here), else one is made."""
    with client or workspace.graph_client(_tenant(workspace, tenant_pk)) as client:
        try:
            return undo_plan(
                workspace.engine,
                client,
                tenant_pk,
                plan_pk,
                actor=actor,
                upns=upns,
                progress=progress,
            )
        finally:
            workspace.save_rotated_tokens()
