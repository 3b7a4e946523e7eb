"""`make reliability`: run the fault suite, the hostile-input corpus and the security tests, then
the bounded load test (`bench.bench_load`), and write RELIABILITY.md with the machine and date.

    python -m bench.reliability            everything (about six minutes on 2 cores)
    python -m bench.reliability --no-load  the tests only (the load section says it was skipped)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.record import machine

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "RELIABILITY.md"
MANIFEST = ROOT / "tests" / "data" / "hostile" / "manifest.json"


@dataclass
class Case:
    """One test's result from the JUnit report."""

    name: str
    outcome: str  # passed, failed, error, skipped
    seconds: float
    message: str = ""
    properties: dict[str, str] = field(default_factory=dict)


def run_pytest(*args: str) -> tuple[int, list[Case], float]:
    """pytest with `args` in a child process; its exit code, cases and wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        started = datetime.now(UTC)
        code = subprocess.call(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-o",
                "junit_family=xunit1",
                f"--junitxml={report}",
                *args,
            ],
            cwd=ROOT,
        )
        wall = (datetime.now(UTC) - started).total_seconds()
        cases = _cases(report) if report.exists() else []
    return code, cases, wall


def _cases(report: Path) -> list[Case]:
    found = []
    for node in ET.parse(report).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            child = node.find(kind)
            if child is not None:
                outcome = {"failure": "failed"}.get(kind, kind)
                message = (
                    (child.get("message") or "").splitlines()[0][:160]
                    if child.get("message")
                    else ""
                )
                break
        props = {p.get("name", ""): p.get("value", "") for p in node.iter("property")}
        name = f"{node.get('classname', '')}::{node.get('name', '')}"
        found.append(Case(name, outcome, float(node.get("time") or 0), message, props))
    return found


def _seconds(cases: list[Case], hostile: bool) -> float:
    return sum(c.seconds for c in cases if (".hostile." in c.name) == hostile)


def _short(name: str) -> str:
    return name.rsplit("::", 1)[-1]


def _faults(cases: list[Case]) -> str:
    rows = [
        f"| `{_short(c.name)}` | {c.outcome} | {c.seconds:.1f} s | "
        + ", ".join(f"{k} {v}" for k, v in c.properties.items())
        + " |"
        for c in cases
        if ".hostile." not in c.name
    ]
    return (
        "| fault | outcome | time | figures |\n|---|---|---|---|\n" + "\n".join(rows)
        if rows
        else "No fault tests ran."
    )


def _hostile(cases: list[Case]) -> str:
    manifest = {c["name"]: c for c in json.loads(MANIFEST.read_text(encoding="utf-8"))}
    results = {}
    for case in cases:
        short = _short(case.name)
        if short.startswith("test_hostile_payload["):
            results[short[len("test_hostile_payload[") : -1]] = case
    held = sum(1 for c in results.values() if c.outcome == "passed")
    by_outcome: dict[str, int] = {}
    for entry in manifest.values():
        by_outcome[entry["outcome"]] = by_outcome.get(entry["outcome"], 0) + 1
    rows = []
    for name, entry in manifest.items():
        result = results.get(name)
        verdict = result.outcome if result else "not run"
        expect = entry["expect"].replace("|", "\\|") or "(no note)"
        rows.append(
            f"| {name} | {entry['task']} | `{entry['path']}` | {entry['outcome']}: {expect} "
            f"| {verdict} |"
        )
    properties = [c for c in cases if ".test_properties" in c.name]
    held_props = sum(1 for c in properties if c.outcome == "passed")
    return (
        f"{len(manifest)} cases ({by_outcome.get('failed', 0)} must fail their task with a "
        f"sentence, {by_outcome.get('succeeded', 0)} must succeed, with a note when objects are "
        f"left out); {held} held as asserted, each also checking that the users, licences and "
        "SKUs stored before were still there and unchanged, and that no error or note quoted a "
        f"stored name or UPN. Property-based tests (hypothesis): {held_props} of "
        f"{len(properties)} held.\n\n"
        "| case | task | served at | asserted outcome | result |\n|---|---|---|---|---|\n"
        + "\n".join(rows)
    )


def _security(code: int, cases: list[Case]) -> str:
    if not cases:
        return f"`pytest -m security` collected no tests (exit {code})."
    passed = sum(1 for c in cases if c.outcome == "passed")
    rows = [f"| `{c.name.replace('tests.', '', 1)}` | {c.outcome} |" for c in cases]
    return (
        f"`pytest -m security`: {passed} of {len(cases)} passed.\n\n"
        "| check | outcome |\n|---|---|\n" + "\n".join(rows)
    )


def _load(figures: dict[str, Any] | None) -> str:
    if figures is None:
        return "Not run this time (`--no-load`)."
    alone, flooded = figures["alone"], figures["flooded"]

    def row(label: str, phase: dict[str, Any]) -> str:
        return (
            f"| {label} | {phase['requests']:,} | {phase['errors']} | {phase['p50_ms']:.0f} | "
            f"{phase['p95_ms']:.0f} | {phase['p99_ms']:.0f} | {phase['per_s']:.0f} |"
        )

    logins = ", ".join(f"{k}: {v:,}" for k, v in flooded["logins"].items()) or "none"
    verdict = "met" if figures["met"] else "MISSED"
    kinds = flooded["error_kinds"] or alone["error_kinds"]
    return (
        f"{figures['clients']} clients for {figures['seconds']:.0f} s on `GET /api/v1/users` "
        f"(pages of 100) and `GET /api/v1/licenses` with an API token, over {figures['users']:,} "
        f"users on SQLite served by `seatwise serve --workers {figures['workers']}` on "
        f"loopback; then the same while {figures['attackers']} clients keep failing to sign in "
        "(wrong passwords through the login form, retrying after each 429).\n\n"
        "| phase | API answers | errors | p50 ms | p95 ms | p99 ms | answers/s |\n"
        "|---|---|---|---|---|---|---|\n"
        + row("API alone", alone)
        + "\n"
        + row("API during the login flood", flooded)
        + "\n\n"
        f"API p95 under the flood is {figures['p95_ratio']:.2f}× its p95 alone (target ≤ 2×, no "
        f"errors: {verdict}). Failed sign-ins answered: {logins} (p95 "
        f"{flooded['login_p95_ms']:.0f} ms). Load average before the test: "
        f"{figures['load_before']:.1f}." + (f" Errors seen: {kinds}." if kinds else "")
    )


def main(argv: list[str] | None = None) -> int:
    """Run everything and write RELIABILITY.md; exit 1 when a check failed."""
    args = sys.argv[1:] if argv is None else argv
    fault_code, fault_cases, fault_wall = run_pytest(
        "-m", "fault or hostile", "tests/faults", "tests/hostile", "tests/graph/test_deadlines.py"
    )
    security_code, security_cases, _ = run_pytest("-m", "security", "tests")
    figures = None
    if "--no-load" not in args:
        from bench.bench_load import run

        figures = run()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        "# Reliability\n\n"
        f"Written by `make reliability` on {stamp}, on {machine()}. Figures from another "
        "machine are not comparable.\n\n"
        "## Faults survived\n\nThe fault suite (`pytest -m fault`: "
        f"{_seconds(fault_cases, False):.0f} s of tests; {fault_wall:.0f} s in all with the "
        "corpus below) runs `seatwise` against the simulator and disturbs it.\n\n"
        + _faults(fault_cases)
        + "\n\n## Hostile inputs\n\n"
        + _hostile(fault_cases)
        + "\n\n## Security checks\n\n"
        + _security(security_code, security_cases)
        + "\n\n## Load\n\n"
        + _load(figures)
        + "\n"
    )
    OUTPUT.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {OUTPUT.name}\n")
    failed = fault_code != 0 or security_code not in (0, 5) or (figures and not figures["met"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
