"""Helpers for tests, the demo and benchmarks: drive a sandbox and run one as a real process.

Import-light on purpose (only ``requests`` and the standard library): a test module can import
it without pulling in FastAPI or uvicorn.

Example::

    with SandboxProcess(balance=10) as sandbox:
        requests.post(f"{sandbox.url}/messages/send/to_numbers", ...)
        assert sandbox.client.messages(to="972541111111")
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import requests

from airflow_provider_fullsms.sandbox import DEFAULT_TOKEN, INSPECTION_HEADER

if TYPE_CHECKING:
    from types import TracebackType

_LISTENING = re.compile(r"FullSMS sandbox listening on (\S+) \(token: (\S+)\)")


class SandboxClient:
    """Talks to a running sandbox's ``/_sandbox/`` API.

    :param url: the sandbox's base URL, e.g. ``http://127.0.0.1:8025``.
    :param token: a token of the sandbox (default ``sandbox-token``).
    """

    def __init__(self, url: str, token: str = DEFAULT_TOKEN) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self._session = requests.Session()
        # The marker header keeps these calls (balance() uses the vendor API) out of the request
        # counts and out of reach of armed faults.
        self._session.headers.update(
            {"Authorization": f"Bearer {token}", "Accept": "application/json", INSPECTION_HEADER: "1"}
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._session.request(method, f"{self.url}{path}", timeout=30, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(
                f"sandbox {method} {path} answered {response.status_code}: {response.text[:500]}"
            )
        return response.json()

    def messages(self, *, to: str | None = None, campaign_id: str | None = None) -> list[dict[str, Any]]:
        """Messages phones received or will receive (scheduled), oldest first.

        :param to: only messages to this number.
        :param campaign_id: only messages of this campaign.
        """
        params = {
            key: value for key, value in (("to", to), ("campaign_id", campaign_id)) if value is not None
        }
        return list(self._request("GET", "/_sandbox/messages", params=params)["messages"])

    def inbox(self, *, q: str | None = None, phone: str | None = None) -> dict[str, Any]:
        """What the inbox page shows, as JSON: ``balances``, ``faults``, ``campaigns`` (newest first).

        :param q: search campaigns by text or by (part of) a number.
        :param phone: also return ``thread``, every message to this number.
        """
        params = {"group": "campaigns", **({"q": q} if q else {}), **({"to": phone} if phone else {})}
        return dict(self._request("GET", "/_sandbox/messages", params=params))

    def requests_count(self, path: str | None = None) -> int:
        """How many vendor-API requests the sandbox received since the last reset.

        :param path: only this vendor path (``"/messages/send/to_numbers"``; the leading slash is optional).
        """
        data = self._request("GET", "/_sandbox/requests")
        if path is None:
            return int(data["total"])
        return int(data["requests"].get("/" + path.strip("/"), 0))

    def balance(self) -> float:
        """The balance, read through the vendor's ``GET account/balance``."""
        return float(self._request("GET", "/account/balance")["balance"])

    def set_balance(self, balance: float) -> None:
        """Set the account balance.

        :param balance: the new balance.
        """
        self._request("PUT", "/_sandbox/balance", json={"balance": balance})

    def set_unreachable(self, numbers: list[str]) -> None:
        """Make ``numbers`` phones that cannot receive messages (FullSMS's 422 ``to_numbers.N``)."""
        self._request("PUT", "/_sandbox/unreachable", json={"numbers": numbers})

    def reset(self) -> None:
        """Return the sandbox to its seed: balance, empty inbox, no OTPs, faults or request counts."""
        self._request("POST", "/_sandbox/reset")

    def inject_fault(
        self, kind: str, *, path: str | None = None, after: int = 0, count: int = 1, **fields: Any
    ) -> None:
        """Arm a fault; see ``docs/sandbox.md`` for the kinds and their fields.

        :param kind: ``latency``, ``rate_limit``, ``rate_limit_html``, ``error``, ``echo``,
            ``bad_balance``, ``drop``, ``slow`` or ``refuse``.
        :param path: the vendor path it applies to (default: every vendor path).
        :param after: matching requests to let through first.
        :param count: matching requests it hits.
        :param fields: ``ms``, ``retry_after``, ``status`` or ``seconds``, by kind.
        """
        body: dict[str, Any] = {"kind": kind, "after": after, "count": count, **fields}
        if path is not None:
            body["path"] = path
        self._request("POST", "/_sandbox/faults", json=body)

    def faults(self) -> list[dict[str, Any]]:
        """The armed faults."""
        return list(self._request("GET", "/_sandbox/faults")["faults"])

    def clear_faults(self) -> None:
        """Disarm every fault."""
        self._request("DELETE", "/_sandbox/faults")

    def connection(self) -> dict[str, Any]:
        """
        The Airflow connection for this sandbox's account, as the sandbox answers it
        (``GET /_sandbox/connection``): host, token, ``default_sender``, and the account's
        ``price_per_segment`` and ``minimum_balance`` as extras.
        """
        connection: dict[str, Any] = self._request("GET", "/_sandbox/connection")
        return {**connection, "host": self.url, "password": self.token}

    def connection_uri(self) -> str:
        """:meth:`connection` as JSON, for ``AIRFLOW_CONN_FULLSMS_DEFAULT``."""
        return json.dumps(self.connection())


class SandboxProcess:
    """Run ``python -m airflow_provider_fullsms.sandbox --port 0`` as a real process.

    On entering, waits for the announced URL and for the server to answer; on leaving (also
    after a failure) terminates the process by its PID, killing it if it does not stop.

    :param balance: starting balance (``--balance``).
    :param state: path of a state file (``--state``).
    :param token: API token (``--token``).
    :param host: address to listen on.
    :param extra_args: more command-line arguments.
    :param startup_timeout: seconds to wait for the server to answer.
    """

    def __init__(
        self,
        *,
        balance: float | None = None,
        state: str | os.PathLike[str] | None = None,
        token: str | None = None,
        host: str = "127.0.0.1",
        extra_args: list[str] | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.args = [sys.executable, "-m", "airflow_provider_fullsms.sandbox", "--host", host, "--port", "0"]
        if balance is not None:
            self.args += ["--balance", str(balance)]
        if state is not None:
            self.args += ["--state", os.fspath(state)]
        if token is not None:
            self.args += ["--token", token]
        self.args += extra_args or []
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.token = ""
        self._stderr: list[str] = []
        self._client: SandboxClient | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the sandbox process is not running")
        return self.process.pid

    @property
    def client(self) -> SandboxClient:
        if self._client is None:
            self._client = SandboxClient(self.url, self.token)
        return self._client

    def start(self) -> SandboxProcess:
        """Start the process and wait until it answers."""
        self.process = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        lines: queue.Queue[str] = queue.Queue()
        stdout, stderr = self.process.stdout, self.process.stderr

        # Reader threads keep draining both pipes for the whole life of the process, so a chatty
        # server can never block on a full pipe.
        def pump_stdout() -> None:
            for line in stdout:
                lines.put(line)

        def pump_stderr() -> None:
            for line in stderr:
                self._stderr.append(line)
                del self._stderr[:-200]

        threading.Thread(target=pump_stdout, daemon=True).start()
        threading.Thread(target=pump_stderr, daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout
        while not self.url:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the sandbox exited with {self.process.returncode}: {''.join(self._stderr)}"
                )
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"the sandbox did not announce its URL: {''.join(self._stderr)}"
                    ) from None
                continue
            match = _LISTENING.search(line)
            if match:
                self.url, self.token = match.group(1), match.group(2)
        while True:
            try:
                requests.get(f"{self.url}/openapi.json", timeout=2).raise_for_status()
                return
            except requests.RequestException:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the process by PID; kill it if it has not stopped after ``timeout`` seconds."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    @property
    def stderr(self) -> str:
        """What the server wrote to stderr so far (the last 200 lines)."""
        return "".join(self._stderr)

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


class MemoryStateStore:
    """
    An in-memory stand-in for ``context["task_state_store"]`` with the ``get``/``set`` the ledger uses.

    For tests, and for calling an operator's ``execute()`` by hand while keeping a ledger between
    two calls (a simulated retry). Values are copied through JSON, as the real store does.
    """

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(self.data[key]) if key in self.data else default

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        if value is None:
            raise ValueError("Cannot set value as None")
        self.data[key] = json.dumps(value)
