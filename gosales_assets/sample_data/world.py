"""The synthetic market: industries, regions and branches, and name parts.

Industry effects are keyed by the SKU map's ``sale_type`` (never by division name); the
population module adds seeded noise per (industry, product group) on top.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Industry:
    name: str
    weight: float
    employees_median: float
    subs: tuple[str, ...]
    effects: dict[str, float]  # sale_type -> log-rate effect


INDUSTRIES: tuple[Industry, ...] = (
    Industry(
        "Industrial Machinery", 0.18, 80,
        ("Packaging Machinery", "Material Handling", "Pumps & Compressors",
         "Automation"),
        {"License": 0.35, "Module": 0.3, "Service": 0.2, "Maintenance": 0.2},
    ),
    Industry(
        "Fabricated Metal Products", 0.10, 45,
        ("Sheet Metal", "Machining", "Tool & Die"),
        {"License": 0.1, "Printer": -0.3, "Scanner": 0.2},
    ),
    Industry(
        "Aerospace & Defense", 0.06, 250,
        ("Aircraft Components", "Defense Systems", "Space Systems"),
        {"License": 0.4, "Printer": 0.6, "Scanner": 0.5, "Support_Subscription": 0.3},
    ),
    Industry(
        "Automotive & Transportation", 0.08, 150,
        ("OEM", "Tier 1 Supplier", "Aftermarket", "Rail & Marine"),
        {"Printer": 0.4, "Scanner": 0.4, "License": 0.2},
    ),
    Industry(
        "Medical Devices", 0.07, 120,
        ("Orthopedics", "Dental", "Diagnostics", "Surgical Instruments"),
        {"Printer": 0.8, "Consumable": 0.5, "Scanner": 0.6, "Post_Processing": 0.5},
    ),
    Industry(
        "High Tech & Electronics", 0.09, 90,
        ("Consumer Electronics", "Semiconductors", "Robotics"),
        {"License": 0.3, "Module": 0.5, "Printer": 0.3},
    ),
    Industry(
        "Consumer Products", 0.08, 60,
        ("Furniture", "Sporting Goods", "Housewares", "Toys"),
        {"Printer": 0.3, "Training": 0.1},
    ),
    Industry(
        "Architecture, Engineering & Construction", 0.10, 35,
        ("Engineering Services", "Building Products", "Product Design"),
        {"Service": 0.4, "License": -0.1, "Scanner": 0.3},
    ),
    Industry(
        "Education & Research", 0.07, 400,
        ("University", "Community College", "K-12", "Research Lab"),
        {
            "Training": 0.7, "Printer": 0.6, "Consumable": 0.4, "License": -0.2,
            "Service": -0.6, "Maintenance": -0.5,
        },
    ),
    Industry(
        "Energy & Process", 0.06, 200,
        ("Oil & Gas", "Utilities", "Chemicals"),
        {"Service": 0.3, "License": 0.1},
    ),
    Industry(
        "Job Shop & Contract Manufacturing", 0.06, 20,
        ("Contract Manufacturing", "Rapid Prototyping", "Service Bureau"),
        {"Printer": 0.5, "Consumable": 0.6, "Post_Processing": 0.6, "Training": -0.3},
    ),
    Industry(
        "Government", 0.03, 500,
        ("Federal", "State & Local", "Military"),
        {"Printer": 0.2, "Service": 0.3},
    ),
)  # fmt: skip

# region -> (weight, branches)
REGIONS: dict[str, tuple[float, tuple[str, ...]]] = {
    "Pacific": (0.14, ("Seattle", "Portland", "San Jose", "Irvine")),
    "Mountain": (0.08, ("Denver", "Salt Lake City", "Phoenix")),
    "Central": (0.14, ("Chicago", "Minneapolis", "St. Louis")),
    "Great Lakes": (0.15, ("Detroit", "Cleveland", "Indianapolis", "Milwaukee")),
    "Northeast": (0.13, ("Boston", "Hartford", "Albany")),
    "Mid-Atlantic": (0.10, ("Philadelphia", "Pittsburgh", "Baltimore")),
    "Southeast": (0.11, ("Atlanta", "Charlotte", "Orlando")),
    "South Central": (0.09, ("Dallas", "Houston", "Austin")),
    "Canada": (0.06, ("Toronto", "Montréal", "Vancouver")),
}

NAME_PREFIXES = (
    "Apex", "Summit", "Precision", "Northstar", "Blue Ridge", "Ironwood", "Granite",
    "Pioneer", "Vertex", "Atlas", "Keystone", "Cascade", "Redwood", "Liberty",
    "Meridian", "Horizon", "Quantum", "Allied", "United", "Pacific", "Great Lakes",
    "Silver Creek", "Eagle", "Falcon", "Titan", "Sterling", "Evergreen", "Orion",
    "Nova", "Beacon", "Clearwater", "Stonebridge", "Riverbend", "Heritage", "Frontier",
    "Crescent", "Lakeshore", "Highland", "Prairie", "Coastal", "Québec", "Nordström",
    "O'Brien", "Smith & Wesson", "Delta", "Magnolia", "Anchor", "Bluewater",
)  # fmt: skip
NAME_CORES = (
    "Machine", "Tool & Die", "Manufacturing", "Engineering", "Dynamics", "Systems",
    "Technologies", "Fabrication", "Design", "Industries", "Components", "Robotics",
    "Medical", "Aerospace", "Products", "Labs", "Instruments", "Controls", "Plastics",
    "Metalworks", "Automation", "Devices", "Solutions", "Prototyping",
)  # fmt: skip
NAME_SUFFIXES = ("Inc.", "LLC", "Corp.", "Co.", ", Inc.", "Ltd.", "Group", "", "")

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
    "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph",
    "Jessica", "Thomas", "Sarah", "Chris", "Karen", "Daniel", "Lisa", "Matthew",
    "Nancy", "Anthony", "Betty", "Mark", "Sandra", "Steven", "Ashley", "Paul", "Emily",
    "Andrew", "Michelle",
    "Joshua", "Amanda", "Kevin", "Melissa", "Brian", "Laura", "Priya", "Wei", "Carlos",
    "Fatima", "Hiroshi", "Olga", "Mateo", "Aisha", "Liam", "Chloé",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson",
    "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
    "Patel", "Kowalski",
)  # fmt: skip
