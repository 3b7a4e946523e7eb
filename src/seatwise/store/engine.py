"""Engines, units of work and schema migrations: `make_engine`, `session_scope`, `ensure_schema`.

SQLite gets WAL, foreign keys and a busy timeout on every connection; PostgreSQL goes through
psycopg 3. Driver failures become `StoreError` with one sentence and no password. Imports from
seatwise only `errors` and (when a database is new) `store.schema`.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, func, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError

from seatwise.errors import StoreError

# Alembic is imported when a migration is looked at, not when the schema is current, and the
# ORM (`Session`, the mapped classes of `store.schema`) when a session is opened: a CLI command
# that reads through `connection_scope` then starts without either.
if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy.orm import Session

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "check_file_modes",
    "connection_scope",
    "current_revision",
    "describe_url",
    "ensure_schema",
    "head_revision",
    "make_engine",
    "migration_connection",
    "session_scope",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger(__name__)
# A SQLite database's side files; SQLite creates them with the database file's mode.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
# Private files seatwise keeps beside a database in the data directory.
PRIVATE_NEIGHBOURS = ("secret.key", "crash.log")

# Key of the PostgreSQL advisory lock that serialises migrations between processes/machines.
_MIGRATION_LOCK_KEY = 0x5EA7_0001

# Execution option: on SQLite, take the write lock at BEGIN rather than at the first write.
_IMMEDIATE = "seatwise_begin_immediate"

# How long a SQLite connection waits for another process's write lock, unless the URL says
# (`sqlite:///path?timeout=SECONDS`, pysqlite's own parameter).
BUSY_TIMEOUT_S = 30.0
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


def describe_url(url: URL | str) -> str:
    """Name a database for messages: a SQLite file's path, else the URL with the password hidden."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return parsed.render_as_string(hide_password=True)


def _driver_message(exc: BaseException, url: URL) -> str:
    """The first line of a driver error, without a trailing period and never with the password."""
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    message = lines[0].strip().rstrip(".") if lines else type(exc).__name__
    if url.password:
        message = message.replace(str(url.password), "***")
    return message


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            "The database URL is not valid: expected sqlite:///PATH or "
            "postgresql://USER:PASSWORD@HOST/DATABASE."
        ) from exc
    # Split by hand: get_driver_name() would load the dialect, and "postgres" has none.
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise StoreError(
                f"seatwise talks to PostgreSQL through psycopg 3, not {driver}: "
                f"use a postgresql+psycopg:// or postgresql:// URL."
            )
        return parsed.set(drivername="postgresql+psycopg")
    if backend != "sqlite":
        raise StoreError(
            f"seatwise stores its data in SQLite or PostgreSQL, not {backend}: "
            f"check the database URL {describe_url(parsed)}."
        )
    return parsed


def _sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL, or None for in-memory and `file:` URI databases."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _busy_timeout_ms(url: URL) -> int:
    raw = url.query.get("timeout")
    try:
        seconds = float(raw if isinstance(raw, str) else BUSY_TIMEOUT_S)
    except ValueError:
        raise StoreError(
            f"The database URL's timeout must be a number of seconds, not {raw!r}."
        ) from None
    return max(0, int(seconds * 1000))


def _on_sqlite_connect(dbapi_connection: Any, connection_record: Any, busy_ms: int) -> None:
    del connection_record
    # Let SQLAlchemy emit BEGIN (see `_on_sqlite_begin`): the sqlite3 module's legacy
    # transaction control neither begins before SELECT nor makes DDL transactional.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # First, so that switching to WAL waits for other writers.
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(_IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str) -> Engine:
    """Create the engine for a SQLite or PostgreSQL URL; connects lazily.

    SQLite: the file's directory is created, and every connection gets WAL, foreign keys,
    `synchronous=NORMAL` and a 30 s busy timeout. PostgreSQL: `postgresql://` is rewritten to
    psycopg 3, connections are pinged before use. Raises `StoreError` for an unusable URL or a
    directory that cannot be created.
    """
    parsed = _parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_file(parsed)
        if path is not None:
            _private_file(path)
            check_file_modes(path)
        # Few pooled connections, each keeping its own warm page cache; bursts (the web app's
        # thread pool) open overflow connections, which close when they come back. Statement
        # parameters (users' names, UPNs) never appear in error messages.
        engine = create_engine(parsed, pool_size=8, max_overflow=32, hide_parameters=True)
        busy_ms = _busy_timeout_ms(parsed)

        def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
            _on_sqlite_connect(dbapi_connection, connection_record, busy_ms)

        event.listen(engine, "connect", on_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = 10
    return create_engine(
        parsed, pool_pre_ping=True, connect_args=connect_args, hide_parameters=True
    )


def _private_file(path: Path) -> None:
    """Create the database's directory (0700) and an empty database file (0600) when missing,
    whatever the umask: SQLite then creates the WAL and SHM files with the file's mode."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"Cannot open the database at {path}: cannot create its directory "
            f"{path.parent} ({exc.strerror or exc})."
        ) from exc
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"Cannot create the database at {path}: {exc.strerror or exc}.") from exc
    os.fchmod(fd, 0o600)  # the umask may have narrowed O_CREAT's mode, never widened it
    os.close(fd)


def loose_modes(path: Path) -> list[str]:
    """The database file, its side files, the key file and crash log beside it, and its
    directory, that other users can read or write, each as `name (mode)`."""
    found: list[str] = []
    candidates = (
        path,
        *(path.with_name(path.name + s) for s in SQLITE_SIDE_FILES),
        *(path.with_name(name) for name in PRIVATE_NEIGHBOURS),
    )
    for candidate in candidates:
        try:
            mode = stat.S_IMODE(candidate.stat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            found.append(f"{candidate} ({mode:04o})")
    try:
        mode = stat.S_IMODE(path.parent.stat().st_mode)
    except OSError:
        return found
    if mode & 0o077:
        found.append(f"{path.parent} ({mode:04o})")
    return found


def check_file_modes(path: Path) -> list[str]:
    """Warn (log) when an operator loosened the modes of the database, its WAL and SHM files
    or its directory, which hold users' personal data and password hashes."""
    loose = loose_modes(path)
    if loose:
        log.warning(
            "Other users can read seatwise's data: %s; run chmod 600 on the files and chmod "
            "700 on the directory.",
            ", ".join(loose),
        )
    return loose


def _open_error(engine: Engine, exc: BaseException) -> StoreError:
    return StoreError(
        f"Cannot open the database at {describe_url(engine.url)}: "
        f"{_driver_message(exc, engine.url)}."
    )


@contextmanager
def session_scope(engine: Engine, *, immediate: bool = False) -> Iterator[Session]:
    """One unit of work: commit when the block succeeds, roll back when it raises.

    Write helpers never commit; the caller's block is the transaction. Objects stay usable after
    the commit (`expire_on_commit=False`). Operational failures of the database (unreachable,
    locked, disk full) become `StoreError`; other errors propagate unchanged.

    `immediate=True` is for long units of work that read and then write, such as a sync run:
    on SQLite it takes the write lock at the start (waiting up to the busy timeout for another
    writer), because a transaction that has read cannot wait for the lock later and fails with
    "database is locked" instead. Readers are never blocked (WAL). No effect on PostgreSQL.
    """
    from sqlalchemy.orm import Session

    bind = engine.execution_options(**{_IMMEDIATE: True}) if immediate else engine
    try:
        with Session(bind, expire_on_commit=False) as session, session.begin():
            yield session
    except (OperationalError, InterfaceError) as exc:
        raise _failed(engine, exc) from exc


@contextmanager
def connection_scope(engine: Engine) -> Iterator[Connection]:
    """One unit of work on a Core connection, for reads that need no ORM (`store.reads`' Core
    queries): commits when the block succeeds, rolls back when it raises, and turns operational
    failures of the database into `StoreError` as `session_scope` does. Loads no mapped class."""
    try:
        with engine.connect() as connection, connection.begin():
            yield connection
    except (OperationalError, InterfaceError) as exc:
        raise _failed(engine, exc) from exc


def _failed(engine: Engine, exc: DBAPIError) -> StoreError:
    """The `StoreError` for an operational failure inside a unit of work."""
    message = _driver_message(exc, engine.url)
    if engine.dialect.name == "sqlite" and "locked" in message:
        waited = _busy_timeout_ms(engine.url) / 1000
        return StoreError(
            f"The database at {describe_url(engine.url)} is locked by another process "
            f"(waited {waited:g} s): try again when it has finished."
        )
    return StoreError(f"The database at {describe_url(engine.url)} failed: {message}.")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic `Config` for seatwise's migrations, bound to `connection` when given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest schema revision this version of seatwise knows."""
    head = _scripts().get_current_head()
    if head is None:  # pragma: no cover - the package always ships a migration
        raise StoreError("seatwise was installed without its database migrations.")
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at, or None when it has never been migrated."""
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as connection:
            heads = MigrationContext.configure(connection).get_current_heads()
    except DBAPIError as exc:
        raise _open_error(engine, exc) from exc
    if len(heads) > 1:
        raise StoreError(
            f"The database at {describe_url(engine.url)} has several schema heads "
            f"({', '.join(sorted(heads))}): it was migrated by a different version of seatwise."
        )
    return heads[0] if heads else None


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction, safe for migrations; commits when the block succeeds.

    On SQLite, foreign keys are switched off for the duration (batch mode copies and drops
    tables, and a DROP with foreign keys on would cascade-delete child rows) and checked before
    the commit. On PostgreSQL, an advisory lock keeps concurrent upgrades from colliding.
    """
    sqlite = engine.dialect.name == "sqlite"
    try:
        # BEGIN IMMEDIATE on SQLite: two processes migrating at once queue up, not collide.
        connection = engine.execution_options(**{_IMMEDIATE: True}).connect()
    except DBAPIError as exc:
        raise _open_error(engine, exc) from exc
    with connection:
        # PRAGMA foreign_keys is a no-op inside a transaction: set it before BEGIN.
        raw = connection.connection.dbapi_connection if sqlite else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                if engine.dialect.name == "postgresql":
                    connection.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
                yield connection
                if raw is not None:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise StoreError(
                            f"A migration of the database at {describe_url(engine.url)} left "
                            f"{len(broken)} rows with a broken foreign key; nothing was changed."
                        )
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to `revision` (default: the newest) with Alembic, in one transaction.

    Used by `seatwise db upgrade` and by `ensure_schema`. Raises `StoreError` when the database
    cannot be opened or a migration fails; a failed upgrade leaves the schema as it was.
    """
    from alembic import command
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    where = describe_url(engine.url)
    try:
        with migration_connection(engine) as connection:
            command.upgrade(alembic_config(connection), revision)
    except (CommandError, RevisionError) as exc:
        raise StoreError(f"Cannot upgrade the database at {where}: {exc}.") from exc
    except DBAPIError as exc:  # connecting failed inside migration_connection already
        raise StoreError(
            f"Cannot upgrade the database at {where}: {_driver_message(exc, engine.url)}."
        ) from exc


def ensure_schema(engine: Engine) -> None:
    """Make sure the database is at the newest schema: upgrade it when empty or behind.

    Cheap when it is current (one query, no Alembic). Raises `StoreError` when the database
    cannot be opened, holds tables of something other than seatwise, or is newer than this
    seatwise.
    """
    if _stored_revision(engine) == shipped_head():
        return
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    where = describe_url(engine.url)
    if current is None:
        from seatwise.store.schema import metadata

        try:
            with engine.connect() as connection:
                existing = set(inspect(connection).get_table_names())
        except DBAPIError as exc:
            raise _open_error(engine, exc) from exc
        clash = sorted(existing & set(metadata.tables))
        if clash:
            raise StoreError(
                f"The database at {where} already has tables ({', '.join(clash[:3])}) but no "
                f"seatwise schema version: point seatwise at an empty database."
            )
    elif not _known(current):
        raise StoreError(
            f"The database at {where} is at schema revision {current}, which this version of "
            f"seatwise does not know: upgrade seatwise."
        )
    upgrade(engine)


_REVISION = re.compile(r'^revision: str = "([^"]+)"', re.M)
_DOWN = re.compile(r'^down_revision: [^=]+= "([^"]+)"', re.M)


@functools.cache
def shipped_head() -> str | None:
    """The newest revision among the shipped migration files, read as text (the one no other
    revises), or None when that cannot be told that way; `head_revision` asks Alembic."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        found = _REVISION.search(text)
        if found is None:
            return None
        revisions.add(found.group(1))
        revised.update(_DOWN.findall(text))
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


def _stored_revision(engine: Engine) -> str | None:
    """The revision in `alembic_version` by one plain query; None when there is none (or the
    table is missing: the caller then asks Alembic)."""
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except DBAPIError:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def _known(revision: str) -> bool:
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    try:
        return _scripts().get_revision(revision) is not None
    except (CommandError, RevisionError):
        return False
