"""Licence positions (DESIGN §5): per SKU, units purchased, assigned and available with the
contract's cost, its annual and unused annual cost, totals per currency and the renewal horizon.
Pure: plain rows in, no session and no clock (`as_of` is passed in). Money is `Decimal`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from seatwise.errors import UsageError

__all__ = [
    "FREE_SKUS",
    "KEYS",
    "LICENSE_TYPES",
    "MAX_COST",
    "PERIODS_PER_YEAR",
    "TOTAL_KEYS",
    "TRIAL_SKUS",
    "CurrencyTotal",
    "LicensePosition",
    "annual_amount",
    "build",
    "check_contract",
    "expiring",
    "license_type",
    "money",
    "parse_cost",
    "parse_currency",
    "parse_date",
    "parse_frequency",
    "position",
    "price",
    "totals",
]

KEYS = (
    "sku_id",
    "sku_part_number",
    "name",
    "license_type",
    "purchased",
    "assigned",
    "available",
    "suspended",
    "warning",
    "managed",
    "effective_date",
    "expiration_date",
    "cost",
    "currency",
    "payment_frequency",
    "annual_cost",
    "unused_annual_cost",
)
TOTAL_KEYS = ("currency", "annual_cost", "unused_annual_cost", "skus")

LICENSE_TYPES = ("paid", "free", "trial", "unknown")
PERIODS_PER_YEAR: Mapping[str, int] = {"monthly": 12, "annual": 1}

# Known free and trial SKUs: skuPartNumber -> skuId (graph-facts §9.1, Microsoft's SKU table).
FREE_SKUS: Mapping[str, str] = {
    "POWER_BI_STANDARD": "a403ebcc-fae0-4ca2-8c8c-7a907fd6c235",
    "FLOW_FREE": "f30db892-07e9-47e9-837c-80727f46fd3d",
    "TEAMS_EXPLORATORY": "710779e8-3d4a-4c88-adb9-386c958d1fdf",
}
TRIAL_SKUS: Mapping[str, str] = {
    "POWERAPPS_VIRAL": "dcb1a3ae-b33f-4487-846a-a640262fadf4",
}
_FREE_IDS = frozenset(FREE_SKUS.values())
_TRIAL_IDS = frozenset(TRIAL_SKUS.values())

# One licence per period costs less than this: larger values are typing mistakes, and every
# allowed value (at most 4 decimals) survives SQLite's floating-point storage exactly.
MAX_COST = Decimal("1000000000")
MAX_COST_DECIMALS = 4
_CENT = Decimal("0.01")
_STORED = Decimal("0.0001")


def license_type(sku_id: str, part_number: str | None) -> str:
    """The licence type of a SKU: free, trial, paid, or unknown without a part number.

    The known free and trial SKUs are matched by skuId or part number; otherwise a part number
    containing TRIAL or VIRAL is a trial, one containing FREE is free, and any other is paid.
    """
    key = sku_id.strip().lower()
    part = (part_number or "").strip().upper()
    if key in _FREE_IDS or part in FREE_SKUS:
        return "free"
    if key in _TRIAL_IDS or part in TRIAL_SKUS:
        return "trial"
    if not part or part.lower() == key:  # the sync stores the skuId when the part is missing
        return "unknown"
    if "TRIAL" in part or "VIRAL" in part:
        return "trial"
    if "FREE" in part:
        return "free"
    return "paid"


def annual_amount(
    cost: Decimal | None, payment_frequency: str | None, units: int
) -> Decimal | None:
    """cost × periods per year × units, exactly; None without a cost or payment frequency."""
    periods = PERIODS_PER_YEAR.get(payment_frequency or "")
    if cost is None or periods is None:
        return None
    return cost * periods * units


def money(value: Decimal | None) -> str | None:
    """An amount as JSON shows it: a string with 2 decimals (half up), or None."""
    if value is None:
        return None
    return f"{value.quantize(_CENT, rounding=ROUND_HALF_UP):f}"


def price(value: Decimal | None) -> str | None:
    """A unit cost as entered: a string with at least 2 and at most 4 decimals, or None."""
    if value is None:
        return None
    exact = value.quantize(_STORED, rounding=ROUND_HALF_UP).normalize()
    if _decimals(exact) < 2:
        exact = exact.quantize(_CENT)
    return f"{exact:f}"


def _decimals(value: Decimal) -> int:
    """Digits after the point of a finite Decimal as written (trailing zeros count)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int), "a finite Decimal has an int exponent"
    return max(-exponent, 0)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class LicensePosition:
    """One SKU's position: units, contract terms and what they cost a year."""

    sku_id: str
    sku_part_number: str
    name: str
    license_type: str
    purchased: int
    assigned: int
    available: int
    suspended: int
    warning: int
    managed: bool
    effective_date: date | None
    expiration_date: date | None
    cost: Decimal | None
    currency: str | None
    payment_frequency: str | None
    annual_cost: Decimal | None
    unused_annual_cost: Decimal | None
    retired: bool = False

    @property
    def counted(self) -> bool:
        """Whether the SKU takes part in calculations: managed and still subscribed."""
        return self.managed and not self.retired

    def record(self) -> dict[str, Any]:
        """Exactly `KEYS`, JSON-ready: dates ISO, money as strings (see `money`, `price`)."""
        return {
            "sku_id": self.sku_id,
            "sku_part_number": self.sku_part_number,
            "name": self.name,
            "license_type": self.license_type,
            "purchased": self.purchased,
            "assigned": self.assigned,
            "available": self.available,
            "suspended": self.suspended,
            "warning": self.warning,
            "managed": self.managed,
            "effective_date": _iso(self.effective_date),
            "expiration_date": _iso(self.expiration_date),
            "cost": price(self.cost),
            "currency": self.currency,
            "payment_frequency": self.payment_frequency,
            "annual_cost": money(self.annual_cost),
            "unused_annual_cost": money(self.unused_annual_cost),
        }


def position(sku: Mapping[str, Any], contract: Mapping[str, Any] | None) -> LicensePosition:
    """The position of one stored `sku` row under its `license_contract` row (None: no terms).

    A SKU without contract terms is managed. Unmanaged and retired SKUs keep their entered
    terms but have no annual costs: they are left out of every calculation.
    """
    terms: Mapping[str, Any] = contract or {}
    managed = bool(terms.get("managed", True))
    retired = bool(sku.get("retired") or False)
    purchased = int(sku.get("enabled") or 0)
    assigned = int(sku.get("consumed") or 0)
    available = purchased - assigned
    cost: Decimal | None = terms.get("cost")
    currency: str | None = terms.get("currency")
    frequency: str | None = terms.get("payment_frequency")
    priced = managed and not retired and currency is not None
    part = str(sku.get("part_number") or sku["sku_id"])
    return LicensePosition(
        sku_id=str(sku["sku_id"]),
        sku_part_number=part,
        name=str(sku.get("name") or part),
        license_type=license_type(str(sku["sku_id"]), sku.get("part_number")),
        purchased=purchased,
        assigned=assigned,
        available=available,
        suspended=int(sku.get("suspended") or 0),
        warning=int(sku.get("warning") or 0),
        managed=managed,
        effective_date=terms.get("effective_date"),
        expiration_date=terms.get("expiration_date"),
        cost=cost,
        currency=currency,
        payment_frequency=frequency,
        annual_cost=annual_amount(cost, frequency, purchased) if priced else None,
        unused_annual_cost=annual_amount(cost, frequency, max(available, 0)) if priced else None,
        retired=retired,
    )


def build(
    skus: Iterable[Mapping[str, Any]],
    contracts: Iterable[Mapping[str, Any]],
    include_all: bool = False,
) -> list[LicensePosition]:
    """Positions of the stored SKUs, by part number; unmanaged and retired ones only with
    `include_all`. Contracts of SKUs not (or no longer) stored are ignored."""
    terms = {str(c["sku_id"]).lower(): c for c in contracts}
    found = [position(sku, terms.get(str(sku["sku_id"]).lower())) for sku in skus]
    if not include_all:
        found = [p for p in found if p.counted]
    return sorted(found, key=lambda p: (p.sku_part_number.casefold(), p.sku_id))


@dataclass(frozen=True)
class CurrencyTotal:
    """What the managed SKUs priced in one currency cost a year, and how much of it is unused."""

    currency: str
    annual_cost: Decimal
    unused_annual_cost: Decimal
    skus: int

    def record(self) -> dict[str, Any]:
        """Exactly `TOTAL_KEYS`, JSON-ready (money as strings with 2 decimals)."""
        return {
            "currency": self.currency,
            "annual_cost": money(self.annual_cost),
            "unused_annual_cost": money(self.unused_annual_cost),
            "skus": self.skus,
        }


def totals(positions: Iterable[LicensePosition]) -> list[CurrencyTotal]:
    """Annual and unused annual cost per currency over managed, priced SKUs, by currency.

    Amounts in different currencies are never added together; unmanaged and retired SKUs and
    SKUs without a cost count for nothing.
    """
    sums: dict[str, tuple[Decimal, Decimal, int]] = {}
    for item in positions:
        if not item.counted or item.annual_cost is None or item.currency is None:
            continue
        annual, unused, count = sums.get(item.currency, (Decimal(0), Decimal(0), 0))
        sums[item.currency] = (
            annual + item.annual_cost,
            unused + (item.unused_annual_cost or Decimal(0)),
            count + 1,
        )
    return [CurrencyTotal(cur, *sums[cur]) for cur in sorted(sums)]


def expiring(
    positions: Iterable[LicensePosition], as_of: date, days: int = 90
) -> list[LicensePosition]:
    """Managed SKUs whose contract expires from `as_of` to `days` days later (both included),
    soonest first. Contracts that already expired are not in the horizon."""
    if days < 0:
        raise ValueError(f"days must be 0 or more, not {days}")
    until = as_of + timedelta(days=days)
    found = [
        p
        for p in positions
        if p.counted and p.expiration_date is not None and as_of <= p.expiration_date <= until
    ]
    return sorted(found, key=lambda p: (p.expiration_date, p.sku_part_number.casefold()))


# Validation of user-entered contract terms (CLI, and later the UI and API).


def parse_cost(text: str) -> Decimal:
    """A licence's cost per payment period: a number ≥ 0 with at most 4 decimals."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise UsageError(f"--cost must be a number such as 12.50, not {text!r}.")
    if value < 0:
        raise UsageError(f"--cost must be 0 or more, not {text}.")
    if value >= MAX_COST:
        raise UsageError(f"--cost must be less than {MAX_COST:,} per licence and period.")
    if _decimals(value.normalize()) > MAX_COST_DECIMALS:
        raise UsageError(f"--cost takes at most {MAX_COST_DECIMALS} decimals, not {text}.")
    return (value + 0).quantize(_STORED)  # + 0 turns -0 into 0


def parse_currency(text: str) -> str:
    """An ISO 4217-shaped currency code: three upper-case letters (EUR, USD, GBP...)."""
    code = text.strip()
    if len(code) != 3 or not (code.isascii() and code.isalpha() and code.isupper()):
        raise UsageError(f"--currency must be three upper-case letters such as EUR, not {text!r}.")
    return code


def parse_frequency(text: str) -> str:
    """How often a licence is paid for: "monthly" or "annual" (any case)."""
    value = text.strip().lower()
    if value not in PERIODS_PER_YEAR:
        raise UsageError(
            f"--payment-frequency must be {' or '.join(PERIODS_PER_YEAR)}, not {text!r}."
        )
    return value


def parse_date(text: str, option: str) -> date:
    """An ISO 8601 date (2026-01-31) given to `option`."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{option} must be an ISO date such as 2026-01-31, not {text!r}."
        ) from None


def check_contract(sku: str, contract: Mapping[str, Any]) -> None:
    """Refuse contract terms that do not add up, with one sentence naming the `sku`.

    The expiration date may not precede the effective date, and a cost needs a currency and a
    payment frequency (else it could be neither annualised nor totalled).
    """
    effective, expiration = contract.get("effective_date"), contract.get("expiration_date")
    if effective is not None and expiration is not None and expiration < effective:
        raise UsageError(
            f"The expiration date of {sku} ({expiration.isoformat()}) is before its effective "
            f"date ({effective.isoformat()})."
        )
    if contract.get("cost") is not None:
        needed = (("--currency", "currency"), ("--payment-frequency", "payment_frequency"))
        missing = [option for option, key in needed if contract.get(key) is None]
        if missing:
            raise UsageError(f"The cost of {sku} needs {' and '.join(missing)} as well.")
