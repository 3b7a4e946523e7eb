"""Fixtures for store tests: an `engine` on every back end, migrated with Alembic.

SQLite always runs: each test gets a copy of a database file upgraded once per session.
PostgreSQL runs when SEATWISE_TEST_DATABASE_URL is set (CI starts a server; see .ci/run): each
test session migrates a schema of its own, every test empties it afterwards, and the schema is
dropped at the end. Without the variable the PostgreSQL cases skip.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, make_url, text

from seatwise.store.engine import make_engine, upgrade
from seatwise.store.schema import Tenant, metadata

PG_URL_VARIABLE = "SEATWISE_TEST_DATABASE_URL"
BACKENDS = ("sqlite", "postgresql")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 20)


def _pg_url() -> str:
    url = os.environ.get(PG_URL_VARIABLE, "").strip()
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_URL_VARIABLE}")
    return url


def _in_schema(url: str, schema: str) -> str:
    """The URL with every connection's search_path set to `schema`."""
    parsed = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return parsed.render_as_string(hide_password=False)


class PgSchemas:
    """Creates uniquely named PostgreSQL schemas and drops them all at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = make_engine(url)
        self.names: list[str] = []

    def create(self) -> str:
        """A new empty schema; returns a URL whose connections use it."""
        name = f"seatwise_test_{uuid.uuid4().hex[:12]}"
        with self.admin.begin() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {name}")
        self.names.append(name)
        return _in_schema(self.url, name)

    def drop_all(self) -> None:
        with self.admin.begin() as connection:
            for name in self.names:
                connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_schemas() -> Iterator[PgSchemas]:
    schemas = PgSchemas(_pg_url())
    try:
        yield schemas
    finally:
        schemas.drop_all()


@pytest.fixture(scope="session")
def pg_migrated_url(pg_schemas: PgSchemas) -> str:
    """A schema upgraded to head once per test session (per xdist worker)."""
    url = pg_schemas.create()
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file upgraded to head once; tests get copies of it."""
    path = tmp_path_factory.mktemp("template") / "seatwise.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()  # the last connection to close checkpoints and removes the WAL file
    return path


def _empty_tables(engine: Engine) -> None:
    # DELETE, not TRUNCATE: on a few rows it is ten times faster.
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the back end a parametrised test runs on."""
    if request.param == "postgresql":
        _pg_url()
    return str(request.param)


@pytest.fixture
def engine(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database at the newest schema, empty, private to this test."""
    if backend == "sqlite":
        path = tmp_path / "seatwise.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        engine = make_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    engine = make_engine(request.getfixturevalue("pg_migrated_url"))
    try:
        yield engine
    finally:
        _empty_tables(engine)
        engine.dispose()


@pytest.fixture
def fresh_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database (no tables at all) on the back end."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh' / 'seatwise.db'}"
    schemas: PgSchemas = request.getfixturevalue("pg_schemas")
    return schemas.create()


@pytest.fixture
def engines() -> Iterator[Callable[[str], Engine]]:
    """`make_engine` whose engines are all disposed after the test."""
    made: list[Engine] = []

    def make(url: str) -> Engine:
        engine = make_engine(url)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.dispose()


def add_tenant(session: Any, name: str = "contoso", **values: Any) -> int:
    """Add a tenant and return its pk."""
    tenant = Tenant(
        name=name,
        tenant_id=values.pop("tenant_id", str(uuid.uuid4())),
        client_id=values.pop("client_id", str(uuid.uuid4())),
        auth_mode=values.pop("auth_mode", "delegated"),
        created_at=NOW,
        updated_at=NOW,
        **values,
    )
    session.add(tenant)
    session.flush()
    return tenant.pk


def count(engine: Engine, table: str, where: str = "") -> int:
    """Rows in a table (optionally matching a SQL condition)."""
    with engine.connect() as connection:
        sql = f'SELECT count(*) FROM "{table}"' + (f" WHERE {where}" if where else "")
        return int(connection.execute(text(sql)).scalar_one())
