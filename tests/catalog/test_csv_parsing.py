"""Property-based tests of the CSV reader and the date-format detection."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.csv_dates import DATE_FORMATS, AmbiguousDatesError, detect_date_format
from catalog.csv_purchase_rows import parse_number
from catalog.csv_reading import read_csv
from catalog.errors import ImportFileError

REQUIRED = ("t_dat", "customer_id", "article_id")
# Values avoid leading and trailing spaces (the reader strips them), lone
# surrogates (they cannot be written as UTF-8) and a bare "\r", which
# `csv.writer` leaves unquoted when the line terminator is "\n".
VALUES = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00\r"),
    max_size=12,
).map(str.strip)
ROWS = st.lists(st.tuples(VALUES, VALUES, VALUES), min_size=1, max_size=8)
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _render(rows: list[tuple[str, str, str]], delimiter: str, terminator: str, quoting: int) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=terminator, quoting=quoting)
    writer.writerow(REQUIRED)
    writer.writerows(rows)
    return buffer.getvalue()


@PROPERTY_SETTINGS
@given(
    rows=ROWS,
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    terminator=st.sampled_from(["\n", "\r\n"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    bom=st.booleans(),
)
def test_reader_round_trips_any_layout(
    tmp_path: Path,
    rows: list[tuple[str, str, str]],
    delimiter: str,
    terminator: str,
    quoting: int,
    bom: bool,
) -> None:
    path = tmp_path / "table.csv"
    data = _render(rows, delimiter, terminator, quoting).encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    table = read_csv(path, REQUIRED)

    expected = [dict(zip(REQUIRED, row, strict=True)) for row in rows if any(row)]
    assert table.layout.delimiter == delimiter
    assert table.layout.bom == bom
    assert [row.values for row in table.rows] == expected
    assert all(row.problem is None for row in table.rows)


@PROPERTY_SETTINGS
@given(data=st.binary(max_size=300))
def test_reader_never_crashes_on_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "table.csv"
    path.write_bytes(b"t_dat,customer_id,article_id\n" + data)
    try:
        table = read_csv(path, REQUIRED)
    except ImportFileError:
        return
    for row in table.rows:
        assert row.line >= 2
        assert row.problem is None or "--encoding" in row.problem or "fields" in row.problem


@PROPERTY_SETTINGS
@given(data=st.binary(max_size=200))
def test_reader_header_garbage_raises_cleanly(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "table.csv"
    path.write_bytes(data)
    try:
        read_csv(path, REQUIRED)
    except ImportFileError as error:
        assert str(path) in str(error) or "encoding" in str(error)


def test_reader_line_numbers_span_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    path.write_text('t_dat,customer_id,article_id\n"a\nb",c,d\n\ne,f\n', encoding="utf-8")
    table = read_csv(path, REQUIRED)

    assert [row.line for row in table.rows] == [2, 5]
    assert table.rows[1].problem is not None


DATES = st.lists(st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31)), min_size=1, max_size=30)


@PROPERTY_SETTINGS
@given(dates=DATES, date_format=st.sampled_from(DATE_FORMATS))
def test_date_detection_never_swaps(dates: list[dt.date], date_format: object) -> None:
    fmt = next(f for f in DATE_FORMATS if f is date_format)
    texts = [day.strftime(fmt.name) for day in dates]
    day_first_possible = fmt.order in {"dmy", "mdy"}
    ambiguous = day_first_possible and all(day.day <= 12 for day in dates)

    if ambiguous:
        with pytest.raises(AmbiguousDatesError, match="--date-format"):
            detect_date_format(texts, column="t_dat", path="t.csv")
        return
    detected = detect_date_format(texts, column="t_dat", path="t.csv")
    assert detected is not None
    assert [detected.parse(text) for text in texts] == dates


@PROPERTY_SETTINGS
@given(texts=st.lists(st.text(max_size=12), max_size=20))
def test_date_detection_any_text(texts: list[str]) -> None:
    try:
        detected = detect_date_format(texts, column="t_dat", path="t.csv")
    except AmbiguousDatesError:
        return
    if detected is not None:
        assert any(detected.parse(text) is not None for text in texts)


@PROPERTY_SETTINGS
@given(value=st.floats(min_value=0, max_value=1e6, allow_nan=False), decimal=st.sampled_from(".,"))
def test_number_round_trips_decimal(value: float, decimal: str) -> None:
    text = repr(value) if "e" not in repr(value) else f"{value:.6f}"

    assert parse_number(text.replace(".", decimal), decimal) == float(text)


@PROPERTY_SETTINGS
@given(text=st.text(max_size=12), decimal=st.sampled_from(".,"))
def test_number_any_text_finite_or_raises(text: str, decimal: str) -> None:
    try:
        value = parse_number(text, decimal)
    except ValueError:
        return
    assert math.isfinite(value)
