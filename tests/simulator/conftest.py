"""Fixtures for simulator tests: a small deterministic tenant served in-process, and tokens
obtained from its own identity platform (client credentials), never forged.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from seatwise.simulator import Tenant, create_app

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BASE = "https://127.0.0.1"


def make_tenant(users: int = 60, seed: int = 7, **options: object) -> Tenant:
    """A small tenant with a fixed present, so every run sees the same data."""
    return Tenant.create(users=users, seed=seed, now=NOW, **options)


def app_token(client: TestClient, tenant: Tenant) -> str:
    """An app-only access token from the simulator's token endpoint."""
    response = client.post(
        f"/{tenant.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": tenant.app.client_id,
            "client_secret": tenant.app.client_secret,
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


class Graph:
    """A TestClient bound to one tenant with an app-only bearer token."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.app = create_app(tenant)
        self.client = TestClient(self.app, base_url=BASE, follow_redirects=False)
        self.client.headers["Authorization"] = f"Bearer {app_token(self.client, tenant)}"

    def get(self, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        return self.client.get(url, **kwargs)  # type: ignore[arg-type]

    def post(self, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        return self.client.post(url, **kwargs)  # type: ignore[arg-type]

    def pages(self, url: str, **kwargs: object) -> list[dict[str, object]]:
        """Every item of a collection, following `@odata.nextLink` to the end."""
        items: list[dict[str, object]] = []
        next_url: str | None = url
        while next_url:
            response = self.get(next_url, **kwargs)
            kwargs.pop("params", None)  # the nextLink carries every query option
            assert response.status_code == 200, response.text
            body = response.json()
            items.extend(body["value"])
            next_url = body.get("@odata.nextLink")
        return items


@pytest.fixture
def tenant() -> Tenant:
    return make_tenant()


@pytest.fixture
def graph(tenant: Tenant) -> Iterator[Graph]:
    g = Graph(tenant)
    with g.client:
        yield g
