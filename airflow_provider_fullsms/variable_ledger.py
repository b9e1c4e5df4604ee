"""
A task's ledger in Airflow Variables (Airflow before 3.3, which has no task state store), over
Airflow's REST API: for settling (:mod:`airflow_provider_fullsms.settlement`) and for
``fullsms-batches clean``. The keys and values are those of
:mod:`airflow_provider_fullsms.campaigns.variable_store`, which the running task writes.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_provider_fullsms.airflow_rest import check, json_or_none
from airflow_provider_fullsms.campaigns.variable_store import (
    VARIABLE_PREFIX,
    description,
    read_entry,
    stored_value,
)

if TYPE_CHECKING:
    from airflow_provider_fullsms.settlement import AirflowApi, TaskAddress


class VariableLedger:
    """The ledger Variables one Airflow holds, read and written through ``api``."""

    def __init__(self, api: AirflowApi) -> None:
        self._api = api

    def entries(self, task: TaskAddress) -> dict[str, dict[str, Any]]:
        """The task's ledger by key, as a state store's entries (``key``, ``value``, ``expires_at``)."""
        prefix = task.variable_prefix()
        entries: dict[str, dict[str, Any]] = {}
        for variable, entry in self.variables(prefix, asdict(task)):
            key = variable[len(prefix) :]
            entries[key] = {"key": key, "value": entry["value"], "expires_at": entry["expires_at"]}
        return entries

    def variables(
        self, prefix: str = VARIABLE_PREFIX, task: dict[str, Any] | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """
        Every ledger Variable whose key starts with ``prefix`` (of ``task`` only, when given), as
        ``(key, {"value", "task", "expires_at"})``, paged through.
        """
        api = self._api
        found = []
        offset = 0
        # Airflow 3.0 matches the pattern anywhere in the key, Airflow 2 has none (every Variable is
        # read): the prefix is checked here.
        pattern = {} if api.api == "/api/v1" else {"variable_key_pattern": prefix}
        while True:
            page = api.call(
                "GET",
                f"{api.api}/variables",
                "read the ledger in Airflow Variables",
                params={"limit": 100, "offset": offset, **pattern},
            )
            offset += len(page["variables"])
            for variable in page["variables"]:
                entry = read_entry(json_or_none(variable["value"]), task)
                if variable["key"].startswith(prefix) and entry is not None:
                    found.append((variable["key"], entry))
            if not page["variables"] or offset >= page["total_entries"]:
                return found

    def write(self, task: TaskAddress, key: str, value: Any, expires_at: str | None) -> None:
        """Write one key of the task's ledger (``expires_at``: as the state store's)."""
        variable = task.variable_prefix() + key
        owner = asdict(task)
        body = {
            "key": variable,
            "value": json.dumps(stored_value(owner, value, expires_at)),
            "description": description(owner, key),
        }
        # PATCH changes a Variable that exists (404 otherwise); POST creates one.
        response = self._api.request(
            "PATCH", f"{self._api.api}/variables/{quote(variable, safe='')}", json=body
        )
        if response.status_code == 404:
            response = self._api.request("POST", f"{self._api.api}/variables", json=body)
        check(response, f"write {key!r} to the task's ledger in Airflow Variables")

    def delete(self, key: str) -> None:
        """Delete the Airflow Variable ``key`` (nothing happens when there is none)."""
        response = self._api.request("DELETE", f"{self._api.api}/variables/{quote(key, safe='')}")
        if response.status_code != 404:
            check(response, f"delete the Variable {key!r}")

    def clean(self, now: datetime, *, dry_run: bool = False) -> list[str]:
        """
        Delete the ledger Variables that no try can read any more: those past their
        ``expires_at`` and those whose DAG run Airflow no longer has (``airflow db clean``, a
        deleted run). On 3.3 the state store does this itself (its rows go with their run). Return
        the keys deleted (with ``dry_run``: that would be).
        """
        deleted = []
        runs: dict[tuple[str, str], bool] = {}
        for key, entry in self.variables():
            task = entry["task"]
            run = (str(task.get("dag_id")), str(task.get("run_id")))
            if run not in runs:
                runs[run] = self._api.dag_run_exists(*run)
            expires_at = entry["expires_at"]
            expired = expires_at is not None and datetime.fromisoformat(expires_at) <= now
            if expired or not runs[run]:
                if not dry_run:
                    self.delete(key)
                deleted.append(key)
        return deleted
