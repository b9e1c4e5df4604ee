"""
Plan, price and approve against a running sandbox: ``dry_run=True`` sends nothing and says what the
send will do and cost; ``expected_fingerprint`` refuses a campaign that is not the one approved.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_fullsms.exceptions import FullSmsConfigurationError
from airflow_provider_fullsms.operators.fullsms import (
    FullSmsSendToListsOperator,
    FullSmsSendToNumbersOperator,
)
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from airflow_provider_fullsms.sensors.fullsms import FullSmsBalanceSensor
from tests.conftest import SANDBOX_TOKEN, connection_json
from tests.versions import printed_log

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.testing import SandboxClient

SEND = "/messages/send/to_numbers"
SEND_LISTS = "/messages/send/to_lists"
MESSAGE = "Hi {first_name}, your parcel is ready for collection."


@pytest.fixture
def sbx(sandbox_conn: SandboxClient, monkeypatch: pytest.MonkeyPatch) -> SandboxClient:
    """The sandbox with a balance of 1,000, and a connection that knows its price and minimum."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_FULLSMS_DEFAULT",
        connection_json(
            sandbox_conn.url,
            SANDBOX_TOKEN,
            default_sender="COPERATO",
            price_per_segment=0.05,
            minimum_balance=1,
        ),
    )
    sandbox_conn.set_balance(1000)
    return sandbox_conn


def ctx() -> Any:
    return cast("Any", {"task_state_store": MemoryStateStore()})


def crm_file(tmp_path: Path, names: tuple[str, ...] = ("Ada", "Bob", "Łukasz"), rows: int = 1200) -> str:
    """Rows of three first names (one needs UCS-2), plus two invalid numbers and a duplicate."""
    lines = ["number,first_name"]
    lines += [f"+44 7700 {900000 + i:06d},{names[i % 3]}" for i in range(rows)]
    lines += ["12345,Short", "not a number,Nobody", f"+44 7700 {900000:06d},{names[0]}"]
    path = tmp_path / "crm.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def send_op(**kwargs: Any) -> FullSmsSendToNumbersOperator:
    kwargs.setdefault("message", MESSAGE)
    return FullSmsSendToNumbersOperator(task_id="send", **kwargs)


def test_a_plan_is_what_the_send_then_sends_and_costs(sbx: SandboxClient, tmp_path: Path) -> None:
    audience = crm_file(tmp_path)
    plan = send_op(numbers_file=audience, dry_run=True).execute(ctx())

    assert sbx.requests_count(SEND) == 0
    assert sbx.messages() == []
    assert plan["recipients"] == 1200
    assert plan["invalid"] == {
        "count": 2,
        "numbers": ["12345", "not a number"],
        "reasons": {"too_short": 1, "not_a_number": 1},
    }
    assert plan["duplicates"] == 1
    assert plan["excluded"] == 0
    assert plan["batches"] == 3  # 400 recipients of each of three texts
    # "Łukasz" makes the text UCS-2: still one segment at 55 characters.
    assert plan["by_encoding"] == {
        "GSM-7": {"recipients": 800, "segments": 800},
        "UCS-2": {"recipients": 400, "segments": 400},
    }
    assert plan["segments"] == 1200
    assert plan["estimated_cost"] == 60.0
    assert plan["required_balance"] == 61.0

    before = sbx.balance()
    summary = send_op(numbers_file=audience, expected_fingerprint=plan["fingerprint"]).execute(ctx())

    assert summary["fingerprint"] == plan["fingerprint"]
    assert sbx.requests_count(SEND) == plan["batches"]
    assert summary["sent"] == len(sbx.messages()) == plan["recipients"]
    assert before - sbx.balance() == pytest.approx(plan["estimated_cost"])


def test_the_samples_show_each_text_with_the_number_masked(sbx: SandboxClient, tmp_path: Path) -> None:
    plan = send_op(numbers_file=crm_file(tmp_path), dry_run=True).execute(ctx())
    assert plan["samples"] == [
        {"to": "447•••••••00", "text": "Hi Ada, your parcel is ready for collection."},
        {"to": "447•••••••01", "text": "Hi Bob, your parcel is ready for collection."},
        {"to": "447•••••••02", "text": "Hi Łukasz, your parcel is ready for collection."},
    ]


def test_the_operators_price_wins_over_the_connections(sbx: SandboxClient) -> None:
    numbers = [str(447700900000 + i) for i in range(10)]
    long_text = "x" * 161  # two GSM-7 segments
    plan = send_op(numbers=numbers, message=long_text, dry_run=True, price_per_segment="0.10").execute(ctx())
    assert (plan["segments"], plan["price_per_segment"]) == (20, 0.1)
    assert (plan["estimated_cost"], plan["required_balance"]) == (2.0, 3.0)


def test_without_a_price_the_plan_says_why_it_has_no_cost(
    sandbox_conn: SandboxClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # sandbox_conn's connection has no price_per_segment extra.
    plan = send_op(numbers=["447700900001"], message="Hello", dry_run=True).execute(ctx())
    assert plan["estimated_cost"] is None
    assert plan["required_balance"] is None
    assert "price_per_segment" in plan["price_unknown"]
    assert plan["segments"] == 1
    logged = capsys.readouterr()
    warning = next(
        line.message
        for line in printed_log(logged.out + logged.err)
        if line.level == "warning" and "plan" in line.message
    )
    assert "no estimated_cost and no required_balance" in warning
    assert "set the connection's 'price_per_segment' extra" in warning


@pytest.mark.parametrize("rendered", [False, True], ids=["plan.output", "xcom_pull template"])
def test_a_sensor_waiting_for_a_plan_without_a_price_fails_naming_price_per_segment(
    sandbox_conn: SandboxClient, rendered: bool
) -> None:
    plan = send_op(numbers=["447700900001"], message="Hello", dry_run=True).execute(ctx())
    # plan.output["required_balance"] resolves to the value; a Jinja template renders it as text.
    required = str(plan["required_balance"]) if rendered else plan["required_balance"]
    sensor = FullSmsBalanceSensor(task_id="wait", min_balance=required, poke_interval=1, timeout=5)

    with pytest.raises(FullSmsConfigurationError, match="price_per_segment") as info:
        sensor.execute(cast("Any", {}))
    assert "no price per segment" in str(info.value)
    assert sandbox_conn.requests_count("/account/balance") == 0


def test_a_template_is_priced_by_its_content(sbx: SandboxClient) -> None:
    plan = send_op(
        numbers=["447700900001", "447700900002"], message=None, template_id=42, dry_run=True
    ).execute(ctx())
    assert plan["samples"] == [{"to": "447•••••••01", "text": "Reminder: your appointment is tomorrow."}]
    assert plan["estimated_cost"] == 0.1


def test_a_list_plan_counts_the_lists_subscribed_contacts(sbx: SandboxClient) -> None:
    lists = {"list_ids": [7, 8], "message": "To the lists"}
    plan = FullSmsSendToListsOperator(task_id="plan", dry_run=True, **lists).execute(ctx())
    assert sbx.requests_count(SEND_LISTS) == 0
    # List 7 has three subscribed contacts, list 8 two: an upper bound (one is on both).
    assert (plan["recipients"], plan["segments"], plan["estimated_cost"]) == (5, 5, 0.25)
    assert plan["samples"] == [{"to": "contact lists [7, 8]", "text": "To the lists"}]

    summary = FullSmsSendToListsOperator(
        task_id="send", expected_fingerprint=plan["fingerprint"], **lists
    ).execute(ctx())
    assert summary["fingerprint"] == plan["fingerprint"]
    assert sbx.requests_count(SEND_LISTS) == 1

    with pytest.raises(AirflowFailException, match=r"its recipients changed"):
        FullSmsSendToListsOperator(
            task_id="send", list_ids=[7], message="To the lists", expected_fingerprint=plan["fingerprint"]
        ).execute(ctx())
    assert sbx.requests_count(SEND_LISTS) == 1


LATER = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0).isoformat()


@pytest.mark.parametrize(
    ("change", "changed"),
    [
        ({"numbers": [str(447700900000 + i) for i in range(1001)]}, "recipients"),
        ({"message": "Hello again"}, "texts"),
        ({"sender": "441111111111"}, "sender"),
        ({"send_at": LATER}, "schedule"),
        ({"send_window": "09:00-20:00"}, "window"),
        ({"exclude": ["447799999999"]}, "exclusions"),
        ({"numbers": [str(447700900001 + i) for i in range(1000)], "message": "Bye"}, "recipients, texts"),
        ({"exclude": ["447700900000"]}, "recipients, exclusions"),
    ],
)
def test_a_campaign_that_differs_from_the_approved_plan_sends_nothing(
    sbx: SandboxClient, change: dict[str, Any], changed: str
) -> None:
    approved = {"numbers": [str(447700900000 + i) for i in range(1000)], "message": "Hello"}
    plan = send_op(dry_run=True, **approved).execute(ctx())

    with pytest.raises(AirflowFailException) as raised:
        send_op(**{**approved, **change}, expected_fingerprint=plan["fingerprint"]).execute(ctx())

    assert f"its {changed} changed since the plan" in str(raised.value)
    assert "Nothing was sent" in str(raised.value)
    assert sbx.requests_count(SEND) == 0


def test_an_expected_fingerprint_that_is_no_fingerprint_is_refused(sbx: SandboxClient) -> None:
    with pytest.raises(AirflowFailException, match="is not a campaign fingerprint"):
        send_op(numbers=["447700900001"], expected_fingerprint="None").execute(ctx())
    assert sbx.requests_count(SEND) == 0


def test_a_dry_run_records_nothing_so_the_send_starts_fresh(sbx: SandboxClient) -> None:
    store = MemoryStateStore()
    numbers = [str(447700900000 + i) for i in range(3)]
    send_op(numbers=numbers, message="Hello", dry_run=True).execute(cast("Any", {"task_state_store": store}))
    summary = send_op(numbers=numbers, message="Hello").execute(cast("Any", {"task_state_store": store}))
    assert summary["batches"]["accepted"] == 1
    assert summary["sent"] == 3


def invoices(path: Path, amounts: list[str]) -> str:
    """A CSV of customers, each with the amount of their invoice."""
    lines = ["number,amount", *(f"+44 7700 {900000 + i:06d},{amount}" for i, amount in enumerate(amounts))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


INVOICE = "Your invoice of {amount} is due on Friday."


def test_amounts_swapped_after_the_approval_are_refused_and_nobody_is_texted(
    sbx: SandboxClient, tmp_path: Path
) -> None:
    audience = invoices(tmp_path / "due.csv", ["£5.00", "£10.00", "£12.50"])
    plan = send_op(numbers_file=audience, message=INVOICE, dry_run=True).execute(ctx())
    invoices(tmp_path / "due.csv", ["£10.00", "£5.00", "£12.50"])  # the first two swapped

    with pytest.raises(AirflowFailException) as raised:
        send_op(numbers_file=audience, message=INVOICE, expected_fingerprint=plan["fingerprint"]).execute(
            ctx()
        )

    assert "its pairing changed since the plan" in str(raised.value)
    assert sbx.requests_count(SEND) == 0
    assert sbx.messages() == []


def test_a_file_replaced_while_the_send_reads_it_texts_only_what_was_checked(
    sbx: SandboxClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_fullsms import campaigns

    # Two texts: batches of 500 (£5.00), 500 (£10.00), then the rest of each, 100 and 100.
    amounts = ["£5.00"] * 600 + ["£10.00"] * 600
    audience = invoices(tmp_path / "due.csv", amounts)
    plan_campaign = campaigns.plan_campaign

    def plan_then_replace(*args: Any, **kwargs: Any) -> Any:
        planned = plan_campaign(*args, **kwargs)
        invoices(tmp_path / "due.csv", [*amounts[:550], "£99.00", *amounts[551:]])  # in batch 2
        return planned

    monkeypatch.setattr(campaigns, "plan_campaign", plan_then_replace)
    with pytest.raises(AirflowFailException, match="batch 2 is not the one checked"):
        send_op(numbers_file=audience, message=INVOICE, max_concurrency=1).execute(ctx())

    # Batches 0 and 1 at most (one may be taken back unsent when the campaign stops), as checked:
    # the first 500 of each amount.
    checked = {f"4477009{i:05d}": INVOICE.format(amount=amounts[i]) for i in [*range(500), *range(600, 1100)]}
    assert 1 <= sbx.requests_count(SEND) <= 2
    assert sbx.messages()
    assert all(checked.get(message["to"]) == message["text"] for message in sbx.messages())


def test_the_pytest_fixtures_connection_prices_a_plan_as_the_sandbox_charges(
    fullsms_sandbox: SandboxClient,
) -> None:
    fullsms_sandbox.set_balance(50)
    numbers = [str(447700900000 + i) for i in range(10)]
    plan = send_op(numbers=numbers, message="x" * 161, dry_run=True).execute(ctx())  # two segments each

    # The sandbox's own price (0.05) and minimum (1.00), read from it, not repeated in the fixture.
    assert (plan["estimated_cost"], plan["required_balance"]) == (1.0, 2.0)
    send_op(numbers=numbers, message="x" * 161).execute(ctx())
    assert fullsms_sandbox.balance() == 50 - plan["estimated_cost"]
