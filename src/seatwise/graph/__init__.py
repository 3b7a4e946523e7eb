"""Speaking Microsoft Graph and the identity platform: tokens, paging, retries, reports, writes.

Knows nothing of the database; `sync` and `reclaim` call it. Imports only `seatwise.config` and
`seatwise.errors` from the rest of seatwise.
"""

from seatwise.errors import (
    GraphAuthError,
    GraphError,
    GraphForbidden,
    GraphNoPremium,
    GraphNotFound,
    GraphRequestError,
    GraphThrottled,
)
from seatwise.graph.auth import (
    DELEGATED_SCOPES,
    AuthCodeLogin,
    ClientCredentialsProvider,
    RefreshTokenProvider,
    TokenProvider,
    TokenSet,
    listen_for_redirect,
)
from seatwise.graph.client import GraphClient, GraphStats, LicenseChange, Progress
from seatwise.graph.reports import looks_concealed, parse_csv
from seatwise.graph.throttle import RetryPolicy, retry_delay

__all__ = [
    "DELEGATED_SCOPES",
    "AuthCodeLogin",
    "ClientCredentialsProvider",
    "GraphAuthError",
    "GraphClient",
    "GraphError",
    "GraphForbidden",
    "GraphNoPremium",
    "GraphNotFound",
    "GraphRequestError",
    "GraphStats",
    "GraphThrottled",
    "LicenseChange",
    "Progress",
    "RefreshTokenProvider",
    "RetryPolicy",
    "TokenProvider",
    "TokenSet",
    "listen_for_redirect",
    "looks_concealed",
    "parse_csv",
    "retry_delay",
]
