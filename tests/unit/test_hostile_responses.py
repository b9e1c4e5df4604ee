"""
Answers that do not come from FullSMS itself: a CDN's 429 page, a proxy echoing the request's
headers, a balance that is not a number. Through the public hook, operator and sensor API,
against requests-mock.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, cast

import httpx
import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_fullsms import exceptions as exc
from airflow_provider_fullsms.hooks.fullsms import FullSmsAsyncHook, FullSmsHook
from airflow_provider_fullsms.operators.fullsms import (
    FullSmsGetBalanceOperator,
    FullSmsSendToNumbersOperator,
)
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from airflow_provider_fullsms.sensors.fullsms import FullSmsBalanceSensor
from tests import vendor_docs as docs
from tests.conftest import FAKE_URL, SECRET_TOKEN
from tests.unit.conftest import FAST

BALANCE_URL = f"{FAKE_URL}/account/balance"
SEND_URL = f"{FAKE_URL}/messages/send/to_numbers"

NGINX_429 = (
    "<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
    "<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
CLOUDFLARE_429 = "<!DOCTYPE html><html><head><title>Access denied | api.fullsms.com used Cloudflare to restrict access</title></head><body>Error 1015: You are being rate limited</body></html>"  # noqa: E501
RATE_LIMIT_BODIES = {
    "nginx-html": {"text": NGINX_429},
    "cloudflare-html": {"text": CLOUDFLARE_429},
    "empty": {"text": ""},
    "json": {"json": {"status_code": 429, "message": "Too Many Requests"}},
    "json-without-message": {"json": {}},
}
#: What a misconfigured proxy answers: the request quoted back, the bearer token included.
ECHO_PAGE = (
    "<html><body><h1>502 Bad Gateway</h1><pre>POST /messages/send/to_numbers HTTP/1.1\n"
    f"host: fullsms.test\nauthorization: Bearer {SECRET_TOKEN}\naccept: application/json</pre></body></html>"
)
ECHOES = {
    "html-header-lines": ECHO_PAGE,
    "json-headers": json.dumps(
        {"message": "Bad Gateway", "request": {"headers": {"Authorization": f"Bearer {SECRET_TOKEN}"}}}
    ),
    "json-message": json.dumps({"message": f"upstream refused: Authorization: Bearer {SECRET_TOKEN}"}),
    "token-alone": f"<p>no route for token {SECRET_TOKEN}</p>",
}


def account(requests_mock: Any) -> None:
    """The documented account look-ups a send operator makes before sending."""
    requests_mock.get(f"{FAKE_URL}/account/numbers", json=docs.NUMBERS)
    requests_mock.get(f"{FAKE_URL}/account/senderids", json=docs.SENDER_IDS)


class TaskInstance:
    """What the send operator needs of ``ti``: its ids, and somewhere to push its summary."""

    dag_id, run_id, task_id = "campaign", "manual__1", "send"

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = json.loads(json.dumps(value))


# -- 6. a 429 is a rate limit whatever its body ---------------------------------------------------


@pytest.mark.parametrize("body", RATE_LIMIT_BODIES.values(), ids=RATE_LIMIT_BODIES.keys())
def test_a_429_of_any_body_is_waited_out_on_a_send(
    hook: FullSmsHook, requests_mock: Any, sleeps: list[float], body: dict[str, Any]
) -> None:
    requests_mock.post(
        SEND_URL,
        [{"status_code": 429, "headers": {"Retry-After": "1"}, **body}, {"json": docs.SEND_TO_NUMBERS}],
    )
    assert hook.send_to_numbers(["972541111111"], message="hi").status == "approved"
    assert requests_mock.call_count == 2
    assert sleeps == [1.0]


@pytest.mark.parametrize("body", RATE_LIMIT_BODIES.values(), ids=RATE_LIMIT_BODIES.keys())
def test_a_429_of_any_body_that_lasts_is_a_retryable_rate_limit(
    hook: FullSmsHook, requests_mock: Any, sleeps: list[float], body: dict[str, Any]
) -> None:
    requests_mock.get(BALANCE_URL, status_code=429, **body)
    with pytest.raises(exc.FullSmsRateLimitError, match="429") as raised:
        hook.get_balance()
    assert raised.value.retryable
    assert requests_mock.call_count == FAST.max_attempts


def test_retry_after_as_an_http_date_is_honoured(
    hook: FullSmsHook, requests_mock: Any, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
    monkeypatch.setattr("airflow_provider_fullsms.error_responses.time.time", now.timestamp)
    later = format_datetime(now.replace(second=2), usegmt=True)  # "Sun, 01 Jun 2025 12:00:02 GMT"
    requests_mock.get(
        BALANCE_URL,
        [{"status_code": 429, "headers": {"Retry-After": later}, "text": NGINX_429}, {"json": docs.BALANCE}],
    )
    assert hook.get_balance() == 100.0
    assert sleeps == [2.0]


@pytest.mark.parametrize("retry_after", ["3600", "Sun, 01 Jun 2025 13:00:00 GMT"], ids=["seconds", "date"])
def test_a_longer_retry_after_than_the_hook_waits_ends_the_call_saying_how_long(
    hook: FullSmsHook,
    requests_mock: Any,
    sleeps: list[float],
    monkeypatch: pytest.MonkeyPatch,
    retry_after: str,
) -> None:
    now = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
    monkeypatch.setattr("airflow_provider_fullsms.error_responses.time.time", now.timestamp)
    requests_mock.post(SEND_URL, status_code=429, headers={"Retry-After": retry_after}, text=NGINX_429)
    with pytest.raises(exc.FullSmsRateLimitError, match=r"asked to wait 3600s") as raised:
        hook.send_to_numbers(["972541111111"], message="hi")
    assert raised.value.retryable  # the task's retries (and retry_delay) take over
    assert raised.value.retry_after == 3600
    assert requests_mock.call_count == 1  # never sooner than FullSMS asked
    assert sleeps == []


def test_a_send_operator_hit_by_lasting_html_429s_is_left_to_the_task_retries(
    fullsms_conn: str, requests_mock: Any, sleeps: list[float]
) -> None:
    account(requests_mock)
    requests_mock.post(SEND_URL, status_code=429, headers={"Retry-After": "1"}, text=NGINX_429)
    op = FullSmsSendToNumbersOperator(task_id="send", numbers=["447700900001"], message="hi")
    with pytest.raises(AirflowException, match="retries send the rest") as raised:
        op.execute(cast("Any", {"task_state_store": MemoryStateStore()}))
    assert not isinstance(raised.value, AirflowFailException)


def test_the_balance_operator_hit_by_an_html_429_is_left_to_the_task_retries(
    fullsms_conn: str, requests_mock: Any, sleeps: list[float]
) -> None:
    requests_mock.get(BALANCE_URL, status_code=429, text=NGINX_429)
    with pytest.raises(exc.FullSmsRateLimitError) as raised:
        FullSmsGetBalanceOperator(task_id="balance").execute(cast("Any", {}))
    assert not isinstance(raised.value, AirflowFailException)


@pytest.mark.parametrize("body", RATE_LIMIT_BODIES.values(), ids=RATE_LIMIT_BODIES.keys())
def test_the_balance_sensor_keeps_waiting_through_a_429_of_any_body(
    fullsms_conn: str, requests_mock: Any, body: dict[str, Any]
) -> None:
    requests_mock.get(BALANCE_URL, status_code=429, **body)
    result = FullSmsBalanceSensor(task_id="wait", min_balance=50).poke(cast("Any", {}))
    assert not result.is_done


# -- 7. a response that echoes the token ---------------------------------------------------------


@pytest.mark.parametrize("body", ECHOES.values(), ids=ECHOES.keys())
@pytest.mark.parametrize("status", [400, 429, 502, 503])
def test_an_echoed_token_never_reaches_an_error_of_a_read(
    hook: FullSmsHook, requests_mock: Any, sleeps: list[float], status: int, body: str
) -> None:
    requests_mock.get(BALANCE_URL, status_code=status, text=body)
    with pytest.raises(exc.FullSmsError) as raised:
        hook.get_balance()
    assert SECRET_TOKEN not in str(raised.value)
    assert "tok-SECRET" not in repr(raised.value.__dict__)


@pytest.mark.parametrize("body", ECHOES.values(), ids=ECHOES.keys())
def test_an_echoed_token_never_reaches_an_unknown_outcome(
    hook: FullSmsHook, requests_mock: Any, body: str
) -> None:
    requests_mock.post(SEND_URL, status_code=502, text=body)
    with pytest.raises(exc.FullSmsOutcomeUnknownError) as raised:
        hook.send_to_numbers(["972541111111"], message="hi")
    assert "502" in str(raised.value)
    assert SECRET_TOKEN not in str(raised.value)


def test_an_echoed_authorization_value_is_redacted_even_when_it_is_not_our_token(
    hook: FullSmsHook, requests_mock: Any
) -> None:
    requests_mock.get(
        BALANCE_URL, status_code=400, text="Authorization: Basic dXNlcjpwYXNz\nProxy-Authorization: xyz"
    )
    with pytest.raises(exc.FullSmsError) as raised:
        hook.get_balance()
    assert "dXNlcjpwYXNz" not in str(raised.value)
    assert "xyz" not in str(raised.value)
    assert "Authorization: ***" in str(raised.value)


def test_an_echoed_token_in_a_success_body_of_the_wrong_shape_is_redacted(
    hook: FullSmsHook, requests_mock: Any
) -> None:
    requests_mock.get(BALANCE_URL, json={"headers": {"Authorization": f"Bearer {SECRET_TOKEN}"}})
    with pytest.raises(exc.FullSmsUnexpectedResponseError) as raised:
        hook.get_balance()
    assert SECRET_TOKEN not in str(raised.value)


def test_an_echoed_token_reaches_neither_the_summary_nor_the_state_store(
    fullsms_conn: str, requests_mock: Any, sleeps: list[float]
) -> None:
    account(requests_mock)
    requests_mock.post(SEND_URL, status_code=502, text=ECHO_PAGE)
    store, ti = MemoryStateStore(), TaskInstance()
    op = FullSmsSendToNumbersOperator(task_id="send", numbers=["447700900001"], message="hi")
    with pytest.raises(AirflowException) as raised:
        op.execute(cast("Any", {"task_state_store": store, "ti": ti}))
    assert ti.xcom["fullsms_summary"]["unknown_recipients"] == 1
    assert "502" in json.dumps(ti.xcom)
    assert SECRET_TOKEN not in json.dumps(ti.xcom)
    assert SECRET_TOKEN not in json.dumps(store.data)
    assert SECRET_TOKEN not in str(raised.value)


# -- 8. a balance that is not a finite number ----------------------------------------------------

GARBAGE_BALANCES = {
    "NaN": '{"balance": NaN}',
    "Infinity": '{"balance": Infinity}',
    "-Infinity": '{"balance": -Infinity}',
    "string-Infinity": '{"balance": "Infinity"}',
    "string-nan": '{"balance": "nan"}',
    "word": '{"balance": "unknown"}',
    "null": '{"balance": null}',
    "boolean": '{"balance": true}',
    "overflow": '{"balance": 1e999}',
}


@pytest.mark.parametrize("body", GARBAGE_BALANCES.values(), ids=GARBAGE_BALANCES.keys())
def test_a_balance_that_is_not_a_finite_number_is_an_unexpected_response(
    hook: FullSmsHook, requests_mock: Any, body: str
) -> None:
    requests_mock.get(BALANCE_URL, text=body)
    with pytest.raises(exc.FullSmsUnexpectedResponseError, match="account/balance"):
        hook.get_balance()


@pytest.mark.parametrize("body", GARBAGE_BALANCES.values(), ids=GARBAGE_BALANCES.keys())
def test_the_balance_operator_fails_on_a_garbage_balance(
    fullsms_conn: str, requests_mock: Any, body: str
) -> None:
    requests_mock.get(BALANCE_URL, text=body)
    with pytest.raises(AirflowFailException, match="account/balance"):
        FullSmsGetBalanceOperator(task_id="balance", min_balance=10).execute(cast("Any", {}))


@pytest.mark.parametrize("body", GARBAGE_BALANCES.values(), ids=GARBAGE_BALANCES.keys())
def test_the_balance_sensor_never_passes_on_a_garbage_balance(
    fullsms_conn: str, requests_mock: Any, body: str
) -> None:
    requests_mock.get(BALANCE_URL, text=body)
    with pytest.raises(exc.FullSmsUnexpectedResponseError, match="account/balance: unexpected body"):
        FullSmsBalanceSensor(task_id="wait", min_balance=10).poke(cast("Any", {}))


def test_the_async_hook_refuses_a_garbage_balance(fullsms_conn: str) -> None:
    async def get_balance() -> float:
        async with FullSmsAsyncHook(retry_policy=FAST) as hook:
            hook._client = httpx.AsyncClient(
                base_url=FAKE_URL,
                transport=httpx.MockTransport(lambda request: httpx.Response(200, text='{"balance": NaN}')),
            )
            return await hook.get_balance()

    with pytest.raises(exc.FullSmsUnexpectedResponseError, match="not a finite number"):
        asyncio.run(get_balance())
