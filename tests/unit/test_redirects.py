"""
A redirect is never followed: a 3xx is a clear error, and numbers and texts never leave for another
host. Through the public hooks and the send operator, against requests-mock and httpx's mock transport.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import requests_mock as rm
from airflow.providers.common.compat.sdk import AirflowFailException
from hypothesis import example, given
from hypothesis import strategies as st

from airflow_provider_fullsms import exceptions as exc
from airflow_provider_fullsms.hooks.fullsms import FullSmsAsyncHook, FullSmsHook
from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator
from airflow_provider_fullsms.outcomes import Failure, classify_failure
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from tests import vendor_docs as docs
from tests.conftest import FAKE_URL, SECRET_TOKEN, connection_json
from tests.unit.conftest import FAST

ELSEWHERE = "https://elsewhere.example"
SEND_URL = f"{FAKE_URL}/messages/send/to_numbers"
REDIRECTS = [301, 302, 303, 307, 308]


def calls(hook: FullSmsHook) -> dict[str, Any]:
    """One read and one send of the hook, by the path they request."""
    return {
        "account/balance": hook.get_balance,
        "messages/send/to_numbers": lambda: hook.send_to_numbers(["972541111111"], message="Hi"),
    }


@pytest.mark.parametrize("status", REDIRECTS)
@pytest.mark.parametrize("path", ["account/balance", "messages/send/to_numbers"])
def test_a_redirect_is_an_error_naming_its_host_and_nothing_goes_there(
    hook: FullSmsHook, requests_mock: Any, status: int, path: str
) -> None:
    requests_mock.register_uri(
        "GET" if path == "account/balance" else "POST",
        f"{FAKE_URL}/{path}",
        status_code=status,
        headers={"Location": f"{ELSEWHERE}/{path}"},
    )
    elsewhere = requests_mock.register_uri(rm.ANY, f"{ELSEWHERE}/{path}", json=docs.SEND_TO_NUMBERS)
    with pytest.raises(exc.FullSmsRedirectError) as caught:
        calls(hook)[path]()
    message = str(caught.value)
    assert f"redirects to {ELSEWHERE}" in message
    assert "set the connection's host" in message
    assert SECRET_TOKEN not in message
    assert elsewhere.call_count == 0
    assert requests_mock.call_count == 1  # and not retried: retrying cannot fix the address
    # FullSMS did not act at the address the request was made to: not sent, and not worth a retry.
    assert classify_failure(caught.value) is Failure.REFUSED


def test_the_send_operator_fails_without_retry_and_sends_nothing_elsewhere(
    fullsms_conn: str, requests_mock: Any
) -> None:
    # The classic: the connection says http://, FullSMS answers 308 to https://.
    requests_mock.get(f"{FAKE_URL}/account/numbers", json=docs.NUMBERS)
    requests_mock.get(f"{FAKE_URL}/account/senderids", json=docs.SENDER_IDS)
    location = {"Location": f"{ELSEWHERE}/messages/send/to_numbers"}
    requests_mock.post(SEND_URL, status_code=308, headers=location)
    elsewhere = requests_mock.post(f"{ELSEWHERE}/messages/send/to_numbers", json=docs.SEND_TO_NUMBERS)
    op = FullSmsSendToNumbersOperator(task_id="send", numbers=["+972541111111"], message="Hi")
    with pytest.raises(AirflowFailException, match=r"308.*redirects to https://elsewhere\.example"):
        op.execute({"task_state_store": MemoryStateStore()})
    assert elsewhere.call_count == 0
    assert sum(1 for r in requests_mock.request_history if r.method == "POST") == 1


@pytest.mark.parametrize(
    ("location", "named"),
    [
        (
            f"https://user:{SECRET_TOKEN}@elsewhere.example/x?token={SECRET_TOKEN}",
            "https://elsewhere.example",
        ),
        (f"/v2/messages/send/to_numbers?key={SECRET_TOKEN}", "another path of the same address"),
        (None, "without saying where"),
    ],
)
def test_the_error_names_the_host_but_never_a_path_query_or_credential(
    hook: FullSmsHook, requests_mock: Any, location: str | None, named: str
) -> None:
    headers = {"Location": location} if location is not None else {}
    requests_mock.get(f"{FAKE_URL}/account/balance", status_code=307, headers=headers)
    with pytest.raises(exc.FullSmsRedirectError) as caught:
        hook.get_balance()
    assert named in str(caught.value)
    assert SECRET_TOKEN not in str(caught.value)
    assert "user" not in str(caught.value)


@pytest.mark.parametrize("status", REDIRECTS)
def test_the_async_hook_never_follows_a_redirect_either(
    fullsms_conn: str, status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.host == "elsewhere.example":
            return httpx.Response(200, json=docs.SEND_TO_NUMBERS)
        return httpx.Response(status, headers={"Location": f"{ELSEWHERE}/messages/send/to_numbers"})

    async def send() -> None:
        async with FullSmsAsyncHook(retry_policy=FAST) as hook:
            # A client that would follow redirects by default: the hook still does not.
            hook._client = httpx.AsyncClient(
                base_url=FAKE_URL, transport=httpx.MockTransport(answer), follow_redirects=True
            )
            await hook.send_to_numbers(["972541111111"], message="Hi")

    with pytest.raises(exc.FullSmsRedirectError, match=r"redirects to https://elsewhere\.example"):
        asyncio.run(send())
    assert seen == [SEND_URL]


@pytest.mark.property
@given(
    status=st.integers(300, 399),
    location=st.one_of(
        st.none(),
        st.builds(
            "{}://{}{}".format,
            st.sampled_from(["http", "https"]),
            st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,8}){1,2}(:[0-9]{2,5})?", fullmatch=True),
            st.text(alphabet="/?=&abc" + SECRET_TOKEN, max_size=30),
        ),
        st.text(max_size=40).map(lambda text: text.replace("\r", "").replace("\n", "")),
    ),
    post=st.booleans(),
)
@example(status=308, location=f"https://api.fullsms.com/messages/send/to_numbers?t={SECRET_TOKEN}", post=True)
# Found by the property: requests read a Location that is not UTF-8 even with allow_redirects=False,
# and raised a bare UnicodeDecodeError from inside the send.
@example(status=302, location="\x80", post=True)
def test_any_3xx_on_any_call_is_one_request_and_a_clear_error_without_the_token(
    status: int, location: str | None, post: bool
) -> None:
    """Whatever the 3xx and wherever it points: one request, no retry, no follow, no token."""
    headers = {"Location": location} if location is not None else {}
    with pytest.MonkeyPatch.context() as patch, rm.Mocker() as mock:
        patch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(FAKE_URL, default_sender="COPERATO"))
        mock.register_uri(rm.ANY, rm.ANY, status_code=status, headers=headers)
        hook = FullSmsHook(retry_policy=FAST)
        with pytest.raises(exc.FullSmsRedirectError) as caught:
            calls(hook)["messages/send/to_numbers" if post else "account/balance"]()
        assert mock.call_count == 1
        assert SECRET_TOKEN not in str(caught.value)
        assert SECRET_TOKEN not in json.dumps(caught.value.args)
        assert "set the connection's host" in str(caught.value)
        assert classify_failure(caught.value) is Failure.REFUSED


def test_the_hooks_session_follows_no_redirect_even_for_a_caller_of_get_conn(
    hook: FullSmsHook, requests_mock: Any
) -> None:
    requests_mock.post(SEND_URL, status_code=307, headers={"Location": f"{ELSEWHERE}/x"})
    elsewhere = requests_mock.post(f"{ELSEWHERE}/x", json={})
    response = hook.get_conn().post(SEND_URL, json={"to_numbers": ["972541111111"]})
    assert response.status_code == 307
    assert elsewhere.call_count == 0
