"""Control endpoints under `/_control` that tests and `seatwise simulate` use to change the tenant
from outside Graph: faults, token expiry, the admin's roles and password, tenant switches, time,
a working day's churn, user deletion and delta-token expiry.

Not part of Graph. Served only on the loopback simulator; they need no token. When the simulator
serves several tenants, each endpoint acts on the tenant named by `?tenant=<id or domain>`, else
on the tenant of a bearer token if one is sent, else on the first; the fault plan is shared.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seatwise.simulator import auditlogs, reports, userjson
from seatwise.simulator.context import Sim, sim_of
from seatwise.simulator.faults import Canned, Fault, FaultPlan, FaultSpecError
from seatwise.simulator.odata import json_response

_SWITCHES = ("concealed_names", "premium", "report_throttle", "token_lifetime_s", "download_ttl_s")


def _problem(message: str, status: int = 400) -> Response:
    return json_response({"error": {"code": "BadRequest", "message": message}}, status)


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError:
        return {"__invalid__": True}
    return body if isinstance(body, dict) else {"__invalid__": True}


async def faults(request: Request) -> Response:
    """`POST {"spec": "throttle=0.1,..."}` replaces the plan;
    `{"script": [...], "path": "/v1.0/users"}`
    queues exact faults (`{"kind": "throttle", "retry_after": "1.5"}`) for the next requests."""
    sim = sim_of(request)
    body = await _json(request)
    if body.get("__invalid__"):
        return _problem("Body must be a JSON object.")
    try:
        if "spec" in body:
            sim.faults = FaultPlan.parse(str(body["spec"] or ""), seed=sim.tenant.seed)
        for item in body.get("script") or []:
            sim.faults.script(
                str(body.get("path", "/")), [Fault(str(item["kind"]), item.get("retry_after"))]
            )
    except (FaultSpecError, KeyError, TypeError) as exc:
        return _problem(str(exc))
    return json_response({"injected": sim.faults.injected, "queued": len(sim.faults.scripted)})


async def hang(request: Request) -> Response:
    """`POST {"path": "/v1.0/users", "on": true}`: requests under `path` are accepted and never
    answered (a hung Graph) until `{"path": ..., "on": false}`."""
    sim = sim_of(request)
    body = await _json(request)
    path = body.get("path")
    if body.get("__invalid__") or not isinstance(path, str) or not path.startswith("/"):
        return _problem("path must be a URL path such as /v1.0/users.")
    if body.get("on", True):
        if path not in sim.faults.hang:
            sim.faults.hang.append(path)
    elif path in sim.faults.hang:
        sim.faults.hang.remove(path)
    return json_response({"hang": sim.faults.hang})


async def respond(request: Request) -> Response:
    """`POST {"path": "/v1.0/users/delta", "status": 200, "content_type": "application/json",
    "body_b64": "...", "times": 1}`: the next `times` requests under `path` get these bytes
    instead of Graph's answer (hostile payloads for tests; `body` for plain text). The path
    matches exactly, or as a prefix when it ends with `*`; `"trickle_s": 0.2` sends the body in
    ten pieces that far apart (an answer that crawls)."""
    sim = sim_of(request)
    body = await _json(request)
    path, status, times = body.get("path"), body.get("status", 200), body.get("times", 1)
    if body.get("__invalid__") or not isinstance(path, str) or not path.startswith("/"):
        return _problem("path must be a URL path such as /v1.0/users.")
    if not isinstance(status, int) or not 100 <= status <= 599:
        return _problem("status must be an HTTP status code.")
    if not isinstance(times, int) or times < 1:
        return _problem("times must be a positive integer.")
    try:
        if "body_b64" in body:
            payload = base64.b64decode(str(body["body_b64"]), validate=True)
        else:
            payload = str(body.get("body", "")).encode()
    except ValueError:
        return _problem("body_b64 is not base64.")
    trickle = body.get("trickle_s", 0)
    if isinstance(trickle, bool) or not isinstance(trickle, int | float) or not 0 <= trickle <= 60:
        return _problem("trickle_s must be a number of seconds from 0 to 60.")
    content_type = str(body.get("content_type") or "application/json")
    sim.faults.canned.append(Canned(path, status, content_type, payload, times, float(trickle)))
    return json_response({"queued": len(sim.faults.canned)})


async def expire_tokens(request: Request) -> Response:
    """Every access token issued so far is expired from now on (refresh tokens still work)."""
    sim_of(request).tokens.expire_all_access()
    return Response(status_code=204)


async def admin(request: Request) -> Response:
    """`{"remove_roles": [...], "add_roles": [...], "password": "..."}`; a new password revokes
    the admin's refresh tokens, as Entra ID does."""
    sim = sim_of(request)
    body = await _json(request)
    if body.get("__invalid__"):
        return _problem("Body must be a JSON object.")
    account = sim.tenant.admin
    for role in body.get("remove_roles") or []:
        account.roles.discard(str(role))
    for role in body.get("add_roles") or []:
        account.roles.add(str(role))
    if body.get("password"):
        account.password = str(body["password"])
        sim.tokens.revoke_user(account.user_id)
    return json_response({"upn": account.upn, "roles": sorted(account.roles)})


async def settings(request: Request) -> Response:
    """`GET` or `POST {"concealed_names": true, "premium": false, ...}` tenant switches."""
    sim = sim_of(request)
    options = sim.tenant.options
    if request.method == "POST":
        body = await _json(request)
        if body.get("__invalid__"):
            return _problem("Body must be a JSON object.")
        unknown = sorted(set(body) - set(_SWITCHES))
        if unknown:
            return _problem(f"Unknown setting {unknown[0]}; known: {', '.join(_SWITCHES)}.")
        for key, value in body.items():
            setattr(options, key, value)
        if "token_lifetime_s" in body:
            sim.tokens.lifetime_s = float(body["token_lifetime_s"])
        sim.tenant.version += 1
    return json_response({k: getattr(options, k) for k in _SWITCHES})


async def _ready(sim: Sim) -> None:
    """Build what Graph has ready after the tenant or time changed: users' JSON and
    `$filter` facts, registration details, and the reports a sync reads (off the event loop:
    seconds at 100k users; a day's reports are kept, so only a new day's are built)."""
    userjson.warm(sim.tenant)
    auditlogs.warm(sim.tenant)
    await asyncio.to_thread(reports.warm, sim)


async def clock(request: Request) -> Response:
    """`POST {"advance_days": n}` moves the present forward; reports and sign-ins follow."""
    sim = sim_of(request)
    body = await _json(request)
    days = body.get("advance_days")
    if not isinstance(days, int) or days < 0:
        return _problem("advance_days must be a non-negative integer.")
    sim.tenant.advance(timedelta(days=days))
    await _ready(sim)
    return json_response({"now": sim.tenant.now.isoformat()})


async def delete_user(request: Request) -> Response:
    """Soft-delete a user (by id or UPN), as an administrator deleting the account would."""
    sim = sim_of(request)
    user = sim.tenant.find_user(request.path_params["key"])
    if user is None:
        return _problem("No such user.", 404)
    sim.tenant.delete_user(user)
    return json_response(
        {"id": user.id, "deleted": user.deleted.isoformat() if user.deleted else None}
    )


async def sign_in(request: Request) -> Response:
    """The user (by id or UPN) signs in now: `signInActivity` shows it from this moment."""
    sim = sim_of(request)
    user = sim.tenant.find_user(request.path_params["key"])
    if user is None:
        return _problem("No such user.", 404)
    moment = sim.tenant.record_sign_in(user)
    return json_response({"id": user.id, "lastSignInDateTime": moment.isoformat()})


async def purge_user(request: Request) -> Response:
    """Permanently delete a user (by id or UPN), live or soft-deleted."""
    sim = sim_of(request)
    tenant = sim.tenant
    key = request.path_params["key"].lower()
    user = tenant.find_user(key) or next(
        (u for u in tenant.deleted_users if key in (u.id, u.upn.lower())), None
    )
    if user is None:
        return _problem("No such user.", 404)
    tenant.purge_user(user)
    return json_response({"id": user.id, "purged": True})


async def churn(request: Request) -> Response:
    """`POST {"fraction": 0.01}`: a working day's changes to that share of the users."""
    sim = sim_of(request)
    body = await _json(request)
    fraction = body.get("fraction")
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, int | float)
        or not 0 <= fraction <= 1
    ):
        return _problem("fraction must be a number between 0 and 1.")
    changed = sim.tenant.churn(float(fraction))
    await _ready(sim)
    return json_response({"changed": changed, "users": len(sim.tenant.users)})


async def expire_delta(request: Request) -> Response:
    """Every `/users/delta` token issued so far is refused from now on (410)."""
    sim_of(request).tenant.expire_delta_tokens()
    return Response(status_code=204)


async def stats(request: Request) -> Response:
    """Calls per route, faults injected and tenant facts, for tests and benchmarks."""
    sim = sim_of(request)
    tenant = sim.tenant
    return json_response(
        {
            "tenant_id": tenant.tenant_id,
            "calls": sim.calls,
            "assign_license_calls": tenant.assign_calls,
            "assign_license_calls_by_user": tenant.assign_calls_by_user,
            "faults_injected": sim.faults.injected,
            "users": len(tenant.users),
            "version": tenant.version,
            "now": tenant.now.isoformat(),
            "refresh_date": tenant.refresh_date.isoformat(),
        }
    )


def routes() -> list[Route]:
    """The control routes."""
    return [
        Route("/_control/faults", faults, methods=["POST"]),
        Route("/_control/hang", hang, methods=["POST"]),
        Route("/_control/respond", respond, methods=["POST"]),
        Route("/_control/tokens/expire", expire_tokens, methods=["POST"]),
        Route("/_control/admin", admin, methods=["POST"]),
        Route("/_control/settings", settings, methods=["GET", "POST"]),
        Route("/_control/clock", clock, methods=["POST"]),
        Route("/_control/stats", stats, methods=["GET"]),
        Route("/_control/users/{key}/delete", delete_user, methods=["POST"]),
        Route("/_control/users/{key}/signin", sign_in, methods=["POST"]),
        Route("/_control/users/{key}/purge", purge_user, methods=["POST"]),
        Route("/_control/churn", churn, methods=["POST"]),
        Route("/_control/delta/expire", expire_delta, methods=["POST"]),
    ]
