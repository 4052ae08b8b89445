"""Eligibility rules and cooldown for one (cutoff, target).

Rules are evaluated in the order of ``RULES`` on the rows that survived the earlier
rules, so each excluded account is counted under exactly one rule and
``candidates - eligible == sum(exclusions.values())``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from gosales_assets.lib.whitespace.settings import WhitespaceSettings

RULES = ("missing_p_icp", "owns_target", "open_deal", "recent_contact")


@dataclass(frozen=True)
class EligibilityOutcome:
    eligible: pl.DataFrame  # the surviving candidate rows, input order
    excluded: pl.DataFrame  # customer_id, rule
    exclusions: dict[str, int]  # every rule of RULES, 0 when not triggered
    readmitted: dict[str, int]  # {"lapsed_owner": n}
    notes: tuple[str, ...]


def _require(frame: pl.DataFrame, cols: list[str], why: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"rank_whitespace: missing column(s) {missing} ({why})")


def _flag(frame: pl.DataFrame, col: str, notes: list[str]) -> pl.Expr:
    """A boolean input column; null is treated as True (conservative) and noted."""
    nulls = frame[col].null_count()
    if nulls:
        notes.append(f"{nulls} null value(s) in {col!r} treated as true")
    return pl.col(col).cast(pl.Boolean).fill_null(True)


def owner_expressions(
    frame: pl.DataFrame, settings: WhitespaceSettings, notes: list[str]
) -> tuple[pl.Expr, pl.Expr]:
    """``(owner, readmit)`` boolean expressions for the configured ownership rule.

    - ``recent``: active target install base, or a target line within
      ``owner_recency_days`` before the cutoff (``last_target_purchase_days``).
    - ``ever``: active install base or ``owns_ever`` (lifetime net target GP > 0).
    - ``none``: nobody is an owner.

    ``readmit``: an owner without an active install whose last target line is known
    and more than ``lapsed_readmit_days`` old is eligible again.
    """
    e = settings.eligibility
    if e.exclude_owners == "none":
        return pl.lit(False), pl.lit(False)
    cols = ["active_target_install", "last_target_purchase_days"]
    if e.exclude_owners == "ever":
        cols.append("owns_ever")
    _require(frame, cols, f"ownership rule {e.exclude_owners!r}")
    active = _flag(frame, "active_target_install", notes)
    days = pl.col("last_target_purchase_days").cast(pl.Float64)
    if e.exclude_owners == "recent":
        owner = active | (days <= e.owner_recency_days).fill_null(False)
    else:
        owner = active | _flag(frame, "owns_ever", notes)
    if e.lapsed_readmit_days is None:
        readmit = pl.lit(False)
    else:
        readmit = owner & ~active & (days > e.lapsed_readmit_days).fill_null(False)
    return owner, readmit


def apply_eligibility(
    candidates: pl.DataFrame, settings: WhitespaceSettings
) -> EligibilityOutcome:
    """Apply every configured rule, in order, and count what each one removed."""
    notes: list[str] = []
    e = settings.eligibility
    owner, readmit = owner_expressions(candidates, settings, notes)
    p = pl.col("p_icp").cast(pl.Float64)
    rules: dict[str, pl.Expr] = {
        "missing_p_icp": p.is_null() | ~p.is_finite().fill_null(False),
        "owns_target": owner & ~readmit,
        "open_deal": pl.lit(False),
        "recent_contact": pl.lit(False),
    }
    if e.exclude_open_deal:
        if "open_deal" in candidates.columns:
            rules["open_deal"] = pl.col("open_deal").cast(pl.Boolean).fill_null(False)
        else:
            notes.append("open_deal column absent: open-deal rule not applied")
    if e.exclude_contacted_days is not None:
        if "last_contact_days" in candidates.columns:
            rules["recent_contact"] = (
                pl.col("last_contact_days").cast(pl.Float64) <= e.exclude_contacted_days
            ).fill_null(False)
        else:
            notes.append("last_contact_days column absent: contact rule not applied")
    rule_of = pl.lit(None, dtype=pl.String)
    for name in reversed(RULES):  # first matching rule wins
        rule_of = pl.when(rules[name]).then(pl.lit(name)).otherwise(rule_of)
    tagged = candidates.with_columns(rule_of.alias("_rule"), readmit.alias("_readmit"))
    excluded = tagged.filter(pl.col("_rule").is_not_null()).select(
        "customer_id", pl.col("_rule").alias("rule")
    )
    counts = excluded["rule"].value_counts()
    by_rule = dict(
        zip(counts["rule"].to_list(), counts["count"].to_list(), strict=True)
    )
    exclusions = {name: int(by_rule.get(name, 0)) for name in RULES}
    # owners re-admitted by the lapsed rule (a later rule may still exclude them)
    n_readmit = tagged.filter(
        pl.col("_readmit") & (pl.col("_rule") != "missing_p_icp").fill_null(True)
    ).height
    eligible = tagged.filter(pl.col("_rule").is_null()).drop("_rule", "_readmit")
    return EligibilityOutcome(
        eligible=eligible,
        excluded=excluded.sort("customer_id"),
        exclusions=exclusions,
        readmitted={"lapsed_owner": n_readmit},
        notes=tuple(notes),
    )


def cooldown_dates(
    customer_ids: pl.Series,
    history: pl.DataFrame | None,
    cutoff: dt.date,
    target: str,
    settings: WhitespaceSettings,
) -> pl.Series:
    """Latest earlier cutoff (within the cooldown) that surfaced each account.

    ``history``: earlier whitespace rows ``cutoff, customer_id, target`` and
    optionally ``selected`` (then only selected rows count as surfaced). A row counts
    when its target is ``target`` and ``cutoff - cooldown.days <= row.cutoff <
    cutoff``: the current cutoff itself never counts (re-running a partition cannot
    damp itself) and later cutoffs are never read. Returns a Date series aligned to
    ``customer_ids`` (null = not cooled).
    """
    empty = pl.Series("last_surfaced", [None] * len(customer_ids), dtype=pl.Date)
    if history is None or settings.cooldown.days <= 0 or history.height == 0:
        return empty
    for col in ("cutoff", "customer_id", "target"):
        if col not in history.columns:
            raise ValueError(f"cooldown history: missing column {col!r}")
    start = cutoff - dt.timedelta(days=settings.cooldown.days)
    h = history.filter(
        (pl.col("target") == target)
        & (pl.col("cutoff").cast(pl.Date) < cutoff)
        & (pl.col("cutoff").cast(pl.Date) >= start)
    )
    if "selected" in h.columns:
        h = h.filter(pl.col("selected").fill_null(False))
    last = h.group_by(pl.col("customer_id").cast(pl.String)).agg(
        pl.col("cutoff").cast(pl.Date).max().alias("last_surfaced")
    )
    ids = pl.DataFrame({"customer_id": customer_ids.cast(pl.String)})
    joined = ids.join(last, on="customer_id", how="left", maintain_order="left")
    return joined["last_surfaced"]
