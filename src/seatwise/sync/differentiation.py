"""License Differentiation: for each licence type, how many holders have each included service
and how many of them actually used it recently; then the per-user summary the Users view sorts
on. Derived from what the other tasks stored, in one pass over the users a chunk at a time; or,
when the other tasks named the users whose rows they changed, only those users' summaries, the
counts updated by taking out those users' old shares of them and adding their new ones.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from seatwise import services
from seatwise.store import writes
from seatwise.store.schema import LicenseUsage, SkuPlan, UserSummary
from seatwise.sync import summary
from seatwise.sync.context import TaskContext

_INDEX = {service: i for i, service in enumerate(services.SERVICES)}
_BIT = {service: 1 << i for service, i in _INDEX.items()}
Pair = tuple[str, int]  # (SKU id, the service's index in services.SERVICES)


def _pairs(sku_id: str, mask: int) -> list[Pair]:
    """The (SKU, service index) pairs of a SKU's services mask."""
    return [(sku_id, bit) for bit in range(mask.bit_length()) if mask >> bit & 1]


def _hashable(disabled: Any) -> Any:
    """Disabled plans as stored (JSON text on SQLite, a list on PostgreSQL), as a dict key."""
    return tuple(disabled) if isinstance(disabled, list) else disabled


class _Included:
    """The services a licence gives its holder, given the plans disabled for them, as a bit
    mask over `services.SERVICES`; remembered per (SKU, disabled plans), since a tenant has few
    distinct combinations."""

    def __init__(self, plans: dict[str, dict[str, str]]) -> None:
        self.plans = plans
        self.cache: dict[tuple[str, Any], int] = {}

    def __call__(self, sku_id: str, disabled: Any) -> int:
        key = (sku_id, _hashable(disabled))
        found = self.cache.get(key)
        if found is None:
            off = set(summary.disabled_plans(disabled))
            enabled = {name for pid, name in self.plans.get(sku_id, {}).items() if pid not in off}
            found = 0
            for service in services.services_of_plans(enabled):
                found |= _BIT[service]
            self.cache[key] = found
        return found


# Counts of the runs of the other tasks that changed stored data, and the count (with what else
# the results depend on) the stored results were derived at: equal, nothing to derive again.
INPUTS_CURSOR = "derived-inputs"
DERIVED_CURSOR = "derived-from"
DERIVED_FORMAT = "2"  # bumped when what is derived from the same data changes
# The users whose stored rows changed since the last derivation (a JSON list), or "*": any.
DIRTY_CURSOR = "derived-dirty"
DIRTY_MAX = 20_000  # more than this many: derive every user's summary again
UNCHANGED_NOTE = (
    "Nothing this task reads changed since its last run, so the licence/service counts and the "
    "Users view were left as they were."
)


def inputs_changed(
    session: Session, tenant_pk: int, now: datetime, touched: set[str] | None
) -> None:
    """Record that a task run changed data this task derives from, and whose (`touched`:
    those users' rows; None: perhaps any user's)."""
    count = int(writes.get_cursor(session, tenant_pk, INPUTS_CURSOR) or 0)
    writes.set_cursor(session, tenant_pk, INPUTS_CURSOR, str(count + 1), now)
    stored = writes.get_cursor(session, tenant_pk, DIRTY_CURSOR)
    dirty = _dirty(stored)
    if dirty is None or touched is None or len(dirty | touched) > DIRTY_MAX:
        value = "*"
    else:
        value = json.dumps(sorted(dirty | touched))
    if value != stored:
        writes.set_cursor(session, tenant_pk, DIRTY_CURSOR, value, now)


def _dirty(stored: str | None) -> set[str] | None:
    """The users recorded by `inputs_changed`; None when any user's rows may have changed
    (or nothing was ever derived)."""
    if stored is None or stored == "*":
        return None
    try:
        found = json.loads(stored)
    except ValueError:
        return None
    return {str(user_id) for user_id in found} if isinstance(found, list) else None


def run(ctx: TaskContext) -> None:
    """Run the License Differentiation task inside the caller's transaction: nothing is read
    or written when no other task changed stored data since its last run; when the changes
    name their users, only those users' summaries are derived again and the licence/service
    counts are updated from their old and new shares."""
    pk = ctx.tenant.pk
    inputs = writes.get_cursor(ctx.session, pk, INPUTS_CURSOR) or "0"
    # What the results depend on besides the data: this code, the active window and
    # Microsoft's table of which service plan gives which service (`seatwise skus import`).
    basis = f"{DERIVED_FORMAT}:{ctx.options.active_window_days}:{services.plan_services_digest()}"
    marker = f"{basis}|{inputs}"
    derived = writes.get_cursor(ctx.session, pk, DERIVED_CURSOR)
    # Counts without any report date were dated by the day of the run: same day only.
    if derived in (marker, f"{marker}|{ctx.today}"):
        ctx.note(UNCHANGED_NOTE)
        return
    dirty = _dirty(writes.get_cursor(ctx.session, pk, DIRTY_CURSOR))
    counts = None
    if dirty is not None and derived is not None and derived.split("|")[0] == basis:
        counts = _Counts.load(writes.get_cursor(ctx.session, pk, COUNTS_CURSOR))
    if counts is None or not _derive_some(ctx, dirty or set(), counts):
        counts = _derive(ctx)
    if _store(ctx, counts):
        marker = f"{marker}|{ctx.today}"
    writes.set_cursor(ctx.session, pk, DERIVED_CURSOR, marker, ctx.now)
    writes.set_cursor(ctx.session, pk, DIRTY_CURSOR, "[]", ctx.now)


# The counts as of the last derivation (`_Counts.dump`): a later run adds and takes out shares.
COUNTS_CURSOR = "derived-counts"
REPORT_SERVICES = frozenset(services.REPORT_SERVICES)


class _Shares:
    """Each user's share of the counts, as the text kept in `user_summary.usage_share`: the
    services each licence gives a live holder (bit masks), the days they last used those
    services, and the newest report date of the user's report-service rows (the counts'
    reference day). JSON, ordered, so equal shares are equal text."""

    def __init__(self, ctx: TaskContext) -> None:
        plans: dict[str, dict[str, str]] = defaultdict(dict)  # sku -> plan id -> plan name
        for sku_id, plan_id, plan_name in ctx.session.execute(
            select(SkuPlan.sku_id, SkuPlan.plan_id, SkuPlan.plan_name).where(
                SkuPlan.tenant_pk == ctx.tenant.pk
            )
        ):
            plans[sku_id][plan_id] = plan_name
        self.included = _Included(plans)
        self.iso: dict[Any, str | None] = {}  # stored date cell -> ISO day
        self.held: dict[tuple[tuple[str, Any], ...], tuple[str, int, list[Pair]]] = {}

    def _iso(self, chunk: summary.Chunk, value: Any) -> str | None:
        try:
            return self.iso[value]
        except KeyError:
            day = chunk.day(value)
            found = self.iso[value] = day.isoformat() if day is not None else None
            return found

    def _held(self, held: list[tuple[str, Any, Any]]) -> tuple[str, int, list[Pair]]:
        """Of a user's licences (SKU, disabled plans as stored, updated): the JSON of each
        SKU's services mask, the services of all, and the pairs; remembered per licences."""
        key = tuple((sku_id, _hashable(disabled)) for sku_id, disabled, _ in held)
        found = self.held.get(key)
        if found is None:
            masks: dict[str, int] = {}
            for sku_id, disabled, _ in held:
                masks[sku_id] = masks.get(sku_id, 0) | self.included(sku_id, disabled)
            listed = sorted((sku_id, mask) for sku_id, mask in masks.items() if mask)
            union = 0
            pairs: list[Pair] = []
            for sku_id, mask in listed:
                union |= mask
                pairs.extend(_pairs(sku_id, mask))
            text = json.dumps(listed, separators=(",", ":")) if listed else ""
            found = self.held[key] = (text, union, pairs)
        return found

    def of(self, chunk: summary.Chunk, counts: _Counts | None = None) -> dict[str, str | None]:
        """The shares of a chunk's users, by user id (None: the user counts nowhere), each
        added to `counts` when given."""
        found: dict[str, str | None] = {}
        for user in chunk.users:
            user_id = user.id
            activity = chunk.activity.get(user_id, ())
            report = None
            for _, service, _, as_of in activity:
                if service in REPORT_SERVICES and as_of is not None:
                    if report is None or as_of > report:
                        report = as_of
            held = chunk.assignments.get(user_id)
            licences, union, pairs = (
                self._held(held) if held and user.deleted_at is None else _NO_LICENCES
            )
            days: dict[int, str] = {}
            if union:
                for _, service, last, _ in activity:
                    bit = _INDEX.get(service)
                    if bit is not None and union >> bit & 1 and last is not None:
                        days[bit] = self._iso(chunk, last)  # type: ignore[assignment]
            day = self._iso(chunk, report)
            if not licences and day is None:
                found[user_id] = None
                continue
            listed = ",".join(f'[{bit},"{days[bit]}"]' for bit in sorted(days))
            dated = f'"{day}"' if day else "null"
            found[user_id] = f"[{licences or '[]'},[{listed}],{dated}]"
            if counts is not None:
                counts.add_parts(pairs, days, day)
        return found


_NO_LICENCES: tuple[str, int, list[Pair]] = ("", 0, [])


class _Counts:
    """Holders of each (licence, service) pair, how many of them last used the service on each
    day, and how many users' newest report date is each day: sums of the users' shares."""

    def __init__(self) -> None:
        self.holders: Counter[Pair] = Counter()
        self.days: dict[Pair, Counter[str]] = defaultdict(Counter)
        self.reports: Counter[str] = Counter()

    def add(self, share: str | None, sign: int = 1) -> None:
        """Add a user's share as stored (`sign` -1: take it out)."""
        if not share:
            return
        licences, days, report = json.loads(share)
        pairs = [pair for sku_id, mask in licences for pair in _pairs(sku_id, mask)]
        self.add_parts(pairs, dict(days), report, sign)

    def add_parts(
        self, pairs: list[Pair], days: dict[int, str], report: str | None, sign: int = 1
    ) -> None:
        """Add a share: its pairs, the day each service was last used, its report date."""
        if report:
            self.reports[report] += sign
        for pair in pairs:
            self.holders[pair] += sign
            if (day := days.get(pair[1])) is not None:
                self.days[pair][day] += sign

    def consistent(self) -> bool:
        """No count below zero: what was taken out had been added."""
        return (
            all(n >= 0 for n in self.holders.values())
            and all(n >= 0 for n in self.reports.values())
            and all(n >= 0 for days in self.days.values() for n in days.values())
        )

    def dump(self) -> str:
        pairs = [
            [sku_id, bit, holders, {d: n for d, n in sorted(self.days[pair].items()) if n}]
            for pair in sorted(self.holders)
            if (holders := self.holders[pair]) > 0
            for sku_id, bit in (pair,)
        ]
        reports = {day: n for day, n in sorted(self.reports.items()) if n}
        return json.dumps({"pairs": pairs, "reports": reports}, separators=(",", ":"))

    @classmethod
    def load(cls, stored: str | None) -> _Counts | None:
        """The counts `dump` wrote; None when there are none (or they do not read)."""
        if not stored:
            return None
        counts = cls()
        try:
            found = json.loads(stored)
            for sku_id, bit, holders, days in found["pairs"]:
                pair = (_text(sku_id), _number(bit, len(services.SERVICES)))
                counts.holders[pair] = _number(holders)
                counts.days[pair].update({_day(d): _number(n) for d, n in days.items()})
            counts.reports.update({_day(d): _number(n) for d, n in found["reports"].items()})
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return counts


def _text(value: Any) -> str:
    if type(value) is not str:
        raise ValueError("not text")
    return value


def _number(value: Any, below: int | None = None) -> int:
    """A count (or index) as stored: a whole number from 0 (below `below`), else ValueError."""
    if type(value) is not int or value < 0 or (below is not None and value >= below):
        raise ValueError("not a count")
    return value


def _day(value: Any) -> str:
    """An ISO day as stored, else ValueError."""
    return date.fromisoformat(_text(value)).isoformat()


def _store(ctx: TaskContext, counts: _Counts) -> bool:
    """Replace the tenant's licence/service counts and keep `counts` for the next run; whether
    they are dated by the run's day. "Uses" = last used within the window before the newest
    report date of the report services (or the run's day when there is none)."""
    pk = ctx.tenant.pk
    latest = max((day for day, n in counts.reports.items() if n > 0), default=None)
    reference = date.fromisoformat(latest) if latest else ctx.today
    start = (reference - timedelta(days=ctx.options.active_window_days)).isoformat()
    rows = [
        {
            "tenant_pk": pk,
            "sku_id": sku_id,
            "service": services.SERVICES[bit],
            "holders": holders,
            "active_users": sum(n for day, n in counts.days[(sku_id, bit)].items() if day >= start),
            "as_of": reference,
        }
        for (sku_id, bit), holders in sorted(counts.holders.items())
        if holders > 0
    ]
    changes = writes.replace_rows(ctx.session, LicenseUsage, pk, rows)
    writes.set_cursor(ctx.session, pk, COUNTS_CURSOR, counts.dump(), ctx.now)  # if it differs
    ctx.counts.update({"licence/service pairs": len(rows), "rows written": changes.total})
    ctx.progress(ctx.task, "licence differentiation", len(rows), len(rows))
    return latest is None


def _derive(ctx: TaskContext) -> _Counts:
    """Every user's summary and share, in one pass over the users; the counts they sum to."""
    shares = _Shares(ctx)
    counts = _Counts()
    written = 0
    for chunk in summary.chunks(ctx):
        written += summary.write(ctx, chunk, shares.of(chunk, counts))
    ctx.count("user summaries written", written)
    return counts


def _derive_some(ctx: TaskContext, dirty: set[str], counts: _Counts) -> bool:
    """The summaries and shares of the `dirty` users, their old shares taken out of `counts`
    and the new ones added; False if the counts did not hold the old shares (then every
    user's are derived again)."""
    shares = _Shares(ctx)
    connection = ctx.session.connection()
    written = 0
    added: list[str | None] = []
    for chunk in summary.chunks(ctx, only=dirty):
        old = dict(
            connection.execute(
                select(UserSummary.user_id, UserSummary.usage_share).where(
                    UserSummary.tenant_pk == ctx.tenant.pk, chunk.within(UserSummary.user_id)
                )
            ).all()
        )
        found = shares.of(chunk)
        for user_id in found:
            counts.add(old.get(user_id), -1)
        added.extend(found.values())
        written += summary.write(ctx, chunk, found)
    if not counts.consistent():  # took out what had not been added
        return False
    for share in added:
        counts.add(share)
    ctx.count("user summaries written", written)
    ctx.count("user summaries derived again", len(dirty))
    return True
