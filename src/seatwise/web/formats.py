"""Numbers, money, sizes and dates as the UI shows them to people (Babel, English): thousands
separators, currency symbol and code, GB where MB run into thousands, dates as "1 Feb 2027"
that never wrap. Each function takes what the views hold (numbers, decimal strings, ISO dates
or None) and returns text or escaped `Markup`; None shows as "" (or `empty`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from babel.dates import format_date
from babel.numbers import format_decimal, get_currency_symbol
from markupsafe import Markup, escape

__all__ = ["FILTERS", "day", "moment", "money", "number", "size_mb", "upn", "when"]

LOCALE = "en"
_DAY = "d MMM y"


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def number(value: object, decimals: int = 1) -> str:
    """A count or measure with thousands separators and at most `decimals` decimals."""
    amount = _decimal(value)
    if amount is None:
        return "" if value is None else str(value)
    pattern = "#,##0" + ("." + "#" * decimals if decimals else "")
    return format_decimal(amount, format=pattern, locale=LOCALE)


def money(
    value: object, currency: str | None = None, *, whole: bool = False, exact: bool = False
) -> str:
    """An amount with separators, the currency's symbol and its code ("$133,584.00 USD",
    "CHF 1,200.00"); without a currency, the amount alone. `whole` drops the cents; `exact`
    keeps up to 4 decimals (unit prices as entered)."""
    amount = _decimal(value)
    if amount is None:
        return ""
    pattern = "#,##0" if whole else "#,##0.00##" if exact else "#,##0.00"
    shown = format_decimal(amount, format=pattern, locale=LOCALE)
    if not currency:
        return shown
    symbol = get_currency_symbol(currency, locale=LOCALE)
    if symbol == currency:
        return f"{shown}\u00a0{currency}"
    sign, digits = ("-", shown[1:]) if shown.startswith("-") else ("", shown)
    return f"{sign}{symbol}{digits}\u00a0{currency}"


def size_mb(value: object) -> str:
    """Megabytes as MB below 1,000 MB, else GB (TB past 1,000 GB), with one decimal."""
    amount = _decimal(value)
    if amount is None:
        return ""
    for unit in ("MB", "GB"):
        if abs(amount) < 1000:
            return f"{number(amount, 1 if unit == 'GB' else 0)}\u00a0{unit}"
        amount /= 1024
    return f"{number(amount, 1)}\u00a0TB"


def _as_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def day(value: object, empty: str = "", *, short: bool = False) -> Markup:
    """A date as `<time>` "1 Feb 2027" ("1 Feb 27" when `short`, for grids of dates), the ISO
    date in `datetime` and the tooltip."""
    found = _as_date(value)
    if found is None:
        return Markup(escape(empty if value is None or value == "" else str(value)))
    iso = found.isoformat()
    text = format_date(found, "d MMM yy" if short else _DAY, locale=LOCALE)
    return Markup(f'<time class="date" datetime="{iso}" title="{iso}">{escape(text)}</time>')


def moment(value: object, empty: str = "") -> Markup:
    """A timestamp (datetime or ISO text) as "1 Feb 2027 14:05" to the minute, never wrapping."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return Markup(escape(value))
    if not isinstance(value, datetime):
        return day(value, empty)
    iso = value.isoformat(timespec="minutes")
    text = f"{format_date(value.date(), _DAY, locale=LOCALE)} {value:%H:%M}"
    return Markup(f'<time class="date" datetime="{iso}">{escape(text)}</time>')


def when(value: object) -> str:
    """A recommendation's "when" in words: `at_renewal:2027-02-01` → "at renewal on 1 Feb 2027",
    `now` → "now"."""
    text = "" if value is None else str(value)
    kind, _, rest = text.partition(":")
    found = _as_date(rest)
    if found is not None:
        return f"{kind.replace('_', ' ')} on {format_date(found, _DAY, locale=LOCALE)}"
    return text.replace("_", " ")


def upn(value: object) -> Markup:
    """A UPN that may break only before its "@" and after a guest's "#EXT#", never mid-word."""
    text = str(escape("" if value is None else value))
    return Markup(text.replace("#EXT#", "#EXT#<wbr>").replace("@", "<wbr>@"))


FILTERS = {
    "upn": upn,
    "number": number,
    "money": money,
    "size_mb": size_mb,
    "day": day,
    "moment": moment,
    "when": when,
}
