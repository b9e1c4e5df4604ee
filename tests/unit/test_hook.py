"""FullSmsHook against requests-mock, serving the vendor's documented bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pendulum
import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from airflow_provider_fullsms import exceptions as exc
from airflow_provider_fullsms.connection import format_send_at
from airflow_provider_fullsms.hooks.fullsms import FullSmsAsyncHook, FullSmsHook
from airflow_provider_fullsms.models import Campaign, ContactList, OtpCheck, PhoneNumber, Template
from tests import vendor_docs as docs
from tests.conftest import FAKE_URL, SECRET_TOKEN
from tests.unit.conftest import FAST

# -- every endpoint's documented success body --------------------------------------------------


def test_get_balance_returns_a_float(hook: FullSmsHook, requests_mock: Any) -> None:
    requests_mock.get(f"{FAKE_URL}/account/balance", json=docs.BALANCE)
    balance = hook.get_balance()
    assert balance == 100.0
    assert isinstance(balance, float)
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {SECRET_TOKEN}"


def test_a_netrc_entry_for_the_host_never_replaces_the_token(
    hook: FullSmsHook, requests_mock: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = FAKE_URL.split("://", 1)[1].split("/", 1)[0].split(":")[0]
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {host} login someone password their-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    requests_mock.get(f"{FAKE_URL}/account/balance", json=docs.BALANCE)
    hook.get_balance()
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {SECRET_TOKEN}"


def test_the_environments_proxy_and_ca_bundle_still_apply(
    fullsms_conn: str, requests_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/corporate-ca.pem")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    requests_mock.get(f"{FAKE_URL}/account/balance", json=docs.BALANCE)
    FullSmsHook(retry_policy=FAST).get_balance()
    scheme = FAKE_URL.split("://", 1)[0]
    assert requests_mock.last_request.proxies[scheme] == "http://proxy.example:3128"
    assert requests_mock.last_request.verify == "/etc/corporate-ca.pem"


def test_no_proxy_keeps_the_host_off_the_proxy(
    fullsms_conn: str, requests_mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = FAKE_URL.split("://", 1)[1].split("/", 1)[0].split(":")[0]
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", host)
    requests_mock.get(f"{FAKE_URL}/account/balance", json=docs.BALANCE)
    FullSmsHook(retry_policy=FAST).get_balance()
    assert not requests_mock.last_request.proxies


def test_get_numbers(hook: FullSmsHook, requests_mock: Any) -> None:
    requests_mock.get(f"{FAKE_URL}/account/numbers", json=docs.NUMBERS)
    assert hook.get_numbers() == [PhoneNumber(number="441111111111", country="GB")]


def test_get_contact_lists(hook: FullSmsHook, requests_mock: Any) -> None:
    requests_mock.get(f"{FAKE_URL}/account/lists", json=docs.LISTS)
    assert hook.get_contact_lists() == [
        ContactList(list_id=7, name="yourlistName", subscribe_word=None, subscribed_contacts=1)
    ]


def test_get_sender_ids(hook: FullSmsHook, requests_mock: Any) -> None:
    requests_mock.get(f"{FAKE_URL}/account/senderids", json=docs.SENDER_IDS)
    assert hook.get_sender_ids() == ["COPERATO"]


def test_get_templates(hook: FullSmsHook, requests_mock: Any) -> None:
    requests_mock.get(f"{FAKE_URL}/account/templates", json=docs.TEMPLATES)
    assert hook.get_templates() == [Template(template_id=7, name="yourTemplateName", content="Hello World")]


def test_send_to_lists_posts_the_documented_body(hook: FullSmsHook, requests_mock: Any) -> None:
    requests_mock.post(f"{FAKE_URL}/messages/send/to_lists", json=docs.SEND_TO_LISTS)
    campaign = hook.send_to_lists(
        [7], message="Your Message", sender="441111111111", send_at="2025-01-01 08:51:07"
    )
    assert campaign == Campaign(campaign_id="3e05699c-03ae-11ee-910d-0264ec2cd11b", status="approved")
    assert requests_mock.last_request.json() == {
        "to_list_ids": [7],
        "message": "Your Message",
        "from": "441111111111",
        "send_at": "2025-01-01 08:51:07",
    }


def test_send_to_numbers_uses_template_and_default_sender(hook: FullSmsHook, requests_mock: Any) -> None:
    requests_mock.post(f"{FAKE_URL}/messages/send/to_numbers", json=docs.SEND_TO_NUMBERS)
    campaign = hook.send_to_numbers(["972541111111", "972542222222"], template_id=42)
    assert campaign.campaign_id == "68a6ce95-03b2-11ee-910d-0264ec2cd11b"
    assert campaign.status == "approved"
    assert campaign.total_sent == 2
    assert campaign.invalid_numbers == ()
    assert requests_mock.last_request.json() == {
        "to_numbers": ["972541111111", "972542222222"],
        "template_id": "42",
        "from": "COPERATO",
    }


def test_send_to_numbers_reports_invalid_numbers(hook: FullSmsHook, requests_mock: Any) -> None:
    body = {**docs.SEND_TO_NUMBERS, "total_sent": 1, "invalid": {"count": 1, "numbers": ["12"]}}
    requests_mock.post(f"{FAKE_URL}/messages/send/to_numbers", json=body)
    campaign = hook.send_to_numbers(["972541111111", "12"], message="hi")
    assert (campaign.total_sent, campaign.invalid_numbers) == (1, ("12",))


def test_otp_life_cycle_calls(hook: FullSmsHook, requests_mock: Any) -> None:
    requests_mock.post(f"{FAKE_URL}/otp/create", json=docs.OTP_CREATE)
    requests_mock.post(f"{FAKE_URL}/otp/verify", json=docs.OTP_VERIFY)
    requests_mock.post(f"{FAKE_URL}/otp/cancel", json=docs.OTP_CANCEL)
    requests_mock.get(f"{FAKE_URL}/otp/search", json=docs.OTP_SEARCH)

    otp = hook.create_otp("442222222222", brand="Your Brand", sender="441111111111")
    assert (otp.otp_id, otp.status, otp.otp_status) == (
        "35efec9e-b736-4aab-b6d7-52d9fc288984",
        "approved",
        "in_progress",
    )
    assert requests_mock.request_history[-1].json() == {
        "to_number": "442222222222",
        "from": "441111111111",
        "brand": "Your Brand",
    }

    assert hook.verify_otp(otp.otp_id, "626262").approved
    assert requests_mock.last_request.json() == {"otp_id": otp.otp_id, "code": 626262}

    assert hook.cancel_otp(otp.otp_id) is None

    info = hook.search_otp("23d8ab2e-cd91-47c7-a83f-aa99b8903c38")
    assert requests_mock.last_request.qs == {"otp_id": ["23d8ab2e-cd91-47c7-a83f-aa99b8903c38"]}
    assert info.status == "approved"
    assert info.destination == "972546461393"
    assert info.created_at == "2023-06-05 13:02:56"
    assert info.checks[-1] == OtpCheck(date="2023-06-05 13:04:13", code=720842, status="valid")


# -- account look-ups, made before sending ---------------------------------------------------------


@pytest.mark.parametrize("sender", ["441111111111", "+44 1111 111111", "0044-1111-111111"])
def test_check_sender_returns_an_owned_number_normalised(
    hook: FullSmsHook, requests_mock: Any, sender: str
) -> None:
    requests_mock.get(f"{FAKE_URL}/account/numbers", json=docs.NUMBERS)
    assert hook.check_sender(sender) == "441111111111"
    assert [r.path for r in requests_mock.request_history] == ["/account/numbers"]


def test_check_sender_accepts_an_approved_sender_id(hook: FullSmsHook, requests_mock: Any) -> None:
    requests_mock.get(f"{FAKE_URL}/account/numbers", json=docs.NUMBERS)
    requests_mock.get(f"{FAKE_URL}/account/senderids", json=docs.SENDER_IDS)
    assert hook.check_sender("COPERATO") == "COPERATO"


def test_check_sender_defaults_to_the_connections_sender(hook: FullSmsHook, requests_mock: Any) -> None:
    requests_mock.get(f"{FAKE_URL}/account/numbers", json=docs.NUMBERS)
    requests_mock.get(f"{FAKE_URL}/account/senderids", json=docs.SENDER_IDS)
    assert hook.check_sender() == "COPERATO"  # the fixture's default_sender


@pytest.mark.parametrize("sender", ["SHOP", "442222222222"])
def test_check_sender_refuses_what_the_account_does_not_own(
    hook: FullSmsHook, requests_mock: Any, sender: str
) -> None:
    requests_mock.get(f"{FAKE_URL}/account/numbers", json=docs.NUMBERS)
    requests_mock.get(f"{FAKE_URL}/account/senderids", json=docs.SENDER_IDS)
    with pytest.raises(exc.FullSmsConfigurationError) as raised:
        hook.check_sender(sender)
    assert str(raised.value) == (
        f"sender={sender!r} is neither a number this FullSMS account owns (441111111111) nor an "
        "approved sender ID (COPERATO): pass one of those, or have the sender ID approved in FullSMS first."
    )


def test_check_sender_without_any_sender_asks_no_question(
    monkeypatch: pytest.MonkeyPatch, requests_mock: Any
) -> None:
    from tests.conftest import connection_json

    monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(FAKE_URL))
    with pytest.raises(exc.FullSmsConfigurationError, match="No sender: pass sender="):
        FullSmsHook().check_sender()
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(("sender", "path"), [("COPERATO", "senderids"), ("+44 7700 900001", "numbers")])
def test_check_sender_lets_api_errors_through(
    hook: FullSmsHook, requests_mock: Any, sender: str, path: str
) -> None:
    # A sender ID is looked up among the sender IDs first, a number among the owned numbers.
    requests_mock.get(f"{FAKE_URL}/account/{path}", status_code=403, json=docs.UNAUTHENTICATED)
    with pytest.raises(exc.FullSmsAuthenticationError):
        hook.check_sender(sender)


def test_check_sender_asks_one_list_when_the_sender_is_found_there(
    hook: FullSmsHook, requests_mock: Any
) -> None:
    sender_ids = requests_mock.get(f"{FAKE_URL}/account/senderids", json=docs.SENDER_IDS)

    assert hook.check_sender("COPERATO") == "COPERATO"
    assert [r.path for r in requests_mock.request_history] == [sender_ids.last_request.path]


@pytest.mark.parametrize("template_id", [7, "7", " 7 "])
def test_get_template_finds_the_template_by_id(
    hook: FullSmsHook, requests_mock: Any, template_id: int | str
) -> None:
    requests_mock.get(f"{FAKE_URL}/account/templates", json=docs.TEMPLATES)
    assert hook.get_template(template_id) == Template(
        template_id=7, name="yourTemplateName", content="Hello World"
    )


def test_get_template_refuses_an_unknown_id(hook: FullSmsHook, requests_mock: Any) -> None:
    requests_mock.get(f"{FAKE_URL}/account/templates", json=docs.TEMPLATES)
    with pytest.raises(exc.FullSmsConfigurationError) as raised:
        hook.get_template(42)
    assert str(raised.value) == (
        "template_id=42 is not a template of this FullSMS account (templates: 7 (yourTemplateName)): "
        "pass one of those ids, or send the text with message=."
    )


TWO_LISTS = {
    "total_lists": 2,
    "lists": [
        *docs.LISTS["lists"],  # type: ignore[misc]
        {"list_id": 8, "name": "Customers", "subscribe_word": "JOIN", "subscribed_contacts": 250},
    ],
}


def test_get_contact_lists_by_id_keeps_the_order_given(hook: FullSmsHook, requests_mock: Any) -> None:
    requests_mock.get(f"{FAKE_URL}/account/lists", json=TWO_LISTS)
    lists = hook.get_contact_lists_by_id([8, 7])
    assert [(c.list_id, c.name, c.subscribed_contacts) for c in lists] == [
        (8, "Customers", 250),
        (7, "yourlistName", 1),
    ]
    assert requests_mock.call_count == 1


def test_get_contact_lists_by_id_refuses_unknown_ids(hook: FullSmsHook, requests_mock: Any) -> None:
    requests_mock.get(f"{FAKE_URL}/account/lists", json=TWO_LISTS)
    with pytest.raises(exc.FullSmsConfigurationError) as raised:
        hook.get_contact_lists_by_id([7, 9])
    assert str(raised.value) == (
        "Contact list 9 does not exist in this FullSMS account (lists: 7 (yourlistName), 8 (Customers)): "
        "pass ids from that list. Nothing was sent."
    )


# -- every documented error body -----------------------------------------------------------------

Call = Callable[[FullSmsHook], object]
BALANCE_CALL: Call = lambda h: h.get_balance()  # noqa: E731
TO_LISTS: Call = lambda h: h.send_to_lists([7], message="hi")  # noqa: E731
TO_NUMBERS: Call = lambda h: h.send_to_numbers(["972541111111"], message="hi")  # noqa: E731
CREATE: Call = lambda h: h.create_otp("442222222222")  # noqa: E731
VERIFY: Call = lambda h: h.verify_otp("6a68fb58", 626262)  # noqa: E731
CANCEL: Call = lambda h: h.cancel_otp("6a68fb58")  # noqa: E731
SEARCH: Call = lambda h: h.search_otp("6a68fb58")  # noqa: E731

ERROR_CASES = [
    # (call, method, path, status, body, error class)
    (BALANCE_CALL, "GET", "account/balance", 403, docs.ACCESS_DENIED, exc.FullSmsAccessDeniedError),
    (BALANCE_CALL, "GET", "account/balance", 403, docs.UNAUTHENTICATED, exc.FullSmsAuthenticationError),
    (
        BALANCE_CALL,
        "GET",
        "account/balance",
        403,
        docs.GENERAL_UNAUTHENTICATED,
        exc.FullSmsAuthenticationError,
    ),
    (BALANCE_CALL, "GET", "account/balance", 403, docs.GENERAL_ACCESS_DENIED, exc.FullSmsAccessDeniedError),
    (BALANCE_CALL, "GET", "account/balance", 500, docs.SERVER_ERROR, exc.FullSmsServerError),
    (BALANCE_CALL, "GET", "account/balance", 500, docs.GENERAL_INTERNAL, exc.FullSmsServerError),
    (
        lambda h: h.get_numbers(),
        "GET",
        "account/numbers",
        403,
        docs.ACCESS_DENIED,
        exc.FullSmsAccessDeniedError,
    ),
    (
        lambda h: h.get_contact_lists(),
        "GET",
        "account/lists",
        403,
        docs.UNAUTHENTICATED,
        exc.FullSmsAuthenticationError,
    ),
    (
        lambda h: h.get_sender_ids(),
        "GET",
        "account/senderids",
        500,
        docs.SERVER_ERROR,
        exc.FullSmsServerError,
    ),
    (
        lambda h: h.get_templates(),
        "GET",
        "account/templates",
        403,
        docs.ACCESS_DENIED,
        exc.FullSmsAccessDeniedError,
    ),
    (
        TO_LISTS,
        "POST",
        "messages/send/to_lists",
        403,
        docs.FROM_INVALID_NUMBER,
        exc.FullSmsInvalidSenderNumberError,
    ),
    (
        TO_LISTS,
        "POST",
        "messages/send/to_lists",
        403,
        docs.SENDER_NOT_APPROVED,
        exc.FullSmsSenderIdNotApprovedError,
    ),
    (TO_LISTS, "POST", "messages/send/to_lists", 403, docs.ACCESS_DENIED, exc.FullSmsAccessDeniedError),
    (TO_LISTS, "POST", "messages/send/to_lists", 403, docs.UNAUTHENTICATED, exc.FullSmsAuthenticationError),
    (
        TO_LISTS,
        "POST",
        "messages/send/to_lists",
        404,
        docs.TEMPLATE_NOT_FOUND,
        exc.FullSmsTemplateNotFoundError,
    ),
    (TO_LISTS, "POST", "messages/send/to_lists", 422, docs.LIST_NOT_FOUND, exc.FullSmsListNotFoundError),
    (TO_LISTS, "POST", "messages/send/to_lists", 422, docs.MESSAGE_NOT_STRING, exc.FullSmsValidationError),
    (TO_LISTS, "POST", "messages/send/to_lists", 422, docs.BALANCE_LOW, exc.FullSmsBalanceLowError),
    (
        TO_NUMBERS,
        "POST",
        "messages/send/to_numbers",
        403,
        docs.SHORTLINKS,
        exc.FullSmsShortlinksNotAllowedError,
    ),
    (
        TO_NUMBERS,
        "POST",
        "messages/send/to_numbers",
        403,
        docs.SENDER_NOT_APPROVED,
        exc.FullSmsSenderIdNotApprovedError,
    ),
    (
        TO_NUMBERS,
        "POST",
        "messages/send/to_numbers",
        404,
        docs.TEMPLATE_NOT_FOUND,
        exc.FullSmsTemplateNotFoundError,
    ),
    (
        TO_NUMBERS,
        "POST",
        "messages/send/to_numbers",
        422,
        docs.NUMBERS_INVALID,
        exc.FullSmsInvalidRecipientsError,
    ),
    (
        TO_NUMBERS,
        "POST",
        "messages/send/to_numbers",
        422,
        docs.MESSAGE_NOT_STRING,
        exc.FullSmsValidationError,
    ),
    (TO_NUMBERS, "POST", "messages/send/to_numbers", 422, docs.BALANCE_LOW, exc.FullSmsBalanceLowError),
    (CREATE, "POST", "otp/create", 403, docs.FROM_INVALID_NUMBER, exc.FullSmsInvalidSenderNumberError),
    (CREATE, "POST", "otp/create", 403, docs.SENDER_NOT_APPROVED, exc.FullSmsSenderIdNotApprovedError),
    (CREATE, "POST", "otp/create", 422, docs.OTP_FIELD_INVALID, exc.FullSmsValidationError),
    (CREATE, "POST", "otp/create", 429, docs.OTP_EXISTS, exc.FullSmsOtpAlreadyActiveError),
    (CREATE, "POST", "otp/create", 429, docs.OTP_CREATE_LIMIT, exc.FullSmsOtpCreateLimitError),
    (CREATE, "POST", "otp/create", 429, docs.OTP_ONE_CREATION, exc.FullSmsOtpAlreadyActiveError),
    (VERIFY, "POST", "otp/verify", 404, docs.OTP_NOT_FOUND, exc.FullSmsOtpNotFoundError),
    (VERIFY, "POST", "otp/verify", 422, docs.OTP_INVALID_CODE, exc.FullSmsInvalidOtpCodeError),
    (VERIFY, "POST", "otp/verify", 422, docs.OTP_NOT_ACTIVE, exc.FullSmsOtpNotActiveError),
    (VERIFY, "POST", "otp/verify", 429, docs.OTP_WRONG_CODE_TOO_MANY, exc.FullSmsOtpTooManyAttemptsError),
    (VERIFY, "POST", "otp/verify", 429, docs.OTP_MAX_VERIFICATION, exc.FullSmsOtpVerificationQuotaError),
    (CANCEL, "POST", "otp/cancel", 404, docs.OTP_NOT_FOUND, exc.FullSmsOtpNotFoundError),
    (CANCEL, "POST", "otp/cancel", 422, docs.OTP_NOT_ACTIVE, exc.FullSmsOtpNotActiveError),
    (SEARCH, "GET", "otp/search", 404, docs.OTP_NOT_FOUND, exc.FullSmsOtpNotFoundError),
    (SEARCH, "GET", "otp/search", 403, docs.ACCESS_DENIED, exc.FullSmsAccessDeniedError),
]


@pytest.mark.parametrize(
    ("call", "method", "path", "status", "body", "error_class"),
    ERROR_CASES,
    ids=[f"{c[2]}-{c[3]}-{c[5].__name__}" for c in ERROR_CASES],
)
def test_documented_error_bodies_raise_their_class(
    hook: FullSmsHook,
    requests_mock: Any,
    sleeps: list[float],
    call: Call,
    method: str,
    path: str,
    status: int,
    body: dict[str, Any],
    error_class: type[exc.FullSmsApiError],
) -> None:
    requests_mock.register_uri(method, f"{FAKE_URL}/{path}", status_code=status, json=body)
    with pytest.raises(error_class) as raised:
        call(hook)
    error = raised.value
    assert type(error) is error_class
    assert error.status_code == status
    assert error.message == body["message"]
    assert error.errors == body.get("errors", {})
    assert error.reason == body.get("reason")
    assert body["message"] in str(error)
    assert requests_mock.call_count == 1, "a documented refusal is never retried"
    assert SECRET_TOKEN not in str(error)


def test_send_500_is_outcome_unknown_and_not_retried(
    hook: FullSmsHook, requests_mock: Any, sleeps: list[float]
) -> None:
    requests_mock.post(f"{FAKE_URL}/messages/send/to_numbers", status_code=500, json=docs.SERVER_ERROR)
    with pytest.raises(exc.FullSmsOutcomeUnknownError, match="Internal Error") as raised:
        hook.send_to_numbers(["972541111111"], message="hi")
    assert raised.value.http_status == 500
    assert requests_mock.call_count == 1


@pytest.mark.parametrize(
    ("status", "content"),
    [
        (502, b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
        (403, b""),
        (422, b'{"message": "422 Unprocessable'),
    ],
    ids=["html-502", "empty-403", "truncated-422"],
)
def test_non_json_error_bodies_give_status_and_snippet(
    hook: FullSmsHook, requests_mock: Any, sleeps: list[float], status: int, content: bytes
) -> None:
    requests_mock.get(f"{FAKE_URL}/account/balance", status_code=status, content=content)
    with pytest.raises(exc.FullSmsApiError) as raised:
        hook.get_balance()
    text = str(raised.value)
    assert str(status) in text
    assert (content.decode()[:20] if content else "<empty body>") in text


def test_non_json_success_body_is_a_clear_error(hook: FullSmsHook, requests_mock: Any) -> None:
    requests_mock.get(f"{FAKE_URL}/account/balance", text="<html>maintenance</html>")
    with pytest.raises(exc.FullSmsUnexpectedResponseError, match=r"not JSON: <html>maintenance"):
        hook.get_balance()


def test_unexpected_json_shape_is_a_clear_error(hook: FullSmsHook, requests_mock: Any) -> None:
    requests_mock.get(f"{FAKE_URL}/account/numbers", json={"numbers": [{"country": "GB"}]})
    with pytest.raises(exc.FullSmsUnexpectedResponseError, match=r"account/numbers: unexpected body"):
        hook.get_numbers()


# -- retries ---------------------------------------------------------------------------------------


def test_get_is_retried_after_503_then_succeeds(
    hook: FullSmsHook, requests_mock: Any, sleeps: list[float]
) -> None:
    requests_mock.get(
        f"{FAKE_URL}/account/balance",
        [{"status_code": 503, "text": "busy"}, {"status_code": 502, "text": ""}, {"json": docs.BALANCE}],
    )
    assert hook.get_balance() == 100.0
    assert requests_mock.call_count == 3
    assert len(sleeps) == 2


def test_retry_after_is_honoured(hook: FullSmsHook, requests_mock: Any, sleeps: list[float]) -> None:
    requests_mock.post(
        f"{FAKE_URL}/messages/send/to_numbers",
        [
            {"status_code": 429, "headers": {"Retry-After": "1.5"}, "json": {"message": "Too Many Requests"}},
            {"json": docs.SEND_TO_NUMBERS},
        ],
    )
    assert hook.send_to_numbers(["972541111111"], message="hi").status == "approved"
    assert sleeps == [1.5]


def test_retry_after_up_to_the_cap_is_waited_out_in_full(
    hook: FullSmsHook, requests_mock: Any, sleeps: list[float]
) -> None:
    # A longer one ends the call instead: tests/unit/test_hostile_responses.py.
    requests_mock.get(
        f"{FAKE_URL}/account/balance",
        [{"status_code": 429, "headers": {"Retry-After": "2"}, "json": {}}, {"json": docs.BALANCE}],
    )
    hook.get_balance()
    assert sleeps == [FAST.retry_after_max]


def test_retries_are_bounded(hook: FullSmsHook, requests_mock: Any, sleeps: list[float]) -> None:
    requests_mock.get(f"{FAKE_URL}/account/balance", status_code=503, text="")
    with pytest.raises(exc.FullSmsServerError):
        hook.get_balance()
    assert requests_mock.call_count == FAST.max_attempts


def test_get_is_retried_after_read_timeout(
    hook: FullSmsHook, requests_mock: Any, sleeps: list[float]
) -> None:
    requests_mock.get(
        f"{FAKE_URL}/account/balance", [{"exc": requests.ReadTimeout("slow")}, {"json": docs.BALANCE}]
    )
    assert hook.get_balance() == 100.0


@pytest.mark.parametrize(
    "failure",
    [
        {"status_code": 503, "text": "busy"},
        # A CDN's rate limit: an HTML page, no JSON (more cases in test_hostile_responses.py).
        {"status_code": 429, "headers": {"Retry-After": "1"}, "text": "<h1>429 Too Many Requests</h1>"},
    ],
    ids=["503", "html-429"],
)
def test_the_async_hook_drives_the_same_retries(
    fullsms_conn: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    failure: dict[str, Any],
) -> None:
    import asyncio

    import httpx

    answers = [httpx.Response(**failure), httpx.Response(200, json=docs.BALANCE)]
    waits: list[float] = []

    async def record_sleep(seconds: float) -> None:
        waits.append(seconds)

    async def get_balance() -> float:
        async with FullSmsAsyncHook(retry_policy=FAST) as hook:
            hook._client = httpx.AsyncClient(
                base_url=FAKE_URL, transport=httpx.MockTransport(lambda request: answers.pop(0))
            )
            monkeypatch.setattr(asyncio, "sleep", record_sleep)
            return await hook.get_balance()

    assert asyncio.run(get_balance()) == 100.0
    assert answers == []
    assert len(waits) == 1
    assert "FullSMS GET account/balance failed" in caplog.text + "".join(capsys.readouterr())


@pytest.mark.parametrize("status", [500, 502, 504, 520, 524])
def test_an_ambiguous_5xx_on_a_send_is_outcome_unknown(
    hook: FullSmsHook, requests_mock: Any, sleeps: list[float], status: int
) -> None:
    requests_mock.post(f"{FAKE_URL}/messages/send/to_numbers", status_code=status, text="<html>oops</html>")
    with pytest.raises(exc.FullSmsOutcomeUnknownError) as raised:
        hook.send_to_numbers(["972541111111"], message="hi")
    assert raised.value.http_status == status
    assert requests_mock.call_count == 1


@pytest.mark.parametrize(
    "failure",
    [
        requests.ReadTimeout("read timed out"),
        requests.ConnectionError("('Connection aborted.', RemoteDisconnected('closed'))"),
        requests.exceptions.ChunkedEncodingError("Connection broken"),
    ],
    ids=["read-timeout", "dropped", "truncated"],
)
def test_send_is_not_retried_when_the_outcome_is_unknown(
    hook: FullSmsHook, requests_mock: Any, sleeps: list[float], failure: Exception
) -> None:
    requests_mock.post(f"{FAKE_URL}/messages/send/to_numbers", exc=failure)
    with pytest.raises(exc.FullSmsOutcomeUnknownError, match="POST messages/send/to_numbers") as raised:
        hook.send_to_numbers(["972541111111"], message="hi")
    assert "not sent again" in str(raised.value)
    assert requests_mock.call_count == 1
    assert sleeps == []


def test_send_is_retried_when_the_connection_was_refused(
    hook: FullSmsHook, requests_mock: Any, sleeps: list[float]
) -> None:
    refused = requests.ConnectionError(
        MaxRetryError(None, "/messages/send/to_numbers", NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]
    )
    requests_mock.post(
        f"{FAKE_URL}/messages/send/to_numbers", [{"exc": refused}, {"json": docs.SEND_TO_NUMBERS}]
    )
    assert hook.send_to_numbers(["972541111111"], message="hi").total_sent == 2
    assert requests_mock.call_count == 2


def test_send_is_retried_on_connect_timeout(
    hook: FullSmsHook, requests_mock: Any, sleeps: list[float]
) -> None:
    requests_mock.post(
        f"{FAKE_URL}/messages/send/to_numbers",
        [{"exc": requests.ConnectTimeout("connect")}, {"json": docs.SEND_TO_NUMBERS}],
    )
    assert hook.send_to_numbers(["972541111111"], message="hi").status == "approved"


def test_otp_business_429_is_not_retried(hook: FullSmsHook, requests_mock: Any, sleeps: list[float]) -> None:
    requests_mock.post(
        f"{FAKE_URL}/otp/create", status_code=429, headers={"Retry-After": "1"}, json=docs.OTP_EXISTS
    )
    with pytest.raises(exc.FullSmsOtpAlreadyActiveError):
        hook.create_otp("442222222222")
    assert requests_mock.call_count == 1


def test_refused_connection_on_loopback_is_retried_then_reported(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    """A real closed port: nothing listens, so every attempt is refused and retrying is safe."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    from tests.conftest import connection_json

    monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(f"http://127.0.0.1:{port}"))
    hook = FullSmsHook(retry_policy=FAST)
    with pytest.raises(exc.FullSmsConnectionError, match="Could not reach FullSMS"):
        hook.send_to_numbers(["972541111111"], message="hi", sender="COPERATO")
    assert len(sleeps) == FAST.max_attempts - 1


# -- input checks before any request ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"numbers": []}, "to_numbers is empty"),
        ({"numbers": ["1"] * 501}, "at most 500"),
        ({"message": None}, "exactly one of message= and template_id= \\(got neither\\)"),
        ({"template_id": 7}, "got both"),
        ({"message": "x" * 613}, "612"),
        ({"send_at": "tomorrow"}, "send_at='tomorrow' is not a date"),
        ({"send_at": pendulum.naive(2030, 1, 1)}, "has no timezone"),
        ({"send_at": "2030-02-30 10:00:00"}, "is not a date"),
    ],
)
def test_bad_send_input_fails_before_any_request(
    hook: FullSmsHook, requests_mock: Any, kwargs: dict[str, Any], match: str
) -> None:
    call: dict[str, Any] = {"numbers": ["972541111111"], "message": "hi", **kwargs}
    with pytest.raises(exc.FullSmsConfigurationError, match=match):
        hook.send_to_numbers(call.pop("numbers"), **call)
    assert requests_mock.call_count == 0


def test_no_sender_anywhere_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, requests_mock: Any) -> None:
    from tests.conftest import connection_json

    monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(FAKE_URL))
    with pytest.raises(exc.FullSmsConfigurationError, match="No sender: pass sender="):
        FullSmsHook().send_to_numbers(["972541111111"], message="hi")
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    ("value", "timezone", "expected"),
    [
        (pendulum.datetime(2030, 1, 1, 8, 51, 7, tz="UTC"), "UTC", "2030-01-01 08:51:07"),
        (pendulum.datetime(2030, 7, 1, 12, 0, 0, tz="UTC"), "Europe/London", "2030-07-01 13:00:00"),
        ("2030-01-01T10:00:00+02:00", "UTC", "2030-01-01 08:00:00"),
        ("2030-01-01 08:51:07", "Asia/Jerusalem", "2030-01-01 08:51:07"),
        (None, "UTC", None),
    ],
)
def test_send_at_is_sent_in_the_connection_timezone(value: Any, timezone: str, expected: str | None) -> None:
    assert format_send_at(value, pendulum.timezone(timezone)) == expected


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"max_concurrency": 33}, "extra max_concurrency=33: use a whole number from 1 to 32"),
        ({"timeout": "soon"}, "'timeout' must be a positive number of seconds, got 'soon'"),
        ({"connect_timeout": 0}, "'connect_timeout' must be a positive number of seconds, got 0"),
    ],
)
def test_bad_connection_extras_are_refused_with_their_value(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], match: str
) -> None:
    from tests.conftest import connection_json

    monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(FAKE_URL, **extra))
    with pytest.raises(exc.FullSmsConfigurationError, match=match):
        FullSmsHook().config  # noqa: B018


def test_unknown_timezone_extra_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import connection_json

    monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(FAKE_URL, timezone="Mars/Olympus"))
    with pytest.raises(exc.FullSmsConfigurationError, match="Unknown timezone 'Mars/Olympus'"):
        FullSmsHook().config  # noqa: B018


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("", "https://api.fullsms.com"),
        ("http://127.0.0.1:8025/", "http://127.0.0.1:8025"),
        ("api.example.com", "https://api.example.com"),
    ],
)
def test_base_url_from_host(monkeypatch: pytest.MonkeyPatch, host: str, expected: str) -> None:
    from tests.conftest import connection_json

    monkeypatch.setenv("AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(host))
    assert FullSmsHook().config.base_url == expected


# -- test_connection and secrets ---------------------------------------------------------------------


def test_test_connection_reports_the_balance(hook: FullSmsHook, requests_mock: Any) -> None:
    requests_mock.get(f"{FAKE_URL}/account/balance", json=docs.BALANCE)
    assert hook.test_connection() == (True, f"Connected to FullSMS at {FAKE_URL}: balance is 100.")


def test_test_connection_reports_a_bad_token(hook: FullSmsHook, requests_mock: Any) -> None:
    requests_mock.get(f"{FAKE_URL}/account/balance", status_code=403, json=docs.UNAUTHENTICATED)
    ok, reason = hook.test_connection()
    assert not ok
    assert "Unauthenticated - Missing/Invalid API key" in reason
    assert SECRET_TOKEN not in reason


def test_test_connection_retries_once_without_touching_the_hooks_policy(
    hook: FullSmsHook, requests_mock: Any, sleeps: list[float]
) -> None:
    requests_mock.get(f"{FAKE_URL}/account/balance", status_code=503, text="")
    ok, reason = hook.test_connection()
    assert not ok
    assert "503" in reason
    assert requests_mock.call_count == 2, "the UI's Test button gets one quick retry, not the task's five"
    assert hook.retry_policy is FAST


def test_token_never_appears_in_repr_errors_or_logs(
    hook: FullSmsHook,
    requests_mock: Any,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    requests_mock.get(f"{FAKE_URL}/account/balance", json=docs.BALANCE)
    requests_mock.post(f"{FAKE_URL}/messages/send/to_numbers", exc=requests.ReadTimeout("slow"))
    requests_mock.post(f"{FAKE_URL}/messages/send/to_lists", status_code=403, json=docs.UNAUTHENTICATED)
    requests_mock.post(
        f"{FAKE_URL}/otp/create",
        [
            {"status_code": 429, "headers": {"Retry-After": "0"}, "json": {"message": "slow down"}},
            {"json": docs.OTP_CREATE},
        ],
    )
    seen: list[str] = [repr(hook), repr(hook.config), str(hook.get_balance()), repr(hook.create_otp("4422"))]
    for call in (TO_NUMBERS, TO_LISTS):
        with pytest.raises(exc.FullSmsError) as raised:
            call(hook)
        seen += [str(raised.value), repr(raised.value)]
    logged = caplog.text + "".join(capsys.readouterr())
    assert "slow down" in logged, "the retry was logged"
    seen.append(logged)
    for text in seen:
        assert SECRET_TOKEN not in text
        assert "tok-SECRET" not in text
