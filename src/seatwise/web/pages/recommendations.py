"""Recommendations: grouped by rule, with evidence and annual savings per currency; admins tick
reclaim results (and may name other users) and turn them into a draft reclamation plan.
Protected users (MFA or SSO sign-in, or excluded by the policy) named there are refused unless
the separate "include protected users" box is ticked too."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from seatwise.analytics.inputs.users import sku_names
from seatwise.analytics.recommendations import RULES, Policy, Recommendation
from seatwise.analytics.recommendations.savings import money
from seatwise.reclaim import make_plan
from seatwise.web.render import page
from seatwise.web.security import Admin, Csrf, User
from seatwise.web.state import web_state
from seatwise.web.tenancy import all_tenants, pick_tenant

router = APIRouter(include_in_schema=False)

# Each rule as the page names it: a title and one line on what it finds.
RULE_TEXT: dict[str, tuple[str, str]] = {
    "blocked": (
        "Blocked accounts",
        "Accounts whose sign-in is blocked that still hold licences: take them all back.",
    ),
    "deleted": ("Deleted users", "Users who left the directory but still hold licences."),
    "e3-to-f3": (
        "E3 to F3",
        "E3 holders who use the apps only on the web or mobile, mailbox and OneDrive within "
        "F3's limits.",
    ),
    "e5-to-e3": (
        "E5 to E3",
        "E5 holders who used none of the workloads E5 adds over E3 (Power BI, Teams Phone …).",
    ),
    "guest": (
        "Licensed guests",
        "Guest accounts holding licences: guests normally use their home tenant's.",
    ),
    "inactive": (
        "Inactive users",
        "Users seen before but without any activity for longer than the policy allows.",
    ),
    "never-used": (
        "Never used",
        "Users with no activity in any service and no sign-in ever, past the grace period.",
    ),
    "overlap": (
        "Overlapping licences",
        "Licences whose workloads another licence of the same user already includes.",
    ),
}


def rule_text(rule: str) -> tuple[str, str]:
    """A rule's title and one-line description (its name for a rule without one)."""
    return RULE_TEXT.get(rule, (rule, ""))


# Rows shown per rule unless asked for more: a large tenant has thousands of results, which
# take seconds to render and to scroll; counts and savings always cover every result.
PER_RULE = 200


def _totals(found: list[Recommendation]) -> dict[str, str]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for result in found:
        if result.annual_savings is not None and result.currency:
            totals[result.currency] += result.annual_savings
    return {currency: money(amount) for currency, amount in sorted(totals.items())}


@router.get("/recommendations")
def recommendations(
    request: Request,
    user: User,
    rule: str | None = None,
    shown: Annotated[int, Query(alias="per_rule", ge=1, le=1_000_000)] = PER_RULE,
) -> Response:
    """Every recommendation of the tenant, by rule: the first `per_rule` of each shown."""
    if rule is not None and rule not in RULES:
        raise HTTPException(404, f"There is no rule {rule!r}.")
    state = web_state(request)
    policy = Policy.from_mapping(state.settings.recommendations.model_dump())
    with state.session() as session:
        tenants = all_tenants(session)
        tenant = pick_tenant(request, session)
        found: list[Recommendation] = []
        names: dict[str, str] = {}
        if tenant is not None:
            names = dict(sku_names(session, tenant.pk).values())
            every = state.findings.of(session, tenant.pk, policy, datetime.now(UTC).date())
            found = [r for r in every if rule is None or r.rule == rule]
        groups: dict[str, list[Recommendation]] = defaultdict(list)
        for result in found:
            groups[result.rule].append(result)
        sections: list[dict[str, Any]] = [
            {
                "rule": name,
                "title": rule_text(name)[0],
                "description": rule_text(name)[1],
                "results": items[:shown],
                "total": len(items),
                "reclaimable": sum(1 for r in items if r.action == "reclaim"),
                "totals": _totals(items),
            }
            for name, items in sorted(groups.items())
        ]
        return page(
            request,
            "recommendations.html",
            {
                "sections": sections,
                "totals": _totals(found),
                "count": len(found),
                "rules": [(name, rule_text(name)[0]) for name in RULES],
                "rule": rule,
                "names": names,
            },
            user=user,
            tenant=tenant,
            tenants=tenants,
            title="Recommendations",
        )


PROTECTED_TICK = 'the "Include protected users" box'


@router.post("/recommendations/plan", dependencies=[Csrf])
def plan_from_selection(
    request: Request,
    user: Admin,
    pick: Annotated[list[str] | None, Form()] = None,
    whole_rule: Annotated[list[str] | None, Form()] = None,
    only_managed: Annotated[bool, Form()] = False,
    users: Annotated[str, Form(max_length=100_000)] = "",
    include_protected: Annotated[bool, Form()] = False,
) -> Response:
    """A draft plan from the ticked results (`rule|upn`) and the users named (UPNs, one per
    line or separated by commas): a whole-user rule takes every licence the user holds, as the
    seed says; an overlap only the redundant SKUs. A protected user named is refused unless
    `include_protected` is ticked."""
    pairs = {tuple(p.split("|", 1)) for p in pick or () if "|" in p}
    named = [u for u in users.replace(",", "\n").split() if u]
    everything = set(whole_rule or ()) & set(RULES)
    if not pairs and not named and not everything:
        raise HTTPException(400, "Tick at least one recommendation to reclaim, or name a user.")
    state = web_state(request)
    policy = Policy.from_mapping(state.settings.recommendations.model_dump())
    now = datetime.now(UTC)
    with state.session(write=True) as session:
        tenant = pick_tenant(request, session)
        if tenant is None:
            raise HTTPException(404, "There is no tenant yet.")
        if everything:  # "select all" of a rule: every reclaim result, shown or not
            pairs |= {
                (r.rule, r.upn)
                for r in state.findings.of(session, tenant.pk, policy, now.date())
                if r.rule in everything and r.action == "reclaim"
            }
            if not pairs and not named:  # else make_plan would take every reclaim rule
                raise HTTPException(400, "The rules ticked have no users to reclaim from.")
        plan = make_plan(
            session,
            tenant.pk,
            actor=f"web:{user.name}",
            policy=policy,
            as_of=now.date(),
            now=now,
            only_managed=only_managed,
            upns=named,
            picked={(rule, upn) for rule, upn in pairs} if pairs else None,
            include_protected=include_protected,
            protected_hint=PROTECTED_TICK,
        )
        plan_pk = plan.pk
    return RedirectResponse(f"/reclamation/plans/{plan_pk}", status_code=303)
