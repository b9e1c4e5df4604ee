"""The ``/_sandbox/`` API, which FullSMS does not have: inspection, balance, reset and faults.

It shows the inbox, the request counts and the Airflow connection for an account (with its
price and minimum balance), sets the balance, resets to the seed, and arms or clears faults.
Any valid token of the sandbox will do here, also one without API rights.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response  # noqa: TC002 (FastAPI reads endpoint annotations at runtime)
from pydantic import BaseModel, Field

from airflow_provider_fullsms.sandbox.armed_faults import FaultKind
from airflow_provider_fullsms.sandbox.bodies import body_schema, read_json
from airflow_provider_fullsms.sandbox.connection import airflow_connection
from airflow_provider_fullsms.sandbox.dependencies import SECURED, Runner, Sandbox, SandboxAccount
from airflow_provider_fullsms.sandbox.faults import parse_fault
from airflow_provider_fullsms.sandbox.inbox_view import inbox_view
from airflow_provider_fullsms.sandbox.records import money_json
from airflow_provider_fullsms.sandbox.responses import field_errors, json_response


class BalanceBody(BaseModel):
    balance: float


class UnreachableBody(BaseModel):
    numbers: list[str] = Field(description="Numbers FullSMS refuses as unable to receive messages.")


class FaultBody(BaseModel):
    kind: str = Field(description=", ".join(FaultKind))
    path: str | None = Field(None, description="A vendor path; default: every vendor path.")
    after: int = Field(0, ge=0, description="Matching requests to let through first.")
    count: int = Field(1, ge=1, description="Matching requests the fault hits.")
    ms: float | None = Field(None, description="latency: delay in milliseconds.")
    retry_after: float | None = Field(None, description="rate_limit, rate_limit_html: Retry-After seconds.")
    status: int | None = Field(None, description="error: 500 or 503; echo: 400 to 599.")
    seconds: float | None = Field(None, description="slow: response delay; refuse: window length.")


router = APIRouter(prefix="/_sandbox", tags=["Sandbox"], dependencies=SECURED)


@router.get("/messages")
async def sandbox_messages(
    account: SandboxAccount,
    state: Sandbox,
    to: str | None = None,
    campaign_id: str | None = None,
    otp_id: str | None = None,
    group: Literal["campaigns"] | None = None,
    q: str | None = None,
) -> Response:
    if group == "campaigns":
        # What the inbox page shows: balances, faults, campaigns (searched with q), a thread.
        return json_response(200, inbox_view(state, q=q, phone=to))
    return json_response(200, {"messages": state.messages(to=to, campaign_id=campaign_id, otp_id=otp_id)})


@router.get("/requests")
async def sandbox_requests(account: SandboxAccount, state: Sandbox) -> Response:
    counts = state.counted_requests()
    return json_response(200, {"requests": counts, "total": sum(counts.values())})


@router.get("/connection")
async def sandbox_connection(request: Request, account: SandboxAccount) -> Response:
    """The Airflow connection for the caller's account: host, token, sender, price and minimum."""
    return json_response(200, airflow_connection(account, str(request.base_url)))


@router.put("/balance", openapi_extra=body_schema(BalanceBody))
async def sandbox_balance(request: Request, account: SandboxAccount, state: Sandbox) -> Response:
    body = await read_json(request)
    raw = body.get("balance")
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return field_errors({"balance": ["The balance must be a number."]})
    balance = Decimal(str(raw))
    if not balance.is_finite() or abs(balance) >= Decimal(10) ** 12:
        return field_errors({"balance": ["The balance must be a number."]})
    state.set_balance(account, balance)
    return json_response(200, {"balance": money_json(account.balance)})


@router.put("/unreachable", openapi_extra=body_schema(UnreachableBody))
async def sandbox_unreachable(request: Request, account: SandboxAccount, state: Sandbox) -> Response:
    """Phones that cannot receive messages: a send naming one gets FullSMS's 422 ``to_numbers.N``."""
    body = await read_json(request)
    numbers = body.get("numbers")
    if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
        return field_errors({"numbers": ["The numbers must be a list of strings."]})
    state.unreachable = frozenset(numbers)
    return json_response(200, {"unreachable": sorted(state.unreachable)})


@router.post("/reset")
async def sandbox_reset(account: SandboxAccount, state: Sandbox) -> Response:
    state.reset()
    return json_response(200, {"status": "reset"})


@router.get("/faults")
async def sandbox_faults(account: SandboxAccount, state: Sandbox) -> Response:
    return json_response(200, {"faults": state.faults.to_json()})


@router.delete("/faults")
async def sandbox_clear_faults(account: SandboxAccount, state: Sandbox) -> Response:
    state.faults.clear()
    return json_response(200, {"faults": []})


@router.post("/faults", openapi_extra=body_schema(FaultBody))
async def sandbox_add_fault(
    request: Request, account: SandboxAccount, state: Sandbox, runner: Runner
) -> Response:
    body = await read_json(request)
    fault = parse_fault(body, refuse_supported=runner is not None)
    if fault.kind is FaultKind.REFUSE and fault.after == 0:
        # Nothing to wait for: the listener closes before this answer goes out, so the
        # caller's next connection is already refused.
        assert runner is not None
        runner.refuse(fault.fields["seconds"])
        return json_response(
            200, {"fault": {"kind": fault.kind, "path": fault.path, "after": 0, "count": 1, **fault.fields}}
        )
    armed = state.faults.arm(fault.kind, fault.path, fault.after, fault.count, fault.fields)
    return json_response(200, {"fault": armed.to_json()})
