"""The one window arithmetic: month-end aware, inclusive at the window end."""

from __future__ import annotations

import datetime as dt

import pytest

from gosales_assets.lib.timeutil import add_months, month_ends, parse_date, window_end

D = dt.date


@pytest.mark.parametrize(
    ("cutoff", "months", "end"),
    [
        (D(2024, 6, 30), 6, D(2024, 12, 31)),  # DATA_CONTRACT examples
        (D(2024, 3, 15), 6, D(2024, 9, 15)),
        (D(2024, 8, 31), 6, D(2025, 2, 28)),
        (D(2024, 2, 29), 12, D(2025, 2, 28)),
        (D(2023, 2, 28), 12, D(2024, 2, 29)),  # month-end stays month-end
        (D(2024, 1, 30), 1, D(2024, 2, 29)),  # clamps into a short month
        (D(2024, 11, 30), 3, D(2025, 2, 28)),
    ],
)
def test_window_end(cutoff, months, end):
    assert window_end(cutoff, months) == end


def test_window_end_refuses_zero():
    with pytest.raises(ValueError, match=">= 1"):
        window_end(D(2024, 1, 31), 0)


def test_add_months_backwards():
    assert add_months(D(2024, 12, 31), -6) == D(2024, 6, 30)


def test_month_ends():
    assert month_ends(D(2024, 1, 15), D(2024, 3, 31)) == [
        D(2024, 1, 31),
        D(2024, 2, 29),
        D(2024, 3, 31),
    ]
    assert month_ends(D(2024, 1, 15), D(2024, 1, 30)) == []


def test_parse_date_message():
    with pytest.raises(ValueError, match="--cutoff: '2024-13-01' is not a date"):
        parse_date("2024-13-01", "--cutoff")


def test_training_cutoffs_close_their_windows():
    from gosales_assets.lib.timeutil import training_cutoffs

    got = training_cutoffs(D(2026, 6, 30), 6, 3, 6)
    assert got == [D(2024, 12, 31), D(2025, 6, 30), D(2025, 12, 31)]
    # mid-month model cutoff: the newest training window must end on or before it
    got = training_cutoffs(D(2026, 6, 15), 6, 2, 3)
    assert got == [D(2025, 8, 31), D(2025, 11, 30)]
    for t in got:
        assert window_end(t, 6) <= D(2026, 6, 15)
    with pytest.raises(ValueError):
        training_cutoffs(D(2026, 6, 30), 6, 0, 6)
