"""What the FullSMS page of the Airflow UI makes of a send task's ledger, and its balance cache."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_fullsms.exceptions import FullSmsConfigurationError
from airflow_provider_fullsms.plugins.balances import CACHE_SECONDS, BalanceCache
from airflow_provider_fullsms.plugins.ledger_view import campaign_view, mask_numbers
from airflow_provider_fullsms.settlement import TaskAddress as TaskKey

TASK = TaskKey("crm", "run_1", "send", 2)


def view(batches: dict[int, dict[str, Any]], task_state: str = "failed", **entries: Any) -> Any:
    found = {"fullsms.plan": {"v": 1, "fp": "f", "batches": 4, "recipients": 1600}, **entries}
    found.update({f"fullsms.batch.{index}": record for index, record in batches.items()})
    return campaign_view(TASK, found, started_at="2025-01-01 00:00:00 UTC", task_state=task_state)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("447700900001", "4477009•••01"),
        (
            "to_numbers.3: 972541111111 could not receive messages",
            "to_numbers.3: 9725411•••11 could not receive messages",
        ),
        ("batch 12 of 500 numbers at 2025-01-01", "batch 12 of 500 numbers at 2025-01-01"),
    ],
)
def test_no_whole_phone_number_is_shown(text: str, shown: str) -> None:
    assert mask_numbers(text) == shown


def test_sent_counts_what_fullsms_accepted_and_what_a_person_said_was_sent() -> None:
    campaign = view(
        {
            0: {"s": "accepted", "n": 500, "t": 498, "c": "c-1"},
            1: {"s": "assumed_sent", "n": 500},
            2: {"s": "not_sent", "n": 500, "why": "422 to_numbers.0: 447700900001 is invalid"},
        }
    )

    assert campaign.sent == 998
    assert campaign.not_started == 1
    assert [b.index for b in campaign.not_sent] == [2]
    assert campaign.batches[2].error == "422 to_numbers.0: 4477009•••01 is invalid"
    assert campaign.needs_attention
    assert campaign.to_json()["map_index"] == 2


@pytest.mark.parametrize(("task_state", "unknown"), [("running", []), ("failed", [0]), (None, [0])])
def test_a_batch_in_flight_is_unknown_once_no_try_is_running(
    task_state: str | None, unknown: list[int]
) -> None:
    campaign = view({0: {"s": "in_flight", "n": 500}}, task_state=task_state)

    assert [batch.index for batch in campaign.unknown] == unknown


def test_a_recorded_decision_shows_until_the_retry_applies_it() -> None:
    campaign = view(
        {0: {"s": "unknown", "n": 10}, 1: {"s": "unknown", "n": 10}, 2: {"s": "accepted", "n": 10, "t": 10}},
        **{"fullsms.decision.0": "resend", "fullsms.decision.2": "sent", "fullsms.decision.1": "bogus"},
    )

    assert [(b.index, b.decision) for b in campaign.batches] == [(0, "resend"), (1, None), (2, None)]


def test_a_finished_campaign_needs_no_attention() -> None:
    campaign = view({i: {"s": "accepted", "n": 400, "t": 400} for i in range(4)}, task_state="success")

    assert (campaign.sent, campaign.needs_attention, campaign.not_started) == (1600, False, 0)


def test_balances_are_read_on_demand_and_kept_for_a_while() -> None:
    now = [1000.0]
    reads: list[str] = []

    def read(conn_id: str) -> float:
        reads.append(conn_id)
        if conn_id == "bad":
            raise FullSmsConfigurationError("Connection bad has no API token (password).")
        return 12.5

    cache = BalanceCache(read, clock=lambda: now[0])

    first = cache.get("fullsms_default")
    now[0] += CACHE_SECONDS - 1
    again = cache.get("fullsms_default")
    now[0] += 2
    later = cache.get("fullsms_default")
    failed = cache.get("bad")

    assert (first.balance, again is first, later.read_at) == (12.5, True, 1000.0 + CACHE_SECONDS + 1)
    assert reads == ["fullsms_default", "fullsms_default", "bad"]
    assert (failed.balance, failed.error) == (None, "Connection bad has no API token (password).")
