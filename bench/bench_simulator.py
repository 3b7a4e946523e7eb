"""Simulator scale: time until a 100k-user tenant is served, users pages per second over HTTPS on
loopback, and the simulator's peak memory (targets: < 20 s, >= 20,000 users/s, < 1.5 GB).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.record import record

USERS = int(os.environ.get("BENCH_SIM_USERS", "100000"))
SELECT = (
    "id,userPrincipalName,mail,givenName,surname,displayName,accountEnabled,createdDateTime,"
    "userType,country,usageLocation,department,jobTitle,onPremisesSyncEnabled,assignedLicenses,"
    "licenseAssignmentStates"
)


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _token(client: httpx.Client, info: dict[str, str]) -> str:
    response = client.post(
        f"{info['authority_host']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def _read_all(client: httpx.Client, url: str) -> tuple[int, int]:
    users = pages = 0
    next_url: str | None = url
    while next_url:
        body = client.get(next_url).json()
        users += len(body["value"])
        pages += 1
        next_url = body.get("@odata.nextLink")
    return users, pages


def main() -> None:
    """Start `seatwise simulate`, time readiness, read every user twice, record the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        info_file = Path(tmp) / "info.json"
        started = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "seatwise",
                "simulate",
                "--users",
                str(USERS),
                "--seed",
                "1",
                "--info-file",
                str(info_file),
                "--cert-dir",
                tmp,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while not info_file.exists():
                if proc.poll() is not None:
                    raise SystemExit("the simulator exited before it was ready")
                time.sleep(0.05)
            ready_s = time.perf_counter() - started
            info = json.loads(info_file.read_text())
            with httpx.Client(verify=info["ca_bundle"], trust_env=False, timeout=120) as client:
                client.headers["Authorization"] = f"Bearer {_token(client, info)}"
                url = f"{info['graph_url']}/v1.0/users?$top=999&$select={SELECT}"
                rates = []
                for _ in range(2):
                    t0 = time.perf_counter()
                    users, pages = _read_all(client, url)
                    rates.append(users / (time.perf_counter() - t0))
                t0 = time.perf_counter()
                default_users, _ = _read_all(client, f"{info['graph_url']}/v1.0/users?$top=999")
                default_rate = default_users / (time.perf_counter() - t0)
            rss = _peak_rss_mb(proc.pid)
            best = max(rates)
        finally:
            proc.terminate()
            proc.wait(30)
    ok = lambda good: "met" if good else "MISSED"  # noqa: E731
    record(
        "simulator",
        f"Simulator at {USERS:,} users",
        f"""
| measure | value | target |
|---|---|---|
| start → accepting requests (generate + TLS) | {ready_s:.1f} s | < 20 s ({ok(ready_s < 20)}) |
| `/v1.0/users`, seatwise's `$select`, `$top=999`, HTTPS, first read | {rates[0]:,.0f} users/s \
| |
| the same, second read (users serialised once per `$select`) | {rates[1]:,.0f} users/s \
| ≥ 20,000 users/s ({ok(best >= 20000)}) |
| `/v1.0/users` default properties, `$top=999` | {default_rate:,.0f} users/s | |
| simulator peak RSS | {rss:,.0f} MB | < 1,500 MB ({ok(rss < 1500)}) |

{users:,} users in {pages} pages per full read.
""",
    )
