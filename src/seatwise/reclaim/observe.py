"""What Graph says of a plan's users right now: their licences (direct and by group, with disabled
plans) and last sign-in, read through `$batch` just before each change, and the
`assignLicense` calls themselves, 20 users to a batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seatwise.graph import GraphClient, endpoints
from seatwise.graph.client import NO_PREMIUM
from seatwise.sync import normalize

__all__ = [
    "Answer",
    "LicenceKey",
    "Observed",
    "assign_many",
    "licence_key",
    "read_many",
]

LicenceKey = tuple[str, str, tuple[str, ...]]
"""(skuId, group id or '', sorted disabled plan ids): a licence as compared across reads."""

_SELECT = (
    "id",
    "userPrincipalName",
    "accountEnabled",
    "onPremisesSyncEnabled",
    "assignedLicenses",
    "licenseAssignmentStates",
)


def licence_key(sku_id: str, via: str, disabled: Sequence[str]) -> LicenceKey:
    """The comparable form of a licence."""
    return (sku_id.lower(), (via or "").lower(), tuple(sorted(p.lower() for p in disabled)))


@dataclass(frozen=True, slots=True)
class Observed:
    """A user as Graph has them now."""

    user_id: str
    upn: str
    on_premises_sync: bool | None
    licences: frozenset[LicenceKey]
    last_sign_in: datetime | None
    sign_in_known: bool

    def records(self, parts: Mapping[str, str]) -> list[dict[str, Any]]:
        """The licences as audit records (`parts`: skuId → part number)."""
        return [
            {"sku_id": sku, "part": parts.get(sku, sku), "via": via, "disabled_plans": list(off)}
            for sku, via, off in sorted(self.licences)
        ]


@dataclass(frozen=True, slots=True)
class Answer:
    """Graph's answer to one item of a batch: its status, error and request id."""

    status: int
    code: str | None = None
    message: str | None = None
    request_id: str | None = None

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """Throttled or unavailable after the client's retries: nothing happened, try later."""
        return self.status in (429, 503, 504)

    @property
    def no_premium(self) -> bool:
        """`signInActivity` refused because the tenant has no Entra ID P1."""
        return self.status == 403 and self.code == NO_PREMIUM


def _header(headers: Any, name: str) -> str | None:
    if not isinstance(headers, Mapping):
        return None
    for key, value in headers.items():
        if str(key).lower() == name:
            return str(value)
    return None


def _answer(raw: Mapping[str, Any]) -> Answer:
    status = int(raw.get("status") or 0)
    body = raw.get("body")
    error = body.get("error") if isinstance(body, Mapping) else None
    code = message = None
    if isinstance(error, Mapping):
        code = str(error.get("code") or "") or None
        message = str(error.get("message") or "") or None
    return Answer(status, code, message, _header(raw.get("headers"), "request-id"))


def _observed(body: Mapping[str, Any], sign_in: bool) -> Observed:
    rows = normalize.assignment_rows(0, body)
    licences = frozenset(
        licence_key(row["sku_id"], row["via"], row["disabled_plans"]) for row in rows
    )
    last = None
    if sign_in:
        last = normalize.sign_in_columns(body.get("signInActivity"))["last_sign_in"]
    synced = body.get("onPremisesSyncEnabled")
    return Observed(
        user_id=str(body.get("id", "")).lower(),
        upn=str(body.get("userPrincipalName") or ""),
        on_premises_sync=synced if isinstance(synced, bool) else None,
        licences=licences,
        last_sign_in=last,
        sign_in_known=sign_in,
    )


def read_many(
    client: GraphClient, user_ids: Sequence[str], *, sign_in: bool
) -> dict[str, Observed | Answer]:
    """Each user's current state, or Graph's answer when it could not be read (404: gone).

    `sign_in` asks for `signInActivity` too (Entra ID P1; `Answer.no_premium` without it).
    """
    fields = _SELECT + (("signInActivity",) if sign_in else ())
    select = ",".join(fields)
    requests = [
        {"id": str(i), "method": "GET", "url": f"/users/{user_id}?$select={select}"}
        for i, user_id in enumerate(user_ids)
    ]
    answers = client.batch(requests)
    found: dict[str, Observed | Answer] = {}
    for i, user_id in enumerate(user_ids):
        raw = answers[str(i)]
        answer = _answer(raw)
        body = raw.get("body")
        if answer.ok and isinstance(body, Mapping):
            found[user_id] = _observed(body, sign_in)
        else:
            found[user_id] = answer
    return found


def assign_many(
    client: GraphClient, changes: Mapping[str, tuple[Sequence[Mapping[str, Any]], Sequence[str]]]
) -> dict[str, Answer]:
    """`assignLicense` for each user (`{user_id: (add, remove)}`), through `$batch`."""
    ids = list(changes)
    requests = [
        {
            "id": str(i),
            "method": "POST",
            "url": endpoints.assign_license_batch_url(user_id),
            "headers": {"Content-Type": "application/json"},
            "body": endpoints.assign_license_body(*changes[user_id]),
        }
        for i, user_id in enumerate(ids)
    ]
    answers = client.batch(requests)
    return {user_id: _answer(answers[str(i)]) for i, user_id in enumerate(ids)}
