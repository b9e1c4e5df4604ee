"""Reading an ``exclude`` list: which format a file has, and what one-number-a-line files hold."""

from __future__ import annotations

import io

import pytest

from airflow_provider_fullsms.campaigns.audience import read_audience_file
from airflow_provider_fullsms.campaigns.exclusions import exclude_file_format, read_exclusions
from airflow_provider_fullsms.exceptions import CampaignInputError
from airflow_provider_fullsms.phones import NumberParser


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("optouts.csv", "csv"),
        ("optouts.jsonl", "jsonl"),
        ("optouts.ndjson", "jsonl"),
        ("optouts.txt", "lines"),  # unlike an audience, where .txt is a CSV
        ("s3://bucket/suppression/2025-01-01", "lines"),
        ("optouts.dat", "lines"),
    ],
)
def test_exclude_file_format_from_the_name(name: str, expected: str) -> None:
    assert exclude_file_format(name) == expected


def test_one_number_a_line_skips_blank_lines_and_a_header_without_digits() -> None:
    text = "Phone\n+44 7700 900001\n\n  447700900002  \n"
    entries = list(read_audience_file(io.StringIO(text), file_format="lines", rows=False))
    assert entries == [("+44 7700 900001", None), ("447700900002", None)]


def test_a_first_line_with_digits_is_a_number_not_a_header() -> None:
    entries = list(read_audience_file(io.StringIO("447700900001\n"), file_format="lines", rows=False))
    assert entries == [("447700900001", None)]


def test_exclusions_hold_each_number_once_as_e164_digits() -> None:
    parse = NumberParser("GB").parse
    exclude = read_exclusions(["07700 900001", "+44 7700 900001", 447700900002, "", None], parse_number=parse)
    assert len(exclude.numbers) == 2
    assert 447700900001 in exclude.numbers
    assert 447700900002 in exclude.numbers
    assert exclude.summary() == {"numbers": 2, "invalid": {"count": 0, "entries": []}}


def test_an_opt_out_with_two_readings_fails_by_default_naming_it() -> None:
    refused = r"(?s)1 of 1 entries.*entry 1: '4917612345678' \[ambiguous\]"
    with pytest.raises(CampaignInputError, match=refused):
        read_exclusions(["4917612345678"], parse_number=NumberParser("DE").parse)


def test_an_opt_out_with_two_readings_leaves_out_both_people() -> None:
    # Before: read as the German national number 494917612345678 only, so +49 176 12345678 (the
    # same entry in FullSMS's own form) could still be texted.
    exclude = read_exclusions(["4917612345678"], parse_number=NumberParser("DE").parse, on_invalid="report")

    assert 4917612345678 in exclude.numbers
    assert 494917612345678 in exclude.numbers
    assert exclude.summary()["invalid"] == {"count": 1, "entries": ["entry 1: '4917612345678' [ambiguous]"]}


def test_an_opt_out_stops_the_number_written_another_way() -> None:
    # Before: '+4407700900001' was read as 4407700900001, so the opt-out did not stop 447700900001.
    exclude = read_exclusions(["+4407700900001", "+330612345678"], parse_number=NumberParser().parse)

    assert NumberParser().parse("+44 7700 900001") == "447700900001"
    assert 447700900001 in exclude.numbers
    assert 33612345678 in exclude.numbers


def test_an_unknown_on_invalid_choice_is_refused() -> None:
    with pytest.raises(CampaignInputError, match="on_invalid_exclude='skip': use 'fail'"):
        read_exclusions([], parse_number=NumberParser().parse, on_invalid="skip")


def test_exclude_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(CampaignInputError, match="exclude= must be a list of numbers or a file"):
        read_exclusions(42, parse_number=NumberParser().parse)
