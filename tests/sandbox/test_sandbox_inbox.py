"""The inbox a person looks at: campaigns newest first, a phone's thread, search, balance and faults.

The page at ``/`` and ``/_sandbox/messages?group=campaigns`` show the same view; the browser test
(``tests/browser/test_inbox_page.py``) clicks through it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests

from tests.sandbox.test_sandbox_sending import send

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.testing import SandboxClient
    from tests.sandbox.conftest import Api

ALICE, BOB, CAROL = "447700900001", "447700900002", "972541111111"


def page(sbx: SandboxClient, **params: str) -> requests.Response:
    return requests.get(f"{sbx.url}/", params=params, timeout=10)


def campaign_id(response: requests.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["campaign_id"])


def test_campaigns_are_listed_newest_first_with_sender_text_recipients_segments_cost_and_status(
    api: Api, sbx: SandboxClient
) -> None:
    later = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
    first = campaign_id(send(api, "Spring sale: 30% off", [ALICE, BOB]))
    second = campaign_id(send(api, "Привет " * 12, [CAROL], send_at=later))

    view = sbx.inbox()

    assert [c["id"] for c in view["campaigns"]] == [second, first]
    scheduled, delivered = view["campaigns"]
    assert {key: scheduled[key] for key in ("sender", "recipients", "segments", "encoding", "status")} == {
        "sender": "COPERATO",
        "recipients": 1,
        "segments": 2,
        "encoding": "UCS-2",
        "status": "scheduled",
    }
    assert scheduled["send_at"] == later
    assert scheduled["cost"] == 0.1  # 2 segments x 1 recipient x 0.05
    assert delivered["text"] == "Spring sale: 30% off"
    assert delivered["numbers"] == [ALICE, BOB]
    assert (delivered["cost"], delivered["status"]) == (0.1, "delivered")
    assert view["balances"] == [{"account": "default", "balance": 99.8}]
    assert view["faults"] == []


def test_search_finds_a_number_however_it_is_written_and_text_in_any_case(
    api: Api, sbx: SandboxClient
) -> None:
    sale = campaign_id(send(api, "Spring SALE today", [ALICE, BOB]))
    reminder = campaign_id(send(api, "Reminder: your appointment", [BOB, CAROL]))

    by_number = sbx.inbox(q="+44 7700 900001")
    by_partial_number = sbx.inbox(q="0900002")
    by_text = sbx.inbox(q="spring sale")
    nothing = sbx.inbox(q="no such text")

    assert [(c["id"], c["numbers"]) for c in by_number["campaigns"]] == [(sale, [ALICE])]
    assert [c["id"] for c in by_partial_number["campaigns"]] == [reminder, sale]
    assert [(c["id"], c["numbers"]) for c in by_text["campaigns"]] == [(sale, [ALICE, BOB])]
    assert (nothing["campaigns"], nothing["campaigns_matched"]) == ([], 0)


def test_a_phones_thread_shows_every_message_it_received_oldest_first(api: Api, sbx: SandboxClient) -> None:
    send(api, "first", [ALICE, BOB])
    send(api, "second", [CAROL])
    send(api, "third", [BOB])

    thread = sbx.inbox(phone=BOB)["thread"]
    html = page(sbx, phone=BOB).text

    assert [message["text"] for message in thread] == ["first", "third"]
    assert html.index("first") < html.index("third")
    assert "second" not in html
    assert f"Thread with {BOB}" in html


def test_the_page_shows_the_balance_and_the_armed_faults_at_the_top(api: Api, sbx: SandboxClient) -> None:
    send(api, "Hello", [ALICE])
    sbx.inject_fault("drop", path="/messages/send/to_numbers")

    html = page(sbx).text

    header = html[html.index("<header>") : html.index("</header>")]
    assert "balance default: <b>99.95</b>" in header
    assert "1 fault(s) armed: drop on /messages/send/to_numbers" in header


def test_everything_shown_is_escaped_and_the_page_needs_and_shows_no_token(
    api: Api, sbx: SandboxClient
) -> None:
    attack = "<script>alert(1)</script> & <img src=x onerror=alert(2)>"
    send(api, attack, [ALICE, BOB])

    pages: dict[str, Any] = {
        "campaigns": page(sbx),
        "search": page(sbx, q=attack),
        "thread": page(sbx, phone=f"{ALICE}<script>alert(3)</script>"),
        "thread of a phone": page(sbx, phone=ALICE),
    }

    for name, response in pages.items():
        assert response.status_code == 200, name
        body = response.text
        assert "<script>alert" not in body, name
        assert "<img" not in body, name
        assert sbx.token not in body, name
        # Only the page's own script may run, whatever slipped through.
        assert "script-src 'nonce-" in response.headers["content-security-policy"], name
    assert pages["campaigns"].text.count("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img") == 1
    assert pages["thread of a phone"].text.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 1
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in pages["thread"].text


def test_the_inbox_json_needs_a_sandbox_token(sbx: SandboxClient) -> None:
    response = requests.get(f"{sbx.url}/_sandbox/messages", params={"group": "campaigns"}, timeout=10)

    assert response.status_code == 403
