"""CLI tables at 80 and 120 columns (issue #15): they fit, UPNs are whole, product names are
never broken inside a word, money has its totals, timestamps have no microseconds, and a
filter that finds nothing says so. JSON and CSV are the contract and stay as they are."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from seatwise.cli.output import table_text

from .conftest import Terminal, serve

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
WIDTHS = (80, 120)


def _table(out: str, starts: int = 0) -> tuple[list[str], list[list[str]]]:
    """The headers and the rows (each cell's lines joined by a space) of the first rich table
    in `out`; a row starts where its cell in column `starts` is not empty."""
    head: list[list[str]] = []
    rows: list[list[list[str]]] = []
    for line in out.splitlines():
        if line.startswith("└"):
            break
        if line.startswith("┃"):
            cells = [c.strip() for c in line.strip("┃").split("┃")]
            head = head or [[] for _ in cells]
            for parts, text in zip(head, cells, strict=True):
                parts.append(text)
        elif line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            if cells[starts] or not rows:
                rows.append([[] for _ in cells])
            for parts, text in zip(rows[-1], cells, strict=True):
                parts.append(text)
    headers = [" ".join(p for p in parts if p) for parts in head]
    return headers, [[" ".join(p for p in parts if p) for parts in row] for row in rows]


def _fits(out: str, width: int) -> None:
    too_wide = [line for line in out.splitlines() if len(line) > width]
    assert not too_wide, too_wide[:3]


def test_tables_fit_the_terminal_and_break_no_upn_or_product_name(
    terminal: Terminal, tmp_path: Path
) -> None:
    with serve(tmp_path / "sim", users=150) as sim:
        assert terminal.add_app_only(sim).code == 0
        assert terminal("sync").code == 0
        assert terminal("license", "set", "ENTERPRISEPACK", "--cost", "23", "--currency",
                        "USD", "--payment-frequency", "monthly").code == 0  # fmt: skip
    users = {u["upn"]: u for u in terminal("users", "--format", "json").json()}
    licences = terminal("licenses", "--format", "json").json()
    found = terminal("recommendations", "--format", "json").json()
    names = {lic["sku_part_number"]: lic["name"] for lic in licences}
    assert len(users) > 100 and licences and found
    for width in WIDTHS:
        terminal.width = width
        shown = terminal("users")
        assert shown.code == 0, shown.err
        _fits(shown.out, width)
        headers, rows = _table(shown.out)
        assert [r[0] for r in rows] == sorted(users)  # every UPN whole, on one line
        if width == 80 and headers == ["upn"]:  # a 60-character guest UPN leaves no room
            assert "Left out at this width: licences, last activity" in shown.err
            assert "--columns" in shown.err
            continue_with = ["--columns", "upn,licenses"]
        else:
            assert headers[:2] == ["upn", "licences"]
            continue_with = []
        if continue_with:
            shown = terminal("users", *continue_with)
            assert shown.code == 0  # the columns asked for, wider than the terminal
            headers, rows = _table(shown.out)
        assert headers[:2] == ["upn", "licences"]
        for row in rows:  # the names wrap between words only: joined again, they are whole
            expected = "; ".join(lic["name"] for lic in users[row[0]]["licenses"])
            assert row[1] == expected, (width, row)

        shown = terminal("licenses")
        _fits(shown.out, width)
        headers, rows = _table(shown.out, starts=1)  # names wrap; "purchased" is one line
        assert headers[0] == "name"
        assert [r[0] for r in rows] == sorted((lic["name"] for lic in licences), key=str.casefold)

        shown = terminal("recommendations")
        _fits(shown.out, width)
        headers, rows = _table(shown.out)
        assert headers[:2] == ["upn", "action"] and len(rows) == len(found)
        if "licences" not in headers:
            assert width == 80 and "Left out at this width: licences" in shown.err
        for row, record in zip(rows, found, strict=True):
            assert row[0] == record["upn"]
            if "licences" in headers:
                assert row[2] == "; ".join(names.get(p, p) for p in record["skus"])
        savings: dict[str, Decimal] = defaultdict(Decimal)
        for record in found:
            if record["annual_savings"]:
                savings[record["currency"]] += Decimal(record["annual_savings"])
        assert savings  # ENTERPRISEPACK is priced
        total = ", ".join(
            f"{table_text('annual_savings', f'{v:.2f}')} {c}" for c, v in sorted(savings.items())
        )
        assert f"{len(found):,} recommendations; potential savings per year: {total}." in (
            shown.out
        )
        if width == 120:
            assert "evidence" in headers

        shown = terminal("audit")
        _fits(shown.out, width)
        headers, rows = _table(shown.out)
        assert headers[0] == "at" and rows
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", r[0]) for r in rows)

        shown = terminal("tenant", "list")
        _fits(shown.out, width)
        headers, rows = _table(shown.out)
        assert headers[:3] == ["name", "status", "users"] and rows[0][0] == "sim"

        nothing = terminal("licenses", "--expiring")
        assert nothing.code == 0
        assert nothing.out == "No managed SKU's contract ends in the next 90 days.\n"
        nobody = terminal("users", "--upn", "no-such-user")
        assert nobody.out == "No user matches these filters.\n"


def test_columns_choose_the_table_and_json_and_csv_stay_whole(terminal: Terminal) -> None:
    terminal.width = 80
    refused = terminal("users", "--columns", "upn,shoe_size")
    assert refused.code == 2 and "'shoe_size' is not one" in refused.err
    assert "Traceback" not in refused.err


def test_help_is_written_for_people(terminal: Terminal) -> None:
    terminal.width = 100
    for command in (["users"], ["licenses"], ["recommendations"], ["audit"], ["demo"],
                    ["tenant", "list"], ["export", "itam"]):  # fmt: skip
        shown = terminal(*command, "--help")
        assert shown.code == 0, shown.err
        assert "DESIGN" not in shown.out and "§" not in shown.out, command
        assert "<bool>" not in shown.out and "Show this message" in shown.out, command
    assert "--tenant NAME" in terminal("users", "--help").out
