"""The sandbox's answers, in the exact shapes FullSMS documents (odd keys and double spaces included).

Every refusal is built here, so the vendor API, the ``/_sandbox/`` API and the fault middleware
cannot drift apart in how they answer.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi.responses import Response

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.seed import Account

UNPROCESSABLE = "422 Unprocessable Content"

UNAUTHENTICATED = {"status_code": 403, "message": "Unauthenticated - Missing/Invalid API key"}
ACCESS_DENIED = {"status_code": 403, "message": "Access Denied"}
NUMBER_INVALID = {"status_code": 403, "message": "Number invalid, inactive or unknown"}
SENDER_NOT_APPROVED = {"status_code": 403, "message": "Sender ID is not approved"}
SHORTLINKS_REFUSED = {
    "status_code": 403,
    "message": "Shortlinks are not allowed in your account. You may use templates without shortlinks.",
}
TEMPLATE_NOT_FOUND = {"status_code": 404, "status": "declined", "message": "Template not found or not valid"}
OTP_NOT_FOUND = {"status_code": 404, "status": "declined", "message": "OTP_ID does not exist"}
OTP_NOT_ACTIVE = {"message": "OTP is not active", "status_code": 422}
OTP_WRONG_TOO_OFTEN = {"message": "Wrong code too many times", "status-code": 429}
OTP_EXISTS = {
    "message": "Two active requests to the same number are not allowed. You may try again when 30 seconds "
    "has passed from the first OTP verification was created",
    "code": 429,
    "status_code": 429,
}
TOO_MANY_REQUESTS = {"status_code": 429, "message": "Too Many Requests"}
INTERNAL_ERROR = {"status_code": 500, "message": "Internal Error"}
SERVICE_UNAVAILABLE = {"status_code": 503, "message": "Service Unavailable"}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON response without FastAPI's encoder (the send path answers hundreds of times a second).

    :param status: the HTTP status.
    :param body: anything :func:`json.dumps` takes.
    :param headers: extra response headers.
    """
    return Response(
        json.dumps(body, separators=(",", ":")).encode(), status, headers, media_type="application/json"
    )


def field_errors(errors: dict[str, list[str]], *, otp: bool = False, status: int = 422) -> Response:
    """The documented 422 body (or 413 for a body too large).

    :param errors: messages per field.
    :param otp: OTP endpoints document an extra ``"code"`` key.
    :param status: 422, or 413 for a body too large.
    """
    body: dict[str, Any] = {"message": UNPROCESSABLE if status == 422 else f"{status} Content Too Large"}
    body["errors"] = errors
    if otp:
        body["code"] = status
    body["status_code"] = status
    return json_response(status, body)


def balance_low(account: Account) -> Response:
    """The refusal of a send or OTP the account's balance cannot pay for.

    :param account: the account, whose minimum balance the message names.
    """
    return json_response(
        422,
        {
            "status_code": 422,
            "status": "declined",
            "reason": "balance_low",
            "message": f"Balance must be over ${account.minimum_balance:.2f} to create or schedule new "
            "campaigns or messages",
        },
    )


def otp_limit(maximum: int) -> Response:
    """The refusal of an OTP over the account's cap of active OTPs.

    :param maximum: the cap.
    """
    # The double space is in the vendor's documented message.
    return json_response(
        429,
        {
            "message": f"You can create up-to  {maximum} concurrent active OTP_IDs",
            "code": 429,
            "status_code": 429,
        },
    )


class Refusal(Exception):
    """A documented refusal, raised where it is found and answered as it is by the app.

    :param response: the answer.
    """

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response
