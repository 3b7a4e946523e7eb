"""Rows of the six Microsoft 365 usage reports, built from the tenant's personas (pure: no HTTP).

Every value derives from `Tenant` (licences, `last_active`, storage figures) and the activity hash,
so the reports agree with each other and the same seed gives the same rows. Imports nothing from
seatwise outside `seatwise.simulator`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from seatwise.simulator import activity, catalog
from seatwise.simulator.model import OFFICE_APPS, PLATFORMS, User
from seatwise.simulator.tenant import Tenant

PERIODS = {"D7": 7, "D30": 30, "D90": 90, "D180": 180}
# Microsoft deletes a closed account's usage data within 30 days (graph-facts §10).
DELETED_RETENTION_DAYS = 30
# Days counted exactly from the activity hash; older parts of long windows are estimated from the
# user's rate, so a 180-day report over 100k users stays fast (see `Facts.active_days`).
EXACT_DAYS = 30

MIB = 1024 * 1024
ONEDRIVE_QUOTA = 1099511627776  # 1 TB
DELETED_ITEM_QUOTA = 32212254720  # 30 GB Recoverable Items quota
# (issue warning, prohibit send, prohibit send/receive) in bytes, Exchange Online defaults.
QUOTA_100GB = (105696460800, 106769154048, 107374182400)
QUOTA_50GB = (48318382080, 49392123904, 53687091200)
QUOTA_2GB = (1932735283, 2040109466, 2147483648)

# Licence facts a report needs beyond the workloads of `catalog.WORKLOAD_PLANS`.
_PLAN_TAGS = (
    "OFFICESUBSCRIPTION",
    "OFFICE_BUSINESS",
    "PROJECT_CLIENT_SUBSCRIPTION",
    "VISIO_CLIENT_SUBSCRIPTION",
    "EXCHANGE_S_ENTERPRISE",
    "EXCHANGE_S_STANDARD",
    "EXCHANGE_S_DESKLESS",
)
# Activation product types, upper case as the CSV shows them [community examples].
PRODUCT_ENTERPRISE = "MICROSOFT 365 APPS FOR ENTERPRISE"
PRODUCT_BUSINESS = "MICROSOFT 365 APPS FOR BUSINESS"
PRODUCT_PROJECT = "PROJECT CLIENT"
PRODUCT_VISIO = "VISIO CLIENT"

# Apps a persona may use per platform (Microsoft 365 apps usage report).
_PLATFORM_APPS = {
    "windows": OFFICE_APPS,
    "mac": OFFICE_APPS,
    "mobile": ("outlook", "teams", "word", "excel", "powerpoint"),
    "web": ("outlook", "word", "excel", "powerpoint", "teams"),
}
_APP_LABELS = dict(
    zip(OFFICE_APPS, "Outlook Word Excel PowerPoint OneNote Teams".split(), strict=True)
)
_APP_JSON = dict(
    zip(OFFICE_APPS, "outlook word excel powerPoint oneNote teams".split(), strict=True)
)
_PLATFORM_LABELS = {"windows": "Windows", "mac": "Mac", "mobile": "Mobile", "web": "Web"}


@dataclass(frozen=True, slots=True)
class ReportSpec:
    """One report function: its CSV header, the matching beta JSON names and its parameters."""

    name: str
    odata_type: str
    header: tuple[str, ...]
    json_names: tuple[str, ...]  # aligned with `header`
    period: bool  # accepts (period='Dn')
    date: bool  # accepts (date=YYYY-MM-DD)
    yes_no: bool = False  # CSV booleans are Yes/No instead of True/False


def _apps(platform_suffix: bool) -> list[str]:
    if not platform_suffix:
        return [_PLATFORM_LABELS[p] for p in PLATFORMS] + [_APP_LABELS[a] for a in OFFICE_APPS]
    return [f"{_APP_LABELS[a]} ({_PLATFORM_LABELS[p]})" for p in PLATFORMS for a in OFFICE_APPS]


def _app_json() -> list[str]:
    return (
        list(PLATFORMS)
        + [_APP_JSON[a] for a in OFFICE_APPS]
        + [_APP_JSON[a] + _PLATFORM_LABELS[p] for p in PLATFORMS for a in OFFICE_APPS]
    )


_WORKLOADS = ("Exchange", "OneDrive", "SharePoint", "Skype For Business", "Yammer", "Teams")
_WORKLOADS_JSON = ("exchange", "oneDrive", "sharePoint", "skypeForBusiness", "yammer", "teams")

# CSV header lines exactly as graph-facts §3.2 gives them, and the beta JSON names column by column.
_COLUMNS: dict[str, tuple[str, str, list[str], str]] = {
    "getOffice365ActiveUserDetail": (
        "office365ActiveUserDetail",
        "Report Refresh Date,User Principal Name,Display Name,Is Deleted,Deleted Date",
        [f"Has {w} License" for w in _WORKLOADS]
        + [f"{w} Last Activity Date" for w in _WORKLOADS]
        + [f"{w} License Assign Date" for w in _WORKLOADS]
        + ["Assigned Products"],
        "reportRefreshDate,userPrincipalName,displayName,isDeleted,deletedDate,"
        + ",".join(f"has{j[0].upper()}{j[1:]}License" for j in _WORKLOADS_JSON)
        + ","
        + ",".join(f"{j}LastActivityDate" for j in _WORKLOADS_JSON)
        + ","
        + ",".join(f"{j}LicenseAssignDate" for j in _WORKLOADS_JSON)
        + ",assignedProducts",
    ),
    "getM365AppUserDetail": (
        "m365AppUserDetail",
        "Report Refresh Date,User Principal Name,Last Activation Date,Last Activity Date,"
        "Report Period",
        _apps(False) + _apps(True),
        "reportRefreshDate,userPrincipalName,lastActivationDate,lastActivityDate,reportPeriod,"
        + ",".join(_app_json()),
    ),
    "getOffice365ActivationsUserDetail": (
        "office365ActivationsUserDetail",
        "Report Refresh Date,User Principal Name,Display Name,Product Type,Last Activated Date,"
        "Windows,Mac,Windows 10 Mobile,iOS,Android,Activated On Shared Computer",
        [],
        "reportRefreshDate,userPrincipalName,displayName,productType,lastActivatedDate,windows,"
        "mac,windows10Mobile,ios,android,activatedOnSharedComputer",
    ),
    "getOneDriveUsageAccountDetail": (
        "oneDriveUsageAccountDetail",
        "Report Refresh Date,Site URL,Owner Display Name,Is Deleted,Last Activity Date,File Count,"
        "Active File Count,Storage Used (Byte),Storage Allocated (Byte),Owner Principal Name,"
        "Report Period",
        [],
        "reportRefreshDate,siteUrl,ownerDisplayName,isDeleted,lastActivityDate,fileCount,"
        "activeFileCount,storageUsedInBytes,storageAllocatedInBytes,ownerPrincipalName,"
        "reportPeriod",
    ),
    "getMailboxUsageDetail": (
        "mailboxUsageDetail",
        "Report Refresh Date,User Principal Name,Display Name,Is Deleted,Deleted Date,Created Date,"
        "Last Activity Date,Item Count,Storage Used (Byte),Issue Warning Quota (Byte),"
        "Prohibit Send Quota (Byte),Prohibit Send/Receive Quota (Byte),Deleted Item Count,"
        "Deleted Item Size (Byte),Deleted Item Quota (Byte),Has Archive,Report Period",
        [],
        "reportRefreshDate,userPrincipalName,displayName,isDeleted,deletedDate,createdDate,"
        "lastActivityDate,itemCount,storageUsedInBytes,issueWarningQuotaInBytes,"
        "prohibitSendQuotaInBytes,prohibitSendReceiveQuotaInBytes,deletedItemCount,"
        "deletedItemSizeInBytes,deletedItemQuota,hasArchive,reportPeriod",
    ),
    "getEmailActivityUserDetail": (
        "emailActivityUserDetail",
        "Report Refresh Date,User Principal Name,Display Name,Is Deleted,Deleted Date,"
        "Last Activity Date,Send Count,Receive Count,Read Count,Meeting Created Count,"
        "Meeting Interacted Count,Assigned Products,Report Period",
        [],
        "reportRefreshDate,userPrincipalName,displayName,isDeleted,deletedDate,lastActivityDate,"
        "sendCount,receiveCount,readCount,meetingCreatedCount,meetingInteractedCount,"
        "assignedProducts,reportPeriod",
    ),
}
_NO_DATE = ("getOffice365ActivationsUserDetail", "getMailboxUsageDetail")


def _make_spec(name: str) -> ReportSpec:
    odata_type, first, more, json_names = _COLUMNS[name]
    header = (*first.split(","), *more)
    names = tuple(json_names.split(","))
    assert len(header) == len(names), name
    return ReportSpec(
        name,
        odata_type,
        header,
        names,
        period=name != "getOffice365ActivationsUserDetail",
        date=name not in _NO_DATE,
        yes_no=name == "getM365AppUserDetail",
    )


SPECS: dict[str, ReportSpec] = {name: _make_spec(name) for name in _COLUMNS}


@dataclass(frozen=True, slots=True)
class Window:
    """The days a report covers, [first, as_of]; `period` is the `Report Period` (1 for a date)."""

    as_of: date
    first: date
    period: int
    empty: bool = False  # a date whose data Microsoft has not processed yet: header only

    @classmethod
    def for_period(cls, refresh: date, days: int) -> Window:
        """The `days` days ending on the refresh date."""
        return cls(refresh, refresh - timedelta(days=days - 1), days)

    @classmethod
    def for_date(cls, day: date, refresh: date) -> Window:
        """One day; days after the refresh date have no data yet."""
        return cls(day, day, 1, empty=day > refresh)


@cache
def _state_tags(sku_id: str, disabled: tuple[str, ...]) -> tuple[str, ...]:
    """Workloads and notable plans a licence state enables (mirrors `Tenant.licensed_for`)."""
    enabled = {plan.name for plan in catalog.skus()[sku_id].plans if plan.id not in disabled}
    tags = [w for w, plans in catalog.WORKLOAD_PLANS.items() if enabled & plans]
    return tuple(tags + [p for p in _PLAN_TAGS if p in enabled])


@cache
def _products(sku_ids: tuple[str, ...]) -> tuple[str, ...]:
    skus = catalog.skus()
    return tuple(skus[s].product_name.upper() for s in sku_ids)


class Products(list[str]):
    """`Assigned Products`: a JSON array, and one `+`-joined CSV cell (the csv module calls
    `str()` on every non-string cell)."""

    __slots__ = ()

    def __str__(self) -> str:
        return "+".join(self)


_MISSING = object()


def _h(seed: int, index: int, tag: int) -> int:
    """A stable 64-bit hash for per-user figures that no activity rate drives."""
    return activity.mix(seed * 0x9E3779B97F4A7C15 + index * 0x100000001B3 + tag)


class Facts:
    """Per-user facts as of one day, memoised so several reports share the work."""

    def __init__(self, tenant: Tenant, as_of: date) -> None:
        self.tenant = tenant
        self.as_of = as_of
        self.seed = tenant.seed
        self._last: dict[tuple[int, str], date | None] = {}
        self._licences: dict[int, dict[str, date]] = {}
        self._activation: dict[tuple[int, date], date | None] = {}

    def last(self, user: User, service: str) -> date | None:
        """`Tenant.last_active` as of this day."""
        key = (user.index, service)
        day = self._last.get(key, _MISSING)
        if day is _MISSING:
            day = self._last[key] = activity.last_active(self.seed, user, service, self.as_of)
        return day  # type: ignore[return-value]

    def licences(self, user: User) -> dict[str, date]:
        """Workload (and notable plan) -> earliest assignment date, as `licensed_for` computes."""
        found = self._licences.get(user.index)
        if found is None:
            found = {}
            for state in user.licenses:
                stamp = state.last_updated.date()
                for tag in _state_tags(state.sku_id, tuple(state.disabled_plans)):
                    if tag not in found or stamp < found[tag]:
                        found[tag] = stamp
            self._licences[user.index] = found
        return found

    def products(self, user: User) -> Products:
        """`Assigned Products`: product names in upper case."""
        return Products(_products(tuple(user.sku_ids())))

    def active_days(self, user: User, service: str, first: date, last: date) -> int:
        """Days in [first, last] with activity: exact for the newest `EXACT_DAYS`, estimated from
        the rate before that; at least 1 whenever the last activity falls inside the window."""
        newest = self.last(user, service)
        if newest is None or newest < first:
            return 0
        cut = last - timedelta(days=EXACT_DAYS - 1)
        if cut <= first:
            return self.tenant.active_days(user, service, first, last)
        recent = self.tenant.active_days(user, service, cut, last)
        lo = max(first, user.active_from or first)
        hi = min(cut - timedelta(days=1), user.active_until or cut)
        older = round(user.rates.get(service, 0.0) * max(0, (hi - lo).days + 1))
        return max(1, recent + older)

    def activation(self, user: User, since: date) -> date | None:
        """When the user activated Office after a licence granted on `since`: their first Office
        apps day on a desktop or mobile device, or None."""
        key = (user.index, since)
        if key in self._activation:
            return self._activation[key]
        found: date | None = None
        if user.rates.get("officeapps", 0.0) > 0 and set(user.platforms) - {"web"}:
            day = max(since, user.active_from or since)
            stop = min(self.as_of, day + timedelta(days=120))
            while day <= stop:
                if activity.active_on(self.seed, user, "officeapps", day):
                    found = day
                    break
                day += timedelta(days=1)
        self._activation[key] = found
        return found


def _people(tenant: Tenant, window: Window) -> list[tuple[User, bool]]:
    """Directory users, then deleted users whose data Microsoft still keeps, with `Is Deleted`."""
    result = [(u, False) for u in tenant.users]
    horizon = window.as_of - timedelta(days=DELETED_RETENTION_DAYS)
    for user in tenant.deleted_users:
        assert user.deleted is not None
        gone = user.deleted.date()
        if gone >= horizon:
            result.append((user, gone <= window.as_of))
    return result


def _names(tenant: Tenant, user: User) -> tuple[str, str]:
    return tenant.conceal(user.upn), tenant.conceal(user.display_name)


Row = tuple[Any, ...]


def active_user_rows(facts: Facts, window: Window) -> list[Row]:
    """getOffice365ActiveUserDetail: licensed users plus recently deleted ones."""
    tenant = facts.tenant
    services = ("exchange", "onedrive", "sharepoint", "skype", "yammer", "teams")
    rows: list[Row] = []
    for user, deleted in _people(tenant, window):
        if not user.licenses:
            continue
        lic = facts.licences(user)
        dates = [lic.get(s) for s in services]
        upn, name = _names(tenant, user)
        rows.append(
            (
                window.as_of,
                upn,
                name,
                deleted,
                user.deleted.date() if deleted and user.deleted else None,
                *[d is not None for d in dates],
                *[facts.last(user, s) if d else None for s, d in zip(services, dates, strict=True)],
                *dates,
                facts.products(user),
            )
        )
    return rows


def _office_use(
    facts: Facts, user: User, window: Window, last: date | None
) -> dict[str, tuple[str, ...]]:
    """Platform -> apps used in the window. The first platform is used whenever Office was;
    others only some of the time, more likely in longer windows."""
    if last is None or last < window.first or not user.platforms:
        return {}
    used: dict[str, tuple[str, ...]] = {}
    full = user.persona in ("heavy", "mac")
    chance = min(1000, 150 + 250 * window.period // 7)
    for i, platform in enumerate(user.platforms):
        if i and _h(facts.seed, user.index, 64 + i + 8 * window.first.toordinal()) % 1000 >= chance:
            continue
        choices = _PLATFORM_APPS[platform]
        bits = _h(facts.seed, user.index, 16 + PLATFORMS.index(platform))
        apps = (
            choices
            if full
            else tuple(app for k, app in enumerate(choices) if k == 0 or bits >> k & 1)
        )
        used[platform] = apps
    return used


def m365_app_rows(facts: Facts, window: Window) -> list[Row]:
    """getM365AppUserDetail: users with Office apps activity, flags for the window."""
    tenant = facts.tenant
    rows: list[Row] = []
    for user in tenant.users:
        if user.rates.get("officeapps", 0.0) <= 0:
            continue
        last = facts.last(user, "officeapps")
        since = facts.licences(user).get("desktopapps")
        activated = facts.activation(user, since) if since else None
        used = _office_use(facts, user, window, last)
        apps = {a for chosen in used.values() for a in chosen}
        rows.append(
            (
                window.as_of,
                tenant.conceal(user.upn),
                activated,
                last,
                window.period,
                *[p in used for p in PLATFORMS],
                *[a in apps for a in OFFICE_APPS],
                *[a in used.get(p, ()) for p in PLATFORMS for a in OFFICE_APPS],
            )
        )
    return rows


def activation_rows(facts: Facts, window: Window) -> list[Row]:
    """getOffice365ActivationsUserDetail: one row per user and activated product type."""
    tenant = facts.tenant
    rows: list[Row] = []
    for user in tenant.users:
        lic = facts.licences(user)
        products: list[tuple[str, date, bool]] = []
        if "OFFICESUBSCRIPTION" in lic:
            products.append((PRODUCT_ENTERPRISE, lic["OFFICESUBSCRIPTION"], True))
        elif "OFFICE_BUSINESS" in lic:
            products.append((PRODUCT_BUSINESS, lic["OFFICE_BUSINESS"], True))
        if "PROJECT_CLIENT_SUBSCRIPTION" in lic:
            products.append((PRODUCT_PROJECT, lic["PROJECT_CLIENT_SUBSCRIPTION"], False))
        if "VISIO_CLIENT_SUBSCRIPTION" in lic:
            products.append((PRODUCT_VISIO, lic["VISIO_CLIENT_SUBSCRIPTION"], False))
        if not products:
            continue
        upn, name = _names(tenant, user)
        h = _h(facts.seed, user.index, 32)
        for product, since, suite in products:
            activated = facts.activation(user, since)
            windows = mac = ios = android = 0
            if activated is not None:
                if "windows" in user.platforms:
                    windows = 1 + (h % 3 == 0) + (user.persona == "heavy" and h % 5 == 0)
                if suite and "mac" in user.platforms:
                    mac = 1 + (h % 4 == 0)
                if suite and "mobile" in user.platforms:
                    pick = h >> 8 & 15
                    ios, android = (1, 0) if pick < 8 else (0, 1) if pick < 14 else (1, 1)
            if not (windows or mac or ios or android):
                activated = None
            shared = windows > 0 and h >> 16 & 31 == 0
            rows.append(
                (window.as_of, upn, name, product, activated, windows, mac, 0, ios, android, shared)
            )
    return rows


def _site_url(tenant: Tenant, user: User) -> str:
    slug = user.upn.lower().replace(".", "_").replace("@", "_")
    return f"https://{tenant.tenant_name}-my.sharepoint.com/personal/{slug}"


def onedrive_rows(facts: Facts, window: Window) -> list[Row]:
    """getOneDriveUsageAccountDetail: one row per OneDrive-licensed owner."""
    tenant = facts.tenant
    concealed = tenant.options.concealed_names
    rows: list[Row] = []
    for user, deleted in _people(tenant, window):
        if "onedrive" not in facts.licences(user):
            continue
        last = facts.last(user, "onedrive")
        h = _h(facts.seed, user.index, 48)
        files = user.onedrive_files
        active_files = 0
        if files and last is not None and last >= window.first:
            share = min(1.0, user.rates.get("onedrive", 0.0) * window.period / 20)
            active_files = min(files, max(1, round(files * share * (0.05 + (h % 100) / 400))))
        used = user.onedrive_mb * MIB + h % MIB if user.onedrive_mb else 4096 + h % 65536
        upn, name = _names(tenant, user)
        rows.append(
            (
                window.as_of,
                "" if concealed else _site_url(tenant, user),
                name,
                deleted,
                last,
                files,
                active_files,
                used,
                ONEDRIVE_QUOTA,
                upn,
                str(window.period),
            )
        )
    return rows


def _quotas(lic: dict[str, date]) -> tuple[int, int, int]:
    if "EXCHANGE_S_ENTERPRISE" in lic:
        return QUOTA_100GB
    if "EXCHANGE_S_STANDARD" in lic or "EXCHANGE_S_DESKLESS" not in lic:
        return QUOTA_50GB  # Plan 1 / Business, and unlicensed shared or room mailboxes
    return QUOTA_2GB


def mailbox_rows(facts: Facts, window: Window) -> list[Row]:
    """getMailboxUsageDetail: Exchange-licensed users plus shared and room mailboxes."""
    tenant = facts.tenant
    rows: list[Row] = []
    for user, deleted in _people(tenant, window):
        lic = facts.licences(user)
        if "exchange" not in lic and user.kind not in ("shared", "room"):
            continue
        warn, send, send_receive = _quotas(lic)
        h = _h(facts.seed, user.index, 80)
        used = user.mailbox_mb * MIB + h % MIB
        if used >= send:
            used = warn + h % (send - warn)
        items = used // (40_000 + h % 90_000)
        deleted_items = items * (3 + h % 12) // 100
        deleted_size = used * (3 + h % 12) // 100
        archive = "EXCHANGE_S_ENTERPRISE" in lic and (
            user.persona in ("heavy", "mac") or h % 3 == 0
        )
        archive = archive or ("EXCHANGE_S_STANDARD" in lic and h % 7 == 0)
        upn, name = _names(tenant, user)
        rows.append(
            (
                window.as_of,
                upn,
                name,
                deleted,
                user.deleted.date() if deleted and user.deleted else None,
                user.created.date(),
                facts.last(user, "exchange"),
                items,
                used,
                warn,
                send,
                send_receive,
                deleted_items,
                deleted_size,
                DELETED_ITEM_QUOTA,
                archive,
                str(window.period),
            )
        )
    return rows


def email_rows(facts: Facts, window: Window) -> list[Row]:
    """getEmailActivityUserDetail: Exchange-licensed users' send/receive/read counts."""
    tenant = facts.tenant
    rows: list[Row] = []
    for user, deleted in _people(tenant, window):
        if "exchange" not in facts.licences(user):
            continue
        days = facts.active_days(user, "exchange", window.first, window.as_of)
        h = _h(facts.seed, user.index, 96)
        heavy = user.persona in ("heavy", "mac")
        send = days * ((4 if heavy else 1) + h % 9)
        receive = days * ((25 if heavy else 8) + (h >> 8) % 40)
        read = 0 if user.kind == "service" else receive * (55 + (h >> 16) % 45) // 100
        meetings = 0 if user.kind != "person" else days * (1 + (h >> 24) % 3) // (2 if heavy else 6)
        upn, name = _names(tenant, user)
        rows.append(
            (
                window.as_of,
                upn,
                name,
                deleted,
                user.deleted.date() if deleted and user.deleted else None,
                facts.last(user, "exchange"),
                send,
                receive,
                read,
                meetings // 3,
                meetings,
                facts.products(user),
                str(window.period),
            )
        )
    return rows


BUILDERS: dict[str, Callable[[Facts, Window], list[Row]]] = {
    "getOffice365ActiveUserDetail": active_user_rows,
    "getM365AppUserDetail": m365_app_rows,
    "getOffice365ActivationsUserDetail": activation_rows,
    "getOneDriveUsageAccountDetail": onedrive_rows,
    "getMailboxUsageDetail": mailbox_rows,
    "getEmailActivityUserDetail": email_rows,
}


def build(spec: ReportSpec, facts: Facts, window: Window) -> list[Row]:
    """The rows of `spec` for `window` (none when the day has no data yet)."""
    return [] if window.empty else BUILDERS[spec.name](facts, window)
