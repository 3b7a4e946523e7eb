"""How the CLI speaks: errors as one sentence and an exit code (never a traceback), and list
commands' output as JSON, CSV or a table that fits the terminal.

A table keeps the most useful columns (the order the command gives) that fit the width and says
which it left out; identifiers such as UPNs are never cut, product names wrap between words only,
long text ends in an ellipsis on one line; numbers and money get thousands separators and
timestamps lose their microseconds. JSON and CSV are untouched by any of this.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from seatwise.cells import cell, csv_cell
from seatwise.errors import AppError, ExitCode, UsageError, exit_code_for

stderr = Console(stderr=True, highlight=False, soft_wrap=True)

# Cells of these columns are identifiers: shown whole or not at all.
WHOLE = frozenset({"upn", "email", "sku_part_number", "sku_id", "id", "user_id", "tenant_id"})
# Cells of these columns are names or lists of names: they wrap between words, never inside one.
WORDS = frozenset(
    {"licenses", "skus", "name", "display_name", "target_sku", "sku", "service", "what"}
)
# Amounts of money (strings with decimals in JSON): thousands separators in a table.
MONEY = frozenset(
    {
        "cost",
        "annual_cost",
        "unused_annual_cost",
        "annual_savings",
        "potential_savings",
        "realised_savings",
    }
)
# Short headers for long keys; any other key's header is the key with spaces.
HEADERS: Mapping[str, str] = {
    "days_since_last_activity": "days idle",
    "block_credentials": "blocked",
    "mfa_enabled": "MFA",
    "sku_part_number": "part number",
    "payment_frequency": "paid",
    "unused_annual_cost": "unused / year",
    "annual_cost": "cost / year",
    "annual_savings": "saving / year",
    "last_sync_age_hours": "sync age (h)",
    "expiration_date": "expires",
    "license_type": "type",
    "sku": "licence",
    "licenses": "licences",
}
LINE_MIN = 16  # narrowest a one-line text column is made before columns are left out
WORDS_MIN = 20  # narrowest a column of names is made (most product names fit on one line)
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


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


def columns_option(what: str) -> Any:
    """The `--columns` option of a list command (its table's columns, by key)."""
    return typer.Option(
        "--columns",
        metavar="KEY,KEY,...",
        help=f"The table's columns, in this order (any {what} key, as in --format json).",
    )


def pick_columns(text: str | None, allowed: Sequence[str]) -> tuple[str, ...] | None:
    """The keys named in `--columns` (comma-separated), checked against `allowed`."""
    if text is None:
        return None
    wanted = tuple(k.strip().lower().replace(" ", "_") for k in text.split(",") if k.strip())
    unknown = [k for k in wanted if k not in allowed]
    if unknown or not wanted:
        raise UsageError(
            f"--columns takes keys separated by commas; {unknown[0]!r} is not one: "
            f"{', '.join(allowed)}."
            if unknown
            else f"--columns names no column; keys: {', '.join(allowed)}."
        )
    return wanted


@dataclass
class _Column:
    key: str
    header: str
    cells: list[str]
    width: int = 0

    @property
    def kind(self) -> str:
        if self.key in WHOLE or self.longest <= 12:
            return "whole"
        return "words" if self.key in WORDS else "line"

    @property
    def longest(self) -> int:
        return max((len(c) for c in self.cells), default=0)

    @property
    def need(self) -> int:
        """Narrowest width that breaks no identifier, word or short value."""
        head = max((len(w) for w in self.header.split()), default=1)
        if self.kind == "whole":
            return max(self.longest, head)
        if self.kind == "words":
            return max(max((len(w) for c in self.cells for w in c.split()), default=1), head)
        return max(min(self.longest, LINE_MIN), head)

    @property
    def comfort(self) -> int:
        """Width at which the column reads well (a name on one line, most of a text)."""
        least = WORDS_MIN if self.kind == "words" else LINE_MIN
        return max(min(self.longest, least), self.need)

    @property
    def want(self) -> int:
        return max(self.longest, self.need, len(self.header))


def table_text(key: str, value: Any, names: Mapping[str, str] | None = None) -> str:
    """How `value` of column `key` reads in a table cell (see the module's docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, Decimal):
        return _grouped(f"{value:f}")
    if isinstance(value, datetime):
        return _moment(value)
    if isinstance(value, dict):  # money per currency
        return "; ".join(f"{_grouped(str(v))} {k}" for k, v in value.items())
    if isinstance(value, list) and key == "evidence":
        items = [str(v) for v in value]
        more = f" (+{len(items) - 1} more)" if len(items) > 1 else ""
        return (items[0] + more) if items else ""
    if isinstance(value, list) and names is not None:
        return "; ".join(
            names.get(str(v), str(v)) if isinstance(v, str) else cell(v) for v in value
        )
    if isinstance(value, str):
        if key in MONEY:
            return _grouped(value)
        if key == "when" and value.startswith("at_renewal:"):
            return f"at renewal {value.split(':', 1)[1]}"
        if names is not None and key in WORDS and value in names:
            return names[value]
        if _TIMESTAMP.match(value):
            try:
                return _moment(datetime.fromisoformat(value))
            except ValueError:
                return value
    return " ".join(cell(value).split())  # one line: no line breaks inside a cell


def _moment(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M")


def _grouped(text: str) -> str:
    """A decimal string with thousands separators, its decimals kept as they are."""
    try:
        Decimal(text)
    except InvalidOperation:
        return text
    whole, _, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    digits = f"{int(whole.lstrip('-') or '0'):,}"
    return f"{sign}{digits}.{fraction}" if fraction else f"{sign}{digits}"


def _fit(columns: list[_Column], width: int, fixed: bool) -> tuple[list[_Column], list[_Column]]:
    """The columns shown at `width` (a prefix of `columns`, at least one) and those left out;
    sets each shown column's width: its `need`, then spare room first to bring every column to
    its `comfort`, then to the first columns that want more."""
    shown: list[_Column] = []
    used = 1  # the table's left border; each column adds its width, 2 padding and a border
    for column in columns:
        if fixed or not shown or used + column.need + 3 <= width:
            shown.append(column)
            used += column.need + 3
        else:
            break
    spare = max(width - used, 0)
    for column in shown:
        column.width = column.need
    rounds: tuple[tuple[Callable[[_Column], int], Callable[[_Column], bool]], ...] = (
        (lambda c: c.comfort, lambda _: True),
        (lambda c: c.want, lambda c: c.kind != "line"),
        (lambda c: c.want, lambda c: c.kind == "line"),  # long text takes what is left
    )
    for target, takes in rounds:
        for column in (c for c in shown if takes(c)):
            extra = min(spare, max(target(column) - column.width, 0))
            column.width += extra
            spare -= extra
    return shown, columns[len(shown) :]


def _render(
    records: Iterable[Mapping[str, Any]],
    keys: Sequence[str],
    title: str | None,
    *,
    fixed: bool,
    names: Mapping[str, str] | None,
    headers: Mapping[str, str],
) -> tuple[Table | None, list[str], int]:
    """The table of `records` for this terminal, the headers left out, and the row count."""
    console = Console()
    said = {**HEADERS, **headers}
    columns = [_Column(k, said.get(k, k.replace("_", " ")), []) for k in keys]
    count = 0
    for record in records:
        for column in columns:
            column.cells.append(table_text(column.key, record.get(column.key), names))
        count += 1
    if not count:
        return None, [], 0
    if not fixed:  # a column empty in every row says nothing
        columns = [c for c in columns if any(c.cells)] or columns[:1]
    shown, dropped = _fit(columns, console.width, fixed)
    # Columns asked for with --columns may need more than the terminal: the table is then
    # wider (the terminal wraps its lines) rather than cutting an identifier.
    wide = sum(c.width + 3 for c in shown) + 1
    table = Table(title=title, title_justify="left", width=None if wide <= console.width else wide)
    for column in shown:
        kind = column.kind
        table.add_column(
            Text(column.header, no_wrap=False, overflow="fold"),  # headers wrap between words
            width=column.width,
            no_wrap=kind != "words",
            overflow="ellipsis",
            justify="right" if _numeric(column) else "left",
        )
    for row in range(count):
        table.add_row(*(column.cells[row] for column in shown))
    return table, [c.header for c in dropped], count


def _numeric(column: _Column) -> bool:
    return column.key in MONEY or all(
        not c or c.replace(",", "").replace(".", "").lstrip("-").isdigit() for c in column.cells
    )


def emit(
    records: Iterable[Mapping[str, Any]],
    keys: Sequence[str],
    fmt: OutputFormat,
    title: str | None = None,
    *,
    empty: str | None = None,
    columns: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
    choosable: bool = False,
    headers: Mapping[str, str] | None = None,
) -> int:
    """Write `records` to stdout in `fmt` (JSON one array, CSV with a header row, or a table
    of `columns` or of the `keys` that fit, most useful first); return how many there were.

    In a table, `names` turns part numbers into product names, and no record at all prints
    `empty` (one sentence) instead of an empty table; `choosable`: the command has --columns;
    `headers` names columns (by key) beyond `HEADERS`."""
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
        table, dropped, count = _render(
            records,
            columns or keys,
            title,
            fixed=columns is not None,
            names=names,
            headers=headers or {},
        )
        if table is None:
            out.write((empty or "Nothing to show.") + "\n")
        else:
            _print(table, count)
            if dropped:
                choose = "choose columns with --columns KEY,... or " if choosable else ""
                stderr.print(
                    f"Left out at this width: {', '.join(dropped)}; {choose}see every field "
                    "with --format json.",
                    markup=False,
                )
    out.flush()
    return count


def _print(table: Table, rows: int) -> None:
    """Print `table` on stdout, through a pager when it is taller than the terminal."""
    console = Console()
    if table.width is not None and table.width > console.width:
        console = Console(width=table.width)
    if console.is_terminal and rows + 6 > console.height:
        with console.pager():
            console.print(table)
    else:
        console.print(table)


def product_names() -> dict[str, str]:
    """Product names by SKU part number (the shipped or imported table)."""
    from seatwise.skus import products

    return {part: name for part, name in products().values() if part and name}
