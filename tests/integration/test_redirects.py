"""
A connection whose address redirects: over real HTTP, nothing is sent where the redirect points.

A small server on loopback answers every request with a redirect to the running sandbox (the
classic: an ``http://`` address that answers ``308`` to ``https://``). The sandbox must see no
request at all, and the task must fail at once, naming where the redirect pointed.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_fullsms.exceptions import FullSmsRedirectError
from airflow_provider_fullsms.hooks.fullsms import FullSmsHook
from airflow_provider_fullsms.operators.fullsms import FullSmsSendToNumbersOperator
from airflow_provider_fullsms.sandbox.testing import MemoryStateStore
from tests.conftest import SANDBOX_TOKEN, connection_json

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_fullsms.sandbox.testing import SandboxClient, SandboxProcess


class Redirector(BaseHTTPRequestHandler):
    """Answers every request with ``status`` to the same path on ``target``."""

    status: ClassVar[int] = 308
    target: ClassVar[str] = ""
    seen: ClassVar[list[str]] = []

    def _redirect(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        type(self).seen.append(f"{self.command} {self.path}")
        self.send_response(type(self).status)
        self.send_header("Location", f"{type(self).target}{self.path}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _redirect

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test asserts on what it saw."""


@pytest.fixture
def redirecting(
    sandbox: SandboxProcess, sandbox_conn: SandboxClient, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SandboxClient]:
    """``fullsms_default`` at a loopback address that redirects every request to the sandbox."""
    Redirector.target, Redirector.seen = sandbox.url, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_FULLSMS_DEFAULT", connection_json(url, SANDBOX_TOKEN, default_sender="COPERATO")
    )
    try:
        yield sandbox_conn
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_send_through_a_redirecting_address_reaches_nobody(redirecting: SandboxClient, status: int) -> None:
    Redirector.status = status
    with pytest.raises(FullSmsRedirectError, match=r"redirects to http://127\.0\.0\.1:\d+\. Redirects"):
        FullSmsHook().send_to_numbers(["447700900001"], message="Hi")
    assert Redirector.seen == ["POST /messages/send/to_numbers"]  # once: no retry, no follow
    assert redirecting.requests_count() == 0
    assert redirecting.messages() == []


def test_the_send_operator_fails_at_once_and_the_numbers_never_leave(redirecting: SandboxClient) -> None:
    Redirector.status = 308
    numbers = ["+447700900001", "+447700900002"]
    op = FullSmsSendToNumbersOperator(task_id="send", numbers=numbers, message="Hi")
    with pytest.raises(AirflowFailException, match="set the connection's host"):
        op.execute({"task_state_store": MemoryStateStore()})
    # The sender check (a read) was the first request: it failed on the redirect before any send.
    assert [seen.split()[0] for seen in Redirector.seen] == ["GET"]
    assert redirecting.requests_count() == 0
    assert redirecting.messages() == []
