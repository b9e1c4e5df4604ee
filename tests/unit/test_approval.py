"""
Only what was approved goes out: the fingerprint binds each recipient to their own text, a
template's content, the exclusions, the sender, the schedule and the window; a send that reads
its audience again sends only the batches that were checked.
"""

from __future__ import annotations

import csv
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
import requests_mock as requests_mock_module
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_fullsms import campaigns
from airflow_provider_fullsms.campaigns import (
    FINGERPRINT_PARTS,
    CampaignInputError,
    check_fingerprint,
)
from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from tests import vendor_docs as docs
from tests.conftest import FAKE_URL

if TYPE_CHECKING:
    from collections.abc import Iterator


SEND_PATH = f"{FAKE_URL}/messages/send/to_numbers"
DUE = "Your invoice of {amount} is due on Friday."


@contextmanager
def fullsms(template_content: str = "Hello World") -> Iterator[list[dict[str, Any]]]:
    """FullSMS's documented account bodies, the template with ``template_content``; yields the sends."""
    sent: list[dict[str, Any]] = []
    templates = {
        "total_templates": 1,
        "templates": [{**docs.TEMPLATES["templates"][0], "content": template_content}],
    }

    def answer(request: Any, context: Any) -> dict[str, Any]:
        sent.append(request.json())
        return {**docs.SEND_TO_NUMBERS, "total_sent": len(sent[-1]["to_numbers"])}

    with requests_mock_module.Mocker() as mock:
        mock.get(f"{FAKE_URL}/account/numbers", json=docs.NUMBERS)
        mock.get(f"{FAKE_URL}/account/senderids", json=docs.SENDER_IDS)
        mock.get(f"{FAKE_URL}/account/templates", json=templates)
        mock.post(SEND_PATH, json=answer)
        yield sent


def run(**kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("max_concurrency", 1)
    op = FullSmsSendToNumbersOperator(task_id="send", **kwargs)
    return cast("dict[str, Any]", op.execute(cast("Any", {"task_state_store": MemoryStateStore()})))


def write_csv(path: Path, rows: list[dict[str, str]]) -> str:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=["number", "name", "amount"])
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def customers(count: int) -> list[dict[str, str]]:
    return [
        {"number": str(447700900000 + i), "name": f"Customer {i}", "amount": f"£{10 + i}.00"}
        for i in range(count)
    ]


# -- the examples the review found ------------------------------------------------------------


def test_two_customers_amounts_swapped_after_approval_are_refused(fullsms_conn: str, tmp_path: Path) -> None:
    rows = customers(4)
    audience = write_csv(tmp_path / "due.csv", rows)
    with fullsms():
        plan = run(numbers_file=audience, message=DUE, dry_run=True)
    rows[1]["amount"], rows[2]["amount"] = rows[2]["amount"], rows[1]["amount"]
    write_csv(tmp_path / "due.csv", rows)

    with fullsms() as sent, pytest.raises(AirflowFailException) as refused:
        run(numbers_file=audience, message=DUE, expected_fingerprint=plan["fingerprint"])

    assert "its pairing changed since the plan" in str(refused.value)
    assert "not each recipient their own text" in str(refused.value)
    assert sent == []


def test_a_template_whose_content_changed_after_approval_is_refused(fullsms_conn: str) -> None:
    audience = {"numbers": ["447700900001", "447700900002"], "message": None, "template_id": 7}
    with fullsms("Your appointment is tomorrow at 10:00."):
        plan = run(dry_run=True, **audience)

    with fullsms("Your appointment is cancelled.") as sent, pytest.raises(AirflowFailException) as refused:
        run(expected_fingerprint=plan["fingerprint"], **audience)

    assert "its texts changed since the plan" in str(refused.value)
    assert sent == []


@pytest.mark.parametrize(
    "exclude",
    [
        ["447700900002", "447700999998", "447700999999"],  # one more opt-out, not in the audience
        ["447700900002"],  # one opt-out lost, not in the audience
    ],
)
def test_an_exclude_list_that_changed_after_approval_is_refused(
    fullsms_conn: str, exclude: list[str]
) -> None:
    audience = {"numbers": ["447700900001", "447700900002"], "message": "Hello"}
    with fullsms():
        plan = run(dry_run=True, exclude=["447700900002", "447700999998"], **audience)

    with fullsms() as sent, pytest.raises(AirflowFailException) as refused:
        run(exclude=exclude, expected_fingerprint=plan["fingerprint"], **audience)

    assert "its exclusions changed since the plan (exclusions: the numbers of the exclude list" in str(
        refused.value
    )
    assert sent == []


def test_a_fingerprint_of_an_earlier_version_says_so() -> None:
    with pytest.raises(CampaignInputError, match="made by an earlier version of the provider"):
        check_fingerprint("3f2a9c1b-88a10c3d-0f2e91aa-7b1c0d22", "-".join(["0" * 8] * len(FINGERPRINT_PARTS)))


@pytest.fixture
def replaced_after_the_checks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, list[dict[str, str]]]]:
    """Files to write once the send's plan has read its audience: ``(path, new rows)``."""
    replacements: list[tuple[Path, list[dict[str, str]]]] = []
    plan = campaigns.plan_campaign

    def plan_then_replace(*args: Any, **kwargs: Any) -> Any:
        planned = plan(*args, **kwargs)
        for path, rows in replacements:
            write_csv(path, rows)
        return planned

    monkeypatch.setattr(campaigns, "plan_campaign", plan_then_replace)
    return replacements


def test_a_file_replaced_between_the_checks_and_the_send_sends_only_what_was_checked(
    fullsms_conn: str, tmp_path: Path, replaced_after_the_checks: list[Any]
) -> None:
    rows = customers(1200)  # one text: batches of 500, 500 and 200
    audience = write_csv(tmp_path / "audience.csv", rows)
    changed = [dict(row) for row in rows]
    changed[700]["number"] = "447700999999"  # somebody nobody checked, in batch 1
    replaced_after_the_checks.append((tmp_path / "audience.csv", changed))

    with fullsms() as sent, pytest.raises(AirflowFailException) as refused:
        run(numbers_file=audience, message="Our shop opens at 9 on Saturday.")

    assert (
        f"The audience file {audience} changed after it was checked: batch 1 is not the one checked"
        in str(refused.value)
    )
    assert "Nothing from batch 1 on was sent; batches 0-0 were exactly the ones checked" in str(refused.value)
    assert [payload["to_numbers"] for payload in sent] == [[row["number"] for row in rows[:500]]]


def test_personalised_amounts_swapped_between_the_checks_and_the_send_are_not_sent(
    fullsms_conn: str, tmp_path: Path, replaced_after_the_checks: list[Any]
) -> None:
    rows = customers(3)
    audience = write_csv(tmp_path / "due.csv", rows)
    swapped = [dict(row) for row in rows]
    swapped[0]["amount"], swapped[1]["amount"] = rows[1]["amount"], rows[0]["amount"]
    replaced_after_the_checks.append((tmp_path / "due.csv", swapped))

    with fullsms() as sent, pytest.raises(AirflowFailException, match="batch 0 is not the one checked"):
        run(numbers_file=audience, message=DUE)
    assert sent == []


def test_a_file_read_again_unchanged_is_sent_whole(fullsms_conn: str, tmp_path: Path) -> None:
    audience = write_csv(tmp_path / "audience.csv", customers(1200))
    message = "Our shop opens at 9 on Saturday."
    with fullsms() as sent:
        plan = run(numbers_file=audience, message=message, dry_run=True)
        summary = run(numbers_file=audience, message=message, expected_fingerprint=plan["fingerprint"])
    assert summary["fingerprint"] == plan["fingerprint"]
    assert [len(payload["to_numbers"]) for payload in sent] == [500, 500, 200]
    assert summary["sent"] == 1200
