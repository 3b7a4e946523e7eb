"""On a terminal, a list taller than the screen goes through the pager (`$PAGER`); a short one,
or output into a pipe, is printed as it is (issue #15)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEATWISE_")}
    env |= {"SEATWISE_DATA_DIR": str(data), "SEATWISE_SECRET_KEY": "test passphrase, not real"}
    return env | {"COLUMNS": "100", "LINES": "20", "TERM": "xterm"}


def _on_a_terminal(command: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run `command` with stdin and stdout on a pseudo-terminal; its exit code and screen."""
    main, secondary = pty.openpty()
    with subprocess.Popen(
        command, stdin=secondary, stdout=secondary, stderr=subprocess.DEVNULL, env=env, cwd=cwd
    ) as process:
        os.close(secondary)
        screen = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the terminal closed: the process has ended
                break
            if not chunk:
                break
            screen += chunk
        code = process.wait(timeout=120)
    os.close(main)
    return code, screen.decode(errors="replace")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminals on Linux")
def test_a_long_list_goes_through_the_pager_on_a_terminal(tmp_path: Path) -> None:
    program = str(Path(sys.executable).with_name("seatwise"))
    made = subprocess.run(
        [program, "demo", "--users", "40", "--no-keep-running"],
        env=_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert made.returncode == 0, made.stderr
    env = _env(tmp_path / "data" / "demo")
    paged = tmp_path / "paged.txt"
    env["PAGER"] = f"cat > {paged}"

    code, screen = _on_a_terminal([program, "users"], env, tmp_path)
    assert code == 0
    text = paged.read_text()
    assert "Users of demo" in text and text.count("@") >= 30  # the whole list, to the pager
    assert "@" not in screen

    paged.unlink()
    code, screen = _on_a_terminal([program, "users", "--limit", "3"], env, tmp_path)
    assert code == 0 and not paged.exists()  # short enough for the screen
    assert screen.count("@") == 3

    piped = subprocess.run([program, "users"], env=env, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and not paged.exists()  # into a pipe: no pager
    assert piped.stdout.count("@") >= 30
