"""`seatwise demo`: a simulated tenant, connected and synced, in one command.

Serves the simulator on loopback, registers it as tenant `demo` (app-only) in a demo data
directory of its own, runs the four integration tasks, then serves the web UI with a fresh
`demo` admin account and prints where to look (the UI's address and password, and the CLI views).
"""

from __future__ import annotations

import secrets
import shlex
from typing import Annotated, Any

import typer


def demo(
    users: Annotated[int, typer.Option(help="Directory users in the simulated tenant.")] = 500,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 7,
    keep_running: Annotated[
        bool, typer.Option(help="Serve the web UI and the simulated tenant until Ctrl-C.")
    ] = True,
    port: Annotated[int, typer.Option(help="Port of the web UI.")] = 8080,
    tenants: Annotated[
        int,
        typer.Option(
            help="Simulated tenants (seeds SEED, SEED+1, ...), registered as demo, demo-2, ...; "
            "with more than one, the Overview and `seatwise tenant list` show the roll-up."
        ),
    ] = 1,
) -> None:
    """Simulated tenant + sync + web UI in one command, then print where to look."""
    from rich.console import Console

    from seatwise.cli.context import Context
    from seatwise.cli.sync import run_with_progress
    from seatwise.config import Settings, load_settings
    from seatwise.errors import UsageError
    from seatwise.simulator import Tenant, create_app
    from seatwise.simulator.server import running
    from seatwise.workspace.tenants import register

    if not 1 <= tenants <= 20:
        raise UsageError(f"--tenants must be between 1 and 20, not {tenants}.")
    console = Console(stderr=True, soft_wrap=True)
    base = load_settings()
    demo_dir = base.data_dir / "demo"
    demo_dir.mkdir(parents=True, exist_ok=True)
    what = "a simulated tenant" if tenants == 1 else f"{tenants} simulated tenants"
    with console.status(f"Generating {what} of {users:,} users…"):
        simulated = Tenant.create_many(tenants, users=users, seed=seed)
    with running(create_app(simulated), demo_dir / "tls") as server:
        settings = Settings(
            data_dir=demo_dir,
            graph_url=server.base_url,
            authority_host=server.base_url,
            ca_bundle=server.ca_bundle,
            secret_key=base.secret_key,
        )
        ctx = Context(settings)
        for number, tenant in enumerate(simulated, start=1):
            name = "demo" if number == 1 else f"demo-{number}"
            register(
                ctx,
                name,
                tenant.tenant_id,
                tenant.app.client_id,
                tenant.app.client_secret,
                auth_mode="app",
                refresh=None,
            )
            console.print(f"Simulated tenant [bold]{tenant.domain}[/] at {server.base_url}")
            run_with_progress(ctx, name, ["license-info", "roster", "access", "differentiation"])
        env = {
            "SEATWISE_DATA_DIR": str(demo_dir),
            "SEATWISE_GRAPH_URL": server.base_url,
            "SEATWISE_AUTHORITY_HOST": server.base_url,
            "SEATWISE_CA_BUNDLE": str(server.ca_bundle),
        }
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        password = secrets.token_urlsafe(12)
        web = _web_app(settings, password) if keep_running else None
        if web is not None:
            console.print(
                f"\n[bold]Web UI[/]: http://127.0.0.1:{port}/ — sign in as [bold]demo[/] with "
                f"password [bold]{password}[/] (made for this run)."
            )
        else:
            console.print(
                "\nThe web UI: `seatwise serve` with the settings below, after "
                "`seatwise user create NAME --role admin`."
            )
        console.print("\n[bold]Where to look[/] on the command line:")
        console.print(f"  export {exports}")
        which = " --tenant demo" if tenants > 1 else ""  # the others: demo-2, demo-3, ...
        if tenants > 1:
            console.print(
                f"  {'seatwise tenant list':<58} every tenant: users, paid licences, savings"
            )
        for command, meaning in (
            ("seatwise users", "every user: licences, activity, storage, MFA"),
            ("seatwise users --inactive-days 90 --sort -mail_usage_mb", "filter and sort"),
            ("seatwise licenses", "licence positions (set costs with `seatwise license set`)"),
            ("seatwise activity --summary", "who used which of the eleven services, and when"),
            ("seatwise recommendations", "what to reclaim, downgrade or review"),
            ("seatwise reclaim plan", "plan taking licences back (then show, approve, apply)"),
            ("seatwise audit", "every change made to the tenant"),
            ("seatwise tasks", "the integration tasks' runs"),
            ("seatwise sync", "sync again (nothing changes on an unchanged tenant)"),
        ):
            console.print(f"  {command + which:<58} {meaning}")
        if web is not None:
            import uvicorn

            console.print("\nThe web UI and the simulated tenant stay up until you press Ctrl-C.")
            try:
                uvicorn.run(web, host="127.0.0.1", port=port, log_level="warning")
            except KeyboardInterrupt:
                pass
            console.print("Stopped.")


def _web_app(settings: Any, password: str) -> Any:
    """The web app over the demo's data, with the `demo` admin account set to `password`."""
    from seatwise.web.app import create_app as create_web_app
    from seatwise.workspace.accounts import set_password

    app = create_web_app(settings)
    with app.state.web.session() as session:
        set_password(session, "demo", password, "admin")
    return app
