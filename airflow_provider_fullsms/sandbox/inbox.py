"""
The inbox page at ``/``: what phones received, as a person wants to look at it.

Campaigns newest first (sender, text, recipients, segments, cost, scheduled or delivered), one
phone's thread (``/?phone=...``), search by number or text (``/?q=...``), the balance and the armed
faults at the top. It refreshes itself every few seconds. Everything it shows is escaped, and the
page needs no token and shows none. It renders :func:`~.inbox_view.inbox_view`, the same JSON as
``/_sandbox/messages?group=campaigns``.
"""

from __future__ import annotations

import secrets
from html import escape
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from airflow_provider_fullsms.sandbox.dependencies import Sandbox  # noqa: TC001 (FastAPI reads it at runtime)
from airflow_provider_fullsms.sandbox.inbox_view import NUMBER_LIMIT, inbox_view

#: Seconds between two refreshes of the page.
REFRESH_SECONDS = 3

router = APIRouter()

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:.8em 1.5em;display:flex;gap:1.5em;align-items:center}
header,#status{flex-wrap:wrap}
#status{display:flex;gap:.6em}
header h1{font-size:1.2em;margin:0}header a{color:#fff;text-decoration:none}
.chip{background:#2f3a4f;border-radius:1em;padding:.2em .8em}
.faults{background:#b3261e;border-radius:.4em;padding:.2em .8em}
form{margin:1em 1.5em}input[type=search]{width:24em;padding:.4em}main{margin:0 1.5em 2em}
.card{background:#fff;border-radius:.5em;padding:.8em 1em;margin:.8em 0;box-shadow:0 1px 2px #0002}
.meta{color:#555;font-size:.9em;display:flex;gap:1em;flex-wrap:wrap}
.text{white-space:pre-wrap;margin:.5em 0;font-size:1.05em}
.numbers a{display:inline-block;margin:.1em .3em .1em 0;font-family:monospace}
.scheduled{color:#a65c00;font-weight:600}.delivered{color:#146c2e;font-weight:600}
.thread{max-width:40em}.bubble{background:#e8f0fe;border-radius:1em;padding:.6em 1em;margin:.6em 0}
.empty{color:#555;margin:2em 0}
"""

# Reloads the page in the background and swaps <main> and the header, so the search box keeps
# what is being typed. No data is ever put into this script.
_SCRIPT = """
setInterval(async () => {
  if (document.hidden) return;
  try {
    const response = await fetch(location.href, {headers: {"Accept": "text/html"}});
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const id of ["status", "inbox"]) {
      const now = document.getElementById(id), next = fresh.getElementById(id);
      if (now && next && now.innerHTML !== next.innerHTML) now.innerHTML = next.innerHTML;
    }
  } catch (error) { /* the sandbox is restarting: try again at the next tick */ }
}, %d);
"""


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


def _link(text: str, **params: str) -> str:
    return f"<a href='/?{escape(urlencode(params))}'>{escape(text)}</a>"


def _status(view: dict[str, Any]) -> str:
    parts = [
        f"<span class='chip'>balance {escape(entry['account'])}: "
        f"<b>{escape(str(entry['balance']))}</b></span>"
        for entry in view["balances"]
    ]
    if view["faults"]:
        faults = ", ".join(
            escape(f"{fault['kind']} on {fault['path'] or 'every path'} ({fault['seen']} seen)")
            for fault in view["faults"]
        )
        parts.append(f"<span class='faults'>{len(view['faults'])} fault(s) armed: {faults}</span>")
    else:
        parts.append("<span class='chip'>no faults armed</span>")
    return "".join(parts)


def _when(entry: dict[str, Any]) -> str:
    if entry["status"] == "scheduled":
        return f"<span class='scheduled'>scheduled for {escape(str(entry['send_at']))} UTC</span>"
    return f"<span class='delivered'>delivered {escape(str(entry['delivered_at']))} UTC</span>"


def _campaign_card(campaign: dict[str, Any]) -> str:
    numbers = "".join(_link(number, phone=number) for number in campaign["numbers"])
    more = campaign["recipients"] - len(campaign["numbers"])
    if more > 0:
        numbers += f" <span class='meta'>and {more} more</span>"
    label = "OTP" if campaign["kind"] == "otp" else "campaign"
    return (
        f"<article class='card campaign' data-id='{escape(str(campaign['id']))}'>"
        f"<div class='meta'><b>{label} {escape(str(campaign['id']))}</b>"
        f"<span>from <b>{escape(campaign['sender'])}</b></span>"
        f"<span>{campaign['recipients']} recipient(s)</span>"
        f"<span>{campaign['segments']} segment(s), {escape(campaign['encoding'])}</span>"
        f"<span>cost {escape(str(campaign['cost']))}</span>{_when(campaign)}</div>"
        f"<div class='text'>{escape(campaign['text'])}</div>"
        f"<div class='numbers'>{numbers}</div></article>"
    )


def _thread(view: dict[str, Any]) -> str:
    phone = view["phone"]
    parts = [f"<p>{_link('all campaigns')}</p><h2>Thread with {escape(phone)}</h2><div class='thread'>"]
    for message in view["thread"]:
        parts.append(
            f"<div class='bubble'><div class='meta'><b>{escape(message['from'])}</b>{_when(message)}"
            f"<span>{message['segments']} segment(s), {escape(message['encoding'])}</span></div>"
            f"<div class='text'>{escape(message['text'])}</div></div>"
        )
    if not view["thread"]:
        parts.append(f"<p class='empty'>No message to {escape(phone)} yet.</p>")
    parts.append("</div>")
    return "".join(parts)


def _campaigns(view: dict[str, Any]) -> str:
    matched, shown = view["campaigns_matched"], len(view["campaigns"])
    if view["q"]:
        summary = f"{matched} campaign(s) match {escape(repr(view['q']))}. {_link('Clear the search')}"
    else:
        summary = f"{matched} campaign(s), newest first."
    if shown < matched:
        summary += f" Showing the newest {shown}."
    parts = [f"<p class='summary'>{summary} Numbers: at most {NUMBER_LIMIT} per campaign.</p>"]
    parts.extend(_campaign_card(campaign) for campaign in view["campaigns"])
    if not matched:
        parts.append("<p class='empty'>Nothing here yet: send a message to the sandbox.</p>")
    return "".join(parts)


def render_inbox(view: dict[str, Any], *, nonce: str) -> str:
    """
    The inbox page for a view built by :func:`~.inbox_view.inbox_view`, everything escaped.

    :param view: what to show.
    :param nonce: the Content-Security-Policy nonce of the page's style and script.
    """
    query = escape(view["q"] or "")
    body = _thread(view) if "phone" in view else _campaigns(view)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>FullSMS sandbox inbox</title>"
        f"<style nonce='{nonce}'>{_STYLE}</style></head><body>"
        "<header><h1><a href='/'>FullSMS sandbox inbox</a></h1>"
        f"<div id='status'>{_status(view)}</div></header>"
        "<form method='get' action='/' role='search'>"
        f"<input type='search' name='q' value='{query}' placeholder='Search a number or text' "
        "aria-label='Search a number or text'> <button type='submit'>Search</button></form>"
        f"<main id='inbox'>{body}</main>"
        f"<script nonce='{nonce}'>{_SCRIPT % (REFRESH_SECONDS * 1000)}</script></body></html>"
    )
