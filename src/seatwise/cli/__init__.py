"""The `seatwise` command: a thin Typer adapter over the product's services (DESIGN §8).

Sub-commands live in their own modules and import heavy dependencies inside the command.
"""

from __future__ import annotations

import sys

import typer

from seatwise.cli import (
    activity,
    db,
    demo,
    export,
    licenses,
    reclaim,
    recommendations,
    report,
    simulate,
    skus,
    sync,
    tenants,
    web,
    worker,
)
from seatwise.cli.context import close_all
from seatwise.cli.output import run

app = typer.Typer(
    name="seatwise",
    help="Self-hosted SaaS-licence manager for Microsoft 365.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command(name="demo")(demo.demo)
app.command(name="simulate")(simulate.simulate)
app.add_typer(tenants.app, name="tenant")
app.command(name="connect")(tenants.connect)
app.command(name="sync")(sync.sync)
app.command(name="tasks")(sync.tasks)
app.command(name="users")(report.users)
app.command(name="licenses")(licenses.licenses)
app.add_typer(licenses.license_app, name="license")
app.command(name="activity")(activity.activity)
app.command(name="recommendations")(recommendations.recommendations)
app.add_typer(reclaim.reclaim_app, name="reclaim")
app.command(name="audit")(reclaim.audit)
app.command(name="serve")(web.serve)
app.command(name="worker")(worker.worker)
app.add_typer(web.user_app, name="user")
app.add_typer(web.token_app, name="token")
app.add_typer(db.app, name="db")
app.add_typer(export.app, name="export")
app.add_typer(skus.app, name="skus")

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point: run the app and exit with DESIGN §8's codes."""
    command = typer.main.get_command(app)
    try:
        code = run(lambda: command.main(standalone_mode=False, prog_name="seatwise"))
    finally:
        close_all()
    sys.exit(code)
