"""The send operators against a running sandbox: what each phone received is the truth."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_fullsms.operators.fullsms import (
    FullSmsGetBalanceOperator,
    FullSmsSendToListsOperator,
    FullSmsSendToNumbersOperator,
)
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.testing import SandboxClient

SEND = "/messages/send/to_numbers"
SEND_LISTS = "/messages/send/to_lists"


@pytest.fixture
def sbx(sandbox_conn: SandboxClient) -> SandboxClient:
    sandbox_conn.set_balance(100_000)
    return sandbox_conn


def numbers(count: int, start: int = 447700000000) -> list[str]:
    return [str(start + i) for i in range(count)]


def ctx(store: MemoryStateStore | None = None) -> Any:
    return cast("Any", {} if store is None else {"task_state_store": store})


def send_op(**kwargs: Any) -> FullSmsSendToNumbersOperator:
    kwargs.setdefault("message", "Sandbox campaign")
    return FullSmsSendToNumbersOperator(task_id="send", **kwargs)


def per_phone(sbx: SandboxClient) -> Counter[str]:
    return Counter(m["to"] for m in sbx.messages())


def test_1234_recipients_go_out_in_3_batches_once_each(sbx: SandboxClient) -> None:
    summary = send_op(numbers=numbers(1234)).execute(ctx(MemoryStateStore()))
    received = per_phone(sbx)
    assert set(received) == set(numbers(1234))
    assert set(received.values()) == {1}
    assert sbx.requests_count(SEND) == 3
    assert summary["sent"] == 1234
    assert len(set(summary["campaign_ids"])) == 3
    assert {m["campaign_id"] for m in sbx.messages()} == set(summary["campaign_ids"])


def test_personalised_rows_are_grouped_by_text(sbx: SandboxClient, tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    lines = ["number,first_name,plan"]
    lines += [f"{n},{['Ada', 'Bob', 'Cy'][i % 3]},gold" for i, n in enumerate(numbers(3001))]
    path.write_text("\n".join(lines) + "\n")
    summary = send_op(
        numbers_file=str(path), message="Hi {first_name}, your {plan} plan renews soon"
    ).execute(ctx())
    assert sbx.requests_count(SEND) == 7  # 1001 Ada (3 batches), 1000 Bob (2), 1000 Cy (2)
    texts = Counter(m["text"] for m in sbx.messages())
    assert texts == {
        "Hi Ada, your gold plan renews soon": 1001,
        "Hi Bob, your gold plan renews soon": 1000,
        "Hi Cy, your gold plan renews soon": 1000,
    }
    assert set(per_phone(sbx).values()) == {1}
    assert summary["sent"] == 3001


def test_a_json_lines_file_with_own_texts(sbx: SandboxClient, tmp_path: Path) -> None:
    path = tmp_path / "audience.jsonl"
    path.write_text(
        "\n".join(json.dumps({"number": n, "text": f"Code {i % 2}"}) for i, n in enumerate(numbers(10)))
        + "\n"
    )
    send_op(numbers_file=path, message=None, message_column="text").execute(ctx())
    assert sbx.requests_count(SEND) == 2
    assert Counter(m["text"] for m in sbx.messages()) == {"Code 0": 5, "Code 1": 5}


def test_a_list_send_reaches_the_lists_subscribers_once(sbx: SandboxClient) -> None:
    summary = FullSmsSendToListsOperator(task_id="lists", list_ids=[7, 8], message="To the lists").execute(
        ctx(MemoryStateStore())
    )
    received = per_phone(sbx)
    # List 7: three subscribed (one unsubscribed); list 8 adds one new number and one shared.
    assert set(received) == {"447700900001", "447700900002", "447700900003", "972541111111"}
    assert set(received.values()) == {1}
    assert sbx.requests_count(SEND_LISTS) == 1
    assert summary["campaign_ids"] == [sbx.messages()[0]["campaign_id"]]


def test_a_future_send_at_is_scheduled(sbx: SandboxClient) -> None:
    when = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    summary = send_op(numbers=numbers(3), send_at=when.isoformat()).execute(ctx())
    messages = sbx.messages()
    assert {m["status"] for m in messages} == {"scheduled"}
    assert {m["send_at"] for m in messages} == {when.strftime("%Y-%m-%d %H:%M:%S")}
    assert summary["scheduled"] is True


def test_a_rendered_data_interval_end_in_the_future_works(sbx: SandboxClient) -> None:
    # What "{{ data_interval_end }}" renders to for a run scheduled ahead.
    rendered = str((datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0))
    send_op(numbers=numbers(1), send_at=rendered).execute(ctx())
    assert sbx.messages()[0]["status"] == "scheduled"


def test_a_template_send(sbx: SandboxClient) -> None:
    send_op(numbers=numbers(2), message=None, template_id=42).execute(ctx())
    assert {m["text"] for m in sbx.messages()} == {"Reminder: your appointment is tomorrow."}


def test_a_second_execute_with_the_same_store_skips_accepted_batches(sbx: SandboxClient) -> None:
    store = MemoryStateStore()
    # The third batch is refused for lack of balance: 1000 recipients fit, 1500 do not.
    sbx.set_balance(1 + 1000 * 0.05 + 1)
    with pytest.raises(AirflowFailException, match="Balance must be over"):
        send_op(numbers=numbers(1500), max_concurrency=1).execute(ctx(store))
    assert sbx.requests_count(SEND) == 3
    assert len(sbx.messages()) == 1000

    sbx.set_balance(1000)
    summary = send_op(numbers=numbers(1500), max_concurrency=1).execute(ctx(store))
    assert sbx.requests_count(SEND) == 4  # only the refused batch went again
    assert set(per_phone(sbx).values()) == {1}
    assert len(per_phone(sbx)) == 1500
    assert summary["batches"]["skipped_already_accepted"] == 2
    assert summary["batches"]["accepted"] == 1
    assert summary["sent"] == 1500


def test_balance_operator_reads_the_sandbox(sbx: SandboxClient) -> None:
    sbx.set_balance(42.5)
    assert FullSmsGetBalanceOperator(task_id="balance").execute(ctx()) == 42.5
    with pytest.raises(AirflowFailException, match="below min_balance 50"):
        FullSmsGetBalanceOperator(task_id="balance", min_balance="50").execute(ctx())


# -- bad input: a clear message and not one send ----------------------------------------------------

PAST = (datetime.now(UTC) - timedelta(days=3)).isoformat()
FUTURE = (datetime.now(UTC) + timedelta(days=3)).isoformat()


def _csv(tmp: Path, text: str, name: str = "a.csv") -> str:
    path = tmp / name
    path.write_text(text)
    return str(path)


BAD_NUMBER_SENDS: list[tuple[str, dict[str, Any], str]] = [
    ("message too long (GSM-7)", {"message": "x" * 613}, "612"),
    ("message too long (UCS-2)", {"message": "ж" * 269}, "268"),
    ("empty message", {"message": ""}, "Nothing to send"),
    ("message and template", {"template_id": 42}, "not both"),
    ("unknown template", {"message": None, "template_id": 999}, "template_id=999 is not a template"),
    ("sender not owned nor approved", {"sender": "ACME"}, "sender='ACME' is neither"),
    ("sender number not owned", {"sender": "+44 2222 222222"}, "neither a number this FullSMS account owns"),
    ("send_at in the past", {"send_at": PAST}, "in the past"),
    ("send_at not a date", {"send_at": "next tuesday"}, "not a date and time"),
    ("send_at without a timezone", {"send_at": "2031-01-01T09:00:00"}, "no timezone"),
    ("send_at impossible date", {"send_at": "2031-02-30 09:00:00"}, "not a date and time"),
    ("no audience", {"numbers": None}, "exactly one audience"),
    ("two audiences", {"recipients": [{"number": "447700900001"}]}, "exactly one audience"),
    ("empty list", {"numbers": []}, "Nobody to send to"),
    ("only invalid numbers", {"numbers": ["123", "07700900001", "phone"]}, "Nobody to send to"),
    ("unknown on_unknown_outcome", {"on_unknown_outcome": "retry"}, "on_unknown_outcome='retry'"),
    ("max_concurrency zero", {"max_concurrency": 0}, "max_concurrency=0"),
    ("message_column with plain numbers", {"message_column": "text"}, "message_column= needs rows"),
    (
        "template with message_column",
        {
            "numbers": None,
            "recipients": [{"number": "447700900001"}],
            "message": None,
            "template_id": 42,
            "message_column": "text",
        },
        "drop message_column",
    ),
    (
        "personalised field missing",
        {"numbers": None, "recipients": [{"number": "447700900001"}], "message": "Hi {first_name}"},
        "first_name",
    ),
    (
        "personalised text too long",
        {
            "numbers": None,
            "recipients": [{"number": "447700900001", "name": "y" * 700}],
            "message": "Hi {name}",
        },
        "recipient 1's message cannot be sent",
    ),
    (
        "rows not dicts",
        {"numbers": None, "recipients": ["447700900001"]},
        "recipient 1 is a str",
    ),
    (
        "row without number key",
        {"numbers": None, "recipients": [{"phone": "447700900001"}]},
        "no 'number' key",
    ),
]


@pytest.mark.parametrize(
    ("kwargs", "match"), [c[1:] for c in BAD_NUMBER_SENDS], ids=[c[0] for c in BAD_NUMBER_SENDS]
)
def test_bad_number_sends_fail_clearly_and_send_nothing(
    sbx: SandboxClient, kwargs: dict[str, Any], match: str
) -> None:
    kwargs = {"numbers": numbers(3), "message": "Hello", **kwargs}
    with pytest.raises(AirflowFailException, match=match):
        FullSmsSendToNumbersOperator(task_id="send", **kwargs).execute(ctx(MemoryStateStore()))
    assert sbx.requests_count(SEND) == 0
    assert sbx.messages() == []


@pytest.mark.parametrize(
    ("content", "name", "extra", "match"),
    [
        ("phone\n447700900001\n", "a.csv", {}, "no 'number' column"),
        ("number\n", "a.csv", {}, "Nobody to send to"),
        ("{broken\n", "a.jsonl", {}, "line 1 is not JSON"),
        ("number\n447700900001\n", "a.xlsx", {}, "Cannot tell the format"),
        ("number\n447700900001\n", "a.csv", {"file_format": "parquet"}, "file_format='parquet'"),
    ],
    ids=["missing column", "header only", "bad json line", "unknown suffix", "unknown format"],
)
def test_bad_files_fail_clearly_and_send_nothing(
    sbx: SandboxClient, tmp_path: Path, content: str, name: str, extra: dict[str, Any], match: str
) -> None:
    op = send_op(numbers_file=_csv(tmp_path, content, name), **extra)
    with pytest.raises(AirflowFailException, match=match):
        op.execute(ctx())
    assert sbx.requests_count(SEND) == 0


def test_a_missing_file_fails_clearly(sbx: SandboxClient, tmp_path: Path) -> None:
    with pytest.raises(AirflowFailException, match="does not exist"):
        send_op(numbers_file=str(tmp_path / "nope.csv")).execute(ctx())
    assert sbx.requests_count(SEND) == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"list_ids": [7, 99]}, r"Contact list 99 does not exist .*7 \(yourlistName\), 8 \(staff\)"),
        ({"list_ids": ["seven"]}, "'seven' is not a number"),
        ({"list_ids": []}, "list_ids is empty"),
        ({"list_ids": [7], "message": "x" * 613}, "612"),
        ({"list_ids": [7], "sender": "ACME"}, "sender='ACME' is neither"),
        ({"list_ids": [7], "send_at": PAST}, "in the past"),
        ({"list_ids": [7], "message": None, "template_id": 5}, "template_id=5 is not a template"),
    ],
)
def test_bad_list_sends_fail_clearly_and_send_nothing(
    sbx: SandboxClient, kwargs: dict[str, Any], match: str
) -> None:
    kwargs = {"message": "Hello", **kwargs}
    with pytest.raises(AirflowFailException, match=match):
        FullSmsSendToListsOperator(task_id="lists", **kwargs).execute(ctx())
    assert sbx.requests_count(SEND_LISTS) == 0


def test_phones_fullsms_refuses_are_reported_and_everyone_else_is_texted(sbx: SandboxClient) -> None:
    audience = numbers(1200)
    sbx.set_unreachable([audience[3], audience[700]])
    rows = [{"number": n, "name": f"P{i}"} for i, n in enumerate(audience[:4])]
    personal = send_op(recipients=rows, message="Hi {name}").execute(ctx(MemoryStateStore()))
    assert personal["sent"] == 3
    assert personal["invalid"]["numbers"] == [audience[3]]
    bulk = send_op(numbers=audience[4:]).execute(ctx(MemoryStateStore()))
    assert bulk["sent"] == 1195
    assert bulk["invalid"]["numbers"] == [audience[700]]
    received = per_phone(sbx)
    assert set(received) == set(audience) - {audience[3], audience[700]}
    assert max(received.values()) == 1


def test_the_summary_names_the_text_sender_schedule_and_cost_at_the_plans_price_never_a_recipient(
    sbx: SandboxClient,
) -> None:
    send_at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    summary = send_op(
        numbers=numbers(3), message="Sale starts tomorrow", send_at=send_at, price_per_segment=0.05
    ).execute(ctx(MemoryStateStore()))

    assert summary["message"] == {
        "text": "Sale starts tomorrow",
        "template_id": None,
        "message_column": None,
        "personalised": False,
        "sender": summary["message"]["sender"],
    }
    assert summary["segments"] == 3
    assert (summary["price_per_segment"], summary["estimated_cost"]) == (0.05, 0.15)
    assert datetime.fromisoformat(summary["send_at_utc"]) == send_at
    assert not any(number in json.dumps(summary) for number in numbers(3))
