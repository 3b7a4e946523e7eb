"""Reporting-API latency under load: `GET /api/v1/users` pages of 100 rows over a store of 100k
users on SQLite, served by `seatwise serve` (1 and 2 worker processes), hit by 50 concurrent
clients (target: p95 ≤ 150 ms on 2 cores). The store is the users-view benchmark's synthetic one.

Each server gets a first round (its answers not kept yet: every page is built from the
database once per worker) and a second round (pages kept until the next sync), once with an
API token and once with a signed-in browser session. The clients are one asyncio process of
aiohttp on the same machine: httpx's async client costs several times more CPU per request and
cannot drive more than about 400 requests a second here even against an empty endpoint, so it
would measure itself.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
import orjson

from bench.bench_users_view import _fill
from bench.record import record
from seatwise.store import make_engine, session_scope
from seatwise.workspace.accounts import create_token, create_user

USERS = int(os.environ.get("BENCH_API_USERS", "100000"))
CLIENTS = int(os.environ.get("BENCH_API_CLIENTS", "50"))
REQUESTS_PER_CLIENT = int(os.environ.get("BENCH_API_REQUESTS", "30"))
WORKERS = tuple(int(w) for w in os.environ.get("BENCH_API_WORKERS", "1,2").split(","))
PASSWORD = "benchmark password"
PAGE = 100
DEEPEST_PAGE = 50  # pages 0-49: `$skip` up to 4,900, as a UI or a report pages near the start
TARGET_P95_MS = 150


@dataclass
class Round:
    """One load round: latencies of the good answers, errors, wall time."""

    times: list[float]
    errors: list[str]
    wall: float

    def row(self, label: str) -> str:
        """A table row: requests, errors, p50, p95, max, requests per second, verdict."""
        times = sorted(self.times)
        done = len(times)
        p50 = statistics.median(times) if times else float("nan")
        p95 = times[max(int(done * 0.95) - 1, 0)] if times else float("nan")
        top = times[-1] if times else float("nan")
        met = p95 <= TARGET_P95_MS and not self.errors
        return (
            f"| {label} | {done:,} | {len(self.errors)} | {p50:.0f} | {p95:.0f} | {top:.0f} | "
            f"{done / self.wall:.0f} | {'met' if met else 'MISSED'} |"
        )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(tmp: Path, url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEATWISE_")}
    env |= {
        "SEATWISE_DATABASE_URL": url,
        "SEATWISE_DATA_DIR": str(tmp / "data"),
        "SEATWISE_SECRET_KEY": "benchmark passphrase, not a real secret",
    }
    command = [sys.executable, "-m", "seatwise", "serve", "--port", str(port)]
    return subprocess.Popen([*command, "--workers", str(workers)], env=env, cwd=tmp)


def _wait(base: str, token: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("seatwise serve exited")
        try:
            answer = httpx.get(
                f"{base}/api/v1/tenants",
                headers={"Authorization": f"Bearer {token}"},
                trust_env=False,
            )
            if answer.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("seatwise serve did not start")


def _session_cookie(base: str) -> str:
    """Sign in through the login form, for the rounds without a bearer token."""
    with httpx.Client(base_url=base, trust_env=False) as client:
        form = client.get("/login").text
        csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        data = {"username": "bench", "password": PASSWORD, "csrf_token": csrf, "next": "/"}
        assert client.post("/login", data=data).status_code == 303
        return f"seatwise_session={client.cookies['seatwise_session']}"


async def _client(
    session: aiohttp.ClientSession, rng: random.Random, times: list[float], errors: list[str]
) -> None:
    for n in range(REQUESTS_PER_CLIENT):
        skip = rng.randrange(DEEPEST_PAGE) * PAGE
        start = time.perf_counter()
        try:
            async with session.get(
                "/api/v1/users", params={"$top": str(PAGE), "$skip": str(skip)}
            ) as answer:
                body = await answer.read()
                status = answer.status
        except aiohttp.ClientError as exc:  # counted, not fatal: the round reports them
            errors.append(f"{type(exc).__name__} (connection)")
            continue
        elapsed = (time.perf_counter() - start) * 1000
        # Every answer's status; the records of every tenth (parsing 77 kB of JSON each time
        # would make the clients, not the server, the limit).
        if status != 200 or (n % 10 == 0 and len(orjson.loads(body)["value"]) != PAGE):
            errors.append(f"{status} {body[:120]!r}")
        else:
            times.append(elapsed)


async def _round(base: str, headers: dict[str, str], seed: int) -> Round:
    times: list[float] = []
    errors: list[str] = []
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    timeout = aiohttp.ClientTimeout(total=120)
    # The session cookie travels as a plain header: no cookie jar parsing every Set-Cookie.
    jar = aiohttp.DummyCookieJar()
    async with aiohttp.ClientSession(
        base, headers=headers, connector=connector, timeout=timeout, cookie_jar=jar
    ) as session:
        start = time.perf_counter()
        await asyncio.gather(
            *(
                _client(session, random.Random(seed * 1000 + i), times, errors)
                for i in range(CLIENTS)
            )
        )
        wall = time.perf_counter() - start
    return Round(times, errors, wall)


def _measure(tmp: Path, url: str, token: str, workers: int) -> list[str]:
    port = _free_port()
    server = _serve(tmp, url, port, workers)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base, token, server)
        bearer = {"Authorization": f"Bearer {token}"}
        cookie = {"Cookie": _session_cookie(base)}
        rounds = {
            "API token, first round": asyncio.run(_round(base, bearer, 1)),
            "API token, second round": asyncio.run(_round(base, bearer, 2)),
            "signed-in session": asyncio.run(_round(base, cookie, 3)),
        }
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    rows = [r.row(f"{workers} | {label}") for label, r in rounds.items()]
    notes = [
        f"{workers} worker(s), {label}, first errors: " + "; ".join(sorted(set(r.errors))[:2])
        for label, r in rounds.items()
        if r.errors
    ]
    return rows + [f"NOTE {n}" for n in notes]


def main() -> None:
    """Fill a 100k-user store, serve it with 1 and 2 workers, load it with 50 clients, record."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url = f"sqlite:///{tmp / 'api.db'}"
        t0 = time.perf_counter()
        _fill(url, USERS)
        print(f"filled {USERS:,} users in {time.perf_counter() - t0:.1f} s", flush=True)
        engine = make_engine(url)
        with session_scope(engine) as session:
            token = create_token(session, "bench", "viewer", "bench")
            create_user(session, "bench", PASSWORD, "viewer")
        engine.dispose()
        load = os.getloadavg()[0]
        lines: list[str] = []
        for workers in WORKERS:
            lines += _measure(tmp, url, token, workers)
    rows = [line for line in lines if not line.startswith("NOTE ")]
    notes = [line.removeprefix("NOTE ") for line in lines if line.startswith("NOTE ")]
    body = (
        f"{CLIENTS} concurrent clients each ask {REQUESTS_PER_CLIENT} times for "
        f"`GET /api/v1/users?$top={PAGE}&$skip=N` (N a random multiple of {PAGE} below "
        f"{DEEPEST_PAGE * PAGE:,}) over {USERS:,} users on SQLite, served by `seatwise serve "
        "--workers W` (its scheduler included). The first round finds no kept answers: each "
        "worker builds each page from the database once (about 8 ms of queries and records "
        "alone); later rounds get pages kept until the tenant's next sync. The signed-in "
        "session round checks the account on every request, as the token rounds check the "
        "token. The clients (one aiohttp process) share the 2 cores with the server.\n\n"
        "| workers | round | requests ok | errors | p50 ms | p95 ms | max ms | requests/s "
        f"| p95 ≤ {TARGET_P95_MS} ms |\n"
        "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        f"Load average (1 min) before the runs: {load:.1f} ({os.cpu_count()} CPUs, shared with "
        "the clients and with others' processes).\n\n"
        f"With {CLIENTS} clients always waiting, latency is queueing (Little's law: p50 ≈ "
        f"{CLIENTS} ÷ requests per second), so the p95 target needs about "
        f"{CLIENTS * 1000 // TARGET_P95_MS} answers a second. Before pages were kept, one "
        "process built every page from the database and answered about 30 a second (p95 "
        "2.6–2.8 s). A kept page still costs a process about 1.7 ms of CPU (routing and "
        "dependencies, the token or account check, the tenant-and-stamp query), so one process "
        "tops out below that rate while it shares the cores with the clients; two workers, "
        "one per core, pass it. A first round misses: each worker builds each page once (50 "
        "each here), at 10–25 ms a page while the other requests wait."
    )
    if notes:
        body += "\n\n" + "\n\n".join(notes)
    record("api", "Reporting API: users pages under 50 concurrent clients, SQLite", body)


if __name__ == "__main__":
    main()
