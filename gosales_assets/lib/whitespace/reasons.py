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

from gosales_assets.lib.whitespace.templates import (
    Ctx,
    Phrase,
    division_from_description,
    fallback_text,
    has_template,
    render_combined,
    render_template,
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


def _render(
    feature: str,
    value: float | None,
    ctx: Ctx,
    names: Mapping[str, str],
    catalog: Mapping[str, Mapping[str, Any]],
) -> Phrase | None:
    if value is None or not math.isfinite(value):
        return None
    if has_template(feature):
        return render_template(feature, value, ctx, names)
    entry = catalog.get(feature)
    if entry is None:
        return None  # unknown feature: never show a raw name
    default = entry.get("default")
    if default is not None and value == default:
        return None  # the "nothing known" value is not a reason
    text = fallback_text(entry.get("description") or "", ctx.target)
    return None if text is None else Phrase("text", text)


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
    needed = sorted(
        {
            f
            for i in slots
            for f in contributions[f"feature_{i}"].drop_nulls().unique().to_list()
        }
        & set(feature_values.columns)
    )
    text_cols = [c for c in ("industry", "region") if c in feature_values.columns]
    fv = feature_values.select(
        pl.col("customer_id").cast(pl.String),
        *[pl.col(c).cast(pl.Float64) for c in needed],
        *[pl.col(c).cast(pl.String) for c in text_cols],
    )
    row_of = {cid: i for i, cid in enumerate(fv["customer_id"].to_list())}
    values = {c: fv[c].to_list() for c in needed}
    texts = {c: fv[c].to_list() for c in text_cols}
    caps = {
        name: float(e["default"])
        for name, e in cat.items()
        if e.get("default") is not None and math.isfinite(float(e["default"]))
    }

    contrib = contributions.select(
        pl.col("customer_id").cast(pl.String),
        *[pl.col(f"feature_{i}").cast(pl.String) for i in slots],
        *[pl.col(f"contribution_{i}").cast(pl.Float64) for i in slots],
    ).sort("customer_id")
    ids = contrib["customer_id"].to_list()
    feats = [contrib[f"feature_{i}"].to_list() for i in slots]
    contribs = [contrib[f"contribution_{i}"].to_list() for i in slots]
    out: list[list[str | None]] = [[] for _ in range(top_n)]
    for r, cid in enumerate(ids):
        row = row_of.get(cid)
        order = sorted(
            (-contribs[k][r], k)
            for k in range(len(slots))
            if feats[k][r] is not None
            and contribs[k][r] is not None
            and contribs[k][r] > 0
        )
        ctx_base = {
            key: (texts[key][row] if row is not None and key in texts else None)
            for key in ("industry", "region")
        }
        parts: list[tuple[str, list[str]]] = []
        for _, k in order:
            feature = feats[k][r]
            known = row is not None and feature in values
            value = values[feature][row] if known else None
            ctx = Ctx(
                target=target,
                cap=caps.get(feature, math.inf),
                currency=currency,
                **ctx_base,
            )
            phrase = _render(feature, value, ctx, names, cat)
            if phrase is None:
                continue
            if phrase.kind != "text":
                group = next((p for p in parts if p[0] == phrase.kind), None)
                if group is not None:
                    if phrase.text not in group[1]:
                        group[1].append(phrase.text)
                    continue
            elif any(p[0] == "text" and p[1][0] == phrase.text for p in parts):
                continue
            if len(parts) < top_n:
                parts.append((phrase.kind, [phrase.text]))
        rendered = [
            t[0] if kind == "text" else render_combined(kind, t) for kind, t in parts
        ]
        for i in range(top_n):
            out[i].append(rendered[i] if i < len(rendered) else None)
    return pl.DataFrame(
        {
            "customer_id": pl.Series(ids, dtype=pl.String),
            **{
                f"reason_{i + 1}": pl.Series(out[i], dtype=pl.String)
                for i in range(top_n)
            },
        }
    )
