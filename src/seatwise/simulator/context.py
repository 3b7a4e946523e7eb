"""What every simulator route reaches through `sim_of(request)`: the tenant the request is for,
its token store, report state and counters, the fault plan, plus the one authorisation step all
Graph routes take.

One app may serve several tenants (`Host`), as Graph and the identity platform serve every tenant
from one host. A Graph request belongs to the tenant whose token store issued its access token:
a token is only ever checked against the store and data of the tenant it was issued for. Control
endpoints (`/_control/...`) take `?tenant=<id or domain>`, else a bearer token's tenant, else
the first tenant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from seatwise.simulator import permissions
from seatwise.simulator.odata import GraphError

if TYPE_CHECKING:
    from seatwise.simulator.faults import FaultPlan
    from seatwise.simulator.reports import ReportState
    from seatwise.simulator.tenant import Tenant
    from seatwise.simulator.tokens import Grant, TokenStore

CONTROL_PREFIX = "/_control/"


@dataclass(eq=False)
class Sim:
    """One tenant's state: its data, tokens, report caches, downloads and call counters."""

    tenant: Tenant
    tokens: TokenStore
    host: Host = field(repr=False)
    downloads: dict[str, Any] = field(default_factory=dict)
    # Calls per route key, for tests and benchmarks ("assignLicense", "users", ...).
    calls: dict[str, int] = field(default_factory=dict)
    reports: ReportState | None = None  # made by `reports` on first use

    @property
    def faults(self) -> FaultPlan:
        """The fault plan, shared by every tenant of the host."""
        return self.host.faults

    @faults.setter
    def faults(self, plan: FaultPlan) -> None:
        self.host.faults = plan

    def count(self, key: str) -> None:
        """Count one call of `key`."""
        self.calls[key] = self.calls.get(key, 0) + 1

    def authorize(self, request: Request, endpoint: str) -> Grant:
        """Check the bearer token and Graph's permission rule for `endpoint`; raise GraphError."""
        grant = self.tokens.check(request.headers.get("authorization"), self.tenant.tenant_id)
        admin = self.tenant.admin
        roles = admin.roles if grant.user_id == admin.user_id else set()
        permissions.check(grant, endpoint, premium_tenant=self.tenant.options.premium, roles=roles)
        return grant


@dataclass(eq=False)
class Host:
    """Every tenant one simulator app serves (the first is the default) and the fault plan."""

    faults: FaultPlan
    sims: list[Sim] = field(default_factory=list)
    _by_key: dict[str, Sim] = field(default_factory=dict, repr=False)

    def add(self, tenant: Tenant, tokens: TokenStore) -> Sim:
        """Serve `tenant` too; its id, domain and client id must be new here."""
        keys = (tenant.tenant_id.lower(), tenant.domain.lower())
        taken = [k for k in keys if k in self._by_key]
        if taken:
            raise ValueError(f"a tenant with id or domain {taken[0]} is already served")
        if any(s.tenant.app.client_id == tenant.app.client_id for s in self.sims):
            raise ValueError(f"app registration {tenant.app.client_id} is already served")
        sim = Sim(tenant=tenant, tokens=tokens, host=self)
        self.sims.append(sim)
        for key in keys:
            self._by_key[key] = sim
        return sim

    @property
    def default(self) -> Sim:
        """The first tenant."""
        return self.sims[0]

    def find(self, key: str) -> Sim | None:
        """The tenant with id or initial domain `key` (any case), or None."""
        return self._by_key.get(key.lower())

    def for_token(self, authorization_header: str | None) -> Sim | None:
        """The tenant whose token store issued the request's access token, or None."""
        if not authorization_header:
            return None
        return next((s for s in self.sims if s.tokens.issued(authorization_header)), None)

    def for_request(self, request: Request) -> Sim:
        """The tenant `request` acts on (see the module docstring)."""
        control = request.url.path.startswith(CONTROL_PREFIX)
        if control and "tenant" in request.query_params:
            key = request.query_params["tenant"]
            found = self.find(key)
            if found is None:
                raise GraphError(404, "NotFound", f"No tenant '{key}' is served here.")
            return found
        if len(self.sims) == 1:
            return self.default
        # A token no store issued goes to the first tenant, whose check answers 401.
        return self.for_token(request.headers.get("authorization")) or self.default


def host_of(request: Request) -> Host:
    """The `Host` of the app serving `request`."""
    host: Host = request.app.state.host
    return host


def sim_of(request: Request) -> Sim:
    """The tenant state `request` acts on: its access token's tenant (see `Host.for_request`)."""
    return host_of(request).for_request(request)
