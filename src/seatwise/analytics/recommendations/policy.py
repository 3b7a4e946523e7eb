"""The thresholds and exclusions the recommendation rules are judged by, as one frozen value.

Built from the `[recommendations]` section of the settings (`Policy.from_mapping`); pure data,
imports nothing from seatwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["ACCOUNT_KINDS", "SERVICE_ACCOUNT_PATTERNS", "Policy"]

# `user.kind` values an exclusion may name (the store's USER_KINDS).
ACCOUNT_KINDS = ("person", "service", "shared", "room")

# UPN globs typical of service and system accounts. Applied only when the policy asks for them
# (`exclude_service_account_patterns`): seatwise cannot know an organisation's naming rules.
SERVICE_ACCOUNT_PATTERNS = (
    "svc-*",
    "svc_*",
    "svc.*",
    "*-svc@*",
    "*_svc@*",
    "sa-*",
    "sa_*",
    "service-*",
    "service.*",
    "noreply@*",
    "no-reply@*",
    "donotreply@*",
    "admin-*",
    "sync_*",
)


@dataclass(frozen=True, slots=True)
class Policy:
    """What the rules count as inactive, stale or small, and whom they leave alone.

    Days are whole days before `as_of`; sizes are in GB of 1024 MB.
    """

    inactive_days: int = 90
    """A user is inactive after this many days without activity in any service or sign-in."""
    grace_days: int = 30
    """A licence assigned fewer days ago than this is never judged unused or inactive."""
    stale_report_days: int = 7
    """Usage reports refreshed longer ago than this turn activity-based results into reviews."""
    workload_days: int = 90
    """E5→E3: use of an E5-only workload (Power BI) within this many days keeps the E5."""
    f3_mailbox_gb: float = 2.0
    """E3→F3: the mailbox must be smaller than this (F3's mailbox limit)."""
    f3_onedrive_gb: float = 2.0
    """E3→F3: OneDrive must hold less than this (F3's OneDrive limit)."""
    exclude_mfa_or_sso: bool = True
    """Seed exclusion: users with MFA registered or synced from on-premises (SSO) are never
    proposed for reclamation."""
    exclude_upns: tuple[str, ...] = ()
    """UPN glob patterns (`*`, `?`, `[...]`, case-insensitive) of users left alone."""
    exclude_groups: tuple[str, ...] = ()
    """Group object ids: users holding a licence through one of them are left alone."""
    exclude_kinds: tuple[str, ...] = ()
    """Account kinds (`service`, `shared`, `room`, `person`) left alone, when the kind is known."""
    exclude_service_account_patterns: bool = False
    """Also leave alone UPNs matching `SERVICE_ACCOUNT_PATTERNS`."""

    def __post_init__(self) -> None:
        for name in ("inactive_days", "grace_days", "stale_report_days", "workload_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("f3_mailbox_gb", "f3_onedrive_gb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        unknown = sorted(set(self.exclude_kinds) - set(ACCOUNT_KINDS))
        if unknown:
            raise ValueError(
                f"exclude_kinds has unknown kind {unknown[0]!r}; kinds: {', '.join(ACCOUNT_KINDS)}"
            )
        # Normalise once so matching is a plain comparison.
        object.__setattr__(self, "exclude_upns", tuple(p.lower() for p in self.exclude_upns))
        object.__setattr__(self, "exclude_groups", tuple(g.lower() for g in self.exclude_groups))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Policy:
        """A policy from settings values (lists become tuples); missing keys keep defaults."""
        known = {f.name for f in fields(cls)}
        args: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list | tuple) else v
            for k, v in values.items()
            if k in known
        }
        return cls(**args)

    @property
    def upn_patterns(self) -> tuple[str, ...]:
        """Every UPN glob that excludes a user, built-in service-account patterns included."""
        if self.exclude_service_account_patterns:
            return self.exclude_upns + SERVICE_ACCOUNT_PATTERNS
        return self.exclude_upns
