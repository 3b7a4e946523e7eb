"""The `Content-Disposition` of a download, per RFC 6266: `filename*=UTF-8''…` with the name
percent-encoded (RFC 8187), plus a plain-ASCII `filename="…"` fallback for old clients. Names
carry tenant names, so nothing of them may break the header: quotes, backslashes, control
characters and line breaks never reach it."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

__all__ = ["attachment"]

_SAFE = "!#$&+-.^_`|~"  # attr-char of RFC 8187 besides letters and digits


def _ascii(filename: str) -> str:
    plain = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    kept = "".join(c if c.isalnum() or c in "._- " else "_" for c in plain).strip()
    return kept or "download"


def attachment(filename: str) -> str:
    """The header's value for downloading a file called `filename`."""
    name = "".join(c for c in filename if c.isprintable()).replace("/", "_").replace("\\", "_")
    name = name.strip() or "download"
    return f"attachment; filename=\"{_ascii(name)}\"; filename*=UTF-8''{quote(name, safe=_SAFE)}"
