"""Fault injection: what a client sees for each kind, and what the sandbox recorded meanwhile."""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import requests

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.testing import SandboxClient
    from tests.sandbox.conftest import Api

SEND = "messages/send/to_numbers"
BODY = {"to_numbers": ["972541111111"], "from": "COPERATO", "message": "Hi"}


def connect(url: str) -> None:
    """Open (and close) a fresh TCP connection to the sandbox."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=2):
        pass


def refuses(url: str) -> bool:
    """Whether a fresh TCP connection to the sandbox is refused right now."""
    try:
        connect(url)
    except ConnectionRefusedError:
        return True
    return False


def wait_until_listening(url: str, *, timeout: float = 10.0) -> None:
    """Wait for the port to accept again, so a refuse window never leaks into the next test."""
    deadline = time.monotonic() + timeout
    while refuses(url):
        assert time.monotonic() < deadline, "the sandbox did not listen again"
        time.sleep(0.05)


def test_latency_delays_matching_requests_and_answers_normally(api: Api, sbx: SandboxClient) -> None:
    sbx.inject_fault("latency", path=SEND, count=2, ms=300)

    durations, statuses = [], []
    for _ in range(3):
        started = time.monotonic()
        statuses.append(api.post(SEND, BODY).status_code)
        durations.append(time.monotonic() - started)
    balance_started = time.monotonic()
    api.get("account/balance")

    assert statuses == [200, 200, 200]
    assert durations[0] >= 0.3
    assert durations[1] >= 0.3
    assert durations[2] < 0.3
    assert time.monotonic() - balance_started < 0.3  # another path is not delayed
    assert len(sbx.messages()) == 3


def test_rate_limit_answers_429_with_retry_after_and_records_nothing(api: Api, sbx: SandboxClient) -> None:
    sbx.inject_fault("rate_limit", path="/" + SEND, retry_after=7)

    limited = api.post(SEND, BODY)
    after = api.post(SEND, BODY)

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.json() == {"status_code": 429, "message": "Too Many Requests"}
    assert after.status_code == 200
    assert len(sbx.messages()) == 1
    assert sbx.balance() == pytest.approx(99.95)
    assert sbx.requests_count(SEND) == 2


def test_rate_limit_html_answers_a_proxys_429_page_and_records_nothing(api: Api, sbx: SandboxClient) -> None:
    sbx.inject_fault("rate_limit_html", path=SEND, retry_after=3)

    limited = api.post(SEND, BODY)
    after = api.post(SEND, BODY)

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"
    assert limited.headers["Content-Type"].startswith("text/html")
    assert "<h1>429 Too Many Requests</h1>" in limited.text
    assert after.status_code == 200
    assert len(sbx.messages()) == 1


def test_echo_answers_a_proxys_error_page_quoting_the_request_headers(api: Api, sbx: SandboxClient) -> None:
    sbx.inject_fault("echo", path=SEND, status=502)

    echoed = api.post(SEND, BODY, headers={"X-Trace": "abc"})

    assert echoed.status_code == 502
    assert "<h1>502 Bad Gateway</h1>" in echoed.text
    assert f"POST /{SEND} HTTP/1.1" in echoed.text
    assert "x-trace: abc" in echoed.text
    assert f"authorization: Bearer {api.token}" in echoed.text  # what the provider must never keep
    assert sbx.messages() == []  # the proxy did not forward it


def test_bad_balance_answers_a_balance_that_is_not_a_number(api: Api, sbx: SandboxClient) -> None:
    sbx.inject_fault("bad_balance", path="account/balance")

    bad, good = api.get("account/balance"), api.get("account/balance")

    assert bad.status_code == 200
    assert bad.text == '{"balance": NaN}'
    assert good.json() == {"balance": 100}


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"status_code": 500, "message": "Internal Error"}),
        (503, {"status_code": 503, "message": "Service Unavailable"}),
    ],
)
def test_error_lets_after_requests_through_then_fails_count_requests(
    api: Api, sbx: SandboxClient, status: int, body: dict[str, Any]
) -> None:
    sbx.inject_fault("error", path=SEND, after=1, count=2, status=status)

    responses = [api.post(SEND, BODY) for _ in range(4)]

    assert [r.status_code for r in responses] == [200, status, status, 200]
    assert responses[1].json() == body
    assert len(sbx.messages()) == 2
    assert sbx.balance() == pytest.approx(99.90)
    assert sbx.faults() == []


def test_drop_records_and_charges_the_send_then_closes_the_connection(api: Api, sbx: SandboxClient) -> None:
    sbx.inject_fault("drop", path=SEND)

    with pytest.raises(requests.ConnectionError):
        requests.post(
            f"{sbx.url}/{SEND}", json=BODY, headers={"Authorization": f"Bearer {sbx.token}"}, timeout=5
        )

    [message] = sbx.messages()
    assert message["to"] == "972541111111"
    assert sbx.balance() == pytest.approx(99.95)
    assert api.post(SEND, BODY).status_code == 200


def test_slow_records_the_send_but_answers_after_the_client_gave_up(api: Api, sbx: SandboxClient) -> None:
    sbx.inject_fault("slow", path=SEND, seconds=1.5)

    with pytest.raises(requests.ReadTimeout):
        requests.post(
            f"{sbx.url}/{SEND}", json=BODY, headers={"Authorization": f"Bearer {sbx.token}"}, timeout=0.5
        )

    assert len(sbx.messages()) == 1
    assert sbx.balance() == pytest.approx(99.95)


def test_slow_answer_arrives_for_a_patient_client(api: Api, sbx: SandboxClient) -> None:
    sbx.inject_fault("slow", path=SEND, seconds=0.5)

    started = time.monotonic()
    response = api.post(SEND, BODY)

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.5


def test_refuse_closes_the_port_for_a_while_then_serves_the_same_state(api: Api, sbx: SandboxClient) -> None:
    api.post(SEND, BODY)
    sbx.inject_fault("refuse", seconds=1.5)
    opened_at = time.monotonic()

    with pytest.raises(ConnectionRefusedError):
        connect(sbx.url)
    with pytest.raises(requests.ConnectionError):
        requests.get(
            f"{sbx.url}/account/balance", headers={"Authorization": f"Bearer {sbx.token}"}, timeout=2
        )

    wait_until_listening(sbx.url)
    assert time.monotonic() - opened_at >= 1.4
    assert api.get("account/balance").json() == {"balance": 99.95}
    assert len(sbx.messages()) == 1


def test_refuse_after_answers_that_many_requests_first(api: Api, sbx: SandboxClient) -> None:
    sbx.inject_fault("refuse", path=SEND, after=1, seconds=1)

    assert api.get("account/balance").status_code == 200  # another path does not count
    assert api.post(SEND, BODY).status_code == 200

    # The window opens once that answer is out, a moment after the client has it.
    deadline = time.monotonic() + 5
    while not refuses(sbx.url):
        assert time.monotonic() < deadline, "the sandbox never stopped listening"
        time.sleep(0.01)
    wait_until_listening(sbx.url)
    assert api.post(SEND, BODY).status_code == 200


def test_faults_are_listed_and_cleared(api: Api, sbx: SandboxClient) -> None:
    sbx.inject_fault("latency", count=100, ms=50)
    sbx.inject_fault("error", path="otp/create", after=2, status=503)

    listed = sbx.faults()
    sbx.clear_faults()

    assert [(f["kind"], f["path"], f["after"], f["count"]) for f in listed] == [
        ("latency", None, 0, 100),
        ("error", "/otp/create", 2, 1),
    ]
    assert listed[0]["ms"] == 50
    assert listed[1]["status"] == 503
    assert sbx.faults() == []
    assert api.post("otp/create", {"to_number": "442222222222", "from": "COPERATO"}).status_code == 200


def test_faults_never_hit_the_sandbox_api(sbx: SandboxClient) -> None:
    sbx.inject_fault("error", count=10)

    assert sbx.messages() == []
    assert sbx.balance() == 100  # the client's own vendor call is exempt too
    assert len(sbx.faults()) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "explode"}, "kind"),
        ({}, "kind"),
        ({"kind": "latency", "path": "/nowhere"}, "path"),
        ({"kind": "latency", "after": -1}, "after"),
        ({"kind": "latency", "count": 0}, "count"),
        ({"kind": "latency", "ms": "slow"}, "ms"),
        ({"kind": "error", "status": 502}, "status"),
        ({"kind": "echo", "status": 302}, "status"),
        ({"kind": "bad_balance", "status": 200}, "status"),
        ({"kind": "rate_limit", "seconds": 3}, "seconds"),
        ({"kind": "slow", "seconds": 99999}, "seconds"),
    ],
)
def test_bad_fault_specs_are_field_errors(sbx: SandboxClient, body: dict[str, Any], field: str) -> None:
    response = requests.post(
        f"{sbx.url}/_sandbox/faults", json=body, headers={"Authorization": f"Bearer {sbx.token}"}, timeout=5
    )

    assert response.status_code == 422
    assert field in response.json()["errors"]
    assert sbx.faults() == []
