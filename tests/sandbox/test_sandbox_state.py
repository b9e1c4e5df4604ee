"""The sandbox's bookkeeping on its own (no server): time formats, money, faults, seeds, a fake clock."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_fullsms.sandbox import DEFAULT_TOKEN
from airflow_provider_fullsms.sandbox.records import Campaign, money_json, parse_time
from airflow_provider_fullsms.sandbox.seed import SeedError
from airflow_provider_fullsms.sandbox.state import SandboxState


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("text", "timestamp"),
    [
        ("1970-01-01 00:00:00", 0.0),
        ("2025-01-01 08:51:07", 1735721467.0),
        ("2024-02-29 23:59:59", 1709251199.0),
    ],
)
def test_parse_time_reads_utc(text: str, timestamp: float) -> None:
    assert parse_time(text) == timestamp


@pytest.mark.parametrize(
    "text",
    [
        "2025-01-01",
        "2025-01-01T08:51:07",
        "2025-1-01 08:51:07",
        "2025-01-01 8:51:07",
        "2025-02-30 00:00:00",
        "2025-01-01 08:51:07Z",
        "٢٠٢٥-01-01 08:51:07",
        "",
    ],
)
def test_parse_time_refuses_other_shapes(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD HH:MM:SS"):
        parse_time(text)


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        (Decimal("100"), 100),
        (Decimal("100.00"), 100),
        (Decimal("99.95"), 99.95),
        (Decimal("0.12346"), 0.1235),
        (Decimal("-1.5"), -1.5),
    ],
)
def test_money_is_rendered_like_the_vendor(value: Decimal, rendered: float) -> None:
    result = money_json(value)

    assert result == rendered
    assert type(result) is type(rendered)


def campaign(state: SandboxState, text: str, send_at: float | None = None) -> Campaign:
    """A one-segment GSM-7 send of ``text`` to one phone, as the send endpoint builds it."""
    return Campaign(
        sender="COPERATO",
        text=text,
        encoding="GSM-7",
        segments=1,
        recipients=["972541111111"],
        created_at=state.clock(),
        send_at=send_at,
    )


def test_a_thousand_charges_add_up_exactly() -> None:
    state = SandboxState()
    account = state.accounts[0]

    for _ in range(1000):
        state.send_campaign(account, campaign(state, "Hi"))

    assert account.balance == Decimal("50.00")


@pytest.mark.parametrize(
    ("after", "count", "hits"),
    [
        (0, 1, [True, False, False, False]),
        (1, 2, [False, True, True, False]),
        (3, 1, [False, False, False, True]),
        (0, 10, [True, True, True, True]),
    ],
)
def test_faults_let_after_requests_through_then_hit_count(after: int, count: int, hits: list[bool]) -> None:
    state = SandboxState()
    state.faults.arm("error", "/otp/create", after, count, {"status": 500})

    seen = []
    for _ in hits:
        state.faults.hitting("/account/balance")  # another path: not counted
        seen.append(bool(state.faults.hitting("/otp/create")))

    assert seen == hits


def test_refuse_triggers_once_after_requests() -> None:
    state = SandboxState()
    state.faults.arm("refuse", None, 2, 1, {"seconds": 1})

    assert [bool(state.faults.hitting("/otp/create")) for _ in range(4)] == [False, True, False, False]


def test_scheduled_campaign_is_delivered_at_its_time() -> None:
    clock = Clock()
    state = SandboxState(clock=clock)
    state.send_campaign(state.accounts[0], campaign(state, "Later", send_at=clock.now + 60))

    clock.now += 59
    state.deliver_due()
    before = state.messages()[0]["status"]
    clock.now += 1
    state.deliver_due()

    assert before == "scheduled"
    assert state.messages()[0]["status"] == "delivered"


def test_otp_expires_with_the_clock() -> None:
    clock = Clock()
    state = SandboxState(clock=clock)
    account = state.accounts[0]
    outcome, otp = state.create_otp(account, to_number="442222222222", sender="COPERATO", brand="")

    clock.now += 599
    alive = state.find_otp(account, otp.otp_id)
    assert alive is not None
    assert alive.status == "in_progress"
    clock.now += 1

    assert outcome == "created"
    assert state.verify_otp(account, otp.otp_id, otp.code) == "inactive"
    assert otp.status == "expired"


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ([], "must hold a JSON object"),
        ({"accounts": {}}, "accounts must be a non-empty list"),
        ({"accounts": [{}, {"balance": 1}]}, r"accounts\[1\]\.tokens is required"),
        ({"accounts": [{}, {"tokens": [DEFAULT_TOKEN]}]}, "used by two accounts"),
        ({"tokens": []}, "non-empty list of tokens"),
        ({"tokens": [{"rights": False}]}, "each token is a string"),
        ({"balance": "lots"}, "balance must be a number"),
        ({"balance": "NaN"}, "finite number"),
        ({"lists": [{"name": "no id"}]}, "bad list"),
        ({"templates": [{"template_id": 1}]}, "bad template"),
        ({"numbers": [{"country": "GB"}]}, "bad number"),
        ({"sender_ids": "COPERATO"}, "sender_ids must be a list"),
        ({"otps": [{"to_number": "442222222222"}]}, "bad OTP"),
        # A misspelt key is refused, named, with the keys the object may have.
        (
            {"balanse": 5},
            r"accounts\[0\]: unknown key 'balanse'; the known keys are allow_shortlinks, balance, ",
        ),
        (
            {"accounts": [{}], "balance": 5},
            r"the state file \(accounts beside account keys\): unknown key 'balance'",
        ),
        (
            {"otp": {"ttl": 60}},
            r"accounts\[0\]\.otp: unknown key 'ttl'; the known keys are max_active, max_wrong",
        ),
        (
            {"lists": [{"list_id": 1, "contact": []}]},
            r"\.lists: list 1: unknown key 'contact'; .* contacts, ",
        ),
        (
            {"lists": [{"list_id": 1, "contacts": [{"number": "1", "subscribe": 0}]}]},
            "unknown key 'subscribe'",
        ),
        ({"templates": [{"template_id": 1, "content": "x", "text": "y"}]}, "template 1: unknown key 'text'"),
        ({"numbers": [{"number": "1", "region": "GB"}]}, "number '1': unknown key 'region'"),
        ({"tokens": [{"token": "t", "right": False}]}, r"tokens: unknown key 'right'"),
        ({"otps": [{"to_number": "4422", "code": 1, "expire": False}]}, "unknown key 'expire'"),
        ({"balanse": 5, "pricer": 1}, "unknown keys 'balanse', 'pricer'"),
    ],
)
def test_bad_seeds_say_what_is_wrong(seed: Any, message: str) -> None:
    with pytest.raises(SeedError, match=message):
        SandboxState(seed)


def test_a_single_account_seed_keeps_the_other_defaults() -> None:
    state = SandboxState({"balance": 5, "sender_ids": ["ACME"]})
    account = state.accounts[0]

    assert account.balance == 5
    assert account.sender_ids == ["ACME"]
    assert account.owned_numbers == {"441111111111"}
    assert state.primary_token == DEFAULT_TOKEN
