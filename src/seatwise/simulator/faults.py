"""Declarative fault injection: throttling (429 + Retry-After), 503/504, connections dropped
mid-body and latency, drawn from a seeded random stream or scripted for the next requests.

Spec syntax (`seatwise simulate --faults`): `throttle=0.1,unavailable=0.02,reset=0.01,latency=5ms`
— probabilities per Graph request, latency per request (`ms` or `s`), optional
`retry_after=0.5` (seconds; fractional values are sent as Graph sometimes does).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from dataclasses import dataclass, field

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seatwise.simulator.odata import error_body, new_request_id

GRAPH_PREFIXES = ("/v1.0/", "/beta/", "/data/download/")


class FaultSpecError(ValueError):
    """A `--faults` spec that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected failure: `kind` is `throttle`, `unavailable`, `timeout` or `reset`."""

    kind: str
    retry_after: str | None = None


@dataclass
class Canned:
    """An answer served instead of Graph's, `times` times, to requests for `path` (a prefix
    when it ends with `*`)."""

    path: str
    status: int
    content_type: str
    body: bytes
    times: int = 1
    trickle_s: float = 0.0  # > 0: the body in 10 pieces, this long apart (a crawling answer)


@dataclass
class FaultPlan:
    """Fault probabilities plus a queue of scripted faults (served first, in order)."""

    throttle: float = 0.0
    unavailable: float = 0.0
    reset: float = 0.0
    latency_s: float = 0.0
    retry_after: float = 0.2
    seed: int = 0
    scripted: deque[tuple[str, Fault]] = field(default_factory=deque)
    injected: dict[str, int] = field(default_factory=dict)
    # Paths (prefixes) whose requests are accepted and never answered, until cleared.
    hang: list[str] = field(default_factory=list)
    # Canned answers for the next requests to a path (prefix): hostile payloads for tests.
    canned: deque[Canned] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @classmethod
    def parse(cls, spec: str | None, seed: int = 0) -> FaultPlan:
        """Parse `throttle=0.1,unavailable=0.02,reset=0.01,latency=5ms,retry_after=0.5`."""
        plan = cls(seed=seed)
        if not spec:
            return plan
        for part in spec.split(","):
            if not part.strip():
                continue
            name, sep, value = part.partition("=")
            name, value = name.strip().lower(), value.strip().lower()
            if not sep:
                raise FaultSpecError(f"fault '{part.strip()}' needs a value, e.g. throttle=0.1")
            try:
                if name == "latency":
                    plan.latency_s = _duration(value)
                elif name == "retry_after":
                    plan.retry_after = _duration(value)
                elif name in ("throttle", "unavailable", "reset"):
                    probability = float(value)
                    if not 0.0 <= probability <= 1.0:
                        raise ValueError
                    setattr(plan, name, probability)
                else:
                    raise FaultSpecError(
                        f"unknown fault '{name}'; use throttle, unavailable, reset, latency or "
                        "retry_after"
                    )
            except ValueError:
                raise FaultSpecError(f"fault '{name}' has an invalid value '{value}'") from None
        return plan

    def script(self, path_prefix: str, faults: list[Fault]) -> None:
        """Queue `faults` for the next requests whose path starts with `path_prefix`."""
        for fault in faults:
            self.scripted.append((path_prefix, fault))

    def hangs(self, path: str) -> bool:
        """Whether requests to `path` are to be left unanswered."""
        return any(path.startswith(prefix) for prefix in self.hang)

    def answer(self, path: str) -> Canned | None:
        """The canned answer for a request to `path`, if one is queued (used up by this)."""
        for canned in self.canned:
            wanted = canned.path
            if path == wanted or wanted.endswith("*") and path.startswith(wanted[:-1]):
                canned.times -= 1
                if canned.times <= 0:
                    self.canned.remove(canned)
                return canned
        return None

    def draw(self, path: str) -> Fault | None:
        """The fault to inject for a request to `path`, if any."""
        for i, (prefix, fault) in enumerate(self.scripted):
            if path.startswith(prefix):
                del self.scripted[i]
                return fault
        roll = self._rng.random()
        if roll < self.throttle:
            # Graph sends whole or fractional seconds; alternate to exercise both parsers.
            value = self.retry_after * (1.0 if self._rng.random() < 0.5 else 0.5)
            return Fault("throttle", _format_seconds(value))
        roll -= self.throttle
        if roll < self.unavailable:
            return Fault(
                "unavailable" if self._rng.random() < 0.7 else "timeout",
                _format_seconds(self.retry_after) if self._rng.random() < 0.5 else None,
            )
        roll -= self.unavailable
        if roll < self.reset:
            return Fault("reset")
        return None


async def _hang(plan: FaultPlan, path: str, receive: Receive) -> Receive | None:
    """Leave the request unanswered while `path` hangs: None when the client disconnects
    meanwhile, else a `receive` that replays what arrived (the request body)."""
    arrived: deque[Message] = deque()
    while plan.hangs(path):
        try:
            message = await asyncio.wait_for(receive(), 0.05)
        except TimeoutError:
            continue
        if message["type"] == "http.disconnect":
            return None
        arrived.append(message)

    async def replay() -> Message:
        return arrived.popleft() if arrived else await receive()

    return replay


def _duration(value: str) -> float:
    if value.endswith("ms"):
        return float(value[:-2]) / 1000
    if value.endswith("s"):
        return float(value[:-1])
    return float(value)


def _format_seconds(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


_STATUS = {
    "throttle": (
        429,
        "TooManyRequests",
        "Too many requests. Please retry after the time specified in the Retry-After header.",
    ),
    "unavailable": (
        503,
        "serviceNotAvailable",
        "The service is temporarily unavailable. Please retry later.",
    ),
    "timeout": (504, "UnknownError", "The gateway timed out. Please retry later."),
}


class FaultMiddleware:
    """ASGI middleware applying a `FaultPlan` to Graph and report-download requests."""

    def __init__(self, app: ASGIApp, plan_getter: object) -> None:
        self.app = app
        self.plan_getter = plan_getter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        plan: FaultPlan | None = self.plan_getter()  # type: ignore[operator]
        if plan is not None and plan.hangs(scope["path"]):  # Graph and identity alike
            plan.injected["hang"] = plan.injected.get("hang", 0) + 1
            replay = await _hang(plan, scope["path"], receive)
            if replay is None:  # the client gave up: nothing to answer
                return
            receive = replay
        if plan is None or not scope["path"].startswith(GRAPH_PREFIXES):
            await self.app(scope, receive, send)
            return
        if plan.latency_s:
            await asyncio.sleep(plan.latency_s)
        canned = plan.answer(scope["path"])
        if canned is not None:
            plan.injected["canned"] = plan.injected.get("canned", 0) + 1
            headers = [
                (b"content-type", canned.content_type.encode("latin-1")),
                (b"content-length", str(len(canned.body)).encode()),
            ]
            await send({"type": "http.response.start", "status": canned.status, "headers": headers})
            if canned.trickle_s > 0:
                size = max(1, -(-len(canned.body) // 10))
                for start in range(0, len(canned.body), size):
                    await asyncio.sleep(canned.trickle_s)
                    piece = canned.body[start : start + size]
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
            else:
                await send({"type": "http.response.body", "body": canned.body, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        fault = plan.draw(scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        plan.injected[fault.kind] = plan.injected.get(fault.kind, 0) + 1
        if fault.kind == "reset":
            await self._reset(scope, receive, send)
            return
        status, code, message = _STATUS[fault.kind]
        rid = new_request_id()
        body = orjson.dumps(error_body(code, message, rid))
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"request-id", rid.encode()),
            (b"client-request-id", rid.encode()),
        ]
        if fault.retry_after is not None:
            headers.append((b"retry-after", fault.retry_after.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _reset(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request, then drop the connection halfway through the body."""
        started: list[Message] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.append(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        start = dict(started[0])
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body) + 1).encode()))
        start["headers"] = headers
        await send(start)
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )
        raise ConnectionResetError("simulated connection reset mid-body")
