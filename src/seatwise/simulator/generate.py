"""Deterministic tenant generator: the same seed, size and date always give the same tenant.

One `random.Random(seed)` stream draws users in order; personas set each user's activity rates,
platforms, storage and MFA, which every report then derives from (see `activity.py`).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import cast

from seatwise.simulator import catalog, names
from seatwise.simulator.model import (
    ROLE_APP_ADMIN,
    ROLE_LICENSE_ADMIN,
    ROLE_REPORTS_READER,
    Admin,
    AppRegistration,
    Group,
    LicenseState,
    SkuHolding,
    User,
)

# Everything seatwise asks for, application and delegated (DESIGN §2), plus what Graph needs for
# the report settings endpoint.
APP_PERMISSIONS = frozenset(
    {
        "AuditLog.Read.All",
        "Reports.Read.All",
        "UserAuthenticationMethod.Read.All",
        "Directory.Read.All",
        "LicenseAssignment.ReadWrite.All",
        "ReportSettings.Read.All",
        "User.Read.All",
    }
)

# persona -> (weight, per-service daily activity rates, platforms)
_HEAVY = {
    "exchange": 0.9,
    "teams": 0.85,
    "onedrive": 0.6,
    "sharepoint": 0.5,
    "yammer": 0.08,
    "skype": 0.05,
    "officeapps": 0.85,
}
_LIGHT = {
    "exchange": 0.3,
    "teams": 0.2,
    "onedrive": 0.1,
    "sharepoint": 0.1,
    "yammer": 0.05,
    "officeapps": 0.2,
}
PERSONAS: dict[str, tuple[int, dict[str, float], tuple[str, ...]]] = {
    "heavy": (30, _HEAVY, ("windows", "mobile", "web")),
    "light": (22, _LIGHT, ("windows", "web")),
    "web-only": (
        9,
        {"exchange": 0.6, "teams": 0.4, "sharepoint": 0.2, "onedrive": 0.15, "officeapps": 0.3},
        ("web",),
    ),
    "mobile-only": (
        6,
        {"exchange": 0.7, "teams": 0.5, "onedrive": 0.05, "officeapps": 0.3},
        ("mobile",),
    ),
    "mac": (5, _HEAVY, ("mac", "mobile", "web")),
    "inactive": (14, _LIGHT, ("windows",)),
    "never-used": (9, {}, ()),
    "blocked": (5, _LIGHT, ("windows",)),
}

# Primary suites by weight for a member; None = unlicensed.
_SUITES_ENTERPRISE = (
    ("SPE_E3", 30),
    ("ENTERPRISEPACK", 18),
    ("SPE_E5", 8),
    ("ENTERPRISEPREMIUM", 3),
    ("SPE_F1", 14),
    ("STANDARDPACK", 9),
    ("O365_BUSINESS_PREMIUM", 3),
    ("SPB", 3),
    ("O365_BUSINESS_ESSENTIALS", 3),
    (None, 9),
)
# Add-ons: (part number, probability, needs-a-suite)
_ADDONS = (
    ("POWER_BI_PRO", 0.14),
    ("POWER_BI_STANDARD", 0.18),
    ("PROJECTPROFESSIONAL", 0.04),
    ("VISIOCLIENT", 0.04),
    ("DYN365_ENTERPRISE_SALES", 0.03),
    ("DYN365_ENTERPRISE_CUSTOMER_SERVICE", 0.02),
    ("DYN365_TEAM_MEMBERS", 0.02),
    ("FLOW_FREE", 0.08),
    ("POWERAPPS_VIRAL", 0.02),
    ("OFFICESUBSCRIPTION", 0.02),
)
# Plans sometimes disabled on direct assignments.
# Every HOSTILE_EVERY-th user (from HOSTILE_AT) has markup in its display name and job title.
HOSTILE_EVERY, HOSTILE_AT = 97, 5
_DISABLEABLE = ("YAMMER_ENTERPRISE", "SWAY", "MCOSTANDARD", "KAIZALA_O365_P3", "STREAM_O365_E3")
_MFA_SETS = (
    ("microsoftAuthenticatorPush", "softwareOneTimePasscode"),
    ("microsoftAuthenticatorPush",),
    ("mobilePhone",),
    ("mobilePhone", "email"),
    ("passKeyDeviceBound", "microsoftAuthenticatorPush"),
)


@dataclass(slots=True)
class GeneratedTenant:
    """Everything the generator makes; `Tenant` wraps it with indexes and behaviour."""

    seed: int
    now: datetime
    tenant_id: str
    domain: str
    display_name: str
    app: AppRegistration
    admin: Admin
    users: list[User]
    deleted_users: list[User]
    groups: list[Group]
    holdings: list[SkuHolding]
    report_lag_days: int
    salt: str = field(default="")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ascii(text: str) -> str:
    table = str.maketrans("äöüåéèóáíñøçłśżźćńšžý", "aouaeeoainoclszzcnszy", "'")
    return text.lower().translate(table).replace(" ", "")


def _weighted(rng: random.Random, items: tuple[tuple[object, int], ...]) -> object:
    total = sum(w for _, w in items)
    pick = rng.random() * total
    for value, weight in items:
        pick -= weight
        if pick < 0:
            return value
    return items[-1][0]


class _Generator:
    def __init__(
        self, users: int, seed: int, now: datetime, avoid_domains: Collection[str] = ()
    ) -> None:
        self.size = users
        self.avoid_domains = {d.lower() for d in avoid_domains}
        self.rng = random.Random(seed)
        self.seed = seed
        self.now = now.astimezone(UTC).replace(microsecond=0)
        self.today = self.now.date()
        self.upns: set[str] = set()
        self.persona_items = tuple((name, w) for name, (w, _, _) in PERSONAS.items())
        self.countries = tuple(((c, code), w) for c, code, w in names.COUNTRIES)
        self.groups: dict[str, Group] = {}

    def run(self) -> GeneratedTenant:
        rng = self.rng
        tenant_id = _uuid(rng)
        org = rng.choice(("contoso", "fabrikamtech", "northwind", "tailspin", "wingtip", "adatum"))
        name = f"{org}{rng.randrange(100, 999)}"
        domain = f"{name}.onmicrosoft.com"
        suffix = 1
        while domain in self.avoid_domains:  # another tenant of the same host has it
            suffix += 1
            domain = f"{name}{suffix}.onmicrosoft.com"
        self.domain = domain
        app = AppRegistration(
            client_id=_uuid(rng),
            client_secret="".join(
                rng.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789~._-")
                for _ in range(40)
            ),
            display_name="seatwise",
            application_permissions=set(APP_PERMISSIONS),
            delegated_permissions=set(APP_PERMISSIONS),
        )
        for part in ("SPE_E3", "ENTERPRISEPACK", "SPE_F1", "POWER_BI_PRO"):
            sku = catalog.sku(part)
            self.groups[part] = Group(_uuid(rng), f"LIC-{sku.product_name}", [sku.id])
        users: list[User] = []
        admin_user = self._person(0, "heavy", "Member", given="Ada", surname="Admin", local="admin")
        admin_user.job_title = "Microsoft 365 Administrator"
        admin_user.department = "IT"
        self._license(admin_user, ["SPE_E5"])
        self._storage(admin_user)
        users.append(admin_user)
        accounts = list(names.SERVICE_ACCOUNTS)
        n_accounts = min(len(accounts), max(1, self.size // 50))
        for i in range(1, self.size):
            if i <= n_accounts:
                users.append(self._account(i, *accounts[i - 1]))
                continue
            users.append(self._random_user(i))
        deleted = [self._deleted(self.size + i) for i in range(max(1, self.size // 100))]
        holdings = self._holdings(users)
        password = "Pw-" + "".join(
            rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
            for _ in range(14)
        )
        admin = Admin(
            admin_user.id,
            admin_user.upn,
            password,
            {ROLE_APP_ADMIN, ROLE_REPORTS_READER, ROLE_LICENSE_ADMIN},
        )
        return GeneratedTenant(
            seed=self.seed,
            now=self.now,
            tenant_id=tenant_id,
            domain=domain,
            display_name=f"{org.capitalize()} Ltd",
            app=app,
            admin=admin,
            users=users,
            deleted_users=deleted,
            groups=list(self.groups.values()),
            holdings=holdings,
            report_lag_days=2 + self.seed % 2,
            salt=_uuid(rng),
        )

    # -- people -------------------------------------------------------------------------------

    def _unique_upn(self, local: str, domain: str) -> str:
        upn = f"{local}@{domain}"
        n = 1
        while upn.lower() in self.upns:
            n += 1
            upn = f"{local}{n}@{domain}"
        self.upns.add(upn.lower())
        return upn

    def _person(
        self,
        index: int,
        persona: str,
        user_type: str,
        *,
        given: str | None = None,
        surname: str | None = None,
        local: str | None = None,
    ) -> User:
        rng = self.rng
        given = given or rng.choice(names.FIRST_NAMES)
        surname = surname or rng.choice(names.LAST_NAMES)
        country, code = cast(tuple[str, str], _weighted(rng, self.countries))
        department = rng.choice(names.DEPARTMENTS)
        created = self.now - timedelta(
            days=rng.randrange(20, 365 * 8), seconds=rng.randrange(86400)
        )
        if user_type == "Guest":
            home = rng.choice(names.GUEST_DOMAINS)
            mail = f"{_ascii(given)}.{_ascii(surname)}@{home}"
            upn = self._unique_upn(mail.replace("@", "_") + "#EXT#", self.domain)
            display = f"{given} {surname} (Guest)" if rng.random() < 0.3 else f"{given} {surname}"
            title = None
            sync: bool | None = None
        else:
            upn = self._unique_upn(local or f"{_ascii(given)}.{_ascii(surname)}", self.domain)
            mail = upn
            display = f"{given} {surname}"
            title = rng.choice(names.TITLES[department])
            if index % HOSTILE_EVERY == HOSTILE_AT:
                # Directory data is user input: some tenants hold markup in names and titles.
                display = f'<script>alert("{given}")</script>{given} {surname}'
                title = f'"><img src=x onerror=alert(1)>{title}'
            r = rng.random()
            sync = True if r < 0.40 else (False if r < 0.43 else None)
        rates, platforms = dict(PERSONAS[persona][1]), PERSONAS[persona][2]
        user = User(
            index=index,
            id=_uuid(rng),
            upn=upn,
            display_name=display,
            given_name=given,
            surname=surname,
            mail=mail,
            job_title=title,
            department=department if user_type == "Member" else None,
            country=country if user_type == "Member" else None,
            usage_location=code if user_type == "Member" or rng.random() < 0.5 else None,
            created=created,
            account_enabled=persona != "blocked",
            user_type=user_type,
            on_premises_sync=sync,
            kind="person",
            persona=persona,
            rates=rates,
            platforms=platforms,
        )
        if persona in ("inactive", "blocked"):
            user.active_until = self.today - timedelta(days=rng.randrange(60, 400))
        if persona != "never-used" and rng.random() < 0.62:
            user.mfa_methods = rng.choice(_MFA_SETS)
        return user

    def _random_user(self, index: int) -> User:
        rng = self.rng
        persona = str(_weighted(rng, self.persona_items))
        guest = rng.random() < 0.08
        user = self._person(index, persona, "Guest" if guest else "Member")
        if guest:
            if rng.random() < 0.12:
                self._license(user, [rng.choice(("POWER_BI_PRO", "STANDARDPACK"))])
            return user
        suite = _weighted(rng, _SUITES_ENTERPRISE)
        parts: list[str] = [str(suite)] if suite else []
        if suite and rng.random() < 0.03:  # overlapping suites
            parts.append("ENTERPRISEPACK" if suite != "ENTERPRISEPACK" else "SPE_E3")
        for part, p in _ADDONS:
            if rng.random() < p and part not in parts:
                parts.append(part)
        self._license(user, parts)
        if (
            "DYN365_ENTERPRISE_SALES" in parts
            or "DYN365_ENTERPRISE_CUSTOMER_SERVICE" in parts
            or "DYN365_TEAM_MEMBERS" in parts
        ):
            user.rates["dynamics"] = rng.choice((0.0, 0.1, 0.3, 0.6))
        if any(
            p in parts for p in ("POWER_BI_PRO", "POWER_BI_STANDARD", "SPE_E5", "ENTERPRISEPREMIUM")
        ):
            user.rates["powerbi"] = rng.choice((0.0, 0.0, 0.05, 0.15, 0.4))
        if "PROJECTPROFESSIONAL" in parts:
            user.rates["project"] = rng.choice((0.0, 0.15, 0.4))
        if "VISIOCLIENT" in parts:
            user.rates["visio"] = rng.choice((0.0, 0.1, 0.3))
        if user.persona == "never-used":
            user.rates = {}
        self._storage(user)
        return user

    def _account(self, index: int, local: str, display: str, kind: str) -> User:
        user = self._person(index, "light", "Member", given=None, surname=None, local=local)
        user.display_name, user.given_name, user.surname = display, None, None
        user.job_title, user.kind, user.on_premises_sync = None, kind, None
        user.mfa_methods = ()
        if kind == "service":
            user.rates = {"exchange": 0.5}
            self._license(user, ["EXCHANGESTANDARD"] if index % 2 else ["SPE_E3"])
        elif kind == "shared":
            user.rates = {"exchange": 0.7}
            if index % 3 == 0:
                self._license(user, ["EXCHANGESTANDARD"])
        else:
            user.rates = {"exchange": 0.4}
        user.platforms = ()
        self._storage(user)
        return user

    def _deleted(self, index: int) -> User:
        user = self._person(index, "light", "Member")
        user.deleted = self.now - timedelta(days=self.rng.randrange(1, 25))
        user.active_until = user.deleted.date()
        self._license(user, [self.rng.choice(("SPE_E3", "ENTERPRISEPACK", "STANDARDPACK"))])
        self._storage(user)
        return user

    def _storage(self, user: User) -> None:
        rng = self.rng
        if not user.rates:
            user.mailbox_mb = rng.randrange(0, 3)
            user.onedrive_mb = 0
            return
        heavy = user.persona in ("heavy", "mac")
        user.mailbox_mb = int(rng.lognormvariate(7.5 if heavy else 6.2, 1.0))
        if user.persona == "mobile-only" or user.persona == "web-only":
            user.mailbox_mb = min(user.mailbox_mb, 1800)
        user.onedrive_mb = (
            int(rng.lognormvariate(8.0 if heavy else 5.5, 1.3)) if "onedrive" in user.rates else 0
        )
        if user.persona in ("mobile-only", "web-only"):
            user.onedrive_mb = min(user.onedrive_mb, 1800)
        user.onedrive_files = user.onedrive_mb * rng.randrange(1, 6)

    def _license(self, user: User, parts: list[str]) -> None:
        rng = self.rng
        first = max(user.created, self.now - timedelta(days=rng.randrange(10, 900)))
        for part in parts:
            sku = catalog.sku(part)
            when = first if rng.random() < 0.7 else first + (self.now - first) * rng.random()
            when = when.replace(microsecond=0)
            group = self.groups.get(part)
            by_group = group is not None and rng.random() < 0.3
            if by_group and group is not None:
                group.member_ids.append(user.id)
                user.licenses.append(LicenseState(sku.id, [], group.id, when))
                if rng.random() < 0.1:  # also assigned directly
                    user.licenses.append(LicenseState(sku.id, [], None, when))
                continue
            disabled: list[str] = []
            if rng.random() < 0.12:
                for name in rng.sample(_DISABLEABLE, 2):
                    plan_id = sku.plan_id(name)
                    if plan_id:
                        disabled.append(plan_id)
            user.licenses.append(LicenseState(sku.id, sorted(disabled), None, when))
        if user.licenses:
            user.active_from = min(s.last_updated for s in user.licenses).date()
        else:
            user.active_from = user.created.date()

    def _holdings(self, users: list[User]) -> list[SkuHolding]:
        rng = self.rng
        consumed: dict[str, int] = {}
        for user in users:
            for sku_id in user.sku_ids():
                consumed[sku_id] = consumed.get(sku_id, 0) + 1
        holdings = []
        for sku in catalog.skus().values():
            used = consumed.get(sku.id, 0)
            if sku.kind == "free":
                enabled = max(used, 1_000_000 if sku.part_number == "POWER_BI_STANDARD" else 10_000)
            elif used == 0:
                continue
            else:
                enabled = used + max(1, int(used * rng.uniform(0.05, 0.25)))
            holding = SkuHolding(sku.id, enabled, subscription_ids=[_uuid(rng)])
            if sku.kind == "trial":
                holding.warning, holding.enabled = holding.enabled, used
            elif sku.part_number == "ENTERPRISEPACK" and used > 20:
                holding.suspended = max(1, used // 20)
            holdings.append(holding)
        holdings.sort(key=lambda h: catalog.skus()[h.sku_id].part_number)
        return holdings


def generate(
    users: int = 200,
    seed: int = 1,
    now: datetime | None = None,
    avoid_domains: Collection[str] = (),
) -> GeneratedTenant:
    """Make a tenant of `users` directory users (at least 10) from `seed`, as of `now`.

    If the seed's initial domain is in `avoid_domains` (tenants served by the same host), a digit
    is appended to it; nothing else changes.
    """
    if users < 10:
        raise ValueError("a simulated tenant has at least 10 users")
    moment = now or datetime.now(UTC)
    return _Generator(users, seed, moment, avoid_domains).run()


def joiners(data: GeneratedTenant, count: int, seed: int) -> list[User]:
    """`count` new users joining `data`'s tenant now (a working day's hires), drawn from
    `seed` the way the generator draws users, with fresh ids, UPNs and indexes."""
    if count <= 0:
        return []
    maker = _Generator(max(len(data.users), 10), seed, data.now)
    maker.domain = data.domain
    maker.upns = {u.upn.lower() for u in (*data.users, *data.deleted_users)}
    maker.groups = {catalog.skus()[g.sku_ids[0]].part_number: g for g in data.groups}
    start = 1 + max((u.index for u in (*data.users, *data.deleted_users)), default=0)
    made = []
    for index in range(start, start + count):
        user = maker._random_user(index)
        user.created = maker.now - timedelta(seconds=maker.rng.randrange(1, 8 * 3600))
        for state in user.licenses:
            state.last_updated = max(state.last_updated, user.created)
        user.active_from = user.created.date()
        user.active_until = None
        made.append(user)
    return made


def today(now: datetime) -> date:
    """The UTC calendar day of `now`."""
    return now.astimezone(UTC).date()
