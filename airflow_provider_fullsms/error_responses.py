"""
FullSMS's answers read for errors: the one place that maps a response to the error hierarchy of
:mod:`~airflow_provider_fullsms.exceptions`, and the one redaction of response text.

Any response text an error keeps (and so logs, XCom and the task's state store) passes through
:func:`redact`: some proxies echo the request's headers, the API token among them, into their
error pages.
"""

from __future__ import annotations

import json
import math
import re
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_fullsms.exceptions import (
    FullSmsAccessDeniedError,
    FullSmsApiError,
    FullSmsAuthenticationError,
    FullSmsBalanceLowError,
    FullSmsInvalidOtpCodeError,
    FullSmsInvalidRecipientsError,
    FullSmsInvalidSenderNumberError,
    FullSmsListNotFoundError,
    FullSmsNotFoundError,
    FullSmsOtpAlreadyActiveError,
    FullSmsOtpCreateLimitError,
    FullSmsOtpNotActiveError,
    FullSmsOtpNotFoundError,
    FullSmsOtpTooManyAttemptsError,
    FullSmsOtpVerificationQuotaError,
    FullSmsRateLimitError,
    FullSmsRedirectError,
    FullSmsSenderIdNotApprovedError,
    FullSmsServerError,
    FullSmsShortlinksNotAllowedError,
    FullSmsTemplateNotFoundError,
    FullSmsUnexpectedResponseError,
    FullSmsValidationError,
)

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
