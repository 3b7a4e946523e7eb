"""Fixtures for graph tests: a simulated tenant served over real HTTPS on loopback (one server per
test module), settings pointing at it, and helpers to drive it from outside Graph.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import orjson
import pytest

from seatwise.config import Settings
from seatwise.graph import ClientCredentialsProvider, GraphClient, RetryPolicy
from seatwise.graph.client import tls_context
from seatwise.simulator import Tenant, create_app
from seatwise.simulator.server import running

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
# Retries in tests: as many attempts as production, but waits of milliseconds.
FAST = RetryPolicy(max_attempts=8, base_s=0.001, cap_s=0.005, max_total_s=30.0)


@dataclass
class Sleeps:
    """A `sleep` that records instead of waiting (scripted faults are consumed in order)."""

    delays: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@dataclass
class Sim:
    """A running simulator and the settings that reach it."""

    tenant: Tenant
    base_url: str
    ca_bundle: Path
    settings: Settings

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST (or GET without a body) a `/_control` endpoint; its JSON answer."""
        with httpx.Client(verify=tls_context(self.settings), trust_env=False) as http:
            url = f"{self.base_url}/_control/{path}"
            response = http.get(url) if body is None else http.post(url, json=body)
            response.raise_for_status()
            return response.json() if response.content else None

    def script(self, path: str, *faults: dict[str, str]) -> None:
        """Queue exact faults for the next requests under `path`."""
        self.control("faults", {"path": path, "script": list(faults)})

    def provider(self, **kwargs: Any) -> ClientCredentialsProvider:
        app = self.tenant.app
        return ClientCredentialsProvider(
            self.settings, self.tenant.tenant_id, app.client_id, app.client_secret, **kwargs
        )

    def client(self, provider: Any = None, **kwargs: Any) -> GraphClient:
        kwargs.setdefault("policy", FAST)
        kwargs.setdefault("sleep", Sleeps())
        return GraphClient(self.settings, provider or self.provider(), **kwargs)

    def browser(self) -> httpx.Client:
        """What stands in for the admin's browser (trusts the simulator, ignores the env)."""
        return httpx.Client(verify=tls_context(self.settings), trust_env=False, timeout=10)


def settings_for(base_url: str, ca_bundle: Path | None, data_dir: Path) -> Settings:
    return Settings(
        graph_url=base_url, authority_host=base_url, ca_bundle=ca_bundle, data_dir=data_dir
    )


@contextlib.contextmanager
def serve(directory: Path, users: int = 300, seed: int = 3, **options: Any) -> Iterator[Sim]:
    """Serve a fresh tenant over HTTPS until the block ends."""
    tenant = Tenant.create(users=users, seed=seed, now=NOW, **options)
    with running(create_app(tenant), cert_dir=directory / "cert") as handle:
        settings = settings_for(handle.base_url, handle.ca_bundle, directory / "data")
        yield Sim(tenant, handle.base_url, handle.ca_bundle, settings)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    """A 300-user tenant for the whole module (tests restore what they change)."""
    with serve(tmp_path_factory.mktemp("sim")) as running_sim:
        yield running_sim


class Recording(httpx.BaseTransport):
    """A real HTTPS transport that also keeps every request and response body it carried."""

    def __init__(self, settings: Settings) -> None:
        self.inner = httpx.HTTPTransport(verify=tls_context(settings), trust_env=False)
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.inner.handle_request(request)
        try:
            content = response.read()
        finally:
            response.close()
        self.bodies.append(content)
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(response.status_code, headers=headers, content=content)

    def json_bodies(self) -> list[Any]:
        return [orjson.loads(b) if b else None for b in self.bodies]

    def close(self) -> None:
        self.inner.close()


def sign_in_page_post(
    browser: httpx.Client, auth_uri: str, upn: str, password: str, decision: str = "accept"
) -> httpx.Response:
    """GET the sign-in page, then submit its form as a browser would (hidden fields included)."""
    page = browser.get(auth_uri)
    assert page.status_code == 200, page.text
    match = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert match, page.text
    fields = hidden_fields(page.text)
    fields.update({"loginfmt": upn, "passwd": password, "decision": decision})
    return browser.post(urljoin(auth_uri, html.unescape(match.group(1))), data=fields)


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden inputs of an HTML page (the form_post answer carries the code in them)."""
    return {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)"', page)
    }


def form_action(page: str) -> str:
    match = re.search(r'<form method="post" name="hiddenform" action="([^"]+)"', page)
    assert match, page
    return html.unescape(match.group(1))
