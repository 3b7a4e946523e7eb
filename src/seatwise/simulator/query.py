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
    """A parsed users `$filter`: alternatives (joined by `or`), each a conjunction of row
    predicates (joined by `and`), plus what they need to look at."""

    alternatives: tuple[tuple[Predicate, ...], ...]
    sign_in: bool = False  # filters on signInActivity (needs AuditLog.Read.All + P1)

    @property
    def predicates(self) -> tuple[Predicate, ...]:
        """Every predicate of every alternative (empty: no filter)."""
        return tuple(p for group in self.alternatives for p in group)

    def matches(self, row: dict[str, object]) -> bool:
        """Whether a user (as a dict of facts) passes one of the alternatives."""
        return any(all(p(row) for p in group) for group in self.alternatives)


_IN = re.compile(r"^(\w+)\s+in\s+\((.*)\)$", re.IGNORECASE | re.DOTALL)
_STRING_LIST = re.compile(r"\s*'((?:[^']|'')*)'\s*(?:,|$)")


def _split_top(text: str, word: str) -> list[str]:
    """`text` split on the keyword `word` outside quotes and parentheses."""
    parts: list[str] = []
    depth, quoted, start, i = 0, False, 0, 0
    pattern = re.compile(rf"\s+{word}\s+", re.IGNORECASE)
    while i < len(text):
        char = text[i]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and (m := pattern.match(text, i)):
            parts.append(text[start:i])
            start = i = m.end()
            continue
        i += 1
    parts.append(text[start:])
    return [part.strip() for part in parts]


def _strip_parens(clause: str) -> str:
    """`(clause)` → `clause` when the outer parentheses enclose all of it."""
    while clause.startswith("(") and clause.endswith(")"):
        depth = 0
        for i, char in enumerate(clause):
            depth += char == "("
            depth -= char == ")"
            if depth == 0 and i < len(clause) - 1:
                return clause
        clause = clause[1:-1].strip()
    return clause


def _in_list(prop: str, raw: str) -> Predicate:
    values: list[str] = []
    position = 0
    raw = raw.strip()
    while position < len(raw):
        m = _STRING_LIST.match(raw, position)
        if m is None:
            raise bad_request(f"Invalid filter clause: {prop} in ({raw})")
        values.append(m.group(1).replace("''", "'").lower())
        position = m.end()
    if not values:
        raise bad_request(f"Invalid filter clause: {prop} in ()")
    wanted = frozenset(values)
    return partial(_text_in, prop=prop, values=wanted)


def _text_in(row: dict[str, object], prop: str, values: frozenset[str]) -> bool:
    return str(row.get(prop) or "").lower() in values


def _clause(clause: str) -> tuple[Predicate, bool]:
    """One comparison → (predicate, whether it reads signInActivity)."""
    if m := _ANY_SKU.match(clause):
        return partial(_has_sku, sku=m.group(2).lower()), False
    if m := _SIGNIN.match(clause):
        prop, op, value = m.group(1), m.group(2).lower(), _parse_datetime(m.group(3))
        key = prop[0].lower() + prop[1:]
        return partial(_signin_compare, key=key, op=op, value=value), True
    if m := _STARTSWITH.match(clause):
        prop = _SIMPLE_FILTERABLE.get(m.group(1).lower())
        if prop is None:
            raise _unsupported(m.group(1))
        prefix = m.group(2).replace("''", "'").lower()
        return partial(_starts_with, prop=prop, prefix=prefix), False
    if m := _IN.match(clause):
        prop = _SIMPLE_FILTERABLE.get(m.group(1).lower())
        if prop is None:
            raise _unsupported(m.group(1))
        return _in_list(prop, m.group(2)), False
    if m := _EQ.match(clause):
        prop = _SIMPLE_FILTERABLE.get(m.group(1).lower())
        if prop is None:
            raise _unsupported(m.group(1))
        literal = _literal(m.group(3))
        negate = m.group(2).lower() == "ne"
        if isinstance(literal, str) and prop in ("id", "userPrincipalName", "mail", "userType"):
            return partial(_text_equals, prop=prop, value=literal.lower(), negate=negate), False
        return partial(_equals, prop=prop, value=literal, negate=negate), False
    raise bad_request(f"Invalid filter clause: {clause}", code="Request_UnsupportedQuery")


def _dnf(expression: str) -> list[list[str]]:
    """`expression` as alternatives of conjunctions of comparisons (`or` of `and`s)."""
    expression = _strip_parens(expression.strip())
    alternatives = _split_top(expression, "or")
    if len(alternatives) > 1:
        return [conjunction for part in alternatives for conjunction in _dnf(part)]
    factors = _split_top(expression, "and")
    if len(factors) == 1:
        return [[expression]]
    result: list[list[str]] = [[]]
    for factor in factors:
        result = [left + right for left in result for right in _dnf(factor)]
    return result


def parse_user_filter(raw: str | None) -> UserFilter:
    """Parse the `$filter` subset Graph supports on `/users` that seatwise and common admin
    scripts use: `eq`, `ne`, `startswith`, `in (...)`, `assignedLicenses/any(...)` and
    `signInActivity/...` comparisons, joined by `and` and `or` (with parentheses)."""
    if not raw or not raw.strip():
        return UserFilter(())
    alternatives: list[tuple[Predicate, ...]] = []
    sign_in = other = False
    for conjunction in _dnf(raw.strip()):
        group: list[Predicate] = []
        for clause in conjunction:
            predicate, reads_sign_in = _clause(clause)
            sign_in = sign_in or reads_sign_in
            other = other or not reads_sign_in
            group.append(predicate)
        alternatives.append(tuple(group))
    if sign_in and other:
        raise bad_request(
            "signInActivity filter can't be combined with filters on other properties.",
            code="Request_UnsupportedQuery",
        )
    return UserFilter(tuple(alternatives), sign_in)


_SEARCHABLE = {
    "displayname": "display_name",
    "givenname": "given_name",
    "surname": "surname",
    "mail": "mail",
    "userprincipalname": "upn",
    "jobtitle": "job_title",
    "department": "department",
}
_SEARCH_CLAUSE = re.compile(r'^"(\w+):([^"]*)"$')
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class UserSearch:
    """A parsed `$search`: alternatives (`OR`) of clauses (`AND`), each a property and the
    words one of its words must start with (Graph's tokenized search)."""

    alternatives: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...]

    def matches(self, user: object) -> bool:
        """Whether the user (an object with the searchable attributes) matches."""
        return any(all(_words_match(user, a, w) for a, w in group) for group in self.alternatives)


def _words_match(user: object, attribute: str, words: tuple[str, ...]) -> bool:
    have = _WORDS.findall(str(getattr(user, attribute, None) or "").lower())
    return all(any(h.startswith(w) for h in have) for w in words)


def parse_user_search(raw: str) -> UserSearch:
    """`$search="displayName:ada" OR "mail:ada"`: quoted `property:text` clauses."""
    alternatives = []
    for alternative in re.split(r"\s+OR\s+", raw.strip()):
        group = []
        for clause in re.split(r"\s+AND\s+", alternative.strip()):
            m = _SEARCH_CLAUSE.match(clause.strip())
            if m is None:
                raise bad_request(
                    f"Syntax error: character '{clause[:1]}' is not valid at position 0 in "
                    f"'{clause}'."
                )
            attribute = _SEARCHABLE.get(m.group(1).lower())
            if attribute is None:
                raise bad_request(f"Unsupported property '{m.group(1)}' in $search.")
            words = tuple(_WORDS.findall(m.group(2).lower()))
            group.append((attribute, words))
        alternatives.append(tuple(group))
    return UserSearch(tuple(alternatives))


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
