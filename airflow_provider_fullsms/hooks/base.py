"""
What :class:`~airflow_provider_fullsms.hooks.fullsms.FullSmsHook` and its async twin share.

The hook's identity (connection type, connection id, retry policy), the JSON body of a send,
checked before it goes out, and the readers of ids and balances both hooks use.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_fullsms.connection import (
    DEFAULT_CONN_ID,
    ConnectionConfig,
    format_send_at,
    resolve_sender,
)
from airflow_provider_fullsms.exceptions import FullSmsConfigurationError
from airflow_provider_fullsms.models import read_body
from airflow_provider_fullsms.policy import RetryPolicy
from airflow_provider_fullsms.sms import MAX_NUMBERS_PER_REQUEST

if TYPE_CHECKING:
    from datetime import datetime


class FullSmsBaseHook(BaseHook):
    """
    What both hooks are: a connection of type ``fullsms``, by id, and a retry policy.

    :param fullsms_conn_id: connection of type ``fullsms``: password is the API token, host the base
        URL (empty means ``https://api.fullsms.com``).
    :param retry_policy: bounds of automatic retries (see :mod:`airflow_provider_fullsms.policy`).
    """

    conn_name_attr = "fullsms_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "fullsms"
    hook_name = "FullSMS"

    def __init__(
        self, fullsms_conn_id: str = default_conn_name, *, retry_policy: RetryPolicy | None = None
    ) -> None:
        super().__init__()
        self.fullsms_conn_id = fullsms_conn_id
        self.retry_policy = retry_policy or RetryPolicy()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fullsms_conn_id={self.fullsms_conn_id!r})"


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
        a message FullSMS would refuse (:class:`~airflow_provider_fullsms.sms.InvalidMessageError`),
        no sender, or a bad ``send_at``.
    """
    from airflow_provider_fullsms.sms import check_message

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
        check_message(message)
        payload["message"] = message
    else:
        payload["template_id"] = str(template_id)
    payload["from"] = resolve_sender(sender, config)
    formatted = format_send_at(send_at, config.tz)
    if formatted is not None:
        payload["send_at"] = formatted
    return payload


def read_balance(body: Any) -> float:
    """
    The balance from the body of ``GET account/balance``.

    :raises FullSmsUnexpectedResponseError: the balance is not a finite number (``NaN``,
        ``Infinity``, a word, a boolean): no balance check may pass on it.
    """

    def finite(b: Any) -> float:
        value = b["balance"]
        balance = float(value) if not isinstance(value, bool) else math.nan
        if not math.isfinite(balance):
            raise ValueError(f"the balance {value!r} is not a finite number")
        return balance

    return read_body(body, "account/balance", finite)


def list_id(value: object) -> int:
    """A contact list id as the API wants it: an int (``"7"`` is read as 7)."""
    try:
        return int(str(value))
    except ValueError:
        raise FullSmsConfigurationError(
            f"List id {value!r} is not a number: see FullSmsHook.get_contact_lists() for the ids."
        ) from None


__all__ = ["FullSmsBaseHook", "build_send_payload", "list_id", "read_balance"]
