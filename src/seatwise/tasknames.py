"""The integration tasks by name, in dependency order, with their titles (DESIGN §3): what the
front ends show and accept without loading the sync itself."""

from __future__ import annotations

__all__ = ["TASK_NAMES", "TASK_TITLES"]

# In dependency order: SKUs first (roster and Visio need plans), differentiation last.
TASK_NAMES = ("license-info", "roster", "access", "differentiation")
TASK_TITLES = {
    "license-info": "License Information",
    "roster": "Application Roster",
    "access": "Application Access",
    "differentiation": "License Differentiation",
}
