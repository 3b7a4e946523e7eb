"""The CLI's one translator from errors to messages and exit codes (DESIGN §8).

Errors are one clear sentence on stderr, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import click
from rich.console import Console

from seatwise.errors import AppError, ExitCode, exit_code_for

stderr = Console(stderr=True, highlight=False)


def run(invoke: Callable[[], object]) -> int:
    """Run a Click/Typer command without standalone mode and turn its outcome into an exit code."""
    try:
        result = invoke()
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        stderr.print("Aborted.")
        return 130
    except click.ClickException as exc:
        exc.show(file=sys.stderr)
        return int(exc.exit_code) if exc.exit_code else int(ExitCode.USAGE)
    except AppError as exc:
        stderr.print(f"Error: {exc}", markup=False)
        return exit_code_for(exc)
    except KeyboardInterrupt:
        return 130
    return int(result) if isinstance(result, int) else 0
