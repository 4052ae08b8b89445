"""Behaviour rules of product groups, keyed by the SKU map's ``sale_type``.

No division name appears here: a product group (division, family, sale_type) takes its
behaviour from its sale type, and a sale type the table does not know gets
``DEFAULT_RULE``. Affinity rules name sale types too and apply only between groups that
exist in the configured SKU map, so another SKU map degrades to plainer behaviour rather
than failing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

# Invoice streams: lines of one customer on one day go to one invoice per stream.
STREAM_SOFTWARE = 0
STREAM_HARDWARE = 1
STREAM_CREDIT = 2
STREAM_RENEWAL = 3
STREAM_EXTRA_PO = 4  # added to a stream: a second purchase order the same day


@dataclass(frozen=True)
class SaleTypeRule:
    """How the products of a sale type are bought, priced and invoiced."""

    kind: Literal["acquire", "subscription"] = "acquire"
    base_rate: float = 0.002  # monthly purchases of an average customer, no affinity
    unit_gp: float = 800.0  # median GP per unit
    margin: float = 0.30  # GP / revenue
    qty_extra: float = 0.3  # mean units beyond the first, scaled by company size
    size_elasticity: float = 0.25  # log-rate per log(employees)
    seasonality: float = 0.8  # exponent on the calendar's seasonal profile
    anchor: bool = False  # purchases attach a subscription of the same family
    asset: bool = False  # purchases become installed assets
    stream: int = STREAM_SOFTWARE
    deal: bool = True  # sold through opportunities (open deals)
    zero_gp_rate: float = 0.0  # share of quantity-only lines (warranty, free seats)
    credit_rate: float = 0.02  # credits per month in the 2 months after a purchase
    # share of purchases whose order also has a line of another SKU of the same
    # product group (seat types, printer models): multi-line orders
    companion_rate: float = 0.0


DEFAULT_RULE = SaleTypeRule()
_SUB = SaleTypeRule(
    kind="subscription",
    base_rate=0.001,
    unit_gp=450.0,
    margin=0.22,
    qty_extra=0.4,
    size_elasticity=0.2,
    seasonality=0.3,
    asset=True,
    deal=False,
    zero_gp_rate=0.03,
    credit_rate=0.01,
)
_HW = SaleTypeRule(stream=STREAM_HARDWARE, asset=True, credit_rate=0.03)

SALE_TYPE_RULES: dict[str, SaleTypeRule] = {
    "License": SaleTypeRule(
        base_rate=0.010, unit_gp=1600.0, margin=0.28, qty_extra=0.35,
        size_elasticity=0.35, seasonality=1.0, anchor=True, asset=True,
        companion_rate=0.25,
    ),
    "Module": SaleTypeRule(
        base_rate=0.002, unit_gp=900.0, qty_extra=0.2, size_elasticity=0.3,
        seasonality=1.0, asset=True, zero_gp_rate=0.02,
    ),
    "Maintenance": _SUB,
    "Support_Subscription": replace(_SUB, unit_gp=700.0, margin=0.3),
    "Service": SaleTypeRule(
        base_rate=0.008, unit_gp=1100.0, margin=0.45, qty_extra=1.5,
        size_elasticity=0.45, zero_gp_rate=0.01,
    ),
    "Training": SaleTypeRule(
        base_rate=0.006, unit_gp=450.0, margin=0.55, qty_extra=0.8,
        size_elasticity=0.3, zero_gp_rate=0.06, credit_rate=0.01,
    ),
    "Consumable": replace(
        _HW, base_rate=0.003, unit_gp=110.0, qty_extra=3.0, size_elasticity=0.3,
        seasonality=0.2, asset=False, deal=False, credit_rate=0.05,
    ),
    "SpareRepair": replace(
        _HW, base_rate=0.0008, unit_gp=240.0, margin=0.35, qty_extra=0.5,
        size_elasticity=0.2, seasonality=0.1, asset=False, deal=False,
        zero_gp_rate=0.35,
    ),
    "AM_Software": replace(
        _HW, base_rate=0.0008, unit_gp=900.0, margin=0.35, companion_rate=0.15
    ),
    "Printer": replace(
        _HW, base_rate=0.003, unit_gp=5500.0, margin=0.22, qty_extra=0.15,
        seasonality=1.3, anchor=True, credit_rate=0.04, companion_rate=0.15,
    ),
    "Post_Processing": replace(
        _HW, base_rate=0.001, unit_gp=1400.0, margin=0.25, qty_extra=0.1,
        seasonality=1.0,
    ),
    "Scanner": replace(
        _HW, base_rate=0.0015, unit_gp=4200.0, margin=0.25, qty_extra=0.05,
        seasonality=1.2, companion_rate=0.1,
    ),
}  # fmt: skip


def rule_for(sale_type: str) -> SaleTypeRule:
    return SALE_TYPE_RULES.get(sale_type, DEFAULT_RULE)


# Cross-sell affinities: (owned sale type, bought sale type, log-rate boost, same family
# only). OWN applies while the customer has ever bought the first group; RECENT while
# the last purchase was at most RECENT_MONTHS ago (onboarding, attach-on-install).
OWN_AFFINITY: tuple[tuple[str, str, float, bool], ...] = (
    ("License", "License", 0.3, False),
    ("License", "Module", 1.6, True),
    ("License", "Module", 0.4, False),
    ("License", "Maintenance", 1.6, True),
    ("License", "Support_Subscription", 1.6, True),
    ("License", "Service", 0.9, False),
    ("License", "Training", 1.0, False),
    ("License", "Printer", 0.35, False),
    ("License", "Scanner", 0.3, False),
    ("Module", "Module", 0.6, False),
    ("Module", "License", 0.3, False),
    ("Maintenance", "Module", 0.4, False),
    ("Support_Subscription", "Training", 0.4, False),
    ("Printer", "Consumable", 4.2, True),
    ("Printer", "SpareRepair", 3.0, True),
    ("Printer", "AM_Software", 2.2, True),
    ("Printer", "Support_Subscription", 2.0, True),
    ("Printer", "Post_Processing", 2.4, False),
    ("Printer", "Printer", 0.8, False),
    ("Printer", "Scanner", 0.6, False),
    ("Printer", "Training", 0.4, False),
    ("Scanner", "Printer", 0.6, False),
    ("Scanner", "License", 0.3, False),
    ("Scanner", "Service", 0.4, False),
    ("Consumable", "Consumable", 0.8, True),
    ("Post_Processing", "Consumable", 0.3, False),
    ("Service", "Service", 0.5, False),
    ("Service", "Training", 0.3, False),
    ("Training", "Training", 0.3, False),
)
RECENT_MONTHS = 2
RECENT_AFFINITY: tuple[tuple[str, str, float, bool], ...] = (
    ("License", "Training", 1.6, False),
    ("License", "Service", 1.3, False),
    ("Printer", "Training", 0.9, False),
    ("Printer", "Service", 0.6, False),
    ("Printer", "Post_Processing", 0.8, False),
    ("Printer", "Consumable", 0.8, True),
    ("Scanner", "Training", 0.6, False),
)
AFFINITY_NOISE = 0.12  # seeded noise on every owned-group pair, any sale types

# Platforms and add-ons. An anchor group whose family also sells modules or
# subscriptions is a platform (the core CAD license, the printer line); other groups of
# the same sale type are add-ons (data management, simulation, CAM...): rarer on their
# own, much likelier for owners of the platform.
PLATFORM_BASE_FACTOR = 2.0
ADDON_BASE_FACTOR = 0.3
PLATFORM_TO_ADDON = 1.6

# Subscriptions attach to anchor purchases and renew on their anniversary.
ATTACH_PROBABILITY = 0.75  # scaled by the customer's renewal propensity
SUBSCRIPTION_MONTHS = 12
