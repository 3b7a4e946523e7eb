"""Rules that move a user to a cheaper suite: E5→E3 when no E5-only workload is used, E3→F3
for web-and-mobile users within F3's storage limits. Pure functions
`(user, tenant, policy, as_of) -> list[Recommendation]`; blocked users are not judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from seatwise import services
from seatwise.analytics.recommendations.common import (
    Held,
    days_before,
    excluded,
    guardrails,
    held,
    make,
)
from seatwise.analytics.recommendations.model import Recommendation, TenantFacts, UserFacts
from seatwise.analytics.recommendations.policy import Policy
from seatwise.analytics.recommendations.savings import downgrade_saving

__all__ = ["E3_TO_F3", "E5_ONLY_PLANS", "E5_TO_E3", "e3_to_f3", "e5_to_e3"]

# Source suite → the suite one tier down (part numbers).
E5_TO_E3: Mapping[str, str] = {
    "SPE_E5": "SPE_E3",
    "SPE_E5_NOPSTNCONF": "SPE_E3",
    "ENTERPRISEPREMIUM": "ENTERPRISEPACK",
    "ENTERPRISEPREMIUM_NOPSTNCONF": "ENTERPRISEPACK",
}
E3_TO_F3: Mapping[str, str] = {"SPE_E3": "SPE_F1", "ENTERPRISEPACK": "DESKLESSPACK"}

POWER_BI_PRO_PLAN = "BI_AZURE_P2"
# The workloads only E5 gives, by the service plans that carry them (graph-facts §9.2).
# Power BI Pro is observable (Power BI sign-ins); telephony, security and compliance plans
# leave no per-user trace in the data seatwise reads.
E5_ONLY_PLANS: Mapping[str, frozenset[str]] = {
    "Power BI Pro": frozenset({POWER_BI_PRO_PLAN}),
    "Teams Phone and Audio Conferencing": frozenset({"MCOEV", "MCOMEETADV"}),
    "Defender and compliance": frozenset(
        {
            "ATP_ENTERPRISE",
            "THREAT_INTELLIGENCE",
            "MTP",
            "WINDEFATP",
            "ADALLOM_S_O365",
            "ADALLOM_S_STANDALONE",
            "ATA",
            "AAD_PREMIUM_P2",
            "EQUIVIO_ANALYTICS",
            "MIP_S_CLP2",
            "MIP_S_Exchange",
            "INFO_GOVERNANCE",
            "RECORDS_MANAGEMENT",
            "INSIDER_RISK",
            "INSIDER_RISK_MANAGEMENT",
            "COMMUNICATIONS_COMPLIANCE",
            "COMMUNICATIONS_DLP",
            "MICROSOFT_COMMUNICATION_COMPLIANCE",
            "M365_ADVANCED_AUDITING",
            "PAM_ENTERPRISE",
            "CUSTOMER_KEY",
            "LOCKBOX_ENTERPRISE",
            "CustomerLockboxA_Enterprise",
            "PREMIUM_ENCRYPTION",
            "DATA_INVESTIGATIONS",
            "INFORMATION_BARRIERS",
            "MICROSOFTENDPOINTDLP",
            "SAFEDOCS",
            "ML_CLASSIFICATION",
            "Content_Explorer",
            "PURVIEW_DISCOVERY",
            "RMS_S_PREMIUM2",
        }
    ),
}
_ALL_E5_ONLY = frozenset().union(*E5_ONLY_PLANS.values())
_MB_PER_GB = 1024


def _judged(user: UserFacts, policy: Policy) -> bool:
    """Blocked and deleted users are not judged for downgrades, nor excluded ones."""
    return user.account_enabled is not False and user.deleted is None and not excluded(user, policy)


def _target(tenant: TenantFacts, items: list[Held], part: str) -> tuple[str, str | None] | None:
    """(target part, target skuId) — None when the user already holds it or it is unmanaged."""
    if any(i.part == part for i in items):
        return None
    sku_id = tenant.sku_id(part)
    if sku_id is not None and not tenant.managed(sku_id):
        return None
    return part, sku_id


def e5_to_e3(
    user: UserFacts, tenant: TenantFacts, policy: Policy, as_of: date
) -> list[Recommendation]:
    """Downgrade an E5 suite to its E3 when the user used no E5-only workload: no Power BI
    activity within `workload_days`. Telephony, security and compliance use cannot be observed:
    while their plans are enabled the result has medium confidence and says so."""
    if not user.assignments or not _judged(user, policy):
        return []
    items = held(user, tenant)
    found: list[Recommendation] = []
    for item in items:
        part = E5_TO_E3.get(item.part)
        target = _target(tenant, items, part) if part else None
        if target is None:
            continue
        sku = tenant.skus.get(item.sku_id)
        enabled = (
            tenant.plan_names(item.sku_id, item.disabled) if sku and sku.plans else _ALL_E5_ONLY
        )
        power_bi = user.activity.get(services.POWER_BI)
        # Any recent Power BI use keeps the E5, even with its Power BI plan disabled: the user
        # then relies on a separate Power BI licence, which `overlap` proposes to fold into E5.
        if power_bi is not None and days_before(as_of, power_bi) < policy.workload_days:
            continue
        if power_bi is None:
            use = "no Power BI activity is recorded"
        else:
            days = days_before(as_of, power_bi)
            use = f"Power BI last used on {power_bi.isoformat()}, {days} days before {as_of}"
        if POWER_BI_PRO_PLAN not in enabled:
            use += f" (and Power BI Pro is disabled in {item.part})"
        evidence = [f"No E5-only workload in use: {use}."]
        hidden = [
            name
            for name, plans in E5_ONLY_PLANS.items()
            if name != "Power BI Pro" and plans & enabled
        ]
        confidence = "high"
        if hidden:
            confidence = "medium"
            evidence.append(
                f"{' and '.join(hidden)} use cannot be observed: check phone numbers and "
                "security or compliance policies that rely on E5 before downgrading."
            )
        target_part, target_id = target
        saving = downgrade_saving(
            (item.part, item.contract),
            (target_part, tenant.contract(target_id) if target_id else None),
            as_of,
        )
        if saving.amount is not None and saving.amount <= 0:
            continue
        review = guardrails(tenant, policy, as_of)
        found.append(
            make(
                "e5-to-e3",
                user,
                "downgrade",
                [item],
                evidence,
                confidence,
                as_of,
                review=review,
                target=target_part,
                saving=saving,
            )
        )
    return found


def e3_to_f3(
    user: UserFacts, tenant: TenantFacts, policy: Policy, as_of: date
) -> list[Recommendation]:
    """Downgrade an E3 suite to F3 for a user of Microsoft 365 apps on the web or mobile only
    (neither Windows nor Mac) whose mailbox and OneDrive are under F3's limits."""
    snap = user.snapshot
    if snap is None or not user.assignments or not _judged(user, policy):
        return []
    if snap.windows is not False or snap.mac is not False or not (snap.web or snap.mobile):
        return []
    mailbox_limit = policy.f3_mailbox_gb * _MB_PER_GB
    onedrive_limit = policy.f3_onedrive_gb * _MB_PER_GB
    if snap.mail_mb is None or snap.mail_mb >= mailbox_limit:
        return []
    if snap.onedrive_mb is None or snap.onedrive_mb >= onedrive_limit:
        return []
    items = held(user, tenant)
    if any(i.part in E5_TO_E3 for i in items):
        return []
    found: list[Recommendation] = []
    for item in items:
        part = E3_TO_F3.get(item.part)
        target = _target(tenant, items, part) if part else None
        if target is None:
            continue
        platforms = " and ".join(
            p for p, used in (("web", snap.web), ("mobile", snap.mobile)) if used
        )
        evidence = [
            f"Microsoft 365 apps used only on {platforms} (not on Windows or Mac) in the usage "
            f"report of {snap.day.isoformat()}.",
            f"Mailbox {snap.mail_mb:.1f} MB and OneDrive {snap.onedrive_mb:.1f} MB, under F3's "
            f"limits of {policy.f3_mailbox_gb:g} GB and {policy.f3_onedrive_gb:g} GB.",
        ]
        target_part, target_id = target
        saving = downgrade_saving(
            (item.part, item.contract),
            (target_part, tenant.contract(target_id) if target_id else None),
            as_of,
        )
        if saving.amount is not None and saving.amount <= 0:
            continue
        review = list(guardrails(tenant, policy, as_of))
        age = days_before(as_of, snap.day)
        if age > policy.stale_report_days:
            review.append(
                f"Review: this user's latest usage snapshot is from {snap.day.isoformat()}, "
                f"{age} days before {as_of.isoformat()}."
            )
        found.append(
            make(
                "e3-to-f3",
                user,
                "downgrade",
                [item],
                evidence,
                "medium",
                as_of,
                review=review,
                target=target_part,
                saving=saving,
            )
        )
    return found
