"""The `seatwise` command: a thin Typer adapter over the product's services (DESIGN §8).

Sub-commands live in their own modules and import heavy dependencies inside the command.
"""

from __future__ import annotations

import os
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

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
from seatwise.errors import ExitCode

app = typer.Typer(
    name="seatwise",
    help="Self-hosted SaaS-licence manager for Microsoft 365.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no <bool>/<str> type column beside every option
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

__all__ = ["CRASH_LOG", "app", "main"]

CRASH_LOG = "crash.log"  # in the data directory, 0600: tracebacks of unexpected errors


def main() -> None:
    """Console-script entry point: run the app and exit with DESIGN §8's codes.

    An exception that is not an `AppError` is a bug: one sentence on stderr, the traceback
    appended to `crash.log` in the data directory (0600), exit 70 (never 1, which means that
    `--check` found something).
    """
    command = typer.main.get_command(app)
    try:
        try:
            code = run(lambda: command.main(standalone_mode=False, prog_name="seatwise"))
        finally:
            close_all()
    except Exception as exc:  # noqa: BLE001 - the one place that turns a bug into exit 70
        code = _crashed(exc)
    sys.exit(code)


def _crashed(exc: BaseException) -> int:
    where = _write_crash_log(exc)
    detail = f"the traceback is in {where}" if where else "the traceback could not be written"
    sys.stderr.write(
        f"Error: seatwise failed unexpectedly ({type(exc).__name__}); this is a bug: {detail}.\n"
    )
    return int(ExitCode.BUG)


def _write_crash_log(exc: BaseException) -> Path | None:
    """Append the traceback to the data directory's crash log (created 0600, dir 0700)."""
    try:
        from seatwise.config import load_settings

        data_dir = load_settings().data_dir
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = data_dir / CRASH_LOG
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        text = "".join(traceback.format_exception(exc))
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(f"--- {stamp} seatwise {' '.join(sys.argv[1:2])}\n{text}\n")
    except Exception:  # noqa: BLE001 - a broken configuration must not hide the crash
        return None
    return path
