"""
A send stopped by FullSMS's ``422 balance_low``: a deferrable task pauses on the balance trigger
for what the rest costs and resumes from the ledger; a task that may not defer fails, naming it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, TaskDeferred

from airflow_provider_fullsms.campaigns import credit_to_resume
from airflow_provider_fullsms.campaigns.credit import minimum_named_in
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from airflow_provider_fullsms.triggers.fullsms import FullSmsBalanceTrigger
from tests import vendor_docs as docs
from tests.conftest import FAKE_URL, SECRET_TOKEN, connection_json
from tests.unit.test_operators import Api, context, numbers, send_op
from tests.versions import deferral_timeout_kwargs

#: FullSMS's documented balance_low body, with the amount the sandbox puts in.
BALANCE_LOW = {
    **docs.BALANCE_LOW,
    "message": docs.BALANCE_LOW["message"].replace("[current minimum for sending]", "1.00"),
}


@pytest.fixture
def priced(monkeypatch: pytest.MonkeyPatch, requests_mock: Any) -> Api:
    """FullSMS with a price in the connection (0.05 a segment, 1.00 kept back) and 20 left."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_FULLSMS_DEFAULT",
        connection_json(FAKE_URL, default_sender="COPERATO", price_per_segment=0.05, minimum_balance=1),
    )
    api = Api(requests_mock)
    requests_mock.get(f"{FAKE_URL}/account/balance", json={"balance": 20})
    return api


@pytest.fixture
def unpriced(fullsms_conn: str, requests_mock: Any) -> Api:
    return Api(requests_mock)


def deferred(op: Any, store: MemoryStateStore) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as caught:
        op.execute(context(store))
    return caught.value


def test_a_deferrable_send_pauses_for_exactly_what_the_rest_costs(priced: Api) -> None:
    priced.script[1] = (422, BALANCE_LOW)  # batch 1 accepted, batch 2 refused: nothing of it sent
    store = MemoryStateStore()
    op = send_op(numbers=numbers(1800), deferrable=True, low_balance_timeout=600, low_balance_poke_interval=5)
    pause = deferred(op, store)
    assert priced.sends == 2
    trigger = pause.trigger
    assert isinstance(trigger, FullSmsBalanceTrigger)
    # 1,300 one-segment texts left (batches 2 to 4) x 0.05, plus the 1.00 FullSMS keeps back.
    assert trigger.min_balance == pytest.approx(1300 * 0.05 + 1.0)
    assert trigger.poke_interval == 5
    assert pause.method_name == "execute_complete"
    assert pause.timeout == timedelta(seconds=600)
    assert SECRET_TOKEN not in repr(trigger.serialize())
    assert store.get("fullsms.batch.1")["s"] == "not_sent"

    summary = op.execute_complete(
        context(store), event={"status": "success", "balance": 70, "min_balance": 66}
    )
    sent_to = [number for payload in priced.payloads for number in payload["to_numbers"]]
    # Batch 2 twice (refused, then sent after the top-up); everyone else once.
    assert sorted(sent_to) == sorted(numbers(1800) + numbers(500, start=447700000500))
    assert summary["sent"] == 1800
    assert summary["batches"]["skipped_already_accepted"] == 1
    assert summary["batches"]["accepted"] == 3


def test_without_a_price_any_top_up_resumes_the_campaign(unpriced: Api) -> None:
    unpriced.script[1] = (422, BALANCE_LOW)
    pause = deferred(send_op(numbers=numbers(1000), deferrable=True), MemoryStateStore())
    # The balance read at the pause is 100 (the documented body): a rise above it releases the task.
    assert pause.trigger.min_balance == pytest.approx(100.01)


def test_a_send_that_may_not_defer_fails_naming_the_balance_the_rest_needs(priced: Api) -> None:
    priced.script[1] = (422, BALANCE_LOW)
    store = MemoryStateStore()
    with pytest.raises(AirflowFailException) as failure:
        send_op(numbers=numbers(1000), deferrable=False).execute(context(store))
    assert "balance of at least 26 (500 segments left x 0.05 = 25, plus the 1 FullSMS keeps back" in str(
        failure.value
    )
    assert priced.sends == 2
    # Clearing the task after a top-up sends only the refused batch.
    summary = send_op(numbers=numbers(1000)).execute(context(store))
    assert priced.payloads[-1]["to_numbers"] == numbers(500, start=447700000500)
    assert summary["sent"] == 1000


def test_a_campaign_with_an_unknown_batch_fails_rather_than_pausing(priced: Api) -> None:
    import requests

    priced.script[0] = requests.ReadTimeout("read timed out")
    priced.script[1] = (422, BALANCE_LOW)
    with pytest.raises(AirflowFailException, match="outcome of 1 batch"):
        send_op(numbers=numbers(1000), deferrable=True).execute(context(MemoryStateStore()))


def test_a_pause_that_times_out_fails_without_retry(priced: Api) -> None:
    op = send_op(numbers=numbers(10), deferrable=True, low_balance_timeout=timedelta(hours=2))
    with pytest.raises(AirflowFailException, match=r"within low_balance_timeout \(2:00:00\)"):
        op.resume_execution("__fail__", deferral_timeout_kwargs(), context())


def test_a_failed_balance_wait_fails_the_task_with_the_trigger_message(priced: Api) -> None:
    op = send_op(numbers=numbers(10), deferrable=True)
    with pytest.raises(AirflowFailException, match="Access Denied"):
        op.execute_complete(
            context(), event={"status": "error", "message": "FullSmsAuthError: Access Denied"}
        )
    assert priced.sends == 0


@pytest.mark.parametrize(
    ("message", "minimum"),
    [
        ("Balance must be over $1.00 to create or schedule new campaigns or messages", 1.0),
        ("Balance must be over 12.5 to create", 12.5),
        ("Balance must be over $[current minimum for sending] to create", None),
    ],
)
def test_the_minimum_is_read_from_fullsms_message(message: str, minimum: float | None) -> None:
    assert minimum_named_in(message) == minimum


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        # price known: the rest's cost plus what FullSMS keeps back
        ({"remaining_segments": 1000, "price_per_segment": 0.05, "minimum_balance": 1.0}, 51.0),
        # no minimum configured: the one FullSMS's message names
        ({"remaining_segments": 1000, "price_per_segment": 0.05, "minimum_balance": None}, 52.0),
        # no price: any top-up above the balance at the pause
        ({"remaining_segments": 1000, "price_per_segment": None, "minimum_balance": 1.0}, 3.01),
        # a template without its text: no segment count, so any top-up
        ({"remaining_segments": None, "price_per_segment": 0.05, "minimum_balance": 1.0}, 3.01),
        # a balance that already covers the computed figure (a stale price): still a rise is needed
        ({"remaining_segments": 10, "price_per_segment": 0.05, "minimum_balance": 1.0}, 3.01),
    ],
)
def test_the_balance_to_wait_for(kwargs: dict[str, Any], expected: float) -> None:
    refusal = "Balance must be over $2.00 to create or schedule new campaigns or messages"
    wait = credit_to_resume(balance=3.0, refusal=refusal, **kwargs)
    assert wait.min_balance == pytest.approx(expected)
