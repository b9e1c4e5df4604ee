"""
:class:`FullSmsBalanceTopUpTrigger`: an asset event each time the FullSMS balance is topped up.

For an :class:`~airflow.sdk.AssetWatcher`: a DAG scheduled on the watched asset starts when the
account can pay for its send, with nothing waiting in a worker slot or deferred in the triggerer
beforehand. Example::

    from airflow.sdk import Asset, AssetWatcher, dag

    from airflow_provider_fullsms.triggers.top_up import FullSmsBalanceTopUpTrigger

    top_up = FullSmsBalanceTopUpTrigger(min_balance=150)
    topped_up = Asset("fullsms_topped_up", watchers=[AssetWatcher(name="balance_150", trigger=top_up)])


    @dag(schedule=[topped_up])
    def send_when_paid_for(): ...

It polls as the balance sensor's trigger
(:class:`~airflow_provider_fullsms.triggers.fullsms.FullSmsBalanceTrigger`) does, in the same
shared poll on every Airflow version (Airflow's shared streams on 3.3, the provider's per-process
poll, :mod:`~airflow_provider_fullsms.triggers.shared_poll`, before): watchers and deferred
sensors on one connection and interval cost FullSMS one balance request per interval together.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.triggers import BaseEventTrigger
from airflow.triggers.base import TriggerEvent

from airflow_provider_fullsms.connection import DEFAULT_CONN_ID
from airflow_provider_fullsms.triggers import shared_poll
from airflow_provider_fullsms.triggers.fullsms import FullSmsBalanceTrigger
from airflow_provider_fullsms.version_compat import AIRFLOW_V_3_0_PLUS, AirflowTooOldError

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Hashable

    from airflow_provider_fullsms.triggers.fullsms import BalanceReading

__all__ = ["AssetWatcher", "FullSmsBalanceTopUpTrigger"]

if TYPE_CHECKING or AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import AssetWatcher
else:

    class AssetWatcher:
        """Stands in for Airflow's ``AssetWatcher`` before 3.0: refuses to be built, saying why."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise AirflowTooOldError(
                "An asset watcher (event-driven scheduling, FullSmsBalanceTopUpTrigger)",
                "3.0",
                "Without it, wait for the balance in the DAG with FullSmsBalanceSensor (deferrable=True).",
            )


#: The asset state store key that remembers the side of ``min_balance`` the last reading was on.
MEMORY_KEY_PREFIX = "fullsms.top_up"


class FullSmsBalanceTopUpTrigger(BaseEventTrigger):
    """
    Fire each time the FullSMS balance reaches ``min_balance`` from below; run until cancelled.

    Made for an :class:`~airflow.sdk.AssetWatcher`: every event becomes an asset event (its
    ``extra["payload"]`` is ``{"balance": <float>, "min_balance": <float>, "fullsms_conn_id": <str>}``)
    that starts the DAGs scheduled on the asset. It fires on a top-up, not on every check while
    the balance is high: once when a reading is at or above ``min_balance`` after one below it
    (or after none at all: a watcher that starts on a funded account fires once), then not again
    until a reading has been below. A send that leaves the balance above the threshold is
    therefore not started again at the next check; one that spends it below re-arms the watcher.

    The side of ``min_balance`` the last reading was on is kept in the watched asset's state store
    (Airflow 3.3+), written before the event is fired: a restarted triggerer fires neither again
    for a top-up it announced nor misses one made while it was down. At worst, a triggerer killed
    between recording a top-up and its event reaching the database misses that top-up; it never
    announces one twice. Where there is no such store (older Airflow, or one trigger watching
    several assets), the side is kept in memory, and a restarted triggerer fires once more if the
    balance is high.

    A failed check never fires: it is logged (each change once) and the next check tries again,
    reading the connection anew, so a connection fixed after a bad token is used without a restart.

    :param min_balance: the balance a top-up reaches.
    :param fullsms_conn_id: connection of type ``fullsms``; only its id is serialised, never the token.
    :param poke_interval: seconds between two checks (shared with the sensors waiting on the same
        connection and interval).
    """

    def __init__(
        self,
        *,
        min_balance: float,
        fullsms_conn_id: str = DEFAULT_CONN_ID,
        poke_interval: float = 60.0,
    ) -> None:
        super().__init__()
        # The sensor's trigger on the same arguments, never run itself: its arguments, key and
        # poll are this trigger's, so watchers and sensors group together by construction.
        self._poll = FullSmsBalanceTrigger(
            min_balance=min_balance, fullsms_conn_id=fullsms_conn_id, poke_interval=poke_interval
        )
        self.min_balance = self._poll.min_balance
        self.fullsms_conn_id = self._poll.fullsms_conn_id
        self.poke_interval = self._poll.poke_interval
        self._last_logged: str | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """This class, and the sensor trigger's JSON-only kwargs (the connection id, never the token)."""
        return f"{type(self).__module__}.{type(self).__qualname__}", self._poll.serialize()[1]

    def shared_stream_key(self) -> Hashable:
        """The balance sensors' key: watchers and sensors on one connection and interval share a poll."""
        return self._poll.shared_stream_key()

    @classmethod
    def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncGenerator[BalanceReading, None]:
        """The balance sensors' poll (:meth:`FullSmsBalanceTrigger.open_shared_stream`), unchanged."""
        return FullSmsBalanceTrigger.open_shared_stream(kwargs)

    async def filter_shared_stream(
        self, shared_stream: AsyncIterator[BalanceReading]
    ) -> AsyncGenerator[TriggerEvent, None]:
        """An event for each reading that reaches ``min_balance`` from below (or from nothing seen)."""
        memory = _SideMemory(self)
        async for reading in shared_stream:
            if reading.error is not None:
                self._log_failed_check(reading.error)
                continue
            assert reading.balance is not None
            balance = reading.balance
            above = balance >= self.min_balance
            try:
                before = await memory.load()
                if above != before:
                    await memory.save(above)
            except Exception as error:
                # Firing without a record could fire again after a restart: wait for the next check.
                self._log_when_new(logging.WARNING, f"Could not read or record the balance's side ({error})")
                continue
            if above and before is not True:
                self._last_logged = None
                self.log.info(
                    "FullSMS balance is %g, at or above %g: firing the top-up event.",
                    balance,
                    self.min_balance,
                )
                yield TriggerEvent(
                    {
                        "balance": balance,
                        "min_balance": self.min_balance,
                        "fullsms_conn_id": self.fullsms_conn_id,
                    }
                )
            elif not above:
                self._log_when_new(
                    logging.INFO,
                    f"FullSMS balance is {balance:g}, below the {self.min_balance:g} of a top-up",
                )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # Called by triggerers before 3.3 (3.3's calls filter_shared_stream): the balance sensors'
        # poll in this process, joined until the triggerer cancels the watcher.
        async with (
            shared_poll.subscribe(self) as readings,
            contextlib.aclosing(self.filter_shared_stream(readings)) as events,
        ):
            async for event in events:
                yield event

    def _log_failed_check(self, error: Exception) -> None:
        from airflow_provider_fullsms.exceptions import FullSmsError
        from airflow_provider_fullsms.policy import is_worth_waiting_out

        if isinstance(error, FullSmsError) and is_worth_waiting_out(error):
            self._log_when_new(logging.WARNING, f"Could not read the FullSMS balance ({error})")
        else:
            # A bad token or connection: no event, but loud; fixing the connection is enough.
            self._log_when_new(
                logging.ERROR,
                f"Could not read the FullSMS balance, fix connection {self.fullsms_conn_id!r}: "
                f"{type(error).__name__}: {error}",
            )

    def _log_when_new(self, level: int, what: str) -> None:
        """Log ``what`` unless the last check logged it: a watcher running for weeks logs changes."""
        if what != self._last_logged:
            self._last_logged = what
            self.log.log(
                level, "%s; checking every %gs (logged again when it changes).", what, self.poke_interval
            )


class _SideMemory:
    """
    Whether the last reading was at or above ``min_balance``: ``None`` before the first one.

    Kept in the watched asset's state store when the triggerer gave the trigger one for a single
    asset, else in memory. Read once, written only when the side changes (rarely: at a top-up and
    when a send spends the balance below the threshold).
    """

    def __init__(self, trigger: FullSmsBalanceTopUpTrigger) -> None:
        self._trigger = trigger
        # The threshold is part of the key: two watchers of one asset with two thresholds are two sides.
        self._key = f"{MEMORY_KEY_PREFIX}.{trigger.fullsms_conn_id}.{trigger.min_balance:g}"
        self._loaded = False
        self._in_memory_only = False
        self._above: bool | None = None

    def _store(self) -> Any:
        return None if self._in_memory_only else getattr(self._trigger, "asset_state_store", None)

    async def load(self) -> bool | None:
        if not self._loaded:
            store = self._store()
            if store is not None:
                try:
                    stored = await store.aget(self._key)
                except ValueError:
                    # Several watched assets: the store needs an asset to be named; keep it in memory.
                    self._in_memory_only = True
                    self._trigger.log.warning(
                        "This top-up trigger watches several assets: it remembers the balance's "
                        "side in memory only, so a restarted triggerer fires once more if it is high."
                    )
                else:
                    self._above = stored if isinstance(stored, bool) else None
            self._loaded = True
        return self._above

    async def save(self, above: bool) -> None:
        store = self._store()
        if store is not None:
            await store.aset(self._key, above)
        self._above = above
