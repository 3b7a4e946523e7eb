"""Application Roster: users, licence assignments, blocked credentials, last sign-ins, MFA, and
from the usage reports storage, platforms and Office activations, with a daily snapshot.

Users come through `/users/delta`: the first run takes a delta link that starts now and reads
every user, with `signInActivity`, in one enumeration of `/users`; later runs follow the link
and apply only what changed. `signInActivity` is not in delta: later runs read it for the users
who signed in since a stored watermark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import Table, delete, inspect, select

from seatwise.errors import (
    GraphError,
    GraphForbidden,
    GraphNoPremium,
    GraphNotFound,
    GraphRequestError,
)
from seatwise.graph import endpoints
from seatwise.store import writes
from seatwise.store.schema import Activation, LicenseAssignment, UsageSnapshot, User
from seatwise.sync import normalize, reportdata, validate
from seatwise.sync.columns import update_changed
from seatwise.sync.context import TaskContext

DELTA_CURSOR = "users-delta"  # the deltaLink of the last /users/delta round
SIGN_IN_CURSOR = "sign-in-activity"  # the newest signInActivity moment read
DELTA_REFUSED = frozenset({400, 404, 410})  # an expired or unknown delta token
DELTA_REFUSED_NOTE = (
    "Graph refused the stored /users/delta link (expired or unknown), so every user was read "
    "again in a full round."
)
NO_P1_NOTE = (
    "The tenant has no Microsoft Entra ID P1, so Graph gives no last sign-in, sign-in log or MFA "
    "registration data: last activity comes from usage-report dates only."
)
# What a later listing of a user overwrites: every column `/users` gives but the key and the
# day the user was first seen.
USER_FACTS = tuple(c for c in normalize.USER_COLUMNS if c not in ("tenant_pk", "id", "first_seen"))
SIGN_IN_COLUMNS = ("last_sign_in", "last_interactive_sign_in", "last_non_interactive_sign_in")
_ID, _UPN = normalize.USER_COLUMNS.index("id"), normalize.USER_COLUMNS.index("upn")
_BY_ID = itemgetter(_ID)
_BY_ASSIGNMENT = itemgetter(
    *(normalize.ASSIGNMENT_COLUMNS.index(c) for c in ("user_id", "sku_id", "via"))
)
MFA_COLUMNS = ("mfa_registered", "mfa_methods", "is_admin")
_USER_TABLE = cast(Table, inspect(User).local_table)
_Page = TypeVar("_Page")
_Prepared = TypeVar("_Prepared")
AUDIT_PERMISSION_MISSING = "Authentication_MSGraphPermissionMissing"
UPN = "User Principal Name"
OWNER = "Owner Principal Name"
LAST_ACTIVITY = "Last Activity Date"
PLATFORMS = ("Windows", "Mac", "Mobile", "Web")
ACTIVATION_COLUMNS = (
    "Product Type",
    "Last Activated Date",
    "Windows",
    "Mac",
    "Windows 10 Mobile",
    "iOS",
    "Android",
    "Activated On Shared Computer",
)


def run(ctx: TaskContext) -> None:
    """Run the Application Roster task inside the caller's transaction."""
    # Storage and platforms over the seed's 90-day window (Graph's `D90`), not the last 30 days.
    reports: list[tuple[str, str | None]] = [
        (name, period) for name, period in endpoints.ROSTER_REPORT_PERIODS.items()
    ]
    with reportdata.Downloads(ctx, reports) as downloads:  # fetched while users are read
        read = _users(ctx)
        if not read.sign_ins:
            _sign_ins(ctx, read.whole, read.joined)
        _mfa(ctx)
        _reports(ctx, downloads)
    pruned = writes.prune_snapshots(
        ctx.session, ctx.tenant.pk, ctx.options.retention_days, ctx.today
    )
    ctx.count("snapshots pruned", pruned)
    if pruned:  # a user's latest snapshot may be among them
        ctx.touch_all()


class _Read(NamedTuple):
    """How the users were brought up to date."""

    whole: bool  # every user was read (the first run, or Graph refused the delta link)
    joined: set[str]  # after a round of changes: the users new since the last run
    sign_ins: bool  # last sign-ins came with the users (a whole read of a P1 tenant)


def _users(ctx: TaskContext) -> _Read:
    """Bring users and their licences up to date: follow the stored `/users/delta` link (only
    what changed), or, the first time or when Graph refuses the link, read every user
    (`_whole_read`). The new delta link is stored with the data it describes."""
    pk = ctx.tenant.pk
    link = writes.get_cursor(ctx.session, pk, DELTA_CURSOR)
    if link is not None:
        links: dict[str, str] = {}
        try:
            with ctx.needs("Directory.Read.All"):
                joined = _apply(ctx, ctx.client.iter_pages(link, links=links), whole=False)
        except (GraphRequestError, GraphNotFound) as exc:
            if isinstance(exc, GraphRequestError) and exc.status not in DELTA_REFUSED:
                raise
            ctx.note(DELTA_REFUSED_NOTE)
        else:
            _keep_link(ctx, link, links)
            return _Read(False, joined, False)
    return _whole_read(ctx)


def _keep_link(ctx: TaskContext, old: str | None, links: dict[str, str]) -> None:
    new = links.get("@odata.deltaLink")
    if not new:
        raise GraphError("Graph ended a /users/delta round without a delta link.")
    if new != old:
        writes.set_cursor(ctx.session, ctx.tenant.pk, DELTA_CURSOR, new, ctx.now)


def _whole_read(ctx: TaskContext) -> _Read:
    """Every user in one enumeration of `/users`, with last sign-ins when the tenant has Entra
    ID P1, after taking a delta link that starts now (`$deltatoken=latest`, "sync from now"),
    so the next run follows every change made from this read on. Users not read are marked
    deleted. Without P1, or when Graph refuses sign-ins (then `_sign_ins` names what is
    missing), the users are read without them."""
    links: dict[str, str] = {}
    with ctx.needs("Directory.Read.All"):
        for _ in ctx.client.iter_pages(
            endpoints.USERS_DELTA, endpoints.users_delta_latest_params(), links=links
        ):
            pass
    sign_ins: _SignIns | None = None
    if ctx.tenant.premium is not False:
        sign_ins = _SignIns()
        try:
            seen = _apply(
                ctx,
                ctx.client.iter_pages(endpoints.USERS, endpoints.users_with_sign_in_params()),
                whole=True,
                sign_ins=sign_ins,
            )
        except GraphNoPremium:
            ctx.tenant.premium = False
            ctx.note(NO_P1_NOTE)
            sign_ins = None
        except GraphForbidden:
            sign_ins = None
    if sign_ins is None:
        with ctx.needs("Directory.Read.All"):
            seen = _apply(
                ctx, ctx.client.iter_pages(endpoints.USERS, endpoints.users_params()), whole=True
            )
    deleted = writes.mark_missing_users_deleted(ctx.session, ctx.tenant.pk, seen, ctx.now)
    ctx.count("users deleted", deleted)
    ctx.count("users", len(seen))
    _keep_link(ctx, writes.get_cursor(ctx.session, ctx.tenant.pk, DELTA_CURSOR), links)
    if sign_ins is not None:
        ctx.tenant.premium = True
        ctx.count("sign-ins read", sign_ins.read)
        _keep_watermark(ctx, sign_ins.newest, None)
    return _Read(True, set(), sign_ins is not None)


@dataclass
class _SignIns:
    """Last sign-ins read together with the users: how many, and the newest moment."""

    read: int = 0
    newest: datetime | None = None


def _apply(
    ctx: TaskContext,
    pages: Iterable[list[Any]],
    *,
    whole: bool,
    sign_ins: _SignIns | None = None,
) -> set[str]:
    """Store users page by page: upsert the users listed and replace their licence
    assignments; users `@removed` (delta) are marked deleted (`changed`: soft-deleted,
    restorable) and lose their assignments when gone for good (`deleted`). A user listed
    twice in a round is stored as last listed. With `sign_ins`, each user's `signInActivity`
    is stored too. Returns the ids of the users listed (of a round of changes: those new to
    the store); of a whole read, users left out as invalid count as listed (kept as stored)."""
    seen: set[str] = set()
    renamed = whole  # whether a UPN may name another user than before
    pk, today = ctx.tenant.pk, ctx.today
    dialect = ctx.session.get_bind().dialect
    with_sign_ins = sign_ins is not None
    columns = [*normalize.USER_COLUMNS, *(SIGN_IN_COLUMNS if with_sign_ins else ())]
    holders: set[str] | None = None  # of a whole read: the users who may have assignments
    if whole:
        ctx.touch_all()
        held = select(LicenseAssignment.user_id).where(LicenseAssignment.tenant_pk == pk)
        holders = set(ctx.session.scalars(held.distinct()))

    def prepare(page: list[Any]) -> _UsersPage:
        live, removed, kept, skips = _checked(page)
        rows: list[tuple[Any, ...]] = []
        plain: list[tuple[Any, ...]] = []  # users whose signInActivity is unusable
        for item in live:
            row = normalize.user_values(pk, item, today)
            if sign_ins is None:
                rows.append(row)
            elif (problem := validate.sign_in_problem(item)) is not None:
                skips.append(("sign-in record", problem, item))
                plain.append(row)
            else:
                signed = normalize.sign_in_columns(item.get("signInActivity"))
                rows.append((*row, *(signed[c] for c in SIGN_IN_COLUMNS)))
                moments = [moment for moment in signed.values() if moment is not None]
                if moments and (sign_ins.newest is None or max(moments) > sign_ins.newest):
                    sign_ins.newest = max(moments)
        assignments = [row for item in live for row in normalize.assignment_values(pk, item)]
        # In key order, as the store writes them (sorted here, beside the writes).
        rows.sort(key=_BY_ID)
        plain.sort(key=_BY_ID)
        assignments.sort(key=_BY_ASSIGNMENT)
        # On SQLite, their values bound and as JSON here too: the writing thread only writes.
        rows_json = writes.json_rows(dialect, User, columns, rows)
        assignments_json = writes.json_rows(
            dialect, LicenseAssignment, normalize.ASSIGNMENT_COLUMNS, assignments
        )
        return _UsersPage(
            rows, plain, assignments, removed, kept, skips, rows_json, assignments_json
        )

    for page in _one_ahead(pages, prepare):
        for kind, problem, item in page.skips:
            ctx.skip(kind, problem, item)
        listed = {row[_ID]: row[_UPN] for row in (*page.rows, *page.plain)}
        ids = list(listed)
        known: dict[str, str] = {}
        if not whole and ids:  # a round of changes: note who is new, and renamed
            query = select(User.id, User.upn).where(User.tenant_pk == pk, User.id.in_(ids))
            known.update(ctx.session.execute(query).all())
            if any(upn.lower() != listed[user_id].lower() for user_id, upn in known.items()):
                renamed = True
            joiners = {listed[user_id] for user_id in ids if user_id not in known}
            if joiners and ctx.any_user_named(joiners):  # a UPN now names another user
                renamed = True
        written = writes.upsert_tuples(
            ctx.session,
            User,
            columns,
            page.rows,
            key=("tenant_pk", "id"),
            update_columns=[*USER_FACTS, *(SIGN_IN_COLUMNS if with_sign_ins else ())],
            compare_columns=[
                "fingerprint",
                "deleted_at",
                *(SIGN_IN_COLUMNS if with_sign_ins else ()),
            ],
            one_statement=True,  # `prepare` runs on its thread meanwhile
            as_json=page.rows_json,
        )
        written += writes.upsert_tuples(
            ctx.session,
            User,
            normalize.USER_COLUMNS,
            page.plain,
            key=("tenant_pk", "id"),
            update_columns=list(USER_FACTS),
            compare_columns=["fingerprint", "deleted_at"],
            one_statement=True,
        )
        ctx.touch(ids)
        # of a round of changes, only users new to the store (listed again later: still new)
        seen.update(ids if whole else (user_id for user_id in ids if user_id not in known))
        if whole:  # users left out are kept, not deleted
            seen.update(page.kept)
        changes = writes.replace_tuples(
            ctx.session,
            LicenseAssignment,
            pk,
            normalize.ASSIGNMENT_COLUMNS,
            page.assignments,
            user_ids=ids,
            one_statement=True,
            holders=holders,  # a first sync reads no stored assignments
            as_json=page.assignments_json,
        )
        if holders is not None:
            holders.update(ids)
        if page.removed:
            gone = [user_id for user_id, _ in page.removed]
            ctx.touch(gone)
            ctx.count("users deleted", writes.mark_users_deleted(ctx.session, pk, gone, ctx.now))
            purged = [user_id for user_id, reason in page.removed if reason == "deleted"]
            released = writes.replace_children(ctx.session, LicenseAssignment, pk, purged, [])
            ctx.count("assignments written", released.total)
        if sign_ins is not None:
            sign_ins.read += len(page.rows)
        ctx.count("users written", written)
        ctx.count("users read" if whole else "users changed", len(ids))
        ctx.count("assignments written", changes.total)
        ctx.progress(ctx.task, "users", len(ids), None)
    if renamed:
        reportdata.upns_changed(ctx)
    return seen


class _UsersPage(NamedTuple):
    rows: list[tuple[Any, ...]]  # `normalize.USER_COLUMNS` values (then the sign-in columns)
    plain: list[tuple[Any, ...]]  # users stored without their (unusable) signInActivity
    assignments: list[tuple[Any, ...]]  # `normalize.ASSIGNMENT_COLUMNS` values
    removed: list[tuple[str, str]]
    kept: list[str]  # ids of users left out as invalid: kept as stored
    skips: list[tuple[str, validate.Problem, Any]]  # (kind, problem, item) for ctx.skip
    rows_json: str | None  # `writes.json_rows` of `rows`
    assignments_json: str | None  # and of `assignments`


def _checked(
    page: list[Any],
) -> tuple[
    list[dict[str, Any]], list[tuple[str, str]], list[str], list[tuple[str, validate.Problem, Any]]
]:
    """A page through the validation boundary: (live users, removed (id, reason), ids of users
    left out, what was left out and why). An invalid user is left out; with an id, its stored
    row stays as it is (and is not marked deleted). Of a user listed twice on the page only
    the last listing counts, as Graph asks of delta rounds."""
    live: list[dict[str, Any]] = []
    removed: list[tuple[str, str]] = []
    kept: list[str] = []
    skips: list[tuple[str, validate.Problem, Any]] = []
    later: set[str] = set()
    for item in reversed(page):
        gone = isinstance(item, dict) and "@removed" in item
        problem = validate.removed_problem(item) if gone else validate.user_problem(item)
        user_id = validate.object_id(item.get("id")) if isinstance(item, dict) else None
        if problem is not None:
            skips.append(("user", problem, item))
            if user_id is not None:
                kept.append(user_id)
            continue
        assert user_id is not None
        if user_id in later:
            continue
        later.add(user_id)
        if gone:
            removed.append((user_id, str((item["@removed"] or {}).get("reason") or "changed")))
        else:
            live.append(item)
    live.reverse()
    removed.reverse()
    kept.reverse()
    skips.reverse()
    return live, removed, kept, skips


def _sign_ins(ctx: TaskContext, full: bool, joined: set[str]) -> None:
    """Last sign-ins (`signInActivity`, which delta does not carry) when they did not come
    with the users: every user's after a whole read, else those of users who signed in since
    the stored watermark (less an overlap: Entra ID records sign-ins late) and of users new
    since the last run. Needs Entra ID P1; without it, a note."""
    if ctx.tenant.premium is False:
        ctx.note(NO_P1_NOTE)
        return
    pk = ctx.tenant.pk
    stored = writes.get_cursor(ctx.session, pk, SIGN_IN_CURSOR)
    since = None if full or stored is None else normalize.parse_datetime(stored)
    overlap = timedelta(minutes=ctx.options.sign_in_overlap_minutes)
    if since is None:
        queries = [endpoints.users_sign_in_params()]
    else:
        queries = [
            endpoints.users_signed_in_since_params(since - overlap, field)
            for field in endpoints.SIGN_IN_FILTERABLE
        ]
        new = sorted(joined)
        queries += [
            endpoints.users_by_id_params(new[start : start + endpoints.IDS_PER_FILTER])
            for start in range(0, len(new), endpoints.IDS_PER_FILTER)
        ]
    values: dict[str, tuple[Any, ...]] = {}
    newest: datetime | None = None
    try:
        with ctx.needs("AuditLog.Read.All"):
            for params in queries:
                for page in ctx.client.iter_pages(endpoints.USERS, params):
                    for item in page:
                        if (problem := validate.sign_in_problem(item)) is not None:
                            ctx.skip("sign-in record", problem, item)
                            continue
                        columns = normalize.sign_in_columns(item.get("signInActivity"))
                        values[str(item["id"]).lower()] = tuple(columns[c] for c in SIGN_IN_COLUMNS)
                        for moment in columns.values():
                            if moment is not None and (newest is None or moment > newest):
                                newest = moment
                    ctx.progress(ctx.task, "last sign-ins", len(page), None)
    except GraphNoPremium:
        ctx.tenant.premium = False
        ctx.note(NO_P1_NOTE)
        return
    ctx.tenant.premium = True
    written = update_changed(
        ctx.session, _USER_TABLE, pk, "id", values, SIGN_IN_COLUMNS, ctx.touched
    )
    ctx.count("sign-ins read", len(values))
    ctx.count("sign-ins written", written)
    _keep_watermark(ctx, newest, since)


def _keep_watermark(ctx: TaskContext, newest: datetime | None, since: datetime | None) -> None:
    """Store the newest sign-in moment read (`since`, the last one, when none is newer)."""
    stored = writes.get_cursor(ctx.session, ctx.tenant.pk, SIGN_IN_CURSOR)
    mark = newest if since is None or (newest is not None and newest > since) else since
    if mark is not None and (stored is None or normalize.parse_datetime(stored) != mark):
        writes.set_cursor(
            ctx.session, ctx.tenant.pk, SIGN_IN_CURSOR, endpoints.graph_datetime(mark), ctx.now
        )


def _one_ahead(
    pages: Iterable[_Page], prepare: Callable[[_Page], _Prepared]
) -> Iterator[_Prepared]:
    """`prepare(page)` of each page, the next one prepared on a helper thread while the caller
    stores this one (SQLite lets other threads run while it writes)."""
    source = iter(pages)

    def step() -> _Prepared | None:
        page = next(source, None)
        return None if page is None else prepare(page)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="roster-prepare") as pool:
        pending = pool.submit(step)
        try:
            while (ready := pending.result()) is not None:
                pending = pool.submit(step)
                yield ready
        finally:
            pending.cancel()


def _mfa(ctx: TaskContext) -> None:
    if ctx.tenant.premium is False:
        return
    values: dict[str, tuple[Any, ...]] = {}
    try:
        with ctx.needs("UserAuthenticationMethod.Read.All"):
            for page in ctx.client.iter_pages(
                endpoints.REGISTRATION_DETAILS, endpoints.registration_details_params()
            ):
                for item in page:
                    if (problem := validate.mfa_problem(item)) is not None:
                        ctx.skip("MFA registration", problem, item)
                        continue
                    methods = sorted(str(m) for m in item.get("methodsRegistered") or [])
                    values[str(item["id"]).lower()] = (
                        bool(item.get("isMfaRegistered")),
                        methods,
                        item.get("isAdmin"),
                    )
                ctx.progress(ctx.task, "MFA registration", len(page), None)
    except GraphNoPremium:
        ctx.tenant.premium = False
        ctx.note(NO_P1_NOTE)
        return
    written = update_changed(
        ctx.session, _USER_TABLE, ctx.tenant.pk, "id", values, MFA_COLUMNS, ctx.touched
    )
    ctx.count("MFA written", written)


SNAPSHOT_COLUMNS = (
    "tenant_pk",
    "user_id",
    "day",
    "mail_mb",
    "onedrive_mb",
    "windows",
    "mac",
    "mobile",
    "web",
    "activations",
    "exchange_active",
    "onedrive_active",
)
_MAIL, _ONEDRIVE, _WINDOWS, _ACTIVATIONS, _EXCHANGE_ACTIVE, _ONEDRIVE_ACTIVE = 3, 4, 5, 9, 10, 11


def _reports(ctx: TaskContext, downloads: reportdata.Downloads) -> None:
    """Storage, platforms and activations from the four reports, each one read, folded into
    one snapshot row per user and let go before the next is read. Nothing is read or written
    when the files and the users they name are those of the last run."""
    reportdata.check_concealment(ctx)
    periods = endpoints.ROSTER_REPORT_PERIODS
    digest = downloads.digest(ctx)
    if reportdata.unchanged(ctx, digest):  # the same files, naming the same users
        ctx.count("reports unchanged", len(periods))
        return
    ids = ctx.user_ids_by_upn()
    notes = len(ctx.notes)
    pk = ctx.tenant.pk
    snapshot: dict[str, list[Any]] = {}
    unmatched: set[str] = set()  # UPNs that name no user

    def slot(upn: str) -> list[Any] | None:
        user_id = ids.get(upn.lower())
        if user_id is None:
            unmatched.add(upn.lower())
            return None
        entry = snapshot.get(user_id)
        if entry is None:
            entry = snapshot[user_id] = [pk, user_id, None, *([None] * 9)]
        return entry

    storage = ("Storage Used (Byte)", LAST_ACTIVITY)
    mailbox = reportdata.fetch(
        ctx, endpoints.MAILBOX_USAGE, periods[endpoints.MAILBOX_USAGE], UPN, storage, downloads
    )
    for _, upn, used, last in mailbox.rows:
        if (entry := slot(upn)) is not None:
            entry[_MAIL] = normalize.bytes_to_mb(used)
            entry[_EXCHANGE_ACTIVE] = normalize.report_date(last) is not None
    concealed = mailbox.concealed
    del mailbox.rows[:]
    onedrive = reportdata.fetch(
        ctx, endpoints.ONEDRIVE_USAGE, periods[endpoints.ONEDRIVE_USAGE], OWNER, storage, downloads
    )
    for _, upn, used, last in onedrive.rows:
        if (entry := slot(upn)) is not None:
            entry[_ONEDRIVE] = normalize.bytes_to_mb(used)
            entry[_ONEDRIVE_ACTIVE] = normalize.report_date(last) is not None
    concealed = concealed or onedrive.concealed
    del onedrive.rows[:]
    apps = reportdata.fetch(
        ctx, endpoints.M365_APPS, periods[endpoints.M365_APPS], UPN, PLATFORMS, downloads
    )
    for row in apps.rows:
        if (entry := slot(row[1])) is not None:
            entry[_WINDOWS : _WINDOWS + 4] = map(normalize.report_bool, row[2:6])
    concealed = concealed or apps.concealed
    del apps.rows[:]
    activations = reportdata.fetch(
        ctx, endpoints.ACTIVATIONS, None, UPN, ACTIVATION_COLUMNS, downloads
    )
    activation_rows: dict[tuple[str, str], dict[str, Any]] = {}
    for _, upn, product, last, windows, mac, mobile, ios, android, shared in activations.rows:
        user_id = ids.get(upn.lower())
        product = product.strip()
        if user_id is None:
            unmatched.add(upn.lower())
        if user_id is None or not product:
            continue
        activation_rows[(user_id, product)] = {
            "tenant_pk": pk,
            "user_id": user_id,
            "product_type": product,
            "last_activated": normalize.report_date(last),
            "windows": normalize.parse_int(windows) or 0,
            "mac": normalize.parse_int(mac) or 0,
            "windows10_mobile": normalize.parse_int(mobile) or 0,
            "ios": normalize.parse_int(ios) or 0,
            "android": normalize.parse_int(android) or 0,
            "shared_computer": bool(normalize.report_bool(shared)),
        }
        if (entry := slot(upn)) is not None:
            entry[_ACTIVATIONS] = (entry[_ACTIVATIONS] or 0) + 1
    if concealed or activations.concealed:
        reportdata.remember(ctx, None)
        return
    del activations.rows[:]
    keys: list[tuple[Any, ...]] = []  # (tenant, user, product) of the rows changed
    changes = writes.replace_rows(
        ctx.session, Activation, pk, list(activation_rows.values()), touched=keys
    )
    del activation_rows
    ctx.touch(key[1] for key in keys)
    ctx.count("activations written", changes.total)
    day = mailbox.refresh_date or apps.refresh_date or ctx.today
    dated = day != ctx.today or bool(mailbox.refresh_date or apps.refresh_date)
    for entry in snapshot.values():
        entry[2] = day
    changed = writes.differing_tuples(
        ctx.session,
        UsageSnapshot,
        SNAPSHOT_COLUMNS,
        list(snapshot.values()),
        key=("tenant_pk", "user_id", "day"),
        scope=[UsageSnapshot.tenant_pk == pk, UsageSnapshot.day == day],
    )
    ctx.touch(row[1] for row in changed)
    written = writes.upsert_tuples(
        ctx.session, UsageSnapshot, SNAPSHOT_COLUMNS, changed, key=("tenant_pk", "user_id", "day")
    )
    ctx.count("snapshots written", written)
    # A user no longer in the day's reports has no snapshot that day (as on a first sync).
    stored = ctx.session.scalars(
        select(UsageSnapshot.user_id).where(UsageSnapshot.tenant_pk == pk, UsageSnapshot.day == day)
    ).all()
    stale = sorted(set(stored) - snapshot.keys())
    ctx.touch(stale)
    for start in range(0, len(stale), writes.CHUNK_ROWS):
        ctx.session.execute(
            delete(UsageSnapshot).where(
                UsageSnapshot.tenant_pk == pk,
                UsageSnapshot.day == day,
                UsageSnapshot.user_id.in_(stale[start : start + writes.CHUNK_ROWS]),
            )
        )
    ctx.count("snapshots removed", len(stale))
    # Snapshots dated by the sync's day, not the reports': read the same files again tomorrow.
    clean = dated and len(ctx.notes) == notes
    reportdata.remember(ctx, digest if clean else None, unmatched)
