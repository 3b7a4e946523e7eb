"""`seatwise serve` (web UI + API), `seatwise user create` (local accounts) and
`seatwise token create` (API tokens)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from seatwise.cli.context import Context
from seatwise.errors import UsageError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from seatwise.config import Settings

__all__ = ["serve", "served_app", "token_app", "user_app"]

user_app = typer.Typer(help="Local accounts of the web UI.", no_args_is_help=True)
token_app = typer.Typer(help="Bearer tokens for the reporting API.", no_args_is_help=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

RoleOption = Annotated[str, typer.Option("--role", help="admin or viewer.")]


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


@user_app.command("create")
def create_user(
    username: Annotated[str, typer.Argument(help="The account's name.")],
    role: RoleOption = "viewer",
    password_env: Annotated[
        str | None,
        typer.Option("--password-env", help="Read the password from this environment variable."),
    ] = None,
) -> None:
    """Create a local account (asks for the password unless --password-env is given)."""
    from seatwise.config import secret_from_environment
    from seatwise.workspace.accounts import create_user as make

    if password_env:
        password = secret_from_environment(password_env)
        if password is None:
            raise UsageError(f"The environment variable {password_env} is not set.")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    ctx = Context()
    with ctx.session() as session:
        make(session, username, password, role)
    err.print(f"User {username} created with role {role}.")


@token_app.command("create")
def create_token(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. powerbi.")] = "api",
    role: RoleOption = "viewer",
) -> None:
    """Create an API token and print it (shown once; only its hash is stored)."""
    from seatwise.reclaim.audit import current_actor
    from seatwise.workspace.accounts import create_token as make

    if not name.strip():
        raise UsageError("A token needs a name.")
    ctx = Context()
    with ctx.session() as session:
        token = make(session, name.strip(), role, current_actor())
    err.print(f"API token {name!r} ({role}); keep it safe, it is not shown again:")
    typer.echo(token)
