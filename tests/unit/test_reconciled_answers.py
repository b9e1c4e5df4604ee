"""
FullSMS's ``200`` is reconciled with what was asked, not taken on trust.

An answer whose status is not ``approved``, or whose ``total_sent`` and ``invalid`` list do not add
up to the request, is not counted as sent: the recipients it does not account for are reported
unknown (with the campaign id, so a person can check), the batch is recorded accepted so no retry
ever sends it again, and the try fails so a person looks.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from airflow_provider_fullsms.campaigns import Ledger, OnUnknownOutcome, run_batches, send_batch
from airflow_provider_fullsms.campaigns.batching import Batch, SendResult
from airflow_provider_fullsms.exceptions import FullSmsApiError, FullSmsOutcomeUnknownError
from airflow_provider_fullsms.models import Campaign
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from tests import vendor_docs as docs
from tests.unit.test_low_balance import BALANCE_LOW, priced
from tests.unit.test_operators import Api, api, context, no_sleep, numbers, send_op
from tests.unit.test_unknown_outcomes import failed_summary

__all__ = ["api", "no_sleep", "priced"]  # fixtures shared with test_operators and test_low_balance

REASON = docs.NUMBERS_INVALID["errors"]["to_numbers.0"][0]


def figures(summary: dict[str, Any]) -> int:
    """Every recipient in exactly one figure: sent, invalid, outside the window, unknown, not sent."""
    return (
        summary["sent"]
        + summary["invalid"]["count"]
        + summary["outside_window"]["count"]
        + summary["unknown_recipients"]
        + summary["not_sent_recipients"]
    )


def answer(total_sent: object, status: str = "approved", invalid: list[str] | None = None) -> tuple[int, Any]:
    """A ``200`` shaped like the documented one, with these fields."""
    listed = invalid or []
    return 200, {
        **docs.SEND_TO_NUMBERS,
        "status": status,
        "total_sent": total_sent,
        "invalid": {"count": len(listed), "numbers": listed},
    }


# -- the examples the review found -------------------------------------------------------------


def test_a_smaller_total_sent_is_not_counted_as_all_sent_and_the_try_fails(api: Api) -> None:
    api.script[0] = answer(total_sent=1)  # two numbers asked for, FullSMS says it sent one
    store = MemoryStateStore()
    message, summary = failed_summary(send_op(numbers=numbers(2)), store)
    assert summary["sent"] == 1
    assert summary["unknown_recipients"] == 1
    assert figures(summary) == 2
    (discrepant,) = summary["batches"]["discrepant"]
    assert discrepant["campaign_id"] == docs.SEND_TO_NUMBERS["campaign_id"]
    assert discrepant["unknown"] == 1
    assert docs.SEND_TO_NUMBERS["campaign_id"] in message
    assert "total_sent 1 for 2 numbers" in message
    assert "never sent again" in message
    # A person clears the task: the retry sends nothing again, and still counts the batch honestly.
    again = send_op(numbers=numbers(2)).execute(context(store))
    assert api.sends == 1
    assert (again["sent"], again["unknown_recipients"], figures(again)) == (1, 1, 2)
    assert again["batches"]["discrepant"][0]["campaign_id"] == docs.SEND_TO_NUMBERS["campaign_id"]


@pytest.mark.parametrize("status", ["declined", "pending", "", "APPROVED"])
def test_a_200_whose_status_is_not_approved_counts_nobody_as_sent(api: Api, status: str) -> None:
    api.script[0] = answer(total_sent=3, status=status)
    message, summary = failed_summary(send_op(numbers=numbers(3)), MemoryStateStore())
    assert (summary["sent"], summary["unknown_recipients"], figures(summary)) == (0, 3, 3)
    assert f"status {status!r}" in message


def test_the_documented_answer_for_two_numbers_does_not_account_for_three(api: Api) -> None:
    api.script[0] = (200, docs.SEND_TO_NUMBERS)  # verbatim: total_sent 2
    _, summary = failed_summary(send_op(numbers=numbers(3)), MemoryStateStore())
    assert (summary["sent"], summary["unknown_recipients"]) == (2, 1)


def test_even_resend_on_unknown_outcome_never_resends_a_batch_whose_answer_did_not_add_up(api: Api) -> None:
    api.script[0] = answer(total_sent=400)
    store = MemoryStateStore()
    failed_summary(send_op(numbers=numbers(700)), store)
    assert api.sends == 2  # the second batch went out as usual
    send_op(numbers=numbers(700), on_unknown_outcome="resend").execute(context(store))
    assert api.sends == 2


def test_a_campaign_stopped_for_credit_after_such_an_answer_fails_rather_than_pausing(
    priced: Api,
) -> None:
    priced.script[0] = answer(total_sent=499)
    priced.script[1] = (422, BALANCE_LOW)
    op = send_op(numbers=numbers(1000), deferrable=True)
    message, summary = failed_summary(op, MemoryStateStore())  # not TaskDeferred: a person looks first
    assert "does not add up" in message
    assert "The rest needs a balance of at least" in message  # and what the rest needs
    assert summary["unknown_recipients"] == 1


def test_an_answer_whose_listed_invalid_numbers_account_for_the_rest_adds_up(api: Api) -> None:
    refused = numbers(3)[1]
    api.script[0] = answer(total_sent=2, invalid=[refused])
    summary = send_op(numbers=numbers(3)).execute(context(MemoryStateStore()))
    assert (summary["sent"], summary["invalid"]["numbers"], summary["unknown_recipients"]) == (
        2,
        [refused],
        0,
    )
    assert summary["batches"]["discrepant"] == []


def test_a_listed_number_that_was_not_asked_for_does_not_account_for_anybody(api: Api) -> None:
    api.script[0] = answer(total_sent=1, invalid=["+" + numbers(2)[1]])  # not the number sent
    _, summary = failed_summary(send_op(numbers=numbers(2)), MemoryStateStore())
    assert (summary["sent"], summary["invalid"]["count"], summary["unknown_recipients"]) == (0, 0, 2)


BATCH = Batch(0, ("972541111111", "972542222222", "972543333333"), "Hi", "fp", 3)
LIST_SEND = Batch(0, (), "Hi", "lists", 40)


@pytest.mark.parametrize(
    ("batch", "status", "total_sent", "listed", "expected"),
    [
        # (counted sent, listed invalid, unknown)
        (BATCH, "approved", 3, [], (3, 0, 0)),
        (BATCH, "approved", 2, ["972542222222"], (2, 1, 0)),
        (BATCH, "approved", 2, ["972542222222", "972542222222"], (2, 1, 0)),  # listed twice, one person
        (BATCH, "approved", 2, [], (2, 0, 1)),
        (BATCH, "approved", 0, [], (0, 0, 3)),
        (BATCH, "approved", 4, [], (0, 0, 3)),  # more than asked: the count proves nothing
        (BATCH, "approved", -1, [], (0, 0, 3)),
        (BATCH, "approved", None, [], (0, 0, 3)),
        (BATCH, "approved", 2, ["+972542222222"], (0, 0, 3)),  # not a number that was sent
        (BATCH, "declined", 3, [], (0, 0, 3)),
        (LIST_SEND, "approved", None, [], (40, 0, 0)),  # a send to lists answers no count
        (LIST_SEND, "pending", None, [], (0, 0, 40)),
    ],
)
def test_what_an_answer_proves(
    batch: Batch, status: str, total_sent: int | None, listed: list[str], expected: tuple[int, int, int]
) -> None:
    result = SendResult.of(Campaign("c-1", status, total_sent, tuple(listed)), batch)
    assert (result.total_sent, result.invalid_count, result.unknown) == expected
    assert bool(result.discrepancy) == bool(result.unknown)
    if result.unknown:
        assert "'c-1'" in result.discrepancy


# -- the rule, over generated answers ----------------------------------------------------------

#: What FullSMS may answer one request: a 200 with any status, count and list, a 422 naming
#: some of the numbers, or no clear answer at all.
Answer = tuple[str, Any]
STATUSES = st.sampled_from(["approved", "approved", "approved", "declined", "pending", "queued"])


#: Where a number FullSMS lists invalid comes from: a position in the request, or beyond it (a
#: number that was not asked for), or the first number written with a "+" (not as it was sent).
LISTED = st.lists(st.integers(-1, 5), max_size=3)
TOTALS = st.one_of(st.none(), st.integers(-1, 7))
KINDS = st.sampled_from(["200", "200", "200", "unknown"])


@st.composite
def scripts(draw: st.DrawFn) -> list[tuple[Batch, list[Answer]]]:
    """Batches of 1-5 numbers, each with the answers FullSMS gives its requests, in order."""
    batches = []
    start = 447700900000
    for index in range(draw(st.integers(1, 6))):
        size = draw(st.integers(1, 5))
        batch_numbers = tuple(str(start + i) for i in range(size))
        start += size
        batch = Batch(index, batch_numbers, "Hi", f"fp{index}", size)
        answers: list[Answer] = []
        if draw(st.booleans()):  # FullSMS first refuses some of them one by one
            answers.append(("422", draw(st.sets(st.integers(0, size - 1), min_size=1, max_size=size))))
        if draw(KINDS) == "unknown":
            answers.append(("unknown", None))
        else:
            listed = [
                batch_numbers[p] if 0 <= p < size else "+" + batch_numbers[0] if p < 0 else "999"
                for p in draw(LISTED)
            ]
            answers.append(("200", (draw(STATUSES), draw(TOTALS), listed)))
        batches.append((batch, answers))
    return batches


def fake_fullsms(script: list[tuple[Batch, list[Answer]]]) -> tuple[Any, Counter[int]]:
    """A ``send`` over :func:`send_batch` answering each batch's requests from ``script``."""
    answers = {batch.index: list(batch_answers) for batch, batch_answers in script}
    requests: Counter[int] = Counter()

    def send(batch: Batch) -> SendResult:
        def send_numbers(asked: Any) -> Campaign:
            requests[batch.index] += 1
            kind, detail = answers[batch.index].pop(0) if answers[batch.index] else ("200", None)
            if kind == "422":
                named = sorted(p for p in detail if p < len(asked))
                errors = {f"to_numbers.{p}": [REASON] for p in named}
                raise FullSmsApiError(422, "422 Unprocessable Content", errors=errors)
            if kind == "unknown":
                raise FullSmsOutcomeUnknownError("POST messages/send/to_numbers", "read timed out")
            status, total, listed = detail or ("approved", len(asked), [])
            return Campaign(f"camp-{batch.index}", status, total, tuple(listed))

        return send_batch(batch, send_numbers)

    return send, requests


def campaign(batches: list[Batch], send: Any, store: MemoryStateStore, **kwargs: Any) -> Any:
    ledger = Ledger(store)
    ledger.open({"fingerprint": "plan", "batches": len(batches)})
    return run_batches(
        batches,
        send,
        ledger,
        total_batches=len(batches),
        total_recipients=sum(batch.recipients for batch in batches),
        max_concurrency=1,
        stop_after_unknown=10,
        **kwargs,
    )


@pytest.mark.property
@given(script=scripts(), on_unknown=st.sampled_from(list(OnUnknownOutcome)))
@example(
    script=[(Batch(0, ("447700900000", "447700900001"), "Hi", "fp0", 2), [("200", ("approved", 1, []))])],
    on_unknown=OnUnknownOutcome.RESEND,
)
def test_every_recipient_is_in_one_figure_and_an_answer_that_does_not_add_up_is_never_resent(
    script: list[tuple[Batch, list[Answer]]], on_unknown: OnUnknownOutcome
) -> None:
    batches = [batch for batch, _ in script]
    recipients = sum(batch.recipients for batch in batches)
    store = MemoryStateStore()
    send, requests = fake_fullsms(script)
    first = campaign(batches, send, store).summary()
    assert figures(first) == recipients
    discrepant = {d["index"] for d in first["batches"]["discrepant"]}
    for index in discrepant:
        record = store.get(f"fullsms.batch.{index}")
        # Recorded accepted, with the campaign id a person looks up and the recipients left unknown.
        assert (record["s"], record["c"]) == ("accepted", f"camp-{index}")
        assert record["u"] > 0
    # Only what an answer proves is sent: at most the asked numbers it does not list invalid.
    assert first["sent"] <= recipients - first["invalid"]["count"]
    # A retry, whatever it is told to do with unknown outcomes: figures still add up, and no batch
    # FullSMS accepted (with or without a discrepancy) is sent again.
    before = Counter(requests)
    again = campaign(batches, send, store, on_unknown=on_unknown).summary()
    assert figures(again) == recipients
    resent = {index for index in requests if requests[index] > before[index]}
    assert not resent & discrepant
    assert {d["index"] for d in again["batches"]["discrepant"]} == discrepant
