"""
The Airflow connection that points at a sandbox account, with the account's own price and minimum.

``GET /_sandbox/connection`` answers it and ``fullsms-sandbox`` prints it at start-up, so the docs,
the pytest fixture and a user's shell read the sandbox's numbers instead of repeating them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.sandbox.records import money_json

if TYPE_CHECKING:
    from airflow_provider_fullsms.sandbox.seed import Account

#: The environment variable of the provider's default connection id.
DEFAULT_CONN_ENV = "AIRFLOW_CONN_FULLSMS_DEFAULT"


def airflow_connection(account: Account, url: str) -> dict[str, Any]:
    """
    The connection (``AIRFLOW_CONN_*`` JSON) for ``account`` of the sandbox at ``url``.

    The password is the account's first token with API rights; ``default_sender`` its first
    approved sender ID, else its first owned number; ``price_per_segment`` and ``minimum_balance``
    its own, so a plan against the sandbox is priced as the sandbox charges.
    """
    token = next((token for token, rights in account.tokens.items() if rights), next(iter(account.tokens)))
    extra: dict[str, Any] = {}
    sender = next(iter(account.sender_ids), None) or next((n["number"] for n in account.numbers), None)
    if sender:
        extra["default_sender"] = sender
    extra["price_per_segment"] = money_json(account.price_per_segment)
    extra["minimum_balance"] = money_json(account.minimum_balance)
    return {"conn_type": "fullsms", "host": url.rstrip("/"), "password": token, "extra": extra}
