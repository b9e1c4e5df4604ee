"""Assembling the sandbox's ASGI app: the routers, the vendor-shaped error answers, the fault middleware.

The routes live in one router module per area: :mod:`~.account_api`, :mod:`~.send_api` and
:mod:`~.otp_api` (the FullSMS API as documented), :mod:`~.control_api` (``/_sandbox/``) and
:mod:`~.inbox` (the page at ``/``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_fullsms.sandbox import account_api, control_api, inbox, otp_api, send_api
from airflow_provider_fullsms.sandbox.faults import SandboxMiddleware
from airflow_provider_fullsms.sandbox.responses import INTERNAL_ERROR, Refusal, field_errors, json_response

if TYPE_CHECKING:
    import asyncio

    from fastapi import Request
    from fastapi.responses import Response

    from airflow_provider_fullsms.sandbox.faults import RefuseController
    from airflow_provider_fullsms.sandbox.state import SandboxState


async def _on_refusal(request: Request, exc: Refusal) -> Response:
    return exc.response


async def _on_validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors: dict[str, list[str]] = {}
    for error in exc.errors():
        name = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query"))
        errors.setdefault(name or "body", []).append(f"The {name or 'body'} is invalid.")
    return field_errors(errors)


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    return json_response(exc.status_code, {"status_code": exc.status_code, "message": str(exc.detail)})


async def _on_any_error(request: Request, exc: Exception) -> Response:
    return json_response(500, INTERNAL_ERROR)


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
        # No answer is ever FastAPI's {"detail": ...} or a traceback.
        exception_handlers={
            Refusal: _on_refusal,
            RequestValidationError: _on_validation_error,
            StarletteHTTPException: _on_http_error,
            Exception: _on_any_error,
        },
    )
    # Read by the routers through the dependencies of dependencies.py.
    app.state.sandbox = state
    app.state.runner = runner
    # The order of the routers is the order of /openapi.json.
    for router_module in (account_api, send_api, otp_api, control_api, inbox):
        app.include_router(router_module.router)
    return app


def build_asgi(
    state: SandboxState,
    runner: RefuseController | None = None,
    transports: dict[tuple[Any, Any], asyncio.Transport] | None = None,
) -> SandboxMiddleware:
    """The complete ASGI application: :func:`create_app` wrapped in :class:`~.faults.SandboxMiddleware`.

    :param state: the sandbox state.
    :param runner: see :class:`~.faults.SandboxMiddleware`.
    :param transports: see :class:`~.faults.SandboxMiddleware`.
    """
    return SandboxMiddleware(create_app(state, runner), state, runner, transports)
