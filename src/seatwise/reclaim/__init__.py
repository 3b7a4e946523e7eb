"""Reclamation (DESIGN §6): plans made from recommendations or named users, approved, applied
through Graph's `assignLicense` in `$batch` (resumable, never removing twice), audited, undone.

`plans` reads the store only; `apply` talks to Graph through `observe`; `audit` is the
append-only log every step writes to.
"""

from __future__ import annotations

from seatwise.reclaim.apply import Outcome, apply_plan, undo_plan
from seatwise.reclaim.plans import approve, get_plan, make_plan, plan_records, plan_summary

__all__ = [
    "Outcome",
    "apply_plan",
    "approve",
    "get_plan",
    "make_plan",
    "plan_records",
    "plan_summary",
    "undo_plan",
]
