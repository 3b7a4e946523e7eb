"""The `recommendations` entity set: what to reclaim, downgrade or review (DESIGN §5), the records
of `seatwise recommendations --format json` with a stable key `id`, evaluated as the CLI does
(and kept per tenant until a sync or a contract change: `web.findings`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from seatwise.analytics.recommendations import KEYS, Policy
from seatwise.web.api.common import register, resolve_tenant
from seatwise.web.api.edm import DECIMAL, Edm, EntitySet
from seatwise.web.state import web_state

routes = APIRouter(prefix="/api/v1", tags=["recommendations"])


class RecommendationRecord(BaseModel):
    """One finding about one user (DESIGN §5)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Stable: `rule:upn:skus` (the SKUs joined by `+`).")
    rule: str
    upn: str
    action: Annotated[Literal["reclaim", "downgrade", "review"], Edm(enum="Action")]
    skus: list[str]
    target_sku: str | None
    evidence: list[str] = Field(description="Human-readable facts with dates.")
    confidence: str
    annual_savings: Annotated[str | None, DECIMAL]
    currency: str | None
    when: str = Field(description="`now` or `at_renewal:<date>`.")


RECOMMENDATIONS = EntitySet(
    "recommendations", RecommendationRecord, ("id",), KEYS, "Recommendations"
)


def recommendation_id(record: dict[str, Any]) -> str:
    """The key of a recommendation: one rule's finding about one user's SKUs."""
    return f"{record['rule']}:{record['upn']}:{'+'.join(record['skus'])}"


def _load(request: Request, tenant: str | None) -> list[dict[str, Any]]:
    state = web_state(request)
    policy = Policy.from_mapping(state.settings.recommendations.model_dump())
    as_of = datetime.now(UTC).date()
    with state.session() as session:
        tenant_pk = resolve_tenant(session, tenant).pk
        found = state.findings.of(session, tenant_pk, policy, as_of)
    records = []
    for finding in found:
        record = finding.record()
        records.append({"id": recommendation_id(record), **record})
    return records


register(
    routes,
    RECOMMENDATIONS,
    _load,
    summary="Recommendations",
    description=(
        "Licences to reclaim, downgrade or review, with evidence and annual savings, in the "
        "CLI's order. Thresholds and exclusions come from the server's settings."
    ),
)
