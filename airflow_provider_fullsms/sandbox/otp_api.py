"""The vendor's ``/otp/*`` endpoints: create, verify, cancel and search one-time passwords.

OTP endpoints answer field errors with an extra ``"code"`` key (``otp=True`` below), as documented.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response  # noqa: TC002 (FastAPI reads endpoint annotations at runtime)
from pydantic import BaseModel, Field

from airflow_provider_fullsms.sandbox.bodies import as_int, body_schema, read_json
from airflow_provider_fullsms.sandbox.dependencies import SECURED, Sandbox, VendorAccount
from airflow_provider_fullsms.sandbox.records import OtpStatus
from airflow_provider_fullsms.sandbox.responses import (
    OTP_EXISTS,
    OTP_NOT_ACTIVE,
    OTP_NOT_FOUND,
    OTP_WRONG_TOO_OFTEN,
    balance_low,
    field_errors,
    json_response,
    otp_limit,
)
from airflow_provider_fullsms.sandbox.send_api import check_sender
from airflow_provider_fullsms.sandbox.state import OtpCheck, OtpCreateResult, OtpGone
from airflow_provider_fullsms.sms import BRAND_LIMITS, NUMBER_PATTERN, analyse_message


class OtpCreateBody(BaseModel):
    to_number: str
    brand: str | None = Field(None, description="At most 50 GSM-7 / 12 UCS-2 characters.")
    from_: str = Field(alias="from")


class OtpVerifyBody(BaseModel):
    otp_id: str
    code: int


class OtpCancelBody(BaseModel):
    otp_id: str


def brand_fits(brand: str) -> bool:
    """Whether an OTP brand is within FullSMS's 50 GSM-7 / 12 UCS-2 limit (an empty brand fits).

    :param brand: the ``brand`` of an OTP create request.
    """
    analysis = analyse_message(brand)
    return analysis.units <= BRAND_LIMITS[analysis.encoding]


def _otp_id(body: dict[str, Any], errors: dict[str, list[str]]) -> str:
    otp_id = body.get("otp_id")
    if not (isinstance(otp_id, str) and otp_id):
        errors["otp_id"] = ["This otp_id is invalid."]
        return ""
    return otp_id


def _gone(reason: OtpGone) -> Response:
    """The answer for an OTP that cannot be verified or canceled."""
    if reason is OtpGone.MISSING:
        return json_response(404, OTP_NOT_FOUND)
    return json_response(422, OTP_NOT_ACTIVE)


router = APIRouter(prefix="/otp", tags=["OTP"], dependencies=SECURED)


@router.post("/create", openapi_extra=body_schema(OtpCreateBody))
async def otp_create(request: Request, account: VendorAccount, state: Sandbox) -> Response:
    body = await read_json(request, otp=True)
    errors: dict[str, list[str]] = {}
    to_number = body.get("to_number")
    if not (isinstance(to_number, str) and NUMBER_PATTERN.fullmatch(to_number)):
        errors["to_number"] = ["This to_number is invalid."]
    brand = body.get("brand")
    if brand is not None and not (isinstance(brand, str) and brand_fits(brand)):
        errors["brand"] = ["This brand is invalid."]
    sender = body.get("from")
    if sender is not None and not isinstance(sender, str):
        errors["from"] = ["This from is invalid."]
    if errors:
        return field_errors(errors, otp=True)
    assert isinstance(to_number, str)
    result, otp = state.create_otp(
        account, to_number=to_number, sender=check_sender(account, sender), brand=brand or ""
    )
    if result is OtpCreateResult.EXISTS:
        return json_response(429, OTP_EXISTS)
    if result is OtpCreateResult.LIMIT:
        return otp_limit(account.otp_max_active)
    if result is OtpCreateResult.BALANCE_LOW:
        return balance_low(account)
    assert otp is not None
    return json_response(
        200, {"status": "approved", "otp_id": otp.otp_id, "otp_status": OtpStatus.IN_PROGRESS}
    )


@router.post("/verify", openapi_extra=body_schema(OtpVerifyBody))
async def otp_verify(request: Request, account: VendorAccount, state: Sandbox) -> Response:
    body = await read_json(request, otp=True)
    errors: dict[str, list[str]] = {}
    otp_id = _otp_id(body, errors)
    code = as_int(body.get("code"))
    if code is None:
        errors["code"] = ["This code is invalid."]
    if errors:
        return field_errors(errors, otp=True)
    assert code is not None
    outcome = state.verify_otp(account, otp_id, code)
    if isinstance(outcome, OtpGone):
        return _gone(outcome)
    if outcome is OtpCheck.APPROVED:
        return json_response(200, {"status": "approved"})
    if outcome is OtpCheck.FAILED:
        return json_response(429, OTP_WRONG_TOO_OFTEN)
    return field_errors({"code": ["This code is invalid."]}, otp=True)


@router.post("/cancel", openapi_extra=body_schema(OtpCancelBody))
async def otp_cancel(request: Request, account: VendorAccount, state: Sandbox) -> Response:
    body = await read_json(request, otp=True)
    errors: dict[str, list[str]] = {}
    otp_id = _otp_id(body, errors)
    if errors:
        return field_errors(errors, otp=True)
    outcome = state.cancel_otp(account, otp_id)
    if isinstance(outcome, OtpGone):
        return _gone(outcome)
    return json_response(200, ["ok"])


@router.get("/search")
async def otp_search(account: VendorAccount, state: Sandbox, otp_id: str | None = None) -> Response:
    if not otp_id:
        return field_errors({"otp_id": ["This otp_id is invalid."]}, otp=True)
    otp = state.find_otp(account, otp_id)
    if otp is None:
        return json_response(404, OTP_NOT_FOUND)
    return json_response(200, otp.to_json())
