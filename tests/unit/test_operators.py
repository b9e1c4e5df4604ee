"""The send and balance operators against requests-mock serving the vendor's documented bodies."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_fullsms.operators.fullsms import (
    FullSmsGetBalanceOperator,
    FullSmsSendToListsOperator,
    FullSmsSendToNumbersOperator,
)
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from tests import vendor_docs as docs
from tests.conftest import FAKE_URL, SECRET_TOKEN
from tests.versions import POSITIONAL_ARGUMENTS_ERROR

SEND_PATH = f"{FAKE_URL}/messages/send/to_numbers"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook's backoff between its own retries, skipped."""
    monkeypatch.setattr("airflow_provider_fullsms.hooks.fullsms.time.sleep", lambda seconds: None)


class Api:
    """requests-mock standing in for FullSMS: documented account bodies, scripted send answers."""

    def __init__(self, requests_mock: Any) -> None:
        self.mock = requests_mock
        self.payloads: list[dict[str, Any]] = []
        self.script: dict[int, Any] = {}  # send call number (from 0) -> (status, body) or exception
        requests_mock.get(f"{FAKE_URL}/account/numbers", json=docs.NUMBERS)
        requests_mock.get(f"{FAKE_URL}/account/senderids", json=docs.SENDER_IDS)
        requests_mock.get(f"{FAKE_URL}/account/templates", json=docs.TEMPLATES)
        requests_mock.get(f"{FAKE_URL}/account/lists", json=docs.LISTS)
        requests_mock.get(f"{FAKE_URL}/account/balance", json=docs.BALANCE)
        requests_mock.post(SEND_PATH, json=self._answer)
        requests_mock.post(f"{FAKE_URL}/messages/send/to_lists", json=self._answer_lists)

    def _answer(self, request: Any, context: Any) -> Any:
        call = len(self.payloads)
        payload = request.json()
        self.payloads.append(payload)
        scripted = self.script.get(call)
        if isinstance(scripted, BaseException):
            raise scripted
        if scripted is not None:
            context.status_code = scripted[0]
            return scripted[1]
        return {
            **docs.SEND_TO_NUMBERS,
            "campaign_id": f"camp-{call}",
            "total_sent": len(payload["to_numbers"]),
        }

    def _answer_lists(self, request: Any, context: Any) -> Any:
        self.payloads.append(request.json())
        return docs.SEND_TO_LISTS

    @property
    def sends(self) -> int:
        return sum(1 for r in self.mock.request_history if r.method == "POST")


@pytest.fixture
def api(fullsms_conn: str, requests_mock: Any) -> Api:
    return Api(requests_mock)


def numbers(count: int, start: int = 447700000000) -> list[str]:
    return [str(start + i) for i in range(count)]


def context(store: MemoryStateStore | None = None) -> Any:
    return cast("Any", {} if store is None else {"task_state_store": store})


def send_op(**kwargs: Any) -> FullSmsSendToNumbersOperator:
    kwargs.setdefault("message", "Hello from Airflow")
    kwargs.setdefault("max_concurrency", 1)
    return FullSmsSendToNumbersOperator(task_id="send", **kwargs)


# -- construction --------------------------------------------------------------------------------


def test_constructing_an_operator_connects_to_nothing(requests_mock: Any) -> None:
    op = send_op(numbers=["447700900001"])
    assert requests_mock.call_count == 0
    assert "hook" not in op.__dict__
    assert op.template_fields[0] == "numbers"


def test_importing_the_operators_loads_nothing_beyond_the_task_sdk() -> None:
    code = (
        # Where BaseOperator lives (the Task SDK; airflow.models on 2.11) is the baseline.
        "import sys; from airflow.providers.common.compat.sdk import BaseOperator; "
        "before = set(sys.modules); "
        "import airflow_provider_fullsms.operators.fullsms; "
        "print(sorted(set(sys.modules) - before))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = out.strip()
    for heavy in ("requests", "httpx", "hooks", "campaigns", "urllib3"):
        assert heavy not in loaded


def test_constructors_are_keyword_only() -> None:
    with pytest.raises(POSITIONAL_ARGUMENTS_ERROR, match="keyword arguments"):
        FullSmsSendToNumbersOperator("send")  # type: ignore[call-arg]


# -- sending -------------------------------------------------------------------------------------


def test_numbers_go_out_in_batches_of_500(api: Api) -> None:
    summary = send_op(numbers=numbers(1234)).execute(context(MemoryStateStore()))
    assert [len(p["to_numbers"]) for p in api.payloads] == [500, 500, 234]
    assert {p["from"] for p in api.payloads} == {"COPERATO"}
    assert summary["recipients"] == summary["sent"] == 1234
    assert summary["campaign_ids"] == ["camp-0", "camp-1", "camp-2"]
    assert summary["batches"]["total"] == summary["batches"]["accepted"] == 3
    assert json.loads(json.dumps(summary)) == summary


def test_duplicates_and_invalid_numbers_are_reported_not_sent(api: Api) -> None:
    summary = send_op(
        numbers=["+44 7700 900001", "447700900001", "12", "not a number", "447700900002"]
    ).execute(context())
    assert api.payloads[0]["to_numbers"] == ["447700900001", "447700900002"]
    assert summary["duplicates"] == 1
    assert summary["invalid"]["count"] == 2
    assert summary["invalid"]["numbers"] == ["12", "not a number"]


def test_numbers_fullsms_calls_invalid_are_counted(api: Api) -> None:
    api.script[0] = (
        200,
        {**docs.SEND_TO_NUMBERS, "total_sent": 1, "invalid": {"count": 1, "numbers": ["447700900999"]}},
    )
    summary = send_op(numbers=["447700900001", "447700900999"]).execute(context())
    assert summary["invalid"] == {
        "count": 1,
        "numbers": ["447700900999"],
        "rejected_locally": 0,
        "rejected_by_fullsms": 1,
        "reasons": {},
        "fullsms_reasons": {"listed invalid in FullSMS's answer": 1},
    }
    assert summary["sent"] == 1


def test_personalised_rows_share_batches_per_text(api: Api) -> None:
    rows = [{"number": n, "first_name": ["Ada", "Bob", "Cy"][i % 3]} for i, n in enumerate(numbers(3000))]
    summary = send_op(recipients=rows, message="Hi {first_name}, your order shipped").execute(context())
    assert api.sends == 6  # 1000 recipients per text: two full batches each
    assert {p["message"] for p in api.payloads} == {
        f"Hi {n}, your order shipped" for n in ("Ada", "Bob", "Cy")
    }
    assert summary["sent"] == 3000


def test_a_csv_file_is_streamed_with_its_columns(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "audience.csv"
    path.write_text("number,first_name\n+44 7700 900001,Ada\n447700900002,Bob\n447700900001,Ada\n")
    summary = send_op(numbers_file=str(path), message="Hi {first_name}").execute(context())
    assert sorted((p["message"], tuple(p["to_numbers"])) for p in api.payloads) == [
        ("Hi Ada", ("447700900001",)),
        ("Hi Bob", ("447700900002",)),
    ]
    assert summary["duplicates"] == 1


@pytest.mark.parametrize("as_object", [True, False], ids=["ObjectStoragePath", "URL string"])
def test_an_object_storage_file_is_streamed(api: Api, tmp_path: Path, as_object: bool) -> None:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    path = tmp_path / "audience.csv"
    path.write_text("number\n447700900001\n447700900002\n")
    url = f"file://{path}"
    source: Any = ObjectStoragePath(url) if as_object else url
    summary = send_op(numbers_file=source).execute(context())
    assert api.payloads[0]["to_numbers"] == ["447700900001", "447700900002"]
    assert summary["sent"] == 2


def test_json_lines_with_a_message_column(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "audience.jsonl"
    path.write_text('{"phone": "447700900001", "text": "One"}\n{"phone": "447700900002", "text": "Two"}\n')
    send_op(numbers_file=path, number_column="phone", message=None, message_column="text").execute(context())
    assert [p["message"] for p in api.payloads] == ["One", "Two"]


def test_send_at_in_the_future_is_passed_in_the_connections_timezone(api: Api) -> None:
    when = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    summary = send_op(numbers=["447700900001"], send_at=when.isoformat()).execute(context())
    assert api.payloads[0]["send_at"] == when.strftime("%Y-%m-%d %H:%M:%S")
    assert summary["scheduled"] is True


def test_send_at_just_past_sends_now(api: Api) -> None:
    just_now = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    send_op(numbers=["447700900001"], send_at=just_now).execute(context())
    assert "send_at" not in api.payloads[0]


def test_a_retry_resumes_after_send_at_has_passed(api: Api) -> None:
    # Try 1 schedules batch 0 for a time that has passed when the retry runs: the retry sends the
    # rest now instead of refusing the campaign as changed.
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    for call in range(1, 6):
        api.script[call] = (429, {"message": "Too Many Attempts."})
    store = MemoryStateStore()
    with pytest.raises(AirflowException):
        send_op(numbers=numbers(1500), send_at=when.isoformat()).execute(context(store))
    assert api.payloads[0]["send_at"] == when.strftime("%Y-%m-%d %H:%M:%S")
    # time.sleep is patched out (no_sleep); an Event's wait is not.
    threading.Event().wait(max(0.0, (when - datetime.now(UTC)).total_seconds()) + 0.2)
    api.payloads.clear()
    api.script.clear()
    summary = send_op(numbers=numbers(1500), send_at=when.isoformat()).execute(context(store))
    assert [("send_at" in p, p["to_numbers"][0]) for p in api.payloads] == [
        (False, "447700000500"),
        (False, "447700001000"),
    ]
    assert summary["batches"]["skipped_already_accepted"] == 1
    assert summary["sent"] == 1500


def test_a_retry_long_after_send_at_finishes_the_started_campaign(api: Api) -> None:
    # Try 1 schedules batch 0 and stops on 429s; the retry comes after send_at_tolerance has run
    # out. Part of the audience has the text, so the rest goes out now instead of never.
    # 3 s ahead: try 1 must start before send_at, also in a fresh worker still importing Airflow.
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    for call in range(1, 6):
        api.script[call] = (429, {"message": "Too Many Attempts."})
    store = MemoryStateStore()
    with pytest.raises(AirflowException) as first_try:
        send_op(numbers=numbers(1500), send_at=when.isoformat(), send_at_tolerance=0).execute(context(store))
    assert "in the past" not in str(first_try.value), "try 1 must start before send_at"
    threading.Event().wait(max(0.0, (when - datetime.now(UTC)).total_seconds()) + 1.2)
    api.payloads.clear()
    api.script.clear()
    retry = send_op(numbers=numbers(1500), send_at=when.isoformat(), send_at_tolerance=0)
    summary = retry.execute(context(store))
    assert [p["to_numbers"][0] for p in api.payloads] == ["447700000500", "447700001000"]
    assert all("send_at" not in p for p in api.payloads)
    assert summary["sent"] == 1500


def test_a_first_try_after_send_at_is_still_refused(api: Api) -> None:
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    with pytest.raises(AirflowFailException, match="in the past"):
        send_op(numbers=numbers(10), send_at=when.isoformat(), send_at_tolerance=0).execute(
            context(MemoryStateStore())
        )
    assert api.payloads == []


def test_template_id_is_checked_and_sent(api: Api) -> None:
    send_op(numbers=["447700900001"], message=None, template_id=7).execute(context())
    assert api.payloads[0]["template_id"] == "7"
    assert "message" not in api.payloads[0]


def test_an_owned_number_may_be_the_sender(api: Api) -> None:
    send_op(numbers=["447700900001"], sender="+44 1111 111111").execute(context())
    assert api.payloads[0]["from"] == "441111111111"


# -- failures ------------------------------------------------------------------------------------


def test_a_client_error_fails_without_retry(api: Api) -> None:
    api.script[1] = (403, docs.SENDER_NOT_APPROVED)
    store = MemoryStateStore()
    with pytest.raises(AirflowFailException, match="Sender ID is not approved"):
        send_op(numbers=numbers(1500)).execute(context(store))
    assert api.sends == 2  # the third batch is never submitted
    assert store.get("fullsms.batch.1")["s"] == "not_sent"


def test_low_balance_fails_without_retry(api: Api) -> None:
    api.script[0] = (422, docs.BALANCE_LOW)
    with pytest.raises(AirflowFailException, match="Balance must be over"):
        send_op(numbers=["447700900001"]).execute(context())


def test_a_transient_error_is_retried_by_airflow_and_the_retry_resumes(api: Api) -> None:
    # The hook tries 5 times; the 2nd batch stays rate limited through all of them.
    for call in range(1, 6):
        api.script[call] = (429, {"message": "Too Many Attempts."})
    store = MemoryStateStore()
    with pytest.raises(AirflowException) as caught:
        send_op(numbers=numbers(1500)).execute(context(store))
    assert not isinstance(caught.value, AirflowFailException)
    assert "retries send the rest" in str(caught.value)
    api.payloads.clear()
    api.script.clear()
    summary = send_op(numbers=numbers(1500)).execute(context(store))
    assert [p["to_numbers"][0] for p in api.payloads] == ["447700000500", "447700001000"]
    assert summary["batches"]["skipped_already_accepted"] == 1
    assert summary["sent"] == 1500
    assert len(summary["campaign_ids"]) == 3


def test_an_unknown_outcome_finishes_the_other_batches_then_fails_naming_it(api: Api) -> None:
    api.script[1] = (500, docs.SERVER_ERROR)
    store = MemoryStateStore()
    with pytest.raises(AirflowFailException, match=r"batch 1 \(500 recipients, text \w+, sent 20") as caught:
        send_op(numbers=numbers(1234)).execute(context(store))
    assert api.sends == 3  # sent once each; batch 1 not repeated
    assert "fullsms.decision.<index>" in str(caught.value)
    assert store.get("fullsms.batch.1")["s"] == "unknown"
    # A retry neither resends it nor anything accepted.
    api.payloads.clear()
    with pytest.raises(AirflowFailException, match=r"batch 1 \(500 recipients"):
        send_op(numbers=numbers(1234)).execute(context(store))
    assert api.payloads == []


@pytest.mark.parametrize(("choice", "resent"), [("assume_sent", 0), ("resend", 1)])
def test_the_user_chooses_what_an_unknown_batch_means(api: Api, choice: str, resent: int) -> None:
    api.script[0] = (500, docs.SERVER_ERROR)
    store = MemoryStateStore()
    with pytest.raises(AirflowFailException):
        send_op(numbers=numbers(10)).execute(context(store))
    api.payloads.clear()
    api.script.clear()
    summary = send_op(numbers=numbers(10), on_unknown_outcome=choice).execute(context(store))
    assert len(api.payloads) == resent
    assert summary["batches"]["unknown"] == []


def test_a_changed_audience_between_tries_is_refused(api: Api) -> None:
    api.script[0] = (500, docs.SERVER_ERROR)
    store = MemoryStateStore()
    with pytest.raises(AirflowFailException):
        send_op(numbers=numbers(10)).execute(context(store))
    api.payloads.clear()
    with pytest.raises(AirflowFailException, match="changed between tries"):
        send_op(numbers=numbers(11)).execute(context(store))
    assert api.payloads == []


def test_without_a_state_store_it_says_resumption_is_off(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    api.script[0] = (500, docs.SERVER_ERROR)
    with pytest.raises(AirflowFailException, match="batch 0"):
        send_op(numbers=numbers(10)).execute(context())
    logged = capsys.readouterr()
    assert "resumption is off" in logged.out + logged.err
    assert api.sends == 1


def test_the_token_never_appears_in_the_summary_or_errors(api: Api) -> None:
    api.script[0] = (403, docs.UNAUTHENTICATED)
    with pytest.raises(AirflowFailException) as caught:
        send_op(numbers=numbers(3)).execute(context())
    assert SECRET_TOKEN not in str(caught.value)


# -- checks before sending -------------------------------------------------------------------------

PAST = (datetime.now(UTC) - timedelta(days=2)).isoformat()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"numbers": ["447700900001"], "message": "x" * 613}, "612"),
        ({"numbers": ["447700900001"], "send_at": PAST}, "in the past"),
        ({"numbers": ["447700900001"], "send_at": "tomorrow"}, "not a date and time"),
        ({"numbers": ["447700900001"], "send_at": "2030-01-01T09:00:00"}, "no timezone"),
        ({"numbers": []}, "Nobody to send to"),
        ({"numbers": ["447700900001"], "recipients": [{"number": "447700900002"}]}, "exactly one audience"),
        ({"numbers": ["12", "abc"]}, "Nobody to send to"),
        (
            {"numbers": ["447700900001"], "message": None, "template_id": 99},
            "template_id=99 is not a template",
        ),
        ({"numbers": ["447700900001"], "sender": "NOPE"}, "sender='NOPE' is neither"),
        ({"numbers": ["447700900001"], "template_id": 7}, "not both"),
        ({"numbers": ["447700900001"], "message": None}, "Nothing to send"),
        ({"numbers": ["447700900001"], "on_unknown_outcome": "maybe"}, "on_unknown_outcome='maybe'"),
        ({"numbers": ["447700900001"], "max_concurrency": 0}, "max_concurrency=0"),
        (
            {"numbers": ["447700900001"], "max_concurrency": 33},
            "max_concurrency=33: use a whole number from 1 to 32",
        ),
        ({"recipients": [{"number": "447700900001"}], "message": "Hi {first_name}"}, "first_name"),
    ],
)
def test_bad_input_fails_before_any_send(api: Api, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(AirflowFailException, match=match):
        send_op(**kwargs).execute(context())
    assert api.sends == 0


# -- lists ---------------------------------------------------------------------------------------


def test_a_list_send_is_one_request(api: Api) -> None:
    summary = FullSmsSendToListsOperator(task_id="lists", list_ids=[7], message="Hello").execute(context())
    assert api.payloads == [{"to_list_ids": [7], "message": "Hello", "from": "COPERATO"}]
    assert summary["campaign_ids"] == [docs.SEND_TO_LISTS["campaign_id"]]
    assert summary["list_ids"] == [7]


def test_an_unknown_list_is_named_with_the_existing_ones(api: Api) -> None:
    with pytest.raises(
        AirflowFailException, match=r"Contact list 99 does not exist .*\(lists: 7 \(yourlistName\)\)"
    ):
        FullSmsSendToListsOperator(task_id="lists", list_ids=[7, 99], message="Hello").execute(context())
    assert api.sends == 0


def test_a_list_send_is_not_repeated_by_a_retry(api: Api) -> None:
    store = MemoryStateStore()
    FullSmsSendToListsOperator(task_id="lists", list_ids="7", message="Hello").execute(context(store))
    summary = FullSmsSendToListsOperator(task_id="lists", list_ids="7", message="Hello").execute(
        context(store)
    )
    assert api.sends == 1
    assert summary["batches"]["skipped_already_accepted"] == 1


# -- balance -------------------------------------------------------------------------------------


def test_the_balance_is_returned(api: Api) -> None:
    assert FullSmsGetBalanceOperator(task_id="b").execute(context()) == 100.0


@pytest.mark.parametrize(
    ("min_balance", "passes"), [(None, True), (100, True), ("99.5", True), ("100.01", False)]
)
def test_min_balance(api: Api, min_balance: Any, passes: bool) -> None:
    op = FullSmsGetBalanceOperator(task_id="b", min_balance=min_balance)
    if passes:
        assert op.execute(context()) == 100.0
    else:
        with pytest.raises(AirflowFailException, match=r"balance 100 is below min_balance 100\.01"):
            op.execute(context())


@pytest.mark.parametrize("rendered", [None, "None"])
def test_a_min_balance_that_renders_to_none_fails_naming_price_per_segment(api: Api, rendered: Any) -> None:
    # A plan's required_balance without a price, through a template or plan.output[...].
    op = FullSmsGetBalanceOperator(task_id="b", min_balance="{{ ti.xcom_pull('plan')['required_balance'] }}")
    op.min_balance = rendered
    with pytest.raises(AirflowFailException, match="set the connection's price_per_segment extra"):
        op.execute(context())
    assert api.mock.call_count == 0


def test_a_bad_min_balance_is_named(api: Api) -> None:
    with pytest.raises(AirflowFailException, match="min_balance='lots' is not a number"):
        FullSmsGetBalanceOperator(task_id="b", min_balance="lots").execute(context())


def test_a_bad_token_fails_the_balance_without_retry(api: Api, requests_mock: Any) -> None:
    requests_mock.get(f"{FAKE_URL}/account/balance", status_code=403, json=docs.UNAUTHENTICATED)
    with pytest.raises(AirflowFailException, match="check the API token"):
        FullSmsGetBalanceOperator(task_id="b").execute(context())


class CountingStore(MemoryStateStore):
    """A state store that counts reads per key (each is a call to Airflow's API server)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: dict[str, int] = {}

    def get(self, key: str, default: Any = None) -> Any:
        self.reads[key] = self.reads.get(key, 0) + 1
        return super().get(key, default)


@pytest.mark.parametrize("earlier_try", [False, True])
def test_a_try_reads_the_plan_record_once(api: Api, earlier_try: bool) -> None:
    store = CountingStore()
    if earlier_try:
        send_op(numbers=numbers(3)).execute(context(store))
        store.reads.clear()
    send_op(numbers=numbers(3)).execute(context(store))
    assert store.reads["fullsms.plan"] == 1
