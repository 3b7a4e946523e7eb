"""Reading Microsoft 365 usage-report CSVs: rows keyed by header name, and spotting concealed
(pseudonymised) user names (graph-facts §3, §11).

Pure: bytes in, rows out; no I/O. Typing the values (dates, booleans, numbers) is the sync
layer's job, per report.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator

from seatwise.errors import DataError

__all__ = ["looks_concealed", "parse_csv"]

# Concealed names: 32 hex digits (MD5-like, upper case in practice) or `<PII:...>` forms.
_HEX_PSEUDONYM = re.compile(r"[0-9A-Fa-f]{32}")


def parse_csv(data: bytes) -> tuple[list[str], Iterator[dict[str, str]]]:
    """The header and an iterator of rows (`{header: cell}`) of a report CSV.

    Decodes UTF-8 with or without the BOM Microsoft puts first. Columns are matched by header
    name, never by position, so reports with extra or fewer columns than documented read the
    same: a row shorter than the header lacks the missing keys, cells beyond the header are
    dropped. Blank lines are skipped. Raises `DataError` for bytes that are not UTF-8 text or
    not CSV (rows raise it lazily, as they are read).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"The report is not UTF-8 text (byte {exc.start} is invalid).") from exc
    if text.startswith(codecs.BOM_UTF8.decode("utf-8")):  # a doubled BOM has been seen
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:
        raise DataError(f"The report's header is not valid CSV: {exc}.") from exc
    return header, _rows(reader, header)


def _rows(reader: Iterator[list[str]], header: list[str]) -> Iterator[dict[str, str]]:
    line = 1
    try:
        for line, cells in enumerate(reader, start=2):  # noqa: B007 - used in the error
            if not cells or all(not cell for cell in cells):
                continue
            yield dict(zip(header, cells, strict=False))
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
