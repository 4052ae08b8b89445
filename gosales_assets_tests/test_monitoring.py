"""Drift monitoring logic (lib.monitoring): PSI and KS at the reference's resolution,
noise floors, segments, statuses, rate drift, check outcomes and the store queries
that choose the reference and read labels only from windows closed by C."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from gosales_assets.config_sections import MonitoringConfig, RateTolerance
from gosales_assets.lib.monitoring import (
    assign_status,
    compare,
    drift_outcomes,
    ks_statistic,
    psi,
    quantile_edges,
    rate_drift,
)
from gosales_assets.lib.monitoring.checks import values_valid
from gosales_assets.lib.monitoring.drift import SEGMENT
from gosales_assets.lib.monitoring.stats import (
    Grouping,
    Support,
    bin_shares,
    grouped_supports,
    ks_points,
    measure,
    psi_noise_floor,
)
from gosales_assets.lib.monitoring.store import (
    calibration_drift,
    model_training_reference,
    prevalence_drift,
    previous_reference,
)
from gosales_assets.lib.store import Store, replace_partition_frame

C = dt.date(2024, 12, 31)
REF = dt.date(2024, 6, 30)
LREF = dt.date(2024, 3, 31)


def settings(**kw: object) -> MonitoringConfig:
    return MonitoringConfig(**{"ignore_features": (), **kw})


# ---------------------------------------------------------------------------- stats


def test_psi_is_zero_for_equal_samples_and_grows_with_a_shift():
    rng = np.random.default_rng(1)
    ref = rng.normal(0, 1, 5000)
    assert psi(ref, ref)[0] == 0.0
    small, _ = psi(ref, ref + 0.1)
    large, bins = psi(ref, ref + 1.0)
    assert 0 < small < 0.1 < 0.25 < large
    assert bins == 10


def test_quantile_edges_keep_mass_points_inside_one_bin():
    ref = np.array([0.0] * 6 + [1.0, 2.0, 3.0, 4.0])
    edges = quantile_edges(ref, 5)
    # the zeros are one bin (60% > three quantile steps), edges halfway between
    # distinct values, never on one
    assert edges.tolist() == [0.5, 2.5]
    assert not np.isin(edges, ref).any()
    shares = bin_shares(ref, edges, 1e-4)
    assert shares[0] == pytest.approx(0.6, rel=1e-3)
    # a constant reference separates below / exactly / above
    const = quantile_edges(np.array([5.0, 5.0, 5.0]), 10)
    assert const[1] == 5.0 and const[0] < 5.0
    assert psi(np.array([5.0] * 50), np.array([5.0] * 40 + [6.0] * 10))[0] > 0.25


def test_an_encoded_value_that_moves_less_than_half_a_gap_is_not_drift():
    """Group encodings (a rate per region) are re-estimated at each cutoff: the
    values move a little while the accounts stay. Mass moving between the values
    is drift."""
    ref = np.repeat([0.30, 0.40, 0.50], [100, 100, 100])
    moved = np.repeat([0.31, 0.41, 0.49], [100, 100, 100])
    assert psi(ref, moved)[0] == pytest.approx(0.0, abs=1e-9)
    assert ks_statistic(ref, moved) == 0.0
    remixed = np.repeat([0.30, 0.40, 0.50], [30, 100, 170])
    assert psi(ref, remixed)[0] > 0.25 and ks_statistic(ref, remixed) > 0.2


def test_ks_is_the_largest_cdf_gap_at_the_reference_points():
    rng = np.random.default_rng(7)
    for _ in range(100):
        a = np.round(rng.normal(0, 1, rng.integers(1, 40)), rng.integers(0, 2))
        b = np.round(rng.normal(0.5, 1, rng.integers(1, 40)), rng.integers(0, 2))
        pts = ks_points(a)
        brute = np.max(
            np.abs((a[:, None] <= pts).mean(0) - (b[:, None] <= pts).mean(0))
        )
        assert ks_statistic(a, b) == pytest.approx(brute, abs=1e-12)
    assert ks_statistic(np.arange(10.0), np.arange(10.0) + 100) == 1.0
    # values beyond the reference's range are seen
    assert ks_statistic(np.arange(10.0), np.arange(10.0) - 100) == 1.0


def test_missing_values_are_dropped_and_empty_samples_refused():
    ref = np.array([1.0, 2.0, np.nan, np.inf])
    assert psi(ref, np.array([1.0, 2.0]))[0] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="no finite value"):
        psi(np.array([np.nan]), np.array([1.0]))
    with pytest.raises(ValueError, match="no finite value"):
        ks_statistic(np.array([1.0]), np.array([]))


def test_psi_noise_floor_bounds_false_alarms():
    """Two samples of one distribution pass the floor at level p at most ~p of the
    time (seeded simulation)."""
    rng = np.random.default_rng(3)
    n, p = 200, 0.05
    hits = 0
    for _ in range(400):
        a, b = rng.lognormal(0, 1, n), rng.lognormal(0, 1, n)
        value, bins = psi(a, b)
        hits += value >= psi_noise_floor(np.array([bins]), n, n, p)[0]
    assert hits / 400 <= 0.08
    # the floor shrinks with the sample size
    big = psi_noise_floor(np.array([10]), 100_000, 100_000, p)[0]
    assert big < 0.001 < psi_noise_floor(np.array([10]), 200, 200, p)[0]


# ----------------------------------------------------------- rows, segments, status


def _frames(shift_segment: str | None, n: int = 400) -> tuple[pl.DataFrame, ...]:
    rng = np.random.default_rng(11)
    segs = np.array(["A", "B", "C"], dtype=object)[rng.integers(0, 3, n)]
    segs[:5] = "tiny"

    def frame(shift: bool) -> pl.DataFrame:
        x = rng.lognormal(3, 1, n)
        if shift:
            x = np.where(segs == shift_segment, x * 6, x)
        return pl.DataFrame(
            {
                "customer_id": [f"c{i}" for i in range(n)],
                "spend": x,
                "count": rng.poisson(2, n).astype(float),
                "als_f00": rng.normal(0, 1, n),
                SEGMENT: segs,
            }
        )

    return frame(False), frame(shift_segment is not None)


def test_a_shift_in_one_segment_is_found_in_that_segment():
    ref, cur = _frames("B")
    cfg = settings(segment_column="industry", min_segment_rows=50)
    rows, skipped = compare(
        ref, cur, ["spend", "count", "als_f00"], cfg, ignore=frozenset({"als_f00"})
    )
    assert skipped == {"tiny": [5, 5]}
    rows = assign_status(rows, cfg)
    # ignored features: all accounts only, never alerting
    ignored = rows.filter(pl.col("feature") == "als_f00")
    assert ignored["segment"].to_list() == ["*"]
    assert ignored["status"].to_list() == ["ignored"]
    firing = rows.filter(pl.col("status") == "error")
    # a third of the accounts: visible over all accounts too, never in A or C
    assert firing.select("feature", "segment").rows() == [
        ("spend", "*"),
        ("spend", "B"),
    ]
    psis = dict(firing.select("segment", "psi").rows())
    assert psis["B"] > psis["*"]
    b = rows.filter((pl.col("feature") == "spend") & (pl.col("segment") == "B"))
    assert b["psi"][0] > b["psi_floor"][0] > 0
    # rows are sorted and unique per (kind, feature, segment_by, segment)
    keys = rows.select("kind", "feature", "segment_by", "segment")
    assert keys.rows() == sorted(keys.rows()) and keys.is_unique().all()


def test_no_shift_no_alarm_and_segments_off():
    ref, cur = _frames(None)
    cfg = settings(segment_column=None)
    rows, skipped = compare(ref, cur, ["spend", "count"], cfg)
    rows = assign_status(rows, cfg)
    assert skipped == {} and set(rows["segment"]) == {"*"}
    assert set(rows["status"]) == {"ok"}


def test_floors_raise_thresholds_for_small_samples():
    cfg = settings(segment_column=None)
    ref = pl.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]})
    cur = pl.DataFrame({"x": [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]})
    rows = assign_status(compare(ref, cur, ["x"], cfg)[0], cfg)
    row = rows.row(0, named=True)
    assert row["psi"] > cfg.psi.error  # large PSI, but six rows prove nothing
    assert row["psi_floor"] > row["psi"] and row["status"] == "ok"


# ------------------------------------------------------------------ rates, outcomes


def test_rate_drift_tolerance():
    tol = RateTolerance(absolute=0.02, relative=0.5)
    ok = rate_drift("prevalence", (0.10, "labels", REF), (0.14, "labels", C), tol)
    assert ok.tolerance == pytest.approx(0.05) and ok.status == "ok"
    bad = rate_drift("prevalence", (0.10, "labels", REF), (0.16, "labels", C), tol)
    assert bad.status == "warn" and bad.gap == pytest.approx(0.06)
    rare = rate_drift("prevalence", (0.01, "labels", REF), (0.025, "labels", C), tol)
    assert rare.tolerance == 0.02 and rare.status == "ok"  # the absolute floor
    none = rate_drift("calibration", (None, "labels", None), (None, "s", None), tol)
    assert none.status == "no_data" and none.gap is None


def _rows(psis: dict[str, float], score_psi: float = 0.0) -> pl.DataFrame:
    items = [*psis.items(), ("p_icp", score_psi)]
    frame = pl.DataFrame(
        {
            "kind": ["feature"] * len(psis) + ["score"],
            "feature": [k for k, _ in items],
            "family": ["rfm"] * len(psis) + ["score"],
            "segment_by": ["*"] * len(items),
            "segment": ["*"] * len(items),
            "ignored": [False] * len(items),
            "psi": [v for _, v in items],
            "ks": [0.01] * len(items),
            "bins": [10] * len(items),
            "n_reference": [100_000] * len(items),
            "n_current": [100_000] * len(items),
            "mean_reference": [1.0] * len(items),
            "mean_current": [1.0] * len(items),
        }
    )
    return assign_status(frame, settings())


def test_outcomes_name_the_offending_features_top_by_psi():
    cfg = settings(top_n=2)
    rows = _rows({"a": 0.5, "b": 0.12, "c": 0.3, "d": 0.01}, score_psi=0.3)
    prevalence = rate_drift(
        "prevalence", (0.1, "labels", REF), (0.3, "labels", C), cfg.prevalence
    )
    calibration = rate_drift(
        "calibration",
        (None, "", None),
        (None, "", None),
        cfg.calibration,
        note="no labelled scores yet",
    )
    rates = [prevalence, calibration]
    out = {o.name: o for o in drift_outcomes(rows, rates, cfg, REF)}
    warn = out["feature_psi"]
    assert not warn.passed and warn.severity == "WARN"
    assert warn.metadata["offending_count"] == 3
    assert [f["feature"] for f in warn.metadata["offending_top"]] == ["a", "c"]
    err = out["feature_psi_error"]
    assert not err.passed and err.severity == "ERROR"
    assert err.metadata["offending_count"] == 2
    assert out["feature_ks"].passed and out["feature_ks_error"].passed
    assert not out["score_psi"].passed and out["score_psi"].severity == "ERROR"
    # failed drift ERRORs alert but never block the write
    assert not err.blocks and not out["score_psi"].blocks
    assert out["drift_values_valid"].blocking
    assert not out["prevalence_drift"].passed
    cal = out["calibration_drift"]
    assert cal.passed and cal.metadata["note"] == "no labelled scores yet"
    assert out["drift_values_valid"].passed


def test_values_valid_blocks_non_finite_and_duplicates():
    rows = _rows({"a": 0.1})
    assert values_valid(rows).passed
    nan_psi = pl.when(pl.col("feature") == "a").then(np.nan).otherwise(pl.col("psi"))
    broken = rows.with_columns(nan_psi.alias("psi"))
    outcome = values_valid(broken)
    assert not outcome.passed and outcome.blocks
    assert not values_valid(pl.concat([rows, rows])).passed


# ------------------------------------------------------------------ store queries


def _write(con, table: str, frame: pl.DataFrame, keys: tuple[str, ...]) -> None:
    for part in frame.partition_by(list(keys[:2])):
        replace_partition_frame(
            con,
            table,
            part,
            partition={k: part[k][0] for k in keys[:2]},
            order_by=keys,
        )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "s.duckdb")
    d = dt.date
    with s.transaction() as con:
        _write(
            con,
            "features.feature_matrix",
            pl.DataFrame(
                {
                    "cutoff": [d(2024, 3, 31), d(2024, 6, 30), C],
                    "division": ["T", "T", "T"],
                    "customer_id": ["a", "a", "a"],
                    "x": [1.0, 2.0, 3.0],
                }
            ),
            ("cutoff", "division", "customer_id"),
        )
        _write(
            con,
            "models.training_set",
            pl.DataFrame(
                {
                    "cutoff": [C, C],
                    "division": ["T", "T"],
                    "training_cutoff": [d(2023, 12, 31), REF],
                    "role": ["train", "validation"],
                }
            ),
            ("cutoff", "division", "training_cutoff"),
        )
        _write(
            con,
            "models.registry",
            pl.DataFrame(
                {
                    "cutoff": [d(2024, 9, 30)],
                    "division": ["T"],
                    "training_cutoffs": ["2023-09-30,2024-03-31"],
                }
            ),
            ("cutoff", "division"),
        )
        # labels: a reference (window closed by C), a newer closed one, and one
        # whose window ends after C (must never be read at C)
        labels = pl.DataFrame(
            {
                "cutoff": [LREF] * 4 + [d(2024, 5, 31)] * 4 + [d(2024, 11, 30)] * 4,
                "division": ["T"] * 12,
                "customer_id": ["a", "b", "c", "d"] * 3,
                "label": [1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1],
                "window_end": [d(2024, 9, 30)] * 4
                + [d(2024, 11, 30)] * 4
                + [d(2025, 5, 31)] * 4,
            }
        )
        _write(con, "labels.labels", labels, ("cutoff", "division", "customer_id"))
        scores = pl.DataFrame(
            {
                "cutoff": [d(2024, 5, 31)] * 4 + [d(2024, 11, 30)] * 4,
                "division": ["T"] * 8,
                "customer_id": ["a", "b", "c", "d"] * 2,
                "p_icp": [0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1],
            }
        )
        _write(con, "scoring.icp_scores", scores, ("cutoff", "division", "customer_id"))
    return s


def test_reference_cutoffs(store):
    with store.connect() as con:
        assert model_training_reference(con, C, "T") == REF  # lineage table
        # no lineage rows: the registry's training cutoffs
        assert model_training_reference(con, dt.date(2024, 9, 30), "T") == dt.date(
            2024, 3, 31
        )
        assert model_training_reference(con, dt.date(2020, 1, 31), "T") is None
        assert previous_reference(con, C, "T") == REF
        assert previous_reference(con, dt.date(2024, 3, 31), "T") is None


def test_rates_read_only_label_windows_closed_by_c(store, cfg):
    with store.connect() as con:
        prev = prevalence_drift(con, cfg, C, "T", LREF, 0.2, 0.3)
        cal = calibration_drift(con, cfg, C, "T")
        # at an earlier cutoff nothing newer than the reference has closed
        early = prevalence_drift(con, cfg, dt.date(2024, 10, 31), "T", LREF, 0.2, 0.3)
        # before the reference's own window closed: the mean scores on both sides
        earlier = prevalence_drift(con, cfg, dt.date(2024, 8, 31), "T", LREF, 0.2, 0.3)
    assert prev.base_value == 0.25 and prev.base_source == f"labels@{LREF}"
    # the newest closed window after the reference, never 2024-11-30 (ends 2025-05)
    assert prev.current_source == "labels@2024-05-31" and prev.current_value == 0.5
    assert prev.status == "warn"
    assert cal.base_source == "labels@2024-05-31" and cal.current_value == 0.9
    assert cal.base_value == 0.5 and cal.status == "warn"
    assert early.current_source == "score_mean" and early.current_value == 0.3
    assert early.base_source == f"labels@{LREF}"
    assert earlier.base_source == "score_mean" and earlier.base_value == 0.2
    assert "mean score" in early.note


# ------------------------------------------- one pass per column (equivalence)


def _reference_compare(
    ref: pl.DataFrame, cur: pl.DataFrame, columns: list[str], cfg: MonitoringConfig
) -> pl.DataFrame:
    """The distances computed the plain way: every (column, segment) sample sorted
    on its own by ``measure``."""
    rows = []

    def add(r: pl.DataFrame, c: pl.DataFrame, by: str, seg: str) -> None:
        for name in columns:
            rows.append(
                {
                    "feature": name,
                    "segment_by": by,
                    "segment": seg,
                    **measure(
                        r[name].cast(pl.Float64).to_numpy(),
                        c[name].cast(pl.Float64).to_numpy(),
                        cfg.bins,
                        cfg.epsilon,
                    ),
                }
            )

    add(ref, cur, "*", "*")
    keyed = [f.with_columns(pl.col(SEGMENT).fill_null("(missing)")) for f in (ref, cur)]
    for seg in sorted(set(keyed[0][SEGMENT]) | set(keyed[1][SEGMENT])):
        r, c = (f.filter(pl.col(SEGMENT) == seg) for f in keyed)
        if min(r.height, c.height) >= cfg.min_segment_rows:
            add(r, c, str(cfg.segment_column), seg)
    return pl.DataFrame(rows)


def _mixed_frame(seed: int, n: int, shift: float) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    cont = rng.lognormal(3, 1, n) + shift
    cont[rng.random(n) < 0.05] = np.nan  # dropped, like null
    seg = rng.choice(["A", "B", "C", None], n, p=[0.5, 0.3, 0.19, 0.01])
    return pl.DataFrame(
        {
            "cont": cont,
            "ties": np.round(rng.normal(shift, 1, n), 1),  # many repeated floats
            "whole": np.floor(rng.exponential(4 + shift, n)),  # whole-valued floats
            "zeros": np.where(rng.random(n) < 0.5, -0.0, 1.0),  # a negative zero
            "count": rng.poisson(3 + shift, n).astype(np.int32),  # counted
            "wide": (rng.integers(0, 10**9, n) * (1 + int(shift))).astype(np.int64),
            "flag": (rng.random(n) < 0.2 + shift / 10).astype(np.int8),
            SEGMENT: seg,
        },
        schema_overrides={SEGMENT: pl.String},
    )


def test_one_pass_per_column_gives_exactly_the_per_sample_distances():
    ref, cur = _mixed_frame(1, 3000, 0.0), _mixed_frame(2, 2500, 1.0)
    columns = ["cont", "ties", "whole", "zeros", "count", "wide", "flag"]
    cfg = settings(segment_column="industry", min_segment_rows=40)
    rows, skipped = compare(ref, cur, columns, cfg)
    expected = _reference_compare(ref, cur, columns, cfg)
    got = rows.select(expected.columns)
    assert got.rows() == expected.rows()  # bit-for-bit, in the same order
    assert set(skipped) == {"(missing)"}
    assert set(rows["segment"]) == {"*", "A", "B", "C"}


def test_grouped_supports_match_each_group_alone():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 4, 500).astype(np.int16)
    codes[codes == 2] = 1  # group 2 is empty
    for values, integer in (
        (rng.normal(0, 1, 500), False),
        (rng.integers(-5, 6, 500).astype(np.float64), True),
        (np.r_[rng.integers(0, 3, 499), 10**8].astype(np.float64), True),  # wide
    ):
        values[rng.random(500) < 0.1] = np.inf  # not finite: dropped
        whole, parts = grouped_supports(values, Grouping.of(codes, 4), integer=integer)
        for support, sample in [(whole, values)] + [
            (parts[g], values[codes == g]) for g in range(4)
        ]:
            if not np.isfinite(sample).any():
                assert support is None
                continue
            alone = Support.of(sample)
            assert support is not None
            assert support.values.tolist() == alone.values.tolist()
            assert support.counts.tolist() == alone.counts.tolist()
            assert support.mean == alone.mean
