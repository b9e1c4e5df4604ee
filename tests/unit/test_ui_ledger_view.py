"""What the FullSMS page of the Airflow UI makes of a send task's ledger, and its balance cache."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from airflow_provider_fullsms.campaigns.plan import mask_number
from airflow_provider_fullsms.exceptions import FullSmsConfigurationError
from airflow_provider_fullsms.plugins.balances import CACHE_SECONDS, BalanceCache
from airflow_provider_fullsms.plugins.ledger_view import campaign_view, mask_numbers
from airflow_provider_fullsms.plugins.pages import campaign_page
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from airflow_provider_fullsms.settlement import TaskAddress as TaskKey
from tests.versions import needs_airflow_3

TASK = TaskKey("crm", "run_1", "send", 2)


def view(batches: dict[int, dict[str, Any]], task_state: str = "failed", **entries: Any) -> Any:
    found = {"fullsms.plan": {"v": 1, "fp": "f", "batches": 4, "recipients": 1600}, **entries}
    found.update({f"fullsms.batch.{index}": record for index, record in batches.items()})
    return campaign_view(TASK, found, started_at="2025-01-01 00:00:00 UTC", task_state=task_state)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("447700900001", "447•••••••01"),
        (
            "to_numbers.3: 972541111111 could not receive messages",
            "to_numbers.3: 972•••••••11 could not receive messages",
        ),
        # Each used to show all but three digits, or (with spaces, dashes, or an invisible mark
        # pasted into it) the whole number.
        ("invalid: +44 7700 900001", "invalid: +44 7••• ••••01"),
        ("to +44 (0)7700-900-001", "to +44 (0)••••-•••-•01"),
        ("to 44\u200b7700900001", "to 44\u200b7•••••••01"),
        ("447700900001 447700900002", "447••••••••• ••••••••••02"),
        ("batch 12 of 500 numbers, HTTP 503 after 30.5 s", "batch 12 of 500 numbers, HTTP 503 after 30.5 s"),
        # A date has as many digits as a short number: masked too, rather than a number shown.
        ("at 2025-01-01", "at 20••-••-01"),
    ],
)
def test_no_more_than_half_of_a_phone_numbers_digits_is_shown(text: str, shown: str) -> None:
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
    assert campaign.batches[2].error == "422 to_numbers.0: 447•••••••01 is invalid"
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


def test_a_decision_about_an_earlier_attempt_is_not_shown() -> None:
    """A resend is a new attempt: the decision that sent it no longer applies once it is unknown too."""
    campaign = view(
        {0: {"s": "unknown", "n": 10, "a": 2}, 1: {"s": "unknown", "n": 10, "a": 2}},
        **{
            "fullsms.decision.0": {"decision": "resend", "attempt": 1},
            "fullsms.decision.1": {"decision": "sent", "attempt": 2},
        },
    )

    assert [(b.index, b.decision) for b in campaign.batches] == [(0, None), (1, "sent")]


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


# -- the page's decisions: the CLI's checks, through Airflow's REST API (requests-mock) -----------

API = "http://airflow.test:8080"
TI = "/api/v2/dags/crm/dagRuns/run_1/taskInstances/send"


class Editor:
    """A caller who may change the DAG's task instances."""

    token = "jwt-for-tests"

    def may_edit_task_instances(self, dag_id: str) -> bool:
        return True


@pytest.fixture
def page(requests_mock: Any) -> Any:
    from starlette.testclient import TestClient

    from airflow_provider_fullsms.plugins.app import airflow_api, create_app
    from airflow_provider_fullsms.plugins.security import writer
    from airflow_provider_fullsms.settlement import AirflowApi

    store = {
        "fullsms.plan": {"v": 1, "fp": "f", "batches": 2, "recipients": 20},
        "fullsms.batch.0": {"s": "unknown", "fp": "a", "n": 10, "a": 1},
        "fullsms.batch.1": {"s": "in_flight", "fp": "b", "n": 10, "a": 1},
    }
    entries = [
        {"key": k, "value": v, "updated_at": "2026-01-01T00:00:00Z", "expires_at": None}
        for k, v in store.items()
    ]
    requests_mock.get(f"{API}{TI}/state-store", json={"task_state_store": entries, "total_entries": 3})
    requests_mock.get(f"{API}{TI}/2", json={"state": "running"})
    app = create_app()
    app.dependency_overrides[writer] = Editor
    app.dependency_overrides[airflow_api] = lambda: AirflowApi(API, Editor.token, task_state_store=True)
    return TestClient(app)


@needs_airflow_3("api-server to host the FullSMS page (there: the fullsms-batches CLI)")
@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_the_page_records_changes_and_withdraws_a_decision(page: Any, requests_mock: Any) -> None:
    requests_mock.put(f"{API}{TI}/state-store/fullsms.decision.0", status_code=204)
    requests_mock.delete(f"{API}{TI}/state-store/fullsms.decision.0", status_code=204)
    task = {"dag_id": "crm", "run_id": "run_1", "task_id": "send", "map_index": 2}

    recorded = page.post("/api/decision", json={**task, "batch": 0, "decision": "resend"})
    changed = page.post("/api/decision", json={**task, "batch": 0, "decision": "sent"})
    withdrawn = page.post("/api/decision/withdraw", json={**task, "batch": 0})

    assert [r.status_code for r in (recorded, changed, withdrawn)] == [200, 200, 200]
    assert recorded.json()["attempt"] == 1
    writes = [
        (r.method, r.json() if r.body else None) for r in requests_mock.request_history if r.method != "GET"
    ]
    assert writes == [
        ("PUT", {"value": {"decision": "resend", "attempt": 1}, "expires_at": None}),
        ("PUT", {"value": {"decision": "sent", "attempt": 1}, "expires_at": None}),
        ("DELETE", None),
    ]


@needs_airflow_3("api-server to host the FullSMS page (there: the fullsms-batches CLI)")
@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_the_page_refuses_a_decision_about_a_batch_in_flight_while_the_task_runs(
    page: Any, requests_mock: Any
) -> None:
    task = {"dag_id": "crm", "run_id": "run_1", "task_id": "send", "map_index": 2}

    answer = page.post("/api/decision", json={**task, "batch": 1, "decision": "resend"})

    assert answer.status_code == 409
    assert "in flight and the task is running" in answer.json()["detail"]
    assert [r.method for r in requests_mock.request_history] == ["GET", "GET"]


def test_a_balance_error_quoting_a_number_is_masked() -> None:
    def read(conn_id: str) -> float:
        raise FullSmsConfigurationError("default_sender '+44 7700 900001' is not one of your numbers")

    failed = BalanceCache(read).get("fullsms_default")

    assert failed.error == "default_sender '+44 7••• ••••01' is not one of your numbers"


def test_the_campaign_page_shows_a_batch_error_with_the_number_masked() -> None:
    campaign = view({0: {"s": "not_sent", "n": 1, "why": "422 to_numbers.0: +44 7700 900001 is invalid"}})

    page = campaign_page(campaign, may_edit=True, csrf="c")

    assert "+44 7••• ••••01" in page
    assert "7700 900001" not in page


# -- the rule, for numbers written any way, anywhere in a text ------------------------------------

#: Digits of other scripts a number may be written in: Arabic-Indic, Devanagari, full-width.
_SCRIPTS = ["".join(chr(zero + d) for d in range(10)) for zero in (0x30, 0x660, 0x966, 0xFF10)]
_SEPARATORS = [" ", "-", ".", "/", "(", ")", "[", "]", "\u00a0", "\u2013", "\u2212", "\u200b", "\u00ad", "\t"]


@st.composite
def written_numbers(draw: st.DrawFn) -> tuple[str, list[int]]:
    """A phone number of 7 to 15 digits as someone may write it, and where its digits are."""
    digits = draw(st.text(alphabet="0123456789", min_size=7, max_size=15))
    script = draw(st.sampled_from(_SCRIPTS))
    written, positions = draw(st.sampled_from(["", "+", "("])), []
    for index, digit in enumerate(digits):
        if index:
            written += "".join(draw(st.lists(st.sampled_from(_SEPARATORS), max_size=2)))
        positions.append(len(written))
        written += script[int(digit)]
    return written, positions


#: What stands between two numbers: any text, often only separators (so the numbers join).
_glue = st.one_of(st.text(max_size=6), st.text(alphabet="".join(_SEPARATORS), min_size=1, max_size=2))


@pytest.mark.property
@given(
    before=st.text(max_size=12),
    numbers=st.lists(st.tuples(written_numbers(), _glue), min_size=1, max_size=3),
)
@example(before="to_numbers.3: ", numbers=[(("972541111111", list(range(12))), " invalid")])
@example(  # two numbers in one run of digits: neither may show more than half its own digits
    before="", numbers=[(("7700900", list(range(7))), " "), (("1234567", list(range(7))), "")]
)
def test_numbers_written_any_way_in_any_text_show_at_most_half_their_digits(
    before: str, numbers: list[tuple[tuple[str, list[int]], str]]
) -> None:
    text, where = before, []
    for (written, positions), glue in numbers:
        where.append([len(text) + at for at in positions])
        text += written + glue

    shown = mask_numbers(text)

    assert len(shown) == len(text)  # one • a digit, nothing else moves
    for positions in where:
        assert sum(shown[at].isdecimal() for at in positions) <= len(positions) // 2, shown


@pytest.mark.property
@given(st.text())
@example("batch 12 of 500, HTTP 503 after 30.5 s")
def test_a_text_with_fewer_than_seven_digits_is_shown_as_it_is(text: str) -> None:
    assume(sum(char.isdecimal() for char in text) < 7)
    assert mask_numbers(text) == text


@pytest.mark.property
@given(st.text(alphabet="0123456789", max_size=20))
def test_a_masked_number_shows_at_most_half_its_digits(number: str) -> None:
    masked = mask_number(number)

    assert len(masked) == len(number)
    assert sum(c.isdecimal() for c in masked) <= (len(number) // 2 if len(number) >= 6 else 0)


@pytest.mark.parametrize(
    ("extra", "cost"),
    [
        # 600 one-segment texts at 0.05, and 600 two-segment ones at 0.01
        ({"price_per_segment": 0.05}, 30.0),
        ({"price_per_segment": "0.01", "message": "x" * 161}, 12.0),
        # without a price the page cannot know the cost: "-"
        ({}, None),
    ],
)
def test_the_cost_of_a_real_send_is_its_segments_times_the_price(
    monkeypatch: pytest.MonkeyPatch, requests_mock: Any, extra: dict[str, Any], cost: float | None
) -> None:
    from tests.conftest import FAKE_URL, connection_json
    from tests.unit.test_operators import Api, context, numbers, send_op

    message = extra.pop("message", "Hello from Airflow")
    monkeypatch.setenv(
        "AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(FAKE_URL, default_sender="COPERATO", **extra)
    )
    Api(requests_mock)
    store = MemoryStateStore()
    summary = send_op(numbers=numbers(600), message=message).execute(context(store))
    entries = {key: store.get(key) for key in store.data}

    campaign = campaign_view(TASK, entries, started_at="", task_state="success", summary=summary)

    assert campaign.sent == 600
    assert campaign.cost == cost
    assert campaign.to_json()["cost"] == cost
    shown = campaign_page(campaign, may_edit=False, csrf="t")
    assert (f'<dd id="cost">{"-" if cost is None else cost} ') in shown
