"""Specification of reading an audience file: its encoding, and naming where a file cannot be read."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_fullsms.campaigns import Audience, CampaignInputError
from airflow_provider_fullsms.campaigns.exclusions import read_exclusions
from airflow_provider_fullsms.campaigns.files import read_audience_file
from airflow_provider_fullsms.phones import NumberParser

if TYPE_CHECKING:
    from pathlib import Path

HEADER = "number,first_name\n"


def read(path: Path, **params: str) -> list[tuple[object, object]]:
    audience = Audience.from_params(numbers_file=str(path), **params)
    return [(number, dict(row or {})) for number, row in audience.entries(rows=True)]


def utf8_rows_across_a_chunk_edge(rows: int) -> bytes:
    """Valid UTF-8 rows whose first "é" straddles byte 65,536, where a chunked decoder splits."""
    first = "447700900000,"
    filler = "a" * ((1 << 16) - 1 - len(HEADER) - len(first))
    rest = "".join(f"4477009{i:05d},Ada\n" for i in range(1, rows))
    return (first + filler + "é\n" + rest).encode()


@pytest.mark.parametrize(
    "good_rows",
    [
        pytest.param(0, id="first-row"),
        pytest.param(5_000, id="past-a-chunk-edge"),
    ],
)
def test_an_undecodable_byte_is_named_by_its_offset_and_line(tmp_path: Path, good_rows: int) -> None:
    head = HEADER.encode() + (utf8_rows_across_a_chunk_edge(good_rows) if good_rows else b"")
    path = tmp_path / "export.csv"
    path.write_bytes(head + "447700900001,Zoë\n".encode("latin-1"))
    offset = len(head) + len("447700900001,Zo")
    line = 2 + good_rows

    with pytest.raises(CampaignInputError) as error:
        read(path)

    message = str(error.value)
    assert f"numbers_file={str(path)!r} is not UTF-8 text: byte {offset:,} (line {line})" in message
    assert "file_encoding=" in message


def test_file_encoding_reads_a_latin1_file_and_utf8_skips_a_bom(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes((HEADER + "447700900001,Zoë\n").encode("latin-1"))
    with_bom = tmp_path / "bom.csv"
    with_bom.write_bytes((HEADER + "447700900001,Zoë\n").encode("utf-8-sig"))

    expected = [("447700900001", {"number": "447700900001", "first_name": "Zoë"})]
    assert read(latin1, file_encoding="latin-1") == expected
    assert read(with_bom, file_encoding="UTF-8") == expected
    assert read(with_bom) == expected


def test_an_unknown_file_encoding_fails_naming_it(tmp_path: Path) -> None:
    with pytest.raises(CampaignInputError, match=r"file_encoding='latin-9x' is not an encoding"):
        Audience.from_params(numbers_file=str(tmp_path / "a.csv"), file_encoding="latin-9x")


# -- cells and lines Python's readers refuse ------------------------------------------------------

BIG = "x" * (csv.field_size_limit() + 1)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        pytest.param(
            f"number,first_name,notes\n447700900001,Ada,ok\n447700900002,Bob,{BIG}\n",
            r"crm\.csv, the row starting on line 3, column 'notes': a cell longer than 131,072 characters"
            r".*remove that column or shorten the cell",
            id="a-long-cell",
        ),
        pytest.param(
            'number,first_name\n447700900001,"Ada\n' + "447700900002,Bob\n" * 12_000,
            r"crm\.csv, the row starting on line 2, column 'first_name': a cell longer than 131,072 "
            r"characters.*starts with a quote \(\"\) that is never closed.*on line 2",
            id="an-unclosed-quote",
        ),
    ],
)
def test_a_csv_cell_over_the_csv_modules_limit_fails_naming_the_line_and_column(
    tmp_path: Path, text: str, named: str
) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(text)
    with pytest.raises(CampaignInputError, match=named):
        read(path)


def test_an_exclude_file_with_a_cell_over_the_limit_fails_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "optouts.csv"
    path.write_text(f"number,note\n447700900001,{BIG}\n")
    with pytest.raises(CampaignInputError, match=r"optouts\.csv, the row starting on line 2, column 'note'"):
        read_exclusions(str(path), parse_number=NumberParser().parse)


def test_a_json_line_nested_too_deep_fails_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "crm.jsonl"
    path.write_text('{"number": "447700900001"}\n' + "[" * 100_000 + "\n")
    with pytest.raises(CampaignInputError, match=r"crm\.jsonl, line 2 nests too deep to read"):
        read(path)


#: Cells of every shape csv.writer quotes: commas, quotes, line breaks.
_cells = st.text(alphabet='ab, "\né', max_size=24)


@pytest.mark.property
@given(
    rows=st.lists(st.lists(_cells, min_size=3, max_size=3), min_size=1, max_size=6),
    limit=st.integers(min_value=6, max_value=16),
)
def test_a_csv_reads_as_written_or_fails_naming_where_the_first_overlong_cell_is(
    rows: list[list[str]], limit: int
) -> None:
    header = ["number", "name", "notes"]  # none longer than the limit
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    starts = []  # the line each row starts on
    for row in rows:
        starts.append(text.getvalue().count("\n") + 1)
        writer.writerow(row)
    overlong = [(line, row) for line, row in zip(starts, rows, strict=True) if max(map(len, row)) > limit]

    before = csv.field_size_limit(limit)  # the rule holds for any limit: a small one keeps cells short
    try:
        stream = io.StringIO(text.getvalue(), newline="")
        if not overlong:
            entries = list(read_audience_file(stream, file_format="csv", rows=True, name="crm.csv"))
            assert entries == [(row[0], dict(zip(header, row, strict=True))) for row in rows]
            return
        with pytest.raises(CampaignInputError) as error:
            list(read_audience_file(stream, file_format="csv", rows=True, name="crm.csv"))
    finally:
        csv.field_size_limit(before)
    line, row = overlong[0]
    column = header[next(i for i, cell in enumerate(row) if len(cell) > limit)]
    assert f"crm.csv, the row starting on line {line}, column {column!r}: a cell longer than" in str(
        error.value
    )
