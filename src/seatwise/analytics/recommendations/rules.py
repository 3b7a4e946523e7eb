"""The rule table and the evaluation of every rule over a tenant's users, in a deterministic
order (rule, then UPN). Pure: users and tenant facts in, recommendations out.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import date

from seatwise.analytics.recommendations import downgrade, reclaim
from seatwise.analytics.recommendations.model import Recommendation, TenantFacts, UserFacts
from seatwise.analytics.recommendations.policy import Policy

__all__ = ["RULES", "WHOLE_USER_RULES", "Rule", "evaluate", "for_user"]

Rule = Callable[[UserFacts, TenantFacts, Policy, date], list[Recommendation]]

RULES: Mapping[str, Rule] = {
    "blocked": reclaim.blocked,
    "deleted": reclaim.deleted,
    "e3-to-f3": downgrade.e3_to_f3,
    "e5-to-e3": downgrade.e5_to_e3,
    "guest": reclaim.guest,
    "inactive": reclaim.inactive,
    "never-used": reclaim.never_used,
    "overlap": reclaim.overlap,
}
# Rules that take back every licence of the user: when one of them speaks, the partial ones
# (overlap, downgrades, guest review) are left out, so no saving is counted twice.
WHOLE_USER_RULES = frozenset({"blocked", "deleted", "inactive", "never-used"})


def for_user(
    user: UserFacts, tenant: TenantFacts, policy: Policy, as_of: date
) -> list[Recommendation]:
    """Every rule's results for one user, after the whole-user rules' precedence."""
    found: list[Recommendation] = []
    for rule in RULES.values():
        found.extend(rule(user, tenant, policy, as_of))
    if any(r.rule in WHOLE_USER_RULES for r in found):
        found = [r for r in found if r.rule in WHOLE_USER_RULES]
    return found


def evaluate(
    users: Iterable[UserFacts],
    tenant: TenantFacts,
    policy: Policy,
    as_of: date,
    rules: Collection[str] | None = None,
) -> list[Recommendation]:
    """Recommendations for `users`, sorted by rule, then UPN, then SKUs.

    `rules` keeps only those rules' results; precedence is decided over every rule first, so
    a subset is always a subset of the full list.
    """
    keep = None if not rules else frozenset(rules)
    found: list[Recommendation] = []
    for user in users:
        results = for_user(user, tenant, policy, as_of)
        found.extend(r for r in results if keep is None or r.rule in keep)
    found.sort(key=lambda r: (r.rule, r.upn, r.skus))
    return found
