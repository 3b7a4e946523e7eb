"""License Information: the tenant's SKUs with purchased, assigned, suspended and warning units
and their service plans. SKUs that vanish are kept and marked retired, never deleted.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, update

from seatwise.graph import endpoints
from seatwise.store import writes
from seatwise.store.schema import Sku, SkuPlan
from seatwise.sync import normalize
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


def run(ctx: TaskContext) -> None:
    """Run the License Information task inside the caller's transaction."""
    skus: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []
    with ctx.needs("LicenseAssignment.ReadWrite.All"):
        body = ctx.client.get_json(endpoints.SUBSCRIBED_SKUS, endpoints.subscribed_skus_params())
    for item in body.get("value") or []:
        row, sku_plans = normalize.sku_rows(ctx.tenant.pk, item, ctx.now)
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
    ctx.counts.update(
        {
            "skus": len(skus),
            "skus written": written,
            "skus retired": retired or 0,
            "plans written": changes.total,
        }
    )
    ctx.progress(ctx.task, "subscribed SKUs", len(skus), len(skus))
