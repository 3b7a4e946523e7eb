"""License Differentiation: for each licence type, how many holders have each included service
and how many of them actually used it recently; then the per-user summary the Users view sorts
on. Derived from what the other tasks stored, in one pass over the users a chunk at a time.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from seatwise import services
from seatwise.store import writes
from seatwise.store.schema import LicenseUsage, SkuPlan
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


# Counts of the runs of the other tasks that changed stored data, and the count (with the
# active window) the stored results were derived at: equal, there is nothing to derive again.
INPUTS_CURSOR = "derived-inputs"
DERIVED_CURSOR = "derived-from"
DERIVED_FORMAT = "1"  # bumped when what is derived from the same data changes
UNCHANGED_NOTE = (
    "Nothing this task reads changed since its last run, so the licence/service counts and the "
    "Users view were left as they were."
)


def inputs_changed(session: Session, tenant_pk: int, now: datetime) -> None:
    """Record that a task run changed data this task derives from."""
    count = int(writes.get_cursor(session, tenant_pk, INPUTS_CURSOR) or 0)
    writes.set_cursor(session, tenant_pk, INPUTS_CURSOR, str(count + 1), now)


def run(ctx: TaskContext) -> None:
    """Run the License Differentiation task inside the caller's transaction; nothing is read
    or written when no other task changed stored data since its last run."""
    pk = ctx.tenant.pk
    inputs = writes.get_cursor(ctx.session, pk, INPUTS_CURSOR) or "0"
    marker = f"{DERIVED_FORMAT}:{inputs}:{ctx.options.active_window_days}"
    if writes.get_cursor(ctx.session, pk, DERIVED_CURSOR) == marker:
        ctx.note(UNCHANGED_NOTE)
        return
    _derive(ctx)
    writes.set_cursor(ctx.session, pk, DERIVED_CURSOR, marker, ctx.now)


def _derive(ctx: TaskContext) -> None:
    pk = ctx.tenant.pk
    plans: dict[str, dict[str, str]] = defaultdict(dict)  # sku -> plan id -> plan name
    for sku_id, plan_id, plan_name in ctx.session.execute(
        select(SkuPlan.sku_id, SkuPlan.plan_id, SkuPlan.plan_name).where(SkuPlan.tenant_pk == pk)
    ):
        plans[sku_id][plan_id] = plan_name
    included = _Included(plans)
    report_services = frozenset(services.REPORT_SERVICES)
    latest: date | None = None  # the newest report date of the report services' activity
    holders: Counter[tuple[str, str]] = Counter()
    last_used: dict[tuple[str, str], Counter[date]] = defaultdict(Counter)  # pair: day: users
    written = 0
    for chunk in summary.chunks(ctx):
        for found in chunk.activity.values():
            for _, service, _, as_of in found:
                if service in report_services and (day := chunk.day(as_of)) is not None:
                    if latest is None or day > latest:
                        latest = day
        for user in chunk.users:
            if user.deleted_at is not None:
                continue
            held = chunk.assignments.get(user.id)
            if not held:
                continue
            pairs = {
                (sku_id, service)
                for sku_id, disabled, _ in held
                for service in included(sku_id, disabled)
            }
            last = {service: day for _, service, day, _ in chunk.activity.get(user.id, ())}
            for pair in pairs:
                holders[pair] += 1
                day = chunk.day(last.get(pair[1]))
                if day is not None:
                    last_used[pair][day] += 1
        written += summary.write(ctx, chunk)
    # "Uses" = active within the window before the newest report date (known only at the end).
    reference = latest or ctx.today
    window_start = reference - timedelta(days=ctx.options.active_window_days)
    active = {
        pair: sum(users for day, users in days.items() if day >= window_start)
        for pair, days in last_used.items()
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
        for (sku_id, service), count in sorted(holders.items())
    ]
    changes = writes.replace_rows(ctx.session, LicenseUsage, pk, rows)
    ctx.counts.update({"licence/service pairs": len(rows), "rows written": changes.total})
    ctx.progress(ctx.task, "licence differentiation", len(rows), len(rows))
    ctx.count("user summaries written", written)
