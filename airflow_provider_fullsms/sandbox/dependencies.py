"""What the routers get from FastAPI: the sandbox state, the ``refuse`` runner, and the caller's account.

The state and runner live on ``app.state`` (set by :func:`~.app.create_app`), so a router holds
no closure over them and one router module serves any app.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from airflow_provider_fullsms.sandbox import DEFAULT_TOKEN
from airflow_provider_fullsms.sandbox.faults import RefuseController
from airflow_provider_fullsms.sandbox.responses import ACCESS_DENIED, UNAUTHENTICATED, Refusal, json_response
from airflow_provider_fullsms.sandbox.seed import Account
from airflow_provider_fullsms.sandbox.state import SandboxState

#: For a route's ``dependencies=``: puts the Bearer scheme in ``/openapi.json``. It checks nothing
#: (``auto_error=False``); :func:`vendor_account` and :func:`sandbox_account` answer in the vendor's shape.
SECURED = [
    Depends(HTTPBearer(auto_error=False, description=f"The sandbox token (default: {DEFAULT_TOKEN})."))
]


# The dependencies are coroutines so FastAPI calls them on the event loop instead of a thread pool.


async def sandbox_state(request: Request) -> SandboxState:
    """The app's :class:`~.state.SandboxState`."""
    state: SandboxState = request.app.state.sandbox
    return state


async def refuse_runner(request: Request) -> RefuseController | None:
    """The process runner that opens ``refuse`` windows; ``None`` when the app runs without one."""
    runner: RefuseController | None = request.app.state.runner
    return runner


async def _authenticated(request: Request, *, need_rights: bool) -> Account:
    found = (await sandbox_state(request)).authenticate(request.headers.get("authorization"))
    if found is None:
        raise Refusal(json_response(403, UNAUTHENTICATED))
    account, rights = found
    if need_rights and not rights:
        raise Refusal(json_response(403, ACCESS_DENIED))
    return account


async def vendor_account(request: Request) -> Account:
    """The account of the Bearer token; a token without rights gets ``403 Access Denied``."""
    return await _authenticated(request, need_rights=True)


async def sandbox_account(request: Request) -> Account:
    """The account of the Bearer token for ``/_sandbox/`` calls (any valid token will do)."""
    return await _authenticated(request, need_rights=False)


Sandbox = Annotated[SandboxState, Depends(sandbox_state)]
Runner = Annotated[RefuseController | None, Depends(refuse_runner)]
VendorAccount = Annotated[Account, Depends(vendor_account)]
SandboxAccount = Annotated[Account, Depends(sandbox_account)]
