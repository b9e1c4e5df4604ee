"""
Batches whose outcome is unknown, through the send operator: an outage stops the campaign early,
a person settles each batch, and no try with an unknown batch ends green.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_fullsms.campaigns import Ledger, OnUnknownOutcome, run_batches
from airflow_provider_fullsms.campaigns.batching import Batch, SendResult
from airflow_provider_fullsms.exceptions import FullSmsOutcomeUnknownError
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from tests import vendor_docs as docs
from tests.unit.airflow_state_store import AirflowStateStore
from tests.unit.test_operators import Api, api, context, no_sleep, numbers, send_op

__all__ = ["api", "no_sleep"]  # fixtures shared with test_operators


def figures(summary: dict[str, Any]) -> int:
    """Recipients in the summary's figures: sent, invalid, unknown, not sent (each in exactly one)."""
    return (
        summary["sent"]
        + summary["invalid"]["count"]
        + summary["unknown_recipients"]
        + summary["not_sent_recipients"]
    )


def failed_summary(op: Any, store: MemoryStateStore) -> tuple[str, dict[str, Any]]:
    """Run ``op`` expecting it to fail; return the message and the summary it pushed to XCom."""
    pushed: dict[str, Any] = {}

    class Ti:
        dag_id, run_id, task_id, map_index = "campaign", "manual__1", "send", -1

        def xcom_push(self, key: str, value: Any) -> None:
            pushed[key] = value

    with pytest.raises(AirflowFailException) as caught:
        op.execute({"task_state_store": store, "ti": Ti()})
    return str(caught.value), pushed["fullsms_summary"]


def test_a_full_outage_stops_the_campaign_after_three_unknown_outcomes(api: Api) -> None:
    api.script.update({call: (500, docs.SERVER_ERROR) for call in range(10)})
    store = MemoryStateStore()
    message, summary = failed_summary(send_op(numbers=numbers(5000)), store)
    assert api.sends == 3  # not 10: the rest never reached a FullSMS that answers nothing clearly
    assert "FullSMS looks down" in message
    assert "7 batch(es) (3500 recipients) were never started" in message
    assert summary["batches"]["unknown_count"] == 3
    assert summary["batches"]["not_started"] == 7
    assert figures(summary) == 5000
    # The never-started batches are safe to send: settled "resend", the retry sends everyone once.
    for index in range(3):
        store.set(f"fullsms.decision.{index}", "resend")
    api.script.clear()
    api.payloads.clear()
    summary = send_op(numbers=numbers(5000)).execute(context(store))
    assert summary["sent"] == 5000
    assert sorted(p["to_numbers"][0] for p in api.payloads) == numbers(5000)[::500]


def test_the_breaker_is_configurable(api: Api) -> None:
    api.script.update({call: (500, docs.SERVER_ERROR) for call in range(10)})
    failed_summary(send_op(numbers=numbers(5000), stop_after_unknown=5), MemoryStateStore())
    assert api.sends == 5


def test_an_accepted_batch_resets_the_outage_count(api: Api) -> None:
    api.script.update({0: (500, docs.SERVER_ERROR), 1: (500, docs.SERVER_ERROR), 3: (500, docs.SERVER_ERROR)})
    _, summary = failed_summary(send_op(numbers=numbers(3000)), MemoryStateStore())
    assert api.sends == 6
    assert summary["batches"]["unknown_count"] == 3
    assert summary["batches"]["not_started"] == 0


def test_two_unknown_batches_are_settled_one_by_one_without_touching_the_dag(api: Api) -> None:
    api.script.update({1: (500, docs.SERVER_ERROR), 3: (500, docs.SERVER_ERROR)})
    store = MemoryStateStore()
    message, summary = failed_summary(send_op(numbers=numbers(2000)), store)
    assert [u["index"] for u in summary["batches"]["unknown"]] == [1, 3]
    assert all(u["text_hash"] and u["sent_at"] for u in summary["batches"]["unknown"])
    assert "fullsms-batches settle --dag-id campaign --run-id manual__1 --task-id send" in message
    # ... and the campaign's page in the Airflow UI, with its buttons.
    assert (
        "on the FullSMS page of the Airflow UI "
        "(/fullsms/campaign?dag_id=campaign&run_id=manual__1&task_id=send&map_index=-1: It was sent"
        in message
    )
    # A person checked FullSMS: batch 1 went out, batch 3 did not.
    store.set("fullsms.decision.1", "sent")
    store.set("fullsms.decision.3", "resend")
    api.script.clear()
    api.payloads.clear()
    summary = send_op(numbers=numbers(2000)).execute(context(store))
    assert [p["to_numbers"][0] for p in api.payloads] == ["447700001500"]  # batch 3 only
    assert summary["sent"] == 2000
    assert [a["index"] for a in summary["batches"]["assumed"]] == [1]
    assert summary["batches"]["unknown"] == []
    assert store.get("fullsms.batch.1")["s"] == "assumed_sent"
    assert store.get("fullsms.batch.3")["s"] == "accepted"
    # A later try changes nothing: both are settled for good.
    api.payloads.clear()
    send_op(numbers=numbers(2000)).execute(context(store))
    assert api.payloads == []


@pytest.mark.parametrize("choice", ["assume_sent", "resend"])
def test_a_batch_unknown_in_this_try_never_ends_green(api: Api, choice: str) -> None:
    api.script[0] = (500, docs.SERVER_ERROR)
    message, summary = failed_summary(
        send_op(numbers=numbers(10), on_unknown_outcome=choice), MemoryStateStore()
    )
    assert api.sends == 1  # "resend" applies to a later try, after a person looked: never resent blindly now
    assert summary["batches"]["unknown_count"] == 1
    assert "batch 0 (10 recipients" in message


def test_a_resend_decision_applies_once_and_a_resend_lost_again_asks_for_a_new_one(api: Api) -> None:
    """Issue #20: "resend" was never used up; when the resend's answer was lost too, each clear resent."""
    api.script[1] = (500, docs.SERVER_ERROR)
    store = MemoryStateStore()
    failed_summary(send_op(numbers=numbers(1000)), store)
    # A person checked FullSMS: batch 1 did not go out. Written by hand, as docs/campaigns.md shows.
    store.set("fullsms.decision.1", "resend")
    api.script = {2: (500, docs.SERVER_ERROR)}  # the resend gets a 500 too
    message, _ = failed_summary(send_op(numbers=numbers(1000)), store)
    assert [p["to_numbers"][0] for p in api.payloads[2:]] == ["447700000500"]
    assert "batch 1 (500 recipients" in message

    # Cleared again without a new decision: nobody is texted; the batch waits for a person.
    api.payloads.clear()
    api.script = {}
    message, summary = failed_summary(send_op(numbers=numbers(1000)), store)
    assert api.payloads == []
    assert "batch 1 (500 recipients" in message
    assert "resent after an unknown outcome" in summary["batches"]["unknown"][0]["error"]
    assert "it needs a new decision" in summary["batches"]["unknown"][0]["error"]
    assert store.get("fullsms.batch.1")["a"] == 2  # the resend was its second attempt

    # A new decision, about the second attempt, sends it once more.
    store.set("fullsms.decision.1", "resend")
    summary = send_op(numbers=numbers(1000)).execute(context(store))
    assert [p["to_numbers"][0] for p in api.payloads] == ["447700000500"]
    assert summary["sent"] == 1000
    assert store.get("fullsms.decision.1") == {"decision": "resend", "attempt": 2}


def test_on_unknown_outcome_resend_resends_a_batch_once(api: Api) -> None:
    api.script[0] = (500, docs.SERVER_ERROR)
    store = MemoryStateStore()
    failed_summary(send_op(numbers=numbers(10)), store)
    api.script[1] = (500, docs.SERVER_ERROR)
    failed_summary(send_op(numbers=numbers(10), on_unknown_outcome="resend"), store)
    assert api.sends == 2
    _, summary = failed_summary(send_op(numbers=numbers(10), on_unknown_outcome="resend"), store)
    assert api.sends == 2  # not a third text: the resend's outcome is unknown too, a person decides
    assert "it needs a new decision" in summary["batches"]["unknown"][0]["error"]


def test_a_clear_after_airflows_state_store_clean_texts_nobody_again(api: Api) -> None:
    """Issue #20: the ledger had Airflow's default retention (30 days); the clean-up deleted it."""
    store = AirflowStateStore()
    send_op(numbers=numbers(1000)).execute(context(store))  # type: ignore[arg-type]
    assert len(api.payloads) == 2
    assert {store.expires_at(key) for key in store.rows} == {None}  # never expires

    store.now += timedelta(days=365)
    assert store.clean() == []  # `airflow state-store clean` leaves the ledger alone
    summary = send_op(numbers=numbers(1000)).execute(context(store))  # type: ignore[arg-type]
    assert len(api.payloads) == 2  # a clear a year later texts nobody again
    assert summary["batches"]["skipped_already_accepted"] == 2


def test_an_explicit_ledger_retention_is_the_users_choice(api: Api) -> None:
    store = AirflowStateStore()
    send_op(numbers=numbers(10), ledger_retention=timedelta(days=400)).execute(context(store))  # type: ignore[arg-type]
    assert {store.expires_at(key) for key in store.rows} == {store.now + timedelta(days=400)}


@pytest.mark.parametrize("retention", [timedelta(0), timedelta(days=-1), 30, "30d"])
def test_a_ledger_retention_that_is_no_positive_timedelta_is_refused(retention: Any) -> None:
    with pytest.raises(ValueError, match=r"ledger_retention=.*positive timedelta"):
        send_op(numbers=numbers(10), ledger_retention=retention)


def test_batches_assumed_sent_count_in_sent_and_are_listed(api: Api) -> None:
    api.script[0] = (500, docs.SERVER_ERROR)
    store = MemoryStateStore()
    failed_summary(send_op(numbers=numbers(600)), store)
    summary = send_op(numbers=numbers(600), on_unknown_outcome="assume_sent").execute(context(store))
    assert summary["sent"] == 600
    assert summary["batches"]["assumed_sent"] == 1
    assert [a["index"] for a in summary["batches"]["assumed"]] == [0]


def test_a_wrong_decision_value_fails_before_any_request(api: Api) -> None:
    api.script[0] = (500, docs.SERVER_ERROR)
    store = MemoryStateStore()
    failed_summary(send_op(numbers=numbers(10)), store)
    store.set("fullsms.decision.0", "yes please")
    api.payloads.clear()
    with pytest.raises(AirflowFailException, match=r"'fullsms.decision.0' holds 'yes please'.*\"sent\""):
        send_op(numbers=numbers(10)).execute(context(store))
    assert api.payloads == []


def test_the_summary_stays_small_however_many_batches_are_unknown() -> None:
    batches = [Batch(i, (str(447700000000 + i),), "Hi", f"fp{i}", 1) for i in range(300)]

    def send(batch: Batch) -> SendResult:
        raise FullSmsOutcomeUnknownError("POST messages/send/to_numbers", "read timed out")

    ledger = Ledger(MemoryStateStore())
    ledger.open({"fingerprint": "plan", "batches": 300})
    report = run_batches(
        batches, send, ledger, on_unknown=OnUnknownOutcome.FAIL, stop_after_unknown=1000, total_batches=300
    )
    summary = report.summary()
    assert summary["batches"]["unknown_count"] == 300
    assert len(summary["batches"]["unknown"]) == 50
    assert summary["unknown_recipients"] == 300
