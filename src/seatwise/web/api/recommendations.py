"""`GET /api/v1/recommendations`: what to reclaim, downgrade or review (DESIGN §5), the records
of `seatwise recommendations --format json`, evaluated on request as the CLI does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from seatwise.analytics.recommendations import KEYS, RULES, Policy
from seatwise.web.api.common import (
    CSV_RESPONSE,
    ERRORS,
    Format,
    FormatParam,
    JSONAnswer,
    TenantParam,
    fail,
    filter_values,
    records_answer,
    resolve_tenant,
)
from seatwise.web.api.odata import FilterKind, Page, PageParams, page_params
from seatwise.web.security import ApiPrincipal
from seatwise.web.state import web_state

router = APIRouter(prefix="/api/v1", tags=["recommendations"])

FILTERS: dict[str, FilterKind] = {
    "rule": "text",
    "action": "text",
    "confidence": "text",
    "upn": "contains",
}


class RecommendationRecord(BaseModel):
    """One finding about one user (DESIGN §5)."""

    model_config = ConfigDict(extra="forbid")

    rule: str
    upn: str
    action: str = Field(description="reclaim, downgrade or review.")
    skus: list[str]
    target_sku: str | None
    evidence: list[str] = Field(description="Human-readable facts with dates.")
    confidence: str
    annual_savings: str | None
    currency: str | None
    when: str = Field(description="`now` or `at_renewal:<date>`.")


class RecommendationPage(Page[RecommendationRecord]):
    """A page of recommendations."""


@router.get(
    "/recommendations",
    summary="Recommendations",
    response_model=RecommendationPage,
    response_class=JSONAnswer,
    responses={**ERRORS, 200: CSV_RESPONSE},
)
def recommendations(
    request: Request,
    _principal: ApiPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
    tenant: TenantParam = None,
    filter_: Annotated[
        str | None,
        Query(
            alias="$filter",
            description=(
                "Any of `rule eq 'inactive'`, `action eq 'reclaim'`, `confidence eq 'high'`, "
                "`contains(upn,'text')`, joined by `and`."
            ),
        ),
    ] = None,
    format: FormatParam = Format.json,  # noqa: A002
) -> Response:
    """Licences to reclaim, downgrade or review, with evidence and annual savings, in the
    CLI's order. Thresholds and exclusions come from the server's settings."""
    wanted = filter_values(filter_, FILTERS)
    rule = wanted.pop("rule", None)
    if rule is not None and rule not in RULES:
        fail(400, f"Unknown rule {rule!r}; rules: {', '.join(RULES)}.")
    upn = str(wanted.pop("upn", "")).lower()
    state = web_state(request)
    policy = Policy.from_mapping(state.settings.recommendations.model_dump())
    as_of = datetime.now(UTC).date()
    with state.session() as session:
        tenant_pk = resolve_tenant(session, tenant).pk
        found = state.findings.of(session, tenant_pk, policy, as_of)
    records = [
        r.record()
        for r in found
        if (rule is None or r.rule == rule)
        and upn in r.upn.lower()
        and all(getattr(r, k) == v for k, v in wanted.items())
    ]
    return records_answer(request, records, params, format, KEYS, "recommendations")
