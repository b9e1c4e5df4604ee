"""
The FullSMS page in the Airflow UI, on a real Airflow stack, in a real browser.

A campaign of four people (four personalised texts, four batches) runs against the sandbox: the
second request is dropped after FullSMS handled it (so those people *were* texted) and the third
gets a 500 (not texted). Both batches are unknown and the task fails. A person then settles them
entirely from the browser — "It was sent" and "Send it again" — and clears the task with the page's
button. The retry finishes the campaign, and every phone has exactly one text.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import pytest
import requests
from fastapi.routing import APIRoute
from playwright.sync_api import expect

from airflow_provider_fullsms.plugins.app import create_app
from tests.browser.dags.fullsms_ui_campaign import PEOPLE

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from airflow_provider_fullsms.sandbox.testing import SandboxProcess
    from tests.browser.conftest import LoginStack, Screenshot

pytestmark = pytest.mark.slow

DAG_ID, TASK_ID = "fullsms_ui_campaign", "send_campaign"
SEND = "/messages/send/to_numbers"
#: Every route the plugin's app serves, read from the app itself so a new one cannot be missed.
ROUTES = sorted(
    (method, route.path)
    for route in create_app().routes
    if isinstance(route, APIRoute)
    for method in route.methods
)


def call(stack: LoginStack, method: str, path: str, **kwargs: object) -> requests.Response:
    params = {"dag_id": DAG_ID, "run_id": "none", "task_id": TASK_ID}
    body = {**params, "batch": 0, "decision": "sent"}
    return requests.request(
        method, f"{stack.url}/fullsms{path}", params=params, json=body, timeout=60, **kwargs
    )


def test_every_fullsms_endpoint_refuses_a_request_without_a_valid_session(stack: LoginStack) -> None:
    viewer = stack.token("viewer")
    writes = [(method, path) for method, path in ROUTES if method == "POST"]
    assert {path for _, path in ROUTES} >= {"/", "/campaign", "/api/campaigns", "/api/decision", "/api/clear"}

    anonymous = {(m, p): call(stack, m, p).status_code for m, p in ROUTES}
    forged = {
        (m, p): call(stack, m, p, headers={"Authorization": "Bearer forged"}).status_code for m, p in ROUTES
    }
    # The session cookie alone does not make a change: the page's CSRF header must come with it.
    cookie_only = {
        (m, p): call(stack, m, p, cookies={"_token": stack.token()}).status_code for m, p in writes
    }
    read_only = {(m, p): call(stack, m, p, headers={"Authorization": f"Bearer {viewer}"}) for m, p in writes}

    assert anonymous == dict.fromkeys(ROUTES, 401)
    assert forged == dict.fromkeys(ROUTES, 403)
    assert cookie_only == dict.fromkeys(writes, 403)
    assert {key: response.status_code for key, response in read_only.items()} == dict.fromkeys(writes, 403)
    assert all("may not change the task instances" in r.text for r in read_only.values())
    viewer_list = requests.get(
        f"{stack.url}/fullsms/api/campaigns", headers={"Authorization": f"Bearer {viewer}"}, timeout=60
    )
    assert viewer_list.status_code == 200


def test_a_person_settles_two_unknown_batches_from_the_browser_and_everyone_is_texted_once(
    stack: LoginStack, sandbox: SandboxProcess, page: Page, screenshot: Screenshot
) -> None:
    client = sandbox.client
    client.reset()
    client.inject_fault("drop", path=SEND, after=1, count=1)  # handled, then the connection drops
    client.inject_fault("error", path=SEND, after=2, count=1, status=500)  # refused with a 500
    stack.wait_for_dag(DAG_ID)
    run_id = "settle_in_browser"
    stack.trigger(DAG_ID, run_id)
    stack.wait_until(
        "the campaign to fail on its unknown batches",
        lambda: stack.run_state(DAG_ID, run_id) in {"success", "failed"},
        timeout=180,
    )
    assert stack.task_states(DAG_ID, run_id) == {TASK_ID: "failed"}
    assert len(client.messages()) == 3  # batch 2 got the 500

    page.context.add_cookies([{"name": "_token", "value": stack.token(), "url": stack.url}])
    page.goto(f"{stack.url}/fullsms/?attention=1")
    row = page.locator("#campaigns tr", has_text=run_id)
    expect(row).to_contain_text("needs attention")
    cells = row.locator("td")
    # recipients, sent, invalid / excluded, unknown batches, batches not started
    expect(cells.nth(4)).to_have_text("4")
    expect(cells.nth(5)).to_have_text("2")
    expect(cells.nth(7)).to_have_text("2")
    expect(cells.nth(8)).to_have_text("0")
    screenshot(page, "airflow-fullsms-campaigns.png")

    row.get_by_role("link", name=TASK_ID).click()
    expect(page.locator(".note")).to_contain_text("Clearing the task applies your decisions")
    batch_1 = page.locator("#batches tr[data-batch='1']")
    batch_2 = page.locator("#batches tr[data-batch='2']")
    expect(batch_1).to_contain_text("unknown")
    expect(batch_2).to_contain_text("unknown")
    screenshot(page, "airflow-fullsms-campaign.png")

    batch_1.get_by_role("button", name="It was sent").click()
    expect(batch_1).to_contain_text("recorded: it was sent")
    batch_2.get_by_role("button", name="Send it again").click()
    expect(batch_2).to_contain_text("recorded: send it again")
    page.get_by_role("button", name="Clear the task").click()
    expect(page.locator("#message")).to_have_text("Cleared: the task will run again.")

    stack.wait_until(
        "the retry to finish the campaign",
        lambda: (
            stack.run_state(DAG_ID, run_id) in {"success", "failed"}
            and stack.task_states(DAG_ID, run_id)[TASK_ID] in {"success", "failed"}
        ),
        timeout=180,
    )
    assert stack.task_states(DAG_ID, run_id) == {TASK_ID: "success"}, stack.logs()
    page.reload()
    expect(page.locator("#sent")).to_have_text("4")
    expect(page.locator(".note")).to_have_count(0)
    texted = Counter(message["to"] for message in client.messages())
    assert texted == Counter({person["number"]: 1 for person in PEOPLE})

    # The sandbox inbox shows what the phones got: a personalised text is a send of its own, so
    # the campaign is four campaigns of one recipient, each greeting its person by name.
    page.goto(f"{sandbox.url}/")
    cards = page.locator("article.campaign")
    expect(page.locator(".summary")).to_contain_text("4 campaign(s), newest first.")
    expect(cards.filter(has_text="from COPERATO").filter(has_text="1 recipient(s)")).to_have_count(4)
    assert sorted(cards.locator(".text").all_inner_texts()) == sorted(
        f"Hi {person['name']}, your table for two is booked for Friday." for person in PEOPLE
    )
    screenshot(page, "sandbox-inbox-campaign.png")
    # Grace's batch was dropped after FullSMS handled it and settled as "It was sent": one text.
    grace = PEOPLE[1]["number"]
    cards.get_by_role("link", name=grace).click()
    expect(page.get_by_role("heading", name=f"Thread with {grace}")).to_be_visible()
    expect(page.locator(".bubble .text")).to_have_text(["Hi Grace, your table for two is booked for Friday."])
    screenshot(page, "sandbox-inbox-campaign-thread.png")


def test_the_airflow_ui_has_a_fullsms_entry_that_shows_the_page(
    stack: LoginStack, sandbox: SandboxProcess, page: Page, screenshot: Screenshot
) -> None:
    page.context.add_cookies([{"name": "_token", "value": stack.token(), "url": stack.url}])
    page.goto(f"{stack.url}/plugin/fullsms")
    frame = page.frame_locator("iframe")
    expect(frame.get_by_role("heading", name="FullSMS campaigns")).to_be_visible(timeout=60_000)
    frame.get_by_role("button", name="Read balances").click()
    balance = frame.locator("#balances tr", has_text="fullsms_default")
    expect(balance).to_be_visible()
    expect(balance.locator("td").nth(1)).to_have_text(f"{sandbox.client.balance():g}")
    assert sandbox.token not in page.content() + frame.locator("html").inner_html()
    screenshot(page, "airflow-fullsms-nav.png")
