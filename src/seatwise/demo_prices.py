"""Sample contract prices for `seatwise demo`: Microsoft's public list prices per user per month
in US dollars (annual commitment, paid monthly), so that the demo's Overview, Licenses and
Recommendations show what the licences cost and what the unused ones waste from the first
screen. They are samples, not anyone's contract: the demo enters them through the ordinary
contract edit, audited as "sample list price", and they are edited like any other contract.
Free and trial SKUs have no price.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

__all__ = ["CURRENCY", "FREQUENCY", "LIST_PRICES", "SAMPLE_ACTOR"]

CURRENCY = "USD"
FREQUENCY = "monthly"
SAMPLE_ACTOR = "seatwise demo (sample list price)"
"""Who the audit log and the contract's `updated_by` name for a sample price."""

# skuPartNumber → list price per user per month (USD), as Microsoft publishes it.
LIST_PRICES: Mapping[str, Decimal] = {
    "STANDARDPACK": Decimal("10.00"),  # Office 365 E1
    "ENTERPRISEPACK": Decimal("23.00"),  # Office 365 E3
    "ENTERPRISEPREMIUM": Decimal("38.00"),  # Office 365 E5
    "SPE_E3": Decimal("36.00"),  # Microsoft 365 E3
    "SPE_E5": Decimal("57.00"),  # Microsoft 365 E5
    "SPE_F1": Decimal("8.00"),  # Microsoft 365 F3
    "O365_BUSINESS_ESSENTIALS": Decimal("6.00"),  # Microsoft 365 Business Basic
    "O365_BUSINESS_PREMIUM": Decimal("12.50"),  # Microsoft 365 Business Standard
    "SPB": Decimal("22.00"),  # Microsoft 365 Business Premium
    "OFFICESUBSCRIPTION": Decimal("12.00"),  # Microsoft 365 Apps for enterprise
    "POWER_BI_PRO": Decimal("14.00"),
    "PROJECTPROFESSIONAL": Decimal("30.00"),  # Planner and Project Plan 3
    "VISIOCLIENT": Decimal("15.00"),  # Visio Plan 2
    "DYN365_ENTERPRISE_SALES": Decimal("105.00"),
    "DYN365_ENTERPRISE_CUSTOMER_SERVICE": Decimal("105.00"),
    "DYN365_TEAM_MEMBERS": Decimal("8.00"),
    "EXCHANGESTANDARD": Decimal("4.00"),  # Exchange Online (Plan 1)
    "AAD_PREMIUM": Decimal("6.00"),  # Microsoft Entra ID P1
    "EMS": Decimal("10.60"),  # Enterprise Mobility + Security E3
}
