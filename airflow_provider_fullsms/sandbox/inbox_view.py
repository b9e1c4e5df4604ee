"""What the inbox shows, as JSON: balances, armed faults, campaigns newest first, one phone's thread.

Pure Python over :class:`~.state.SandboxState`. The page at ``/`` (:mod:`~.inbox`) renders exactly
this, and ``GET /_sandbox/messages?group=campaigns`` answers it, so a test and a person see the
same thing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.sandbox.records import format_time, money_json

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.records import Campaign
    from airflow_provider_fullsms.sandbox.state import SandboxState

#: At most this many campaigns are listed (newest first), so the page stays quick after a benchmark.
CAMPAIGN_LIMIT = 200
#: At most this many numbers are listed per campaign; ``recipients`` always has the full count.
NUMBER_LIMIT = 50
#: A search needs this many digits to be read as (part of) a phone number.
_MIN_NUMBER_DIGITS = 3
_NOISE = re.compile(r"[\s()+.\-]")


def number_fragment(query: str) -> str | None:
    """The digits of ``query`` when it reads as (part of) a phone number: ``"+44 7700"`` -> ``"447700"``.

    :param query: what a person typed in the search box.
    """
    digits = _NOISE.sub("", query)
    return digits if len(digits) >= _MIN_NUMBER_DIGITS and digits.isdigit() else None


def _campaign_json(campaign: Campaign, numbers: list[str]) -> dict[str, Any]:
    return {
        "id": campaign.campaign_id or campaign.otp_id,
        "kind": "campaign" if campaign.campaign_id else "otp",
        "sender": campaign.sender,
        "text": campaign.text,
        "encoding": campaign.encoding,
        "segments": campaign.segments,
        "recipients": len(campaign.recipients),
        "numbers": numbers[:NUMBER_LIMIT],
        "cost": money_json(campaign.cost),
        "status": "delivered" if campaign.delivered_at is not None else "scheduled",
        "created_at": format_time(campaign.created_at),
        "send_at": format_time(campaign.send_at),
        "delivered_at": format_time(campaign.delivered_at),
    }


def _matching_numbers(campaign: Campaign, text: str | None, digits: str | None) -> list[str] | None:
    """The campaign's numbers to list when it matches the search, else ``None``."""
    if text is None:
        return campaign.recipients
    if digits is not None:
        hits = [number for number in campaign.recipients if digits in number]
        if hits:
            return hits
    return campaign.recipients if text.casefold() in campaign.text.casefold() else None


def inbox_view(state: SandboxState, *, q: str | None = None, phone: str | None = None) -> dict[str, Any]:
    """
    The inbox as JSON: what ``/`` shows and ``/_sandbox/messages?group=campaigns`` answers.

    :param state: the sandbox state.
    :param q: search: campaigns whose text contains it (any case), or sent to a number containing
        its digits (then only those numbers are listed).
    :param phone: also return ``thread``: every message to this number, oldest first.
    """
    q = (q or "").strip() or None
    digits = number_fragment(q) if q else None
    campaigns: list[dict[str, Any]] = []
    matched = 0
    for campaign in reversed(state.kept_campaigns()):
        numbers = _matching_numbers(campaign, q, digits)
        if numbers is None:
            continue
        matched += 1
        if len(campaigns) < CAMPAIGN_LIMIT:
            campaigns.append(_campaign_json(campaign, numbers))
    view: dict[str, Any] = {
        "balances": [
            {"account": account.name, "balance": money_json(account.balance)} for account in state.accounts
        ],
        "faults": state.faults.to_json(),
        "q": q,
        "campaigns": campaigns,
        "campaigns_matched": matched,
    }
    if phone is not None:
        view["phone"] = phone
        view["thread"] = state.messages(to=phone)
    return view
