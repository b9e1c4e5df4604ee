"""
What a send task does when FullSMS refuses a batch for low balance: pause in the triggerer and
resume where it stopped, or fail saying how much credit the rest needs.

Kept apart from :mod:`~airflow_provider_fullsms.operators.base` so the send operators read as the
steps of a send; this module is the one place that knows about the deferral.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import conf

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_fullsms.campaigns.credit import CreditWait, SegmentTally
    from airflow_provider_fullsms.campaigns.report import CampaignReport
    from airflow_provider_fullsms.hooks.fullsms import FullSmsHook

#: How long a campaign paused for credit waits by default before it fails.
DEFAULT_LOW_BALANCE_TIMEOUT = timedelta(hours=24)


class LowBalancePauseMixin:
    """
    Pause a send stopped by FullSMS's ``422 balance_low`` until the balance covers the rest.

    With ``deferrable=True`` the task defers on
    :class:`~airflow_provider_fullsms.triggers.fullsms.FullSmsBalanceTrigger` (no worker slot while
    it waits; triggers on one connection share one balance poll) for the balance
    :func:`~airflow_provider_fullsms.campaigns.credit.credit_to_resume` names, then runs the send
    again on a worker: the ledger skips every accepted batch, so nobody is texted twice, and the
    send requests never run in the triggerer. It does not pause when a batch's outcome is unknown,
    or FullSMS's answer for a batch did not add up: that needs a person first. Without
    ``deferrable`` the task fails, naming that balance.

    :param deferrable: pause in the triggerer on ``balance_low``; default
        ``[operators] default_deferrable``.
    :param low_balance_timeout: how long one pause waits for credit (a ``timedelta`` or seconds)
        before the task fails without retry; default 24 hours.
    :param low_balance_poke_interval: seconds between two balance checks while paused.
    """

    if TYPE_CHECKING:
        hook: FullSmsHook
        price_per_segment: float | str | None
        log: Any

        def defer(self, **kwargs: Any) -> Any: ...

        def execute(self, context: Context) -> Any: ...

    def __init__(
        self,
        *,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        low_balance_timeout: timedelta | float = DEFAULT_LOW_BALANCE_TIMEOUT,
        low_balance_poke_interval: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.deferrable = deferrable
        if not isinstance(low_balance_timeout, timedelta):
            low_balance_timeout = timedelta(seconds=float(low_balance_timeout))
        self.low_balance_timeout = low_balance_timeout
        self.low_balance_poke_interval = float(low_balance_poke_interval)

    def _credit_advice(self, report: CampaignReport, tally: SegmentTally) -> str:
        """
        Pause the task when ``balance_low`` stopped the campaign and it may wait; else the advice
        for the failure message ("" when the stop was not ``balance_low``).
        """
        from airflow_provider_fullsms.exceptions import FullSmsBalanceLowError

        if not isinstance(report.stopped_by, FullSmsBalanceLowError):
            return ""
        wait = self._credit_wait(report, tally)
        if wait is None:
            return "Top up the FullSMS account, then clear the task: accepted batches are skipped."
        if self.deferrable and not report.unknown_batches and not report.discrepant_now:
            self._pause(report, wait)
        return (
            f"The rest needs a balance of at least {wait.min_balance:g} ({wait.reason}): top up, then "
            "clear the task: accepted batches are skipped."
        )

    def _credit_wait(self, report: CampaignReport, tally: SegmentTally) -> CreditWait | None:
        """The balance that lets the rest go out, or ``None`` when the balance cannot be read."""
        from airflow_provider_fullsms.campaigns.credit import credit_to_resume
        from airflow_provider_fullsms.connection import check_amount
        from airflow_provider_fullsms.exceptions import FullSmsError

        try:
            balance = self.hook.get_balance()
        except FullSmsError as error:
            self.log.warning("Could not read the FullSMS balance after balance_low: %s", error)
            return None
        config = self.hook.config
        price = getattr(config, "price_per_segment", None)
        if getattr(self, "price_per_segment", None) not in (None, ""):
            price = check_amount(self.price_per_segment, "price_per_segment")
        return credit_to_resume(
            balance=balance,
            refusal=getattr(report.stopped_by, "message", str(report.stopped_by)),
            remaining_segments=tally.remaining(report),
            price_per_segment=price,
            minimum_balance=getattr(config, "minimum_balance", None),
        )

    def _pause(self, report: CampaignReport, wait: CreditWait) -> None:
        from airflow_provider_fullsms.triggers.fullsms import FullSmsBalanceTrigger

        self.log.info(
            "FullSMS refused a batch for low balance after %d of %d batches were sent: pausing (no "
            "worker slot) until the balance is at least %g (%s), for at most %s; then the rest is "
            "sent and accepted batches are skipped.",
            report.sent_batches,
            report.batches_total,
            wait.min_balance,
            wait.reason,
            self.low_balance_timeout,
        )
        self.defer(
            trigger=FullSmsBalanceTrigger(
                min_balance=wait.min_balance,
                fullsms_conn_id=self.fullsms_conn_id,  # type: ignore[attr-defined]
                poke_interval=self.low_balance_poke_interval,
            ),
            method_name="execute_complete",
            timeout=self.low_balance_timeout,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """
        Resume after the balance trigger fired: send the rest from the ledger, or fail with its error.

        :param event: the trigger's event, ``{"status": "success", "balance": ...}`` or
            ``{"status": "error", "message": ...}``.
        """
        from airflow_provider_fullsms.outcomes import fail

        if not isinstance(event, dict) or event.get("status") != "success":
            detail = event.get("message") if isinstance(event, dict) else event
            raise fail(f"Waiting for FullSMS credit failed ({detail}); nothing more was sent.")
        self.log.info(
            "FullSMS balance is %g (at least %g): resuming the campaign from its ledger.",
            event["balance"],
            event["min_balance"],
        )
        return self.execute(context)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """A pause that timed out fails without retry: a retry would only pause again."""
        from airflow_provider_fullsms.outcomes import fail
        from airflow_provider_fullsms.version_compat import is_deferral_timeout

        if is_deferral_timeout(next_method, next_kwargs):
            raise fail(
                f"The FullSMS balance did not cover the rest of the campaign within "
                f"low_balance_timeout ({self.low_balance_timeout}); nothing more was sent. Top up, then "
                "clear the task: accepted batches are skipped."
            )
        return super().resume_execution(next_method, next_kwargs, context)  # type: ignore[misc]
