"""
A task's state store as Airflow 3.3 keeps it (metastore backend), in memory, with a clock.

Both doors of the real one: the task's accessor (``context["task_state_store"]``: ``get``, and
``set`` with ``retention=``) and the REST API (``PUT`` with ``expires_at``, ``DELETE``, the
listing), over the same rows, each with its ``expires_at``. :meth:`AirflowStateStore.clean` is
``airflow state-store clean``: it deletes the rows whose ``expires_at`` is past. Mirrors
``airflow/sdk/execution_time/context.py`` (``TaskStateStoreAccessor.set``),
``api_fastapi/core_api/datamodels/task_state_store.py`` and ``state/metastore.py``.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_fullsms.campaigns.ledger import never_expire

#: Airflow 3.3's ``NEVER_EXPIRE`` where it has one (the ledger passes the same object everywhere).
NEVER_EXPIRE = never_expire()

#: ``[state_store] default_retention_days``' default.
DEFAULT_RETENTION = timedelta(days=30)


class AirflowStateStore:
    """
    The rows of one task instance's state store: ``key -> (JSON value, expires_at)``.

    Thread-safe like the database behind it: a try's threads and a person's CLI may use it at once.
    """

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 12, 1, tzinfo=UTC)
        self.rows: dict[str, tuple[str, datetime | None]] = {}
        self.lock = threading.RLock()

    # -- the task's accessor -----------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        with self.lock:
            row = self.rows.get(key)
        return json.loads(row[0]) if row is not None else default

    def set(self, key: str, value: Any, *, retention: timedelta | None = None) -> None:
        if value is None:
            raise ValueError("Cannot set value as None")
        if retention is NEVER_EXPIRE:  # compared by identity, as Airflow does
            expires_at = None
        elif retention is not None:
            expires_at = self.now + retention
        else:
            expires_at = self.now + DEFAULT_RETENTION
        with self.lock:
            self.rows[key] = (json.dumps(value), expires_at)

    # -- the REST API ------------------------------------------------------------------------------

    def put(self, key: str, value: Any, expires_at: str | None = "default") -> None:
        """``PUT .../state-store/{key}`` with ``{"value": ..., "expires_at": ...}``."""
        if expires_at == "default":
            when: datetime | None = self.now + DEFAULT_RETENTION
        else:
            when = None if expires_at is None else datetime.fromisoformat(expires_at)
        with self.lock:
            self.rows[key] = (json.dumps(value), when)

    def delete(self, key: str) -> None:
        with self.lock:
            self.rows.pop(key, None)

    def entries(self) -> dict[str, dict[str, Any]]:
        """``GET .../state-store``: each entry's ``key``, ``value`` and ``expires_at``."""
        with self.lock:
            rows = sorted(self.rows.items())
        return {
            key: {"key": key, "value": json.loads(value), "expires_at": when.isoformat() if when else None}
            for key, (value, when) in rows
        }

    # -- housekeeping ------------------------------------------------------------------------------

    def expires_at(self, key: str) -> datetime | None:
        return self.rows[key][1]

    def clean(self) -> list[str]:
        """``airflow state-store clean``: delete the expired rows; return their keys."""
        with self.lock:
            expired = [key for key, (_, when) in self.rows.items() if when is not None and when < self.now]
            for key in expired:
                del self.rows[key]
        return expired
