"""
Hooks for the FullSMS API: :class:`FullSmsHook` (requests) and :class:`FullSmsAsyncHook` (httpx).

One method per endpoint of the vendor documentation, named after the API's nouns. Results are
small frozen dataclasses (:mod:`airflow_provider_fullsms.models`), failures are the typed errors
of :mod:`airflow_provider_fullsms.exceptions`, and what is retried is decided in
:mod:`airflow_provider_fullsms.policy`. Nothing connects before the first call.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_fullsms.exceptions import FullSmsConfigurationError, FullSmsError
from airflow_provider_fullsms.models import (
    Campaign,
    ContactList,
    OtpInfo,
    OtpRequest,
    OtpVerification,
    PhoneNumber,
    Template,
    read_body,
)
from airflow_provider_fullsms.policy import (
    RetryPolicy,
    TransportFailure,
    error_for_transport,
    read_response,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    import httpx
    import requests
    from pendulum.tz.timezone import FixedTimezone, Timezone

DEFAULT_BASE_URL = "https://api.fullsms.com"
DEFAULT_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_CONCURRENCY = 4
#: The most send requests one task keeps out at once (the connection form says the same).
MAX_CONCURRENCY = 32
MAX_NUMBERS_PER_REQUEST = 500
SEND_AT_FORMAT = "%Y-%m-%d %H:%M:%S"
_SEND_AT_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_USER_AGENT = "airflow-provider-fullsms"


@dataclass(frozen=True)
class ConnectionConfig:
    """
    Everything the hooks read from an Airflow connection, read in one place.

    :param base_url: API root without a trailing slash.
    :param token: the API token (never shown in ``repr``).
    """

    base_url: str
    token: str = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    default_sender: str | None = None
    timezone: str = "UTC"
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY

    @classmethod
    def from_connection(cls, conn: Any, extras: Mapping[str, Any]) -> ConnectionConfig:
        """Build from an Airflow ``Connection`` and its (already decoded) extras."""
        conn_id = getattr(conn, "conn_id", "?")
        token = conn.password or ""
        if not token:
            raise FullSmsConfigurationError(
                f"Connection {conn_id!r} has no API token: put it in the password field (API Token)."
            )
        config = cls(
            base_url=_base_url(conn.host, conn.port, conn.schema),
            token=token,
            timeout=_positive_number(extras, "timeout", DEFAULT_TIMEOUT, conn_id),
            connect_timeout=_positive_number(extras, "connect_timeout", DEFAULT_CONNECT_TIMEOUT, conn_id),
            default_sender=str(extras["default_sender"]) if extras.get("default_sender") else None,
            timezone=str(extras.get("timezone") or "UTC"),
            max_concurrency=int(
                _positive_number(
                    extras, "max_concurrency", DEFAULT_MAX_CONCURRENCY, conn_id, maximum=MAX_CONCURRENCY
                )
            ),
        )
        config.tz  # noqa: B018 -- refuse an unknown timezone when the connection is read
        return config

    @property
    def tz(self) -> Timezone | FixedTimezone:
        import pendulum

        try:
            return pendulum.timezone(self.timezone)
        except Exception:
            raise FullSmsConfigurationError(
                f"Unknown timezone {self.timezone!r} in the connection's 'timezone' extra: "
                "use an IANA name such as 'UTC' or 'Europe/London'."
            ) from None

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": _USER_AGENT,
        }


def _base_url(host: str | None, port: int | None, schema: str | None) -> str:
    if not host:
        return DEFAULT_BASE_URL
    if "://" not in host:
        host = f"{schema or 'https'}://{host}"
    host = host.rstrip("/")
    if port and not re.search(r":\d+$", host.split("://", 1)[1].split("/", 1)[0]):
        scheme, rest = host.split("://", 1)
        netloc, _, path = rest.partition("/")
        host = f"{scheme}://{netloc}:{port}" + (f"/{path}" if path else "")
    return host


def _positive_number(
    extras: Mapping[str, Any], key: str, default: float, conn_id: str, *, maximum: float | None = None
) -> float:
    value = extras.get(key)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if number <= 0 or (maximum is not None and number > maximum):
        bound = f" no larger than {maximum:g}" if maximum is not None else ""
        raise FullSmsConfigurationError(
            f"Connection {conn_id!r}: extra {key!r} must be a positive number{bound}, got {value!r}."
        )
    return number


def format_send_at(value: datetime | str | None, tz: Timezone | FixedTimezone) -> str | None:
    """
    Turn ``send_at`` into FullSMS's ``YYYY-MM-DD HH:MM:SS`` in the account's timezone.

    :param value: an aware ``datetime``/pendulum value, an ISO 8601 string with an offset, or a
        ``YYYY-MM-DD HH:MM:SS`` string already in the account's timezone.
    :param tz: the connection's timezone.
    :raises FullSmsConfigurationError: a naive datetime or a malformed string.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if _SEND_AT_PATTERN.match(text):
            try:
                datetime.strptime(text, SEND_AT_FORMAT)
            except ValueError:
                raise _bad_send_at(value) from None
            return text
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise _bad_send_at(value) from None
    if not isinstance(value, datetime):
        raise _bad_send_at(value)
    if value.tzinfo is None or value.utcoffset() is None:
        raise FullSmsConfigurationError(
            f"send_at={value.isoformat()!r} has no timezone: pass an aware datetime "
            "(e.g. pendulum.datetime(..., tz='UTC')) or a 'YYYY-MM-DD HH:MM:SS' string in the "
            "connection's timezone."
        )
    return value.astimezone(tz).strftime(SEND_AT_FORMAT)


def _bad_send_at(value: object) -> FullSmsConfigurationError:
    return FullSmsConfigurationError(
        f"send_at={value!r} is not a date and time: use 'YYYY-MM-DD HH:MM:SS' (in the connection's "
        "timezone), an ISO 8601 string with an offset, or an aware datetime."
    )


def build_send_payload(
    recipients_key: str,
    recipients: list[str] | list[int],
    *,
    message: str | None,
    template_id: int | str | None,
    sender: str | None,
    send_at: datetime | str | None,
    config: ConnectionConfig,
) -> dict[str, Any]:
    """
    The JSON body of a send, checked before anything goes out.

    :param recipients_key: ``to_numbers`` or ``to_list_ids``.
    :raises FullSmsConfigurationError: no recipients, both or neither of message and template,
        a message FullSMS would refuse, no sender, or a bad ``send_at``.
    """
    from airflow_provider_fullsms.sms import InvalidMessageError, check_message

    if not recipients:
        raise FullSmsConfigurationError(f"{recipients_key} is empty: nobody to send to.")
    if len(recipients) > MAX_NUMBERS_PER_REQUEST and recipients_key == "to_numbers":
        raise FullSmsConfigurationError(
            f"{len(recipients)} numbers in one request: FullSMS accepts at most "
            f"{MAX_NUMBERS_PER_REQUEST}; use FullSmsSendToNumbersOperator, which batches."
        )
    if (message is None) == (template_id is None):
        raise FullSmsConfigurationError(
            "Pass exactly one of message= and template_id= (got "
            + ("both" if message is not None else "neither")
            + ")."
        )
    payload: dict[str, Any] = {recipients_key: recipients}
    if message is not None:
        try:
            check_message(message)
        except InvalidMessageError as err:
            raise FullSmsConfigurationError(str(err)) from None
        payload["message"] = message
    else:
        payload["template_id"] = str(template_id)
    payload["from"] = resolve_sender(sender, config)
    formatted = format_send_at(send_at, config.tz)
    if formatted is not None:
        payload["send_at"] = formatted
    return payload


def resolve_sender(sender: str | None, config: ConnectionConfig) -> str:
    """The explicit sender, else the connection's default sender, else a clear error."""
    chosen = sender or config.default_sender
    if not chosen:
        raise FullSmsConfigurationError(
            "No sender: pass sender= (an owned number, see get_numbers(), or an approved sender ID, "
            "see get_sender_ids()) or set 'default_sender' in the connection's extras."
        )
    return str(chosen)


class FullSmsHook(BaseHook):
    """
    Call the FullSMS API with the token of an Airflow connection.

    :param fullsms_conn_id: connection of type ``fullsms``: password is the API token, host the base
        URL (empty means ``https://api.fullsms.com``).
    :param retry_policy: bounds of automatic retries (see :mod:`airflow_provider_fullsms.policy`).
    """

    conn_name_attr = "fullsms_conn_id"
    default_conn_name = "fullsms_default"
    conn_type = "fullsms"
    hook_name = "FullSMS"

    def __init__(
        self,
        fullsms_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__()
        self.fullsms_conn_id = fullsms_conn_id
        self.retry_policy = retry_policy or RetryPolicy()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fullsms_conn_id={self.fullsms_conn_id!r})"

    @cached_property
    def config(self) -> ConnectionConfig:
        """The connection's settings, read once."""
        conn = self.get_connection(self.fullsms_conn_id)
        return ConnectionConfig.from_connection(conn, conn.extra_dejson)

    @cached_property
    def session(self) -> requests.Session:
        """One keep-alive session, its pool sized for the connection's concurrency."""
        import requests
        from requests.adapters import HTTPAdapter

        session = requests.Session()
        session.headers.update(self.config.headers)
        # Retries happen in _request, where the policy can tell a read from a send.
        adapter = HTTPAdapter(
            pool_connections=1, pool_maxsize=max(10, self.config.max_concurrency), max_retries=0
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def get_conn(self) -> requests.Session:
        """Return the ``requests.Session`` used for every call."""
        return self.session

    def close(self) -> None:
        """Close the session's pooled connections."""
        if "session" in self.__dict__:
            self.session.close()
            del self.__dict__["session"]

    # -- account -------------------------------------------------------------------------------

    def get_balance(self) -> float:
        """The account's current balance (``GET account/balance``)."""
        return read_body(self._request("GET", "account/balance"), "account/balance", _balance)

    def get_numbers(self) -> list[PhoneNumber]:
        """The numbers the account owns (``GET account/numbers``)."""
        return PhoneNumber.list_from_api(self._request("GET", "account/numbers"))

    def get_contact_lists(self) -> list[ContactList]:
        """The account's contact lists with their subscribed contact counts (``GET account/lists``)."""
        return ContactList.list_from_api(self._request("GET", "account/lists"))

    def get_sender_ids(self) -> list[str]:
        """The approved custom sender IDs (``GET account/senderids``)."""
        body = self._request("GET", "account/senderids")
        return read_body(body, "account/senderids", lambda b: [str(s) for s in b["senderids"]])

    def get_templates(self) -> list[Template]:
        """The account's message templates (``GET account/templates``)."""
        return Template.list_from_api(self._request("GET", "account/templates"))

    # -- messages ------------------------------------------------------------------------------

    def send_to_numbers(
        self,
        numbers: Iterable[str],
        *,
        message: str | None = None,
        template_id: int | str | None = None,
        sender: str | None = None,
        send_at: datetime | str | None = None,
    ) -> Campaign:
        """
        Send (or schedule) one SMS to up to 500 numbers (``POST messages/send/to_numbers``).

        Not retried when the outcome is unknown: see :class:`FullSmsOutcomeUnknownError`.

        :param numbers: digits-only E.164 numbers, at most 500.
        :param message: the text; or ``template_id``.
        :param template_id: a template's id (see :meth:`get_templates`); or ``message``.
        :param sender: an owned number or approved sender ID; default: the connection's.
        :param send_at: schedule: aware datetime or ``YYYY-MM-DD HH:MM:SS`` in the connection's timezone.
        """
        recipients = [str(n) for n in numbers]
        return self._send("to_numbers", recipients, message, template_id, sender, send_at)

    def send_to_lists(
        self,
        list_ids: Iterable[int],
        *,
        message: str | None = None,
        template_id: int | str | None = None,
        sender: str | None = None,
        send_at: datetime | str | None = None,
    ) -> Campaign:
        """
        Send (or schedule) a campaign to contact lists (``POST messages/send/to_lists``).

        :param list_ids: ids of the account's contact lists (see :meth:`get_contact_lists`).
        """
        recipients = [_list_id(i) for i in list_ids]
        return self._send("to_list_ids", recipients, message, template_id, sender, send_at)

    def _send(
        self,
        recipients_key: str,
        recipients: list[str] | list[int],
        message: str | None,
        template_id: int | str | None,
        sender: str | None,
        send_at: datetime | str | None,
    ) -> Campaign:
        payload = build_send_payload(
            recipients_key,
            recipients,
            message=message,
            template_id=template_id,
            sender=sender,
            send_at=send_at,
            config=self.config,
        )
        path = "messages/send/to_numbers" if recipients_key == "to_numbers" else "messages/send/to_lists"
        return Campaign.from_api(self._request("POST", path, json=payload))

    # -- OTP -----------------------------------------------------------------------------------

    def create_otp(
        self, to_number: str, *, sender: str | None = None, brand: str | None = None
    ) -> OtpRequest:
        """
        Create an OTP and text its code to ``to_number`` (``POST otp/create``).

        :param brand: optional brand shown in the SMS (50 GSM-7 / 12 UCS-2 characters at most).
        """
        from airflow_provider_fullsms.sms import InvalidMessageError, check_brand

        payload: dict[str, Any] = {"to_number": str(to_number), "from": resolve_sender(sender, self.config)}
        if brand:
            try:
                check_brand(brand)
            except InvalidMessageError as err:
                raise FullSmsConfigurationError(str(err)) from None
            payload["brand"] = brand
        return OtpRequest.from_api(self._request("POST", "otp/create", json=payload))

    def verify_otp(self, otp_id: str, code: int | str) -> OtpVerification:
        """
        Check a code the recipient typed (``POST otp/verify``).

        :raises FullSmsInvalidOtpCodeError: wrong code (the third wrong one raises
            ``FullSmsOtpTooManyAttemptsError``).
        """
        try:
            code_number = int(code)
        except (TypeError, ValueError):
            raise FullSmsConfigurationError(f"OTP code {code!r} is not a number.") from None
        body = self._request("POST", "otp/verify", json={"otp_id": str(otp_id), "code": code_number})
        return OtpVerification.from_api(body)

    def cancel_otp(self, otp_id: str) -> None:
        """Cancel an active OTP (``POST otp/cancel``)."""
        self._request("POST", "otp/cancel", json={"otp_id": str(otp_id)})

    def search_otp(self, otp_id: str) -> OtpInfo:
        """An OTP's state and its verification attempts (``GET otp/search``)."""
        return OtpInfo.from_api(self._request("GET", "otp/search", params={"otp_id": str(otp_id)}))

    # -- connection test -----------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Read the balance: no side effect, and proves the URL and the token."""
        # The UI button waits for this: one quick retry at most, not the task-time policy.
        patient, self.retry_policy = self.retry_policy, RetryPolicy(max_attempts=2, max_elapsed=5.0)
        try:
            balance = self.get_balance()
        except FullSmsError as err:
            return False, str(err)
        finally:
            self.retry_policy = patient
        return True, f"Connected to FullSMS at {self.config.base_url}: balance is {balance:g}."

    # -- transport -----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """
        One API call with the policy's retries; returns the decoded JSON body.

        GET is the only idempotent method of the FullSMS API, so the method says whether the
        request may be repeated when its outcome is unclear.
        """
        import requests

        what = f"{method} {path}"
        idempotent = method == "GET"
        url = f"{self.config.base_url}/{path}"
        timeout = (self.config.connect_timeout, self.config.timeout)
        started = time.monotonic()
        for attempt in itertools.count(1):
            try:
                try:
                    response = self.session.request(method, url, json=json, params=params, timeout=timeout)
                except requests.RequestException as exc:
                    failure, detail = _requests_failure(exc, self.config)
                    raise error_for_transport(failure, detail, what=what, idempotent=idempotent) from exc
                return read_response(
                    response.status_code, response.content, response.headers, what=what, idempotent=idempotent
                )
            except FullSmsError as error:
                wait = self.retry_policy.delay_before_retry(error, attempt, time.monotonic() - started)
                if wait is None:
                    raise
                _log_retry(self.log, what, error, attempt, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")


def _balance(body: Any) -> float:
    return float(body["balance"])


def _log_retry(log: Any, what: str, error: BaseException, attempt: int, wait: float) -> None:
    log.warning("FullSMS %s failed (%s); trying again in %.1fs (attempt %d)", what, error, wait, attempt + 1)


def _list_id(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise FullSmsConfigurationError(
            f"List id {value!r} is not a number: see FullSmsHook.get_contact_lists() for the ids."
        ) from None


def _requests_failure(exc: Exception, config: ConnectionConfig) -> tuple[TransportFailure, str]:
    """Classify a ``requests`` exception without ever quoting request headers."""
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


class FullSmsAsyncHook(BaseHook):
    """
    The async twin of :class:`FullSmsHook` for triggers and async notifiers (httpx).

    It reads the connection the async way, so the triggerer's event loop never blocks.
    Use it as ``async with FullSmsAsyncHook(...) as hook:`` so its client is always closed.
    """

    conn_name_attr = "fullsms_conn_id"
    default_conn_name = "fullsms_default"
    conn_type = "fullsms"
    hook_name = "FullSMS"

    def __init__(
        self, fullsms_conn_id: str = default_conn_name, *, retry_policy: RetryPolicy | None = None
    ) -> None:
        super().__init__()
        self.fullsms_conn_id = fullsms_conn_id
        self.retry_policy = retry_policy or RetryPolicy()
        self._config: ConnectionConfig | None = None
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fullsms_conn_id={self.fullsms_conn_id!r})"

    async def __aenter__(self) -> FullSmsAsyncHook:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client; safe to call twice."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def aget_config(self) -> ConnectionConfig:
        """The connection's settings, read once without blocking the event loop."""
        if self._config is None:
            from airflow.providers.common.compat.connection import (
                get_async_connection,
                get_async_extra_dejson,
            )

            conn = await get_async_connection(self.fullsms_conn_id, hook=self)
            self._config = ConnectionConfig.from_connection(conn, await get_async_extra_dejson(conn))
        return self._config

    async def get_balance(self) -> float:
        """The account's current balance (``GET account/balance``)."""
        return read_body(await self._request("GET", "account/balance"), "account/balance", _balance)

    async def send_to_numbers(
        self,
        numbers: Iterable[str],
        *,
        message: str | None = None,
        template_id: int | str | None = None,
        sender: str | None = None,
        send_at: datetime | str | None = None,
    ) -> Campaign:
        """Async :meth:`FullSmsHook.send_to_numbers`, with the same checks and payload."""
        payload = build_send_payload(
            "to_numbers",
            [str(n) for n in numbers],
            message=message,
            template_id=template_id,
            sender=sender,
            send_at=send_at,
            config=await self.aget_config(),
        )
        return Campaign.from_api(await self._request("POST", "messages/send/to_numbers", json=payload))

    async def _request(self, method: str, path: str, *, json: Mapping[str, Any] | None = None) -> Any:
        import asyncio

        import httpx

        config = await self.aget_config()
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=config.base_url,
                headers=config.headers,
                timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
            )
        what = f"{method} {path}"
        idempotent = method == "GET"
        started = time.monotonic()
        for attempt in itertools.count(1):
            try:
                try:
                    response = await self._client.request(method, f"/{path}", json=json)
                except httpx.HTTPError as exc:
                    failure, detail = _httpx_failure(exc, config)
                    raise error_for_transport(failure, detail, what=what, idempotent=idempotent) from exc
                return read_response(
                    response.status_code, response.content, response.headers, what=what, idempotent=idempotent
                )
            except FullSmsError as error:
                wait = self.retry_policy.delay_before_retry(error, attempt, time.monotonic() - started)
                if wait is None:
                    raise
                _log_retry(self.log, what, error, attempt, wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")


def _httpx_failure(exc: Exception, config: ConnectionConfig) -> tuple[TransportFailure, str]:
    """Classify an ``httpx`` exception the way :func:`_requests_failure` does for requests."""
    import httpx

    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return TransportFailure.NOT_CONNECTED, f"{type(exc).__name__} to {config.base_url}"
    if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout):
        return TransportFailure.READ_TIMEOUT, f"no answer within {config.timeout:g}s"
    return TransportFailure.DROPPED, type(exc).__name__
