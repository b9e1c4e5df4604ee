"""
:class:`FullSmsNotifier`: text someone when a task or DAG fails or succeeds, or a run is late.

Example::

    from airflow_provider_fullsms.notifications.fullsms import send_fullsms_notification

    BashOperator(
        task_id="load",
        bash_command="...",
        on_failure_callback=[
            send_fullsms_notification(
                numbers=["+44 1111 111111"], message="{{ ti.dag_id }}.{{ ti.task_id }} failed"
            )
        ],
    )

As a deadline alert's callback (Airflow 3.1+), sent from the triggerer; the message is rendered
against the missed run (``dag_run``, ``deadline``)::

    DAG(
        "nightly_load",
        deadline=DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=timedelta(hours=1),
            callback=AsyncCallback(
                send_fullsms_notification,
                kwargs={"numbers": ["+44 1111 111111"], "message": "{{ dag_run.dag_id }} is late"},
            ),
        ),
    )

In a Human-in-the-loop operator's ``notifiers=`` (e.g. ``ApprovalOperator``), it texts the approver
when the task starts waiting; ``task`` in the message is that operator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from airflow.providers.common.compat.notifier import BaseNotifier

from airflow_provider_fullsms.connection import DEFAULT_CONN_ID
from airflow_provider_fullsms.version_compat import AIRFLOW_V_3_1_PLUS

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_fullsms.hooks.fullsms import FullSmsHook

__all__ = ["FullSmsAlert", "FullSmsNotifier", "send_fullsms_notification"]

# A rendered template gives one string: "+44 1111 111111, +44 2222 222222" means two numbers.
_NUMBER_LIST_SEPARATORS = re.compile(r"[,;]")


@dataclass(frozen=True)
class FullSmsAlert:
    """
    What one notification sends: built once, the same for ``notify`` and ``async_notify``.

    :param numbers: normalised, de-duplicated recipients, in the order given.
    :param message: the text, cut to one SMS segment if it was longer.
    :param sender: the sender, or ``None`` for the connection's default sender.
    :param truncated: whether ``message`` was cut.
    """

    numbers: list[str]
    message: str
    sender: str | None
    truncated: bool = False


class FullSmsNotifier(BaseNotifier):
    """
    Send one SMS to one or more numbers from a task or DAG callback.

    A message longer than one SMS segment is cut to one segment, ending in ``...``, rather than
    failing the alert. One call sends at most once: a send whose outcome is unknown is reported,
    never repeated, so nobody gets the alert twice.

    :param numbers: the phone numbers to text, as a list or one comma-separated string, in any
        common format (``"+44 1111 111111"``); templated.
    :param message: the text; templated against the callback context
        (``"{{ ti.dag_id }}.{{ ti.task_id }} failed"``).
    :param sender: an owned number or approved sender ID; default: the connection's default
        sender; templated.
    :param fullsms_conn_id: connection of type ``fullsms``.
    :param context: the context to render against when the notifier is awaited rather than called:
        a deadline alert's ``AsyncCallback`` passes the missed run's here (``dag_run``,
        ``deadline``); nobody else needs it. Airflow 3.1+ only (before, nothing awaits a
        notifier and this is ignored).
    """

    template_fields: Sequence[str] = ("numbers", "message", "sender")

    def __init__(
        self,
        *,
        numbers: str | Iterable[str],
        message: str,
        sender: str | None = None,
        fullsms_conn_id: str = DEFAULT_CONN_ID,
        context: Context | None = None,
    ) -> None:
        if AIRFLOW_V_3_1_PLUS:
            super().__init__(context=context)
        else:  # Airflow 2.11 and 3.0's BaseNotifier takes no context: nothing awaits a notifier there.
            super().__init__()
        # A generator would be used up by the first alert; keep something renderable twice.
        self.numbers: str | list[str] = numbers if isinstance(numbers, str) else list(numbers)
        self.message = message
        self.sender = sender
        self.fullsms_conn_id = fullsms_conn_id

    @cached_property
    def hook(self) -> FullSmsHook:
        """The sync hook for :meth:`notify`; its policy never resends a send of unknown outcome."""
        from airflow_provider_fullsms.hooks.fullsms import FullSmsHook

        return FullSmsHook(self.fullsms_conn_id)

    def build_alert(self) -> FullSmsAlert:
        """
        The recipients and text of the (rendered) alert, checked before anything goes out.

        :raises FullSmsConfigurationError: no number, or a number that cannot be normalised.
        """
        from airflow_provider_fullsms.exceptions import FullSmsConfigurationError
        from airflow_provider_fullsms.sms import InvalidNumberError, fit_to_one_segment, normalise_number

        raw = _NUMBER_LIST_SEPARATORS.split(self.numbers) if isinstance(self.numbers, str) else self.numbers
        numbers: list[str] = []
        for value in raw:
            if isinstance(value, str) and not value.strip():
                continue
            try:
                number = normalise_number(value)
            except InvalidNumberError as err:
                raise FullSmsConfigurationError(f"FullSmsNotifier numbers: {err}") from None
            if number not in numbers:
                numbers.append(number)
        if not numbers:
            raise FullSmsConfigurationError(
                f"FullSmsNotifier numbers={self.numbers!r} names nobody: pass at least one phone number."
            )
        text = str(self.message)
        message = fit_to_one_segment(text)
        return FullSmsAlert(
            numbers=numbers, message=message, sender=self.sender or None, truncated=message != text
        )

    def notify(self, context: Context) -> None:
        """Send the alert (sync: task callbacks on a worker, DAG callbacks in the DAG processor)."""
        alert = self._prepare()
        campaign = self.hook.send_to_numbers(alert.numbers, message=alert.message, sender=alert.sender)
        self._log_sent(alert, campaign)

    async def async_notify(self, context: Context) -> None:
        """Send the alert without blocking the event loop (triggerer, e.g. deadline alerts)."""
        from airflow_provider_fullsms.hooks.fullsms_async import FullSmsAsyncHook

        alert = self._prepare()
        async with FullSmsAsyncHook(self.fullsms_conn_id) as hook:
            campaign = await hook.send_to_numbers(alert.numbers, message=alert.message, sender=alert.sender)
        self._log_sent(alert, campaign)

    def _prepare(self) -> FullSmsAlert:
        alert = self.build_alert()
        if alert.truncated:
            self.log.warning(
                "FullSMS alert is longer than one SMS segment; sending it cut to: %r", alert.message
            )
        return alert

    def _log_sent(self, alert: FullSmsAlert, campaign: object) -> None:
        self.log.info(
            "FullSMS alert sent to %d number(s): %s",
            len(alert.numbers),
            getattr(campaign, "campaign_id", campaign),
        )


send_fullsms_notification = FullSmsNotifier
