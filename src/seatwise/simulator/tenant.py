"""The live simulated tenant: generated data plus indexes, licence changes and tenant switches.

`Tenant` is what the HTTP layer talks to. It owns the only mutable state (licences, roles,
password, settings) and bumps `version` whenever something a report could show changes.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

from seatwise.simulator import activity, catalog
from seatwise.simulator.generate import GeneratedTenant, generate, joiners
from seatwise.simulator.model import (
    Admin,
    AppRegistration,
    Group,
    LicenseState,
    SkuHolding,
    User,
)
from seatwise.simulator.odata import GraphError

# Sign-in log applications for the services seatwise reads from sign-ins (graph-facts §5).
SIGNIN_APPS = {
    "dynamics": ("Dataverse", "00000007-0000-0000-c000-000000000000"),
    "powerbi": ("Microsoft Power BI", "871c010f-5e61-4fb1-83ac-98610a7e9110"),
    # Microsoft documents no first-party sign-in app for Project (Project Online rides on
    # SharePoint); the simulator names one and derives its id, see docs/simulator.md.
    "project": ("Project Online", str(uuid.uuid5(uuid.NAMESPACE_URL, "seatwise:project-online"))),
}
OTHER_SIGNIN_APPS = (
    ("OfficeHome", "4765445b-32c6-49b0-83e6-1d93765276ca"),
    ("Microsoft Teams", "1fec8e78-bce4-4aaf-ab1b-5451cc387264"),
    ("Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000"),
)
SIGNIN_RETENTION_DAYS = 30

MSG_GROUP_INHERITED = (
    "User license is inherited from a group membership and it cannot be removed directly from "
    "the user."
)
MSG_USAGE_LOCATION = "License assignment cannot be done for user with invalid usage location."
MSG_NOT_HELD = "User does not have a corresponding license."
# How a working day's churn splits its share of users (see `Tenant.churn`).
CHURN_MIX = (
    ("join", 0.15),
    ("leave", 0.10),
    ("licence", 0.25),
    ("edit", 0.25),
    ("sign-in", 0.25),
)
_TITLES = ("Analyst", "Senior Analyst", "Team Lead", "Manager", "Consultant", "Specialist")
_DEPARTMENTS = ("Finance", "Sales", "Marketing", "Operations", "IT", "HR", "Legal")


def _event_id(seed: int, index: int, code: str, offset: int) -> str:
    high = activity.mix(seed * 1_000_003 + index)
    low = activity.mix((index << 16) ^ (activity.SERVICE_CODES[code] << 8) ^ offset)
    return str(uuid.UUID(int=high << 64 | low, version=4))


@dataclass(slots=True)
class Options:
    """Tenant switches that tests and `seatwise simulate` flags turn on or off."""

    concealed_names: bool = False
    premium: bool = True  # Entra ID P1: signInActivity, sign-in logs, registration details
    report_throttle: bool = True  # 14 CSV calls / 10 min per report, as Microsoft limits
    token_lifetime_s: float = 3600.0
    download_ttl_s: float = 300.0


@dataclass
class RenderCache:
    """Serialised users per `$select`, valid while the tenant's version is `version`."""

    version: int = -1
    by_select: dict[tuple[str, ...], dict[int, bytes]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SignInEvent:
    """One interactive sign-in in the audit log."""

    id: str
    created: datetime
    user: User
    app_name: str
    app_id: str
    client_app: str
    ip: str
    city: str


@dataclass
class Tenant:
    """A simulated Microsoft 365 tenant."""

    data: GeneratedTenant
    options: Options = field(default_factory=Options)
    version: int = 0

    def __post_init__(self) -> None:
        self.users_by_id: dict[str, User] = {u.id: u for u in self.data.users}
        self.users_by_upn: dict[str, User] = {u.upn.lower(): u for u in self.data.users}
        self.groups: dict[str, Group] = {g.id: g for g in self.data.groups}
        self.holdings: dict[str, SkuHolding] = {h.sku_id: h for h in self.data.holdings}
        self.consumed: dict[str, int] = {}
        for user in self.data.users:
            for sku_id in user.sku_ids():
                self.consumed[sku_id] = self.consumed.get(sku_id, 0) + 1
        self.assign_calls = 0
        self.assign_calls_by_user: dict[str, int] = {}
        self.signed_in_now: dict[str, datetime] = {}  # sign-ins recorded through /_control
        self.change_log: list[tuple[int, str]] = []  # (version, user id) for /users/delta
        self.purged: set[str] = set()  # permanently deleted: delta says `@removed: deleted`
        self.delta_valid_from = 0  # delta tokens of earlier versions answer 410
        self.extra_sign_ins: list[SignInEvent] = []  # sign-ins of churn, in the sign-in log
        self.sign_in_cache: dict[int, tuple[object, object]] = {}  # see userjson.sign_in_activity
        self.churn_rounds = 0
        self.render_cache = RenderCache()
        self.facts_cache: dict[int, tuple[object, object]] = {}  # see userjson.facts
        # see auditlogs.registration: (index, beta) -> (key, MFA registered, JSON)
        self.registration_cache: dict[tuple[int, bool], tuple[object, bool, bytes]] = {}

    @classmethod
    def create(
        cls, users: int = 200, seed: int = 1, now: datetime | None = None, **options: object
    ) -> Tenant:
        """Generate a tenant and wrap it; `options` are `Options` fields."""
        return cls(generate(users, seed, now), Options(**options))  # type: ignore[arg-type]

    @classmethod
    def create_many(
        cls,
        count: int,
        users: int = 200,
        seed: int = 1,
        now: datetime | None = None,
        **options: object,
    ) -> list[Tenant]:
        """`count` tenants for one host, from seeds `seed`, `seed + 1`, …, each of `users` users,
        all as of the same `now` and each with its own `Options(**options)`.

        Ids, app registrations and admins differ by seed; a domain an earlier tenant already has
        gets a digit appended, so every tenant's domain is its own.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        moment = now or datetime.now(UTC)
        tenants: list[Tenant] = []
        for offset in range(count):
            taken = [t.domain for t in tenants]
            data = generate(users, seed + offset, moment, avoid_domains=taken)
            tenants.append(cls(data, Options(**options)))  # type: ignore[arg-type]
        return tenants

    # -- identity ---------------------------------------------------------------------------

    @property
    def seed(self) -> int:
        """The generator seed."""
        return self.data.seed

    @property
    def tenant_id(self) -> str:
        """The directory (tenant) id."""
        return self.data.tenant_id

    @property
    def domain(self) -> str:
        """The initial `.onmicrosoft.com` domain."""
        return self.data.domain

    @property
    def app(self) -> AppRegistration:
        """seatwise's app registration."""
        return self.data.app

    @property
    def admin(self) -> Admin:
        """The administrator account."""
        return self.data.admin

    @property
    def users(self) -> list[User]:
        """Directory users in a stable order."""
        return self.data.users

    @property
    def deleted_users(self) -> list[User]:
        """Users gone from the directory that still show in reports."""
        return self.data.deleted_users

    @property
    def now(self) -> datetime:
        """The simulator's present moment (UTC)."""
        return self.data.now

    @property
    def today(self) -> date:
        """The simulator's present day (UTC)."""
        return self.data.now.date()

    @property
    def refresh_date(self) -> date:
        """`Report Refresh Date`: usage reports lag two or three days behind today."""
        return self.today - timedelta(days=self.data.report_lag_days)

    @cached_property
    def tenant_name(self) -> str:
        """The tenant's short name (`contoso123` of `contoso123.onmicrosoft.com`)."""
        return self.domain.split(".")[0]

    def find_user(self, key: str) -> User | None:
        """A user by object id or user principal name."""
        return self.users_by_id.get(key.lower()) or self.users_by_upn.get(key.lower())

    def pseudonym(self, text: str) -> str:
        """The 32-hex concealed form Microsoft shows for names when concealment is on."""
        return hashlib.md5((self.data.salt + text.lower()).encode()).hexdigest().upper()

    def conceal(self, text: str) -> str:
        """`text` itself, or its pseudonym when concealed names are on."""
        return self.pseudonym(text) if self.options.concealed_names else text

    def delete_user(self, user: User) -> None:
        """Soft-delete `user`: gone from `/users`, listed in deleted items and in reports."""
        self.data.users.remove(user)
        self.users_by_id.pop(user.id, None)
        self.users_by_upn.pop(user.upn.lower(), None)
        user.deleted = self.now
        user.active_until = self.today
        self.data.deleted_users.append(user)
        for sku_id in user.sku_ids():
            self.consumed[sku_id] -= 1
        self.__dict__.pop("sign_ins", None)
        self.__dict__.pop("sign_ins_by_app", None)
        self._changed(user)

    def purge_user(self, user: User) -> None:
        """Permanently delete `user` (soft-deleting first if needed): gone from deleted items
        and reports; `/users/delta` reports `@removed` with reason `deleted`."""
        if user.deleted is None:
            self.delete_user(user)
        if user in self.data.deleted_users:
            self.data.deleted_users.remove(user)
        self.purged.add(user.id)
        self._changed(user)

    def expire_delta_tokens(self) -> None:
        """Every delta token issued so far is refused from now on (410 resyncRequired)."""
        self.version += 1
        self.delta_valid_from = self.version

    def _changed(self, user: User) -> None:
        """`user` changed: a new tenant version, and the user is in the next delta round."""
        self.version += 1
        self.change_log.append((self.version, user.id))
        self.sign_in_cache.pop(user.index, None)

    def advance(self, delta: timedelta) -> None:
        """Move the present forward; reports, refresh dates and sign-ins follow."""
        self.data.now = self.data.now + delta
        self.sign_in_cache.clear()
        self.__dict__.pop("sign_ins", None)
        self.__dict__.pop("sign_ins_by_app", None)
        self.version += 1

    # -- activity ---------------------------------------------------------------------------

    def last_active(self, user: User, service: str, as_of: date | None = None) -> date | None:
        """Last day `user` used `service` on or before `as_of` (default: the refresh date)."""
        return activity.last_active(self.seed, user, service, as_of or self.refresh_date)

    def active_days(self, user: User, service: str, first: date, last: date) -> int:
        """Days in [first, last] on which `user` used `service`."""
        return activity.active_days(self.seed, user, service, first, last)

    def licensed_for(self, user: User, workload: str) -> date | None:
        """When `user` got a licence with an enabled plan for `workload`, or None."""
        wanted = catalog.WORKLOAD_PLANS[workload]
        best: datetime | None = None
        for state in user.licenses:
            sku = catalog.skus()[state.sku_id]
            for plan in sku.plans:
                if plan.name in wanted and plan.id not in state.disabled_plans:
                    if best is None or state.last_updated < best:
                        best = state.last_updated
        return best.date() if best else None

    def assigned_products(self, user: User) -> list[str]:
        """Product display names of the user's SKUs, as reports list them."""
        return [catalog.skus()[sku_id].product_name for sku_id in user.sku_ids()]

    def last_sign_in(self, user: User) -> datetime | None:
        """The user's last successful sign-in, derived from all their activity (or recorded)."""
        services = tuple(user.rates)
        day = activity.any_last_active(self.seed, user, self.today, services)
        derived = (
            None
            if day is None
            else activity.moment(self.seed, user, "signin", day).replace(tzinfo=UTC)
        )
        if derived is not None and derived > self.now:  # today's sign-in is still to come
            day = activity.any_last_active(
                self.seed, user, self.today - timedelta(days=1), services
            )
            derived = (
                None
                if day is None
                else activity.moment(self.seed, user, "signin", day).replace(tzinfo=UTC)
            )
        recorded = self.signed_in_now.get(user.id)
        if recorded is None:
            return derived
        return recorded  # recorded at the (simulated) present: nothing derived is later

    def record_sign_in(self, user: User) -> datetime:
        """`user` signs in now (seen in `signInActivity`, as Entra ID shows it within minutes)."""
        self.signed_in_now[user.id] = self.now
        self.version += 1
        self.sign_in_cache.pop(user.index, None)
        return self.now

    def warm(self) -> None:
        """Build what is otherwise built on the first request after a change of time or of
        users (the sign-in log and its index by application), as Graph has it ready."""
        _ = self.sign_ins_by_app

    @cached_property
    def sign_ins_by_app(self) -> dict[str, list[int]]:
        """Positions in `sign_ins` of each application's events (lower-case appId), ascending."""
        found: dict[str, list[int]] = {}
        for position, event in enumerate(self.sign_ins):
            found.setdefault(event.app_id.lower(), []).append(position)
        return found

    @cached_property
    def sign_ins(self) -> list[SignInEvent]:
        """Interactive sign-ins of the last 30 days, newest first."""
        events: list[SignInEvent] = []
        first = self.today - timedelta(days=SIGNIN_RETENTION_DAYS - 1)
        seed = self.seed
        for user in self.users:
            if not user.rates:
                continue
            services = [s for s in SIGNIN_APPS if user.rates.get(s)]
            if user.persona == "heavy" and user.index % 4 == 0:
                services.append("officehome")
            for service in services:
                code = "signin" if service == "officehome" else service
                if service == "officehome":
                    app_name, app_id = OTHER_SIGNIN_APPS[user.index % 3]
                else:
                    app_name, app_id = SIGNIN_APPS[service]
                rate_service = "exchange" if service == "officehome" else service
                client = "Browser" if "web" in user.platforms else "Mobile Apps and Desktop clients"
                ip = f"203.0.113.{user.index % 250 + 1}"
                for ordinal in activity.active_ordinals(
                    seed, user, rate_service, first, self.today
                ):
                    day = date.fromordinal(ordinal)
                    when = activity.moment(seed, user, code, day).replace(tzinfo=UTC)
                    if when > self.now:
                        continue
                    offset = ordinal - first.toordinal()
                    events.append(
                        SignInEvent(
                            _event_id(seed, user.index, code, offset),
                            when,
                            user,
                            app_name,
                            app_id,
                            client,
                            ip,
                            "Seattle",
                        )
                    )
        events.extend(
            e for e in self.extra_sign_ins if first <= e.created.date() and e.user.deleted is None
        )
        events.sort(key=lambda e: (e.created, e.id), reverse=True)
        return events

    # -- licences ---------------------------------------------------------------------------

    def available(self, sku_id: str) -> int:
        """Units that can still be assigned."""
        holding = self.holdings.get(sku_id)
        return 0 if holding is None else holding.enabled - self.consumed.get(sku_id, 0)

    def assign_license(self, user: User, add: list[dict[str, object]], remove: list[str]) -> None:
        """Apply an `assignLicense` request with Graph's validation, or raise its error."""
        self.assign_calls += 1
        self.assign_calls_by_user[user.id] = self.assign_calls_by_user.get(user.id, 0) + 1
        skus = catalog.skus()
        add_ids: list[tuple[str, list[str]]] = []
        for item in add:
            sku_id = str(item.get("skuId", "")).lower()
            if sku_id not in self.holdings:
                raise GraphError(
                    400,
                    "Request_BadRequest",
                    f"License {sku_id} does not correspond to a valid company License.",
                )
            if user.usage_location is None:
                raise GraphError(400, "Request_BadRequest", MSG_USAGE_LOCATION)
            plans = [str(p).lower() for p in item.get("disabledPlans") or []]  # type: ignore[attr-defined]
            known = {p.id for p in skus[sku_id].plans}
            unknown = [p for p in plans if p not in known]
            if unknown:
                raise GraphError(
                    400,
                    "Request_BadRequest",
                    f"Service plan {unknown[0]} does not belong to SKU {sku_id}.",
                )
            has_direct = any(
                s.sku_id == sku_id and s.assigned_by_group is None for s in user.licenses
            )
            holding = self.holdings[sku_id]
            if not has_direct and sku_id not in user.sku_ids() and self.available(sku_id) <= 0:
                raise GraphError(
                    400,
                    "Request_BadRequest",
                    f"Subscription {holding.subscription_ids[0]} for SKU {sku_id} does not have "
                    "any available licenses.",
                )
            add_ids.append((sku_id, plans))
        remove_ids = [str(s).lower() for s in remove]
        for sku_id in remove_ids:
            if sku_id not in self.holdings:
                raise GraphError(
                    400,
                    "Request_BadRequest",
                    f"License {sku_id} does not correspond to a valid company License.",
                )
            states = [s for s in user.licenses if s.sku_id == sku_id]
            if not states:
                raise GraphError(400, "Request_BadRequest", MSG_NOT_HELD)
            if all(s.assigned_by_group for s in states):
                raise GraphError(400, "Request_BadRequest", MSG_GROUP_INHERITED)
        before = set(user.sku_ids())
        stamp = self.now
        for sku_id in remove_ids:
            user.licenses = [
                s for s in user.licenses if not (s.sku_id == sku_id and s.assigned_by_group is None)
            ]
        for sku_id, plans in add_ids:
            for state in user.licenses:
                if state.sku_id == sku_id and state.assigned_by_group is None:
                    state.disabled_plans = sorted(plans)
                    state.last_updated = stamp
                    break
            else:
                user.licenses.append(LicenseState(sku_id, sorted(plans), None, stamp))
        after = set(user.sku_ids())
        for sku_id in before - after:
            self.consumed[sku_id] -= 1
        for sku_id in after - before:
            self.consumed[sku_id] = self.consumed.get(sku_id, 0) + 1
        self._changed(user)

    # -- a working day ----------------------------------------------------------------------

    def churn(self, fraction: float) -> dict[str, int]:
        """Change `fraction` of the users as a working day does: joiners, leavers
        (soft-deleted), licence changes, property edits and new sign-ins (`CHURN_MIX`).

        Deterministic for a seed and round. A minute passes first, so that each round's
        sign-ins have a moment of their own. Joiners and licence changes show in `/users`,
        `/users/delta` and the next day's reports; sign-ins in `signInActivity` and the
        sign-in log (days pass only through `advance`).
        """
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        self.advance(timedelta(minutes=1))
        self.churn_rounds += 1
        rng = random.Random(self.seed * 1_000_003 + self.churn_rounds)
        total = round(len(self.users) * fraction)
        counts = {kind: int(total * share) for kind, share in CHURN_MIX}
        counts["sign-in"] += total - sum(counts.values())
        admin = self.admin.user_id
        candidates = [u for u in self.users if u.id != admin]
        picked = rng.sample(candidates, min(len(candidates), total - counts["join"]))
        done = dict.fromkeys(counts, 0)
        for kind in ("leave", "licence", "edit", "sign-in"):
            for _ in range(counts[kind]):
                if not picked:
                    break
                user = picked.pop()
                if kind == "leave":
                    self.delete_user(user)
                elif kind == "licence":
                    self._churn_licence(user, rng)
                elif kind == "edit":
                    self._churn_edit(user, rng)
                else:
                    self._churn_sign_in(user, rng)
                done[kind] += 1
        for user in joiners(self.data, counts["join"], rng.getrandbits(32)):
            self.data.users.append(user)
            self.users_by_id[user.id] = user
            self.users_by_upn[user.upn.lower()] = user
            for sku_id in user.sku_ids():
                self._take_unit(sku_id)
            self._changed(user)
            done["join"] += 1
        self.__dict__.pop("sign_ins", None)
        self.__dict__.pop("sign_ins_by_app", None)
        return done

    def _take_unit(self, sku_id: str) -> None:
        """Count one more unit of `sku_id` in use, buying one when none is free."""
        self.consumed[sku_id] = self.consumed.get(sku_id, 0) + 1
        holding = self.holdings.get(sku_id)
        if holding is None:
            holding = self.holdings[sku_id] = SkuHolding(sku_id, 0)
            holding.subscription_ids.append(str(uuid.uuid5(uuid.NAMESPACE_URL, sku_id)))
            self.data.holdings.append(holding)
        holding.enabled = max(holding.enabled, self.consumed[sku_id])

    def _churn_licence(self, user: User, rng: random.Random) -> None:
        direct = [s for s in user.licenses if s.assigned_by_group is None]
        if direct and rng.random() < 0.5:
            state = rng.choice(direct)
            user.licenses.remove(state)
            if state.sku_id not in user.sku_ids():
                self.consumed[state.sku_id] -= 1
        else:
            held = set(user.sku_ids())
            options = sorted(
                h.sku_id
                for h in self.holdings.values()
                if h.sku_id not in held
                and catalog.skus()[h.sku_id].applies_to == "User"
                and self.available(h.sku_id) > 0
            )
            if not options or user.usage_location is None:
                self._churn_edit(user, rng)
                return
            sku_id = rng.choice(options)
            user.licenses.append(LicenseState(sku_id, [], None, self.now))
            self._take_unit(sku_id)
        self._changed(user)

    def _churn_edit(self, user: User, rng: random.Random) -> None:
        what = rng.randrange(3)
        if what == 0:
            user.job_title = rng.choice(_TITLES)
        elif what == 1:
            user.department = rng.choice(_DEPARTMENTS)
        else:
            user.surname = f"{user.surname or 'Smith'}-{rng.choice(('Lee', 'Ng', 'Berg'))}"
            user.display_name = f"{user.given_name or ''} {user.surname}".strip()
        self._changed(user)

    def _churn_sign_in(self, user: User, rng: random.Random) -> None:
        self.record_sign_in(user)
        services = [s for s in SIGNIN_APPS if user.rates.get(s)]
        app_name, app_id = SIGNIN_APPS[rng.choice(services)] if services else OTHER_SIGNIN_APPS[0]
        code = "signin"
        self.extra_sign_ins.append(
            SignInEvent(
                _event_id(self.seed, user.index, code, 10_000 + self.churn_rounds),
                self.now,
                user,
                app_name,
                app_id,
                "Browser",
                f"203.0.113.{user.index % 250 + 1}",
                "Seattle",
            )
        )
