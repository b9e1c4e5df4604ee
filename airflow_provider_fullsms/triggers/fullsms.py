"""
:class:`FullSmsBalanceTrigger`: the deferrable balance sensor's wait, run in the triggerer.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_fullsms.connection import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["FullSmsBalanceTrigger"]


class FullSmsBalanceTrigger(BaseTrigger):
    """
    Poll the FullSMS balance until it reaches ``min_balance``; fire one event.

    Events: ``{"status": "success", "balance": <float>, "min_balance": <float>}`` once the balance
    is high enough, or ``{"status": "error", "message": <str>}`` on an error that waiting cannot
    fix (a bad token, missing rights, a bad connection). Transient errors (5xx, 429, network) are
    logged and tried again at the next poll. Every check, failed or not, is followed by
    ``poke_interval`` seconds of sleep, so an API in trouble is never hammered.

    :param min_balance: the balance to wait for.
    :param fullsms_conn_id: connection of type ``fullsms``; only its id is serialised, never the token.
    :param poke_interval: seconds between two checks.
    """

    def __init__(
        self,
        *,
        min_balance: float,
        fullsms_conn_id: str = DEFAULT_CONN_ID,
        poke_interval: float = 60.0,
    ) -> None:
        super().__init__()
        self.min_balance = float(min_balance)
        self.fullsms_conn_id = fullsms_conn_id
        self.poke_interval = float(poke_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and JSON-only kwargs: the triggerer reads the token from the connection itself."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "min_balance": self.min_balance,
                "fullsms_conn_id": self.fullsms_conn_id,
                "poke_interval": self.poke_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # The event is decided, and the HTTP client closed, before yielding: a consumer that takes
        # one event and never resumes the generator cannot leave a client open.
        yield TriggerEvent(await self.wait_for_balance())

    async def wait_for_balance(self) -> dict[str, Any]:
        """Poll until the balance is high enough or an error is permanent; return the event payload."""
        from airflow_provider_fullsms.exceptions import FullSmsError
        from airflow_provider_fullsms.hooks.fullsms_async import FullSmsAsyncHook
        from airflow_provider_fullsms.policy import NO_RETRY, is_worth_waiting_out

        # One request per check: poke_interval is the retry loop. `async with` closes the client
        # on every exit, cancellation by the triggerer included (CancelledError propagates).
        async with FullSmsAsyncHook(self.fullsms_conn_id, retry_policy=NO_RETRY) as hook:
            while True:
                try:
                    balance = await hook.get_balance()
                except FullSmsError as error:
                    if not is_worth_waiting_out(error):
                        return _error_event(error)
                    self.log.warning(
                        "Could not read the FullSMS balance (%s); checking again in %gs.",
                        error,
                        self.poke_interval,
                    )
                except Exception as error:
                    # A missing connection or a bug: waiting will not help, and an event with the
                    # reason reads better in the task log than a triggerer traceback.
                    return _error_event(error)
                else:
                    if balance >= self.min_balance:
                        return {"status": "success", "balance": balance, "min_balance": self.min_balance}
                    self.log.info(
                        "FullSMS balance is %g, below the %g needed; checking again in %gs.",
                        balance,
                        self.min_balance,
                        self.poke_interval,
                    )
                await asyncio.sleep(self.poke_interval)


def _error_event(error: Exception) -> dict[str, Any]:
    return {"status": "error", "message": f"{type(error).__name__}: {error}"}
