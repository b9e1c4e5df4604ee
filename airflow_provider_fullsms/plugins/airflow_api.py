"""
Where the page's writes go: Airflow's own REST API on this api-server, with the caller's credential.

Recording a decision and clearing the task are the calls of
:class:`~airflow_provider_fullsms.settlement.AirflowApi` (the CLI's): Airflow checks the
permissions, writes its audit log and clears exactly as its UI does. They go to the socket this
api-server answered on, never to a host named by the request's headers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlparse

from airflow.configuration import conf

if TYPE_CHECKING:
    from fastapi import Request


def api_root(request: Request) -> str:
    """``http(s)://<this server's socket>/<base path>``."""
    host, port = request.scope.get("server") or ("127.0.0.1", conf.getint("api", "port"))
    if ":" in str(host):
        host = f"[{host}]"
    scheme = "https" if conf.get("api", "ssl_cert", fallback="") else "http"
    base_path = urlparse(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
    return f"{scheme}://{host}:{port}{base_path}"
