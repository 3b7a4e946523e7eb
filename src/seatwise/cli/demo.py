"""`seatwise demo`: a simulated tenant, connected and synced, in one command.

Checks the web UI's port first (a busy port asked for is one sentence and exit 3; without
--port a free one is picked), starts from a fresh demo data directory unless --keep, serves
the simulator on loopback, registers it as tenant `demo` (app-only), runs the four integration
tasks, enters sample list prices for its paid SKUs (where no contract exists yet), then serves
the web UI with a fresh `demo` admin account and prints where to look: the UI's address and
password, and CLI commands that work as printed.
"""

from __future__ import annotations

import errno
import secrets
import shlex
import shutil
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seatwise.errors import ConfigError

if TYPE_CHECKING:
    from seatwise.cli.context import Context

DEFAULT_PORT = 8080


def listen(asked: int | None, preferred: int = DEFAULT_PORT) -> socket.socket:
    """A socket bound to 127.0.0.1 for the web UI: on port `asked` (ConfigError, exit 3, when
    it is taken), or without one on `preferred`, else on any free port."""
    if asked is not None and not 1 <= asked <= 65535:
        raise ConfigError(f"--port must be between 1 and 65535, not {asked}.")
    for port in (asked,) if asked is not None else (preferred, 0):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            sock.close()
            if asked is None and port:
                continue
            why = "in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise ConfigError(
                f"Port {port} on 127.0.0.1 is {why}: stop what uses it, or choose another "
                "port with --port (make demo PORT=...)."
            ) from None
        return sock
    raise AssertionError("binding port 0 always succeeds or raises")  # pragma: no cover


def program() -> str:
    """How to type `seatwise` so that the commands printed work: `seatwise` when that is on
    PATH, else the path of the program running now (e.g. `.venv/bin/seatwise`)."""
    argv0 = Path(sys.argv[0])
    if argv0.name != "seatwise" or not argv0.is_file():
        return "seatwise"
    found = shutil.which("seatwise")
    if found and Path(found).resolve() == argv0.resolve():
        return "seatwise"
    try:
        return str(argv0.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return shlex.quote(str(argv0.resolve()))


def demo(
    users: Annotated[int, typer.Option(help="Directory users in the simulated tenant.")] = 500,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 7,
    keep_running: Annotated[
        bool, typer.Option(help="Serve the web UI and the simulated tenant until Ctrl-C.")
    ] = True,
    port: Annotated[
        int | None,
        typer.Option(
            help="Port of the web UI on 127.0.0.1 (default 8080, or a free one when 8080 is "
            "taken); a port given here that is taken is an error."
        ),
    ] = None,
    keep: Annotated[
        bool,
        typer.Option(
            "--keep",
            help="Keep the previous demo's data (plans, audit log, prices); by default every "
            "demo starts from a fresh data directory.",
        ),
    ] = False,
    tenants: Annotated[
        int,
        typer.Option(
            help="Simulated tenants (seeds SEED, SEED+1, ...), registered as demo, demo-2, ...; "
            "with more than one, the Overview and `seatwise tenant list` show the roll-up."
        ),
    ] = 1,
) -> None:
    """Simulated tenant, synced, priced, with the web UI.

    Then prints where to look: the web UI's address and password, and CLI commands to try."""
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
    base = load_settings()
    sock = listen(port) if keep_running else None  # before anything is printed
    try:
        console = Console(stderr=True, soft_wrap=True)
        demo_dir = base.data_dir / "demo"
        try:
            if demo_dir.exists() and not keep:
                shutil.rmtree(demo_dir)  # plans, audit and prices belong to the last demo
            demo_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"Cannot start a fresh demo in {demo_dir}: {exc.strerror or exc}."
            ) from None
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
                if keep:
                    _forget_cursors(ctx, name)
                console.print(f"Simulated tenant [bold]{tenant.domain}[/] at {server.base_url}")
                run_with_progress(
                    ctx, name, ["license-info", "roster", "access", "differentiation"]
                )
                priced = sample_prices(ctx, name)
                if priced:
                    console.print(
                        f"Sample contract prices for {priced} SKUs of {name}: public list "
                        "prices in USD per user per month, audited as 'sample list price'; "
                        "change them with `seatwise license set` or on the Licenses page."
                    )
            password = secrets.token_urlsafe(12)
            web = _web_app(settings, password) if sock is not None else None
            _where_to_look(console, server.base_url, server.ca_bundle, demo_dir, tenants)
            if web is not None and sock is not None:
                bound = sock.getsockname()[1]
                busy = (
                    f" (port {DEFAULT_PORT} was taken)"
                    if port is None and bound != DEFAULT_PORT
                    else ""
                )
                console.print(
                    f"\n[bold]Web UI[/]: http://127.0.0.1:{bound}/{busy} — sign in as "
                    f"[bold]demo[/] with password [bold]{password}[/] (made for this run)."
                )
                console.print("The web UI and the simulated tenant stay up until you press Ctrl-C.")
                _serve(web, sock)
                console.print("Stopped.")
            else:
                console.print(
                    f"\nThe web UI: `{program()} serve` with the settings above, after "
                    f"`{program()} user create NAME --role admin`."
                )
    finally:
        if sock is not None:
            sock.close()


def _forget_cursors(ctx: Context, name: str) -> None:
    """Drop the kept demo's delta links and watermarks: they name the previous simulator,
    which is gone, so this demo's first sync is a full round against the new one."""
    from sqlalchemy import delete

    from seatwise.store.schema import SyncCursor

    with ctx.session(write=True) as session:
        row = ctx.tenant(session, name)
        session.execute(delete(SyncCursor).where(SyncCursor.tenant_pk == row.pk))


def sample_prices(ctx: Context, name: str) -> int:
    """Enter the sample list price of every paid SKU of tenant `name` that has no contract
    terms yet, through the audited contract edit; return how many were entered."""
    from seatwise.analytics.inputs import licenses as inputs
    from seatwise.demo_prices import CURRENCY, FREQUENCY, LIST_PRICES, SAMPLE_ACTOR
    from seatwise.workspace.contracts import set_contract

    entered = 0
    now = datetime.now(UTC)
    with ctx.session(write=True) as session:
        row = ctx.tenant(session, name)
        known = {str(c["sku_id"]).lower() for c in inputs.contract_rows(session, row.pk)}
        for sku in inputs.sku_rows(session, row.pk):
            cost = LIST_PRICES.get(str(sku.get("part_number") or ""))
            if cost is None or str(sku["sku_id"]).lower() in known:
                continue
            changes = {"cost": cost, "currency": CURRENCY, "payment_frequency": FREQUENCY}
            set_contract(session, row.pk, sku, changes, actor=SAMPLE_ACTOR, now=now)
            entered += 1
    return entered


def _where_to_look(
    console: Any, base_url: str, ca_bundle: Path, demo_dir: Path, tenants: int
) -> None:
    """The settings to export and the CLI commands to try, spelled so that they work."""
    env = {
        "SEATWISE_DATA_DIR": str(demo_dir.absolute()),
        "SEATWISE_GRAPH_URL": base_url,
        "SEATWISE_AUTHORITY_HOST": base_url,
        "SEATWISE_CA_BUNDLE": str(Path(ca_bundle).absolute()),
    }
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    me = program()
    console.print("\n[bold]Where to look[/] on the command line (in a shell, first):")
    console.print(f"  export {exports}", markup=False)
    which = " --tenant demo" if tenants > 1 else ""  # the others: demo-2, demo-3, ...
    lines: list[tuple[str, str]] = []
    if tenants > 1:
        lines.append(("tenant list", "every tenant: users, paid licences, savings"))
    lines += [
        ("users", "every user: licences, activity, MFA (--columns, --format json)"),
        ("users --inactive-days 90 --sort -mail_usage_mb", "filter and sort"),
        ("licenses", "licence positions with sample prices (`license set` to change)"),
        ("activity --summary", "who used which of the eleven services, and when"),
        ("recommendations", "what to reclaim, downgrade or review, and the savings"),
        ("reclaim plan", "plan taking licences back (then show, approve, apply)"),
        ("audit", "every change made to the tenant"),
        ("tasks", "the integration tasks' runs"),
        ("sync", "sync again (while the demo runs)"),
    ]
    width = max(len(f"{me} {c}{which}") for c, _ in lines) + 2
    for command, meaning in lines:
        suffix = which if command != "tenant list" else ""
        console.print(f"  {f'{me} {command}{suffix}':<{width}} {meaning}", markup=False)


def _serve(web: Any, sock: socket.socket) -> None:
    """Serve the web app on the already bound socket until Ctrl-C."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(web, log_level="warning"))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass


def _web_app(settings: Any, password: str) -> Any:
    """The web app over the demo's data, with the `demo` admin account set to `password`."""
    from seatwise.web.app import create_app as create_web_app
    from seatwise.workspace.accounts import set_password

    app = create_web_app(settings)
    with app.state.web.session() as session:
        set_password(session, "demo", password, "admin")
    return app
