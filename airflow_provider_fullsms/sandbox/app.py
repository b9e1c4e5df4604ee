"""The sandbox's HTTP face: the FullSMS vendor API as documented, plus ``/_sandbox/`` and the inbox page.

Request bodies are read and checked by hand rather than by FastAPI's pydantic binding, because
the vendor's error bodies (Laravel-style ``422 Unprocessable Content`` with per-field messages,
403s before 422s, ...) are the contract; the pydantic models below only describe the bodies in
``/openapi.json``.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_fullsms.sandbox import DEFAULT_TOKEN, INSPECTION_HEADER
from airflow_provider_fullsms.sandbox.armed_faults import FAULT_FIELDS, FaultKind
from airflow_provider_fullsms.sandbox.records import VENDOR_PATHS, money_json, parse_time
from airflow_provider_fullsms.sandbox.seed import Account
from airflow_provider_fullsms.sandbox.state import OtpCheck, OtpCreateResult, OtpGone
from airflow_provider_fullsms.sms import (
    BRAND_LIMITS,
    MAX_NUMBERS_PER_REQUEST,
    NUMBER_PATTERN,
    analyse_message,
)

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from airflow_provider_fullsms.sandbox.state import SandboxState

#: Bodies larger than this are refused (after being read, so the client sees the answer).
MAX_BODY_BYTES = 1024 * 1024
_SHORTLINK = re.compile(r"https?://|www\.", re.IGNORECASE)
_DIGITS_SENDER = re.compile(r"^\+?\d+$")
_INTEGER = re.compile(r"-?[0-9]{1,18}")

UNPROCESSABLE = "422 Unprocessable Content"
#: The inspection header as it appears in an ASGI scope (lower-cased bytes).
_INSPECTION_HEADER = INSPECTION_HEADER.lower().encode()


class RefuseController(Protocol):
    """What the app needs from the process running it to open a ``refuse`` window."""

    def refuse(self, seconds: float) -> None: ...


# -- responses ----------------------------------------------------------------------------------


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON response without FastAPI's encoder (the send path answers hundreds of times a second)."""
    return Response(
        json.dumps(body, separators=(",", ":")).encode(), status, headers, media_type="application/json"
    )


def field_errors(errors: dict[str, list[str]], *, otp: bool = False, status: int = 422) -> Response:
    """The documented 422 body; OTP endpoints document an extra ``"code": 422``."""
    body: dict[str, Any] = {"message": UNPROCESSABLE if status == 422 else f"{status} Content Too Large"}
    body["errors"] = errors
    if otp:
        body["code"] = status
    body["status_code"] = status
    return json_response(status, body)


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
INTERNAL_ERROR = {"status_code": 500, "message": "Internal Error"}
SERVICE_UNAVAILABLE = {"status_code": 503, "message": "Service Unavailable"}


def balance_low(account: Account) -> Response:
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
    # The double space is in the vendor's documented message.
    return json_response(
        429,
        {
            "message": f"You can create up-to  {maximum} concurrent active OTP_IDs",
            "code": 429,
            "status_code": 429,
        },
    )


# -- request bodies (for /openapi.json; validation is by hand, see the module docstring) -----------


class SendToNumbersBody(BaseModel):
    to_numbers: list[str] = Field(
        max_length=MAX_NUMBERS_PER_REQUEST, description="Digits-only E.164 numbers."
    )
    message: str | None = Field(None, description="Required without template_id; 612 GSM-7 / 268 UCS-2.")
    from_: str = Field(alias="from", description="An owned number or an approved sender ID.")
    template_id: str | None = None
    send_at: str | None = Field(None, description="YYYY-MM-DD HH:MM:SS, UTC.")


class SendToListsBody(BaseModel):
    to_list_ids: list[int]
    message: str | None = None
    from_: str = Field(alias="from")
    template_id: str | None = None
    send_at: str | None = None


class OtpCreateBody(BaseModel):
    to_number: str
    brand: str | None = Field(None, description="At most 50 GSM-7 / 12 UCS-2 characters.")
    from_: str = Field(alias="from")


class OtpVerifyBody(BaseModel):
    otp_id: str
    code: int


class OtpCancelBody(BaseModel):
    otp_id: str


class BalanceBody(BaseModel):
    balance: float


class FaultBody(BaseModel):
    kind: str = Field(description=", ".join(FaultKind))
    path: str | None = Field(None, description="A vendor path; default: every vendor path.")
    after: int = Field(0, ge=0, description="Matching requests to let through first.")
    count: int = Field(1, ge=1, description="Matching requests the fault hits.")
    ms: float | None = Field(None, description="latency: delay in milliseconds.")
    retry_after: float | None = Field(None, description="rate_limit: Retry-After seconds.")
    status: int | None = Field(None, description="error: 500 or 503.")
    seconds: float | None = Field(None, description="slow: response delay; refuse: window length.")


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema(by_alias=True)}},
        }
    }


# -- body reading and field checks ------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class Refusal(Exception):
    """A documented refusal, raised where it is found and answered as it is by the app."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _authenticated(request: Request, *, need_rights: bool) -> Account:
    found = request.app.state.sandbox.authenticate(request.headers.get("authorization"))
    if found is None:
        raise Refusal(json_response(403, UNAUTHENTICATED))
    account, rights = found
    if need_rights and not rights:
        raise Refusal(json_response(403, ACCESS_DENIED))
    return account


def vendor_account(request: Request) -> Account:
    """The account of the Bearer token; a token without rights gets ``403 Access Denied``."""
    return _authenticated(request, need_rights=True)


def sandbox_account(request: Request) -> Account:
    """The account of the Bearer token for ``/_sandbox/`` calls (any valid token will do)."""
    return _authenticated(request, need_rights=False)


VendorAccount = Annotated[Account, Depends(vendor_account)]
SandboxAccount = Annotated[Account, Depends(sandbox_account)]


async def read_json(request: Request, *, otp: bool = False) -> dict[str, Any]:
    """Read a JSON object body; anything else is refused with the documented 422 shape.

    The body is always read to the end, even when too large, so the client gets the answer
    instead of a reset connection while it is still sending.
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
    if size > MAX_BODY_BYTES:
        raise Refusal(
            field_errors(
                {"body": [f"The request body must not be larger than {MAX_BODY_BYTES} bytes."]},
                otp=otp,
                status=413,
            )
        )
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        # ValueError covers bad JSON, bad UTF-8 and over-long integers.
        raise Refusal(field_errors({"body": ["The request body must be valid JSON."]}, otp=otp)) from None
    if not isinstance(body, dict):
        raise Refusal(field_errors({"body": ["The request body must be a JSON object."]}, otp=otp))
    return body


def _present(value: Any) -> bool:
    """Laravel's ``required``: null, empty strings and empty arrays count as missing."""
    return value is not None and value != "" and value != [] and value != {}


def _as_int(value: Any) -> int | None:
    """Laravel's ``integer`` rule: ints and strings of digits, not booleans or floats."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    return None


class _Send:
    """What both send endpoints share: the message or template, the sender, send_at."""

    def __init__(self, body: dict[str, Any], errors: dict[str, list[str]]) -> None:
        self.message = body.get("message")
        self.template_id = body.get("template_id")
        self.sender = body.get("from")
        raw_send_at = body.get("send_at")
        self.send_at: float | None = None
        template_given = _present(self.template_id)
        if template_given and (
            isinstance(self.template_id, bool) or not isinstance(self.template_id, str | int)
        ):
            errors["template_id"] = ["The template id must be a string."]
        if self.message is not None and not isinstance(self.message, str):
            errors["message"] = ["The message must be a string."]
        elif not template_given and not _present(self.message):
            errors["message"] = ["The message field is required when template id is not present."]
        elif not template_given:
            assert isinstance(self.message, str)
            analysis = analyse_message(self.message)
            if not analysis.fits:
                errors["message"] = [f"The message must not be greater than {analysis.limit} characters."]
        if self.sender is not None and not isinstance(self.sender, str):
            errors["from"] = ["The from must be a string."]
        if raw_send_at is not None:
            try:
                if not isinstance(raw_send_at, str):
                    raise ValueError(raw_send_at)
                self.send_at = parse_time(raw_send_at)
            except ValueError:
                errors["send_at"] = ["The send at does not match the format Y-m-d H:i:s."]

    @property
    def from_(self) -> str:
        """The checked sender (call after :meth:`resolve` accepted it)."""
        return str(self.sender)

    def resolve(self, account: Account) -> tuple[str, Response | None]:
        """Check sender, template and shortlinks; return the text to send or the documented refusal."""
        refusal = check_sender(account, self.sender)
        if refusal is not None:
            return "", refusal
        if _present(self.template_id):
            template = account.templates.get(str(self.template_id).strip())
            if template is None:
                return "", json_response(404, TEMPLATE_NOT_FOUND)
            text = template.content
        else:
            assert isinstance(self.message, str)
            text = self.message
        if not account.allow_shortlinks and _SHORTLINK.search(text):
            return "", json_response(403, SHORTLINKS_REFUSED)
        return text, None

    def send(self, state: SandboxState, account: Account, recipients: list[str]) -> str | Response:
        """Resolve the text, charge and record the campaign: its id, or the documented refusal."""
        text, refusal = self.resolve(account)
        if refusal is not None:
            return refusal
        analysis = analyse_message(text)
        campaign_id = state.send_campaign(
            account,
            sender=self.from_,
            text=text,
            encoding=analysis.encoding,
            segments=analysis.segments,
            recipients=recipients,
            send_at=self.send_at,
        )
        return balance_low(account) if campaign_id is None else campaign_id


def brand_fits(brand: str) -> bool:
    """Whether an OTP brand is within FullSMS's 50 GSM-7 / 12 UCS-2 limit.

    :param brand: the ``brand`` of an OTP create request.
    """
    analysis = analyse_message(brand)
    return analysis.units <= BRAND_LIMITS[analysis.encoding]


def check_sender(account: Account, sender: Any) -> Response | None:
    """``from`` must be a number the account owns or one of its approved sender IDs."""
    if not isinstance(sender, str) or not sender.strip():
        return json_response(403, NUMBER_INVALID)
    if _DIGITS_SENDER.match(sender):
        if sender.lstrip("+") not in account.owned_numbers:
            return json_response(403, NUMBER_INVALID)
    elif sender not in account.sender_ids:
        return json_response(403, SENDER_NOT_APPROVED)
    return None


# -- the app ----------------------------------------------------------------------------------------


def create_app(state: SandboxState, runner: RefuseController | None = None) -> FastAPI:
    """Build the sandbox app around ``state``.

    :param state: the sandbox's world; it outlives the app across ``refuse`` restarts.
    :param runner: the process runner that can stop listening for a while (``refuse`` faults);
        without it, arming a ``refuse`` fault answers 422.
    """
    app = FastAPI(
        title="FullSMS sandbox",
        description="A local FullSMS server: the documented vendor API, /_sandbox/ inspection and faults.",
        version="1",
    )
    app.state.sandbox = state
    bearer = HTTPBearer(auto_error=False, description=f"The sandbox token (default: {DEFAULT_TOKEN}).")

    secured = [Depends(bearer)]

    # -- error shapes: never FastAPI's {"detail": ...} ----------------------------------------------

    @app.exception_handler(Refusal)
    async def on_refusal(request: Request, exc: Refusal) -> Response:
        return exc.response

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors: dict[str, list[str]] = {}
        for error in exc.errors():
            name = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query"))
            errors.setdefault(name or "body", []).append(f"The {name or 'body'} is invalid.")
        return field_errors(errors)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return json_response(exc.status_code, {"status_code": exc.status_code, "message": str(exc.detail)})

    @app.exception_handler(Exception)
    async def on_any_error(request: Request, exc: Exception) -> Response:
        return json_response(500, INTERNAL_ERROR)

    # -- account ------------------------------------------------------------------------------------

    @app.get("/account/balance", tags=["Account"], dependencies=secured)
    async def get_balance(account: VendorAccount) -> Response:
        return json_response(200, {"balance": money_json(account.balance)})

    @app.get("/account/numbers", tags=["Account"], dependencies=secured)
    async def get_numbers(account: VendorAccount) -> Response:
        return json_response(200, {"total_numbers": len(account.numbers), "numbers": account.numbers})

    @app.get("/account/lists", tags=["Account"], dependencies=secured)
    async def get_lists(account: VendorAccount) -> Response:
        lists = [
            {
                "list_id": contact_list.list_id,
                "name": contact_list.name,
                "subscribe_word": contact_list.subscribe_word,
                "subscribed_contacts": len(contact_list.subscribed),
            }
            for contact_list in account.lists.values()
        ]
        return json_response(200, {"total_lists": len(lists), "lists": lists})

    @app.get("/account/senderids", tags=["Account"], dependencies=secured)
    async def get_sender_ids(account: VendorAccount) -> Response:
        return json_response(
            200, {"total_senderids": len(account.sender_ids), "senderids": account.sender_ids}
        )

    @app.get("/account/templates", tags=["Account"], dependencies=secured)
    async def get_templates(account: VendorAccount) -> Response:
        templates = [
            {"template_id": _as_int(t.template_id) or t.template_id, "name": t.name, "content": t.content}
            for t in account.templates.values()
        ]
        return json_response(200, {"total_templates": len(templates), "templates": templates})

    # -- messages -----------------------------------------------------------------------------------

    @app.post(
        "/messages/send/to_numbers",
        tags=["Send SMS"],
        dependencies=secured,
        openapi_extra=_body_schema(SendToNumbersBody),
    )
    async def send_to_numbers(request: Request, account: VendorAccount) -> Response:
        body = await read_json(request)
        errors: dict[str, list[str]] = {}
        to_numbers = body.get("to_numbers")
        valid: list[str] = []
        invalid: list[Any] = []
        if not _present(to_numbers):
            errors["to_numbers"] = ["The to numbers field is required."]
        elif not isinstance(to_numbers, list):
            errors["to_numbers"] = ["The to numbers must be an array."]
        elif len(to_numbers) > MAX_NUMBERS_PER_REQUEST:
            errors["to_numbers"] = [
                f"The to numbers must not have more than {MAX_NUMBERS_PER_REQUEST} items."
            ]
        else:
            match = NUMBER_PATTERN.fullmatch
            for number in to_numbers:
                if type(number) is str and match(number):
                    valid.append(number)
                else:
                    invalid.append(number)
            if not valid:
                for index in range(len(to_numbers)):
                    errors[f"to_numbers.{index}"] = ["Given number is invalid or could not receive messages"]
        send = _Send(body, errors)
        if errors:
            return field_errors(errors)
        campaign_id = send.send(state, account, valid)
        if isinstance(campaign_id, Response):
            return campaign_id
        return json_response(
            200,
            {
                "status": "approved",
                "campaign_id": campaign_id,
                "total_sent": len(valid),
                "invalid": {"count": len(invalid), "numbers": invalid},
            },
        )

    @app.post(
        "/messages/send/to_lists",
        tags=["Send SMS"],
        dependencies=secured,
        openapi_extra=_body_schema(SendToListsBody),
    )
    async def send_to_lists(request: Request, account: VendorAccount) -> Response:
        body = await read_json(request)
        errors: dict[str, list[str]] = {}
        list_ids = body.get("to_list_ids")
        lists = []
        if not _present(list_ids):
            errors["to_list_ids"] = ["The to list ids field is required."]
        elif not isinstance(list_ids, list):
            errors["to_list_ids"] = ["The to list ids must be an array."]
        else:
            for index, raw_id in enumerate(list_ids):
                list_id = _as_int(raw_id)
                if list_id is None:
                    errors[f"to_list_ids.{index}"] = [f"The to_list_ids.{index} must be an integer."]
                elif list_id not in account.lists:
                    errors[f"to_list_ids.{index}"] = ["List with this id could not be found"]
                else:
                    lists.append(account.lists[list_id])
        send = _Send(body, errors)
        if errors:
            return field_errors(errors)
        # A contact on two of the lists gets the campaign once.
        recipients = list(
            dict.fromkeys(number for contact_list in lists for number in contact_list.subscribed)
        )
        campaign_id = send.send(state, account, recipients)
        if isinstance(campaign_id, Response):
            return campaign_id
        return json_response(200, {"status": "approved", "campaign_id": campaign_id})

    # -- OTP ----------------------------------------------------------------------------------------

    @app.post("/otp/create", tags=["OTP"], dependencies=secured, openapi_extra=_body_schema(OtpCreateBody))
    async def otp_create(request: Request, account: VendorAccount) -> Response:
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
        refusal = check_sender(account, sender)
        if refusal is not None:
            return refusal
        assert isinstance(to_number, str)
        assert isinstance(sender, str)
        result, otp = state.create_otp(account, to_number=to_number, sender=sender, brand=brand or "")
        if result is OtpCreateResult.EXISTS:
            return json_response(429, OTP_EXISTS)
        if result is OtpCreateResult.LIMIT:
            return otp_limit(account.otp_max_active)
        if result is OtpCreateResult.BALANCE_LOW:
            return balance_low(account)
        assert otp is not None
        return json_response(200, {"status": "approved", "otp_id": otp.otp_id, "otp_status": "in_progress"})

    def otp_id_of(body: dict[str, Any], errors: dict[str, list[str]]) -> str:
        otp_id = body.get("otp_id")
        if not (isinstance(otp_id, str) and otp_id):
            errors["otp_id"] = ["This otp_id is invalid."]
            return ""
        return otp_id

    @app.post("/otp/verify", tags=["OTP"], dependencies=secured, openapi_extra=_body_schema(OtpVerifyBody))
    async def otp_verify(request: Request, account: VendorAccount) -> Response:
        body = await read_json(request, otp=True)
        errors: dict[str, list[str]] = {}
        otp_id = otp_id_of(body, errors)
        code = _as_int(body.get("code"))
        if code is None:
            errors["code"] = ["This code is invalid."]
        if errors:
            return field_errors(errors, otp=True)
        assert code is not None
        outcome = state.verify_otp(account, otp_id, code)
        if outcome is OtpGone.MISSING:
            return json_response(404, OTP_NOT_FOUND)
        if outcome is OtpGone.INACTIVE:
            return json_response(422, OTP_NOT_ACTIVE)
        if outcome is OtpCheck.APPROVED:
            return json_response(200, {"status": "approved"})
        if outcome is OtpCheck.FAILED:
            return json_response(429, OTP_WRONG_TOO_OFTEN)
        return field_errors({"code": ["This code is invalid."]}, otp=True)

    @app.post("/otp/cancel", tags=["OTP"], dependencies=secured, openapi_extra=_body_schema(OtpCancelBody))
    async def otp_cancel(request: Request, account: VendorAccount) -> Response:
        body = await read_json(request, otp=True)
        errors: dict[str, list[str]] = {}
        otp_id = otp_id_of(body, errors)
        if errors:
            return field_errors(errors, otp=True)
        outcome = state.cancel_otp(account, otp_id)
        if outcome is OtpGone.MISSING:
            return json_response(404, OTP_NOT_FOUND)
        if outcome is OtpGone.INACTIVE:
            return json_response(422, OTP_NOT_ACTIVE)
        return json_response(200, ["ok"])

    @app.get("/otp/search", tags=["OTP"], dependencies=secured)
    async def otp_search(account: VendorAccount, otp_id: str | None = None) -> Response:
        if not otp_id:
            return field_errors({"otp_id": ["This otp_id is invalid."]}, otp=True)
        otp = state.find_otp(account, otp_id)
        if otp is None:
            return json_response(404, OTP_NOT_FOUND)
        return json_response(200, otp.to_json())

    # -- /_sandbox/: inspection and control (not part of FullSMS) -------------------------------------

    @app.get("/_sandbox/messages", tags=["Sandbox"], dependencies=secured)
    async def sandbox_messages(
        account: SandboxAccount,
        to: str | None = None,
        campaign_id: str | None = None,
        otp_id: str | None = None,
    ) -> Response:
        return json_response(200, {"messages": state.messages(to=to, campaign_id=campaign_id, otp_id=otp_id)})

    @app.get("/_sandbox/requests", tags=["Sandbox"], dependencies=secured)
    async def sandbox_requests(account: SandboxAccount) -> Response:
        counts = state.counted_requests()
        return json_response(200, {"requests": counts, "total": sum(counts.values())})

    @app.put(
        "/_sandbox/balance", tags=["Sandbox"], dependencies=secured, openapi_extra=_body_schema(BalanceBody)
    )
    async def sandbox_balance(request: Request, account: SandboxAccount) -> Response:
        body = await read_json(request)
        raw = body.get("balance")
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            return field_errors({"balance": ["The balance must be a number."]})
        balance = Decimal(str(raw))
        if not balance.is_finite() or abs(balance) >= Decimal(10) ** 12:
            return field_errors({"balance": ["The balance must be a number."]})
        state.set_balance(account, balance)
        return json_response(200, {"balance": money_json(account.balance)})

    @app.post("/_sandbox/reset", tags=["Sandbox"], dependencies=secured)
    async def sandbox_reset(account: SandboxAccount) -> Response:
        state.reset()
        return json_response(200, {"status": "reset"})

    @app.get("/_sandbox/faults", tags=["Sandbox"], dependencies=secured)
    async def sandbox_faults(account: SandboxAccount) -> Response:
        return json_response(200, {"faults": state.faults.to_json()})

    @app.delete("/_sandbox/faults", tags=["Sandbox"], dependencies=secured)
    async def sandbox_clear_faults(account: SandboxAccount) -> Response:
        state.faults.clear()
        return json_response(200, {"faults": []})

    @app.post(
        "/_sandbox/faults", tags=["Sandbox"], dependencies=secured, openapi_extra=_body_schema(FaultBody)
    )
    async def sandbox_add_fault(request: Request, account: SandboxAccount) -> Response:
        body = await read_json(request)
        parsed = parse_fault(body, refuse_supported=runner is not None)
        if isinstance(parsed, Response):
            return parsed
        kind, path, after, count, fields = parsed
        if kind == "refuse" and after == 0:
            # Nothing to wait for: the listener closes before this answer goes out, so the
            # caller's next connection is already refused.
            assert runner is not None
            runner.refuse(fields["seconds"])
            return json_response(
                200, {"fault": {"kind": kind, "path": path, "after": 0, "count": 1, **fields}}
            )
        fault = state.faults.arm(kind, path, after, count, fields)
        return json_response(200, {"fault": fault.to_json()})

    # -- the inbox page -----------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    async def inbox() -> HTMLResponse:
        return HTMLResponse(render_inbox(state))

    return app


def parse_fault(
    body: dict[str, Any], *, refuse_supported: bool
) -> tuple[FaultKind, str | None, int, int, dict[str, float]] | Response:
    """Check a ``POST /_sandbox/faults`` body; return its parts or the 422 answer."""
    errors: dict[str, list[str]] = {}
    raw_kind = body.get("kind")
    if not isinstance(raw_kind, str) or raw_kind not in FAULT_FIELDS:
        return field_errors({"kind": [f"The kind must be one of: {', '.join(FaultKind)}."]})
    kind = FaultKind(raw_kind)
    path = body.get("path")
    if path is not None:
        if isinstance(path, str) and "/" + path.strip("/") in VENDOR_PATHS:
            path = "/" + path.strip("/")
        else:
            errors["path"] = [f"The path must be one of: {', '.join(VENDOR_PATHS)}."]
    after, count = body.get("after", 0), body.get("count", 1)
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        errors["after"] = ["The after must be an integer of at least 0."]
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        errors["count"] = ["The count must be an integer of at least 1."]
    fields: dict[str, float] = {}
    for name, default in FAULT_FIELDS[kind].items():
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3600:
            errors[name] = [f"The {name} must be a number from 0 to 3600."]
        else:
            fields[name] = value
    if kind == "error" and fields.get("status") not in (500, 503):
        errors["status"] = ["The status must be 500 or 503."]
    unknown = set(body) - {"kind", "path", "after", "count", *FAULT_FIELDS[kind]}
    for name in sorted(unknown):
        errors[name] = [f"The {name} field is not used by {kind} faults."]
    if kind == "refuse" and not refuse_supported:
        errors["kind"] = [
            "refuse faults need the sandbox to run as `fullsms-sandbox` (it restarts the listener)."
        ]
    if errors:
        return field_errors(errors)
    return kind, path, after, count, fields


def render_inbox(state: SandboxState, limit: int = 2000) -> str:
    """The inbox page: the newest ``limit`` messages, grouped per phone number, all text escaped."""
    messages = state.latest_messages(limit)
    by_phone: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        by_phone.setdefault(message["to"], []).append(message)
    parts = [
        # A plain meta refresh keeps the page live during a demo without any JavaScript.
        "<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='refresh' content='5'>",
        "<title>FullSMS sandbox inbox</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
        ".scheduled{color:#a60}</style></head><body>",
        f"<h1>FullSMS sandbox inbox</h1><p>{len(messages)} message(s) to {len(by_phone)} phone(s).</p>",
    ]
    for phone, received in sorted(by_phone.items()):
        parts.append(f"<h2>{html.escape(phone)}</h2><table><tr><th>time</th><th>from</th><th>text</th>")
        parts.append("<th>status</th><th>segments</th></tr>")
        for message in reversed(received):
            when = message["delivered_at"] or message["send_at"] or message["created_at"]
            parts.append(
                f"<tr class='{html.escape(message['status'])}'><td>{html.escape(str(when))}</td>"
                f"<td>{html.escape(message['from'])}</td><td>{html.escape(message['text'])}</td>"
                f"<td>{html.escape(message['status'])}</td>"
                f"<td>{message['segments']} ({html.escape(message['encoding'])})</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


class SandboxMiddleware:
    """Outermost ASGI layer: counts vendor requests, delivers due messages and plays armed faults.

    A pure ASGI class rather than ``BaseHTTPMiddleware``, which would cost a task per request.

    :param app: the FastAPI app.
    :param state: the sandbox state.
    :param runner: opens ``refuse`` windows (``None`` when not run by ``fullsms-sandbox``).
    :param transports: live connections by ``(server, client)`` address, for ``drop`` faults.
    """

    def __init__(
        self,
        app: ASGIApp,
        state: SandboxState,
        runner: RefuseController | None,
        transports: dict[tuple[Any, Any], asyncio.Transport] | None,
    ) -> None:
        self.app = app
        self.state = state
        self.runner = runner
        self.transports = transports

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state
        state.deliver_due()
        path = scope["path"]
        if path not in VENDOR_PATHS or (_INSPECTION_HEADER, b"1") in scope["headers"]:
            await self.app(scope, receive, send)
            return
        state.count_request(path)
        hits = state.faults.hitting(path)
        if not hits:
            await self.app(scope, receive, send)
            return
        for fault in hits:
            if fault.kind == "latency":
                await asyncio.sleep(fault.fields["ms"] / 1000)
        # A refuse window opens after this request is answered, whatever else hit it.
        refuse = next((fault for fault in hits if fault.kind == "refuse"), None)
        terminal = next((fault for fault in hits if fault.kind not in ("latency", "refuse")), None)
        if terminal is None:
            await self.app(scope, receive, send)
        elif terminal.kind == "rate_limit":
            retry_after = terminal.fields["retry_after"]
            header = str(int(retry_after)) if retry_after == int(retry_after) else str(retry_after)
            response = json_response(
                429, {"status_code": 429, "message": "Too Many Requests"}, headers={"Retry-After": header}
            )
            await response(scope, receive, send)
        elif terminal.kind == "error":
            status = int(terminal.fields["status"])
            await json_response(status, INTERNAL_ERROR if status == 500 else SERVICE_UNAVAILABLE)(
                scope, receive, send
            )
        elif terminal.kind == "drop":
            await self._drop(scope, receive, send)
        elif terminal.kind == "slow":
            seconds = terminal.fields["seconds"]

            async def send_late(message: Message) -> None:
                if message["type"] == "http.response.start":
                    await asyncio.sleep(seconds)
                await send(message)

            await self.app(scope, receive, send_late)
        if refuse is not None and self.runner is not None:
            self.runner.refuse(refuse.fields["seconds"])

    async def _drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle the request for real (so a send is recorded and charged), then cut the connection."""
        key = (tuple(scope.get("server") or ()), tuple(scope.get("client") or ()))
        transport = (self.transports or {}).get(key)
        if transport is None:
            await self.app(scope, receive, send)
            return

        async def send_nothing(message: Message) -> None:
            if message["type"] == "http.response.start":
                # abort() resets the TCP connection: the client sees a connection error, no status.
                transport.abort()

        await self.app(scope, receive, send_nothing)
        # Let uvicorn notice the lost connection before it tries to finish the response itself.
        await asyncio.sleep(0)


def build_asgi(
    state: SandboxState,
    runner: RefuseController | None = None,
    transports: dict[tuple[Any, Any], asyncio.Transport] | None = None,
) -> SandboxMiddleware:
    """The complete ASGI application: :func:`create_app` wrapped in :class:`SandboxMiddleware`.

    :param state: the sandbox state.
    :param runner: see :class:`SandboxMiddleware`.
    :param transports: see :class:`SandboxMiddleware`.
    """
    return SandboxMiddleware(create_app(state, runner), state, runner, transports)
