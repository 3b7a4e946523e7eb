"""`seatwise demo`: for now, start the simulated tenant and say how to reach it.

Syncing and the web UI arrive with later work; this command does not pretend to do more.
"""

from __future__ import annotations

from typing import Annotated

import typer


def demo(
    users: Annotated[int, typer.Option(help="Directory users in the simulated tenant.")] = 500,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1; 0 picks a free one.")] = 0,
) -> None:
    """Start a simulated Microsoft 365 tenant and print how to reach it (sync and UI come later)."""
    from rich.console import Console

    from seatwise.cli.simulate import simulate

    Console(stderr=True).print(
        "[bold]seatwise demo[/]: serving a simulated tenant. Syncing it and the web UI are not "
        "built yet; point any Graph client at the URL below with the CA bundle it prints."
    )
    simulate(users=users, port=port, info_file=None)
