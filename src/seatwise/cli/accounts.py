"""`seatwise user …` (local accounts of the web UI) and `seatwise token …` (bearer tokens of the
reporting API): thin adapters over `seatwise.workspace.accounts`, which audits every change."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from seatwise.cli.context import Context
from seatwise.cli.output import OutputFormat, emit
from seatwise.cli.report import FormatOption
from seatwise.errors import UsageError

__all__ = ["token_app", "user_app"]

user_app = typer.Typer(help="Local accounts of the web UI.", no_args_is_help=True)
token_app = typer.Typer(help="Bearer tokens for the reporting API.", no_args_is_help=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

RoleOption = Annotated[str, typer.Option("--role", help="admin or viewer.")]
NameArgument = Annotated[str, typer.Argument(help="The account's name.")]
PasswordEnvOption = Annotated[
    str | None,
    typer.Option("--password-env", help="Read the password from this environment variable."),
]
USER_KEYS = ("username", "role", "active", "created_at", "last_login_at")
TOKEN_KEYS = ("id", "name", "prefix", "role", "created_at", "created_by", "last_used_at", "revoked")


def _password(password_env: str | None) -> str:
    from seatwise.config import secret_from_environment

    if password_env:
        password = secret_from_environment(password_env)
        if password is None:
            raise UsageError(f"The environment variable {password_env} is not set.")
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True))


@user_app.command("create")
def create_user(
    username: NameArgument, role: RoleOption = "viewer", password_env: PasswordEnvOption = None
) -> None:
    """Create a local account (asks for the password unless --password-env is given)."""
    from seatwise.reclaim.audit import current_actor
    from seatwise.workspace.accounts import create_user as make

    password = _password(password_env)
    with Context().session(write=True) as session:
        make(session, username, password, role, actor=current_actor())
    err.print(f"User {username.strip()} created with role {role}.")


@user_app.command("list")
def list_users(format: FormatOption = OutputFormat.table) -> None:  # noqa: A002
    """Every local account: role, whether it may sign in, when it was made and last signed in."""
    from seatwise.workspace.accounts import account_rows

    with Context().session() as session:
        rows: list[dict[str, Any]] = account_rows(session)
    emit(rows, USER_KEYS, format, title="Accounts", empty="There are no accounts yet.")


@user_app.command("disable")
def disable_user(username: NameArgument) -> None:
    """Stop an account from signing in and end its sessions (the last admin cannot be)."""
    _set_active(username, False)


@user_app.command("enable")
def enable_user(username: NameArgument) -> None:
    """Let a disabled account sign in again."""
    _set_active(username, True)


def _set_active(username: str, active: bool) -> None:
    from seatwise.reclaim.audit import current_actor
    from seatwise.workspace.accounts import set_account_active

    with Context().session(write=True) as session:
        changed = set_account_active(session, username, active, actor=current_actor())
    word = "enabled" if active else "disabled"
    err.print(f"User {username} {word}." if changed else f"User {username} was already {word}.")


@user_app.command("set-password")
def set_password(username: NameArgument, password_env: PasswordEnvOption = None) -> None:
    """Give an account a new password (asks for it unless --password-env is given); every
    session of the account ends."""
    from seatwise.reclaim.audit import current_actor
    from seatwise.workspace.accounts import change_password

    password = _password(password_env)
    with Context().session(write=True) as session:
        change_password(session, username, password, actor=current_actor())
    err.print(f"New password set for {username}; its sessions have ended.")


@user_app.command("set-role")
def set_role(
    username: NameArgument, role: Annotated[str, typer.Argument(help="admin or viewer.")]
) -> None:
    """Give an account another role; its sessions end (the last admin cannot be demoted)."""
    from seatwise.reclaim.audit import current_actor
    from seatwise.workspace.accounts import set_role as change

    with Context().session(write=True) as session:
        changed = change(session, username, role, actor=current_actor())
    err.print(
        f"User {username} is now {role}." if changed else f"User {username} was already {role}."
    )


@user_app.command("delete")
def delete_user(
    username: NameArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete an account for good (the audit log keeps its name; the last admin cannot be)."""
    from seatwise.reclaim.audit import current_actor
    from seatwise.workspace.accounts import delete_user as remove

    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"Give --yes to delete the account {username} without a question.")
        if not typer.confirm(f"Delete the account {username}?", err=True):
            raise UsageError("Nothing deleted.")
    with Context().session(write=True) as session:
        remove(session, username, actor=current_actor())
    err.print(f"User {username} deleted.")


@token_app.command("create")
def create_token(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. powerbi.")] = "api",
    role: RoleOption = "viewer",
) -> None:
    """Create an API token and print it (shown once; only its hash is stored)."""
    from seatwise.reclaim.audit import current_actor
    from seatwise.workspace.accounts import create_token as make

    with Context().session(write=True) as session:
        token = make(session, name, role, current_actor())
    err.print(f"API token {name.strip()!r} ({role}); keep it safe, it is not shown again:")
    typer.echo(token)


@token_app.command("list")
def list_tokens(format: FormatOption = OutputFormat.table) -> None:  # noqa: A002
    """Every API token: its id (for `token revoke`), name, first characters, role, who made it,
    when it was last used and whether it is revoked. Values are never stored or shown."""
    from seatwise.workspace.accounts import token_records

    with Context().session() as session:
        rows = token_records(session)
    emit(rows, TOKEN_KEYS, format, title="API tokens", empty="There are no API tokens yet.")


@token_app.command("revoke")
def revoke_token(
    token_id: Annotated[int, typer.Argument(min=1, help="The token's id (`token list`).")],
) -> None:
    """Revoke an API token for good: calls with it are refused from now on."""
    from seatwise.reclaim.audit import current_actor
    from seatwise.workspace.accounts import revoke_token as revoke

    with Context().session(write=True) as session:
        name = revoke(session, token_id, actor=current_actor())
    err.print(f"API token {token_id} ({name}) is revoked.")
