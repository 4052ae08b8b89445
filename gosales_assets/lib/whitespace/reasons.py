"""Top reasons per account as short text a sales rep understands.

``reason_text`` turns the per-row SHAP contributions of the ICP model (the output of
``TrainedModel.explain``: ``customer_id, feature_1, contribution_1, ...``) into
``reason_1..reason_n``. Only positive contributions become reasons (a reason says why
the account is a good prospect); raw feature names never appear in the text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import polars as pl

from gosales_assets.lib.whitespace.formatting import render_combined
from gosales_assets.lib.whitespace.templates import (
    Ctx,
    TemplateKey,
    context_columns,
    division_from_description,
    fallback_text,
    feature_constants,
    has_template,
    phrase_exprs,
    template_key,
)

_SLOT = re.compile(r"feature_(\d+)")
_DIVISION_SLUG = re.compile(
    r"(?:xdiv__owns__|ib__active__)(\w+)|xdiv__gp_share__(\w+?)__"
)


def division_display_names(
    catalog: pl.DataFrame, division_names: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Slug -> display name: from the catalog descriptions, overridden by the map."""
    names: dict[str, str] = {}
    if {"name", "description"} <= set(catalog.columns):
        for name, desc in catalog.select("name", "description").iter_rows():
            m = _DIVISION_SLUG.match(name or "")
            display = division_from_description(desc or "")
            if m and display:
                names.setdefault(m.group(1) or m.group(2), display)
    names.update(division_names or {})
    return names


def _catalog_index(catalog: pl.DataFrame) -> dict[str, dict[str, Any]]:
    cols = [c for c in ("name", "default", "description") if c in catalog.columns]
    if "name" not in cols:
        raise ValueError("reason_text: the catalog needs a 'name' column")
    return {row["name"]: row for row in catalog.select(cols).iter_rows(named=True)}


def _template_phrases(
    frame: pl.LazyFrame, key: TemplateKey, *, target: str, currency: str
) -> pl.LazyFrame:
    """Phrases of the rows whose features share template ``key``."""
    v = pl.col("_value")
    finite = v.is_not_null() & v.is_finite()
    kind, text = phrase_exprs(key, v, Ctx(target=target, currency=currency))
    return frame.select(
        "_row",
        "_slot",
        "_contribution",
        pl.when(finite).then(kind).alias("_kind"),
        pl.when(finite).then(text).alias("_text"),
    ).filter(pl.col("_text").is_not_null())


def _fallback_phrases(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Phrases of catalog features without a template: the description's first
    clause (``_fallback``), never at the catalog default (``_default``)."""
    v, default = pl.col("_value"), pl.col("_default")
    says = v.is_not_null() & v.is_finite() & (default.is_null() | (v != default))
    return frame.filter(says).select(
        "_row",
        "_slot",
        "_contribution",
        pl.lit("text").alias("_kind"),
        pl.col("_fallback").alias("_text"),
    )


def _constant(name: str, value: Any, n: int, dtype: pl.DataType) -> pl.Series:
    return pl.repeat(value, n, dtype=dtype, eager=True).alias(name)


def reason_text(
    contributions: pl.DataFrame,
    feature_values: pl.DataFrame,
    catalog: pl.DataFrame,
    *,
    target: str,
    division_names: Mapping[str, str] | None = None,
    top_n: int = 3,
    currency: str = "$",
) -> pl.DataFrame:
    """Readable top reasons per account.

    - ``contributions``: ``customer_id, feature_1, contribution_1, ...,
      feature_k, contribution_k`` (any k; e.g. ``model.explain(features, top_n=6)``
      gives more candidates when some contributions make no sensible statement).
    - ``feature_values``: ``customer_id`` and the feature columns (the feature
      matrix); optional string columns ``industry`` and ``region`` name the group in
      the industry/region-rate reasons.
    - ``catalog``: ``name, description`` and optionally ``default`` (the feature
      catalog); descriptions name divisions and give the fallback text.
    - ``target``: display name of the target; ``division_names``: column slug ->
      display name (overrides the names parsed from the catalog).

    Returns ``customer_id, reason_1..reason_<top_n>`` (null where there are fewer
    reasons), sorted by ``customer_id``. Contributions are taken largest first;
    non-positive or null ones are skipped; identical phrases are kept once; divisions
    owned / with active installs are merged into one phrase ("owns PDM and
    Simulation") at the position of the first one.

    Vectorized: the contributions are reshaped to one row per (account, slot) with
    the feature's value gathered; the rows of the features sharing a template are
    rendered by one set of polars expressions (a loop over templates and features,
    never over accounts); the phrases are then ranked and pivoted back per account.
    """
    if top_n < 1:
        raise ValueError("reason_text: top_n must be >= 1")
    if "customer_id" not in contributions.columns:
        raise ValueError("reason_text: contributions need a 'customer_id' column")
    slots = sorted(
        int(m.group(1))
        for c in contributions.columns
        if (m := _SLOT.fullmatch(c)) and f"contribution_{m.group(1)}" in contributions
    )
    cat = _catalog_index(catalog)
    names = division_display_names(catalog, division_names)
    features = sorted(
        {
            f
            for i in slots
            for f in contributions[f"feature_{i}"].drop_nulls().unique().to_list()
        }
    )
    text_cols = [c for c in ("industry", "region") if c in feature_values.columns]
    # the last row of a customer id holds its values (null ids match null ids);
    # feature columns are read (as Float64) only for the rows that need them
    keys = (
        feature_values.select(
            pl.col("customer_id").cast(pl.String),
            *[pl.col(c).cast(pl.String) for c in text_cols],
        )
        .with_row_index("_fv_row")
        .unique(subset="customer_id", keep="last", maintain_order=True)
        .with_columns(
            pl.lit(None, pl.String).alias(c)
            for c in ("industry", "region")
            if c not in text_cols
        )
    )
    contrib = (
        contributions.select(
            pl.col("customer_id").cast(pl.String),
            *[pl.col(f"feature_{i}").cast(pl.String) for i in slots],
            *[pl.col(f"contribution_{i}").cast(pl.Float64) for i in slots],
        )
        .sort("customer_id")
        .with_row_index("_row")
    )
    rows = contrib.join(
        keys, on="customer_id", how="left", nulls_equal=True, maintain_order="left"
    )
    code = pl.Enum(features)
    c = pl.col("_contribution")
    long = (
        pl.concat(
            [
                rows.select(
                    "_row",
                    "_fv_row",
                    pl.lit(k, pl.UInt32).alias("_slot"),
                    pl.col(f"feature_{i}").cast(code).to_physical().alias("_code"),
                    pl.col(f"contribution_{i}").alias("_contribution"),
                ).filter(
                    pl.col("_code").is_not_null()
                    & c.is_not_null()
                    & c.is_not_nan()
                    & (c > 0)
                )
                for k, i in enumerate(slots)
            ]
        )
        if slots
        else None
    )
    # one frame per feature (its values gathered), stacked per template key: each
    # key's expressions are built and evaluated once for all its features
    by_key: dict[TemplateKey, list[pl.DataFrame]] = {}
    fallbacks: list[pl.DataFrame] = []
    groups = {} if long is None else long.partition_by("_code", as_dict=True)
    for (feature_code,), group in groups.items():
        feature = features[feature_code]
        entry = cat.get(feature)
        default = None if entry is None else entry.get("default")
        n = group.height
        value = (
            feature_values[feature]
            .gather(group["_fv_row"])
            .cast(pl.Float64)
            .alias("_value")
            if feature in feature_values.columns
            else _constant("_value", None, n, pl.Float64)
        )
        if has_template(feature):
            key = template_key(feature)
            cap = math.inf
            if default is not None and math.isfinite(float(default)):
                cap = float(default)
            extra = [
                _constant(col, text, n, pl.String)
                for col, text in feature_constants(feature, names).items()
            ]
            extra += [rows[col].gather(group["_row"]) for col in context_columns(key)]
            extra.append(_constant("_cap", cap, n, pl.Float64))
            by_key.setdefault(key, []).append(group.hstack([value, *extra]))
            continue
        if entry is None:
            continue  # unknown feature: never show a raw name
        fallback = fallback_text(entry.get("description") or "", target)
        if fallback is None:
            continue
        fallbacks.append(
            group.hstack(
                [
                    value,
                    _constant("_fallback", fallback, n, pl.String),
                    _constant(
                        "_default",
                        None if default is None else float(default),
                        n,
                        pl.Float64,
                    ),
                ]
            )
        )
    phrases = [
        _template_phrases(
            pl.concat(frames).lazy(), key, target=target, currency=currency
        )
        for key, frames in by_key.items()
    ]
    if fallbacks:
        phrases.append(_fallback_phrases(pl.concat(fallbacks).lazy()))
    items = _ranked_items(phrases, top_n)
    out = contrib.select("_row", "customer_id")
    for j in range(top_n):
        out = out.join(
            items.filter(pl.col("_rank") == j).select(
                "_row", pl.col("_reason").alias(f"reason_{j + 1}")
            ),
            on="_row",
            how="left",
            maintain_order="left",
        )
    return out.drop("_row")


def _ranked_items(phrases: list[pl.LazyFrame], top_n: int) -> pl.DataFrame:
    """``_row, _rank, _reason``: the first ``top_n`` distinct phrases of each row.

    Phrases are ordered by contribution (largest first, then slot). A text phrase
    counts once; the phrases of a combinable kind form one item at the position of
    its first phrase, naming every distinct division of that kind in order."""
    schema = {
        "_row": pl.UInt32,
        "_slot": pl.UInt32,
        "_contribution": pl.Float64,
        "_kind": pl.String,
        "_text": pl.String,
    }
    # one template at a time: its intermediate columns are freed before the next
    ordered = pl.concat(
        [lf.collect() for lf in phrases] or [pl.DataFrame(schema=schema)]
    ).sort(["_row", "_contribution", "_slot"], descending=[False, True, False])
    is_text = pl.col("_kind") == "text"
    item_key = pl.when(is_text).then(pl.col("_text")).otherwise(pl.lit(""))
    # rows are sorted by _row: the rank is the distance to the row's first item
    at = pl.int_range(pl.len(), dtype=pl.UInt32)
    starts = pl.col("_row") != pl.col("_row").shift(fill_value=-1)
    items = (
        ordered.filter(pl.struct("_row", "_kind", item_key).is_first_distinct())
        .with_columns((at - pl.when(starts).then(at).forward_fill()).alias("_rank"))
        .filter(pl.col("_rank") < top_n)
    )
    combined = (
        ordered.filter(~is_text)
        .filter(pl.struct("_row", "_kind", "_text").is_first_distinct())
        .group_by("_row", "_kind", maintain_order=True)
        .agg(pl.col("_text").alias("_names"))
        .select(
            "_row",
            "_kind",
            render_combined(pl.col("_kind"), pl.col("_names")).alias("_combined"),
        )
    )
    return items.join(
        combined, on=["_row", "_kind"], how="left", maintain_order="left"
    ).select(
        "_row",
        "_rank",
        pl.when(is_text)
        .then(pl.col("_text"))
        .otherwise(pl.col("_combined"))
        .alias("_reason"),
    )
