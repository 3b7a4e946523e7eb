"""Alembic environment of seatwise: migrates on the connection given, else on Settings' database.

`seatwise.store.engine.upgrade` passes its connection in `config.attributes["connection"]`; the
`alembic` command line uses `sqlalchemy.url` when set programmatically, else `load_settings()`.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from seatwise.store.schema import metadata

config = context.config
if config.config_file_name is not None:  # the alembic command line: log as alembic.ini says
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _run(connection: Connection) -> None:
    # Batch mode everywhere: on SQLite it recreates tables for ALTERs it cannot do in place,
    # and migrations written with it run unchanged on PostgreSQL. DDL is transactional on
    # SQLite too, since seatwise's engine emits BEGIN itself (see store.engine).
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from seatwise.config import load_settings

    return load_settings().effective_database_url


def _run_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=metadata,
        render_as_batch=True,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from seatwise.store.engine import make_engine, migration_connection

    engine = make_engine(_url())
    try:
        with migration_connection(engine) as own:
            _run(own)
    finally:
        engine.dispose()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
