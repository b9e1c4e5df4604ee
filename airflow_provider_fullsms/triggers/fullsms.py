"""
:class:`FullSmsBalanceTrigger`: the deferrable balance sensor's wait, run in the triggerer.

A thousand sensors waiting on one connection must not mean a thousand balance requests per
poke interval. In a triggerer, every balance trigger with the same connection id and
``poke_interval`` shares one poll, on every Airflow version:

- Airflow 3.3's triggerer does it itself (:mod:`airflow.triggers.shared_stream`): it runs
  :meth:`FullSmsBalanceTrigger.open_shared_stream` once per group, broadcasts each reading to
  every trigger of the group, and stops the poll when the last one leaves.
- Older triggerers (2.11, 3.0 to 3.2) call each trigger's ``run()``; ``run()`` reads the same
  poll through the provider's per-process one
  (:mod:`airflow_provider_fullsms.triggers.shared_poll`), which works the same way.

Each trigger then decides for itself in :meth:`FullSmsBalanceTrigger.filter_shared_stream`,
against its own ``min_balance``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.triggers import BaseEventTrigger
from airflow.triggers.base import TriggerEvent

from airflow_provider_fullsms.connection import DEFAULT_CONN_ID
from airflow_provider_fullsms.triggers import shared_poll

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Hashable

    from airflow_provider_fullsms.hooks.fullsms_async import FullSmsAsyncHook

__all__ = ["BalanceReading", "FullSmsBalanceTrigger"]


@dataclass(frozen=True)
class BalanceReading:
    """
    One balance check of a shared poll, as every trigger of the group receives it.

    :param balance: the balance FullSMS answered, or ``None`` when the check failed.
    :param error: why the check failed (not raised: one exception object is handed to many
        triggers, and re-raising it in each would grow its traceback).
    """

    balance: float | None = None
    error: Exception | None = None


class FullSmsBalanceTrigger(BaseEventTrigger):
    """
    Poll the FullSMS balance until it reaches ``min_balance``; fire one event.

    Events: ``{"status": "success", "balance": <float>, "min_balance": <float>}`` once the balance
    is high enough, or ``{"status": "error", "message": <str>}`` on an error that waiting cannot
    fix (a bad token, missing rights, a bad connection). Transient errors (5xx, 429, network) are
    logged and tried again at the next poll. Every check, failed or not, is followed by
    ``poke_interval`` seconds of sleep, so an API in trouble is never hammered.

    In the triggerer, triggers with the same ``fullsms_conn_id`` and ``poke_interval`` share one
    poll (see :meth:`shared_stream_key`): FullSMS sees one balance request per interval and
    connection however many sensors wait, and each reading is at most one request old. Airflow
    3.3 shares it through its shared streams; before, :meth:`run` joins the provider's
    per-process poll. It is a :class:`~airflow.triggers.base.BaseEventTrigger` only to take part
    in Airflow's sharing.

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
        self._last_logged: str | None = None

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

    def shared_stream_key(self) -> Hashable:
        """
        Triggers on the same connection id and interval share one poll.

        The key holds no token: the poll reads the connection itself before every check, so a
        connection edited while sensors wait (another host, a new token) is used from the next
        check on.
        """
        return ("fullsms-balance", self.fullsms_conn_id, self.poke_interval)

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncGenerator[BalanceReading, None]:
        """
        Check the balance every ``poke_interval`` seconds and yield each reading; never raise.

        One request per check, with no retry inside it: ``poke_interval`` is the retry loop.
        The HTTP client is kept while the connection reads the same, and closed on every exit,
        the triggerer's cancellation of the group included.

        :param kwargs: the serialised kwargs of the trigger that started the group; only
            ``fullsms_conn_id`` and ``poke_interval`` (the key) are read.
        """
        conn_id: str = kwargs["fullsms_conn_id"]
        hook: FullSmsAsyncHook | None = None
        try:
            while True:
                try:
                    hook = await _hook_for_current_connection(conn_id, hook)
                    reading = BalanceReading(balance=await hook.get_balance())
                except Exception as error:
                    reading = BalanceReading(error=error.with_traceback(None))
                yield reading
                await asyncio.sleep(float(kwargs["poke_interval"]))
        finally:
            if hook is not None:
                await hook.aclose()

    async def filter_shared_stream(
        self, shared_stream: AsyncIterator[BalanceReading]
    ) -> AsyncGenerator[TriggerEvent, None]:
        """Decide on each shared reading against this trigger's own ``min_balance``; fire once."""
        async for reading in shared_stream:
            payload = self._decide(reading)
            if payload is not None:
                yield TriggerEvent(payload)
                return

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # Called by triggerers before 3.3 and by dag.test(); 3.3's triggerer calls
        # filter_shared_stream instead. The event is decided, and the poll left (the last trigger
        # out closes the HTTP client), before yielding: a consumer that takes one event and never
        # resumes the generator, as dag.test() does, cannot hold the poll open.
        yield TriggerEvent(await self.wait_for_balance())

    async def wait_for_balance(self) -> dict[str, Any]:
        """
        Wait in this process's shared poll of the trigger's connection and interval until the
        balance is high enough or an error is permanent; return the event payload.
        """
        async with (
            shared_poll.subscribe(self) as readings,
            contextlib.aclosing(self.filter_shared_stream(readings)) as events,
        ):
            return (await anext(events)).payload

    def _decide(self, reading: BalanceReading) -> dict[str, Any] | None:
        """The event payload a reading calls for, or ``None`` to wait for the next one."""
        from airflow_provider_fullsms.exceptions import FullSmsError
        from airflow_provider_fullsms.policy import is_worth_waiting_out

        error = reading.error
        if error is not None:
            # Anything but a FullSMS error (a missing connection, a bug): waiting will not help,
            # and an event with the reason reads better in the task log than a triggerer traceback.
            if not (isinstance(error, FullSmsError) and is_worth_waiting_out(error)):
                return {"status": "error", "message": f"{type(error).__name__}: {error}"}
            self._log_when_new(logging.WARNING, f"Could not read the FullSMS balance ({error})")
            return None
        assert reading.balance is not None
        if reading.balance >= self.min_balance:
            return {"status": "success", "balance": reading.balance, "min_balance": self.min_balance}
        self._log_when_new(
            logging.INFO, f"FullSMS balance is {reading.balance:g}, below the {self.min_balance:g} needed"
        )
        return None

    def _log_when_new(self, level: int, what: str) -> None:
        """
        Log ``what`` unless it is what the last check logged: a sensor waiting for hours logs each
        change, not every check, and a thousand of them on one reading do not stall the event loop.
        """
        if what != self._last_logged:
            self._last_logged = what
            self.log.log(
                level, "%s; checking every %gs (logged again when it changes).", what, self.poke_interval
            )


async def _hook_for_current_connection(conn_id: str, hook: FullSmsAsyncHook | None) -> FullSmsAsyncHook:
    """
    ``hook`` while the connection still reads the same, else a new hook for what it reads now.

    Reading the connection is cheap next to a new HTTP client (an SSL context each), so the
    client is kept across checks and replaced only when the connection changed.
    """
    from airflow_provider_fullsms.hooks.fullsms_async import FullSmsAsyncHook
    from airflow_provider_fullsms.policy import NO_RETRY

    current = FullSmsAsyncHook(conn_id, retry_policy=NO_RETRY)
    config = await current.aget_config()
    if hook is not None:
        if await hook.aget_config() == config:
            return hook
        await hook.aclose()
    return current
