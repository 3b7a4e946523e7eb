"""`seatwise serve --workers 2` as a user runs it: two web processes on one port answer the same
pages and API pages, accept each other's sessions, and stop on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.sync.conftest import Seatwise, serve
from tests.web.conftest import PASSWORD, _free_port


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_two_workers_share_the_port_and_the_sessions(
    seatwise: Seatwise, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(tmp_path / "sim", users=30) as sim:
        assert seatwise.add_app_only(sim).code == 0
        assert seatwise("sync").code == 0
    made = seatwise("token", "create", "powerbi")
    assert made.code == 0, made.err
    token = made.out.strip()
    os.environ["ADMIN_PASSWORD"] = PASSWORD
    assert (
        seatwise(
            "user", "create", "admin", "--role", "admin", "--password-env", "ADMIN_PASSWORD"
        ).code
        == 0
    )
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "seatwise", "serve", "--port", str(port), "--workers", "2"],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()
            try:
                if httpx.get(f"{base}/login", trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "seatwise serve did not start"
            time.sleep(0.2)
        workers = [
            p
            for p in _children(server.pid)
            if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()
        ]
        assert len(workers) == 2

        bearer = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=bearer, trust_env=False, timeout=30) as api:
            pages = [api.get("/api/v1/users", params={"$top": 7}) for _ in range(30)]
        assert {p.status_code for p in pages} == {200}
        assert len({p.content for p in pages}) == 1 and len(pages[0].json()["value"]) == 7

        # New connections land on either worker: a session made by one works on the other.
        with httpx.Client(base_url=base, trust_env=False, timeout=30) as browser:
            form = browser.get("/login").text
            csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            data = {"username": "admin", "password": PASSWORD, "csrf_token": csrf, "next": "/"}
            assert browser.post("/login", data=data).status_code == 303
            cookies = browser.cookies
        for _ in range(12):
            with httpx.Client(base_url=base, cookies=cookies, trust_env=False) as fresh:
                assert fresh.get("/users").status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "2 worker processes" in err and "Traceback" not in err
