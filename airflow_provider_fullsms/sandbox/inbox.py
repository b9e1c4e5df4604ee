"""The inbox page at ``/``: every message a phone received, grouped per number, as plain HTML."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from airflow_provider_fullsms.sandbox.dependencies import Sandbox  # noqa: TC001 (FastAPI reads it at runtime)

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.state import SandboxState

#: The page shows at most this many of the newest messages, so it stays quick after a benchmark.
INBOX_LIMIT = 2000

router = APIRouter()


@router.get("/", include_in_schema=False)
async def inbox(state: Sandbox) -> HTMLResponse:
    return HTMLResponse(render_inbox(state))


def render_inbox(state: SandboxState) -> str:
    """The inbox page: the newest :data:`INBOX_LIMIT` messages, grouped per phone number, all text escaped.

    :param state: the sandbox state.
    """
    messages = state.latest_messages(INBOX_LIMIT)
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
