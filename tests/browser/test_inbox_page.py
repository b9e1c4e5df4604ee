"""The sandbox inbox in a real browser: campaigns, search, a phone's thread, live refresh, escaping."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from airflow_provider_fullsms.sandbox.testing import SandboxProcess
    from tests.browser.conftest import Screenshot

ATTACK = "<img src=x onerror=alert(1)><script>alert(2)</script> & welcome"


def send(sandbox: SandboxProcess, text: str, numbers: list[str]) -> None:
    response = requests.post(
        f"{sandbox.url}/messages/send/to_numbers",
        json={"from": "COPERATO", "message": text, "to_numbers": numbers},
        headers={"Authorization": f"Bearer {sandbox.token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


@pytest.fixture
def inbox(sandbox: SandboxProcess) -> SandboxProcess:
    sandbox.client.reset()
    send(sandbox, "Spring sale: 30% off everything this weekend.", ["447700900201", "447700900202"])
    send(sandbox, "Здравствуйте! Ваш заказ готов к выдаче.", ["447700900202"])
    send(sandbox, ATTACK, ["972541111111"])
    sandbox.client.inject_fault("drop", path="/messages/send/to_numbers", after=5)
    return sandbox


def test_a_person_searches_opens_a_thread_and_sees_new_messages_arrive(
    page: Page, inbox: SandboxProcess, screenshot: Screenshot
) -> None:
    page.goto(inbox.url + "/")
    cards = page.locator("article.campaign")
    expect(cards).to_have_count(3)
    expect(page.locator("header")).to_contain_text("balance default: 99.8")
    expect(page.locator("header")).to_contain_text("1 fault(s) armed: drop on /messages/send/to_numbers")
    # Escaped: the text reads as written and nothing in it ran.
    expect(cards.first.locator(".text")).to_have_text(ATTACK)
    expect(cards.nth(1)).to_contain_text("UCS-2")
    screenshot(page, "sandbox-inbox.png")

    page.get_by_label("Search a number or text").fill("+44 7700 900202")
    page.get_by_role("button", name="Search").click()
    expect(cards).to_have_count(2)
    expect(page.locator(".summary")).to_contain_text("2 campaign(s) match")

    cards.last.get_by_role("link", name="447700900202").click()
    expect(page.get_by_role("heading", name="Thread with 447700900202")).to_be_visible()
    bubbles = page.locator(".bubble .text")
    expect(bubbles).to_have_text(
        ["Spring sale: 30% off everything this weekend.", "Здравствуйте! Ваш заказ готов к выдаче."]
    )

    # The thread refreshes itself: a new text shows up without reloading the page.
    send(inbox, "Your parcel is on its way.", ["447700900202"])
    expect(bubbles).to_have_count(3)
    expect(bubbles.last).to_have_text("Your parcel is on its way.")
    screenshot(page, "sandbox-inbox-thread.png")
    assert page.alerts == []  # type: ignore[attr-defined]
