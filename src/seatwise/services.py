"""The eleven Microsoft 365 services seatwise tracks, where each one's last activity comes from,
and which service plans (by `servicePlanName`) stand for each (graph-facts §5, §9.2).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Final

EXCHANGE: Final = "Exchange"
OUTLOOK: Final = "Outlook"
TEAMS: Final = "Teams"
ONEDRIVE: Final = "OneDrive"
SHAREPOINT: Final = "SharePoint"
SKYPE: Final = "Skype for Business"
YAMMER: Final = "Yammer"
DYNAMICS: Final = "Dynamics 365"
POWER_BI: Final = "Power BI"
PROJECT: Final = "Project"
VISIO: Final = "Visio"

SERVICES: Final = (
    EXCHANGE,
    OUTLOOK,
    TEAMS,
    ONEDRIVE,
    SHAREPOINT,
    SKYPE,
    YAMMER,
    DYNAMICS,
    POWER_BI,
    PROJECT,
    VISIO,
)
REPORT_SERVICES: Final = (EXCHANGE, OUTLOOK, TEAMS, ONEDRIVE, SHAREPOINT, SKYPE, YAMMER)
SIGN_IN_SERVICES: Final = (DYNAMICS, POWER_BI, PROJECT)
# Visio's use cannot be captured: no sign-in application and no usage report of its own.
UNAVAILABLE_SERVICES: Final = (VISIO,)

# getOffice365ActiveUserDetail column prefix per service.
ACTIVE_USER_COLUMNS: Final = {
    EXCHANGE: "Exchange",
    ONEDRIVE: "OneDrive",
    SHAREPOINT: "SharePoint",
    SKYPE: "Skype For Business",
    YAMMER: "Yammer",
    TEAMS: "Teams",
}

# Sign-in log applications per service: (appId, appDisplayName). Project has no documented
# first-party application; Project Online's sign-ins are matched by display name.
SIGN_IN_APPS: Final = {
    DYNAMICS: (
        ("00000007-0000-0000-c000-000000000000", "Dataverse"),
        ("00000015-0000-0000-c000-000000000000", "Microsoft Dynamics ERP"),
        ("637fcc9f-4a9b-4aaa-8713-a2a3cfda1505", "Dynamics CRM Online Administration"),
    ),
    POWER_BI: (
        ("871c010f-5e61-4fb1-83ac-98610a7e9110", "Microsoft Power BI"),
        ("00000009-0000-0000-c000-000000000000", "Power BI Service"),
    ),
    PROJECT: ((None, "Project Online"),),
}

# Which service plans stand for each service, by the plan's string id (`servicePlanName`), for
# every plan of Microsoft's table (`seatwise.skus.plans`): a plan family and its editions
# (government, education, mid-market...). Add-ons, capacity, analytics and multi-geo plans give
# access to no service of their own.
_MAIL = (EXCHANGE, OUTLOOK)
_FILES = (SHAREPOINT, ONEDRIVE)
PLAN_RULES: Final[tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]] = tuple(
    (re.compile(pattern, re.IGNORECASE), found)
    for pattern, found in (
        (r"EXCHANGE_S_(STANDARD|ENTERPRISE|DESKLESS|ESSENTIALS)(_\w+)?", _MAIL),
        (r"EXCHANGE_[BL]_STANDARD", _MAIL),
        (r"TEAMS1|TEAMS_(GOV|DESKLESS|FREE|AR_\w+)|TEAMSESS|MCO_TEAMS_IW", (TEAMS,)),
        (r"SHAREPOINT(STANDARD|ENTERPRISE|DESKLESS)(_\w+)?|SHAREPOINT_S_DEVELOPER", _FILES),
        (r"SHAREPOINT PLAN \dG", _FILES),
        (r"ONEDRIVE(STANDARD|ENTERPRISE|_BASIC(_\w+)?|LITE_IW|CLIPCHAMP)", (ONEDRIVE,)),
        (r"MCO(STANDARD|IMP)(_\w+)?|MCOLITE|MCOVOICECONF", (SKYPE,)),
        (r"YAMMER_(ENTERPRISE|BASIC|EDU|MIDSIZE)|VIVAENGAGE_CORE", (YAMMER,)),
        (r"BI_AZURE_P_?\d(_\w+)?", (POWER_BI,)),
        (
            r"PROJECT_(CLIENT_SUBSCRIPTION|PROFESSIONAL|ESSENTIALS)(_\w+)?|PROJECT_P1"
            r"|SHAREPOINT_PROJECT(_\w+)?",
            (PROJECT,),
        ),
        (r"VISIO_CLIENT_SUBSCRIPTION(_\w+)?|VISIOONLINE(_\w+)?", (VISIO,)),
    )
)
# Dynamics 365 apps: a plan named DYN365_/D365_/Dynamics_365_... that is not Dataverse (Common
# Data Service), storage, capacity or an add-on to another app.
_DYNAMICS = re.compile(r"(DYN365|D365|DYNAMICS_365)_", re.IGNORECASE)
_NOT_DYNAMICS = re.compile(
    r"CDS|CAPACITY|ADDON|ADD_ON|_DB_|ENVIRONMENT|SANDBOX|FP_|IOM|REGULATORY", re.IGNORECASE
)
_NOT_DYNAMICS_NAME = re.compile(
    r"common data service|capacity|add-?on|additional|sandbox|storage", re.IGNORECASE
)


def _derive(name: str, friendly: str = "") -> tuple[str, ...]:
    """The services the plan called `name` (with its `friendly` name, when known) stands for."""
    for pattern, found in PLAN_RULES:
        if pattern.fullmatch(name):
            return found
    if _DYNAMICS.match(name) and not _NOT_DYNAMICS.search(name):
        if not friendly or (
            "dynamics 365" in friendly.lower() and not _NOT_DYNAMICS_NAME.search(friendly)
        ):
            return (DYNAMICS,)
    return ()


_derived: list[tuple[object, dict[str, tuple[str, ...]]]] = []


def plan_services() -> dict[str, tuple[str, ...]]:
    """servicePlanName → services, for every service plan of Microsoft's table that stands for
    one of the 11 services (derived with `PLAN_RULES` once per table, on first use)."""
    from seatwise import skus

    table = skus.plans()
    if _derived and _derived[0][0] is table:
        return _derived[0][1]
    found: dict[str, tuple[str, ...]] = {}
    seen: set[str] = set()
    for items in table.values():
        for plan in items:
            if plan.name in seen:
                continue
            seen.add(plan.name)
            services = _derive(plan.name, plan.friendly_name)
            if services:
                found[plan.name] = services
    _derived[:] = [(table, found)]
    return found


_ruled: dict[str, tuple[str, ...]] = {}


def services_of_plan(name: str) -> tuple[str, ...]:
    """The services one enabled service plan gives access to: from the table, else from the
    plan's string id alone (a plan newer than the table)."""
    return _services(name, plan_services())


def _services(name: str, table: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    known = table.get(name)
    if known is not None:
        return known
    found = _ruled.get(name)
    if found is None:
        found = _ruled[name] = _derive(name)
    return found


def plan_services_digest() -> str:
    """A short digest of `plan_services()`: it changes when another table is imported."""
    found = hashlib.sha256()
    for name, services in sorted(plan_services().items()):
        found.update(f"{name}={','.join(services)};".encode())
    return found.hexdigest()[:16]


def services_of_plans(plan_names: set[str] | frozenset[str]) -> set[str]:
    """The services a set of enabled service plans gives access to (the table looked up once,
    not per plan)."""
    table = plan_services()
    result: set[str] = set()
    for name in plan_names:
        result.update(_services(name, table))
    return result
