"""Authorizing a tenant from the browser: sign-ins in progress (the MSAL flow with its PKCE
verifier, and the client secret of a new tenant) kept in this process's memory, never in the
cookie. Credentials are stored by `seatwise.store.tenants.store_tenant`, as the CLI does.

The identity platform answers with form_post: a cross-site POST that carries no SameSite=Lax
session cookie. So the callback only parks the answer with the sign-in whose OAuth `state` it
names, and redirects the browser to a same-site GET, where the session identifies the sign-in
and the answer is redeemed (MSAL checks `state` again, and PKCE binds the code to our verifier).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PENDING_TTL_S", "PendingSignIn", "PendingSignIns", "pending_sign_ins"]

# A sign-in left unfinished this long is forgotten (the authorization code lives ~10 minutes).
PENDING_TTL_S = 15 * 60
# At most this many sign-ins in progress at once: the oldest are dropped first.
PENDING_MAX = 64


@dataclass
class PendingSignIn:
    """One sign-in in progress. The secret and the flow stay in memory; `repr` leaves them out."""

    name: str
    tenant_id: str
    client_id: str
    secret: str = field(repr=False)
    flow: dict[str, Any] = field(repr=False)
    started_by: str
    started_at: float
    answer: dict[str, str] | None = field(default=None, repr=False)

    @property
    def state(self) -> str:
        """The OAuth `state` the identity platform echoes back."""
        return str(self.flow.get("state") or "")


class PendingSignIns:
    """Sign-ins in progress, keyed by a random id that the user's signed session holds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._items: dict[str, PendingSignIn] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def now(self) -> float:
        """The clock sign-ins are timed with."""
        return self._clock()

    def _expire(self) -> None:
        oldest = self._clock() - PENDING_TTL_S
        for key in [k for k, v in self._items.items() if v.started_at < oldest]:
            del self._items[key]
        while len(self._items) >= PENDING_MAX:
            del self._items[next(iter(self._items))]

    def add(self, item: PendingSignIn) -> str:
        """Keep `item`; its id (for the session)."""
        key = secrets.token_urlsafe(24)
        with self._lock:
            self._expire()
            self._items[key] = item
        return key

    def answer(self, params: Mapping[str, str]) -> bool:
        """Park the identity platform's answer with the sign-in whose `state` it carries;
        False when no sign-in in progress has that state."""
        state = params.get("state") or ""
        if not state:
            return False
        with self._lock:
            for item in self._items.values():
                if item.answer is None and hmac.compare_digest(item.state, state):
                    item.answer = dict(params)
                    return True
        return False

    def take(self, key: str) -> PendingSignIn | None:
        """Remove and return the sign-in `key` (None when unknown or expired)."""
        with self._lock:
            item = self._items.pop(key, None)
        if item is None or item.started_at < self._clock() - PENDING_TTL_S:
            return None
        return item

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


_INIT_LOCK = threading.Lock()


def pending_sign_ins(app: Any) -> PendingSignIns:
    """The sign-ins in progress of the web app `app` (made on first use)."""
    found = getattr(app.state, "pending_sign_ins", None)
    if found is None:
        with _INIT_LOCK:
            found = getattr(app.state, "pending_sign_ins", None)
            if found is None:
                found = app.state.pending_sign_ins = PendingSignIns()
    assert isinstance(found, PendingSignIns)
    return found
