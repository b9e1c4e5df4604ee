"""The plan of a campaign: masking, pricing, what an approved fingerprint tells apart, shards."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_fullsms.campaigns import (
    CampaignInputError,
    MessageSource,
    PlanInspector,
    Pricing,
    check_fingerprint,
    combine_plans,
    describe_plan,
    describe_plan_briefly,
    entries_from_numbers,
    mask_number,
    plan_campaign,
    plan_summary,
)
from airflow_provider_fullsms.exceptions import FullSmsConfigurationError
from airflow_provider_fullsms.hooks.fullsms import FullSmsHook
from tests.conftest import FAKE_URL, connection_json


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("447700900001", "447•••••••01"),
        ("972541234567", "972•••••••67"),
        ("15555550123", "155••••••23"),
        ("123456", "1•••56"),
        ("12345", "•••••"),
    ],
)
def test_a_sample_shows_enough_of_the_number_to_recognise_it(number: str, masked: str) -> None:
    assert mask_number(number) == masked


@pytest.mark.parametrize(
    ("pricing", "segments", "cost", "required"),
    [
        (Pricing(0.05, 1.0), 2732, 136.6, 137.6),
        (Pricing(0.05), 10, 0.5, 0.5),
        (Pricing(0.0, 1.0), 10, 0.0, 1.0),
    ],
)
def test_the_required_balance_is_the_cost_plus_the_minimum_balance(
    pricing: Pricing, segments: int, cost: float, required: float
) -> None:
    figures = pricing.of(segments)
    assert (figures["estimated_cost"], figures["required_balance"]) == (cost, required)


def test_without_a_price_there_is_no_cost_and_the_plan_says_why() -> None:
    figures = Pricing(None, 1.0).of(10)
    assert (figures["estimated_cost"], figures["required_balance"]) == (None, None)
    assert "price_per_segment" in figures["price_unknown"]


def plan_of(numbers: list[str], message: str = "Hello", **fingerprint: Any) -> dict[str, Any]:
    inspector = PlanInspector()
    plan = plan_campaign(
        entries_from_numbers(numbers), MessageSource(message=message), campaign_key="k", on_batch=inspector
    )
    parts = {"recipients": plan.recipients_fingerprint, "sender": "COPERATO", "schedule": None, **fingerprint}
    return plan_summary(
        plan, inspector, Pricing(0.05, 1.0), fingerprint=inspector.fingerprint(**parts), send_at=None
    )


NUMBERS = [str(447700900000 + i) for i in range(600)]


@pytest.mark.parametrize(
    ("numbers", "message", "parts", "changed"),
    [
        (NUMBERS[:599], "Hello", {}, "recipients"),
        (NUMBERS[::-1], "Hello", {}, "recipients"),
        (NUMBERS, "Hello!", {}, "texts"),
        (NUMBERS, "Hello", {"sender": "441111111111"}, "sender"),
        (NUMBERS, "Hello", {"schedule": "2030-01-01 09:00:00"}, "schedule"),
        (NUMBERS, "Hello", {"window": ("09:00-20:00", "UTC")}, "window"),
        (NUMBERS, "Hello", {"exclusions": "0f2e91aa0f2e91aa"}, "exclusions"),
        (NUMBERS, "Hello", {"template_id": 7}, "texts"),
        (NUMBERS[1:], "Hi", {"schedule": "2030-01-01 09:00:00"}, "recipients, texts, schedule"),
    ],
)
def test_a_changed_campaign_is_refused_naming_what_changed(
    numbers: list[str], message: str, parts: dict[str, Any], changed: str
) -> None:
    approved = plan_of(NUMBERS)["fingerprint"]
    with pytest.raises(CampaignInputError, match=f"its {changed} changed since the plan"):
        check_fingerprint(approved, plan_of(numbers, message, **parts)["fingerprint"])


def test_the_same_campaign_has_the_same_fingerprint_and_passes() -> None:
    first, second = plan_of(NUMBERS), plan_of(list(NUMBERS))
    assert first["fingerprint"] == second["fingerprint"]
    check_fingerprint(first["fingerprint"], second["fingerprint"])
    check_fingerprint(None, second["fingerprint"])


def test_a_plan_of_shards_adds_them_up_and_keeps_the_minimum_balance_back_once() -> None:
    shards = [plan_of(NUMBERS[:300]), plan_of(NUMBERS[300:], "Hello ✓")]
    plan = combine_plans(shards)
    assert (plan["recipients"], plan["segments"], plan["batches"]) == (600, 600, 2)
    assert plan["by_encoding"] == {
        "GSM-7": {"recipients": 300, "segments": 300},
        "UCS-2": {"recipients": 300, "segments": 300},
    }
    assert (plan["estimated_cost"], plan["required_balance"]) == (30.0, 31.0)
    assert plan["fingerprints"] == [shard["fingerprint"] for shard in shards]
    assert [sample["to"] for sample in plan["samples"]] == ["447•••••••00", "447•••••••00"]
    assert describe_plan(plan).startswith("**600 recipients**, 600 SMS segments (300 GSM-7, 300 UCS-2)")
    assert "estimated cost: **30.00**, required balance 31.00" in describe_plan(plan)


def test_a_plan_in_one_line_for_a_text_message_says_recipients_segments_cost_and_schedule() -> None:
    shards = [plan_of(NUMBERS[:300]), plan_of(NUMBERS[300:], "Hello ✓")]
    plan = combine_plans(shards)

    assert describe_plan_briefly(plan) == "600 recipients, 600 SMS segments, cost 30.00"
    assert describe_plan_briefly({**plan, "send_at": "2025-06-01 09:00:00"}) == (
        "600 recipients, 600 SMS segments, cost 30.00, scheduled for 2025-06-01 09:00:00"
    )
    thousands = {**plan, "recipients": 12_345, "segments": 24_690, "estimated_cost": 1234.5}
    assert describe_plan_briefly(thousands) == "12,345 recipients, 24,690 SMS segments, cost 1,234.50"
    unpriced = {**plan, "estimated_cost": None}
    assert describe_plan_briefly(unpriced) == (
        "600 recipients, 600 SMS segments, cost unknown (no price_per_segment)"
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"price_per_segment": "0.05", "minimum_balance": 1}, (0.05, 1.0)),
        ({}, (None, 0.0)),
    ],
)
def test_the_connection_gives_the_price_and_the_minimum_balance(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], expected: tuple[Any, float]
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(FAKE_URL, **extra))
    config = FullSmsHook().config
    assert (config.price_per_segment, config.minimum_balance) == expected


def test_a_negative_price_in_the_connection_is_refused_with_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(FAKE_URL, price_per_segment=-1))
    with pytest.raises(
        FullSmsConfigurationError, match="'price_per_segment' must be an amount of zero or more"
    ):
        FullSmsHook().config  # noqa: B018
