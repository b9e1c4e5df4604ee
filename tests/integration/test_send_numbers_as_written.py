"""
Numbers as people write them, sent through the operator to the sandbox: each phone that receives a
text is one somebody wrote down, and every other entry is reported invalid with its reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from tests.conftest import SANDBOX_TOKEN, connection_json
from tests.integration.test_send_operators import SEND, ctx, per_phone, send_op

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from airflow_provider_fullsms.sandbox.testing import SandboxClient, SandboxProcess


@pytest.fixture
def sbx(sandbox_conn: SandboxClient) -> SandboxClient:
    sandbox_conn.set_balance(1_000)
    return sandbox_conn


def test_a_spreadsheet_float_and_a_trunk_prefix_text_the_numbers_written(sbx: SandboxClient) -> None:
    summary = send_op(numbers=["447700900001.0", "+44 (0) 7700 900002", "4.477E+11"]).execute(ctx())

    # Before: 4477009000010 and 4407700900002 were texted, numbers nobody wrote.
    assert per_phone(sbx) == {"447700900001": 1, "447700900002": 1}
    assert summary["sent"] == 2
    assert summary["invalid"]["numbers"] == ["4.477E+11"]
    assert summary["invalid"]["reasons"] == {"lossy_format": 1}


def test_national_numbers_are_read_with_default_region(sbx: SandboxClient) -> None:
    summary = send_op(numbers=["07700 900123", "020 7946 0018"], default_region="GB").execute(ctx())

    assert per_phone(sbx) == {"447700900123": 1, "442079460018": 1}
    assert summary["invalid"]["count"] == 0


@pytest.fixture
def conn_extras(
    sandbox: SandboxProcess, sbx: SandboxClient, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., None]:
    """Set extras on ``fullsms_default`` (which points at the sandbox, default sender COPERATO)."""

    def set_extras(**extra: object) -> None:
        value = connection_json(sandbox.url, SANDBOX_TOKEN, default_sender="COPERATO", **extra)
        monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", value)

    return set_extras


def test_the_connections_default_region_applies_and_the_task_wins(
    sbx: SandboxClient, conn_extras: Callable[..., None]
) -> None:
    conn_extras(default_region="GB")
    send_op(numbers=["07700 900123"]).execute(ctx())
    send_op(numbers=["054-111-1111"], default_region="IL").execute(ctx())

    assert per_phone(sbx) == {"447700900123": 1, "972541111111": 1}


def test_the_connections_number_validation_applies_and_the_task_wins(
    sbx: SandboxClient, conn_extras: Callable[..., None]
) -> None:
    conn_extras(number_validation="valid")
    strict = send_op(numbers=["+1 212 555 2368", "447700900001"]).execute(ctx())
    send_op(numbers=["447700900002"], number_validation="possible").execute(ctx())

    assert strict["invalid"]["reasons"] == {"not_valid": 1}
    assert per_phone(sbx) == {"12125552368": 1, "447700900002": 1}


def test_a_national_number_without_a_region_is_invalid_with_the_reason(sbx: SandboxClient) -> None:
    summary = send_op(numbers=["07700 900123", "+44 7700 900001"]).execute(ctx())

    assert per_phone(sbx) == {"447700900001": 1}
    assert summary["invalid"]["numbers"] == ["07700 900123"]
    assert summary["invalid"]["reasons"] == {"no_region": 1}


def test_only_national_numbers_without_a_region_fail_before_any_request(sbx: SandboxClient) -> None:
    with pytest.raises(AirflowFailException, match=r"no valid phone number.*'no_region': 2.*default_region"):
        send_op(numbers=["07700 900123", "020 7946 0018"]).execute(ctx())

    assert sbx.requests_count(SEND) == 0


def test_valid_sends_only_to_numbers_in_a_range_in_use(sbx: SandboxClient) -> None:
    summary = send_op(numbers=["+1 212 555 2368", "447700900001"], number_validation="valid").execute(ctx())

    assert per_phone(sbx) == {"12125552368": 1}
    assert summary["invalid"]["reasons"] == {"not_valid": 1}


def test_a_wrong_number_validation_fails_before_any_request(sbx: SandboxClient) -> None:
    with pytest.raises(AirflowFailException, match=r"number_validation='strict'.*'possible'.*'valid'"):
        send_op(numbers=["447700900001"], number_validation="strict").execute(ctx())

    assert sbx.requests_count(SEND) == 0


def latin1_csv(tmp_path: Path) -> Path:
    path = tmp_path / "crm-export.csv"
    path.write_bytes("number,first_name\n447700900001,Zoë\n447700900002,Jürgen\n".encode("latin-1"))
    return path


def test_a_latin1_file_fails_naming_the_file_encoding_and_byte(sbx: SandboxClient, tmp_path: Path) -> None:
    path = latin1_csv(tmp_path)
    with pytest.raises(AirflowFailException) as error:
        send_op(numbers_file=str(path), message="Hi {first_name}").execute(ctx())

    message = str(error.value)
    assert str(path) in message
    assert "not UTF-8 text: byte 33 (line 2) (b'\\xeb" in message
    assert "file_encoding=" in message
    assert sbx.requests_count(SEND) == 0


def test_a_latin1_file_is_read_with_file_encoding(sbx: SandboxClient, tmp_path: Path) -> None:
    path = latin1_csv(tmp_path)
    send_op(numbers_file=str(path), message="Hi {first_name}", file_encoding="latin-1").execute(ctx())

    assert {m["to"]: m["text"] for m in sbx.messages()} == {
        "447700900001": "Hi Zoë",
        "447700900002": "Hi Jürgen",
    }


def test_digits_with_two_readings_are_refused_and_a_phone_written_two_ways_is_texted_once(
    sbx: SandboxClient,
) -> None:
    numbers = [
        "4917612345678",  # +49 176 12345678 in FullSMS's form, or a German number without its 0
        "447700900001",  # the sandbox's British number, or a German one
        "447 700 900 001.0",  # the same, from a spreadsheet
        "0176 12345678",
        "+4407700900001",
        "+44 7700 900002",
        "+4407700900002",
    ]
    summary = send_op(numbers=numbers, default_region="DE").execute(ctx())

    # Before: 494917612345678, 49447700900001 and 494477009000010 were texted, numbers nobody wrote,
    # and 447700900002 twice (once as 4407700900002).
    assert per_phone(sbx) == {"4917612345678": 1, "447700900001": 1, "447700900002": 1}
    assert summary["invalid"]["reasons"] == {"ambiguous": 3}
    assert summary["duplicates"] == 1


def test_a_north_american_number_without_its_1_and_without_a_region_is_refused(sbx: SandboxClient) -> None:
    summary = send_op(numbers=["(321) 555-1234", "3215551234", "2125552368", "+1 321 555 1234"]).execute(
        ctx()
    )

    # Before: 3215551234 (Belgium) and 2125552368 (Morocco) were texted.
    assert per_phone(sbx) == {"13215551234": 1}
    assert summary["invalid"]["reasons"] == {"ambiguous": 2, "no_region": 1}


def test_an_opt_out_written_another_way_stops_the_number(sbx: SandboxClient) -> None:
    summary = send_op(
        numbers=["+44 7700 900001", "+44 7700 900002"],
        exclude=["+4407700900001", "4917612345678"],
        default_region="DE",
        on_invalid_exclude="report",
    ).execute(ctx())

    # Before: the opt-out was read as 4407700900001, and 447700900001 was texted.
    assert per_phone(sbx) == {"447700900002": 1}
    assert summary["excluded"] == 1
    assert summary["exclude"]["invalid"]["entries"] == ["entry 2: '4917612345678' [ambiguous]"]
