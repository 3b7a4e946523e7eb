"""Tests of the `seatwise` command line: tables at terminal widths, the demo."""
