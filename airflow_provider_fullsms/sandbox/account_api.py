"""The vendor's ``/account/*`` endpoints: balance, numbers, lists, sender IDs and templates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response  # noqa: TC002 (FastAPI reads endpoint annotations at runtime)

from airflow_provider_fullsms.sandbox.dependencies import SECURED, VendorAccount
from airflow_provider_fullsms.sandbox.records import money_json
from airflow_provider_fullsms.sandbox.responses import json_response


def _listing(key: str, items: list[Any]) -> Response:
    """The vendor's shape of every account listing: ``{"total_<key>": <count>, "<key>": [...]}``.

    :param key: the listing's name, e.g. ``numbers``.
    :param items: its entries.
    """
    return json_response(200, {f"total_{key}": len(items), key: items})


router = APIRouter(prefix="/account", tags=["Account"], dependencies=SECURED)


@router.get("/balance")
async def get_balance(account: VendorAccount) -> Response:
    return json_response(200, {"balance": money_json(account.balance)})


@router.get("/numbers")
async def get_numbers(account: VendorAccount) -> Response:
    return _listing("numbers", account.numbers)


@router.get("/lists")
async def get_lists(account: VendorAccount) -> Response:
    return _listing("lists", [contact_list.to_json() for contact_list in account.lists.values()])


@router.get("/senderids")
async def get_sender_ids(account: VendorAccount) -> Response:
    return _listing("senderids", account.sender_ids)


@router.get("/templates")
async def get_templates(account: VendorAccount) -> Response:
    return _listing("templates", [template.to_json() for template in account.templates.values()])
