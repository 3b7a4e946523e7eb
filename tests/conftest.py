"""Suite-wide: no secret ever reaches a log. Every log record of the whole run (whatever its
test, thread or logger) is checked against the secrets the tests know: the simulators' client
secrets and admin passwords, every access and refresh token they issue, and the test values of
SEATWISE_SECRET_KEY. A leak fails the run (at the teardown of its last test), naming the logger
and the kind of secret, never the secret.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# SEATWISE_SECRET_KEY values the tests set.
KNOWN_SECRETS = {
    "test passphrase, not a real secret": "SEATWISE_SECRET_KEY",
    "s3cret": "SEATWISE_SECRET_KEY",
}
_SHORTEST = 6  # shorter strings would match by chance


class SecretWatch(logging.Handler):
    """A logging handler that remembers records quoting a registered secret."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.secrets: dict[str, str] = dict(KNOWN_SECRETS)
        self.leaks: list[str] = []
        self._guard = threading.Lock()

    def register(self, secret: object, kind: str) -> None:
        if isinstance(secret, str) and len(secret) >= _SHORTEST:
            with self._guard:
                self.secrets[secret] = kind

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is not a leak
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += f" {record.exc_info[1]!r}"
        env_key = os.environ.get("SEATWISE_SECRET_KEY")
        with self._guard:
            found = [kind for secret, kind in self.secrets.items() if secret in text]
        if env_key and len(env_key) >= _SHORTEST and env_key in text:
            found.append("SEATWISE_SECRET_KEY")
        if found:
            self.leaks.append(f"{record.name} ({record.levelname}) logged a {found[0]}")


WATCH = SecretWatch()


def _wrap(owner: type, name: str, kind: str, pick: Callable[[Any], object]) -> None:
    original = getattr(owner, name)

    def wrapper(self: object, *args: object, **kwargs: object) -> Any:
        result = original(self, *args, **kwargs)
        WATCH.register(pick(result), kind)
        return result

    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(owner, name, wrapper)


def _watch_simulators() -> None:
    """Register what every simulator in this process issues or is made with."""
    from seatwise.simulator.context import Host
    from seatwise.simulator.tokens import TokenStore

    _wrap(TokenStore, "issue_access", "access token", lambda result: result[0])
    _wrap(TokenStore, "issue_refresh", "refresh token", lambda result: result)
    original = Host.add

    def add(self: Host, tenant: Any, *args: Any, **kwargs: Any) -> Any:
        WATCH.register(tenant.app.client_secret, "simulator client secret")
        WATCH.register(tenant.admin.password, "simulator admin password")
        return original(self, tenant, *args, **kwargs)

    Host.add = add  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    del config
    _watch_simulators()
    logging.getLogger().addHandler(WATCH)


@pytest.fixture(autouse=True)
def _secret_watch() -> Iterator[None]:
    """Keep the handler on the root logger (`logging.basicConfig(force=True)` removes it)."""
    root = logging.getLogger()
    if WATCH not in root.handlers:
        root.addHandler(WATCH)
    yield


@pytest.fixture(autouse=True, scope="session")
def _no_secret_in_logs() -> Iterator[None]:
    yield
    if WATCH.leaks:
        shown = "; ".join(sorted(set(WATCH.leaks))[:10])
        pytest.fail(f"Secrets reached the logs {len(WATCH.leaks)} times: {shown}.")
