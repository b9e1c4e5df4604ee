"""
:class:`FullSmsAsyncHook`: the async twin of :class:`~airflow_provider_fullsms.hooks.fullsms.FullSmsHook`.

For triggers and async notifiers: it reads the connection and calls the API with ``httpx``
without blocking the event loop, through the same retry core
(:class:`~airflow_provider_fullsms.hooks.transport.ApiCall`) and the same payload checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.connection import DEFAULT_CONN_ID, ConnectionConfig
from airflow_provider_fullsms.exceptions import FullSmsError
from airflow_provider_fullsms.hooks.base import FullSmsBaseHook, build_send_payload, read_balance
from airflow_provider_fullsms.hooks.transport import ApiCall, httpx_failure
from airflow_provider_fullsms.models import Campaign

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    import httpx

    from airflow_provider_fullsms.policy import RetryPolicy

__all__ = ["FullSmsAsyncHook"]


class FullSmsAsyncHook(FullSmsBaseHook):
    """
    The async twin of :class:`FullSmsHook` for triggers and async notifiers (httpx).

    It reads the connection the async way, so the triggerer's event loop never blocks.
    Use it as ``async with FullSmsAsyncHook(...) as hook:`` so its client is always closed.

    :param fullsms_conn_id: connection of type ``fullsms`` (see :class:`FullSmsHook`).
    :param retry_policy: bounds of automatic retries (see :mod:`airflow_provider_fullsms.policy`).
    """

    def __init__(
        self, fullsms_conn_id: str = DEFAULT_CONN_ID, *, retry_policy: RetryPolicy | None = None
    ) -> None:
        super().__init__(fullsms_conn_id, retry_policy=retry_policy)
        self._config: ConnectionConfig | None = None
        self._client: httpx.AsyncClient | None = None

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
        return read_balance(await self._request("GET", "account/balance"))

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

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        policy: RetryPolicy | None = None,
    ) -> Any:
        """Async :meth:`FullSmsHook._request`: the same retry core, sleeping with ``asyncio.sleep``."""
        import asyncio

        import httpx

        config = await self.aget_config()
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=config.base_url,
                headers=config.headers,
                timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
                follow_redirects=False,
            )
        call = ApiCall(method, path, policy or self.retry_policy, self.log, secrets=(config.token,))
        while True:
            try:
                try:
                    # Never follow a redirect, whatever the client's default (see FullSmsHook._request).
                    response = await self._client.request(
                        method, f"/{path}", json=json, follow_redirects=False
                    )
                except httpx.HTTPError as exc:
                    raise call.transport_error(*httpx_failure(exc, config)) from exc
                return call.read(response)
            except FullSmsError as error:
                await asyncio.sleep(call.wait_before_retry(error))
