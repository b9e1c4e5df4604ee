"""
Bad input fails the send task without retry, names the value and what to do, and makes no request.

Each case used to escape as a raw ``TypeError`` or ``OverflowError`` (so ``retries`` repeated it)
or was sent to FullSMS as a wall-clock time that does not exist or happens twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from hypothesis import example, given
from hypothesis import strategies as st

from airflow_provider_fullsms.campaigns import (
    CampaignInputError,
    MessageSource,
    entries_from_rows,
    plan_campaign,
)
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from tests import vendor_docs as docs
from tests.conftest import FAKE_URL, connection_json
from tests.unit.test_operators import Api, context, numbers, send_op

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_fullsms.campaigns import Batch


@pytest.fixture
def london(monkeypatch: pytest.MonkeyPatch, requests_mock: Any) -> Any:
    """A FullSMS account in Europe/London (where the clocks change), answering nothing."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_FULLSMS_DEFAULT",
        connection_json(FAKE_URL, default_sender="COPERATO", timezone="Europe/London"),
    )
    return requests_mock


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"message": 123}, r"message=123 \(a int\): pass a text"),
        ({"message": None, "template_id": [7]}, r"template_id=\[7\] \(a list\)"),
        ({"message": None, "template_id": True}, r"template_id=True \(a bool\)"),
        (
            {"send_at": "0001-01-01T00:00:00+14:00"},
            r"send_at='0001-01-01T00:00:00\+14:00' is out of the range",
        ),
        ({"send_at": "2027-03-28 01:30:00"}, r"01:30:00 in Europe/London, a time that does not exist"),
        ({"send_at": "2027-10-31 01:30:00"}, r"01:30:00 in Europe/London, a time that happens twice"),
        (
            {"send_at": "2027-10-31T00:30:00+00:00"},
            r"2027-10-31 01:30:00 in Europe/London, a time that happens twice",
        ),
        ({"stop_after_unknown": 0}, r"stop_after_unknown=0: pass a whole number"),
    ],
)
def test_bad_input_fails_naming_the_value_before_any_request(
    london: Any, params: dict[str, Any], named: str
) -> None:
    with pytest.raises((AirflowFailException, ValueError), match=named):
        send_op(numbers=numbers(3), **params).execute(context())
    assert london.call_count == 0


def test_a_time_just_outside_the_change_is_sent_as_written(london: Any) -> None:
    london.get(f"{FAKE_URL}/account/numbers", json=docs.NUMBERS)
    london.get(f"{FAKE_URL}/account/senderids", json=docs.SENDER_IDS)
    london.post(
        f"{FAKE_URL}/messages/send/to_numbers",
        json={
            "status": "approved",
            "campaign_id": "c1",
            "total_sent": 3,
            "invalid": {"count": 0, "numbers": []},
        },
    )
    summary = send_op(numbers=numbers(3), send_at="2099-10-31 02:30:00").execute(context())
    assert summary["send_at"] == "2099-10-31 02:30:00"
    assert london.last_request.json()["send_at"] == "2099-10-31 02:30:00"


def test_a_send_task_warns_when_airflow_deletes_its_ledger_on_success(
    monkeypatch: pytest.MonkeyPatch, london: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    london.get(f"{FAKE_URL}/account/numbers", json=docs.NUMBERS)
    london.get(f"{FAKE_URL}/account/senderids", json=docs.SENDER_IDS)
    london.post(f"{FAKE_URL}/messages/send/to_numbers", json=docs.SEND_TO_NUMBERS)
    store = MemoryStateStore()
    monkeypatch.setenv("AIRFLOW__STATE_STORE__CLEAR_ON_SUCCESS", "False")
    send_op(numbers=numbers(2)).execute(context(store))
    assert "clear_on_success" not in capsys.readouterr().out
    monkeypatch.setenv("AIRFLOW__STATE_STORE__CLEAR_ON_SUCCESS", "True")
    send_op(numbers=numbers(2)).execute(context(MemoryStateStore()))
    assert capsys.readouterr().out.count("clearing the task after success would text everyone again") == 1


# -- texts and audience files: refused while the campaign is planned, so before any send -----------


@pytest.fixture
def api(fullsms_conn: str, requests_mock: Any) -> Api:
    return Api(requests_mock)


NAN = float("nan")
#: What no campaign text may hold: C0 and C1 controls but line feed, carriage return and form feed.
CONTROLS = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]} - {"\n", "\r", "\f"}
ROWS = [{"number": "447700900001", "first_name": "Ada"}, {"number": "447700900002", "first_name": None}]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        pytest.param(
            {"recipients": ROWS, "message": "Hi {first_name}"},
            r"uses \{first_name\}, but recipient 2's 'first_name' is None \(no value\): fill it in",
            id="a-none-in-a-personalisation-column",
        ),
        pytest.param(
            {"recipients": [{"number": "447700900001", "first_name": NAN}], "message": "Hi {first_name}"},
            r"recipient 1's 'first_name' is nan \(no value\)",
            id="a-dataframe-nan",
        ),
        pytest.param(
            {"recipients": [{"number": "447700900001", "n": None}], "message": "Hi {n:>5}"},
            r"recipient 1's 'n' is None \(no value\)",
            id="a-none-with-a-format-spec",
        ),
        pytest.param(
            {"recipients": [{"number": "447700900001", "n": [1]}], "message": "You owe {n:.2f}"},
            r"message 'You owe \{n:\.2f\}' cannot be filled from recipient 1: unsupported format string",
            id="a-value-its-format-spec-does-not-fit",
        ),
        pytest.param(
            {"numbers": numbers(2), "message": "Hello\x00 from Airflow"},
            r"message cannot be sent: it contains U\+0000 \(NUL\) at character 6",
            id="a-nul-in-the-message",
        ),
        pytest.param(
            {
                "recipients": [*ROWS[:1], {"number": "447700900002", "text": "Hi\tBob"}],
                "message_column": "text",
                "message": "Hello",
            },
            r"recipient 2's message cannot be sent: it contains U\+0009 \(a tab\) at character 3",
            id="a-tab-in-a-row-text",
        ),
        pytest.param(
            {
                "recipients": [{"number": "447700900001", "first_name": "Ada\x1b[0m"}],
                "message": "Hi {first_name}",
            },
            r"recipient 1's message cannot be sent: it contains U\+001B \(ESC\) at character 7",
            id="an-escape-filled-in-from-a-row",
        ),
    ],
)
@pytest.mark.parametrize("dry_run", [False, True])
def test_a_text_with_no_value_or_a_control_character_fails_naming_the_row_before_any_send(
    api: Api, params: dict[str, Any], named: str, dry_run: bool
) -> None:
    with pytest.raises(AirflowFailException, match=named):
        send_op(dry_run=dry_run, **params).execute(context(MemoryStateStore()))
    assert api.sends == 0


def test_a_json_null_in_a_personalisation_column_fails_naming_the_row(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "crm.jsonl"
    path.write_text(
        '{"number": "447700900001", "first_name": "Ada"}\n{"number": "447700900002", "first_name": null}\n'
    )
    with pytest.raises(AirflowFailException, match=r"recipient 2's 'first_name' is None \(no value\)"):
        send_op(numbers_file=str(path), message="Hi {first_name}").execute(context(MemoryStateStore()))
    assert api.sends == 0


def test_a_nan_in_the_message_column_falls_back_to_the_message_like_a_none(api: Api) -> None:
    rows = [{"number": "447700900001", "text": NAN}, {"number": "447700900002", "text": None}]
    send_op(recipients=rows, message_column="text", message="Hello").execute(context(MemoryStateStore()))
    assert [payload["message"] for payload in api.payloads] == ["Hello"]


def test_an_empty_csv_cell_is_a_value_and_fills_in_nothing(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("number,first_name\n447700900001,\n")
    send_op(numbers_file=str(path), message="Hi{first_name}!").execute(context(MemoryStateStore()))
    assert [payload["message"] for payload in api.payloads] == ["Hi!"]


def test_a_csv_cell_over_the_field_limit_fails_the_plan_before_any_send(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    good = "".join(f"4477009{i:05d},Ada,ok\n" for i in range(1200))  # more than two batches before it
    path.write_text("number,first_name,notes\n" + good + "447700999999,Bob," + "x" * 200_000 + "\n")
    with pytest.raises(
        AirflowFailException, match=r"crm\.csv, the row starting on line 1,202, column 'notes'"
    ):
        send_op(numbers_file=str(path), message="Hi {first_name}").execute(context(MemoryStateStore()))
    assert api.sends == 0


class NAType:
    """Behaves as pandas' ``pd.NA`` does (pandas is not installed here): its truth value is an error."""

    def __ne__(self, other: object) -> Any:
        return self

    def __bool__(self) -> bool:
        raise TypeError("boolean value of NA is ambiguous")

    def __repr__(self) -> str:
        return "<NA>"


#: Values a row may hold: texts with and without control characters, numbers, and no value at all.
row_values = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8),
    st.text(alphabet="ab \n\r\f\t\x00\x1b\x7f\x85", max_size=4),
    st.integers(),
    st.floats(allow_nan=True),
    st.sampled_from([None, NAType()]),
)


@pytest.mark.property
@given(st.lists(st.fixed_dictionaries({"first": row_values, "city": row_values}), min_size=1, max_size=5))
@example([{"first": None, "city": "Leeds"}])
@example([{"first": "Ada", "city": NAN}])
@example([{"first": "A\x00da", "city": "Leeds"}])
def test_a_personalised_text_is_the_rows_values_or_an_error_naming_the_first_bad_row(
    rows: list[dict[str, Any]],
) -> None:
    message = "Hi {first} from {city}"
    for index, row in enumerate(rows):
        row["number"] = str(447700900000 + index)
    source = MessageSource.from_params(message=message, template_id=None, has_rows=True)

    def problem(row: dict[str, Any]) -> str | None:
        for column in ("first", "city"):
            if row[column] is None or isinstance(row[column], NAType) or row[column] != row[column]:
                return f"recipient {rows.index(row) + 1}'s {column!r} is {row[column]!r} (no value)"
        bad = next((c for c in message.format_map(row) if c in CONTROLS), None)
        if bad is not None:
            return f"recipient {rows.index(row) + 1}'s message cannot be sent: it contains U+{ord(bad):04X}"
        return None

    expected = next((p for p in map(problem, rows) if p is not None), None)
    batches: list[Batch] = []
    if expected is not None:
        with pytest.raises(CampaignInputError) as error:
            plan_campaign(entries_from_rows(rows), source, campaign_key="k", on_batch=batches.append)
        assert expected in str(error.value)
        return
    plan = plan_campaign(entries_from_rows(rows), source, campaign_key="k", on_batch=batches.append)
    sent = {number: batch.text for batch in batches for number in batch.numbers}
    assert sent == {row["number"]: message.format_map(row) for row in rows}
    assert plan.recipients == len(rows)
