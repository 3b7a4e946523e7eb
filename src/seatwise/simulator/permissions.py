"""Who may call what: Graph's permission table per endpoint and the directory roles delegated
callers must hold (graph-facts §1–§6), applied to a token's grant.

A missing role is answered as Graph answers it per family: the usage reports say
`S2SUnauthorized` "Invalid permission.", the Entra reports (sign-ins, MFA registration) say
`Authentication_RequestFromUnsupportedUserRole` "User is not in the allowed roles", and directory
writes such as `assignLicense` say `Authorization_RequestDenied` "Insufficient privileges to
complete the operation." — the same words as a missing permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from seatwise.simulator.model import (
    ROLE_APP_ADMIN,
    ROLE_LICENSE_ADMIN,
    ROLE_REPORTS_READER,
)
from seatwise.simulator.odata import GraphError


class GrantLike(Protocol):
    """What a checked access token tells about its caller."""

    @property
    def app_only(self) -> bool: ...

    @property
    def scopes(self) -> frozenset[str]: ...

    @property
    def user_id(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Rule:
    """Permissions that each satisfy an endpoint, and roles a delegated caller needs."""

    delegated: frozenset[str]
    application: frozenset[str]
    roles: frozenset[str] = frozenset()  # empty: any signed-in user
    premium: bool = False  # needs Entra ID P1
    audit_family: bool = False  # missing scope answered as Authentication_MSGraphPermissionMissing
    role_denied: tuple[str, str] | None = None  # (code, message) for a missing role; None: denied


MSG_DENIED = "Insufficient privileges to complete the operation."
MSG_NON_PREMIUM = "Neither tenant is B2C or tenant doesn't have premium license"
_REPORTS_ROLE = ("S2SUnauthorized", "Invalid permission.")
_ENTRA_REPORTS_ROLE = (
    "Authentication_RequestFromUnsupportedUserRole",
    "User is not in the allowed roles",
)

_DIRECTORY_READ = frozenset({"Directory.Read.All", "Directory.ReadWrite.All"})
_GLOBAL = "Global Administrator"
_READER_ROLES = frozenset({_GLOBAL, "Global Reader", ROLE_REPORTS_READER, "Security Reader"})

RULES: dict[str, Rule] = {
    "users": Rule(
        frozenset({"User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All"}) | _DIRECTORY_READ,
        frozenset({"User.Read.All", "User.ReadWrite.All"}) | _DIRECTORY_READ,
    ),
    "signInActivity": Rule(
        frozenset({"AuditLog.Read.All"}),
        frozenset({"AuditLog.Read.All"}),
        premium=True,
        audit_family=True,
    ),
    "subscribedSkus": Rule(
        frozenset(
            {
                "LicenseAssignment.Read.All",
                "LicenseAssignment.ReadWrite.All",
                "Organization.Read.All",
                "Organization.ReadWrite.All",
            }
        )
        | _DIRECTORY_READ,
        frozenset(
            {
                "LicenseAssignment.Read.All",
                "LicenseAssignment.ReadWrite.All",
                "Organization.Read.All",
                "Organization.ReadWrite.All",
            }
        )
        | _DIRECTORY_READ,
    ),
    "reports": Rule(
        frozenset({"Reports.Read.All"}),
        frozenset({"Reports.Read.All"}),
        roles=frozenset(
            {
                _GLOBAL,
                "Global Reader",
                ROLE_REPORTS_READER,
                "Exchange Administrator",
                "SharePoint Administrator",
                "Teams Administrator",
            }
        ),
        role_denied=_REPORTS_ROLE,
    ),
    "reportSettings.read": Rule(
        frozenset({"ReportSettings.Read.All", "ReportSettings.ReadWrite.All"}),
        frozenset({"ReportSettings.Read.All", "ReportSettings.ReadWrite.All"}),
        roles=_READER_ROLES,
    ),
    "reportSettings.write": Rule(
        frozenset({"ReportSettings.ReadWrite.All"}),
        frozenset({"ReportSettings.ReadWrite.All"}),
        roles=frozenset({_GLOBAL}),
    ),
    "userRegistrationDetails": Rule(
        frozenset({"AuditLog.Read.All", "UserAuthenticationMethod.Read.All"}),
        frozenset({"AuditLog.Read.All", "UserAuthenticationMethod.Read.All"}),
        roles=_READER_ROLES,
        premium=True,
        audit_family=True,
        role_denied=_ENTRA_REPORTS_ROLE,
    ),
    "signIns": Rule(
        frozenset({"AuditLog.Read.All"}),
        frozenset({"AuditLog.Read.All"}),
        roles=_READER_ROLES,
        premium=True,
        audit_family=True,
        role_denied=_ENTRA_REPORTS_ROLE,
    ),
    "assignLicense": Rule(
        frozenset(
            {"LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
        ),
        frozenset(
            {"LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
        ),
        roles=frozenset({_GLOBAL, ROLE_LICENSE_ADMIN, "User Administrator"}),
    ),
    "consent": Rule(frozenset(), frozenset(), roles=frozenset({_GLOBAL, ROLE_APP_ADMIN})),
}


def check(grant: GrantLike, endpoint: str, *, premium_tenant: bool, roles: set[str] | None) -> None:
    """Raise Graph's 403 unless `grant` (with the caller's directory roles) may call `endpoint`."""
    rule = RULES[endpoint]
    allowed = rule.application if grant.app_only else rule.delegated
    if allowed and not (grant.scopes & allowed):
        if rule.audit_family:
            needed = sorted(allowed)[0]
            raise GraphError(
                403,
                "Authentication_MSGraphPermissionMissing",
                f"Calling principal does not have required MSGraph permissions {needed}",
            )
        raise GraphError(403, "Authorization_RequestDenied", MSG_DENIED)
    if rule.premium and not premium_tenant:
        raise GraphError(
            403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant", MSG_NON_PREMIUM
        )
    if not grant.app_only and rule.roles and not (set(roles or ()) & rule.roles):
        code, message = rule.role_denied or ("Authorization_RequestDenied", MSG_DENIED)
        raise GraphError(403, code, message)
