"""
:class:`FullSmsHook`: the FullSMS API with ``requests``, for operators, sensors and notifiers.

One method per endpoint of the vendor documentation, named after the API's nouns, plus the
account look-ups made before sending (:meth:`~FullSmsHook.check_sender`,
:meth:`~FullSmsHook.get_template`, :meth:`~FullSmsHook.get_contact_lists_by_id`). Results are
small frozen dataclasses (:mod:`airflow_provider_fullsms.models`), failures are the typed errors
of :mod:`airflow_provider_fullsms.exceptions`, what is retried is decided in
:mod:`airflow_provider_fullsms.policy`, and every call goes through the retry core of
:mod:`airflow_provider_fullsms.hooks.transport`. Nothing connects before the first call.

The async twin, :class:`FullSmsAsyncHook`, lives in :mod:`~airflow_provider_fullsms.hooks.fullsms_async`
and the connection's settings in :mod:`airflow_provider_fullsms.connection`; both can still be
imported from here.
"""

from __future__ import annotations

import os
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.connection import (
    MAX_CONCURRENCY,
    SEND_AT_FORMAT,
    ConnectionConfig,
    format_send_at,
    resolve_sender,
)
from airflow_provider_fullsms.exceptions import FullSmsConfigurationError, FullSmsError
from airflow_provider_fullsms.hooks.base import FullSmsBaseHook, build_send_payload, list_id, read_balance
from airflow_provider_fullsms.hooks.fullsms_async import FullSmsAsyncHook
from airflow_provider_fullsms.hooks.transport import ApiCall, no_redirect_session, requests_failure
from airflow_provider_fullsms.models import (
    Campaign,
    ContactList,
    OtpInfo,
    OtpRequest,
    OtpVerification,
    PhoneNumber,
    Template,
    read_items,
)
from airflow_provider_fullsms.policy import RetryPolicy
from airflow_provider_fullsms.sms import MAX_NUMBERS_PER_REQUEST

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    import requests

__all__ = [
    "MAX_CONCURRENCY",
    "MAX_NUMBERS_PER_REQUEST",
    "SEND_AT_FORMAT",
    "ConnectionConfig",
    "FullSmsAsyncHook",
    "FullSmsHook",
    "build_send_payload",
    "format_send_at",
    "resolve_sender",
]

#: The connection test keeps the UI waiting: one quick retry at most, not the task-time policy.
CONNECTION_TEST_POLICY = RetryPolicy(max_attempts=2, max_elapsed=5.0)


class FullSmsHook(FullSmsBaseHook):
    """
    Call the FullSMS API with the token of an Airflow connection.

    :param fullsms_conn_id: connection of type ``fullsms``: password is the API token, host the base
        URL (empty means ``https://api.fullsms.com``).
    :param retry_policy: bounds of automatic retries (see :mod:`airflow_provider_fullsms.policy`).
    """

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

        # Redirects are never followed, not even for a caller of get_conn(): see policy.py.
        session = no_redirect_session()
        session.headers.update(self.config.headers)
        # The environment's proxy and CA bundle are read once here, not on every request (requests
        # looks them up per call, a sixth of a send's CPU), and a ~/.netrc entry for the host can
        # no longer replace the token with a login and password.
        session.proxies.update(requests.utils.get_environ_proxies(self.config.base_url))
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        session.trust_env = False
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

    # -- look-ups: what a user named, checked against the account --------------------------------

    def check_sender(self, sender: str | None = None) -> str:
        """
        The sender to send with, checked against the account before anything goes out.

        :param sender: a number the account owns, in any form
            :func:`~airflow_provider_fullsms.sms.normalise_number` reads, or an approved sender ID;
            default: the connection's ``default_sender``.
        :return: the owned number in FullSMS's digits-only form, or the sender ID.
        :raises FullSmsConfigurationError: no sender at all, or one that is neither a number of
            :meth:`get_numbers` nor a sender ID of :meth:`get_sender_ids`.
        """
        from airflow_provider_fullsms.sms import InvalidNumberError, normalise_number

        chosen = resolve_sender(sender, self.config)
        try:
            as_number: str | None = normalise_number(chosen)
        except InvalidNumberError:
            as_number = None
        # One look-up when the sender says which kind it is: a number, or a sender ID (letters).
        owned = [n.number for n in self.get_numbers()] if as_number is not None else None
        if owned is not None and as_number in owned:
            return as_number
        sender_ids = self.get_sender_ids()
        if chosen in sender_ids:
            return chosen
        if owned is None:
            owned = [n.number for n in self.get_numbers()]  # named in the error
        raise FullSmsConfigurationError(
            f"sender={chosen!r} is neither a number this FullSMS account owns ({', '.join(owned) or 'none'}) "
            f"nor an approved sender ID ({', '.join(sender_ids) or 'none'}): pass one of those, or have "
            "the sender ID approved in FullSMS first."
        )

    def get_template(self, template_id: int | str) -> Template:
        """
        One of the account's templates, by id.

        :param template_id: the template's id, as a number or a string (see :meth:`get_templates`).
        :raises FullSmsConfigurationError: the account has no template with that id.
        """
        wanted = str(template_id).strip()
        templates = self.get_templates()
        for template in templates:
            if str(template.template_id) == wanted:
                return template
        listed = ", ".join(f"{t.template_id} ({t.name})" for t in templates) or "none"
        raise FullSmsConfigurationError(
            f"template_id={template_id!r} is not a template of this FullSMS account (templates: "
            f"{listed}): pass one of those ids, or send the text with message=."
        )

    def get_contact_lists_by_id(self, list_ids: Iterable[int]) -> list[ContactList]:
        """
        The account's contact lists with these ids, in the order given.

        :param list_ids: ids of the account's contact lists (see :meth:`get_contact_lists`).
        :raises FullSmsConfigurationError: an id that is not one of the account's lists.
        """
        wanted = [list_id(i) for i in list_ids]
        lists = {item.list_id: item for item in self.get_contact_lists()}
        missing = [i for i in wanted if i not in lists]
        if missing:
            existing = ", ".join(f"{i} ({item.name})" for i, item in lists.items()) or "none"
            raise FullSmsConfigurationError(
                f"Contact list {', '.join(map(str, missing))} does not exist in this FullSMS account "
                f"(lists: {existing}): pass ids from that list. Nothing was sent."
            )
        return [lists[i] for i in wanted]

    # -- account -------------------------------------------------------------------------------

    def get_balance(self) -> float:
        """The account's current balance (``GET account/balance``)."""
        return read_balance(self._request("GET", "account/balance"))

    def get_numbers(self) -> list[PhoneNumber]:
        """The numbers the account owns (``GET account/numbers``)."""
        return PhoneNumber.list_from_api(self._request("GET", "account/numbers"))

    def get_contact_lists(self) -> list[ContactList]:
        """The account's contact lists with their subscribed contact counts (``GET account/lists``)."""
        return ContactList.list_from_api(self._request("GET", "account/lists"))

    def get_sender_ids(self) -> list[str]:
        """The approved custom sender IDs (``GET account/senderids``)."""
        body = self._request("GET", "account/senderids")
        return read_items(body, "account/senderids", "senderids", str)

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
        return self._send(
            "to_numbers", recipients, message=message, template_id=template_id, sender=sender, send_at=send_at
        )

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
        recipients = [list_id(i) for i in list_ids]
        return self._send(
            "to_list_ids",
            recipients,
            message=message,
            template_id=template_id,
            sender=sender,
            send_at=send_at,
        )

    def _send(self, recipients_key: str, recipients: list[str] | list[int], **message: Any) -> Campaign:
        """Check and send one campaign; ``message`` holds the public methods' keyword arguments."""
        payload = build_send_payload(recipients_key, recipients, config=self.config, **message)
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
        from airflow_provider_fullsms.sms import check_brand

        payload: dict[str, Any] = {"to_number": str(to_number), "from": resolve_sender(sender, self.config)}
        if brand:
            check_brand(brand)
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
        try:
            balance = read_balance(self._request("GET", "account/balance", policy=CONNECTION_TEST_POLICY))
        except FullSmsError as err:
            return False, str(err)
        return True, f"Connected to FullSMS at {self.config.base_url}: balance is {balance:g}."

    # -- transport -----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        policy: RetryPolicy | None = None,
    ) -> Any:
        """
        One API call with the policy's retries; returns the decoded JSON body.

        :param policy: bounds of retries for this call; default: the hook's ``retry_policy``.
        """
        import requests

        call = ApiCall(method, path, policy or self.retry_policy, self.log, secrets=(self.config.token,))
        url = f"{self.config.base_url}/{path}"
        timeout = (self.config.connect_timeout, self.config.timeout)
        while True:
            try:
                try:
                    # Never follow a redirect: a 307/308 would post the numbers and the text to
                    # whatever address it names. A 3xx is an error (see policy.py).
                    response = self.session.request(
                        method, url, json=json, params=params, timeout=timeout, allow_redirects=False
                    )
                except requests.RequestException as exc:
                    raise call.transport_error(*requests_failure(exc, self.config)) from exc
                return call.read(response)
            except FullSmsError as error:
                time.sleep(call.wait_before_retry(error))
