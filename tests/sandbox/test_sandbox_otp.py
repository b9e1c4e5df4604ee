"""The OTP life cycle: create, the one-per-number rule, the cap, verify, three strikes, cancel, search."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.testing import SandboxClient
    from tests.sandbox.conftest import Api

WRONG_TOO_OFTEN = {"message": "Wrong code too many times", "status-code": 429}
NOT_ACTIVE = {"message": "OTP is not active", "status_code": 422}
INVALID_CODE = {
    "message": "422 Unprocessable Content",
    "errors": {"code": ["This code is invalid."]},
    "code": 422,
    "status_code": 422,
}


def create(api: Api, to: str = "442222222222", **extra: Any) -> str:
    response = api.post("otp/create", {"to_number": to, "from": "441111111111", **extra})
    assert response.status_code == 200, response.text
    return str(response.json()["otp_id"])


def code_of(sbx: SandboxClient, to: str = "442222222222") -> int:
    text = sbx.messages(to=to)[-1]["text"]
    match = re.search(r"code: (\d{6})$", text)
    assert match, text
    return int(match.group(1))


def search(api: Api, otp_id: str) -> dict[str, Any]:
    response = api.get(f"otp/search?otp_id={otp_id}")
    assert response.status_code == 200
    return dict(response.json())


def test_create_sends_a_six_digit_code_and_charges_one_segment(api: Api, sbx: SandboxClient) -> None:
    otp_id = create(api)

    [message] = sbx.messages(to="442222222222")
    assert re.fullmatch(r"Your code: \d{6}", message["text"])
    assert message["otp_id"] == otp_id
    assert message["campaign_id"] is None
    assert sbx.balance() == pytest.approx(99.95)
    assert search(api, otp_id)["status"] == "in_progress"


def test_right_code_approves_and_the_otp_is_no_longer_active(api: Api, sbx: SandboxClient) -> None:
    otp_id = create(api, brand="Acme")
    code = code_of(sbx)

    response = api.post("otp/verify", {"otp_id": otp_id, "code": code})

    assert (response.status_code, response.json()) == (200, {"status": "approved"})
    again = api.post("otp/verify", {"otp_id": otp_id, "code": code})
    assert (again.status_code, again.json()) == (422, NOT_ACTIVE)
    found = search(api, otp_id)
    assert found["status"] == "approved"
    assert found["brand"] == "Acme"
    assert found["sender_value"] == "441111111111"
    assert found["destination"] == "442222222222"
    assert [(c["code"], c["status"]) for c in found["checks"]] == [(code, "valid")]
    assert found["last_check_at"] == found["checks"][0]["date"]


def test_code_may_be_sent_as_a_string_of_digits(api: Api, sbx: SandboxClient) -> None:
    otp_id = create(api)

    response = api.post("otp/verify", {"otp_id": otp_id, "code": str(code_of(sbx))})

    assert response.json() == {"status": "approved"}


def test_third_wrong_code_fails_the_otp(api: Api, sbx: SandboxClient) -> None:
    otp_id = create(api)
    wrong = 100000 if code_of(sbx) != 100000 else 100001

    first = api.post("otp/verify", {"otp_id": otp_id, "code": wrong})
    second = api.post("otp/verify", {"otp_id": otp_id, "code": wrong})
    third = api.post("otp/verify", {"otp_id": otp_id, "code": wrong})
    right = api.post("otp/verify", {"otp_id": otp_id, "code": code_of(sbx)})

    assert [(r.status_code, r.json()) for r in (first, second)] == [(422, INVALID_CODE)] * 2
    assert (third.status_code, third.json()) == (429, WRONG_TOO_OFTEN)
    assert (right.status_code, right.json()) == (422, NOT_ACTIVE)
    found = search(api, otp_id)
    assert found["status"] == "failed"
    assert [c["status"] for c in found["checks"]] == ["invalid"] * 3


def test_two_wrong_codes_then_the_right_one_approves(api: Api, sbx: SandboxClient) -> None:
    otp_id = create(api)
    code = code_of(sbx)
    wrong = 100000 if code != 100000 else 100001

    for _ in range(2):
        api.post("otp/verify", {"otp_id": otp_id, "code": wrong})
    response = api.post("otp/verify", {"otp_id": otp_id, "code": code})

    assert response.json() == {"status": "approved"}


def test_a_second_otp_to_the_same_number_within_30_seconds_is_refused(api: Api, sbx: SandboxClient) -> None:
    create(api)

    response = api.post("otp/create", {"to_number": "442222222222", "from": "441111111111"})

    assert response.status_code == 429
    assert response.json() == {
        "message": "Two active requests to the same number are not allowed. You may try again when "
        "30 seconds has passed from the first OTP verification was created",
        "code": 429,
        "status_code": 429,
    }
    assert len(sbx.messages(to="442222222222")) == 1
    assert sbx.balance() == pytest.approx(99.95)


def test_a_new_otp_is_allowed_once_the_first_is_no_longer_active(api: Api, sbx: SandboxClient) -> None:
    first = create(api)
    api.post("otp/cancel", {"otp_id": first})

    second = create(api)

    assert second != first
    assert search(api, first)["status"] == "canceled"


def test_concurrent_active_otps_are_capped(api: Api, sbx: SandboxClient) -> None:
    # The default seed holds the reference's example OTP, active, so 9 more reach the cap of 10.
    for n in range(9):
        create(api, to=f"4477009100{n:02d}")

    response = api.post("otp/create", {"to_number": "447700919999", "from": "441111111111"})

    assert response.status_code == 429
    assert response.json() == {
        "message": "You can create up-to  10 concurrent active OTP_IDs",
        "code": 429,
        "status_code": 429,
    }
    api.post("otp/cancel", {"otp_id": "6a68fb58-9f58-450e-bf06-d5008977116a"})
    assert api.post("otp/create", {"to_number": "447700919999", "from": "441111111111"}).status_code == 200


def test_cancel_makes_the_otp_inactive(api: Api, sbx: SandboxClient) -> None:
    otp_id = create(api)

    response = api.post("otp/cancel", {"otp_id": otp_id})

    assert (response.status_code, response.json()) == (200, ["ok"])
    verify = api.post("otp/verify", {"otp_id": otp_id, "code": code_of(sbx)})
    assert (verify.status_code, verify.json()) == (422, NOT_ACTIVE)
    again = api.post("otp/cancel", {"otp_id": otp_id})
    assert (again.status_code, again.json()) == (422, NOT_ACTIVE)


def test_search_without_otp_id_is_a_field_error(api: Api) -> None:
    response = api.get("otp/search")

    assert response.status_code == 422
    assert response.json()["errors"] == {"otp_id": ["This otp_id is invalid."]}


def test_otp_from_an_approved_sender_id(api: Api, sbx: SandboxClient) -> None:
    response = api.post("otp/create", {"to_number": "442222222222", "from": "COPERATO"})

    assert response.status_code == 200
    assert sbx.messages()[0]["from"] == "COPERATO"
