"""End-to-end fixtures: a simulated tenant served over real HTTPS, seatwise's CLI run in-process
against it with its own data directory and database (SQLite file, or PostgreSQL when
`SEATWISE_TEST_DATABASE_URL` is set, in a schema of its own per test).
"""

from __future__ import annotations

import contextlib
import io
import os
import ssl
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import create_engine, text

from seatwise.cli import main
from seatwise.simulator import Tenant, create_app
from seatwise.simulator.server import ServerHandle, running
from seatwise.simulator.tokens import TokenStore
from seatwise.store import ensure_schema, make_engine, session_scope
from seatwise.store.schema import Tenant as StoredTenant
from seatwise.sync.context import TaskContext

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PG_ENV = "SEATWISE_TEST_DATABASE_URL"


@dataclass
class Result:
    """What one CLI invocation did."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return orjson.loads(self.out)


@dataclass
class Sim:
    """A simulated tenant behind a real HTTPS server."""

    tenant: Tenant
    server: ServerHandle
    tokens: TokenStore

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        verify = ssl.create_default_context(cafile=str(self.server.ca_bundle))
        with httpx.Client(verify=verify, trust_env=False) as client:
            response = client.post(f"{self.server.base_url}/_control/{path}", json=body or {})
            response.raise_for_status()
            return response.json() if response.content else None

    def stats(self) -> Any:
        """The simulator's `/_control/stats`: calls per route, faults injected, ..."""
        verify = ssl.create_default_context(cafile=str(self.server.ca_bundle))
        with httpx.Client(verify=verify, trust_env=False) as client:
            response = client.get(f"{self.server.base_url}/_control/stats")
            return response.raise_for_status().json()

    def server_app_tokens(self) -> list[str]:
        """Refresh tokens the simulator has issued."""
        return self.tokens.refresh_tokens()


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of `sql` in the database at `url`, read on an engine of its own."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    """Run `statements` in one transaction on the database at `url`, on an engine of its own."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


@contextlib.contextmanager
def serve(tmp: Path, users: int = 120, seed: int = 5, **options: Any) -> Iterator[Sim]:
    """Serve a fresh tenant; `options` are simulator tenant options."""
    tenant = Tenant.create(users=users, seed=seed, now=NOW, report_throttle=False, **options)
    tmp.mkdir(parents=True, exist_ok=True)
    app = create_app(tenant)
    with running(app, tmp) as server:
        yield Sim(tenant, server, app.state.sim.tokens)


def _postgres_schema_url(base: str) -> Iterator[str]:
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database per test: a SQLite file, and PostgreSQL when available."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'seatwise.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    yield from _postgres_schema_url(base)


class Seatwise:
    """The `seatwise` command run in-process with its own environment, in a terminal `width`
    columns wide (`lines` high when set; never a TTY)."""

    width = 200
    lines: int | None = None

    def __init__(self, monkeypatch: pytest.MonkeyPatch, data_dir: Path, database_url: str) -> None:
        self.monkeypatch = monkeypatch
        self.data_dir = data_dir
        self.database_url = database_url
        for name in list(os.environ):
            if name.startswith("SEATWISE_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("SEATWISE_DATA_DIR", str(data_dir))
        monkeypatch.setenv("SEATWISE_DATABASE_URL", database_url)
        monkeypatch.setenv("SEATWISE_SECRET_KEY", "test passphrase, not a real secret")

    def point_at(self, sim: Sim) -> None:
        """Use this simulator as Graph and as the identity platform."""
        self.monkeypatch.setenv("SEATWISE_GRAPH_URL", sim.server.base_url)
        self.monkeypatch.setenv("SEATWISE_AUTHORITY_HOST", sim.server.base_url)
        self.monkeypatch.setenv("SEATWISE_CA_BUNDLE", str(sim.server.ca_bundle))
        self.monkeypatch.setenv("SIM_CLIENT_SECRET", sim.tenant.app.client_secret)

    def add_app_only(self, sim: Sim, name: str = "sim", *extra: str) -> Result:
        """`seatwise tenant add` with the simulator's app registration (and `extra` options)."""
        self.point_at(sim)
        return self(
            "tenant",
            "add",
            name,
            "--tenant-id",
            sim.tenant.tenant_id,
            "--client-id",
            sim.tenant.app.client_id,
            "--client-secret-env",
            "SIM_CLIENT_SECRET",
            *extra,
        )

    def __call__(self, *args: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = 0
        self.monkeypatch.setattr(sys, "argv", ["seatwise", *args])
        self.monkeypatch.setenv("COLUMNS", str(self.width))
        if self.lines is not None:
            self.monkeypatch.setenv("LINES", str(self.lines))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = int(exc.code or 0)
        return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def seatwise(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Seatwise:
    return Seatwise(monkeypatch, tmp_path / "data", database_url)


@pytest.fixture
def store_ctx(tmp_path: Path) -> Iterator[TaskContext]:
    """A roster task's context on a fresh SQLite store with one tenant, for the sync's pieces
    that only store what they are given (no Graph client: they never call Graph)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'seatwise.db'}")
    ensure_schema(engine)
    try:
        with session_scope(engine) as session:
            tenant = StoredTenant(
                name="t",
                tenant_id="t",
                client_id="c",
                auth_mode="app",
                created_at=NOW,
                updated_at=NOW,
            )
            session.add(tenant)
            session.flush()
            client: Any = None
            yield TaskContext(task="roster", session=session, client=client, tenant=tenant, now=NOW)
    finally:
        engine.dispose()
