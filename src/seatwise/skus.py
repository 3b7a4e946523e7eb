"""Friendly names of Microsoft 365 products, keyed by skuId (graph-facts §9.1, from Microsoft's
"Product names and service plan identifiers for licensing" table). Unknown SKUs fall back to the
part number. Product names change and repeat, so everything keys on the skuId GUID.
"""

from __future__ import annotations

# skuId -> (skuPartNumber, product name)
PRODUCTS: dict[str, tuple[str, str]] = {
    "18181a46-0d4e-45cd-891e-60aabd171b4e": ("STANDARDPACK", "Office 365 E1"),
    "6fd2c87f-b296-42f0-b197-1e91e994b900": ("ENTERPRISEPACK", "Office 365 E3"),
    "c7df2760-2c81-4ef7-b578-5b5392b571df": ("ENTERPRISEPREMIUM", "Office 365 E5"),
    "26d45bd9-adf1-46cd-a9e1-51e9a5524128": (
        "ENTERPRISEPREMIUM_NOPSTNCONF",
        "Office 365 E5 Without Audio Conferencing",
    ),
    "4b585984-651b-448a-9e53-3b10f069cf7f": ("DESKLESSPACK", "Office 365 F3"),
    "46c3a859-c90d-40b3-9551-6178a48d5c18": (
        "Office_365_E3_(no_Teams)",
        "Office 365 E3 (no Teams)",
    ),
    "05e9a617-0261-4cee-bb44-138d3ef5d965": ("SPE_E3", "Microsoft 365 E3"),
    "06ebc4ee-1bb5-47dd-8120-11324bc54e06": ("SPE_E5", "Microsoft 365 E5"),
    "cd2925a3-5076-4233-8931-638a8c94f773": (
        "SPE_E5_NOPSTNCONF",
        "Microsoft 365 E5 without Audio Conferencing",
    ),
    "dcf0408c-aaec-446c-afd4-43e3683943ea": (
        "Microsoft_365_E3_(no_Teams)",
        "Microsoft 365 E3 (no Teams)",
    ),
    "44575883-256e-4a79-9da4-ebe9acabe2b2": ("M365_F1", "Microsoft 365 F1"),
    "50f60901-3181-4b75-8a2c-4c8e4c1d5a72": ("M365_F1_COMM", "Microsoft 365 F1"),
    "66b55226-6b4f-492c-910c-a3b7a3c9d993": ("SPE_F1", "Microsoft 365 F3"),
    "3b555118-da6a-4418-894f-7df1e2096870": (
        "O365_BUSINESS_ESSENTIALS",
        "Microsoft 365 Business Basic",
    ),
    "f245ecc8-75af-4f8e-b61f-27d8114de5f3": (
        "O365_BUSINESS_PREMIUM",
        "Microsoft 365 Business Standard",
    ),
    "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46": ("SPB", "Microsoft 365 Business Premium"),
    "cdd28e44-67e3-425e-be4c-737fab2899d3": ("O365_BUSINESS", "Microsoft 365 Apps for Business"),
    "c2273bd0-dff7-4215-9ef5-2c7bcfb06425": (
        "OFFICESUBSCRIPTION",
        "Microsoft 365 Apps for Enterprise",
    ),
    "4b9405b0-7788-4568-add1-99614e613b69": ("EXCHANGESTANDARD", "Exchange Online (Plan 1)"),
    "19ec0d23-8335-4cbd-94ac-6050e30712fa": ("EXCHANGEENTERPRISE", "Exchange Online (Plan 2)"),
    "80b2d799-d2ba-4d2a-8842-fb0d0f3a4b82": ("EXCHANGEDESKLESS", "Exchange Online Kiosk"),
    "1fc08a02-8b3d-43b9-831e-f76859e04e1a": ("SHAREPOINTSTANDARD", "SharePoint Online (Plan 1)"),
    "a9732ec9-17d9-494c-a51c-d6b45b384dcb": ("SHAREPOINTENTERPRISE", "SharePoint Online (Plan 2)"),
    "710779e8-3d4a-4c88-adb9-386c958d1fdf": ("TEAMS_EXPLORATORY", "Microsoft Teams Exploratory"),
    "36a0f3b3-adb5-49ea-bf66-762134cf063a": (
        "Microsoft_Teams_Premium",
        "Microsoft Teams Premium Introductory Pricing",
    ),
    "e43b5b99-8dfb-405f-9987-dc307f34bcbd": ("MCOEV", "Microsoft Teams Phone Standard"),
    "0c266dff-15dd-4b49-8397-2bb16070ed52": ("MCOMEETADV", "Microsoft 365 Audio Conferencing"),
    "639dec6b-bb19-468b-871c-c5c441c4b0cb": (
        "Microsoft_365_Copilot",
        "Microsoft Copilot for Microsoft 365",
    ),
    "efccb6f7-5641-4e0e-bd10-b4976e1bf68e": ("EMS", "Enterprise Mobility + Security E3"),
    "b05e124f-c7cc-45a0-a6aa-8cf78c946968": ("EMSPREMIUM", "Enterprise Mobility + Security E5"),
    "078d2b04-f1bd-4111-bbd4-b4b1b354cef4": ("AAD_PREMIUM", "Microsoft Entra ID P1"),
    "84a661c4-e949-4bd2-a560-ed7766fcaf2b": ("AAD_PREMIUM_P2", "Microsoft Entra ID P2"),
    "061f9ace-7d42-4136-88ac-31dc755f143f": ("INTUNE_A", "Intune"),
    "26124093-3d78-432b-b5dc-48bf992543d5": (
        "IDENTITY_THREAT_PROTECTION",
        "Microsoft 365 E5 Security",
    ),
    "184efa21-98c3-4e5d-95ab-d07053a96e67": (
        "INFORMATION_PROTECTION_COMPLIANCE",
        "Microsoft 365 E5 Compliance",
    ),
    "4ef96642-f096-40de-a3e9-d83fb2f90211": (
        "ATP_ENTERPRISE",
        "Microsoft Defender for Office 365 (Plan 1)",
    ),
    "3dd6cf57-d688-4eed-ba52-9e40b5468c3e": (
        "THREAT_INTELLIGENCE",
        "Microsoft Defender for Office 365 (Plan 2)",
    ),
    "a403ebcc-fae0-4ca2-8c8c-7a907fd6c235": ("POWER_BI_STANDARD", "Microsoft Fabric (Free)"),
    "f8a1db68-be16-40ed-86d5-cb42ce701560": ("POWER_BI_PRO", "Power BI Pro"),
    "c1d032e0-5619-4761-9b5c-75b6831e1711": ("PBI_PREMIUM_PER_USER", "Power BI Premium Per User"),
    "b30411f5-fea1-4a59-9ad9-3db7c7ead579": ("POWERAPPS_PER_USER", "Power Apps Premium"),
    "dcb1a3ae-b33f-4487-846a-a640262fadf4": (
        "POWERAPPS_VIRAL",
        "Microsoft Power Apps Plan 2 Trial",
    ),
    "f30db892-07e9-47e9-837c-80727f46fd3d": ("FLOW_FREE", "Microsoft Power Automate Free"),
    "4a51bf65-409c-4a91-b845-1121b571cc9d": ("FLOW_PER_USER", "Power Automate per user plan"),
    "776df282-9fc0-4862-99e2-70e561b9909e": ("PROJECTESSENTIALS", "Project Online Essentials"),
    "beb6439c-caad-48d3-bf46-0c82871e12be": ("PROJECT_P1", "Planner Plan 1"),
    "53818b1b-4a27-454b-8896-0dba576410e6": ("PROJECTPROFESSIONAL", "Planner and Project Plan 3"),
    "09015f9f-377f-4538-bbb5-f75ceb09358a": ("PROJECTPREMIUM", "Project Online Premium"),
    "84cd610f-a3f8-4beb-84ab-d9d2c902c6c9": (
        "PROJECT_PLAN1_DEPT",
        "Project Plan 1 (for Department)",
    ),
    "46102f44-d912-47e7-b0ca-1bd7b70ada3b": (
        "PROJECT_PLAN3_DEPT",
        "Project Plan 3 (for Department)",
    ),
    "4b244418-9658-4451-a2b8-b5e2b364e9bd": ("VISIOONLINE_PLAN1", "Visio Plan 1"),
    "c5928f49-12ba-48f7-ada3-0d743a3601d5": ("VISIOCLIENT", "Visio Plan 2"),
    "ca7f3140-d88c-455b-9a1c-7f0679e31a76": ("VISIO_PLAN1_DEPT", "Visio Plan 1"),
    "38b434d2-a15e-4cde-9a98-e737c75623e1": ("VISIO_PLAN2_DEPT", "Visio Plan 2"),
    "1e1a282c-9c54-43a2-9310-98ef728faace": (
        "DYN365_ENTERPRISE_SALES",
        "Dynamics 365 for Sales Enterprise Edition",
    ),
    "be9f9771-1c64-4618-9907-244325141096": (
        "D365_SALES_PRO",
        "Dynamics 365 For Sales Professional",
    ),
    "2edaa1dc-966d-4475-93d6-8ee8dfd96877": ("DYN365_SALES_PREMIUM", "Dynamics 365 Sales Premium"),
    "749742bf-0d37-4158-a120-33567104deeb": (
        "DYN365_ENTERPRISE_CUSTOMER_SERVICE",
        "Dynamics 365 for Customer Service Enterprise Edition",
    ),
    "1439b6e2-5d59-4873-8c59-d60e2a196e92": (
        "DYN365_CUSTOMER_SERVICE_PRO",
        "Dynamics 365 Customer Service Professional",
    ),
    "ea126fc5-a19e-42e2-a731-da9d437bffcf": (
        "DYN365_ENTERPRISE_PLAN1",
        "Dynamics 365 Customer Engagement Plan",
    ),
    "7ac9fe77-66b7-4e5e-9e46-10eed1cff547": ("DYN365_TEAM_MEMBERS", "Dynamics 365 Team Members"),
    "55c9eb4e-c746-45b4-b255-9ab6b19d5c62": ("DYN365_FINANCE", "Dynamics 365 Finance"),
    "f2e48cb3-9da0-42cd-8464-4a54ce198ad0": (
        "DYN365_SCM",
        "Dynamics 365 for Supply Chain Management",
    ),
    "2880026b-2b0c-4251-8656-5d41ff11e3aa": (
        "DYN365_BUSCENTRAL_ESSENTIAL",
        "Dynamics 365 Business Central Essentials",
    ),
    "f991cecc-3f91-4cd0-a9a8-bf1c8167e029": (
        "DYN365_BUSCENTRAL_PREMIUM",
        "Dynamics 365 Business Central Premium",
    ),
}


def product_name(sku_id: str, part_number: str | None = None) -> str:
    """The product's display name, or its part number when the SKU is not in the table."""
    known = PRODUCTS.get(sku_id.lower())
    if known is not None:
        return known[1]
    return part_number or sku_id
