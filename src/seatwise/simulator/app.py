"""The simulator as one Starlette ASGI app: identity platform, Graph (directory, reports, audit
logs, batching), report downloads and control endpoints, with fault injection in front. One app
serves one tenant or several, each under its own tenant id, as Microsoft's hosts do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seatwise.simulator import auditlogs, batch, control, directory, identity, reports, userjson
from seatwise.simulator.context import Host
from seatwise.simulator.faults import FaultMiddleware, FaultPlan
from seatwise.simulator.odata import GraphError, error_response, new_request_id
from seatwise.simulator.tenant import Tenant
from seatwise.simulator.tokens import TokenStore


async def _graph_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GraphError)
    return error_response(exc, request.headers.get("client-request-id"))


async def _unknown_segment(request: Request) -> Response:
    segment = request.url.path.split("/")[2] if request.url.path.count("/") >= 2 else ""
    raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def _authority_base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


class RequestIdMiddleware:
    """Adds Graph's `request-id` / `client-request-id` headers to every Graph response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/v1.0/", "/beta/")):
            await self.app(scope, receive, send)
            return
        client_id = next(
            (v.decode() for k, v in scope["headers"] if k == b"client-request-id"), None
        )
        rid = new_request_id()

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"request-id" not in names:
                    headers.append((b"request-id", rid.encode()))
                    headers.append((b"client-request-id", (client_id or rid).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, add_headers)


def create_app(
    tenant: Tenant | Sequence[Tenant],
    faults: FaultPlan | None = None,
    tokens: TokenStore | None = None,
) -> Starlette:
    """Build the simulator app around one tenant, or several served from the one host.

    Each tenant has a token store of its own; `tokens`, if given, is the first tenant's (the
    others share its clock). The identity routes of a tenant answer under its id or domain;
    Graph requests reach the tenant their access token was issued for. `app.state.sim` is the
    first tenant's state, `app.state.host` all of them.
    """
    tenants = [tenant] if isinstance(tenant, Tenant) else list(tenant)
    if not tenants:
        raise ValueError("the simulator needs at least one tenant")
    clock = tokens.clock if tokens is not None else time.time
    host = Host(faults=faults or FaultPlan())
    for index, one in enumerate(tenants):
        store = tokens if index == 0 and tokens is not None else None
        store = store or TokenStore(
            lifetime_s=one.options.token_lifetime_s, clock=clock, tenant_id=one.tenant_id
        )
        host.add(one, store)
        userjson.warm(one)
        auditlogs.warm(one)
    for sim in host.sims:
        reports.warm(sim)
    routes = [
        *identity.tenant_routes(
            [(sim.tenant, sim.tokens) for sim in host.sims], authority_base=_authority_base
        ),
        *directory.routes(),
        *auditlogs.routes(),
        *reports.routes(),
        *batch.routes(),
        *control.routes(),
        Route("/v1.0/{rest:path}", _unknown_segment, methods=["GET", "POST", "PATCH", "DELETE"]),
        Route("/beta/{rest:path}", _unknown_segment, methods=["GET", "POST", "PATCH", "DELETE"]),
    ]
    app = Starlette(routes=routes, exception_handlers={GraphError: _graph_error})
    app.state.host = host
    app.state.sim = host.default
    getter: Callable[[], FaultPlan] = lambda: host.faults  # noqa: E731
    app.add_middleware(FaultMiddleware, plan_getter=getter)
    app.add_middleware(RequestIdMiddleware)
    return app
