"""
Bad input fails the send task without retry, names the value and what to do, and makes no request.

Each case used to escape as a raw ``TypeError`` or ``OverflowError`` (so ``retries`` repeated it)
or was sent to FullSMS as a wall-clock time that does not exist or happens twice.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from tests import vendor_docs as docs
from tests.conftest import FAKE_URL, connection_json
from tests.unit.test_operators import context, numbers, send_op


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
