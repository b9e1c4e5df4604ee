"""The balance operator: the FullSMS balance to XCom, optionally failing below a minimum."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_fullsms.operators.base import FullSmsBaseOperator

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.common.compat.sdk import Context


class FullSmsGetBalanceOperator(FullSmsBaseOperator):
    """
    Read the FullSMS balance and return it (a float) to XCom.

    :param min_balance: fail the task (without retry) when the balance is lower. Templated, so an
        upstream cost estimate can set it (``"{{ ti.xcom_pull(task_ids='cost') }}"``); one given
        that renders to nothing (a plan's ``required_balance`` without a price) fails, naming
        ``price_per_segment``.
    :param fullsms_conn_id: the FullSMS connection.
    """

    template_fields: Sequence[str] = ("min_balance",)

    def __init__(self, *, min_balance: float | str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.min_balance = min_balance
        # Decided before rendering: a template or XCom that renders to None is an error, not "no minimum".
        self.checks_min_balance = min_balance not in (None, "")

    def _execute(self, context: Context) -> float:
        from airflow_provider_fullsms.balance import coerce_min_balance
        from airflow_provider_fullsms.exceptions import FullSmsBalanceBelowMinimumError
        from airflow_provider_fullsms.metrics import report_balance

        threshold = coerce_min_balance(self.min_balance) if self.checks_min_balance else None
        balance = self.hook.get_balance()
        self.log.info("FullSMS balance: %g", balance)
        report_balance(context, self.fullsms_conn_id, balance, self.log)
        if threshold is not None and balance < threshold:
            raise FullSmsBalanceBelowMinimumError(
                f"FullSMS balance {balance:g} is below min_balance {threshold:g}: top up the account "
                "before sending (nothing was sent)."
            )
        return balance
