"""`seatwise tenant add|list` and `seatwise connect`: register tenants and sign in to them."""

from __future__ import annotations

import webbrowser
from typing import Annotated

import typer
from rich.console import Console

from seatwise.cli.context import Context
from seatwise.config import secret_from_environment
from seatwise.errors import UsageError

app = typer.Typer(help="Register Microsoft 365 tenants.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)


def _secret(variable: str | None) -> str | None:
    if variable is None:
        return None
    value = secret_from_environment(variable)
    if not value:
        raise UsageError(f"The environment variable {variable} is empty or not set.")
    return value


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="A short name for the tenant in seatwise.")],
    tenant_id: Annotated[str, typer.Option(help="The directory (tenant) id.")],
    client_id: Annotated[str, typer.Option(help="The app registration's client id.")],
    client_secret_env: Annotated[
        str, typer.Option(help="Name of the environment variable holding the client secret.")
    ],
) -> None:
    """Register a tenant for unattended, app-only access (client credentials)."""
    ctx = Context()
    secret = _secret(client_secret_env)
    assert secret is not None
    save_tenant(ctx, name, tenant_id, client_id, secret, auth_mode="app", refresh=None)
    err.print(f"Tenant {name} added for app-only access. Run `seatwise sync --tenant {name}`.")


@app.command("list")
def list_tenants() -> None:
    """List the registered tenants."""
    from sqlalchemy import select

    from seatwise.store.schema import Tenant

    ctx = Context()
    with ctx.session() as session:
        for tenant in session.scalars(select(Tenant).order_by(Tenant.name)):
            state = "active" if tenant.active else "inactive"
            typer.echo(f"{tenant.name}\t{tenant.tenant_id}\t{tenant.auth_mode}\t{state}")


def save_tenant(
    ctx: Context,
    name: str,
    tenant_id: str | None,
    client_id: str | None,
    secret: str | None,
    *,
    auth_mode: str,
    refresh: str | None,
    scopes: str | None = None,
) -> None:
    """Add or update tenant `name` with its credentials sealed (see `store.tenants`)."""
    from seatwise.store.tenants import store_tenant

    with ctx.session() as session:
        try:
            store_tenant(
                session,
                ctx.secrets,
                name,
                tenant_id,
                client_id,
                secret,
                auth_mode=auth_mode,
                refresh=refresh,
                scopes=scopes,
            )
        except ValueError:
            raise UsageError(
                f"Tenant {name} is new: give --tenant-id, --client-id and --client-secret-env."
            ) from None


def connect(
    name: Annotated[str, typer.Argument(help="A short name for the tenant in seatwise.")],
    tenant_id: Annotated[
        str | None, typer.Option(help="The directory (tenant) id (first time).")
    ] = None,
    client_id: Annotated[str | None, typer.Option(help="The app's client id (first time).")] = None,
    client_secret_env: Annotated[
        str | None,
        typer.Option(help="Environment variable holding the client secret (first time)."),
    ] = None,
    no_browser: Annotated[
        bool,
        typer.Option("--no-browser", help="Print the sign-in URL instead of opening a browser."),
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the sign-in.")] = 300.0,
) -> None:
    """Sign in to a tenant as an administrator (authorization code with PKCE, in a browser)."""
    from seatwise.graph.auth import AuthCodeLogin, listen_for_redirect
    from seatwise.store import reads

    ctx = Context()
    secret = _secret(client_secret_env)
    with ctx.session() as session:
        known = reads.tenant_by_name(session, name)
        tenant_id = tenant_id or (known.tenant_id if known else None)
        client_id = client_id or (known.client_id if known else None)
        if secret is None and known is not None and known.secret_enc is not None:
            secret = ctx.secrets.open(known.secret_enc)
    if not (tenant_id and client_id and secret):
        raise UsageError(
            f"Tenant {name} is new: give --tenant-id, --client-id and --client-secret-env."
        )
    redirect_uri, wait = listen_for_redirect(timeout=timeout)
    with AuthCodeLogin(ctx.settings, tenant_id, client_id, secret, name=name) as login:
        url, flow = login.start(redirect_uri)
        if no_browser:
            err.print("Open this URL in a browser and sign in as an administrator:")
            typer.echo(url, err=True)
        else:
            err.print("Opening the sign-in page in your browser…")
            if not webbrowser.open(url):
                typer.echo(url, err=True)
        tokens = login.finish(flow, wait())
    save_tenant(
        ctx,
        name,
        tenant_id,
        client_id,
        secret,
        auth_mode="delegated",
        refresh=tokens.refresh_token,
        scopes=" ".join(tokens.scopes),
    )
    err.print(f"Connected to tenant {name}. Run `seatwise sync --tenant {name}`.")
