"""How a value reads in a table or CSV cell, the same in the CLI and the web UI's exports:
nothing for null, the seed's Yes/No for booleans, lists joined by "; " (licences by name,
activations by product)."""

from __future__ import annotations

__all__ = ["cell"]


def cell(value: object) -> str:
    """`value` as cell text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return "; ".join(
            cell(v.get("name") or v.get("product") if isinstance(v, dict) else v) for v in value
        )
    return str(value)
