"""The CLI's one translator from errors to messages and exit codes (DESIGN §8).

Errors are one clear sentence on stderr, never a traceback.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from seatwise.cells import cell, csv_cell
from seatwise.errors import AppError, ExitCode, exit_code_for

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def run(invoke: Callable[[], object]) -> int:
    """Run a Click/Typer command without standalone mode and turn its outcome into an exit code."""
    try:
        result = invoke()
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        stderr.print("Aborted.")
        return int(ExitCode.INTERRUPTED)
    except typer.exceptions.TyperException as exc:  # usage errors of the command line
        show = getattr(exc, "show", None)
        if callable(show):
            show(file=sys.stderr)
        else:
            stderr.print(f"Error: {exc}", markup=False)
        return int(ExitCode.USAGE)
    except AppError as exc:
        stderr.print(f"Error: {exc}", markup=False)
        return exit_code_for(exc)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    return int(result) if isinstance(result, int) else 0


class OutputFormat(StrEnum):
    """How list commands print: a readable table, CSV or JSON."""

    table = "table"
    csv = "csv"
    json = "json"


def emit(
    records: Iterable[Mapping[str, Any]],
    keys: Sequence[str],
    fmt: OutputFormat,
    title: str | None = None,
) -> int:
    """Write `records` to stdout in `fmt`, streaming (JSON is one array); return how many."""
    out = sys.stdout
    count = 0
    if fmt is OutputFormat.json:
        out.write("[")
        for record in records:
            out.write(",\n" if count else "\n")
            out.write(orjson.dumps({k: record.get(k) for k in keys}).decode())
            count += 1
        out.write("\n]\n" if count else "]\n")
    elif fmt is OutputFormat.csv:
        writer = csv.writer(out)
        writer.writerow(keys)
        for record in records:
            writer.writerow([csv_cell(record.get(k)) for k in keys])
            count += 1
    else:
        table = Table(title=title, show_lines=False)
        for key in keys:
            table.add_column(key.replace("_", " "), overflow="fold")
        for record in records:
            table.add_row(*(cell(record.get(k)) for k in keys))
            count += 1
        Console().print(table)
    out.flush()
    return count
