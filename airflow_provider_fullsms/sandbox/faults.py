"""Faults on the wire: checking a ``POST /_sandbox/faults`` body, and the middleware that plays armed faults.

The middleware also counts vendor requests and delivers due scheduled messages, because it is
the one place every request passes through before FastAPI routes it.
"""

from __future__ import annotations

import asyncio
import html
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Protocol

from fastapi.responses import Response

from airflow_provider_fullsms.sandbox import INSPECTION_HEADER
from airflow_provider_fullsms.sandbox.armed_faults import FAULT_FIELDS, FaultKind
from airflow_provider_fullsms.sandbox.records import VENDOR_PATHS
from airflow_provider_fullsms.sandbox.responses import (
    INTERNAL_ERROR,
    SERVICE_UNAVAILABLE,
    TOO_MANY_REQUESTS,
    Refusal,
    field_errors,
    json_response,
)

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from airflow_provider_fullsms.sandbox.state import SandboxState

#: The inspection header as it appears in an ASGI scope (lower-cased bytes).
_INSPECTION = (INSPECTION_HEADER.lower().encode(), b"1")
#: Bounds of every numeric fault field (``ms``, ``retry_after``, ``status``, ``seconds``).
_FIELD_RANGE = (0, 3600)
#: What nginx (and many CDNs in front of an API) answer when they rate-limit: no JSON at all.
RATE_LIMIT_PAGE = (
    "<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
    "<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
#: A balance no account can have: JSON's non-standard NaN literal, as a buggy upstream may send.
BAD_BALANCE_BODY = b'{"balance": NaN}'


class RefuseController(Protocol):
    """What the app needs from the process running it to open a ``refuse`` window."""

    def refuse(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class FaultRequest:
    """A checked ``POST /_sandbox/faults`` body."""

    kind: FaultKind
    path: str | None
    after: int
    count: int
    fields: dict[str, float]


def parse_fault(body: dict[str, Any], *, refuse_supported: bool) -> FaultRequest:
    """Check a ``POST /_sandbox/faults`` body.

    :param body: the request body.
    :param refuse_supported: whether a runner can open ``refuse`` windows.
    :raises Refusal: with the 422 naming every field at fault.
    """
    errors: dict[str, list[str]] = {}
    raw_kind = body.get("kind")
    if not isinstance(raw_kind, str) or raw_kind not in FAULT_FIELDS:
        raise Refusal(field_errors({"kind": [f"The kind must be one of: {', '.join(FaultKind)}."]}))
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
    low, high = _FIELD_RANGE
    fields: dict[str, float] = {}
    for name, default in FAULT_FIELDS[kind].items():
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            errors[name] = [f"The {name} must be a number from {low} to {high}."]
        else:
            fields[name] = value
    if kind is FaultKind.ERROR and fields.get("status") not in (500, 503):
        errors["status"] = ["The status must be 500 or 503."]
    if kind is FaultKind.ECHO and not 400 <= fields.get("status", 0) <= 599:
        errors["status"] = ["The status must be from 400 to 599."]
    unknown = set(body) - {"kind", "path", "after", "count", *FAULT_FIELDS[kind]}
    for name in sorted(unknown):
        errors[name] = [f"The {name} field is not used by {kind} faults."]
    if kind is FaultKind.REFUSE and not refuse_supported:
        errors["kind"] = [
            "refuse faults need the sandbox to run as `fullsms-sandbox` (it restarts the listener)."
        ]
    if errors:
        raise Refusal(field_errors(errors))
    return FaultRequest(kind, path, after, count, fields)


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
        if path not in VENDOR_PATHS or _INSPECTION in scope["headers"]:
            await self.app(scope, receive, send)
            return
        state.count_request(path)
        hits = state.faults.hitting(path)
        if not hits:
            await self.app(scope, receive, send)
            return
        for fault in hits:
            if fault.kind == FaultKind.LATENCY:
                await asyncio.sleep(fault.fields["ms"] / 1000)
        # A refuse window opens after this request is answered, whatever else hit it.
        refuse = next((fault for fault in hits if fault.kind == FaultKind.REFUSE), None)
        terminal = next(
            (fault for fault in hits if fault.kind not in (FaultKind.LATENCY, FaultKind.REFUSE)), None
        )
        if terminal is None:
            await self.app(scope, receive, send)
        elif terminal.kind == FaultKind.RATE_LIMIT:
            headers = _retry_after(terminal.fields["retry_after"])
            await json_response(429, TOO_MANY_REQUESTS, headers=headers)(scope, receive, send)
        elif terminal.kind == FaultKind.RATE_LIMIT_HTML:
            headers = _retry_after(terminal.fields["retry_after"])
            await Response(RATE_LIMIT_PAGE, 429, headers, media_type="text/html")(scope, receive, send)
        elif terminal.kind == FaultKind.ECHO:
            await echo_page(scope, int(terminal.fields["status"]))(scope, receive, send)
        elif terminal.kind == FaultKind.BAD_BALANCE:
            await Response(BAD_BALANCE_BODY, 200, media_type="application/json")(scope, receive, send)
        elif terminal.kind == FaultKind.ERROR:
            status = int(terminal.fields["status"])
            body = INTERNAL_ERROR if status == 500 else SERVICE_UNAVAILABLE
            await json_response(status, body)(scope, receive, send)
        elif terminal.kind == FaultKind.DROP:
            await self._drop(scope, receive, send)
        elif terminal.kind == FaultKind.SLOW:
            await self._slow(scope, receive, send, terminal.fields["seconds"])
        if refuse is not None and self.runner is not None:
            self.runner.refuse(refuse.fields["seconds"])

    async def _slow(self, scope: Scope, receive: Receive, send: Send, seconds: float) -> None:
        """Handle the request for real, but hold the response back for ``seconds``."""

        async def send_late(message: Message) -> None:
            if message["type"] == "http.response.start":
                await asyncio.sleep(seconds)
            await send(message)

        await self.app(scope, receive, send_late)

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


def _retry_after(seconds: float) -> dict[str, str]:
    """The ``Retry-After`` header of a rate limit, in delta-seconds."""
    return {"Retry-After": str(int(seconds)) if seconds == int(seconds) else str(seconds)}


def echo_page(scope: Scope, status: int) -> Response:
    """
    A misconfigured proxy's error page that quotes the request back, headers included.

    Such pages put the caller's ``Authorization`` header (the API token) in the response body,
    which is why the provider redacts every response text it keeps.

    :param scope: the request, as ASGI gives it.
    :param status: the status the proxy answers with.
    """
    try:
        phrase = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:  # a proxy's own status, such as Cloudflare's 520
        phrase = str(status)
    request_line = f"{scope['method']} {scope['path']} HTTP/{scope.get('http_version', '1.1')}"
    headers = "\n".join(f"{k.decode('latin-1')}: {v.decode('latin-1')}" for k, v in scope["headers"])
    page = (
        f"<html><head><title>{phrase}</title></head><body><h1>{phrase}</h1>"
        f"<p>The upstream server did not answer this request:</p>"
        f"<pre>{html.escape(request_line)}\n{html.escape(headers)}</pre></body></html>"
    )
    return Response(page, status, media_type="text/html")
