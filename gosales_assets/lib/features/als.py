"""ALS embeddings of the account x SKU matrix, and the target similarity feature.

Matrix: customers x SKUs with positive net GP over the ALS lookback window
``(add_months(C, -lookback_months), C]``; confidence ``1 + alpha * log1p(gp)`` (always
>= 1; returns never make a negative entry, B30). Rows and columns are sorted by id, the
model is seeded and single-threaded (BLAS limited to one thread), so the same input
gives byte-identical factors.

Method: ``implicit`` ALS when there are at least 2 customers, 2 SKUs and
``MIN_NNZ_PER_FACTOR * factors`` interactions; otherwise, or if implicit fails or
returns non-finite factors, a deterministic truncated SVD (eigen-decomposition of the
small Gram matrix, fixed signs). ``info["method"]`` and ``info["reason"]`` say which
and why. No interaction at all gives zero factors with method ``none``. Customers
without an interaction get a zero vector (counted in the info).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.features.naming import tgt
from gosales_assets.lib.features.prepare import Prepared, prepare
from gosales_assets.lib.features.result import SCALE, AlsResult, FeatureResult
from gosales_assets.lib.features.snapshot import StarSnapshot
from gosales_assets.lib.labels import target_predicate

try:  # imported at load time so BLAS libraries exist before threadpool limits apply
    from implicit.cpu.als import AlternatingLeastSquares
except ImportError as _err:  # degrade to the SVD, with the reason in the info
    AlternatingLeastSquares = None
    _IMPORT_ERROR: str | None = f"{type(_err).__name__}: {_err}"
else:
    _IMPORT_ERROR = None

log = logging.getLogger("gosales.features.als")
MIN_NNZ_PER_FACTOR = 10


def _prepared(
    snap: StarSnapshot, cfg: GosalesConfig, base: FeatureResult | None
) -> Prepared:
    prep = base.prepared if base is not None else None
    if isinstance(prep, Prepared) and prep.matches(snap, cfg):
        return prep
    return prepare(snap, cfg)


def _frame(key: str, ids: list[str], mat: np.ndarray, names: list[str]) -> pl.DataFrame:
    cols = {key: pl.Series(key, ids, dtype=pl.String)}
    for j, name in enumerate(names):
        cols[name] = pl.Series(name, mat[:, j], dtype=pl.Float64)
    return pl.DataFrame(cols)


def _svd(m: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """User and item factors (U sqrt(S), V sqrt(S)), zero-padded to k columns."""
    n_u, n_i = m.shape
    item_side = n_i <= n_u
    gram = (m.T @ m if item_side else m @ m.T).toarray().astype(np.float64)
    with threadpool_limits(1):
        lam, vec = np.linalg.eigh(gram)
    order = np.argsort(-lam, kind="stable")
    lam, vec = lam[order], vec[:, order]
    tol = max(float(lam[0]) if lam.size else 0.0, 0.0) * 1e-10
    r = int(min(k, int((lam > tol).sum())))
    lam, vec = lam[:r], vec[:, :r]
    for j in range(r):  # fixed sign: the largest-magnitude entry is positive
        if vec[int(np.argmax(np.abs(vec[:, j]))), j] < 0:
            vec[:, j] = -vec[:, j]
    s = np.sqrt(lam)
    if item_side:
        items = vec * np.sqrt(s)
        users = np.asarray(m @ vec) / np.sqrt(s)
    else:
        users = vec * np.sqrt(s)
        items = np.asarray(m.T @ vec) / np.sqrt(s)
    pad_u, pad_i = np.zeros((n_u, k)), np.zeros((n_i, k))
    pad_u[:, :r], pad_i[:, :r] = users, items
    return pad_u, pad_i, r


def _implicit(m: sp.csr_matrix, cfg: GosalesConfig) -> tuple[np.ndarray, np.ndarray]:
    a = cfg.features.als
    if AlternatingLeastSquares is None:
        raise ImportError(f"implicit is not available ({_IMPORT_ERROR})")
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=a.factors,
            regularization=a.regularization,
            alpha=1.0,  # the matrix already holds the confidence
            iterations=a.iterations,
            calculate_training_loss=False,
            num_threads=a.threads,
            random_state=a.seed,
        )
        model.fit(m, show_progress=False)
    users = np.asarray(model.user_factors, dtype=np.float64)
    items = np.asarray(model.item_factors, dtype=np.float64)
    if not (np.isfinite(users).all() and np.isfinite(items).all()):
        raise FloatingPointError("implicit returned non-finite factors")
    return users, items


def build_als(
    snap: StarSnapshot, cfg: GosalesConfig, *, base: FeatureResult | None = None
) -> AlsResult:
    """Customer and SKU factors at ``snap.cutoff`` (see the module docstring).

    ``base`` (optional) lets the call reuse the preparation of
    ``build_customer_base`` on the same snapshot object; the result is identical.
    """
    a = cfg.features.als
    prep = _prepared(snap, cfg, base)
    names = list(prep.lay.als)
    k = len(names)
    roster = prep.roster.get_column("customer_id").to_list()
    inter = (
        prep.cust_sku.filter(pl.col("gp_als") > 0)
        .select("customer_id", "sku", (pl.col("gp_als") / SCALE).alias("gp"))
        .sort("customer_id", "sku")
    )
    sku_ids = sorted(
        set(prep.g.sku.get_column("sku").drop_nulls().to_list())
        | set(inter.get_column("sku").to_list())
    )
    info: dict[str, Any] = {
        "cutoff": prep.g.cutoff.isoformat(),
        "enabled": a.enabled,
        "factors": k,
        "iterations": a.iterations,
        "regularization": a.regularization,
        "alpha": a.alpha,
        "lookback_months": a.lookback_months,
        "seed": a.seed,
        "threads": a.threads,
        "deterministic": a.threads == 1,
        "min_interactions": MIN_NNZ_PER_FACTOR * k,
        "interactions": inter.height,
    }
    users_full, items_full = np.zeros((len(roster), k)), np.zeros((len(sku_ids), k))
    u_df = inter.select("customer_id").unique().sort("customer_id").with_row_index("u")
    i_df = inter.select("sku").unique().sort("sku").with_row_index("i")
    n_u, n_i = u_df.height, i_df.height
    info["customers_with_factors"] = n_u if a.enabled else 0
    info["customers_without_interactions"] = len(roster) - n_u
    if not a.enabled:
        info.update(method="disabled", reason="features.als.enabled is false")
    elif inter.height == 0:
        info.update(method="none", reason="no positive-GP interaction in the lookback")
    else:
        coo = inter.join(u_df, on="customer_id").join(i_df, on="sku").sort("u", "i")
        conf = 1.0 + a.alpha * np.log1p(coo.get_column("gp").to_numpy())
        m = sp.csr_matrix(
            (
                conf.astype(np.float32),
                (coo.get_column("u").to_numpy(), coo.get_column("i").to_numpy()),
            ),
            shape=(n_u, n_i),
        )
        m.sort_indices()
        enough = n_u >= 2 and n_i >= 2 and inter.height >= MIN_NNZ_PER_FACTOR * k
        users = items = None
        if enough:
            try:
                users, items = _implicit(m, cfg)
                info.update(method="implicit_als", reason="")
            except Exception as err:  # any failure degrades to the SVD, with reason
                log.warning("implicit ALS failed, using SVD: %s", err)
                info["reason"] = f"implicit failed: {type(err).__name__}: {err}"
        else:
            info["reason"] = (
                f"too few interactions ({inter.height} < {MIN_NNZ_PER_FACTOR * k}) or "
                f"fewer than 2 customers/SKUs ({n_u}/{n_i})"
            )
        if users is None or items is None:
            users, items, rank = _svd(m.astype(np.float64), k)
            info.update(method="svd", svd_rank=rank)
        r_idx = (
            prep.roster.with_row_index("r")
            .join(u_df, on="customer_id")
            .sort("u")
            .get_column("r")
            .to_numpy()
        )
        s_idx = (
            pl.DataFrame({"sku": sku_ids}, schema={"sku": pl.String})
            .with_row_index("s")
            .join(i_df, on="sku")
            .sort("i")
            .get_column("s")
            .to_numpy()
        )
        users_full[r_idx] = users
        items_full[s_idx] = items
    log.info("ALS at %s: %s (%s)", info["cutoff"], info["method"], info["reason"])
    return AlsResult(
        customer_factors=_frame("customer_id", roster, users_full, names),
        sku_factors=_frame("sku", sku_ids, items_full, names),
        info=info,
    )


def als_similarity(
    prep: Prepared, als: AlsResult, skus: list[str]
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """``tgt__als_sim``: cosine of each customer's vector with the owners' centroid.

    Owners: net GP > 0 on the target's SKUs within the ALS lookback at C.
    """
    names = list(prep.lay.als)
    roster = prep.roster
    x_frame = roster.join(als.customer_factors, on="customer_id", how="left").sort(
        "customer_id"
    )
    missing = x_frame.filter(pl.col(names[0]).is_null()).height
    x = x_frame.select(names).fill_null(0.0).to_numpy().astype(np.float64)
    owners = (
        prep.cust_sku.filter(target_predicate(skus))
        .group_by("customer_id")
        .agg(pl.col("gp_als").sum())
        .filter(pl.col("gp_als") > 0)
    )
    mask = x_frame.get_column("customer_id").is_in(owners.get_column("customer_id"))
    mask_np = mask.to_numpy()
    info: dict[str, Any] = {
        "als_method": als.info.get("method"),
        "als_sim_owners": int(mask_np.sum()),
        "als_missing_customers": missing,
    }
    sim = np.zeros(x.shape[0])
    centroid = x[mask_np].mean(axis=0) if mask_np.any() else np.zeros(x.shape[1])
    c_norm = float(np.linalg.norm(centroid))
    if c_norm == 0.0:
        info["als_sim_flag"] = (
            "no target owners in the ALS lookback"
            if not mask_np.any()
            else "owners have zero vectors (ALS disabled or without factors)"
        )
    else:
        norms = np.linalg.norm(x, axis=1)
        dots = x @ centroid
        np.divide(dots, norms * c_norm, out=sim, where=norms > 0)
    frame = x_frame.select("customer_id").with_columns(
        pl.Series(tgt("als_sim"), np.clip(sim, -1.0, 1.0))
    )
    return frame, info
