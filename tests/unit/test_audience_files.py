"""Specification of reading an audience file's text: its encoding, and where an undecodable byte is."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_provider_fullsms.campaigns import Audience, CampaignInputError

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
