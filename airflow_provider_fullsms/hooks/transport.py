"""
How one FullSMS API call travels: its attempts, and what a failure below HTTP means.

:class:`ApiCall` is the one retry core both hooks drive. It holds no socket and never sleeps: the
sync hook sends with ``requests`` and sleeps with ``time.sleep``, the async hook sends with
``httpx`` and sleeps with ``asyncio.sleep``, and both ask the same :class:`ApiCall` how to read the
answer and whether, and how long, to wait before trying again. Whether an error may be retried
is decided in :mod:`airflow_provider_fullsms.policy`, never here.

``requests`` and ``httpx`` are imported only inside the function that classifies their errors.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_fullsms.policy import (
    TransportFailure,
    error_for_transport,
    is_idempotent,
    read_response,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import requests

    from airflow_provider_fullsms.connection import ConnectionConfig
    from airflow_provider_fullsms.exceptions import FullSmsError
    from airflow_provider_fullsms.policy import RetryPolicy


class Response(Protocol):
    """What :meth:`ApiCall.read` needs of a ``requests`` or ``httpx`` response."""

    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


class RetryLog(Protocol):
    """Where a retry is reported: a hook's ``log``."""

    def warning(self, msg: str, /, *args: Any) -> Any: ...


class ApiCall:
    """
    One API call across all its attempts: the retry loop's bookkeeping, without the I/O.

    A hook drives it like this (``asyncio.sleep`` and ``await`` in the async hook)::

        call = ApiCall("GET", "account/balance", policy, self.log, secrets=(config.token,))
        while True:
            try:
                return call.read(send())
            except FullSmsError as error:
                time.sleep(call.wait_before_retry(error))

    :param method: the HTTP method; it says whether the call may be repeated
        (:func:`~airflow_provider_fullsms.policy.is_idempotent`).
    :param path: the path below the base URL, e.g. ``account/balance``.
    :param policy: the bounds of retries for this call.
    :param log: where each retry is reported.
    :param secrets: values redacted from any response text an error keeps: the API token.
    """

    def __init__(
        self, method: str, path: str, policy: RetryPolicy, log: RetryLog, *, secrets: Sequence[str] = ()
    ) -> None:
        self.what = f"{method} {path}"
        self.idempotent = is_idempotent(method)
        self.policy = policy
        self.log = log
        self.secrets = tuple(secrets)
        #: The attempt under way: 1 for the first.
        self.attempt = 1
        self._started = time.monotonic()

    def read(self, response: Response) -> Any:
        """The decoded JSON of a 2xx answer; for any other status, raise the policy's error."""
        return read_response(
            response.status_code,
            response.content,
            response.headers,
            what=self.what,
            idempotent=self.idempotent,
            secrets=self.secrets,
        )

    def transport_error(self, failure: TransportFailure, detail: str) -> FullSmsError:
        """The error for an attempt that got no HTTP answer (see :func:`requests_failure`)."""
        return error_for_transport(failure, detail, what=self.what, idempotent=self.idempotent)

    def wait_before_retry(self, error: FullSmsError) -> float:
        """
        Seconds to sleep before the next attempt, logged; re-raise ``error`` if there is none.

        :param error: what the attempt just made raised.
        :raises FullSmsError: ``error`` itself, when the policy says not to try again.
        """
        wait = self.policy.delay_before_retry(error, self.attempt, time.monotonic() - self._started)
        if wait is None:
            raise error
        self.attempt += 1
        self.log.warning(
            "FullSMS %s failed (%s); trying again in %.1fs (attempt %d)", self.what, error, wait, self.attempt
        )
        return wait


def no_redirect_session() -> requests.Session:
    """
    A ``requests`` session that never follows a redirect, whoever calls it and however.

    ``allow_redirects=False`` alone is not enough: ``requests`` still reads a 3xx's ``Location``
    to offer it as ``response.next``, and one that is not UTF-8 raises a bare
    ``UnicodeDecodeError`` from inside the call. This session finds no redirect target at all, so
    every 3xx comes back as it is, for :func:`~airflow_provider_fullsms.policy.read_response`.
    """
    return _no_redirect_session_class()()


@functools.cache
def _no_redirect_session_class() -> type[requests.Session]:
    import requests

    class NoRedirectSession(requests.Session):
        def get_redirect_target(self, resp: requests.Response) -> None:
            return None  # never follow, never even read the Location: policy.py maps a 3xx

    return NoRedirectSession


def requests_failure(exc: Exception, config: ConnectionConfig) -> tuple[TransportFailure, str]:
    """
    Classify a ``requests`` exception without ever quoting request headers.

    :return: what happened, and a short description for the error message.
    """
    import requests
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    if isinstance(exc, requests.ConnectTimeout):
        return TransportFailure.NOT_CONNECTED, f"connect timed out after {config.connect_timeout:g}s"
    if isinstance(exc, requests.ReadTimeout):
        return TransportFailure.READ_TIMEOUT, f"no answer within {config.timeout:g}s"
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, NewConnectionError | NameResolutionError):
        return TransportFailure.NOT_CONNECTED, f"{type(reason).__name__} to {config.base_url}"
    return TransportFailure.DROPPED, type(exc).__name__


def httpx_failure(exc: Exception, config: ConnectionConfig) -> tuple[TransportFailure, str]:
    """Classify an ``httpx`` exception the way :func:`requests_failure` does for requests."""
    import httpx

    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return TransportFailure.NOT_CONNECTED, f"{type(exc).__name__} to {config.base_url}"
    if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout):
        return TransportFailure.READ_TIMEOUT, f"no answer within {config.timeout:g}s"
    return TransportFailure.DROPPED, type(exc).__name__


__all__ = ["ApiCall", "httpx_failure", "no_redirect_session", "requests_failure"]
