"""
The page's writes go through Airflow's own REST API, with the caller's own credential.

Recording a decision is ``PUT .../state-store/fullsms.decision.<index>`` and clearing is
``POST /dags/{dag_id}/clearTaskInstances``: Airflow checks the permissions, writes its audit log and
clears exactly as its UI does. The request goes to the socket this api-server answered on, never to
a host named by the request's headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlparse

import httpx
from airflow.configuration import conf
from fastapi import HTTPException

if TYPE_CHECKING:
    from fastapi import Request

    from airflow_provider_fullsms.plugins.ledger_view import TaskKey


def api_root(request: Request) -> str:
    """``http(s)://<this server's socket>/<base path>/api/v2``."""
    host, port = request.scope.get("server") or ("127.0.0.1", conf.getint("api", "port"))
    if ":" in str(host):
        host = f"[{host}]"
    scheme = "https" if conf.get("api", "ssl_cert", fallback="") else "http"
    base_path = urlparse(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
    return f"{scheme}://{host}:{port}{base_path}/api/v2"


@dataclass(frozen=True)
class AirflowApi:
    """
    Airflow's REST API, called as the user of ``token``.

    :param root: see :func:`api_root`.
    :param token: the caller's JWT (from the Bearer header or the session cookie).
    """

    root: str
    token: str

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        # The api-server's own certificate may be self-signed: this is a call to itself.
        async with httpx.AsyncClient(verify=False, timeout=30) as client:
            response = await client.request(
                method, f"{self.root}/{path}", headers={"Authorization": f"Bearer {self.token}"}, **kwargs
            )
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise HTTPException(response.status_code, f"Airflow answered {response.status_code}: {detail}")
        return response.json() if response.content else None

    async def set_state(self, task: TaskKey, key: str, value: Any) -> None:
        """Write one key of the task's state store."""
        path = (
            f"dags/{quote(task.dag_id, safe='')}/dagRuns/{quote(task.run_id, safe='')}/taskInstances/"
            f"{quote(task.task_id, safe='')}/state-store/{quote(key, safe='')}"
        )
        await self._call("PUT", path, params={"map_index": task.map_index}, json={"value": value})

    async def clear(self, task: TaskKey) -> list[str]:
        """Clear the task instance (and what runs after it) so it runs again; return what was cleared."""
        target: str | list[Any] = task.task_id if task.map_index < 0 else [task.task_id, task.map_index]
        body = {
            "dry_run": False,
            "dag_run_id": task.run_id,
            "task_ids": [target],
            "only_failed": False,
            "reset_dag_runs": True,
            "include_downstream": True,
        }
        answer = await self._call("POST", f"dags/{quote(task.dag_id, safe='')}/clearTaskInstances", json=body)
        return [ti["task_id"] for ti in (answer or {}).get("task_instances", [])]
