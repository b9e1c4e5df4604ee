"""The vendor's ``/account/*`` endpoints: balance, numbers, lists, sender IDs and templates."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response  # noqa: TC002 (FastAPI reads endpoint annotations at runtime)

from airflow_provider_fullsms.sandbox.bodies import as_int
from airflow_provider_fullsms.sandbox.dependencies import SECURED, VendorAccount
from airflow_provider_fullsms.sandbox.records import money_json
from airflow_provider_fullsms.sandbox.responses import json_response

router = APIRouter(prefix="/account", tags=["Account"], dependencies=SECURED)


@router.get("/balance")
async def get_balance(account: VendorAccount) -> Response:
    return json_response(200, {"balance": money_json(account.balance)})


@router.get("/numbers")
async def get_numbers(account: VendorAccount) -> Response:
    return json_response(200, {"total_numbers": len(account.numbers), "numbers": account.numbers})


@router.get("/lists")
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


@router.get("/senderids")
async def get_sender_ids(account: VendorAccount) -> Response:
    return json_response(200, {"total_senderids": len(account.sender_ids), "senderids": account.sender_ids})


@router.get("/templates")
async def get_templates(account: VendorAccount) -> Response:
    # The seed keeps ids as strings; numeric ones go back out as numbers, as the vendor shows them.
    templates = [
        {"template_id": as_int(t.template_id) or t.template_id, "name": t.name, "content": t.content}
        for t in account.templates.values()
    ]
    return json_response(200, {"total_templates": len(templates), "templates": templates})
