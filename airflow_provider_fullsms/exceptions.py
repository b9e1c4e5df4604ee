"""
One error hierarchy for everything FullSMS can answer, and the one place that maps a response to it.

Every documented error body of the FullSMS API has its own class, so a DAG author can ``except``
exactly the failure they care about (``FullSmsBalanceLowError``, ``FullSmsTemplateNotFoundError``,
...). Each carries the HTTP status, the server's message, field errors and ``reason``; none of them
ever carries the API token: every piece of response text that goes into one passes through
:func:`redact` first (some proxies echo the request's headers into their error pages).

Transport failures split by what they mean for an SMS that may have gone out:

* :class:`FullSmsConnectionError` -- the request provably never reached FullSMS (refused, connect
  timeout): safe to send again.
* :class:`FullSmsOutcomeUnknownError` -- the request may have been processed (read timeout, dropped
  connection after the body went out, an ambiguous 5xx on a send): never sent again automatically.
"""

from __future__ import annotations

import json
import math
import re
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import AirflowException

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

#: How much of an unexpected body goes into an error message.
SNIPPET_LENGTH = 200
#: What a secret is replaced with in any text kept from a response.
REDACTED = "***"
# An Authorization (or Proxy-Authorization) value as a proxy echoes it: a header line, a JSON or
# form field, or an HTML table cell; and a bearer credential wherever it stands.
_AUTHORIZATION_VALUE = re.compile(r"""(authorization["']?\s*[:=]\s*["']?)[^"'\r\n<]+""", re.IGNORECASE)
_AUTHORIZATION_CELL = re.compile(r"(authorization\s*</t[dh]>\s*<t[dh][^>]*>)[^<]+", re.IGNORECASE)
_BEARER = re.compile(r"(bearer\s+)[^\s\"'<,;}]+", re.IGNORECASE)


class FullSmsError(AirflowException):
    """Root of every error this provider raises."""

    #: Whether sending the same request again is safe and may succeed (decided in ``policy.py``).
    retryable: bool = False


class FullSmsConfigurationError(FullSmsError, ValueError):
    """
    Your input is wrong: a parameter, a message, a number, the audience or a connection setting.

    The one kind of bad-input error: every check of what a user passed raises this class or a
    subclass of it, always before the request it concerns is made. Retrying cannot fix it, so the
    operators fail the task without retry (in :mod:`airflow_provider_fullsms.outcomes`).
    """


class CampaignInputError(FullSmsConfigurationError):
    """The audience or the message cannot be sent as given; nothing was sent."""


class LedgerMismatchError(CampaignInputError):
    """The state store holds a different campaign for this task: the audience or message changed."""


class AudienceChangedError(CampaignInputError):
    """
    The audience read again for the send differs from the one checked: no batch from the first
    changed one on was sent. ``report`` is the campaign's report so far (set by the runner).
    """

    report: Any = None


class LedgerUnreachableError(FullSmsError):
    """
    The task's state store (through Airflow's api-server) could not be written for longer than the
    ledger's write window: the try stops, after waiting for every request already out.

    Not bad input, so the task's retries apply: a retry resumes from the ledger. ``report`` is the
    campaign's report so far (set by the runner), for the summary the operator pushes.
    """

    report: Any = None


class SettlementRefusedError(CampaignInputError):
    """A decision about a batch cannot be recorded now: its outcome is known, or it is still in flight."""


class FullSmsBalanceBelowMinimumError(FullSmsError):
    """The balance is below the ``min_balance`` a task asked for; nothing was sent."""


class FullSmsApiError(FullSmsError):
    """
    FullSMS answered with an error status.

    :param status_code: HTTP status of the response.
    :param message: the server's ``message``.
    :param errors: field errors, e.g. ``{"to_numbers.0": ["Given number is invalid ..."]}``.
    :param reason: the server's ``reason`` (``balance_low``), when given.
    :param retry_after: seconds from a ``Retry-After`` header, when given.
    """

    # AirflowException declares an HTTPStatus here for Airflow's API server; ours is FullSMS's status.
    status_code: int  # type: ignore[assignment]

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        errors: Mapping[str, list[str]] | None = None,
        reason: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.message = message
        self.errors: dict[str, list[str]] = dict(errors or {})
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"FullSMS answered {self.status_code}: {self.message}"
        if self.errors:
            details = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in self.errors.items())
            text += f" ({details})"
        return text


class FullSmsAuthenticationError(FullSmsApiError):
    """403 ``Unauthenticated - Missing/Invalid API key``: check the connection's API token."""

    def _describe(self) -> str:
        return super()._describe() + " -- check the API token in the connection's password field"


class FullSmsAccessDeniedError(FullSmsApiError):
    """403 ``Access Denied``: the token is valid but lacks the rights for this call."""


class FullSmsSenderError(FullSmsApiError):
    """403 about the ``from`` value (``sender`` in Python)."""


class FullSmsInvalidSenderNumberError(FullSmsSenderError):
    """403 ``Number invalid, inactive or unknown``: the sender number is not one of the account's."""


class FullSmsSenderIdNotApprovedError(FullSmsSenderError):
    """403 ``Sender ID is not approved``: see ``FullSmsHook.get_sender_ids()``."""


class FullSmsShortlinksNotAllowedError(FullSmsApiError):
    """403 ``Shortlinks are not allowed in your account``."""


class FullSmsNotFoundError(FullSmsApiError):
    """404: the thing named does not exist."""


class FullSmsTemplateNotFoundError(FullSmsNotFoundError):
    """404 ``Template not found or not valid``: see ``FullSmsHook.get_templates()``."""


class FullSmsOtpNotFoundError(FullSmsNotFoundError):
    """404 ``OTP_ID does not exist``."""


class FullSmsValidationError(FullSmsApiError):
    """422 with field errors: the request was refused, nothing was sent."""


class FullSmsListNotFoundError(FullSmsValidationError):
    """422 ``to_list_ids.N: List with this id could not be found``."""


class FullSmsInvalidRecipientsError(FullSmsValidationError):
    """422 ``to_numbers.N: Given number is invalid or could not receive messages``: no valid recipient."""


class FullSmsInvalidOtpCodeError(FullSmsValidationError):
    """422 ``code: This code is invalid.``: the OTP stays active until it fails three times."""


class FullSmsBalanceLowError(FullSmsApiError):
    """422 ``balance_low``: top up the account; nothing was sent."""


class FullSmsOtpNotActiveError(FullSmsApiError):
    """422 ``OTP is not active``: already verified, cancelled, failed or expired."""


class FullSmsRateLimitError(FullSmsApiError):
    """
    429 rate limit, whatever its body (FullSMS's JSON, or a CDN's HTML page): nothing was done.

    ``retry_after`` holds the seconds FullSMS asked to wait, when it said.
    """

    def _describe(self) -> str:
        text = super()._describe()
        if self.retry_after is not None:
            text += f"; FullSMS asked to wait {self.retry_after:g}s before trying again (Retry-After)"
        return text


class FullSmsOtpRefusedError(FullSmsApiError):
    """429 that is a business refusal of an OTP request, not a rate limit: retrying does not help."""


class FullSmsOtpAlreadyActiveError(FullSmsOtpRefusedError):
    """429: an OTP to this number is already active (``Two active requests ...`` / ``One Creation``)."""


class FullSmsOtpCreateLimitError(FullSmsOtpRefusedError):
    """429 ``You can create up-to N concurrent active OTP_IDs``."""


class FullSmsOtpTooManyAttemptsError(FullSmsOtpRefusedError):
    """429 ``Wrong code too many times``: the OTP is now failed."""


class FullSmsOtpVerificationQuotaError(FullSmsOtpRefusedError):
    """429 ``Maximum verification``: the verification quota is used up."""


class FullSmsServerError(FullSmsApiError):
    """5xx from FullSMS."""


class FullSmsUnexpectedResponseError(FullSmsApiError):
    """The body is not the JSON FullSMS documents (an HTML 502 page, an empty or truncated body)."""


class FullSmsRedirectError(FullSmsApiError):
    """
    A 3xx: the connection's address redirects elsewhere. Redirects are never followed.

    FullSMS did not act on the request at the address it was made to, and the numbers and the
    text never went to the address named (``location``): nothing was sent. Retrying cannot fix it:
    the connection's host must be FullSMS's own address (e.g. ``https://`` rather than ``http://``).
    """


class FullSmsTransportError(FullSmsError):
    """No usable HTTP response at all."""


class FullSmsConnectionError(FullSmsTransportError):
    """The request provably did not reach FullSMS (connection refused, connect timeout)."""


class FullSmsOutcomeUnknownError(FullSmsTransportError):
    """
    FullSMS may or may not have acted on the request; sending it again could text people twice.

    :param what: the request, e.g. ``POST messages/send/to_numbers``.
    :param cause: what happened, e.g. ``read timed out after 30s``.
    :param status_code: the status of an ambiguous 5xx answer, if there was one (``http_status``).
    """

    def __init__(self, what: str, cause: str, *, status_code: int | None = None) -> None:
        self.what = what
        self.cause = cause
        self.http_status = status_code
        super().__init__(
            f"Outcome of {what} is unknown ({cause}): FullSMS may have accepted it. It was not sent "
            "again, so nobody is texted twice; check the campaign in FullSMS before resending."
        )


# Classes chosen by the server's message where one status has several documented meanings.
_BY_MESSAGE: dict[int, list[tuple[str, type[FullSmsApiError]]]] = {
    403: [
        ("unauthenticated", FullSmsAuthenticationError),
        ("access denied", FullSmsAccessDeniedError),
        ("number invalid, inactive or unknown", FullSmsInvalidSenderNumberError),
        ("sender id is not approved", FullSmsSenderIdNotApprovedError),
        ("shortlinks are not allowed", FullSmsShortlinksNotAllowedError),
    ],
    404: [
        ("template", FullSmsTemplateNotFoundError),
        ("otp_id", FullSmsOtpNotFoundError),
    ],
    422: [("otp is not active", FullSmsOtpNotActiveError)],
    429: [
        ("two active requests", FullSmsOtpAlreadyActiveError),
        ("one creation", FullSmsOtpAlreadyActiveError),
        ("concurrent active otp", FullSmsOtpCreateLimitError),
        ("wrong code too many times", FullSmsOtpTooManyAttemptsError),
        ("maximum verification", FullSmsOtpVerificationQuotaError),
    ],
}
_BY_STATUS: dict[int, type[FullSmsApiError]] = {
    403: FullSmsAccessDeniedError,
    404: FullSmsNotFoundError,
    422: FullSmsValidationError,
    429: FullSmsRateLimitError,
}
_BY_FIELD: list[tuple[str, type[FullSmsApiError]]] = [
    ("to_list_ids", FullSmsListNotFoundError),
    ("to_numbers", FullSmsInvalidRecipientsError),
    ("code", FullSmsInvalidOtpCodeError),
]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """
    ``text`` from a response with every credential in it replaced by ``***``.

    The one redaction of the provider: any response text kept in an exception (and so in logs,
    XCom and the task's state store) passes through it.

    :param text: what the server answered, or part of it.
    :param secrets: exact values to hide wherever they stand, e.g. the connection's API token.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _AUTHORIZATION_CELL.sub(rf"\g<1>{REDACTED}", text)
    text = _AUTHORIZATION_VALUE.sub(rf"\g<1>{REDACTED}", text)
    return _BEARER.sub(rf"\g<1>{REDACTED}", text)


def snippet(content: bytes | str, secrets: Iterable[str] = ()) -> str:
    """Return the start of a body, printable and :func:`redact`-ed, for an error message."""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    text = " ".join(redact(text, secrets).split())
    return text[:SNIPPET_LENGTH] + ("..." if len(text) > SNIPPET_LENGTH else "") if text else "<empty body>"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """
    Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date.

    :param now: the current time (epoch seconds) to measure a date from; default: the clock.
    :return: ``None`` when absent or unreadable; a date in the past is 0.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None  # RFC 9110 dates are GMT; one without a zone is not a date we can trust
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def decode_json(status_code: int, content: bytes, secrets: Iterable[str] = ()) -> Any:
    """
    Decode a FullSMS body, turning anything that is not JSON into a clear error.

    :param secrets: values :func:`redact` hides in the error's message.
    :raises FullSmsUnexpectedResponseError: the body is empty, HTML or truncated.
    """
    try:
        return json.loads(content)
    except ValueError:
        raise FullSmsUnexpectedResponseError(
            status_code, f"the body is not JSON: {snippet(content, secrets)}"
        ) from None


def error_from_response(
    status_code: int,
    content: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    secrets: Iterable[str] = (),
) -> FullSmsApiError:
    """
    Map an error response to the class of its documented body.

    Reads both ``status_code`` and ``status-code`` spellings (the docs use both) but trusts the HTTP
    status first. A 429 is a rate limit whatever its body, unless it is one of the documented OTP
    refusals.

    :param status_code: HTTP status.
    :param content: raw body.
    :param headers: response headers, for ``Retry-After``.
    :param secrets: values :func:`redact` hides in every text taken from the body (the API token).
    """
    secrets = tuple(secrets)
    if 300 <= status_code < 400:
        return redirect_error(status_code, (headers or {}).get("Location"), secrets)
    retry_after = parse_retry_after((headers or {}).get("Retry-After"))
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = snippet(content, secrets)
        if status_code == 429:  # a CDN's, WAF's or proxy's rate limit: an HTML page, or nothing
            return FullSmsRateLimitError(status_code, f"Too Many Requests ({text})", retry_after=retry_after)
        error_class = FullSmsServerError if status_code >= 500 else FullSmsUnexpectedResponseError
        return error_class(status_code, f"unexpected body: {text}", retry_after=retry_after)

    status = status_code or _int_or_none(body.get("status_code", body.get("status-code"))) or 0
    message = redact(str(body.get("message") or ""), secrets)
    raw_errors = body.get("errors")
    errors = (
        {
            redact(str(k), secrets): [redact(str(m), secrets) for m in (v if isinstance(v, list) else [v])]
            for k, v in raw_errors.items()
        }
        if isinstance(raw_errors, dict)
        else {}
    )
    reason = body.get("reason")
    reason = redact(str(reason), secrets) if reason is not None else None
    return _error_class(status, message, errors, reason)(
        status, message or f"HTTP {status}", errors=errors, reason=reason, retry_after=retry_after
    )


def redirect_error(
    status_code: int, location: str | None, secrets: Iterable[str] = ()
) -> FullSmsRedirectError:
    """
    The error of a 3xx answer, naming where it pointed: scheme and host only, never a path or query.

    The path and query of a ``Location`` could carry anything the server put there (a token, the
    numbers); the host is what the user needs to fix the connection.
    """
    if location:
        parts = urlsplit(location.strip())
        host = parts.netloc.rpartition("@")[2]  # never a user name or password written in the URL
        target = f"{parts.scheme}://{host}" if host else "another path of the same address"
        where = f"to {redact(target, secrets)}"
    else:
        where = "without saying where (no Location)"
    return FullSmsRedirectError(
        status_code,
        f"the connection's address redirects {where}. Redirects are never followed, so nothing was "
        "sent there and FullSMS did not act on the request: set the connection's host to FullSMS's own "
        "address (e.g. https:// rather than http://, or the address the redirect names if it is "
        "FullSMS's), then run the task again",
    )


def _error_class(
    status: int, message: str, errors: Mapping[str, list[str]], reason: str | None
) -> type[FullSmsApiError]:
    if reason == "balance_low":
        return FullSmsBalanceLowError
    lowered = message.lower()
    for needle, error_class in _BY_MESSAGE.get(status, []):
        if needle in lowered:
            return error_class
    if status == 422:
        for field_prefix, error_class in _BY_FIELD:
            if any(field.split(".")[0] == field_prefix for field in errors):
                return error_class
    if status >= 500:
        return FullSmsServerError
    return _BY_STATUS.get(status, FullSmsApiError)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
