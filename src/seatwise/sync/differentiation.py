"""License Differentiation: for each licence type, how many holders have each included service
and how many of them actually used it recently; then the per-user summary the Users view sorts
on. Derived from what the other tasks stored, in one pass over the users a chunk at a time,
or, when the other tasks named the users whose rows they changed, only those users' summaries.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from seatwise import services
from seatwise.store import reads, writes
from seatwise.store.schema import LicenseAssignment, LicenseUsage, ServiceActivity, SkuPlan, User
from seatwise.sync import summary
from seatwise.sync.context import TaskContext


class _Included:
    """The services a licence gives its holder, given the plans disabled for them; remembered
    per (SKU, disabled plans), since a tenant has few distinct combinations."""

    def __init__(self, plans: dict[str, dict[str, str]]) -> None:
        self.plans = plans
        self.cache: dict[tuple[str, Any], frozenset[str]] = {}

    def __call__(self, sku_id: str, disabled: Any) -> frozenset[str]:
        key = (sku_id, disabled if not isinstance(disabled, list) else tuple(disabled))
        found = self.cache.get(key)
        if found is None:
            off = set(summary.disabled_plans(disabled))
            enabled = {name for pid, name in self.plans.get(sku_id, {}).items() if pid not in off}
            found = self.cache[key] = frozenset(services.services_of_plans(enabled))
        return found


# Counts of the runs of the other tasks that changed stored data, and the count (with what else
# the results depend on) the stored results were derived at: equal, nothing to derive again.
INPUTS_CURSOR = "derived-inputs"
DERIVED_CURSOR = "derived-from"
DERIVED_FORMAT = "1"  # bumped when what is derived from the same data changes
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
    name their users, only those users' summaries are derived again (the licence/service
    counts always from every holder)."""
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
    same_basis = derived is not None and derived.split("|")[0] == basis
    if dirty is None or not same_basis:
        dated_today = _derive(ctx)
    else:
        dated_today = _derive_some(ctx, dirty)
    if dated_today:
        marker = f"{marker}|{ctx.today}"
    writes.set_cursor(ctx.session, pk, DERIVED_CURSOR, marker, ctx.now)
    writes.set_cursor(ctx.session, pk, DIRTY_CURSOR, "[]", ctx.now)


class _Usage:
    """Holders and recent users of each (licence, service) pair, counted user by user."""

    def __init__(self, ctx: TaskContext) -> None:
        plans: dict[str, dict[str, str]] = defaultdict(dict)  # sku -> plan id -> plan name
        for sku_id, plan_id, plan_name in ctx.session.execute(
            select(SkuPlan.sku_id, SkuPlan.plan_id, SkuPlan.plan_name).where(
                SkuPlan.tenant_pk == ctx.tenant.pk
            )
        ):
            plans[sku_id][plan_id] = plan_name
        self.ctx = ctx
        self.included = _Included(plans)
        self.day = summary.Days()
        self.latest: date | None = None  # the newest report date of the report services
        self.holders: Counter[tuple[str, str]] = Counter()
        self.last_used: dict[tuple[str, str], Counter[date]] = defaultdict(Counter)

    def report_date(self, service: str, as_of: Any) -> None:
        """Note an activity row's report date (as stored)."""
        if service in REPORT_SERVICES and (day := self.day(as_of)) is not None:
            if self.latest is None or day > self.latest:
                self.latest = day

    def add(self, held: Iterable[tuple[str, Any]], last: dict[str, Any]) -> None:
        """A live user holding (SKU, disabled plans as stored) licences, who last used each
        service on `last[service]` (as stored)."""
        pairs = {
            (sku_id, service)
            for sku_id, disabled in held
            for service in self.included(sku_id, disabled)
        }
        for pair in pairs:
            self.holders[pair] += 1
            day = self.day(last.get(pair[1]))
            if day is not None:
                self.last_used[pair][day] += 1

    def store(self) -> bool:
        """Replace the tenant's licence/service counts. "Uses" = active within the window
        before the newest report date; whether there was none (then it is the run's day)."""
        ctx, pk = self.ctx, self.ctx.tenant.pk
        reference = self.latest or ctx.today
        window_start = reference - timedelta(days=ctx.options.active_window_days)
        active = {
            pair: sum(users for day, users in days.items() if day >= window_start)
            for pair, days in self.last_used.items()
        }
        rows = [
            {
                "tenant_pk": pk,
                "sku_id": sku_id,
                "service": service,
                "holders": count,
                "active_users": active.get((sku_id, service), 0),
                "as_of": reference,
            }
            for (sku_id, service), count in sorted(self.holders.items())
        ]
        changes = writes.replace_rows(ctx.session, LicenseUsage, pk, rows)
        ctx.counts.update({"licence/service pairs": len(rows), "rows written": changes.total})
        ctx.progress(ctx.task, "licence differentiation", len(rows), len(rows))
        return self.latest is None


REPORT_SERVICES = frozenset(services.REPORT_SERVICES)


def _derive(ctx: TaskContext) -> bool:
    """Every user's summary and the counts, in one pass over the users; whether the counts
    are dated by the run's day."""
    usage = _Usage(ctx)
    written = 0
    for chunk in summary.chunks(ctx):
        for found in chunk.activity.values():
            for _, service, _, as_of in found:
                usage.report_date(service, as_of)
        for user in chunk.users:
            held = chunk.assignments.get(user.id)
            if user.deleted_at is None and held:
                last = {service: day for _, service, day, _ in chunk.activity.get(user.id, ())}
                usage.add(((sku_id, disabled) for sku_id, disabled, _ in held), last)
        written += summary.write(ctx, chunk)
    ctx.count("user summaries written", written)
    return usage.store()


def _derive_some(ctx: TaskContext, dirty: set[str]) -> bool:
    """The summaries of the `dirty` users, and the counts from every live holder's licences
    and activity (two reads, not the whole pass)."""
    written = sum(summary.write(ctx, chunk) for chunk in summary.chunks(ctx, only=dirty))
    usage = _Usage(ctx)
    pk = ctx.tenant.pk
    connection = ctx.session.connection()
    held: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for user_id, sku_id, disabled in reads.raw_rows(
        connection,
        select(
            LicenseAssignment.user_id,
            LicenseAssignment.sku_id,
            LicenseAssignment.disabled_plans,
        )
        .join(
            User,
            (User.tenant_pk == LicenseAssignment.tenant_pk)
            & (User.id == LicenseAssignment.user_id),
        )
        .where(LicenseAssignment.tenant_pk == pk, User.deleted_at.is_(None)),
    ):
        held[user_id].append((sku_id, disabled))
    last: dict[str, dict[str, Any]] = defaultdict(dict)
    for user_id, service, day, as_of in reads.raw_rows(
        connection,
        select(
            ServiceActivity.user_id,
            ServiceActivity.service,
            ServiceActivity.last_activity,
            ServiceActivity.as_of,
        ).where(ServiceActivity.tenant_pk == pk, ServiceActivity.available.is_(True)),
    ):
        usage.report_date(service, as_of)
        if user_id in held:
            last[user_id][service] = day
    for user_id, licences in held.items():
        usage.add(licences, last.get(user_id, {}))
    ctx.count("user summaries written", written)
    ctx.count("user summaries derived again", len(dirty))
    return usage.store()
