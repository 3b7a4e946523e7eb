"""Entry point for ``python -m seatwise``."""

from seatwise.cli import main

main()
