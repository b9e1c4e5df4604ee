"""``exclude=`` against a running sandbox: an opted-out person's phone never receives a text."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.testing import SandboxClient

SEND = "/messages/send/to_numbers"
#: 1,200 UK mobile numbers, 447700000000 to 447700001199.
AUDIENCE = [str(447700000000 + i) for i in range(1200)]
#: Every sixth of them opted out.
OPTED_OUT = AUDIENCE[::6]


@pytest.fixture
def sbx(sandbox_conn: SandboxClient) -> SandboxClient:
    sandbox_conn.set_balance(100_000)
    return sandbox_conn


def send(**kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("numbers", AUDIENCE)
    operator = FullSmsSendToNumbersOperator(task_id="send", message="Spring sale", **kwargs)
    return cast("dict[str, Any]", operator.execute(cast("Any", {"task_state_store": MemoryStateStore()})))


def texted(sbx: SandboxClient) -> Counter[str]:
    return Counter(m["to"] for m in sbx.messages())


def written(number: str) -> str:
    """The number as a person types it: ``+44 7700 000006``."""
    return f"+{number[:2]} {number[2:6]} {number[6:]}"


def test_a_list_of_opt_outs_written_any_way_is_never_texted_and_counted_as_excluded(
    sbx: SandboxClient,
) -> None:
    summary = send(exclude=[written(n) for n in OPTED_OUT])

    assert set(texted(sbx)) == set(AUDIENCE) - set(OPTED_OUT)
    assert set(texted(sbx).values()) == {1}
    assert summary["excluded"] == len(OPTED_OUT) == 200
    assert summary["exclude"] == {"numbers": 200, "invalid": {"count": 0, "entries": []}}
    assert summary["recipients"] == summary["sent"] == 1000
    assert sbx.requests_count(SEND) == 2


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("optouts.txt", "\n".join(written(n) for n in OPTED_OUT) + "\n"),
        ("optouts", "\n".join(["number", *OPTED_OUT, ""])),  # one a line, a header line, no suffix
        ("optouts.csv", "id,phone\n" + "".join(f"C{i},{n}\n" for i, n in enumerate(OPTED_OUT))),
        ("optouts.jsonl", "".join(json.dumps({"phone": int(n)}) + "\n" for n in OPTED_OUT)),
    ],
)
def test_an_opt_out_file_of_every_format_is_never_texted(
    sbx: SandboxClient, tmp_path: Path, name: str, content: str
) -> None:
    path = tmp_path / name
    path.write_text(content)

    summary = send(exclude=str(path), exclude_column="phone")

    assert set(texted(sbx)) == set(AUDIENCE) - set(OPTED_OUT)
    assert summary["excluded"] == 200


def test_opt_outs_in_national_format_are_read_with_the_audiences_default_region(
    sbx: SandboxClient, tmp_path: Path
) -> None:
    path = tmp_path / "optouts.txt"
    path.write_text("07700 000000\n07700 000001\n")

    summary = send(
        numbers=["07700 000000", "+44 7700 000001", "07700 000002"], exclude=path, default_region="GB"
    )

    assert set(texted(sbx)) == {"447700000002"}
    assert summary["excluded"] == 2


def test_an_opted_out_duplicate_is_excluded_once_and_counted_as_a_duplicate_after_that(
    sbx: SandboxClient,
) -> None:
    summary = send(numbers=["447700000001", "+44 7700 000001", "447700000002"], exclude=["447700000001"])

    assert set(texted(sbx)) == {"447700000002"}
    assert (summary["excluded"], summary["duplicates"], summary["sent"]) == (1, 1, 1)


def test_an_exclude_entry_that_is_not_a_number_fails_before_anybody_is_texted(
    sbx: SandboxClient, tmp_path: Path
) -> None:
    path = tmp_path / "optouts.txt"
    path.write_text("+44 7700 000000\n\n07700 000006\nunsubscribed\n")

    with pytest.raises(AirflowFailException) as failure:
        send(exclude=path)

    message = str(failure.value)
    assert "exclude: 2 of 3 entries are not phone numbers" in message  # a blank line is no entry
    assert "entry 2: '07700 000006' [no_region]" in message
    assert "entry 3: 'unsubscribed' [not_a_number]" in message
    assert "on_invalid_exclude='report'" in message
    assert sbx.requests_count(SEND) == 0
    assert sbx.messages() == []


def test_with_report_the_campaign_goes_on_and_the_summary_lists_the_invalid_entries(
    sbx: SandboxClient,
) -> None:
    summary = send(exclude=[AUDIENCE[0], "44770", ""], on_invalid_exclude="report")

    assert set(texted(sbx)) == set(AUDIENCE[1:])
    assert summary["excluded"] == 1
    assert summary["exclude"] == {
        "numbers": 1,
        "invalid": {"count": 1, "entries": ["entry 2: '44770' [too_short]"]},
    }


def test_an_opt_out_outside_the_ranges_in_use_is_skipped_with_valid_validation(sbx: SandboxClient) -> None:
    # +44 7700 900xxx is a possible UK number but a range kept for drama: the audience refuses it too.
    summary = send(
        numbers=["447400123456", "447400123457"],
        exclude=["447700900001", "447400123456"],
        number_validation="valid",
    )

    assert set(texted(sbx)) == {"447400123457"}
    assert summary["excluded"] == 1


def test_a_missing_exclude_file_fails_naming_the_parameter(sbx: SandboxClient, tmp_path: Path) -> None:
    with pytest.raises(AirflowFailException, match=r"exclude='.*gone\.txt' does not exist"):
        send(exclude=str(tmp_path / "gone.txt"))
    assert sbx.requests_count(SEND) == 0


def test_when_everybody_opted_out_nothing_is_sent_and_the_task_says_why(sbx: SandboxClient) -> None:
    with pytest.raises(
        AirflowFailException,
        match=r"every valid number of the audience is on the exclude list \(3 rows, 3 excluded\)",
    ):
        send(numbers=AUDIENCE[:3], exclude=AUDIENCE[:3])
    assert sbx.requests_count(SEND) == 0
