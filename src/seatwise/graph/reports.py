"""Reading Microsoft 365 usage-report CSVs: rows keyed by header name, and spotting concealed
(pseudonymised) user names (graph-facts §3, §11).

Pure: bytes in, rows out; no I/O. Typing the values (dates, booleans, numbers) is the sync
layer's job, per report.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from operator import itemgetter

from seatwise.errors import DataError

__all__ = ["looks_concealed", "parse_csv", "parse_csv_columns"]

# Concealed names: 32 hex digits (MD5-like, upper case in practice) or `<PII:...>` forms.
_HEX_PSEUDONYM = re.compile(r"[0-9A-Fa-f]{32}")
# A line and its ending, as universal newlines split them; the last line may have no ending.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _text(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"The report is not UTF-8 text (byte {exc.start} is invalid).") from exc
    if text.startswith(codecs.BOM_UTF8.decode("utf-8")):  # a doubled BOM has been seen
        text = text[1:]
    if "\x00" in text:  # no text column of either database can hold it
        raise DataError(f"The report holds a NUL character (at {text.index(chr(0))}).")
    return text


def _lines(text: str) -> Iterator[str]:
    """The lines of `text` with their endings (\r\n, \n or \r), one at a time.

    What `io.StringIO(text, newline="")` gives csv, without the copy of the text it makes (four
    bytes a character: 120 MB for a 30 MB report).
    """
    for match in _LINE.finditer(text):
        yield match.group()


def _reader(data: bytes) -> tuple[list[str], Iterator[list[str]]]:
    reader = csv.reader(_lines(_text(data)), strict=True)
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:
        raise DataError(f"The report's header is not valid CSV: {exc}.") from exc
    return header, reader


def parse_csv(data: bytes) -> tuple[list[str], Iterator[dict[str, str]]]:
    """The header and an iterator of rows (`{header: cell}`) of a report CSV.

    Decodes UTF-8 with or without the BOM Microsoft puts first. Columns are matched by header
    name, never by position, so reports with extra or fewer columns than documented read the
    same: a row shorter than the header lacks the missing keys, cells beyond the header are
    dropped. Blank lines are skipped. Raises `DataError` for bytes that are not UTF-8 text or
    not CSV (rows raise it lazily, as they are read).
    """
    header, reader = _reader(data)
    return header, (dict(zip(header, cells, strict=False)) for cells in _cells(reader))


def parse_csv_columns(
    data: bytes,
    columns: Sequence[str],
    shared: Collection[str] = (),
    cut: list[int] | None = None,
) -> tuple[list[str], Iterator[tuple[str, ...]]]:
    """The header and an iterator of rows of a report CSV, each a tuple of the cells of
    `columns` in that order: `""` for a column the report lacks or a row is too short for.

    Decoding, blank lines and errors as `parse_csv`. Cells of the `shared` columns (dates,
    flags: few distinct values) are the same string object in every row that has that value,
    so a 100k-row report kept in memory costs tens of megabytes rather than a hundred. With a
    `cut` list, rows with fewer cells than the header (cut short) are left out and counted in
    `cut[0]`.
    """
    header, reader = _reader(data)
    position = {name: i for i, name in reversed(list(enumerate(header)))}  # first one wins
    where = [position.get(c) for c in columns]
    return header, _picked(reader, where, columns, shared, len(header) if cut else 0, cut)


def _picked(
    reader: Iterator[list[str]],
    where: list[int | None],
    columns: Sequence[str],
    shared: Collection[str],
    least: int = 0,
    cut: list[int] | None = None,
) -> Iterator[tuple[str, ...]]:
    found = [i for i in where if i is not None]
    width = max(found, default=-1) + 1
    complete = len(found) == len(where)
    pick = itemgetter(*found) if len(found) > 1 else None
    pooled = [n for n, c in enumerate(columns) if c in shared and where[n] is not None]
    pool: dict[str, str] = {}
    for cells in _cells(reader):
        if len(cells) < least and cut is not None:
            cut[0] += 1
            continue
        if complete and len(cells) >= width:
            if pick is not None:
                row = pick(cells)
            else:
                row = tuple(cells[i] for i in found)
        else:
            row = tuple(cells[i] if i is not None and i < len(cells) else "" for i in where)
        if pooled:
            values = list(row)
            for n in pooled:
                values[n] = pool.setdefault(values[n], values[n])
            row = tuple(values)
        yield row


def _cells(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    line = 1
    try:
        for line, cells in enumerate(reader, start=2):  # noqa: B007 - used in the error
            if not any(cells):  # an empty or blank line
                continue
            yield cells
    except csv.Error as exc:
        raise DataError(f"The report is not valid CSV near line {line + 1}: {exc}.") from exc


def _concealed(value: str) -> bool:
    if "<PII:" in value:
        return True
    return "@" not in value and _HEX_PSEUDONYM.fullmatch(value) is not None


def looks_concealed(values: Iterable[str]) -> bool:
    """Whether user names (UPNs or display names) look pseudonymised by the privacy setting.

    True when most of the non-empty values are 32-hex-digit pseudonyms or `<PII:...>` forms;
    such names never match `/users` and must be reported as concealed, not as "no activity".
    """
    seen = concealed = 0
    for value in values:
        value = value.strip()
        if not value:
            continue
        seen += 1
        concealed += _concealed(value)
    return seen > 0 and concealed * 2 > seen
