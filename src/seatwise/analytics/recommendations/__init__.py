"""Recommendations with savings (DESIGN §5): pure rules over a user's and the tenant's facts,
thresholds and exclusions from a `Policy`, money from the contracts. No session, no clock.
"""

from __future__ import annotations

from seatwise.analytics.recommendations.model import (
    KEYS,
    Assignment,
    Contract,
    Recommendation,
    Report,
    Sku,
    Snapshot,
    TenantFacts,
    UserFacts,
)
from seatwise.analytics.recommendations.policy import Policy
from seatwise.analytics.recommendations.rules import RULES, evaluate

__all__ = [
    "KEYS",
    "RULES",
    "Assignment",
    "Contract",
    "Policy",
    "Recommendation",
    "Report",
    "Sku",
    "Snapshot",
    "TenantFacts",
    "UserFacts",
    "evaluate",
]
