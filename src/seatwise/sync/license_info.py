"""License Information: the tenant's SKUs with purchased, assigned, suspended and warning units
and their service plans. SKUs that vanish are kept and marked retired, never deleted. Each run
also records the day's unit counts of every subscribed SKU (`sku_snapshot`): the licence history.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, cast

from sqlalchemy import CursorResult, delete, update

from seatwise.errors import DataError
from seatwise.graph import endpoints
from seatwise.store import writes
from seatwise.store.schema import Sku, SkuPlan, SkuSnapshot
from seatwise.sync import normalize, validate
from seatwise.sync.context import TaskContext

SKU_FACTS = (
    "part_number",
    "name",
    "applies_to",
    "capability_status",
    "enabled",
    "suspended",
    "warning",
    "locked_out",
    "consumed",
    "retired",
    "fingerprint",
    "updated_at",
)
# Days of licence history kept (two years), or the usage-snapshot retention when that is longer:
# it is one small row per SKU per day, and licence trends are read over contract years.
HISTORY_DAYS = 730


def run(ctx: TaskContext) -> None:
    """Run the License Information task inside the caller's transaction."""
    skus: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []
    with ctx.needs("LicenseAssignment.ReadWrite.All"):
        body = ctx.client.get_json(endpoints.SUBSCRIBED_SKUS, endpoints.subscribed_skus_params())
    items = body.get("value")
    if not isinstance(items, list):
        raise DataError("Graph answered subscribedSkus without a list of SKUs; nothing changed.")
    for item in items:
        if (problem := validate.sku_problem(item)) is not None:
            sku = validate.object_id(item.get("skuId")) if isinstance(item, dict) else None
            which = f"SKU {sku}" if sku else "a SKU"
            raise DataError(
                f"Graph's subscribedSkus lists {which} whose {problem}; nothing was changed."
            )
        row, sku_plans = normalize.sku_rows(ctx.tenant.pk, item, ctx.now)
        if any(other["sku_id"] == row["sku_id"] for other in skus):
            raise DataError(
                f"Graph's subscribedSkus lists SKU {row['sku_id']} twice; nothing was changed."
            )
        skus.append(row)
        plans.extend(sku_plans)
    written = writes.upsert_rows(
        ctx.session,
        Sku,
        skus,
        key=("tenant_pk", "sku_id"),
        update_columns=list(SKU_FACTS),
        compare_columns=["fingerprint", "retired"],
    )
    current = {row["sku_id"] for row in skus}
    retired = cast(
        CursorResult[Any],
        ctx.session.execute(
            update(Sku)
            .where(
                Sku.tenant_pk == ctx.tenant.pk, Sku.retired.is_(False), Sku.sku_id.not_in(current)
            )
            .values(retired=True, updated_at=ctx.now)
        ),
    ).rowcount
    changes = writes.replace_rows(ctx.session, SkuPlan, ctx.tenant.pk, plans)
    if changes.total:  # the services a licence gives changed: every holder's share may have
        ctx.touch_all()
    history, pruned = _history(ctx, skus)
    ctx.counts.update(
        {
            "skus": len(skus),
            "skus written": written,
            "skus retired": retired or 0,
            "plans written": changes.total,
            "sku history written": history,
            "sku history pruned": pruned,
        }
    )
    ctx.progress(ctx.task, "subscribed SKUs", len(skus), len(skus))


def _history(ctx: TaskContext, skus: list[dict[str, Any]]) -> tuple[int, int]:
    """Make today's (UTC) licence history exactly the subscribed SKUs' counts, and drop days
    past the history window; return (rows written, rows pruned).

    A second run on the same day replaces that day's numbers: rows that changed are rewritten,
    and a SKU that left subscribedSkus since the earlier run leaves the day too. Unchanged
    numbers write nothing.
    """
    day = ctx.now.astimezone(UTC).date()
    rows = [
        {
            "tenant_pk": ctx.tenant.pk,
            "sku_id": sku["sku_id"],
            "day": day,
            "purchased": sku["enabled"],
            "assigned": sku["consumed"],
            "suspended": sku["suspended"],
            "warning": sku["warning"],
            "locked_out": sku["locked_out"],
        }
        for sku in skus
    ]
    written = writes.upsert_rows(ctx.session, SkuSnapshot, rows, key=("tenant_pk", "sku_id", "day"))
    gone = cast(
        CursorResult[Any],
        ctx.session.execute(
            delete(SkuSnapshot).where(
                SkuSnapshot.tenant_pk == ctx.tenant.pk,
                SkuSnapshot.day == day,
                SkuSnapshot.sku_id.not_in({row["sku_id"] for row in rows}),
            )
        ),
    ).rowcount
    keep = max(HISTORY_DAYS, ctx.options.retention_days)
    pruned = writes.prune_snapshots(ctx.session, ctx.tenant.pk, keep, day, table=SkuSnapshot)
    return written + (gone or 0), pruned
