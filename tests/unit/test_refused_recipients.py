"""
Recipients FullSMS refuses one by one (its documented 422 ``to_numbers.N``) never stop a campaign:
they are reported with FullSMS's reason and everyone else is texted.
"""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_fullsms.campaigns import refused_numbers
from airflow_provider_fullsms.exceptions import FullSmsApiError
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from tests import vendor_docs as docs
from tests.unit.test_operators import Api, api, context, no_sleep, numbers, send_op

__all__ = ["api", "no_sleep"]  # fixtures shared with test_operators

REASON = docs.NUMBERS_INVALID["errors"]["to_numbers.0"][0]


def refusing(*positions: int) -> tuple[int, dict[str, object]]:
    """FullSMS's documented 422, naming the recipients at ``positions`` of the request."""
    return 422, {**docs.NUMBERS_INVALID, "errors": {f"to_numbers.{p}": [REASON] for p in positions}}


def test_refused_numbers_in_a_full_batch_are_dropped_and_the_rest_sent_at_once(api: Api) -> None:
    api.script[0] = refusing(7, 300)
    store = MemoryStateStore()
    summary = send_op(numbers=numbers(1000)).execute(context(store))
    refused = {numbers(1000)[7], numbers(1000)[300]}
    first, resent, second = (p["to_numbers"] for p in api.payloads)
    assert len(first) == 500
    assert resent == [n for n in first if n not in refused]  # the same batch, at once, without them
    assert len(second) == 500
    assert summary["sent"] == 998
    assert summary["invalid"]["count"] == 2
    assert sorted(summary["invalid"]["numbers"]) == sorted(refused)
    assert summary["invalid"]["fullsms_reasons"] == {REASON: 2}
    assert summary["sent"] + summary["invalid"]["count"] == summary["recipients"]


def test_one_unreachable_phone_in_a_personalised_campaign_stops_nobody(api: Api) -> None:
    rows = [{"number": n, "name": f"Person {i}"} for i, n in enumerate(numbers(5))]
    api.script[2] = refusing(0)  # the third person's phone cannot receive messages
    summary = send_op(recipients=rows, message="Hi {name}").execute(context(MemoryStateStore()))
    texted = [p["to_numbers"] for p in api.payloads]
    assert texted == [[n] for n in numbers(5)]  # everyone after the refused one too
    assert summary["sent"] == 4
    assert summary["invalid"]["numbers"] == [numbers(5)[2]]
    assert summary["batches"]["not_sent"] == []


def test_a_retry_does_not_meet_the_refused_number_again(api: Api) -> None:
    api.script[0] = refusing(0)
    api.script[1] = (500, docs.SERVER_ERROR)  # batch 1 unknown: the task fails, a person settles it
    store = MemoryStateStore()
    rows = [{"number": n, "name": f"P{i}"} for i, n in enumerate(numbers(3))]
    with pytest.raises(AirflowFailException):
        send_op(recipients=rows, message="Hi {name}").execute(context(store))
    store.set("fullsms.decision.1", "resend")
    api.payloads.clear()
    api.script.clear()
    summary = send_op(recipients=rows, message="Hi {name}").execute(context(store))
    assert [p["to_numbers"] for p in api.payloads] == [[numbers(3)[1]]]
    assert summary["invalid"]["fullsms_reasons"] == {REASON: 1}  # still reported, from the ledger


def test_a_422_about_the_message_still_stops_the_campaign(api: Api) -> None:
    api.script[0] = (422, docs.MESSAGE_NOT_STRING)
    with pytest.raises(AirflowFailException, match="message must be a string"):
        send_op(numbers=numbers(1000)).execute(context(MemoryStateStore()))
    assert api.sends == 1


@pytest.mark.parametrize(
    ("errors", "named"),
    [
        ({"to_numbers.1": [REASON]}, {"b": REASON}),
        ({"to_numbers.1": [REASON], "message": ["bad"]}, {}),  # also about the message: every batch
        ({"to_numbers.9": [REASON]}, {}),  # names no number of this request
        ({}, {}),
    ],
)
def test_only_a_422_naming_recipients_of_the_request_is_a_per_recipient_refusal(
    errors: dict[str, list[str]], named: dict[str, str]
) -> None:
    assert (
        refused_numbers(FullSmsApiError(422, "422 Unprocessable Content", errors=errors), ["a", "b"]) == named
    )
    assert refused_numbers(FullSmsApiError(400, "Bad request", errors=errors), ["a", "b"]) == {}
