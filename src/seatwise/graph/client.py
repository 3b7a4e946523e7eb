"""`GraphClient`: every call seatwise makes to Microsoft Graph, over one `httpx.Client`.

Bearer tokens from a `TokenProvider` (one refresh and retry on 401); 429/503/504 and dropped
connections retried as `throttle.py` decides; `@odata.nextLink` paging; CSV reports through their
302 download link (fetched without the token); `$batch` in chunks of 20 retrying only throttled
items; Graph's error envelope turned into the `GraphError` family. Knows nothing of the database.
"""

from __future__ import annotations

import contextlib
import logging
import random
import ssl
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import orjson

from seatwise import __version__
from seatwise.config import Settings
from seatwise.errors import (
    GraphAuthError,
    GraphError,
    GraphForbidden,
    GraphNoPremium,
    GraphNotFound,
    GraphRequestError,
    GraphThrottled,
)
from seatwise.graph import endpoints
from seatwise.graph.auth import TokenProvider
from seatwise.graph.throttle import (
    DEFAULT_POLICY,
    RETRYABLE_STATUSES,
    WRITE_RETRYABLE_STATUSES,
    RetryPolicy,
    retry_delay,
)

__all__ = [
    "GraphClient",
    "GraphStats",
    "LicenseChange",
    "Progress",
    "TaskDeadline",
    "tls_context",
]

log = logging.getLogger(__name__)

NO_PREMIUM = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# What the report download host answers once its pre-authenticated link has expired.
_LINK_EXPIRED = frozenset({401, 403, 404, 410})
# Failures that happen before a request leaves: safe to retry even for writes.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Deadlines (`[sync] graph_timeout_s` is T, 30 s by default): connecting 10 s; each read or
# write T; a whole API request 2×T, a whole report download 6×T (tens of MB). A call that timed
# out this many times in a row gives up: a Graph that accepts connections and never answers
# fails the task in about 2×T (+ backoff), not after every attempt of the retry policy.
CONNECT_TIMEOUT_S = 10.0
WHOLE_REQUEST_FACTOR = 2.0
WHOLE_DOWNLOAD_FACTOR = 6.0
MAX_TIMEOUTS = 2


class _WholeTimeout(httpx.TimeoutException):
    """A response still arriving (a byte at a time, perhaps) when its whole-request deadline
    passed."""


class TaskDeadline(GraphError):
    """A task ran past its deadline while working with Graph."""


@dataclass
class GraphStats:
    """Counters for benchmarks and logs: HTTP requests sent (token retries and report downloads
    included), retries after throttling or failures, response bytes read, and token refreshes
    forced by a 401. Updated without locks: exact for one thread, approximate for several."""

    requests: int = 0
    retries: int = 0
    bytes: int = 0
    token_refreshes: int = 0


@dataclass(frozen=True, slots=True)
class Progress:
    """What `on_progress` hears: a page read (`page`) or a wait before a retry (`retry`)."""

    kind: str
    path: str
    pages: int = 0
    items: int = 0
    delay_s: float = 0.0
    status: int | None = None


@dataclass(frozen=True, slots=True)
class LicenseChange:
    """The answer to `assignLicense`: the updated user and Graph's request id (for the audit)."""

    user: dict[str, Any]
    request_id: str | None


def tls_context(settings: Settings) -> ssl.SSLContext:
    """Certificate verification that ignores SSL_CERT_FILE and friends.

    certifi's bundle, as httpx has by default, plus `settings.ca_bundle` when set (the
    simulator's certificate, or a TLS-inspecting proxy's CA): an extra CA, not a replacement.
    """
    context = httpx.create_ssl_context(trust_env=False)
    if settings.ca_bundle is not None:
        context.load_verify_locations(cafile=str(settings.ca_bundle))
    return context


class _BearerAuth(httpx.Auth):
    """`Authorization: Bearer` from the provider; on 401 one forced refresh and one retry."""

    def __init__(self, provider: TokenProvider, stats: GraphStats) -> None:
        self.provider = provider
        self.stats = stats

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.provider.token()}"
        response = yield request
        if response.status_code == 401:
            self.stats.token_refreshes += 1
            request.headers["Authorization"] = f"Bearer {self.provider.token(force_refresh=True)}"
            yield request


def _span(seconds: float) -> str:
    """A deadline for people: seconds under two minutes, else minutes."""
    if seconds < 120:
        return f"{seconds:g} s"
    return f"{seconds / 60:g} minutes"


def _path(url: str) -> str:
    """The path of `url`, for messages: no host, no query (which may carry tokens)."""
    return urlsplit(url).path or "/"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def _tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(
            seen
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def unwrap_error(code: str, message: str) -> tuple[str, str]:
    """Graph's (code, message), with the inner error taken out when a service answered
    `UnknownError` whose message is itself a JSON error (the reports API does this for its
    `S2SUnauthorized`)."""
    text = message.strip()
    if text.startswith("{") and '"error"' in text:
        try:
            inner = orjson.loads(text)
        except orjson.JSONDecodeError:
            return code, message
        error = inner.get("error") if isinstance(inner, dict) else None
        if isinstance(error, dict) and error.get("code"):
            return str(error["code"]), str(error.get("message") or message)
    return code, message


def _error_fields(response: httpx.Response) -> tuple[str, str, str | None]:
    """Graph's (code, message, request id) from an error response, whatever its shape."""
    code, message = "", ""
    request_id = response.headers.get("request-id")
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = str(error.get("code") or "")
        message = str(error.get("message") or "")
        inner = error.get("innerError") or error.get("innererror")
        if isinstance(inner, dict) and not request_id:
            request_id = inner.get("request-id")
    if not message:
        message = response.reason_phrase or f"HTTP {response.status_code}"
    return code, message, request_id


class GraphClient:
    """Microsoft Graph over HTTPS, for one tenant's token provider.

    `transport` replaces the network (tests, the in-process simulator); `policy`, `sleep`, `rng`
    and `clock` tune and observe retries; `on_progress` hears about pages and waits. The client
    owns the provider from then on: `close` closes both.
    """

    def __init__(
        self,
        settings: Settings,
        token_provider: TokenProvider,
        transport: httpx.BaseTransport | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.stats = GraphStats()
        self._auth = _BearerAuth(token_provider, self.stats)
        self._on_progress = on_progress
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._clock = clock
        self._origin = _origin(settings.graph_url)
        self.timeout_s = settings.sync.graph_timeout_s
        self._deadline: float | None = None  # time.monotonic() by which the task must end
        self._deadline_s = 0.0
        self._http = httpx.Client(
            base_url=settings.graph_url,
            transport=transport,
            trust_env=False,
            verify=tls_context(settings),
            timeout=httpx.Timeout(self.timeout_s, connect=min(CONNECT_TIMEOUT_S, self.timeout_s)),
            http2=False,
            follow_redirects=False,
            headers={"User-Agent": f"seatwise/{__version__}"},
            event_hooks={"request": [self._count_request]},
        )

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool, and the token provider's session if it has one."""
        self._http.close()
        close_provider = getattr(self._auth.provider, "close", None)
        if callable(close_provider):
            close_provider()

    @contextlib.contextmanager
    def task_deadline(self, seconds: float | None) -> Iterator[None]:
        """Within the block, every call fails with `TaskDeadline` once `seconds` have passed
        (None: no deadline); waits and timeouts are cut to what is left."""
        before = self._deadline, self._deadline_s
        if seconds is not None:
            self._deadline, self._deadline_s = time.monotonic() + seconds, seconds
        try:
            yield
        finally:
            self._deadline, self._deadline_s = before

    def _remaining(self, method: str, path: str) -> float | None:
        """Seconds left before the task's deadline (None: no deadline); raises once past it."""
        if self._deadline is None:
            return None
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TaskDeadline(
                f"The task ran past its deadline of {_span(self._deadline_s)} while waiting "
                f"for Graph ({method} {path})."
            )
        return left

    def _check_wait(
        self, delay: float, method: str, path: str, cause: BaseException | None = None
    ) -> None:
        """`TaskDeadline` when waiting `delay` seconds to retry would pass the task's deadline."""
        left = self._remaining(method, path)
        if left is not None and delay >= left:
            raise TaskDeadline(
                f"The task would run past its deadline of {_span(self._deadline_s)} "
                f"waiting {delay:.0f} s to retry {method} {path}."
            ) from cause

    def _timeout(self, left: float | None) -> httpx.Timeout:
        read = self.timeout_s if left is None else max(0.001, min(self.timeout_s, left))
        return httpx.Timeout(read, connect=min(CONNECT_TIMEOUT_S, read))

    def _fetch(
        self,
        request: httpx.Request,
        auth: httpx.Auth | None,
        whole_s: float,
        left: float | None,
    ) -> httpx.Response:
        """Send `request` and read its body, within the whole-request deadline (and the
        task's): a response trickling in past it raises `_WholeTimeout`."""
        limit = whole_s if left is None else min(whole_s, left)
        ends = time.monotonic() + limit
        request.extensions["timeout"] = self._timeout(left).as_dict()
        response = self._http.send(request, stream=True, auth=auth)
        try:
            chunks: list[bytes] = []
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                if time.monotonic() > ends:
                    raise _WholeTimeout(f"no whole answer within {limit:.0f} s", request=request)
            response._content = b"".join(chunks)  # what Response.read() does
        finally:
            response.close()
        return response

    def _count_request(self, _request: httpx.Request) -> None:
        self.stats.requests += 1

    def _progress(self, event: Progress) -> None:
        if self._on_progress is not None:
            self._on_progress(event)

    # -- one call, with retries ----------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        write: bool = False,
    ) -> httpx.Response:
        """Send with the bearer token, retrying throttling and failures; any final response.

        A `write` is retried only when Graph refused it (429, 503) or the connection failed
        before it was sent: a 504 or a connection dropped mid-way leaves its outcome unknown.
        """
        path = _path(url)
        retryable = WRITE_RETRYABLE_STATUSES if write else RETRYABLE_STATUSES
        content = orjson.dumps(body) if body is not None else None
        send_headers = dict(headers or {})
        if content is not None:
            send_headers["Content-Type"] = "application/json"
        attempt, waited, timeouts = 0, 0.0, 0
        whole_s = self.timeout_s * WHOLE_REQUEST_FACTOR
        while True:
            attempt += 1
            status: int | None = None
            got: Mapping[str, str] = {}
            left = self._remaining(method, path)
            try:
                request = self._http.build_request(
                    method, url, params=params, headers=send_headers, content=content
                )
                response = self._fetch(request, self._auth, whole_s, left)
            except httpx.TransportError as exc:
                self._remaining(method, path)  # the task's deadline, not Graph, cut it short
                if isinstance(exc, httpx.TimeoutException):
                    timeouts += 1
                    if timeouts >= MAX_TIMEOUTS:
                        raise self._silent(method, path, timeouts) from exc
                if _tls_failure(exc):
                    raise GraphError(
                        f"The TLS certificate of {self.settings.graph_url} could not be "
                        "verified; if a proxy or the simulator signs it, point "
                        "SEATWISE_CA_BUNDLE at its CA file."
                    ) from exc
                if isinstance(exc, httpx.UnsupportedProtocol):
                    raise GraphError(f"Cannot send {method} {path}: {exc}.") from exc
                if write and not isinstance(exc, _NOT_SENT):
                    raise GraphError(
                        f"The connection to Graph failed during {method} {path} "
                        f"({type(exc).__name__}); whether it took effect is unknown."
                    ) from exc
                failure: str = type(exc).__name__
                cause: Exception | None = exc
            else:
                self.stats.bytes += len(response.content)
                if response.status_code not in retryable:
                    return response
                status, got, failure, cause = response.status_code, response.headers, "", None
                timeouts = 0
            delay = retry_delay(
                status,
                got,
                attempt,
                self._rng,
                self.policy,
                waited_s=waited,
                now=self._clock(),
                retryable=retryable,
            )
            if delay is None:
                raise self._gave_up(method, path, attempt, status, failure) from cause
            self._check_wait(delay, method, path, cause)
            self.stats.retries += 1
            log.debug("retrying %s %s in %.2fs after %s", method, path, delay, status or failure)
            self._progress(Progress("retry", path, delay_s=delay, status=status))
            self._sleep(delay)
            waited += delay

    def _silent(self, method: str, path: str, times: int) -> GraphError:
        return GraphError(
            f"Graph did not answer {method} {path} within {self.timeout_s:g} s, {times} times "
            "in a row (it accepts connections but does not respond); try later."
        )

    @staticmethod
    def _gave_up(
        method: str, path: str, attempts: int, status: int | None, failure: str
    ) -> GraphError:
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if status in (429, 503):
            return GraphThrottled(
                f"Graph kept answering {status} to {method} {path} after {tries}; try later."
            )
        if status is not None:
            return GraphError(f"Graph kept answering {status} to {method} {path} after {tries}.")
        return GraphError(f"Graph did not answer {method} {path} after {tries} ({failure}).")

    def _raise_for(self, response: httpx.Response, method: str, path: str) -> None:
        """Raise the `GraphError` that a non-2xx `response` stands for."""
        status = response.status_code
        code, message, request_id = _error_fields(response)
        what = f"{method} {path}"
        if status == 401:
            raise GraphAuthError(f"Graph refused the access token for {what} ({code}: {message})")
        if status == 403:
            code, message = unwrap_error(code, message)
            if code == NO_PREMIUM:
                raise GraphNoPremium(
                    f"{path} needs Microsoft Entra ID P1 or P2, which the tenant does not have.",
                    code=code,
                    graph_message=message,
                    path=path,
                )
            raise GraphForbidden(
                f"Graph refused {what} (403 {code or 'Forbidden'}): {message}",
                code=code,
                graph_message=message,
                path=path,
            )
        if status == 404:
            raise GraphNotFound(f"Graph found nothing at {path} ({code or 'NotFound'}): {message}")
        if 400 <= status < 500:
            raise GraphRequestError(
                f"Graph refused {what} ({status} {code}): {message}",
                status=status,
                code=code,
                graph_message=message,
                request_id=request_id,
                path=path,
            )
        raise GraphError(f"Graph failed on {what} with {status} ({code or 'no code'}): {message}")

    def _json(self, response: httpx.Response, method: str, path: str) -> dict[str, Any]:
        if not 200 <= response.status_code < 300:
            self._raise_for(response, method, path)
        if not response.content:
            return {}
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise GraphError(f"Graph answered {method} {path} with something not JSON.") from exc
        if not isinstance(body, dict):
            raise GraphError(f"Graph answered {method} {path} with JSON that is not an object.")
        return body

    # -- reading -------------------------------------------------------------------------------

    def get_json(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """`GET path` (relative to the Graph base URL, or a full Graph URL) as a JSON object."""
        response = self._send("GET", path, params=params, headers=headers)
        return self._json(response, "GET", _path(path))

    def iter_pages(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        links: dict[str, str] | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Each page's `value` of a collection, following the full `@odata.nextLink` as given.

        A delta query's last page carries `@odata.deltaLink` instead: it is put in `links`
        (under that name) when a dict is given, before the last page is yielded.

        `headers` (e.g. `ConsistencyLevel`) are sent again with every page, since Graph does not
        carry them over. Pages are yielded as they arrive and never accumulated; a page may be
        empty and its size need not be `$top`. While the caller works on one page, the next one
        is already being fetched (one page ahead, on a helper thread), so storing overlaps
        waiting for Graph.
        """
        pages = items = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph-prefetch") as pool:
            pending: Future[dict[str, Any]] | None = pool.submit(
                self.get_json, path, params=params, headers=headers
            )
            try:
                while pending is not None:
                    body = pending.result()
                    pending = None
                    value = body.get("value")
                    if not isinstance(value, list):
                        raise GraphError(
                            f"Graph answered GET {_path(path)} without a list of values."
                        )
                    next_link = body.get("@odata.nextLink")
                    foreign = bool(next_link) and _origin(str(next_link)) != self._origin
                    if next_link and not foreign:
                        pending = pool.submit(self.get_json, str(next_link), headers=headers)
                    delta_link = body.get("@odata.deltaLink")
                    if links is not None and delta_link and not next_link:
                        if _origin(str(delta_link)) != self._origin:
                            raise GraphError(
                                f"Graph's delta link for {_path(path)} points to another host."
                            )
                        links["@odata.deltaLink"] = str(delta_link)
                    pages += 1
                    items += len(value)
                    self._progress(Progress("page", _path(path), pages=pages, items=items))
                    yield value
                    if foreign:
                        raise GraphError(
                            f"Graph's next-page link for {_path(path)} points to another "
                            "host; refusing to send the token there."
                        )
            finally:
                if pending is not None:
                    pending.cancel()
                    with contextlib.suppress(Exception):
                        pending.result()

    def download_report(self, path: str) -> bytes:
        """The CSV bytes of a usage report (`endpoints.report_path`).

        Graph answers `302` with a short-lived pre-authenticated link on another host; that link
        is fetched as a new plain request without the `Authorization` header. When the link has
        expired or the download fails, the report is asked for again (a new link).
        """
        report = _path(path)
        attempt, waited, timeouts = 0, 0.0, 0
        while True:
            attempt += 1
            response = self._send("GET", path)
            if response.status_code == 200:  # some APIs serve the CSV directly
                return response.content
            if response.status_code not in _REDIRECTS:
                self._raise_for(response, "GET", report)
            location = response.headers.get("Location")
            if not location:
                raise GraphError(f"Graph answered GET {report} with a redirect but no Location.")
            status: int | None = None
            got: Mapping[str, str] = {}
            failure = ""
            left = self._remaining("GET", report)
            try:
                request = self._http.build_request("GET", urljoin(str(response.url), location))
                download = self._fetch(request, None, self.timeout_s * WHOLE_DOWNLOAD_FACTOR, left)
            except httpx.TransportError as exc:
                if _tls_failure(exc):
                    raise GraphError(
                        f"The TLS certificate of the download host of {report} could not be "
                        "verified."
                    ) from exc
                self._remaining("GET", report)
                if isinstance(exc, httpx.TimeoutException):
                    timeouts += 1
                    if timeouts >= MAX_TIMEOUTS:
                        raise self._silent("GET", f"{report} (download)", timeouts) from exc
                failure = type(exc).__name__
            else:
                self.stats.bytes += len(download.content)
                if download.status_code == 200:
                    return download.content
                status, got = download.status_code, download.headers
                failure = f"HTTP {status}"
                timeouts = 0
            # An expired link gets a new one at once (a tiny backoff), a fault per throttle.py.
            expired = status in _LINK_EXPIRED
            delay = retry_delay(
                None if expired else status,
                {} if expired else got,
                attempt,
                self._rng,
                self.policy,
                waited_s=waited,
                now=self._clock(),
            )
            if delay is None:
                raise GraphError(
                    f"The download of report {report} failed after {attempt} attempts ({failure})."
                )
            self._check_wait(delay, "GET", report)
            self.stats.retries += 1
            self._progress(Progress("retry", report, delay_s=delay, status=status))
            self._sleep(delay)
            waited += delay

    def report_settings(self) -> bool | None:
        """Whether reports conceal user names (`displayConcealedNames`); None when unknown.

        Unknown means Graph refused to say (403: ReportSettings.Read.All not granted).
        """
        try:
            body = self.get_json(endpoints.REPORT_SETTINGS)
        except GraphForbidden:
            return None
        inner = body.get("value")
        settings = inner if isinstance(inner, dict) else body  # the docs show both shapes
        value = settings.get("displayConcealedNames")
        return value if isinstance(value, bool) else None

    # -- writing -------------------------------------------------------------------------------

    def assign_license(
        self, user_id: str, add: Sequence[Mapping[str, Any]], remove: Sequence[str]
    ) -> LicenseChange:
        """`assignLicense` for one user: add `[{skuId, disabledPlans}]`, remove `[skuId]`.

        Raises `GraphRequestError` with Graph's code, message and request id when Graph refuses
        (e.g. a group-inherited licence, no free units, no usage location).
        """
        path = endpoints.assign_license_path(user_id)
        body = endpoints.assign_license_body(add, remove)
        response = self._send("POST", path, body=body, write=True)
        user = self._json(response, "POST", path)
        return LicenseChange(user, response.headers.get("request-id"))

    def batch(self, requests: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """Run requests through `POST /v1.0/$batch`, 20 at a time: `{id: response}`.

        Each request is `{"id", "method", "url" (relative to the version), "headers"?, "body"?,
        "dependsOn"?}`; each response `{"id", "status", "headers", "body"}`. Items answered 429
        or 503 (and 504 for reads) are sent again after the longest of their `Retry-After`s,
        the others kept; items still throttled after the policy's attempts are returned as
        they last came back. `dependsOn` must stay within a chunk of 20.
        """
        items = [dict(r) for r in requests]
        ids = [str(item["id"]) for item in items]
        if len(set(ids)) != len(ids):
            raise ValueError("batch request ids must be unique")
        results: dict[str, dict[str, Any]] = {}
        for start in range(0, len(items), endpoints.BATCH_MAX):
            chunk = items[start : start + endpoints.BATCH_MAX]
            inside = {str(item["id"]) for item in chunk}
            for item in chunk:
                if not {str(d) for d in item.get("dependsOn") or []} <= inside:
                    raise ValueError(f"request {item['id']} depends on one outside its chunk")
            self._batch_chunk(chunk, results)
        return results

    def _batch_chunk(self, chunk: list[dict[str, Any]], results: dict[str, dict[str, Any]]) -> None:
        pending = chunk
        attempt, waited = 0, 0.0
        while pending:
            attempt += 1
            write = any(str(item.get("method", "GET")).upper() != "GET" for item in pending)
            response = self._send("POST", endpoints.BATCH, body={"requests": pending}, write=write)
            body = self._json(response, "POST", endpoints.BATCH)
            answers = body.get("responses")
            if not isinstance(answers, list):
                raise GraphError("Graph answered $batch without a list of responses.")
            by_id = {str(a.get("id")): a for a in answers if isinstance(a, dict)}
            again: list[dict[str, Any]] = []
            delays: list[float] = []
            for item in pending:  # in request order, so dependencies come first
                item_id = str(item["id"])
                answer = by_id.get(item_id)
                if answer is None:
                    raise GraphError(f"Graph's $batch answer has no response for item {item_id}.")
                status = int(answer.get("status") or 0)
                is_write = str(item.get("method", "GET")).upper() != "GET"
                retryable = WRITE_RETRYABLE_STATUSES if is_write else RETRYABLE_STATUSES
                waiting_on = {str(d) for d in item.get("dependsOn") or []}
                if status == 424 and waiting_on & {str(a["id"]) for a in again}:
                    again.append(item)  # its dependency was throttled: not a real failure
                    continue
                delay = retry_delay(
                    status,
                    answer.get("headers") or {},
                    attempt,
                    self._rng,
                    self.policy,
                    waited_s=waited,
                    now=self._clock(),
                    retryable=retryable,
                )
                if delay is None:
                    results[item_id] = answer
                    continue
                again.append(item)
                delays.append(delay)
            if not again:
                return
            delay = max(delays)
            self._check_wait(delay, "POST", endpoints.BATCH)
            self.stats.retries += len(again)
            self._progress(Progress("retry", endpoints.BATCH, delay_s=delay))
            self._sleep(delay)
            waited += delay
            retried = {str(item["id"]) for item in again}
            pending = [_keep_dependencies(item, retried) for item in again]


def _keep_dependencies(item: dict[str, Any], retried: set[str]) -> dict[str, Any]:
    """`item` for a resend: `dependsOn` narrowed to items sent again (the rest succeeded)."""
    if not item.get("dependsOn"):
        return item
    kept = [d for d in item["dependsOn"] if str(d) in retried]
    resend = {k: v for k, v in item.items() if k != "dependsOn"}
    if kept:
        resend["dependsOn"] = kept
    return resend
