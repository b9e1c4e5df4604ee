"""
The FullSMS Airflow plugin: a page at ``/fullsms`` in the api-server and a "FullSMS" menu entry.

Airflow loads plugins in every process, task runners included, so this module imports nothing
heavy: the FastAPI app (:mod:`~.app`) is built on the first request that reaches it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

# The Task SDK's class: a worker may have the SDK without airflow-core; both load it.
from airflow.providers.common.compat.sdk import AirflowPlugin

from airflow_provider_fullsms.operators.links import FullSmsCampaignLink

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

URL_PREFIX = "/fullsms"


class LazyApp:
    """An ASGI app that builds :func:`~.app.create_app` when it is first called."""

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    from airflow_provider_fullsms.plugins.app import create_app

                    self._app = create_app()
        await self._app(scope, receive, send)


class FullSmsPlugin(AirflowPlugin):
    """Campaigns recorded by the send operators, per-batch decisions, and balances, in the Airflow UI."""

    name = "fullsms"
    # The "FullSMS campaign" link's class, so a serialized send task's link is rebuilt from it (the
    # send operators list the link themselves; the provider info's extra-links names it too).
    operator_extra_links = [FullSmsCampaignLink()]
    fastapi_apps = [{"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "FullSMS campaigns"}]
    external_views = [
        {
            "name": "FullSMS",
            # Relative, so it works under any base_url; the UI shows it in a frame at /plugin/fullsms.
            "href": f"{URL_PREFIX.lstrip('/')}/",
            "destination": "nav",
            "url_route": "fullsms",
            # Served by the plugin's app without a login: the menu shows them before any page loads.
            "icon": f"{URL_PREFIX.lstrip('/')}/static/fullsms.svg",
            "icon_dark_mode": f"{URL_PREFIX.lstrip('/')}/static/fullsms-dark.svg",
        }
    ]
