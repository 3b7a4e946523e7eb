"""How a value reads in a table or CSV cell, the same in the CLI and the web UI's exports:
nothing for null, the seed's Yes/No for booleans, lists joined by "; " (licences by name,
activations by product); in CSV, text that a spreadsheet would run as a formula is defused."""

from __future__ import annotations

__all__ = ["FORMULA_START", "cell", "csv_cell"]

# What a spreadsheet would run as a formula at the start of a cell (CSV injection): the ASCII
# signs, their full-width forms (which some spreadsheets fold to ASCII), and tab, CR and LF.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_SIGNS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
# Where str.splitlines breaks a line.
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def cell(value: object) -> str:
    """`value` as cell text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return "; ".join(
            cell(v.get("name") or v.get("product") if isinstance(v, dict) else v) for v in value
        )
    return str(value)


def _formula_like(text: str) -> bool:
    """Whether a spreadsheet could run `text` as a formula: it starts with a formula sign, tab
    or line break, or one of its lines starts with a sign after any leading whitespace."""
    if text.startswith(FORMULA_START):
        return True
    if _LINE_BREAKS.isdisjoint(text):  # one line (most cells): no need to split
        return text.lstrip()[:1] in _SIGNS
    return any(line.lstrip()[:1] in _SIGNS for line in text.splitlines() if line.strip())


def csv_cell(value: object) -> str:
    """`cell`, for a CSV file: text a spreadsheet would run as a formula starts with `'`
    (leading whitespace, line breaks and full-width signs included). Numbers are left as they
    are (a negative number is not a formula)."""
    text = cell(value)
    if isinstance(value, (str, list)) and _formula_like(text):
        return "'" + text
    return text
