"""Numbers, money, sizes and dates as the pages show them (web.formats over Babel)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from seatwise.web.formats import day, moment, money, number, size_mb, upn, when

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [
        ("133584.00", "USD", f"$133,584.00{NBSP}USD"),
        (Decimal("2368.8"), "EUR", f"€2,368.80{NBSP}EUR"),
        (1200, "CHF", f"1,200.00{NBSP}CHF"),  # no symbol of its own: the code once
        (-5, "GBP", f"-£5.00{NBSP}GBP"),
        ("12.5", None, "12.50"),
        (None, "USD", ""),
    ],
)
def test_money_has_separators_symbol_and_code(value: object, currency: str, shown: str) -> None:
    assert money(value, currency) == shown


def test_money_whole_and_exact() -> None:
    assert money("133584.49", "USD", whole=True) == f"$133,584{NBSP}USD"
    assert money("1.2345", "USD", exact=True) == f"$1.2345{NBSP}USD"
    assert money("20.5", "USD", exact=True) == f"$20.50{NBSP}USD"


def test_numbers_and_sizes() -> None:
    assert number(999926) == "999,926"
    assert number(1234.56) == "1,234.6"
    assert number(None) == ""
    assert size_mb(850) == f"850{NBSP}MB"
    assert size_mb(2300) == f"2.2{NBSP}GB"  # where MB run into thousands: GB
    assert size_mb(5 * 1024 * 1024) == f"5{NBSP}TB"
    assert size_mb(None) == ""


def test_dates_never_wrap_and_read_as_words() -> None:
    shown = str(day("2027-02-01"))
    assert shown == (
        '<time class="date" datetime="2027-02-01" title="2027-02-01">1 Feb 2027</time>'
    )
    assert "1 Feb 2027" in str(day(date(2027, 2, 1)))
    assert str(day(None, "—")) == "—"
    stamp = moment(datetime(2026, 12, 3, 4, 5, 6, 123456, tzinfo=UTC))
    assert ">3 Dec 2026 04:05<" in str(stamp) and "123456" not in str(stamp)
    assert ">3 Dec 2026 04:05<" in str(moment("2026-12-03T04:05:06.123456+00:00"))


def test_when_in_words() -> None:
    assert when("at_renewal:2027-02-01") == "at renewal on 1 Feb 2027"
    assert when("now") == "now"


def test_upn_breaks_only_at_the_at_sign_and_is_escaped() -> None:
    assert str(upn("ann@contoso.com")) == "ann<wbr>@contoso.com"
    guest = str(upn("bo_fabrikam.com#EXT#@contoso.onmicrosoft.com"))
    assert guest == "bo_fabrikam.com#EXT#<wbr><wbr>@contoso.onmicrosoft.com"
    assert str(upn("<b>@x")) == "&lt;b&gt;<wbr>@x"
