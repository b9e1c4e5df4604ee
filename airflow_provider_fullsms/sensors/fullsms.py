"""
:class:`FullSmsBalanceSensor`: wait until the FullSMS account can pay for what comes next.

Typical use gates a campaign on its cost: an upstream task works the cost out and passes it by
XCom to ``min_balance``; the sensor returns the balance it saw, so the send can log or check it.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from airflow_provider_fullsms.balance import coerce_min_balance
from airflow_provider_fullsms.connection import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_fullsms.hooks.fullsms import FullSmsHook

__all__ = ["FullSmsBalanceSensor", "coerce_min_balance"]


class FullSmsBalanceSensor(BaseSensorOperator):
    """
    Wait until the FullSMS account balance is at least ``min_balance``; return that balance.

    Works in ``mode="poke"``, ``mode="reschedule"`` and with ``deferrable=True`` (the waiting then
    happens in the triggerer, see :class:`~airflow_provider_fullsms.triggers.fullsms.FullSmsBalanceTrigger`).
    Transient API errors (5xx, 429, network) are logged and waited out; an authentication or
    access error fails at once with the server's message. ``soft_fail=True`` skips the task when
    ``timeout`` passes, the same in every mode.

    :param min_balance: the balance to wait for (templated, e.g. the cost of the coming campaign
        pulled from XCom); it must render to a number.
    :param fullsms_conn_id: connection of type ``fullsms``.
    :param deferrable: wait in the triggerer instead of on a worker; default
        ``[operators] default_deferrable``.
    """

    template_fields: Sequence[str] = ("min_balance",)
    ui_color = "#f4a460"

    def __init__(
        self,
        *,
        min_balance: float | str,
        fullsms_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.min_balance = min_balance
        self.fullsms_conn_id = fullsms_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> FullSmsHook:
        """One request per poke: the sensor's own ``poke_interval`` is the retry loop."""
        from airflow_provider_fullsms.hooks.fullsms import FullSmsHook
        from airflow_provider_fullsms.policy import NO_RETRY

        return FullSmsHook(self.fullsms_conn_id, retry_policy=NO_RETRY)

    def poke(self, context: Context) -> PokeReturnValue:
        """Read the balance once; done, with the balance as XCom, when it reaches ``min_balance``."""
        from airflow_provider_fullsms.exceptions import FullSmsError
        from airflow_provider_fullsms.metrics import report_balance
        from airflow_provider_fullsms.policy import is_worth_waiting_out

        threshold = coerce_min_balance(self.min_balance)
        try:
            balance = self.hook.get_balance()
        except FullSmsError as error:
            if not is_worth_waiting_out(error):
                raise
            self.log.warning(
                "Could not read the FullSMS balance (%s); checking again in %gs.", error, self.poke_interval
            )
            return PokeReturnValue(is_done=False)
        report_balance(context, self.fullsms_conn_id, balance, self.log)
        if balance >= threshold:
            self.log.info("FullSMS balance is %g, at least the %g needed.", balance, threshold)
            return PokeReturnValue(is_done=True, xcom_value=balance)
        self.log.info("FullSMS balance is %g, below the %g needed; waiting.", balance, threshold)
        return PokeReturnValue(is_done=False)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        from airflow_provider_fullsms.triggers.fullsms import FullSmsBalanceTrigger

        # Poke once on the worker: when the money is already there, no trigger is needed.
        try:
            result = self.poke(context)
        except Exception as error:
            if self.never_fail:
                raise AirflowSkipException("Skipping due to never_fail is set to True.") from error
            raise
        if result.is_done:
            return result.xcom_value
        # The sensor's own timeout bounds the deferral, so a timeout is AirflowSensorTimeout
        # (and a skip under soft_fail) exactly as in poke and reschedule mode.
        self.defer(
            trigger=FullSmsBalanceTrigger(
                fullsms_conn_id=self.fullsms_conn_id,
                min_balance=coerce_min_balance(self.min_balance),
                poke_interval=self.poke_interval,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> float:
        """
        Resume after the trigger fired: return the balance it saw, or fail with its error.

        :param event: the trigger's event, ``{"status": "success", "balance": ...}`` or
            ``{"status": "error", "message": ...}``.
        """
        if not isinstance(event, dict):
            raise AirflowException(f"FullSMS balance trigger sent no usable event: {event!r}.")
        status = event.get("status")
        if status == "success":
            from airflow_provider_fullsms.metrics import report_balance

            balance = float(event["balance"])
            report_balance(context, self.fullsms_conn_id, balance, self.log)
            self.log.info("FullSMS balance is %g, at least the %s needed.", balance, event.get("min_balance"))
            return balance
        if status == "error":
            raise AirflowException(f"Waiting for the FullSMS balance failed: {event.get('message')}")
        raise AirflowException(f"FullSMS balance trigger sent an unknown event: {event!r}.")

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        from airflow_provider_fullsms.version_compat import is_deferral_timeout

        if is_deferral_timeout(next_method, next_kwargs):
            # A sensor timeout as in poke mode (not retried), skipped under soft_fail; Airflow 3's
            # BaseSensorOperator does the same, Airflow 2.11's fails it as a retryable deferral error.
            message = f"The FullSMS balance did not reach {self.min_balance} within the sensor's timeout."
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        if next_method != "execute_complete":
            return super().resume_execution(next_method, next_kwargs, context)
        # BaseSensorOperator would also skip an error event under soft_fail; in poke and
        # reschedule mode soft_fail only skips a timeout and a bad token fails, so keep it so here.
        try:
            return self.execute_complete(context, **(next_kwargs or {}))
        except AirflowSkipException:
            raise
        except Exception as error:
            if self.never_fail:
                raise AirflowSkipException("Skipping due to never_fail is set to True.") from error
            raise
