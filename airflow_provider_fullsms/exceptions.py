"""
One error hierarchy for everything FullSMS can answer (:mod:`~airflow_provider_fullsms.error_responses`
maps a response to it).

Every documented error body of the FullSMS API has its own class, so a DAG author can ``except``
exactly the failure they care about (``FullSmsBalanceLowError``, ``FullSmsTemplateNotFoundError``,
...). Each carries the HTTP status, the server's message, field errors and ``reason``; none of them
ever carries the API token: every piece of response text that goes into one passes through
:func:`~airflow_provider_fullsms.error_responses.redact` first (some proxies echo the request's
headers into their error pages).

Transport failures split by what they mean for an SMS that may have gone out:

* :class:`FullSmsConnectionError` -- the request provably never reached FullSMS (refused, connect
  timeout): safe to send again.
* :class:`FullSmsOutcomeUnknownError` -- the request may have been processed (read timeout, dropped
  connection after the body went out, an ambiguous 5xx on a send): never sent again automatically.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException

if TYPE_CHECKING:
    from collections.abc import Mapping


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
