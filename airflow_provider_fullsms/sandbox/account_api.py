"""The vendor's ``/account/*`` endpoints: balance, numbers, lists, sender IDs and templates."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import Response  # noqa: TC002 (FastAPI reads endpoint annotations at runtime)

from airflow_provider_fullsms.sandbox.dependencies import SECURED, VendorAccount
from airflow_provider_fullsms.sandbox.records import money_json
from airflow_provider_fullsms.sandbox.responses import json_response

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from airflow_provider_fullsms.sandbox.seed import Account


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


#: The account's listings (``GET /account/<key>``): the endpoint's name, and what it lists.
_LISTINGS: dict[str, tuple[str, Callable[[Account], list[Any]]]] = {
    "numbers": ("get_numbers", lambda account: account.numbers),
    "lists": ("get_lists", lambda account: [item.to_json() for item in account.lists.values()]),
    "senderids": ("get_sender_ids", lambda account: account.sender_ids),
    "templates": ("get_templates", lambda account: [item.to_json() for item in account.templates.values()]),
}


def _listing_endpoint(key: str, read: Callable[[Account], list[Any]]) -> Callable[..., Awaitable[Response]]:
    async def endpoint(account: VendorAccount) -> Response:
        return _listing(key, read(account))

    return endpoint


for _key, (_name, _read) in _LISTINGS.items():
    router.add_api_route(f"/{_key}", _listing_endpoint(_key, _read), methods=["GET"], name=_name)
