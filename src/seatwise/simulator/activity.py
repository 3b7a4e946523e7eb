"""Daily activity as a pure function of (tenant seed, user, service, day).

A user is active in a service on a day when a 64-bit hash of those four falls under the user's
rate for the service. Every report asks the same function, so a user's numbers agree across
endpoints and across report dates (the `date=` form sees the same history).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from seatwise.simulator.model import User

_MASK = (1 << 64) - 1
SERVICE_CODES = {
    name: i
    for i, name in enumerate(
        (
            "exchange",
            "onedrive",
            "sharepoint",
            "skype",
            "yammer",
            "teams",
            "officeapps",
            "dynamics",
            "powerbi",
            "project",
            "visio",
            "signin",
        )
    )
}
_HORIZON_DAYS = 3 * 365


def mix(x: int) -> int:
    """A 64-bit finaliser (splitmix/murmur3 style): a fast, well-spread integer hash."""
    x &= _MASK
    x = (x ^ (x >> 33)) * 0xFF51AFD7ED558CCD & _MASK
    x = (x ^ (x >> 33)) * 0xC4CEB9FE1A85EC53 & _MASK
    return x ^ (x >> 33)


def _key(seed: int, user: User, service: str) -> int:
    return mix((seed * 0x9E3779B97F4A7C15 + user.index * 131 + SERVICE_CODES[service]) & _MASK)


def active_on(seed: int, user: User, service: str, day: date) -> bool:
    """Whether `user` used `service` on `day`."""
    rate = user.rates.get(service, 0.0)
    if rate <= 0.0 or not _in_window(user, day):
        return False
    return (
        mix(_key(seed, user, service) ^ day.toordinal() * 0x2545F4914F6CDD1D & _MASK) < rate * 2**64
    )


def _in_window(user: User, day: date) -> bool:
    if user.active_from is not None and day < user.active_from:
        return False
    return user.active_until is None or day <= user.active_until


def last_active(seed: int, user: User, service: str, as_of: date) -> date | None:
    """The last day on or before `as_of` that `user` used `service`, or None."""
    rate = user.rates.get(service, 0.0)
    if rate <= 0.0:
        return None
    start = as_of if user.active_until is None else min(as_of, user.active_until)
    floor = as_of - timedelta(days=_HORIZON_DAYS)
    if user.active_from is not None and user.active_from > floor:
        floor = user.active_from
    key = _key(seed, user, service)
    threshold = rate * 2**64
    day = start.toordinal()
    stop = floor.toordinal()
    mask = _MASK
    while day >= stop:
        # mix(key ^ day * C), inlined: this loop is the simulator's hottest path
        x = key ^ (day * 0x2545F4914F6CDD1D & mask)
        x = (x ^ (x >> 33)) * 0xFF51AFD7ED558CCD & mask
        x = (x ^ (x >> 33)) * 0xC4CEB9FE1A85EC53 & mask
        if x ^ (x >> 33) < threshold:
            return date.fromordinal(day)
        day -= 1
    return None


def active_ordinals(seed: int, user: User, service: str, first: date, last: date) -> list[int]:
    """Ordinals of the days in [first, last] on which `user` used `service`."""
    rate = user.rates.get(service, 0.0)
    if rate <= 0.0:
        return []
    lo, hi = first.toordinal(), last.toordinal()
    if user.active_from is not None:
        lo = max(lo, user.active_from.toordinal())
    if user.active_until is not None:
        hi = min(hi, user.active_until.toordinal())
    key = _key(seed, user, service)
    threshold = rate * 2**64
    return [d for d in range(lo, hi + 1) if mix(key ^ d * 0x2545F4914F6CDD1D & _MASK) < threshold]


def active_days(seed: int, user: User, service: str, first: date, last: date) -> int:
    """How many days in [first, last] `user` used `service`."""
    return len(active_ordinals(seed, user, service, first, last))


def moment(seed: int, user: User, service: str, day: date) -> datetime:
    """A deterministic time of day for activity on `day` (working hours, UTC)."""
    h = mix(_key(seed, user, service) + day.toordinal())
    seconds = 7 * 3600 + h % (11 * 3600)
    return datetime.combine(day, time(0, 0)) + timedelta(seconds=seconds)


def any_last_active(seed: int, user: User, as_of: date, services: tuple[str, ...]) -> date | None:
    """The latest of `last_active` over `services`."""
    best: date | None = None
    for service in services:
        day = last_active(seed, user, service, as_of)
        if day is not None and (best is None or day > best):
            best = day
    return best
