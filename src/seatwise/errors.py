"""The one exception tree of seatwise, with the exit code and HTTP status of each error.

Imports nothing from seatwise. The CLI and the web layer translate these errors in exactly one
module each; everything else raises them with one clear sentence as the message.

    AppError                     5  500   base: an expected failure with a clear message
    ├── CheckFailed              1  409   a `--check` run found something
    ├── UsageError               2  400   bad arguments or input from the user
    ├── ConfigError              3  500   settings missing, malformed or contradictory
    ├── AuthError                3  401   no usable credentials for a tenant
    │   ├── PermissionMissing    3  403   a task needs a Graph permission not consented
    │   └── RoleMissing          3  403   the signed-in admin lacks a directory role a task needs
    ├── GraphError               4  502   Graph failed after retries
    │   ├── GraphThrottled       4  503   still throttled (429/503) after retries
    │   ├── GraphNotFound        4  404   the object does not exist in the tenant
    │   ├── GraphAuthError       3  401   Graph or the identity platform refused our token
    │   ├── GraphForbidden       3  403   Graph answered 403: a permission or role is missing
    │   │   └── GraphNoPremium   3  403   the tenant lacks Entra ID P1 for this data
    │   └── GraphRequestError    4  502   Graph refused a request (another 4xx) with a message
    ├── DataError                5  422   data that cannot be parsed or does not add up
    ├── StoreError               5  500   the database failed or is at the wrong schema
    ├── SyncBusy                 5  409   another process is syncing the tenant now
    └── PlanError                5  409   a reclamation plan cannot be acted on
        ├── PlanNotApproved      5  409   apply was asked for a plan nobody approved
        └── PlanStale            5  409   the tenant changed since the plan was made

Exit codes follow DESIGN §8: 0 ok, 1 `--check` found something, 2 usage, 3 configuration or
authorisation, 4 Graph error after retries, 5 data error. Anything that is not an `AppError` is a
bug: `exit_code_for` maps it to 70 (EX_SOFTWARE in sysexits.h), and Ctrl-C to 130.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

__all__ = [
    "AppError",
    "AuthError",
    "CheckFailed",
    "ConfigError",
    "DataError",
    "ExitCode",
    "GraphAuthError",
    "GraphError",
    "GraphForbidden",
    "GraphNoPremium",
    "GraphNotFound",
    "GraphRequestError",
    "GraphThrottled",
    "PermissionMissing",
    "PlanError",
    "PlanNotApproved",
    "PlanStale",
    "RoleMissing",
    "StoreError",
    "SyncBusy",
    "UsageError",
    "exit_code_for",
    "role_advice",
    "PERMISSION_CODES",
    "ROLE_CODES",
    "ROLE_PURPOSES",
]


class ExitCode(IntEnum):
    """Process exit codes of the `seatwise` command (DESIGN §8), plus the two for non-errors."""

    OK = 0
    CHECK_FAILED = 1
    USAGE = 2
    CONFIG = 3
    GRAPH = 4
    DATA = 5
    BUG = 70  # EX_SOFTWARE: an exception we did not expect is a bug in seatwise
    INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


class AppError(Exception):
    """An expected failure, reported as one clear sentence and never as a traceback."""

    exit_code: ClassVar[int] = ExitCode.DATA
    http_status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class CheckFailed(AppError):
    """A `--check` run found something to report (not a failure of seatwise itself)."""

    exit_code = ExitCode.CHECK_FAILED
    http_status = 409


class UsageError(AppError):
    """The user asked for something malformed: a bad option, argument or input value."""

    exit_code = ExitCode.USAGE
    http_status = 400


def no_such_tenant(name: str) -> UsageError:
    """The error for a tenant name that names no tenant."""
    return UsageError(
        f"There is no tenant called {name!r}; add it with `seatwise tenant add` or "
        "`seatwise connect`."
    )


def which_tenant() -> UsageError:
    """The error for a command that needs --tenant (there are several tenants, or none)."""
    return UsageError(
        "Say which tenant with --tenant NAME (there are several, or none yet: add one "
        "with `seatwise connect NAME` or `seatwise tenant add NAME`)."
    )


class ConfigError(AppError):
    """Settings are missing, malformed or contradictory (environment or seatwise.toml)."""

    exit_code = ExitCode.CONFIG
    http_status = 500


class AuthError(AppError):
    """There are no usable credentials for a tenant: not connected, or the token was revoked."""

    exit_code = ExitCode.CONFIG
    http_status = 401


class PermissionMissing(AuthError):
    """A task needs a Graph permission that the tenant has not consented to (a 403 from Graph)."""

    http_status = 403

    def __init__(self, task: str, permission: str, message: str | None = None) -> None:
        super().__init__(
            message
            or f"Task {task} needs permission {permission}: reauthorize the tenant to grant it."
        )
        self.task = task
        self.permission = permission


# What each directory role is needed for, in the advice sentence.
# Graph's 403 codes that name their cause (the rest, `Authorization_RequestDenied` above all,
# say the same for a missing permission and a missing role). A directory role the signed-in
# user lacks (delegated access), whatever the app was granted: the usage reports'
# "S2SUnauthorized: Invalid permission." and the Entra reports' (sign-ins, MFA registration)
# "User is not in the allowed roles".
ROLE_CODES = frozenset({"S2SUnauthorized", "Authentication_RequestFromUnsupportedUserRole"})
# A permission (scope or app role) the token lacks.
PERMISSION_CODES = frozenset({"Authentication_MSGraphPermissionMissing"})

ROLE_PURPOSES = {
    "Reports Reader": "to read usage reports, sign-in logs and MFA registration",
    "License Administrator": "to remove and give back licences",
    "Application Administrator": "to consent to seatwise's permissions",
}


def role_advice(task: str, role: str, who: str = "the signed-in admin") -> str:
    """The sentence for a missing directory role: which role, for what, and who can fix it
    (no full stop, so a detail can follow).

    Reauthorizing cannot help (the permission is consented; the person lacks the role), so the
    sentence says that an administrator must assign the role instead.
    """
    purpose = ROLE_PURPOSES.get(role)
    return (
        f"{task} needs the {role} role{f' ({purpose})' if purpose else ''}, which {who} does "
        f"not hold: a Global Administrator or Privileged Role Administrator must assign {role} "
        "to that account in the Microsoft Entra admin center (Roles and administrators); "
        "signing in again does not help"
    )


class RoleMissing(AuthError):
    """The signed-in admin (delegated access) lacks a directory role a task needs: Graph answers
    403 although the permission is consented, so an administrator must assign the role."""

    http_status = 403

    def __init__(self, task: str, role: str, message: str | None = None) -> None:
        super().__init__(message or role_advice(f"Task {task}", role) + ".")
        self.task = task
        self.role = role


class GraphError(AppError):
    """Microsoft Graph answered with an error, or not at all, after every retry."""

    exit_code = ExitCode.GRAPH
    http_status = 502


class GraphThrottled(GraphError):
    """Graph kept throttling (429 or 503 with Retry-After) after every retry."""

    http_status = 503


class GraphNotFound(GraphError):
    """The object asked for does not exist in the tenant (a 404 from Graph)."""

    http_status = 404


class GraphAuthError(GraphError):
    """Graph or the identity platform refused our credentials or token (a 401 from Graph)."""

    exit_code = ExitCode.CONFIG
    http_status = 401


class DataError(AppError):
    """Data cannot be parsed or does not add up: a bad report, row or user-entered value."""

    exit_code = ExitCode.DATA
    http_status = 422


class StoreError(AppError):
    """The database failed, cannot be reached or is not at the expected schema version."""

    exit_code = ExitCode.DATA
    http_status = 500


class SyncBusy(AppError):
    """Another process (the web app, a scheduler, `seatwise sync`) is syncing the tenant now."""

    exit_code = ExitCode.DATA
    http_status = 409


class PlanError(AppError):
    """A reclamation plan cannot be acted on in its current state."""

    exit_code = ExitCode.DATA
    http_status = 409


class PlanNotApproved(PlanError):
    """Apply was asked for a plan that nobody has approved."""


class PlanStale(PlanError):
    """The tenant changed since the plan was made, so the plan must be made again."""


def exit_code_for(exc: BaseException) -> int:
    """Return the process exit code for an exception that ended a command.

    An `AppError` gives its class's `exit_code`; `KeyboardInterrupt` gives 130. Anything else is
    a bug in seatwise (an error we did not turn into an `AppError`) and gives 70, EX_SOFTWARE.
    """
    if isinstance(exc, AppError):
        return int(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        return int(ExitCode.INTERRUPTED)
    return int(ExitCode.BUG)


class GraphForbidden(GraphError):
    """Graph answered 403: the token lacks a permission, the caller a role, or the tenant a licence.

    Carries Graph's error `code` and `graph_message` and the URL `path` (no query), so the sync
    layer can say which task needs which permission (see `PermissionMissing`).
    """

    exit_code = ExitCode.CONFIG
    http_status = 403

    def __init__(
        self, message: str, *, code: str = "", graph_message: str = "", path: str = ""
    ) -> None:
        super().__init__(message)
        self.code = code
        self.graph_message = graph_message
        self.path = path


class GraphNoPremium(GraphForbidden):
    """The tenant has no Microsoft Entra ID P1/P2, which sign-in data needs (a 403 from Graph)."""


class GraphRequestError(GraphError):
    """Graph refused a request with a 4xx other than 401, 403 and 404, and said why.

    Carries the HTTP `status`, Graph's error `code` and `graph_message`, the `request_id` to quote
    to Microsoft support or in an audit row, and the URL `path` (no query).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        code: str = "",
        graph_message: str = "",
        request_id: str | None = None,
        path: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.graph_message = graph_message
        self.request_id = request_id
        self.path = path
