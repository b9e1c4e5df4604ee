"""
The balance of each FullSMS connection, read when a person asks and kept for a minute.

Connections are those of type ``fullsms`` in the metadata database and in ``AIRFLOW_CONN_*``
environment variables. A failed read shows the hook's error, which never contains the token, with
any phone number in it masked.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow.models.connection import Connection
from sqlalchemy import select

from airflow_provider_fullsms.exceptions import FullSmsError
from airflow_provider_fullsms.hooks.fullsms import FullSmsHook
from airflow_provider_fullsms.plugins.ledger_view import mask_numbers

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CONN_TYPE = FullSmsHook.conn_type
_ENV_PREFIX = "AIRFLOW_CONN_"
#: How long a balance read is shown before FullSMS is asked again.
CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class Balance:
    """One connection's balance, or why it could not be read."""

    conn_id: str
    balance: float | None
    error: str | None
    read_at: float

    def to_json(self) -> dict[str, object]:
        return {
            "conn_id": self.conn_id,
            "balance": self.balance,
            "error": self.error,
            "read_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.read_at)),
        }


def fullsms_conn_ids(session: Session) -> list[str]:
    """The ids of every ``fullsms`` connection: the database's and the environment's."""
    found = set(session.scalars(select(Connection.conn_id).where(Connection.conn_type == CONN_TYPE)))
    for name, value in os.environ.items():
        if not name.startswith(_ENV_PREFIX):
            continue
        conn_id = name[len(_ENV_PREFIX) :].lower()
        try:
            conn = Connection.from_json(value, conn_id=conn_id) if value.lstrip().startswith("{") else None
            conn = conn or Connection(conn_id=conn_id, uri=value)
        except Exception:  # an unrelated variable that is not a connection at all
            continue
        if conn.conn_type == CONN_TYPE:
            found.add(conn_id)
    return sorted(found)


def _read(conn_id: str) -> float:
    hook = FullSmsHook(fullsms_conn_id=conn_id)
    try:
        return hook.get_balance()
    finally:
        hook.close()


class BalanceCache:
    """
    Balances read on demand, each kept :data:`CACHE_SECONDS`.

    :param read: reads one connection's balance (the hook's ``get_balance``).
    :param clock: seconds, monotonic or not; a test can pass a fake one.
    """

    def __init__(self, read: Callable[[str], float] = _read, clock: Callable[[], float] = time.time) -> None:
        self._read = read
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: dict[str, Balance] = {}

    def get(self, conn_id: str) -> Balance:
        """The balance of ``conn_id``, from FullSMS unless read in the last :data:`CACHE_SECONDS`."""
        now = self._clock()
        with self._lock:
            kept = self._kept.get(conn_id)
        if kept is not None and now - kept.read_at < CACHE_SECONDS:
            return kept
        try:
            balance = Balance(conn_id, self._read(conn_id), None, now)
        except FullSmsError as error:
            balance = Balance(conn_id, None, mask_numbers(str(error)), now)
        except Exception as error:
            # A missing or broken connection. Its message could quote the connection's URI, so the
            # page names the error only; the api-server's log (masked by Airflow) has the rest.
            log.warning("Reading the balance of %s failed", conn_id, exc_info=True)
            balance = Balance(conn_id, None, f"{type(error).__name__} (see the api-server log)", now)
        with self._lock:
            self._kept[conn_id] = balance
        return balance
