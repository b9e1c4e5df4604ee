"""
Ledger writes that ride out a restart of Airflow's api-server or metadata database.

On Airflow 3 a task reaches its ``task_state_store`` through the api-server: the task's supervisor
makes the HTTP call, with Airflow's own retries (``[workers] execution_api_retries``, waiting
``execution_api_retry_wait_min`` to ``_max`` between them), and hands the task an
``AirflowRuntimeError`` when they run out. Each ledger write sets one key to one value, so doing it
again is harmless: :class:`LedgerWrites` tries again with backoff while the store is *unreachable*
(no connection, a timeout, a 5xx), for at most ``window`` seconds from the first failure, then
raises :class:`~airflow_provider_fullsms.exceptions.LedgerUnreachableError` naming what it was
recording and since when. Anything else -- a 404, 409 or 410 (Airflow shut this try out: another
try owns the task now), a value the store refuses, a bug -- is raised at once: waiting cannot fix
it. Between attempts the runner keeps collecting the answers of requests already out (``wait``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from airflow_provider_fullsms.connection import DEFAULT_WRITE_WINDOW, check_write_window
from airflow_provider_fullsms.exceptions import LedgerUnreachableError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

T = TypeVar("T")
__all__ = ["DEFAULT_WRITE_WINDOW", "LedgerWrites", "check_write_window", "store_unreachable"]

#: The first and the longest wait between two attempts (each attempt is itself up to
#: ``[workers] execution_api_retries`` HTTP requests by Airflow's client).
FIRST_WAIT, LONGEST_WAIT = 1.0, 10.0

# What Airflow's supervisor reports as ``exception_type`` when the HTTP call itself failed: the
# httpx transport errors (no answer, or none in time). Named, so this module imports no httpx.
_TRANSPORT_ERRORS = frozenset(
    {
        "ConnectError",
        "ConnectTimeout",
        "ReadError",
        "ReadTimeout",
        "WriteError",
        "WriteTimeout",
        "PoolTimeout",
        "RemoteProtocolError",
        "CloseError",
        "NetworkError",
        "TimeoutException",
    }
)

#: SQLAlchemy's errors for a database that could not be reached or dropped the connection.
_DATABASE_CONNECTION_ERRORS = frozenset({"OperationalError", "InterfaceError", "DisconnectionError"})


def store_unreachable(error: BaseException) -> bool:
    """
    Whether ``error`` means the state store could not be reached (worth waiting for), not a refusal.

    Airflow's Task SDK raises ``AirflowRuntimeError`` whose ``error`` is an ``ErrorResponse`` of
    type ``API_SERVER_ERROR``; its ``detail`` holds the api-server's ``status_code`` (5xx: the
    api-server or its database failed), or ``None`` with the ``exception_type`` of a transport
    error (``ConnectError`` while it restarts, ``ReadTimeout`` while it hangs) or an
    ``HTTPStatusError`` whose message starts with ``Server error`` (a 5xx without a JSON body).
    On Airflow 2 the store is the metadata database: SQLAlchemy's ``OperationalError`` or
    ``InterfaceError``. A store of another kind may raise :class:`ConnectionError` or
    :class:`TimeoutError`.
    """
    detail = _api_server_error(error)
    if detail is not None:
        status = detail.get("status_code")
        if isinstance(status, int):
            return status >= 500
        kind = detail.get("exception_type")
        if kind == "HTTPStatusError":
            return str(detail.get("message", "")).startswith("Server error")
        return kind in _TRANSPORT_ERRORS
    if type(error).__module__ == "sqlalchemy.exc":
        # Airflow 2 writes Variables (the ledger before 3.3) straight to the metadata database:
        # a restart or failover drops or refuses the connection.
        return type(error).__name__ in _DATABASE_CONNECTION_ERRORS
    # A broken pipe is the task's own supervisor gone: nothing to wait for.
    return isinstance(error, ConnectionError | TimeoutError) and not isinstance(error, BrokenPipeError)


def _api_server_error(error: BaseException) -> Mapping[str, object] | None:
    """The ``detail`` of a Task SDK ``API_SERVER_ERROR``, or ``None`` for any other error."""
    try:
        from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType
    except ImportError:  # the campaign engine without Airflow (tests of pure logic)
        return None
    if not isinstance(error, AirflowRuntimeError) or error.error.error != ErrorType.API_SERVER_ERROR:
        return None
    detail = error.error.detail
    return detail if isinstance(detail, dict) else {}


class LedgerWrites:
    """
    Calls to the state store, each tried again while the store is unreachable, within ``window``.

    The window counts from the first failure of an outage and ends it with
    :class:`LedgerUnreachableError`; a call that succeeds ends the outage. Once given up, each
    later call gets one attempt and no wait (the try is ending: what it still records is a bonus).

    :param window: seconds a call may be retried, from the first failure of an outage.
    :param log: receives a line when the store becomes unreachable and when it is back.
    :param clock: monotonic seconds; ``now``: the wall clock (UTC), for "since HH:MM:SS".
    :param sleep: how a wait is spent; the runner sets :attr:`wait` to collect answers meanwhile.
    """

    def __init__(
        self,
        window: float = DEFAULT_WRITE_WINDOW,
        *,
        log: Callable[[str], None] = lambda message: None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.window = check_write_window(window)
        self.log, self.clock, self.now, self.sleep = log, clock, now, sleep
        #: How the time between two attempts is spent (default: :attr:`sleep`).
        self.wait: Callable[[float], None] = sleep
        self._since: float | None = None  # clock() at the first failure of the current outage
        self._since_wall: datetime | None = None
        #: The error that ended this try's retries, once the window ran out.
        self.gave_up: LedgerUnreachableError | None = None

    @property
    def failing(self) -> bool:
        """Whether the store is unreachable right now (the last call failed and is being retried)."""
        return self._since is not None

    def call(self, action: Callable[[], T], what: str) -> T:
        """
        ``action()``, tried again while the store is unreachable, for the rest of the window.

        :param what: what the call records, for the messages, e.g. ``"recording batch 7 (accepted)"``.
        :raises LedgerUnreachableError: the store stayed unreachable for the whole window.
        """
        wait = FIRST_WAIT
        while True:
            # When this attempt began: an outage is dated from its first failed attempt's start
            # (Airflow's client spends its own retries before the attempt fails).
            began = (self.clock(), self.now()) if self._since is None else None
            try:
                result = action()
            except Exception as error:
                if not store_unreachable(error):
                    raise
                if self.gave_up is not None:
                    raise self.gave_up from error
                if began is not None:
                    self._since, self._since_wall = began
                    self.log(
                        f"api-server unreachable while {what} ({error}): no new batch starts until the "
                        "ledger can be written; requests already out are waited for; retrying for up to "
                        f"{self.window:g} s (ledger_write_window)."
                    )
                self._wait_or_give_up(error, what, wait)
                wait = min(wait * 2, LONGEST_WAIT)
                continue
            if self._since is not None and self.gave_up is None:
                self.log(f"The ledger can be written again, after {self.clock() - self._since:.0f} s.")
                self._since = self._since_wall = None
            return result

    def _wait_or_give_up(self, error: Exception, what: str, wait: float) -> None:
        assert self._since is not None
        spent = self.clock() - self._since
        if spent >= self.window:
            since = self._since_wall.strftime("%H:%M:%S") if self._since_wall else "?"
            self.gave_up = LedgerUnreachableError(
                f"api-server unreachable while {what} since {since} UTC: the task state store could not "
                f"be written for {spent:.0f} s (ledger_write_window={self.window:g} s); last error: {error}"
            )
            raise self.gave_up from error
        self.wait(min(wait, self.window - spent))
