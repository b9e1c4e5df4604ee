"""Every example response of the FullSMS reference, produced by the sandbox (status and body).

The example requests are the reference's own, sent with only the host and token changed.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from tests.sandbox.conftest import NO_RIGHTS_TOKEN

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.testing import SandboxClient
    from tests.sandbox.conftest import Api

UNAUTHENTICATED = {"status_code": 403, "message": "Unauthenticated - Missing/Invalid API key"}
ACCESS_DENIED = {"status_code": 403, "message": "Access Denied"}
FROM_INVALID_NUMBER = {"status_code": 403, "message": "Number invalid, inactive or unknown"}
SENDER_NOT_APPROVED = {"status_code": 403, "message": "Sender ID is not approved"}
TEMPLATE_NOT_FOUND = {"status_code": 404, "status": "declined", "message": "Template not found or not valid"}
OTP_NOT_FOUND = {"status_code": 404, "status": "declined", "message": "OTP_ID does not exist"}
OTP_NOT_ACTIVE = {"message": "OTP is not active", "status_code": 422}
MESSAGE_NOT_STRING = {
    "message": "422 Unprocessable Content",
    "errors": {"message": ["The message must be a string."]},
    "status_code": 422,
}
BALANCE_LOW = {
    "status_code": 422,
    "status": "declined",
    "reason": "balance_low",
    "message": "Balance must be over $1.00 to create or schedule new campaigns or messages",
}
SHORTLINKS = {
    "status_code": 403,
    "message": "Shortlinks are not allowed in your account. You may use templates without shortlinks.",
}

# The reference's example request bodies.
TO_LISTS_EXAMPLE = {
    "to_list_ids": [7],
    "message": "Your Message",
    "from": "441111111111",
    "send_at": "2025-01-01 08:51:07",
}
TO_NUMBERS_EXAMPLE = {
    "to_numbers": ["972541111111", "972542222222"],
    "from": "COPERATO",
    "template_id": "42",
    "send_at": "2025-01-01 08:51:07",
}
OTP_CREATE_EXAMPLE = {"to_number": "442222222222", "brand": "Your Brand", "from": "441111111111"}
EXAMPLE_OTP_ID = "6a68fb58-9f58-450e-bf06-d5008977116a"
OTP_VERIFY_EXAMPLE = {"otp_id": EXAMPLE_OTP_ID, "code": 626262}

ENDPOINTS = [
    ("GET", "account/balance", None),
    ("GET", "account/numbers", None),
    ("GET", "account/lists", None),
    ("GET", "account/senderids", None),
    ("GET", "account/templates", None),
    ("POST", "messages/send/to_lists", TO_LISTS_EXAMPLE),
    ("POST", "messages/send/to_numbers", TO_NUMBERS_EXAMPLE),
    ("POST", "otp/create", OTP_CREATE_EXAMPLE),
    ("POST", "otp/verify", OTP_VERIFY_EXAMPLE),
    ("POST", "otp/cancel", {"otp_id": EXAMPLE_OTP_ID}),
    ("GET", f"otp/search?otp_id={EXAMPLE_OTP_ID}", None),
]


def assert_uuid(value: Any) -> None:
    assert isinstance(value, str)
    assert str(uuid.UUID(value)) == value


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("account/balance", {"balance": 100}),
        ("account/numbers", {"total_numbers": 1, "numbers": [{"number": "441111111111", "country": "GB"}]}),
        ("account/senderids", {"total_senderids": 1, "senderids": ["COPERATO"]}),
        (
            "account/lists",
            {
                "total_lists": 2,
                "lists": [
                    {"list_id": 7, "name": "yourlistName", "subscribe_word": None, "subscribed_contacts": 3},
                    {"list_id": 8, "name": "staff", "subscribe_word": "STAFF", "subscribed_contacts": 2},
                ],
            },
        ),
        (
            "account/templates",
            {
                "total_templates": 2,
                "templates": [
                    {"template_id": 7, "name": "yourTemplateName", "content": "Hello World"},
                    {
                        "template_id": 42,
                        "name": "reminder",
                        "content": "Reminder: your appointment is tomorrow.",
                    },
                ],
            },
        ),
    ],
)
def test_account_endpoints_answer_like_the_reference(api: Api, path: str, expected: dict[str, Any]) -> None:
    response = api.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=[e[1].split("?")[0] for e in ENDPOINTS])
@pytest.mark.parametrize("token", ["", "wrong-token"], ids=["missing-token", "wrong-token"])
def test_every_endpoint_refuses_a_missing_or_wrong_token(
    api: Api, sbx: SandboxClient, method: str, path: str, body: Any, token: str
) -> None:
    response = api.request(method, path, json=body, token=token)

    assert (response.status_code, response.json()) == (403, UNAUTHENTICATED)
    assert sbx.messages() == []


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=[e[1].split("?")[0] for e in ENDPOINTS])
def test_every_endpoint_denies_a_token_without_rights(
    api: Api, sbx: SandboxClient, method: str, path: str, body: Any
) -> None:
    response = api.request(method, path, json=body, token=NO_RIGHTS_TOKEN)

    assert (response.status_code, response.json()) == (403, ACCESS_DENIED)
    assert sbx.messages() == []


def test_send_to_lists_example_is_approved_and_reaches_the_subscribed_contacts(
    api: Api, sbx: SandboxClient
) -> None:
    response = api.post("messages/send/to_lists", TO_LISTS_EXAMPLE)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "campaign_id"}
    assert body["status"] == "approved"
    assert_uuid(body["campaign_id"])
    received = sbx.messages(campaign_id=body["campaign_id"])
    assert [m["to"] for m in received] == ["447700900001", "447700900002", "447700900003"]
    assert {(m["from"], m["text"], m["status"]) for m in received} == {
        ("441111111111", "Your Message", "delivered")
    }


def test_send_to_lists_sends_once_to_a_contact_on_two_lists(api: Api, sbx: SandboxClient) -> None:
    response = api.post(
        "messages/send/to_lists", {"to_list_ids": [7, 8], "message": "Hi", "from": "COPERATO"}
    )

    assert response.status_code == 200
    assert [m["to"] for m in sbx.messages()] == [
        "447700900001",
        "447700900002",
        "447700900003",
        "972541111111",
    ]


def test_send_to_numbers_example_is_approved_with_the_template_text(api: Api, sbx: SandboxClient) -> None:
    response = api.post("messages/send/to_numbers", TO_NUMBERS_EXAMPLE)

    assert response.status_code == 200
    body = response.json()
    assert_uuid(body.pop("campaign_id"))
    assert body == {"status": "approved", "total_sent": 2, "invalid": {"count": 0, "numbers": []}}
    assert [(m["to"], m["from"], m["text"]) for m in sbx.messages()] == [
        ("972541111111", "COPERATO", "Reminder: your appointment is tomorrow."),
        ("972542222222", "COPERATO", "Reminder: your appointment is tomorrow."),
    ]


def test_send_to_numbers_reports_invalid_numbers_and_sends_to_the_rest(api: Api, sbx: SandboxClient) -> None:
    body = {
        "to_numbers": ["972541111111", "0541111111", "+972542222222", 972543333333],
        "message": "Hi",
        "from": "COPERATO",
    }

    response = api.post("messages/send/to_numbers", body)

    assert response.status_code == 200
    assert response.json()["total_sent"] == 1
    assert response.json()["invalid"] == {
        "count": 3,
        "numbers": ["0541111111", "+972542222222", 972543333333],
    }
    assert [m["to"] for m in sbx.messages()] == ["972541111111"]
    assert sbx.balance() == pytest.approx(99.95)


@pytest.mark.parametrize("path", ["messages/send/to_lists", "messages/send/to_numbers", "otp/create"])
@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("449999999999", FROM_INVALID_NUMBER),
        ("+449999999999", FROM_INVALID_NUMBER),
        ("", FROM_INVALID_NUMBER),
        (None, FROM_INVALID_NUMBER),
        ("NOTMINE", SENDER_NOT_APPROVED),
        ("coperato", SENDER_NOT_APPROVED),
    ],
)
def test_from_must_be_an_owned_number_or_an_approved_sender_id(
    api: Api, sbx: SandboxClient, path: str, sender: str | None, expected: dict[str, Any]
) -> None:
    body = {"to_list_ids": [7], "to_numbers": ["972541111111"], "to_number": "972541111111", "message": "Hi"}
    if sender is not None:
        body["from"] = sender

    response = api.post(path, body)

    assert (response.status_code, response.json()) == (403, expected)
    assert sbx.messages() == []


@pytest.mark.parametrize(
    ("path", "targets"),
    [
        ("messages/send/to_lists", {"to_list_ids": [7]}),
        ("messages/send/to_numbers", {"to_numbers": ["972541111111"]}),
    ],
)
@pytest.mark.parametrize("template_id", ["999", 999, "abc"])
def test_unknown_template_is_not_found(
    api: Api, sbx: SandboxClient, path: str, targets: dict[str, Any], template_id: Any
) -> None:
    response = api.post(path, {**targets, "from": "COPERATO", "template_id": template_id})

    assert (response.status_code, response.json()) == (404, TEMPLATE_NOT_FOUND)
    assert sbx.messages() == []


@pytest.mark.parametrize("template_id", ["7", 7])
def test_template_id_as_string_or_integer_sends_the_template(
    api: Api, sbx: SandboxClient, template_id: Any
) -> None:
    response = api.post(
        "messages/send/to_numbers",
        {"to_numbers": ["972541111111"], "from": "COPERATO", "template_id": template_id},
    )

    assert response.status_code == 200
    assert [m["text"] for m in sbx.messages()] == ["Hello World"]


def test_unknown_list_is_reported_per_index(api: Api, sbx: SandboxClient) -> None:
    response = api.post("messages/send/to_lists", {"to_list_ids": [99], "message": "Hi", "from": "COPERATO"})

    assert response.status_code == 422
    assert response.json() == {
        "message": "422 Unprocessable Content",
        "errors": {"to_list_ids.0": ["List with this id could not be found"]},
        "status_code": 422,
    }

    response = api.post(
        "messages/send/to_lists", {"to_list_ids": [7, 99, 8, 98], "message": "Hi", "from": "COPERATO"}
    )

    assert set(response.json()["errors"]) == {"to_list_ids.1", "to_list_ids.3"}
    assert sbx.messages() == []


@pytest.mark.parametrize(
    ("path", "targets"),
    [
        ("messages/send/to_lists", {"to_list_ids": [7]}),
        ("messages/send/to_numbers", {"to_numbers": ["972541111111"]}),
    ],
)
@pytest.mark.parametrize("message", [42, ["Hi"], {"text": "Hi"}, True])
def test_message_must_be_a_string(api: Api, path: str, targets: dict[str, Any], message: Any) -> None:
    response = api.post(path, {**targets, "from": "COPERATO", "message": message})

    assert (response.status_code, response.json()) == (422, MESSAGE_NOT_STRING)


def test_all_invalid_numbers_are_reported_per_index(api: Api, sbx: SandboxClient) -> None:
    response = api.post(
        "messages/send/to_numbers", {"to_numbers": ["0541111111", "12"], "message": "Hi", "from": "COPERATO"}
    )

    assert response.status_code == 422
    assert response.json() == {
        "message": "422 Unprocessable Content",
        "errors": {
            "to_numbers.0": ["Given number is invalid or could not receive messages"],
            "to_numbers.1": ["Given number is invalid or could not receive messages"],
        },
        "status_code": 422,
    }
    assert sbx.messages() == []


@pytest.mark.parametrize(
    ("path", "targets"),
    [
        ("messages/send/to_lists", {"to_list_ids": [7]}),
        ("messages/send/to_numbers", {"to_numbers": ["972541111111"]}),
        ("otp/create", {"to_number": "972541111111"}),
    ],
)
def test_low_balance_is_declined_with_the_real_minimum(
    api: Api, sbx: SandboxClient, path: str, targets: dict[str, Any]
) -> None:
    sbx.set_balance(0.99)

    response = api.post(path, {**targets, "from": "COPERATO", "message": "Hi"})

    assert (response.status_code, response.json()) == (422, BALANCE_LOW)
    assert sbx.messages() == []
    assert sbx.balance() == pytest.approx(0.99)


@pytest.mark.parametrize(
    "message", ["See https://example.com", "see http://x.io/a", "Visit www.example.com now"]
)
def test_shortlinks_are_refused_when_the_account_disallows_them(
    api: Api, sbx: SandboxClient, message: str
) -> None:
    response = api.post(
        "messages/send/to_numbers", {"to_numbers": ["972541111111"], "from": "COPERATO", "message": message}
    )

    assert (response.status_code, response.json()) == (403, SHORTLINKS)
    assert sbx.messages() == []


def test_otp_create_example_is_approved_and_the_code_arrives(api: Api, sbx: SandboxClient) -> None:
    response = api.post("otp/create", OTP_CREATE_EXAMPLE)

    assert response.status_code == 200
    body = response.json()
    assert_uuid(body.pop("otp_id"))
    assert body == {"status": "approved", "otp_status": "in_progress"}
    [message] = sbx.messages(to="442222222222")
    assert re.fullmatch(r"Your Brand code: \d{6}", message["text"])
    assert message["from"] == "441111111111"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"brand": "B", "from": "441111111111"}, "to_number"),
        ({"to_number": "0541111111", "from": "441111111111"}, "to_number"),
        ({"to_number": 442222222222, "from": "441111111111"}, "to_number"),
        ({"to_number": "442222222222", "brand": "B" * 51, "from": "441111111111"}, "brand"),
        ({"to_number": "442222222222", "brand": "Ωμέγα-שלום-13", "from": "441111111111"}, "brand"),
        ({"to_number": "442222222222", "brand": 5, "from": "441111111111"}, "brand"),
        ({"to_number": "442222222222", "from": 441111111111}, "from"),
    ],
)
def test_otp_create_field_errors_have_the_documented_shape(
    api: Api, body: dict[str, Any], field: str
) -> None:
    response = api.post("otp/create", body)

    assert response.status_code == 422
    assert response.json() == {
        "message": "422 Unprocessable Content",
        "errors": {field: [f"This {field} is invalid."]},
        "code": 422,
        "status_code": 422,
    }


@pytest.mark.parametrize("brand", ["B" * 50, "שלום עולם 12"[:12]])
def test_otp_brand_at_the_limit_is_accepted(api: Api, brand: str) -> None:
    response = api.post("otp/create", {"to_number": "442222222222", "brand": brand, "from": "441111111111"})

    assert response.status_code == 200


def test_otp_verify_example_approves_the_seeded_otp(api: Api) -> None:
    response = api.post("otp/verify", OTP_VERIFY_EXAMPLE)

    assert (response.status_code, response.json()) == (200, {"status": "approved"})


def test_otp_cancel_example_answers_ok(api: Api) -> None:
    response = api.post("otp/cancel", {"otp_id": EXAMPLE_OTP_ID})

    assert (response.status_code, response.json()) == (200, ["ok"])


def test_otp_search_example_has_the_documented_shape(api: Api) -> None:
    api.post("otp/verify", {"otp_id": EXAMPLE_OTP_ID, "code": 686281})
    api.post("otp/verify", OTP_VERIFY_EXAMPLE)

    response = api.get(f"otp/search?otp_id={EXAMPLE_OTP_ID}")

    assert response.status_code == 200
    body = response.json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", body.pop("last_check_at"))
    dates = [check.pop("date") for check in body["checks"]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", date) for date in dates)
    assert body == {
        "uuid": EXAMPLE_OTP_ID,
        "status": "approved",
        "destination": "972546461393",
        "sender_value": "OTP",
        "brand": "",
        "created at": "2023-06-05 13:02:56",
        "checks": [{"code": 686281, "status": "invalid"}, {"code": 626262, "status": "valid"}],
    }


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "otp/verify", {"otp_id": "35efec9e-b736-4aab-b6d7-52d9fc288984", "code": 123456}),
        ("POST", "otp/cancel", {"otp_id": "35efec9e-b736-4aab-b6d7-52d9fc288984"}),
        ("GET", "otp/search?otp_id=35efec9e-b736-4aab-b6d7-52d9fc288984", None),
    ],
)
def test_unknown_otp_id_does_not_exist(api: Api, method: str, path: str, body: Any) -> None:
    response = api.request(method, path, json=body)

    assert (response.status_code, response.json()) == (404, OTP_NOT_FOUND)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": 123456}, "otp_id"),
        ({"otp_id": EXAMPLE_OTP_ID}, "code"),
        ({"otp_id": EXAMPLE_OTP_ID, "code": "12ab"}, "code"),
        ({"otp_id": EXAMPLE_OTP_ID, "code": "--5"}, "code"),
        ({"otp_id": EXAMPLE_OTP_ID, "code": 6.5}, "code"),
    ],
)
def test_otp_verify_field_errors_have_the_documented_shape(
    api: Api, body: dict[str, Any], field: str
) -> None:
    response = api.post("otp/verify", body)

    assert response.status_code == 422
    assert response.json() == {
        "message": "422 Unprocessable Content",
        "errors": {field: [f"This {field} is invalid."]},
        "code": 422,
        "status_code": 422,
    }


def test_wrong_code_is_invalid(api: Api) -> None:
    response = api.post("otp/verify", {"otp_id": EXAMPLE_OTP_ID, "code": 111111})

    assert response.status_code == 422
    assert response.json() == {
        "message": "422 Unprocessable Content",
        "errors": {"code": ["This code is invalid."]},
        "code": 422,
        "status_code": 422,
    }


@pytest.mark.parametrize("path", ["otp/verify", "otp/cancel"])
def test_verify_or_cancel_after_approval_is_not_active(api: Api, path: str) -> None:
    api.post("otp/verify", OTP_VERIFY_EXAMPLE)

    response = api.post(path, OTP_VERIFY_EXAMPLE)

    assert (response.status_code, response.json()) == (422, OTP_NOT_ACTIVE)


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=[e[1].split("?")[0] for e in ENDPOINTS])
def test_server_error_body_is_the_documented_one(
    api: Api, sbx: SandboxClient, method: str, path: str, body: Any
) -> None:
    sbx.inject_fault("error", status=500)

    response = api.request(method, path, json=body)

    assert (response.status_code, response.json()) == (500, {"status_code": 500, "message": "Internal Error"})
