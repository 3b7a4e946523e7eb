"""Directory endpoints: `/users` (list, get, delta), `/subscribedSkus`, `assignLicense` and
deleted users, under `/v1.0` and `/beta`, with Graph's paging, `$select`, `$filter` and errors.
"""

from __future__ import annotations

import base64
import bisect
import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seatwise.simulator import catalog, query, userjson
from seatwise.simulator.context import Sim, sim_of
from seatwise.simulator.model import SkuHolding, User
from seatwise.simulator.odata import JSON_MEDIA_TYPE, GraphError, json_response
from seatwise.simulator.tenant import Tenant

USERS_MAX_TOP = 999
SIGNIN_MAX_TOP = 500  # pages with signInActivity hold at most 500 users (beta docs, 2025)
DELTA_PAGE = 200


def _root(request: Request) -> str:
    version = request.url.path.split("/")[1]
    return f"{request.url.scheme}://{request.url.netloc}/{version}"


def _context(request: Request, fragment: str) -> str:
    return f"{_root(request)}/$metadata#{fragment}"


def _not_found(key: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{key}' does not exist or one of its queried reference-property objects are "
        "not present.",
    )


def _select(request: Request, collection: bool) -> tuple[str, ...]:
    select = query.parse_select(
        request.query_params.get("$select"),
        userjson.KNOWN,
        userjson.DEFAULT_PROPERTIES,
        "microsoft.graph.user",
    )
    if collection and (bad := [p for p in select if p in userjson.SINGLE_USER_ONLY]):
        raise GraphError(
            501,
            "NotImplemented",
            f"This operation target is not yet supported. Property '{bad[0]}' is only supported "
            "for a single user.",
        )
    return select


def _check_sign_in(
    sim: Sim, request: Request, select: tuple[str, ...], filt: query.UserFilter
) -> None:
    if "signInActivity" in select or filt.sign_in:
        sim.authorize(request, "signInActivity")


async def list_users(request: Request) -> Response:
    """`GET /users`: paged with `$skiptoken`, `$top` ≤ 999 (≤ 500 with signInActivity)."""
    sim = sim_of(request)
    sim.authorize(request, "users")
    sim.count("users")
    tenant = sim.tenant
    params = request.query_params
    select = _select(request, collection=True)
    if "$skip" in params:
        raise query.bad_request("'$skip' is not supported by the service.")
    filt = query.parse_user_filter(params.get("$filter"))
    _check_sign_in(sim, request, select, filt)
    search = _search(request)
    top = query.parse_top(params.get("$top"), default=100, maximum=USERS_MAX_TOP)
    if "signInActivity" in select:
        top = min(top, SIGNIN_MAX_TOP)
    count_wanted = params.get("$count", "").lower() == "true"
    if count_wanted and not _eventual(request):
        raise query.bad_request("$count is not currently supported.")
    salt = f"users{tenant.version}"
    start = query.decode_skiptoken(params["$skiptoken"], salt) if "$skiptoken" in params else 0
    users = tenant.users
    listed = _listed_ids(params.get("$filter"))
    if listed is not None and search is None and not count_wanted and len(listed) <= top:
        # `id in (...)`: found by id, as a directory does, rather than by scanning every user
        found = {user_id: tenant.users_by_id.get(user_id) for user_id in map(str.lower, listed)}
        users = sorted((u for u in found.values() if u is not None), key=_index)
        start = 0
    page: list[bytes] = []
    position = start
    while position < len(users) and len(page) < top:
        user = users[position]
        position += 1
        if filt.predicates and not filt.matches(userjson.facts(tenant, user)):
            continue
        if search is not None and not search.matches(user):
            continue
        page.append(userjson.render_bytes(tenant, user, select))
    fragment = "users" if not params.get("$select") else f"users({','.join(select)})"
    body: dict[str, Any] = {"@odata.context": _context(request, fragment)}
    if count_wanted and start == 0:
        body["@odata.count"] = _count(tenant, filt, search)
    if position < len(users):
        token = query.encode_skiptoken(position, salt)
        body["@odata.nextLink"] = query.next_link(
            f"{_root(request)}/users", params, "$skiptoken", token
        )
    # Users are serialised once per `$select` and tenant version (userjson.render_bytes), and
    # the page is spliced together from those pieces: the body is byte-identical to
    # orjson.dumps of the whole object with `value` last.
    head = orjson.dumps(body)[:-1]
    separator = b"," if len(head) > 1 else b""
    payload = head + separator + b'"value":[' + b",".join(page) + b"]}"
    return Response(payload, media_type=JSON_MEDIA_TYPE)


_ID_LIST = re.compile(r"\s*id\s+in\s+\(((?:\s*'[0-9A-Fa-f-]{36}'\s*,?)*)\)\s*", re.IGNORECASE)


def _listed_ids(raw: str | None) -> list[str] | None:
    """The ids of a `$filter=id in ('…', …)` and nothing else, or None."""
    match = _ID_LIST.fullmatch(raw or "")
    return None if match is None else re.findall(r"'([^']*)'", match.group(1))


def _index(user: User) -> int:
    return user.index


def _eventual(request: Request) -> bool:
    return request.headers.get("consistencylevel", "").lower() == "eventual"


def _search(request: Request) -> query.UserSearch | None:
    """`$search`, which Graph only runs as an advanced query (`ConsistencyLevel: eventual`)."""
    raw = request.query_params.get("$search")
    if raw is None:
        return None
    if not _eventual(request):
        raise query.bad_request(
            "Request with $search query parameter only works through MSGraph with a special "
            "request header: 'ConsistencyLevel: eventual'",
            code="Request_UnsupportedQuery",
        )
    return query.parse_user_search(raw)


def _count(tenant: Tenant, filt: query.UserFilter, search: query.UserSearch | None) -> int:
    return sum(
        1
        for u in tenant.users
        if (not filt.predicates or filt.matches(userjson.facts(tenant, u)))
        and (search is None or search.matches(u))
    )


async def count_users(request: Request) -> Response:
    """`GET /users/$count`: the number as text, an advanced query (`ConsistencyLevel`)."""
    sim = sim_of(request)
    sim.authorize(request, "users")
    sim.count("users.count")
    if not _eventual(request):
        raise query.bad_request("$count is not currently supported.")
    filt = query.parse_user_filter(request.query_params.get("$filter"))
    if filt.sign_in:
        sim.authorize(request, "signInActivity")
    count = _count(sim.tenant, filt, _search(request))
    return Response(str(count), media_type="text/plain")


async def me(request: Request) -> Response:
    """`GET /me`: the signed-in user of a delegated token (app-only tokens have none)."""
    sim = sim_of(request)
    grant = sim.tokens.check(request.headers.get("authorization"), sim.tenant.tenant_id)
    if grant.app_only or grant.user_id is None:
        raise GraphError(
            400, "BadRequest", "/me request is only valid with delegated authentication flow."
        )
    sim.count("me")
    user = sim.tenant.find_user(grant.user_id)
    if user is None:
        raise _not_found(grant.user_id)
    select = _select(request, collection=False)
    if "signInActivity" in select:
        sim.authorize(request, "signInActivity")
    body = {
        "@odata.context": _context(request, "users/$entity"),
        **userjson.render(sim.tenant, user, select),
    }
    return json_response(body)


async def get_user(request: Request) -> Response:
    """`GET /users/{id | userPrincipalName}`."""
    sim = sim_of(request)
    sim.authorize(request, "users")
    sim.count("user")
    key = request.path_params["key"]
    user = sim.tenant.find_user(key)
    if user is None:
        raise _not_found(key)
    select = _select(request, collection=False)
    if "signInActivity" in select:
        if "@" in key:
            raise query.bad_request(
                "Get By Key only supports UserId and the key has to be a valid Guid"
            )
        sim.authorize(request, "signInActivity")
    body = {
        "@odata.context": _context(request, "users/$entity"),
        **userjson.render(sim.tenant, user, select),
    }
    return json_response(body)


def _delta_token(version: int, salt: str) -> str:
    return base64.urlsafe_b64encode(f"{salt}:{version}".encode()).decode().rstrip("=")


def _read_delta_token(tenant: Tenant, token: str, salt: str) -> int:
    try:
        got_salt, version = (
            base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")
        )
        if got_salt != salt:
            raise ValueError
        since = int(version)
    except (ValueError, UnicodeDecodeError):
        raise GraphError(
            400, "Request_BadRequest", "Invalid delta token or the token has expired."
        ) from None
    if since < tenant.delta_valid_from:
        raise GraphError(
            410,
            "resyncRequired",
            "Resync required. Replace any local cached data with a full synchronization, "
            "starting from a new delta query without a token.",
        )
    return since


def _round_token(since: int, upto: int, offset: int, salt: str) -> str:
    """A `$skiptoken` inside a delta round: changes after `since` up to `upto` (-1: the
    initial round of every user), the next one at `offset`."""
    raw = f"RFNwdAIAAQAA:{salt}:{since}:{upto}:{offset}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_round_token(token: str, salt: str) -> tuple[int, int, int]:
    try:
        padded = token + "=" * (-len(token) % 4)
        prefix, got_salt, since, upto, offset = base64.urlsafe_b64decode(padded).decode().split(":")
        if prefix != "RFNwdAIAAQAA" or got_salt != salt:
            raise ValueError
        return int(since), int(upto), int(offset)
    except (ValueError, UnicodeDecodeError):
        raise query.bad_request(
            "Skip token is null or invalid.", code="Directory_ExpiredPageToken"
        ) from None


def _delta_item(tenant: Tenant, user_id: str, select: tuple[str, ...]) -> bytes:
    """A changed user as delta shows it: the user, or `@removed` once gone from `/users`
    (`changed`: soft-deleted, restorable; `deleted`: permanently deleted)."""
    user = tenant.users_by_id.get(user_id)
    if user is not None:
        return userjson.render_bytes(tenant, user, select)
    reason = "deleted" if user_id in tenant.purged else "changed"
    return orjson.dumps({"id": user_id, "@removed": {"reason": reason}})


async def users_delta(request: Request) -> Response:
    """`GET /users/delta`: a round of pages (every user at first, then what changed since the
    token, removals as `@removed`) that ends in a `@odata.deltaLink` for the next round.
    `$deltatoken=latest` starts from now: no users, only the delta link ("sync from now")."""
    sim = sim_of(request)
    sim.authorize(request, "users")
    sim.count("users.delta")
    tenant = sim.tenant
    params = request.query_params
    select = _select(request, collection=True)
    if "signInActivity" in select:
        raise query.bad_request("Property 'signInActivity' is not supported in delta queries.")
    if "$skip" in params:
        raise query.bad_request("'$skip' is not supported by the service.")
    salt = tenant.data.salt[:8]
    base = f"{_root(request)}/users/delta"
    delta_token = params.get("$deltatoken")
    if "$skiptoken" in params:
        since, upto, offset = _read_round_token(params["$skiptoken"], salt)
    elif delta_token is not None and delta_token.lower() == "latest":
        since, upto, offset = tenant.version, -2, 0  # "sync from now": no users, a delta link
    elif delta_token is not None:
        since, upto, offset = _read_delta_token(tenant, delta_token, salt), -2, 0
    else:
        since, upto, offset = -1, -2, 0
    if upto == -2:  # a round starts: it covers every change up to now
        upto = tenant.version
    if since == -1:  # by user index, so that users leaving mid-round shift nothing
        users = tenant.users
        start = bisect.bisect_left(users, offset, key=lambda u: u.index)
        chunk = [u.id for u in users[start : start + DELTA_PAGE]]
        more = start + len(chunk) < len(users)
        end = users[start + len(chunk) - 1].index + 1 if chunk else offset
    else:
        log = tenant.change_log
        first = bisect.bisect_right(log, since, key=lambda entry: entry[0])
        last = bisect.bisect_right(log, upto, key=lambda entry: entry[0])
        ids = list(dict.fromkeys(uid for _, uid in log[first:last]))
        chunk = ids[offset : offset + DELTA_PAGE]
        end = offset + len(chunk)
        more = end < len(ids)
    page = [_delta_item(tenant, uid, select) for uid in chunk]
    body: dict[str, Any] = {"@odata.context": _context(request, "users")}
    keep = {k: v for k, v in params.items() if k.lower() == "$select"}
    if more:
        token = _round_token(since, upto, end, salt)
        body["@odata.nextLink"] = query.next_link(base, keep, "$skiptoken", token)
    else:
        token = _delta_token(upto, salt)
        body["@odata.deltaLink"] = query.next_link(base, keep, "$deltatoken", token)
    head = orjson.dumps(body)[:-1]
    payload = head + b',"value":[' + b",".join(page) + b"]}"
    return Response(payload, media_type=JSON_MEDIA_TYPE)


async def deleted_users(request: Request) -> Response:
    """`GET /directory/deletedItems/microsoft.graph.user`: soft-deleted users (30 days)."""
    sim = sim_of(request)
    sim.authorize(request, "users")
    tenant = sim.tenant
    select = _select(request, collection=True)
    if "deletedDateTime" not in select:
        select = (*select, "deletedDateTime")
    value = [
        userjson.render(tenant, u, select)
        for u in tenant.deleted_users
        if u.deleted and (tenant.now - u.deleted).days < 30
    ]
    return json_response(
        {
            "@odata.context": _context(request, "directory/deletedItems/microsoft.graph.user"),
            "value": value,
        }
    )


def _capability(holding: SkuHolding) -> str:
    if holding.enabled > 0:
        return "Enabled"
    if holding.warning > 0:
        return "Warning"
    if holding.suspended > 0:
        return "Suspended"
    return "LockedOut"


def sku_json(tenant: Tenant, holding: SkuHolding) -> dict[str, Any]:
    """One `subscribedSku`."""
    sku = catalog.skus()[holding.sku_id]
    return {
        "accountName": tenant.tenant_name,
        "accountId": tenant.tenant_id,
        "appliesTo": sku.applies_to,
        "capabilityStatus": _capability(holding),
        "consumedUnits": tenant.consumed.get(sku.id, 0),
        "id": f"{tenant.tenant_id}_{sku.id}",
        "skuId": sku.id,
        "skuPartNumber": sku.part_number,
        "subscriptionIds": list(holding.subscription_ids),
        "prepaidUnits": {
            "enabled": holding.enabled,
            "suspended": holding.suspended,
            "warning": holding.warning,
            "lockedOut": holding.locked_out,
        },
        "servicePlans": [
            {
                "servicePlanId": plan.id,
                "servicePlanName": plan.name,
                "provisioningStatus": "Success",
                "appliesTo": plan.applies_to,
            }
            for plan in sku.plans
        ],
    }


_SKU_PROPS = {
    name.lower(): name
    for name in (
        "accountName",
        "accountId",
        "appliesTo",
        "capabilityStatus",
        "consumedUnits",
        "id",
        "skuId",
        "skuPartNumber",
        "subscriptionIds",
        "prepaidUnits",
        "servicePlans",
    )
}


async def subscribed_skus(request: Request) -> Response:
    """`GET /subscribedSkus`: the whole list (no paging), `$select` only, no `$filter`."""
    sim = sim_of(request)
    sim.authorize(request, "subscribedSkus")
    sim.count("subscribedSkus")
    if "$filter" in request.query_params or "$top" in request.query_params:
        raise query.bad_request(
            "The query specified in the URI is not valid. Query option is not allowed.",
            code="BadRequest",
        )
    select = query.parse_select(
        request.query_params.get("$select"),
        _SKU_PROPS,
        tuple(_SKU_PROPS.values()),
        "microsoft.graph.subscribedSku",
    )
    value = []
    for holding in sim.tenant.holdings.values():
        full = sku_json(sim.tenant, holding)
        value.append({k: full[k] for k in select})
    return json_response({"@odata.context": _context(request, "subscribedSkus"), "value": value})


def _missing(body: dict[str, Any]) -> list[str]:
    return [k for k in ("addLicenses", "removeLicenses") if k not in body]


async def assign_license(request: Request) -> Response:
    """`POST /users/{id | upn}/assignLicense` with Graph's validation; changes the tenant."""
    sim = sim_of(request)
    sim.authorize(request, "assignLicense")
    sim.count("assignLicense")
    key = request.path_params["key"]
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise GraphError(
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure "
            "Content-Type header is set and payload is of valid JSON format.",
        ) from None
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", "Unable to read JSON request payload.")
    if missing := _missing(body):
        raise query.bad_request(
            "One or more parameters of the function import 'assignLicense' are missing from "
            f"the request payload. The missing parameters are: {', '.join(missing)}."
        )
    add, remove = body["addLicenses"], body["removeLicenses"]
    if (
        not isinstance(add, list)
        or not isinstance(remove, list)
        or not all(isinstance(a, dict) for a in add)
    ):
        raise query.bad_request("Invalid value for addLicenses or removeLicenses.")
    user: User | None = sim.tenant.find_user(key)
    if user is None:
        raise _not_found(key)
    sim.tenant.assign_license(user, add, [str(r) for r in remove])
    select = (*userjson.DEFAULT_PROPERTIES, "assignedLicenses")
    payload = {
        "@odata.context": _context(request, "users/$entity"),
        **userjson.render(sim.tenant, user, select),
    }
    return json_response(payload)


def routes() -> list[Route]:
    """Directory routes for both API versions."""
    result: list[Route] = []
    for version in ("v1.0", "beta"):
        prefix = f"/{version}"
        result += [
            Route(f"{prefix}/users", list_users, methods=["GET"]),
            Route(f"{prefix}/users/delta", users_delta, methods=["GET"]),
            Route(f"{prefix}/users/delta()", users_delta, methods=["GET"]),
            Route(f"{prefix}/users/$count", count_users, methods=["GET"]),
            Route(f"{prefix}/me", me, methods=["GET"]),
            Route(f"{prefix}/users/{{key}}", get_user, methods=["GET"]),
            Route(f"{prefix}/users/{{key}}/assignLicense", assign_license, methods=["POST"]),
            Route(
                f"{prefix}/users/{{key}}/microsoft.graph.assignLicense",
                assign_license,
                methods=["POST"],
            ),
            Route(f"{prefix}/subscribedSkus", subscribed_skus, methods=["GET"]),
            Route(
                f"{prefix}/directory/deletedItems/microsoft.graph.user",
                deleted_users,
                methods=["GET"],
            ),
        ]
    return result
