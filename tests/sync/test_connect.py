"""`seatwise connect`: the authorization-code flow with PKCE against the simulator's sign-in page,
driven like a browser; then a delegated sync, refresh-token rotation persisted, and no token or
secret in the database file in plain text.
"""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.graph.conftest import form_action, hidden_fields, sign_in_page_post

from .conftest import Seatwise, Sim, serve


def _connect(seatwise: Seatwise, sim: Sim, password: str | None = None) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    tenant = sim.tenant
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seatwise",
            "connect",
            "sim",
            "--tenant-id",
            tenant.tenant_id,
            "--client-id",
            tenant.app.client_id,
            "--client-secret-env",
            "SIM_CLIENT_SECRET",
            "--no-browser",
            "--timeout",
            "30",
        ],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    url = None
    deadline = time.monotonic() + 30
    lines: list[str] = []
    while url is None and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if match := re.match(r"^(https://\S+/oauth2/v2\.0/authorize\?\S+)$", line.strip()):
            url = match.group(1)
    assert url, "".join(lines)
    verify = ssl.create_default_context(cafile=str(sim.server.ca_bundle))
    browser = httpx.Client(verify=verify, trust_env=False, timeout=10)
    with browser:
        answer = sign_in_page_post(
            browser, url, tenant.admin.upn, password or tenant.admin.password
        )
        if "hiddenform" in answer.text:
            with httpx.Client(trust_env=False, timeout=10) as loopback:
                loopback.post(form_action(answer.text), data=hidden_fields(answer.text))
    try:
        _, err = proc.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, "".join(lines) + err


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_connect_then_delegated_sync(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim") as sim:
        seatwise.point_at(sim)
        code, err = _connect(seatwise, sim)
        assert code == 0, err
        assert "Connected to tenant sim" in err
        synced = seatwise("sync")
        assert synced.code == 0, synced.err
        users = seatwise("users", "--format", "json").json()
        assert len(users) == len(sim.tenant.users)
        tokens = sim.server_app_tokens()
    db = Path(seatwise.database_url.removeprefix("sqlite:///"))
    data = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert len(tokens) >= 2  # the sign-in's token, then rotated ones
    for token in tokens:
        assert token.encode() not in data
    assert sim.tenant.app.client_secret.encode() not in data


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_revoked_sign_in_asks_to_reconnect(seatwise: Seatwise, tmp_path: Path) -> None:
    with serve(tmp_path / "sim") as sim:
        seatwise.point_at(sim)
        code, err = _connect(seatwise, sim)
        assert code == 0, err
        sim.control("admin", {"password": "A-new-password-1"})
        failed = seatwise("sync")
    assert failed.code == 3, failed.err
    assert "seatwise connect sim" in failed.err
    assert "Traceback" not in failed.err
