"""
The inbox page at ``/``: what phones received, as a person wants to look at it.

Campaigns newest first (sender, text, recipients, segments, cost, scheduled or delivered), one
phone's thread (``/?phone=...``), search by number or text (``/?q=...``), the balance and the armed
faults at the top. It refreshes itself every few seconds. Everything it shows is escaped (the
Jinja2 template ``templates/inbox.html``, autoescaped), and the page needs no token and shows none.
It renders :func:`~.inbox_view.inbox_view`, the same JSON as ``/_sandbox/messages?group=campaigns``.
"""

from __future__ import annotations

import secrets
from functools import cache
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from airflow_provider_fullsms.sandbox.dependencies import Sandbox  # noqa: TC001 (FastAPI reads it at runtime)
from airflow_provider_fullsms.sandbox.inbox_view import NUMBER_LIMIT, inbox_view

if TYPE_CHECKING:
    from jinja2 import Environment

#: Seconds between two refreshes of the page.
REFRESH_SECONDS = 3

router = APIRouter()


@cache
def _environment() -> Environment:
    """The page's template, loaded on the first request."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    environment = Environment(
        loader=PackageLoader("airflow_provider_fullsms.sandbox", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["pyrepr"] = repr  # a search shown as typed, quotes and all
    return environment


@router.get("/", include_in_schema=False)
async def inbox(state: Sandbox, q: str | None = None, phone: str | None = None) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    return HTMLResponse(
        render_inbox(inbox_view(state, q=q, phone=phone), nonce=nonce),
        headers={
            # Defence in depth beside escaping: only this page's own script may run.
            "Content-Security-Policy": (
                f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
                "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
            ),
            "Cache-Control": "no-store",
        },
    )


def render_inbox(view: dict[str, Any], *, nonce: str) -> str:
    """
    The inbox page for a view built by :func:`~.inbox_view.inbox_view`, everything escaped.

    :param view: what to show.
    :param nonce: the Content-Security-Policy nonce of the page's style and script.
    """
    template = _environment().get_template("inbox.html")
    return template.render(
        view=view, nonce=nonce, number_limit=NUMBER_LIMIT, refresh_ms=REFRESH_SECONDS * 1000
    )
