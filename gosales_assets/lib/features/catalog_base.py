"""Catalog of the all-scope columns built by ``build_customer_base``."""

from __future__ import annotations

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.features.naming import LIFE, wlabel
from gosales_assets.lib.features.spec import (
    MIX_MONTHS,
    SHORT_MONTHS,
    TRAJECTORY_MONTHS,
    FeatureSpec,
    Layout,
    layout,
)


def rfm_specs(lay: Layout, prefix: str, what: str) -> list[FeatureSpec]:
    scope = "target" if prefix else "all"
    fam = "rfm"
    out: list[FeatureSpec] = []
    for label, _ in lay.window_keys:
        win = (
            "lifetime" if label == LIFE else f"window (add_months(C,-{label[:-1]}), C]"
        )
        out += [
            FeatureSpec(
                f"{prefix}rfm__events__{label}",
                fam,
                scope,
                label,
                "Int32",
                0.0,
                f"distinct purchase events (customer, invoice, date) of {what}, {win}",
            ),
            FeatureSpec(
                f"{prefix}rfm__gp_sum__{label}",
                fam,
                scope,
                label,
                "Float64",
                0.0,
                f"net gross profit of {what}, {win}",
                winsor=True,
            ),
            FeatureSpec(
                f"{prefix}rfm__gp_per_event__{label}",
                fam,
                scope,
                label,
                "Float64",
                0.0,
                f"net GP per event of {what}, {win}",
                winsor=True,
            ),
            FeatureSpec(
                f"{prefix}rfm__qty_sum__{label}",
                fam,
                scope,
                label,
                "Float64",
                0.0,
                f"net quantity of {what}, {win}",
                winsor=True,
            ),
        ]
        if not prefix:
            out.append(
                FeatureSpec(
                    f"rfm__margin__{label}",
                    fam,
                    scope,
                    label,
                    "Float64",
                    0.0,
                    f"GP / revenue over lines with revenue, {win}; clipped to "
                    "[-1, 1]; 0 when no revenue is known",
                )
            )
    out.append(
        FeatureSpec(
            f"{prefix}rfm__recency_days",
            fam,
            scope,
            LIFE,
            "Int32",
            float(lay.cap_days),
            f"days from the last line of {what} to C, floored at "
            f"{lay.floor_days} and capped at {lay.cap_days} (never = cap)",
        )
    )
    return out


def base_specs(cfg: GosalesConfig) -> list[FeatureSpec]:
    """The all-scope columns of ``build_customer_base`` (ALS factors excluded)."""
    lay = layout(cfg)
    cap, t12, t24 = float(lay.cap_days), wlabel(SHORT_MONTHS), wlabel(MIX_MONTHS)
    tr = wlabel(TRAJECTORY_MONTHS)
    out = [
        FeatureSpec(
            "has_history",
            "lifecycle",
            "all",
            LIFE,
            "Int8",
            0.0,
            "1 if the customer has any line on or before C",
        )
    ]
    out += rfm_specs(lay, "", "all lines")
    out += [
        FeatureSpec(
            "lifecycle__tenure_days",
            "lifecycle",
            "all",
            LIFE,
            "Int32",
            0.0,
            "days from the first line to C (floored, capped); 0 without history",
        ),
        FeatureSpec(
            "lifecycle__ipi_mean_days",
            "lifecycle",
            "all",
            LIFE,
            "Float64",
            cap,
            "mean days between consecutive distinct purchase dates; cap when fewer "
            "than two dates",
        ),
        FeatureSpec(
            "lifecycle__ipi_std_days",
            "lifecycle",
            "all",
            LIFE,
            "Float64",
            0.0,
            "population std of days between consecutive distinct purchase dates",
        ),
    ]
    for m in (SHORT_MONTHS, MIX_MONTHS):
        out.append(
            FeatureSpec(
                f"lifecycle__active_months__{wlabel(m)}",
                "lifecycle",
                "all",
                wlabel(m),
                "Int32",
                0.0,
                f"month buckets (add_months steps back from C) with a line, last {m}",
            )
        )
    for what, desc, w in (("gp", "net GP", True), ("events", "events", False)):
        out += [
            FeatureSpec(
                f"trajectory__{what}_slope__{tr}",
                "trajectory",
                "all",
                tr,
                "Float64",
                0.0,
                f"least-squares slope of monthly {desc} per month over the last "
                f"{TRAJECTORY_MONTHS} month buckets (oldest x=0)",
                winsor=w,
            ),
            FeatureSpec(
                f"trajectory__{what}_volatility__{tr}",
                "trajectory",
                "all",
                tr,
                "Float64",
                0.0,
                f"std / mean(|value|) of monthly {desc} over the "
                f"last {TRAJECTORY_MONTHS} month buckets (bounded by sqrt(12))",
            ),
        ]
    for q in range(1, 5):
        out.append(
            FeatureSpec(
                f"season__q{q}_share__{t24}",
                "seasonality",
                "all",
                t24,
                "Float64",
                0.0,
                f"share of events in calendar quarter {q}, last {MIX_MONTHS} months",
            )
        )
    for d in lay.divisions:
        out.append(
            FeatureSpec(
                f"xdiv__gp_share__{lay.div_slug[d]}__{t24}",
                "cross_division",
                "all",
                t24,
                "Float64",
                None,
                f"EB-smoothed share of positive GP in division {d!r}, last "
                f"{MIX_MONTHS} months; prior for customers without positive GP",
            )
        )
    for d in lay.divisions:
        out.append(
            FeatureSpec(
                f"xdiv__owns__{lay.div_slug[d]}",
                "cross_division",
                "all",
                LIFE,
                "Int8",
                0.0,
                f"1 if lifetime net GP in division {d!r} is > 0",
            )
        )
    for what, desc in (("divisions", "divisions"), ("skus", "SKUs")):
        for label in (t12, t24, LIFE):
            out.append(
                FeatureSpec(
                    f"xdiv__n_{what}__{label}",
                    "cross_division",
                    "all",
                    label,
                    "Int32",
                    0.0,
                    f"distinct {desc} with a line ({label})",
                )
            )
    out.append(
        FeatureSpec(
            f"xdiv__returns_rate__{t12}",
            "cross_division",
            "all",
            t12,
            "Float64",
            0.0,
            f"share of lines with negative GP, last {SHORT_MONTHS} months",
        )
    )
    out += [
        FeatureSpec(
            "ib__active_n",
            "install_base",
            "all",
            LIFE,
            "Int32",
            0.0,
            "installed products bought on or before C and active at C",
        ),
        FeatureSpec(
            "ib__active_qty",
            "install_base",
            "all",
            LIFE,
            "Float64",
            0.0,
            "units of active installed products (null quantity = 1)",
            winsor=True,
        ),
        FeatureSpec(
            "ib__expired_n",
            "install_base",
            "all",
            LIFE,
            "Int32",
            0.0,
            "installed products expired on or before C",
        ),
    ]
    for n in lay.expiring_days:
        out.append(
            FeatureSpec(
                f"ib__expiring_n__{n}d",
                "install_base",
                "all",
                f"{n}d",
                "Int32",
                0.0,
                f"active installed products whose expiration is in (C, C+{n}d]",
            )
        )
    for d in lay.divisions:
        out.append(
            FeatureSpec(
                f"ib__active__{lay.div_slug[d]}",
                "install_base",
                "all",
                LIFE,
                "Int8",
                0.0,
                f"1 if an active installed product of division {d!r}",
            )
        )
    out += [
        FeatureSpec(
            "firm__log_employees",
            "firmographics",
            "all",
            "",
            "Float64",
            0.0,
            "log1p(employees); 0 when unknown",
        ),
        FeatureSpec(
            "firm__employees_missing",
            "firmographics",
            "all",
            "",
            "Int8",
            0.0,
            "1 if employees is unknown",
        ),
        FeatureSpec(
            "firm__account_age_days",
            "firmographics",
            "all",
            LIFE,
            "Int32",
            0.0,
            "days from created_date to C (floored, capped); 0 when unknown",
        ),
        FeatureSpec(
            "firm__created_missing",
            "firmographics",
            "all",
            "",
            "Int8",
            0.0,
            "1 if created_date is unknown (or after C)",
        ),
        FeatureSpec(
            "firm__industry_freq",
            "firmographics",
            "all",
            "",
            "Float64",
            0.0,
            "share of known customers in the same industry; 0 when unknown",
        ),
        FeatureSpec(
            "firm__region_freq",
            "firmographics",
            "all",
            "",
            "Float64",
            0.0,
            "share of known customers in the same region; 0 when unknown",
        ),
        FeatureSpec(
            "crm__days_since_contact",
            "crm",
            "all",
            LIFE,
            "Int32",
            cap,
            "days from the last contact to C (floored, capped; never = cap)",
        ),
    ]
    for n in lay.crm_days:
        out.append(
            FeatureSpec(
                f"crm__contacts__{n}d",
                "crm",
                "all",
                f"{n}d",
                "Int32",
                0.0,
                f"contacts dated in (C-{n}d, C]",
            )
        )
    out.append(
        FeatureSpec(
            "crm__open_deals_n",
            "crm",
            "all",
            "",
            "Int32",
            0.0,
            "deals opened on or before C and not closed on or before C",
        )
    )
    return out
