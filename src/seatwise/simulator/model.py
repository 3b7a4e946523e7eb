"""Plain data of a simulated tenant: users, licences, groups, the app registration and the admin.

Pure dataclasses, no I/O and no HTTP. Mutable where the tenant really changes (licences, roles,
passwords), so `assignLicense` and the control endpoints can act on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

# The eleven services seatwise tracks; the first six come from usage reports.
REPORT_SERVICES = ("exchange", "onedrive", "sharepoint", "skype", "yammer", "teams")
SIGNIN_SERVICES = ("dynamics", "powerbi", "project")
OFFICE_APPS = ("outlook", "word", "excel", "powerpoint", "onenote", "teams")
PLATFORMS = ("windows", "mac", "mobile", "web")

# Directory roles (display names as in Entra ID).
ROLE_APP_ADMIN = "Application Administrator"
ROLE_REPORTS_READER = "Reports Reader"
ROLE_LICENSE_ADMIN = "License Administrator"


@dataclass(slots=True)
class LicenseState:
    """One row of `licenseAssignmentStates`: a SKU assigned directly or through a group."""

    sku_id: str
    disabled_plans: list[str]
    assigned_by_group: str | None
    last_updated: datetime


@dataclass(slots=True)
class User:
    """A directory user plus the persona that drives every report about them."""

    index: int
    id: str
    upn: str
    display_name: str
    given_name: str | None
    surname: str | None
    mail: str | None
    job_title: str | None
    department: str | None
    country: str | None
    usage_location: str | None
    created: datetime
    account_enabled: bool
    user_type: str  # "Member" | "Guest"
    on_premises_sync: bool | None
    kind: str  # "person" | "service" | "shared" | "room"
    persona: str
    licenses: list[LicenseState] = field(default_factory=list)
    deleted: datetime | None = None  # set for users that appear in reports only
    # Probability of activity on a given day, per service (report services, office apps,
    # sign-in services); absent or 0.0 means never.
    rates: dict[str, float] = field(default_factory=dict)
    active_from: date | None = None
    active_until: date | None = None  # inactive personas stop being active on this day
    platforms: tuple[str, ...] = ()
    mfa_methods: tuple[str, ...] = ()
    mailbox_mb: int = 0
    onedrive_mb: int = 0
    onedrive_files: int = 0

    def sku_ids(self) -> list[str]:
        """Distinct SKU ids of `assignedLicenses` (the union of direct and group states)."""
        seen: dict[str, None] = {}
        for state in self.licenses:
            seen.setdefault(state.sku_id, None)
        return list(seen)


@dataclass(slots=True)
class Group:
    """A security group that assigns licences to its members (group-based licensing)."""

    id: str
    display_name: str
    sku_ids: list[str]
    member_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SkuHolding:
    """A subscribed SKU of the tenant: the catalogue entry plus purchased unit counts."""

    sku_id: str
    enabled: int
    suspended: int = 0
    warning: int = 0
    locked_out: int = 0
    subscription_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class AppRegistration:
    """The one app registration of the simulated tenant (seatwise's)."""

    client_id: str
    client_secret: str
    display_name: str
    # Permissions consented for the app, application and delegated (short names).
    application_permissions: set[str]
    delegated_permissions: set[str]


@dataclass(slots=True)
class Admin:
    """The administrator who signs in on the consent page."""

    user_id: str
    upn: str
    password: str
    roles: set[str]
