"""Whitespace capacity, the cross-division list and its division cap, exports and
byte-for-byte reproducibility."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from gosales_assets.lib.whitespace import (
    WhitespaceSettings,
    cross_division,
    export_whitespace,
    rank_whitespace,
    write_whitespace_csv,
)
from gosales_assets_tests.test_whitespace_fixtures import (
    CUTOFF,
    TARGET,
    frame,
    ranked_frame,
    signals_frame,
)

S = WhitespaceSettings()


def selected(cands: pl.DataFrame, settings: WhitespaceSettings) -> list[str]:
    r = rank_whitespace(cands, settings, CUTOFF, TARGET).ranked
    return r.filter("selected")["customer_id"].to_list()


def twenty() -> pl.DataFrame:
    """20 accounts, p_icp descending with the id; reps R1 (12) / R2 (8)."""
    return frame(
        [
            {
                "customer_id": f"C{i:02d}",
                "p_icp": 0.99 - i / 100,
                "rep": "R1" if i < 12 else "R2",
                "industry": "I1" if i % 4 else "I2",
                "region": "G1" if i < 15 else "G2",
            }
            for i in range(20)
        ]
    )


# -- capacity ----------------------------------------------------------------------


def test_top_share_overall() -> None:
    assert selected(twenty(), S) == ["C00", "C01"]
    wider = S.replace(**{"capacity.top_share": 0.25})
    assert selected(twenty(), wider) == ["C00", "C01", "C02", "C03", "C04"]
    assert selected(twenty().head(3), S) == ["C00"]  # at least one


def test_per_rep_capacity() -> None:
    s = S.replace(**{"capacity.mode": "per_rep", "capacity.per_rep_max": 3})
    assert selected(twenty(), s) == ["C00", "C01", "C02", "C12", "C13", "C14"]
    s2 = s.replace(**{"capacity.per_rep_max": 1})
    assert selected(twenty(), s2) == ["C00", "C12"]
    # no per_rep_max: top_share of each rep (floor, at least one)
    s3 = s.replace(**{"capacity.per_rep_max": None, "capacity.top_share": 0.25})
    assert selected(twenty(), s3) == ["C00", "C01", "C02", "C12", "C13"]


def test_per_segment_capacity_and_segment_column() -> None:
    s = S.replace(**{"capacity.mode": "per_segment", "capacity.top_share": 0.2})
    # industry I2 = C00, C04, C08, C12, C16 (5 -> 1); I1 = 15 others (-> 3)
    assert selected(twenty(), s) == ["C00", "C01", "C02", "C03"]
    by_region = s.replace(**{"capacity.segment_column": "region"})
    # region G1 = C00..C14 (15 -> 3); G2 = C15..C19 (5 -> 1)
    assert selected(twenty(), by_region) == ["C00", "C01", "C02", "C15"]


def test_capacity_modes_need_their_columns() -> None:
    s = S.replace(**{"capacity.mode": "per_rep"})
    with pytest.raises(ValueError, match="rep"):
        rank_whitespace(twenty().drop("rep"), s, CUTOFF, TARGET)


def test_rank_ties_broken_by_p_icp_then_id() -> None:
    cands = frame(
        [
            {"customer_id": "b", "p_icp": 0.5},
            {"customer_id": "a", "p_icp": 0.5},
            {"customer_id": "c", "p_icp": 0.5},
        ]
    )
    r = rank_whitespace(cands, S, CUTOFF, TARGET).ranked
    assert r["customer_id"].to_list() == ["a", "b", "c"]
    assert r["rank"].to_list() == [1, 2, 3]
    assert len(set(r["score"].to_list())) == 1


# -- cross-division list -----------------------------------------------------------


def three_targets() -> dict[str, pl.DataFrame]:
    """T1 outscores T2 outscores T3 on every account; 10 distinct accounts selected."""
    ids = [f"C{i:02d}" for i in range(20)]
    return {
        "T1": ranked_frame(
            "T1", {c: 0.9 - i / 100 for i, c in enumerate(ids)}, set(ids[0:4])
        ),
        "T2": ranked_frame(
            "T2", {c: 0.6 - i / 100 for i, c in enumerate(ids)}, set(ids[4:8])
        ),
        "T3": ranked_frame(
            "T3", {c: 0.5 - i / 100 for i, c in enumerate(ids)}, set(ids[8:10])
        ),
    }


def test_division_cap_binds_over_the_full_list() -> None:
    uncapped = cross_division(
        three_targets(), S.replace(**{"capacity.division_share_cap": None})
    )
    assert uncapped.frame["target"].to_list() == ["T1"] * 10  # T1 would take it all
    capped = cross_division(three_targets(), S)  # cap 0.3 of 10 slots -> 3
    f = capped.frame
    shares = f.group_by("target").len()
    assert dict(shares.iter_rows()) == {"T1": 3, "T2": 3, "T3": 3}
    for _, n in shares.iter_rows():
        assert n <= 0.3 * capped.counts["list_size"]
    assert f["customer_id"].to_list() == [f"C{i:02d}" for i in range(9)]
    assert f["target"].to_list() == ["T1"] * 3 + ["T2"] * 3 + ["T3"] * 3
    # freed slots went to rows outside the per-target selections (C06 on T3)
    assert "C06" in f.filter(pl.col("target") == "T3")["customer_id"].to_list()
    assert capped.counts["slots_unfilled"] == 1  # 3 targets x 3 < 10: the cap wins
    assert capped.counts["moved_off_best_target"] == 6
    assert f["customer_id"].is_unique().all()
    loose = cross_division(
        three_targets(), S.replace(**{"capacity.division_share_cap": 0.4})
    )
    assert dict(loose.frame.group_by("target").len().iter_rows()) == {
        "T1": 4,
        "T2": 4,
        "T3": 2,
    }
    assert loose.counts["slots_unfilled"] == 0


def test_cross_list_best_target_first_and_alternatives() -> None:
    out = cross_division(three_targets(), S).frame
    first = out.row(0, named=True)
    assert first["target"] == "T1" and first["is_best_target"]
    assert first["other_targets"] == "T2; T3"
    moved = out.filter(pl.col("target") == "T2").row(0, named=True)
    assert moved["best_target"] == "T1" and not moved["is_best_target"]


def test_cross_list_keeps_per_rep_quotas() -> None:
    s = S.replace(**{"capacity.mode": "per_rep", "capacity.division_share_cap": None})
    out = cross_division(three_targets(), s)
    # selected accounts C00..C09: reps by id parity -> R0: 5, R1: 5
    assert out.counts["group_quotas"] == {"R0": 5, "R1": 5}
    assert dict(out.frame.group_by("rep").len().iter_rows()) == {"R0": 5, "R1": 5}


# -- exports and determinism -------------------------------------------------------


def run_targets(cands: pl.DataFrame, settings: WhitespaceSettings) -> dict:
    return {
        t: rank_whitespace(
            cands.with_columns(p_icp=(pl.col("p_icp") * k).clip(0, 1)),
            settings,
            CUTOFF,
            t,
        )
        for t, k in (("Alpha", 1.0), ("Beta", 0.9), ("Gamma", 1.1))
    }


def full_run(cands: pl.DataFrame, settings: WhitespaceSettings) -> pl.DataFrame:
    return cross_division(run_targets(cands, settings), settings).frame


def test_rerun_is_byte_identical(tmp_path: Path) -> None:
    cands = signals_frame(30)
    shuffled = cands.sample(fraction=1.0, shuffle=True, seed=3)
    a = write_whitespace_csv(full_run(cands, S), tmp_path / "a.csv")
    b = write_whitespace_csv(full_run(shuffled, S), tmp_path / "b.csv")
    assert a.read_bytes() == b.read_bytes()
    text = a.read_text()
    assert "e-" not in text and "-0.000000" not in text
    assert text.splitlines()[0].startswith("list_rank,customer_id,target,score")
    for name, one in run_targets(cands, S).items():
        two = run_targets(shuffled, S)[name]
        x = write_whitespace_csv(one.ranked, tmp_path / f"{name}_1.csv")
        y = write_whitespace_csv(two.ranked, tmp_path / f"{name}_2.csv")
        assert x.read_bytes() == y.read_bytes()
        assert one.metadata() == two.metadata()


def test_export_writes_per_rep_files(tmp_path: Path) -> None:
    s = S.replace(**{"capacity.mode": "per_rep", "capacity.per_rep_max": 2})
    out = full_run(signals_frame(30), s)
    (tmp_path / f"whitespace_{CUTOFF}_rep_stale.csv").write_text("old")
    paths = export_whitespace(out, tmp_path, CUTOFF, s)
    names = sorted(p.name for p in paths)
    assert names == [
        f"whitespace_{CUTOFF}.csv",
        f"whitespace_{CUTOFF}_rep_r0.csv",
        f"whitespace_{CUTOFF}_rep_r1.csv",
        f"whitespace_{CUTOFF}_rep_r2.csv",
    ]
    assert not (tmp_path / f"whitespace_{CUTOFF}_rep_stale.csv").exists()
    r0 = pl.read_csv(tmp_path / f"whitespace_{CUTOFF}_rep_r0.csv")
    assert set(r0["rep"].to_list()) == {"R0"}
    overall = export_whitespace(out, tmp_path / "o", dt.date(2025, 1, 31), S)
    assert [p.name for p in overall] == ["whitespace_2025-01-31.csv"]
