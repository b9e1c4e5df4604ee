"""
What the FullSMS operators share: the connection and its hook, errors mapped to Airflow in one
place, and for the send operators the message, sender, ``send_at``, the ledger and the summary.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_fullsms.connection import DEFAULT_CONN_ID, check_write_window
from airflow_provider_fullsms.operators.low_balance import LowBalancePauseMixin
from airflow_provider_fullsms.operators.observability import CampaignObservabilityMixin
from airflow_provider_fullsms.outcomes import (
    SUMMARY_XCOM_KEY,
    campaign_page,
    raise_for,
    raise_for_report,
    settle_options,
)
from airflow_provider_fullsms.version_compat import XCOM_HOLDS_NONE

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from datetime import datetime

    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_fullsms.campaigns import (
        Batch,
        CampaignPlan,
        Ledger,
        MessageSource,
        OnUnknownOutcome,
        PlanInspector,
        SendResult,
    )
    from airflow_provider_fullsms.campaigns.ledger import StateStore
    from airflow_provider_fullsms.campaigns.window import SendWindow
    from airflow_provider_fullsms.hooks.fullsms import FullSmsHook
    from airflow_provider_fullsms.models import Template


#: The templated parameters both send operators share.
SEND_TEMPLATE_FIELDS = (
    "message",
    "template_id",
    "sender",
    "send_at",
    "on_unknown_outcome",
    "price_per_segment",
    "expected_fingerprint",
)


class FullSmsBaseOperator(BaseOperator):
    """A FullSMS connection, its hook, and errors mapped to Airflow in one place."""

    ui_color = "#e8f4fd"

    def __init__(self, *, fullsms_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fullsms_conn_id = fullsms_conn_id

    @cached_property
    def hook(self) -> FullSmsHook:
        """The hook, created on first use (never while the DAG file is parsed)."""
        # Imported here, not at the top: it keeps the hook and requests out of DAG parsing.
        from airflow_provider_fullsms.hooks.fullsms import FullSmsHook

        return FullSmsHook(fullsms_conn_id=self.fullsms_conn_id)

    def execute(self, context: Context) -> Any:
        try:
            return self._execute(context)
        except Exception as err:
            raise_for(err)

    def _execute(self, context: Context) -> Any:
        """The operator's work; FullSMS errors it raises are mapped to Airflow by :meth:`execute`."""
        raise NotImplementedError


class FullSmsBaseSendOperator(CampaignObservabilityMixin, LowBalancePauseMixin, FullSmsBaseOperator):
    """
    What both send operators share: message, sender, ``send_at``, the ledger and the results, and
    the plan: ``dry_run=True`` returns what the send would do and cost instead of sending, and
    ``expected_fingerprint`` refuses a campaign that is not the one approved.

    The campaign engine (:mod:`airflow_provider_fullsms.campaigns`) is imported when a task runs,
    in the methods that use it: it costs about 20 ms, and DAG files import the operators on every
    parse.
    """

    # The parameter the issue and the README name; it hides BaseOperator.dry_run(), a template
    # rendering helper that Airflow itself never calls.
    dry_run: bool  # type: ignore[assignment]

    def __init__(
        self,
        *,
        message: str | None = None,
        template_id: int | str | None = None,
        sender: str | None = None,
        send_at: datetime | str | None = None,
        send_at_tolerance: float = 600.0,
        on_unknown_outcome: str = "fail",
        stop_after_unknown: int = 3,
        ledger_write_window: float | None = None,
        dry_run: bool = False,
        price_per_segment: float | str | None = None,
        expected_fingerprint: str | None = None,
        ledger_retention: timedelta | None = None,
        **kwargs: Any,
    ) -> None:
        if ledger_retention is not None and (
            not isinstance(ledger_retention, timedelta) or ledger_retention <= timedelta(0)
        ):
            raise ValueError(
                f"ledger_retention={ledger_retention!r}: pass a positive timedelta (how long Airflow keeps "
                "the ledger after its last write), or leave it None: the ledger never expires."
            )
        self.ledger_retention = ledger_retention
        if dry_run:
            # Each figure of the plan is its own XCom too: plan.output["required_balance"].
            kwargs.setdefault("multiple_outputs", XCOM_HOLDS_NONE)
        super().__init__(**kwargs)
        if (
            isinstance(stop_after_unknown, bool)
            or not isinstance(stop_after_unknown, int)
            or stop_after_unknown < 1
        ):
            raise ValueError(
                f"stop_after_unknown={stop_after_unknown!r}: pass a whole number of at least 1 (after that "
                "many batches in a row with an unknown outcome, no new batch starts)."
            )
        self.stop_after_unknown = stop_after_unknown
        # Seconds a ledger write is retried while Airflow's api-server is unreachable (None: the
        # connection's extra, else two minutes).
        self.ledger_write_window = (
            None if ledger_write_window is None else check_write_window(ledger_write_window)
        )
        self.message = message
        self.template_id = template_id
        self.sender = sender
        self.send_at = send_at
        self.send_at_tolerance = send_at_tolerance
        self.on_unknown_outcome = on_unknown_outcome
        self.dry_run = dry_run
        self.price_per_segment = price_per_segment
        self.expected_fingerprint = expected_fingerprint
        self._add_campaign_alias()

    def execute(self, context: Context) -> Any:
        result = super().execute(context)
        ti = context.get("ti") if self.dry_run and not XCOM_HOLDS_NONE else None
        if ti is not None:  # the plan's figures, as multiple_outputs would push them, but None
            for key, value in result.items():
                if value is not None:
                    ti.xcom_push(key=key, value=value)
        return result

    def _ledger(self, context: Context) -> Ledger:
        from airflow_provider_fullsms.campaigns import Ledger
        from airflow_provider_fullsms.campaigns.ledger_writes import LedgerWrites

        store = _ledger_store(context)
        if self.dry_run:
            return Ledger(None)  # a dry run records nothing: it only asks whether a try started
        if store is None:
            self.log.warning(
                "No task_state_store in the context: resumption is off. Batches are not recorded "
                "between tries (a batch whose outcome is unknown is still never resent in this try)."
            )
        elif _clears_state_on_success():
            self.log.warning(
                "[state_store] clear_on_success is on: when this task succeeds Airflow deletes its "
                "ledger, so clearing the task after success would text everyone again. Turn it off "
                "for DAGs that send, or never clear a send task that succeeded."
            )
        window = self.ledger_write_window or self.hook.config.ledger_write_window
        return Ledger(
            store, retention=self.ledger_retention, writes=LedgerWrites(window, log=self.log.warning)
        )

    def _send_at(self, ledger: Ledger) -> str | None:
        from airflow_provider_fullsms.campaigns import resolve_send_at

        return resolve_send_at(
            self.send_at,
            self.hook.config.tz,
            tolerance=self.send_at_tolerance,
            resuming=ledger.started(),
            log=self.log.info,
        )

    def _template(self, source: MessageSource) -> Template | None:
        """The FullSMS template, checked against the account, or ``None`` for a text."""
        if source.template_id is None:
            return None
        return self.hook.get_template(self.template_id or source.template_id)

    def _price(self) -> float | None:
        """The price of one segment: the task's ``price_per_segment``, else the connection's, or ``None``."""
        from airflow_provider_fullsms.connection import check_amount

        if self.price_per_segment not in (None, ""):
            return check_amount(self.price_per_segment, "price_per_segment")
        return self.hook.config.price_per_segment

    def _inspector(self, template: Template | None, audience: str | None = None) -> PlanInspector:
        """
        What watches the plan's batches: their fingerprint, and their segments for a dry run or when
        a price is known (a send's summary then carries its cost, which the FullSMS page shows).
        """
        from airflow_provider_fullsms.campaigns import PlanInspector

        return PlanInspector(
            analyse=self.dry_run or self._price() is not None,
            template_text=template.content if template else None,
            audience=audience,
        )

    def _fingerprint(
        self,
        inspector: PlanInspector,
        *,
        recipients: str,
        sender: str,
        template: Template | None,
        send_window: SendWindow | None = None,
        exclusions: str | None = None,
    ) -> str:
        """
        The campaign's fingerprint: who gets which text (a template's content included), from
        which sender, the schedule and window asked for, and the ``exclude`` list's content.

        :param recipients: who is texted (the plan's ``recipients_fingerprint``, or the list ids).
        :param exclusions: the ``exclude`` list's content hash (``Exclusions.fingerprint``).
        """
        from airflow_provider_fullsms.connection import format_send_at

        # The send_at asked for, in the account's timezone: the same for the plan and the send.
        schedule = format_send_at(self.send_at, self.hook.config.tz)
        # The zone of a number libphonenumber places nowhere is the window's too.
        window = None if send_window is None else (str(send_window), send_window.fallback_zone)
        return inspector.fingerprint(
            recipients=recipients,
            sender=sender,
            schedule=schedule,
            template_id=template.template_id if template else None,
            window=window,
            exclusions=exclusions,
        )

    def _plan_or_check(
        self,
        plan: CampaignPlan,
        inspector: PlanInspector,
        fingerprint: str,
        *,
        send_at: str | None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """
        With ``dry_run``, the plan to return (nothing is sent); else ``None`` once the campaign is
        the one approved (``expected_fingerprint``).

        :raises CampaignInputError: the campaign differs from the approved one, naming what changed.
        """
        from airflow_provider_fullsms.campaigns import Pricing, check_fingerprint, plan_summary

        if not self.dry_run:
            check_fingerprint(self.expected_fingerprint, fingerprint)
            return None
        result = plan_summary(
            plan,
            inspector,
            Pricing(self._price(), self.hook.config.minimum_balance),
            fingerprint=fingerprint,
            send_at=send_at,
            details=details,
        )
        self.log.info(
            "FullSMS plan (dry run, nothing sent): %d recipients, %d segments, %d batches, cost %s, "
            "required balance %s; fingerprint %s",
            result["recipients"],
            result["segments"],
            result["batches"],
            result["estimated_cost"],
            result["required_balance"],
            fingerprint,
        )
        if result["estimated_cost"] is None:
            # The plan is still returned; whatever reads its cost gets None, so say it loudly here.
            self.log.warning(
                "This plan has no estimated_cost and no required_balance (both None): %s A balance "
                "sensor or operator given its required_balance fails, naming price_per_segment.",
                result["price_unknown"],
            )
        return result

    def _message_details(
        self, source: MessageSource, sender: str | None, template_id: str | None
    ) -> dict[str, Any]:
        """
        What the campaign said and from whom, for its summary and the FullSMS page: the text as the
        DAG wrote it (a personalised one with its placeholders), never a recipient's own text.
        """
        from airflow_provider_fullsms.campaigns.plan import mask_number

        return {
            "text": None if source.message_column else source.message,
            "template_id": template_id,
            "message_column": source.message_column,
            "personalised": source.personalise,
            # An alphanumeric sender ID as it is; a phone number masked like every number shown.
            "sender": mask_number(sender) if sender and sender.lstrip("+").isdigit() else sender,
        }

    def _run(
        self,
        context: Context,
        ledger: Ledger,
        plan: CampaignPlan,
        batches: Iterable[Batch],
        send: Callable[[Batch], SendResult],
        *,
        inspector: PlanInspector,
        on_unknown: OnUnknownOutcome,
        max_concurrency: int,
        send_at: str | None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """
        Send the batches with the ledger, then return the summary, pause for credit (see
        :class:`LowBalancePauseMixin`) or fail the way Airflow should.

        :param inspector: what watched the plan's batches: with a price, the summary has the
            campaign's ``segments`` and ``estimated_cost`` (what the FullSMS page shows as its cost).
        """
        from airflow_provider_fullsms.campaigns import Pricing, SegmentTally, run_batches
        from airflow_provider_fullsms.campaigns.schedule import utc_send_at
        from airflow_provider_fullsms.exceptions import AudienceChangedError, LedgerUnreachableError

        price = self._price()
        if price is not None:
            cost = Pricing(price, self.hook.config.minimum_balance).of(inspector.segments)["estimated_cost"]
            details = {**(details or {}), "segments": inspector.segments, "estimated_cost": cost}

        if ledger.open(plan):
            self.log.info(
                "Resuming: an earlier try of this task recorded batches; accepted ones are skipped."
            )
        tally = SegmentTally(batches)
        try:
            report = run_batches(
                tally,
                send,
                ledger,
                on_unknown=on_unknown,
                max_concurrency=max_concurrency,
                stop_after_unknown=self.stop_after_unknown,
                total_batches=plan.batches,
                total_recipients=plan.recipients,
                send_at=send_at,
                details=details,
                log=self.log.info,
            )
        except (AudienceChangedError, LedgerUnreachableError) as error:
            # The summary so far and what stopped it, so a person knows where it got: a changed
            # audience fails for good; an unreachable ledger's try is resumed by the task's retries.
            if error.report is not None:
                why = "audience_changed" if isinstance(error, AudienceChangedError) else "ledger_unreachable"
                summary = {**error.report.summary(plan.stats), why: str(error)}
                self._report(context, summary, push=True)
            raise
        summary = report.summary(plan.stats)
        # segments and estimated_cost (with a price) came in details; the price they were worked at:
        summary["price_per_segment"] = price
        # send_at is in the account's timezone, as FullSMS takes it; the page shows times in UTC.
        summary["send_at_utc"] = utc_send_at(send_at, self.hook.config.tz) if send_at else None
        self._report(context, summary)
        advice = self._credit_advice(report, tally)
        raise_for_report(report, task=settle_options(context), page=campaign_page(context), advice=advice)
        self._observe_finished(context, summary)
        return summary

    def _report(self, context: Context, summary: dict[str, Any], *, push: bool = False) -> None:
        """Log the summary; push it to XCom too when the task fails (``push``, or a batch not sent)."""
        b = summary["batches"]
        self.log.info(
            "FullSMS campaign: %d recipients, %d sent%s, %d invalid, %d duplicates; batches: %d total, "
            "%d accepted, %d skipped (accepted earlier), %d assumed sent, %d unknown, %d not sent",
            summary["recipients"],
            summary["sent"],
            f" (scheduled for {summary['send_at']})" if summary["send_at"] else "",
            summary["invalid"]["count"],
            summary["duplicates"],
            b["total"],
            b["accepted"],
            b["skipped_already_accepted"],
            b["assumed_sent"],
            len(b["unknown"]),
            len(b["not_sent"]),
        )
        self._observe_try(context, summary)
        ti = context.get("ti")
        if ti is not None and (push or b["unknown_count"] or b["not_sent_count"] or b["discrepant_count"]):
            # The return value is lost when the task fails; this XCom is not.
            try:
                ti.xcom_push(key=SUMMARY_XCOM_KEY, value=summary)
            except Exception:
                self.log.warning("Could not push the summary to XCom", exc_info=True)


def _ledger_store(context: Context) -> StateStore | None:
    """
    Where the ledger lives: the task's ``task_state_store`` (Airflow 3.3), or, where Airflow has
    none, the task instance's Airflow Variables (:mod:`~airflow_provider_fullsms.campaigns.variable_store`).
    """
    from airflow_provider_fullsms.campaigns.ledger import has_task_state_store
    from airflow_provider_fullsms.campaigns.variable_store import VariableStore

    store = context.get("task_state_store")
    if store is not None or has_task_state_store():
        return store
    ti = context.get("ti")
    return None if ti is None else VariableStore.for_task_instance(ti)


def _clears_state_on_success() -> bool:
    """Whether Airflow deletes a task's state store when the task succeeds (``[state_store]``)."""
    from airflow.providers.common.compat.sdk import conf

    return conf.getboolean("state_store", "clear_on_success", fallback=False)
