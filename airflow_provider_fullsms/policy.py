"""
The one place that decides what is safe to retry.

A request either changes nothing (reads: balance, lists, OTP search) or may text someone
(sends, OTP create/verify/cancel). Reads are retried on anything transient. A write is retried
only when FullSMS provably did not act on it:

========================================  ============  =========================
what happened                             read          write (send, OTP)
========================================  ============  =========================
connection refused / connect timeout      retry         retry (never reached it)
429 rate limit, any body (``Retry-After``)  retry         retry (refused, not done)
503 Service Unavailable                   retry         retry (refused, not done)
502 / 504 (a gateway answered)            retry         outcome unknown
500 Internal Error, any other 5xx         raise         outcome unknown
read timeout / dropped connection         retry         outcome unknown
429 OTP business refusal, other 4xx       raise         raise
3xx redirect (never followed)             raise         raise (nothing was sent)
========================================  ============  =========================

A redirect is never followed, for reads or writes: a ``307``/``308`` would post the numbers and
the text to whatever address it names. FullSMS did not act on the request at the address it was
made to, so nothing was sent; the error names the host the redirect points to so the user can fix
the connection's host.

"Outcome unknown" raises :class:`FullSmsOutcomeUnknownError` and is never retried here:
the operators record it and tell the user, so nobody is texted twice. A ``Retry-After`` (seconds
or an HTTP-date) longer than :attr:`RetryPolicy.retry_after_max` is never cut short: the call
ends with the retryable rate-limit error, which says how long FullSMS asked to wait, and the
task's own ``retries`` and ``retry_delay`` take over.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.error_responses import decode_json, error_from_response
from airflow_provider_fullsms.exceptions import (
    FullSmsConnectionError,
    FullSmsError,
    FullSmsOutcomeUnknownError,
    FullSmsRateLimitError,
    FullSmsServerError,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


class TransportFailure(enum.Enum):
    """What went wrong below HTTP, independent of the client library."""

    NOT_CONNECTED = "could not connect"  # refused, connect timeout, DNS: nothing was sent
    READ_TIMEOUT = "timed out waiting for the answer"
    DROPPED = "connection dropped before the answer"


@dataclass(frozen=True)
class RetryPolicy:
    """
    Bounds of automatic retries inside one hook call.

    :param max_attempts: attempts in all, the first included.
    :param max_elapsed: seconds after which no new attempt starts.
    :param backoff_initial: first backoff in seconds; doubles each attempt, with full jitter.
    :param backoff_max: largest backoff in seconds.
    :param retry_after_max: longest ``Retry-After`` waited out, in seconds; a longer one ends the
        call with its error rather than trying again sooner than FullSMS asked.
    """

    max_attempts: int = 5
    max_elapsed: float = 120.0
    backoff_initial: float = 0.5
    backoff_max: float = 10.0
    retry_after_max: float = 60.0

    def wait(self, error: BaseException, attempt: int) -> float | None:
        """
        Seconds to wait before attempt ``attempt + 1``: the server's ``Retry-After``, else backoff.

        ``None`` when the server asked for a longer wait than :attr:`retry_after_max`.
        """
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return float(retry_after) if retry_after <= self.retry_after_max else None
        ceiling = min(self.backoff_max, self.backoff_initial * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def delay_before_retry(self, error: BaseException, attempt: int, elapsed: float) -> float | None:
        """
        Seconds to wait before trying again, or ``None`` when ``error`` must be raised now.

        :param attempt: attempts made so far (1 after the first).
        :param elapsed: seconds since the first attempt started.
        """
        if not is_retryable(error) or attempt >= self.max_attempts:
            return None
        wait = self.wait(error, attempt)
        return wait if wait is not None and elapsed + wait <= self.max_elapsed else None


NO_RETRY = RetryPolicy(max_attempts=1)


def is_idempotent(method: str) -> bool:
    """
    Whether a request with this HTTP method is a read, so repeating it can change nothing.

    GET is the only read of the FullSMS API; every POST may text someone (a send, an OTP).
    """
    return method.upper() == "GET"


_READ_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_WRITE_RETRY_STATUSES = frozenset({429, 503})


def read_response(
    status_code: int,
    content: bytes,
    headers: Mapping[str, str],
    *,
    what: str,
    idempotent: bool,
    secrets: Iterable[str] = (),
) -> Any:
    """
    The decoded JSON of a 2xx answer; for any other status, raise the policy's error.

    The error has ``retryable`` decided: a 429 of any body, and for reads also 502/503/504, are
    safe to repeat; on a write any 5xx but 503 is ambiguous (outcome unknown).

    :param what: the request, e.g. ``POST messages/send/to_numbers``, for messages.
    :param idempotent: whether repeating the request can change nothing (reads).
    :param secrets: values redacted from any response text an error keeps (the API token).
    """
    if 200 <= status_code < 300:
        return decode_json(status_code, content, secrets)
    error = error_from_response(status_code, content, headers, secrets=secrets)
    # Any 5xx but 503 on a write is ambiguous, not only the documented 500 and the usual 502/504:
    # a proxy's 520-524 may have forwarded the request before giving up on the answer.
    if not idempotent and status_code >= 500 and status_code not in _WRITE_RETRY_STATUSES:
        raise FullSmsOutcomeUnknownError(
            what, f"FullSMS answered {status_code}: {error.message}", status_code=status_code
        )
    retry_statuses = _READ_RETRY_STATUSES if idempotent else _WRITE_RETRY_STATUSES
    # Only a plain rate limit is transient: the documented OTP 429s are business refusals.
    error.retryable = status_code in retry_statuses and (
        status_code != 429 or type(error) is FullSmsRateLimitError
    )
    raise error


def error_for_transport(
    failure: TransportFailure, detail: str, *, what: str, idempotent: bool
) -> FullSmsError:
    """
    The error to raise when no HTTP answer came back, with ``retryable`` decided.

    :param detail: the client library's short description (never containing headers).
    """
    if failure is TransportFailure.NOT_CONNECTED:
        error: FullSmsError = FullSmsConnectionError(f"Could not reach FullSMS for {what}: {detail}")
    elif idempotent:
        error = FullSmsConnectionError(f"{what}: {failure.value} ({detail})")
    else:
        return FullSmsOutcomeUnknownError(what, f"{failure.value}: {detail}")
    error.retryable = True
    return error


def is_retryable(error: BaseException) -> bool:
    """Whether the policy marked ``error`` as safe and worth retrying."""
    return isinstance(error, FullSmsError) and error.retryable


def is_worth_waiting_out(error: BaseException) -> bool:
    """
    Whether a failed poll of a read (the balance sensor and trigger) should just be polled again.

    Polling changes nothing, so beyond what :func:`is_retryable` allows, any 5xx and any
    unreachable server are worth another look at the next poke; an authentication or access
    error, or a bad connection, will not fix itself.
    """
    return is_retryable(error) or isinstance(error, FullSmsServerError | FullSmsConnectionError)


__all__ = [
    "NO_RETRY",
    "RetryPolicy",
    "TransportFailure",
    "error_for_transport",
    "is_idempotent",
    "is_retryable",
    "is_worth_waiting_out",
    "read_response",
]
