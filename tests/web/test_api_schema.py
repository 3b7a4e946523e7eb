"""Schemathesis against the live reporting API: generated requests (valid and invalid) for every
operation of /api/v1/openapi.json, with an admin token, over a synced simulated tenant. No
answer may be a server error, and every answer must match the schema the API publishes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.sync.conftest import Seatwise, serve
from tests.web.conftest import Web

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def test_the_api_keeps_its_schema(web: Web, seatwise: Seatwise, tmp_path: Path) -> None:
    if not web.settings.effective_database_url.startswith("sqlite"):
        pytest.skip("the schema does not depend on the database; test_api covers both")
    with serve(tmp_path / "sim", users=60) as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
    done = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{web.base_url}/api/v1/openapi.json",
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--header",
            f"Authorization: Bearer {web.tokens['admin']}",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "30",
            "--seed",
            "7",
            # One worker: every bearer-token request also writes the token's last use, and on
            # SQLite concurrent writers after a read fail with "database is locked".
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--request-timeout",
            "20",
            "--no-color",
            "--report-dir",
            str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    with web.client() as client:
        operations = sum(
            len(methods)
            for path, methods in client.get("/api/v1/openapi.json").json()["paths"].items()
            if path.startswith("/api/v1/")
        )
    assert f"Tested: {operations}" in done.stdout  # every operation was exercised
    assert "✅ Coverage" in done.stdout and "✅ Fuzzing" in done.stdout
