"""`seatwise export itam`: the hybrid ITAM position (DESIGN §8) for an ITAM tool to pull, as CSV
or JSON on stdout or in a file: one record per tenant and managed SKU, or with `--consumption`
one per user holding a managed SKU. The same records as the API's `itam` and `itam_consumption`
entity sets and the UI's `/export/itam.csv` (see docs/licenses.md).
"""

from __future__ import annotations

import csv
import io
import os
import sys
import tempfile
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from seatwise.cli.context import Context
from seatwise.cli.report import TenantOption
from seatwise.errors import DataError

__all__ = ["app", "itam"]

app = typer.Typer(help="Export data for other tools.", no_args_is_help=True)


class ExportFormat(StrEnum):
    """What an export is written as."""

    csv = "csv"
    json = "json"


def _render(records: list[dict[str, Any]], keys: tuple[str, ...], fmt: ExportFormat) -> bytes:
    if fmt is ExportFormat.json:
        import orjson

        body = orjson.dumps([{k: r[k] for k in keys} for r in records], option=orjson.OPT_INDENT_2)
        return body + b"\n"
    from seatwise.cells import csv_cell

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(keys)
    for record in records:
        writer.writerow([csv_cell(record[k]) for k in keys])
    return out.getvalue().encode()


def _write(path: Path, body: bytes) -> None:
    """Write `body` to `path` whole or not at all (a temporary file beside it, then renamed)."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as exc:
        raise DataError(f"Cannot write {path}: {exc.strerror or exc}.") from None
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(body)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise DataError(f"Cannot write {path}: {exc.strerror or exc}.") from None


@app.command("itam")
def itam(
    tenant: TenantOption = None,
    format: Annotated[  # noqa: A002
        ExportFormat, typer.Option("--format", help="csv or json.")
    ] = ExportFormat.csv,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write to this file instead of stdout.")
    ] = None,
    consumption: Annotated[
        bool,
        typer.Option("--consumption", help="One row per user holding a managed licence instead."),
    ] = False,
) -> None:
    """The hybrid ITAM position of every tenant (or --tenant): per managed SKU, entitlement
    against consumption, contract terms, unit and annual cost and status (active, expired,
    retired); unmanaged SKUs are left out."""
    from seatwise.analytics.itam import CONSUMPTION_KEYS, ITAM_KEYS
    from seatwise.workspace import itam as position

    ctx = Context()
    with ctx.session() as session:
        if consumption:
            records = position.consumption(session, date.today(), tenant)
        else:
            records = position.position(session, date.today(), tenant)
    body = _render(records, CONSUMPTION_KEYS if consumption else ITAM_KEYS, format)
    if output is None:
        sys.stdout.write(body.decode())
        sys.stdout.flush()
    else:
        _write(output, body)
