"""`seatwise demo`'s first run (issue #15): a taken port is refused before anything is printed
(or another is picked), every demo starts fresh unless --keep, the simulated tenant's paid SKUs
carry sample list prices, and the web UI is served on the port that was bound."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from seatwise.cli.demo import listen
from seatwise.demo_prices import LIST_PRICES, SAMPLE_ACTOR

from .conftest import Terminal

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
STARTUP_DEADLINE_S = 180


@pytest.fixture
def taken() -> Iterator[int]:
    """A port on 127.0.0.1 that something else listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _in_demo(terminal: Terminal) -> None:
    """Point the CLI at the demo's own data directory (and its SQLite database)."""
    terminal.monkeypatch.setenv("SEATWISE_DATA_DIR", str(terminal.data_dir / "demo"))
    terminal.monkeypatch.delenv("SEATWISE_DATABASE_URL", raising=False)


@SQLITE
def test_a_taken_port_is_one_sentence_before_anything_else(terminal: Terminal, taken: int) -> None:
    refused = terminal("demo", "--users", "20", "--port", str(taken))
    assert refused.code == 3
    assert refused.out == ""
    assert refused.err.strip() == (
        f"Error: Port {taken} on 127.0.0.1 is in use: stop what uses it, or choose another "
        "port with --port (make demo PORT=...)."
    )
    assert not (terminal.data_dir / "demo").exists()  # nothing generated, nothing synced


def test_without_a_port_a_taken_default_gives_way_to_a_free_one(taken: int) -> None:
    with listen(None, preferred=taken) as sock:
        port = sock.getsockname()[1]
        assert port not in (taken, 0)


@SQLITE
def test_every_demo_starts_fresh_unless_keep_with_sample_prices(terminal: Terminal) -> None:
    first = terminal("demo", "--users", "30", "--no-keep-running")
    assert first.code == 0, first.err
    assert "Sample contract prices for" in first.err
    _in_demo(terminal)
    positions = terminal("licenses", "--format", "json").json()
    paid = [p for p in positions if p["sku_part_number"] in LIST_PRICES]
    assert paid
    for position in paid:
        assert Decimal(position["cost"]) == LIST_PRICES[position["sku_part_number"]]
        assert position["currency"] == "USD" and position["payment_frequency"] == "monthly"
        assert Decimal(position["annual_cost"]) == (
            LIST_PRICES[position["sku_part_number"]] * 12 * position["purchased"]
        )
    free = [p for p in positions if p["license_type"] == "free"]
    assert free and all(p["cost"] is None for p in free)
    audit = _contract_edits(terminal)
    every = terminal("licenses", "--all", "--format", "json").json()
    priced = [p for p in every if p["sku_part_number"] in LIST_PRICES]
    assert len(audit) == len(priced) and {e["actor"] for e in audit} == {SAMPLE_ACTOR}
    totals = terminal("licenses", "--totals", "--format", "json").json()
    assert totals[0]["currency"] == "USD" and Decimal(totals[0]["unused_annual_cost"]) > 0
    table = terminal("licenses").out
    assert f"The costs of {len(paid)} SKUs are sample list prices entered by" in table

    part = paid[0]["sku_part_number"]
    edited = terminal("license", "set", part, "--cost", "1.50")  # editable like any contract
    assert edited.code == 0, edited.err

    def cost_now() -> str:
        found = terminal("licenses", "--format", "json").json()
        return next(p["cost"] for p in found if p["sku_part_number"] == part)

    assert cost_now() == "1.50"
    terminal.monkeypatch.setenv("SEATWISE_DATA_DIR", str(terminal.data_dir))
    kept = terminal("demo", "--users", "30", "--no-keep-running", "--keep")
    assert kept.code == 0, kept.err
    _in_demo(terminal)
    assert cost_now() == "1.50"  # --keep: the edit survives, and no sample overwrites it
    assert len(_contract_edits(terminal)) == len(audit) + 1

    terminal.monkeypatch.setenv("SEATWISE_DATA_DIR", str(terminal.data_dir))
    fresh = terminal("demo", "--users", "30", "--no-keep-running")
    assert fresh.code == 0, fresh.err
    _in_demo(terminal)
    assert Decimal(cost_now()) == LIST_PRICES[part]  # a fresh directory: the sample again
    assert {e["actor"] for e in _contract_edits(terminal)} == {SAMPLE_ACTOR}


def test_the_demo_serves_the_web_ui_on_the_port_given(tmp_path: Path) -> None:
    """The real command in a process of its own: it prints working commands and serves."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEATWISE_")}
    env |= {"SEATWISE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "120"}
    env["SEATWISE_SECRET_KEY"] = "test passphrase, not a real secret"
    program = Path(sys.executable).with_name("seatwise")
    command = [str(program), "demo", "--users", "20", "--port", str(port)]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    ) as demo:
        try:
            said: list[str] = []
            deadline = time.monotonic() + STARTUP_DEADLINE_S
            assert demo.stderr is not None
            for line in demo.stderr:  # ends when the demo exits
                said.append(line)
                if "stay up until you press Ctrl-C" in line or time.monotonic() > deadline:
                    break
            text = "".join(said)
            assert f"http://127.0.0.1:{port}/" in text, text
            assert f"{program} users" in text  # not on PATH here: spelled as it runs
            assert "Sample contract prices for" in text
            page = _get_when_ready(f"http://127.0.0.1:{port}/login", deadline)
            assert page.status_code == 200 and "password" in page.text.lower()
        finally:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=60)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait()


def _contract_edits(terminal: Terminal) -> list[dict[str, str]]:
    return [
        e for e in terminal("audit", "--format", "json").json() if e["action"] == "contract.set"
    ]


def _get_when_ready(url: str, deadline: float) -> httpx.Response:
    """GET `url`, retrying while the server is not accepting yet (until `deadline`)."""
    while True:
        try:
            return httpx.get(url, timeout=10)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@SQLITE
def test_a_demo_directory_that_cannot_be_replaced_is_one_sentence(terminal: Terminal) -> None:
    terminal.data_dir.mkdir(parents=True)
    (terminal.data_dir / "demo").write_text("not a directory")
    refused = terminal("demo", "--users", "20", "--no-keep-running")
    assert refused.code == 3
    assert refused.err.startswith("Error: Cannot start a fresh demo in ")
    assert len(refused.err.strip().splitlines()) == 1 and "Traceback" not in refused.err
