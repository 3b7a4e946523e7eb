"""What every recommendation rule asks first: which managed licences a user holds, whether the
policy leaves the user alone, the guardrails that turn activity-based results into reviews, the
user's latest use, and how a result is put together. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase

from seatwise import services
from seatwise.analytics.recommendations import savings
from seatwise.analytics.recommendations.model import (
    Assignment,
    Contract,
    Recommendation,
    TenantFacts,
    UserFacts,
)
from seatwise.analytics.recommendations.policy import Policy

__all__ = [
    "Held",
    "days_before",
    "excluded",
    "guardrails",
    "held",
    "last_assigned",
    "latest_use",
    "licensed_services",
    "make",
    "seed_excluded",
]


@dataclass(frozen=True, slots=True)
class Held:
    """A managed SKU a user holds, with every assignment that gives it (direct or by group)."""

    sku_id: str
    part: str
    assignments: tuple[Assignment, ...]
    contract: Contract | None

    @property
    def disabled(self) -> frozenset[str]:
        """Plan ids disabled in every assignment of this SKU (one enabling it is enough)."""
        sets = [a.disabled_plans for a in self.assignments]
        return frozenset.intersection(*sets) if sets else frozenset()

    @property
    def groups(self) -> tuple[str, ...]:
        """Groups the SKU is inherited from ('' for a direct assignment is left out)."""
        return tuple(sorted({a.via for a in self.assignments if a.via}))


def held(user: UserFacts, tenant: TenantFacts) -> list[Held]:
    """The user's licences of managed SKUs (unmanaged SKUs are invisible), by part number."""
    # Every rule asks this of the same user in turn: remember the last answer.
    last = tenant.memo.get("held")
    if last is not None and last[0] is user:
        return last[1]  # type: ignore[no-any-return]
    found = _held(user, tenant)
    tenant.memo["held"] = (user, found)
    return found


def _held(user: UserFacts, tenant: TenantFacts) -> list[Held]:
    by_sku: dict[str, list[Assignment]] = {}
    for assignment in user.assignments:
        by_sku.setdefault(assignment.sku_id, []).append(assignment)
    found = [
        Held(sku_id, tenant.part_number(sku_id), tuple(group), tenant.contract(sku_id))
        for sku_id, group in by_sku.items()
        if tenant.managed(sku_id)
    ]
    return sorted(found, key=lambda h: (h.part, h.sku_id))


def _matches(upn: str, patterns: Sequence[str]) -> bool:
    lowered = upn.lower()
    return any(fnmatchcase(lowered, p) for p in patterns)


def excluded(user: UserFacts, policy: Policy) -> bool:
    """Whether the policy leaves the user out of every rule: a UPN pattern, a licence inherited
    from an excluded group, or an excluded account kind."""
    if policy.exclude_kinds and user.kind in policy.exclude_kinds:
        return True
    if policy.exclude_groups and any(a.via in policy.exclude_groups for a in user.assignments):
        return True
    patterns = policy.upn_patterns
    return bool(patterns) and _matches(user.upn, patterns)


def seed_excluded(user: UserFacts, policy: Policy) -> bool:
    """The seed exclusion: MFA-registered and SSO (synced from on-premises) users are never
    proposed for reclamation, while the policy keeps it on (the default)."""
    return policy.exclude_mfa_or_sso and bool(user.mfa_registered or user.on_premises_sync)


def days_before(as_of: date, day: date) -> int:
    """Whole days from `day` to `as_of` (negative when `day` is later)."""
    return (as_of - day).days


def guardrails(tenant: TenantFacts, policy: Policy, as_of: date) -> tuple[str, ...]:
    """Why activity data cannot be trusted today: concealed names, no Entra ID P1, or usage
    reports older than `policy.stale_report_days` (or none read yet). Empty when it can."""
    key = ("guardrails", policy, as_of)
    if key not in tenant.memo:
        tenant.memo[key] = _guardrails(tenant, policy, as_of)
    return tenant.memo[key]  # type: ignore[no-any-return]


def _guardrails(tenant: TenantFacts, policy: Policy, as_of: date) -> tuple[str, ...]:
    reasons: list[str] = []
    if tenant.concealed_names or any(r.concealed for r in tenant.reports):
        reasons.append(
            "Review: usage reports conceal user names, so report activity cannot be matched "
            "to this user."
        )
    if tenant.premium is False:
        reasons.append(
            "Review: the tenant has no Microsoft Entra ID P1, so last sign-ins and Dynamics 365, "
            "Power BI and Project use are unknown."
        )
    dated = [r for r in tenant.reports if r.refresh_date is not None]
    if not dated:
        reasons.append("Review: no usage report has been read yet, so activity is unknown.")
    else:
        oldest = min(dated, key=lambda r: (r.refresh_date, r.name))
        assert oldest.refresh_date is not None
        age = days_before(as_of, oldest.refresh_date)
        if age > policy.stale_report_days:
            reasons.append(
                f"Review: usage report {oldest.name} was last refreshed on "
                f"{oldest.refresh_date.isoformat()}, {age} days before {as_of.isoformat()} "
                f"(more than {policy.stale_report_days})."
            )
    return tuple(reasons)


def latest_use(user: UserFacts) -> tuple[str | None, date | None]:
    """The latest sign-in or service activity: ('sign-in' or the service, date), or Nones."""
    best: tuple[str | None, date | None] = (None, None)
    if user.last_sign_in is not None:
        best = ("sign-in", user.last_sign_in)
    for service, day in user.activity.items():
        if best[1] is None or day > best[1] or (day == best[1] and service < (best[0] or "")):
            best = (service, day)
    return best


def licensed_services(items: Sequence[Held], tenant: TenantFacts) -> set[str]:
    """The services the user's enabled plans give access to."""
    found: set[str] = set()
    for item in items:
        found |= services.services_of_plans(tenant.plan_names(item.sku_id, item.disabled))
    return found


def last_assigned(user: UserFacts, items: Sequence[Held]) -> date | None:
    """The latest known assignment date of these licences, else the account's creation date."""
    days = [a.assigned for item in items for a in item.assignments if a.assigned is not None]
    return max(days) if days else user.created


def make(
    rule: str,
    user: UserFacts,
    action: str,
    items: Sequence[Held],
    evidence: Sequence[str],
    confidence: str,
    as_of: date,
    *,
    review: Sequence[str] = (),
    target: str | None = None,
    saving: savings.Saving | None = None,
) -> Recommendation:
    """Assemble a result; `review` reasons turn it into action `review` at low confidence."""
    if saving is None:
        saving = savings.reclaim_saving([(i.part, i.contract) for i in items], as_of)
    groups = sorted({g for i in items for g in i.groups})
    notes = list(evidence)
    if groups:
        notes.append(
            "Inherited from group "
            + ", ".join(groups)
            + ": change the group membership, not the user's licences."
        )
    notes.extend(saving.evidence)
    if review:
        action, confidence = "review", "low"
        notes.extend(review)
    return Recommendation(
        rule=rule,
        upn=user.upn,
        action=action,
        skus=tuple(i.part for i in items),
        target_sku=target,
        evidence=tuple(notes),
        confidence=confidence,
        annual_savings=saving.amount,
        currency=saving.currency,
        when=saving.when,
    )
