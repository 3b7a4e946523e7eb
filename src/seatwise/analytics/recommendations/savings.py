"""Money in recommendations: a licence's annual cost from its contract, when a saving becomes
real (`now` or `at_renewal:<date>`), and the saving of several SKUs without ever adding up
different currencies. `Decimal` only; pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from seatwise.analytics.recommendations.model import CENT, Contract

__all__ = [
    "NOW",
    "PERIODS_PER_YEAR",
    "Money",
    "Saving",
    "annual_cost",
    "downgrade_saving",
    "money",
    "reclaim_saving",
    "renewal",
    "when",
]

NOW = "now"
PERIODS_PER_YEAR: Mapping[str, int] = {"monthly": 12, "annual": 1}
_PERIOD_WORD = {"monthly": "a month", "annual": "a year"}


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency."""

    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{money(self.amount)} {self.currency}"


@dataclass(frozen=True, slots=True)
class Saving:
    """What a recommendation saves a year, when that becomes real, and how it was worked out."""

    amount: Decimal | None
    currency: str | None
    when: str
    evidence: tuple[str, ...]


def money(amount: Decimal) -> str:
    """An amount with two decimals, rounded half up: `Decimal('23.005')` → '23.01'."""
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):f}"


def _exact(amount: Decimal) -> str:
    """Two decimals, or more when the amount has them (a price of 23.005 stays 23.005)."""
    if amount == amount.quantize(CENT):
        return money(amount)
    return f"{amount.normalize():f}"


def annual_cost(contract: Contract | None) -> Money | None:
    """One licence's cost a year (cost × periods per year); None without a usable price or
    when the SKU is unmanaged."""
    if contract is None or not contract.managed or contract.cost is None:
        return None
    periods = PERIODS_PER_YEAR.get(contract.payment_frequency or "")
    if periods is None or not contract.currency:
        return None
    return Money(contract.cost * periods, contract.currency.upper())


def _plus_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def renewal(contract: Contract | None, as_of: date) -> date | None:
    """The next renewal of an annual contract on or after `as_of`, else None.

    The expiration date when it is still ahead; a past one is assumed renewed for a year at a
    time (annual subscriptions renew automatically). Without an expiration date, the next
    anniversary of the effective date. Monthly or missing contracts have no renewal to wait for.
    """
    if contract is None or contract.payment_frequency != "annual":
        return None
    base = contract.expiration_date or contract.effective_date
    if base is None:
        return None
    years = 0
    day = base
    while day < as_of or (contract.expiration_date is None and day == base):
        years += 1
        day = _plus_years(base, years)
    return day


def when(contract: Contract | None, as_of: date) -> str:
    """`at_renewal:<date>` for an annual contract (the saving needs a smaller quantity at
    renewal), else `now` (monthly, or no contract)."""
    day = renewal(contract, as_of)
    return NOW if day is None else f"at_renewal:{day.isoformat()}"


def _when_sentence(part: str, contract: Contract | None, as_of: date) -> str | None:
    day = renewal(contract, as_of)
    if day is None:
        if contract is not None and contract.payment_frequency == "annual":
            return (
                f"{part} is paid annually but has no effective or expiration date: the saving "
                "is shown as immediate."
            )
        return None
    passed = ""
    if contract is not None and contract.expiration_date and contract.expiration_date < as_of:
        passed = f" (its expiration date {contract.expiration_date.isoformat()} has passed and "
        passed += "it is assumed to renew yearly)"
    return (
        f"{part} is paid annually{passed}: the saving is real once the quantity is reduced at "
        f"renewal on {day.isoformat()}."
    )


def _cost_sentence(part: str, contract: Contract | None) -> str | None:
    cost = annual_cost(contract)
    if cost is None or contract is None or contract.cost is None:
        return None
    per = _PERIOD_WORD[contract.payment_frequency or "annual"]
    if contract.payment_frequency == "annual":
        return f"{part} costs {cost} {per}."
    return f"{part} costs {_exact(contract.cost)} {cost.currency} {per}: {cost} a year."


def _latest_when(values: Sequence[str]) -> str:
    dates = sorted(v for v in values if v != NOW)
    return dates[-1] if dates else NOW


def reclaim_saving(items: Sequence[tuple[str, Contract | None]], as_of: date) -> Saving:
    """The yearly saving of removing one licence of each (part number, contract).

    Amounts in one currency are added up; several currencies are never added together, so the
    saving is then unknown (None) and the evidence lists each. `when` is the latest of the
    SKUs' own: the whole saving is real by then.
    """
    evidence: list[str] = []
    per_currency: dict[str, Decimal] = {}
    unpriced: list[str] = []
    whens: list[str] = []
    for part, contract in items:
        cost = annual_cost(contract)
        if cost is None:
            unpriced.append(part)
        else:
            per_currency[cost.currency] = per_currency.get(cost.currency, Decimal(0)) + cost.amount
            evidence.append(_cost_sentence(part, contract) or "")
        whens.append(when(contract, as_of))
        sentence = _when_sentence(part, contract, as_of)
        if sentence:
            evidence.append(sentence)
    if unpriced:
        listed = ", ".join(unpriced)
        evidence.append(
            f"No cost is recorded for {listed}"
            + (", so the saving leaves it out." if per_currency else ".")
        )
    amount: Decimal | None = None
    currency: str | None = None
    if len(per_currency) == 1:
        currency, amount = next(iter(per_currency.items()))
    elif len(per_currency) > 1:
        listed = ", ".join(f"{money(v)} {c}" for c, v in sorted(per_currency.items()))
        evidence.append(f"The saving is in several currencies, never added together: {listed}.")
    return Saving(amount, currency, _latest_when(whens), tuple(e for e in evidence if e))


def downgrade_saving(
    source: tuple[str, Contract | None], target: tuple[str, Contract | None], as_of: date
) -> Saving:
    """The yearly saving of replacing one licence of `source` by one of `target`
    (cost(source) − cost(target)), known only when both are priced in the same currency.
    `when` follows the source's contract: the saving needs fewer of it."""
    (from_part, from_contract), (to_part, to_contract) = source, target
    evidence = [s for s in (_cost_sentence(p, c) for p, c in (source, target)) if s]
    old, new = annual_cost(from_contract), annual_cost(to_contract)
    amount: Decimal | None = None
    currency: str | None = None
    if old is None or new is None:
        missing = " and ".join(p for p, m in ((from_part, old), (to_part, new)) if m is None)
        evidence.append(f"No cost is recorded for {missing}, so the saving is unknown.")
    elif old.currency != new.currency:
        evidence.append(
            f"{from_part} is priced in {old.currency} and {to_part} in {new.currency}: "
            "the saving is unknown, currencies are never mixed."
        )
    else:
        amount, currency = old.amount - new.amount, old.currency
    sentence = _when_sentence(from_part, from_contract, as_of)
    if sentence:
        evidence.append(sentence)
    return Saving(amount, currency, when(from_contract, as_of), tuple(evidence))
