"""What a command loads before it prints (bench/bench_cli.py times it): `seatwise --help` loads
neither SQLAlchemy nor pydantic, and `seatwise tasks` on a current schema reads through SQLAlchemy
Core without the ORM, Alembic, pydantic-settings, httpx or cryptography. Each command runs in a
fresh interpreter, whose `sys.modules` is the evidence. The Core reads it uses give what the ORM
reads give, with the same errors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import TableClause

from seatwise.cli.context import Context
from seatwise.config import Settings
from seatwise.errors import UsageError
from seatwise.store import reads
from seatwise.store.schema import TaskRun, Tenant, metadata

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SECRET_KEY = "test passphrase, not a real secret"

# Runs `seatwise ARGS` in this interpreter and writes the exit code and the modules loaded by
# then to the file named first: `python -c PROBE RESULT ARGS...`.
PROBE = """
import json, sys
result = sys.argv.pop(1)
sys.argv[0] = "seatwise"
from seatwise.cli import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
with open(result, "w", encoding="utf-8") as fh:
    json.dump({"code": code, "modules": sorted(sys.modules)}, fh)
"""

# Loaded by neither command: the ORM's mappers, migrations, the Graph client and its identity
# and crypto libraries, the sync and analytics stages, the write helpers.
NEVER = (
    "alembic",
    "cryptography",
    "httpx",
    "msal",
    "pydantic_settings",
    "seatwise.analytics",
    "seatwise.graph",
    "seatwise.secrets",
    "seatwise.store.schema",
    "seatwise.store.writes",
    "seatwise.sync",
    "sqlalchemy.orm",
)
# Not loaded by `--help` either: the help is Typer's and the command modules'.
NOT_FOR_HELP = ("pydantic", "seatwise.config", "seatwise.store", "sqlalchemy")


def _settings(tmp_path: Path, database_url: str | None = None) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, secret_key=SECRET_KEY)


def _tenant(name: str, superseded_by: str | None = None) -> Tenant:
    return Tenant(
        name=name,
        tenant_id=f"{name}-tenant-id",
        client_id=f"{name}-client-id",
        auth_mode="app",
        created_at=NOW,
        updated_at=NOW,
        superseded_by=superseded_by,
    )


def _runs(tenant_pk: int) -> list[TaskRun]:
    common = {"tenant_pk": tenant_pk, "counts": {"users": 3}}
    return [
        TaskRun(
            **common, task="roster", started_at=NOW, status="succeeded", notes=[], duration_s=1.25
        ),
        # the same start: the newer key comes first
        TaskRun(
            **common,
            task="license-info",
            started_at=NOW,
            status="failed",
            notes=["partly"],
            error="needs permission AuditLog.Read.All",
            duration_s=None,
        ),
        TaskRun(
            **common,
            task="access",
            started_at=NOW - timedelta(hours=1, seconds=1),
            status="running",
            notes=["first", "second"],
        ),
    ]


def _store(settings: Settings, *tenants: Tenant, runs_of: str | None = None) -> None:
    """Migrate the database and add the tenants (and runs for the one called `runs_of`)."""
    with Context(settings) as ctx, ctx.session(write=True) as session:
        session.add_all(tenants)
        session.flush()
        for tenant in tenants:
            if tenant.name == runs_of:
                session.add_all(_runs(tenant.pk))


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    with Context(_settings(tmp_path, database_url)) as context:
        yield context


def _probe(tmp_path: Path, *args: str) -> tuple[int, set[str], str]:
    """Run `seatwise ARGS` in a fresh interpreter on the data directory under `tmp_path`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEATWISE_")}
    env |= {
        "SEATWISE_DATA_DIR": str(tmp_path / "data"),
        "SEATWISE_SECRET_KEY": SECRET_KEY,
        "COLUMNS": "120",
    }
    result = tmp_path / "probe.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(result), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.exists(), done.stderr
    probe = json.loads(result.read_text(encoding="utf-8"))
    return int(probe["code"] or 0), set(probe["modules"]), done.stdout


def _loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


def test_help_loads_neither_the_store_nor_pydantic(tmp_path: Path) -> None:
    code, modules, out = _probe(tmp_path, "--help")
    assert code == 0 and "tasks" in out
    assert _loaded(modules, NEVER + NOT_FOR_HELP) == []


def test_tasks_reads_without_the_orm_or_alembic(tmp_path: Path) -> None:
    _store(_settings(tmp_path), _tenant("acme"), runs_of="acme")
    code, modules, out = _probe(tmp_path, "tasks")
    assert code == 0, out
    assert "Task runs of acme (UTC)" in out
    assert "2026-11-20 12:00 │ Application Roster  │ succeeded │ 1.2 " in out
    assert "needs permission AuditLog.Read.All partly" not in out  # the error, not the notes
    assert "needs permission AuditLog.Read.All" in out and "first second" in out
    assert out.index("License Information") < out.index("Application Roster") < out.index("Access")
    assert "sqlalchemy" in modules  # the probe did read the store
    assert _loaded(modules, NEVER) == []


def test_the_laziness_check_sees_a_heavy_import(tmp_path: Path) -> None:
    """The probe itself: a command that needs the ORM (`tenant list` reads mapped tenants)
    shows it, so an empty list above means the modules were not loaded, not that none show."""
    _store(_settings(tmp_path), _tenant("acme"))
    code, modules, _ = _probe(tmp_path, "tenant", "list")
    assert code == 0
    assert "sqlalchemy.orm" in modules and "seatwise.store.schema" in modules


@pytest.mark.parametrize("view", [reads.TENANT_VIEW, reads.TASK_RUN_VIEW], ids=lambda v: v.name)
def test_core_views_match_the_schema(view: TableClause) -> None:
    table = metadata.tables[view.name]
    for column in view.columns:
        assert column.name in table.c, f"{view.name}.{column.name} is not in store.schema"
        real = table.c[column.name].type
        for dialect in (sqlite.dialect(), postgresql.dialect()):
            assert column.type.compile(dialect) == real.compile(dialect), (
                f"{view.name}.{column.name}: {column.type!r} in store.reads, {real!r} in the schema"
            )


def test_tenant_key_refuses_as_tenant_does(ctx: Context) -> None:
    for name in (None, "nobody"):
        with ctx.session() as session, pytest.raises(UsageError) as orm:
            ctx.tenant(session, name)
        with ctx.reading() as connection, pytest.raises(UsageError) as core:
            ctx.tenant_key(connection, name)
        assert str(core.value) == str(orm.value)
    with ctx.session(write=True) as session:
        session.add_all([_tenant("acme"), _tenant("globex")])
    with ctx.session() as session, pytest.raises(UsageError) as orm:
        ctx.tenant(session, None)
    with ctx.reading() as connection, pytest.raises(UsageError) as core:
        ctx.tenant_key(connection, None)
    assert str(core.value) == str(orm.value)


def test_tenant_key_finds_what_tenant_finds(ctx: Context) -> None:
    with ctx.session(write=True) as session:
        session.add_all([_tenant("old", superseded_by="new"), _tenant("new")])
    for name in (None, "old", "new"):
        with ctx.session() as session:
            tenant = ctx.tenant(session, name)
        with ctx.reading() as connection:
            key = ctx.tenant_key(connection, name)
        assert key == (tenant.pk, tenant.name)


def test_recent_run_summaries_are_recent_runs(ctx: Context) -> None:
    with ctx.session(write=True) as session:
        acme, globex = _tenant("acme"), _tenant("globex")
        session.add_all([acme, globex])
        session.flush()
        session.add_all(_runs(acme.pk) + _runs(globex.pk))
    for limit in (20, 2):
        with ctx.session() as session:
            orm = [
                (r.started_at, r.task, r.status, r.duration_s, r.error, r.notes)
                for r in reads.recent_runs(session, acme.pk, limit)
            ]
        with ctx.reading() as connection:
            core = reads.recent_run_summaries(connection, acme.pk, limit)
        assert [tuple(s) for s in core] == orm
        assert len(core) == min(limit, 3)
        assert all(s.started_at.tzinfo is UTC for s in core)
