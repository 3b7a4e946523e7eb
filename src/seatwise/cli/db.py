"""`seatwise db upgrade`: apply Alembic migrations to the configured database."""

from __future__ import annotations

import typer

app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Migrate the database to the current schema (also done automatically on first use)."""
    from seatwise.config import load_settings
    from seatwise.store import make_engine
    from seatwise.store import upgrade as run_upgrade
    from seatwise.store.engine import describe_url

    settings = load_settings()
    engine = make_engine(settings.effective_database_url)
    run_upgrade(engine)
    typer.echo(f"Database {describe_url(engine.url)} is at the current schema.", err=True)
