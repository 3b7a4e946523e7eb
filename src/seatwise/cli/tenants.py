"""`seatwise tenant add|list|schedule` and `seatwise connect`: register tenants (through
`seatwise.workspace.tenants`), sign in to them, list the roll-up, set their schedule."""

from __future__ import annotations

import webbrowser
from typing import Annotated, Any

import typer
from rich.console import Console

from seatwise.cli.context import Context
from seatwise.cli.output import OutputFormat, emit
from seatwise.cli.report import FormatOption
from seatwise.errors import UsageError

app = typer.Typer(help="Register Microsoft 365 tenants.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)
SupersedeOption = Annotated[
    str | None,
    typer.Option(
        "--supersede",
        metavar="OLD",
        help="Take over from OLD, an older registration of the same Microsoft 365 tenant "
        "(it is retired: no longer synced, its licences retired in the ITAM export).",
    ),
]


def _secret(variable: str | None) -> str | None:
    from seatwise.config import secret_from_environment

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
    supersede: SupersedeOption = None,
) -> None:
    """Register a tenant for unattended, app-only access (client credentials)."""
    from seatwise.workspace.tenants import register

    ctx = Context()
    secret = _secret(client_secret_env)
    register(
        ctx, name, tenant_id, client_id, secret, auth_mode="app", refresh=None, supersede=supersede
    )
    err.print(f"Tenant {name} added for app-only access. Run `seatwise sync --tenant {name}`.")
    if supersede:
        err.print(f"Tenant {supersede} is retired: {name} syncs that Microsoft 365 tenant now.")


@app.command("list")
def list_tenants(format: FormatOption = OutputFormat.table) -> None:  # noqa: A002
    """Every registered tenant: status, users, paid licences, costs, potential savings and the
    last sync (the roll-up an MSP watches)."""
    from datetime import UTC, datetime

    from seatwise.analytics.inputs import recommendations as inputs
    from seatwise.analytics.recommendations import evaluate
    from seatwise.workspace.plans import policy
    from seatwise.workspace.rollup import KEYS, rollup

    ctx = Context()
    now = datetime.now(UTC)
    rules = policy(ctx)

    def findings(session: Any, tenant: Any) -> Any:
        users = (u for batch in inputs.iter_user_facts(session, tenant.pk) for u in batch)
        return evaluate(users, inputs.tenant_facts(session, tenant.pk), rules, now.date())

    with ctx.session() as session:
        records = rollup(session, now, findings)
    if format is OutputFormat.csv:  # a table shows money per currency itself
        records = [{k: _flat(v) for k, v in r.items()} for r in records]
    keys: tuple[str, ...] = KEYS
    if format is OutputFormat.table:
        keys = (  # most useful first: the table shows those that fit the terminal
            "name", "status", "users", "paid_unused", "unused_annual_cost", "potential_savings",
            "last_sync_status", "last_sync_age_hours", "licensed_users", "paid_purchased",
            "paid_assigned", "annual_cost",
        )  # fmt: skip
    emit(
        records,
        keys,
        format,
        title="Tenants",
        empty="No tenant is registered yet: seatwise tenant add NAME ... or seatwise connect NAME.",
    )


def _flat(value: Any) -> Any:
    """Money per currency as `1234.00 EUR; 50.00 USD` for tables and CSV."""
    if isinstance(value, dict):
        return "; ".join(f"{amount} {currency}" for currency, amount in value.items())
    return value


@app.command("schedule")
def schedule(
    name: Annotated[str, typer.Argument(help="The tenant's name in seatwise.")],
    hour: Annotated[
        int | None, typer.Option(help="Hour (UTC, 0-23) of the daily roster and access sync.")
    ] = None,
    enable: Annotated[
        list[str] | None, typer.Option("--enable", help="Run this task on schedule (repeat).")
    ] = None,
    disable: Annotated[
        list[str] | None,
        typer.Option("--disable", help="Do not run this task on schedule (repeat)."),
    ] = None,
) -> None:
    """Show or change when a tenant's tasks run on schedule (License Information every 24 h,
    the others daily at the hour); `seatwise sync` still runs any task on demand."""
    from seatwise.store import reads
    from seatwise.workspace.schedules import disabled_tasks, set_schedule

    ctx = Context()
    with ctx.session(write=True) as session:
        row = reads.tenant_by_name(session, name)
        if row is None:
            raise UsageError(f"There is no tenant called {name!r}.")
        set_schedule(row, hour=hour, enable=enable or (), disable=disable or ())
        off = disabled_tasks(row)
        err.print(
            f"Tenant {row.name}: roster, access and differentiation daily at "
            f"{row.sync_hour:02d}:00 UTC, License Information every 24 hours; "
            + (f"switched off: {', '.join(off)}." if off else "every task on.")
        )


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
    supersede: SupersedeOption = None,
) -> None:
    """Sign in to a tenant as an administrator.

    Authorization code flow with PKCE, in a browser; the ids are needed the first time only."""
    from seatwise.graph.auth import AuthCodeLogin, listen_for_redirect
    from seatwise.store import reads
    from seatwise.workspace.tenants import check_ids, check_name, check_new, register

    ctx = Context()
    name = check_name(name)
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
    tenant_id, client_id = check_ids(tenant_id, client_id)
    with ctx.session() as session:  # refused before anyone signs in
        check_new(session, name, tenant_id, supersede=supersede)
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
    register(
        ctx,
        name,
        tenant_id,
        client_id,
        secret,
        auth_mode="delegated",
        refresh=tokens.refresh_token,
        scopes=" ".join(tokens.scopes),
        supersede=supersede,
    )
    err.print(f"Connected to tenant {name}. Run `seatwise sync --tenant {name}`.")
    if supersede:
        err.print(f"Tenant {supersede} is retired: {name} syncs that Microsoft 365 tenant now.")
