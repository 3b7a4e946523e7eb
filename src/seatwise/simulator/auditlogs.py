"""Identity reports and report settings: `/auditLogs/signIns`,
`/reports/authenticationMethods/userRegistrationDetails` and `/admin/reportSettings`.
"""

from __future__ import annotations

import operator
import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from seatwise.simulator import query
from seatwise.simulator.context import sim_of
from seatwise.simulator.model import User
from seatwise.simulator.odata import JSON_MEDIA_TYPE, GraphError, json_response
from seatwise.simulator.tenant import SignInEvent, Tenant
from seatwise.simulator.userjson import iso

SIGNINS_MAX_TOP = 1000
REGISTRATION_MAX_TOP = 1000

_CLAUSE = re.compile(r"^(\w+)\s+(eq|ne|ge|le|gt|lt)\s+(.+)$", re.IGNORECASE)
_STARTS = re.compile(r"^startswith\((\w+),\s*'((?:[^']|'')*)'\)$", re.IGNORECASE)
_SIGNIN_FIELDS: dict[str, Callable[[SignInEvent], str]] = {
    "appid": lambda e: e.app_id,
    "appdisplayname": lambda e: e.app_name,
    "userprincipalname": lambda e: e.user.upn,
    "userid": lambda e: e.user.id,
    "clientappused": lambda e: e.client_app,
}


_COMPARE: dict[str, Callable[[datetime, datetime], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "ge": operator.ge,
    "le": operator.le,
    "gt": operator.gt,
    "lt": operator.lt,
}


def _starts_with(event: SignInEvent, getter: Callable[[SignInEvent], str], prefix: str) -> bool:
    return str(getter(event)).lower().startswith(prefix)


def _created(
    event: SignInEvent, compare: Callable[[datetime, datetime], bool], moment: datetime
) -> bool:
    return compare(event.created, moment)


def _field_equals(
    event: SignInEvent, getter: Callable[[SignInEvent], str], value: str, negate: bool
) -> bool:
    return (str(getter(event)).lower() == value) != negate


def _root(request: Request) -> str:
    version = request.url.path.split("/")[1]
    return f"{request.url.scheme}://{request.url.netloc}/{version}"


@dataclass
class _SignInFilter:
    """A parsed `$filter`: every clause as a predicate, plus what lets the scan skip work (the
    clauses are a conjunction): the one application asked for, and the oldest moment wanted
    (events are newest first, so the scan stops at the first older one)."""

    predicates: list[Callable[[SignInEvent], bool]] = field(default_factory=list)
    app_id: str | None = None
    floor: datetime | None = None


def _signin_filter(raw: str | None) -> _SignInFilter:
    found = _SignInFilter()
    if not raw:
        return found
    predicates = found.predicates
    for clause in re.split(r"\s+and\s+", raw.strip(), flags=re.IGNORECASE):
        clause = (
            clause.strip().strip("()")
            if clause.count("(") == clause.count(")") == 1 and clause.startswith("(")
            else clause.strip()
        )
        if m := _STARTS.match(clause):
            getter = _SIGNIN_FIELDS.get(m.group(1).lower())
            if getter is None:
                raise query.bad_request(f"Invalid filter clause: {clause}", code="BadRequest")
            prefix = m.group(2).replace("''", "'").lower()
            predicates.append(partial(_starts_with, getter=getter, prefix=prefix))
            continue
        m = _CLAUSE.match(clause)
        if m is None:
            raise query.bad_request(f"Invalid filter clause: {clause}", code="BadRequest")
        prop, op, raw_value = m.group(1).lower(), m.group(2).lower(), m.group(3).strip()
        if prop == "createddatetime":
            try:
                moment = datetime.fromisoformat(raw_value.replace("Z", "+00:00"))
            except ValueError:
                raise query.bad_request(
                    f"Invalid filter clause: {clause}", code="BadRequest"
                ) from None
            predicates.append(partial(_created, compare=_COMPARE[op], moment=moment))
            if op in ("ge", "gt") and (found.floor is None or moment > found.floor):
                found.floor = moment
            continue
        getter = _SIGNIN_FIELDS.get(prop)
        if getter is None or op not in ("eq", "ne") or not raw_value.startswith("'"):
            raise query.bad_request(f"Invalid filter clause: {clause}", code="BadRequest")
        value = raw_value.strip("'").replace("''", "'").lower()
        predicates.append(partial(_field_equals, getter=getter, value=value, negate=op == "ne"))
        if prop == "appid" and op == "eq":
            found.app_id = value
    return found


def _event_json(event: SignInEvent) -> dict[str, Any]:
    user = event.user
    return {
        "id": event.id,
        "createdDateTime": iso(event.created),
        "userDisplayName": user.display_name,
        "userPrincipalName": user.upn,
        "userId": user.id,
        "appId": event.app_id,
        "appDisplayName": event.app_name,
        "ipAddress": event.ip,
        "clientAppUsed": event.client_app,
        "correlationId": event.id[::-1][:8] + event.id[8:],
        "conditionalAccessStatus": "notApplied",
        "isInteractive": True,
        "riskDetail": "hidden",
        "riskLevelAggregated": "hidden",
        "riskLevelDuringSignIn": "hidden",
        "riskState": "none",
        "riskEventTypes": [],
        "riskEventTypes_v2": [],
        "resourceDisplayName": "Microsoft Graph",
        "resourceId": "00000003-0000-0000-c000-000000000000",
        "status": {"errorCode": 0, "failureReason": "Other.", "additionalDetails": None},
        "deviceDetail": {
            "deviceId": "",
            "displayName": "",
            "operatingSystem": "Windows10" if "windows" in user.platforms else "Ios",
            "browser": "Edge 130.0.0" if event.client_app == "Browser" else "",
            "isCompliant": False,
            "isManaged": False,
            "trustType": "",
        },
        "location": {
            "city": event.city,
            "state": "Washington",
            "countryOrRegion": user.usage_location or "US",
            "geoCoordinates": {"altitude": None, "latitude": 47.6, "longitude": -122.3},
        },
        "appliedConditionalAccessPolicies": [],
    }


async def sign_ins(request: Request) -> Response:
    """`GET /auditLogs/signIns`: newest first, 30 days kept, `$filter` subset, ≤ 1,000 a page."""
    sim = sim_of(request)
    sim.authorize(request, "signIns")
    sim.count("signIns")
    params = request.query_params
    top = query.parse_top(params.get("$top"), default=SIGNINS_MAX_TOP, maximum=SIGNINS_MAX_TOP)
    wanted = _signin_filter(params.get("$filter"))
    predicates = wanted.predicates
    tenant = sim.tenant
    salt = f"signins{tenant.today.isoformat()}"
    start = query.decode_skiptoken(params["$skiptoken"], salt) if "$skiptoken" in params else 0
    events = tenant.sign_ins
    # Candidate positions, ascending: the application's own events when one is asked for.
    if wanted.app_id is not None:
        positions: Sequence[int] = tenant.sign_ins_by_app.get(wanted.app_id, [])
    else:
        positions = range(len(events))
    cursor = bisect_left(positions, start)
    floor = wanted.floor

    def next_match() -> int | None:
        nonlocal cursor
        while cursor < len(positions):
            position = positions[cursor]
            cursor += 1
            event = events[position]
            if floor is not None and event.created < floor:
                cursor = len(positions)  # newest first: nothing older can match
                return None
            if all(p(event) for p in predicates):
                return position
        return None

    page: list[dict[str, Any]] = []
    following = next_match()
    while following is not None and len(page) < top:
        page.append(_event_json(events[following]))
        following = next_match()
    body: dict[str, Any] = {"@odata.context": f"{_root(request)}/$metadata#auditLogs/signIns"}
    # The next match (looked up so the last page has no nextLink) is where the next page starts.
    position = len(events) if following is None else following
    if position < len(events):
        body["@odata.nextLink"] = query.next_link(
            f"{_root(request)}/auditLogs/signIns",
            params,
            "$skiptoken",
            query.encode_skiptoken(position, salt),
        )
    body["value"] = page
    return json_response(body)


def _registration(tenant: Tenant, user: User, beta: bool) -> dict[str, Any]:
    methods = list(user.mfa_methods)
    mfa = any(m != "email" for m in methods)
    preferred = {
        "microsoftAuthenticatorPush": "push",
        "softwareOneTimePasscode": "oath",
        "mobilePhone": "sms",
        "passKeyDeviceBound": "push",
    }
    system = [preferred[methods[0]]] if mfa and methods[0] in preferred else []
    item: dict[str, Any] = {
        "id": user.id,
        "userPrincipalName": user.upn,
        "userDisplayName": user.display_name,
        "userType": "guest" if user.user_type == "Guest" else "member",
        "isAdmin": user.id == tenant.admin.user_id,
        "isSsprRegistered": mfa,
        "isSsprEnabled": mfa,
        "isSsprCapable": mfa,
        "isMfaRegistered": mfa,
        "isMfaCapable": mfa,
        "isPasswordlessCapable": "passKeyDeviceBound" in methods,
        "methodsRegistered": methods,
        "isSystemPreferredAuthenticationMethodEnabled": True,
        "systemPreferredAuthenticationMethods": system,
        "userPreferredMethodForSecondaryAuthentication": system[0] if system else "none",
        "lastUpdatedDateTime": iso(tenant.now.replace(minute=0, second=0)),
    }
    if beta:
        default = {
            "push": "microsoftAuthenticatorPush",
            "oath": "softwareOneTimePasscode",
            "sms": "mobilePhone",
        }
        item["defaultMfaMethod"] = default.get(system[0], "none") if system else "none"
    return item


async def registration_details(request: Request) -> Response:
    """`GET /reports/authenticationMethods/userRegistrationDetails` (enabled users only)."""
    sim = sim_of(request)
    sim.authorize(request, "userRegistrationDetails")
    sim.count("userRegistrationDetails")
    params = request.query_params
    tenant = sim.tenant
    top = query.parse_top(
        params.get("$top"), default=REGISTRATION_MAX_TOP, maximum=REGISTRATION_MAX_TOP
    )
    raw_filter = params.get("$filter")
    wanted_mfa: bool | None = None
    if raw_filter:
        m = re.match(r"^isMfaRegistered\s+eq\s+(true|false)$", raw_filter.strip(), re.IGNORECASE)
        if m is None:
            raise query.bad_request(f"Invalid filter clause: {raw_filter}", code="BadRequest")
        wanted_mfa = m.group(1).lower() == "true"
    beta = request.url.path.startswith("/beta/")
    salt = f"registration{tenant.version}"
    start = query.decode_skiptoken(params["$skiptoken"], salt) if "$skiptoken" in params else 0
    users = tenant.users
    page: list[bytes] = []
    position = start
    while position < len(users) and len(page) < top:
        user = users[position]
        position += 1
        if not user.account_enabled:
            continue
        registered, item = registration(tenant, user, beta)
        if wanted_mfa is not None and registered != wanted_mfa:
            continue
        page.append(item)
    body: dict[str, Any] = {
        "@odata.context": f"{_root(request)}/$metadata#reports/authenticationMethods/"
        "userRegistrationDetails"
    }
    if position < len(users):
        body["@odata.nextLink"] = query.next_link(
            f"{_root(request)}/reports/authenticationMethods/userRegistrationDetails",
            params,
            "$skiptoken",
            query.encode_skiptoken(position, salt),
        )
    head = orjson.dumps(body)[:-1]  # spliced: the same bytes as orjson.dumps with `value` last
    payload = head + b',"value":[' + b",".join(page) + b"]}"
    return Response(payload, media_type=JSON_MEDIA_TYPE)


def registration(tenant: Tenant, user: User, beta: bool) -> tuple[bool, bytes]:
    """Whether `user` is MFA-registered and their registration details as JSON, remembered
    until the tenant changes or time moves."""
    key = (tenant.version, tenant.now, beta)
    cache = tenant.registration_cache
    found = cache.get((user.index, beta))
    if found is None or found[0] != key:
        item = _registration(tenant, user, beta)
        found = cache[(user.index, beta)] = (
            key,
            bool(item["isMfaRegistered"]),
            orjson.dumps(item),
        )
    return found[1], found[2]


def warm(tenant: Tenant) -> None:
    """Build every enabled user's v1.0 registration details now (as Graph has them ready)."""
    for user in tenant.users:
        if user.account_enabled:
            registration(tenant, user, False)


async def report_settings(request: Request) -> Response:
    """`GET`/`PATCH /admin/reportSettings`: the concealed-names switch."""
    sim = sim_of(request)
    options = sim.tenant.options
    if request.method == "PATCH":
        sim.authorize(request, "reportSettings.write")
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload.") from None
        value = body.get("displayConcealedNames") if isinstance(body, dict) else None
        if not isinstance(value, bool):
            raise query.bad_request("displayConcealedNames must be a boolean.", code="BadRequest")
        options.concealed_names = value
        sim.tenant.version += 1
        return Response(status_code=204)
    sim.authorize(request, "reportSettings.read")
    return json_response(
        {
            "@odata.context": f"{_root(request)}/$metadata#admin/reportSettings/$entity",
            "displayConcealedNames": options.concealed_names,
        }
    )


def routes() -> list[Route]:
    """Audit-log, registration-report and report-settings routes for both API versions."""
    result: list[Route] = []
    for version in ("v1.0", "beta"):
        result += [
            Route(f"/{version}/auditLogs/signIns", sign_ins, methods=["GET"]),
            Route(
                f"/{version}/reports/authenticationMethods/userRegistrationDetails",
                registration_details,
                methods=["GET"],
            ),
            Route(f"/{version}/admin/reportSettings", report_settings, methods=["GET", "PATCH"]),
        ]
    return result
