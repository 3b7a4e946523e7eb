"""What every simulator route reaches through `request.app.state.sim`: the tenant, the token
store, the fault plan and report downloads, plus the one authorisation step all Graph routes take.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from seatwise.simulator import permissions

if TYPE_CHECKING:
    from seatwise.simulator.faults import FaultPlan
    from seatwise.simulator.tenant import Tenant
    from seatwise.simulator.tokens import Grant, TokenStore


@dataclass
class Sim:
    """The simulator's state, shared by all routes."""

    tenant: Tenant
    tokens: TokenStore
    faults: FaultPlan
    downloads: dict[str, Any] = field(default_factory=dict)
    # Calls per route key, for tests and benchmarks ("assignLicense", "users", ...).
    calls: dict[str, int] = field(default_factory=dict)

    def count(self, key: str) -> None:
        """Count one call of `key`."""
        self.calls[key] = self.calls.get(key, 0) + 1

    def authorize(self, request: Request, endpoint: str) -> Grant:
        """Check the bearer token and Graph's permission rule for `endpoint`; raise GraphError."""
        grant = self.tokens.check(request.headers.get("authorization"))
        admin = self.tenant.admin
        roles = admin.roles if grant.user_id == admin.user_id else set()
        permissions.check(grant, endpoint, premium_tenant=self.tenant.options.premium, roles=roles)
        return grant


def sim_of(request: Request) -> Sim:
    """The `Sim` of the app serving `request`."""
    sim: Sim = request.app.state.sim
    return sim
