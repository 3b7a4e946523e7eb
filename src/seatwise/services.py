"""The eleven Microsoft 365 services seatwise tracks, where each one's last activity comes from,
and which service plans (by `servicePlanName`) stand for each (graph-facts §5, §9.2).
"""

from __future__ import annotations

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

# servicePlanName -> service; a SKU "includes" a service when it has one of these plans enabled.
PLAN_SERVICES: Final = {
    "EXCHANGE_S_STANDARD": (EXCHANGE, OUTLOOK),
    "EXCHANGE_S_ENTERPRISE": (EXCHANGE, OUTLOOK),
    "EXCHANGE_S_DESKLESS": (EXCHANGE, OUTLOOK),
    "TEAMS1": (TEAMS,),
    "SHAREPOINTSTANDARD": (SHAREPOINT, ONEDRIVE),
    "SHAREPOINTENTERPRISE": (SHAREPOINT, ONEDRIVE),
    "SHAREPOINTDESKLESS": (SHAREPOINT, ONEDRIVE),
    "ONEDRIVESTANDARD": (ONEDRIVE,),
    "ONEDRIVE_BASIC": (ONEDRIVE,),
    "MCOSTANDARD": (SKYPE,),
    "MCOIMP": (SKYPE,),
    "YAMMER_ENTERPRISE": (YAMMER,),
    "VIVAENGAGE_CORE": (YAMMER,),
    "DYN365_ENTERPRISE_SALES": (DYNAMICS,),
    "DYN365_ENTERPRISE_CUSTOMER_SERVICE": (DYNAMICS,),
    "DYN365_SALES_PRO": (DYNAMICS,),
    "DYN365_TEAM_MEMBERS": (DYNAMICS,),
    "DYN365_FINANCIALS_BUSINESS": (DYNAMICS,),
    "BI_AZURE_P0": (POWER_BI,),
    "BI_AZURE_P2": (POWER_BI,),
    "BI_AZURE_P3": (POWER_BI,),
    "PROJECT_CLIENT_SUBSCRIPTION": (PROJECT,),
    "SHAREPOINT_PROJECT": (PROJECT,),
    "PROJECT_PROFESSIONAL": (PROJECT,),
    "PROJECT_P1": (PROJECT,),
    "VISIO_CLIENT_SUBSCRIPTION": (VISIO,),
    "VISIOONLINE": (VISIO,),
}


def services_of_plans(plan_names: set[str] | frozenset[str]) -> set[str]:
    """The services a set of enabled service plans gives access to."""
    result: set[str] = set()
    for name in plan_names:
        result.update(PLAN_SERVICES.get(name, ()))
    return result
