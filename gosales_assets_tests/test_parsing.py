"""Number/date parsers and the CSV tokenizer: property tests (never raise, exact)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gosales_assets.lib.ingest_io import EXTRA, NFIELDS, ROW, open_table
from gosales_assets.lib.parsing import format_regex, parse_dates, parse_numbers

FORMATS = ("%Y-%m-%d", "%m/%d/%Y")
FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$1,234.50", 1234.5),
        ("(2,000)", -2000.0),
        ("($2,000.00)", -2000.0),
        ("-12", -12.0),
        (" 3.0 ", 3.0),
        ("-$5", -5.0),
        ("$ 5", 5.0),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("twelve", None),
        ("12,34", None),
        ("1.2.3", None),
        ("nan", None),
        ("inf", None),
        ("1e400", None),
        ("--5", None),
        ("(5", None),
        ("", None),
        (None, None),
    ],
)
def test_number_examples(text: str | None, expected: float | None) -> None:
    assert parse_numbers([text]) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-05", dt.date(2024, 1, 5)),
        (" 2024-01-05 ", dt.date(2024, 1, 5)),
        ("01/05/2024", dt.date(2024, 1, 5)),
        ("1/5/2024", dt.date(2024, 1, 5)),
        ("2024-02-30", None),
        ("2023-02-29", None),
        ("2024-02-29", dt.date(2024, 2, 29)),
        ("24-01-05", None),
        ("-2024-01-05", None),
        ("2024-01-05T00:00", None),
        ("", None),
        (None, None),
    ],
)
def test_date_examples(text: str | None, expected: dt.date | None) -> None:
    assert parse_dates([text], FORMATS) == [expected]


def test_format_regex_unknown_directive_is_not_guarded() -> None:
    assert format_regex("%Y-%m-%d") == r"^[0-9]{4}\-[0-9]{1,2}\-[0-9]{1,2}$"
    assert format_regex("%Y-%Q") is None


@FAST
@given(st.lists(st.one_of(st.none(), st.text(max_size=20)), max_size=20))
def test_parsers_never_raise(values: list[str | None]) -> None:
    numbers = parse_numbers(values)
    dates = parse_dates(values, FORMATS)
    assert len(numbers) == len(dates) == len(values)
    assert all(
        v is None or (isinstance(v, float) and math.isfinite(v)) for v in numbers
    )
    assert all(v is None or isinstance(v, dt.date) for v in dates)


@FAST
@given(st.integers(-(10**12), 10**12), st.booleans(), st.booleans())
def test_currency_text_round_trips(cents: int, dollar: bool, paren: bool) -> None:
    body = f"{'$' if dollar else ''}{abs(cents) / 100:,.2f}"
    negative = f"({body})" if paren else f"-{body}"
    text = negative if cents < 0 else body
    assert parse_numbers([text]) == [pytest.approx(cents / 100)]


@FAST
@given(st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(9999, 12, 31)))
def test_dates_round_trip_in_every_format(day: dt.date) -> None:
    texts = [day.strftime(fmt) for fmt in FORMATS]
    assert parse_dates(texts, FORMATS) == [day, day]


# --- CSV tokenizer agrees with Python's csv module ------------------------------------

FIELD = st.text(alphabet=st.sampled_from(list('ab ,"\n;é')), max_size=6)


def _tokenize(folder: Path, data: str) -> list[list[str | None]]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "t.csv").write_text(data, encoding="utf-8", newline="")
    table = open_table(folder, "t")
    assert table is not None
    frame = table.frame.sort(ROW).collect()
    out: list[list[str | None]] = []
    for row in frame.iter_rows(named=True):
        values = [row[c] for c in table.columns][: row[NFIELDS]]
        out.append(values + list(row[EXTRA] or []))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    header=st.lists(
        st.sampled_from(["a", "b", "c", "d"]), min_size=2, max_size=4, unique=True
    ),
    rows=st.lists(st.lists(FIELD, min_size=1, max_size=5), min_size=1, max_size=6),
    terminator=st.sampled_from(["\n", "\r\n"]),
)
def test_tokenizer_matches_python_csv(
    header: list[str],
    rows: list[list[str]],
    terminator: str,
    tmp_path: Path,
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=terminator)
    writer.writerow(header)
    writer.writerows(rows)
    got = _tokenize(tmp_path / "h", buffer.getvalue())
    assert got == [[f.replace("\r\n", "\n") for f in row] for row in rows]


def test_tokenizer_literal_quotes_and_blank_lines(tmp_path: Path) -> None:
    data = (
        'a,b,c\r\n14,Acme 3" Pipe,16\r\n\r\n"q"junk,"a""",17\r\n'
        '18,"x\r\n\r\ny",19\r\n4,5\r\n'
    )
    assert _tokenize(tmp_path, data) == [
        ["14", 'Acme 3" Pipe', "16"],
        ["qjunk", 'a"', "17"],
        ["18", "x\n\ny", "19"],
        ["4", "5"],
    ]
