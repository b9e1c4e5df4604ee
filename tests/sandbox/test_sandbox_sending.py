"""Sending as a user sees it: charges, limits, scheduling, the inbox, and parallel sends."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.testing import SandboxClient
    from tests.sandbox.conftest import Api

NUMBERS = ["972541111111", "972542222222", "972543333333"]


def send(api: Api, message: str, numbers: list[str] | None = None, **extra: Any) -> requests.Response:
    return api.post(
        "messages/send/to_numbers",
        {"to_numbers": numbers or NUMBERS[:1], "from": "COPERATO", "message": message, **extra},
    )


@pytest.mark.parametrize(
    ("message", "recipients", "segments", "encoding", "cost"),
    [
        ("Hello", 1, 1, "GSM-7", 0.05),
        ("Hello", 3, 1, "GSM-7", 0.15),
        ("x" * 160, 1, 1, "GSM-7", 0.05),
        ("x" * 161, 1, 2, "GSM-7", 0.10),
        ("x" * 612, 2, 4, "GSM-7", 0.40),
        ("{" * 80, 1, 1, "GSM-7", 0.05),
        ("{" * 81, 1, 2, "GSM-7", 0.10),
        ("Привет", 1, 1, "UCS-2", 0.05),
        ("ж" * 71, 3, 2, "UCS-2", 0.30),
        ("ж" * 268, 1, 4, "UCS-2", 0.20),
    ],
)
def test_each_send_costs_price_per_segment_times_recipients(
    api: Api, sbx: SandboxClient, message: str, recipients: int, segments: int, encoding: str, cost: float
) -> None:
    response = send(api, message, NUMBERS[:recipients])

    assert response.status_code == 200
    assert sbx.balance() == pytest.approx(100 - cost)
    received = sbx.messages()
    assert len(received) == recipients
    assert {(m["segments"], m["encoding"], m["text"]) for m in received} == {(segments, encoding, message)}


@pytest.mark.parametrize(
    ("message", "limit"), [("x" * 613, 612), ("[" * 307, 612), ("ж" * 269, 268), ("😀" * 135, 268)]
)
def test_messages_over_the_documented_limits_are_refused(
    api: Api, sbx: SandboxClient, message: str, limit: int
) -> None:
    response = send(api, message)

    assert response.status_code == 422
    assert response.json() == {
        "message": "422 Unprocessable Content",
        "errors": {"message": [f"The message must not be greater than {limit} characters."]},
        "status_code": 422,
    }
    assert sbx.balance() == 100


def test_balance_reflects_every_charge_exactly(api: Api, sbx: SandboxClient) -> None:
    for _ in range(30):
        assert send(api, "Hi", NUMBERS).status_code == 200

    assert api.get("account/balance").json() == {"balance": 95.5}


def test_sending_stops_below_the_minimum_balance(api: Api, sbx: SandboxClient) -> None:
    sbx.set_balance(1.10)

    assert send(api, "Hi", NUMBERS).status_code == 200  # 1.10 -> 0.95
    refused = send(api, "Hi")

    assert refused.status_code == 422
    assert refused.json()["reason"] == "balance_low"
    assert len(sbx.messages()) == 3
    assert sbx.balance() == pytest.approx(0.95)


def test_a_send_the_balance_cannot_pay_for_is_declined(api: Api, sbx: SandboxClient) -> None:
    sbx.set_balance(1.01)

    response = send(api, "x" * 612, ["972541111111"] * 10)  # 10 x 4 segments x 0.05 = 2.00

    assert response.json()["reason"] == "balance_low"
    assert sbx.balance() == pytest.approx(1.01)


def test_set_balance_and_reset(api: Api, sbx: SandboxClient) -> None:
    sbx.set_balance(12.5)
    send(api, "Hi")

    assert api.get("account/balance").json() == {"balance": 12.45}

    sbx.reset()

    assert api.get("account/balance").json() == {"balance": 100}
    assert sbx.messages() == []
    assert sbx.requests_count() == 1


def test_to_numbers_accepts_500_entries_and_refuses_501(api: Api, sbx: SandboxClient) -> None:
    numbers = [f"9725400{i:05d}" for i in range(501)]

    accepted = send(api, "Hi", numbers[:500])
    refused = send(api, "Hi", numbers)

    assert accepted.json()["total_sent"] == 500
    assert refused.status_code == 422
    assert refused.json()["errors"] == {"to_numbers": ["The to numbers must not have more than 500 items."]}
    assert len(sbx.messages()) == 500


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"from": "COPERATO", "message": "Hi"}, {"to_numbers": ["The to numbers field is required."]}),
        (
            {"to_numbers": [], "from": "COPERATO", "message": "Hi"},
            {"to_numbers": ["The to numbers field is required."]},
        ),
        (
            {"to_numbers": "972541111111", "from": "COPERATO", "message": "Hi"},
            {"to_numbers": ["The to numbers must be an array."]},
        ),
        (
            {"to_numbers": ["972541111111"], "from": "COPERATO"},
            {"message": ["The message field is required when template id is not present."]},
        ),
        (
            {"to_numbers": ["972541111111"], "from": "COPERATO", "message": ""},
            {"message": ["The message field is required when template id is not present."]},
        ),
        (
            {"to_numbers": ["972541111111"], "from": 7, "message": "Hi"},
            {"from": ["The from must be a string."]},
        ),
        (
            {"to_numbers": ["972541111111"], "from": "COPERATO", "template_id": 1.5},
            {"template_id": ["The template id must be a string."]},
        ),
    ],
)
def test_field_errors(
    api: Api, sbx: SandboxClient, body: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    response = api.post("messages/send/to_numbers", body)

    assert response.status_code == 422
    assert response.json() == {"message": "422 Unprocessable Content", "errors": errors, "status_code": 422}
    assert sbx.messages() == []


@pytest.mark.parametrize(
    "send_at", ["2025-01-01", "2025-01-01T08:51:07", "2025-13-01 08:51:07", "2025-1-1 8:51:07", 1735721467]
)
def test_malformed_send_at_is_a_field_error(api: Api, send_at: Any) -> None:
    response = send(api, "Hi", send_at=send_at)

    assert response.status_code == 422
    assert response.json()["errors"] == {"send_at": ["The send at does not match the format Y-m-d H:i:s."]}


def test_a_scheduled_send_is_delivered_when_due(api: Api, sbx: SandboxClient) -> None:
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    send_at = due.strftime("%Y-%m-%d %H:%M:%S")

    response = send(api, "Later", NUMBERS[:2], send_at=send_at)

    assert response.status_code == 200
    scheduled = sbx.messages()
    assert [(m["status"], m["send_at"], m["delivered_at"]) for m in scheduled] == [
        ("scheduled", send_at, None)
    ] * 2
    assert sbx.balance() == pytest.approx(99.90)  # charged when scheduled, like a real campaign

    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.2)

    delivered = sbx.messages()
    assert [(m["status"], m["delivered_at"]) for m in delivered] == [("delivered", send_at)] * 2


def test_a_send_at_in_the_past_is_delivered_now(api: Api, sbx: SandboxClient) -> None:
    send(api, "Hi", send_at="2025-01-01 08:51:07")

    [message] = sbx.messages()
    assert message["status"] == "delivered"
    assert message["send_at"] == "2025-01-01 08:51:07"


def test_inbox_filters_by_recipient_and_campaign(api: Api, sbx: SandboxClient) -> None:
    first = send(api, "one", NUMBERS[:2]).json()["campaign_id"]
    send(api, "two", NUMBERS[1:])

    assert [m["text"] for m in sbx.messages(to=NUMBERS[1])] == ["one", "two"]
    assert [m["to"] for m in sbx.messages(campaign_id=first)] == NUMBERS[:2]
    assert sbx.messages(to="449999999999") == []


def test_request_counts_per_path(api: Api, sbx: SandboxClient) -> None:
    assert sbx.requests_count() == 0
    send(api, "Hi")
    send(api, "x", ["bad"])
    api.get("account/balance")
    sbx.balance()  # the client's own calls are not counted

    assert sbx.requests_count("/messages/send/to_numbers") == 2
    assert sbx.requests_count("account/balance") == 1
    assert sbx.requests_count("otp/create") == 0
    assert sbx.requests_count() == 3


def test_parallel_sends_lose_no_charge_and_no_message(sbx: SandboxClient) -> None:
    def worker(index: int) -> list[int]:
        session = requests.Session()
        statuses = []
        for n in range(50):
            response = session.post(
                f"{sbx.url}/messages/send/to_numbers",
                json={
                    "to_numbers": [f"97254{index:02d}{n:05d}", "972541111111"],
                    "from": "COPERATO",
                    "message": "Hi",
                },
                headers={"Authorization": f"Bearer {sbx.token}"},
                timeout=10,
            )
            statuses.append(response.status_code)
        return statuses

    with ThreadPoolExecutor(8) as pool:
        statuses = [status for result in pool.map(worker, range(8)) for status in result]

    assert statuses == [200] * 400
    assert len(sbx.messages()) == 800
    assert len(sbx.messages(to="972541111111")) == 400
    assert sbx.balance() == 60.0  # 100 - 800 x 0.05, exactly
    assert sbx.requests_count("messages/send/to_numbers") == 400


def test_a_send_naming_an_unreachable_phone_is_refused_whole_like_fullsms(
    api: Api, sbx: SandboxClient
) -> None:
    sbx.set_unreachable([NUMBERS[1]])
    answer = send(api, "Hi", NUMBERS)
    assert answer.status_code == 422
    assert answer.json()["errors"] == {
        "to_numbers.1": ["Given number is invalid or could not receive messages"]
    }
    assert sbx.messages() == []  # FullSMS sent nothing of that request
    assert send(api, "Hi", [NUMBERS[0], NUMBERS[2]]).status_code == 200
    sbx.reset()
    assert send(api, "Hi", NUMBERS).status_code == 200
