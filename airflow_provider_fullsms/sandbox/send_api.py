"""The vendor's ``/messages/send/*`` endpoints: one campaign to a list of numbers or to contact lists."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response  # noqa: TC002 (FastAPI reads endpoint annotations at runtime)
from pydantic import BaseModel, Field

from airflow_provider_fullsms.sandbox.bodies import as_int, body_schema, present, read_json
from airflow_provider_fullsms.sandbox.dependencies import SECURED, Sandbox, VendorAccount
from airflow_provider_fullsms.sandbox.records import Campaign, parse_time
from airflow_provider_fullsms.sandbox.responses import (
    NUMBER_INVALID,
    SENDER_NOT_APPROVED,
    SHORTLINKS_REFUSED,
    TEMPLATE_NOT_FOUND,
    Refusal,
    balance_low,
    field_errors,
    json_response,
)
from airflow_provider_fullsms.sms import MAX_NUMBERS_PER_REQUEST, NUMBER_PATTERN, analyse_message

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.seed import Account, ContactList
    from airflow_provider_fullsms.sandbox.state import SandboxState

_SHORTLINK = re.compile(r"https?://|www\.", re.IGNORECASE)
_DIGITS_SENDER = re.compile(r"^\+?\d+$")


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


def check_sender(account: Account, sender: Any) -> str:
    """``from`` must be a number the account owns or one of its approved sender IDs.

    :param account: the sending account.
    :param sender: the ``from`` of the body, as sent.
    :return: the sender, once accepted.
    :raises Refusal: with the documented 403.
    """
    if not isinstance(sender, str) or not sender.strip():
        raise Refusal(json_response(403, NUMBER_INVALID))
    if _DIGITS_SENDER.match(sender):
        if sender.lstrip("+") not in account.owned_numbers:
            raise Refusal(json_response(403, NUMBER_INVALID))
    elif sender not in account.sender_ids:
        raise Refusal(json_response(403, SENDER_NOT_APPROVED))
    return sender


class _Send:
    """What both send endpoints share: the message or template, the sender, ``send_at``.

    :param body: the request body.
    :param errors: where the field errors found are added.
    """

    def __init__(self, body: dict[str, Any], errors: dict[str, list[str]]) -> None:
        self.message = body.get("message")
        self.template_id = body.get("template_id")
        self.sender = body.get("from")
        raw_send_at = body.get("send_at")
        self.send_at: float | None = None
        template_given = present(self.template_id)
        if template_given and (
            isinstance(self.template_id, bool) or not isinstance(self.template_id, str | int)
        ):
            errors["template_id"] = ["The template id must be a string."]
        if self.message is not None and not isinstance(self.message, str):
            errors["message"] = ["The message must be a string."]
        elif not template_given and not present(self.message):
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

    def _text(self, account: Account) -> str:
        """The text to send: the message, or the template's content (shortlinks refused unless allowed)."""
        if present(self.template_id):
            template = account.templates.get(str(self.template_id).strip())
            if template is None:
                raise Refusal(json_response(404, TEMPLATE_NOT_FOUND))
            text = template.content
        else:
            assert isinstance(self.message, str)
            text = self.message
        if not account.allow_shortlinks and _SHORTLINK.search(text):
            raise Refusal(json_response(403, SHORTLINKS_REFUSED))
        return text

    def campaign(self, state: SandboxState, account: Account, recipients: list[str]) -> str:
        """Check sender and text, charge and record the campaign (call once the fields had no errors).

        :param state: the sandbox state.
        :param account: the sending account.
        :param recipients: the numbers it goes to.
        :return: the campaign id.
        :raises Refusal: with the documented 403, 404 or ``balance_low`` answer.
        """
        sender = check_sender(account, self.sender)
        text = self._text(account)
        analysis = analyse_message(text)
        campaign = Campaign(
            sender=sender,
            text=text,
            encoding=analysis.encoding,
            segments=analysis.segments,
            recipients=recipients,
            created_at=state.clock(),
            send_at=self.send_at,
        )
        campaign_id = state.send_campaign(account, campaign)
        if campaign_id is None:
            raise Refusal(balance_low(account))
        return campaign_id


def _required_array(body: dict[str, Any], key: str, errors: dict[str, list[str]]) -> list[Any]:
    """The array ``body[key]``; empty, with Laravel's ``required``/``array`` error added, if it is not one."""
    value = body.get(key)
    label = key.replace("_", " ")
    if not present(value):
        errors[key] = [f"The {label} field is required."]
    elif not isinstance(value, list):
        errors[key] = [f"The {label} must be an array."]
    else:
        return value
    return []


router = APIRouter(prefix="/messages/send", tags=["Send SMS"], dependencies=SECURED)


@router.post("/to_numbers", openapi_extra=body_schema(SendToNumbersBody))
async def send_to_numbers(request: Request, account: VendorAccount, state: Sandbox) -> Response:
    body = await read_json(request)
    errors: dict[str, list[str]] = {}
    to_numbers = _required_array(body, "to_numbers", errors)
    valid: list[str] = []
    invalid: list[Any] = []
    if len(to_numbers) > MAX_NUMBERS_PER_REQUEST:
        errors["to_numbers"] = [f"The to numbers must not have more than {MAX_NUMBERS_PER_REQUEST} items."]
    elif to_numbers:
        match = NUMBER_PATTERN.fullmatch
        for number in to_numbers:
            if type(number) is str and match(number):
                valid.append(number)
            else:
                invalid.append(number)
        unreachable = state.unreachable
        for index, number in enumerate(to_numbers):
            if not valid or number in unreachable:
                errors[f"to_numbers.{index}"] = ["Given number is invalid or could not receive messages"]
    send = _Send(body, errors)
    if errors:
        return field_errors(errors)
    campaign_id = send.campaign(state, account, valid)
    return json_response(
        200,
        {
            "status": "approved",
            "campaign_id": campaign_id,
            "total_sent": len(valid),
            "invalid": {"count": len(invalid), "numbers": invalid},
        },
    )


@router.post("/to_lists", openapi_extra=body_schema(SendToListsBody))
async def send_to_lists(request: Request, account: VendorAccount, state: Sandbox) -> Response:
    body = await read_json(request)
    errors: dict[str, list[str]] = {}
    lists: list[ContactList] = []
    for index, raw_id in enumerate(_required_array(body, "to_list_ids", errors)):
        list_id = as_int(raw_id)
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
    recipients = list(dict.fromkeys(number for contact_list in lists for number in contact_list.subscribed))
    return json_response(
        200, {"status": "approved", "campaign_id": send.campaign(state, account, recipients)}
    )
