"""`seatwise serve` (web UI + API). The account and token commands (`seatwise user …`,
`seatwise token …`) live in `seatwise.cli.accounts`; they are re-exported here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from seatwise.cli.accounts import token_app, user_app
from seatwise.cli.context import Context

if TYPE_CHECKING:
    from fastapi import FastAPI

    from seatwise.config import Settings

__all__ = ["serve", "served_app", "token_app", "user_app"]

err = Console(stderr=True, highlight=False, soft_wrap=True)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Web processes sharing the port (about one per CPU core answers the most).",
        ),
    ] = 1,
) -> None:
    """Serve the web UI and the reporting API. On SQLite it also runs the integration tasks on
    schedule (License Information every 24 hours, the others daily at each tenant's hour); on
    PostgreSQL `seatwise worker` processes run them and "Run now" queues jobs for them."""
    import uvicorn

    ctx = Context()
    ctx.engine.dispose()  # the database is reachable and migrated before any worker starts
    where = f"http://{host}:{port}/"
    many = f", {workers} worker processes" if workers > 1 else ""
    err.print(f"seatwise on {where} (API docs at /api/docs{many}). Ctrl-C stops it.")
    if ctx.is_postgresql:
        err.print("Syncs run in `seatwise worker` processes (PostgreSQL): start at least one.")
    if workers == 1:
        uvicorn.run(served_app(ctx.settings), host=host, port=port, log_level="warning")
        return
    # Each worker builds its app from the same settings (environment and seatwise.toml).
    uvicorn.run(
        "seatwise.cli.web:served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


def served_app(settings: Settings | None = None) -> FastAPI:
    """The web app, as `seatwise serve` runs it in each process, with the in-process scheduler
    on SQLite (several processes may all schedule: the sync lease lets one sync of a tenant run
    at a time). On PostgreSQL, `seatwise worker` schedules instead."""
    from seatwise.web.app import create_app
    from seatwise.web.scheduler import install

    app = create_app(settings)
    if not app.state.web.workspace.is_postgresql:
        install(app)  # the integration tasks on their schedules, for every active tenant
    return app
