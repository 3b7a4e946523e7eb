"""How fast the `seatwise` command starts: `seatwise --help` and `seatwise tasks` on a small
store (a simulated tenant of 50 users, synced once), each as a whole process, the way a user
or cron runs them. Targets: `--help` ≤ 0.3 s, `tasks` ≤ 0.8 s.

Bytecode is written and reused as on any installation (the first run of each command warms it
and is not counted; `PYTHONDONTWRITEBYTECODE` is dropped from the environment).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.record import record

RUNS = 15
TARGETS = {"--help": 0.3, "tasks": 0.8}
SEATWISE = Path(sys.executable).with_name("seatwise")


def _environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEATWISE_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["SEATWISE_DATA_DIR"] = str(data_dir)
    env["SEATWISE_SECRET_KEY"] = "benchmark passphrase, not a secret"
    return env


def _small_store(data_dir: Path) -> None:
    """A store with one simulated tenant synced once (the simulator in-process over HTTPS)."""
    from seatwise.config import Settings
    from seatwise.simulator import Tenant, create_app
    from seatwise.simulator.server import running
    from seatwise.workspace import Workspace
    from seatwise.workspace.syncing import sync_tenant
    from seatwise.workspace.tenants import register

    tenant = Tenant.create(users=50, seed=3, report_throttle=False)
    with running(create_app(tenant), data_dir / "tls") as server:
        settings = Settings(
            data_dir=data_dir,
            graph_url=server.base_url,
            authority_host=server.base_url,
            ca_bundle=server.ca_bundle,
            secret_key="benchmark passphrase, not a secret",
        )
        with Workspace(settings) as workspace:
            row = register(
                workspace, "bench", tenant.tenant_id, tenant.app.client_id,
                tenant.app.client_secret, auth_mode="app", refresh=None,
            )  # fmt: skip
            report = sync_tenant(workspace, row.pk, ["license-info", "roster"], started_by="bench")
            report.raise_failure()


def _time(args: list[str], env: dict[str, str]) -> list[float]:
    subprocess.run([str(SEATWISE), *args], env=env, capture_output=True, check=True)  # warm
    seconds = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([str(SEATWISE), *args], env=env, capture_output=True, check=True)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    """Measure both commands and record them in BENCHMARKS.md."""
    with tempfile.TemporaryDirectory(prefix="seatwise-bench-cli-") as tmp:
        data_dir = Path(tmp)
        _small_store(data_dir)
        env = _environment(data_dir)
        rows = []
        for command, target in TARGETS.items():
            seconds = _time([command], env)
            median = statistics.median(seconds)
            verdict = "met" if median <= target else f"MISSED by {median / target:.2f}×"
            rows.append(
                f"| `seatwise {command}` | {median:.2f} s | {min(seconds):.2f} s | "
                f"{max(seconds):.2f} s | ≤ {target} s: {verdict} |"
            )
    load = os.getloadavg()[0]
    record(
        "cli",
        "CLI start-up: whole processes on a small store",
        f"""
Each command run {RUNS} times as a separate process after one warming run, on a store with one
simulated tenant of 50 users synced once (SQLite). The commands import only what they need
(tests/cli/test_startup.py checks it): the help loads Typer, Rich and the command modules, not
SQLAlchemy, pydantic or httpx; `tasks` adds pydantic (Typer converts the options with it), the
settings and SQLAlchemy Core, and reads its rows through Core queries: not the ORM's mapped
classes, not Alembic (the schema is current), not pydantic-settings, httpx or cryptography.

| command | median | fastest | slowest | target |
|---|---|---|---|---|
{chr(10).join(rows)}

Load average (1 min) after the runs: {load:.1f} (2 CPUs, shared).
""",
    )
