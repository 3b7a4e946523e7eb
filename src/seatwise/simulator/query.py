"""OData query options as Graph's directory APIs accept them: `$select`, `$top`, `$filter`
(the subset seatwise and common admin scripts use), `$count` and opaque `$skiptoken` paging.

Pure parsing: nothing here knows about HTTP or the tenant beyond a user's properties.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from urllib.parse import urlencode

from seatwise.simulator.odata import GraphError

Predicate = Callable[[dict[str, object]], bool]

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ANY_SKU = re.compile(
    rf"^assignedLicenses/any\((\w+):\s*\1/skuId\s+eq\s+({_GUID})\)$", re.IGNORECASE
)
_EQ = re.compile(r"^(\w+)\s+(eq|ne)\s+(.+)$", re.IGNORECASE)
_STARTSWITH = re.compile(r"^startswith\((\w+),\s*'((?:[^']|'')*)'\)$", re.IGNORECASE)
_SIGNIN = re.compile(
    r"^signInActivity/(lastSignInDateTime|lastSuccessfulSignInDateTime|lastNonInteractiveSignInDateTime)"
    r"\s+(eq|ne|le|ge)\s+(\S+)$",
    re.IGNORECASE,
)
_SIMPLE_FILTERABLE = {
    "id": "id",
    "userprincipalname": "userPrincipalName",
    "mail": "mail",
    "displayname": "displayName",
    "usertype": "userType",
    "accountenabled": "accountEnabled",
    "country": "country",
    "department": "department",
    "jobtitle": "jobTitle",
    "usagelocation": "usageLocation",
    "onpremisessyncenabled": "onPremisesSyncEnabled",
    "givenname": "givenName",
    "surname": "surname",
}


def bad_request(message: str, code: str = "Request_BadRequest") -> GraphError:
    """A 400 with Graph's envelope."""
    return GraphError(400, code, message)


def parse_top(raw: str | None, *, default: int, maximum: int) -> int:
    """`$top` as Graph's directory validates it (1..maximum inclusive)."""
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise bad_request(
            f"Invalid page size specified: '{raw}'. Must be between 1 and {maximum} inclusive."
        )
    return int(raw)


def parse_select(
    raw: str | None, known: Mapping[str, str], default: tuple[str, ...], type_name: str
) -> tuple[str, ...]:
    """Canonical property names of `$select` (case-insensitive), or the defaults."""
    if not raw:
        return default
    result: list[str] = []
    for part in raw.split(","):
        name = part.strip()
        if not name:
            continue
        canonical = known.get(name.lower())
        if canonical is None:
            raise bad_request(f"Could not find a property named '{name}' on type '{type_name}'.")
        if canonical not in result:
            result.append(canonical)
    return tuple(result)


def _literal(raw: str) -> object:
    raw = raw.strip()
    if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
        return raw[1:-1].replace("''", "'")
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    raise bad_request(f"Invalid filter clause: the literal {raw} is not supported.")


def _parse_datetime(raw: str) -> datetime:
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(
            f"Invalid filter clause: '{raw}' is not a valid DateTimeOffset."
        ) from None


def _unsupported(prop: str) -> GraphError:
    return bad_request(
        f"Unsupported or invalid query filter clause specified for property '{prop}' of "
        "resource 'User'.",
        code="Request_UnsupportedQuery",
    )


def _has_sku(row: dict[str, object], sku: str) -> bool:
    skus = row["skuIds"]
    return isinstance(skus, set) and sku in skus


def _signin_compare(row: dict[str, object], key: str, op: str, value: datetime) -> bool:
    facts = row["signIn"]
    current = facts.get(key) if isinstance(facts, dict) else None
    if not isinstance(current, datetime):
        return False
    return {
        "eq": current == value,
        "ne": current != value,
        "le": current <= value,
        "ge": current >= value,
    }[op]


def _starts_with(row: dict[str, object], prop: str, prefix: str) -> bool:
    return str(row.get(prop) or "").lower().startswith(prefix)


def _text_equals(row: dict[str, object], prop: str, value: str, negate: bool) -> bool:
    return (str(row.get(prop) or "").lower() == value) != negate


def _equals(row: dict[str, object], prop: str, value: object, negate: bool) -> bool:
    return (row.get(prop) == value) != negate


@dataclass(frozen=True, slots=True)
class UserFilter:
    """A parsed users `$filter`: row predicates plus what they need to look at."""

    predicates: tuple[Predicate, ...]
    sign_in: bool = False  # filters on signInActivity (needs AuditLog.Read.All + P1)

    def matches(self, row: dict[str, object]) -> bool:
        """Whether a user (as a dict of facts) passes every clause."""
        return all(p(row) for p in self.predicates)


def parse_user_filter(raw: str | None) -> UserFilter:
    """Parse the `$filter` subset Graph supports on `/users` that seatwise relies on."""
    if not raw or not raw.strip():
        return UserFilter(())
    clauses = [c.strip() for c in re.split(r"\s+and\s+", raw.strip(), flags=re.IGNORECASE)]
    predicates: list[Predicate] = []
    sign_in = False
    for clause in clauses:
        clause = clause.strip()
        while clause.startswith("(") and clause.endswith(")") and clause.count("(") == 1:
            clause = clause[1:-1].strip()
        if m := _ANY_SKU.match(clause):
            predicates.append(partial(_has_sku, sku=m.group(2).lower()))
            continue
        if m := _SIGNIN.match(clause):
            sign_in = True
            prop, op, value = m.group(1), m.group(2).lower(), _parse_datetime(m.group(3))
            key = prop[0].lower() + prop[1:]
            predicates.append(partial(_signin_compare, key=key, op=op, value=value))
            continue
        if m := _STARTSWITH.match(clause):
            prop = _SIMPLE_FILTERABLE.get(m.group(1).lower())
            if prop is None:
                raise _unsupported(m.group(1))
            prefix = m.group(2).replace("''", "'").lower()
            predicates.append(partial(_starts_with, prop=prop, prefix=prefix))
            continue
        if m := _EQ.match(clause):
            prop = _SIMPLE_FILTERABLE.get(m.group(1).lower())
            if prop is None:
                raise _unsupported(m.group(1))
            literal = _literal(m.group(3))
            negate = m.group(2).lower() == "ne"
            if isinstance(literal, str) and prop in ("id", "userPrincipalName", "mail", "userType"):
                predicates.append(
                    partial(_text_equals, prop=prop, value=literal.lower(), negate=negate)
                )
            else:
                predicates.append(partial(_equals, prop=prop, value=literal, negate=negate))
            continue
        raise bad_request(f"Invalid filter clause: {clause}", code="Request_UnsupportedQuery")
    if sign_in and len(clauses) > 1:
        raise bad_request(
            "signInActivity filter can't be combined with filters on other properties.",
            code="Request_UnsupportedQuery",
        )
    return UserFilter(tuple(predicates), sign_in)


def encode_skiptoken(offset: int, salt: str) -> str:
    """An opaque `$skiptoken` (Graph's look like base64 blobs)."""
    raw = f"RFNwdAIAAQAA:{salt}:{offset}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_skiptoken(token: str, salt: str) -> int:
    """The offset inside a `$skiptoken` this simulator made; 400 for anything else."""
    try:
        padded = token + "=" * (-len(token) % 4)
        prefix, token_salt, offset = base64.urlsafe_b64decode(padded).decode().split(":")
        if prefix != "RFNwdAIAAQAA" or token_salt != salt:
            raise ValueError
        return int(offset)
    except (ValueError, UnicodeDecodeError):
        raise bad_request(
            "Skip token is null or invalid.", code="Directory_ExpiredPageToken"
        ) from None


_SAFE = "$(),:/'"


def next_link(base_url: str, params: Mapping[str, str], token_name: str, token: str) -> str:
    """The full `@odata.nextLink`: every original option plus the new token."""
    query = {k: v for k, v in params.items() if k.lower() not in ("$skiptoken", "$skip")}
    query[token_name] = token
    return f"{base_url}?{urlencode(query, safe=_SAFE)}"
