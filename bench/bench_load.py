"""A bounded load test on loopback: 50 clients for 60 s on the users and licences APIs (API
token), first alone, then while 16 more clients keep failing to sign in (wrong passwords through
the login form). Errors, p50/p95/p99 of each phase, and the API's p95 under the login flood
against its p95 without it (target: within 2×). `bench.reliability` writes the figures into
RELIABILITY.md; run alone, this prints them.

    BENCH_LOAD_USERS (10000)  BENCH_LOAD_SECONDS (60)  BENCH_LOAD_CLIENTS (50)
    BENCH_LOAD_ATTACKERS (16)  BENCH_LOAD_WORKERS (2)
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.bench_api import _free_port, _serve, _wait
from bench.bench_users_view import _fill
from seatwise.store import make_engine, session_scope
from seatwise.workspace.accounts import create_token, create_user

USERS = int(os.environ.get("BENCH_LOAD_USERS", "10000"))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "60"))
CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "50"))
ATTACKERS = int(os.environ.get("BENCH_LOAD_ATTACKERS", "16"))
WORKERS = int(os.environ.get("BENCH_LOAD_WORKERS", "2"))
PAGE = 100
TARGET_RATIO = 2.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Phase:
    """One phase: API latencies (ms) and errors; sign-in answers by status."""

    times: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    logins: Counter[int] = field(default_factory=Counter)
    login_times: list[float] = field(default_factory=list)
    wall: float = 0.0

    def percentile(self, share: float, values: list[float] | None = None) -> float:
        ordered = sorted(self.times if values is None else values)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * share) - 1))]

    def summary(self) -> dict[str, Any]:
        return {
            "requests": len(self.times),
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors.most_common(3)),
            "p50_ms": statistics.median(self.times) if self.times else float("nan"),
            "p95_ms": self.percentile(0.95),
            "p99_ms": self.percentile(0.99),
            "per_s": len(self.times) / self.wall if self.wall else 0.0,
            "logins": {str(k): v for k, v in sorted(self.logins.items())},
            "login_p95_ms": self.percentile(0.95, self.login_times),
        }


async def _api_client(
    session: aiohttp.ClientSession, rng: random.Random, ends: float, phase: Phase
) -> None:
    while time.monotonic() < ends:
        if rng.random() < 0.5:
            path, params = (
                "/api/v1/users",
                {"$top": str(PAGE), "$skip": str(rng.randrange(50) * PAGE)},
            )
        else:
            path, params = "/api/v1/licenses", {}
        start = time.perf_counter()
        try:
            async with session.get(path, params=params) as answer:
                await answer.read()
                status = answer.status
        except aiohttp.ClientError as exc:
            phase.errors[f"{type(exc).__name__}"] += 1
            continue
        if status == 200:
            phase.times.append((time.perf_counter() - start) * 1000)
        else:
            phase.errors[f"{path} {status}"] += 1


async def _attacker(base: str, n: int, ends: float, phase: Phase) -> None:
    """Fail to sign in, again and again, as one client with its own cookie jar."""
    timeout = aiohttp.ClientTimeout(total=120)
    jar = aiohttp.CookieJar(unsafe=True)  # keep the CSRF cookie of 127.0.0.1
    async with aiohttp.ClientSession(base, timeout=timeout, cookie_jar=jar) as session:
        async with session.get("/login") as page:
            found = _CSRF.search(await page.text())
        token = found.group(1) if found else ""
        while time.monotonic() < ends:
            data = {
                "username": f"bench{n % 4}",
                "password": f"wrong password {random.random()}",
                "csrf_token": token,
                "next": "/",
            }
            start = time.perf_counter()
            try:
                async with session.post("/login", data=data, allow_redirects=False) as answer:
                    body = await answer.text()
                    phase.logins[answer.status] += 1
                    if answer.status == 429:
                        wait = float(answer.headers.get("Retry-After", "1"))
                        await asyncio.sleep(min(wait, 1.0))  # a bot that keeps trying
                    if (again := _CSRF.search(body)) is not None:
                        token = again.group(1)
            except aiohttp.ClientError:
                phase.logins[0] += 1
            phase.login_times.append((time.perf_counter() - start) * 1000)


async def _phase(base: str, token: str, attackers: int, seed: int, seconds: float) -> Phase:
    phase = Phase()
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    timeout = aiohttp.ClientTimeout(total=120)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(
        base,
        headers=headers,
        connector=connector,
        timeout=timeout,
        cookie_jar=aiohttp.DummyCookieJar(),
    ) as session:
        started = time.monotonic()
        ends = started + seconds
        await asyncio.gather(
            *(
                _api_client(session, random.Random(seed * 1000 + i), ends, phase)
                for i in range(CLIENTS)
            ),
            *(_attacker(base, i, ends, phase) for i in range(attackers)),
        )
        phase.wall = time.monotonic() - started
    return phase


def run() -> dict[str, Any]:
    """Fill a store, serve it, run both phases; the figures as a dict."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url = f"sqlite:///{tmp / 'load.db'}"
        _fill(url, USERS)
        engine = make_engine(url)
        with session_scope(engine) as session:
            token = create_token(session, "load", "viewer", "load")
            for n in range(4):
                create_user(session, f"bench{n}", "the right password 1", "viewer")
        engine.dispose()
        port = _free_port()
        server = _serve(tmp, url, port, WORKERS)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait(base, token, server)
            asyncio.run(_phase(base, token, 0, 0, min(10.0, SECONDS)))  # warm-up: kept pages
            alone = asyncio.run(_phase(base, token, 0, 1, SECONDS))
            flooded = asyncio.run(_phase(base, token, ATTACKERS, 2, SECONDS))
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)
    before, during = alone.summary(), flooded.summary()
    ratio = during["p95_ms"] / before["p95_ms"] if before["p95_ms"] else float("nan")
    return {
        "users": USERS,
        "seconds": SECONDS,
        "clients": CLIENTS,
        "attackers": ATTACKERS,
        "workers": WORKERS,
        "load_before": load,
        "alone": before,
        "flooded": during,
        "p95_ratio": ratio,
        "met": ratio <= TARGET_RATIO and not during["errors"] and not before["errors"],
    }


def main() -> None:
    """Print the figures."""
    import json

    print(json.dumps(run(), indent=1))  # noqa: T201


if __name__ == "__main__":
    main()
