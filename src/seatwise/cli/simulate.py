"""`seatwise simulate`: serve simulated Microsoft 365 tenants over HTTPS on 127.0.0.1."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from seatwise.errors import UsageError

if TYPE_CHECKING:
    from seatwise.simulator.tenant import Tenant

MAX_TENANTS = 50


def _now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--now must be an ISO 8601 date or time, not '{value}'.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def simulate(
    users: Annotated[
        int, typer.Option(help="Directory users in the tenant (10 to 300,000+).")
    ] = 200,
    tenants: Annotated[
        int,
        typer.Option(
            help="Tenants served from the one host (1 to 50), from seeds S, S+1, …; --users each."
        ),
    ] = 1,
    seed: Annotated[
        int, typer.Option(help="Generator seed: the same seed gives the same tenant.")
    ] = 1,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1; 0 picks a free one.")] = 0,
    faults: Annotated[
        str | None,
        typer.Option(
            help="Faults to inject, e.g. throttle=0.1,unavailable=0.02,reset=0.01,latency=5ms."
        ),
    ] = None,
    concealed_names: Annotated[
        bool,
        typer.Option(
            "--concealed-names", help="Reports show 32-hex pseudonyms, as Microsoft's default."
        ),
    ] = False,
    no_premium: Annotated[
        bool,
        typer.Option(
            "--no-premium",
            help="Tenant without Entra ID P1: no signInActivity, sign-in logs or MFA report.",
        ),
    ] = False,
    without_role: Annotated[
        list[str] | None,
        typer.Option("--without-role", help="Remove a directory role from the admin (repeatable)."),
    ] = None,
    token_lifetime: Annotated[
        float, typer.Option(help="Access-token lifetime in seconds.")
    ] = 3600.0,
    now: Annotated[
        str | None, typer.Option(help="The tenant's 'now' (ISO 8601), for reproducible data.")
    ] = None,
    info_file: Annotated[
        Path | None,
        typer.Option(help="Write connection details (JSON) here once the server accepts requests."),
    ] = None,
    cert_dir: Annotated[
        Path | None,
        typer.Option(help="Directory for the self-signed certificate (default: a temporary one)."),
    ] = None,
) -> None:
    """Serve simulated Microsoft 365 tenants on 127.0.0.1.

    Microsoft Graph and the identity platform over HTTPS, for trying and testing seatwise."""
    from rich.console import Console

    from seatwise.simulator import FaultSpecError, create_app, serve, write_info_file
    from seatwise.simulator.faults import FaultPlan
    from seatwise.simulator.server import CERT_FILE
    from seatwise.simulator.tenant import Tenant

    console = Console(stderr=True, soft_wrap=True)
    if users < 10:
        raise UsageError("--users must be at least 10.")
    if not 1 <= tenants <= MAX_TENANTS:
        raise UsageError(f"--tenants must be between 1 and {MAX_TENANTS}, not {tenants}.")
    try:
        plan = FaultPlan.parse(faults, seed=seed)
    except FaultSpecError as exc:
        raise UsageError(f"--faults: {exc}.") from None
    what = (
        f"a tenant of {users:,} users (seed {seed})"
        if tenants == 1
        else f"{tenants} tenants of {users:,} users (seeds {seed} to {seed + tenants - 1})"
    )
    with console.status(f"Generating {what}…"):
        served = Tenant.create_many(
            tenants,
            users=users,
            seed=seed,
            now=_now(now),
            concealed_names=concealed_names,
            premium=not no_premium,
            token_lifetime_s=token_lifetime,
        )
    for tenant in served:
        for role in without_role or []:
            tenant.admin.roles.discard(role)
    app = create_app(served, faults=plan)
    workdir = cert_dir or Path(tempfile.mkdtemp(prefix="seatwise-sim-"))

    def ready(actual_port: int) -> None:
        ca_bundle = workdir / CERT_FILE
        base = f"https://127.0.0.1:{actual_port}"
        entries = [_entry(tenant) for tenant in served]
        info = {
            "graph_url": base,
            "authority_host": base,
            "ca_bundle": str(ca_bundle),
            **{k: v for k, v in entries[0].items() if k != "users"},
            "tenants": entries,
        }
        if info_file is not None:
            write_info_file(info_file, info)
        for tenant in served:
            console.print(
                f"Simulated tenant [bold]{tenant.domain}[/] ({len(tenant.users):,} users) at {base}"
            )
            console.print(f"  tenant id {tenant.tenant_id} · client id {tenant.app.client_id}")
            console.print(f"  admin {tenant.admin.upn}")
        console.print(f"CA bundle {ca_bundle}")
        if info_file is not None:
            console.print(f"Connection details (with secrets) in {info_file}")
        console.print("Press Ctrl-C to stop.")

    try:
        serve(app, port=port, cert_dir=workdir, on_ready=ready)
    except KeyboardInterrupt:
        console.print("Stopped.")


def _entry(tenant: Tenant) -> dict[str, object]:
    """One tenant's connection details in the info file."""
    return {
        "tenant_id": tenant.tenant_id,
        "client_id": tenant.app.client_id,
        "client_secret": tenant.app.client_secret,
        "admin_upn": tenant.admin.upn,
        "admin_password": tenant.admin.password,
        "users": len(tenant.users),
    }
